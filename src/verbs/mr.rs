//! Memory regions and the adapter's memory-token table.
//!
//! Owns token issue and resolution (see `token.rs` for the encoding): which slot a token names,
//! whether it is current, whether it belongs to the asking PD, whether the range and rights fit.
//! Every change that must make old tokens stale (register, deregister, fast-register,
//! invalidate, bind, close) bumps the slot's generation.
//!
//! Lookups take a lifetime unit on the MR/MW *under the table lock* and closers unpublish *under
//! the same lock* in their close stage, so a lookup never revives an object that is being
//! finalised (invariant I2 of `docs/lifetime.md`). This table is not a `lifetime::Directory`
//! because its 32-bit tokens carry a per-publication 16-bit generation (a token must go stale on
//! every invalidation, not only when the object closes), which a `Directory` key cannot express.
//! Units taken by lookups are kept as [`Pin`]s by the data path and dropped only after every
//! provider lock is released (dropping the last unit finalises and may call the consumer).
//! It must never drop a unit under its own lock.
#![deny(unsafe_code)]

use alloc::vec::Vec;

use crate::abi::upcall::{CloseCompletion, NdkCell};
use crate::abi::{
    NDK_MR, NTSTATUS, STATUS_IMPLEMENTATION_LIMIT, STATUS_INSUFFICIENT_RESOURCES,
    STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER,
};
use crate::engine::{Access, AccessError, RegionSlice};
use crate::lifetime::{AlreadyClosing, Base, Closed, Links, Node, Tracked, Unit};
use crate::platform::prelude::*;
use crate::platform::{Region, SpinLock};
use crate::sync::{Arc, AtomicU32, Ordering};

use super::token::{Decoded, TokenCodec};
use super::{Closer, Goodbye, Pd, lock_order};

/// What keeps a resolved range's memory registered while the data path copies into or out of
/// it: a unit on the MR (or MW) plus the region itself. Dropped after the locks are released.
pub struct Pin {
    _owner: Option<Unit<Mr>>,
    region: Arc<Region>,
}

impl core::fmt::Debug for Pin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pin").finish_non_exhaustive()
    }
}

impl Pin {
    /// The pinned region.
    #[must_use]
    pub fn region(&self) -> &Region {
        &self.region
    }
}

/// A registered byte range as the token table stores it.
#[derive(Debug, Clone)]
struct Mapping {
    region: Arc<Region>,
    /// Offset in `region` of the byte at `base_va`.
    offset: u64,
    base_va: u64,
    length: u64,
    access: Access,
}

/// What kind of memory object a slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `NdkRegisterMr` MR.
    Normal,
    /// Fast-register MR: `pages` = initialised capacity (0 = not initialised).
    Fast { pages: u32, remote: bool },
}

#[derive(Debug)]
struct Entry {
    owner: Arc<Mr>,
    pd: usize,
    kind: Kind,
    mapping: Option<Mapping>,
}

#[derive(Debug, Default)]
struct Slot {
    generation: u16,
    entry: Option<Entry>,
}

#[derive(Debug, Default)]
struct Slots {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

/// The adapter-wide memory-token table.
#[derive(Debug)]
pub struct MemoryTable {
    codec: TokenCodec,
    max_slots: u32,
    table: SpinLock<Slots>,
}

impl MemoryTable {
    /// An empty table whose tokens are mixed with `secret`, holding at most `max_slots` objects
    /// (at most 2^15, the token's index bits).
    #[must_use]
    pub fn new(secret: u32, max_slots: u32) -> Self {
        Self {
            codec: TokenCodec::new(secret),
            max_slots: max_slots.min(1 << super::token::INDEX_BITS),
            table: SpinLock::new(lock_order::MEMORY, Slots::default()),
        }
    }

    /// The privileged token of PD number `number`.
    #[must_use]
    pub const fn privileged_token(&self, number: u32) -> u32 {
        self.codec.privileged(number)
    }

    /// Drops whatever the table still holds (adapter teardown; nothing is published by then).
    pub fn release_all(&self) {
        let slots = core::mem::take(&mut *self.table.lock());
        drop(slots);
    }

    /// Publishes a new MR; returns its slot index.
    fn publish(&self, owner: &Arc<Mr>, pd: usize, kind: Kind) -> Result<u32, NTSTATUS> {
        let mut t = self.table.lock();
        let index = if let Some(index) = t.free.pop() {
            index
        } else {
            let index = u32::try_from(t.slots.len()).map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
            if index >= self.max_slots
                || t.slots.try_reserve(1).is_err()
                || t.free.try_reserve(index as usize + 1).is_err()
            {
                return Err(STATUS_INSUFFICIENT_RESOURCES);
            }
            t.slots.push(Slot::default());
            index
        };
        t.slots[index as usize].entry = Some(Entry {
            owner: Arc::clone(owner),
            pd,
            kind,
            mapping: None,
        });
        drop(t);
        Ok(index)
    }

    /// Unpublishes slot `index` (close stage): its tokens go stale for good.
    fn unpublish(&self, index: u32) {
        let mut t = self.table.lock();
        let entry = t.slots.get_mut(index as usize).and_then(|s| {
            s.generation = s.generation.wrapping_add(1);
            s.entry.take()
        });
        if entry.is_some() {
            // Capacity for every slot was reserved when the slot was created.
            t.free.push(index);
        }
        drop(t);
        // The entry's `Arc<Mr>` and region are released here, outside the lock; BASE is still
        // held by the closer, so this never finalises.
        drop(entry);
    }

    /// The current token of slot `index`.
    fn token(&self, index: u32) -> u32 {
        let t = self.table.lock();
        let generation = t.slots.get(index as usize).map_or(0, |s| s.generation);
        drop(t);
        self.codec.slot(index, generation)
    }

    /// Runs `f` on the entry of slot `index` and bumps its generation if `f` returns `Ok(true)`.
    fn update<R>(
        &self,
        index: u32,
        f: impl FnOnce(&mut Entry) -> Result<(R, bool), NTSTATUS>,
    ) -> Result<R, NTSTATUS> {
        let mut t = self.table.lock();
        let slot = t
            .slots
            .get_mut(index as usize)
            .ok_or(STATUS_INVALID_DEVICE_STATE)?;
        let entry = slot.entry.as_mut().ok_or(STATUS_INVALID_DEVICE_STATE)?;
        let (r, bump) = f(entry)?;
        if bump {
            slot.generation = slot.generation.wrapping_add(1);
        }
        drop(t);
        Ok(r)
    }

    /// Resolves `token` for an access of `length` bytes at `address` by PD `pd` with rights
    /// `need`, pinning the object into `pins`. `remote`: the access comes from a peer.
    ///
    /// # Errors
    ///
    /// Why the access is refused (unknown/stale token, other PD, out of range, missing right).
    pub fn resolve(
        &self,
        pd: usize,
        token: u32,
        address: u64,
        length: u32,
        need: Access,
        pins: &mut PinList<'_>,
    ) -> Result<RegionSlice, AccessError> {
        let Decoded::Slot { index, generation } = self.codec.decode(token) else {
            // Privileged tokens are resolved by the PD's LAM view, never here.
            return Err(AccessError::UnknownToken);
        };
        let t = self.table.lock();
        let slot = t
            .slots
            .get(index as usize)
            .ok_or(AccessError::UnknownToken)?;
        let entry = slot.entry.as_ref().ok_or(AccessError::StaleToken)?;
        if slot.generation != generation {
            return Err(AccessError::StaleToken);
        }
        if entry.pd != pd {
            return Err(AccessError::WrongProtectionDomain);
        }
        let m = entry.mapping.as_ref().ok_or(AccessError::StaleToken)?;
        // Read sinks need no special right (`RDMA_READ_SINK_NOT_REQUIRED`).
        let need = Access(need.0 & !Access::READ_SINK.0);
        if !m.access.allows(need) {
            return Err(AccessError::AccessDenied);
        }
        let start = address
            .checked_sub(m.base_va)
            .ok_or(AccessError::OutOfRange)?;
        let end = start
            .checked_add(u64::from(length))
            .ok_or(AccessError::OutOfRange)?;
        if end > m.length {
            return Err(AccessError::OutOfRange);
        }
        if !pins.has_room() {
            return Err(AccessError::OutOfRange);
        }
        // I2: the unit is taken under the table lock; a closing MR is already unpublished.
        let unit = Unit::try_new(&entry.owner).ok_or(AccessError::StaleToken)?;
        let region = Arc::clone(&m.region);
        let offset = m.offset + start;
        drop(t);
        let at = pins.push(Pin {
            _owner: Some(unit),
            region,
        });
        Ok(RegionSlice {
            region: at,
            offset,
            length,
        })
    }
}

/// The pins of one execution pass, in a list reserved when the connection was built.
#[derive(Debug)]
pub struct PinList<'a> {
    pins: &'a mut crate::platform::PVec<Pin>,
}

impl<'a> PinList<'a> {
    /// A view of `pins` for one pass.
    pub const fn new(pins: &'a mut crate::platform::PVec<Pin>) -> Self {
        Self { pins }
    }

    /// Whether another pin fits. The list is reserved for the worst case of one pass (see
    /// `qp.rs`), so this only guards against a broken bound: a refused access is safer than an
    /// unpinned copy, and checking *before* taking a unit means no unit is ever dropped under a
    /// lock because the list was full.
    const fn has_room(&self) -> bool {
        !self.pins.is_full()
    }

    /// Adds a pin (after [`PinList::has_room`]) and returns its number (the
    /// `RegionSlice::region` the copier uses).
    fn push(&mut self, pin: Pin) -> u64 {
        let at = self.pins.len() as u64;
        let refused = self.pins.push(pin);
        debug_assert!(refused.is_ok(), "checked by has_room");
        // Unreachable: `has_room` was checked with no push in between (one pass runs under its
        // connection lock).
        drop(refused);
        at
    }

    /// The region of pin `at`.
    #[must_use]
    pub fn region(&self, at: u64) -> Option<&Region> {
        usize::try_from(at)
            .ok()
            .and_then(|i| self.pins.get(i))
            .map(Pin::region)
    }
}

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

impl Tracked for Mr {
    type Farewell = Goodbye;

    fn node(&self) -> &Node {
        &self.node
    }

    fn finalize(&self) -> Goodbye {
        self.closer.farewell()
    }
}

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
        let mr = Base::new(Self {
            ndk: NdkCell::new(NDK_MR::new(adapter.version(), adapter.tables().mr)),
            node: Node::new(links),
            closer: Closer::new(),
            pd: Arc::clone(pd),
            fast,
            slot: AtomicU32::new(u32::MAX),
        });
        let kind = if fast {
            Kind::Fast {
                pages: 0,
                remote: false,
            }
        } else {
            Kind::Normal
        };
        let slot = adapter.memory().publish(mr.arc(), pd.identity(), kind)?;
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
        let mapping = Mapping {
            region: Arc::new(region),
            offset: 0,
            base_va,
            length: length as u64,
            access: Access(flags),
        };
        self.table().update(self.slot(), |e| {
            if e.mapping.is_some() {
                return Err(STATUS_INVALID_DEVICE_STATE);
            }
            e.mapping = Some(mapping);
            Ok(((), true))
        })
    }

    /// `NdkDeregisterMr`: the tokens go stale at once. Completes inline.
    ///
    /// In-flight data-path copies keep the region pinned until they finish, but the call does
    /// not wait for them; the consumer deregisters only after its requests completed (NDK).
    ///
    /// # Errors
    ///
    /// `STATUS_INVALID_DEVICE_STATE` unless registered with `NdkRegisterMr`.
    pub fn deregister(&self) -> Result<(), NTSTATUS> {
        if self.fast {
            return Err(STATUS_INVALID_DEVICE_STATE);
        }
        let old = self.table().update(self.slot(), |e| {
            let m = e.mapping.take().ok_or(STATUS_INVALID_DEVICE_STATE)?;
            Ok((m, true))
        })?;
        drop(old);
        Ok(())
    }

    /// `NdkInitializeFastRegisterMr` for up to `pages` pages. Repeatable. Completes inline.
    ///
    /// # Errors
    ///
    /// `STATUS_INVALID_DEVICE_STATE` on a normal MR, `STATUS_INVALID_PARAMETER` for 0 pages,
    /// `STATUS_IMPLEMENTATION_LIMIT` above `FRMRPageCount`.
    pub fn initialize_fast_register(&self, pages: u32, remote: bool) -> Result<(), NTSTATUS> {
        if !self.fast {
            return Err(STATUS_INVALID_DEVICE_STATE);
        }
        if pages == 0 {
            return Err(STATUS_INVALID_PARAMETER);
        }
        if pages > self.pd.adapter().limits().frmr_page_count {
            return Err(STATUS_IMPLEMENTATION_LIMIT);
        }
        self.table().update(self.slot(), |e| {
            e.kind = Kind::Fast { pages, remote };
            Ok(((), false))
        })
    }
}
