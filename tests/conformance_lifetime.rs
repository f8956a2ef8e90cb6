//! Conformance, `spec/ndkpi.md` §5.2 (creating), §5.3 (closing) and §5.4 (antecedents before
//! successors): one test per rule, each run on the whole matrix (inline / FIFO / seeded /
//! threaded delivery × PASSIVE / DISPATCH consumer calls) under the verifier, with allocations
//! balanced at the end of every cell.
#![allow(unsafe_code)]

mod conformance_common;

use core::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use conformance_common::{
    Closeable, Closer, Env, Hooked, Pair, Side, Ticket, close, create_qp, matrix, reap,
};
use softndk::abi::{
    NDK_CQ, NDK_CQ_NOTIFY_ANY, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NDK_OPERATION_TYPE, STATUS_CANCELLED,
    STATUS_CONNECTION_ABORTED, STATUS_PENDING, STATUS_SUCCESS,
};
use softndk::consumer::{Buffer, Mr, Pd, QpLimits, create_completion, unexpected_completions};

/// A registered buffer on `pd`.
fn registered(env: &Env, pd: &Pd, bytes: &[u8]) -> (Arc<Buffer>, Mr) {
    let buf = Buffer::from_bytes(bytes);
    let mr = env.at(|| pd.create_mr(false)).expect("MR");
    assert_eq!(
        env.at(|| mr.register(&buf, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, &[])),
        STATUS_SUCCESS
    );
    // A pended registration's deferred item may still hold the MR for a moment after its
    // completion returned (a close right then would legally pend): let it finish.
    env.created();
    (buf, mr)
}

fn close_at<O: Closeable>(env: &Env, object: O) -> Ticket {
    env.at(|| close(object, || {}))
}

/// §5.2 items 2 and 4: an inline create returns a fully initialised object through the
/// out-pointer without calling the create completion, and the object takes calls at once.
#[test]
fn create_inline_returns_a_ready_object_without_callback() {
    matrix(|env| {
        let before = unexpected_completions();
        let adapter = env.open();
        let side = Side::new(env, &adapter, 1, 64);
        let (buf, mr) = registered(env, &side.pd, &[0; 32]);
        env.at(|| {
            side.rcq.arm(NDK_CQ_NOTIFY_ANY);
            let sge = buf.sge(0, 32, mr.local_token());
            assert_eq!(side.qp.receive(7, &[sge]), STATUS_SUCCESS);
            side.qp.flush();
        });
        let r = reap(env, &side.rcq, 1);
        assert_eq!(
            (r[0].RequestContext.addr(), r[0].Status),
            (7, STATUS_CANCELLED)
        );
        assert_eq!(r[0].QPContext.addr(), 1);
        assert_eq!(unexpected_completions(), before, "no create completion");
        assert!(close_at(env, mr).complete());
        side.close(env);
        env.close_adapter(adapter);
    });
}

/// §5.2 item 2: a create that fails creates nothing, calls nothing and allocates nothing.
#[test]
fn failed_create_creates_nothing() {
    matrix(|env| {
        let before = unexpected_completions();
        let adapter = env.open();
        let other = env.open();
        let pd = env.at(|| adapter.create_pd()).expect("PD");
        let cq = env.at(|| Hooked::create(&adapter, 8)).expect("CQ");
        let foreign = env.at(|| Hooked::create(&other, 8)).expect("foreign CQ");
        // A pending create's deferred item may still be returning from its completion.
        env.settle();
        let live = env.host.alloc_stats().live;
        let open = env.v.open_objects().len();
        let max = env.at(|| adapter.query_info()).map_or(0, |i| i.MaxCqDepth);
        let max_srq = env.at(|| adapter.query_info()).map_or(0, |i| i.MaxSrqDepth);
        assert!(max_srq > 0, "SRQs are supported");
        env.at(|| {
            for depth in [0, max + 1] {
                assert!(Hooked::create(&adapter, depth).is_err(), "CQ depth {depth}");
            }
            let limits = QpLimits::default();
            assert!(
                create_qp(&pd, &cq, &foreign, 1, limits).is_err(),
                "foreign CQ"
            );
            let deep = QpLimits {
                receive_depth: u32::MAX,
                ..limits
            };
            assert!(create_qp(&pd, &cq, &cq, 1, deep).is_err(), "queue depth");
            let wide = QpLimits {
                max_initiator_sge: 1 << 20,
                ..limits
            };
            assert!(create_qp(&pd, &cq, &cq, 1, wide).is_err(), "SGE count");
            assert!(
                pd.create_srq(max_srq + 1, 1, 0, None).is_err(),
                "SRQ deeper than MaxSrqDepth"
            );
            let mut out: *mut NDK_CQ = ptr::null_mut();
            // SAFETY: a live adapter shadow; a NULL notification must be refused.
            let status = unsafe {
                (adapter.dispatch().NdkCreateCq)(
                    adapter.raw(),
                    4,
                    None,
                    ptr::null_mut(),
                    ptr::null(),
                    Some(create_completion),
                    ptr::null_mut(),
                    &raw mut out,
                )
            };
            assert_ne!(status, STATUS_SUCCESS);
            assert_ne!(status, STATUS_PENDING);
            assert!(out.is_null(), "a failed create hands out nothing");
        });
        env.settle();
        assert_eq!(
            env.host.alloc_stats().live,
            live,
            "a failed create allocated"
        );
        assert_eq!(
            env.v.open_objects().len(),
            open,
            "a failed create made an object"
        );
        assert_eq!(unexpected_completions(), before);
        let tickets = env.at(|| [close(cq, || {}), close(foreign, || {}), close(pd, || {})]);
        assert!(tickets.iter().all(Ticket::complete));
        env.close_adapter(adapter);
        env.close_adapter(other);
    });
}

/// §5.2 item 4: a new object may take concurrent calls right away (here: receives and sends
/// on the two queues of one QP from two threads).
#[test]
fn created_objects_take_concurrent_calls_at_once() {
    const N: usize = 8;
    matrix(|env| {
        let pair = Pair::new(env, 64);
        let (a, b) = (&pair.a, &pair.b);
        env.at(|| {
            for i in 0..N {
                assert_eq!(b.qp.receive(100 + i, &[]), STATUS_SUCCESS);
            }
        });
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 0..N {
                    assert_eq!(env.at(|| a.qp.receive(200 + i, &[])), STATUS_SUCCESS);
                }
            });
            s.spawn(|| {
                for i in 0..N {
                    assert_eq!(env.at(|| a.qp.send(300 + i, &[], 0)), STATUS_SUCCESS);
                }
            });
        });
        env.at(|| {
            for i in 0..N {
                assert_eq!(b.qp.send(400 + i, &[], 0), STATUS_SUCCESS);
            }
        });
        for (cq, n) in [(&a.icq, N), (&a.rcq, N), (&b.icq, N), (&b.rcq, N)] {
            let r = reap(env, cq, n);
            assert!(r.iter().all(|r| r.Status == STATUS_SUCCESS));
        }
        env.v.check_drained();
        pair.close(env);
    });
}

/// §5.3 "Return value": a close answers only `STATUS_SUCCESS` or `STATUS_PENDING`, whatever the
/// object's state (successors open, work outstanding, entries unreaped, QP in error,
/// registered or not), and a pended close completes exactly once.
#[test]
fn close_is_accepted_in_every_state() {
    matrix(|env| {
        let Pair { one, two, a, b } = Pair::new(env, 64);
        let (buf, mr) = registered(env, &a.pd, &[0; 16]);
        let (_spare, spare) = registered(env, &a.pd, &[0; 16]);
        let idle = env.at(|| a.pd.create_mr(false)).expect("MR");
        env.at(|| {
            assert_eq!(spare.deregister(), STATUS_SUCCESS);
            assert_eq!(b.qp.receive(1, &[]), STATUS_SUCCESS);
            assert_eq!(a.qp.send(2, &[], 0), STATUS_SUCCESS); // unreaped entries
            assert_eq!(a.qp.send(3, &[], 0), STATUS_SUCCESS); // waits for a receive
            let sge = buf.sge(0, 16, mr.local_token());
            assert_eq!(a.qp.receive(4, &[sge]), STATUS_SUCCESS);
            b.qp.flush(); // b in error
        });
        // Antecedents first, successors last: the worst order for a provider.
        let tickets = env.at(|| {
            vec![
                close(a.pd, || {}),
                close(a.rcq, || {}),
                close(a.icq, || {}),
                close(b.icq, || {}),
                close(b.pd, || {}),
                close(mr, || {}),
                close(idle, || {}),
                close(spare, || {}),
                close(a.qp, || {}),
                close(b.qp, || {}),
                close(b.rcq, || {}),
            ]
        });
        env.settle();
        for (i, t) in tickets.iter().enumerate() {
            assert!(t.accepted(), "close #{i} answered {:?}", t.status);
            assert!(t.complete(), "close #{i} never completed");
            let expected = u32::from(t.status == STATUS_PENDING);
            assert_eq!(t.calls(), expected, "close #{i}: completion count");
        }
        drop(buf);
        env.close_adapter(one);
        env.close_adapter(two);
    });
}

/// §5.3 "`STATUS_SUCCESS` — no callback of any kind may follow" and C3 ("further callbacks made
/// impossible"): a CQ whose notification is due (armed, completion in it) and is closed gets
/// no notification after the close returned SUCCESS, nor after its close completion.
#[test]
fn close_success_means_no_callback_follows() {
    matrix(|env| {
        let Pair { one, two, a, b } = Pair::new(env, 64);
        let notes = b.rcq.notes.clone();
        env.at(|| {
            b.rcq.arm(NDK_CQ_NOTIFY_ANY);
            assert_eq!(b.qp.receive(1, &[]), STATUS_SUCCESS);
            assert_eq!(a.qp.send(1, &[], 0), STATUS_SUCCESS);
        });
        let queued_before_close = notes.count();
        let qp = close_at(env, b.qp);
        let cq = close_at(env, b.rcq);
        let at_close = notes.count();
        env.settle();
        assert!(qp.complete() && cq.complete());
        if cq.status == STATUS_SUCCESS {
            assert_eq!(
                notes.count(),
                at_close,
                "a notification after a SUCCESS close"
            );
        }
        if env.deterministic() {
            // Nothing ran before the close: the queued notification must have been cancelled.
            assert_eq!(queued_before_close, 0);
            assert_eq!(notes.count(), 0, "a queued notification survived the close");
        }
        assert!(notes.count() <= 1, "one arm, at most one notification");
        let _ = reap(env, &a.icq, 1);
        let rest = env.at(|| [close(b.icq, || {}), close(b.pd, || {})]);
        env.settle();
        assert!(rest.iter().all(Ticket::complete));
        a.close(env);
        env.close_adapter(one);
        env.close_adapter(two);
    });
}

/// §5.3 and §3.1: a close that returned `STATUS_PENDING` calls its completion exactly once, and
/// only when it may complete.
#[test]
fn pending_close_completes_exactly_once() {
    matrix(|env| {
        let adapter = env.open();
        let pd = env.at(|| adapter.create_pd()).expect("PD");
        let (buf, mr) = registered(env, &pd, &[1; 8]);
        let t = close_at(env, pd);
        assert_eq!(t.status, STATUS_PENDING, "the PD has an open MR");
        env.settle();
        assert_eq!(t.calls(), 0, "completed while its MR is open");
        let m = close_at(env, mr);
        env.settle();
        assert!(m.complete());
        assert_eq!(t.calls(), 1);
        env.settle();
        assert_eq!(t.calls(), 1, "a second completion");
        assert!(t.irql_ok());
        drop(buf);
        env.close_adapter(adapter);
    });
}

/// §5.3 last paragraph and C2: a close requested from inside one of the object's own callbacks
/// (a CQ closed from inside its notification) returns `STATUS_PENDING` and completes only after
/// that callback returned.
#[test]
fn close_from_inside_own_notification_pends_until_callback_returns() {
    matrix(|env| {
        let Pair { one, two, a, b } = Pair::new(env, 64);
        env.at(|| {
            assert_eq!(b.qp.receive(1, &[]), STATUS_SUCCESS);
            assert_eq!(a.qp.send(1, &[], 0), STATUS_SUCCESS);
        });
        // The receive CQ holds an entry; its QP goes away, so only the running callback can
        // keep the CQ's close from completing.
        let qp = close_at(env, b.qp);
        env.settle();
        assert!(qp.complete());
        let handle = b.rcq.handle();
        let weak = Arc::downgrade(&b.rcq.notes);
        let ticket: Arc<Mutex<Option<Ticket>>> = Arc::default();
        let seen_returned = Arc::new(AtomicU64::new(u64::MAX));
        let (slot, seen) = (Arc::clone(&ticket), Arc::clone(&seen_returned));
        b.rcq.on_notify(move |_| {
            let Some(notes) = weak.upgrade() else { return };
            if slot
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_some()
            {
                return;
            }
            let (inner, seen) = (Arc::downgrade(&notes), Arc::clone(&seen));
            let t = handle.close(notes, move || {
                let returned = inner.upgrade().map_or(u64::MAX, |n| n.returned());
                seen.store(returned, Ordering::SeqCst);
            });
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(t);
        });
        let notes = Arc::clone(&b.rcq.notes);
        env.at(|| b.rcq.arm(NDK_CQ_NOTIFY_ANY));
        drop(b.rcq); // closed by its own callback
        env.settle();
        let t = ticket
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .expect("the notification ran and closed its CQ");
        assert_eq!(
            t.status, STATUS_PENDING,
            "close inside its own callback must pend"
        );
        assert_eq!(t.calls(), 1);
        assert_eq!(
            seen_returned.load(Ordering::SeqCst),
            1,
            "the close completed before the callback that issued it returned"
        );
        assert_eq!(notes.count(), 1);
        let _ = reap(env, &a.icq, 1);
        let rest = env.at(|| [close(b.icq, || {}), close(b.pd, || {})]);
        env.settle();
        assert!(rest.iter().all(Ticket::complete));
        a.close(env);
        env.close_adapter(one);
        env.close_adapter(two);
    });
}

/// §5.3 C3 and the §5.4 CQ row: closing a CQ disarms it; completions its QP still produces
/// land in it without any notification, and its close completes when the QP is closed.
#[test]
fn cq_close_disarms_and_keeps_taking_completions_until_its_qps_close() {
    matrix(|env| {
        let Pair { one, two, a, b } = Pair::new(env, 64);
        let notes = b.rcq.notes.clone();
        let (buf, mr) = registered(env, &b.pd, &[0; 8]);
        let (src, src_mr) = registered(env, &a.pd, b"conform!");
        env.at(|| b.rcq.arm(NDK_CQ_NOTIFY_ANY));
        let cq = close_at(env, b.rcq);
        assert_eq!(cq.status, STATUS_PENDING, "its QP is open");
        env.at(|| {
            for i in 0..3 {
                let sge = buf.sge(0, 8, mr.local_token());
                assert_eq!(b.qp.receive(10 + i, &[sge]), STATUS_SUCCESS);
                let s = src.sge(0, 8, src_mr.local_token());
                assert_eq!(a.qp.send(20 + i, &[s], 0), STATUS_SUCCESS);
            }
        });
        env.settle();
        let done = reap(env, &a.icq, 3);
        assert!(done.iter().all(|r| r.Status == STATUS_SUCCESS));
        assert_eq!(buf.read(), b"conform!", "the receives still moved bytes");
        assert_eq!(notes.count(), 0, "a closed CQ notified");
        assert_eq!(cq.calls(), 0);
        let qp = close_at(env, b.qp);
        env.settle();
        assert!(qp.complete() && cq.complete());
        assert_eq!(notes.count(), 0);
        let rest = env.at(|| [close(mr, || {}), close(b.icq, || {}), close(b.pd, || {})]);
        let mine = close_at(env, src_mr);
        env.settle();
        assert!(rest.iter().all(Ticket::complete) && mine.complete());
        a.close(env);
        env.close_adapter(one);
        env.close_adapter(two);
    });
}

/// §5.3 "What starting a close must do": closing a QP flushes its outstanding requests, which
/// complete `STATUS_CANCELLED` into its CQs in posting order; the peer notices.
#[test]
fn qp_close_flushes_outstanding_requests() {
    matrix(|env| {
        let Pair { one, two, a, b } = Pair::new(env, 64);
        env.at(|| {
            for i in 0..3 {
                assert_eq!(a.qp.receive(10 + i, &[]), STATUS_SUCCESS);
            }
            for i in 0..2 {
                assert_eq!(a.qp.send(20 + i, &[], 0), STATUS_SUCCESS); // b has no receive
            }
        });
        let qp = close_at(env, a.qp);
        assert!(qp.accepted());
        let recv = reap(env, &a.rcq, 3);
        let sent = reap(env, &a.icq, 2);
        let contexts = |r: &[softndk::abi::NDK_RESULT_EX]| {
            r.iter()
                .map(|r| (r.RequestContext.addr(), r.Status))
                .collect::<Vec<_>>()
        };
        let c = STATUS_CANCELLED;
        assert_eq!(contexts(&recv), [(10, c), (11, c), (12, c)]);
        assert_eq!(contexts(&sent), [(20, c), (21, c)]);
        assert!(
            sent.iter()
                .all(|r| r.Type == NDK_OPERATION_TYPE::SEND && r.QPContext.addr() == 0xA)
        );
        env.at(|| assert_eq!(b.qp.send(30, &[], 0), STATUS_SUCCESS));
        let r = reap(env, &b.icq, 1);
        assert_eq!(r[0].Status, STATUS_CONNECTION_ABORTED, "the peer notices");
        env.v.check_drained();
        let rest = env.at(|| [close(a.rcq, || {}), close(a.icq, || {}), close(a.pd, || {})]);
        env.settle();
        assert!(qp.complete() && rest.iter().all(Ticket::complete));
        b.close(env);
        env.close_adapter(one);
        env.close_adapter(two);
    });
}

/// Which antecedent link a scenario exercises.
#[derive(Clone, Copy, Debug)]
enum Link {
    PdOfMr,
    PdOfQp,
    ReceiveCqOfQp,
    InitiatorCqOfQp,
}

/// §5.4 (and C4): the close of an antecedent (PD of an MR or QP, receive or initiator CQ of a
/// QP) pends, without failing, until its successor is closed.
#[test]
fn antecedent_close_pends_until_successor_closed() {
    matrix(|env| {
        let adapter = env.open();
        for link in [
            Link::PdOfMr,
            Link::PdOfQp,
            Link::ReceiveCqOfQp,
            Link::InitiatorCqOfQp,
        ] {
            let Side { pd, rcq, icq, qp } = Side::new(env, &adapter, 1, 16);
            let (buf, mr) = registered(env, &pd, &[0; 8]);
            let mut others: Vec<Closer> = Vec::new();
            // Close the successor's other antecedents' competitors first where needed, so
            // only `link` holds the antecedent.
            let (antecedent, successor): (Ticket, Closer) = match link {
                Link::PdOfMr => {
                    let rest = env.at(|| [close(qp, || {}), close(rcq, || {}), close(icq, || {})]);
                    assert!(rest.iter().all(Ticket::complete));
                    (close_at(env, pd), Box::new(move || close(mr, || {})))
                }
                Link::PdOfQp => {
                    assert!(close_at(env, mr).complete());
                    others.push(Box::new(move || close(rcq, || {})));
                    others.push(Box::new(move || close(icq, || {})));
                    (close_at(env, pd), Box::new(move || close(qp, || {})))
                }
                Link::ReceiveCqOfQp => {
                    others.push(Box::new(move || close(mr, || {})));
                    others.push(Box::new(move || close(icq, || {})));
                    others.push(Box::new(move || close(pd, || {})));
                    (close_at(env, rcq), Box::new(move || close(qp, || {})))
                }
                Link::InitiatorCqOfQp => {
                    others.push(Box::new(move || close(mr, || {})));
                    others.push(Box::new(move || close(rcq, || {})));
                    others.push(Box::new(move || close(pd, || {})));
                    (close_at(env, icq), Box::new(move || close(qp, || {})))
                }
            };
            assert_eq!(antecedent.status, STATUS_PENDING, "{link:?}");
            env.settle();
            assert_eq!(
                antecedent.calls(),
                0,
                "{link:?}: completed with a successor open"
            );
            let s = env.at(successor);
            env.settle();
            assert!(s.complete(), "{link:?}: successor close");
            assert!(
                antecedent.complete(),
                "{link:?}: antecedent never completed"
            );
            assert_eq!(antecedent.calls(), 1);
            let rest: Vec<Ticket> = env.at(|| others.into_iter().map(|f| f()).collect());
            env.settle();
            assert!(rest.iter().all(Ticket::complete), "{link:?}");
            drop(buf);
        }
        env.close_adapter(adapter);
    });
}

/// §5.4 "no `STATUS_DEVICE_BUSY`": every order of closing a side's objects (seeded shuffles) is
/// accepted, and every close completes exactly once by the end.
#[test]
fn closes_in_any_order_are_accepted_and_all_complete() {
    matrix(|env| {
        let adapter = env.open();
        let mut rng = conformance_common::seed() ^ 0x0D0E;
        for round in 0..6 {
            let Side { pd, rcq, icq, qp } = Side::new(env, &adapter, round, 16);
            let (b1, m1) = registered(env, &pd, &[0; 8]);
            let (b2, m2) = registered(env, &pd, &[0; 8]);
            env.at(|| {
                assert_eq!(qp.receive(1, &[]), STATUS_SUCCESS);
            });
            let mut closers: Vec<(&str, Closer)> = vec![
                ("pd", Box::new(move || close(pd, || {}))),
                ("rcq", Box::new(move || close(rcq, || {}))),
                ("icq", Box::new(move || close(icq, || {}))),
                ("qp", Box::new(move || close(qp, || {}))),
                ("mr1", Box::new(move || close(m1, || {}))),
                ("mr2", Box::new(move || close(m2, || {}))),
            ];
            // Fisher-Yates with a SplitMix64 step.
            for i in (1..closers.len()).rev() {
                rng = rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let j = usize::try_from((rng ^ (rng >> 29)) % (i as u64 + 1)).unwrap_or(0);
                closers.swap(i, j);
            }
            let order: Vec<&str> = closers.iter().map(|(n, _)| *n).collect();
            let tickets: Vec<Ticket> = closers.into_iter().map(|(_, f)| env.at(f)).collect();
            env.settle();
            for (name, t) in order.iter().zip(&tickets) {
                assert!(t.accepted(), "{order:?}: {name} answered {:?}", t.status);
                assert!(t.complete(), "{order:?}: {name} never completed");
                assert!(t.calls() <= 1);
            }
            drop((b1, b2));
        }
        env.close_adapter(adapter);
    });
}
