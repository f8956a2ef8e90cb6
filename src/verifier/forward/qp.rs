//! QP slots and the PD's QP creates (`spec/ndkpi.md` §2.7): the CQs and SRQ become the QP's
//! antecedents and completion targets, every work-request post is entered in the CQ
//! accounting before it is forwarded (it may complete and be reaped before it returns), and an
//! accepted bind links the MW to the MR.

use core::ffi::c_void;
use std::format;
use std::string::String;

use super::adapter::dedup;
use super::{create, pd_target, post_slot, qp_target, void_slot};
use crate::abi::{
    NDK_CQ, NDK_FN_CREATE_COMPLETION, NDK_LOGICAL_ADDRESS, NDK_MR, NDK_MW, NDK_OBJECT_HEADER,
    NDK_OP_FLAG_SILENT_SUCCESS, NDK_PD, NDK_QP, NDK_SGE, NDK_SRQ, NTSTATUS, STATUS_INVALID_HANDLE,
};
use crate::verifier::book::{QpInfo, Queue};
use crate::verifier::record::ObjectKind;
use crate::verifier::registry::{self, Node};
use crate::verifier::state::{Birth, accepted};

/// Records a QP create and translates its receive and initiator CQs and its SRQ (null for
/// `NdkCreateQp`, which translates to null and no antecedent): returns the real CQs, the real
/// SRQ and the new QP's birth.
fn start_qp_create(
    pd: &Node,
    slot: &'static str,
    [receive_cq, initiator_cq]: [*mut NDK_CQ; 2],
    srq: *mut NDK_SRQ,
    qp_context: *mut c_void,
) -> (*mut NDK_CQ, *mut NDK_CQ, *mut NDK_SRQ, Birth) {
    pd.inner.call(
        pd.id.index,
        slot,
        format!("QPContext={:#x}", qp_context.addr()),
    );
    let (rcq, rcq_node) = registry::translate(receive_cq);
    let (icq, icq_node) = registry::translate(initiator_cq);
    let (real_srq, srq_node) = registry::translate(srq);
    let [rcq_index, icq_index, srq_index] =
        [rcq_node, icq_node, srq_node].map(|n| n.map(|n| n.id.index));
    let birth = Birth {
        kind: ObjectKind::Qp,
        antecedents: dedup([Some(pd.id.index), rcq_index, icq_index, srq_index]),
        qp: Some(QpInfo {
            rcq: rcq_index,
            icq: icq_index,
            srq: srq_index,
            context: qp_context.addr(),
            closed_at: None,
        }),
        event: None,
        armed: false,
    };
    (rcq, icq, real_srq, birth)
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
    let (rcq, icq, _, birth) = start_qp_create(
        &node,
        slot,
        [receive_cq, initiator_cq],
        core::ptr::null_mut(),
        qp_context,
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
    let (rcq, icq, real_srq, birth) =
        start_qp_create(&node, slot, [receive_cq, initiator_cq], srq, qp_context);
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

/// Records a post, forwards it, and withdraws it if it failed.
pub(super) fn post(
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

// ---- Posts and the other QP slots --------------------------------------------------------------

void_slot!(
    /// `NdkFlush`.
    flush, qp_target, NDK_QP, NdkFlush, ()
);

post_slot!(
    /// `NdkSend`.
    send, qp_target, NDK_QP, NdkSend, Initiator, flags = flags,
    (sgl: *const NDK_SGE, n_sge: u32, flags: u32)
);

post_slot!(
    /// `NdkReceive`.
    receive, qp_target, NDK_QP, NdkReceive, Receive, flags = 0,
    (sgl: *const NDK_SGE, n_sge: u32)
);

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

post_slot!(
    /// `NdkFastRegister`.
    #[allow(clippy::too_many_arguments)]
    fast_register, qp_target, NDK_QP, NdkFastRegister, Initiator, flags = flags,
    (
        mr: *mut NDK_MR,
        page_count: u32,
        pages: *const NDK_LOGICAL_ADDRESS,
        fbo: u32,
        length: usize,
        base: *mut c_void,
        flags: u32
    ),
    translate(mr)
);

post_slot!(
    /// `NdkInvalidate`: the MR/MW header is translated like any object argument.
    invalidate, qp_target, NDK_QP, NdkInvalidate, Initiator, flags = flags,
    (mr_or_mw: *mut NDK_OBJECT_HEADER, flags: u32),
    translate(mr_or_mw)
);

post_slot!(
    /// `NdkRead`.
    #[allow(clippy::too_many_arguments)]
    read, qp_target, NDK_QP, NdkRead, Initiator, flags = flags,
    (sgl: *const NDK_SGE, n_sge: u32, remote_address: u64, remote_token: u32, flags: u32)
);

post_slot!(
    /// `NdkWrite`.
    #[allow(clippy::too_many_arguments)]
    write, qp_target, NDK_QP, NdkWrite, Initiator, flags = flags,
    (sgl: *const NDK_SGE, n_sge: u32, remote_address: u64, remote_token: u32, flags: u32)
);

post_slot!(
    /// `NdkSendAndInvalidate`.
    send_and_invalidate, qp_target, NDK_QP, NdkSendAndInvalidate, Initiator, flags = flags,
    (sgl: *const NDK_SGE, n_sge: u32, flags: u32, remote_token: u32)
);
