//! Work queues: the initiator queue (ring of work-queue entries plus per-slot SGE and inline
//! tables) and the receive queue (a QP's own, or a shared receive queue).
//!
//! A queue stores requests and hands them out in FIFO order; it never executes anything and
//! never allocates after creation (every per-slot table is reserved fallibly up front). The one
//! exception is explicit: a receive queue grows (`NdkModifySrq`) into a [`ReceiveStorage`] its
//! owner allocated beforehand, outside its locks; [`ReceiveQueue::grow`] only moves entries.

use alloc::vec::Vec;

use super::memory::{MemorySpace, RegionSlice};
use super::ring::{CreateError, Ring, try_filled};
use super::types::{Access, AccessError, MemoryHandle, OpFlags, PostError, Sge};

/// What an initiator entry asks for; SGEs and inline bytes live in the queue's side tables.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum WqeKind {
    /// `NdkSend`.
    #[default]
    Send,
    /// `NdkSendAndInvalidate` with the peer's token to invalidate.
    SendAndInvalidate(u32),
    /// `NdkRead` from the peer's `(address, token)`.
    Read { address: u64, token: u32 },
    /// `NdkWrite` to the peer's `(address, token)`.
    Write { address: u64, token: u32 },
    /// `NdkBind`, already applied at post time.
    Bind,
    /// `NdkFastRegister`, already applied at post time.
    FastRegister,
    /// `NdkInvalidate`, applied when it reaches the head.
    Invalidate(MemoryHandle),
}

/// One initiator entry.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Wqe {
    pub context: usize,
    pub kind: WqeKind,
    pub flags: OpFlags,
    /// SGEs in this slot's SGE table (0 for inline data and memory operations).
    pub sge_count: u32,
    /// Total bytes to move (SGE sum or inline length).
    pub length: u32,
    /// The data is in this slot's inline buffer.
    pub inline: bool,
}

/// Copy `parts` back to back into `into`, which is exactly their total length.
fn gather_into(into: &mut [u8], parts: &[&[u8]]) {
    let mut at = 0;
    for p in parts {
        into[at..at + p.len()].copy_from_slice(p);
        at += p.len();
    }
}

/// Copy a request's SGEs into its slot. Posts usually carry one SGE; a plain store avoids a
/// `memcpy` call for it.
#[inline]
fn copy_sges(into: &mut [Sge], sges: &[Sge]) {
    if let ([d], [s]) = (&mut *into, sges) {
        *d = *s;
    } else {
        into.copy_from_slice(sges);
    }
}

fn table_len(depth: u32, stride: u32) -> Result<usize, CreateError> {
    let slots = depth.max(1).next_power_of_two() as usize;
    slots
        .checked_mul(stride as usize)
        .ok_or(CreateError::LimitTooLarge)
}

/// Sum of SGE lengths, refusing totals above `max` or beyond 32 bits.
#[inline]
pub(crate) fn total_length(sges: &[Sge], max: u32) -> Result<u32, PostError> {
    let mut total = 0u32;
    for s in sges {
        total = total
            .checked_add(s.length)
            .ok_or(PostError::TransferTooLong)?;
    }
    if total > max {
        return Err(PostError::TransferTooLong);
    }
    Ok(total)
}

/// The initiator queue of a QP.
#[derive(Debug)]
pub(crate) struct InitiatorQueue {
    ring: Ring<Wqe>,
    sges: Vec<Sge>,
    stride: u32,
    inline: Vec<u8>,
    inline_size: u32,
    /// Resolved local ranges of the head request: `stride` slots, the first `resolved` valid.
    scratch: Vec<RegionSlice>,
    resolved: usize,
    /// Doorbell: entries with index before `rung` may execute. A DEFER post leaves it behind;
    /// the next post without DEFER (or a failed post, ndkpi §6.3) moves it to `produced`.
    rung: u32,
}

impl InitiatorQueue {
    pub(crate) fn try_new(
        depth: u32,
        sge_stride: u32,
        inline_size: u32,
    ) -> Result<Self, CreateError> {
        let ring = Ring::try_new(depth)?;
        let sges = try_filled(table_len(depth, sge_stride)?, Sge::default())?;
        let inline = try_filled(table_len(depth, inline_size)?, 0u8)?;
        let scratch = try_filled(sge_stride as usize, RegionSlice::default())?;
        Ok(Self {
            ring,
            sges,
            stride: sge_stride,
            inline,
            inline_size,
            scratch,
            resolved: 0,
            rung: 0,
        })
    }

    pub(crate) const fn ring(&self) -> &Ring<Wqe> {
        &self.ring
    }

    pub(crate) const fn inline_size(&self) -> u32 {
        self.inline_size
    }

    /// Append `wqe` with its SGEs or inline parts (already validated by the caller).
    #[inline(always)]
    pub(crate) fn push(
        &mut self,
        mut wqe: Wqe,
        sges: &[Sge],
        inline: &[&[u8]],
    ) -> Result<(), PostError> {
        let slot = self.ring.next_slot().ok_or(PostError::QueueFull)?;
        if wqe.inline {
            let base = slot * self.inline_size as usize;
            gather_into(&mut self.inline[base..base + wqe.length as usize], inline);
            wqe.sge_count = 0;
        } else {
            let base = slot * self.stride as usize;
            copy_sges(&mut self.sges[base..base + sges.len()], sges);
            wqe.sge_count = u32::try_from(sges.len()).map_err(|_| PostError::TooManySges)?;
        }
        let deferred = wqe.flags.contains(OpFlags::DEFER);
        self.ring.commit(slot, wqe);
        if !deferred {
            self.ring_doorbell();
        }
        Ok(())
    }

    /// Hand every queued entry to execution (a post without DEFER, or a failed post).
    #[inline]
    pub(crate) const fn ring_doorbell(&mut self) {
        self.rung = self.ring.produced();
    }

    /// Entries posted with DEFER that no doorbell has released yet.
    #[inline]
    pub(crate) const fn held_by_defer(&self) -> u32 {
        self.ring.produced().wrapping_sub(self.rung)
    }

    /// Whether [`InitiatorQueue::head_slot`] would return `None`.
    #[inline]
    pub(crate) const fn is_idle(&self) -> bool {
        self.ring.len() <= self.held_by_defer()
    }

    /// The oldest entry, if its doorbell has been rung (the tests' view; the requester uses
    /// [`InitiatorQueue::head_slot`]).
    #[cfg(test)]
    pub(crate) fn head(&self) -> Option<(usize, Wqe)> {
        if self.is_idle() {
            return None;
        }
        self.ring.front()
    }

    /// The slot of the oldest entry, if its doorbell has been rung; read it with
    /// [`InitiatorQueue::entry`]. No entry travels through an `Option`, so the step loads only
    /// the fields it uses.
    #[inline]
    pub(crate) const fn head_slot(&self) -> Option<usize> {
        if self.is_idle() {
            None
        } else {
            Some(self.ring.front_slot())
        }
    }

    /// The entry in `slot` (a slot [`InitiatorQueue::head_slot`] answered).
    #[inline]
    pub(crate) fn entry(&self, slot: usize) -> &Wqe {
        self.ring.slot(slot)
    }

    /// The oldest entry regardless of the doorbell (flush).
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Wqe> {
        let e = self.ring.pop().map(|(_, w)| w);
        if self.held_by_defer() > self.ring.len() {
            // A flushed deferred entry no longer needs a doorbell.
            self.rung = self.ring.consumed();
        }
        e
    }

    /// Remove the head entry the requester has finished with (it works on its own copy of
    /// the entry, so the slot is not read again).
    ///
    /// The head was rung ([`InitiatorQueue::head_slot`] answered it), so the doorbell stays at
    /// or past the new head and, unlike [`InitiatorQueue::pop`], there is no deferred entry to
    /// release.
    #[inline]
    pub(crate) const fn retire_head(&mut self) {
        debug_assert!(!self.is_idle(), "retire_head after head_slot");
        self.ring.discard_front();
    }

    #[inline]
    pub(crate) fn sges(&self, slot: usize, wqe: &Wqe) -> &[Sge] {
        let base = slot * self.stride as usize;
        &self.sges[base..base + wqe.sge_count as usize]
    }

    #[inline]
    pub(crate) fn inline_bytes(&self, slot: usize, wqe: &Wqe) -> &[u8] {
        let base = slot * self.inline_size as usize;
        &self.inline[base..base + wqe.length as usize]
    }

    /// The list the last successful [`InitiatorQueue::resolve`] produced.
    #[inline]
    pub(crate) fn resolved(&self) -> &[RegionSlice] {
        &self.scratch[..self.resolved]
    }

    /// Resolve the one SGE of the entry in `slot` (`sge_count == 1`) with rights `need`: the
    /// checks of [`InitiatorQueue::resolve`] for one SGE, without the scratch list (a send's
    /// or write's source is used once, straight away).
    #[inline(always)]
    pub(crate) fn resolve_one<M: MemorySpace + ?Sized>(
        &self,
        slot: usize,
        memory: &M,
        need: Access,
    ) -> Result<RegionSlice, AccessError> {
        let sge = &self.sges[slot * self.stride as usize];
        let slice = memory.resolve_local(sge, need)?;
        if slice.length != sge.length {
            return Err(AccessError::OutOfRange);
        }
        Ok(slice)
    }

    /// Resolve every SGE of the entry in `slot` with rights `need`, into the scratch list.
    #[inline(always)]
    pub(crate) fn resolve<M: MemorySpace + ?Sized>(
        &mut self,
        slot: usize,
        wqe: &Wqe,
        memory: &M,
        need: Access,
    ) -> Result<&[RegionSlice], AccessError> {
        let base = slot * self.stride as usize;
        resolve_into(
            &mut self.scratch,
            &mut self.resolved,
            &self.sges[base..base + wqe.sge_count as usize],
            memory,
            need,
        )
    }
}

/// Resolve `sges` into the first slots of `scratch` (one slot per SGE the queue allows, filled
/// at creation) and record how many are valid in `resolved`. Indexed stores rather than
/// `Vec::push`: no capacity test and no growth path on a per-request path. Always inlined
/// (one site per queue kind and rights): out of line, the request's entry and the resolved
/// list went through memory on every request.
#[inline(always)]
fn resolve_into<'s, M: MemorySpace + ?Sized>(
    scratch: &'s mut [RegionSlice],
    resolved: &mut usize,
    sges: &[Sge],
    memory: &M,
    need: Access,
) -> Result<&'s [RegionSlice], AccessError> {
    *resolved = 0;
    // The usual request carries one SGE: the same checks, in the same order, without the loop.
    if let [sge] = sges {
        let out = scratch.first_mut().ok_or(AccessError::OutOfRange)?;
        let slice = memory.resolve_local(sge, need)?;
        if slice.length != sge.length {
            return Err(AccessError::OutOfRange);
        }
        *out = slice;
        *resolved = 1;
        return Ok(core::slice::from_ref(out));
    }
    // Posts are checked against the queue's SGE limit, which sized `scratch`.
    let out = scratch
        .get_mut(..sges.len())
        .ok_or(AccessError::OutOfRange)?;
    for (slot, sge) in out.iter_mut().zip(sges) {
        let slice = memory.resolve_local(sge, need)?;
        if slice.length != sge.length {
            // A memory space that returns a different length broke its contract; refuse
            // rather than copy a wrong amount.
            return Err(AccessError::OutOfRange);
        }
        *slot = slice;
    }
    *resolved = sges.len();
    Ok(out)
}

/// One receive entry.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Rqe {
    pub context: usize,
    pub sge_count: u32,
    pub length: u32,
}

/// A receive queue: a QP's own, or a shared receive queue (SRQ) handed to
/// [`Side`](super::Side) for every QP created with it.
#[derive(Debug)]
pub struct ReceiveQueue {
    ring: Ring<Rqe>,
    sges: Vec<Sge>,
    max_sge: u32,
    max_transfer_length: u32,
    /// Resolved ranges of the head receive: `max_sge` slots, the first `resolved` valid.
    scratch: Vec<RegionSlice>,
    resolved: usize,
}

/// Slot storage (entry ring and per-slot SGE table) for a deeper [`ReceiveQueue`].
///
/// Allocated without any lock held and installed by [`ReceiveQueue::grow`], which then only
/// moves entries. After a successful grow it holds the queue's old storage, for the caller to
/// drop outside its locks.
#[derive(Debug)]
pub struct ReceiveStorage {
    ring: Ring<Rqe>,
    sges: Vec<Sge>,
    max_sge: u32,
}

impl ReceiveStorage {
    /// Storage for `depth` receives of at most `max_sge` SGEs. `admit` is asked before each of
    /// the allocations (so the owner's allocation gate, and fault injection, see every one).
    ///
    /// # Errors
    ///
    /// [`CreateError`] when `admit` refuses, the storage cannot be reserved or the limits are
    /// too large.
    pub fn try_new(
        depth: u32,
        max_sge: u32,
        mut admit: impl FnMut() -> Result<(), CreateError>,
    ) -> Result<Self, CreateError> {
        admit()?;
        let ring = Ring::try_new(depth)?;
        let len = table_len(depth, max_sge)?;
        admit()?;
        let sges = try_filled(len, Sge::default())?;
        Ok(Self {
            ring,
            sges,
            max_sge,
        })
    }

    /// Receives this storage holds at most.
    #[must_use]
    pub const fn depth(&self) -> u32 {
        self.ring.depth()
    }
}

/// [`ReceiveQueue::grow`] refused; the queue and its receives are unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GrowError {
    /// The storage is not deeper than the queue's (another grow got there first).
    NotDeeper,
    /// The storage was made for another SGE limit, or already holds entries.
    Mismatch,
}

impl ReceiveQueue {
    /// A queue for at most `depth` receives of at most `max_sge` SGEs and
    /// `max_transfer_length` bytes each.
    ///
    /// # Errors
    ///
    /// [`CreateError`] when the storage cannot be reserved or the limits are too large.
    pub fn try_new(
        depth: u32,
        max_sge: u32,
        max_transfer_length: u32,
    ) -> Result<Self, CreateError> {
        Self::try_new_admitted(depth, max_sge, max_transfer_length, || Ok(()))
    }

    /// [`ReceiveQueue::try_new`], asking `admit` before each allocation.
    ///
    /// # Errors
    ///
    /// [`CreateError`] when `admit` refuses, the storage cannot be reserved or the limits are
    /// too large.
    pub fn try_new_admitted(
        depth: u32,
        max_sge: u32,
        max_transfer_length: u32,
        mut admit: impl FnMut() -> Result<(), CreateError>,
    ) -> Result<Self, CreateError> {
        let ReceiveStorage { ring, sges, .. } =
            ReceiveStorage::try_new(depth, max_sge, &mut admit)?;
        admit()?;
        let scratch = try_filled(max_sge as usize, RegionSlice::default())?;
        Ok(Self {
            ring,
            sges,
            max_sge,
            max_transfer_length,
            scratch,
            resolved: 0,
        })
    }

    /// Moves every posted receive, in posting order with its SGEs, into `spare` (made for this
    /// queue's SGE limit, deeper than [`ReceiveQueue::depth`], empty) and makes it this queue's
    /// storage; `spare` then holds the old storage. Never allocates and never frees, so it may
    /// run under the owner's spin lock. The entries are copied before anything is committed:
    /// on a refusal the queue is untouched.
    ///
    /// # Errors
    ///
    /// [`GrowError::NotDeeper`], [`GrowError::Mismatch`].
    pub fn grow(&mut self, spare: &mut ReceiveStorage) -> Result<(), GrowError> {
        if spare.max_sge != self.max_sge || !spare.ring.is_empty() {
            return Err(GrowError::Mismatch);
        }
        if spare.ring.depth() <= self.ring.depth() {
            return Err(GrowError::NotDeeper);
        }
        let stride = self.max_sge as usize;
        for (from, rqe) in self.ring.entries() {
            // Deeper than this queue, which holds at most its depth: the push fits.
            let to = spare.ring.push(rqe).map_err(|_| GrowError::NotDeeper)?;
            let n = rqe.sge_count as usize;
            spare.sges[to * stride..to * stride + n]
                .copy_from_slice(&self.sges[from * stride..from * stride + n]);
        }
        core::mem::swap(&mut self.ring, &mut spare.ring);
        core::mem::swap(&mut self.sges, &mut spare.sges);
        Ok(())
    }

    /// Post a receive (`NdkReceive` / `NdkSrqReceive`). For a QP's own queue call
    /// [`Endpoint::post_receive`](super::Endpoint::post_receive), which also checks the QP state.
    ///
    /// # Errors
    ///
    /// [`PostError::TooManySges`], [`PostError::TransferTooLong`], [`PostError::QueueFull`].
    #[inline]
    pub fn post(&mut self, context: usize, sges: &[Sge]) -> Result<(), PostError> {
        if sges.len() > self.max_sge as usize {
            return Err(PostError::TooManySges);
        }
        let length = total_length(sges, self.max_transfer_length)?;
        let slot = self.ring.next_slot().ok_or(PostError::QueueFull)?;
        let base = slot * self.max_sge as usize;
        copy_sges(&mut self.sges[base..base + sges.len()], sges);
        #[allow(clippy::cast_possible_truncation)] // bounded by max_sge above
        let rqe = Rqe {
            context,
            sge_count: sges.len() as u32,
            length,
        };
        self.ring.commit(slot, rqe);
        Ok(())
    }

    /// Outstanding receives.
    #[must_use]
    #[inline]
    pub const fn len(&self) -> u32 {
        self.ring.len()
    }

    /// Whether no receive is posted.
    #[must_use]
    #[inline]
    pub const fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Maximum outstanding receives.
    #[must_use]
    pub const fn depth(&self) -> u32 {
        self.ring.depth()
    }

    /// Remove the oldest receive and return its request context: for the verbs layer when an
    /// SRQ is closed with receives still posted (a QP's own queue is flushed by the endpoint).
    pub fn take_oldest(&mut self) -> Option<usize> {
        self.ring.pop().map(|(_, r)| r.context)
    }

    #[inline]
    pub(crate) fn head(&self) -> Option<(usize, Rqe)> {
        self.ring.front()
    }

    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Rqe> {
        self.ring.pop().map(|(_, r)| r)
    }

    /// Remove the head receive the responder has finished with (see
    /// [`InitiatorQueue::retire_head`]).
    #[inline]
    pub(crate) const fn retire_head(&mut self) {
        self.ring.discard_front();
    }

    /// The list the last successful [`ReceiveQueue::resolve`] produced.
    #[inline]
    pub(crate) fn resolved(&self) -> &[RegionSlice] {
        &self.scratch[..self.resolved]
    }

    /// Resolve the one SGE of the receive in `slot` (`sge_count == 1`, rights: local write):
    /// the checks of [`ReceiveQueue::resolve`] without the scratch list.
    #[inline(always)]
    pub(crate) fn resolve_one<M: MemorySpace + ?Sized>(
        &self,
        slot: usize,
        memory: &M,
    ) -> Result<RegionSlice, AccessError> {
        let sge = &self.sges[slot * self.max_sge as usize];
        let slice = memory.resolve_local(sge, Access::LOCAL_WRITE)?;
        if slice.length != sge.length {
            return Err(AccessError::OutOfRange);
        }
        Ok(slice)
    }

    /// Resolve the SGEs of the receive in `slot` (rights: local write) into the scratch list.
    #[inline(always)]
    pub(crate) fn resolve<M: MemorySpace + ?Sized>(
        &mut self,
        slot: usize,
        rqe: &Rqe,
        memory: &M,
    ) -> Result<&[RegionSlice], AccessError> {
        let base = slot * self.max_sge as usize;
        resolve_into(
            &mut self.scratch,
            &mut self.resolved,
            &self.sges[base..base + rqe.sge_count as usize],
            memory,
            Access::LOCAL_WRITE,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::ring::MAX_RING_DEPTH;
    use super::*;
    use alloc::vec;

    const fn sge(length: u32) -> Sge {
        Sge {
            address: 0,
            length,
            token: 1,
        }
    }

    #[test]
    fn receive_queue_limits() {
        let mut q = ReceiveQueue::try_new(2, 2, 100).unwrap();
        assert_eq!(
            q.post(1, &[sge(1), sge(2), sge(3)]),
            Err(PostError::TooManySges)
        );
        assert_eq!(
            q.post(1, &[sge(60), sge(41)]),
            Err(PostError::TransferTooLong)
        );
        assert_eq!(
            q.post(1, &[sge(u32::MAX), sge(1)]),
            Err(PostError::TransferTooLong)
        );
        assert_eq!(q.post(1, &[sge(60), sge(40)]), Ok(()));
        assert_eq!(q.post(2, &[]), Ok(()));
        assert_eq!(q.post(3, &[]), Err(PostError::QueueFull));
        assert_eq!(q.len(), 2);
        assert_eq!(q.take_oldest(), Some(1));
        assert_eq!(q.take_oldest(), Some(2));
        assert!(q.is_empty());
    }

    /// Contexts and SGE lengths of the posted receives, oldest first (consumes them).
    fn drain(q: &mut ReceiveQueue) -> Vec<(usize, Vec<u32>)> {
        let mut out = Vec::new();
        while let Some((slot, rqe)) = q.head() {
            let base = slot * q.max_sge as usize;
            let lengths = q.sges[base..base + rqe.sge_count as usize]
                .iter()
                .map(|s| s.length)
                .collect();
            out.push((rqe.context, lengths));
            q.pop();
        }
        out
    }

    #[test]
    fn grow_moves_every_receive_in_order_with_its_sges() {
        let mut q = ReceiveQueue::try_new(4, 3, 1000).unwrap();
        // Wrap the ring first, so the move reads across the end of the old slots.
        for i in 0..3 {
            q.post(i, &[sge(1)]).unwrap();
        }
        for _ in 0..3 {
            q.pop();
        }
        // Receive `c` carries `c % 3 + 1` SGEs of lengths 10c, 10c + 1, …
        let posted: Vec<(usize, Vec<u32>)> = (10u32..14)
            .map(|c| (c as usize, (0..=c % 3).map(|k| 10 * c + k).collect()))
            .collect();
        for (context, lengths) in &posted {
            let sges: Vec<Sge> = lengths.iter().map(|&l| sge(l)).collect();
            q.post(*context, &sges).unwrap();
        }
        assert_eq!(q.post(99, &[]), Err(PostError::QueueFull));
        let mut spare = ReceiveStorage::try_new(16, 3, || Ok(())).unwrap();
        q.grow(&mut spare).unwrap();
        assert_eq!(q.depth(), 16);
        assert_eq!(q.len(), 4, "every receive kept");
        assert_eq!(spare.depth(), 4, "the spare now holds the old storage");
        for i in 14..26 {
            q.post(i, &[sge(7)]).unwrap();
        }
        assert_eq!(q.post(99, &[]), Err(PostError::QueueFull));
        let got = drain(&mut q);
        assert_eq!(
            &got[..4],
            &posted[..],
            "moved receives first, with their SGEs"
        );
        let later: Vec<usize> = got[4..].iter().map(|g| g.0).collect();
        assert_eq!(later, (14..26).collect::<Vec<_>>());
        assert!(got[4..].iter().all(|g| g.1 == [7]));
    }

    #[test]
    fn grow_refuses_unfit_storage_and_leaves_the_queue_alone() {
        let mut q = ReceiveQueue::try_new(8, 2, 1000).unwrap();
        q.post(1, &[sge(5), sge(6)]).unwrap();
        q.post(2, &[]).unwrap();
        let mut same = ReceiveStorage::try_new(8, 2, || Ok(())).unwrap();
        assert_eq!(q.grow(&mut same), Err(GrowError::NotDeeper));
        let mut shallow = ReceiveStorage::try_new(4, 2, || Ok(())).unwrap();
        assert_eq!(q.grow(&mut shallow), Err(GrowError::NotDeeper));
        let mut other_stride = ReceiveStorage::try_new(32, 1, || Ok(())).unwrap();
        assert_eq!(q.grow(&mut other_stride), Err(GrowError::Mismatch));
        let mut used = ReceiveStorage::try_new(32, 2, || Ok(())).unwrap();
        let mut donor = ReceiveQueue::try_new(2, 2, 1000).unwrap();
        donor.post(9, &[]).unwrap();
        donor.grow(&mut used).unwrap(); // `used` now holds the donor's old, non-empty ring
        let mut old = used;
        assert_eq!(q.grow(&mut old), Err(GrowError::Mismatch));
        assert_eq!(q.depth(), 8);
        assert_eq!(drain(&mut q), [(1, vec![5, 6]), (2, vec![])]);
    }

    #[test]
    fn storage_asks_admit_before_each_allocation() {
        let mut asked = 0;
        let spare = ReceiveStorage::try_new(8, 2, || {
            asked += 1;
            Ok(())
        });
        assert!(spare.is_ok());
        assert_eq!(asked, 2, "ring and SGE table");
        for refuse_at in 0..2 {
            let mut n = 0;
            let r = ReceiveStorage::try_new(8, 2, || {
                n += 1;
                if n > refuse_at {
                    Err(CreateError::OutOfMemory)
                } else {
                    Ok(())
                }
            });
            assert_eq!(r.err(), Some(CreateError::OutOfMemory));
            assert_eq!(n, refuse_at + 1, "stops at the refusal");
        }
        let mut asked = 0;
        let q = ReceiveQueue::try_new_admitted(8, 2, 100, || {
            asked += 1;
            Ok(())
        });
        assert!(q.is_ok());
        assert_eq!(asked, 3, "ring, SGE table and scratch list");
        assert_eq!(
            ReceiveStorage::try_new(MAX_RING_DEPTH + 1, 1, || Ok(())).err(),
            Some(CreateError::LimitTooLarge)
        );
    }

    #[test]
    fn defer_holds_entries_until_a_doorbell() {
        let mut q = InitiatorQueue::try_new(4, 1, 0).unwrap();
        let deferred = Wqe {
            context: 1,
            flags: OpFlags::DEFER,
            ..Wqe::default()
        };
        q.push(deferred, &[], &[]).unwrap();
        assert!(
            q.head().is_none(),
            "a DEFER post does not ring the doorbell"
        );
        assert_eq!(q.held_by_defer(), 1);
        q.push(
            Wqe {
                context: 2,
                ..Wqe::default()
            },
            &[],
            &[],
        )
        .unwrap();
        assert_eq!(
            q.head().map(|h| h.1.context),
            Some(1),
            "the next plain post releases both"
        );
        assert_eq!(q.held_by_defer(), 0);
    }

    #[test]
    fn inline_parts_are_gathered_into_the_slot() {
        let mut q = InitiatorQueue::try_new(2, 1, 8).unwrap();
        let w = Wqe {
            context: 5,
            length: 5,
            inline: true,
            ..Wqe::default()
        };
        q.push(w, &[], &[b"ab", b"", b"cde"]).unwrap();
        let (slot, head) = q.head().unwrap();
        assert_eq!(q.inline_bytes(slot, &head), b"abcde");
    }
}
