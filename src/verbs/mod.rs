//! The NDK objects as safe provider-core objects: adapter, PD, CQ, MR, MW, SRQ, QP, LAM.
//!
//! Owns the rules of each object family (limits, states, arming, registration, tokens) and the
//! glue between them, the lifetime engine ([`crate::lifetime`]) and the data-movement engine
//! ([`crate::engine`]). Each object is `#[repr(C)]` with its consumer-visible `NDK_xxx` in an
//! [`NdkCell`](crate::abi::upcall::NdkCell) at offset 0, lives in one `Arc`, and implements [`Tracked`](crate::lifetime::Tracked); the `dispatch` layer
//! turns consumer pointers into `&Arc<T>` and back. See `docs/objects.md`.
//!
//! It must never contain `unsafe`, dereference a consumer pointer, call a consumer callback
//! with a provider lock held (every upcall is preceded by
//! `platform::assert_no_provider_lock_held`), or wait.
#![deny(unsafe_code)]

/// [`Tracked`](crate::lifetime::Tracked) for an object whose farewell is only its close
/// completion: `$t` has `node: Node` and `closer: Closer`; the expanding module imports
/// `Tracked`.
macro_rules! tracked_by_closer {
    ($t:ty) => {
        impl Tracked for $t {
            type Farewell = $crate::verbs::Goodbye;

            fn node(&self) -> &$crate::lifetime::Node {
                &self.node
            }

            fn finalize(&self) -> $crate::verbs::Goodbye {
                self.closer.farewell()
            }
        }
    };
}

pub mod adapter;
pub mod arming;
pub mod cq;
pub mod lam;
pub mod limits;
pub mod memory;
pub mod misuse;
pub mod mr;
pub mod mw;
pub mod notify;
pub mod pd;
pub mod qp;
mod qp_link;
pub mod srq;
pub mod stats;
pub mod token;

use crate::abi::upcall::CloseCompletion;
use crate::abi::{
    NDK_ADAPTER_DISPATCH, NDK_CONNECTOR_DISPATCH, NDK_CQ_DISPATCH, NDK_LISTENER_DISPATCH,
    NDK_MR_DISPATCH, NDK_MW_DISPATCH, NDK_PD_DISPATCH, NDK_QP_DISPATCH,
    NDK_SHARED_ENDPOINT_DISPATCH, NDK_SRQ_DISPATCH, NTSTATUS,
};
use crate::engine::Status;
use crate::lifetime::Farewell;
use crate::platform::prelude::*;
use crate::platform::{SpinLock, assert_no_provider_lock_held};

pub use adapter::Adapter;
pub use cq::{ArmType, Cq};
pub use limits::{ADAPTER_FLAGS, AdapterConfig, Limits, MAX_ADAPTER_ADDRESSES, lock_order};
pub use mr::Mr;
pub use mw::Mw;
pub use pd::Pd;
pub use qp::{Qp, QpConfig, connect_pair};
pub use srq::Srq;
pub use stats::{Stats, StatsSnapshot, Traffic};

/// The ten dispatch tables, provided by the `dispatch` layer as `'static` data and stored by
/// the adapter so the core can build each new object's `NDK_xxx` (it only copies the references).
#[derive(Clone, Copy, Debug)]
pub struct DispatchTables {
    /// `NDK_ADAPTER_DISPATCH`.
    pub adapter: &'static NDK_ADAPTER_DISPATCH,
    /// `NDK_CQ_DISPATCH`.
    pub cq: &'static NDK_CQ_DISPATCH,
    /// `NDK_PD_DISPATCH`.
    pub pd: &'static NDK_PD_DISPATCH,
    /// `NDK_MR_DISPATCH`.
    pub mr: &'static NDK_MR_DISPATCH,
    /// `NDK_MW_DISPATCH`.
    pub mw: &'static NDK_MW_DISPATCH,
    /// `NDK_SRQ_DISPATCH`.
    pub srq: &'static NDK_SRQ_DISPATCH,
    /// `NDK_QP_DISPATCH`.
    pub qp: &'static NDK_QP_DISPATCH,
    /// `NDK_SHARED_ENDPOINT_DISPATCH`.
    pub shared_endpoint: &'static NDK_SHARED_ENDPOINT_DISPATCH,
    /// `NDK_CONNECTOR_DISPATCH`.
    pub connector: &'static NDK_CONNECTOR_DISPATCH,
    /// `NDK_LISTENER_DISPATCH`.
    pub listener: &'static NDK_LISTENER_DISPATCH,
}

/// Where a closer stores the consumer's close completion for the finaliser.
///
/// A leaf spin lock around an `Option<CloseCompletion>` rather than the engine's two-word
/// `CompletionSlot`: the upcall value is already safe to store and call, so no word-to-pointer
/// conversion (and no `unsafe`) is needed on the way back. Written once in the close stage, read
/// once in `finalize`; never contended.
#[derive(Debug)]
pub struct Closer {
    slot: SpinLock<Option<CloseCompletion>>,
}

impl Default for Closer {
    fn default() -> Self {
        Self::new()
    }
}

impl Closer {
    /// An empty slot.
    #[must_use]
    pub fn new() -> Self {
        Self {
            slot: SpinLock::new(lock_order::LEAF, None),
        }
    }

    /// Stores the completion (close stage).
    pub fn store(&self, completion: Option<CloseCompletion>) {
        *self.slot.lock() = completion;
    }

    /// Takes the completion (finalize) as the object's farewell.
    pub fn farewell(&self) -> Goodbye {
        Goodbye {
            completion: self.slot.lock().take(),
        }
    }
}

/// A close completion to call when a pended close finishes (the [`Farewell`] of every NDK
/// object but the adapter).
#[derive(Debug)]
pub struct Goodbye {
    completion: Option<CloseCompletion>,
}

impl Farewell for Goodbye {
    fn complete(self) {
        if let Some(completion) = self.completion {
            assert_no_provider_lock_held();
            completion.call();
        }
    }
}

/// The NTSTATUS reported in `NDK_RESULT.Status` for an engine outcome (`docs/engine.md`).
#[must_use]
pub const fn completion_status(status: Status) -> NTSTATUS {
    use crate::abi::{
        STATUS_ACCESS_VIOLATION, STATUS_BUFFER_TOO_SMALL, STATUS_CANCELLED,
        STATUS_CONNECTION_ABORTED, STATUS_INVALID_DEVICE_REQUEST, STATUS_INVALID_HANDLE,
        STATUS_INVALID_PARAMETER, STATUS_REMOTE_RESOURCES, STATUS_SUCCESS,
    };
    match status {
        Status::Success => STATUS_SUCCESS,
        Status::Cancelled => STATUS_CANCELLED,
        Status::LocalProtectionError => STATUS_ACCESS_VIOLATION,
        Status::RemoteAccessError => STATUS_REMOTE_RESOURCES,
        Status::RemoteOperationError => STATUS_INVALID_DEVICE_REQUEST,
        Status::RemoteInvalidRequest => STATUS_INVALID_PARAMETER,
        Status::ReceiveTooSmall => STATUS_BUFFER_TOO_SMALL,
        Status::InvalidateError => STATUS_INVALID_HANDLE,
        Status::ConnectionAborted => STATUS_CONNECTION_ABORTED,
    }
}
