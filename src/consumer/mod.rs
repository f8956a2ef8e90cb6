//! A consumer-side wrapper over the NDK dispatch tables: what a kernel consumer does, in safe
//! Rust, for tests, the verifier and the CLI.
//!
//! Owns the consumer's half of the ABI: every call reads the function pointer from the object's
//! `Dispatch` table (as a kernel consumer must) and calls it; consumer callbacks are
//! `extern "system"` functions here whose contexts are `Arc`s kept alive until the provider can
//! no longer call them. It never calls the provider's Rust API directly (only the adapter
//! open/close entry points, which NDIS would call). Misuse the wrapper cannot express safely
//! (NULL pointers, oversized counts) is available through the `*_raw` methods with the same
//! documented answers.
#![allow(unsafe_code)]

/// The accessors every object wrapper has: `raw`, `header`, `dispatch` (read from the object
/// like a kernel consumer does) and `query_extension`. Expanded inside `impl Wrapper` whose
/// `raw: *mut $ndk` is a live object handed out by the provider for as long as the wrapper
/// exists.
macro_rules! object_accessors {
    ($ndk:ident, $dispatch:ident) => {
        /// The raw object.
        #[must_use]
        pub const fn raw(&self) -> *mut $ndk {
            self.raw
        }

        /// The header as the consumer sees it.
        #[must_use]
        pub fn header(&self) -> $crate::abi::NDK_OBJECT_HEADER {
            // SAFETY: `raw` is a live object (the wrapper's invariant).
            unsafe { $crate::consumer::header_of(self.raw) }
        }

        /// The dispatch table, read from the object like a kernel consumer does.
        #[must_use]
        pub fn dispatch(&self) -> &'static $dispatch {
            // SAFETY: `raw` is a live object (the wrapper's invariant).
            unsafe { $crate::consumer::table(self.raw) }
        }

        /// `NdkQueryExtension` (SoftNDK has none).
        #[must_use]
        pub fn query_extension(&self) -> $crate::abi::NTSTATUS {
            $crate::consumer::query_extension_of(
                self.raw.cast(),
                self.dispatch().NdkQueryExtension,
                self.header(),
            )
        }
    };
}

mod awaited;
mod cm_events;
mod connector;
mod cq;
mod events;
mod lam;
mod listener;
mod memory;
mod mw;
mod pending;
mod qp;
mod request;
mod srq;

use core::ffi::c_void;
use core::ptr;
use std::sync::Arc;

use crate::abi::{
    NDIS_STATUS, NDK_ADAPTER, NDK_ADAPTER_DISPATCH, NDK_ADAPTER_INFO, NDK_CQ,
    NDK_FN_CQ_NOTIFICATION_CALLBACK, NDK_OBJECT_HEADER, NDK_PD, NDK_PD_DISPATCH, NDK_VERSION,
    NTSTATUS, NdkObject, STATUS_SUCCESS,
};
use crate::platform::Platform;
use crate::verbs::AdapterConfig;

pub use awaited::Awaited;
pub use cm_events::{ConnectEvents, DisconnectEvents, Request};
pub use connector::{ConnectionData, Connector};
pub use cq::Cq;
pub use events::{
    CloseSignal, Closed, CqEvents, create_completion, request_completion, unexpected_completions,
};
pub use lam::Lam;
pub use listener::{Listener, SharedEndpoint};
pub use memory::{Buffer, MdlChain, Mr};
pub use mw::Mw;
pub use pending::{CreateWait, Delivered, create_object, pending_create_completion};
pub use qp::{Qp, ctx};
pub use request::{RequestWait, pending_request_completion, request};
pub use srq::{Srq, SrqEvents};

/// An open adapter, as NDIS hands it to a consumer.
#[derive(Debug)]
pub struct Adapter {
    raw: *mut NDK_ADAPTER,
    /// The platform pending creates are waited on (`None`: a condition variable).
    platform: Option<Platform>,
}

// SAFETY: the NDK contract lets a consumer call an adapter's functions from any thread; the raw
// pointer is only handed back to the provider.
unsafe impl Send for Adapter {}
// SAFETY: as above; the provider serialises what must be serialised.
unsafe impl Sync for Adapter {}

impl Adapter {
    /// Opens an adapter the way NDIS's `OpenNDKAdapterHandler` call would.
    ///
    /// # Errors
    ///
    /// `NDIS_STATUS_BAD_VERSION` for a version SoftNDK cannot serve.
    pub fn open(
        config: &AdapterConfig,
        platform: &Platform,
        version: NDK_VERSION,
    ) -> Result<Self, NDIS_STATUS> {
        crate::dispatch::open_adapter(config, platform.clone(), version).map(|raw| Self {
            raw,
            platform: Some(platform.clone()),
        })
    }

    /// Wraps an adapter the caller opened some other way, e.g. a verifier's shadow
    /// (`verifier::Verifier::wrap_adapter`). Such an adapter is closed by whoever opened it,
    /// not by [`Adapter::close`] (which would hand the pointer to SoftNDK's close).
    ///
    /// # Safety
    ///
    /// `raw` is an open `NDK_ADAPTER*` whose `Dispatch` is a fully filled table, and it stays
    /// open while this value or any object created through it is used.
    #[must_use]
    pub const unsafe fn from_raw(raw: *mut NDK_ADAPTER) -> Self {
        Self {
            raw,
            platform: None,
        }
    }

    /// This adapter, waiting for pending creates (of its objects and their PDs' objects) with
    /// `platform`'s event, which runs a deterministic host's queue while it waits
    /// (`pending::create_object`). [`Adapter::open`] does this already.
    #[must_use]
    pub fn with_platform(mut self, platform: &Platform) -> Self {
        self.platform = Some(platform.clone());
        self
    }

    /// The platform pending creates are waited on, if any.
    #[must_use]
    pub const fn platform(&self) -> Option<&Platform> {
        self.platform.as_ref()
    }

    object_accessors!(NDK_ADAPTER, NDK_ADAPTER_DISPATCH);

    /// `NdkQueryAdapterInfo` into a full-size structure.
    ///
    /// # Errors
    ///
    /// The provider's failure status.
    pub fn query_info(&self) -> Result<NDK_ADAPTER_INFO, NTSTATUS> {
        let mut info = NDK_ADAPTER_INFO::default();
        let mut size = u32::try_from(size_of::<NDK_ADAPTER_INFO>()).unwrap_or(u32::MAX);
        // SAFETY: a live adapter, a buffer of `size` bytes and a size variable.
        let status = unsafe {
            (self.dispatch().NdkQueryAdapterInfo)(self.raw, &raw mut info, &raw mut size)
        };
        succeeded(status).map(|()| info)
    }

    /// `NdkQueryAdapterInfo` into `buffer` (`None`: a size probe with a NULL `pInfo`), with
    /// `*size` in/out as the consumer passes it. `size: None` passes a NULL `pBufferSize`.
    pub fn query_info_raw(&self, buffer: Option<&mut [u8]>, size: Option<&mut u32>) -> NTSTATUS {
        let info = buffer.map_or(ptr::null_mut(), |b| b.as_mut_ptr().cast());
        let size = size.map_or(ptr::null_mut(), ptr::from_mut);
        // SAFETY: a live adapter; `info` is NULL or a buffer whose length the caller states in
        // `*size` (the test decides whether it is honest: the provider never writes beyond
        // `*size`).
        unsafe { (self.dispatch().NdkQueryAdapterInfo)(self.raw, info, size) }
    }

    /// `NdkCreateCq` with `events` as the notification context.
    ///
    /// # Errors
    ///
    /// The provider's failure status.
    pub fn create_cq(&self, depth: u32, events: &Arc<CqEvents>) -> Result<Cq, NTSTATUS> {
        Cq::create(self, depth, events)
    }

    /// `NdkCreateCq` with the consumer's own notification callback: the raw CQ, for CQs this
    /// wrapper does not own (a test's CQ whose callback runs its own hooks).
    ///
    /// # Safety
    ///
    /// `notification` may be called with `context` until the CQ's close completes; the caller
    /// keeps `context` valid that long.
    ///
    /// # Errors
    ///
    /// The provider's failure status.
    pub unsafe fn create_cq_raw(
        &self,
        depth: u32,
        notification: NDK_FN_CQ_NOTIFICATION_CALLBACK,
        context: *mut c_void,
    ) -> Result<*mut NDK_CQ, NTSTATUS> {
        pending::create_object(
            self.platform.as_ref(),
            |done, done_context, out: *mut *mut NDK_CQ| {
                // SAFETY: live adapter; callback and context valid until the CQ's close
                // completes (caller's contract); a valid create completion; writable out pointer.
                unsafe {
                    (self.dispatch().NdkCreateCq)(
                        self.raw,
                        depth,
                        Some(notification),
                        context,
                        ptr::null(),
                        Some(done),
                        done_context,
                        out,
                    )
                }
            },
        )
    }

    /// `NdkCreatePd`.
    ///
    /// # Errors
    ///
    /// The provider's failure status.
    pub fn create_pd(&self) -> Result<Pd, NTSTATUS> {
        let (status, out) = pending::issue(
            self.platform.as_ref(),
            |done, done_context, out: *mut *mut NDK_PD| {
                // SAFETY: live adapter, a valid create completion, a writable out pointer.
                unsafe { (self.dispatch().NdkCreatePd)(self.raw, Some(done), done_context, out) }
            },
        );
        succeeded(status).map(|()| Pd {
            raw: out,
            platform: self.platform.clone(),
        })
    }

    /// `CloseNDKAdapterHandler`: blocks until everything below the adapter is closed.
    pub fn close(self) {
        // SAFETY: `raw` came from `open_adapter` and is not used again.
        unsafe { crate::dispatch::close_adapter(self.raw) };
    }
}

/// `Ok` for `STATUS_SUCCESS`, else the provider's status as the error.
fn succeeded(status: NTSTATUS) -> Result<(), NTSTATUS> {
    if status == STATUS_SUCCESS {
        Ok(())
    } else {
        Err(status)
    }
}

/// Reads an object's header, as a consumer may.
///
/// # Safety
///
/// `raw` is an object the provider handed out whose memory is alive: open, or closed but
/// still kept by the provider verifier's quarantine.
#[allow(clippy::missing_const_for_fn)] // callers read through it at run time only
pub unsafe fn header_of<O: NdkObject>(raw: *mut O) -> NDK_OBJECT_HEADER {
    // SAFETY: every NDK object starts with its header (offset 0); its memory is alive.
    unsafe { raw.cast::<NDK_OBJECT_HEADER>().read() }
}

/// Reads an object's `Dispatch` table, as a kernel consumer does before every call (a closed
/// object's is the verifier's poison table).
///
/// # Safety
///
/// As for [`header_of`].
#[allow(clippy::missing_const_for_fn)]
pub unsafe fn table<O: NdkObject>(raw: *mut O) -> &'static O::Dispatch {
    // Every NDK object is `{ NDK_OBJECT_HEADER Header; CONST NDK_xxx_DISPATCH *Dispatch; }`;
    // the member is pointer-aligned because the object is (the cast lint sees only `u8`).
    #[allow(clippy::cast_ptr_alignment)]
    let field = raw
        .cast::<u8>()
        .wrapping_add(size_of::<NDK_OBJECT_HEADER>())
        .cast::<*const O::Dispatch>();
    // SAFETY: `field` is the object's `Dispatch` member (layout pinned in `abi::object`).
    let dispatch = unsafe { field.read() };
    // SAFETY: the provider's tables are `'static` and never written.
    unsafe { &*dispatch }
}

/// Calls an `NdkQueryExtension` slot with a zero GUID.
fn query_extension_of(
    object: *mut crate::abi::NDK_OBJECT_HEADER,
    slot: crate::abi::NDK_FN_QUERY_EXTENSION_INTERFACE,
    header: crate::abi::NDK_OBJECT_HEADER,
) -> NTSTATUS {
    let mut out = crate::abi::NDK_EXTENSION_INTERFACE {
        Dispatch: ptr::null(),
    };
    let id = crate::abi::GUID::default();
    // SAFETY: a live object of the slot's table; valid GUID and out structure.
    unsafe { slot(object, &raw const id, header.Version, &raw mut out) }
}

/// A protection domain.
#[derive(Debug)]
pub struct Pd {
    raw: *mut NDK_PD,
    /// The adapter's platform, for waiting on pending creates.
    platform: Option<Platform>,
}

// SAFETY: NDK objects may be used from any thread; the pointer is only passed back.
unsafe impl Send for Pd {}
// SAFETY: as above.
unsafe impl Sync for Pd {}

impl Pd {
    object_accessors!(NDK_PD, NDK_PD_DISPATCH);

    /// The platform pending creates of this PD's children are waited on, if any.
    #[must_use]
    pub const fn platform(&self) -> Option<&Platform> {
        self.platform.as_ref()
    }

    /// `NdkGetPrivilegedMemoryRegionToken`.
    #[must_use]
    pub fn privileged_token(&self) -> u32 {
        let mut token = 0;
        // SAFETY: live PD, writable token.
        unsafe { (self.dispatch().NdkGetPrivilegedMemoryRegionToken)(self.raw, &raw mut token) };
        token
    }

    /// `NdkCreateMr`.
    ///
    /// # Errors
    ///
    /// The provider's failure status.
    pub fn create_mr(&self, fast_register: bool) -> Result<Mr, NTSTATUS> {
        let (status, out) = pending::issue(self.platform.as_ref(), |done, done_context, out| {
            // SAFETY: live PD, valid completion, writable out pointer.
            unsafe {
                (self.dispatch().NdkCreateMr)(
                    self.raw,
                    u8::from(fast_register),
                    Some(done),
                    done_context,
                    out,
                )
            }
        });
        if status == STATUS_SUCCESS {
            // SAFETY: an MR the provider just created; only this value uses it.
            Ok(unsafe { Mr::from_raw(out) }.with_platform(self.platform.as_ref()))
        } else {
            Err(status)
        }
    }

    /// `NdkCreateQp` with `context` as `QPContext`.
    ///
    /// # Errors
    ///
    /// The provider's failure status.
    pub fn create_qp(
        &self,
        receive_cq: &Cq,
        initiator_cq: &Cq,
        context: usize,
        limits: QpLimits,
    ) -> Result<Qp, NTSTATUS> {
        // SAFETY: both CQs are live (the wrappers' invariant).
        unsafe { self.create_qp_raw(receive_cq.raw(), initiator_cq.raw(), context, limits) }
    }

    /// [`Pd::create_qp`] over CQs given as raw objects: CQs this wrapper did not create (a
    /// test's CQ with its own notification callback), or NULL.
    ///
    /// # Safety
    ///
    /// `receive_cq` and `initiator_cq` are each NULL or an object the provider handed out whose
    /// memory is alive (the provider checks the rest).
    ///
    /// # Errors
    ///
    /// The provider's failure status.
    pub unsafe fn create_qp_raw(
        &self,
        receive_cq: *mut NDK_CQ,
        initiator_cq: *mut NDK_CQ,
        context: usize,
        limits: QpLimits,
    ) -> Result<Qp, NTSTATUS> {
        let (status, out) = pending::issue(self.platform.as_ref(), |done, done_context, out| {
            // SAFETY: live PD, CQs per the caller's contract, valid completion, writable out
            // pointer.
            unsafe {
                (self.dispatch().NdkCreateQp)(
                    self.raw,
                    receive_cq,
                    initiator_cq,
                    ctx(context),
                    limits.receive_depth,
                    limits.initiator_depth,
                    limits.max_receive_sge,
                    limits.max_initiator_sge,
                    limits.inline_data_size,
                    Some(done),
                    done_context,
                    out,
                )
            }
        });
        if status == STATUS_SUCCESS {
            // SAFETY: a QP the provider just created; only this value uses it.
            Ok(unsafe { Qp::from_raw(out) })
        } else {
            Err(status)
        }
    }

    /// `NdkClosePd`.
    pub fn close(self) -> Closed {
        events::close(self.raw.cast(), self.dispatch().NdkClosePd, None)
    }
}

/// The limits an `NdkCreateQp` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QpLimits {
    /// `ReceiveQueueDepth`.
    pub receive_depth: u32,
    /// `InitiatorQueueDepth`.
    pub initiator_depth: u32,
    /// `MaxReceiveRequestSge`.
    pub max_receive_sge: u32,
    /// `MaxInitiatorRequestSge`.
    pub max_initiator_sge: u32,
    /// `InlineDataSize`.
    pub inline_data_size: u32,
}

impl Default for QpLimits {
    /// Small queues: 16 deep, 4 SGEs, 64 inline bytes.
    fn default() -> Self {
        Self {
            receive_depth: 16,
            initiator_depth: 16,
            max_receive_sge: 4,
            max_initiator_sge: 4,
            inline_data_size: 64,
        }
    }
}

/// A context value for requests whose context the test does not care about.
#[must_use]
pub const fn no_context() -> *mut c_void {
    ptr::null_mut()
}
