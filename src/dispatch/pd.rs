//! `NDK_PD_DISPATCH`: close, the PD's creates, the privileged token.
#![allow(unsafe_code)]

use core::ffi::c_void;

use crate::abi::{
    BOOLEAN, GROUP_AFFINITY, NDK_CQ, NDK_FN_CREATE_COMPLETION, NDK_FN_SRQ_NOTIFICATION_CALLBACK,
    NDK_MR, NDK_MW, NDK_PD, NDK_PD_DISPATCH, NDK_QP, NDK_SRQ, NTSTATUS, STATUS_NOT_SUPPORTED,
};
use crate::verbs::Pd;

use super::handle::borrow;
use super::{close_object, query_extension};

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

unsafe extern "system" fn create_mr(
    _pd: *mut NDK_PD,
    _fast_register: BOOLEAN,
    _completion: Option<NDK_FN_CREATE_COMPLETION>,
    _context: *mut c_void,
    _out: *mut *mut NDK_MR,
) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
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

unsafe extern "system" fn create_qp(
    _pd: *mut NDK_PD,
    _receive_cq: *mut NDK_CQ,
    _initiator_cq: *mut NDK_CQ,
    _qp_context: *mut c_void,
    _receive_depth: u32,
    _initiator_depth: u32,
    _max_receive_sge: u32,
    _max_initiator_sge: u32,
    _inline_size: u32,
    _completion: Option<NDK_FN_CREATE_COMPLETION>,
    _context: *mut c_void,
    _out: *mut *mut NDK_QP,
) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
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
