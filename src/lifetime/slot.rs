//! A two-word slot for a close completion, written by the closer and read by the finaliser.
//!
//! Owns nothing but the two words; it must never be read anywhere but in
//! [`Tracked::finalize`](super::Tracked::finalize), which is what makes its relaxed accesses
//! correct (see [`CompletionSlot`]).
#![deny(unsafe_code)]

use crate::sync::{AtomicUsize, Ordering};

/// Two machine words holding a close completion (for NDK: the `NDK_FN_CLOSE_COMPLETION`
/// pointer and its context), stored without allocation or locks.
///
/// The words are opaque here; the dispatch layer converts them to and from the NDK function
/// pointer and context.
///
/// # Ordering
///
/// Accesses are `Relaxed`: the closer stores inside the close `stage` (before BASE is dropped
/// with a Release RMW on the lifetime word), and the finaliser loads only after its Acquire fence
/// on the same word. That pair orders the store before the load; the loom models check it.
///
/// # Example
///
/// ```
/// use softndk::lifetime::CompletionSlot;
///
/// let slot = CompletionSlot::new();
/// slot.store([0x1000, 42]);
/// assert_eq!(slot.load(), [0x1000, 42]);
/// ```
#[derive(Debug)]
pub struct CompletionSlot {
    words: [AtomicUsize; 2],
}

impl Default for CompletionSlot {
    fn default() -> Self {
        Self::new()
    }
}

impl CompletionSlot {
    /// An empty slot (both words zero).
    #[must_use]
    #[allow(
        clippy::missing_const_for_fn,
        reason = "loom's atomics have no const constructor"
    )]
    pub fn new() -> Self {
        Self {
            words: [AtomicUsize::new(0), AtomicUsize::new(0)],
        }
    }

    /// Stores the completion. Call from the close `stage`.
    pub fn store(&self, words: [usize; 2]) {
        self.words[0].store(words[0], Ordering::Relaxed);
        self.words[1].store(words[1], Ordering::Relaxed);
    }

    /// Loads the completion. Call from `finalize` only.
    #[must_use]
    pub fn load(&self) -> [usize; 2] {
        [
            self.words[0].load(Ordering::Relaxed),
            self.words[1].load(Ordering::Relaxed),
        ]
    }
}
