//! CQ, SRQ and QP slots (`spec/ndkpi.md` §2.2, §2.6, §2.7) and the PD's SRQ/QP creates: the
//! work-request posts feed the CQ accounting, `NdkGetCqResults(Ex)` is checked against it, and
//! arms feed the notification rules.

use core::ffi::c_void;
use std::format;
use std::string::String;

use super::adapter::dedup;
use super::{
    accepted, cq_target, create, pd_target, qp_target, request_slot, srq_target, sync_slot,
};
use crate::abi::upcall::{Context, SrqNotification};
use crate::abi::{
    GROUP_AFFINITY, NDK_CQ, NDK_FN_CREATE_COMPLETION, NDK_FN_REQUEST_COMPLETION,
    NDK_FN_SRQ_NOTIFICATION_CALLBACK, NDK_LOGICAL_ADDRESS, NDK_MR, NDK_MW, NDK_OBJECT_HEADER,
    NDK_OP_FLAG_SILENT_SUCCESS, NDK_PD, NDK_QP, NDK_RESULT, NDK_RESULT_EX, NDK_SGE, NDK_SRQ,
    NTSTATUS, STATUS_INVALID_HANDLE,
};
use crate::verifier::book::{QpInfo, Queue};
use crate::verifier::record::ObjectKind;
use crate::verifier::registry::{self, Node};
use crate::verifier::state::Birth;
use crate::verifier::trampoline;

// ---- CQ ----------------------------------------------------------------------------------------

request_slot!(resize_cq, cq_target, NDK_CQ, NdkResizeCq, (depth: u32));
sync_slot!(control_cq_interrupt_moderation, cq_target, NDK_CQ, NdkControlCqInterruptModeration,
    (interval: u32, count: u32));

/// `NdkArmCq`: the arm is recorded before the provider can act on it.
pub extern "system" fn arm_cq(cq: *mut NDK_CQ, arm_type: u32) {
    let slot = "NdkArmCq";
    let Some((node, table)) = cq_target(cq.addr(), slot) else {
        return;
    };
    node.inner
        .call(node.id.index, slot, format!("type={arm_type}"));
    node.inner.arm(node.id.index);
    // SAFETY: forwarding contract (module docs).
    unsafe { (table.NdkArmCq)(node.real.get().cast(), arm_type) };
    node.inner
        .returned(node.id.index, slot, None, String::new());
}

/// Checks a poll's results against the posted work.
fn account<R>(
    node: &Node,
    slot: &'static str,
    poll: u64,
    results: *mut R,
    requested: u32,
    count: u32,
    fields: impl Fn(&R) -> (NTSTATUS, usize, usize),
) {
    let valid = count.min(requested) as usize;
    let seen: std::vec::Vec<_> = if results.is_null() || valid == 0 {
        std::vec::Vec::new()
    } else {
        // SAFETY: the consumer passed `results` for `requested` entries (`_Out_writes_to_`),
        // and the provider initialised the first `count` of them, of which only the first
        // `min(count, requested)` lie inside the buffer; nothing else accesses them until the
        // consumer reads them after this call returns.
        let slice = unsafe { core::slice::from_raw_parts(results, valid) };
        slice.iter().map(fields).collect()
    };
    node.inner
        .poll_results(node.id.index, poll, requested, count, &seen);
    node.inner
        .returned(node.id.index, slot, None, format!("{count} result(s)"));
}

/// `NdkGetCqResults`.
pub extern "system" fn get_cq_results(cq: *mut NDK_CQ, results: *mut NDK_RESULT, n: u32) -> u32 {
    let slot = "NdkGetCqResults";
    let Some((node, table)) = cq_target(cq.addr(), slot) else {
        return 0;
    };
    node.inner
        .call(node.id.index, slot, format!("nResults={n}"));
    let poll = node.inner.poll_start();
    // SAFETY: forwarding contract (module docs).
    let count = unsafe { (table.NdkGetCqResults)(node.real.get().cast(), results, n) };
    account(&node, slot, poll, results, n, count, |r| {
        (r.Status, r.QPContext.addr(), r.RequestContext.addr())
    });
    count
}

/// `NdkGetCqResultsEx`.
pub extern "system" fn get_cq_results_ex(
    cq: *mut NDK_CQ,
    results: *mut NDK_RESULT_EX,
    n: u32,
) -> u32 {
    let slot = "NdkGetCqResultsEx";
    let Some((node, table)) = cq_target(cq.addr(), slot) else {
        return 0;
    };
    node.inner
        .call(node.id.index, slot, format!("nResults={n}"));
    let poll = node.inner.poll_start();
    // SAFETY: forwarding contract (module docs).
    let count = unsafe { (table.NdkGetCqResultsEx)(node.real.get().cast(), results, n) };
    account(&node, slot, poll, results, n, count, |r| {
        (r.Status, r.QPContext.addr(), r.RequestContext.addr())
    });
    count
}

// ---- SRQ ---------------------------------------------------------------------------------------

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
    let (notify, notify_context) = match notification {
        Some(f) => {
            // SAFETY: the consumer handed `f` and its context as the SRQ's notification
            // callback, callable at or below DISPATCH until the SRQ's close completes (§3.5).
            let up = unsafe { SrqNotification::new(f, Context::new(notification_context)) };
            let token = node.inner.register_srq_notify(index, up);
            birth.event = Some(token);
            (
                Some(trampoline::srq_notification as NDK_FN_SRQ_NOTIFICATION_CALLBACK),
                registry::token_ptr(token),
            )
        }
        None => (None, notification_context),
    };
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

/// Records a post, forwards it, and withdraws it if it failed.
fn post(
    node: &Node,
    slot: &'static str,
    queue: Queue,
    context: *mut c_void,
    flags: u32,
    forward: impl FnOnce() -> NTSTATUS,
) -> NTSTATUS {
    let index = node.id.index;
    node.inner.call(
        index,
        slot,
        format!("ctx={:#x} flags={flags:#x}", context.addr()),
    );
    let silent = flags & NDK_OP_FLAG_SILENT_SUCCESS != 0
        && !matches!(queue, Queue::Receive(_) | Queue::Srq(_));
    let seq = node.inner.post(queue, context.addr(), silent, slot);
    let status = forward();
    node.inner.posted(index, seq, context.addr(), status, slot);
    node.inner
        .returned(index, slot, Some(status), String::new());
    status
}

/// `NdkSrqReceive`.
pub extern "system" fn srq_receive(
    srq: *mut NDK_SRQ,
    context: *mut c_void,
    sgl: *const NDK_SGE,
    n_sge: u32,
) -> NTSTATUS {
    let slot = "NdkSrqReceive";
    let Some((node, table)) = srq_target(srq.addr(), slot) else {
        return STATUS_INVALID_HANDLE;
    };
    post(&node, slot, Queue::Srq(node.id.index), context, 0, || {
        // SAFETY: forwarding contract (module docs).
        unsafe { (table.NdkSrqReceive)(node.real.get().cast(), context, sgl, n_sge) }
    })
}

// ---- QP creation (PD slots) --------------------------------------------------------------------

fn qp_birth(
    pd: u32,
    rcq: Option<u32>,
    icq: Option<u32>,
    srq: Option<u32>,
    context: usize,
) -> Birth {
    Birth {
        kind: ObjectKind::Qp,
        antecedents: dedup([Some(pd), rcq, icq, srq]),
        qp: Some(QpInfo {
            rcq,
            icq,
            srq,
            context,
            closed_at: None,
        }),
        event: None,
        armed: false,
    }
}

/// `NdkCreateQp`: the CQs become the QP's antecedents and completion targets.
#[allow(clippy::too_many_arguments)]
pub extern "system" fn create_qp(
    pd: *mut NDK_PD,
    receive_cq: *mut NDK_CQ,
    initiator_cq: *mut NDK_CQ,
    qp_context: *mut c_void,
    receive_depth: u32,
    initiator_depth: u32,
    max_receive_sge: u32,
    max_initiator_sge: u32,
    inline_size: u32,
    callback: Option<NDK_FN_CREATE_COMPLETION>,
    context: *mut c_void,
    out: *mut *mut NDK_QP,
) -> NTSTATUS {
    let slot = "NdkCreateQp";
    let Some((node, table)) = pd_target(pd.addr(), slot) else {
        return STATUS_INVALID_HANDLE;
    };
    node.inner.call(
        node.id.index,
        slot,
        format!("QPContext={:#x}", qp_context.addr()),
    );
    let (rcq, rcq_node) = registry::translate(receive_cq);
    let (icq, icq_node) = registry::translate(initiator_cq);
    let birth = qp_birth(
        node.id.index,
        rcq_node.map(|n| n.id.index),
        icq_node.map(|n| n.id.index),
        None,
        qp_context.addr(),
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
                (table.NdkCreateQp)(
                    node.real.get().cast(),
                    rcq,
                    icq,
                    qp_context,
                    receive_depth,
                    initiator_depth,
                    max_receive_sge,
                    max_initiator_sge,
                    inline_size,
                    cb,
                    ctx,
                    out,
                )
            }
        },
    )
}

/// `NdkCreateQpWithSrq`.
#[allow(clippy::too_many_arguments)]
pub extern "system" fn create_qp_with_srq(
    pd: *mut NDK_PD,
    receive_cq: *mut NDK_CQ,
    initiator_cq: *mut NDK_CQ,
    srq: *mut NDK_SRQ,
    qp_context: *mut c_void,
    initiator_depth: u32,
    max_initiator_sge: u32,
    inline_size: u32,
    callback: Option<NDK_FN_CREATE_COMPLETION>,
    context: *mut c_void,
    out: *mut *mut NDK_QP,
) -> NTSTATUS {
    let slot = "NdkCreateQpWithSrq";
    let Some((node, table)) = pd_target(pd.addr(), slot) else {
        return STATUS_INVALID_HANDLE;
    };
    node.inner.call(
        node.id.index,
        slot,
        format!("QPContext={:#x}", qp_context.addr()),
    );
    let (rcq, rcq_node) = registry::translate(receive_cq);
    let (icq, icq_node) = registry::translate(initiator_cq);
    let (real_srq, srq_node) = registry::translate(srq);
    let birth = qp_birth(
        node.id.index,
        rcq_node.map(|n| n.id.index),
        icq_node.map(|n| n.id.index),
        srq_node.map(|n| n.id.index),
        qp_context.addr(),
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
                (table.NdkCreateQpWithSrq)(
                    node.real.get().cast(),
                    rcq,
                    icq,
                    real_srq,
                    qp_context,
                    initiator_depth,
                    max_initiator_sge,
                    inline_size,
                    cb,
                    ctx,
                    out,
                )
            }
        },
    )
}

// ---- QP ----------------------------------------------------------------------------------------

/// `NdkFlush`.
pub extern "system" fn flush(qp: *mut NDK_QP) {
    let slot = "NdkFlush";
    let Some((node, table)) = qp_target(qp.addr(), slot) else {
        return;
    };
    node.inner.call(node.id.index, slot, String::new());
    // SAFETY: forwarding contract (module docs).
    unsafe { (table.NdkFlush)(node.real.get().cast()) };
    node.inner
        .returned(node.id.index, slot, None, String::new());
}

/// `NdkSend`.
pub extern "system" fn send(
    qp: *mut NDK_QP,
    context: *mut c_void,
    sgl: *const NDK_SGE,
    n_sge: u32,
    flags: u32,
) -> NTSTATUS {
    let slot = "NdkSend";
    let Some((node, table)) = qp_target(qp.addr(), slot) else {
        return STATUS_INVALID_HANDLE;
    };
    post(
        &node,
        slot,
        Queue::Initiator(node.id.index),
        context,
        flags,
        || {
            // SAFETY: forwarding contract (module docs).
            unsafe { (table.NdkSend)(node.real.get().cast(), context, sgl, n_sge, flags) }
        },
    )
}

/// `NdkReceive`.
pub extern "system" fn receive(
    qp: *mut NDK_QP,
    context: *mut c_void,
    sgl: *const NDK_SGE,
    n_sge: u32,
) -> NTSTATUS {
    let slot = "NdkReceive";
    let Some((node, table)) = qp_target(qp.addr(), slot) else {
        return STATUS_INVALID_HANDLE;
    };
    post(
        &node,
        slot,
        Queue::Receive(node.id.index),
        context,
        0,
        || {
            // SAFETY: forwarding contract (module docs).
            unsafe { (table.NdkReceive)(node.real.get().cast(), context, sgl, n_sge) }
        },
    )
}

/// `NdkBind`: the MW gets the MR as an antecedent once the bind is accepted.
#[allow(clippy::too_many_arguments)]
pub extern "system" fn bind(
    qp: *mut NDK_QP,
    context: *mut c_void,
    mr: *mut NDK_MR,
    mw: *mut NDK_MW,
    address: *mut c_void,
    length: usize,
    flags: u32,
) -> NTSTATUS {
    let slot = "NdkBind";
    let Some((node, table)) = qp_target(qp.addr(), slot) else {
        return STATUS_INVALID_HANDLE;
    };
    let (region, region_node) = registry::translate(mr);
    let (window, window_node) = registry::translate(mw);
    let status = post(
        &node,
        slot,
        Queue::Initiator(node.id.index),
        context,
        flags,
        || {
            // SAFETY: forwarding contract (module docs).
            unsafe {
                (table.NdkBind)(
                    node.real.get().cast(),
                    context,
                    region,
                    window,
                    address,
                    length,
                    flags,
                )
            }
        },
    );
    if accepted(status)
        && let (Some(region), Some(window)) = (region_node, window_node)
    {
        node.inner.link(window.id.index, region.id.index);
    }
    status
}

/// `NdkFastRegister`.
#[allow(clippy::too_many_arguments)]
pub extern "system" fn fast_register(
    qp: *mut NDK_QP,
    context: *mut c_void,
    mr: *mut NDK_MR,
    page_count: u32,
    pages: *const NDK_LOGICAL_ADDRESS,
    fbo: u32,
    length: usize,
    base: *mut c_void,
    flags: u32,
) -> NTSTATUS {
    let slot = "NdkFastRegister";
    let Some((node, table)) = qp_target(qp.addr(), slot) else {
        return STATUS_INVALID_HANDLE;
    };
    let (region, _) = registry::translate(mr);
    post(
        &node,
        slot,
        Queue::Initiator(node.id.index),
        context,
        flags,
        || {
            // SAFETY: forwarding contract (module docs).
            unsafe {
                (table.NdkFastRegister)(
                    node.real.get().cast(),
                    context,
                    region,
                    page_count,
                    pages,
                    fbo,
                    length,
                    base,
                    flags,
                )
            }
        },
    )
}

/// `NdkInvalidate`: the MR/MW header is translated like any object argument.
pub extern "system" fn invalidate(
    qp: *mut NDK_QP,
    context: *mut c_void,
    mr_or_mw: *mut NDK_OBJECT_HEADER,
    flags: u32,
) -> NTSTATUS {
    let slot = "NdkInvalidate";
    let Some((node, table)) = qp_target(qp.addr(), slot) else {
        return STATUS_INVALID_HANDLE;
    };
    let (real, _) = registry::translate(mr_or_mw);
    post(
        &node,
        slot,
        Queue::Initiator(node.id.index),
        context,
        flags,
        || {
            // SAFETY: forwarding contract (module docs).
            unsafe { (table.NdkInvalidate)(node.real.get().cast(), context, real, flags) }
        },
    )
}

/// `NdkRead`.
#[allow(clippy::too_many_arguments)]
pub extern "system" fn read(
    qp: *mut NDK_QP,
    context: *mut c_void,
    sgl: *const NDK_SGE,
    n_sge: u32,
    remote_address: u64,
    remote_token: u32,
    flags: u32,
) -> NTSTATUS {
    let slot = "NdkRead";
    let Some((node, table)) = qp_target(qp.addr(), slot) else {
        return STATUS_INVALID_HANDLE;
    };
    post(
        &node,
        slot,
        Queue::Initiator(node.id.index),
        context,
        flags,
        || {
            // SAFETY: forwarding contract (module docs).
            unsafe {
                (table.NdkRead)(
                    node.real.get().cast(),
                    context,
                    sgl,
                    n_sge,
                    remote_address,
                    remote_token,
                    flags,
                )
            }
        },
    )
}

/// `NdkWrite`.
#[allow(clippy::too_many_arguments)]
pub extern "system" fn write(
    qp: *mut NDK_QP,
    context: *mut c_void,
    sgl: *const NDK_SGE,
    n_sge: u32,
    remote_address: u64,
    remote_token: u32,
    flags: u32,
) -> NTSTATUS {
    let slot = "NdkWrite";
    let Some((node, table)) = qp_target(qp.addr(), slot) else {
        return STATUS_INVALID_HANDLE;
    };
    post(
        &node,
        slot,
        Queue::Initiator(node.id.index),
        context,
        flags,
        || {
            // SAFETY: forwarding contract (module docs).
            unsafe {
                (table.NdkWrite)(
                    node.real.get().cast(),
                    context,
                    sgl,
                    n_sge,
                    remote_address,
                    remote_token,
                    flags,
                )
            }
        },
    )
}

/// `NdkSendAndInvalidate`.
pub extern "system" fn send_and_invalidate(
    qp: *mut NDK_QP,
    context: *mut c_void,
    sgl: *const NDK_SGE,
    n_sge: u32,
    flags: u32,
    remote_token: u32,
) -> NTSTATUS {
    let slot = "NdkSendAndInvalidate";
    let Some((node, table)) = qp_target(qp.addr(), slot) else {
        return STATUS_INVALID_HANDLE;
    };
    post(
        &node,
        slot,
        Queue::Initiator(node.id.index),
        context,
        flags,
        || {
            // SAFETY: forwarding contract (module docs).
            unsafe {
                (table.NdkSendAndInvalidate)(
                    node.real.get().cast(),
                    context,
                    sgl,
                    n_sge,
                    flags,
                    remote_token,
                )
            }
        },
    )
}
