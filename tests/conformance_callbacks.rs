//! Conformance, `spec/ndkpi.md` §5.5 (re-entrancy: callbacks issued from inside provider calls)
//! and §5.6 (adapter close and safe consumer unload), on the whole matrix under the verifier.

mod conformance_common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use conformance_common::{Pair, Side, Ticket, close, matrix, raw_qp, reap};
use softndk::abi::{
    NDK_CQ_NOTIFY_ANY, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, STATUS_PENDING, STATUS_SUCCESS,
};
use softndk::consumer::{Buffer, Qp, unexpected_completions};
use softndk::platform::host::held_lock_count;

/// §5.5: a close issued from inside a close completion that the provider runs inline, on the
/// stack of another close call (the QP's close finishes its CQ's and PD's pended closes, and
/// the PD's completion closes the initiator CQ and the adapter's other PD from there).
#[test]
fn close_from_inside_inline_completion() {
    matrix(|env| {
        let adapter = env.open();
        let Side { pd, rcq, icq, qp } = Side::new(env, &adapter, 1, 16);
        let spare = env.at(|| adapter.create_pd()).expect("PD");
        let inner: Arc<Mutex<Vec<Ticket>>> = Arc::default();
        let icq_handle = icq.handle();
        let icq_notes = Arc::clone(&icq.notes);
        drop(icq); // closed from inside the PD's completion
        let spare = Mutex::new(Some(spare));
        let sink = Arc::clone(&inner);
        let pd_ticket = env.at(|| {
            close(pd, move || {
                let mut tickets = sink.lock().unwrap_or_else(PoisonError::into_inner);
                tickets.push(icq_handle.close(icq_notes, || {}));
                let spare = spare.lock().unwrap_or_else(PoisonError::into_inner).take();
                if let Some(spare) = spare {
                    tickets.push(close(spare, || {}));
                }
            })
        });
        let rcq_ticket = env.at(|| close(rcq, || {}));
        assert_eq!(pd_ticket.status, STATUS_PENDING);
        assert_eq!(rcq_ticket.status, STATUS_PENDING);
        let qp_ticket = env.at(|| close(qp, || {}));
        env.settle();
        assert!(qp_ticket.complete() && pd_ticket.complete() && rcq_ticket.complete());
        let inner = inner.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(inner.len(), 2, "the PD's completion ran its closes");
        for t in inner.iter() {
            assert!(t.accepted() && t.complete(), "inner close {:?}", t.status);
        }
        drop(inner);
        env.close_adapter(adapter);
    });
}

/// §5.5: callbacks run with no provider lock held, so the consumer may call back into the
/// provider from them: poll, post, re-arm from inside a CQ notification, on the QP the
/// completions came from.
#[test]
fn callbacks_may_reenter_the_provider() {
    const N: usize = 6;
    matrix(|env| {
        let pair = Pair::new(env, 64);
        let (a, b) = (&pair.a, &pair.b);
        let handle = b.rcq.handle();
        let b_qp = raw_qp(&b.qp);
        let reaped = Arc::new(AtomicUsize::new(0));
        let locks_seen = Arc::new(AtomicUsize::new(0));
        let (count, locks) = (Arc::clone(&reaped), Arc::clone(&locks_seen));
        b.rcq.on_notify(move |_| {
            locks.fetch_add(held_lock_count(), Ordering::SeqCst);
            let got = handle.poll(16);
            count.fetch_add(got.len(), Ordering::SeqCst);
            // SAFETY: b's QP is open until the pair closes, after the platform settled; only
            // this callback posts receives to it meanwhile.
            let qp = unsafe { Qp::from_raw(b_qp.get()) };
            for r in &got {
                assert_eq!(
                    qp.receive(r.RequestContext.addr() + 1000, &[]),
                    STATUS_SUCCESS
                );
            }
            handle.arm(NDK_CQ_NOTIFY_ANY);
        });
        env.at(|| {
            assert_eq!(b.qp.receive(0, &[]), STATUS_SUCCESS);
            b.rcq.arm(NDK_CQ_NOTIFY_ANY);
        });
        for i in 0..N {
            assert_eq!(env.at(|| a.qp.send(i, &[], 0)), STATUS_SUCCESS);
            // One message at a time: the next send needs the receive the callback re-posts.
            env.settle();
        }
        assert_eq!(
            reaped.load(Ordering::SeqCst),
            N,
            "the callback reaped every receive"
        );
        assert_eq!(
            locks_seen.load(Ordering::SeqCst),
            0,
            "a lock was held at a callback"
        );
        assert_eq!(b.rcq.notes.overlaps(), 0);
        let sent = reap(env, &a.icq, N);
        assert!(sent.iter().all(|r| r.Status == STATUS_SUCCESS));
        b.rcq.on_notify(|_| {});
        env.at(|| b.qp.flush());
        let _ = reap(env, &b.rcq, 1); // the last re-posted receive, cancelled
        env.v.check_drained();
        pair.close(env);
    });
}

/// §5.5 and §3.4 rule 3: re-arming from inside the notification never runs the callback again
/// synchronously, and two notifications of one CQ never overlap, under a stream of
/// completions.
#[test]
fn rearm_inside_notification_does_not_nest() {
    matrix(|env| {
        let pair = Pair::new(env, 256);
        let (a, b) = (&pair.a, &pair.b);
        let handle = b.rcq.handle();
        let weak = Arc::downgrade(&b.rcq.notes);
        let nested = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&nested);
        b.rcq.on_notify(move |_| {
            let before = weak.upgrade().map_or(0, |n| n.count());
            handle.arm(NDK_CQ_NOTIFY_ANY);
            let after = weak.upgrade().map_or(0, |n| n.count());
            if after != before {
                seen.fetch_add(1, Ordering::SeqCst);
            }
        });
        env.at(|| b.rcq.arm(NDK_CQ_NOTIFY_ANY));
        for round in 0..8 {
            env.at(|| {
                for i in 0..4 {
                    assert_eq!(b.qp.receive(round * 4 + i, &[]), STATUS_SUCCESS);
                    assert_eq!(a.qp.send(round * 4 + i, &[], 0), STATUS_SUCCESS);
                }
            });
            if round % 2 == 0 {
                env.settle();
            }
        }
        env.settle();
        let notes = &b.rcq.notes;
        assert!(notes.count() >= 1, "armed with completions: notified");
        // One arm per notification (the verifier checks each against its arm).
        assert!(notes.count() <= 32, "more notifications than completions");
        assert_eq!(notes.overlaps(), 0, "overlapping notifications");
        assert_eq!(
            nested.load(Ordering::SeqCst),
            0,
            "NdkArmCq re-entered the callback"
        );
        assert_eq!(notes.above_dispatch(), 0);
        b.rcq.on_notify(|_| {});
        let _ = reap(env, &b.rcq, 32);
        let _ = reap(env, &a.icq, 32);
        env.v.check_drained();
        pair.close(env);
    });
}

/// §5.5 (a callback only pairs with a `STATUS_PENDING` return): SoftNDK completes
/// registration, deregistration and resize inline and never calls their completions.
#[test]
fn inline_requests_never_call_their_completion() {
    matrix(|env| {
        let before = unexpected_completions();
        let adapter = env.open();
        let side = Side::new(env, &adapter, 1, 16);
        let buf = Buffer::zeroed(64);
        let mr = env.at(|| side.pd.create_mr(false)).expect("MR");
        env.at(|| {
            for _ in 0..3 {
                assert_eq!(
                    mr.register(&buf, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, &[]),
                    STATUS_SUCCESS
                );
                assert_eq!(mr.deregister(), STATUS_SUCCESS);
            }
            assert_eq!(side.rcq.resize(32), STATUS_SUCCESS);
            assert_eq!(side.icq.resize(8), STATUS_SUCCESS);
        });
        env.settle();
        assert_eq!(unexpected_completions(), before);
        assert!(env.at(|| close(mr, || {})).complete());
        side.close(env);
        env.close_adapter(adapter);
    });
}

/// §5.6: the adapter close blocks until every descendant is closed, however late the consumer
/// closes them (from deferred work, a worker or another thread).
#[test]
fn adapter_close_blocks_until_descendants_closed() {
    matrix(|env| {
        let adapter = env.open();
        let side = Side::new(env, &adapter, 1, 16);
        let buf = Buffer::zeroed(32);
        let mr = env.at(|| side.pd.create_mr(false)).expect("MR");
        assert_eq!(
            env.at(|| mr.register(&buf, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, &[])),
            STATUS_SUCCESS
        );
        let started = Arc::new(AtomicBool::new(false));
        let tickets: Arc<Mutex<Option<Vec<Ticket>>>> = Arc::default();
        let (flag, sink) = (Arc::clone(&started), Arc::clone(&tickets));
        let Side { pd, rcq, icq, qp } = side;
        env.later(move || {
            let mut t = vec![
                close(qp, || {}),
                close(rcq, || {}),
                close(icq, || {}),
                close(mr, || {}),
            ];
            flag.store(true, Ordering::SeqCst);
            t.push(close(pd, || {}));
            *sink.lock().unwrap_or_else(PoisonError::into_inner) = Some(t);
        });
        env.close_adapter(adapter);
        assert!(
            started.load(Ordering::SeqCst),
            "adapter close returned before the last child's close began"
        );
        // The last close call may still be unwinding on its own thread: wait for the tickets
        // (a bounded wait; the helper finishes right after its last close returns).
        let mut closed = None;
        for _ in 0..100_000 {
            closed = tickets
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if closed.is_some() {
                break;
            }
            std::thread::yield_now();
        }
        let closed = closed.expect("the helper's closes returned");
        assert!(closed.iter().all(|t| t.accepted() && t.complete()));
        drop(buf);
    });
}

/// §5.6: the adapter close does not return before a child's close completion that is still
/// running has returned (the consumer may still be executing its code in there).
#[test]
fn adapter_close_waits_for_a_running_close_completion() {
    matrix(|env| {
        let adapter = env.open();
        let pd = env.at(|| adapter.create_pd()).expect("PD");
        let mr = env.at(|| pd.create_mr(false)).expect("MR");
        let returned = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&returned);
        let t = env.at(|| {
            close(pd, move || {
                // Widen the window in which an early adapter close would return.
                for _ in 0..50 {
                    std::thread::yield_now();
                }
                flag.store(true, Ordering::SeqCst);
            })
        });
        assert_eq!(t.status, STATUS_PENDING);
        env.later(move || {
            let m = close(mr, || {});
            assert!(m.accepted());
        });
        env.close_adapter(adapter);
        assert!(
            returned.load(Ordering::SeqCst),
            "returned while a close completion ran"
        );
        assert_eq!(t.calls(), 1);
        assert!(t.irql_ok());
    });
}

/// §5.6 with two adapters joined by a connection: each adapter's close waits only for its own
/// descendants, and closing one side first leaves the other working (its requests fail
/// cleanly).
#[test]
fn adapters_close_independently_of_their_peers() {
    matrix(|env| {
        let Pair { one, two, a, b } = Pair::new(env, 32);
        a.close(env);
        env.close_adapter(one);
        env.at(|| assert_eq!(b.qp.send(1, &[], 0), STATUS_SUCCESS));
        let r = reap(env, &b.icq, 1);
        assert_ne!(r[0].Status, STATUS_SUCCESS, "the peer is gone");
        b.close(env);
        env.close_adapter(two);
    });
}
