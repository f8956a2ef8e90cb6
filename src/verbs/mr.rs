//! Memory regions: normal (`NdkRegisterMr`) and fast-register (`NdkInitializeFastRegisterMr` +
//! `NdkFastRegister` work requests).
//!
//! Owns the MR object and its rules (which calls each kind of MR accepts, the registration and
//! page-count limits); the tokens, mappings and the memory operations that change them live in
//! the adapter's [`MemoryTable`] (`memory.rs`). A fast-register MR becomes valid through an
//! `NdkFastRegister` work request and invalid through `NdkInvalidate`, a peer's
//! send-and-invalidate or a read's local invalidation; every change bumps its token's
//! generation, so a stale token fails. It must never accept `NdkRegisterMr` on a fast-register
//! MR or an invalidation of a normal one.
#![deny(unsafe_code)]

use crate::abi::upcall::{CloseCompletion, NdkCell};
use crate::abi::{
    NDK_MR, NTSTATUS, STATUS_IMPLEMENTATION_LIMIT, STATUS_INSUFFICIENT_RESOURCES,
    STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER,
};
use crate::engine::Access;
use crate::lifetime::{AlreadyClosing, Base, Closed, Links, Node, Tracked, Unit};
use crate::platform::Region;
use crate::platform::prelude::*;
use crate::sync::{Arc, AtomicU32, Ordering};

use super::memory::{Kind, Owner};
pub use super::memory::{MemoryTable, Pin, PinList, Requester};
use super::{Closer, Pd};

/// A memory region.
#[repr(C)]
pub struct Mr {
    /// Offset 0: the consumer's `NDK_MR`.
    ndk: NdkCell<NDK_MR>,
    node: Node,
    closer: Closer,
    pd: Arc<Pd>,
    fast: bool,
    slot: AtomicU32,
    /// Copies into or out of this MR's bytes that are running now (resolved, not yet settled at
    /// the end of their engine step), through its own token or a window bound to it.
    copies: AtomicU32,
}

const _: () = assert!(core::mem::offset_of!(Mr, ndk) == 0);

impl core::fmt::Debug for Mr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mr")
            .field("fast", &self.fast)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

tracked_by_closer!(Mr);

impl Mr {
    /// `NdkCreateMr`: a normal (`fast` false) or fast-register MR, published with no mapping.
    ///
    /// # Errors
    ///
    /// `STATUS_INSUFFICIENT_RESOURCES` when the token table is full, `STATUS_DEVICE_NOT_READY`
    /// if the PD is closing.
    pub fn create(pd: &Arc<Pd>, fast: bool) -> Result<Base<Self>, NTSTATUS> {
        let mut links = Links::new();
        let _ = links.push(Unit::try_new(pd).ok_or(crate::abi::STATUS_DEVICE_NOT_READY)?);
        let adapter = pd.adapter();
        let mr = adapter
            .platform()
            .try_arc(Self {
                ndk: NdkCell::new(NDK_MR::new(adapter.version(), adapter.tables().mr)),
                node: Node::new(links),
                closer: Closer::new(),
                pd: Arc::clone(pd),
                fast,
                slot: AtomicU32::new(u32::MAX),
                copies: AtomicU32::new(0),
            })
            .map(Base::from_arc)
            .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
        let kind = if fast {
            Kind::Fast {
                pages: 0,
                remote: false,
            }
        } else {
            Kind::Normal { windows: 0 }
        };
        // On failure `mr` drops unpublished: its close finishes at once and releases the PD link.
        let slot = adapter.memory().publish(
            adapter.platform(),
            Owner::Mr(Arc::clone(mr.arc())),
            pd.identity(),
            kind,
        )?;
        mr.slot.store(slot, Ordering::Release);
        Ok(mr)
    }

    /// `NdkCloseMr`: unpublishes (its tokens go stale) and pends while a data-path access or a
    /// memory window bound to it holds a unit.
    ///
    /// # Errors
    ///
    /// [`AlreadyClosing`] on a second close.
    pub fn close(
        base: Base<Self>,
        completion: Option<CloseCompletion>,
    ) -> Result<Closed, AlreadyClosing> {
        base.close(|c| {
            c.closer.store(completion);
            c.table().unpublish(c.slot());
        })
    }

    fn table(&self) -> &MemoryTable {
        self.pd.adapter().memory()
    }

    fn slot(&self) -> u32 {
        self.slot.load(Ordering::Acquire)
    }

    /// The MR's slot in the memory table (`u32::MAX` before publication).
    pub(super) fn slot_index(&self) -> u32 {
        self.slot()
    }

    /// The address handed to the consumer.
    #[must_use]
    pub const fn ndk(&self) -> *mut NDK_MR {
        self.ndk.as_ptr()
    }

    /// The PD.
    #[must_use]
    pub const fn pd(&self) -> &Arc<Pd> {
        &self.pd
    }

    /// Whether this is a fast-register MR.
    #[must_use]
    pub const fn is_fast(&self) -> bool {
        self.fast
    }

    /// `NdkGetLocalTokenFromMr` / `NdkGetRemoteTokenFromMr`: SoftNDK uses one token for both;
    /// its rights decide what a peer may do with it.
    #[must_use]
    pub fn token(&self) -> u32 {
        self.table().token(self.slot())
    }

    /// `NdkRegisterMr` of `region`, addressed from `base_va`, with `NDK_MR_FLAG_*` `flags`
    /// (validated by the caller). Completes inline.
    ///
    /// # Errors
    ///
    /// `STATUS_INVALID_DEVICE_STATE` on a fast-register MR or one already registered;
    /// `STATUS_INVALID_PARAMETER` for an empty region, one above `MaxRegistrationSize`, or one
    /// whose addresses would overflow.
    pub fn register(&self, region: Region, base_va: u64, flags: u32) -> Result<(), NTSTATUS> {
        let length = region.len();
        let limits = self.pd.adapter().limits();
        if self.fast {
            return Err(STATUS_INVALID_DEVICE_STATE);
        }
        if length == 0
            || length > limits.max_registration_size
            || base_va.checked_add(length as u64).is_none()
        {
            return Err(STATUS_INVALID_PARAMETER);
        }
        let region = self
            .pd
            .adapter()
            .platform()
            .try_arc(region)
            .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
        self.table()
            .register(self.slot(), region, base_va, Access(flags))
    }

    /// `NdkDeregisterMr`: the tokens go stale at once; completes inline once no copy that
    /// resolved them earlier is still running (`Mr::fence`), so the consumer may free the
    /// memory as soon as this returns, even while a peer was reading or writing it.
    ///
    /// # Errors
    ///
    /// `STATUS_INVALID_DEVICE_STATE` unless registered with `NdkRegisterMr`;
    /// `STATUS_DEVICE_BUSY` while a memory window bound to it is valid (nothing changes).
    pub fn deregister(&self) -> Result<(), NTSTATUS> {
        if self.fast {
            return Err(STATUS_INVALID_DEVICE_STATE);
        }
        self.table().deregister(self.slot())?;
        self.fence();
        Ok(())
    }

    /// A copy into or out of this MR's bytes starts (called under the memory table lock, by
    /// the resolution that found the mapping current).
    pub(super) fn copy_started(&self) {
        self.copies.fetch_add(1, Ordering::Relaxed);
    }

    /// That copy is over (its engine step settled).
    pub(super) fn copy_ended(&self) {
        let before = self.copies.fetch_sub(1, Ordering::Release);
        debug_assert!(before > 0, "copy count underflow");
    }

    /// Waits until no copy into or out of this MR's bytes is running. Called after its mapping
    /// left the memory table (deregistration, invalidation), so no new copy can start, and with
    /// no copy counted by the calling thread; each running copy belongs to one engine step of
    /// another processor, which never waits for anything while it counts a copy, so the wait is
    /// bounded by one step's copy — the same bound as acquiring that connection's spin lock.
    ///
    /// Ordering: a copy's count is raised under the table lock before the mapping can be taken
    /// out under the same lock, so this load sees it; the `Release` decrement after the copy
    /// pairs with the `Acquire` load, so every byte the copy wrote is written before this
    /// returns.
    pub(super) fn fence(&self) {
        while self.copies.load(Ordering::Acquire) != 0 {
            crate::sync::spin_loop();
        }
    }

    /// `NdkInitializeFastRegisterMr` for up to `pages` pages. Repeatable. Completes inline.
    ///
    /// # Errors
    ///
    /// Those of [`Mr::check_fast_register_init`], then the memory table's.
    pub fn initialize_fast_register(&self, pages: u32, remote: bool) -> Result<(), NTSTATUS> {
        self.check_fast_register_init(pages)?;
        self.table().initialize_fast(self.slot(), pages, remote)
    }

    /// The argument checks of [`Mr::initialize_fast_register`], which the dispatch layer also
    /// answers inline before a request may pend.
    ///
    /// # Errors
    ///
    /// `STATUS_INVALID_DEVICE_STATE` on a normal MR, `STATUS_INVALID_PARAMETER` for 0 pages,
    /// `STATUS_IMPLEMENTATION_LIMIT` above `FRMRPageCount`.
    pub fn check_fast_register_init(&self, pages: u32) -> Result<(), NTSTATUS> {
        if !self.fast {
            return Err(STATUS_INVALID_DEVICE_STATE);
        }
        if pages == 0 {
            return Err(STATUS_INVALID_PARAMETER);
        }
        if pages > self.pd.adapter().limits().frmr_page_count {
            return Err(STATUS_IMPLEMENTATION_LIMIT);
        }
        Ok(())
    }
}
