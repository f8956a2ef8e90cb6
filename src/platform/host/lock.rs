//! Host spin lock: a real mutex plus the IRQL model (raise to DISPATCH while held, restore on
//! release) and lock-order checking, so host tests catch what the kernel would deadlock or
//! bugcheck on. It never exposes the mutex's poisoning: a panic while holding the lock is a
//! test failure already, and the kernel's spin lock has no such notion.

use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

use super::cpu;
use crate::platform::{Irql, LockLevel, SpinLockOps};

/// A provider spin lock (host model of `KSPIN_LOCK` + `KeAcquireSpinLockRaiseToDpc`).
#[derive(Debug)]
pub struct SpinLock<T> {
    level: LockLevel,
    mutex: Mutex<T>,
}

/// Access to a [`SpinLock`]'s value; the thread stays at DISPATCH until it drops.
#[derive(Debug)]
pub struct SpinLockGuard<'a, T> {
    /// `Some` until the guard drops; taken first in `drop` so the mutex is free before the
    /// IRQL is lowered (which may run inline deferred work that takes this very lock).
    guard: Option<MutexGuard<'a, T>>,
    old_irql: Irql,
    slot: usize,
}

impl<T> SpinLockGuard<'_, T> {
    /// Records the raise that the guard undoes on drop.
    fn enter(level: LockLevel, check_order: bool) -> (Irql, usize) {
        let slot = cpu::acquire_lock(level, check_order);
        (cpu::set_irql(Irql::Dispatch), slot)
    }
}

impl<T> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        // Release the mutex before lowering the IRQL: lowering below DISPATCH delivers queued
        // inline work on this thread, and that work may take this lock (e.g. a CQ's
        // notification DPC queued by `NdkArmCq` under the CQ lock).
        drop(self.guard.take());
        cpu::release_lock(self.slot);
        cpu::lower_irql(self.old_irql);
    }
}

impl<T> core::ops::Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard.as_ref().expect("guard is live until drop")
    }
}

impl<T> core::ops::DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_mut().expect("guard is live until drop")
    }
}

impl<T: Send> SpinLockOps<T> for SpinLock<T> {
    type Guard<'a>
        = SpinLockGuard<'a, T>
    where
        Self: 'a;

    fn new(level: LockLevel, value: T) -> Self {
        Self {
            level,
            mutex: Mutex::new(value),
        }
    }

    fn lock(&self) -> SpinLockGuard<'_, T> {
        // Check the order before waiting: an inversion would otherwise show up as a hang.
        let (old_irql, slot) = SpinLockGuard::<T>::enter(self.level, true);
        let guard = self.mutex.lock().unwrap_or_else(PoisonError::into_inner);
        SpinLockGuard {
            guard: Some(guard),
            old_irql,
            slot,
        }
    }

    fn try_lock(&self) -> Option<SpinLockGuard<'_, T>> {
        let guard = match self.mutex.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        let (old_irql, slot) = SpinLockGuard::<T>::enter(self.level, false);
        Some(SpinLockGuard {
            guard: Some(guard),
            old_irql,
            slot,
        })
    }

    fn get_mut(&mut self) -> &mut T {
        self.mutex.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    fn into_inner(self) -> T {
        self.mutex
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn level(&self) -> LockLevel {
        self.level
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::host::{held_lock_count, with_irql};
    use crate::platform::{Irql, current_irql};
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::string::String;

    const OUTER: LockLevel = LockLevel::new(1);
    const INNER: LockLevel = LockLevel::new(2);

    #[test]
    fn lock_raises_to_dispatch_and_restores_nested() {
        let a = SpinLock::new(OUTER, 1_u32);
        let b = SpinLock::new(INNER, 2_u32);
        assert_eq!(current_irql(), Irql::Passive);
        let mut ga = a.lock();
        assert_eq!(current_irql(), Irql::Dispatch);
        *ga += 10;
        let gb = b.lock();
        assert_eq!(*gb, 2);
        assert_eq!(held_lock_count(), 2);
        assert_eq!(current_irql(), Irql::Dispatch);
        drop(gb);
        assert_eq!(held_lock_count(), 1);
        assert_eq!(current_irql(), Irql::Dispatch, "outer lock still held");
        drop(ga);
        assert_eq!(current_irql(), Irql::Passive);
        assert_eq!(held_lock_count(), 0);
        assert_eq!(a.into_inner(), 11);
    }

    #[test]
    fn lock_taken_at_dispatch_restores_dispatch() {
        let a = SpinLock::new(OUTER, ());
        with_irql(Irql::Dispatch, || {
            drop(a.lock());
            assert_eq!(current_irql(), Irql::Dispatch);
        });
        assert_eq!(current_irql(), Irql::Passive);
    }

    #[test]
    fn lock_order_inversion_panics_before_waiting() {
        let a = SpinLock::new(OUTER, ());
        let b = SpinLock::new(INNER, ());
        let err = catch_unwind(AssertUnwindSafe(|| {
            let _gb = b.lock();
            let _ga = a.lock();
        }))
        .unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(msg.contains(cpu::LOCK_ORDER_VIOLATION), "{msg}");
        // Unwinding released everything.
        assert_eq!(held_lock_count(), 0);
        assert_eq!(current_irql(), Irql::Passive);
        // Same level twice is a self-deadlock in the kernel: also refused.
        let err = catch_unwind(AssertUnwindSafe(|| {
            let _g1 = a.lock();
            let _g2 = a.lock();
        }))
        .unwrap_err();
        assert!(
            err.downcast_ref::<String>()
                .unwrap()
                .contains(cpu::LOCK_ORDER_VIOLATION)
        );
    }

    #[test]
    fn try_lock_fails_when_held_and_is_exempt_from_order() {
        let a = SpinLock::new(OUTER, ());
        let b = SpinLock::new(INNER, ());
        let ga = a.lock();
        assert!(a.try_lock().is_none());
        assert_eq!(held_lock_count(), 1, "a failed try_lock holds nothing");
        drop(ga);
        let gb = b.lock();
        let ga = a.try_lock().expect("free, and try_lock cannot deadlock");
        assert_eq!(held_lock_count(), 2);
        drop(ga);
        drop(gb);
        assert_eq!(current_irql(), Irql::Passive);
    }

    #[test]
    fn out_of_order_release_is_detected() {
        let a = SpinLock::new(OUTER, ());
        let b = SpinLock::new(INNER, ());
        let err = catch_unwind(AssertUnwindSafe(|| {
            let ga = a.lock();
            let gb = b.lock();
            drop(ga);
            drop(gb);
        }))
        .unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(msg.contains("released out of order"), "{msg}");
    }

    #[test]
    fn poisoned_lock_stays_usable() {
        let a = std::sync::Arc::new(SpinLock::new(OUTER, 5));
        let a2 = std::sync::Arc::clone(&a);
        std::thread::spawn(move || {
            let _g = a2.lock();
            panic!("poison it");
        })
        .join()
        .unwrap_err();
        assert_eq!(*a.lock(), 5);
    }
}
