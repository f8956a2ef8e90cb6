//! SRQ slots and the PD's `NdkCreateSrq` (`spec/ndkpi.md` §2.6): the notification callback is
//! wrapped, a non-zero threshold arms it, and SRQ receives feed the CQ accounting like QP
//! receives.

use core::ffi::c_void;
use std::format;

use super::{create, pd_target, post_slot, srq_target, wrap_event};
use crate::abi::upcall::SrqNotification;
use crate::abi::{
    GROUP_AFFINITY, NDK_FN_CREATE_COMPLETION, NDK_FN_REQUEST_COMPLETION,
    NDK_FN_SRQ_NOTIFICATION_CALLBACK, NDK_PD, NDK_SGE, NDK_SRQ, NTSTATUS, STATUS_INVALID_HANDLE,
};
use crate::verifier::record::ObjectKind;
use crate::verifier::state::Birth;
use crate::verifier::trampoline;

/// `NdkCreateSrq` (PD): wraps the SRQ notification; a non-zero threshold arms it.
#[allow(clippy::too_many_arguments)]
pub extern "system" fn create_srq(
    pd: *mut NDK_PD,
    depth: u32,
    max_sge: u32,
    threshold: u32,
    notification: Option<NDK_FN_SRQ_NOTIFICATION_CALLBACK>,
    notification_context: *mut c_void,
    affinity: *const GROUP_AFFINITY,
    callback: Option<NDK_FN_CREATE_COMPLETION>,
    context: *mut c_void,
    out: *mut *mut NDK_SRQ,
) -> NTSTATUS {
    let slot = "NdkCreateSrq";
    let Some((node, table)) = pd_target(pd.addr(), slot) else {
        return STATUS_INVALID_HANDLE;
    };
    let index = node.id.index;
    node.inner
        .call(index, slot, format!("depth={depth} threshold={threshold}"));
    let mut birth = Birth {
        kind: ObjectKind::Srq,
        antecedents: std::vec![index],
        qp: None,
        event: None,
        armed: threshold > 0,
    };
    let (notify, notify_context) = wrap_event(
        notification,
        notification_context,
        &mut birth,
        trampoline::srq_notification,
        |f, c| {
            // SAFETY: the consumer handed `f` and its context as the SRQ's notification
            // callback, callable at or below DISPATCH until the SRQ's close completes (§3.5).
            node.inner
                .register_srq_notify(index, unsafe { SrqNotification::new(f, c) })
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
                (table.NdkCreateSrq)(
                    node.real.get().cast(),
                    depth,
                    max_sge,
                    threshold,
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

/// `NdkModifySrq`: a non-zero threshold re-arms the SRQ notification.
pub extern "system" fn modify_srq(
    srq: *mut NDK_SRQ,
    depth: u32,
    threshold: u32,
    callback: Option<NDK_FN_REQUEST_COMPLETION>,
    context: *mut c_void,
) -> NTSTATUS {
    let slot = "NdkModifySrq";
    let Some((node, table)) = srq_target(srq.addr(), slot) else {
        return STATUS_INVALID_HANDLE;
    };
    node.inner.call(
        node.id.index,
        slot,
        format!("depth={depth} threshold={threshold}"),
    );
    if threshold > 0 {
        node.inner.arm(node.id.index);
    }
    let wrapped = super::wrap_request(&node, slot, callback, context, &[]);
    // SAFETY: forwarding contract (module docs).
    let status = unsafe {
        (table.NdkModifySrq)(
            node.real.get().cast(),
            depth,
            threshold,
            wrapped.callback,
            wrapped.context,
        )
    };
    super::request_returned(&node, slot, &wrapped, status, &[]);
    status
}

post_slot!(
    /// `NdkSrqReceive`.
    srq_receive, srq_target, NDK_SRQ, NdkSrqReceive, Srq, flags = 0,
    (sgl: *const NDK_SGE, n_sge: u32)
);
