//! The verifier's dispatch tables: one `extern "system"` function per slot of every NDK table,
//! each recording the call, wrapping the consumer's callbacks in trampolines, translating
//! shadow objects passed as arguments to real ones, forwarding to the real provider slot and
//! recording the outcome.
//!
//! # Forwarding contract (the `// SAFETY:` argument every forwarding call refers to)
//!
//! A forwarding call `(t.Slot)(real, args...)` is sound because: `t` is the provider's own
//! table, copied from a live object of this kind when it was shadowed, so `t.Slot` is a
//! provider function with exactly this signature; `real` is that provider object, still open
//! (its shadow is live, and shadows are retired only after the real close finished); every other
//! argument is the consumer's own value passed through unchanged, or a real object substituted
//! for a shadow, or a verifier trampoline with its token, or a verifier-owned out slot, so the
//! provider receives exactly what the consumer's NDK obligations guarantee. The verifier adds
//! no obligation of its own.
//!
//! This layer never holds the verifier's lock across a forwarded call or a callback.

mod adapter;
mod connection;
mod cq;
mod memory;
mod qp;
mod srq;

use core::ffi::c_void;
use std::string::String;
use std::sync::Arc;

use super::record::{ObjectKind, Rule};
use super::registry::{self, Lookup, Node, RealTable};
use super::state::{Birth, CloseStart, accepted};
use super::trampoline;
use crate::abi::upcall::{Context, CreateCompletion, RequestCompletion};
use crate::abi::{
    GUID, NDK_ADAPTER_DISPATCH, NDK_CONNECTOR_DISPATCH, NDK_CQ_DISPATCH, NDK_EXTENSION_INTERFACE,
    NDK_FN_CLOSE_COMPLETION, NDK_FN_CLOSE_OBJECT, NDK_FN_CREATE_COMPLETION,
    NDK_FN_QUERY_EXTENSION_INTERFACE, NDK_FN_REQUEST_COMPLETION, NDK_LISTENER_DISPATCH,
    NDK_MR_DISPATCH, NDK_MW_DISPATCH, NDK_OBJECT_HEADER, NDK_PD_DISPATCH, NDK_QP_DISPATCH,
    NDK_SHARED_ENDPOINT_DISPATCH, NDK_SRQ_DISPATCH, NDK_VERSION, NTSTATUS, STATUS_INVALID_HANDLE,
    STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
};

/// Finds the live shadow at `addr` for a slot of `kind`; reports stale or mismatched use.
fn target(addr: usize, kind: ObjectKind, slot: &'static str) -> Option<Arc<Node>> {
    match registry::lookup(addr) {
        Lookup::Live(node) if node.id.kind == kind => Some(node),
        Lookup::Live(node) => {
            node.inner
                .misuse(node.id, slot, "object of the wrong kind for this slot");
            None
        }
        Lookup::Closed(Some(inner), id) => {
            inner.misuse(id, slot, "object already closed");
            None
        }
        Lookup::Closed(None, _) | Lookup::Unknown => None,
    }
}

/// Declares `fn $name(addr, slot) -> Option<(node, table)>` for one object kind.
macro_rules! targets {
    ($($name:ident: $kind:ident, $table:ty;)*) => {
        $(
            fn $name(addr: usize, slot: &'static str) -> Option<(Arc<Node>, $table)> {
                let node = target(addr, ObjectKind::$kind, slot)?;
                match node.table {
                    RealTable::$kind(table) => Some((node, table)),
                    _ => None,
                }
            }
        )*
    };
}

targets! {
    adapter_target: Adapter, NDK_ADAPTER_DISPATCH;
    cq_target: Cq, NDK_CQ_DISPATCH;
    pd_target: Pd, NDK_PD_DISPATCH;
    mr_target: Mr, NDK_MR_DISPATCH;
    mw_target: Mw, NDK_MW_DISPATCH;
    srq_target: Srq, NDK_SRQ_DISPATCH;
    qp_target: Qp, NDK_QP_DISPATCH;
    endpoint_target: SharedEndpoint, NDK_SHARED_ENDPOINT_DISPATCH;
    connector_target: Connector, NDK_CONNECTOR_DISPATCH;
    listener_target: Listener, NDK_LISTENER_DISPATCH;
}

/// The callback and context to forward for a request, and the token tracking it.
struct Wrapped {
    callback: Option<NDK_FN_REQUEST_COMPLETION>,
    context: *mut c_void,
    token: Option<usize>,
}

/// Wraps a request's completion (if the consumer gave one) in the verifier's trampoline.
fn wrap_request(
    node: &Node,
    slot: &'static str,
    callback: Option<NDK_FN_REQUEST_COMPLETION>,
    context: *mut c_void,
    links: &[(u32, u32)],
) -> Wrapped {
    let up = callback.map(|f| {
        // SAFETY: the consumer handed `f` and `context` as this request's completion; the NDK
        // contract (§3.1) makes them callable at or below DISPATCH until it has been invoked.
        unsafe { RequestCompletion::new(f, Context::new(context)) }
    });
    node.inner
        .request(node.id.index, slot, up, links.to_vec())
        .map_or(
            Wrapped {
                callback: None,
                context,
                token: None,
            },
            |token| Wrapped {
                callback: Some(trampoline::request_completion),
                context: registry::token_ptr(token),
                token: Some(token),
            },
        )
}

/// Records a request's return. The links it made are dropped if the return did not accept
/// it: by the request's record when it has one (which also drops them when its completion
/// reports a failure), here when the consumer passed no completion.
fn request_returned(
    node: &Node,
    slot: &'static str,
    wrapped: &Wrapped,
    status: NTSTATUS,
    links: &[(u32, u32)],
) {
    if let Some(token) = wrapped.token {
        node.inner.request_returned(token, status);
    } else if !accepted(status) {
        for &(s, a) in links {
            node.inner.unlink(s, a);
        }
    }
    node.inner
        .returned(node.id.index, slot, Some(status), String::new());
}

/// Runs a create on `parent`: wraps its completion, substitutes the verifier's out slot,
/// forwards, and shadows an inline-created object into the consumer's out-pointer.
///
/// A NULL out-pointer is the consumer's bug ([`Rule::CreateOutPointerNull`]): it is reported
/// and not forwarded, and the create returns `STATUS_INVALID_PARAMETER` (no completion
/// follows). Forwarding it would let a provider that does not check create an object nobody can
/// reach or close, and its blocking adapter close would then wait for it forever.
fn create<T>(
    parent: &Node,
    slot: &'static str,
    birth: Birth,
    callback: Option<NDK_FN_CREATE_COMPLETION>,
    context: *mut c_void,
    out: *mut *mut T,
    forward: impl FnOnce(Option<NDK_FN_CREATE_COMPLETION>, *mut c_void, *mut *mut T) -> NTSTATUS,
) -> NTSTATUS {
    let up = callback.map(|f| {
        // SAFETY: the consumer handed `f` and `context` as this create's completion; the NDK
        // contract (§3.1) makes them callable at or below DISPATCH until it has been invoked.
        unsafe { CreateCompletion::new(f, Context::new(context)) }
    });
    let inner = &parent.inner;
    if out.is_null() {
        let message = std::format!("{slot} called with a NULL out-pointer (not forwarded)");
        inner.refuse(parent.id.index, Rule::CreateOutPointerNull, message);
        let status = STATUS_INVALID_PARAMETER;
        inner.returned(parent.id.index, slot, Some(status), String::new());
        return status;
    }
    let (token, slot_ptr) = inner.create(parent.id.index, slot, up, birth);
    let (cb, ctx) = if callback.is_some() {
        (
            Some(trampoline::create_completion as NDK_FN_CREATE_COMPLETION),
            registry::token_ptr(token),
        )
    } else {
        (None, context)
    };
    let status = forward(cb, ctx, slot_ptr.cast::<*mut T>());
    let adoption = inner.request_returned(token, status);
    if status == STATUS_SUCCESS {
        let shadow = adoption.map_or(core::ptr::null_mut(), |a| {
            let node = trampoline::adopt_from_callback(inner, a);
            inner.created_shadow(token, node.shadow_ptr().addr());
            node.shadow_ptr().cast::<T>()
        });
        // SAFETY: `out` is the consumer's non-null `_Out_` pointer for this create, valid for
        // writing one pointer when the create completes inline (§5.2 step 2), which it did.
        unsafe { out.write(shadow) };
    }
    inner.returned(parent.id.index, slot, Some(status), String::new());
    status
}

/// The real close slot of a shadowed object (the adapter has none).
const fn close_slot(table: &RealTable) -> Option<(NDK_FN_CLOSE_OBJECT, &'static str)> {
    Some(match table {
        RealTable::Adapter(_) => return None,
        RealTable::Cq(t) => (t.NdkCloseCq, "NdkCloseCq"),
        RealTable::Pd(t) => (t.NdkClosePd, "NdkClosePd"),
        RealTable::Mr(t) => (t.NdkCloseMr, "NdkCloseMr"),
        RealTable::Mw(t) => (t.NdkCloseMw, "NdkCloseMw"),
        RealTable::Srq(t) => (t.NdkCloseSrq, "NdkCloseSrq"),
        RealTable::Qp(t) => (t.NdkCloseQp, "NdkCloseQp"),
        RealTable::SharedEndpoint(t) => (t.NdkCloseSharedEndpoint, "NdkCloseSharedEndpoint"),
        RealTable::Connector(t) => (t.NdkCloseConnector, "NdkCloseConnector"),
        RealTable::Listener(t) => (t.NdkCloseListener, "NdkCloseListener"),
    })
}

/// The real `NdkQueryExtension` slot of a shadowed object.
const fn query_slot(table: &RealTable) -> NDK_FN_QUERY_EXTENSION_INTERFACE {
    match table {
        RealTable::Adapter(t) => t.NdkQueryExtension,
        RealTable::Cq(t) => t.NdkQueryExtension,
        RealTable::Pd(t) => t.NdkQueryExtension,
        RealTable::Mr(t) => t.NdkQueryExtension,
        RealTable::Mw(t) => t.NdkQueryExtension,
        RealTable::Srq(t) => t.NdkQueryExtension,
        RealTable::Qp(t) => t.NdkQueryExtension,
        RealTable::SharedEndpoint(t) => t.NdkQueryExtension,
        RealTable::Connector(t) => t.NdkQueryExtension,
        RealTable::Listener(t) => t.NdkQueryExtension,
    }
}

/// Every table's close slot (`NdkCloseCq`, `NdkCloseQp`, ...).
extern "system" fn close_object(
    object: *mut NDK_OBJECT_HEADER,
    callback: Option<NDK_FN_CLOSE_COMPLETION>,
    context: *mut c_void,
) -> NTSTATUS {
    let node = match registry::lookup(object.addr()) {
        Lookup::Live(node) => node,
        Lookup::Closed(Some(inner), id) => {
            inner.close_after_close(id.index, "NdkCloseObject");
            return STATUS_INVALID_HANDLE;
        }
        Lookup::Closed(None, _) | Lookup::Unknown => return STATUS_INVALID_HANDLE,
    };
    let Some((close, slot)) = close_slot(&node.table) else {
        node.inner
            .misuse(node.id, "NdkCloseObject", "the adapter has no close slot");
        return STATUS_INVALID_HANDLE;
    };
    let up = callback.map(|f| {
        // SAFETY: the consumer handed `f` and `context` as this close's completion; the NDK
        // contract (§2.A, §3.1) makes them callable at or below DISPATCH until invoked.
        unsafe { crate::abi::upcall::CloseCompletion::new(f, Context::new(context)) }
    });
    let CloseStart::Forward(token) = node.inner.close(node.id.index, slot, up) else {
        // A second close: the first may complete and free the provider's object at any moment.
        return STATUS_INVALID_HANDLE;
    };
    let (cb, ctx) = token.map_or((None, context), |token| {
        (
            Some(trampoline::close_completion as NDK_FN_CLOSE_COMPLETION),
            registry::token_ptr(token),
        )
    });
    // SAFETY: forwarding contract (module docs).
    let status = unsafe { close(node.real_header(), cb, ctx) };
    if let Some(shadow) = node
        .inner
        .close_returned(node.id.index, slot, token, status)
    {
        registry::retire(shadow);
    }
    status
}

/// Every table's `NdkQueryExtension` slot.
extern "system" fn query_extension(
    object: *mut NDK_OBJECT_HEADER,
    id: *const GUID,
    version: NDK_VERSION,
    out: *mut NDK_EXTENSION_INTERFACE,
) -> NTSTATUS {
    let Some(node) = registry::live(object.addr()) else {
        if let Lookup::Closed(Some(inner), oid) = registry::lookup(object.addr()) {
            inner.misuse(oid, "NdkQueryExtension", "object already closed");
        }
        return STATUS_INVALID_HANDLE;
    };
    let slot = "NdkQueryExtension";
    node.inner.call(node.id.index, slot, String::new());
    let query = query_slot(&node.table);
    // SAFETY: forwarding contract (module docs).
    let status = unsafe { query(node.real_header(), id, version, out) };
    node.inner
        .returned(node.id.index, slot, Some(status), String::new());
    status
}

/// Forwards a synchronous slot returning `NTSTATUS`: record, forward, record.
macro_rules! sync_slot {
    ($name:ident, $target:ident, $obj:ty, $slot:ident, ($($arg:ident: $ty:ty),*)) => {
        pub extern "system" fn $name(object: *mut $obj, $($arg: $ty),*) -> crate::abi::NTSTATUS {
            let slot = stringify!($slot);
            let Some((node, table)) = $target(object.addr(), slot) else {
                return crate::abi::STATUS_INVALID_HANDLE;
            };
            node.inner.call(node.id.index, slot, std::string::String::new());
            // SAFETY: forwarding contract (module docs).
            let status = unsafe { (table.$slot)(node.real.get().cast(), $($arg),*) };
            node.inner.returned(node.id.index, slot, Some(status), std::string::String::new());
            status
        }
    };
}

/// Forwards a synchronous slot that returns nothing (the return is recorded without a status).
macro_rules! void_slot {
    (
        $(#[$meta:meta])*
        $name:ident, $target:ident, $obj:ty, $slot:ident, ($($arg:ident: $ty:ty),*)
    ) => {
        $(#[$meta])*
        pub extern "system" fn $name(object: *mut $obj, $($arg: $ty),*) {
            let slot = stringify!($slot);
            let Some((node, table)) = $target(object.addr(), slot) else {
                return;
            };
            node.inner.call(node.id.index, slot, std::string::String::new());
            // SAFETY: forwarding contract (module docs).
            unsafe { (table.$slot)(node.real.get().cast(), $($arg),*) };
            node.inner.returned(node.id.index, slot, None, std::string::String::new());
        }
    };
}

/// Forwards an asynchronous slot whose last two parameters are the request completion and
/// its context.
macro_rules! request_slot {
    ($name:ident, $target:ident, $obj:ty, $slot:ident, ($($arg:ident: $ty:ty),*)) => {
        pub extern "system" fn $name(
            object: *mut $obj,
            $($arg: $ty,)*
            callback: Option<crate::abi::NDK_FN_REQUEST_COMPLETION>,
            context: *mut core::ffi::c_void,
        ) -> crate::abi::NTSTATUS {
            let slot = stringify!($slot);
            let Some((node, table)) = $target(object.addr(), slot) else {
                return crate::abi::STATUS_INVALID_HANDLE;
            };
            node.inner.call(node.id.index, slot, std::string::String::new());
            let wrapped = super::wrap_request(&node, slot, callback, context, &[]);
            // SAFETY: forwarding contract (module docs).
            let status = unsafe {
                (table.$slot)(node.real.get().cast(), $($arg,)* wrapped.callback, wrapped.context)
            };
            super::request_returned(&node, slot, &wrapped, status, &[]);
            status
        }
    };
}

/// Forwards a work-request post through [`qp::post`]: records it, enters it in the CQ
/// accounting on `$queue` of the target object, and forwards the object, the request context
/// and the listed arguments in order. Arguments named in `translate(..)` are object handles
/// replaced by the real provider's objects first.
macro_rules! post_slot {
    (
        $(#[$meta:meta])*
        $name:ident, $target:ident, $obj:ty, $slot:ident, $queue:ident, flags = $flags:expr,
        ($($arg:ident: $ty:ty),*) $(, translate($($real:ident),*))?
    ) => {
        $(#[$meta])*
        pub extern "system" fn $name(
            object: *mut $obj,
            context: *mut core::ffi::c_void,
            $($arg: $ty),*
        ) -> crate::abi::NTSTATUS {
            let slot = stringify!($slot);
            let Some((node, table)) = $target(object.addr(), slot) else {
                return crate::abi::STATUS_INVALID_HANDLE;
            };
            $($(let ($real, _) = crate::verifier::registry::translate($real);)*)?
            let queue = crate::verifier::book::Queue::$queue(node.id.index);
            super::qp::post(&node, slot, queue, context, $flags, || {
                // SAFETY: forwarding contract (module docs).
                unsafe { (table.$slot)(node.real.get().cast(), context, $($arg),*) }
            })
        }
    };
}

/// Wraps the optional event callback a create hands to its new object (CQ/SRQ notification,
/// listener connect event). `register` turns the consumer's callback into its upcall (the
/// caller owns that `SAFETY` argument) and registers it; its token becomes `birth.event` and,
/// as a pointer, the context forwarded with `trampoline`. Without a callback the consumer's
/// context passes through unchanged.
fn wrap_event<F>(
    callback: Option<F>,
    context: *mut c_void,
    birth: &mut Birth,
    trampoline: F,
    register: impl FnOnce(F, Context) -> usize,
) -> (Option<F>, *mut c_void) {
    callback.map_or((None, context), |f| {
        let token = register(f, Context::new(context));
        birth.event = Some(token);
        (Some(trampoline), registry::token_ptr(token))
    })
}

/// The birth of an object whose only antecedent is the parent it is created on.
fn child(parent: u32, kind: ObjectKind) -> Birth {
    Birth {
        kind,
        antecedents: std::vec![parent],
        qp: None,
        event: None,
        armed: false,
    }
}

/// Forwards a create whose new object has only its parent as antecedent and whose last three
/// parameters are the create completion, its context and the out pointer; `detail` is the
/// recorded call detail.
macro_rules! child_create_slot {
    (
        $(#[$meta:meta])*
        $name:ident, $target:ident, $parent:ty, $slot:ident, $kind:ident, $out:ty,
        ($($arg:ident: $ty:ty),*), detail = $detail:expr
    ) => {
        $(#[$meta])*
        pub extern "system" fn $name(
            parent: *mut $parent,
            $($arg: $ty,)*
            callback: Option<crate::abi::NDK_FN_CREATE_COMPLETION>,
            context: *mut core::ffi::c_void,
            out: *mut *mut $out,
        ) -> crate::abi::NTSTATUS {
            let slot = stringify!($slot);
            let Some((node, table)) = $target(parent.addr(), slot) else {
                return crate::abi::STATUS_INVALID_HANDLE;
            };
            node.inner.call(node.id.index, slot, $detail);
            let birth = super::child(node.id.index, crate::verifier::record::ObjectKind::$kind);
            super::create(&node, slot, birth, callback, context, out, |cb, ctx, out| {
                // SAFETY: forwarding contract (module docs).
                unsafe { (table.$slot)(node.real.get().cast(), $($arg,)* cb, ctx, out) }
            })
        }
    };
}

pub(super) use {child_create_slot, post_slot, request_slot, sync_slot, void_slot};

/// The verifier's `NDK_ADAPTER_DISPATCH`.
pub static ADAPTER_TABLE: NDK_ADAPTER_DISPATCH = NDK_ADAPTER_DISPATCH {
    NdkQueryExtension: query_extension,
    NdkQueryAdapterInfo: adapter::query_adapter_info,
    NdkCreateCq: adapter::create_cq,
    NdkCreatePd: adapter::create_pd,
    NdkCreateSharedEndpoint: adapter::create_shared_endpoint,
    NdkCreateConnector: adapter::create_connector,
    NdkCreateListener: adapter::create_listener,
    NdkBuildLAM: adapter::build_lam,
    NdkReleaseLAM: adapter::release_lam,
};

/// The verifier's `NDK_CQ_DISPATCH`.
pub static CQ_TABLE: NDK_CQ_DISPATCH = NDK_CQ_DISPATCH {
    NdkCloseCq: close_object,
    NdkQueryExtension: query_extension,
    NdkResizeCq: cq::resize_cq,
    NdkArmCq: cq::arm_cq,
    NdkGetCqResults: cq::get_cq_results,
    NdkControlCqInterruptModeration: cq::control_cq_interrupt_moderation,
    NdkGetCqResultsEx: cq::get_cq_results_ex,
};

/// The verifier's `NDK_PD_DISPATCH`.
pub static PD_TABLE: NDK_PD_DISPATCH = NDK_PD_DISPATCH {
    NdkClosePd: close_object,
    NdkQueryExtension: query_extension,
    NdkCreateMr: memory::create_mr,
    NdkCreateMw: memory::create_mw,
    NdkCreateSrq: srq::create_srq,
    NdkCreateQp: qp::create_qp,
    NdkCreateQpWithSrq: qp::create_qp_with_srq,
    NdkGetPrivilegedMemoryRegionToken: memory::get_privileged_token,
};

/// The verifier's `NDK_MR_DISPATCH`.
pub static MR_TABLE: NDK_MR_DISPATCH = NDK_MR_DISPATCH {
    NdkCloseMr: close_object,
    NdkQueryExtension: query_extension,
    NdkRegisterMr: memory::register_mr,
    NdkDeregisterMr: memory::deregister_mr,
    NdkInitializeFastRegisterMr: memory::initialize_fast_register_mr,
    NdkGetRemoteTokenFromMr: memory::remote_token_from_mr,
    NdkGetLocalTokenFromMr: memory::local_token_from_mr,
};

/// The verifier's `NDK_MW_DISPATCH`.
pub static MW_TABLE: NDK_MW_DISPATCH = NDK_MW_DISPATCH {
    NdkCloseMw: close_object,
    NdkQueryExtension: query_extension,
    NdkGetRemoteTokenFromMw: memory::remote_token_from_mw,
};

/// The verifier's `NDK_SRQ_DISPATCH`.
pub static SRQ_TABLE: NDK_SRQ_DISPATCH = NDK_SRQ_DISPATCH {
    NdkCloseSrq: close_object,
    NdkQueryExtension: query_extension,
    NdkModifySrq: srq::modify_srq,
    NdkSrqReceive: srq::srq_receive,
};

/// The verifier's `NDK_QP_DISPATCH`.
pub static QP_TABLE: NDK_QP_DISPATCH = NDK_QP_DISPATCH {
    NdkCloseQp: close_object,
    NdkQueryExtension: query_extension,
    NdkFlush: qp::flush,
    NdkSend: qp::send,
    NdkReceive: qp::receive,
    NdkBind: qp::bind,
    NdkFastRegister: qp::fast_register,
    NdkInvalidate: qp::invalidate,
    NdkRead: qp::read,
    NdkWrite: qp::write,
    NdkSendAndInvalidate: qp::send_and_invalidate,
};

/// The verifier's `NDK_SHARED_ENDPOINT_DISPATCH`.
pub static SHARED_ENDPOINT_TABLE: NDK_SHARED_ENDPOINT_DISPATCH = NDK_SHARED_ENDPOINT_DISPATCH {
    NdkCloseSharedEndpoint: close_object,
    NdkQueryExtension: query_extension,
    NdkGetLocalAddress: connection::endpoint_local_address,
};

/// The verifier's `NDK_CONNECTOR_DISPATCH` (all 13 slots).
pub static CONNECTOR_TABLE: NDK_CONNECTOR_DISPATCH = NDK_CONNECTOR_DISPATCH {
    NdkCloseConnector: close_object,
    NdkQueryExtension: query_extension,
    NdkConnect: connection::connect,
    NdkConnectWithSharedEndpoint: connection::connect_with_shared_endpoint,
    NdkCompleteConnect: connection::complete_connect,
    NdkAccept: connection::accept,
    NdkReject: connection::reject,
    NdkGetConnectionData: connection::get_connection_data,
    NdkGetLocalAddress: connection::connector_local_address,
    NdkGetPeerAddress: connection::connector_peer_address,
    NdkDisconnect: connection::disconnect,
    NdkCompleteConnectEx: connection::complete_connect_ex,
    NdkAcceptEx: connection::accept_ex,
};

/// The verifier's `NDK_LISTENER_DISPATCH`.
pub static LISTENER_TABLE: NDK_LISTENER_DISPATCH = NDK_LISTENER_DISPATCH {
    NdkCloseListener: close_object,
    NdkQueryExtension: query_extension,
    NdkListen: connection::listen,
    NdkGetLocalAddress: connection::listener_local_address,
    NdkControlConnectEvents: connection::control_connect_events,
};
