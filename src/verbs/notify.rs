//! The notification-DPC protocol shared by the CQ and the SRQ: a due status waits in the
//! object's locked state, one DPC run delivers it with no lock held, runs never overlap, and the
//! DPC holds a lifetime unit while it is queued or running.
//!
//! Owns only the bookkeeping (the pending status, the queued DPC's unit, the "a callback is
//! running" flag) and the delivery loop; *when* a notification is due stays with each object.
//! It must never call the consumer with a lock held, queue the DPC once the object is closing,
//! or call back after close has begun.
#![deny(unsafe_code)]

use alloc::sync::Weak;

use crate::abi::{NTSTATUS, STATUS_BUFFER_OVERFLOW};
use crate::lifetime::{Tracked, Unit};
use crate::platform::prelude::*;
use crate::platform::{Dpc, SpinLock, assert_no_provider_lock_held};
use crate::sync::Arc;

/// The delivery bookkeeping kept behind an object's lock.
#[derive(Debug)]
pub(super) struct Delivery<T: Tracked> {
    /// A notification due, waiting for the DPC.
    pending: Option<NTSTATUS>,
    /// The DPC's unit while it is queued (taken by the DPC when it starts).
    unit: Option<Unit<T>>,
    /// A notification callback is running (serialisation).
    running: bool,
}

impl<T: Tracked> Delivery<T> {
    /// Nothing due, no DPC queued, no callback running.
    pub(super) const fn new() -> Self {
        Self {
            pending: None,
            unit: None,
            running: false,
        }
    }

    /// Forgets a notification not delivered yet (close).
    pub(super) const fn forget(&mut self) {
        self.pending = None;
    }

    /// The queued DPC's unit, taken by a close that cancelled the DPC (it will not run, so the
    /// unit is the caller's to release).
    pub(super) const fn take_unit(&mut self) -> Option<Unit<T>> {
        self.unit.take()
    }

    /// Records a due `status` and queues `dpc` unless it is already queued. Under the owner's
    /// lock; never calls the consumer. An overflow report wins over a plain notification that
    /// has not been delivered yet; once `owner` is closing nothing is queued (no notification
    /// after close).
    pub(super) fn schedule(&mut self, owner: &Arc<T>, status: NTSTATUS, dpc: Option<&Dpc>) {
        if self.pending != Some(STATUS_BUFFER_OVERFLOW) {
            self.pending = Some(status);
        }
        if self.unit.is_some() {
            return; // queued, not started: it will see `pending`
        }
        let Some(unit) = Unit::try_new(owner) else {
            self.pending = None;
            return;
        };
        self.unit = Some(unit);
        if let Some(dpc) = dpc {
            dpc.queue();
        }
    }
}

/// An object's state that carries a [`Delivery`].
pub(super) trait Notifying: Send {
    /// The object the notifications are about.
    type Owner: Tracked;

    /// The delivery bookkeeping.
    fn delivery(&mut self) -> &mut Delivery<Self::Owner>;

    /// Called under the lock as a due notification is taken for delivery.
    fn handing_over(&mut self) {}
}

/// The DPC body: delivers due notifications one at a time with no lock held, unless another run
/// is delivering (it picks them up after its callback returns). `call` is skipped once `owner`
/// is closing; the queued unit is released last.
pub(super) fn deliver<S: Notifying>(owner: &S::Owner, lock: &SpinLock<S>, call: impl Fn(NTSTATUS)) {
    let mut s = lock.lock();
    let unit = s.delivery().unit.take();
    if s.delivery().running {
        drop(s);
        drop(unit);
        return;
    }
    s.delivery().running = true;
    loop {
        let Some(status) = s.delivery().pending.take() else {
            s.delivery().running = false;
            break;
        };
        s.handing_over();
        drop(s);
        if !owner.node().is_closing() {
            assert_no_provider_lock_held();
            call(status);
        }
        s = lock.lock();
    }
    drop(s);
    drop(unit);
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
