//! Fixed-capacity FIFO of work-queue entries: producer index, consumer index, outstanding =
//! produced − consumed.
//!
//! The ring owns its slots only; it knows nothing about what a request means. Capacity is fixed
//! at creation by a fallible reservation (never an aborting allocation) and never changes, so
//! the hot path never allocates. Indices are plain wrapping `u32` counters with one writer each
//! (the engine is single-threaded by construction): no atomics here.

use alloc::vec::Vec;

/// Largest depth a ring accepts; keeps the wrapping index arithmetic and the per-slot side
/// tables (`depth × stride`) far from overflow.
pub const MAX_RING_DEPTH: u32 = 1 << 24;

/// A ring could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CreateError {
    /// The allocator refused the slot storage.
    OutOfMemory,
    /// A depth or size is larger than the engine supports ([`MAX_RING_DEPTH`], or the side
    /// tables would not fit in `usize`).
    LimitTooLarge,
}

/// Reserve exactly `len` default elements, failing instead of aborting.
pub(crate) fn try_filled<T: Clone>(len: usize, fill: T) -> Result<Vec<T>, CreateError> {
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| CreateError::OutOfMemory)?;
    v.resize(len, fill);
    Ok(v)
}

/// A fixed-capacity FIFO.
///
/// # Invariants
///
/// `produced − consumed ≤ depth ≤ slots.len()`, `slots.len()` is a power of two and
/// `mask = slots.len() − 1`; the entry with index `i` (consumed ≤ i < produced) lives in
/// `slots[i & mask]`. Established by [`Ring::try_new`], kept by `push`/`pop`.
#[derive(Debug)]
pub struct Ring<T> {
    slots: Vec<T>,
    mask: u32,
    depth: u32,
    produced: u32,
    consumed: u32,
}

impl<T: Copy + Default> Ring<T> {
    /// A ring that holds at most `depth` entries (0 is allowed: every push fails).
    ///
    /// # Errors
    ///
    /// [`CreateError::LimitTooLarge`] above [`MAX_RING_DEPTH`], [`CreateError::OutOfMemory`] if
    /// the slot storage cannot be reserved.
    pub fn try_new(depth: u32) -> Result<Self, CreateError> {
        if depth > MAX_RING_DEPTH {
            return Err(CreateError::LimitTooLarge);
        }
        let capacity = depth.max(1).next_power_of_two();
        let slots = try_filled(capacity as usize, T::default())?;
        Ok(Self {
            slots,
            mask: capacity - 1,
            depth,
            produced: 0,
            consumed: 0,
        })
    }

    /// Maximum number of outstanding entries.
    #[must_use]
    pub const fn depth(&self) -> u32 {
        self.depth
    }

    /// Outstanding entries: produced − consumed.
    #[must_use]
    pub const fn len(&self) -> u32 {
        self.produced.wrapping_sub(self.consumed)
    }

    /// Whether no entry is outstanding.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a push would fail.
    #[must_use]
    pub const fn is_full(&self) -> bool {
        self.len() >= self.depth
    }

    /// Index the next push will get (equals the number of entries ever produced, wrapping).
    #[must_use]
    pub const fn produced(&self) -> u32 {
        self.produced
    }

    /// Index of the oldest outstanding entry (entries ever consumed, wrapping).
    #[must_use]
    pub const fn consumed(&self) -> u32 {
        self.consumed
    }

    /// Slot number the next push will use, or `None` if the ring is full. Lets a caller fill
    /// per-slot side tables (SGEs, inline bytes) before committing the entry.
    #[must_use]
    pub const fn next_slot(&self) -> Option<usize> {
        if self.is_full() {
            None
        } else {
            Some((self.produced & self.mask) as usize)
        }
    }

    /// Store `entry` in `slot` and produce it; `slot` must be what [`Ring::next_slot`] just
    /// answered (callers that filled side tables for that slot first): the fullness test is
    /// not repeated.
    #[inline]
    pub(crate) fn commit(&mut self, slot: usize, entry: T) {
        debug_assert_eq!(Some(slot), self.next_slot(), "commit must follow next_slot");
        self.slots[slot] = entry;
        self.produced = self.produced.wrapping_add(1);
    }

    /// Append `entry`, returning its slot number.
    ///
    /// # Errors
    ///
    /// Returns the entry back when the ring is full.
    pub fn push(&mut self, entry: T) -> Result<usize, T> {
        let Some(slot) = self.next_slot() else {
            return Err(entry);
        };
        self.slots[slot] = entry;
        self.produced = self.produced.wrapping_add(1);
        Ok(slot)
    }

    /// The oldest entry and its slot number.
    #[must_use]
    pub fn front(&self) -> Option<(usize, T)> {
        if self.is_empty() {
            return None;
        }
        let slot = (self.consumed & self.mask) as usize;
        Some((slot, self.slots[slot]))
    }

    /// Slot number of the oldest entry (meaningful when the ring is not empty).
    #[inline]
    pub(crate) const fn front_slot(&self) -> usize {
        (self.consumed & self.mask) as usize
    }

    /// The entry stored in `slot` (a slot [`Ring::front_slot`] or [`Ring::front`] answered).
    #[inline]
    pub(crate) fn slot(&self, slot: usize) -> &T {
        &self.slots[slot]
    }

    /// Remove the oldest entry without reading it (the caller already has its copy from
    /// [`Ring::front`]); nothing happens on an empty ring.
    #[inline]
    pub const fn discard_front(&mut self) {
        if !self.is_empty() {
            self.consumed = self.consumed.wrapping_add(1);
        }
    }

    /// Remove and return the oldest entry and its slot number.
    pub fn pop(&mut self) -> Option<(usize, T)> {
        let front = self.front()?;
        self.consumed = self.consumed.wrapping_add(1);
        Some(front)
    }

    /// The outstanding entries, oldest first, with their slot numbers; the ring is unchanged
    /// (a queue being moved into deeper storage copies them before it commits).
    pub fn entries(&self) -> impl Iterator<Item = (usize, T)> + '_ {
        (0..self.len()).map(move |i| {
            let slot = (self.consumed.wrapping_add(i) & self.mask) as usize;
            (slot, self.slots[slot])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_order_and_capacity() {
        let mut r: Ring<u32> = Ring::try_new(3).unwrap();
        assert!(r.is_empty());
        assert_eq!(r.push(1), Ok(0));
        assert_eq!(r.push(2), Ok(1));
        assert_eq!(r.push(3), Ok(2));
        assert!(r.is_full());
        assert_eq!(
            r.push(4),
            Err(4),
            "a full ring refuses and hands the entry back"
        );
        assert_eq!(r.pop(), Some((0, 1)));
        assert_eq!(
            r.push(4),
            Ok(3),
            "depth 3 uses 4 slots; the 4th slot is next"
        );
        assert_eq!(r.len(), 3);
        assert_eq!(r.pop().map(|e| e.1), Some(2));
        assert_eq!(r.pop().map(|e| e.1), Some(3));
        assert_eq!(r.pop().map(|e| e.1), Some(4));
        assert_eq!(r.pop(), None);
    }

    #[test]
    fn discard_front_drops_the_oldest_and_ignores_an_empty_ring() {
        let mut r: Ring<u32> = Ring::try_new(2).unwrap();
        r.discard_front();
        assert_eq!((r.len(), r.consumed()), (0, 0), "empty: nothing to discard");
        r.push(1).unwrap();
        r.push(2).unwrap();
        r.discard_front();
        assert_eq!(r.front(), Some((1, 2)));
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn zero_depth_refuses_everything() {
        let mut r: Ring<u8> = Ring::try_new(0).unwrap();
        assert!(r.is_full());
        assert_eq!(r.next_slot(), None);
        assert_eq!(r.push(7), Err(7));
    }

    #[test]
    fn indices_wrap_without_losing_count() {
        let mut r: Ring<u32> = Ring::try_new(2).unwrap();
        r.produced = u32::MAX - 1;
        r.consumed = u32::MAX - 1;
        for i in 0..10 {
            r.push(i).unwrap();
            assert_eq!(r.len(), 1);
            assert_eq!(r.pop().map(|e| e.1), Some(i));
        }
        assert!(r.produced() < 10, "the producer index wrapped");
    }

    #[test]
    fn entries_lists_the_outstanding_ones_oldest_first_across_the_wrap() {
        let mut r: Ring<u32> = Ring::try_new(4).unwrap();
        for i in 0..3 {
            r.push(i).unwrap();
        }
        r.pop();
        r.pop();
        for i in 3..6 {
            r.push(i).unwrap();
        }
        let got: alloc::vec::Vec<_> = r.entries().collect();
        assert_eq!(got, [(2, 2), (3, 3), (0, 4), (1, 5)]);
        assert_eq!(r.len(), 4, "listing consumes nothing");
    }

    #[test]
    fn oversized_depth_is_refused() {
        assert_eq!(
            Ring::<u8>::try_new(MAX_RING_DEPTH + 1).err(),
            Some(CreateError::LimitTooLarge)
        );
    }
}
