//! `NDK_MR_DISPATCH` and `NDK_MW_DISPATCH`.
#![allow(unsafe_code)]

use core::ffi::c_void;

use crate::abi::{
    BOOLEAN, MDL, NDK_FN_REQUEST_COMPLETION, NDK_MR, NDK_MR_DISPATCH, NTSTATUS,
    STATUS_INVALID_PARAMETER, STATUS_SUCCESS, mr_flags_valid,
};
use crate::verbs::Mr;

use super::handle::borrow;
use super::mdl::region_from_mdl;
use super::{close_object, query_extension};

/// `NDK_MR_DISPATCH`.
pub static MR_TABLE: NDK_MR_DISPATCH = NDK_MR_DISPATCH {
    NdkCloseMr: close_object::<Mr>,
    NdkQueryExtension: query_extension,
    NdkRegisterMr: register_mr,
    NdkDeregisterMr: deregister_mr,
    NdkInitializeFastRegisterMr: initialize_fast_register_mr,
    NdkGetRemoteTokenFromMr: get_token,
    NdkGetLocalTokenFromMr: get_token,
};

const fn status(r: Result<(), NTSTATUS>) -> NTSTATUS {
    match r {
        Ok(()) => STATUS_SUCCESS,
        Err(s) => s,
    }
}

/// `NdkRegisterMr`: completes inline. Mandatory: MR, MDL, `RequestCompletion` (never called);
/// `Flags` must be a combination of `NDK_MR_FLAG_*` (`RDMA_READ_SINK` is accepted and not
/// needed). Length 0, above `MaxRegistrationSize`, or beyond the MDL chain:
/// `STATUS_INVALID_PARAMETER`.
unsafe extern "system" fn register_mr(
    mr: *mut NDK_MR,
    mdl: *mut MDL,
    length: usize,
    flags: u32,
    completion: Option<NDK_FN_REQUEST_COMPLETION>,
    _context: *mut c_void,
) -> NTSTATUS {
    // SAFETY: NDK contract for the MR pointer.
    let Some(mr) = (unsafe { borrow::<Mr>(mr) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    if completion.is_none() || !mr_flags_valid(flags) {
        return STATUS_INVALID_PARAMETER;
    }
    if mr.is_fast() {
        return crate::abi::STATUS_INVALID_DEVICE_STATE;
    }
    if length > mr.pd().adapter().limits().max_registration_size {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: the consumer's MDL chain describes locked memory it leaves to the provider while
    // registered (NdkRegisterMr contract).
    let (region, base) = match unsafe { region_from_mdl(mdl, length) } {
        Ok(r) => r,
        Err(s) => return s,
    };
    status(mr.register(region, base, flags))
}

/// `NdkDeregisterMr`: completes inline. Mandatory: MR, `RequestCompletion` (never called).
unsafe extern "system" fn deregister_mr(
    mr: *mut NDK_MR,
    completion: Option<NDK_FN_REQUEST_COMPLETION>,
    _context: *mut c_void,
) -> NTSTATUS {
    // SAFETY: NDK contract for the MR pointer.
    let Some(mr) = (unsafe { borrow::<Mr>(mr) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    if completion.is_none() {
        return STATUS_INVALID_PARAMETER;
    }
    status(mr.deregister())
}

/// `NdkInitializeFastRegisterMr`: completes inline.
unsafe extern "system" fn initialize_fast_register_mr(
    mr: *mut NDK_MR,
    pages: u32,
    remote: BOOLEAN,
    completion: Option<NDK_FN_REQUEST_COMPLETION>,
    _context: *mut c_void,
) -> NTSTATUS {
    // SAFETY: NDK contract for the MR pointer.
    let Some(mr) = (unsafe { borrow::<Mr>(mr) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    if completion.is_none() {
        return STATUS_INVALID_PARAMETER;
    }
    status(mr.initialize_fast_register(pages, remote != 0))
}

/// `NdkGetLocalTokenFromMr` / `NdkGetRemoteTokenFromMr` (one token serves both); 0 for NULL.
unsafe extern "system" fn get_token(mr: *mut NDK_MR) -> u32 {
    // SAFETY: NDK contract for the MR pointer.
    unsafe { borrow::<Mr>(mr) }.map_or(0, |mr| mr.token())
}
