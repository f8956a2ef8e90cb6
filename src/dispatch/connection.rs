//! Shared-endpoint, connector and listener tables, pending the connection manager.
//!
//! SoftNDK's connection manager (`src/cm`, `src/fabric`) is built separately. Until it lands,
//! `NdkCreateSharedEndpoint`, `NdkCreateConnector` and `NdkCreateListener` answer
//! `STATUS_NOT_SUPPORTED` without creating anything, so no object of these types can exist; the
//! tables are still complete (no NULL slot) and every slot answers `STATUS_NOT_SUPPORTED` (or
//! does nothing, for the `VOID` slot), which is what a consumer that reached them without an
//! object would be told. Data movement between QPs is available meanwhile through
//! [`crate::verbs::connect_pair`], the hook the connection manager will call.
//!
//! Must never: create an object, or touch any pointer it is given.
#![allow(unsafe_code)]

use core::ffi::c_void;

use crate::abi::{
    BOOLEAN, NDK_CONNECTOR, NDK_CONNECTOR_DISPATCH, NDK_FN_CLOSE_COMPLETION,
    NDK_FN_DISCONNECT_EVENT_CALLBACK, NDK_FN_DISCONNECT_EVENT_CALLBACK_EX,
    NDK_FN_REQUEST_COMPLETION, NDK_LISTENER, NDK_LISTENER_DISPATCH, NDK_OBJECT_HEADER, NDK_QP,
    NDK_SHARED_ENDPOINT, NDK_SHARED_ENDPOINT_DISPATCH, NTSTATUS, SOCKADDR, STATUS_NOT_SUPPORTED,
};

use super::query_extension;

/// Closing an object that cannot exist yet.
unsafe extern "system" fn close(
    _object: *mut NDK_OBJECT_HEADER,
    _completion: Option<NDK_FN_CLOSE_COMPLETION>,
    _context: *mut c_void,
) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}

unsafe extern "system" fn get_address<T>(
    _object: *mut T,
    _address: *mut SOCKADDR,
    _length: *mut u32,
) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}

unsafe extern "system" fn connect(
    _connector: *mut NDK_CONNECTOR,
    _qp: *mut NDK_QP,
    _src: *const SOCKADDR,
    _src_len: u32,
    _dst: *const SOCKADDR,
    _dst_len: u32,
    _ird: u32,
    _ord: u32,
    _data: *const c_void,
    _data_len: u32,
    _completion: Option<NDK_FN_REQUEST_COMPLETION>,
    _context: *mut c_void,
) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}

unsafe extern "system" fn connect_with_shared_endpoint(
    _connector: *mut NDK_CONNECTOR,
    _qp: *mut NDK_QP,
    _endpoint: *mut NDK_SHARED_ENDPOINT,
    _dst: *const SOCKADDR,
    _dst_len: u32,
    _ird: u32,
    _ord: u32,
    _data: *const c_void,
    _data_len: u32,
    _completion: Option<NDK_FN_REQUEST_COMPLETION>,
    _context: *mut c_void,
) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}

unsafe extern "system" fn complete_connect(
    _connector: *mut NDK_CONNECTOR,
    _event: Option<NDK_FN_DISCONNECT_EVENT_CALLBACK>,
    _event_context: *mut c_void,
    _completion: Option<NDK_FN_REQUEST_COMPLETION>,
    _context: *mut c_void,
) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}

unsafe extern "system" fn complete_connect_ex(
    _connector: *mut NDK_CONNECTOR,
    _event: Option<NDK_FN_DISCONNECT_EVENT_CALLBACK_EX>,
    _event_context: *mut c_void,
    _completion: Option<NDK_FN_REQUEST_COMPLETION>,
    _context: *mut c_void,
) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}

unsafe extern "system" fn accept(
    _connector: *mut NDK_CONNECTOR,
    _qp: *mut NDK_QP,
    _ird: u32,
    _ord: u32,
    _data: *const c_void,
    _data_len: u32,
    _event: Option<NDK_FN_DISCONNECT_EVENT_CALLBACK>,
    _event_context: *mut c_void,
    _completion: Option<NDK_FN_REQUEST_COMPLETION>,
    _context: *mut c_void,
) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}

unsafe extern "system" fn accept_ex(
    _connector: *mut NDK_CONNECTOR,
    _qp: *mut NDK_QP,
    _ird: u32,
    _ord: u32,
    _data: *const c_void,
    _data_len: u32,
    _event: Option<NDK_FN_DISCONNECT_EVENT_CALLBACK_EX>,
    _event_context: *mut c_void,
    _completion: Option<NDK_FN_REQUEST_COMPLETION>,
    _context: *mut c_void,
) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}

unsafe extern "system" fn reject(
    _connector: *mut NDK_CONNECTOR,
    _data: *const c_void,
    _data_len: u32,
) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}

unsafe extern "system" fn get_connection_data(
    _connector: *mut NDK_CONNECTOR,
    _ird: *mut u32,
    _ord: *mut u32,
    _data: *mut c_void,
    _data_len: *mut u32,
) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}

unsafe extern "system" fn disconnect(
    _connector: *mut NDK_CONNECTOR,
    _completion: Option<NDK_FN_REQUEST_COMPLETION>,
    _context: *mut c_void,
) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}

unsafe extern "system" fn listen(
    _listener: *mut NDK_LISTENER,
    _address: *const SOCKADDR,
    _length: u32,
    _completion: Option<NDK_FN_REQUEST_COMPLETION>,
    _context: *mut c_void,
) -> NTSTATUS {
    STATUS_NOT_SUPPORTED
}

/// `NdkControlConnectEvents` returns `VOID`: nothing to do without a listener.
unsafe extern "system" fn control_connect_events(_listener: *mut NDK_LISTENER, _pause: BOOLEAN) {}

/// `NDK_SHARED_ENDPOINT_DISPATCH`.
pub static SHARED_ENDPOINT_TABLE: NDK_SHARED_ENDPOINT_DISPATCH = NDK_SHARED_ENDPOINT_DISPATCH {
    NdkCloseSharedEndpoint: close,
    NdkQueryExtension: query_extension,
    NdkGetLocalAddress: get_address::<NDK_SHARED_ENDPOINT>,
};

/// `NDK_CONNECTOR_DISPATCH` (all 13 slots).
pub static CONNECTOR_TABLE: NDK_CONNECTOR_DISPATCH = NDK_CONNECTOR_DISPATCH {
    NdkCloseConnector: close,
    NdkQueryExtension: query_extension,
    NdkConnect: connect,
    NdkConnectWithSharedEndpoint: connect_with_shared_endpoint,
    NdkCompleteConnect: complete_connect,
    NdkAccept: accept,
    NdkReject: reject,
    NdkGetConnectionData: get_connection_data,
    NdkGetLocalAddress: get_address::<NDK_CONNECTOR>,
    NdkGetPeerAddress: get_address::<NDK_CONNECTOR>,
    NdkDisconnect: disconnect,
    NdkCompleteConnectEx: complete_connect_ex,
    NdkAcceptEx: accept_ex,
};

/// `NDK_LISTENER_DISPATCH`.
pub static LISTENER_TABLE: NDK_LISTENER_DISPATCH = NDK_LISTENER_DISPATCH {
    NdkCloseListener: close,
    NdkQueryExtension: query_extension,
    NdkListen: listen,
    NdkGetLocalAddress: get_address::<NDK_LISTENER>,
    NdkControlConnectEvents: control_connect_events,
};
