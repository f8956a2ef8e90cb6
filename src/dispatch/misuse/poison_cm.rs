//! The poison dispatch tables of the connection manager's objects: connector, listener and
//! shared endpoint (see [`super::poison`] for what a poison slot does).
//!
//! Must never: read anything but the poisoned object's header (through `report_closed`), or
//! write through a consumer's out-parameter (a call on a closed object has no result).
#![allow(unsafe_code)]

use core::ffi::c_void;

use crate::abi::{
    BOOLEAN, NDK_CONNECTOR, NDK_CONNECTOR_DISPATCH, NDK_FN_DISCONNECT_EVENT_CALLBACK,
    NDK_FN_DISCONNECT_EVENT_CALLBACK_EX, NDK_FN_REQUEST_COMPLETION, NDK_LISTENER,
    NDK_LISTENER_DISPATCH, NDK_QP, NDK_SHARED_ENDPOINT, NDK_SHARED_ENDPOINT_DISPATCH, NTSTATUS,
    SOCKADDR, STATUS_INVALID_HANDLE,
};
use crate::verbs::misuse::MisuseKind;

use super::poison::{close, closed_call, poison_slots, query_extension};

poison_slots! { NDK_CONNECTOR;
    connect = "NdkConnect"
        (*mut NDK_QP, *const SOCKADDR, u32, *const SOCKADDR, u32, u32, u32, *const c_void, u32,
         Option<NDK_FN_REQUEST_COMPLETION>, *mut c_void)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    connect_with_shared_endpoint = "NdkConnectWithSharedEndpoint"
        (*mut NDK_QP, *mut NDK_SHARED_ENDPOINT, *const SOCKADDR, u32, u32, u32, *const c_void,
         u32, Option<NDK_FN_REQUEST_COMPLETION>, *mut c_void)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    complete_connect = "NdkCompleteConnect"
        (Option<NDK_FN_DISCONNECT_EVENT_CALLBACK>, *mut c_void,
         Option<NDK_FN_REQUEST_COMPLETION>, *mut c_void)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    accept = "NdkAccept"
        (*mut NDK_QP, u32, u32, *const c_void, u32, Option<NDK_FN_DISCONNECT_EVENT_CALLBACK>,
         *mut c_void, Option<NDK_FN_REQUEST_COMPLETION>, *mut c_void)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    reject = "NdkReject" (*const c_void, u32) -> NTSTATUS = STATUS_INVALID_HANDLE;
    connection_data = "NdkGetConnectionData" (*mut u32, *mut u32, *mut c_void, *mut u32)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    local_address = "NdkGetLocalAddress" (*mut SOCKADDR, *mut u32)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    peer_address = "NdkGetPeerAddress" (*mut SOCKADDR, *mut u32)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    disconnect = "NdkDisconnect" (Option<NDK_FN_REQUEST_COMPLETION>, *mut c_void)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    complete_connect_ex = "NdkCompleteConnectEx"
        (Option<NDK_FN_DISCONNECT_EVENT_CALLBACK_EX>, *mut c_void,
         Option<NDK_FN_REQUEST_COMPLETION>, *mut c_void)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    accept_ex = "NdkAcceptEx"
        (*mut NDK_QP, u32, u32, *const c_void, u32, Option<NDK_FN_DISCONNECT_EVENT_CALLBACK_EX>,
         *mut c_void, Option<NDK_FN_REQUEST_COMPLETION>, *mut c_void)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
}

poison_slots! { NDK_LISTENER;
    listen = "NdkListen" (*const SOCKADDR, u32, Option<NDK_FN_REQUEST_COMPLETION>, *mut c_void)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    listener_local_address = "NdkGetLocalAddress" (*mut SOCKADDR, *mut u32)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
    control_connect_events = "NdkControlConnectEvents" (BOOLEAN);
}

poison_slots! { NDK_SHARED_ENDPOINT;
    endpoint_local_address = "NdkGetLocalAddress" (*mut SOCKADDR, *mut u32)
        -> NTSTATUS = STATUS_INVALID_HANDLE;
}

/// The poison `NDK_CONNECTOR_DISPATCH` (all 13 slots, NDK 2.1 included).
pub static CONNECTOR: NDK_CONNECTOR_DISPATCH = NDK_CONNECTOR_DISPATCH {
    NdkCloseConnector: close,
    NdkQueryExtension: query_extension,
    NdkConnect: connect,
    NdkConnectWithSharedEndpoint: connect_with_shared_endpoint,
    NdkCompleteConnect: complete_connect,
    NdkAccept: accept,
    NdkReject: reject,
    NdkGetConnectionData: connection_data,
    NdkGetLocalAddress: local_address,
    NdkGetPeerAddress: peer_address,
    NdkDisconnect: disconnect,
    NdkCompleteConnectEx: complete_connect_ex,
    NdkAcceptEx: accept_ex,
};

/// The poison `NDK_LISTENER_DISPATCH`.
pub static LISTENER: NDK_LISTENER_DISPATCH = NDK_LISTENER_DISPATCH {
    NdkCloseListener: close,
    NdkQueryExtension: query_extension,
    NdkListen: listen,
    NdkGetLocalAddress: listener_local_address,
    NdkControlConnectEvents: control_connect_events,
};

/// The poison `NDK_SHARED_ENDPOINT_DISPATCH`.
pub static SHARED_ENDPOINT: NDK_SHARED_ENDPOINT_DISPATCH = NDK_SHARED_ENDPOINT_DISPATCH {
    NdkCloseSharedEndpoint: close,
    NdkQueryExtension: query_extension,
    NdkGetLocalAddress: endpoint_local_address,
};
