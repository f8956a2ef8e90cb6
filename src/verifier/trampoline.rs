//! The callbacks the verifier hands the provider in place of the consumer's: each looks up its
//! token, records and checks the call, forwards to the consumer's real callback (through
//! `abi::upcall`), then records its return.
//!
//! The context each receives is a token, never an address, so a duplicate or late call from a
//! buggy provider cannot reach freed memory. A token whose verifier is gone is dropped (there
//! is no consumer callback left to forward to). These functions never panic and never hold the
//! verifier's lock while the consumer runs. The one `unsafe` shadows an object the provider
//! hands up.

use core::ffi::c_void;

use super::record::CallbackKind;
use super::registry::{self, Node};
use super::state::{Adoption, Inner};
use crate::abi::{NDK_CONNECTOR, NDK_OBJECT_HEADER, NTSTATUS};
use std::sync::Arc;

/// Shadows a provider object handed up in a callback; returns the shadow pointer.
pub fn adopt_from_callback(inner: &Arc<Inner>, adoption: Adoption) -> Arc<Node> {
    // SAFETY: (contract of `adopt`) the provider hands a consumer a live, initialised object of
    // the announced kind in a successful create completion or connect event (spec §3.1, §3.2);
    // `state` produced this adoption only for a non-null pointer in exactly those cases.
    let node = unsafe { registry::adopt(inner, adoption.id, adoption.real) };
    inner.adopted(adoption.id, node.shadow_ptr().addr());
    node
}

/// `NDK_FN_REQUEST_COMPLETION` trampoline.
pub extern "system" fn request_completion(context: *mut c_void, status: NTSTATUS) {
    let token = context.addr();
    let Some(inner) = registry::verifier_of(token) else {
        return;
    };
    if let Some(up) = inner.request_completion(token, status) {
        up.call(status);
    }
    inner.completion_returned(token, CallbackKind::RequestCompletion);
}

/// `NDK_FN_CREATE_COMPLETION` trampoline.
pub extern "system" fn create_completion(
    context: *mut c_void,
    status: NTSTATUS,
    object: *mut NDK_OBJECT_HEADER,
) {
    let token = context.addr();
    let Some(inner) = registry::verifier_of(token) else {
        return;
    };
    let (up, adoption, earlier) = inner.create_completion(token, status, object.cast());
    let shadow = adoption.map_or(earlier, |a| {
        let node = adopt_from_callback(&inner, a);
        let addr = node.shadow_ptr().addr();
        inner.created_shadow(token, addr);
        addr
    });
    if let Some(up) = up {
        let handed: *mut NDK_OBJECT_HEADER = if shadow == 0 {
            core::ptr::null_mut()
        } else {
            registry::live(shadow).map_or(core::ptr::null_mut(), |n| n.shadow_ptr().cast())
        };
        up.call(status, handed);
    }
    inner.completion_returned(token, CallbackKind::CreateCompletion);
}

/// `NDK_FN_CLOSE_COMPLETION` trampoline.
pub extern "system" fn close_completion(context: *mut c_void) {
    let token = context.addr();
    let Some(inner) = registry::verifier_of(token) else {
        return;
    };
    let Some((up, entry)) = inner.close_completion(token) else {
        return;
    };
    up.call();
    if let Some(shadow) = inner.close_completion_returned(token, entry) {
        registry::retire(shadow);
    }
}

/// `NDK_FN_CQ_NOTIFICATION_CALLBACK` trampoline.
pub extern "system" fn cq_notification(context: *mut c_void, status: NTSTATUS) {
    let token = context.addr();
    let Some(inner) = registry::verifier_of(token) else {
        return;
    };
    if let Some((up, obj)) = inner.cq_notification(token, status) {
        up.call(status);
        inner.notification_returned(obj, CallbackKind::CqNotification);
    }
}

/// `NDK_FN_SRQ_NOTIFICATION_CALLBACK` trampoline.
pub extern "system" fn srq_notification(context: *mut c_void, status: NTSTATUS) {
    let token = context.addr();
    let Some(inner) = registry::verifier_of(token) else {
        return;
    };
    if let Some((up, obj)) = inner.srq_notification(token, status) {
        up.call(status);
        inner.notification_returned(obj, CallbackKind::SrqNotification);
    }
}

/// `NDK_FN_CONNECT_EVENT_CALLBACK` trampoline: shadows the new connector first.
pub extern "system" fn connect_event(context: *mut c_void, connector: *mut NDK_CONNECTOR) {
    let token = context.addr();
    let Some(inner) = registry::verifier_of(token) else {
        return;
    };
    if let Some((up, obj, adoption)) = inner.connect_event(token, connector.cast()) {
        let shadow = adoption.map_or(core::ptr::null_mut(), |a| {
            adopt_from_callback(&inner, a).shadow_ptr().cast()
        });
        up.call(shadow);
        inner.event_returned(obj, CallbackKind::ConnectEvent);
    }
}

/// `NDK_FN_DISCONNECT_EVENT_CALLBACK` trampoline.
pub extern "system" fn disconnect_event(context: *mut c_void) {
    disconnect(context, None);
}

/// `NDK_FN_DISCONNECT_EVENT_CALLBACK_EX` trampoline.
pub extern "system" fn disconnect_event_ex(context: *mut c_void, reason: u32) {
    disconnect(context, Some(reason));
}

fn disconnect(context: *mut c_void, reason: Option<u32>) {
    let token = context.addr();
    let Some(inner) = registry::verifier_of(token) else {
        return;
    };
    if let Some((up, obj)) = inner.disconnect_event(token, reason) {
        up.call(reason.unwrap_or(0));
        inner.event_returned(obj, CallbackKind::DisconnectEvent);
    }
}
