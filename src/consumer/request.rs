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
use std::sync::Arc;

use super::awaited::Awaited;
use crate::abi::{NDK_FN_REQUEST_COMPLETION, NTSTATUS, STATUS_PENDING};
use crate::platform::Platform;

/// The context of one request: the status its completion delivered, and how many times it ran.
pub type RequestWait = Awaited<NTSTATUS>;

impl Awaited<NTSTATUS> {
    /// Blocks until the completion ran (PASSIVE only) and returns the status it delivered.
    ///
    /// # Panics
    ///
    /// At DISPATCH or with a provider lock held.
    #[must_use]
    pub fn wait(&self) -> NTSTATUS {
        self.wait_for().unwrap_or(STATUS_PENDING)
    }

    /// The completion and context to hand the provider: one leaked count, taken back by the
    /// completion (or by [`Awaited::reclaim`] when the request did not pend).
    #[must_use]
    pub fn leak(this: &Arc<Self>) -> (NDK_FN_REQUEST_COMPLETION, *mut c_void) {
        (pending_request_completion, Self::leak_context(this))
    }
}

/// The request completion of [`request`]: `context` is a count leaked by
/// [`RequestWait::leak`].
///
/// # Safety
///
/// Called by the provider only, once per pending request.
pub unsafe extern "system" fn pending_request_completion(context: *mut c_void, status: NTSTATUS) {
    // SAFETY: `leak` gave the provider one strong count of a `RequestWait` for this completion,
    // which the provider calls exactly once (a second call is a provider bug the verifier
    // reports first).
    unsafe { RequestWait::complete(context, status) };
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
