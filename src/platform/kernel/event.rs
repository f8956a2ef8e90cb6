//! Kernel notification event: a `KEVENT` (`NotificationEvent`) in its own non-paged pool block.
//!
//! An initialised `KEVENT` must never move: its wait-list head points at itself, and waiters
//! link their wait blocks into it. The platform contract hands an `Event` out by value, and
//! Rust moves values freely, so the `Event` is only an owning pointer: the `KEVENT` lives in a
//! pool allocation made (fallibly) by [`Event::new`], initialised there once by
//! `KeInitializeEvent`, and freed when the `Event` drops. Moving the `Event` moves the pointer,
//! never the `KEVENT`.
//!
//! `signal`/`reset` are `KeSetEvent(.., IO_NO_INCREMENT, FALSE)`/`KeClearEvent` and
//! `is_signaled` is `KeReadStateEvent` (IRQL <= `DISPATCH_LEVEL`); `wait` is
//! `KeWaitForSingleObject(Executive, KernelMode, non-alertable)`, PASSIVE or APC level only
//! (debug builds assert it). Must never: wait at `DISPATCH_LEVEL`, or free the `KEVENT` while a
//! thread waits on it (impossible: a waiter borrows the `Event`, so it cannot be dropped).

use core::cell::UnsafeCell;
use core::ptr;
use core::time::Duration;

use super::cpu;
use crate::platform::{AllocError, EventOps, PoolBox};
use crate::sys::ffi::{
    KeClearEvent, KeInitializeEvent, KeReadStateEvent, KeSetEvent, KeWaitForSingleObject,
};
use crate::sys::ke::{
    EXECUTIVE, FALSE, IO_NO_INCREMENT, KERNEL_MODE, KEVENT, NOTIFICATION_EVENT, STATUS_TIMEOUT,
    relative_timeout,
};

/// A manual-reset (notification) event.
///
/// # Invariants
/// `kevent` points at a `KEVENT` in non-paged pool that `KeInitializeEvent` initialised at that
/// address, which never changes while the `Event` exists (the block is owned, never moved).
pub struct Event {
    kevent: PoolBox<UnsafeCell<KEVENT>, ()>,
}

// SAFETY: the `KEVENT` is only handed to ntoskrnl's event routines, which synchronise
// internally; Rust never reads or writes its bytes after initialisation.
unsafe impl Sync for Event {}
// SAFETY: the `Event` owns a pool block that is not tied to a thread or processor.
unsafe impl Send for Event {}

impl core::fmt::Debug for Event {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Event")
            .field("signaled", &self.is_signaled())
            .finish_non_exhaustive()
    }
}

impl Event {
    /// A new, unsignalled event in its own pool block. IRQL <= `DISPATCH_LEVEL`.
    ///
    /// # Errors
    /// [`AllocError`] if the pool block cannot be allocated.
    pub(super) fn new() -> Result<Self, AllocError> {
        let kevent = PoolBox::try_new(UnsafeCell::new(KEVENT::uninit()), ())?;
        // SAFETY: the block is resident (non-paged pool), exclusively ours, and stays at this
        // address until `kevent` drops; KeInitializeEvent may be called at any IRQL.
        unsafe { KeInitializeEvent(kevent.get(), NOTIFICATION_EVENT, FALSE) };
        Ok(Self { kevent })
    }

    fn raw(&self) -> *mut KEVENT {
        self.kevent.get()
    }

    fn wait_for(&self, mut timeout: Option<i64>) -> bool {
        cpu::assert_can_block();
        let timeout_ptr = timeout.as_mut().map_or(ptr::null_mut(), ptr::from_mut);
        // SAFETY: IRQL <= APC_LEVEL (asserted in debug builds; the caller's contract); the
        // `KEVENT` is initialised and cannot be freed while `&self` is borrowed by this call
        // (type invariant); `timeout_ptr` is null or a live local.
        let status = unsafe {
            KeWaitForSingleObject(
                self.raw().cast(),
                EXECUTIVE,
                KERNEL_MODE,
                FALSE,
                timeout_ptr,
            )
        };
        status != STATUS_TIMEOUT
    }
}

impl EventOps for Event {
    fn signal(&self) {
        // SAFETY: initialised, resident `KEVENT` (type invariant); DISPATCH_LEVEL or below with
        // `Wait == FALSE` is allowed.
        unsafe { KeSetEvent(self.raw(), IO_NO_INCREMENT, FALSE) };
    }

    fn reset(&self) {
        // SAFETY: initialised, resident `KEVENT` (type invariant); allowed at DISPATCH_LEVEL.
        unsafe { KeClearEvent(self.raw()) };
    }

    fn is_signaled(&self) -> bool {
        // SAFETY: initialised, resident `KEVENT` (type invariant); any IRQL.
        unsafe { KeReadStateEvent(self.raw()) != 0 }
    }

    fn wait(&self) {
        self.wait_for(None);
    }

    fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_for(Some(relative_timeout(timeout)))
    }
}
