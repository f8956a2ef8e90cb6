//! Provider function types (`NDK_FN_*`) and the ten dispatch tables, in exact slot order
//! (`spec/ndkpi.md` §2).
//!
//! Conventions, chosen so the dispatch layer can validate instead of suffering UB:
//! * Slots are non-nullable `unsafe extern "system" fn`: `SoftNDK` fills every slot.
//! * Every function pointer a provider function *receives* from a consumer is
//!   `Option<NDK_FN_...>`, for `_In_opt_` **and** `_In_` parameters. A null in a non-`Option` fn
//!   pointer is immediate undefined behaviour in Rust, so a buggy consumer passing NULL for a
//!   mandatory callback must be representable; the dispatch layer rejects `None` for `_In_`
//!   parameters with `STATUS_INVALID_PARAMETER`. `Option<fn>` is ABI-identical to a C function
//!   pointer (guaranteed null-pointer optimisation).
//! * `BOOLEAN` is `u8`, never `bool`; enums are newtypes; `CONST PSOCKADDR` / `CONST PVOID` /
//!   `CONST NDK_SGE*` inputs are `*const` (ABI-identical to C's `T * const`).
//! * Each doc line gives the C typedef, the IRQL bound, and which parameters are optional.

use core::ffi::c_void;

use super::callbacks::{
    NDK_FN_CLOSE_COMPLETION, NDK_FN_CONNECT_EVENT_CALLBACK, NDK_FN_CQ_NOTIFICATION_CALLBACK,
    NDK_FN_CREATE_COMPLETION, NDK_FN_DISCONNECT_EVENT_CALLBACK,
    NDK_FN_DISCONNECT_EVENT_CALLBACK_EX, NDK_FN_REQUEST_COMPLETION,
    NDK_FN_SRQ_NOTIFICATION_CALLBACK,
};
use super::object::{
    NDK_ADAPTER, NDK_CONNECTOR, NDK_CQ, NDK_LISTENER, NDK_MR, NDK_MW, NDK_OBJECT_HEADER, NDK_PD,
    NDK_QP, NDK_SHARED_ENDPOINT, NDK_SRQ,
};
use super::status::NTSTATUS;
use super::structs::{
    NDK_ADAPTER_INFO, NDK_EXTENSION_INTERFACE, NDK_LOGICAL_ADDRESS, NDK_LOGICAL_ADDRESS_MAPPING,
    NDK_RESULT, NDK_RESULT_EX, NDK_SGE,
};
use super::version::NDK_VERSION;
use super::win::{BOOLEAN, GROUP_AFFINITY, GUID, MDL, SOCKADDR};

// ---- Common to every table (§2.A) ----------------------------------------------------------

/// `NDK_FN_CLOSE_OBJECT` (≤ DISPATCH): start closing; `STATUS_SUCCESS` (done, no callback) or
/// `STATUS_PENDING` (`CloseCompletion` called once later). `RequestContext` optional.
pub type NDK_FN_CLOSE_OBJECT = unsafe extern "system" fn(
    pNdkObject: *mut NDK_OBJECT_HEADER,
    CloseCompletion: Option<NDK_FN_CLOSE_COMPLETION>,
    RequestContext: *mut c_void,
) -> NTSTATUS;

/// `NDK_FN_QUERY_EXTENSION_INTERFACE` (≤ DISPATCH): look up an extension by GUID and version;
/// `SoftNDK` has none (`STATUS_NOT_SUPPORTED`).
pub type NDK_FN_QUERY_EXTENSION_INTERFACE = unsafe extern "system" fn(
    pNdkObject: *mut NDK_OBJECT_HEADER,
    ExtensionInterfaceID: *const GUID,
    ExtensionInterfaceVersion: NDK_VERSION,
    pExtensionInterface: *mut NDK_EXTENSION_INTERFACE,
) -> NTSTATUS;

// ---- Adapter (§2.1) --------------------------------------------------------------------------

/// `NDK_FN_QUERY_ADAPTER_INFO` (PASSIVE): fill `pInfo` (optional: size probe); `*pBufferSize` in =
/// buffer bytes, out = bytes written / required.
pub type NDK_FN_QUERY_ADAPTER_INFO = unsafe extern "system" fn(
    pNdkAdapter: *mut NDK_ADAPTER,
    pInfo: *mut NDK_ADAPTER_INFO,
    pBufferSize: *mut u32,
) -> NTSTATUS;

/// `NDK_FN_CREATE_CQ` (≤ DISPATCH). Optional: `CqNotificationContext`, `Affinity`,
/// `RequestContext`.
pub type NDK_FN_CREATE_CQ = unsafe extern "system" fn(
    pNdkAdapter: *mut NDK_ADAPTER,
    CqDepth: u32,
    CqNotification: Option<NDK_FN_CQ_NOTIFICATION_CALLBACK>,
    CqNotificationContext: *mut c_void,
    Affinity: *const GROUP_AFFINITY,
    CreateCompletion: Option<NDK_FN_CREATE_COMPLETION>,
    RequestContext: *mut c_void,
    ppNdkCq: *mut *mut NDK_CQ,
) -> NTSTATUS;

/// `NDK_FN_CREATE_PD` (≤ DISPATCH). Optional: `RequestContext`.
pub type NDK_FN_CREATE_PD = unsafe extern "system" fn(
    pNdkAdapter: *mut NDK_ADAPTER,
    CreateCompletion: Option<NDK_FN_CREATE_COMPLETION>,
    RequestContext: *mut c_void,
    ppNdkPd: *mut *mut NDK_PD,
) -> NTSTATUS;

/// `NDK_FN_CREATE_SHARED_ENDPOINT` (≤ DISPATCH). Optional: `RequestContext`.
pub type NDK_FN_CREATE_SHARED_ENDPOINT = unsafe extern "system" fn(
    pNdkAdapter: *mut NDK_ADAPTER,
    pAddress: *const SOCKADDR,
    AddressLength: u32,
    CreateCompletion: Option<NDK_FN_CREATE_COMPLETION>,
    RequestContext: *mut c_void,
    ppNdkSharedEndpoint: *mut *mut NDK_SHARED_ENDPOINT,
) -> NTSTATUS;

/// `NDK_FN_CREATE_CONNECTOR` (≤ DISPATCH). Optional: `RequestContext`.
pub type NDK_FN_CREATE_CONNECTOR = unsafe extern "system" fn(
    pNdkAdapter: *mut NDK_ADAPTER,
    CreateCompletion: Option<NDK_FN_CREATE_COMPLETION>,
    RequestContext: *mut c_void,
    ppNdkConnector: *mut *mut NDK_CONNECTOR,
) -> NTSTATUS;

/// `NDK_FN_CREATE_LISTENER` (≤ DISPATCH). Optional: `ConnectEventContext`, `RequestContext`.
pub type NDK_FN_CREATE_LISTENER = unsafe extern "system" fn(
    pNdkAdapter: *mut NDK_ADAPTER,
    ConnectEvent: Option<NDK_FN_CONNECT_EVENT_CALLBACK>,
    ConnectEventContext: *mut c_void,
    CreateCompletion: Option<NDK_FN_CREATE_COMPLETION>,
    RequestContext: *mut c_void,
    ppNdkListener: *mut *mut NDK_LISTENER,
) -> NTSTATUS;

/// `NDK_FN_BUILD_LAM` (≤ DISPATCH). Optional: `RequestCompletion` (header `_In_opt_`; docs say
/// `[in]`), `RequestContext`, `pNdkLAM` (size probe). `*pLAMSize` in/out bytes; `*pFBO` out.
pub type NDK_FN_BUILD_LAM = unsafe extern "system" fn(
    pNdkAdapter: *mut NDK_ADAPTER,
    Mdl: *mut MDL,
    Length: usize,
    RequestCompletion: Option<NDK_FN_REQUEST_COMPLETION>,
    RequestContext: *mut c_void,
    pNdkLAM: *mut NDK_LOGICAL_ADDRESS_MAPPING,
    pLAMSize: *mut u32,
    pFBO: *mut u32,
) -> NTSTATUS;

/// `NDK_FN_RELEASE_LAM` (≤ DISPATCH): free a LAM built by `NdkBuildLAM`; synchronous.
pub type NDK_FN_RELEASE_LAM = unsafe extern "system" fn(
    pNdkAdapter: *mut NDK_ADAPTER,
    pNdkLAM: *mut NDK_LOGICAL_ADDRESS_MAPPING,
);

/// `NDK_ADAPTER_DISPATCH`: 9 slots, x64 0x48. No close slot: the adapter is closed by the NDIS
/// `CloseNDKAdapterHandler`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDK_ADAPTER_DISPATCH {
    /// Slot 1 (0x00).
    pub NdkQueryExtension: NDK_FN_QUERY_EXTENSION_INTERFACE,
    /// Slot 2 (0x08).
    pub NdkQueryAdapterInfo: NDK_FN_QUERY_ADAPTER_INFO,
    /// Slot 3 (0x10).
    pub NdkCreateCq: NDK_FN_CREATE_CQ,
    /// Slot 4 (0x18).
    pub NdkCreatePd: NDK_FN_CREATE_PD,
    /// Slot 5 (0x20).
    pub NdkCreateSharedEndpoint: NDK_FN_CREATE_SHARED_ENDPOINT,
    /// Slot 6 (0x28).
    pub NdkCreateConnector: NDK_FN_CREATE_CONNECTOR,
    /// Slot 7 (0x30).
    pub NdkCreateListener: NDK_FN_CREATE_LISTENER,
    /// Slot 8 (0x38).
    pub NdkBuildLAM: NDK_FN_BUILD_LAM,
    /// Slot 9 (0x40).
    pub NdkReleaseLAM: NDK_FN_RELEASE_LAM,
}

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

// ---- Shared endpoint (§2.8) ------------------------------------------------------------------

/// `NDK_FN_GET_SHARED_ENDPOINT_LOCAL_ADDRESS` (≤ DISPATCH): `pAddress` optional (size probe);
/// `*pAddressLength` in = buffer bytes, out = bytes written / required.
pub type NDK_FN_GET_SHARED_ENDPOINT_LOCAL_ADDRESS = unsafe extern "system" fn(
    pNdkSharedEndpoint: *mut NDK_SHARED_ENDPOINT,
    pAddress: *mut SOCKADDR,
    pAddressLength: *mut u32,
) -> NTSTATUS;

/// `NDK_SHARED_ENDPOINT_DISPATCH`: 3 slots, x64 0x18.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDK_SHARED_ENDPOINT_DISPATCH {
    /// Slot 1 (0x00).
    pub NdkCloseSharedEndpoint: NDK_FN_CLOSE_OBJECT,
    /// Slot 2 (0x08).
    pub NdkQueryExtension: NDK_FN_QUERY_EXTENSION_INTERFACE,
    /// Slot 3 (0x10).
    pub NdkGetLocalAddress: NDK_FN_GET_SHARED_ENDPOINT_LOCAL_ADDRESS,
}

// ---- Connector (§2.9) ------------------------------------------------------------------------

/// `NDK_FN_CONNECT` (≤ DISPATCH). Optional: `pPrivateData`, `RequestContext`.
pub type NDK_FN_CONNECT = unsafe extern "system" fn(
    pNdkConnector: *mut NDK_CONNECTOR,
    pNdkQp: *mut NDK_QP,
    pSrcAddress: *const SOCKADDR,
    SrcAddressLength: u32,
    pDestAddress: *const SOCKADDR,
    DestAddressLength: u32,
    InboundReadLimit: u32,
    OutboundReadLimit: u32,
    pPrivateData: *const c_void,
    PrivateDataLength: u32,
    RequestCompletion: Option<NDK_FN_REQUEST_COMPLETION>,
    RequestContext: *mut c_void,
) -> NTSTATUS;

/// `NDK_FN_CONNECT_WITH_SHARED_ENDPOINT` (≤ DISPATCH). Optional: `pPrivateData`,
/// `RequestContext`.
pub type NDK_FN_CONNECT_WITH_SHARED_ENDPOINT = unsafe extern "system" fn(
    pNdkConnector: *mut NDK_CONNECTOR,
    pNdkQp: *mut NDK_QP,
    pNdkSharedEndpoint: *mut NDK_SHARED_ENDPOINT,
    pDestAddress: *const SOCKADDR,
    DestAddressLength: u32,
    InboundReadLimit: u32,
    OutboundReadLimit: u32,
    pPrivateData: *const c_void,
    PrivateDataLength: u32,
    RequestCompletion: Option<NDK_FN_REQUEST_COMPLETION>,
    RequestContext: *mut c_void,
) -> NTSTATUS;

/// `NDK_FN_COMPLETE_CONNECT` (≤ DISPATCH). Optional: `DisconnectEvent`,
/// `DisconnectEventContext`, `RequestContext`.
pub type NDK_FN_COMPLETE_CONNECT = unsafe extern "system" fn(
    pNdkConnector: *mut NDK_CONNECTOR,
    DisconnectEvent: Option<NDK_FN_DISCONNECT_EVENT_CALLBACK>,
    DisconnectEventContext: *mut c_void,
    RequestCompletion: Option<NDK_FN_REQUEST_COMPLETION>,
    RequestContext: *mut c_void,
) -> NTSTATUS;

/// `NDK_FN_ACCEPT` (≤ DISPATCH). Optional: `pPrivateData`, `DisconnectEvent`,
/// `DisconnectEventContext`, `RequestContext`.
pub type NDK_FN_ACCEPT = unsafe extern "system" fn(
    pNdkConnector: *mut NDK_CONNECTOR,
    pNdkQp: *mut NDK_QP,
    InboundReadLimit: u32,
    OutboundReadLimit: u32,
    pPrivateData: *const c_void,
    PrivateDataLength: u32,
    DisconnectEvent: Option<NDK_FN_DISCONNECT_EVENT_CALLBACK>,
    DisconnectEventContext: *mut c_void,
    RequestCompletion: Option<NDK_FN_REQUEST_COMPLETION>,
    RequestContext: *mut c_void,
) -> NTSTATUS;

/// `NDK_FN_REJECT` (≤ DISPATCH): synchronous. Optional: `pPrivateData`.
pub type NDK_FN_REJECT = unsafe extern "system" fn(
    pNdkConnector: *mut NDK_CONNECTOR,
    pPrivateData: *const c_void,
    PrivateDataLength: u32,
) -> NTSTATUS;

/// `NDK_FN_GET_CONNECTION_DATA` (≤ DISPATCH): synchronous. Optional: `pInboundReadLimit`,
/// `pOutboundReadLimit`, `pPrivateData`; `*pPrivateDataLength` in/out.
pub type NDK_FN_GET_CONNECTION_DATA = unsafe extern "system" fn(
    pNdkConnector: *mut NDK_CONNECTOR,
    pInboundReadLimit: *mut u32,
    pOutboundReadLimit: *mut u32,
    pPrivateData: *mut c_void,
    pPrivateDataLength: *mut u32,
) -> NTSTATUS;

/// `NDK_FN_GET_LOCAL_ADDRESS` (≤ DISPATCH): connector's local address; `pAddress` optional.
pub type NDK_FN_GET_LOCAL_ADDRESS = unsafe extern "system" fn(
    pNdkConnector: *mut NDK_CONNECTOR,
    pAddress: *mut SOCKADDR,
    pAddressLength: *mut u32,
) -> NTSTATUS;

/// `NDK_FN_GET_PEER_ADDRESS` (≤ DISPATCH): connector's peer address; `pAddress` optional.
pub type NDK_FN_GET_PEER_ADDRESS = unsafe extern "system" fn(
    pNdkConnector: *mut NDK_CONNECTOR,
    pAddress: *mut SOCKADDR,
    pAddressLength: *mut u32,
) -> NTSTATUS;

/// `NDK_FN_DISCONNECT` (≤ DISPATCH): graceful disconnect. Optional: `RequestContext`.
pub type NDK_FN_DISCONNECT = unsafe extern "system" fn(
    pNdkConnector: *mut NDK_CONNECTOR,
    RequestCompletion: Option<NDK_FN_REQUEST_COMPLETION>,
    RequestContext: *mut c_void,
) -> NTSTATUS;

/// `NDK_FN_COMPLETE_CONNECT_EX` (≤ DISPATCH, NDK 2.1): `NdkCompleteConnect` with the `_EX`
/// disconnect callback. Optional: `DisconnectEvent`, `DisconnectEventContext`, `RequestContext`.
pub type NDK_FN_COMPLETE_CONNECT_EX = unsafe extern "system" fn(
    pNdkConnector: *mut NDK_CONNECTOR,
    DisconnectEvent: Option<NDK_FN_DISCONNECT_EVENT_CALLBACK_EX>,
    DisconnectEventContext: *mut c_void,
    RequestCompletion: Option<NDK_FN_REQUEST_COMPLETION>,
    RequestContext: *mut c_void,
) -> NTSTATUS;

/// `NDK_FN_ACCEPT_EX` (≤ DISPATCH, NDK 2.1): `NdkAccept` with the `_EX` disconnect callback.
/// Optional: `pPrivateData`, `DisconnectEvent`, `DisconnectEventContext`, `RequestContext`.
pub type NDK_FN_ACCEPT_EX = unsafe extern "system" fn(
    pNdkConnector: *mut NDK_CONNECTOR,
    pNdkQp: *mut NDK_QP,
    InboundReadLimit: u32,
    OutboundReadLimit: u32,
    pPrivateData: *const c_void,
    PrivateDataLength: u32,
    DisconnectEvent: Option<NDK_FN_DISCONNECT_EVENT_CALLBACK_EX>,
    DisconnectEventContext: *mut c_void,
    RequestCompletion: Option<NDK_FN_REQUEST_COMPLETION>,
    RequestContext: *mut c_void,
) -> NTSTATUS;

/// `NDK_CONNECTOR_DISPATCH`: 13 slots, x64 0x68 (NDK 2.1 layout; pre-2.1 consumers see only
/// the first 11 = [`NDK_CONNECTOR_DISPATCH_SIZE_BEFORE_2_1`] bytes). `SoftNDK` always fills 13.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDK_CONNECTOR_DISPATCH {
    /// Slot 1 (0x00).
    pub NdkCloseConnector: NDK_FN_CLOSE_OBJECT,
    /// Slot 2 (0x08).
    pub NdkQueryExtension: NDK_FN_QUERY_EXTENSION_INTERFACE,
    /// Slot 3 (0x10).
    pub NdkConnect: NDK_FN_CONNECT,
    /// Slot 4 (0x18).
    pub NdkConnectWithSharedEndpoint: NDK_FN_CONNECT_WITH_SHARED_ENDPOINT,
    /// Slot 5 (0x20).
    pub NdkCompleteConnect: NDK_FN_COMPLETE_CONNECT,
    /// Slot 6 (0x28).
    pub NdkAccept: NDK_FN_ACCEPT,
    /// Slot 7 (0x30).
    pub NdkReject: NDK_FN_REJECT,
    /// Slot 8 (0x38).
    pub NdkGetConnectionData: NDK_FN_GET_CONNECTION_DATA,
    /// Slot 9 (0x40).
    pub NdkGetLocalAddress: NDK_FN_GET_LOCAL_ADDRESS,
    /// Slot 10 (0x48).
    pub NdkGetPeerAddress: NDK_FN_GET_PEER_ADDRESS,
    /// Slot 11 (0x50).
    pub NdkDisconnect: NDK_FN_DISCONNECT,
    /// Slot 12 (0x58), NDK 2.1.
    pub NdkCompleteConnectEx: NDK_FN_COMPLETE_CONNECT_EX,
    /// Slot 13 (0x60), NDK 2.1.
    pub NdkAcceptEx: NDK_FN_ACCEPT_EX,
}

/// Bytes of `NDK_CONNECTOR_DISPATCH` before the NDK 2.1 slots (0x58 on x64).
pub const NDK_CONNECTOR_DISPATCH_SIZE_BEFORE_2_1: usize =
    core::mem::offset_of!(NDK_CONNECTOR_DISPATCH, NdkCompleteConnectEx);

// ---- Listener (§2.10) ------------------------------------------------------------------------

/// `NDK_FN_LISTEN` (≤ DISPATCH). Optional: `RequestContext`.
pub type NDK_FN_LISTEN = unsafe extern "system" fn(
    pNdkListener: *mut NDK_LISTENER,
    pAddress: *const SOCKADDR,
    AddressLength: u32,
    RequestCompletion: Option<NDK_FN_REQUEST_COMPLETION>,
    RequestContext: *mut c_void,
) -> NTSTATUS;

/// `NDK_FN_GET_LISTENER_LOCAL_ADDRESS` (≤ DISPATCH): `pAddress` optional (size probe).
pub type NDK_FN_GET_LISTENER_LOCAL_ADDRESS = unsafe extern "system" fn(
    pNdkListener: *mut NDK_LISTENER,
    pAddress: *mut SOCKADDR,
    pAddressLength: *mut u32,
) -> NTSTATUS;

/// `NDK_FN_CONTROL_CONNECT_EVENTS` (≤ DISPATCH): `Pause` is a `BOOLEAN`.
pub type NDK_FN_CONTROL_CONNECT_EVENTS =
    unsafe extern "system" fn(pNdkListener: *mut NDK_LISTENER, Pause: BOOLEAN);

/// `NDK_LISTENER_DISPATCH`: 5 slots, x64 0x28.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDK_LISTENER_DISPATCH {
    /// Slot 1 (0x00).
    pub NdkCloseListener: NDK_FN_CLOSE_OBJECT,
    /// Slot 2 (0x08).
    pub NdkQueryExtension: NDK_FN_QUERY_EXTENSION_INTERFACE,
    /// Slot 3 (0x10).
    pub NdkListen: NDK_FN_LISTEN,
    /// Slot 4 (0x18).
    pub NdkGetLocalAddress: NDK_FN_GET_LISTENER_LOCAL_ADDRESS,
    /// Slot 5 (0x20).
    pub NdkControlConnectEvents: NDK_FN_CONTROL_CONNECT_EVENTS,
}

// ---- Layout pins (x64 values from spec §2) ----------------------------------------------------

/// Pins a table's size and every slot offset: slot `n` (1-based) at `8 * (n - 1)`.
macro_rules! pin_slots {
    ($table:ty, $size:literal, [$($slot:ident),+ $(,)?]) => {
        const _: () = {
            assert!(core::mem::size_of::<$table>() == $size);
            let mut expected = 0usize;
            $(
                assert!(core::mem::offset_of!($table, $slot) == expected);
                expected += 8;
            )+
            assert!(expected == $size);
        };
    };
}

#[cfg(target_pointer_width = "64")]
mod layout {
    use super::{
        NDK_ADAPTER_DISPATCH, NDK_CONNECTOR_DISPATCH, NDK_CONNECTOR_DISPATCH_SIZE_BEFORE_2_1,
        NDK_CQ_DISPATCH, NDK_FN_CLOSE_COMPLETION, NDK_LISTENER_DISPATCH, NDK_MR_DISPATCH,
        NDK_MW_DISPATCH, NDK_PD_DISPATCH, NDK_QP_DISPATCH, NDK_SHARED_ENDPOINT_DISPATCH,
        NDK_SRQ_DISPATCH,
    };

    pin_slots!(
        NDK_ADAPTER_DISPATCH,
        0x48,
        [
            NdkQueryExtension,
            NdkQueryAdapterInfo,
            NdkCreateCq,
            NdkCreatePd,
            NdkCreateSharedEndpoint,
            NdkCreateConnector,
            NdkCreateListener,
            NdkBuildLAM,
            NdkReleaseLAM,
        ]
    );
    pin_slots!(
        NDK_CQ_DISPATCH,
        0x38,
        [
            NdkCloseCq,
            NdkQueryExtension,
            NdkResizeCq,
            NdkArmCq,
            NdkGetCqResults,
            NdkControlCqInterruptModeration,
            NdkGetCqResultsEx,
        ]
    );
    pin_slots!(
        NDK_PD_DISPATCH,
        0x40,
        [
            NdkClosePd,
            NdkQueryExtension,
            NdkCreateMr,
            NdkCreateMw,
            NdkCreateSrq,
            NdkCreateQp,
            NdkCreateQpWithSrq,
            NdkGetPrivilegedMemoryRegionToken,
        ]
    );
    pin_slots!(
        NDK_MR_DISPATCH,
        0x38,
        [
            NdkCloseMr,
            NdkQueryExtension,
            NdkRegisterMr,
            NdkDeregisterMr,
            NdkInitializeFastRegisterMr,
            NdkGetRemoteTokenFromMr,
            NdkGetLocalTokenFromMr,
        ]
    );
    pin_slots!(
        NDK_MW_DISPATCH,
        0x18,
        [NdkCloseMw, NdkQueryExtension, NdkGetRemoteTokenFromMw]
    );
    pin_slots!(
        NDK_SRQ_DISPATCH,
        0x20,
        [NdkCloseSrq, NdkQueryExtension, NdkModifySrq, NdkSrqReceive]
    );
    pin_slots!(
        NDK_QP_DISPATCH,
        0x58,
        [
            NdkCloseQp,
            NdkQueryExtension,
            NdkFlush,
            NdkSend,
            NdkReceive,
            NdkBind,
            NdkFastRegister,
            NdkInvalidate,
            NdkRead,
            NdkWrite,
            NdkSendAndInvalidate,
        ]
    );
    pin_slots!(
        NDK_SHARED_ENDPOINT_DISPATCH,
        0x18,
        [
            NdkCloseSharedEndpoint,
            NdkQueryExtension,
            NdkGetLocalAddress,
        ]
    );
    pin_slots!(
        NDK_CONNECTOR_DISPATCH,
        0x68,
        [
            NdkCloseConnector,
            NdkQueryExtension,
            NdkConnect,
            NdkConnectWithSharedEndpoint,
            NdkCompleteConnect,
            NdkAccept,
            NdkReject,
            NdkGetConnectionData,
            NdkGetLocalAddress,
            NdkGetPeerAddress,
            NdkDisconnect,
            NdkCompleteConnectEx,
            NdkAcceptEx,
        ]
    );
    pin_slots!(
        NDK_LISTENER_DISPATCH,
        0x28,
        [
            NdkCloseListener,
            NdkQueryExtension,
            NdkListen,
            NdkGetLocalAddress,
            NdkControlConnectEvents,
        ]
    );

    const _: () = assert!(NDK_CONNECTOR_DISPATCH_SIZE_BEFORE_2_1 == 0x58);
    // `Option<fn>` must stay pointer-sized for the parameters above to match C.
    const _: () = assert!(core::mem::size_of::<Option<NDK_FN_CLOSE_COMPLETION>>() == 8);
}
