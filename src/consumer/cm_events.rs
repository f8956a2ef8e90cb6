//! Consumer callbacks of the connection manager and what tests observe through them: request
//! completions ([`Request`]), connect events ([`ConnectEvents`]) and disconnect events
//! ([`DisconnectEvents`]).
//!
//! Each recorder counts every call, so tests assert "exactly once" and "never inside the call";
//! a request can carry an action that runs inside its completion (closing the connector there,
//! as the NDK lifetime page's example does).

use core::ffi::c_void;
use core::time::Duration;
use std::boxed::Box;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::vec::Vec;

use super::connector::Connector;
use crate::abi::{NDK_CONNECTOR, NTSTATUS};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An action run inside a request completion, with its status.
type Then = Box<dyn FnOnce(NTSTATUS) + Send>;

/// One asynchronous request (`NdkConnect`, `NdkAccept`, `NdkDisconnect`, …): its completion
/// calls, in order.
#[derive(Default)]
pub struct Request {
    statuses: Mutex<Vec<NTSTATUS>>,
    cond: Condvar,
    then: Mutex<Option<Then>>,
}

impl core::fmt::Debug for Request {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Request")
            .field("statuses", &self.statuses())
            .finish_non_exhaustive()
    }
}

impl Request {
    /// A request nobody has issued yet.
    #[must_use]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A request whose completion runs `then(status)` (inside the provider's completion call,
    /// after recording it).
    #[must_use]
    pub fn then(then: impl FnOnce(NTSTATUS) + Send + 'static) -> Arc<Self> {
        let request = Self::new();
        *lock(&request.then) = Some(Box::new(then));
        request
    }

    /// Every status the completion was called with (a correct provider calls it at most once).
    #[must_use]
    pub fn statuses(&self) -> Vec<NTSTATUS> {
        lock(&self.statuses).clone()
    }

    /// The first completion status, if it completed.
    #[must_use]
    pub fn status(&self) -> Option<NTSTATUS> {
        lock(&self.statuses).first().copied()
    }

    /// How many times the completion ran.
    #[must_use]
    pub fn calls(&self) -> usize {
        lock(&self.statuses).len()
    }

    /// Waits (real time, threaded platforms) for the completion; its status, `None` on timeout.
    #[must_use]
    pub fn wait(&self, timeout: Duration) -> Option<NTSTATUS> {
        self.cond
            .wait_timeout_while(lock(&self.statuses), timeout, |s| s.is_empty())
            .unwrap_or_else(PoisonError::into_inner)
            .0
            .first()
            .copied()
    }

    /// The context to pass with [`request_done`]: one leaked strong count, taken back by the
    /// completion or by [`Request::unissue`].
    pub(super) fn issue(self: &Arc<Self>) -> *mut c_void {
        Arc::into_raw(Arc::clone(self)).cast_mut().cast()
    }

    /// Takes back the count of a request the provider did not pend (it will never complete).
    ///
    /// # Safety
    ///
    /// `context` came from [`Request::issue`] and the provider answered anything but
    /// `STATUS_PENDING`.
    pub(super) unsafe fn unissue(context: *mut c_void) {
        // SAFETY: per the contract: the leaked count is still ours.
        drop(unsafe { Arc::from_raw(context.cast_const().cast::<Self>()) });
    }
}

/// The request completion: `context` is a [`Request`] issued for this call.
///
/// # Safety
///
/// Called by the provider only, once per pended request.
pub(super) unsafe extern "system" fn request_done(context: *mut c_void, status: NTSTATUS) {
    // SAFETY: `issue` leaked one count for this pended request, which the provider completes
    // exactly once.
    let request = unsafe { Arc::from_raw(context.cast_const().cast::<Request>()) };
    lock(&request.statuses).push(status);
    request.cond.notify_all();
    let then = lock(&request.then).take();
    if let Some(then) = then {
        then(status);
    }
}

/// A listener's connect events: the connectors handed up, in order.
#[derive(Debug, Default)]
pub struct ConnectEvents {
    queue: Mutex<VecDeque<Connector>>,
    cond: Condvar,
    calls: AtomicU32,
    running: AtomicBool,
    overlaps: AtomicU32,
}

impl ConnectEvents {
    /// A fresh recorder.
    #[must_use]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Connect events so far.
    #[must_use]
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Times a connect event started while another of the same listener ran (must stay 0).
    #[must_use]
    pub fn overlaps(&self) -> u32 {
        self.overlaps.load(Ordering::SeqCst)
    }

    /// The oldest handed-up connector not yet taken; the test now owns it (and must close it).
    #[must_use]
    pub fn take(&self) -> Option<Connector> {
        lock(&self.queue).pop_front()
    }

    /// Waits (real time) for a connector to be handed up and takes it.
    #[must_use]
    pub fn wait_take(&self, timeout: Duration) -> Option<Connector> {
        self.cond
            .wait_timeout_while(lock(&self.queue), timeout, |q| q.is_empty())
            .unwrap_or_else(PoisonError::into_inner)
            .0
            .pop_front()
    }

    fn record(&self, connector: Connector) {
        if self.running.swap(true, Ordering::SeqCst) {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        self.calls.fetch_add(1, Ordering::SeqCst);
        lock(&self.queue).push_back(connector);
        self.cond.notify_all();
        std::thread::yield_now();
        self.running.store(false, Ordering::SeqCst);
    }
}

/// The connect event: `context` is the listener's [`ConnectEvents`].
///
/// # Safety
///
/// Called by the provider only, while the listener's close has not completed.
pub(super) unsafe extern "system" fn connect_event(
    context: *mut c_void,
    connector: *mut NDK_CONNECTOR,
) {
    // SAFETY: the context is an `Arc<ConnectEvents>` kept alive by the `Listener` and then by
    // its close signal until the close completion.
    let events = unsafe { &*context.cast_const().cast::<ConnectEvents>() };
    events.record(Connector::from_raw(connector));
}

/// A connector's disconnect events: the reasons (`None` for the plain callback).
#[derive(Debug, Default)]
pub struct DisconnectEvents {
    reasons: Mutex<Vec<Option<u32>>>,
    cond: Condvar,
}

impl DisconnectEvents {
    /// A fresh recorder.
    #[must_use]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Every event so far: `None` for the plain flavour, `Some(reason)` for `_EX`.
    #[must_use]
    pub fn reasons(&self) -> Vec<Option<u32>> {
        lock(&self.reasons).clone()
    }

    /// Number of events so far.
    #[must_use]
    pub fn count(&self) -> usize {
        lock(&self.reasons).len()
    }

    /// Waits (real time) for at least one event; whether one arrived.
    #[must_use]
    pub fn wait(&self, timeout: Duration) -> bool {
        !self
            .cond
            .wait_timeout_while(lock(&self.reasons), timeout, |r| r.is_empty())
            .unwrap_or_else(PoisonError::into_inner)
            .0
            .is_empty()
    }

    fn record(&self, reason: Option<u32>) {
        lock(&self.reasons).push(reason);
        self.cond.notify_all();
    }
}

/// The plain disconnect event: `context` is a [`DisconnectEvents`] kept by the connector.
///
/// # Safety
///
/// Called by the provider only, before the connector's close completion.
pub(super) unsafe extern "system" fn disconnect_event(context: *mut c_void) {
    // SAFETY: the context is kept alive by the `Connector` and then by its close signal.
    let events = unsafe { &*context.cast_const().cast::<DisconnectEvents>() };
    events.record(None);
}

/// The `_EX` disconnect event.
///
/// # Safety
///
/// As [`disconnect_event`].
pub(super) unsafe extern "system" fn disconnect_event_ex(context: *mut c_void, reason: u32) {
    // SAFETY: as in `disconnect_event`.
    let events = unsafe { &*context.cast_const().cast::<DisconnectEvents>() };
    events.record(Some(reason));
}
