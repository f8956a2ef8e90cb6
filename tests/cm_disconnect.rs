//! Graceful disconnect in both orders, crossing disconnects, peer disconnect events (once,
//! `_EX` reason), aborts by close, close while disconnecting, disconnect timeout.

mod cm_common;

use core::time::Duration;

use cm_common::*;
use softndk::abi::*;
use softndk::cm::{Connector, Phase, REASON_ABORTED, REASON_GRACEFUL};
use softndk::lifetime::Closed;

fn disconnect(w: &World, c: &softndk::lifetime::Base<Connector<T>>, tag: &'static str) {
    Connector::disconnect(c.arc(), w.done(tag)).unwrap();
}

#[test]
fn graceful_disconnect_active_first() {
    let w = World::new();
    let p = w.establish(v4(B4, 1), v4(A4, 0));
    disconnect(&w, &p.active, "disc-a");
    w.run();
    assert!(
        w.log.of("disc-a").is_empty(),
        "waits for the peer's disconnect"
    );
    assert_eq!(
        w.log.of("event-b"),
        [REASON_GRACEFUL],
        "the peer hears about it once"
    );
    assert_eq!(
        (p.qa.flushes(), p.qb.flushes()),
        (0, 0),
        "no flush before completion"
    );
    assert_eq!(
        Connector::disconnect(p.active.arc(), w.done("again")),
        Err(STATUS_CONNECTION_INVALID)
    );
    disconnect(&w, &p.passive, "disc-b");
    assert_eq!(
        (p.qa.flushes(), p.qb.flushes()),
        (1, 1),
        "both QPs stopped first"
    );
    w.run();
    assert_eq!(w.log.statuses("disc-a"), [STATUS_SUCCESS]);
    assert_eq!(w.log.statuses("disc-b"), [STATUS_SUCCESS]);
    assert!(
        w.log.of("event-a").is_empty(),
        "no event after a local disconnect"
    );
    assert_eq!(p.active.phase(), Some(Phase::Disconnected));
    assert_eq!(close_connector(p.active), Closed::Finished);
    assert_eq!(close_connector(p.passive), Closed::Finished);
}

#[test]
fn graceful_disconnect_passive_first() {
    let w = World::new();
    let p = w.establish(v6(B6, 1), v6(A6, 0));
    disconnect(&w, &p.passive, "disc-b");
    w.run();
    assert_eq!(w.log.of("event-a"), [REASON_GRACEFUL]);
    disconnect(&w, &p.active, "disc-a");
    w.run();
    assert_eq!(w.log.statuses("disc-b"), [STATUS_SUCCESS]);
    assert_eq!(w.log.statuses("disc-a"), [STATUS_SUCCESS]);
    assert!(w.log.of("event-b").is_empty());
    assert_eq!(w.log.of("event-a").len(), 1, "exactly once");
}

#[test]
fn crossing_disconnects_complete_both_and_suppress_the_event() {
    let w = World::new();
    let p = w.establish(v4(B4, 1), v4(A4, 0));
    disconnect(&w, &p.active, "disc-a");
    disconnect(&w, &p.passive, "disc-b");
    w.run();
    assert_eq!(w.log.statuses("disc-a"), [STATUS_SUCCESS]);
    assert_eq!(w.log.statuses("disc-b"), [STATUS_SUCCESS]);
    assert!(
        w.log.of("event-b").is_empty(),
        "the queued event was suppressed by the local disconnect"
    );
}

#[test]
fn a_peer_close_is_an_abortive_disconnect_event() {
    let w = World::new();
    let p = w.establish(v4(B4, 1), v4(A4, 0));
    assert_eq!(close_connector(p.passive), Closed::Finished);
    assert_eq!(p.qb.flushes(), 1, "the closed side's QP stopped");
    w.run();
    assert_eq!(w.log.of("event-a"), [REASON_ABORTED]);
    assert_eq!(p.qa.flushes(), 0, "an event is no reason to flush");
    disconnect(&w, &p.active, "disc-a");
    assert_eq!(p.qa.flushes(), 1);
    w.run();
    assert_eq!(w.log.statuses("disc-a"), [STATUS_SUCCESS]);
    assert_eq!(w.log.of("event-a").len(), 1);
}

#[test]
fn a_peer_close_completes_a_disconnect_waiting_for_it() {
    let w = World::new();
    let p = w.establish(v4(B4, 1), v4(A4, 0));
    disconnect(&w, &p.active, "disc-a");
    w.run();
    assert_eq!(close_connector(p.passive), Closed::Finished);
    w.run();
    assert_eq!(w.log.statuses("disc-a"), [STATUS_SUCCESS]);
    assert!(w.log.of("event-a").is_empty());
}

#[test]
fn closing_while_disconnecting_cancels_the_disconnect() {
    let w = World::new();
    let p = w.establish(v4(B4, 1), v4(A4, 0));
    disconnect(&w, &p.active, "disc-a");
    assert_eq!(close_connector(p.active), Closed::Pending);
    w.run();
    assert_eq!(w.log.statuses("disc-a"), [STATUS_CANCELLED]);
    assert_eq!(w.close_completions(), 1);
    // The peer's own disconnect now finds nobody to wait for.
    disconnect(&w, &p.passive, "disc-b");
    w.run();
    assert_eq!(w.log.statuses("disc-b"), [STATUS_SUCCESS]);
}

#[test]
fn no_event_reaches_a_connector_whose_close_started() {
    let w = World::new();
    let p = w.establish(v4(B4, 1), v4(A4, 0));
    disconnect(&w, &p.passive, "disc-b");
    // The event for the active side is queued but not delivered yet.
    assert_eq!(close_connector(p.active), Closed::Pending);
    w.run();
    assert!(w.log.of("event-a").is_empty());
    assert_eq!(
        w.close_completions(),
        1,
        "close completed after the suppressed event"
    );
    assert_eq!(w.log.statuses("disc-b"), [STATUS_SUCCESS]);
}

#[test]
fn a_disconnect_the_peer_never_answers_times_out() {
    let w = World::new();
    let p = w.establish(v4(B4, 1), v4(A4, 0));
    disconnect(&w, &p.active, "disc-a");
    w.run();
    w.host.advance(Duration::from_secs(3));
    assert_eq!(w.fabric.expire(), 1);
    assert_eq!(p.qa.flushes(), 1);
    w.run();
    assert_eq!(w.log.statuses("disc-a"), [STATUS_IO_TIMEOUT]);
    // The peer, which got the event, can still disconnect and completes at once.
    disconnect(&w, &p.passive, "disc-b");
    w.run();
    assert_eq!(w.log.statuses("disc-b"), [STATUS_SUCCESS]);
}

#[test]
fn callbacks_run_with_no_provider_lock_and_only_from_deferred_work() {
    let w = World::new();
    let p = w.establish(v4(B4, 1), v4(A4, 0));
    disconnect(&w, &p.active, "disc-a");
    disconnect(&w, &p.passive, "disc-b");
    assert!(w.log.of("disc-a").is_empty() && w.log.of("disc-b").is_empty());
    assert!(w.host.pending() > 0);
    w.run();
    assert_eq!(
        w.log.tags().len(),
        4,
        "connect, accept, disc-a, disc-b; nothing else"
    );
}

#[test]
fn any_delivery_order_gives_the_same_outcome() {
    for seed in 0..32 {
        let w = World::seeded(seed);
        let p = w.establish(v4(B4, 1), v4(A4, 0));
        disconnect(&w, &p.active, "disc-a");
        let (c, q) = (w.connector(&w.a), w.qp());
        w.connect(
            &c,
            &q,
            v4(A4, 0),
            v4(B4, 1),
            softndk::cm::ReadLimits::new(1, 1),
            b"",
        )
        .unwrap();
        disconnect(&w, &p.passive, "disc-b");
        assert_eq!(close_connector(c), Closed::Pending);
        w.run();
        assert_eq!(w.log.statuses("disc-a"), [STATUS_SUCCESS], "seed {seed}");
        assert_eq!(w.log.statuses("disc-b"), [STATUS_SUCCESS], "seed {seed}");
        assert_eq!(
            w.log.statuses("connect"),
            [STATUS_SUCCESS, STATUS_CANCELLED],
            "seed {seed}"
        );
        assert!(w.log.of("event-a").is_empty(), "seed {seed}");
        assert_eq!(w.close_completions(), 1, "seed {seed}");
        // The unanswered request was handed up (or rejected) and the listener still closes.
        for queued in w.incoming(&p.listener) {
            assert_eq!(close_connector(queued), Closed::Finished);
        }
        assert_eq!(close_connector(p.passive), Closed::Finished);
        assert_eq!(close_listener(p.listener), Closed::Finished, "seed {seed}");
    }
}
