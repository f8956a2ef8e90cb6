//! What a consumer waits on after the provider answered `STATUS_PENDING`: the value the
//! provider's completion delivers (a create's status and object, a request's status), how many
//! times the completion ran, and a way to block until it did.
//!
//! The wrapper hands the provider one leaked count of an [`Awaited`] as the completion's
//! context; the completion ([`super::pending_create_completion`],
//! [`super::pending_request_completion`]) takes that count back, records the value and wakes
//! the waiter. With a platform the wait is the platform's event, which also runs a
//! deterministic host's queue; without one it is a condition variable, which needs a platform
//! that delivers deferred work by itself (inline or threaded). The wait blocks, so it is for
//! `PASSIVE_LEVEL` only (the host platform panics on a wait at DISPATCH).

use core::ffi::c_void;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use crate::platform::prelude::*;
use crate::platform::{Event, Platform, assert_can_block};

/// The context of one pending create or request: the value its completion delivered, and how
/// many times it ran.
#[derive(Debug)]
pub struct Awaited<T> {
    delivered: Mutex<(u32, Option<T>)>,
    cond: Condvar,
    event: Option<Event>,
}

impl<T: Copy> Awaited<T> {
    /// A context whose waits use `platform`'s event (or a condition variable without one).
    #[must_use]
    pub fn new(platform: Option<&Platform>) -> Arc<Self> {
        Arc::new(Self {
            delivered: Mutex::new((0, None)),
            cond: Condvar::new(),
            event: platform.and_then(|p| p.try_new_event().ok()),
        })
    }

    /// Times the completion ran (exactly 1 after a pending call, 0 after an inline one).
    #[must_use]
    pub fn calls(&self) -> u32 {
        self.delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }

    /// What the first completion delivered, if it ran.
    #[must_use]
    pub fn delivered(&self) -> Option<T> {
        self.delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .1
    }

    /// Blocks until the completion ran (PASSIVE only) and returns what it delivered.
    ///
    /// # Panics
    ///
    /// At DISPATCH or with a provider lock held.
    pub(super) fn wait_for(&self) -> Option<T> {
        assert_can_block();
        if let Some(event) = &self.event {
            event.wait();
        }
        let guard = self
            .delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let guard = self
            .cond
            .wait_while(guard, |(_, delivered)| delivered.is_none())
            .unwrap_or_else(PoisonError::into_inner);
        guard.1
    }

    /// One leaked count of `this`, as the completion's context.
    pub(super) fn leak_context(this: &Arc<Self>) -> *mut c_void {
        Arc::into_raw(Arc::clone(this)).cast_mut().cast::<c_void>()
    }

    /// Takes back the count a `leak` gave the provider, for a call that did not
    /// pend (so its completion will not run).
    ///
    /// # Safety
    ///
    /// `context` came from leaking an `Awaited<T>` of this `T` and the provider will not call
    /// the completion with it.
    pub unsafe fn reclaim(context: *mut c_void) {
        // SAFETY: per the contract, the count leaked for the completion is still outstanding.
        drop(unsafe { Arc::from_raw(context.cast_const().cast::<Self>()) });
    }

    /// The completion's side: takes back the leaked count, records `value` (the first one
    /// wins; every call is counted) and wakes the waiter.
    ///
    /// # Safety
    ///
    /// `context` came from leaking an `Awaited<T>` of this `T`, and this is the one call the
    /// leaked count was given for.
    pub(super) unsafe fn complete(context: *mut c_void, value: T) {
        // SAFETY: the caller's contract: one strong count leaked for this call.
        let this = unsafe { Arc::from_raw(context.cast_const().cast::<Self>()) };
        {
            let mut delivered = this
                .delivered
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            delivered.0 += 1;
            if delivered.1.is_none() {
                delivered.1 = Some(value);
            }
        }
        this.cond.notify_all();
        if let Some(event) = &this.event {
            event.signal();
        }
    }
}
