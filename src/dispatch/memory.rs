//! `NDK_MR_DISPATCH`. `NdkRegisterMr`, `NdkDeregisterMr` and `NdkInitializeFastRegisterMr`
//! complete inline or, on an adapter that pends requests, through the request completion
//! ([`request`]); every argument check is answered inline first.
#![allow(unsafe_code)]

use core::ffi::c_void;

use crate::abi::{
    BOOLEAN, MDL, NDK_FN_REQUEST_COMPLETION, NDK_MR, NDK_MR_DISPATCH, NTSTATUS,
    STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER, mr_flags_valid,
};
use crate::verbs::Mr;

use super::handle::borrow;
use super::mdl::region_from_mdl;
use super::request;
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

/// `NdkRegisterMr`. Mandatory: MR, MDL, `RequestCompletion`; `Flags` must be a combination of
/// `NDK_MR_FLAG_*` (`RDMA_READ_SINK` is accepted and not needed). Length 0, above
/// `MaxRegistrationSize`, or beyond the MDL chain: `STATUS_INVALID_PARAMETER`; a fast-register
/// MR: `STATUS_INVALID_DEVICE_STATE`. These are answered inline; the registration itself
/// completes inline, or pends ([`request::answer`]) with the MDL chain already read, so the
/// deferred work never touches the consumer's MDL. An MR already registered gets
/// `STATUS_INVALID_DEVICE_STATE` from the registration (through the completion if it pends).
unsafe extern "system" fn register_mr(
    mr: *mut NDK_MR,
    mdl: *mut MDL,
    length: usize,
    flags: u32,
    completion: Option<NDK_FN_REQUEST_COMPLETION>,
    context: *mut c_void,
) -> NTSTATUS {
    // SAFETY: NDK contract for the MR pointer.
    let Some(mr) = (unsafe { borrow::<Mr>(mr) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    let Some(completion) = completion.filter(|_| mr_flags_valid(flags)) else {
        return STATUS_INVALID_PARAMETER;
    };
    if mr.is_fast() {
        return STATUS_INVALID_DEVICE_STATE;
    }
    let adapter = mr.pd().adapter();
    if length > adapter.limits().max_registration_size {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: the consumer's MDL chain describes locked memory it leaves to the provider while
    // registered (NdkRegisterMr contract).
    let (region, base) = match unsafe { region_from_mdl(mdl, length) } {
        Ok(r) => r,
        Err(s) => return s,
    };
    // SAFETY: the consumer's completion for this call (NdkRegisterMr contract).
    unsafe {
        request::answer(adapter, &mr, completion, context, move |mr| {
            mr.register(region, base, flags)
        })
    }
}

/// `NdkDeregisterMr`. Mandatory: MR, `RequestCompletion`; a fast-register MR:
/// `STATUS_INVALID_DEVICE_STATE` (inline). Completes inline or pends ([`request::answer`]);
/// an MR that is not registered gets the deregistration's failure status (through the
/// completion if it pends).
unsafe extern "system" fn deregister_mr(
    mr: *mut NDK_MR,
    completion: Option<NDK_FN_REQUEST_COMPLETION>,
    context: *mut c_void,
) -> NTSTATUS {
    // SAFETY: NDK contract for the MR pointer.
    let Some(mr) = (unsafe { borrow::<Mr>(mr) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    let Some(completion) = completion else {
        return STATUS_INVALID_PARAMETER;
    };
    if mr.is_fast() {
        return STATUS_INVALID_DEVICE_STATE;
    }
    // SAFETY: the consumer's completion for this call (NdkDeregisterMr contract).
    unsafe {
        request::answer(mr.pd().adapter(), &mr, completion, context, |mr| {
            mr.deregister()
        })
    }
}

/// `NdkInitializeFastRegisterMr`. Mandatory: MR, `RequestCompletion`; an MR not created for
/// fast registration: `STATUS_INVALID_DEVICE_STATE`; 0 pages: `STATUS_INVALID_PARAMETER`; more
/// than `FRMRPageCount`: `STATUS_IMPLEMENTATION_LIMIT`. These are answered inline; the
/// preparation completes inline or pends ([`request::answer`]).
unsafe extern "system" fn initialize_fast_register_mr(
    mr: *mut NDK_MR,
    pages: u32,
    remote: BOOLEAN,
    completion: Option<NDK_FN_REQUEST_COMPLETION>,
    context: *mut c_void,
) -> NTSTATUS {
    // SAFETY: NDK contract for the MR pointer.
    let Some(mr) = (unsafe { borrow::<Mr>(mr) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    let Some(completion) = completion else {
        return STATUS_INVALID_PARAMETER;
    };
    if let Err(status) = mr.check_fast_register_init(pages) {
        return status;
    }
    let adapter = mr.pd().adapter();
    let remote = remote != 0;
    // SAFETY: the consumer's completion for this call (NdkInitializeFastRegisterMr contract).
    unsafe {
        request::answer(adapter, &mr, completion, context, move |mr| {
            mr.initialize_fast_register(pages, remote)
        })
    }
}

/// `NdkGetLocalTokenFromMr` / `NdkGetRemoteTokenFromMr` (one token serves both); 0 for NULL.
unsafe extern "system" fn get_token(mr: *mut NDK_MR) -> u32 {
    // SAFETY: NDK contract for the MR pointer.
    unsafe { borrow::<Mr>(mr) }.map_or(0, |mr| mr.token())
}
