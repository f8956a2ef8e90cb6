//! `NDK_CQ_DISPATCH`: close, resize, arm, results, interrupt moderation.
#![allow(unsafe_code)]

use core::ffi::c_void;

use crate::abi::{
    NDK_CQ, NDK_CQ_DISPATCH, NDK_FN_REQUEST_COMPLETION, NDK_OPERATION_TYPE, NDK_RESULT,
    NDK_RESULT_EX, NTSTATUS, STATUS_INVALID_PARAMETER, STATUS_NOT_SUPPORTED,
};
use crate::engine::{Completion, OpType, Status};
use crate::verbs::{ArmType, Cq, completion_status};

use super::handle::borrow;
use super::request;
use super::{close_object, query_extension};

/// `NDK_CQ_DISPATCH`.
pub static TABLE: NDK_CQ_DISPATCH = NDK_CQ_DISPATCH {
    NdkCloseCq: close_object::<Cq>,
    NdkQueryExtension: query_extension,
    NdkResizeCq: resize_cq,
    NdkArmCq: arm_cq,
    NdkGetCqResults: get_cq_results,
    NdkControlCqInterruptModeration: control_interrupt_moderation,
    NdkGetCqResultsEx: get_cq_results_ex,
};

/// `NdkResizeCq`. Mandatory: CQ, `RequestCompletion`; a depth of 0 or above `MaxCqDepth`:
/// `STATUS_INVALID_PARAMETER`. These are answered inline; the resize completes inline or pends
/// ([`request::answer`]). A depth below the entries queued at that moment
/// (`STATUS_INVALID_PARAMETER`) or a ring that cannot be allocated
/// (`STATUS_INSUFFICIENT_RESOURCES`) is the resize's own answer, through the completion if it
/// pends.
unsafe extern "system" fn resize_cq(
    cq: *mut NDK_CQ,
    depth: u32,
    completion: Option<NDK_FN_REQUEST_COMPLETION>,
    context: *mut c_void,
) -> NTSTATUS {
    // SAFETY: NDK contract for the CQ pointer.
    let Some(cq) = (unsafe { borrow::<Cq>(cq) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    let Some(completion) = completion else {
        return STATUS_INVALID_PARAMETER;
    };
    if let Err(status) = cq.check_depth(depth) {
        return status;
    }
    let adapter = cq.adapter();
    // SAFETY: the consumer's completion for this call (NdkResizeCq contract).
    unsafe {
        request::answer(adapter, &cq, completion, context, move |cq| {
            cq.resize(depth)
        })
    }
}

/// `NdkArmCq`: `VOID`, cannot fail; a NULL CQ or an undefined `Type` is ignored.
unsafe extern "system" fn arm_cq(cq: *mut NDK_CQ, kind: u32) {
    // SAFETY: NDK contract for the CQ pointer.
    if let (Some(cq), Some(arm)) = (unsafe { borrow::<Cq>(cq) }, ArmType::from_raw(kind)) {
        cq.arm(arm);
    }
}

/// A consumer context stored as an integer, handed back as the pointer it was.
fn context(value: usize) -> *mut c_void {
    core::ptr::with_exposed_provenance_mut(value)
}

/// `ProviderErrorCode`: 0 on success, else a SoftNDK code naming the engine's reason.
const fn provider_error(status: Status) -> u32 {
    match status {
        Status::Success => 0,
        Status::Cancelled => 1,
        Status::LocalProtectionError => 2,
        Status::RemoteAccessError => 3,
        Status::RemoteOperationError => 4,
        Status::RemoteInvalidRequest => 5,
        Status::ReceiveTooSmall => 6,
        Status::InvalidateError => 7,
        Status::ConnectionAborted => 8,
    }
}

fn result_ex(c: &Completion) -> NDK_RESULT_EX {
    NDK_RESULT_EX {
        Status: completion_status(c.status),
        BytesTransferred: c.bytes,
        QPContext: context(c.qp_context),
        RequestContext: context(c.request_context),
        #[allow(clippy::cast_possible_wrap)] // the enum values are small
        Type: NDK_OPERATION_TYPE(c.op as u32 as i32),
        ProviderErrorCode: provider_error(c.status),
        TypeSpecificCompletionOutput: match (c.op, c.invalidated_token) {
            (OpType::ReceiveAndInvalidate, Some(token)) => token as usize,
            _ => 0,
        },
    }
}

/// `NdkGetCqResults`: a NULL array (with `nResults` > 0) or CQ returns 0 and removes nothing.
unsafe extern "system" fn get_cq_results(cq: *mut NDK_CQ, results: *mut NDK_RESULT, n: u32) -> u32 {
    // SAFETY: NDK contract for the CQ pointer.
    let Some(cq) = (unsafe { borrow::<Cq>(cq) }) else {
        return 0;
    };
    if results.is_null() {
        return 0;
    }
    let taken = cq.poll(n as usize, |i, c| {
        let r = NDK_RESULT {
            Status: completion_status(c.status),
            BytesTransferred: c.bytes,
            QPContext: context(c.qp_context),
            RequestContext: context(c.request_context),
        };
        // SAFETY: `results` is non-null and writable for `n` entries (consumer contract);
        // `i < n`.
        unsafe { results.wrapping_add(i).write_unaligned(r) };
    });
    #[allow(clippy::cast_possible_truncation)] // ≤ n
    {
        taken as u32
    }
}

/// `NdkGetCqResultsEx`: as [`get_cq_results`] with `NDK_RESULT_EX`.
unsafe extern "system" fn get_cq_results_ex(
    cq: *mut NDK_CQ,
    results: *mut NDK_RESULT_EX,
    n: u32,
) -> u32 {
    // SAFETY: NDK contract for the CQ pointer.
    let Some(cq) = (unsafe { borrow::<Cq>(cq) }) else {
        return 0;
    };
    if results.is_null() {
        return 0;
    }
    let taken = cq.poll(n as usize, |i, c| {
        // SAFETY: `results` is non-null and writable for `n` entries; `i < n`.
        unsafe { results.wrapping_add(i).write_unaligned(result_ex(c)) };
    });
    #[allow(clippy::cast_possible_truncation)] // ≤ n
    {
        taken as u32
    }
}

/// `NdkControlCqInterruptModeration`: not implemented, and the adapter does not advertise
/// `CQ_INTERRUPT_MODERATION_SUPPORTED`, so `STATUS_NOT_SUPPORTED` is the mandatory answer.
unsafe extern "system" fn control_interrupt_moderation(
    _cq: *mut NDK_CQ,
    _interval: u32,
    _count: u32,
) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}
