//! Consumer callback types: implemented by the consumer, invoked by the provider at or below
//! `DISPATCH_LEVEL` (`spec/ndkpi.md` §3).
//!
//! The types are non-nullable function pointers. Where a provider function *receives* one, the
//! parameter is `Option<NDK_FN_...>` (see the `dispatch` module docs for why, even for `_In_`).

use core::ffi::c_void;

use super::object::{NDK_CONNECTOR, NDK_OBJECT_HEADER};
use super::status::NTSTATUS;

/// `NDK_FN_CLOSE_COMPLETION`: ends a close that returned `STATUS_PENDING`; called exactly once
/// and always the last callback for that object.
pub type NDK_FN_CLOSE_COMPLETION = unsafe extern "system" fn(Context: *mut c_void);

/// `NDK_FN_REQUEST_COMPLETION`: ends a request that returned `STATUS_PENDING`, with its status.
pub type NDK_FN_REQUEST_COMPLETION =
    unsafe extern "system" fn(Context: *mut c_void, Status: NTSTATUS);

/// `NDK_FN_CREATE_COMPLETION`: ends a create that returned `STATUS_PENDING`; `pNdkObject` is the
/// new object on success (`SoftNDK` passes null on failure, see `docs/abi.md`).
pub type NDK_FN_CREATE_COMPLETION = unsafe extern "system" fn(
    Context: *mut c_void,
    Status: NTSTATUS,
    pNdkObject: *mut NDK_OBJECT_HEADER,
);

/// `NDK_FN_CQ_NOTIFICATION_CALLBACK`: an armed CQ's event; `CqStatus` is `STATUS_SUCCESS`,
/// `STATUS_BUFFER_OVERFLOW` (overrun) or `STATUS_INTERNAL_ERROR` (fatal).
pub type NDK_FN_CQ_NOTIFICATION_CALLBACK =
    unsafe extern "system" fn(CqNotificationContext: *mut c_void, CqStatus: NTSTATUS);

/// `NDK_FN_SRQ_NOTIFICATION_CALLBACK`: SRQ below its threshold (`STATUS_SUCCESS`) or fatal error
/// (`STATUS_INTERNAL_ERROR`).
pub type NDK_FN_SRQ_NOTIFICATION_CALLBACK =
    unsafe extern "system" fn(SrqNotificationContext: *mut c_void, SrqStatus: NTSTATUS);

/// `NDK_FN_CONNECT_EVENT_CALLBACK`: an incoming connection request on a listener, represented by a
/// new provider-created connector.
pub type NDK_FN_CONNECT_EVENT_CALLBACK =
    unsafe extern "system" fn(ConnectEventContext: *mut c_void, pNdkConnector: *mut NDK_CONNECTOR);

/// `NDK_FN_DISCONNECT_EVENT_CALLBACK`: the peer disconnected or the connection aborted (at most
/// once per connection, never for a local disconnect).
pub type NDK_FN_DISCONNECT_EVENT_CALLBACK =
    unsafe extern "system" fn(DisconnectEventContext: *mut c_void);

/// `NDK_FN_DISCONNECT_EVENT_CALLBACK_EX` (NDK 2.1): as above plus a provider-specific reason
/// (0 = none).
pub type NDK_FN_DISCONNECT_EVENT_CALLBACK_EX =
    unsafe extern "system" fn(DisconnectEventContext: *mut c_void, ProviderDisconnectReason: u32);
