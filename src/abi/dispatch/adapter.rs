//! The adapter's provider functions and `NDK_ADAPTER_DISPATCH` (`spec/ndkpi.md` §2.1).

use core::ffi::c_void;

use super::NDK_FN_QUERY_EXTENSION_INTERFACE;
use crate::abi::callbacks::{
    NDK_FN_CONNECT_EVENT_CALLBACK, NDK_FN_CQ_NOTIFICATION_CALLBACK, NDK_FN_CREATE_COMPLETION,
    NDK_FN_REQUEST_COMPLETION,
};
use crate::abi::object::{
    NDK_ADAPTER, NDK_CONNECTOR, NDK_CQ, NDK_LISTENER, NDK_PD, NDK_SHARED_ENDPOINT,
};
use crate::abi::status::NTSTATUS;
use crate::abi::structs::{NDK_ADAPTER_INFO, NDK_LOGICAL_ADDRESS_MAPPING};
use crate::abi::win::{GROUP_AFFINITY, MDL, SOCKADDR};

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
