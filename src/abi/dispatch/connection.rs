//! Shared endpoint, connector and listener functions and tables (`spec/ndkpi.md` §2.8–§2.10).

use core::ffi::c_void;

use super::{NDK_FN_CLOSE_OBJECT, NDK_FN_QUERY_EXTENSION_INTERFACE};
use crate::abi::callbacks::{
    NDK_FN_DISCONNECT_EVENT_CALLBACK, NDK_FN_DISCONNECT_EVENT_CALLBACK_EX,
    NDK_FN_REQUEST_COMPLETION,
};
use crate::abi::object::{NDK_CONNECTOR, NDK_LISTENER, NDK_QP, NDK_SHARED_ENDPOINT};
use crate::abi::status::NTSTATUS;
use crate::abi::win::{BOOLEAN, SOCKADDR};

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
