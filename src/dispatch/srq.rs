//! `NDK_SRQ_DISPATCH`: close, modify and receive posting of a shared receive queue. Receives
//! are posted inside the provider verifier's post guard ([`misuse::post`]).
#![allow(unsafe_code)]

use core::ffi::c_void;

use crate::abi::{
    NDK_FN_REQUEST_COMPLETION, NDK_SGE, NDK_SRQ, NDK_SRQ_DISPATCH, NTSTATUS,
    STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
};
use crate::verbs::Srq;

use super::handle::borrow;
use super::misuse::{self, Queue};
use super::qp::with_sges;
use super::request;
use super::{close_object, query_extension};

/// `NDK_SRQ_DISPATCH`.
pub static SRQ_TABLE: NDK_SRQ_DISPATCH = NDK_SRQ_DISPATCH {
    NdkCloseSrq: close_object::<Srq>,
    NdkQueryExtension: query_extension,
    NdkModifySrq: modify_srq,
    NdkSrqReceive: srq_receive,
};

const fn status(r: Result<(), NTSTATUS>) -> NTSTATUS {
    match r {
        Ok(()) => STATUS_SUCCESS,
        Err(s) => s,
    }
}

/// `NdkModifySrq`. Mandatory: SRQ, `RequestCompletion`; a depth above `MaxSrqDepth`:
/// `STATUS_INVALID_PARAMETER`. These are answered inline; the modification completes inline or
/// pends ([`request::answer`]). Depth 0 keeps the depth, threshold 0 keeps threshold and arming
/// (see `verbs::srq`); a depth below the receives queued at that moment
/// (`STATUS_INVALID_PARAMETER`) or storage that cannot be allocated
/// (`STATUS_INSUFFICIENT_RESOURCES`) is the modification's own answer, through the completion
/// if it pends.
unsafe extern "system" fn modify_srq(
    srq: *mut NDK_SRQ,
    depth: u32,
    threshold: u32,
    completion: Option<NDK_FN_REQUEST_COMPLETION>,
    context: *mut c_void,
) -> NTSTATUS {
    // SAFETY: NDK contract for the SRQ pointer.
    let Some(srq) = (unsafe { borrow::<Srq>(srq) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    let Some(completion) = completion else {
        return STATUS_INVALID_PARAMETER;
    };
    if let Err(status) = srq.check_depth(depth) {
        return status;
    }
    let adapter = srq.pd().adapter();
    // SAFETY: the consumer's completion for this call (NdkModifySrq contract).
    unsafe {
        request::answer(adapter, &srq, completion, context, move |srq| {
            srq.modify(depth, threshold)
        })
    }
}

/// `NdkSrqReceive`: `nSge` ≤ the SRQ's `MaxReceiveRequestSge`, NULL `pSgl` only with 0 SGEs.
unsafe extern "system" fn srq_receive(
    srq: *mut NDK_SRQ,
    ctx: *mut c_void,
    sgl: *const NDK_SGE,
    n: u32,
) -> NTSTATUS {
    // SAFETY: NDK contract for the SRQ pointer.
    let Some(srq) = (unsafe { borrow::<Srq>(srq) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: the consumer's SGE array per the NdkSrqReceive contract.
    let posted = unsafe {
        with_sges(sgl, n, srq.max_sge(), |sges| {
            misuse::post(&**srq, Queue::Srq, || {
                status(srq.post(ctx.expose_provenance(), sges))
            })
        })
    };
    posted.unwrap_or_else(|s| s)
}
