//! CQ, SRQ and QP functions and tables (`spec/ndkpi.md` §2.2, §2.6, §2.7).

use core::ffi::c_void;

use super::{NDK_FN_CLOSE_OBJECT, NDK_FN_QUERY_EXTENSION_INTERFACE};
use crate::abi::callbacks::NDK_FN_REQUEST_COMPLETION;
use crate::abi::object::{NDK_CQ, NDK_MR, NDK_MW, NDK_OBJECT_HEADER, NDK_QP, NDK_SRQ};
use crate::abi::status::NTSTATUS;
use crate::abi::structs::{NDK_LOGICAL_ADDRESS, NDK_RESULT, NDK_RESULT_EX, NDK_SGE};

// ---- CQ (§2.2) -------------------------------------------------------------------------------

/// `NDK_FN_RESIZE_CQ` (≤ DISPATCH). Optional: `RequestContext`.
pub type NDK_FN_RESIZE_CQ = unsafe extern "system" fn(
    pNdkCq: *mut NDK_CQ,
    CqDepth: u32,
    RequestCompletion: Option<NDK_FN_REQUEST_COMPLETION>,
    RequestContext: *mut c_void,
) -> NTSTATUS;

/// `NDK_FN_ARM_CQ` (≤ DISPATCH): request one notification; `Type` is an `NDK_CQ_NOTIFY_*` value.
pub type NDK_FN_ARM_CQ = unsafe extern "system" fn(pNdkCq: *mut NDK_CQ, Type: u32);

/// `NDK_FN_GET_CQ_RESULTS` (≤ DISPATCH): dequeue up to `nResults`; returns how many.
pub type NDK_FN_GET_CQ_RESULTS =
    unsafe extern "system" fn(pNdkCq: *mut NDK_CQ, Results: *mut NDK_RESULT, nResults: u32) -> u32;

/// `NDK_FN_GET_CQ_RESULTS_EX` (≤ DISPATCH, NDK 1.2): as above with `NDK_RESULT_EX`.
pub type NDK_FN_GET_CQ_RESULTS_EX = unsafe extern "system" fn(
    pNdkCq: *mut NDK_CQ,
    Results: *mut NDK_RESULT_EX,
    nResults: u32,
) -> u32;

/// `NDK_FN_CONTROL_CQ_INTERRUPT_MODERATION` (≤ DISPATCH): synchronous, never pends.
pub type NDK_FN_CONTROL_CQ_INTERRUPT_MODERATION = unsafe extern "system" fn(
    pNdkCq: *mut NDK_CQ,
    ModerationInterval: u32,
    ModerationCount: u32,
) -> NTSTATUS;

/// `NDK_CQ_DISPATCH`: 7 slots, x64 0x38.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDK_CQ_DISPATCH {
    /// Slot 1 (0x00).
    pub NdkCloseCq: NDK_FN_CLOSE_OBJECT,
    /// Slot 2 (0x08).
    pub NdkQueryExtension: NDK_FN_QUERY_EXTENSION_INTERFACE,
    /// Slot 3 (0x10).
    pub NdkResizeCq: NDK_FN_RESIZE_CQ,
    /// Slot 4 (0x18).
    pub NdkArmCq: NDK_FN_ARM_CQ,
    /// Slot 5 (0x20).
    pub NdkGetCqResults: NDK_FN_GET_CQ_RESULTS,
    /// Slot 6 (0x28).
    pub NdkControlCqInterruptModeration: NDK_FN_CONTROL_CQ_INTERRUPT_MODERATION,
    /// Slot 7 (0x30), NDK 1.2.
    pub NdkGetCqResultsEx: NDK_FN_GET_CQ_RESULTS_EX,
}

// ---- SRQ (§2.6) ------------------------------------------------------------------------------

/// `NDK_FN_MODIFY_SRQ` (≤ DISPATCH). Optional: `RequestContext`.
pub type NDK_FN_MODIFY_SRQ = unsafe extern "system" fn(
    pNdkSrq: *mut NDK_SRQ,
    SrqDepth: u32,
    NotifyThreshold: u32,
    RequestCompletion: Option<NDK_FN_REQUEST_COMPLETION>,
    RequestContext: *mut c_void,
) -> NTSTATUS;

/// `NDK_FN_SRQ_RECEIVE` (≤ DISPATCH): post a receive to the SRQ. Optional: `RequestContext`.
pub type NDK_FN_SRQ_RECEIVE = unsafe extern "system" fn(
    pNdkSrq: *mut NDK_SRQ,
    RequestContext: *mut c_void,
    pSgl: *const NDK_SGE,
    nSge: u32,
) -> NTSTATUS;

/// `NDK_SRQ_DISPATCH`: 4 slots, x64 0x20.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDK_SRQ_DISPATCH {
    /// Slot 1 (0x00).
    pub NdkCloseSrq: NDK_FN_CLOSE_OBJECT,
    /// Slot 2 (0x08).
    pub NdkQueryExtension: NDK_FN_QUERY_EXTENSION_INTERFACE,
    /// Slot 3 (0x10).
    pub NdkModifySrq: NDK_FN_MODIFY_SRQ,
    /// Slot 4 (0x18).
    pub NdkSrqReceive: NDK_FN_SRQ_RECEIVE,
}

// ---- QP (§2.7) -------------------------------------------------------------------------------

/// `NDK_FN_FLUSH` (≤ DISPATCH): cancel everything outstanding on the QP.
pub type NDK_FN_FLUSH = unsafe extern "system" fn(pNdkQp: *mut NDK_QP);

/// `NDK_FN_SEND` (≤ DISPATCH): `Flags` ⊆ `VALID_SEND_FLAGS`. Optional: `RequestContext`.
pub type NDK_FN_SEND = unsafe extern "system" fn(
    pNdkQp: *mut NDK_QP,
    RequestContext: *mut c_void,
    pSgl: *const NDK_SGE,
    nSge: u32,
    Flags: u32,
) -> NTSTATUS;

/// `NDK_FN_RECEIVE` (≤ DISPATCH). Optional: `RequestContext`.
pub type NDK_FN_RECEIVE = unsafe extern "system" fn(
    pNdkQp: *mut NDK_QP,
    RequestContext: *mut c_void,
    pSgl: *const NDK_SGE,
    nSge: u32,
) -> NTSTATUS;

/// `NDK_FN_BIND` (≤ DISPATCH): `Flags` ⊆ `VALID_BIND_FLAGS`. Optional: `RequestContext`.
pub type NDK_FN_BIND = unsafe extern "system" fn(
    pNdkQp: *mut NDK_QP,
    RequestContext: *mut c_void,
    pMr: *mut NDK_MR,
    pMw: *mut NDK_MW,
    VirtualAddress: *mut c_void,
    Length: usize,
    Flags: u32,
) -> NTSTATUS;

/// `NDK_FN_FAST_REGISTER` (≤ DISPATCH): `Flags` ⊆ `VALID_FAST_REGISTER_FLAGS`.
/// Optional: `RequestContext`.
pub type NDK_FN_FAST_REGISTER = unsafe extern "system" fn(
    pNdkQp: *mut NDK_QP,
    RequestContext: *mut c_void,
    pMr: *mut NDK_MR,
    AdapterPageCount: u32,
    AdapterPageArray: *const NDK_LOGICAL_ADDRESS,
    FBO: u32,
    Length: usize,
    BaseVirtualAddress: *mut c_void,
    Flags: u32,
) -> NTSTATUS;

/// `NDK_FN_INVALIDATE` (≤ DISPATCH): `pNdkMrOrMw` is an MR's or MW's header; `Flags` ⊆
/// `VALID_INVALIDATE_FLAGS`. Optional: `RequestContext`.
pub type NDK_FN_INVALIDATE = unsafe extern "system" fn(
    pNdkQp: *mut NDK_QP,
    RequestContext: *mut c_void,
    pNdkMrOrMw: *mut NDK_OBJECT_HEADER,
    Flags: u32,
) -> NTSTATUS;

/// `NDK_FN_READ` (≤ DISPATCH): `Flags` ⊆ `VALID_READ_FLAGS`. Optional: `RequestContext`.
pub type NDK_FN_READ = unsafe extern "system" fn(
    pNdkQp: *mut NDK_QP,
    RequestContext: *mut c_void,
    pSgl: *const NDK_SGE,
    nSge: u32,
    RemoteAddress: u64,
    RemoteToken: u32,
    Flags: u32,
) -> NTSTATUS;

/// `NDK_FN_WRITE` (≤ DISPATCH): `Flags` ⊆ `VALID_WRITE_FLAGS`. Optional: `RequestContext`.
pub type NDK_FN_WRITE = unsafe extern "system" fn(
    pNdkQp: *mut NDK_QP,
    RequestContext: *mut c_void,
    pSgl: *const NDK_SGE,
    nSge: u32,
    RemoteAddress: u64,
    RemoteToken: u32,
    Flags: u32,
) -> NTSTATUS;

/// `NDK_FN_SEND_AND_INVALIDATE` (≤ DISPATCH, NDK 1.2): note `Flags` comes **before**
/// `RemoteToken`. Optional: `RequestContext`.
pub type NDK_FN_SEND_AND_INVALIDATE = unsafe extern "system" fn(
    pNdkQp: *mut NDK_QP,
    RequestContext: *mut c_void,
    pSgl: *const NDK_SGE,
    nSge: u32,
    Flags: u32,
    RemoteToken: u32,
) -> NTSTATUS;

/// `NDK_QP_DISPATCH`: 11 slots, x64 0x58.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDK_QP_DISPATCH {
    /// Slot 1 (0x00).
    pub NdkCloseQp: NDK_FN_CLOSE_OBJECT,
    /// Slot 2 (0x08).
    pub NdkQueryExtension: NDK_FN_QUERY_EXTENSION_INTERFACE,
    /// Slot 3 (0x10).
    pub NdkFlush: NDK_FN_FLUSH,
    /// Slot 4 (0x18).
    pub NdkSend: NDK_FN_SEND,
    /// Slot 5 (0x20).
    pub NdkReceive: NDK_FN_RECEIVE,
    /// Slot 6 (0x28).
    pub NdkBind: NDK_FN_BIND,
    /// Slot 7 (0x30).
    pub NdkFastRegister: NDK_FN_FAST_REGISTER,
    /// Slot 8 (0x38).
    pub NdkInvalidate: NDK_FN_INVALIDATE,
    /// Slot 9 (0x40).
    pub NdkRead: NDK_FN_READ,
    /// Slot 10 (0x48).
    pub NdkWrite: NDK_FN_WRITE,
    /// Slot 11 (0x50), NDK 1.2.
    pub NdkSendAndInvalidate: NDK_FN_SEND_AND_INVALIDATE,
}
