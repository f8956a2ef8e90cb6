//! Memory windows: `NdkCreateMw`, bound by `NdkBind` work requests, invalidated by
//! `NdkInvalidate` or a peer's send-and-invalidate.
//!
//! Owns the window object and its late antecedent link: the first `NdkBind` makes the bound MR
//! an antecedent of the window (§5.1). The link is a lifetime unit on the MR that the window
//! keeps until its own close completion has returned (it travels in the window's farewell), so
//! an MR close pends while a window that was bound to it is open. A rebind to another MR hands
//! the old link to the data path's pin list, which releases it outside every lock. The window's
//! mapping and token live in the adapter's memory table (`memory.rs`). Windows are remote-only:
//! their token is never accepted in a local SGE.
//!
//! It must never release the MR link before the window's close completion returned, or drop it
//! under a lock.
#![deny(unsafe_code)]

use crate::abi::upcall::{CloseCompletion, NdkCell};
use crate::abi::{NDK_MW, NTSTATUS, STATUS_DEVICE_NOT_READY, STATUS_INSUFFICIENT_RESOURCES};
use crate::lifetime::{AlreadyClosing, Base, Closed, Farewell, Links, Node, Tracked, Unit};
use crate::platform::SpinLock;
use crate::platform::prelude::*;
use crate::sync::{Arc, AtomicU32, Ordering};

use super::memory::{Kind, MemoryTable, Owner};
use super::{Closer, Goodbye, Mr, Pd, lock_order};

/// A memory window.
#[repr(C)]
pub struct Mw {
    /// Offset 0: the consumer's `NDK_MW`.
    ndk: NdkCell<NDK_MW>,
    node: Node,
    closer: Closer,
    pd: Arc<Pd>,
    slot: AtomicU32,
    /// The MR link established by the latest bind (taken under the memory-table lock, by the
    /// finaliser, or handed back by a rebind).
    link: SpinLock<Option<Unit<Mr>>>,
}

const _: () = assert!(core::mem::offset_of!(Mw, ndk) == 0);

impl core::fmt::Debug for Mw {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mw")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

/// A window's farewell: its close completion, then (when this drops, after the completion
/// returned) the unit on the MR it was bound to.
#[derive(Debug)]
pub struct MwFarewell {
    goodbye: Goodbye,
    bound: Option<Unit<Mr>>,
}

impl Farewell for MwFarewell {
    fn complete(self) {
        let Self { goodbye, bound } = self;
        goodbye.complete();
        drop(bound);
    }
}

impl Tracked for Mw {
    type Farewell = MwFarewell;

    fn node(&self) -> &Node {
        &self.node
    }

    fn finalize(&self) -> MwFarewell {
        MwFarewell {
            goodbye: self.closer.farewell(),
            bound: self.link.lock().take(),
        }
    }
}

impl Mw {
    /// `NdkCreateMw`: an unbound window, published with no mapping.
    ///
    /// # Errors
    ///
    /// `STATUS_INSUFFICIENT_RESOURCES` when the object cannot be allocated or the token table is
    /// full, `STATUS_DEVICE_NOT_READY` if the PD is closing.
    pub fn create(pd: &Arc<Pd>) -> Result<Base<Self>, NTSTATUS> {
        let mut links = Links::new();
        let _ = links.push(Unit::try_new(pd).ok_or(STATUS_DEVICE_NOT_READY)?);
        let adapter = pd.adapter();
        let mw = adapter
            .platform()
            .try_arc(Self {
                ndk: NdkCell::new(NDK_MW::new(adapter.version(), adapter.tables().mw)),
                node: Node::new(links),
                closer: Closer::new(),
                pd: Arc::clone(pd),
                slot: AtomicU32::new(u32::MAX),
                link: SpinLock::new(lock_order::LEAF, None),
            })
            .map(Base::from_arc)
            .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
        let slot = adapter.memory().publish(
            adapter.platform(),
            Owner::Mw(Arc::clone(mw.arc())),
            pd.identity(),
            Kind::Window { bound: None },
        )?;
        mw.slot.store(slot, Ordering::Release);
        Ok(mw)
    }

    /// `NdkCloseMw`: unpublishes (its token goes stale; a valid binding stops counting against
    /// its MR), then pends while a data-path access holds a unit. The MR link is released after
    /// the close completion returned.
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

    /// The address handed to the consumer.
    #[must_use]
    pub const fn ndk(&self) -> *mut NDK_MW {
        self.ndk.as_ptr()
    }

    /// The PD.
    #[must_use]
    pub const fn pd(&self) -> &Arc<Pd> {
        &self.pd
    }

    /// `NdkGetRemoteTokenFromMw`: the current token (a new one after every bind, usable as soon
    /// as the `NdkBind` call returned).
    #[must_use]
    pub fn token(&self) -> u32 {
        self.table().token(self.slot())
    }

    /// Stores the MR link of a new binding (called under the memory-table lock) and returns the
    /// previous one, which the caller must release outside every lock.
    pub(super) fn relink(&self, unit: Unit<Mr>) -> Option<Unit<Mr>> {
        self.link.lock().replace(unit)
    }
}
