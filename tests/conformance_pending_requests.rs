//! Conformance, `spec/ndkpi.md` §3.1, §5.3 C1 and §5.5 for request functions, on adapters opened
//! with `AdapterConfig::pend_requests`: `NdkRegisterMr`, `NdkDeregisterMr`,
//! `NdkInitializeFastRegisterMr`, `NdkResizeCq` and `NdkModifySrq` answer `STATUS_PENDING` and
//! call the request completion exactly once, from deferred work at `DISPATCH_LEVEL`, with the
//! request's own status, and the request takes effect (an MR registered that way carries an RDMA
//! write; a resized CQ holds more; a modified SRQ takes more receives and fires its threshold).
//! Argument errors are still answered inline with no completion. An object closed while its
//! request is in flight (or from inside the request's completion) completes its close only after
//! that completion returned, and the adapter's blocking close waits for it too. Allocation
//! failures on the deferral path are answered inline, those of the request's effect through the
//! completion; never a lost or second completion. Every test runs under the consumer-side
//! verifier (exactly-once completion, IRQL) on every delivery mode × {PASSIVE, DISPATCH}, and
//! ends with a clean verifier and no leaked allocation.
#![allow(unsafe_code)]

mod conformance_common;
mod pending_requests_common;

use core::ffi::c_void;
use std::sync::{Arc, Mutex, PoisonError};

use conformance_common::{Cell, Delivery, Env, Side, Ticket, close, deliveries, reap};
use pending_requests_common::{
    Issued, Req, close_after, deregister, init_fast, modify, open, register, req_completion,
    request_matrix, resize,
};
use softndk::abi::{
    NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NDK_MR_FLAG_ALLOW_REMOTE_WRITE, STATUS_CANCELLED,
    STATUS_IMPLEMENTATION_LIMIT, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_DEVICE_STATE,
    STATUS_INVALID_PARAMETER, STATUS_PENDING, STATUS_SUCCESS,
};
use softndk::consumer::{Buffer, CqEvents, QpLimits, SrqEvents};
use softndk::platform::Irql;
use softndk::platform::host::FaultPlan;
use softndk::verbs::Limits;

/// A registration that pended makes a working MR: an RDMA write between two adapters whose
/// every request pends goes from one pended registration into another; a pended deregistration
/// leaves the MR unregistered (a second one fails through its completion, a new registration
/// succeeds); a registration of a registered MR fails through its completion.
#[test]
fn pended_registrations_make_usable_mrs_and_complete_once() {
    request_matrix(|env| {
        let (one, two) = (open(env), open(env));
        let a = Side::new(env, &one, 0xA, 16);
        let b = Side::new(env, &two, 0xB, 16);
        assert_eq!(env.connect(&a.qp, &b.qp, 4, 4), STATUS_SUCCESS);
        let source = Buffer::from_bytes(b"pended registration carries data");
        let target = Buffer::zeroed(source.len());
        let (src_mr, dst_mr) = env.at(|| (a.pd.create_mr(false), b.pd.create_mr(false)));
        let (src_mr, dst_mr) = (src_mr.expect("MR"), dst_mr.expect("MR"));
        let r = register(env, &src_mr, &source, NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
        assert_eq!(r.delivered(env), STATUS_SUCCESS);
        let r = register(env, &dst_mr, &target, NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
        assert_eq!(r.delivered(env), STATUS_SUCCESS);
        let again = register(env, &dst_mr, &target, NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
        assert_eq!(
            again.delivered(env),
            STATUS_INVALID_DEVICE_STATE,
            "a registered MR refuses a second registration, through the completion"
        );
        let len = u32::try_from(source.len()).expect("small");
        let sge = source.sge(0, len, src_mr.local_token());
        let status = env.at(|| a.qp.write(7, &[sge], target.va(), dst_mr.remote_token(), 0));
        assert_eq!(status, STATUS_SUCCESS);
        let done = reap(env, &a.icq, 1);
        assert_eq!(
            done[0].Status, STATUS_SUCCESS,
            "the write used both pended MRs"
        );
        assert_eq!(target.read(), source.read());
        assert_eq!(deregister(env, &dst_mr).delivered(env), STATUS_SUCCESS);
        assert_ne!(
            deregister(env, &dst_mr).delivered(env),
            STATUS_SUCCESS,
            "an unregistered MR refuses deregistration, through the completion"
        );
        let r = register(env, &dst_mr, &target, NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
        assert_eq!(
            r.delivered(env),
            STATUS_SUCCESS,
            "deregistered: registrable again"
        );
        let tickets = env.at(|| vec![close(src_mr, || {}), close(dst_mr, || {})]);
        env.settle();
        assert!(tickets.iter().all(Ticket::complete));
        a.close(env);
        b.close(env);
        env.close_adapter(one);
        env.close_adapter(two);
    });
}

/// A pended `NdkResizeCq` and `NdkModifySrq` take effect: the CQ then holds what its old depth
/// could not, and refuses (through the completion) a depth below what it holds; the SRQ then
/// takes receives beyond its old depth, refuses a depth below what it holds, and a pended
/// threshold fires its notification. A pended `NdkInitializeFastRegisterMr` succeeds too.
#[test]
fn pended_resize_modify_and_fast_register_take_effect() {
    request_matrix(|env| {
        let adapter = open(env);
        let events = CqEvents::new();
        let srq_events = SrqEvents::new();
        let (pd, cq) = env.at(|| (adapter.create_pd(), adapter.create_cq(4, &events)));
        let (pd, cq) = (pd.expect("PD"), cq.expect("CQ"));
        let limits = QpLimits {
            receive_depth: 8,
            ..QpLimits::default()
        };
        let (qp, srq, fast) = env.at(|| {
            (
                pd.create_qp(&cq, &cq, 1, limits).expect("QP"),
                pd.create_srq(4, 1, 0, Some(&srq_events)).expect("SRQ"),
                pd.create_mr(true).expect("fast MR"),
            )
        });
        assert_eq!(resize(env, &cq, 16).delivered(env), STATUS_SUCCESS);
        let posted = env.at(|| (0..8).map(|i| qp.receive(i, &[])).collect::<Vec<_>>());
        assert!(posted.iter().all(|&s| s == STATUS_SUCCESS), "{posted:x?}");
        env.at(|| qp.flush());
        env.settle();
        assert_eq!(
            resize(env, &cq, 4).delivered(env),
            STATUS_INVALID_PARAMETER,
            "8 entries do not fit 4: refused when the resize runs"
        );
        let results = env.at(|| cq.results(16));
        assert_eq!(
            results.len(),
            8,
            "the resized CQ held all 8 flushed receives"
        );
        assert!(results.iter().all(|r| r.Status == STATUS_CANCELLED));
        let srq_post =
            |n: usize| env.at(|| (0..n).map(|i| srq.receive(i, &[])).collect::<Vec<_>>());
        assert!(srq_post(4).iter().all(|&s| s == STATUS_SUCCESS));
        assert_ne!(srq_post(1)[0], STATUS_SUCCESS, "depth 4 is full");
        assert_eq!(modify(env, &srq, 16, 0).delivered(env), STATUS_SUCCESS);
        assert!(
            srq_post(12).iter().all(|&s| s == STATUS_SUCCESS),
            "depth 16 now"
        );
        assert_eq!(
            modify(env, &srq, 8, 0).delivered(env),
            STATUS_INVALID_PARAMETER,
            "16 queued receives do not fit 8"
        );
        assert_eq!(srq_events.count(), 0);
        assert_eq!(modify(env, &srq, 0, 32).delivered(env), STATUS_SUCCESS);
        env.settle();
        assert_eq!(
            srq_events.count(),
            1,
            "16 queued < threshold 32: fired once"
        );
        assert_eq!(init_fast(env, &fast, 4).delivered(env), STATUS_SUCCESS);
        let tickets = env.at(|| {
            qp.flush();
            vec![
                close(qp, || {}),
                close(srq, || {}),
                close(fast, || {}),
                close(cq, || {}),
                close(pd, || {}),
            ]
        });
        env.settle();
        assert!(tickets.iter().all(Ticket::complete));
        env.close_adapter(adapter);
    });
}

/// Argument errors found at the entry point are answered inline even when requests pend, and no
/// completion follows: NULL completion, zero or oversized lengths and depths, a fast-register
/// MR registered, a normal MR fast-initialised, bad page counts.
#[test]
fn argument_errors_are_answered_inline() {
    request_matrix(|env| {
        let adapter = open(env);
        let events = CqEvents::new();
        let (pd, cq) = env.at(|| (adapter.create_pd(), adapter.create_cq(4, &events)));
        let (pd, cq) = (pd.expect("PD"), cq.expect("CQ"));
        let (mr, fast, srq) = env.at(|| {
            (
                pd.create_mr(false).expect("MR"),
                pd.create_mr(true).expect("fast MR"),
                pd.create_srq(4, 1, 0, None).expect("SRQ"),
            )
        });
        let limits = Limits::SOFTNDK;
        let buffer = Buffer::zeroed(64);
        let mut chain = buffer.mdl(&[]);
        let (raw, table) = (mr.raw(), mr.dispatch());
        // SAFETY: live MR; the chain covers the buffer; a NULL completion is the misuse tested.
        let no_completion = env.at(|| unsafe {
            (table.NdkRegisterMr)(raw, chain.as_mdl(), 64, 0, None, core::ptr::null_mut())
        });
        assert_eq!(
            no_completion, STATUS_INVALID_PARAMETER,
            "never pends without a completion"
        );
        // SAFETY: live CQ; NULL completion.
        let no_completion = env.at(|| unsafe {
            (cq.dispatch().NdkResizeCq)(cq.raw(), 8, None, core::ptr::null_mut())
        });
        assert_eq!(no_completion, STATUS_INVALID_PARAMETER);
        let zero = Issued::new(env, |done, c| {
            // SAFETY: live MR and chain; length 0 is the error tested.
            unsafe { (table.NdkRegisterMr)(raw, chain.as_mdl(), 0, 0, Some(done), c) }
        });
        zero.refused(env, STATUS_INVALID_PARAMETER);
        register(env, &fast, &buffer, 0).refused(env, STATUS_INVALID_DEVICE_STATE);
        deregister(env, &fast).refused(env, STATUS_INVALID_DEVICE_STATE);
        resize(env, &cq, 0).refused(env, STATUS_INVALID_PARAMETER);
        resize(env, &cq, limits.max_cq_depth + 1).refused(env, STATUS_INVALID_PARAMETER);
        modify(env, &srq, limits.max_srq_depth + 1, 0).refused(env, STATUS_INVALID_PARAMETER);
        init_fast(env, &mr, 4).refused(env, STATUS_INVALID_DEVICE_STATE);
        init_fast(env, &fast, 0).refused(env, STATUS_INVALID_PARAMETER);
        init_fast(env, &fast, limits.frmr_page_count + 1).refused(env, STATUS_IMPLEMENTATION_LIMIT);
        let tickets = env.at(|| {
            vec![
                close(mr, || {}),
                close(fast, || {}),
                close(srq, || {}),
                close(cq, || {}),
                close(pd, || {}),
            ]
        });
        env.settle();
        assert!(tickets.iter().all(Ticket::complete));
        env.close_adapter(adapter);
    });
}

/// §5.3 C1: an MR, CQ or SRQ closed while a request on it is in flight completes its close
/// only after the request's completion returned. Where the request has not run yet when the
/// close starts (deterministic delivery), the close pends and the request is cancelled
/// (`STATUS_CANCELLED`, no effect); elsewhere it may already have completed.
#[test]
fn close_waits_for_the_pending_request() {
    request_matrix(|env| {
        let adapter = open(env);
        let events = CqEvents::new();
        let buffer = Buffer::zeroed(256);
        let (pd, cq) = env.at(|| (adapter.create_pd(), adapter.create_cq(4, &events)));
        let (pd, cq) = (pd.expect("PD"), cq.expect("CQ"));
        let (mr, srq) = env.at(|| {
            (
                pd.create_mr(false).expect("MR"),
                pd.create_srq(4, 1, 0, None).expect("SRQ"),
            )
        });
        let requests = [
            register(env, &mr, &buffer, 0),
            resize(env, &cq, 8),
            modify(env, &srq, 8, 0),
        ];
        let tickets = [
            close_after(env, mr, &requests[0].req),
            close_after(env, cq, &requests[1].req),
            close_after(env, srq, &requests[2].req),
        ];
        for (request, ticket) in requests.iter().zip(&tickets) {
            assert_eq!(request.status, STATUS_PENDING);
            assert!(ticket.accepted());
            if env.deterministic() {
                assert_eq!(
                    ticket.status, STATUS_PENDING,
                    "the request holds the object"
                );
                assert_eq!(ticket.calls(), 0);
            }
        }
        for (request, ticket) in requests.iter().zip(&tickets) {
            let status = request.delivered(env);
            if env.deterministic() {
                assert_eq!(
                    status, STATUS_CANCELLED,
                    "the object was closing when it ran"
                );
            } else {
                assert!(
                    status == STATUS_SUCCESS || status == STATUS_CANCELLED,
                    "{status:x?}"
                );
            }
            // The request's deferred item drops its hold on the object just after the
            // completion returned (threaded delivery: on a worker, racing this thread).
            env.settle();
            assert!(
                ticket.complete(),
                "close completes after the request completion"
            );
        }
        let t = env.at(|| close(pd, || {}));
        env.settle();
        assert!(t.complete());
        env.close_adapter(adapter);
    });
}

/// §5.5: the consumer closes the MR from inside the registration's completion. Delivered inline
/// (inline host at PASSIVE), that is before `NdkRegisterMr` returned, which still answers
/// `STATUS_PENDING`; the close completes only once the completion returned.
#[test]
fn close_from_inside_the_request_completion() {
    request_matrix(|env| {
        let adapter = open(env);
        let buffer = Buffer::zeroed(128);
        let pd = env.at(|| adapter.create_pd()).expect("PD");
        let mr = env.at(|| pd.create_mr(false)).expect("MR");
        let ticket = Arc::new(Mutex::new(None));
        let slot = Arc::clone(&ticket);
        let header = conformance_common::Raw(mr.raw().cast::<softndk::abi::NDK_OBJECT_HEADER>());
        let close_slot = mr.dispatch().NdkCloseMr;
        let req = Arc::new(Req::default());
        // The hook holds the request it runs in; the completion takes the hook out before
        // running it, which ends that cycle.
        let inside = Arc::clone(&req);
        let hook = Box::new(move || {
            let then = Box::new(move || {
                assert!(
                    inside.returned(),
                    "close completed inside the request completion"
                );
            });
            // SAFETY: the MR is open and given up here (the test never uses `mr` again).
            let t = unsafe { conformance_common::close_raw(header.get(), close_slot, None, then) };
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(t);
        });
        *req.hook.lock().unwrap_or_else(PoisonError::into_inner) = Some(hook);
        let mut chain = buffer.mdl(&[]);
        let context = Arc::into_raw(Arc::clone(&req)).cast_mut().cast::<c_void>();
        let (raw, table, len) = (mr.raw(), mr.dispatch(), buffer.len());
        // SAFETY: live MR; a chain over a buffer alive until the end of the test.
        let status = env.at(|| unsafe {
            (table.NdkRegisterMr)(raw, chain.as_mdl(), len, 0, Some(req_completion), context)
        });
        core::mem::forget(mr); // closed by the hook
        assert_eq!(
            status, STATUS_PENDING,
            "pending even if completed before returning"
        );
        env.settle();
        assert_eq!(req.calls(), 1);
        let t = ticket
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .expect("closed in the completion");
        assert!(t.accepted() && t.complete(), "{:x?}", t.status);
        let t = env.at(|| close(pd, || {}));
        env.settle();
        assert!(t.complete());
        env.close_adapter(adapter);
    });
}

/// §5.6 with a request in flight: the MR and PD closes pend on it, and the adapter's blocking
/// close returns only after the request's completion returned (delivered as
/// `STATUS_CANCELLED`: its MR was closing).
#[test]
fn adapter_close_waits_for_a_pending_request() {
    for delivery in [Delivery::Fifo, Delivery::Seeded(conformance_common::seed())] {
        let env = Env::new(Cell {
            delivery,
            irql: Irql::Passive,
            pend: false,
        });
        let adapter = open(&env);
        let buffer = Buffer::zeroed(64);
        let pd = adapter.create_pd().expect("PD");
        let mr = pd.create_mr(false).expect("MR");
        let r = register(&env, &mr, &buffer, 0);
        assert_eq!(r.status, STATUS_PENDING);
        let mr_close = close_after(&env, mr, &r.req);
        let pd_close = close(pd, || {});
        assert_eq!(
            (mr_close.status, pd_close.status),
            (STATUS_PENDING, STATUS_PENDING)
        );
        assert_eq!(r.req.calls(), 0, "deterministic: not delivered yet");
        env.close_adapter(adapter);
        assert!(
            r.req.returned(),
            "adapter close returned before the completion"
        );
        assert_eq!(
            *r.req.status.lock().unwrap_or_else(PoisonError::into_inner),
            Some(STATUS_CANCELLED)
        );
        assert!(mr_close.complete() && pd_close.complete());
        env.finish();
    }
}

/// Every allocation attempt of a pended request failing once in turn (`FailNth`): attempt 0 is
/// the deferred item (answered inline, `STATUS_INSUFFICIENT_RESOURCES`, no completion, nothing
/// changed); later ones are the request's own allocations (delivered by the one completion as
/// `STATUS_INSUFFICIENT_RESOURCES`); once no attempt is left to fail the request succeeds.
#[test]
fn allocation_failures_while_pending_are_never_lost() {
    request_matrix(|env| {
        let adapter = open(env);
        let events = CqEvents::new();
        let buffer = Buffer::zeroed(64);
        let (pd, cq) = env.at(|| (adapter.create_pd(), adapter.create_cq(4, &events)));
        let (pd, cq) = (pd.expect("PD"), cq.expect("CQ"));
        let (mr, srq) = env.at(|| {
            (
                pd.create_mr(false).expect("MR"),
                pd.create_srq(4, 1, 0, None).expect("SRQ"),
            )
        });
        let kinds: [(&str, &dyn Fn() -> Issued); 3] = [
            ("NdkRegisterMr", &|| register(env, &mr, &buffer, 0)),
            ("NdkResizeCq", &|| resize(env, &cq, 64)),
            ("NdkModifySrq", &|| modify(env, &srq, 64, 0)),
        ];
        for (name, issue) in kinds {
            let mut effect_failures = 0;
            for n in 0.. {
                env.host.set_fault_plan(FaultPlan::FailNth(n));
                let before = env.host.alloc_stats().injected_failures;
                let r = issue();
                env.settle();
                env.host.set_fault_plan(FaultPlan::Off);
                let injected = env.host.alloc_stats().injected_failures - before;
                if n == 0 {
                    r.refused(env, STATUS_INSUFFICIENT_RESOURCES);
                    assert_eq!(injected, 1, "{name}: the deferred item failed");
                    continue;
                }
                let status = r.delivered(env);
                if injected == 0 {
                    assert_eq!(status, STATUS_SUCCESS, "{name}: nothing failed");
                    break;
                }
                assert_eq!(status, STATUS_INSUFFICIENT_RESOURCES, "{name}: attempt {n}");
                effect_failures += 1;
            }
            assert!(
                effect_failures >= 1,
                "{name} allocates inside the deferred work"
            );
        }
        let tickets = env.at(|| {
            vec![
                close(mr, || {}),
                close(srq, || {}),
                close(cq, || {}),
                close(pd, || {}),
            ]
        });
        env.settle();
        assert!(tickets.iter().all(Ticket::complete));
        env.close_adapter(adapter);
    });
}

/// The consumer wrapper waits for pending requests at PASSIVE and answers their final status,
/// so code written against it (the CLI's workload) runs unchanged on an adapter whose requests
/// pend.
#[test]
fn the_consumer_wrapper_waits_for_pending_requests() {
    for delivery in deliveries() {
        let env = Env::new(Cell {
            delivery,
            irql: Irql::Passive,
            pend: false,
        });
        let adapter = open(&env);
        let events = CqEvents::new();
        let buffer = Buffer::zeroed(64);
        let pd = adapter.create_pd().expect("PD");
        let cq = adapter.create_cq(4, &events).expect("CQ");
        let mr = pd.create_mr(false).expect("MR");
        let fast = pd.create_mr(true).expect("fast MR");
        let srq = pd.create_srq(4, 1, 0, None).expect("SRQ");
        assert_eq!(mr.register(&buffer, 0, &[]), STATUS_SUCCESS);
        assert_eq!(mr.register(&buffer, 0, &[]), STATUS_INVALID_DEVICE_STATE);
        assert_eq!(mr.deregister(), STATUS_SUCCESS);
        assert_eq!(fast.initialize_fast_register(2, false), STATUS_SUCCESS);
        assert_eq!(cq.resize(32), STATUS_SUCCESS);
        assert_eq!(srq.modify(32, 0), STATUS_SUCCESS);
        assert_eq!(softndk::consumer::unexpected_completions(), 0);
        let tickets = [
            close(mr, || {}),
            close(fast, || {}),
            close(srq, || {}),
            close(cq, || {}),
            close(pd, || {}),
        ];
        env.settle();
        assert!(tickets.iter().all(Ticket::complete));
        env.close_adapter(adapter);
        env.finish();
    }
}
