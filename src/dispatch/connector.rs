//! `NDK_CONNECTOR_DISPATCH`: all 13 slots on [`crate::cm::Connector`].
//!
//! `NdkConnect`, `NdkConnectWithSharedEndpoint`, `NdkAccept(Ex)` and `NdkDisconnect` return
//! `STATUS_PENDING` and complete later through deferred work (never inside the call); any other
//! answer means the completion is never called. `NdkCompleteConnect(Ex)`, `NdkReject`,
//! `NdkGetConnectionData` and the address queries finish inline. The `_Ex` calls differ only in
//! registering the `_EX` disconnect event (with a reason).
//!
//! Must never: call a consumer callback inline, keep a consumer pointer beyond the call (but the
//! upcalls the NDK contract keeps valid), or use a QP or shared endpoint of another adapter.
#![allow(unsafe_code)]

use core::ffi::c_void;

use crate::abi::upcall::{
    Context, Disconnect, DisconnectEvent, DisconnectEventEx, RequestCompletion,
};
use crate::abi::{
    NDK_CONNECTOR, NDK_CONNECTOR_DISPATCH, NDK_FN_DISCONNECT_EVENT_CALLBACK,
    NDK_FN_DISCONNECT_EVENT_CALLBACK_EX, NDK_FN_REQUEST_COMPLETION, NDK_QP, NDK_SHARED_ENDPOINT,
    NTSTATUS, SOCKADDR, STATUS_CONNECTION_INVALID, STATUS_INVALID_PARAMETER,
};
use crate::cm::ndk::{NdkConnector, NdkSharedEndpoint};
use crate::cm::{Connector, MAX_PRIVATE_DATA, ReadLimits};
use crate::lifetime::Unit;
use crate::sync::Arc;
use crate::verbs::Qp;

use super::connection::{answer_address, inline, pending, read_address, read_private_data, tri};
use super::handle::{Borrowed, borrow};
use super::{close_object, query_extension, read_size};

/// `NDK_CONNECTOR_DISPATCH` (all 13 slots).
pub static CONNECTOR_TABLE: NDK_CONNECTOR_DISPATCH = NDK_CONNECTOR_DISPATCH {
    NdkCloseConnector: close_object::<NdkConnector>,
    NdkQueryExtension: query_extension,
    NdkConnect: connect,
    NdkConnectWithSharedEndpoint: connect_with_shared_endpoint,
    NdkCompleteConnect: complete_connect,
    NdkAccept: accept,
    NdkReject: reject,
    NdkGetConnectionData: get_connection_data,
    NdkGetLocalAddress: get_local_address,
    NdkGetPeerAddress: get_peer_address,
    NdkDisconnect: disconnect,
    NdkCompleteConnectEx: complete_connect_ex,
    NdkAcceptEx: accept_ex,
};

/// The connector and a unit on a QP of the same adapter (QP NULL, of another type, of another
/// adapter, or closing: `STATUS_INVALID_PARAMETER`).
///
/// # Safety
///
/// Both pointers are NULL or live objects of this provider, not closed during the call.
unsafe fn connector_and_qp<'a>(
    connector: *mut NDK_CONNECTOR,
    qp: *mut NDK_QP,
) -> Result<(Borrowed<'a, NdkConnector>, Unit<Qp>), NTSTATUS> {
    // SAFETY: forwarded contract.
    let (Some(connector), Some(qp)) = (unsafe { borrow::<NdkConnector>(connector) }, unsafe {
        borrow::<Qp>(qp)
    }) else {
        return Err(STATUS_INVALID_PARAMETER);
    };
    if !connector.is_on(qp.pd().adapter()) {
        return Err(STATUS_INVALID_PARAMETER);
    }
    let unit = Unit::try_new(&qp).ok_or(STATUS_INVALID_PARAMETER)?;
    Ok((connector, unit))
}

/// Wraps a mandatory request completion.
///
/// # Safety
///
/// `completion` is the consumer's request completion for this call, valid with `context`
/// until called (the NDK contract for a request that returns `STATUS_PENDING`).
unsafe fn request(
    completion: Option<NDK_FN_REQUEST_COMPLETION>,
    context: *mut c_void,
) -> Result<RequestCompletion, NTSTATUS> {
    let completion = completion.ok_or(STATUS_INVALID_PARAMETER)?;
    // SAFETY: per the contract above; the CM calls it at most once, and only after the call
    // returned `STATUS_PENDING`.
    Ok(unsafe { RequestCompletion::new(completion, Context::new(context)) })
}

/// The plain disconnect event (optional).
///
/// # Safety
///
/// `event` is NULL or the consumer's callback, valid with `context` until the connector's
/// close completes.
unsafe fn plain_event(
    event: Option<NDK_FN_DISCONNECT_EVENT_CALLBACK>,
    context: *mut c_void,
) -> Option<Disconnect> {
    let event = event?;
    // SAFETY: per the contract; the CM calls it at most once and never after the close started.
    Some(Disconnect::Plain(unsafe {
        DisconnectEvent::new(event, Context::new(context))
    }))
}

/// The `_EX` disconnect event (optional).
///
/// # Safety
///
/// As [`plain_event`].
unsafe fn ex_event(
    event: Option<NDK_FN_DISCONNECT_EVENT_CALLBACK_EX>,
    context: *mut c_void,
) -> Option<Disconnect> {
    let event = event?;
    // SAFETY: as in `plain_event`.
    Some(Disconnect::Ex(unsafe {
        DisconnectEventEx::new(event, Context::new(context))
    }))
}

/// `NdkConnect`. Mandatory: connector, QP (of the connector's adapter), both addresses (same
/// family), `RequestCompletion`. Private data ≤ `MaxCallerData`.
unsafe extern "system" fn connect(
    connector: *mut NDK_CONNECTOR,
    qp: *mut NDK_QP,
    src: *const SOCKADDR,
    src_length: u32,
    dst: *const SOCKADDR,
    dst_length: u32,
    ird: u32,
    ord: u32,
    data: *const c_void,
    data_length: u32,
    completion: Option<NDK_FN_REQUEST_COMPLETION>,
    context: *mut c_void,
) -> NTSTATUS {
    let mut buf = [0; MAX_PRIVATE_DATA];
    // SAFETY: connector and QP are NULL or live objects of this provider.
    let (connector, qp) = tri!(unsafe { connector_and_qp(connector, qp) });
    // SAFETY: `src` is NULL or readable for `src_length` bytes.
    let src = tri!(unsafe { read_address(src, src_length) });
    // SAFETY: `dst` is NULL or readable for `dst_length` bytes.
    let dst = tri!(unsafe { read_address(dst, dst_length) });
    // SAFETY: `data` is NULL or readable for `data_length` bytes.
    let data = tri!(unsafe { read_private_data(data, data_length, &mut buf) });
    // SAFETY: the consumer's completion for this request.
    let completion = tri!(unsafe { request(completion, context) });
    pending(Connector::connect(
        &connector,
        qp,
        (src, dst),
        ReadLimits::new(ird, ord),
        data,
        completion,
    ))
}

/// `NdkConnectWithSharedEndpoint`. Mandatory: connector, QP and shared endpoint (both of the
/// connector's adapter), destination, `RequestCompletion`.
unsafe extern "system" fn connect_with_shared_endpoint(
    connector: *mut NDK_CONNECTOR,
    qp: *mut NDK_QP,
    endpoint: *mut NDK_SHARED_ENDPOINT,
    dst: *const SOCKADDR,
    dst_length: u32,
    ird: u32,
    ord: u32,
    data: *const c_void,
    data_length: u32,
    completion: Option<NDK_FN_REQUEST_COMPLETION>,
    context: *mut c_void,
) -> NTSTATUS {
    let mut buf = [0; MAX_PRIVATE_DATA];
    // SAFETY: connector and QP are NULL or live objects of this provider.
    let (connector, qp) = tri!(unsafe { connector_and_qp(connector, qp) });
    // SAFETY: `endpoint` is NULL or a live object of this provider.
    let Some(endpoint) = (unsafe { borrow::<NdkSharedEndpoint>(endpoint) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: `dst` is NULL or readable for `dst_length` bytes.
    let dst = tri!(unsafe { read_address(dst, dst_length) });
    // SAFETY: `data` is NULL or readable for `data_length` bytes.
    let data = tri!(unsafe { read_private_data(data, data_length, &mut buf) });
    // SAFETY: the consumer's completion for this request.
    let completion = tri!(unsafe { request(completion, context) });
    if !endpoint_on_same_adapter(&connector, &endpoint) {
        return STATUS_INVALID_PARAMETER;
    }
    let Some(endpoint) = Unit::try_new(&endpoint) else {
        return STATUS_INVALID_PARAMETER;
    };
    pending(Connector::connect_with_shared_endpoint(
        &connector,
        qp,
        endpoint,
        dst,
        ReadLimits::new(ird, ord),
        data,
        completion,
    ))
}

fn endpoint_on_same_adapter(connector: &NdkConnector, endpoint: &Arc<NdkSharedEndpoint>) -> bool {
    endpoint.adapter().is_some_and(|a| connector.is_on(&a))
}

/// `NdkCompleteConnect(Ex)`: finishes inline (`STATUS_SUCCESS` or the failure); the mandatory
/// completion is never called.
fn complete(
    connector: *mut NDK_CONNECTOR,
    event: Option<Disconnect>,
    completion: Option<NDK_FN_REQUEST_COMPLETION>,
) -> NTSTATUS {
    // SAFETY: NDK contract for the connector pointer.
    let Some(connector) = (unsafe { borrow::<NdkConnector>(connector) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    if completion.is_none() {
        return STATUS_INVALID_PARAMETER;
    }
    inline(Connector::complete_connect(&connector, event))
}

/// `NdkCompleteConnect`. Mandatory: connector, `RequestCompletion` (never called: completes
/// inline). The disconnect event is optional.
unsafe extern "system" fn complete_connect(
    connector: *mut NDK_CONNECTOR,
    event: Option<NDK_FN_DISCONNECT_EVENT_CALLBACK>,
    event_context: *mut c_void,
    completion: Option<NDK_FN_REQUEST_COMPLETION>,
    _context: *mut c_void,
) -> NTSTATUS {
    // SAFETY: the consumer's event callback, valid until the connector's close completes.
    let event = unsafe { plain_event(event, event_context) };
    complete(connector, event, completion)
}

/// `NdkCompleteConnectEx`: as [`complete_connect`] with the `_EX` event.
unsafe extern "system" fn complete_connect_ex(
    connector: *mut NDK_CONNECTOR,
    event: Option<NDK_FN_DISCONNECT_EVENT_CALLBACK_EX>,
    event_context: *mut c_void,
    completion: Option<NDK_FN_REQUEST_COMPLETION>,
    _context: *mut c_void,
) -> NTSTATUS {
    // SAFETY: as in `complete_connect`.
    let event = unsafe { ex_event(event, event_context) };
    complete(connector, event, completion)
}

/// `NdkAccept(Ex)` after the event flavour was chosen.
///
/// # Safety
///
/// The NDK contract of `NdkAccept`.
#[allow(clippy::too_many_arguments)]
unsafe fn accept_with(
    connector: *mut NDK_CONNECTOR,
    qp: *mut NDK_QP,
    ird: u32,
    ord: u32,
    data: *const c_void,
    data_length: u32,
    event: Option<Disconnect>,
    completion: Option<NDK_FN_REQUEST_COMPLETION>,
    context: *mut c_void,
) -> NTSTATUS {
    let mut buf = [0; MAX_PRIVATE_DATA];
    // SAFETY: connector and QP are NULL or live objects of this provider.
    let (connector, qp) = tri!(unsafe { connector_and_qp(connector, qp) });
    // SAFETY: `data` is NULL or readable for `data_length` bytes.
    let data = tri!(unsafe { read_private_data(data, data_length, &mut buf) });
    // SAFETY: the consumer's completion for this request.
    let completion = tri!(unsafe { request(completion, context) });
    pending(Connector::accept(
        &connector,
        qp,
        ReadLimits::new(ird, ord),
        data,
        event,
        completion,
    ))
}

/// `NdkAccept`. Mandatory: connector (handed up by a connect event), QP of its adapter,
/// `RequestCompletion`. Private data ≤ `MaxCalleeData`; the disconnect event is optional.
unsafe extern "system" fn accept(
    connector: *mut NDK_CONNECTOR,
    qp: *mut NDK_QP,
    ird: u32,
    ord: u32,
    data: *const c_void,
    data_length: u32,
    event: Option<NDK_FN_DISCONNECT_EVENT_CALLBACK>,
    event_context: *mut c_void,
    completion: Option<NDK_FN_REQUEST_COMPLETION>,
    context: *mut c_void,
) -> NTSTATUS {
    // SAFETY: the consumer's event callback, valid until the connector's close completes.
    let event = unsafe { plain_event(event, event_context) };
    // SAFETY: the NDK contract of `NdkAccept` for every pointer and callback.
    unsafe {
        accept_with(
            connector,
            qp,
            ird,
            ord,
            data,
            data_length,
            event,
            completion,
            context,
        )
    }
}

/// `NdkAcceptEx`: as [`accept`] with the `_EX` event.
unsafe extern "system" fn accept_ex(
    connector: *mut NDK_CONNECTOR,
    qp: *mut NDK_QP,
    ird: u32,
    ord: u32,
    data: *const c_void,
    data_length: u32,
    event: Option<NDK_FN_DISCONNECT_EVENT_CALLBACK_EX>,
    event_context: *mut c_void,
    completion: Option<NDK_FN_REQUEST_COMPLETION>,
    context: *mut c_void,
) -> NTSTATUS {
    // SAFETY: the consumer's event callback, valid until the connector's close completes.
    let event = unsafe { ex_event(event, event_context) };
    // SAFETY: the NDK contract of `NdkAcceptEx` for every pointer and callback.
    unsafe {
        accept_with(
            connector,
            qp,
            ird,
            ord,
            data,
            data_length,
            event,
            completion,
            context,
        )
    }
}

/// `NdkReject` (synchronous). Private data optional, ≤ `MaxCalleeData`.
unsafe extern "system" fn reject(
    connector: *mut NDK_CONNECTOR,
    data: *const c_void,
    data_length: u32,
) -> NTSTATUS {
    let mut buf = [0; MAX_PRIVATE_DATA];
    // SAFETY: NDK contract of `NdkReject`.
    let Some(connector) = (unsafe { borrow::<NdkConnector>(connector) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: as above.
    match unsafe { read_private_data(data, data_length, &mut buf) } {
        Ok(data) => inline(Connector::reject(&connector, data)),
        Err(status) => status,
    }
}

/// `NdkGetConnectionData` (synchronous). `pPrivateDataLength` is mandatory; `pPrivateData`
/// NULL with `*pPrivateDataLength` = 0 is a size probe, NULL with a non-zero length is invalid.
/// Copies min(buffer, RDS) bytes and always stores RDS (the bytes the peer sent);
/// `STATUS_BUFFER_TOO_SMALL` when the buffer held less. IRD/ORD pointers are optional.
unsafe extern "system" fn get_connection_data(
    connector: *mut NDK_CONNECTOR,
    ird: *mut u32,
    ord: *mut u32,
    data: *mut c_void,
    data_length: *mut u32,
) -> NTSTATUS {
    // SAFETY: NDK contract of `NdkGetConnectionData`.
    let (Some(connector), Some(have)) = (unsafe { borrow::<NdkConnector>(connector) }, unsafe {
        read_size(data_length)
    }) else {
        return STATUS_INVALID_PARAMETER;
    };
    if data.is_null() && have > 0 {
        return STATUS_INVALID_PARAMETER;
    }
    let answer = if data.is_null() {
        connector.connection_data(None)
    } else {
        // No peer sends more than `MAX_PRIVATE_DATA`, so a longer buffer gets the same answer.
        let len = (have as usize).min(MAX_PRIVATE_DATA);
        // SAFETY: `data` is non-null and writable for `have` ≥ `len` bytes (contract); the slice
        // lives only for this call and nothing else accesses the buffer meanwhile.
        let out = unsafe { core::slice::from_raw_parts_mut(data.cast::<u8>(), len) };
        connector.connection_data(Some(out))
    };
    let answer = match answer {
        Ok(a) => a,
        Err(status) => return status,
    };
    if !ird.is_null() {
        // SAFETY: non-null, so a writable `ULONG` (contract).
        unsafe { ird.write_unaligned(answer.limits.inbound) };
    }
    if !ord.is_null() {
        // SAFETY: as above.
        unsafe { ord.write_unaligned(answer.limits.outbound) };
    }
    // SAFETY: `data_length` was read above, so it is non-null and writable.
    unsafe { data_length.write_unaligned(answer.length) };
    answer.status
}

/// `NdkGetLocalAddress` of a connector: `STATUS_CONNECTION_INVALID` before it connected (or
/// was handed up).
unsafe extern "system" fn get_local_address(
    connector: *mut NDK_CONNECTOR,
    address: *mut SOCKADDR,
    length: *mut u32,
) -> NTSTATUS {
    // SAFETY: NDK contract for the connector pointer.
    let Some(connector) = (unsafe { borrow::<NdkConnector>(connector) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: `address`/`length` as the consumer passed them (slot contract).
    unsafe {
        answer_address(
            connector.local_address(),
            STATUS_CONNECTION_INVALID,
            address,
            length,
        )
    }
}

/// `NdkGetPeerAddress`: `STATUS_CONNECTION_INVALID` before the connector connected (or was
/// handed up).
unsafe extern "system" fn get_peer_address(
    connector: *mut NDK_CONNECTOR,
    address: *mut SOCKADDR,
    length: *mut u32,
) -> NTSTATUS {
    // SAFETY: NDK contract for the connector pointer.
    let Some(connector) = (unsafe { borrow::<NdkConnector>(connector) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: as in `get_local_address`.
    unsafe {
        answer_address(
            connector.peer_address(),
            STATUS_CONNECTION_INVALID,
            address,
            length,
        )
    }
}

/// `NdkDisconnect`. Mandatory: connector, `RequestCompletion`.
unsafe extern "system" fn disconnect(
    connector: *mut NDK_CONNECTOR,
    completion: Option<NDK_FN_REQUEST_COMPLETION>,
    context: *mut c_void,
) -> NTSTATUS {
    // SAFETY: NDK contract for the connector pointer.
    let Some(connector) = (unsafe { borrow::<NdkConnector>(connector) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: the consumer's request completion for this call.
    match unsafe { request(completion, context) } {
        Ok(completion) => pending(Connector::disconnect(&connector, completion)),
        Err(status) => status,
    }
}
