//! The consumer's CQ.

use core::ffi::c_void;
use core::ptr;
use std::sync::{Arc, PoisonError};
use std::vec::Vec;

use super::events::{self, Closed, CqEvents};
use super::request::request;
use super::{Adapter, table};
use crate::abi::{NDK_CQ, NDK_CQ_DISPATCH, NDK_RESULT, NDK_RESULT_EX, NTSTATUS};
use crate::platform::Platform;

/// The CQ notification callback: `context` is the `CqEvents` the CQ was created with.
unsafe extern "system" fn notification(context: *mut c_void, status: NTSTATUS) {
    // SAFETY: the context is an `Arc<CqEvents>` kept alive until the CQ's close completed
    // (held by the `Cq` and then by its close signal).
    let events = unsafe { &*context.cast_const().cast::<CqEvents>() };
    events.record(status);
}

/// A copyable CQ pointer for re-arming from inside the notification callback.
#[derive(Clone, Copy, Debug)]
pub(super) struct CqPtr(*mut NDK_CQ);

// SAFETY: an NDK object pointer may be used from any thread.
unsafe impl Send for CqPtr {}
// SAFETY: as above.
unsafe impl Sync for CqPtr {}

impl CqPtr {
    /// `NdkArmCq`. Only called from the CQ's own notification callback, during which the CQ is
    /// open (no notification after its close completion).
    pub(super) fn arm(self, kind: u32) {
        // SAFETY: see above: the CQ is live while its notification runs.
        let dispatch = unsafe { table(self.0) };
        // SAFETY: as above.
        unsafe { (dispatch.NdkArmCq)(self.0, kind) };
    }
}

/// A completion queue.
#[derive(Debug)]
pub struct Cq {
    raw: *mut NDK_CQ,
    events: Arc<CqEvents>,
    /// The adapter's platform, for waiting on a pending resize.
    platform: Option<Platform>,
}

// SAFETY: NDK objects may be used from any thread.
unsafe impl Send for Cq {}
// SAFETY: as above; `GetCqResults`/`ArmCq` serialisation is the test's job, as for a consumer.
unsafe impl Sync for Cq {}

impl Cq {
    pub(super) fn create(
        adapter: &Adapter,
        depth: u32,
        events: &Arc<CqEvents>,
    ) -> Result<Self, NTSTATUS> {
        let context = Arc::as_ptr(events).cast_mut().cast();
        // SAFETY: the callback's context stays valid until the CQ's close completes (the `Cq`
        // and then its close signal hold `events`).
        let raw = unsafe { adapter.create_cq_raw(depth, notification, context) }?;
        Ok(Self {
            raw,
            events: Arc::clone(events),
            platform: adapter.platform().cloned(),
        })
    }

    object_accessors!(NDK_CQ, NDK_CQ_DISPATCH);

    /// The notification recorder.
    #[must_use]
    pub const fn events(&self) -> &Arc<CqEvents> {
        &self.events
    }

    /// `NdkArmCq` with a raw type value.
    pub fn arm(&self, kind: u32) {
        // SAFETY: live CQ.
        unsafe { (self.dispatch().NdkArmCq)(self.raw, kind) };
    }

    /// From now on, every notification re-arms with `kind` from inside the callback.
    pub fn rearm_inside_callback(&self, kind: u32) {
        *self
            .events
            .rearm
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((CqPtr(self.raw), kind));
    }

    /// `NdkGetCqResults` for up to `max` results.
    #[must_use]
    pub fn results(&self, max: u32) -> Vec<NDK_RESULT> {
        let mut out = std::vec![NDK_RESULT::ZEROED; max as usize];
        let n = self.results_into(&mut out);
        out.truncate(n);
        out
    }

    /// `NdkGetCqResults` into `out` (at most `out.len()` results, nothing allocated); answers
    /// how many were written at its start.
    #[must_use]
    pub fn results_into(&self, out: &mut [NDK_RESULT]) -> usize {
        let max = u32::try_from(out.len()).unwrap_or(u32::MAX);
        // SAFETY: live CQ; `out` holds at least `max` entries.
        let n = unsafe { (self.dispatch().NdkGetCqResults)(self.raw, out.as_mut_ptr(), max) };
        // The provider never reports more than it was given room for; clamp so a broken one
        // cannot make the caller read past `out`.
        (n as usize).min(out.len())
    }

    /// `NdkGetCqResultsEx` for up to `max` results.
    #[must_use]
    pub fn results_ex(&self, max: u32) -> Vec<NDK_RESULT_EX> {
        let mut out = std::vec![NDK_RESULT_EX::ZEROED; max as usize];
        // SAFETY: live CQ; `out` holds `max` entries.
        let n = unsafe { (self.dispatch().NdkGetCqResultsEx)(self.raw, out.as_mut_ptr(), max) };
        out.truncate(n as usize);
        out
    }

    /// `NdkGetCqResults` with a NULL array and `n` > 0 (misuse: must return 0, remove nothing).
    #[must_use]
    pub fn results_into_null(&self, n: u32) -> u32 {
        // SAFETY: live CQ; the provider must not write through NULL.
        unsafe { (self.dispatch().NdkGetCqResults)(self.raw, ptr::null_mut(), n) }
    }

    /// `NdkResizeCq`: the final status (waited for if it pends, PASSIVE only).
    #[must_use]
    pub fn resize(&self, depth: u32) -> NTSTATUS {
        request(self.platform.as_ref(), |done, context| {
            // SAFETY: live CQ; a valid request completion.
            unsafe { (self.dispatch().NdkResizeCq)(self.raw, depth, Some(done), context) }
        })
    }

    /// `NdkControlCqInterruptModeration`.
    #[must_use]
    pub fn moderate(&self, interval: u32, count: u32) -> NTSTATUS {
        // SAFETY: live CQ.
        unsafe { (self.dispatch().NdkControlCqInterruptModeration)(self.raw, interval, count) }
    }

    /// `NdkCloseCq`; the notification context stays alive until the completion ran.
    pub fn close(self) -> Closed {
        let keep: events::Keep = self.events.clone();
        events::close(self.raw.cast(), self.dispatch().NdkCloseCq, Some(keep))
    }
}
