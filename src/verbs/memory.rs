//! The adapter's memory table: memory tokens (MRs and MWs) and logical address mappings (LAMs),
//! under one lock ([`lock_order::MEMORY`]).
//!
//! Owns token issue and resolution (see `token.rs` for the encoding): which slot a token names,
//! whether it is current, whether it belongs to the asking PD, whether the range and rights fit;
//! the memory operations that change a slot (register, deregister, bind, fast-register,
//! invalidate, close), each of which bumps the slot's generation so old tokens go stale; and the
//! resolution of privileged-token SGEs and fast-register page arrays through the LAMs.
//!
//! Lookups take a lifetime unit on the MR/MW *under the table lock* and closers unpublish *under
//! the same lock* in their close stage, so a lookup never revives an object that is being
//! finalised (invariant I2 of `docs/lifetime.md`). This table is not a `lifetime::Directory`
//! because its 32-bit tokens carry a per-publication 16-bit generation (a token must go stale on
//! every invalidation, not only when the object closes), which a `Directory` key cannot express.
//! Units taken by lookups are kept as [`Pin`]s by the data path and dropped only after every
//! provider lock is released (dropping the last unit finalises and may call the consumer).
//! It must never drop a unit under its own lock.
//!
//! [`lock_order::MEMORY`]: super::lock_order::MEMORY
#![deny(unsafe_code)]

use alloc::vec::Vec;
use core::panic::Location;

use crate::abi::{
    NTSTATUS, STATUS_DEVICE_BUSY, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_DEVICE_STATE,
};
use crate::engine::MemoryHandle;
use crate::engine::{Access, AccessError, BindRequest, RegionSlice};
use crate::lifetime::Unit;
use crate::platform::prelude::*;
use crate::platform::{Platform, Region, SpinLock};
use crate::sync::Arc;

use super::lam::{LamEntry, Logical, MAX_LAMS};
use super::token::{Decoded, INDEX_BITS, TokenCodec};
use super::{Mr, Mw, lock_order};

mod fast_register;

/// What keeps a resolved range's memory registered while the data path copies it.
///
/// A unit on the MR or MW plus the region, or an old MR link a rebound window gave up. Dropped
/// after the locks are released. A pin made by [`MemoryTable::resolve`] also counts as an
/// *in-flight copy* of the MR whose bytes it names (see `Mr::fence`) from the resolution,
/// which happens under the table lock, until [`PinList::settle`] at the end of the engine step
/// that made it: deregistration and invalidation wait for that count, never for the pin.
pub struct Pin {
    held: Held,
    region: Option<Arc<Region>>,
}

/// The lifetime unit a pin holds; for an MR or MW, whether the pin still counts as an in-flight
/// copy of the MR whose bytes it names (that flag shares the enum's tag: a pin is 32 bytes, and
/// the pin lists are reserved for a pass's worst case).
enum Held {
    /// A LAM range (privileged token): LAMs are not tracked objects, nothing is counted.
    Nothing,
    Mr(Unit<Mr>, bool),
    /// A window (held for its drop, which releases the unit), and the MR whose bytes it maps
    /// (the one whose copies are counted).
    Mw(
        #[expect(dead_code, reason = "held only to be released when the pin drops")] Unit<Mw>,
        Arc<Mr>,
        bool,
    ),
}

impl Pin {
    /// Whether the pin still counts as an in-flight copy.
    const fn copying(&self) -> bool {
        matches!(self.held, Held::Mr(_, true) | Held::Mw(_, _, true))
    }

    /// Stops counting this pin as an in-flight copy (its copy is over).
    fn settle(&mut self) {
        let (mr, copying): (&Mr, _) = match &mut self.held {
            Held::Nothing => return,
            Held::Mr(mr, copying) => (mr, copying),
            Held::Mw(_, mr, copying) => (mr, copying),
        };
        if core::mem::take(copying) {
            mr.copy_ended();
        }
    }
}

impl core::fmt::Debug for Pin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pin")
            .field("copying", &self.copying())
            .finish_non_exhaustive()
    }
}

/// The pins of one execution pass, in a list reserved when the connection was built, and the
/// invalidations of the current step that still have to wait for other processors' copies.
#[derive(Debug)]
pub struct PinList<'a> {
    pins: &'a mut crate::platform::PVec<Pin>,
    /// Pins below this index no longer count as in-flight copies.
    settled: usize,
    /// The MR the current step invalidated, fenced by [`PinList::settle`]. One is enough: the
    /// work requests that invalidate (send-and-invalidate at the responder, a read's local
    /// invalidation, `NdkInvalidate`) are distinct kinds, one per step.
    fence: Option<Arc<Mr>>,
}

impl<'a> PinList<'a> {
    /// A view of `pins` for one pass. Pins already in the list (left by an earlier pass, not
    /// yet dropped) were settled by that pass.
    pub fn new(pins: &'a mut crate::platform::PVec<Pin>) -> Self {
        let settled = pins.len();
        Self {
            pins,
            settled,
            fence: None,
        }
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
        // connection lock). Should it happen, the refused pin never reaches the list, so its
        // copy count is released here (the list's `settle` would not see it).
        if let Err(mut pin) = refused {
            pin.settle();
        }
        at
    }

    /// The region of pin `at`.
    #[must_use]
    pub fn region(&self, at: u64) -> Option<&Region> {
        usize::try_from(at)
            .ok()
            .and_then(|i| self.pins.get(i))
            .and_then(|p| p.region.as_deref())
    }

    /// Remembers that the current step invalidated `mr`'s mapping: [`PinList::settle`] waits
    /// for the copies other processors still make into or out of it.
    pub fn fence_after_step(&mut self, mr: Arc<Mr>) {
        if let Some(earlier) = self.fence.replace(mr) {
            // Unreachable (one invalidation per step, see `fence`). Should it happen, stop
            // counting this step's copies and fence the earlier one now: fencing while this
            // thread still counts a copy could wait for itself.
            debug_assert!(false, "two invalidations in one step");
            self.settle_copies();
            earlier.fence();
        }
    }

    /// Ends an engine step, before its completions are delivered: the step's copies are over,
    /// so its pins stop counting as in-flight copies; then every invalidation the step made
    /// waits until no other processor is still copying into or out of the invalidated memory.
    ///
    /// The wait is bounded by one step of another connection (a copy never waits for anything
    /// and settles before it fences), and this thread counts no copy while it waits, so two
    /// fencing steps never wait for each other.
    #[inline]
    pub fn settle(&mut self) {
        // Most steps end with nothing to do: no new pin (a blocked attempt) or no invalidation.
        if self.settled != self.pins.len() {
            self.settle_copies();
        }
        if let Some(mr) = self.fence.take() {
            mr.fence();
        }
    }

    fn settle_copies(&mut self) {
        if let Some(unsettled) = self.pins.get_mut(self.settled..) {
            for pin in unsettled {
                pin.settle();
            }
        }
        self.settled = self.pins.len();
    }
}

impl Drop for PinList<'_> {
    /// A pass never ends with counted copies or unfenced invalidations (every step settles);
    /// this keeps it so if a path ever forgets.
    fn drop(&mut self) {
        self.settle();
    }
}

/// Who asks for a resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requester {
    /// The PD's identity ([`Pd::identity`](super::Pd::identity)).
    pub pd: usize,
    /// The PD's privileged token (the only privileged token it may use).
    pub privileged: u32,
    /// The access comes from a peer (RDMA read/write target, remote invalidation).
    pub remote: bool,
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

/// The object a slot belongs to.
#[derive(Debug)]
pub(super) enum Owner {
    Mr(Arc<Mr>),
    Mw(Arc<Mw>),
}

/// What kind of memory object a slot holds.
#[derive(Debug)]
pub(super) enum Kind {
    /// `NdkRegisterMr` MR; `windows` = MWs currently bound to it.
    Normal { windows: u32 },
    /// Fast-register MR: `pages` = initialised capacity (0 = not initialised).
    Fast { pages: u32, remote: bool },
    /// Memory window; `bound` = the MR of its current binding.
    Window { bound: Option<Arc<Mr>> },
}

#[derive(Debug)]
struct Entry {
    owner: Owner,
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
struct LamSlot {
    generation: u16,
    entry: Option<LamEntry>,
}

#[derive(Debug, Default)]
#[allow(clippy::struct_field_names)] // `slots` of MRs/MWs beside `lams`
struct Slots {
    slots: Vec<Slot>,
    free: Vec<u32>,
    lams: Vec<LamSlot>,
    free_lams: Vec<u32>,
}

impl Slots {
    /// The LAM the logical address `at` names (its slot, at its generation), if still built.
    fn lam(&self, at: Logical) -> Option<&LamEntry> {
        self.lams
            .get(at.index as usize)
            .filter(|s| s.generation == at.generation)
            .and_then(|s| s.entry.as_ref())
    }
}

/// What an invalidation or unpublish takes out of the table, released outside the lock.
#[derive(Debug, Default)]
struct Leftovers {
    entry: Option<Entry>,
    mapping: Option<Mapping>,
    bound: Option<Arc<Mr>>,
}

/// Grows `v` by one element's capacity, admitted by the platform's allocation gate (so fault
/// injection reaches table growth like every other allocation).
#[track_caller]
fn grow<T>(platform: &Platform, v: &mut Vec<T>, to: usize) -> Result<(), NTSTATUS> {
    if v.capacity() >= to {
        return Ok(());
    }
    admit(platform)?;
    v.try_reserve(to - v.len())
        .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)
}

/// Admits one allocation through the platform's gate, so fault injection reaches allocations
/// made outside the platform's containers (table growth, engine queues); the admission is not
/// kept (such memory is not in the host's live balance).
///
/// # Errors
///
/// `STATUS_INSUFFICIENT_RESOURCES` when the gate refuses.
#[track_caller]
pub(super) fn admit(platform: &Platform) -> Result<(), NTSTATUS> {
    platform
        .alloc_gate(Location::caller())
        .map(|_admitted| ())
        .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)
}

/// A slot index and generation from a token of the slot kind.
const fn slot_of(codec: TokenCodec, token: u32) -> Result<(u32, u16), AccessError> {
    match codec.decode(token) {
        Decoded::Slot { index, generation } => Ok((index, generation)),
        Decoded::Privileged(_) => Err(AccessError::UnknownToken),
    }
}

/// The token a memory handle carries (handles are tokens, see [`MemoryTable::handle`]).
#[allow(clippy::cast_possible_truncation)] // handles are built from u32 tokens
const fn token_of(handle: MemoryHandle) -> u32 {
    handle.0 as u32
}

/// The adapter-wide memory table.
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
            max_slots: max_slots.min(1 << INDEX_BITS),
            table: SpinLock::new(lock_order::MEMORY, Slots::default()),
        }
    }

    /// The privileged token of PD number `number`.
    #[must_use]
    pub const fn privileged_token(&self, number: u32) -> u32 {
        self.codec.privileged(number)
    }

    /// Drops whatever the table still holds: adapter teardown, which also frees the LAMs the
    /// consumer never released (nothing is published by then).
    pub fn release_all(&self) {
        let slots = core::mem::take(&mut *self.table.lock());
        drop(slots);
    }

    /// The memory handle (for bind, fast-register and invalidate work requests) of the object
    /// whose current token is `token`: the token itself, so a request queued behind an
    /// invalidation or a close finds the slot's generation moved on and fails cleanly.
    #[must_use]
    pub const fn handle(token: u32) -> MemoryHandle {
        MemoryHandle(token as usize)
    }

    /// Publishes a new MR or MW; returns its slot index.
    pub(super) fn publish(
        &self,
        platform: &Platform,
        owner: Owner,
        pd: usize,
        kind: Kind,
    ) -> Result<u32, NTSTATUS> {
        let mut t = self.table.lock();
        let index = if let Some(index) = t.free.pop() {
            index
        } else {
            let index = u32::try_from(t.slots.len()).map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
            if index >= self.max_slots {
                return Err(STATUS_INSUFFICIENT_RESOURCES);
            }
            let at = index as usize + 1;
            grow(platform, &mut t.slots, at)?;
            grow(platform, &mut t.free, at)?;
            t.slots.push(Slot::default());
            index
        };
        t.slots[index as usize].entry = Some(Entry {
            owner,
            pd,
            kind,
            mapping: None,
        });
        drop(t);
        Ok(index)
    }

    /// Unpublishes slot `index` (close stage): its tokens go stale for good; a bound window
    /// stops counting against its MR.
    pub(super) fn unpublish(&self, index: u32) {
        let mut t = self.table.lock();
        let mut out = Leftovers::default();
        if let Some(s) = t.slots.get_mut(index as usize) {
            s.generation = s.generation.wrapping_add(1);
            out.entry = s.entry.take();
        }
        if let Some(Entry {
            kind: Kind::Window { bound },
            ..
        }) = out.entry.as_mut()
        {
            out.bound = bound.take();
            unbind(&mut t, out.bound.as_ref());
        }
        if out.entry.is_some() {
            // Capacity for every slot was reserved when the slot was created.
            t.free.push(index);
        }
        drop(t);
        // The entry's `Arc`s and region are released here, outside the lock; BASE is still
        // held by the closer, so this never finalises.
        drop(out);
    }

    /// The current token of slot `index`.
    pub(super) fn token(&self, index: u32) -> u32 {
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

    /// `NdkRegisterMr`'s table part: maps `region` from `base_va` with `access`.
    pub(super) fn register(
        &self,
        index: u32,
        region: Arc<Region>,
        base_va: u64,
        access: Access,
    ) -> Result<(), NTSTATUS> {
        let length = region.len() as u64;
        let mapping = Mapping {
            region,
            offset: 0,
            base_va,
            length,
            access,
        };
        self.update(index, |e| {
            if e.mapping.is_some() {
                return Err(STATUS_INVALID_DEVICE_STATE);
            }
            e.mapping = Some(mapping);
            Ok(((), true))
        })
    }

    /// `NdkDeregisterMr`'s table part.
    ///
    /// Choice (§5.10 "MR deregistration while MWs are bound"): refused with
    /// `STATUS_DEVICE_BUSY` while a window bound to the MR is valid, as NetworkDirect's
    /// `NdMRDeregister` test expects (`ND_DEVICE_BUSY`); nothing changes.
    pub(super) fn deregister(&self, index: u32) -> Result<(), NTSTATUS> {
        let old = self.update(index, |e| {
            if let Kind::Normal { windows } = e.kind
                && windows > 0
                && e.mapping.is_some()
            {
                return Err(STATUS_DEVICE_BUSY);
            }
            let m = e.mapping.take().ok_or(STATUS_INVALID_DEVICE_STATE)?;
            Ok((m, true))
        })?;
        drop(old);
        Ok(())
    }

    /// `NdkInitializeFastRegisterMr`'s table part.
    pub(super) fn initialize_fast(
        &self,
        index: u32,
        pages: u32,
        remote: bool,
    ) -> Result<(), NTSTATUS> {
        self.update(index, |e| {
            e.kind = Kind::Fast { pages, remote };
            Ok(((), false))
        })
    }

    /// Resolves `token` for an access of `length` bytes at `address` by `who` with rights
    /// `need`, pinning the object into `pins`.
    ///
    /// The PD's privileged token resolves `address` as a LAM logical address, locally only and
    /// with local read/write rights; every other token names a slot. Windows are remote-only
    /// (NDK has no local token for an MW).
    ///
    /// # Errors
    ///
    /// Why the access is refused (unknown/stale token, other PD, out of range, missing right).
    pub fn resolve(
        &self,
        who: Requester,
        token: u32,
        address: u64,
        length: u32,
        need: Access,
        pins: &mut PinList<'_>,
    ) -> Result<RegionSlice, AccessError> {
        // Read sinks need no special right (`RDMA_READ_SINK_NOT_REQUIRED`).
        let need = Access(need.0 & !Access::READ_SINK.0);
        let (index, generation) = match self.codec.decode(token) {
            Decoded::Privileged(_) if who.remote => return Err(AccessError::UnknownToken),
            Decoded::Privileged(_) if token != who.privileged => {
                return Err(AccessError::WrongProtectionDomain);
            }
            Decoded::Privileged(_) => return self.resolve_logical(address, length, need, pins),
            Decoded::Slot { index, generation } => (index, generation),
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
        if entry.pd != who.pd {
            return Err(AccessError::WrongProtectionDomain);
        }
        let m = entry.mapping.as_ref().ok_or(AccessError::StaleToken)?;
        if !m.access.allows(need) || (matches!(entry.owner, Owner::Mw(_)) && !who.remote) {
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
        // I2: the unit is taken under the table lock; a closing object is already unpublished.
        // The copy is counted (on the MR whose bytes the range names) only once the unit is
        // taken, and under the table lock: an invalidation or deregistration that takes the
        // mapping out after this point sees the count (it takes the same lock first).
        let held = match (&entry.owner, &entry.kind) {
            (Owner::Mr(mr), _) => Unit::try_new(mr).map(|unit| {
                mr.copy_started();
                Held::Mr(unit, true)
            }),
            (Owner::Mw(mw), Kind::Window { bound: Some(mr) }) => Unit::try_new(mw).map(|mw| {
                mr.copy_started();
                Held::Mw(mw, Arc::clone(mr), true)
            }),
            // A window with a mapping is bound; nothing else is reachable.
            (Owner::Mw(_), _) => None,
        }
        .ok_or(AccessError::StaleToken)?;
        let pin = Pin {
            held,
            region: Some(Arc::clone(&m.region)),
        };
        let offset = m.offset + start;
        drop(t);
        let at = pins.push(pin);
        Ok(RegionSlice {
            region: at,
            offset,
            length,
        })
    }

    /// A privileged-token SGE: `address` is a LAM logical address.
    fn resolve_logical(
        &self,
        address: u64,
        length: u32,
        need: Access,
        pins: &mut PinList<'_>,
    ) -> Result<RegionSlice, AccessError> {
        if !Access(Access::LOCAL_WRITE.0).allows(need) {
            return Err(AccessError::AccessDenied);
        }
        let logical = Logical::decode(address).ok_or(AccessError::UnknownToken)?;
        let t = self.table.lock();
        let lam = t.lam(logical).ok_or(AccessError::StaleToken)?;
        let offset = lam
            .range(logical, u64::from(length))
            .ok_or(AccessError::OutOfRange)?;
        if !pins.has_room() {
            return Err(AccessError::OutOfRange);
        }
        let region = Arc::clone(&lam.region);
        drop(t);
        let at = pins.push(Pin {
            held: Held::Nothing,
            region: Some(region),
        });
        Ok(RegionSlice {
            region: at,
            offset,
            length,
        })
    }

    /// `NdkBind`, applied at post time: window `request.mw` maps a sub-range of registered MR
    /// `request.mr`, and holds a unit on that MR (the MR→MW link of §5.1) until the window's
    /// close completion has returned. A link to a previously bound MR is handed back as a pin
    /// so it is released outside every lock.
    ///
    /// # Errors
    ///
    /// `StaleToken`/`UnknownToken` for handles that are no longer current, `InvalidState` for an
    /// MR that is not registered with `NdkRegisterMr` or a window that is already bound,
    /// `WrongProtectionDomain`, `OutOfRange` for a range outside the MR, `AccessDenied` for
    /// remote write through an MR registered without local write.
    pub fn bind(
        &self,
        pd: usize,
        request: &BindRequest,
        pins: &mut PinList<'_>,
    ) -> Result<(), AccessError> {
        let (region_index, region_generation) = slot_of(self.codec, token_of(request.mr))?;
        let (window_index, window_generation) = slot_of(self.codec, token_of(request.mw))?;
        if !pins.has_room() {
            return Err(AccessError::OutOfRange);
        }
        let mut t = self.table.lock();
        let current = |t: &Slots, index: u32, generation: u16| {
            let e = t
                .slots
                .get(index as usize)
                .filter(|s| s.generation == generation)
                .and_then(|s| s.entry.as_ref())
                .ok_or(AccessError::StaleToken)?;
            if e.pd == pd {
                Ok(())
            } else {
                Err(AccessError::WrongProtectionDomain)
            }
        };
        current(&t, region_index, region_generation)?;
        current(&t, window_index, window_generation)?;
        let (mapping, unit, mr) = {
            let e = t.slots[region_index as usize]
                .entry
                .as_ref()
                .ok_or(AccessError::StaleToken)?;
            let (Owner::Mr(mr), Kind::Normal { .. }, Some(m)) = (&e.owner, &e.kind, &e.mapping)
            else {
                return Err(AccessError::InvalidState);
            };
            if request.access.allows(Access::REMOTE_WRITE) && !m.access.allows(Access::LOCAL_WRITE)
            {
                return Err(AccessError::AccessDenied);
            }
            let start = request
                .virtual_address
                .checked_sub(m.base_va)
                .ok_or(AccessError::OutOfRange)?;
            if request.length == 0
                || start
                    .checked_add(request.length)
                    .is_none_or(|end| end > m.length)
            {
                return Err(AccessError::OutOfRange);
            }
            let unit = Unit::try_new(mr).ok_or(AccessError::StaleToken)?;
            let mapping = Mapping {
                region: Arc::clone(&m.region),
                offset: m.offset + start,
                base_va: request.virtual_address,
                length: request.length,
                access: request.access,
            };
            (mapping, unit, Arc::clone(mr))
        };
        let w = &mut t.slots[window_index as usize];
        let Some(Entry {
            owner: Owner::Mw(mw),
            kind: Kind::Window { bound },
            mapping: window @ None,
            ..
        }) = w.entry.as_mut()
        else {
            drop(t);
            drop(unit); // BASE of the MR is held by the borrowing caller: never the last
            return Err(AccessError::InvalidState);
        };
        *window = Some(mapping);
        *bound = Some(mr);
        let previous = mw.relink(unit);
        w.generation = w.generation.wrapping_add(1);
        if let Some(Entry {
            kind: Kind::Normal { windows },
            ..
        }) = t.slots[region_index as usize].entry.as_mut()
        {
            *windows += 1;
        }
        drop(t);
        if let Some(previous) = previous {
            pins.push(Pin {
                held: Held::Mr(previous, false),
                region: None,
            });
        }
        Ok(())
    }

    /// `NdkInvalidate` (local, by handle) or a remote / read-local invalidation (by token) of a
    /// fast-registered MR or a bound MW of PD `pd`: the token goes stale at once. Returns the MR
    /// whose bytes the invalidated token named: the caller fences it (`Mr::fence`, through
    /// [`PinList::fence_after_step`]) before the invalidation's completion is delivered, so no
    /// copy that resolved the token before it went stale is still running by then.
    ///
    /// # Errors
    ///
    /// `InvalidState` unless the token is current and names a valid fast-registered MR or bound
    /// window of `pd` (an MR registered with `NdkRegisterMr` never qualifies).
    pub fn invalidate(&self, pd: usize, token: u32) -> Result<Arc<Mr>, AccessError> {
        let (index, generation) =
            slot_of(self.codec, token).map_err(|_| AccessError::InvalidState)?;
        let mut t = self.table.lock();
        let mut out = Leftovers::default();
        let fence = {
            let slot = t
                .slots
                .get_mut(index as usize)
                .filter(|s| s.generation == generation)
                .ok_or(AccessError::InvalidState)?;
            let e = slot.entry.as_mut().ok_or(AccessError::InvalidState)?;
            if e.pd != pd || e.mapping.is_none() {
                return Err(AccessError::InvalidState);
            }
            let fence = match (&mut e.kind, &e.owner) {
                (Kind::Fast { .. }, Owner::Mr(mr)) => Arc::clone(mr),
                (Kind::Window { bound }, _) => {
                    out.bound = bound.take();
                    out.bound.clone().ok_or(AccessError::InvalidState)?
                }
                _ => return Err(AccessError::InvalidState),
            };
            out.mapping = e.mapping.take();
            slot.generation = slot.generation.wrapping_add(1);
            fence
        };
        unbind(&mut t, out.bound.as_ref());
        drop(t);
        drop(out);
        Ok(fence)
    }

    /// Publishes a LAM; returns its slot index and generation.
    pub(super) fn publish_lam(
        &self,
        platform: &Platform,
        entry: LamEntry,
    ) -> Result<(u32, u16), NTSTATUS> {
        let mut t = self.table.lock();
        let index = if let Some(index) = t.free_lams.pop() {
            index
        } else {
            let index = u32::try_from(t.lams.len()).map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
            if index >= MAX_LAMS {
                return Err(STATUS_INSUFFICIENT_RESOURCES);
            }
            let at = index as usize + 1;
            grow(platform, &mut t.lams, at)?;
            grow(platform, &mut t.free_lams, at)?;
            t.lams.push(LamSlot::default());
            index
        };
        let slot = &mut t.lams[index as usize];
        slot.entry = Some(entry);
        let generation = slot.generation;
        drop(t);
        Ok((index, generation))
    }

    /// Releases LAM slot `index` if it is at `generation`; its logical addresses go stale.
    pub(super) fn release_lam(&self, index: u32, generation: u16) -> bool {
        let mut t = self.table.lock();
        let entry = t
            .lams
            .get_mut(index as usize)
            .filter(|s| s.generation == generation)
            .and_then(|s| {
                s.generation = s.generation.wrapping_add(1);
                s.entry.take()
            });
        if entry.is_some() {
            t.free_lams.push(index);
        }
        drop(t);
        entry.is_some()
    }

    /// LAMs currently built (tests, diagnostics).
    #[must_use]
    pub fn live_lams(&self) -> usize {
        self.table
            .lock()
            .lams
            .iter()
            .filter(|s| s.entry.is_some())
            .count()
    }
}

/// A window bound to `mr` stopped being valid: the MR's count of bound windows drops (if the MR
/// is still published in its slot).
fn unbind(t: &mut Slots, mr: Option<&Arc<Mr>>) {
    let Some(mr) = mr else { return };
    if let Some(Entry {
        owner: Owner::Mr(owner),
        kind: Kind::Normal { windows },
        ..
    }) = t
        .slots
        .get_mut(mr.slot_index() as usize)
        .and_then(|s| s.entry.as_mut())
        && Arc::ptr_eq(owner, mr)
    {
        *windows = windows.saturating_sub(1);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Pin;

    /// The pin lists are reserved for a pass's worst case (hundreds of pins per QP): the
    /// "still counted" flag must keep sharing the unit enum's tag, not add a word.
    #[test]
    fn a_pin_is_four_words() {
        assert_eq!(
            core::mem::size_of::<Pin>(),
            4 * core::mem::size_of::<usize>()
        );
    }
}
