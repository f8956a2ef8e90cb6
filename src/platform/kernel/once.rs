//! [`SetOnce`] in the kernel: a value written at most once, then read with one `Acquire` load
//! and no lock or reference count. The host uses `std::sync::OnceLock` under the same name.
//!
//! Owns its three-state word and the value's storage; it must never hand out a reference
//! before the value is completely written, nor drop a value it did not write.
#![allow(unsafe_code)]

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;

use crate::sync::{AtomicU32, Ordering};

const EMPTY: u32 = 0;
const WRITING: u32 = 1;
const READY: u32 = 2;

/// A value written at most once and then read without a lock or a reference count.
pub struct SetOnce<T> {
    state: AtomicU32,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: the value is written by exactly one thread (the one whose compare-exchange moved the
// state from EMPTY to WRITING) before the `Release` store of READY, and only read (shared)
// after an `Acquire` load of READY; sharing the cell shares `&T` across threads (needs `Sync`)
// and lets any thread give it a `T` (needs `Send`).
unsafe impl<T: Send + Sync> Sync for SetOnce<T> {}
// SAFETY: moving the cell moves the `T` it may own.
unsafe impl<T: Send> Send for SetOnce<T> {}

impl<T> SetOnce<T> {
    /// An empty cell.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            state: AtomicU32::new(EMPTY),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// The value, once [`SetOnce::set`] has returned `Ok` on any thread.
    #[must_use]
    pub fn get(&self) -> Option<&T> {
        if self.state.load(Ordering::Acquire) == READY {
            // SAFETY: READY is stored (Release) only after the value was completely written,
            // and this Acquire load saw it, so the write happens-before this read; nothing
            // writes the storage again (the state never leaves READY while `&self` lives), so a
            // shared reference to it is sound for as long as `&self`.
            let slot: &MaybeUninit<T> = unsafe { &*self.value.get() };
            // SAFETY: READY means the value was initialised (see above).
            Some(unsafe { slot.assume_init_ref() })
        } else {
            None
        }
    }

    /// Stores `value` if nothing was stored yet.
    ///
    /// # Errors
    ///
    /// `value`, back, if the cell already holds (or is being given) a value.
    pub fn set(&self, value: T) -> Result<(), T> {
        if self
            .state
            .compare_exchange(EMPTY, WRITING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(value);
        }
        // SAFETY: this thread won the EMPTY → WRITING exchange, so it is the only writer, and
        // no reader dereferences the storage before READY is stored below.
        unsafe { (*self.value.get()).write(value) };
        self.state.store(READY, Ordering::Release);
        Ok(())
    }
}

impl<T> Default for SetOnce<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: core::fmt::Debug> core::fmt::Debug for SetOnce<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("SetOnce").field(&self.get()).finish()
    }
}

impl<T> Drop for SetOnce<T> {
    fn drop(&mut self) {
        if *self.state.get_mut() == READY {
            // SAFETY: READY means the value was written; `&mut self` means no reference to it
            // is alive, and this is its only drop.
            unsafe { self.value.get_mut().assume_init_drop() };
        }
    }
}
