//! Protection domain, memory region and memory window functions and tables (`spec/ndkpi.md`
//! §2.3–§2.5).

use core::ffi::c_void;

use super::{NDK_FN_CLOSE_OBJECT, NDK_FN_QUERY_EXTENSION_INTERFACE};
use crate::abi::callbacks::{
    NDK_FN_CREATE_COMPLETION, NDK_FN_REQUEST_COMPLETION, NDK_FN_SRQ_NOTIFICATION_CALLBACK,
};
use crate::abi::object::{NDK_CQ, NDK_MR, NDK_MW, NDK_PD, NDK_QP, NDK_SRQ};
use crate::abi::status::NTSTATUS;
use crate::abi::win::{BOOLEAN, GROUP_AFFINITY, MDL};

// ---- PD (§2.3) -------------------------------------------------------------------------------

/// `NDK_FN_CREATE_MR` (≤ DISPATCH). `FastRegister` is a `BOOLEAN`. Optional: `RequestContext`.
pub type NDK_FN_CREATE_MR = unsafe extern "system" fn(
    pNdkPd: *mut NDK_PD,
    FastRegister: BOOLEAN,
    CreateCompletion: Option<NDK_FN_CREATE_COMPLETION>,
    RequestContext: *mut c_void,
    ppNdkMr: *mut *mut NDK_MR,
) -> NTSTATUS;

/// `NDK_FN_CREATE_MW` (≤ DISPATCH). Optional: `RequestContext`.
pub type NDK_FN_CREATE_MW = unsafe extern "system" fn(
    pNdkPd: *mut NDK_PD,
    CreateCompletion: Option<NDK_FN_CREATE_COMPLETION>,
    RequestContext: *mut c_void,
    ppNdkMw: *mut *mut NDK_MW,
) -> NTSTATUS;

/// `NDK_FN_CREATE_SRQ` (≤ DISPATCH). Optional: `SrqNotification`, `SrqNotificationContext`,
/// `Affinity`, `RequestContext`.
pub type NDK_FN_CREATE_SRQ = unsafe extern "system" fn(
    pNdkPd: *mut NDK_PD,
    SrqDepth: u32,
    MaxReceiveRequestSge: u32,
    NotifyThreshold: u32,
    SrqNotification: Option<NDK_FN_SRQ_NOTIFICATION_CALLBACK>,
    SrqNotificationContext: *mut c_void,
    Affinity: *const GROUP_AFFINITY,
    CreateCompletion: Option<NDK_FN_CREATE_COMPLETION>,
    RequestContext: *mut c_void,
    ppNdkSrq: *mut *mut NDK_SRQ,
) -> NTSTATUS;

/// `NDK_FN_CREATE_QP` (≤ DISPATCH). Optional: `QPContext`, `RequestContext`.
pub type NDK_FN_CREATE_QP = unsafe extern "system" fn(
    pNdkPd: *mut NDK_PD,
    pReceiveCq: *mut NDK_CQ,
    pInitiatorCq: *mut NDK_CQ,
    QPContext: *mut c_void,
    ReceiveQueueDepth: u32,
    InitiatorQueueDepth: u32,
    MaxReceiveRequestSge: u32,
    MaxInitiatorRequestSge: u32,
    InlineDataSize: u32,
    CreateCompletion: Option<NDK_FN_CREATE_COMPLETION>,
    RequestContext: *mut c_void,
    ppNdkQp: *mut *mut NDK_QP,
) -> NTSTATUS;

/// `NDK_FN_CREATE_QP_WITH_SRQ` (≤ DISPATCH). Optional: `QPContext`, `RequestContext`.
pub type NDK_FN_CREATE_QP_WITH_SRQ = unsafe extern "system" fn(
    pNdkPd: *mut NDK_PD,
    pReceiveCq: *mut NDK_CQ,
    pInitiatorCq: *mut NDK_CQ,
    pSrq: *mut NDK_SRQ,
    QPContext: *mut c_void,
    InitiatorQueueDepth: u32,
    MaxInitiatorRequestSge: u32,
    InlineDataSize: u32,
    CreateCompletion: Option<NDK_FN_CREATE_COMPLETION>,
    RequestContext: *mut c_void,
    ppNdkQp: *mut *mut NDK_QP,
) -> NTSTATUS;

/// `NDK_FN_GET_PRIVILEGED_MEMORY_REGION_TOKEN` (≤ DISPATCH): the PD's local-only privileged token.
pub type NDK_FN_GET_PRIVILEGED_MEMORY_REGION_TOKEN =
    unsafe extern "system" fn(pNdkPd: *mut NDK_PD, pToken: *mut u32);

/// `NDK_PD_DISPATCH`: 8 slots, x64 0x40.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDK_PD_DISPATCH {
    /// Slot 1 (0x00).
    pub NdkClosePd: NDK_FN_CLOSE_OBJECT,
    /// Slot 2 (0x08).
    pub NdkQueryExtension: NDK_FN_QUERY_EXTENSION_INTERFACE,
    /// Slot 3 (0x10).
    pub NdkCreateMr: NDK_FN_CREATE_MR,
    /// Slot 4 (0x18).
    pub NdkCreateMw: NDK_FN_CREATE_MW,
    /// Slot 5 (0x20).
    pub NdkCreateSrq: NDK_FN_CREATE_SRQ,
    /// Slot 6 (0x28).
    pub NdkCreateQp: NDK_FN_CREATE_QP,
    /// Slot 7 (0x30).
    pub NdkCreateQpWithSrq: NDK_FN_CREATE_QP_WITH_SRQ,
    /// Slot 8 (0x38).
    pub NdkGetPrivilegedMemoryRegionToken: NDK_FN_GET_PRIVILEGED_MEMORY_REGION_TOKEN,
}

// ---- MR (§2.4) -------------------------------------------------------------------------------

/// `NDK_FN_REGISTER_MR` (≤ DISPATCH): `Flags` = `NDK_MR_FLAG_*`. Optional: `RequestContext`.
pub type NDK_FN_REGISTER_MR = unsafe extern "system" fn(
    pNdkMr: *mut NDK_MR,
    Mdl: *mut MDL,
    Length: usize,
    Flags: u32,
    RequestCompletion: Option<NDK_FN_REQUEST_COMPLETION>,
    RequestContext: *mut c_void,
) -> NTSTATUS;

/// `NDK_FN_DEREGISTER_MR` (≤ DISPATCH). Optional: `RequestContext`.
pub type NDK_FN_DEREGISTER_MR = unsafe extern "system" fn(
    pNdkMr: *mut NDK_MR,
    RequestCompletion: Option<NDK_FN_REQUEST_COMPLETION>,
    RequestContext: *mut c_void,
) -> NTSTATUS;

/// `NDK_FN_INITIALIZE_FAST_REGISTER_MR` (≤ DISPATCH). `RemoteAccess` is a `BOOLEAN`.
/// Optional: `RequestContext`.
pub type NDK_FN_INITIALIZE_FAST_REGISTER_MR = unsafe extern "system" fn(
    pNdkMr: *mut NDK_MR,
    AdapterPageCount: u32,
    RemoteAccess: BOOLEAN,
    RequestCompletion: Option<NDK_FN_REQUEST_COMPLETION>,
    RequestContext: *mut c_void,
) -> NTSTATUS;

/// `NDK_FN_GET_REMOTE_TOKEN_FROM_MR` (≤ DISPATCH).
pub type NDK_FN_GET_REMOTE_TOKEN_FROM_MR = unsafe extern "system" fn(pNdkMr: *mut NDK_MR) -> u32;

/// `NDK_FN_GET_LOCAL_TOKEN_FROM_MR` (≤ DISPATCH).
pub type NDK_FN_GET_LOCAL_TOKEN_FROM_MR = unsafe extern "system" fn(pNdkMr: *mut NDK_MR) -> u32;

/// `NDK_MR_DISPATCH`: 7 slots, x64 0x38.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDK_MR_DISPATCH {
    /// Slot 1 (0x00).
    pub NdkCloseMr: NDK_FN_CLOSE_OBJECT,
    /// Slot 2 (0x08).
    pub NdkQueryExtension: NDK_FN_QUERY_EXTENSION_INTERFACE,
    /// Slot 3 (0x10).
    pub NdkRegisterMr: NDK_FN_REGISTER_MR,
    /// Slot 4 (0x18).
    pub NdkDeregisterMr: NDK_FN_DEREGISTER_MR,
    /// Slot 5 (0x20).
    pub NdkInitializeFastRegisterMr: NDK_FN_INITIALIZE_FAST_REGISTER_MR,
    /// Slot 6 (0x28).
    pub NdkGetRemoteTokenFromMr: NDK_FN_GET_REMOTE_TOKEN_FROM_MR,
    /// Slot 7 (0x30).
    pub NdkGetLocalTokenFromMr: NDK_FN_GET_LOCAL_TOKEN_FROM_MR,
}

// ---- MW (§2.5) -------------------------------------------------------------------------------

/// `NDK_FN_GET_REMOTE_TOKEN_FROM_MW` (≤ DISPATCH).
pub type NDK_FN_GET_REMOTE_TOKEN_FROM_MW = unsafe extern "system" fn(pNdkMw: *mut NDK_MW) -> u32;

/// `NDK_MW_DISPATCH`: 3 slots, x64 0x18.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDK_MW_DISPATCH {
    /// Slot 1 (0x00).
    pub NdkCloseMw: NDK_FN_CLOSE_OBJECT,
    /// Slot 2 (0x08).
    pub NdkQueryExtension: NDK_FN_QUERY_EXTENSION_INTERFACE,
    /// Slot 3 (0x10).
    pub NdkGetRemoteTokenFromMw: NDK_FN_GET_REMOTE_TOKEN_FROM_MW,
}
