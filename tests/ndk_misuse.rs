//! The provider-side verifier (`docs/provider-verifier.md`): calls on closed objects and second
//! closes are reported and refused with their documented status; closed objects stay valid
//! (poisoned) in a bounded quarantine that is released in FIFO order and at adapter close; with
//! the checks off nothing is reported or kept.
//!
//! Every stale call here is made while the object is quarantined, so its memory really is
//! alive: these tests exercise consumer misuse without undefined behaviour.
#![allow(unsafe_code)]

mod misuse_common;
mod ndk_common;

use core::ptr;

use misuse_common::{header, never, reports, slot, table_of};
use ndk_common::{Pair, config, open_checked};
use softndk::abi::{
    NDK_CQ, NDK_CQ_DISPATCH, NDK_MR, NDK_MR_DISPATCH, NDK_OBJECT_TYPE, NDK_PD, NDK_PD_DISPATCH,
    NDK_QP, NDK_QP_DISPATCH, NDK_RESULT, NDK_VERSION, STATUS_INVALID_HANDLE,
    STATUS_INVALID_PARAMETER,
};
use softndk::consumer::{Adapter, Closed, CqEvents, QpLimits, create_completion};
use softndk::dispatch::misuse::{self, Detail, Misuse, MisuseChecks, MisuseKind};
use softndk::platform::host::Host;

/// Calls one dispatch slot or reads one object.
macro_rules! call {
    ($e:expr) => {{
        // SAFETY: every object passed is open or closed-but-quarantined (its memory is kept by
        // the provider verifier for the whole test), every buffer has the stated size, and
        // every callback is valid.
        unsafe { $e }
    }};
}

#[test]
fn calls_on_a_closed_cq_are_reported_and_fail() {
    let p = Host::deterministic();
    let adapter = open_checked(&p, MisuseChecks::ON);
    let cq = adapter.create_cq(4, &CqEvents::new()).unwrap();
    let raw: *mut NDK_CQ = cq.raw();
    let real: &NDK_CQ_DISPATCH = cq.dispatch();
    assert!(matches!(cq.close(), Closed::Now));

    let h = header(raw);
    assert!(!h.ObjectType.is_object(), "poisoned: {:?}", h.ObjectType);
    let d = table_of(raw);
    assert!(!ptr::eq(d, real), "Dispatch now points at the poison table");

    let mut results = core::mem::MaybeUninit::<[NDK_RESULT; 2]>::uninit();
    assert_eq!(
        call!((d.NdkGetCqResults)(raw, results.as_mut_ptr().cast(), 2)),
        0
    );
    assert_eq!(
        call!((d.NdkResizeCq)(raw, 8, None, ptr::null_mut())),
        STATUS_INVALID_HANDLE
    );
    call!((d.NdkArmCq)(raw, 1));
    // A consumer that cached the real table reaches the real entry, which refuses the poisoned
    // type with its usual bad-object status and reports it too.
    assert_eq!(
        call!((real.NdkResizeCq)(raw, 8, None, ptr::null_mut())),
        STATUS_INVALID_PARAMETER
    );

    let at = raw.addr();
    let cq_t = NDK_OBJECT_TYPE::CQ;
    let on_closed = MisuseKind::CallOnClosedObject;
    assert_eq!(
        reports(&adapter),
        [
            slot(on_closed, cq_t, at, "NdkGetCqResults"),
            slot(on_closed, cq_t, at, "NdkResizeCq"),
            slot(on_closed, cq_t, at, "NdkArmCq"),
            Misuse {
                kind: on_closed,
                object_type: cq_t,
                object: at,
                detail: Detail::None
            },
        ]
    );
    assert_eq!(call!(misuse::report_count(adapter.raw())), 4);
    let line = reports(&adapter)[1].to_string();
    assert!(
        line.contains("NdkResizeCq") && line.contains("CQ"),
        "{line}"
    );
    adapter.close();
    assert_eq!(p.alloc_stats().live, 0);
}

#[test]
fn calls_on_closed_qp_mr_and_pd_are_reported_and_fail() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 16, QpLimits::default());
    let Pair { adapter, a, b } = pair;

    // MR.
    let mr = a.pd.create_mr(false).unwrap();
    let mr_raw: *mut NDK_MR = mr.raw();
    assert!(matches!(mr.close(), Closed::Now));
    let d: &NDK_MR_DISPATCH = table_of(mr_raw);
    assert_eq!(call!((d.NdkGetLocalTokenFromMr)(mr_raw)), 0);
    assert_eq!(
        call!((d.NdkDeregisterMr)(mr_raw, None, ptr::null_mut())),
        STATUS_INVALID_HANDLE
    );

    // QP: posts and flush through the stale pointer.
    let qp_raw: *mut NDK_QP = a.qp.raw();
    a.qp.flush();
    assert!(matches!(a.qp.close(), Closed::Now));
    let d: &NDK_QP_DISPATCH = table_of(qp_raw);
    assert_eq!(
        call!((d.NdkSend)(qp_raw, ptr::null_mut(), ptr::null(), 0, 0)),
        STATUS_INVALID_HANDLE
    );
    call!((d.NdkFlush)(qp_raw));

    // A closed CQ passed to a live PD's create is refused and reported.
    let rcq_raw: *mut NDK_CQ = a.rcq.raw();
    assert!(matches!(a.rcq.close(), Closed::Now));
    let mut out: *mut NDK_QP = ptr::null_mut();
    let l = QpLimits::default();
    let status = call!((b.pd.dispatch().NdkCreateQp)(
        b.pd.raw(),
        rcq_raw,
        b.icq.raw(),
        ptr::null_mut(),
        l.receive_depth,
        l.initiator_depth,
        l.max_receive_sge,
        l.max_initiator_sge,
        l.inline_data_size,
        Some(create_completion),
        ptr::null_mut(),
        &raw mut out,
    ));
    assert_eq!(status, STATUS_INVALID_PARAMETER);
    assert!(out.is_null());

    // PD.
    let pd_raw: *mut NDK_PD = a.pd.raw();
    assert!(matches!(a.icq.close(), Closed::Now));
    assert!(matches!(a.pd.close(), Closed::Now));
    let d: &NDK_PD_DISPATCH = table_of(pd_raw);
    let mut mr_out: *mut NDK_MR = ptr::null_mut();
    assert_eq!(
        call!((d.NdkCreateMr)(
            pd_raw,
            0,
            Some(create_completion),
            ptr::null_mut(),
            &raw mut mr_out
        )),
        STATUS_INVALID_HANDLE
    );
    assert!(mr_out.is_null());
    let mut token = 7;
    call!((d.NdkGetPrivilegedMemoryRegionToken)(
        pd_raw,
        &raw mut token
    ));
    assert_eq!(token, 7, "nothing written");

    let got: Vec<_> = reports(&adapter)
        .iter()
        .map(|m| (m.kind, m.object_type, m.object, m.detail))
        .collect();
    let c = MisuseKind::CallOnClosedObject;
    let slot = Detail::Slot;
    assert_eq!(
        got,
        [
            (
                c,
                NDK_OBJECT_TYPE::MR,
                mr_raw.addr(),
                slot("NdkGetLocalTokenFromMr")
            ),
            (
                c,
                NDK_OBJECT_TYPE::MR,
                mr_raw.addr(),
                slot("NdkDeregisterMr")
            ),
            (c, NDK_OBJECT_TYPE::QP, qp_raw.addr(), slot("NdkSend")),
            (c, NDK_OBJECT_TYPE::QP, qp_raw.addr(), slot("NdkFlush")),
            (c, NDK_OBJECT_TYPE::CQ, rcq_raw.addr(), Detail::None),
            (c, NDK_OBJECT_TYPE::PD, pd_raw.addr(), slot("NdkCreateMr")),
            (
                c,
                NDK_OBJECT_TYPE::PD,
                pd_raw.addr(),
                slot("NdkGetPrivilegedMemoryRegionToken")
            ),
        ]
    );
    b.close();
    adapter.close();
    assert_eq!(p.alloc_stats().live, 0);
}

#[test]
fn a_second_close_is_reported_and_changes_nothing() {
    let p = Host::deterministic();
    let adapter = open_checked(&p, MisuseChecks::ON);
    let cq = adapter.create_cq(4, &CqEvents::new()).unwrap();
    let raw = cq.raw();
    let real_close = cq.dispatch().NdkCloseCq;
    assert!(matches!(cq.close(), Closed::Now));
    // Through the poisoned object's own table, and through a cached real table.
    let again = table_of(raw).NdkCloseCq;
    assert_eq!(
        call!(again(raw.cast(), Some(never), ptr::null_mut())),
        STATUS_INVALID_HANDLE
    );
    assert_eq!(
        call!(real_close(raw.cast(), Some(never), ptr::null_mut())),
        STATUS_INVALID_HANDLE
    );

    // A PD whose close pends on its MR: not yet finalised, still closed twice.
    let pd = adapter.create_pd().unwrap();
    let mr = pd.create_mr(false).unwrap();
    let pd_raw = pd.raw();
    let closed = pd.close();
    let signal = closed.pending().clone();
    let again = table_of(pd_raw).NdkClosePd;
    assert_eq!(
        call!(again(pd_raw.cast(), Some(never), ptr::null_mut())),
        STATUS_INVALID_HANDLE
    );
    assert!(matches!(mr.close(), Closed::Now));
    assert_eq!(
        signal.calls(),
        1,
        "the first close completed once, normally"
    );

    let twice = |t, at: usize, detail| Misuse {
        kind: MisuseKind::CloseTwice,
        object_type: t,
        object: at,
        detail,
    };
    assert_eq!(
        reports(&adapter),
        [
            twice(
                NDK_OBJECT_TYPE::CQ,
                raw.addr(),
                Detail::Slot("NdkCloseObject")
            ),
            twice(NDK_OBJECT_TYPE::CQ, raw.addr(), Detail::None),
            twice(
                NDK_OBJECT_TYPE::PD,
                pd_raw.addr(),
                Detail::Slot("NdkCloseObject")
            ),
        ]
    );
    adapter.close();
    assert_eq!(p.alloc_stats().live, 0);
}

#[test]
fn quarantine_releases_the_oldest_first_and_everything_at_adapter_close() {
    let p = Host::deterministic();
    let adapter = open_checked(
        &p,
        MisuseChecks::On {
            quarantine: 2,
            debug_break: false,
        },
    );
    let events = CqEvents::new();
    let cqs: Vec<_> = (0..3)
        .map(|_| adapter.create_cq(64, &events).unwrap())
        .collect();
    let raws: Vec<*mut NDK_CQ> = cqs.iter().map(softndk::consumer::Cq::raw).collect();
    let addrs: Vec<usize> = raws.iter().map(|r| r.addr()).collect();
    let quarantined = || call!(misuse::quarantined(adapter.raw()));
    let live = || p.alloc_stats().live;

    let all_open = live();
    let mut cqs = cqs.into_iter();
    assert!(matches!(cqs.next().unwrap().close(), Closed::Now));
    assert!(matches!(cqs.next().unwrap().close(), Closed::Now));
    assert_eq!(quarantined(), [addrs[0], addrs[1]]);
    assert_eq!(live(), all_open, "both closed CQs are kept whole");

    assert!(matches!(cqs.next().unwrap().close(), Closed::Now));
    assert_eq!(quarantined(), [addrs[1], addrs[2]], "FIFO: the first left");
    let one_released = live();
    assert!(one_released < all_open, "the evicted CQ's memory is freed");

    // The kept ones are still poisoned, valid memory: a stale call is reported.
    let d = table_of(raws[1]);
    assert_eq!(call!((d.NdkGetCqResults)(raws[1], ptr::null_mut(), 0)), 0);
    assert_eq!(reports(&adapter).len(), 1);

    adapter.close();
    assert_eq!(live(), 0, "adapter close releases the quarantine");
    assert_eq!(
        std::sync::Arc::strong_count(&events),
        1,
        "no callback context is held by a released CQ"
    );
}

#[test]
fn with_checks_off_nothing_is_reported_or_kept() {
    let p = Host::deterministic();
    let adapter = open_checked(&p, MisuseChecks::Off);
    let before = p.alloc_stats().live;
    let cq = adapter.create_cq(64, &CqEvents::new()).unwrap();
    assert!(p.alloc_stats().live > before);
    let h = cq.header();
    assert!(matches!(cq.close(), Closed::Now));
    assert_eq!(
        p.alloc_stats().live,
        before,
        "memory released at close, as without the verifier"
    );
    assert_eq!(h.ObjectType, NDK_OBJECT_TYPE::CQ);

    // A second close of a PD whose close pends: refused as always, not reported.
    let pd = adapter.create_pd().unwrap();
    let mr = pd.create_mr(false).unwrap();
    let pd_raw = pd.raw();
    let close = pd.dispatch().NdkClosePd;
    let closed = pd.close();
    assert_eq!(
        header(pd_raw).ObjectType,
        NDK_OBJECT_TYPE::PD,
        "not poisoned"
    );
    assert_eq!(
        call!(close(pd_raw.cast(), Some(never), ptr::null_mut())),
        STATUS_INVALID_HANDLE
    );
    assert!(matches!(mr.close(), Closed::Now));
    assert!(closed.is_complete());

    assert!(reports(&adapter).is_empty());
    assert_eq!(call!(misuse::report_count(adapter.raw())), 0);
    assert!(call!(misuse::quarantined(adapter.raw())).is_empty());
    adapter.close();
    assert_eq!(p.alloc_stats().live, 0);
}

#[test]
fn checks_default_on_for_host_builds() {
    assert_eq!(config().misuse, MisuseChecks::DEFAULT);
    assert!(config().misuse.is_on());
    let p = Host::deterministic();
    let adapter = Adapter::open(&config(), &p, NDK_VERSION::new(1, 0)).unwrap();
    let pd = adapter.create_pd().unwrap();
    let raw = pd.raw();
    assert!(matches!(pd.close(), Closed::Now));
    assert_eq!(call!(misuse::quarantined(adapter.raw())), [raw.addr()]);
    adapter.close();
}
