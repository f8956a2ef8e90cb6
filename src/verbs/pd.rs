//! The protection domain: the scope of memory tokens, and the parent of MRs, MWs, SRQs and QPs.
//!
//! Owns its privileged token (local read/write of LAM logical addresses, never remote) and its
//! identity in the adapter's token table. It must never let a token of another PD resolve
//! through it.
#![deny(unsafe_code)]

use crate::abi::upcall::{CloseCompletion, NdkCell};
use crate::abi::{NDK_PD, NTSTATUS, STATUS_INSUFFICIENT_RESOURCES};
use crate::lifetime::{AlreadyClosing, Base, Closed, Links, Node, Tracked};
use crate::platform::prelude::*;
use crate::sync::Arc;

use super::{Adapter, Closer};

/// A protection domain.
#[repr(C)]
pub struct Pd {
    /// Offset 0: the consumer's `NDK_PD`.
    ndk: NdkCell<NDK_PD>,
    node: Node,
    closer: Closer,
    adapter: Arc<Adapter>,
    privileged_token: u32,
}

const _: () = assert!(core::mem::offset_of!(Pd, ndk) == 0);

impl core::fmt::Debug for Pd {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pd")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

tracked_by_closer!(Pd);

impl Pd {
    /// `NdkCreatePd`.
    ///
    /// # Errors
    ///
    /// `STATUS_DEVICE_NOT_READY` if the adapter is closing, `STATUS_INSUFFICIENT_RESOURCES` when
    /// the object cannot be allocated.
    pub fn create(adapter: &Arc<Adapter>) -> Result<Base<Self>, NTSTATUS> {
        let mut links = Links::new();
        // A fresh Links has room for every link an object takes.
        let _ = links.push(adapter.link()?);
        let number = adapter.next_pd_number();
        adapter
            .platform()
            .try_arc(Self {
                ndk: NdkCell::new(NDK_PD::new(adapter.version(), adapter.tables().pd)),
                node: Node::new(links),
                closer: Closer::new(),
                adapter: Arc::clone(adapter),
                privileged_token: adapter.memory().privileged_token(number),
            })
            .map(Base::from_arc)
            .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)
    }

    /// `NdkClosePd`: pends while MRs, MWs, SRQs or QPs of this PD are open.
    ///
    /// # Errors
    ///
    /// [`AlreadyClosing`] on a second close.
    pub fn close(
        base: Base<Self>,
        completion: Option<CloseCompletion>,
    ) -> Result<Closed, AlreadyClosing> {
        base.close(|c| c.closer.store(completion))
    }

    /// The address handed to the consumer.
    #[must_use]
    pub const fn ndk(&self) -> *mut NDK_PD {
        self.ndk.as_ptr()
    }

    /// The adapter.
    #[must_use]
    pub const fn adapter(&self) -> &Arc<Adapter> {
        &self.adapter
    }

    /// `NdkGetPrivilegedMemoryRegionToken`.
    #[must_use]
    pub const fn privileged_token(&self) -> u32 {
        self.privileged_token
    }

    /// This PD's identity in the token table (its address; stable while it is open).
    #[must_use]
    pub fn identity(&self) -> usize {
        core::ptr::from_ref(self).addr()
    }
}
