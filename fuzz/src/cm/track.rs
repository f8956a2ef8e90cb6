//! The `cm_ops` harness's record of every callback it registered: request completions and
//! disconnect events, each with its own slot in an arena that lives until after both adapters
//! are closed (so no provider call can outlive its context, even a wrong second one, which is
//! counted instead of freeing anything).

use core::ffi::c_void;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use softndk::abi::NTSTATUS;

/// One registered callback's calls.
#[derive(Default)]
pub struct Slot {
    /// Calls so far.
    calls: AtomicU32,
    /// Every status (request completion) or reason (disconnect event) it was called with.
    seen: Mutex<Vec<u32>>,
    /// Disconnect events: a local disconnect or close started (no event may follow).
    stopped: AtomicBool,
    /// Disconnect events delivered after `stopped`.
    late: AtomicU32,
}

impl Slot {
    fn record(&self, value: u32) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.stopped.load(Ordering::SeqCst) {
            self.late.fetch_add(1, Ordering::SeqCst);
        }
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(value);
    }

    /// Calls so far.
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Calls after [`Slot::stop`].
    pub fn late(&self) -> u32 {
        self.late.load(Ordering::SeqCst)
    }

    /// Every value seen.
    pub fn seen(&self) -> Vec<u32> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// From now on no call is allowed.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }

    /// The context pointer the provider passes back.
    pub const fn context(&self) -> *mut c_void {
        core::ptr::from_ref(self).cast_mut().cast()
    }
}

/// A fixed arena of slots: never grows, so context pointers stay valid while it lives.
pub struct Arena {
    slots: Box<[Slot]>,
    next: usize,
}

impl Arena {
    pub fn new(capacity: usize) -> Self {
        Self {
            slots: (0..capacity).map(|_| Slot::default()).collect(),
            next: 0,
        }
    }

    /// A fresh slot's index, `None` when the arena is used up (the call is then skipped).
    pub fn take(&mut self) -> Option<usize> {
        (self.next < self.slots.len()).then(|| {
            self.next += 1;
            self.next - 1
        })
    }

    pub fn get(&self, i: usize) -> &Slot {
        &self.slots[i]
    }
}

/// Request completion: `context` is a [`Slot`] of a live [`Arena`].
///
/// # Safety
///
/// Called by the provider only, with a context this harness passed.
pub unsafe extern "system" fn request_done(context: *mut c_void, status: NTSTATUS) {
    // SAFETY: every context handed out is a slot of the run's arena, which outlives every
    // provider callback (dropped after both adapters closed).
    let slot = unsafe { &*context.cast_const().cast::<Slot>() };
    slot.record(status.0.cast_unsigned());
}

/// The plain disconnect event.
///
/// # Safety
///
/// As [`request_done`].
pub unsafe extern "system" fn disconnect_event(context: *mut c_void) {
    // SAFETY: as in `request_done`.
    let slot = unsafe { &*context.cast_const().cast::<Slot>() };
    slot.record(u32::MAX);
}

/// The `_EX` disconnect event.
///
/// # Safety
///
/// As [`request_done`].
pub unsafe extern "system" fn disconnect_event_ex(context: *mut c_void, reason: u32) {
    // SAFETY: as in `request_done`.
    let slot = unsafe { &*context.cast_const().cast::<Slot>() };
    slot.record(reason);
}
