//! Adapter slots (`spec/ndkpi.md` §2.1): the creates of CQ, PD, shared endpoint, connector and
//! listener, LAM building, and the synchronous queries.

use core::ffi::c_void;
use std::format;
use std::vec::Vec;

use super::{
    adapter_target, child, child_create_slot, create, request_returned, sync_slot, void_slot,
    wrap_event, wrap_request,
};
use crate::abi::upcall::{ConnectEvent, CqNotification};
use crate::abi::{
    GROUP_AFFINITY, MDL, NDK_ADAPTER, NDK_ADAPTER_INFO, NDK_CONNECTOR, NDK_CQ,
    NDK_FN_CONNECT_EVENT_CALLBACK, NDK_FN_CQ_NOTIFICATION_CALLBACK, NDK_FN_CREATE_COMPLETION,
    NDK_FN_REQUEST_COMPLETION, NDK_LISTENER, NDK_LOGICAL_ADDRESS_MAPPING, NDK_PD,
    NDK_SHARED_ENDPOINT, NTSTATUS, SOCKADDR, STATUS_INVALID_HANDLE,
};
use crate::verifier::record::ObjectKind;
use crate::verifier::trampoline;

sync_slot!(query_adapter_info, adapter_target, NDK_ADAPTER, NdkQueryAdapterInfo,
    (info: *mut NDK_ADAPTER_INFO, size: *mut u32));

/// `NdkCreateCq`: wraps the notification callback for the new CQ.
#[allow(clippy::too_many_arguments)]
pub extern "system" fn create_cq(
    adapter: *mut NDK_ADAPTER,
    depth: u32,
    notification: Option<NDK_FN_CQ_NOTIFICATION_CALLBACK>,
    notification_context: *mut c_void,
    affinity: *const GROUP_AFFINITY,
    callback: Option<NDK_FN_CREATE_COMPLETION>,
    context: *mut c_void,
    out: *mut *mut NDK_CQ,
) -> NTSTATUS {
    let slot = "NdkCreateCq";
    let Some((node, table)) = adapter_target(adapter.addr(), slot) else {
        return STATUS_INVALID_HANDLE;
    };
    let index = node.id.index;
    node.inner.call(index, slot, format!("depth={depth}"));
    let mut birth = child(index, ObjectKind::Cq);
    let (notify, notify_context) = wrap_event(
        notification,
        notification_context,
        &mut birth,
        trampoline::cq_notification,
        |f, c| {
            // SAFETY: the consumer handed `f` and its context as the CQ's notification
            // callback, callable at or below DISPATCH until the CQ's close completes (§3.4).
            node.inner
                .register_cq_notify(index, unsafe { CqNotification::new(f, c) })
        },
    );
    create(
        &node,
        slot,
        birth,
        callback,
        context,
        out,
        |cb, ctx, out| {
            // SAFETY: forwarding contract (module docs).
            unsafe {
                (table.NdkCreateCq)(
                    node.real.get().cast(),
                    depth,
                    notify,
                    notify_context,
                    affinity,
                    cb,
                    ctx,
                    out,
                )
            }
        },
    )
}

child_create_slot!(
    /// `NdkCreatePd`.
    create_pd, adapter_target, NDK_ADAPTER, NdkCreatePd, Pd, NDK_PD, (),
    detail = std::string::String::new()
);

child_create_slot!(
    /// `NdkCreateSharedEndpoint`.
    create_shared_endpoint, adapter_target, NDK_ADAPTER, NdkCreateSharedEndpoint,
    SharedEndpoint, NDK_SHARED_ENDPOINT, (address: *const SOCKADDR, address_length: u32),
    detail = std::string::String::new()
);

child_create_slot!(
    /// `NdkCreateConnector`.
    create_connector, adapter_target, NDK_ADAPTER, NdkCreateConnector, Connector,
    NDK_CONNECTOR, (), detail = std::string::String::new()
);

/// `NdkCreateListener`: wraps the connect-event callback for the new listener.
pub extern "system" fn create_listener(
    adapter: *mut NDK_ADAPTER,
    connect_event: Option<NDK_FN_CONNECT_EVENT_CALLBACK>,
    connect_context: *mut c_void,
    callback: Option<NDK_FN_CREATE_COMPLETION>,
    context: *mut c_void,
    out: *mut *mut NDK_LISTENER,
) -> NTSTATUS {
    let slot = "NdkCreateListener";
    let Some((node, table)) = adapter_target(adapter.addr(), slot) else {
        return STATUS_INVALID_HANDLE;
    };
    let index = node.id.index;
    node.inner.call(index, slot, std::string::String::new());
    let mut birth = child(index, ObjectKind::Listener);
    let (event, event_context) = wrap_event(
        connect_event,
        connect_context,
        &mut birth,
        trampoline::connect_event,
        |f, c| {
            // SAFETY: the consumer handed `f` and its context as the listener's connect-event
            // callback, callable at or below DISPATCH until the listener's close completes.
            node.inner
                .register_connect(index, unsafe { ConnectEvent::new(f, c) })
        },
    );
    create(
        &node,
        slot,
        birth,
        callback,
        context,
        out,
        |cb, ctx, out| {
            // SAFETY: forwarding contract (module docs).
            unsafe {
                (table.NdkCreateListener)(
                    node.real.get().cast(),
                    event,
                    event_context,
                    cb,
                    ctx,
                    out,
                )
            }
        },
    )
}

/// `NdkBuildLAM`: an asynchronous request on the adapter.
#[allow(clippy::too_many_arguments)]
pub extern "system" fn build_lam(
    adapter: *mut NDK_ADAPTER,
    mdl: *mut MDL,
    length: usize,
    callback: Option<NDK_FN_REQUEST_COMPLETION>,
    context: *mut c_void,
    lam: *mut NDK_LOGICAL_ADDRESS_MAPPING,
    lam_size: *mut u32,
    fbo: *mut u32,
) -> NTSTATUS {
    let slot = "NdkBuildLAM";
    let Some((node, table)) = adapter_target(adapter.addr(), slot) else {
        return STATUS_INVALID_HANDLE;
    };
    node.inner
        .call(node.id.index, slot, format!("length={length}"));
    let wrapped = wrap_request(&node, slot, callback, context, &[]);
    // SAFETY: forwarding contract (module docs).
    let status = unsafe {
        (table.NdkBuildLAM)(
            node.real.get().cast(),
            mdl,
            length,
            wrapped.callback,
            wrapped.context,
            lam,
            lam_size,
            fbo,
        )
    };
    request_returned(&node, slot, &wrapped, status, &[]);
    status
}

void_slot!(
    /// `NdkReleaseLAM`.
    release_lam, adapter_target, NDK_ADAPTER, NdkReleaseLAM,
    (lam: *mut NDK_LOGICAL_ADDRESS_MAPPING)
);

/// Antecedent list without duplicates, in order.
pub(super) fn dedup(list: impl IntoIterator<Item = Option<u32>>) -> Vec<u32> {
    let mut out = Vec::new();
    for v in list.into_iter().flatten() {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}
