//! `NDK_PD_DISPATCH`: close, the PD's creates, the privileged token.
#![allow(unsafe_code)]

use core::ffi::c_void;

use crate::abi::{
    BOOLEAN, GROUP_AFFINITY, NDK_CQ, NDK_FN_CREATE_COMPLETION, NDK_FN_SRQ_NOTIFICATION_CALLBACK,
    NDK_MR, NDK_MW, NDK_PD, NDK_PD_DISPATCH, NDK_QP, NDK_SRQ, NTSTATUS, STATUS_INVALID_PARAMETER,
    STATUS_NOT_SUPPORTED, STATUS_SUCCESS,
};
use crate::verbs::{Cq, Mr, Pd, Qp, QpConfig};

use super::handle::{borrow, hand_out};
use super::{close_object, query_extension, write_out};

/// `NDK_PD_DISPATCH`.
pub static TABLE: NDK_PD_DISPATCH = NDK_PD_DISPATCH {
    NdkClosePd: close_object::<Pd>,
    NdkQueryExtension: query_extension,
    NdkCreateMr: create_mr,
    NdkCreateMw: create_mw,
    NdkCreateSrq: create_srq,
    NdkCreateQp: create_qp,
    NdkCreateQpWithSrq: create_qp_with_srq,
    NdkGetPrivilegedMemoryRegionToken: get_privileged_token,
};

/// `NdkCreateMr`. Mandatory: PD, `CreateCompletion`, `ppNdkMr`. Completes inline.
/// Fast-register MRs answer `STATUS_NOT_SUPPORTED` until `NdkFastRegister` is implemented.
unsafe extern "system" fn create_mr(
    pd: *mut NDK_PD,
    fast_register: BOOLEAN,
    completion: Option<NDK_FN_CREATE_COMPLETION>,
    _context: *mut c_void,
    out: *mut *mut NDK_MR,
) -> NTSTATUS {
    // SAFETY: NDK contract for the PD pointer.
    let Some(pd) = (unsafe { borrow::<Pd>(pd) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    if completion.is_none() || out.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    if fast_register != 0 {
        return STATUS_NOT_SUPPORTED;
    }
    match Mr::create(&pd, false) {
        Ok(mr) => {
            // SAFETY: `out` checked non-null; writable per the contract.
            unsafe { write_out(out, hand_out(mr)) };
            STATUS_SUCCESS
        }
        Err(status) => status,
    }
}

unsafe extern "system" fn create_mw(
    _pd: *mut NDK_PD,
    _completion: Option<NDK_FN_CREATE_COMPLETION>,
    _context: *mut c_void,
    _out: *mut *mut NDK_MW,
) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}

unsafe extern "system" fn create_srq(
    _pd: *mut NDK_PD,
    _depth: u32,
    _max_sge: u32,
    _threshold: u32,
    _notification: Option<NDK_FN_SRQ_NOTIFICATION_CALLBACK>,
    _notification_context: *mut c_void,
    _affinity: *const GROUP_AFFINITY,
    _completion: Option<NDK_FN_CREATE_COMPLETION>,
    _context: *mut c_void,
    _out: *mut *mut NDK_SRQ,
) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}

/// `NdkCreateQp`. Mandatory: PD, both CQs (of the PD's adapter), `CreateCompletion`,
/// `ppNdkQp`; every limit at most the adapter's. Completes inline.
unsafe extern "system" fn create_qp(
    pd: *mut NDK_PD,
    receive_cq: *mut NDK_CQ,
    initiator_cq: *mut NDK_CQ,
    qp_context: *mut c_void,
    receive_depth: u32,
    initiator_depth: u32,
    max_receive_sge: u32,
    max_initiator_sge: u32,
    inline_data_size: u32,
    completion: Option<NDK_FN_CREATE_COMPLETION>,
    _context: *mut c_void,
    out: *mut *mut NDK_QP,
) -> NTSTATUS {
    // SAFETY: NDK contract for the PD and CQ pointers.
    let (Some(pd), Some(rcq), Some(icq)) = (
        unsafe { borrow::<Pd>(pd) },
        unsafe { borrow::<Cq>(receive_cq) },
        unsafe { borrow::<Cq>(initiator_cq) },
    ) else {
        return STATUS_INVALID_PARAMETER;
    };
    if completion.is_none() || out.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    let config = QpConfig {
        context: qp_context.expose_provenance(),
        receive_depth,
        initiator_depth,
        max_receive_sge,
        max_initiator_sge,
        inline_data_size,
    };
    match Qp::create(&pd, &rcq, &icq, config) {
        Ok(qp) => {
            // SAFETY: `out` checked non-null; writable per the contract.
            unsafe { write_out(out, hand_out(qp)) };
            STATUS_SUCCESS
        }
        Err(status) => status,
    }
}

unsafe extern "system" fn create_qp_with_srq(
    _pd: *mut NDK_PD,
    _receive_cq: *mut NDK_CQ,
    _initiator_cq: *mut NDK_CQ,
    _srq: *mut NDK_SRQ,
    _qp_context: *mut c_void,
    _initiator_depth: u32,
    _max_initiator_sge: u32,
    _inline_size: u32,
    _completion: Option<NDK_FN_CREATE_COMPLETION>,
    _context: *mut c_void,
    _out: *mut *mut NDK_QP,
) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}

/// `NdkGetPrivilegedMemoryRegionToken`: `VOID`; a NULL PD or `pToken` is ignored.
unsafe extern "system" fn get_privileged_token(pd: *mut NDK_PD, token: *mut u32) {
    // SAFETY: NDK contract for the PD pointer.
    if let Some(pd) = unsafe { borrow::<Pd>(pd) }
        && !token.is_null()
    {
        // SAFETY: non-null and writable per the contract.
        unsafe { token.write_unaligned(pd.privileged_token()) };
    }
}
