//! Consumer callbacks and their contexts: close completions, create/request completions (never
//! expected: SoftNDK completes creates and registrations inline) and CQ notifications.

use core::ffi::c_void;
use core::time::Duration;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::vec::Vec;

use crate::abi::{
    NDK_FN_CLOSE_OBJECT, NDK_OBJECT_HEADER, NTSTATUS, STATUS_PENDING, STATUS_SUCCESS,
};

/// A callback context kept alive until the close completion.
pub(super) type Keep = Arc<dyn core::any::Any + Send + Sync>;

/// Counts of completions that SoftNDK should never call (it completes inline).
static UNEXPECTED_COMPLETIONS: AtomicU32 = AtomicU32::new(0);

/// How many of [`create_completion`] and [`request_completion`] were called.
///
/// Tests assert 0: they are handed only to calls SoftNDK completes inline — creates and
/// requests on adapters that pend neither, `NdkBuildLAM`, and misuse the entry point refuses.
#[must_use]
pub fn unexpected_completions() -> u32 {
    UNEXPECTED_COMPLETIONS.load(Ordering::SeqCst)
}

/// A create completion for creates expected to complete inline; reaching it is recorded.
///
/// # Safety
///
/// Called by the provider only.
pub unsafe extern "system" fn create_completion(
    _context: *mut c_void,
    _status: NTSTATUS,
    _object: *mut NDK_OBJECT_HEADER,
) {
    UNEXPECTED_COMPLETIONS.fetch_add(1, Ordering::SeqCst);
}

/// A request completion for requests SoftNDK completes inline; reaching it is recorded.
///
/// # Safety
///
/// Called by the provider only.
pub unsafe extern "system" fn request_completion(_context: *mut c_void, _status: NTSTATUS) {
    UNEXPECTED_COMPLETIONS.fetch_add(1, Ordering::SeqCst);
}

/// The context of one close: counts completion calls and keeps the object's callback contexts
/// alive until the provider can no longer call them.
#[derive(Debug, Default)]
pub struct CloseSignal {
    calls: Mutex<u32>,
    cond: Condvar,
    keep: Mutex<Option<Keep>>,
}

impl CloseSignal {
    /// How many times the close completion ran (must end at exactly 1 for a pended close).
    #[must_use]
    pub fn calls(&self) -> u32 {
        *self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the close completion ran.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.calls() > 0
    }

    /// Waits (real time, for threaded platforms) until the completion ran; `false` on timeout.
    #[must_use]
    pub fn wait(&self, timeout: Duration) -> bool {
        let guard = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        self.cond
            .wait_timeout_while(guard, timeout, |calls| *calls == 0)
            .map_or_else(|e| *e.into_inner().0 > 0, |(calls, _)| *calls > 0)
    }
}

/// The close completion: `context` is an `Arc<CloseSignal>` leaked by [`close`].
unsafe extern "system" fn close_completion(context: *mut c_void) {
    // SAFETY: `close` leaked exactly one strong count for this pended close, and the provider
    // calls the completion exactly once.
    let signal = unsafe { Arc::from_raw(context.cast_const().cast::<CloseSignal>()) };
    *signal.calls.lock().unwrap_or_else(PoisonError::into_inner) += 1;
    signal.cond.notify_all();
    // Callbacks of the closed object can no longer run: release their context.
    let kept = signal
        .keep
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    drop(kept);
}

/// How a close went.
#[derive(Debug)]
#[must_use]
pub enum Closed {
    /// `STATUS_SUCCESS`: closed, no completion will come.
    Now,
    /// `STATUS_PENDING`: the completion will signal this.
    Pending(Arc<CloseSignal>),
    /// Any other status (SoftNDK answers this only for misuse such as a NULL completion).
    Refused(NTSTATUS),
}

impl Closed {
    /// Whether the close is complete now (returned SUCCESS, or PENDING and the completion ran).
    #[must_use]
    pub fn is_complete(&self) -> bool {
        match self {
            Self::Now => true,
            Self::Pending(signal) => signal.is_done(),
            Self::Refused(_) => false,
        }
    }

    /// The pending close's signal.
    ///
    /// # Panics
    ///
    /// If the close did not pend (test helper).
    #[must_use]
    pub fn pending(&self) -> &Arc<CloseSignal> {
        match self {
            Self::Pending(signal) => signal,
            other => panic!("close did not pend: {other:?}"),
        }
    }
}

/// Calls an `NdkCloseObject` slot with a fresh [`CloseSignal`] as context.
pub(super) fn close(
    object: *mut NDK_OBJECT_HEADER,
    slot: NDK_FN_CLOSE_OBJECT,
    keep: Option<Keep>,
) -> Closed {
    let signal = Arc::new(CloseSignal {
        keep: Mutex::new(keep),
        ..CloseSignal::default()
    });
    let context = Arc::into_raw(Arc::clone(&signal))
        .cast_mut()
        .cast::<c_void>();
    // SAFETY: `object` is a live object of the slot's table that the caller gives up; the
    // completion and its context stay valid until called.
    let status = unsafe { slot(object, Some(close_completion), context) };
    if status == STATUS_PENDING {
        return Closed::Pending(signal);
    }
    // SAFETY: the provider will never call the completion: take back the leaked count.
    drop(unsafe { Arc::from_raw(context.cast_const().cast::<CloseSignal>()) });
    if status == STATUS_SUCCESS {
        Closed::Now
    } else {
        Closed::Refused(status)
    }
}

/// The notification statuses an object's callback saw, and how often a delivery overlapped
/// another (shared by the CQ and SRQ recorders).
#[derive(Debug, Default)]
pub(super) struct Recorder {
    statuses: Mutex<Vec<NTSTATUS>>,
    running: AtomicBool,
    overlaps: AtomicU32,
}

impl Recorder {
    /// The statuses of every notification so far, in order.
    pub(super) fn statuses(&self) -> Vec<NTSTATUS> {
        self.statuses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Number of notifications so far.
    pub(super) fn count(&self) -> usize {
        self.statuses().len()
    }

    /// Overlapping or synchronously nested deliveries so far.
    pub(super) fn overlaps(&self) -> u32 {
        self.overlaps.load(Ordering::SeqCst)
    }

    /// Records one notification; then runs `rearm` (from inside the callback: it re-arms if the
    /// test asked for that), counting a notification delivered synchronously inside it as an
    /// overlap.
    pub(super) fn record(&self, status: NTSTATUS, rearm: impl FnOnce()) {
        if self.running.swap(true, Ordering::SeqCst) {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        self.statuses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(status);
        let before = self.count();
        rearm();
        // A synchronous nested callback would have run inside the re-arm.
        if self.count() != before {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        // Give a concurrent (wrong) delivery a chance to be seen on threaded platforms.
        std::thread::yield_now();
        self.running.store(false, Ordering::SeqCst);
    }
}

/// What a CQ's notification callback saw, and what it should do when called.
#[derive(Debug, Default)]
pub struct CqEvents {
    recorder: Recorder,
    /// The CQ (set by `Cq::create`) and an arm type to re-arm with from inside the callback.
    pub(super) rearm: Mutex<Option<(super::cq::CqPtr, u32)>>,
}

impl CqEvents {
    /// A fresh recorder.
    #[must_use]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The statuses of every notification so far, in order.
    #[must_use]
    pub fn statuses(&self) -> Vec<NTSTATUS> {
        self.recorder.statuses()
    }

    /// Number of notifications so far.
    #[must_use]
    pub fn count(&self) -> usize {
        self.recorder.count()
    }

    /// Times a notification started while another of the same CQ was running (must stay 0).
    #[must_use]
    pub fn overlaps(&self) -> u32 {
        self.recorder.overlaps()
    }

    /// Records one notification; then re-arms if asked to (from inside the callback).
    pub(super) fn record(&self, status: NTSTATUS) {
        self.recorder.record(status, || {
            let rearm = *self.rearm.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((cq, kind)) = rearm {
                cq.arm(kind);
            }
        });
    }
}
