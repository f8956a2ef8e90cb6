//! Shared endpoint, connector and listener slots (`spec/ndkpi.md` §2.8–§2.10): connect/accept
//! link the QP (and shared endpoint) to the connector, and wrap the disconnect event.

use core::ffi::c_void;
use std::string::String;
use std::vec::Vec;

use super::{
    Wrapped, connector_target, endpoint_target, listener_target, request_returned, request_slot,
    sync_slot, wrap_request,
};
use crate::abi::upcall::{Context, Disconnect, DisconnectEvent, DisconnectEventEx};
use crate::abi::{
    BOOLEAN, NDK_CONNECTOR, NDK_FN_DISCONNECT_EVENT_CALLBACK, NDK_FN_DISCONNECT_EVENT_CALLBACK_EX,
    NDK_FN_REQUEST_COMPLETION, NDK_LISTENER, NDK_QP, NDK_SHARED_ENDPOINT, NTSTATUS, SOCKADDR,
    STATUS_INVALID_HANDLE,
};
use crate::verifier::registry::{self, Node};
use crate::verifier::trampoline;

sync_slot!(endpoint_local_address, endpoint_target, NDK_SHARED_ENDPOINT, NdkGetLocalAddress,
    (address: *mut SOCKADDR, length: *mut u32));
sync_slot!(reject, connector_target, NDK_CONNECTOR, NdkReject,
    (private_data: *const c_void, private_length: u32));
sync_slot!(get_connection_data, connector_target, NDK_CONNECTOR, NdkGetConnectionData,
    (inbound: *mut u32, outbound: *mut u32, private_data: *mut c_void, private_length: *mut u32));
sync_slot!(connector_local_address, connector_target, NDK_CONNECTOR, NdkGetLocalAddress,
    (address: *mut SOCKADDR, length: *mut u32));
sync_slot!(connector_peer_address, connector_target, NDK_CONNECTOR, NdkGetPeerAddress,
    (address: *mut SOCKADDR, length: *mut u32));
sync_slot!(listener_local_address, listener_target, NDK_LISTENER, NdkGetLocalAddress,
    (address: *mut SOCKADDR, length: *mut u32));
request_slot!(
    disconnect,
    connector_target,
    NDK_CONNECTOR,
    NdkDisconnect,
    ()
);
request_slot!(listen, listener_target, NDK_LISTENER, NdkListen,
    (address: *const SOCKADDR, length: u32));

/// `NdkControlConnectEvents`.
pub extern "system" fn control_connect_events(listener: *mut NDK_LISTENER, pause: BOOLEAN) {
    let slot = "NdkControlConnectEvents";
    let Some((node, table)) = listener_target(listener.addr(), slot) else {
        return;
    };
    node.inner
        .call(node.id.index, slot, std::format!("pause={pause}"));
    // SAFETY: forwarding contract (module docs).
    unsafe { (table.NdkControlConnectEvents)(node.real.get().cast(), pause) };
    node.inner
        .returned(node.id.index, slot, None, String::new());
}

/// Starts a request that links the connector to `qp` and `endpoint` (those given).
///
/// Both links follow one rule: they stand while the request is accepted (it returned
/// `STATUS_SUCCESS`, or `STATUS_PENDING` and its completion has not reported a failure) and are
/// dropped when it fails inline (any other return) or its completion reports anything but
/// `STATUS_SUCCESS`. They are made before forwarding, so an antecedent close that races with
/// the request is judged against them.
fn linked_request(
    node: &Node,
    slot: &'static str,
    qp: Option<&std::sync::Arc<Node>>,
    endpoint: Option<&std::sync::Arc<Node>>,
    callback: Option<NDK_FN_REQUEST_COMPLETION>,
    context: *mut c_void,
    forward: impl FnOnce(&Wrapped) -> NTSTATUS,
) -> NTSTATUS {
    node.inner.call(node.id.index, slot, String::new());
    let links: Vec<(u32, u32)> = [qp, endpoint]
        .into_iter()
        .flatten()
        .map(|a| {
            node.inner.link(node.id.index, a.id.index);
            (node.id.index, a.id.index)
        })
        .collect();
    let wrapped = wrap_request(node, slot, callback, context, &links);
    let status = forward(&wrapped);
    request_returned(node, slot, &wrapped, status, &links);
    status
}

/// Wraps a disconnect-event callback of either flavour.
fn wrap_disconnect<F: Copy>(
    node: &Node,
    callback: Option<F>,
    context: *mut c_void,
    make: impl FnOnce(F, Context) -> Disconnect,
) -> (bool, *mut c_void) {
    callback.map_or((false, context), |f| {
        let token = node
            .inner
            .register_disconnect(node.id.index, make(f, Context::new(context)));
        (true, registry::token_ptr(token))
    })
}

/// Wraps a plain disconnect-event callback: returns the trampoline and its token context in
/// place of the consumer's, or both unchanged when there is no callback.
fn plain_disconnect(
    node: &Node,
    event: Option<NDK_FN_DISCONNECT_EVENT_CALLBACK>,
    event_context: *mut c_void,
) -> (Option<NDK_FN_DISCONNECT_EVENT_CALLBACK>, *mut c_void) {
    let (wrapped, context) = wrap_disconnect(node, event, event_context, |f, c| {
        // SAFETY: the consumer handed `f` and its context as the connection's disconnect
        // event, callable at or below DISPATCH until the connector's close completes (§3.3).
        Disconnect::Plain(unsafe { DisconnectEvent::new(f, c) })
    });
    let trampoline = trampoline::disconnect_event as NDK_FN_DISCONNECT_EVENT_CALLBACK;
    (wrapped.then_some(trampoline), context)
}

/// [`plain_disconnect`] for the `_EX` disconnect-event callback.
fn ex_disconnect(
    node: &Node,
    event: Option<NDK_FN_DISCONNECT_EVENT_CALLBACK_EX>,
    event_context: *mut c_void,
) -> (Option<NDK_FN_DISCONNECT_EVENT_CALLBACK_EX>, *mut c_void) {
    let (wrapped, context) = wrap_disconnect(node, event, event_context, |f, c| {
        // SAFETY: the consumer handed `f` and its context as the connection's `_EX` disconnect
        // event, callable at or below DISPATCH until the connector's close completes (§3.3).
        Disconnect::Ex(unsafe { DisconnectEventEx::new(f, c) })
    });
    let trampoline = trampoline::disconnect_event_ex as NDK_FN_DISCONNECT_EVENT_CALLBACK_EX;
    (wrapped.then_some(trampoline), context)
}

/// `NdkConnect`.
#[allow(clippy::too_many_arguments)]
pub extern "system" fn connect(
    connector: *mut NDK_CONNECTOR,
    qp: *mut NDK_QP,
    src: *const SOCKADDR,
    src_length: u32,
    dst: *const SOCKADDR,
    dst_length: u32,
    inbound: u32,
    outbound: u32,
    private_data: *const c_void,
    private_length: u32,
    callback: Option<NDK_FN_REQUEST_COMPLETION>,
    context: *mut c_void,
) -> NTSTATUS {
    let slot = "NdkConnect";
    let Some((node, table)) = connector_target(connector.addr(), slot) else {
        return STATUS_INVALID_HANDLE;
    };
    let (real_qp, qp_node) = registry::translate(qp);
    linked_request(
        &node,
        slot,
        qp_node.as_ref(),
        None,
        callback,
        context,
        |w| {
            // SAFETY: forwarding contract (module docs).
            unsafe {
                (table.NdkConnect)(
                    node.real.get().cast(),
                    real_qp,
                    src,
                    src_length,
                    dst,
                    dst_length,
                    inbound,
                    outbound,
                    private_data,
                    private_length,
                    w.callback,
                    w.context,
                )
            }
        },
    )
}

/// `NdkConnectWithSharedEndpoint`.
#[allow(clippy::too_many_arguments)]
pub extern "system" fn connect_with_shared_endpoint(
    connector: *mut NDK_CONNECTOR,
    qp: *mut NDK_QP,
    endpoint: *mut NDK_SHARED_ENDPOINT,
    dst: *const SOCKADDR,
    dst_length: u32,
    inbound: u32,
    outbound: u32,
    private_data: *const c_void,
    private_length: u32,
    callback: Option<NDK_FN_REQUEST_COMPLETION>,
    context: *mut c_void,
) -> NTSTATUS {
    let slot = "NdkConnectWithSharedEndpoint";
    let Some((node, table)) = connector_target(connector.addr(), slot) else {
        return STATUS_INVALID_HANDLE;
    };
    let (real_qp, qp_node) = registry::translate(qp);
    let (real_endpoint, endpoint_node) = registry::translate(endpoint);
    linked_request(
        &node,
        slot,
        qp_node.as_ref(),
        endpoint_node.as_ref(),
        callback,
        context,
        |w| {
            // SAFETY: forwarding contract (module docs).
            unsafe {
                (table.NdkConnectWithSharedEndpoint)(
                    node.real.get().cast(),
                    real_qp,
                    real_endpoint,
                    dst,
                    dst_length,
                    inbound,
                    outbound,
                    private_data,
                    private_length,
                    w.callback,
                    w.context,
                )
            }
        },
    )
}

/// Forwards `NdkCompleteConnect(Ex)`: `$wrap` wraps the disconnect event of type `$event`.
macro_rules! complete_connect_slot {
    ($(#[$meta:meta])* $name:ident, $slot:ident, $event:ty, $wrap:ident) => {
        $(#[$meta])*
        pub extern "system" fn $name(
            connector: *mut NDK_CONNECTOR,
            event: Option<$event>,
            event_context: *mut c_void,
            callback: Option<NDK_FN_REQUEST_COMPLETION>,
            context: *mut c_void,
        ) -> NTSTATUS {
            let slot = stringify!($slot);
            let Some((node, table)) = connector_target(connector.addr(), slot) else {
                return STATUS_INVALID_HANDLE;
            };
            let (event_fn, event_ctx) = $wrap(&node, event, event_context);
            linked_request(&node, slot, None, None, callback, context, |w| {
                // SAFETY: forwarding contract (module docs).
                unsafe {
                    (table.$slot)(
                        node.real.get().cast(),
                        event_fn,
                        event_ctx,
                        w.callback,
                        w.context,
                    )
                }
            })
        }
    };
}

/// Forwards `NdkAccept(Ex)`: links the QP like a connect; `$wrap` wraps the disconnect event of
/// type `$event`.
macro_rules! accept_slot {
    ($(#[$meta:meta])* $name:ident, $slot:ident, $event:ty, $wrap:ident) => {
        $(#[$meta])*
        #[allow(clippy::too_many_arguments)]
        pub extern "system" fn $name(
            connector: *mut NDK_CONNECTOR,
            qp: *mut NDK_QP,
            inbound: u32,
            outbound: u32,
            private_data: *const c_void,
            private_length: u32,
            event: Option<$event>,
            event_context: *mut c_void,
            callback: Option<NDK_FN_REQUEST_COMPLETION>,
            context: *mut c_void,
        ) -> NTSTATUS {
            let slot = stringify!($slot);
            let Some((node, table)) = connector_target(connector.addr(), slot) else {
                return STATUS_INVALID_HANDLE;
            };
            let (real_qp, qp_node) = registry::translate(qp);
            let (event_fn, event_ctx) = $wrap(&node, event, event_context);
            linked_request(&node, slot, qp_node.as_ref(), None, callback, context, |w| {
                // SAFETY: forwarding contract (module docs).
                unsafe {
                    (table.$slot)(
                        node.real.get().cast(),
                        real_qp,
                        inbound,
                        outbound,
                        private_data,
                        private_length,
                        event_fn,
                        event_ctx,
                        w.callback,
                        w.context,
                    )
                }
            })
        }
    };
}

complete_connect_slot!(
    /// `NdkCompleteConnect`.
    complete_connect, NdkCompleteConnect, NDK_FN_DISCONNECT_EVENT_CALLBACK, plain_disconnect
);
complete_connect_slot!(
    /// `NdkCompleteConnectEx`.
    complete_connect_ex, NdkCompleteConnectEx, NDK_FN_DISCONNECT_EVENT_CALLBACK_EX, ex_disconnect
);
accept_slot!(
    /// `NdkAccept`.
    accept, NdkAccept, NDK_FN_DISCONNECT_EVENT_CALLBACK, plain_disconnect
);
accept_slot!(
    /// `NdkAcceptEx`.
    accept_ex, NdkAcceptEx, NDK_FN_DISCONNECT_EVENT_CALLBACK_EX, ex_disconnect
);
