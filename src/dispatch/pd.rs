//! `NDK_PD_DISPATCH`: close, the PD's creates, the privileged token.
#![allow(unsafe_code)]

use core::ffi::c_void;

use crate::abi::upcall::{Context, SrqNotification};
use crate::abi::{
    BOOLEAN, GROUP_AFFINITY, NDK_CQ, NDK_FN_CREATE_COMPLETION, NDK_FN_SRQ_NOTIFICATION_CALLBACK,
    NDK_MR, NDK_MW, NDK_PD, NDK_PD_DISPATCH, NDK_QP, NDK_SRQ, NTSTATUS, STATUS_INVALID_PARAMETER,
};
use crate::sync::Arc;
use crate::verbs::{Cq, Mr, Mw, Pd, Qp, QpConfig, Srq};

use super::create::{answer, answer_on_pd, creating, hold};
use super::handle::borrow;
use super::{close_object, query_extension};

/// `NDK_PD_DISPATCH`.
pub static TABLE: NDK_PD_DISPATCH = NDK_PD_DISPATCH {
    NdkClosePd: close_object::<Pd>,
    NdkQueryExtension: query_extension,
    NdkCreateMr: create_mr,
    NdkCreateMw: create_mw,
    NdkCreateSrq: create_srq,
    NdkCreateQp: create_qp,
    NdkCreateQpWithSrq: create_qp_with_srq,
    NdkGetPrivilegedMemoryRegionToken: get_privileged_token,
};

/// `NdkCreateMr`. Mandatory: PD, `CreateCompletion`, `ppNdkMr`. Completes inline, or pends
/// ([`super::create`]). A fast-register MR (`FastRegister` TRUE) refuses `NdkRegisterMr`; a
/// normal one refuses `NdkInitializeFastRegisterMr`, `NdkFastRegister` and `NdkInvalidate`.
unsafe extern "system" fn create_mr(
    pd: *mut NDK_PD,
    fast_register: BOOLEAN,
    completion: Option<NDK_FN_CREATE_COMPLETION>,
    context: *mut c_void,
    out: *mut *mut NDK_MR,
) -> NTSTATUS {
    // SAFETY: NDK contract for the PD pointer.
    let Some((pd, completion)) = (unsafe { creating::<Pd, _>(pd, completion, out) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: `out` checked non-null; writable per the contract; the consumer's completion.
    unsafe {
        answer_on_pd(&pd, completion, context, out, move |pd| {
            Mr::create(pd, fast_register != 0)
        })
    }
}

/// `NdkCreateMw`. Mandatory: PD, `CreateCompletion`, `ppNdkMw`. Completes inline, or pends
/// ([`super::create`]).
unsafe extern "system" fn create_mw(
    pd: *mut NDK_PD,
    completion: Option<NDK_FN_CREATE_COMPLETION>,
    context: *mut c_void,
    out: *mut *mut NDK_MW,
) -> NTSTATUS {
    // SAFETY: NDK contract for the PD pointer.
    let Some((pd, completion)) = (unsafe { creating::<Pd, _>(pd, completion, out) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: `out` checked non-null; writable per the contract; the consumer's completion.
    unsafe { answer_on_pd(&pd, completion, context, out, Mw::create) }
}

/// `NdkCreateSrq`. Mandatory: PD, `CreateCompletion`, `ppNdkSrq`; `SrqDepth` in
/// 1..=`MaxSrqDepth`, `MaxReceiveRequestSge` ≤ the adapter's. `SrqNotification` is optional
/// (NULL: never notified); `Affinity` is a hint SoftNDK does not use. Completes inline, or
/// pends ([`super::create`]).
unsafe extern "system" fn create_srq(
    pd: *mut NDK_PD,
    depth: u32,
    max_sge: u32,
    threshold: u32,
    notification: Option<NDK_FN_SRQ_NOTIFICATION_CALLBACK>,
    notification_context: *mut c_void,
    _affinity: *const GROUP_AFFINITY,
    completion: Option<NDK_FN_CREATE_COMPLETION>,
    context: *mut c_void,
    out: *mut *mut NDK_SRQ,
) -> NTSTATUS {
    // SAFETY: NDK contract for the PD pointer.
    let Some((pd, completion)) = (unsafe { creating::<Pd, _>(pd, completion, out) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    let notify = notification.map(|f| {
        // SAFETY: the consumer's notification callback, valid with its context until the SRQ's
        // close completes (NdkCreateSrq contract).
        unsafe { SrqNotification::new(f, Context::new(notification_context)) }
    });
    // SAFETY: `out` checked non-null; writable per the contract; the consumer's completion.
    unsafe {
        answer_on_pd(&pd, completion, context, out, move |pd| {
            Srq::create(pd, depth, max_sge, threshold, notify)
        })
    }
}

/// `NdkCreateQp`. Mandatory: PD, both CQs (of the PD's adapter), `CreateCompletion`,
/// `ppNdkQp`; every limit at most the adapter's. Completes inline, or pends
/// ([`super::create`]).
unsafe extern "system" fn create_qp(
    pd: *mut NDK_PD,
    receive_cq: *mut NDK_CQ,
    initiator_cq: *mut NDK_CQ,
    qp_context: *mut c_void,
    receive_depth: u32,
    initiator_depth: u32,
    max_receive_sge: u32,
    max_initiator_sge: u32,
    inline_data_size: u32,
    completion: Option<NDK_FN_CREATE_COMPLETION>,
    context: *mut c_void,
    out: *mut *mut NDK_QP,
) -> NTSTATUS {
    // SAFETY: NDK contract for the PD and CQ pointers.
    let (Some(pd), Some(rcq), Some(icq)) = (
        unsafe { borrow::<Pd>(pd) },
        unsafe { borrow::<Cq>(receive_cq) },
        unsafe { borrow::<Cq>(initiator_cq) },
    ) else {
        return STATUS_INVALID_PARAMETER;
    };
    let (Some(completion), false) = (completion, out.is_null()) else {
        return STATUS_INVALID_PARAMETER;
    };
    let config = QpConfig {
        context: qp_context.expose_provenance(),
        receive_depth,
        initiator_depth,
        max_receive_sge,
        max_initiator_sge,
        inline_data_size,
    };
    // SAFETY: `out` checked non-null; writable per the contract; the consumer's completion.
    unsafe { answer_qp(&pd, [&rcq, &icq], None, config, completion, context, out) }
}

/// `NdkCreateQpWithSrq`. Mandatory: PD, both CQs, the SRQ (of the same PD), `CreateCompletion`,
/// `ppNdkQp`; initiator limits at most the adapter's. Completes inline, or pends
/// ([`super::create`]). `NdkReceive` on the new QP is refused (`STATUS_INVALID_PARAMETER`):
/// its receives come from the SRQ.
unsafe extern "system" fn create_qp_with_srq(
    pd: *mut NDK_PD,
    receive_cq: *mut NDK_CQ,
    initiator_cq: *mut NDK_CQ,
    srq: *mut NDK_SRQ,
    qp_context: *mut c_void,
    initiator_depth: u32,
    max_initiator_sge: u32,
    inline_size: u32,
    completion: Option<NDK_FN_CREATE_COMPLETION>,
    context: *mut c_void,
    out: *mut *mut NDK_QP,
) -> NTSTATUS {
    // SAFETY: NDK contract for the PD, CQ and SRQ pointers.
    let (Some(pd), Some(rcq), Some(icq), Some(srq)) = (
        unsafe { borrow::<Pd>(pd) },
        unsafe { borrow::<Cq>(receive_cq) },
        unsafe { borrow::<Cq>(initiator_cq) },
        unsafe { borrow::<Srq>(srq) },
    ) else {
        return STATUS_INVALID_PARAMETER;
    };
    let (Some(completion), false) = (completion, out.is_null()) else {
        return STATUS_INVALID_PARAMETER;
    };
    let config = QpConfig {
        context: qp_context.expose_provenance(),
        receive_depth: 0,
        initiator_depth,
        max_receive_sge: 0,
        max_initiator_sge,
        inline_data_size: inline_size,
    };
    // SAFETY: `out` checked non-null; writable per the contract; the consumer's completion.
    unsafe {
        answer_qp(
            &pd,
            [&rcq, &icq],
            Some(&srq),
            config,
            completion,
            context,
            out,
        )
    }
}

/// Answers a QP create whose arguments passed the entry point's checks: the QP is built over
/// `pd`, the receive and initiator CQs and, for `NdkCreateQpWithSrq`, `srq`; a pending create
/// holds every one of them ([`super::create`]).
///
/// # Safety
///
/// As for [`answer`].
unsafe fn answer_qp(
    pd: &Arc<Pd>,
    [rcq, icq]: [&Arc<Cq>; 2],
    srq: Option<&Arc<Srq>>,
    config: QpConfig,
    completion: NDK_FN_CREATE_COMPLETION,
    context: *mut c_void,
    out: *mut *mut NDK_QP,
) -> NTSTATUS {
    let (p, r, i, q) = (
        Arc::clone(pd),
        Arc::clone(rcq),
        Arc::clone(icq),
        srq.map(Arc::clone),
    );
    let held = || {
        let srq = match srq {
            Some(srq) => Some(hold(srq)?),
            None => None,
        };
        Some((hold(pd)?, hold(rcq)?, hold(icq)?, srq))
    };
    // SAFETY: forwarded contract.
    unsafe {
        answer(pd.adapter(), completion, context, out, held, move || {
            q.as_ref().map_or_else(
                || Qp::create(&p, &r, &i, config),
                |q| Qp::create_with_srq(&p, &r, &i, q, config),
            )
        })
    }
}

/// `NdkGetPrivilegedMemoryRegionToken`: `VOID`; a NULL PD or `pToken` is ignored.
unsafe extern "system" fn get_privileged_token(pd: *mut NDK_PD, token: *mut u32) {
    // SAFETY: NDK contract for the PD pointer.
    if let Some(pd) = unsafe { borrow::<Pd>(pd) }
        && !token.is_null()
    {
        // SAFETY: non-null and writable per the contract.
        unsafe { token.write_unaligned(pd.privileged_token()) };
    }
}
