//! `NDK_ADAPTER_DISPATCH`: adapter info, the adapter's creates, and LAMs.
#![allow(unsafe_code)]

use core::ffi::c_void;
use core::ptr;

use crate::abi::upcall::{Context, CqNotification};
use crate::abi::{
    GROUP_AFFINITY, NDK_ADAPTER, NDK_ADAPTER_DISPATCH, NDK_ADAPTER_INFO,
    NDK_ADAPTER_INFO_SIZE_WITHOUT_RDMA_TECHNOLOGY, NDK_CQ, NDK_FN_CQ_NOTIFICATION_CALLBACK,
    NDK_FN_CREATE_COMPLETION, NDK_PD, NTSTATUS, STATUS_BUFFER_TOO_SMALL, STATUS_INVALID_PARAMETER,
    STATUS_SUCCESS,
};
use crate::verbs::{Adapter, Cq, Pd};

use super::create::{answer_on_adapter, creating};
use super::handle::borrow;
use super::{query_extension, read_size};

/// `NDK_ADAPTER_DISPATCH`.
pub static TABLE: NDK_ADAPTER_DISPATCH = NDK_ADAPTER_DISPATCH {
    NdkQueryExtension: query_extension,
    NdkQueryAdapterInfo: query_adapter_info,
    NdkCreateCq: create_cq,
    NdkCreatePd: create_pd,
    NdkCreateSharedEndpoint: super::connection::create_shared_endpoint,
    NdkCreateConnector: super::connection::create_connector,
    NdkCreateListener: super::connection::create_listener,
    NdkBuildLAM: super::lam::BUILD_LAM,
    NdkReleaseLAM: super::lam::RELEASE_LAM,
};

#[allow(clippy::cast_possible_truncation)] // 0x68
const FULL_INFO: u32 = size_of::<NDK_ADAPTER_INFO>() as u32;
#[allow(clippy::cast_possible_truncation)] // 0x60
const OLD_INFO: u32 = NDK_ADAPTER_INFO_SIZE_WITHOUT_RDMA_TECHNOLOGY as u32;

/// `NdkQueryAdapterInfo`. A buffer of at least 0x68 bytes gets the whole structure; one of at
/// least 0x60 bytes (consumers built before `RdmaTechnology` existed) gets everything up to
/// `AdapterFlags`; `*pBufferSize` says how much was written. A NULL `pInfo` or a smaller buffer
/// answers `STATUS_BUFFER_TOO_SMALL` with the full size. NULL adapter or size pointer:
/// `STATUS_INVALID_PARAMETER`.
unsafe extern "system" fn query_adapter_info(
    adapter: *mut NDK_ADAPTER,
    info: *mut NDK_ADAPTER_INFO,
    size: *mut u32,
) -> NTSTATUS {
    // SAFETY: NDK contract: `adapter` is an open adapter (or NULL), `size` NULL or writable.
    let (Some(adapter), Some(have)) = (unsafe { borrow::<Adapter>(adapter) }, unsafe {
        read_size(size)
    }) else {
        return STATUS_INVALID_PARAMETER;
    };
    let value = adapter.info();
    let written = if info.is_null() || have < OLD_INFO {
        // SAFETY: non-null (read above) and writable per the contract.
        unsafe { size.write_unaligned(FULL_INFO) };
        return STATUS_BUFFER_TOO_SMALL;
    } else {
        have.min(FULL_INFO)
    };
    // SAFETY: `info` is non-null and writable for `have` ≥ `written` bytes (the consumer's
    // buffer size); byte copy, so its alignment does not matter; `value` is a local.
    unsafe {
        ptr::copy_nonoverlapping(
            ptr::from_ref(&value).cast::<u8>(),
            info.cast::<u8>(),
            written as usize,
        );
    }
    // SAFETY: as above.
    unsafe { size.write_unaligned(written) };
    STATUS_SUCCESS
}

/// `NdkCreateCq`. Mandatory: adapter, `CqNotification`, `CreateCompletion`, `ppNdkCq`.
/// `Affinity` is a hint SoftNDK does not use. Completes inline, or pends ([`super::create`]).
unsafe extern "system" fn create_cq(
    adapter: *mut NDK_ADAPTER,
    depth: u32,
    notification: Option<NDK_FN_CQ_NOTIFICATION_CALLBACK>,
    notification_context: *mut c_void,
    _affinity: *const GROUP_AFFINITY,
    completion: Option<NDK_FN_CREATE_COMPLETION>,
    context: *mut c_void,
    out: *mut *mut NDK_CQ,
) -> NTSTATUS {
    // SAFETY: NDK contract for the adapter pointer.
    let (Some((adapter, completion)), Some(notification)) = (
        unsafe { creating::<Adapter, _>(adapter, completion, out) },
        notification,
    ) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: the consumer's notification callback, valid with its context until the CQ's close
    // completes (NdkCreateCq contract).
    let notify = unsafe { CqNotification::new(notification, Context::new(notification_context)) };
    // SAFETY: `out` checked non-null; writable per the contract; the consumer's completion.
    unsafe {
        answer_on_adapter(&adapter, completion, context, out, move |adapter| {
            Cq::create(adapter, depth, notify)
        })
    }
}

/// `NdkCreatePd`. Mandatory: adapter, `CreateCompletion`, `ppNdkPd`. Completes inline, or
/// pends ([`super::create`]).
unsafe extern "system" fn create_pd(
    adapter: *mut NDK_ADAPTER,
    completion: Option<NDK_FN_CREATE_COMPLETION>,
    context: *mut c_void,
    out: *mut *mut NDK_PD,
) -> NTSTATUS {
    // SAFETY: NDK contract for the adapter pointer.
    let Some((adapter, completion)) = (unsafe { creating::<Adapter, _>(adapter, completion, out) })
    else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: `out` checked non-null; writable per the contract; the consumer's completion.
    unsafe { answer_on_adapter(&adapter, completion, context, out, Pd::create) }
}
