//! The per-object lifetime word: one atomic holding CLOSING, FINAL and a count of units.
//!
//! This file owns the only transitions of the word. Every transition is a read-modify-write
//! (invariant I4: no plain `store` can clobber CLOSING), and none of them waits, sleeps or spins,
//! so all of them are callable at `DISPATCH_LEVEL`.
//!
//! Layout (`spec/rdma-anchors.md` §6.2):
//!
//! ```text
//! bit 0      CLOSING   set once by close; never cleared
//! bit 1      FINAL     set by whoever won the right to finalise; a second claim loses
//! bits 2..63 COUNT     in units of ONE = 4
//! ```
//!
//! The word starts at `BASE` (one unit: the consumer's handle). Close sets CLOSING and later drops
//! BASE. The transition that leaves `CLOSING | COUNT 0` hands the object to its caller, who must
//! finalise it ([`Ended::Finalize`]); nothing else touches the object's state afterwards.
#![deny(unsafe_code)]

use crate::sync::{AtomicU64, Ordering, fence};

const CLOSING: u64 = 1;
const FINAL: u64 = 2;
const ONE: u64 = 4;
const FLAGS: u64 = CLOSING | FINAL;

/// Result of dropping a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "the caller that sees `Finalize` owns the object and must finalise it"]
pub enum Ended {
    /// Other units remain, or the object is not closing: nothing more to do.
    Alive,
    /// This was the last unit of a closing object: the caller now owns it exclusively and must
    /// finalise it. Every write made before any other unit was dropped is visible.
    Finalize,
}

/// How a close went, seen by the closer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "`Finished` means the closer must finalise the object now"]
pub enum CloseStart {
    /// Nothing was outstanding: the closer owns the object and finalises it now; NDK: return
    /// `STATUS_SUCCESS` and never call the close completion.
    Finished,
    /// Units remain; whoever drops the last one finalises and calls the completion.
    /// NDK: return `STATUS_PENDING`.
    Pending,
}

/// The object was already closing: a second close, which a well-behaved consumer never issues.
///
/// Reported as a value (never a panic) so a provider-side verifier can flag consumer misuse.
/// The second close changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyClosing;

/// The atomic lifetime word of one object, alone on its cache line(s).
///
/// # Invariants
///
/// * **I1** COUNT never increases from zero: [`try_begin`](Self::try_begin) is only called by a
///   holder of a unit of the same object, or under a lookup lock that the closer takes to
///   unpublish before it drops BASE (I2); [`begin_held`](Self::begin_held) only by a holder.
/// * **I4** CLOSING and FINAL are only ever set, never cleared; the word is only changed by RMWs.
///
/// # Example
///
/// ```
/// use softndk::lifetime::{CloseStart, Ended, Lifetime};
///
/// let lt = Lifetime::new();
/// assert!(lt.try_begin().is_ok()); // a request is accepted
/// assert_eq!(lt.close(), Ok(CloseStart::Pending)); // close while it is outstanding
/// assert!(lt.try_begin().is_err()); // new work is refused once closing
/// assert_eq!(lt.end(), Ended::Finalize); // the request's end finalises
/// ```
#[derive(Debug)]
#[repr(align(128))]
pub struct Lifetime {
    word: AtomicU64,
}

impl Default for Lifetime {
    fn default() -> Self {
        Self::new()
    }
}

impl Lifetime {
    /// A new word holding BASE (the consumer's handle), not closing.
    #[must_use]
    #[allow(
        clippy::missing_const_for_fn,
        reason = "loom's atomics have no const constructor"
    )]
    pub fn new() -> Self {
        Self {
            word: AtomicU64::new(ONE),
        }
    }

    /// Takes a unit unless the object is closing.
    ///
    /// `Ok(())`: the caller holds a unit and must [`end`](Self::end) it. `Err(Alive)`: refused,
    /// nothing held (the callback is suppressed, the request fails). `Err(Finalize)`: refused, and
    /// the undo was the last unit, so the caller must finalise. Under I1/I2 this cannot happen,
    /// but it is handled rather than assumed.
    ///
    /// # Errors
    ///
    /// Returns the outcome of undoing the increment when the object is closing.
    pub fn try_begin(&self) -> Result<(), Ended> {
        // Acquire: a successful begin sees everything published before the unit it came through.
        let prev = self.word.fetch_add(ONE, Ordering::Acquire);
        debug_assert!(prev >> 2 < (u64::MAX >> 3), "lifetime count overflow");
        if prev & CLOSING == 0 {
            Ok(())
        } else {
            Err(self.end())
        }
    }

    /// Adds a unit for a caller that already holds one (never refused, even when closing).
    ///
    /// Used for work that must run to completion once started, e.g. a flush item a holder queues.
    pub fn begin_held(&self) {
        // Relaxed like `Arc::clone`: the caller's own unit keeps the object alive and ordered.
        let prev = self.word.fetch_add(ONE, Ordering::Relaxed);
        debug_assert!(prev >= ONE, "begin_held without holding a unit (I1)");
    }

    /// Drops a unit.
    ///
    /// Returns [`Ended::Finalize`] exactly once per object: to the caller whose decrement left a
    /// closing object with no units. Never waits.
    pub fn end(&self) -> Ended {
        // Release: everything this holder did happens-before the finaliser's acquire fence.
        let prev = self.word.fetch_sub(ONE, Ordering::Release);
        debug_assert!(prev >= ONE, "lifetime count underflow");
        self.after_drop(prev)
    }

    /// Sets CLOSING. Step one of a staged close; [`drop_base`](Self::drop_base) is step two.
    ///
    /// Between the two steps the closer still holds BASE, so it may unpublish the object from
    /// lookups (I2), store its completion and start cancellation.
    ///
    /// # Errors
    ///
    /// [`AlreadyClosing`] if CLOSING was already set; the word is then unchanged.
    pub fn begin_close(&self) -> Result<(), AlreadyClosing> {
        let prev = self.word.fetch_or(CLOSING, Ordering::AcqRel);
        if prev & CLOSING == 0 {
            Ok(())
        } else {
            Err(AlreadyClosing)
        }
    }

    /// Drops BASE after [`begin_close`](Self::begin_close).
    pub fn drop_base(&self) -> Ended {
        debug_assert!(self.is_closing(), "drop_base before begin_close");
        // AcqRel: releases the closer's staging writes (completion, unpublish) to the finaliser,
        // and acquires every holder's writes when this drop is the last.
        let prev = self.word.fetch_sub(ONE, Ordering::AcqRel);
        debug_assert!(prev >= ONE, "lifetime count underflow");
        self.after_drop(prev)
    }

    /// Both steps of a close with nothing staged in between.
    ///
    /// # Errors
    ///
    /// [`AlreadyClosing`] on a second close; nothing changed.
    pub fn close(&self) -> Result<CloseStart, AlreadyClosing> {
        self.begin_close()?;
        Ok(match self.drop_base() {
            Ended::Finalize => CloseStart::Finished,
            Ended::Alive => CloseStart::Pending,
        })
    }

    /// Whether close has started (a snapshot; may be stale by the time it is used).
    #[must_use]
    pub fn is_closing(&self) -> bool {
        self.word.load(Ordering::Acquire) & CLOSING != 0
    }

    /// Whether the object has been handed to a finaliser.
    #[must_use]
    pub fn is_final(&self) -> bool {
        self.word.load(Ordering::Acquire) & FINAL != 0
    }

    /// Number of units currently held (a snapshot, for diagnostics and tests).
    #[must_use]
    pub fn units(&self) -> u64 {
        self.word.load(Ordering::Relaxed) >> 2
    }

    fn after_drop(&self, prev: u64) -> Ended {
        if prev & !FINAL != CLOSING | ONE {
            return Ended::Alive;
        }
        // Pairs with every holder's Release decrement (they form one release sequence on the
        // word), so the finaliser sees all their writes.
        fence(Ordering::Acquire);
        // Claim FINAL. Only a broken I1/I2 (a refused `try_begin` on an already-finalised
        // object) can race here; the claim makes a second finalisation impossible even then.
        let prev = self.word.fetch_or(FINAL, Ordering::AcqRel);
        debug_assert_eq!(prev & !FLAGS, 0, "units taken on a finalising object (I1)");
        if prev & FINAL == 0 {
            Ended::Finalize
        } else {
            Ended::Alive
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn idle_close_finishes_and_sets_final() {
        let lt = Lifetime::new();
        assert_eq!(lt.units(), 1);
        assert!(!lt.is_closing());
        assert_eq!(lt.close(), Ok(CloseStart::Finished));
        assert!(lt.is_closing());
        assert!(lt.is_final());
        assert_eq!(lt.units(), 0);
    }

    #[test]
    fn close_with_units_pends_until_last_end() {
        let lt = Lifetime::new();
        lt.try_begin().unwrap();
        lt.try_begin().unwrap();
        assert_eq!(lt.close(), Ok(CloseStart::Pending));
        assert!(!lt.is_final());
        assert_eq!(lt.end(), Ended::Alive);
        assert_eq!(lt.end(), Ended::Finalize);
        assert!(lt.is_final());
    }

    #[test]
    fn end_without_close_never_finalizes() {
        let lt = Lifetime::new();
        lt.try_begin().unwrap();
        assert_eq!(lt.end(), Ended::Alive);
        assert_eq!(lt.units(), 1);
        assert!(!lt.is_final());
    }

    #[test]
    fn try_begin_refused_after_close_and_count_unchanged() {
        let lt = Lifetime::new();
        lt.try_begin().unwrap();
        assert_eq!(lt.close(), Ok(CloseStart::Pending));
        assert_eq!(lt.try_begin(), Err(Ended::Alive));
        assert_eq!(lt.units(), 1);
        assert_eq!(lt.end(), Ended::Finalize);
    }

    #[test]
    fn second_close_is_an_error_and_changes_nothing() {
        let lt = Lifetime::new();
        lt.try_begin().unwrap();
        assert_eq!(lt.close(), Ok(CloseStart::Pending));
        assert_eq!(lt.close(), Err(AlreadyClosing));
        assert_eq!(lt.begin_close(), Err(AlreadyClosing));
        assert_eq!(lt.units(), 1);
        assert_eq!(lt.end(), Ended::Finalize);
    }

    #[test]
    fn begin_held_works_while_closing() {
        let lt = Lifetime::new();
        lt.try_begin().unwrap();
        assert_eq!(lt.close(), Ok(CloseStart::Pending));
        lt.begin_held();
        assert_eq!(lt.units(), 2);
        assert_eq!(lt.end(), Ended::Alive);
        assert_eq!(lt.end(), Ended::Finalize);
    }

    #[test]
    fn refused_begin_on_finalised_object_cannot_finalise_twice() {
        // Breaks I1 on purpose: the FINAL claim still makes the second finalisation impossible.
        let lt = Lifetime::new();
        assert_eq!(lt.close(), Ok(CloseStart::Finished));
        assert_eq!(lt.try_begin(), Err(Ended::Alive));
        assert!(lt.is_final());
    }

    #[test]
    fn staged_close_keeps_base_until_drop() {
        let lt = Lifetime::new();
        lt.begin_close().unwrap();
        assert!(lt.is_closing());
        assert_eq!(lt.units(), 1);
        assert_eq!(lt.try_begin(), Err(Ended::Alive));
        assert_eq!(lt.drop_base(), Ended::Finalize);
    }

    #[test]
    fn word_is_cache_line_isolated() {
        assert!(core::mem::align_of::<Lifetime>() >= 64);
    }
}
