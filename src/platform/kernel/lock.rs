//! Kernel spin lock: a `KSPIN_LOCK` word next to the value it protects.
//!
//! `lock` is `KeAcquireSpinLockRaiseToDpc`; the guard's drop is `KeReleaseSpinLock(old)`,
//! which restores the IRQL the acquirer had. `try_lock` raises to `DISPATCH_LEVEL` itself
//! (CR8, as the WDK's inline `KfRaiseIrql`) and calls `KeTryToAcquireSpinLockAtDpcLevel`; its
//! guard releases the same way, so every guard restores exactly the IRQL it saw.
//!
//! Why not in-stack queued spin locks (`KeAcquireInStackQueuedSpinLock`)? Their
//! `KLOCK_QUEUE_HANDLE` must stay at one address from acquire to release, but a Rust guard is
//! returned by value and moves; pinning it would change the platform contract for every
//! caller. Queued locks pay off under heavy contention across many processors; the provider's
//! locks are per object (one connection, one CQ) and held for a few hundred nanoseconds.
//!
//! A `KSPIN_LOCK` is a plain word while free (`KeInitializeSpinLock` stores 0), so the lock may
//! be moved whenever no guard borrows it. Must never: be held across a wait or a consumer
//! callback.

use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};

use super::cpu;
use crate::platform::{LockLevel, SpinLockOps};
use crate::sys::ffi::{
    KeAcquireSpinLockRaiseToDpc, KeReleaseSpinLock, KeTryToAcquireSpinLockAtDpcLevel,
};
use crate::sys::ke::{KIRQL, KSPIN_LOCK};

/// A provider spin lock (`KSPIN_LOCK` + the value).
///
/// # Invariants
/// `value` is accessed only through a [`SpinLockGuard`] (which owns `lock`) or through
/// `&mut self`.
pub struct SpinLock<T> {
    lock: UnsafeCell<KSPIN_LOCK>,
    level: LockLevel,
    value: UnsafeCell<T>,
}

impl<T> core::fmt::Debug for SpinLock<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SpinLock")
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

// SAFETY: the lock hands out `&mut T` to one holder at a time (the invariant), so sharing it
// between threads is sound when `T` may be sent between them; the `KSPIN_LOCK` word is only
// touched by ntoskrnl's interlocked operations.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: moving the lock moves the value and a free lock word; nothing is tied to a thread.
unsafe impl<T: Send> Send for SpinLock<T> {}

/// Access to a [`SpinLock`]'s value; the processor stays at `DISPATCH_LEVEL` until it drops.
///
/// Not `Send`: it must be released on the processor that acquired it.
pub struct SpinLockGuard<'a, T> {
    lock: &'a SpinLock<T>,
    old_irql: KIRQL,
    _not_send: PhantomData<*mut ()>,
}

impl<'a, T> SpinLockGuard<'a, T> {
    /// Wraps a lock this processor just acquired, having been at `old_irql` before.
    fn acquired(lock: &'a SpinLock<T>, old_irql: KIRQL) -> Self {
        #[cfg(debug_assertions)]
        cpu::held::acquired();
        Self {
            lock,
            old_irql,
            _not_send: PhantomData,
        }
    }
}

impl<T> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        #[cfg(debug_assertions)]
        cpu::held::releasing();
        // SAFETY: this guard's existence proves the lock is held by this processor (it is not
        // `Send` and the holder cannot migrate at DISPATCH_LEVEL); `old_irql` is the IRQL
        // before the acquisition, which KeReleaseSpinLock restores. The lock word lives in
        // `self.lock`, borrowed for the guard's lifetime.
        unsafe { KeReleaseSpinLock(self.lock.lock.get(), self.old_irql) };
    }
}

impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no other reference to the value exists (type
        // invariant); the reference lives no longer than the guard.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`, and `&mut self` makes this the only access through the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> SpinLock<T> {
    /// [`SpinLockOps::new`] usable in a `static` (driver-global state such as the Ethernet
    /// hub's port table): a free `KSPIN_LOCK` is the word 0, so no call is needed.
    pub const fn new_static(level: LockLevel, value: T) -> Self {
        Self {
            lock: UnsafeCell::new(0),
            level,
            value: UnsafeCell::new(value),
        }
    }
}

impl<T: Send> SpinLockOps<T> for SpinLock<T> {
    type Guard<'a>
        = SpinLockGuard<'a, T>
    where
        Self: 'a;

    fn new(level: LockLevel, value: T) -> Self {
        // KeInitializeSpinLock on x64 stores 0.
        Self::new_static(level, value)
    }

    fn lock(&self) -> SpinLockGuard<'_, T> {
        // SAFETY: provider code runs at IRQL <= DISPATCH_LEVEL (asserted in debug builds by
        // `current_irql`); the lock word is resident (non-paged pool or stack, the driver has
        // no pageable data) and borrowed for the guard's lifetime.
        let old_irql = unsafe { KeAcquireSpinLockRaiseToDpc(self.lock.get()) };
        SpinLockGuard::acquired(self, old_irql)
    }

    fn try_lock(&self) -> Option<SpinLockGuard<'_, T>> {
        let old_irql = cpu::raise_to_dispatch();
        // SAFETY: the processor is at DISPATCH_LEVEL now (raised just above); the lock word is
        // resident and borrowed for the guard's lifetime.
        if unsafe { KeTryToAcquireSpinLockAtDpcLevel(self.lock.get()) } == 0 {
            cpu::lower_irql(old_irql);
            return None;
        }
        Some(SpinLockGuard::acquired(self, old_irql))
    }

    fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    fn into_inner(self) -> T {
        self.value.into_inner()
    }

    fn level(&self) -> LockLevel {
        self.level
    }
}
