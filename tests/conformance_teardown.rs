//! Conformance, `spec/ndkpi.md` §5.8 (flush and what outstanding requests get), §5.9 (IRQL)
//! and §5.10 (decisions where the documentation is silent), on the whole matrix under the
//! verifier.

mod conformance_common;

use std::sync::atomic::{AtomicUsize, Ordering};

use conformance_common::{Pair, Side, Ticket, close, matrix, reap};
use softndk::abi::{
    NDK_CQ_NOTIFY_ERRORS, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NDK_MR_FLAG_ALLOW_REMOTE_READ,
    NDK_MR_FLAG_ALLOW_REMOTE_WRITE, NDK_OPERATION_TYPE, NDK_RESULT_EX, STATUS_BUFFER_OVERFLOW,
    STATUS_CANCELLED, STATUS_CONNECTION_ABORTED, STATUS_CONNECTION_INVALID,
    STATUS_INVALID_PARAMETER, STATUS_NOT_SUPPORTED, STATUS_SUCCESS,
};
use softndk::consumer::Buffer;
use softndk::platform::host::current_irql;

fn contexts(r: &[NDK_RESULT_EX]) -> Vec<(usize, u32)> {
    r.iter()
        .map(|r| (r.RequestContext.addr(), r.Status.as_u32()))
        .collect()
}

/// §5.8 `NdkFlush`: everything outstanding on both queues completes `STATUS_CANCELLED` in
/// posting order (initiator and receive queues each in order); the flushed QP refuses new work
/// and the peer's next request notices.
#[test]
fn flush_cancels_everything_outstanding_in_posting_order() {
    matrix(|env| {
        let pair = Pair::new(env, 64);
        let (a, b) = (&pair.a, &pair.b);
        env.at(|| {
            for i in 0..4 {
                assert_eq!(a.qp.receive(10 + i, &[]), STATUS_SUCCESS);
            }
            for i in 0..3 {
                assert_eq!(a.qp.send(20 + i, &[], 0), STATUS_SUCCESS);
            }
            a.qp.flush();
            assert_eq!(a.qp.send(30, &[], 0), STATUS_CONNECTION_INVALID);
            assert_eq!(a.qp.receive(31, &[]), STATUS_CONNECTION_INVALID);
        });
        let c = STATUS_CANCELLED.as_u32();
        let sent = reap(env, &a.icq, 3);
        assert_eq!(contexts(&sent), [(20, c), (21, c), (22, c)]);
        assert!(sent.iter().all(|r| r.Type == NDK_OPERATION_TYPE::SEND));
        let recv = reap(env, &a.rcq, 4);
        assert_eq!(contexts(&recv), [(10, c), (11, c), (12, c), (13, c)]);
        env.at(|| assert_eq!(b.qp.send(40, &[], 0), STATUS_SUCCESS));
        let r = reap(env, &b.icq, 1);
        assert_eq!(r[0].Status, STATUS_CONNECTION_ABORTED);
        env.v.check_drained();
        pair.close(env);
    });
}

/// §5.8 "May race with work-request posting": a flush on one thread while another posts on
/// the same QP; every post that succeeded completes exactly once (success or cancelled), every
/// refused post never does.
#[test]
fn flush_may_race_with_posting() {
    const N: usize = 16;
    matrix(|env| {
        let pair = Pair::new(env, 256);
        let (a, b) = (&pair.a, &pair.b);
        env.at(|| {
            for i in 0..N {
                assert_eq!(b.qp.receive(1000 + i, &[]), STATUS_SUCCESS);
            }
        });
        let accepted = AtomicUsize::new(0);
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 0..N {
                    let status = env.at(|| a.qp.send(i, &[], 0));
                    if status == STATUS_SUCCESS {
                        accepted.fetch_add(1, Ordering::SeqCst);
                    } else {
                        assert_eq!(status, STATUS_CONNECTION_INVALID, "post {i}");
                    }
                }
            });
            s.spawn(|| {
                std::thread::yield_now();
                env.at(|| a.qp.flush());
            });
        });
        let n = accepted.load(Ordering::SeqCst);
        let done = reap(env, &a.icq, n);
        assert!(
            done.iter()
                .all(|r| r.Status == STATUS_SUCCESS || r.Status == STATUS_CANCELLED)
        );
        let mut seen: Vec<usize> = done.iter().map(|r| r.RequestContext.addr()).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), n, "a request completed twice");
        let delivered = done.iter().filter(|r| r.Status == STATUS_SUCCESS).count();
        env.at(|| b.qp.flush());
        let recv = reap(env, &b.rcq, N);
        let ok = recv.iter().filter(|r| r.Status == STATUS_SUCCESS).count();
        assert_eq!(ok, delivered, "each delivered send consumed one receive");
        env.v.check_drained();
        pair.close(env);
    });
}

/// §5.8 (Microsoft's sample): a CQ closes with unreaped entries, and the whole sample teardown
/// order (flush, QP, receive CQ, initiator CQ, MRs without waiting, PD, adapter) completes.
#[test]
fn cq_close_with_unreaped_entries_succeeds() {
    matrix(|env| {
        let Pair { one, two, a, b } = Pair::new(env, 64);
        let buf = Buffer::zeroed(64);
        let mr = env.at(|| b.pd.create_mr(false)).expect("MR");
        assert_eq!(
            env.at(|| mr.register(&buf, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, &[])),
            STATUS_SUCCESS
        );
        env.at(|| {
            for i in 0..5 {
                assert_eq!(
                    b.qp.receive(i, &[buf.sge(0, 64, mr.local_token())]),
                    STATUS_SUCCESS
                );
                assert_eq!(a.qp.send(i, &[], 0), STATUS_SUCCESS);
            }
        });
        env.settle();
        let notes = b.rcq.notes.clone();
        let tickets: Vec<Ticket> = env.at(|| {
            b.qp.flush();
            vec![
                close(b.qp, || {}),
                close(b.rcq, || {}),
                close(b.icq, || {}),
                close(mr, || {}),
                close(b.pd, || {}),
            ]
        });
        env.settle();
        assert!(tickets.iter().all(|t| t.accepted() && t.complete()));
        assert_eq!(notes.count(), 0, "never armed");
        let _ = reap(env, &a.icq, 5);
        a.close(env);
        env.close_adapter(one);
        env.close_adapter(two);
        drop(buf);
    });
}

/// §5.9: every provider function other than the adapter open/close and
/// `NdkQueryAdapterInfo` runs at the consumer's IRQL (DISPATCH in half the cells) without
/// blocking (the host panics on a wait at DISPATCH), and callbacks run at or below DISPATCH.
#[test]
fn every_provider_function_runs_at_the_consumer_irql() {
    matrix(|env| {
        let Pair { one, two, a, b } = Pair::new(env, 64);
        assert!(one.query_info().is_ok(), "NdkQueryAdapterInfo at PASSIVE");
        let src = Buffer::from_bytes(b"irql-checked");
        let dst = Buffer::zeroed(16);
        let irql = env.cell.irql;
        let closes = env.at(|| {
            assert_eq!(current_irql(), irql);
            assert_eq!(one.query_extension(), STATUS_NOT_SUPPORTED);
            let smr = a.pd.create_mr(false).expect("MR");
            let dmr = b.pd.create_mr(false).expect("MR");
            let flags = NDK_MR_FLAG_ALLOW_REMOTE_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ;
            assert_eq!(
                smr.register(&src, NDK_MR_FLAG_ALLOW_REMOTE_READ, &[]),
                STATUS_SUCCESS
            );
            assert_eq!(dmr.register(&dst, flags, &[]), STATUS_SUCCESS);
            assert_eq!(smr.query_extension(), STATUS_NOT_SUPPORTED);
            assert_eq!(a.pd.query_extension(), STATUS_NOT_SUPPORTED);
            assert_ne!(a.pd.privileged_token(), 0);
            let s = src.sge(0, 12, smr.local_token());
            assert_eq!(
                a.qp.write(1, &[s], dst.va(), dmr.remote_token(), 0),
                STATUS_SUCCESS
            );
            let d = dst.sge(12, 4, dmr.local_token());
            assert_eq!(
                b.qp.read(2, &[d], src.va(), smr.remote_token(), 0),
                STATUS_SUCCESS
            );
            assert_eq!(b.qp.receive(3, &[]), STATUS_SUCCESS);
            assert_eq!(a.qp.send(4, &[], 0), STATUS_SUCCESS);
            a.icq.arm(NDK_CQ_NOTIFY_ERRORS);
            assert_eq!(a.icq.resize(128), STATUS_SUCCESS);
            assert_eq!(a.qp.query_extension(), STATUS_NOT_SUPPORTED);
            assert_eq!(
                a.qp.bind_nothing(),
                STATUS_INVALID_PARAMETER,
                "NdkBind without an MR or MW is refused"
            );
            assert_eq!(dmr.deregister(), STATUS_SUCCESS);
            [close(smr, || {}), close(dmr, || {})]
        });
        // In pending cells the deferred work of a request may still hold its MR for the moment
        // after its completion returned: the close then completes once the work is done.
        env.settle();
        assert!(closes.iter().all(Ticket::complete));
        assert_eq!(dst.read(), b"irql-checkedirql");
        let done = reap(env, &a.icq, 2);
        assert!(done.iter().all(|r| r.Status == STATUS_SUCCESS));
        let _ = reap(env, &b.icq, 1);
        let _ = reap(env, &b.rcq, 1);
        for side in [&a, &b] {
            for cq in [&side.rcq, &side.icq] {
                assert_eq!(cq.notes.above_dispatch(), 0);
            }
        }
        env.v.check_drained();
        a.close(env);
        b.close(env);
        env.close_adapter(one);
        env.close_adapter(two);
    });
}

/// §5.10 "CQ shrink below occupancy" (decided: `STATUS_INVALID_PARAMETER`, nothing lost) and
/// "work requests after flush" (decided: `STATUS_CONNECTION_INVALID`, never a completion).
#[test]
fn silent_cases_answer_as_documented() {
    matrix(|env| {
        let pair = Pair::new(env, 16);
        let (a, b) = (&pair.a, &pair.b);
        env.at(|| {
            for i in 0..6 {
                assert_eq!(b.qp.receive(i, &[]), STATUS_SUCCESS);
                assert_eq!(a.qp.send(i, &[], 0), STATUS_SUCCESS);
            }
            assert_eq!(
                a.icq.resize(4),
                STATUS_INVALID_PARAMETER,
                "6 entries waiting"
            );
            assert_eq!(a.icq.resize(6), STATUS_SUCCESS, "exactly the occupancy");
        });
        let sent = reap(env, &a.icq, 6);
        assert_eq!(
            sent.iter()
                .map(|r| r.RequestContext.addr())
                .collect::<Vec<_>>(),
            [0, 1, 2, 3, 4, 5],
            "nothing lost or reordered by the refused shrink"
        );
        let _ = reap(env, &b.rcq, 6);
        env.at(|| {
            b.qp.flush();
            assert_eq!(b.qp.receive(9, &[]), STATUS_CONNECTION_INVALID);
            assert_eq!(b.qp.send(9, &[], 0), STATUS_CONNECTION_INVALID);
        });
        env.settle();
        assert!(
            env.at(|| b.rcq.poll(8)).is_empty(),
            "refused posts never complete"
        );
        env.v.check_drained();
        pair.close(env);
    });
}

/// §5.10 / §6.7 "CQ overrun": the overflow is notified `STATUS_BUFFER_OVERFLOW` to an ERRORS
/// arm, the CQ reports nothing more, its QPs refuse work, and everything still closes.
#[test]
fn cq_overrun_is_notified_and_everything_still_closes() {
    matrix(|env| {
        let adapter = env.open();
        let a = Side::new(env, &adapter, 1, 2);
        let b = Side::new(env, &adapter, 2, 64);
        assert_eq!(env.connect(&a.qp, &b.qp, 1, 1), STATUS_SUCCESS);
        env.at(|| {
            a.rcq.arm(NDK_CQ_NOTIFY_ERRORS);
            for i in 0..3 {
                assert_eq!(a.qp.receive(i, &[]), STATUS_SUCCESS);
            }
            for i in 0..3 {
                assert_eq!(b.qp.send(i, &[], 0), STATUS_SUCCESS);
            }
        });
        env.settle();
        assert_eq!(a.rcq.notes.statuses(), [STATUS_BUFFER_OVERFLOW]);
        assert!(
            env.at(|| a.rcq.poll(8)).is_empty(),
            "an overrun CQ reports nothing"
        );
        assert_eq!(env.at(|| a.qp.receive(9, &[])), STATUS_CONNECTION_INVALID);
        let _ = reap(env, &b.icq, 3);
        a.close(env);
        b.close(env);
        env.close_adapter(adapter);
    });
}
