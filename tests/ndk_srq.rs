//! Shared receive queues through the dispatch tables: `NdkCreateSrq`, `NdkCreateQpWithSrq`,
//! `NdkSrqReceive`, `NdkModifySrq`, the low-water notification, close, and both ends of a
//! connection using SRQs.
// p platform, q/r QPs: the scenario vocabulary.
#![allow(clippy::many_single_char_names, clippy::too_many_lines)]

mod ndk_common;

use ndk_common::{Domain, closed, open_adapter, open_checked, summary};
use softndk::abi::{
    NDK_OPERATION_TYPE, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
};
use softndk::consumer::{Buffer, Qp, QpLimits, Srq, SrqEvents};
use softndk::platform::host::{FaultPlan, Host};
use softndk::verbs::misuse::MisuseChecks;

const S: u32 = STATUS_SUCCESS.as_u32();
const RECV: i32 = NDK_OPERATION_TYPE::RECEIVE.0;

#[test]
fn receives_are_consumed_by_whichever_qp_needs_one() {
    let p = Host::deterministic();
    let ad = open_adapter(&p);
    let (x, y) = (Domain::new(&ad, 64), Domain::new(&ad, 64));
    let srq = x.pd.create_srq(8, 2, 0, None).unwrap();
    let (q1, q2) = (x.srq_qp(&srq, 0x51), x.srq_qp(&srq, 0x52));
    let (p1, p2) = (y.qp(0x61), y.qp(0x62));
    assert_eq!(q1.connect_to(&p1, 1, 1), STATUS_SUCCESS);
    assert_eq!(q2.connect_to(&p2, 1, 1), STATUS_SUCCESS);
    let (buf, mr) = x.register(Buffer::from_bytes(&[0; 48]));
    for i in 0..3 {
        let sge = buf.sge(i * 16, 16, mr.local_token());
        assert_eq!(srq.receive(100 + i, &[sge]), STATUS_SUCCESS);
    }
    let (src, src_mr) = y.register(Buffer::from_bytes(b"abcdefgh"));
    let s = src.sge(0, 8, src_mr.local_token());
    assert_eq!(p2.send(1, &[s], 0), STATUS_SUCCESS);
    assert_eq!(p1.send(2, &[s], 0), STATUS_SUCCESS);
    assert_eq!(p2.send(3, &[s], 0), STATUS_SUCCESS);
    let r = x.rcq.results_ex(8);
    assert_eq!(
        summary(&r),
        [(100, S, 8, RECV), (101, S, 8, RECV), (102, S, 8, RECV)],
        "receives in posting order"
    );
    let contexts: Vec<_> = r.iter().map(|r| r.QPContext.addr()).collect();
    assert_eq!(
        contexts,
        [0x52, 0x51, 0x52],
        "each completion names the QP that consumed it"
    );
    assert_eq!(&buf.read()[..8], b"abcdefgh");
    assert_eq!(&buf.read()[32..40], b"abcdefgh");
    // `NdkReceive` on a QP created with an SRQ is refused.
    assert_eq!(q1.receive(9, &[]), STATUS_INVALID_PARAMETER);
    // Flushing one QP leaves the SRQ's receives for the others.
    assert_eq!(srq.receive(200, &[]), STATUS_SUCCESS);
    q1.flush();
    assert_eq!(p2.send(4, &[], 0), STATUS_SUCCESS);
    let r = x.rcq.results_ex(8);
    assert_eq!(summary(&r), [(200, S, 0, RECV)]);
    assert_eq!(r[0].QPContext.addr(), 0x52);
    let _ = (y.icq.results(16), x.icq.results(16));
    for q in [q1, q2, p1, p2] {
        closed(q.close());
    }
    closed(srq.close());
    drop((mr.close(), src_mr.close()));
    x.close();
    y.close();
    ad.close();
    assert_eq!(p.alloc_stats().live, 0);
}

/// A send that finds the SRQ empty waits; the next `NdkSrqReceive` runs it.
#[test]
fn a_send_waiting_for_an_srq_receive_runs_when_one_is_posted() {
    let p = Host::deterministic();
    let ad = open_adapter(&p);
    let (x, y) = (Domain::new(&ad, 64), Domain::new(&ad, 64));
    let srq = x.pd.create_srq(4, 1, 0, None).unwrap();
    let q = x.srq_qp(&srq, 1);
    let peer = y.qp(2);
    assert_eq!(q.connect_to(&peer, 1, 1), STATUS_SUCCESS);
    assert_eq!(peer.send(7, &[], 0), STATUS_SUCCESS);
    assert!(y.icq.results(4).is_empty(), "waiting for a receive");
    assert_eq!(srq.receive(8, &[]), STATUS_SUCCESS);
    assert_eq!(y.icq.results(4).len(), 1);
    assert_eq!(summary(&x.rcq.results_ex(4)), [(8, S, 0, RECV)]);
    closed(q.close());
    closed(peer.close());
    closed(srq.close());
    x.close();
    y.close();
    ad.close();
    assert_eq!(p.alloc_stats().live, 0);
}

#[test]
fn create_and_post_limits() {
    let p = Host::deterministic();
    let ad = open_adapter(&p);
    let x = Domain::new(&ad, 64);
    let info = ad.query_info().unwrap();
    assert_eq!(info.MaxSrqDepth, 4096);
    let max_sge = info.MaxReceiveRequestSge;
    assert_eq!(
        x.pd.create_srq(0, 1, 0, None).unwrap_err(),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        x.pd.create_srq(4097, 1, 0, None).unwrap_err(),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        x.pd.create_srq(4, max_sge + 1, 0, None).unwrap_err(),
        STATUS_INVALID_PARAMETER
    );
    let srq = x.pd.create_srq(2, 1, 0, None).unwrap();
    // SGE count against the SRQ's own limit; depth; a NULL SGL with a count.
    let (buf, mr) = x.register(Buffer::from_bytes(&[0; 8]));
    let sge = buf.sge(0, 4, mr.local_token());
    assert_eq!(srq.receive(1, &[sge, sge]), STATUS_INVALID_PARAMETER);
    assert_eq!(srq.receive(1, &[sge]), STATUS_SUCCESS);
    assert_eq!(srq.receive(2, &[]), STATUS_SUCCESS);
    assert_eq!(srq.receive(3, &[]), STATUS_INSUFFICIENT_RESOURCES);
    // A QP with an SRQ of another PD, or initiator limits above the adapter's.
    let other = Domain::new(&ad, 64);
    assert_eq!(
        other
            .pd
            .create_qp_with_srq(&other.rcq, &other.icq, &srq, 1, QpLimits::default())
            .unwrap_err(),
        STATUS_INVALID_PARAMETER
    );
    let too_deep = QpLimits {
        initiator_depth: info.MaxInitiatorQueueDepth + 1,
        ..QpLimits::default()
    };
    assert_eq!(
        x.pd.create_qp_with_srq(&x.rcq, &x.icq, &srq, 1, too_deep)
            .unwrap_err(),
        STATUS_INVALID_PARAMETER
    );
    closed(srq.close());
    closed(mr.close());
    other.close();
    x.close();
    ad.close();
    assert_eq!(softndk::consumer::unexpected_completions(), 0);
    assert_eq!(p.alloc_stats().live, 0);
}

/// The SRQ's close pends while QPs use it; it discards the receives no QP consumed, without
/// completions (an SRQ receive has no CQ until a QP takes it).
#[test]
fn close_pends_while_qps_use_it_and_discards_unconsumed_receives() {
    let p = Host::deterministic();
    let ad = open_adapter(&p);
    let (x, y) = (Domain::new(&ad, 64), Domain::new(&ad, 64));
    let srq = x.pd.create_srq(8, 1, 0, None).unwrap();
    let q = x.srq_qp(&srq, 1);
    let peer = y.qp(2);
    assert_eq!(q.connect_to(&peer, 1, 1), STATUS_SUCCESS);
    for i in 0..3 {
        assert_eq!(srq.receive(i, &[]), STATUS_SUCCESS);
    }
    let closing = srq.close();
    assert!(!closing.is_complete(), "a QP still uses the SRQ");
    // The receives were discarded at close: a send now waits, no receive completes.
    assert_eq!(peer.send(1, &[], 0), STATUS_SUCCESS);
    assert!(x.rcq.results(8).is_empty());
    assert!(y.icq.results(8).is_empty());
    closed(q.close());
    assert_eq!(
        closing.pending().calls(),
        1,
        "completes once the QP is closed"
    );
    assert!(
        x.rcq.results(8).is_empty(),
        "discarded receives never complete"
    );
    // The waiting send learns that its peer is gone when it is flushed.
    closed(peer.close());
    let r = y.icq.results(8);
    assert_eq!(r.len(), 1);
    assert_ne!(r[0].Status, STATUS_SUCCESS);
    x.close();
    y.close();
    ad.close();
    assert_eq!(p.alloc_stats().live, 0);
}

#[test]
fn low_water_notifications() {
    let p = Host::deterministic();
    let ad = open_adapter(&p);
    let (x, y) = (Domain::new(&ad, 64), Domain::new(&ad, 64));
    let events = SrqEvents::new();
    // A threshold at create arms without firing on the empty queue.
    let srq = x.pd.create_srq(16, 1, 2, Some(&events)).unwrap();
    p.run_until_idle();
    assert_eq!(events.count(), 0);
    let q = x.srq_qp(&srq, 1);
    let peer = y.qp(2);
    assert_eq!(q.connect_to(&peer, 1, 1), STATUS_SUCCESS);
    for i in 0..4 {
        assert_eq!(srq.receive(i, &[]), STATUS_SUCCESS);
    }
    // 4 → 3 → 2: not below 2 yet; 2 → 1: one notification, delivered by the DPC (never inside
    // the posting call), then disarmed.
    for i in 0..2 {
        assert_eq!(peer.send(i, &[], 0), STATUS_SUCCESS);
    }
    p.run_until_idle();
    assert_eq!(events.count(), 0);
    assert_eq!(peer.send(2, &[], 0), STATUS_SUCCESS);
    assert_eq!(events.count(), 0, "not from inside the consuming call");
    p.run_until_idle();
    assert_eq!(events.statuses(), [STATUS_SUCCESS]);
    assert_eq!(peer.send(3, &[], 0), STATUS_SUCCESS);
    p.run_until_idle();
    assert_eq!(events.count(), 1, "disarmed after one notification");
    // Threshold 0 keeps threshold and arming (still disarmed); a depth-only modify too.
    assert_eq!(srq.modify(0, 0), STATUS_SUCCESS);
    assert_eq!(srq.modify(8, 0), STATUS_SUCCESS);
    p.run_until_idle();
    assert_eq!(events.count(), 1);
    // Arming while already below fires at once (through the DPC).
    assert_eq!(srq.modify(0, 1), STATUS_SUCCESS);
    assert_eq!(events.count(), 1);
    p.run_until_idle();
    assert_eq!(events.count(), 2);
    // Re-arming from inside the callback (threshold 1 with 1 queued: armed, not due); the next
    // consumption fires again, after the first callback returned.
    assert_eq!(srq.receive(10, &[]), STATUS_SUCCESS);
    assert_eq!(srq.receive(11, &[]), STATUS_SUCCESS);
    assert_eq!(srq.modify(0, 2), STATUS_SUCCESS); // 2 queued: armed, not fired
    p.run_until_idle();
    assert_eq!(events.count(), 2);
    srq.rearm_inside_callback(1);
    assert_eq!(peer.send(4, &[], 0), STATUS_SUCCESS); // 1 left: fires, callback re-arms
    p.run_until_idle();
    assert_eq!(events.count(), 3);
    srq.rearm_inside_callback(0); // from now on the callback leaves the arming alone
    assert_eq!(peer.send(5, &[], 0), STATUS_SUCCESS); // 0 left: below 1, fires again
    p.run_until_idle();
    assert_eq!(
        events.count(),
        4,
        "the re-arm from inside the callback took effect"
    );
    assert_eq!(events.overlaps(), 0, "never nested, never concurrent");
    // A notification due but not yet delivered is suppressed by the close.
    assert_eq!(srq.modify(0, 5), STATUS_SUCCESS);
    closed(q.close());
    let c = srq.close();
    p.run_until_idle();
    assert!(c.is_complete());
    assert_eq!(events.count(), 4, "no notification after close");
    let _ = (x.rcq.results(16), y.icq.results(16));
    closed(peer.close());
    x.close();
    y.close();
    ad.close();
    assert_eq!(p.alloc_stats().live, 0);
}

#[test]
fn modify_depth_rules() {
    let p = Host::deterministic();
    let ad = open_adapter(&p);
    let x = Domain::new(&ad, 64);
    let srq = x.pd.create_srq(3, 1, 0, None).unwrap(); // room allocated for 4
    assert_eq!(srq.modify(4097, 0), STATUS_INVALID_PARAMETER);
    for i in 0..3 {
        assert_eq!(srq.receive(i, &[]), STATUS_SUCCESS);
    }
    assert_eq!(srq.receive(3, &[]), STATUS_INSUFFICIENT_RESOURCES);
    assert_eq!(
        srq.modify(2, 0),
        STATUS_INVALID_PARAMETER,
        "below the receives posted"
    );
    assert_eq!(
        srq.modify(4, 0),
        STATUS_SUCCESS,
        "grows within its allocation"
    );
    assert_eq!(srq.receive(3, &[]), STATUS_SUCCESS);
    assert_eq!(
        srq.modify(64, 0),
        STATUS_SUCCESS,
        "grows past its allocation with receives posted (tests/ndk_srq_grow.rs)"
    );
    for i in 4..64 {
        assert_eq!(srq.receive(i, &[]), STATUS_SUCCESS);
    }
    assert_eq!(srq.receive(64, &[]), STATUS_INSUFFICIENT_RESOURCES);
    closed(srq.close());
    // Empty: any depth up to MaxSrqDepth; and back down.
    let srq = x.pd.create_srq(1, 1, 0, None).unwrap();
    assert_eq!(srq.modify(4096, 0), STATUS_SUCCESS);
    for i in 0..100 {
        assert_eq!(srq.receive(i, &[]), STATUS_SUCCESS);
    }
    assert_eq!(srq.modify(100, 0), STATUS_SUCCESS);
    assert_eq!(srq.receive(100, &[]), STATUS_INSUFFICIENT_RESOURCES);
    closed(srq.close());
    x.close();
    ad.close();
    assert_eq!(softndk::consumer::unexpected_completions(), 0);
    assert_eq!(p.alloc_stats().live, 0);
}

/// Both ends of a connection take their receives from SRQs: two different SRQs, and one SRQ
/// serving both ends of a loopback connection (no two SRQ locks are ever held together; the
/// host platform would panic on an order violation).
#[test]
fn both_ends_use_srqs() {
    let p = Host::deterministic();
    let ad = open_adapter(&p);
    let (x, y) = (Domain::new(&ad, 64), Domain::new(&ad, 64));
    let (sx, sy) = (
        x.pd.create_srq(8, 1, 0, None).unwrap(),
        y.pd.create_srq(8, 1, 0, None).unwrap(),
    );
    let (qx, qy) = (x.srq_qp(&sx, 0x1), y.srq_qp(&sy, 0x2));
    assert_eq!(qx.connect_to(&qy, 1, 1), STATUS_SUCCESS);
    // Sends first (both wait), then receives on both SRQs.
    assert_eq!(qx.send(1, &[], 0), STATUS_SUCCESS);
    assert_eq!(qy.send(2, &[], 0), STATUS_SUCCESS);
    assert_eq!(sy.receive(10, &[]), STATUS_SUCCESS);
    assert_eq!(sx.receive(20, &[]), STATUS_SUCCESS);
    assert_eq!(summary(&y.rcq.results_ex(4)), [(10, S, 0, RECV)]);
    assert_eq!(summary(&x.rcq.results_ex(4)), [(20, S, 0, RECV)]);
    assert_eq!(x.icq.results(4).len() + y.icq.results(4).len(), 2);
    for q in [qx, qy] {
        closed(q.close());
    }
    closed(sx.close());
    closed(sy.close());

    // One SRQ, both ends of a connection inside one PD.
    let shared = x.pd.create_srq(8, 1, 0, None).unwrap();
    let (q1, q2) = (x.srq_qp(&shared, 0x11), x.srq_qp(&shared, 0x12));
    assert_eq!(q1.connect_to(&q2, 1, 1), STATUS_SUCCESS);
    for i in 0..4 {
        assert_eq!(shared.receive(30 + i, &[]), STATUS_SUCCESS);
    }
    assert_eq!(q1.send(1, &[], 0), STATUS_SUCCESS);
    assert_eq!(q2.send(2, &[], 0), STATUS_SUCCESS);
    assert_eq!(q1.send(3, &[], 0), STATUS_SUCCESS);
    let r = x.rcq.results_ex(8);
    let got: Vec<_> = r
        .iter()
        .map(|r| (r.RequestContext.addr(), r.QPContext.addr()))
        .collect();
    assert_eq!(got, [(30, 0x12), (31, 0x11), (32, 0x12)]);
    assert_eq!(x.icq.results(8).len(), 3);
    for q in [q1, q2] {
        closed(q.close());
    }
    closed(shared.close());
    x.close();
    y.close();
    ad.close();
    assert_eq!(p.alloc_stats().live, 0);
}

/// Both ends using SRQs on two worker threads, sends in both directions racing SRQ posts.
#[test]
fn srq_traffic_on_worker_threads() {
    let p = Host::threaded(2);
    let ad = open_adapter(&p);
    let (x, y) = (Domain::new(&ad, 256), Domain::new(&ad, 256));
    let (sx, sy) = (
        x.pd.create_srq(256, 1, 0, None).unwrap(),
        y.pd.create_srq(256, 1, 0, None).unwrap(),
    );
    let (qx, qy) = (x.srq_qp(&sx, 0x1), y.srq_qp(&sy, 0x2));
    assert_eq!(qx.connect_to(&qy, 1, 1), STATUS_SUCCESS);
    let n = 100;
    // Each thread interleaves posts to its own SRQ with sends to the peer, whose SRQ the other
    // thread fills concurrently; a full initiator queue (sends waiting for receives) is retried.
    let run = |srq: &Srq, qp: &Qp| {
        for i in 0..n {
            assert_eq!(srq.receive(i, &[]), STATUS_SUCCESS);
            loop {
                match qp.send(i, &[], 0) {
                    STATUS_SUCCESS => break,
                    STATUS_INSUFFICIENT_RESOURCES => std::thread::yield_now(),
                    other => panic!("send: {other:?}"),
                }
            }
        }
    };
    std::thread::scope(|s| {
        s.spawn(|| run(&sx, &qx));
        s.spawn(|| run(&sy, &qy));
    });
    assert_eq!(x.rcq.results(256).len(), n);
    assert_eq!(y.rcq.results(256).len(), n);
    assert!(sx.modify(0, 0) == STATUS_SUCCESS && sy.modify(0, 0) == STATUS_SUCCESS);
    for q in [qx, qy] {
        closed(q.close());
    }
    closed(sx.close());
    closed(sy.close());
    let _ = (x.icq.results(256), y.icq.results(256));
    x.close();
    y.close();
    p.flush();
    ad.close();
    assert_eq!(p.alloc_stats().live, 0);
}

/// `FailNth` over every allocation of `NdkCreateSrq` and `NdkCreateQpWithSrq`: each failure
/// answers `STATUS_INSUFFICIENT_RESOURCES` and leaks nothing.
#[test]
fn creates_under_allocation_failure() {
    let p = Host::deterministic();
    // Provider-verifier quarantine keeps closed QPs alive until the adapter closes, which this
    // per-attempt balance would count as live; the sweep checks the create paths themselves.
    let ad = open_checked(&p, MisuseChecks::Off);
    let x = Domain::new(&ad, 64);
    let events = SrqEvents::new();
    let live = p.alloc_stats().live;
    let before = p.alloc_stats().attempts;
    let srq = x.pd.create_srq(8, 2, 1, Some(&events)).unwrap();
    let q = x.srq_qp(&srq, 1);
    closed(q.close());
    closed(srq.close());
    let attempts = p.alloc_stats().attempts - before;
    assert_eq!(p.alloc_stats().live, live);
    for n in 0..attempts {
        p.set_fault_plan(FaultPlan::FailNth(n));
        let made = x.pd.create_srq(8, 2, 1, Some(&events)).map(|srq| {
            let qp =
                x.pd.create_qp_with_srq(&x.rcq, &x.icq, &srq, 1, QpLimits::default());
            (srq, qp)
        });
        p.set_fault_plan(FaultPlan::Off);
        match made {
            Ok((srq, qp)) => {
                match qp {
                    Ok(qp) => closed(qp.close()),
                    Err(status) => assert_eq!(status, STATUS_INSUFFICIENT_RESOURCES),
                }
                closed(srq.close());
            }
            Err(status) => assert_eq!(status, STATUS_INSUFFICIENT_RESOURCES),
        }
        assert_eq!(p.alloc_stats().live, live, "attempt {n}");
    }
    assert!(p.alloc_stats().injected_failures > 0);
    assert_eq!(events.count(), 0);
    x.close();
    ad.close();
    assert_eq!(p.alloc_stats().live, 0);
}
