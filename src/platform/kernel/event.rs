//! Kernel notification event: a `KEVENT` (`NotificationEvent`) that may be moved while idle.
//!
//! A `KEVENT`'s wait-list head points at itself, so an initialised `KEVENT` must not move
//! while in use — but the platform contract returns an `Event` by value from an infallible
//! constructor, and Rust moves values freely. So the `KEVENT` is (re)initialised in place, from
//! the state mirrored beside it, whenever an operation finds it at a different address than the
//! one it was initialised at. That is sound because a move needs ownership: while any
//! `&self` method runs (a waiter blocks inside `wait(&self)`) the event cannot move, and
//! between calls no thread waits on it, so its wait list is empty and only the stale
//! self-pointers need rewriting. The check, the re-initialisation and every state change
//! happen under a small spin lock, so concurrent signallers and waiters agree on one `KEVENT`.
//!
//! `signal`/`reset` are `KeSetEvent(.., IO_NO_INCREMENT, FALSE)`/`KeClearEvent` (IRQL <=
//! `DISPATCH_LEVEL`); `wait` is `KeWaitForSingleObject(Executive, KernelMode, non-alertable)`,
//! PASSIVE or APC level only (debug builds assert it). Must never: wait at `DISPATCH_LEVEL`.

use core::cell::UnsafeCell;
use core::ptr;
use core::time::Duration;

use super::cpu;
use super::lock::SpinLock;
use crate::platform::{EventOps, LockLevel, SpinLockOps};
use crate::sys::BOOLEAN;
use crate::sys::ffi::{KeClearEvent, KeInitializeEvent, KeSetEvent, KeWaitForSingleObject};
use crate::sys::ke::{
    EXECUTIVE, FALSE, IO_NO_INCREMENT, KERNEL_MODE, KEVENT, NOTIFICATION_EVENT, STATUS_TIMEOUT,
    relative_timeout,
};

/// The event's own lock: innermost, held only around a kernel call that cannot block.
const EVENT_LOCK_LEVEL: LockLevel = LockLevel::new(u8::MAX);

/// What the lock protects.
#[derive(Debug)]
struct State {
    /// Address `kevent` was last initialised at (0 = never).
    home: usize,
    /// The event's state, kept equal to the `KEVENT`'s (a notification event only changes
    /// state through `signal`/`reset`).
    signaled: bool,
}

/// A manual-reset (notification) event.
///
/// # Invariants
/// Whenever `state.home` equals the address of `kevent`, `kevent` is an initialised `KEVENT`
/// whose signal state is `state.signaled`. `kevent` is only passed to the kernel under the
/// lock after that was ensured, or by `wait` after ensuring it (the `&self` borrow then pins
/// the event until the wait returns).
pub struct Event {
    state: SpinLock<State>,
    kevent: UnsafeCell<KEVENT>,
}

// SAFETY: the `KEVENT` is only handed to ntoskrnl's event routines, which synchronise
// internally, and the re-initialisation is serialised by `state`'s lock (type invariant).
unsafe impl Sync for Event {}
// SAFETY: moving an event moves bytes that are re-initialised at their new address before use.
unsafe impl Send for Event {}

impl core::fmt::Debug for Event {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Event")
            .field("signaled", &self.is_signaled())
            .finish_non_exhaustive()
    }
}

impl Event {
    /// A new, unsignalled event; no kernel call until first use.
    pub(super) fn new() -> Self {
        Self {
            state: SpinLock::new(
                EVENT_LOCK_LEVEL,
                State {
                    home: 0,
                    signaled: false,
                },
            ),
            kevent: UnsafeCell::new(KEVENT::uninit()),
        }
    }

    /// Runs `f` on the `KEVENT` under the lock, (re)initialising it first if it moved.
    fn with_kevent<R>(&self, f: impl FnOnce(&mut State, *mut KEVENT) -> R) -> R {
        let mut state = self.state.lock();
        let kevent = self.kevent.get();
        if state.home != kevent as usize {
            // SAFETY: the lock is held and no thread can be waiting on this event at its new
            // address (a waiter's `&self` would have prevented the move), so re-initialising
            // in place is the only access; the `KEVENT` is resident (non-paged memory) and
            // IRQL is DISPATCH_LEVEL, where KeInitializeEvent may be called.
            unsafe {
                KeInitializeEvent(kevent, NOTIFICATION_EVENT, BOOLEAN::from(state.signaled));
            }
            state.home = kevent as usize;
        }
        f(&mut state, kevent)
    }

    fn wait_for(&self, mut timeout: Option<i64>) -> bool {
        cpu::assert_can_block();
        let kevent = self.with_kevent(|_, kevent| kevent);
        let timeout_ptr = timeout.as_mut().map_or(ptr::null_mut(), ptr::from_mut);
        // SAFETY: IRQL <= APC_LEVEL (asserted in debug builds; the caller's contract); the
        // `KEVENT` was initialised at this address just above and cannot move or be
        // re-initialised while `&self` is borrowed by this call; `timeout_ptr` is null or a
        // live local.
        let status = unsafe {
            KeWaitForSingleObject(kevent.cast(), EXECUTIVE, KERNEL_MODE, FALSE, timeout_ptr)
        };
        status != STATUS_TIMEOUT
    }
}

impl EventOps for Event {
    fn signal(&self) {
        self.with_kevent(|state, kevent| {
            state.signaled = true;
            // SAFETY: initialised at this address (ensured by `with_kevent`); DISPATCH_LEVEL
            // with `Wait == FALSE` is allowed.
            unsafe { KeSetEvent(kevent, IO_NO_INCREMENT, FALSE) };
        });
    }

    fn reset(&self) {
        self.with_kevent(|state, kevent| {
            state.signaled = false;
            // SAFETY: initialised at this address (ensured by `with_kevent`); allowed at
            // DISPATCH_LEVEL.
            unsafe { KeClearEvent(kevent) };
        });
    }

    fn is_signaled(&self) -> bool {
        self.state.lock().signaled
    }

    fn wait(&self) {
        self.wait_for(None);
    }

    fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_for(Some(relative_timeout(timeout)))
    }
}
