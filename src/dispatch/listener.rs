//! `NDK_LISTENER_DISPATCH`: close, `NdkListen`, `NdkGetLocalAddress`,
//! `NdkControlConnectEvents` on [`crate::cm::Listener`].
//!
//! `NdkListen` finishes inline (its mandatory completion is never called). Connect events are
//! delivered by the listener's deferred work, one at a time, never inside a consumer call.
//!
//! Must never: keep a consumer pointer beyond the call.
#![allow(unsafe_code)]

use core::ffi::c_void;

use crate::abi::{
    BOOLEAN, NDK_FN_REQUEST_COMPLETION, NDK_LISTENER, NDK_LISTENER_DISPATCH, NTSTATUS, SOCKADDR,
    STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER,
};
use crate::cm::Listener;
use crate::cm::ndk::NdkListener;

use super::connection::{answer_address, inline, read_address};
use super::handle::borrow;
use super::{close_object, query_extension};

/// `NDK_LISTENER_DISPATCH`.
pub static LISTENER_TABLE: NDK_LISTENER_DISPATCH = NDK_LISTENER_DISPATCH {
    NdkCloseListener: close_object::<NdkListener>,
    NdkQueryExtension: query_extension,
    NdkListen: listen,
    NdkGetLocalAddress: get_local_address,
    NdkControlConnectEvents: control_connect_events,
};

/// `NdkListen`. Mandatory: listener, `pAddress`, `RequestCompletion` (never called: SoftNDK
/// reserves the endpoint inline). Port 0: an ephemeral port; a wildcard IP listens on every
/// address of the adapter of that family.
unsafe extern "system" fn listen(
    listener: *mut NDK_LISTENER,
    address: *const SOCKADDR,
    length: u32,
    completion: Option<NDK_FN_REQUEST_COMPLETION>,
    _context: *mut c_void,
) -> NTSTATUS {
    // SAFETY: NDK contract for the listener pointer.
    let Some(listener) = (unsafe { borrow::<NdkListener>(listener) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    if completion.is_none() {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: `address` is NULL or readable for `length` bytes (contract).
    match unsafe { read_address(address, length) } {
        Ok(address) => inline(Listener::listen(&listener, address)),
        Err(status) => status,
    }
}

/// `NdkGetLocalAddress` of a listener (learns the port chosen for port 0);
/// `STATUS_INVALID_DEVICE_STATE` before `NdkListen`.
unsafe extern "system" fn get_local_address(
    listener: *mut NDK_LISTENER,
    address: *mut SOCKADDR,
    length: *mut u32,
) -> NTSTATUS {
    // SAFETY: NDK contract for the listener pointer.
    let Some(listener) = (unsafe { borrow::<NdkListener>(listener) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: `address`/`length` as the consumer passed them (slot contract).
    unsafe {
        answer_address(
            listener.local_address(),
            STATUS_INVALID_DEVICE_STATE,
            address,
            length,
        )
    }
}

/// `NdkControlConnectEvents` (`VOID`): any non-zero `Pause` pauses. A NULL listener is
/// ignored (there is no status to report it with).
unsafe extern "system" fn control_connect_events(listener: *mut NDK_LISTENER, pause: BOOLEAN) {
    // SAFETY: NDK contract for the listener pointer.
    if let Some(listener) = unsafe { borrow::<NdkListener>(listener) } {
        listener.control_connect_events(pause != 0);
    }
}
