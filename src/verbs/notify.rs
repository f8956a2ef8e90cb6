//! The notification-DPC protocol shared by the CQ and the SRQ.
//!
//! A due status waits in the object's locked state, one DPC run delivers it with no lock held,
//! runs never overlap, and the DPC holds a lifetime unit while it is queued or running. Owns only the bookkeeping ([`Delivery`]: the pending status, the queued DPC's unit, the "a
//! callback is running" flag) and the delivery loop ([`deliver`]); *when* a notification is due
//! stays with each object ([`super::arming`]). Both are generic over the unit and the lock so
//! that the loom models in `tests/loom_notify.rs` run this very code. It must never call the
//! consumer with a lock held, queue the DPC once the object is closing, or call back after
//! close has begun.
#![deny(unsafe_code)]

use alloc::sync::Weak;

use crate::abi::{NTSTATUS, STATUS_BUFFER_OVERFLOW};
use crate::lifetime::Tracked;
use crate::platform::prelude::*;
use crate::platform::{SpinLock, assert_no_provider_lock_held};

/// The delivery bookkeeping kept behind an object's lock. `U` is what keeps the object's close
/// pending while its DPC is queued or running (a [`crate::lifetime::Unit`] in the provider).
#[derive(Debug)]
pub struct Delivery<U> {
    /// A notification due, waiting for the DPC.
    pending: Option<NTSTATUS>,
    /// The DPC's unit while it is queued (taken by the DPC when it starts).
    unit: Option<U>,
    /// A notification callback is running (serialisation).
    running: bool,
}

impl<U> Default for Delivery<U> {
    fn default() -> Self {
        Self::new()
    }
}

impl<U> Delivery<U> {
    /// Nothing due, no DPC queued, no callback running.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            pending: None,
            unit: None,
            running: false,
        }
    }

    /// Forgets a notification not delivered yet (close).
    pub const fn forget(&mut self) {
        self.pending = None;
    }

    /// The queued DPC's unit, taken by a close that cancelled the DPC (it will not run, so the
    /// unit is the caller's to release).
    pub const fn take_unit(&mut self) -> Option<U> {
        self.unit.take()
    }

    /// Records a due `status`; returns whether the caller must queue the DPC (it is not queued
    /// yet, and `unit` gave the unit it holds while queued). Under the owner's lock; never calls
    /// the consumer. An overflow report wins over a plain notification that has not been
    /// delivered yet; once the owner is closing `unit` gives none and nothing is queued (no
    /// notification after close).
    #[must_use]
    pub fn schedule(&mut self, status: NTSTATUS, unit: impl FnOnce() -> Option<U>) -> bool {
        if self.pending != Some(STATUS_BUFFER_OVERFLOW) {
            self.pending = Some(status);
        }
        if self.unit.is_some() {
            return false; // queued, not started: it will see `pending`
        }
        let Some(unit) = unit() else {
            self.pending = None;
            return false;
        };
        self.unit = Some(unit);
        true
    }

    /// A DPC run starts: takes the queued unit (to drop after the run, outside the lock) and
    /// returns whether this run delivers (`false`: another run is delivering and will pick up
    /// what is pending after its callback returns).
    const fn start(&mut self) -> (Option<U>, bool) {
        let unit = self.unit.take();
        if self.running {
            return (unit, false);
        }
        self.running = true;
        (unit, true)
    }

    /// The next due status of a delivering run; `None` ends the run.
    const fn next(&mut self) -> Option<NTSTATUS> {
        let next = self.pending.take();
        if next.is_none() {
            self.running = false;
        }
        next
    }
}

/// An object's locked state that carries a [`Delivery`].
pub trait Notifying: Send {
    /// What the queued DPC holds.
    type Unit;

    /// The delivery bookkeeping.
    fn delivery(&mut self) -> &mut Delivery<Self::Unit>;

    /// Called under the lock as a due notification is taken for delivery.
    fn handing_over(&mut self) {}
}

/// The lock around a [`Notifying`] state ([`SpinLock`] in the provider).
pub trait StateLock {
    /// The state behind the lock.
    type State: Notifying;

    /// Runs `f` with the lock held.
    fn with<R>(&self, f: impl FnOnce(&mut Self::State) -> R) -> R;
}

impl<S: Notifying> StateLock for SpinLock<S> {
    type State = S;

    fn with<R>(&self, f: impl FnOnce(&mut S) -> R) -> R {
        f(&mut self.lock())
    }
}

/// The DPC body: delivers due notifications one at a time with no lock held.
///
/// A run that finds another one delivering leaves at once (the running one picks up what is
/// pending after its callback returns). `call` is skipped once `closing()`; the queued unit is
/// released last, outside the lock.
pub fn deliver<L: StateLock>(lock: &L, closing: impl Fn() -> bool, mut call: impl FnMut(NTSTATUS)) {
    let take_next = |s: &mut L::State| {
        let next = s.delivery().next();
        if next.is_some() {
            s.handing_over();
        }
        next
    };
    let (unit, mut next) = lock.with(|s| match s.delivery().start() {
        (unit, true) => (unit, take_next(s)),
        (unit, false) => (unit, None),
    });
    while let Some(status) = next {
        if !closing() {
            call(status);
        }
        next = lock.with(take_next);
    }
    drop(unit);
}

/// [`deliver`] for a provider object: skipped once `owner` is closing, and asserting that no
/// provider lock is held at the call.
pub(super) fn deliver_to<T: Tracked, S: Notifying>(
    owner: &T,
    lock: &SpinLock<S>,
    call: impl Fn(NTSTATUS),
) {
    deliver(
        lock,
        || owner.node().is_closing(),
        |status| {
            assert_no_provider_lock_held();
            call(status);
        },
    );
}

/// An object whose DPC runs [`deliver`].
pub(super) trait Notified: Send + Sync + 'static {
    /// Runs the delivery loop.
    fn deliver(&self);
}

/// The work of an object's notification DPC.
pub(super) struct NotifyWork<T>(pub(super) Weak<T>);

impl<T: Notified> DeferredWork for NotifyWork<T> {
    fn run(&self) {
        // The queued unit keeps the object alive until `deliver` drops it.
        if let Some(owner) = self.0.upgrade() {
            owner.deliver();
        }
    }
}
