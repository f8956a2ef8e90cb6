//! How `NdkRegisterMr`, `NdkDeregisterMr`, `NdkInitializeFastRegisterMr`, `NdkResizeCq` and
//! `NdkModifySrq` answer once their arguments passed the entry point's checks: inline (the request's status) or, on an adapter
//! opened with [`AdapterConfig::pend_requests`](crate::verbs::AdapterConfig), pending.
//!
//! A pending request (`spec/ndkpi.md` §3.1, §5.3 C1) returns `STATUS_PENDING` and defers the
//! request's effect to the platform's deferred work (a DPC on Windows). The work applies it and
//! calls the consumer's `RequestCompletion` exactly once, at `DISPATCH_LEVEL` with no provider
//! lock held, with the request's status — an allocation failure of the effect included
//! (`STATUS_INSUFFICIENT_RESOURCES`, "inline or async" in the spec). Until the completion has
//! returned the request holds one lifetime unit on its object and one on the adapter: it is a
//! pending request on them (§5.3 C1), so the object's close, and the adapter's blocking close,
//! finish only after the completion returned. If the object is closing when the work runs, the
//! request is cancelled (`STATUS_CANCELLED`, no effect; §5.3 "finish or abort it"): its close
//! undoes whatever the request would have set up. If the close starts while the work runs, the
//! request either finishes (its status, the close undoes the effect) or fails because the close
//! already tore down what it works on, which it reports as `STATUS_CANCELLED` too.
//!
//! The completion may run before the request returned (on Windows a DPC queued below
//! `DISPATCH_LEVEL` may run at once on the same processor; the host's inline mode does the
//! same): the request still returns `STATUS_PENDING` (§5.5), and it touches neither the object
//! nor anything reached through it after handing the work to the platform.
//!
//! Answered inline even when requests pend: the entry points' validation errors (found before
//! [`answer`] is called), a request on an object or adapter that is already closing
//! (`STATUS_DEVICE_NOT_READY`, a consumer error, as for creates), and a deferred item that cannot
//! be allocated (`STATUS_INSUFFICIENT_RESOURCES`; nothing changed, no completion). The
//! completion is mandatory for these five requests (NULL is `STATUS_INVALID_PARAMETER` at the
//! entry point), so a request never pends without one (the `[INFERENCE]` of `spec/ndkpi.md`
//! §2.1 on optional callbacks).
//!
//! Must never: call the completion twice, with a provider lock held, or after answering
//! anything but `STATUS_PENDING`.
#![allow(unsafe_code)]

use core::ffi::c_void;

use crate::abi::upcall::{Context, RequestCompletion};
use crate::abi::{
    NDK_FN_REQUEST_COMPLETION, NTSTATUS, STATUS_CANCELLED, STATUS_DEVICE_NOT_READY,
    STATUS_INSUFFICIENT_RESOURCES, STATUS_PENDING, STATUS_SUCCESS,
};
use crate::lifetime::{Tracked, Unit};
use crate::platform::assert_no_provider_lock_held;
use crate::platform::prelude::*;
use crate::sync::Arc;
use crate::verbs::Adapter;

/// The NDK status of a request's outcome.
const fn status(result: Result<(), NTSTATUS>) -> NTSTATUS {
    match result {
        Ok(()) => STATUS_SUCCESS,
        Err(status) => status,
    }
}

/// Answers a request on `object` (of `adapter`) whose arguments are valid: `apply` carries out
/// its effect, now (inline) or from deferred work (pending, see the module documentation).
///
/// # Safety
///
/// `completion` is the consumer's request completion for this call, callable once with
/// `context` at ≤ `DISPATCH_LEVEL` if the request returns `STATUS_PENDING` (the NDK contract
/// for request functions).
pub(super) unsafe fn answer<T: Tracked>(
    adapter: &Arc<Adapter>,
    object: &Arc<T>,
    completion: NDK_FN_REQUEST_COMPLETION,
    context: *mut c_void,
    apply: impl FnOnce(&Arc<T>) -> Result<(), NTSTATUS> + Send + 'static,
) -> NTSTATUS {
    if !adapter.pends_requests() {
        return status(apply(object));
    }
    // Our own reference: in the inline cases the work below may release the last unit of
    // `object` (closed from inside the completion) before `try_defer` returns, and `object`
    // may be reached through memory that goes with it.
    let adapter = Arc::clone(adapter);
    let (Ok(guard), Some(kept)) = (adapter.link(), Unit::try_new(object)) else {
        return STATUS_DEVICE_NOT_READY;
    };
    // SAFETY: the consumer's request completion with its context, callable once at ≤ DISPATCH
    // until the provider has called it (caller's contract); the work below calls it once, and
    // only if `try_defer` accepted it, in which case this call answers STATUS_PENDING.
    let completion = unsafe { RequestCompletion::new(completion, Context::new(context)) };
    let work = move || {
        let closing = || guard.node().is_closing() || kept.node().is_closing();
        let result = if closing() {
            Err(STATUS_CANCELLED)
        } else {
            // A close that starts while the request runs tears down what the request works
            // on (an MR's table entry is unpublished at once), so the request can fail for
            // that reason alone: it was aborted by the close, and says so.
            match apply(kept.arc()) {
                Err(_) if closing() => Err(STATUS_CANCELLED),
                done => done,
            }
        };
        assert_no_provider_lock_held();
        completion.call(status(result));
        // Only now: the object's close (and the adapter's) wait for the completion (C1).
        drop(kept);
        drop(guard);
    };
    match adapter.platform().try_defer(work) {
        Ok(()) => STATUS_PENDING,
        Err(_) => STATUS_INSUFFICIENT_RESOURCES,
    }
}
