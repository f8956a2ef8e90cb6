//! CM objects and the lifetime rules: endpoint reference counts (§5.7), listener close while
//! its connectors live, shared endpoints, close during every waiting phase, timeouts.

mod cm_common;

use core::time::Duration;

use cm_common::*;
use softndk::abi::*;
use softndk::cm::{Connector, Listener, Phase, ReadLimits};
use softndk::lifetime::Closed;

#[test]
fn a_closed_listener_keeps_its_port_while_accepted_connectors_live() {
    let w = World::new();
    let p = w.establish(v4(B4, 445), v4(A4, 0));
    let port = v4(B4, 445);
    assert_eq!(
        w.fabric.endpoint_refs(&port),
        Some(2),
        "listener + accepted connector"
    );
    // A second request that is handed up but never answered also pins the listener.
    let c2 = w.connector(&w.a);
    let q2 = w.qp();
    w.connect(&c2, &q2, v4(A4, 0), port, ReadLimits::new(1, 1), b"")
        .unwrap();
    w.run();
    let pending = w.incoming(&p.listener).pop().unwrap();
    assert_eq!(w.fabric.endpoint_refs(&port), Some(3));

    assert_eq!(close_listener(p.listener), Closed::Pending);
    let before = w.close_completions();
    // New connections stop at once; the port stays reserved.
    let c3 = w.connector(&w.a);
    assert_eq!(
        w.connect(&c3, &q2, v4(A4, 0), port, ReadLimits::new(1, 1), b""),
        Err(STATUS_CONNECTION_REFUSED)
    );
    let l2 = w.new_listener(&w.b);
    assert_eq!(
        Listener::listen(l2.arc(), port),
        Err(STATUS_SHARING_VIOLATION)
    );
    assert_eq!(
        w.fabric.endpoint_refs(&port),
        Some(2),
        "the listener's own reference went"
    );

    assert_eq!(close_connector(pending), Closed::Finished);
    w.run();
    assert_eq!(
        w.log.statuses("connect"),
        [STATUS_SUCCESS, STATUS_CONNECTION_REFUSED]
    );
    assert_eq!(w.fabric.endpoint_refs(&port), Some(1));
    assert_eq!(
        Listener::listen(l2.arc(), port),
        Err(STATUS_SHARING_VIOLATION)
    );
    assert_eq!(
        w.close_completions(),
        before,
        "listener close still pending"
    );

    assert_eq!(close_connector(p.passive), Closed::Finished);
    w.run();
    assert_eq!(
        w.close_completions(),
        before + 1,
        "listener close completed once"
    );
    assert_eq!(
        w.fabric.endpoint_refs(&port),
        None,
        "port freed with the last user"
    );
    Listener::listen(l2.arc(), port).unwrap();
    drop(p.active);
}

#[test]
fn a_listener_close_rejects_requests_not_yet_handed_up() {
    let w = World::new();
    let listener = w.listener(&w.b, v4(B4, 1));
    let c = w.connector(&w.a);
    let qp = w.qp();
    w.connect(&c, &qp, v4(A4, 0), v4(B4, 1), ReadLimits::new(1, 1), b"")
        .unwrap();
    // Closed before its deferred work handed the request up.
    assert_eq!(close_listener(listener), Closed::Finished);
    w.run();
    assert_eq!(w.log.statuses("connect"), [STATUS_CONNECTION_REFUSED]);
    assert_eq!(
        w.fabric.endpoint_count(),
        1,
        "only the active connector's port is left"
    );
}

#[test]
fn a_shared_endpoint_stays_reserved_until_its_last_connector_closes() {
    let w = World::new();
    let listener = w.listener(&w.b, v4(B4, 445));
    let ep = w.endpoint(&w.a, v4(A4, 0));
    let local = ep.local_address();
    let (c1, c2) = (w.connector(&w.a), w.connector(&w.a));
    let qp = w.qp();
    let ask = ReadLimits::new(1, 1);
    Connector::connect_with_shared_endpoint(
        c1.arc(),
        qp.unit(),
        ep.unit(),
        v4(B4, 445),
        ask,
        b"",
        w.done("c1"),
    )
    .unwrap();
    let _l2 = w.listener(&w.b, v4(B4, 446));
    Connector::connect_with_shared_endpoint(
        c2.arc(),
        qp.unit(),
        ep.unit(),
        v4(B4, 446),
        ask,
        b"",
        w.done("c2"),
    )
    .unwrap();
    assert_eq!(c1.local_address(), Some(local));
    assert_eq!(w.fabric.endpoint_refs(&local), Some(3));
    w.run();
    assert_eq!(w.incoming(&listener)[0].peer_address(), Some(local));

    assert_eq!(close_endpoint(ep), Closed::Pending);
    assert_eq!(
        w.fabric.endpoint_refs(&local),
        Some(2),
        "the object's reference went"
    );
    let before = w.close_completions();
    assert_eq!(
        close_connector(c1),
        Closed::Pending,
        "its connect completion is pending"
    );
    w.run();
    assert_eq!(w.log.statuses("c1"), [STATUS_CANCELLED]);
    assert_eq!(
        w.close_completions(),
        before + 1,
        "only the connector's close"
    );
    assert_eq!(w.fabric.endpoint_refs(&local), Some(1));
    assert!(softndk::cm::SharedEndpoint::new(&w.fabric, w.a.unit(), w.shell(), local).is_err());
    assert_eq!(close_connector(c2), Closed::Pending);
    w.run();
    assert_eq!(
        w.close_completions(),
        before + 3,
        "connector, then the endpoint"
    );
    assert_eq!(w.fabric.endpoint_refs(&local), None);
}

#[test]
fn closing_while_connecting_cancels_and_the_peer_sees_an_abort() {
    let w = World::new();
    let listener = w.listener(&w.b, v4(B4, 1));
    let c = w.connector(&w.a);
    let qp = w.qp();
    w.connect(&c, &qp, v4(A4, 0), v4(B4, 1), ReadLimits::new(1, 1), b"")
        .unwrap();
    w.run();
    let passive = w.incoming(&listener).pop().unwrap();
    assert_eq!(close_connector(c), Closed::Pending);
    assert!(
        w.log.of("connect").is_empty(),
        "not completed inside the close"
    );
    w.run();
    assert_eq!(w.log.statuses("connect"), [STATUS_CANCELLED]);
    assert_eq!(w.close_completions(), 1);
    assert_eq!(qp.flushes(), 1, "the QP stopped");
    let qb = w.qp();
    assert_eq!(
        Connector::accept(
            passive.arc(),
            qb.unit(),
            ReadLimits::new(1, 1),
            b"",
            None,
            w.done("accept")
        ),
        Err(STATUS_CONNECTION_ABORTED)
    );
    assert_eq!(close_connector(passive), Closed::Finished);
    // The QP's close no longer waits for the connector (its link was released).
    assert_eq!(qp.close(|_| {}), Ok(Closed::Finished));
}

#[test]
fn closing_while_accepting_cancels_the_accept_and_aborts_the_connect() {
    let w = World::new();
    let listener = w.listener(&w.b, v4(B4, 1));
    let c = w.connector(&w.a);
    let (qa, qb) = (w.qp(), w.qp());
    w.connect(&c, &qa, v4(A4, 0), v4(B4, 1), ReadLimits::new(1, 1), b"")
        .unwrap();
    w.run();
    let passive = w.incoming(&listener).pop().unwrap();
    Connector::accept(
        passive.arc(),
        qb.unit(),
        ReadLimits::new(1, 1),
        b"",
        None,
        w.done("accept"),
    )
    .unwrap();
    w.run();
    // The QP close pends while the connector that uses it is open.
    assert_eq!(qb.close(|_| {}), Ok(Closed::Pending));
    assert_eq!(close_connector(passive), Closed::Pending);
    w.run();
    assert_eq!(w.log.statuses("accept"), [STATUS_CANCELLED]);
    assert_eq!(w.close_completions(), 1);
    assert_eq!(
        Connector::complete_connect(c.arc(), None),
        Err(STATUS_CONNECTION_ABORTED)
    );
    assert_eq!(c.phase(), Some(Phase::Aborted));
}

#[test]
fn an_unanswered_connect_times_out() {
    let w = World::new();
    let listener = w.listener(&w.b, v4(B4, 1));
    let c = w.connector(&w.a);
    let qp = w.qp();
    w.connect(&c, &qp, v4(A4, 0), v4(B4, 1), ReadLimits::new(1, 1), b"")
        .unwrap();
    w.run();
    let passive = w.incoming(&listener).pop().unwrap();
    w.host.advance(Duration::from_millis(999));
    assert_eq!(w.fabric.expire(), 0);
    w.host.advance(Duration::from_millis(1));
    assert_eq!(w.fabric.expire(), 1);
    assert_eq!(w.fabric.expire(), 0, "a deadline fires once");
    w.run();
    assert_eq!(w.log.statuses("connect"), [STATUS_IO_TIMEOUT]);
    let qb = w.qp();
    assert_eq!(
        Connector::accept(
            passive.arc(),
            qb.unit(),
            ReadLimits::new(1, 1),
            b"",
            None,
            w.done("accept")
        ),
        Err(STATUS_CONNECTION_ABORTED)
    );
    // Closing after the timeout finishes at once: nothing is pending.
    assert_eq!(close_connector(c), Closed::Finished);
    assert_eq!(close_connector(passive), Closed::Finished);
}

#[test]
fn an_accept_without_complete_connect_times_out() {
    let w = World::new();
    let listener = w.listener(&w.b, v4(B4, 1));
    let c = w.connector(&w.a);
    let (qa, qb) = (w.qp(), w.qp());
    w.connect(&c, &qa, v4(A4, 0), v4(B4, 1), ReadLimits::new(1, 1), b"")
        .unwrap();
    w.run();
    let passive = w.incoming(&listener).pop().unwrap();
    Connector::accept(
        passive.arc(),
        qb.unit(),
        ReadLimits::new(1, 1),
        b"",
        None,
        w.done("accept"),
    )
    .unwrap();
    w.run();
    w.host.advance(Duration::from_secs(2));
    assert_eq!(w.fabric.expire(), 1);
    w.run();
    assert_eq!(w.log.statuses("accept"), [STATUS_IO_TIMEOUT]);
    assert_eq!(
        Connector::complete_connect(c.arc(), None),
        Err(STATUS_CONNECTION_ABORTED)
    );
}

#[test]
fn the_adapter_outlives_every_cm_object() {
    let w = World::new();
    let p = w.establish(v4(B4, 1), v4(A4, 0));
    let World { a, b, .. } = &w;
    assert!(a.node().lifetime().units() > 1);
    let b_units = b.node().lifetime().units();
    assert!(
        b_units >= 3,
        "listener and passive connector link adapter b"
    );
    assert_eq!(close_connector(p.passive), Closed::Finished);
    assert_eq!(b.node().lifetime().units(), b_units - 1);
    assert_eq!(close_listener(p.listener), Closed::Finished);
    assert_eq!(b.node().lifetime().units(), b_units - 2);
    drop(p.active);
}

use softndk::lifetime::Tracked;
