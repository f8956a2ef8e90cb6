//! Requests that may pend (`NdkRegisterMr`, `NdkDeregisterMr`, `NdkInitializeFastRegisterMr`,
//! `NdkResizeCq`, `NdkModifySrq`):
//! how the wrapper issues them and, when the provider answers `STATUS_PENDING`, waits for the
//! final status to arrive through the request completion.
//!
//! As for creates ([`super::pending`]): the completion's context is one leaked count of a
//! [`RequestWait`]; the completion stores the status, counts its calls and wakes the waiter.
//! The wait blocks, so a request that pends must be issued through the wrapper at
//! `PASSIVE_LEVEL` (the host platform panics on a wait at DISPATCH); a consumer at DISPATCH uses
//! the raw table with [`RequestWait::leak`] and continues when the completion ran, see
//! `tests/conformance_pending_requests.rs`. With a platform the wait is the platform's event,
//! which also runs a deterministic host's queue; without one it is a condition variable.

use core::ffi::c_void;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use crate::abi::{NDK_FN_REQUEST_COMPLETION, NTSTATUS, STATUS_PENDING};
use crate::platform::prelude::*;
use crate::platform::{Event, Platform, assert_can_block};

/// The context of one request: the status its completion delivered, and how many times it ran.
#[derive(Debug, Default)]
pub struct RequestWait {
    delivered: Mutex<(u32, Option<NTSTATUS>)>,
    cond: Condvar,
    event: Option<Event>,
}

impl RequestWait {
    /// A context whose waits use `platform`'s event (or a condition variable without one).
    #[must_use]
    pub fn new(platform: Option<&Platform>) -> Arc<Self> {
        Arc::new(Self {
            event: platform.and_then(|p| p.try_new_event().ok()),
            ..Self::default()
        })
    }

    /// Times the completion ran (exactly 1 after a pending request, 0 after an inline one).
    #[must_use]
    pub fn calls(&self) -> u32 {
        self.delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }

    /// The status the first completion delivered, if it ran.
    #[must_use]
    pub fn delivered(&self) -> Option<NTSTATUS> {
        self.delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .1
    }

    /// Blocks until the completion ran (PASSIVE only) and returns the status it delivered.
    ///
    /// # Panics
    ///
    /// At DISPATCH or with a provider lock held.
    #[must_use]
    pub fn wait(&self) -> NTSTATUS {
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
        guard.1.unwrap_or(STATUS_PENDING)
    }

    /// The completion and context to hand the provider: one leaked count, taken back by the
    /// completion (or by [`RequestWait::reclaim`] when the request did not pend).
    #[must_use]
    pub fn leak(this: &Arc<Self>) -> (NDK_FN_REQUEST_COMPLETION, *mut c_void) {
        let context = Arc::into_raw(Arc::clone(this)).cast_mut().cast::<c_void>();
        (pending_request_completion, context)
    }

    /// Takes back the count [`RequestWait::leak`] gave the provider, for a request that did not
    /// pend (so its completion will not run).
    ///
    /// # Safety
    ///
    /// `context` came from [`RequestWait::leak`] and the provider will not call the completion
    /// with it.
    pub unsafe fn reclaim(context: *mut c_void) {
        // SAFETY: per the contract, the count leaked for the completion is still outstanding.
        drop(unsafe { Arc::from_raw(context.cast_const().cast::<Self>()) });
    }
}

/// The request completion of [`request`]: `context` is a count leaked by
/// [`RequestWait::leak`].
///
/// # Safety
///
/// Called by the provider only, once per pending request.
pub unsafe extern "system" fn pending_request_completion(context: *mut c_void, status: NTSTATUS) {
    // SAFETY: `leak` gave the provider one strong count for this completion, which the provider
    // calls exactly once (a second call is a provider bug the verifier reports first).
    let wait = unsafe { Arc::from_raw(context.cast_const().cast::<RequestWait>()) };
    {
        let mut delivered = wait
            .delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        delivered.0 += 1;
        if delivered.1.is_none() {
            delivered.1 = Some(status);
        }
    }
    wait.cond.notify_all();
    if let Some(event) = &wait.event {
        event.signal();
    }
}

/// Issues a request through `call` (given the completion and its context): its final status.
///
/// That is the inline answer, or, after `STATUS_PENDING`, the status the completion delivered
/// (waiting for it, PASSIVE only).
///
/// # Panics
///
/// If the request pends at DISPATCH (the wait would block).
pub fn request(
    platform: Option<&Platform>,
    call: impl FnOnce(NDK_FN_REQUEST_COMPLETION, *mut c_void) -> NTSTATUS,
) -> NTSTATUS {
    let wait = RequestWait::new(platform);
    let (completion, context) = RequestWait::leak(&wait);
    let status = call(completion, context);
    if status == STATUS_PENDING {
        return wait.wait();
    }
    // SAFETY: the request did not pend, so the provider will not call the completion.
    unsafe { RequestWait::reclaim(context) };
    status
}
