//! The consumer's shared receive queues and their notifications.

use core::ffi::c_void;
use core::ptr;
use std::sync::{Arc, Mutex, PoisonError};
use std::vec::Vec;

use super::events::{self, Closed, Keep, Recorder};
use super::{Cq, Pd, Qp, QpLimits, RequestWait, ctx, table};
use crate::abi::{
    NDK_CQ, NDK_SGE, NDK_SRQ, NDK_SRQ_DISPATCH, NTSTATUS, STATUS_PENDING, STATUS_SUCCESS,
};
use crate::platform::Platform;

/// A raw SRQ pointer that the notification recorder may use from inside the callback.
#[derive(Clone, Copy, Debug)]
struct SrqPtr(*mut NDK_SRQ);

// SAFETY: NDK objects may be used from any thread.
unsafe impl Send for SrqPtr {}
// SAFETY: as above.
unsafe impl Sync for SrqPtr {}

/// What an SRQ's notification callback saw, and what it should do when called.
#[derive(Debug, Default)]
pub struct SrqEvents {
    recorder: Recorder,
    /// The SRQ and a threshold to re-arm with from inside the callback.
    rearm: Mutex<Option<(SrqPtr, u32)>>,
}

impl SrqEvents {
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

    /// Times a notification started while another of the same SRQ was running, or was
    /// delivered synchronously inside a re-arm (must stay 0).
    #[must_use]
    pub fn overlaps(&self) -> u32 {
        self.recorder.overlaps()
    }

    fn record(&self, status: NTSTATUS) {
        self.recorder.record(status, || {
            let rearm = *self.rearm.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((srq, threshold)) = rearm {
                // SAFETY: the SRQ is open while its notification runs (close pends until it
                // returns).
                let dispatch = unsafe { table(srq.0) };
                // Not waited for (a callback at DISPATCH must not block): a pending re-arm
                // completes on its own and its completion takes back the context.
                let wait = RequestWait::new(None);
                let (done, context) = RequestWait::leak(&wait);
                // SAFETY: live SRQ; valid request completion and context.
                let status =
                    unsafe { (dispatch.NdkModifySrq)(srq.0, 0, threshold, Some(done), context) };
                if status != STATUS_PENDING {
                    // SAFETY: the request did not pend, so the completion will not run.
                    unsafe { RequestWait::reclaim(context) };
                }
            }
        });
    }
}

/// The SRQ notification callback: `context` is the `SrqEvents` of the SRQ.
unsafe extern "system" fn notification(context: *mut c_void, status: NTSTATUS) {
    // SAFETY: the context is an `SrqEvents` kept alive by the `Srq` and then by its close signal
    // until the close completion ran.
    let events = unsafe { &*context.cast_const().cast::<SrqEvents>() };
    events.record(status);
}

/// A shared receive queue.
#[derive(Debug)]
pub struct Srq {
    raw: *mut NDK_SRQ,
    events: Option<Arc<SrqEvents>>,
    /// The adapter's platform, for waiting on a pending modification.
    platform: Option<Platform>,
}

// SAFETY: NDK objects may be used from any thread.
unsafe impl Send for Srq {}
// SAFETY: as above; posts are serialised by the test, as by a consumer.
unsafe impl Sync for Srq {}

impl Srq {
    object_accessors!(NDK_SRQ, NDK_SRQ_DISPATCH);

    /// `NdkSrqReceive`.
    #[must_use]
    pub fn receive(&self, context: usize, sges: &[NDK_SGE]) -> NTSTATUS {
        let n = u32::try_from(sges.len()).unwrap_or(u32::MAX);
        let p = if sges.is_empty() {
            ptr::null()
        } else {
            sges.as_ptr()
        };
        // SAFETY: live SRQ; `p` holds `n` SGEs (or is NULL with 0).
        unsafe { (self.dispatch().NdkSrqReceive)(self.raw, ctx(context), p, n) }
    }

    /// `NdkModifySrq`: the final status (waited for if it pends, PASSIVE only).
    #[must_use]
    pub fn modify(&self, depth: u32, threshold: u32) -> NTSTATUS {
        super::request(self.platform.as_ref(), |done, context| {
            // SAFETY: live SRQ; valid request completion.
            unsafe {
                (self.dispatch().NdkModifySrq)(self.raw, depth, threshold, Some(done), context)
            }
        })
    }

    /// Makes the notification callback call `NdkModifySrq(0, threshold)` from inside itself.
    pub fn rearm_inside_callback(&self, threshold: u32) {
        if let Some(events) = &self.events {
            *events.rearm.lock().unwrap_or_else(PoisonError::into_inner) =
                Some((SrqPtr(self.raw), threshold));
        }
    }

    /// `NdkCloseSrq`; the notification context stays alive until the close completed.
    pub fn close(self) -> Closed {
        if let Some(events) = &self.events {
            *events.rearm.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
        let keep = self.events.clone().map(|e| e as Keep);
        events::close(self.raw.cast(), self.dispatch().NdkCloseSrq, keep)
    }
}

impl Pd {
    /// `NdkCreateSrq` with `events` (or no callback) as the notification.
    ///
    /// # Errors
    ///
    /// The provider's failure status.
    pub fn create_srq(
        &self,
        depth: u32,
        max_sge: u32,
        threshold: u32,
        events: Option<&Arc<SrqEvents>>,
    ) -> Result<Srq, NTSTATUS> {
        let context = events.map_or(ptr::null_mut(), |e| Arc::as_ptr(e).cast_mut().cast());
        let (status, out) =
            super::pending::issue(self.platform.as_ref(), |done, done_context, out| {
                // SAFETY: live PD; the callback and its context stay valid until the SRQ's close
                // completes (the `Srq` and then its close signal hold `events`); writable out pointer.
                unsafe {
                    (self.dispatch().NdkCreateSrq)(
                        self.raw(),
                        depth,
                        max_sge,
                        threshold,
                        events
                            .map(|_| notification as crate::abi::NDK_FN_SRQ_NOTIFICATION_CALLBACK),
                        context,
                        ptr::null(),
                        Some(done),
                        done_context,
                        out,
                    )
                }
            });
        super::succeeded(status).map(|()| Srq {
            raw: out,
            events: events.cloned(),
            platform: self.platform.clone(),
        })
    }

    /// `NdkCreateQpWithSrq` with `context` as `QPContext` (`limits`' receive fields unused).
    ///
    /// # Errors
    ///
    /// The provider's failure status.
    pub fn create_qp_with_srq(
        &self,
        receive_cq: &Cq,
        initiator_cq: &Cq,
        srq: &Srq,
        context: usize,
        limits: QpLimits,
    ) -> Result<Qp, NTSTATUS> {
        // SAFETY: both CQs are live (the wrappers' invariant).
        unsafe {
            self.create_qp_with_srq_raw(receive_cq.raw(), initiator_cq.raw(), srq, context, limits)
        }
    }

    /// [`Pd::create_qp_with_srq`] over CQs given as raw objects (as for
    /// [`Pd::create_qp_raw`]).
    ///
    /// # Safety
    ///
    /// As for [`Pd::create_qp_raw`].
    ///
    /// # Errors
    ///
    /// The provider's failure status.
    pub unsafe fn create_qp_with_srq_raw(
        &self,
        receive_cq: *mut NDK_CQ,
        initiator_cq: *mut NDK_CQ,
        srq: &Srq,
        context: usize,
        limits: QpLimits,
    ) -> Result<Qp, NTSTATUS> {
        let (status, out) =
            super::pending::issue(self.platform.as_ref(), |done, done_context, out| {
                // SAFETY: live PD and SRQ, CQs per the caller's contract, valid completion,
                // writable out pointer.
                unsafe {
                    (self.dispatch().NdkCreateQpWithSrq)(
                        self.raw(),
                        receive_cq,
                        initiator_cq,
                        srq.raw,
                        ctx(context),
                        limits.initiator_depth,
                        limits.max_initiator_sge,
                        limits.inline_data_size,
                        Some(done),
                        done_context,
                        out,
                    )
                }
            });
        if status == STATUS_SUCCESS {
            // SAFETY: a QP the provider just created; only this value uses it.
            Ok(unsafe { Qp::from_raw(out) })
        } else {
            Err(status)
        }
    }
}
