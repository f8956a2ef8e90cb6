//! Connection establishment through the CM objects on the loopback fabric: listen/connect/
//! accept/complete on IPv4, IPv6 and wildcards, private data, read-limit negotiation, refusals,
//! address conflicts, ephemeral ports, pause/resume, reject.

mod cm_common;

use cm_common::*;
use softndk::abi::*;
use softndk::cm::{Connector, Listener, Phase, ReadLimits, SharedEndpoint};
use softndk::fabric::Address;

fn full_flow(dst: Address, src: Address, listen_on: Address) {
    let w = World::new();
    let listener = w.listener(&w.b, listen_on);
    let active = w.connector(&w.a);
    let (qa, qb) = (w.qp(), w.qp());
    w.connect(&active, &qa, src, dst, ReadLimits::new(8, 4), b"caller")
        .unwrap();
    assert!(
        w.log.of("connect").is_empty(),
        "never completed inside the call"
    );
    assert_eq!(active.connection_data(None), Err(STATUS_CONNECTION_INVALID));
    w.run();
    let mut got = w.incoming(&listener);
    assert_eq!(got.len(), 1, "one connect event per request");
    let passive = got.pop().unwrap();
    // Passive side, before accepting: the peer's data and address.
    let mut buf = [0u8; 64];
    let data = passive.connection_data(Some(&mut buf)).unwrap();
    assert_eq!((data.status, data.length), (STATUS_SUCCESS, 6));
    assert_eq!(&buf[..6], b"caller");
    assert_eq!(
        data.limits,
        ReadLimits::new(4, 8),
        "best obtainable from this peer"
    );
    let active_local = active.local_address().unwrap();
    assert_eq!(passive.peer_address(), Some(active_local));
    assert_eq!(passive.local_address(), Some(dst));
    assert_eq!(active.peer_address(), Some(dst));
    assert_eq!(passive.phase(), Some(Phase::Requested));

    Connector::accept(
        passive.arc(),
        qb.unit(),
        ReadLimits::new(2, 16),
        b"callee!",
        Some(w.event("event-b")),
        w.done("accept"),
    )
    .unwrap();
    assert!(w.log.of("accept").is_empty());
    w.run();
    assert_eq!(w.log.statuses("connect"), [STATUS_SUCCESS]);
    assert!(
        w.log.of("accept").is_empty(),
        "accept waits for CompleteConnect"
    );
    let mut buf = [0u8; 64];
    let data = active.connection_data(Some(&mut buf)).unwrap();
    assert_eq!(&buf[..data.length as usize], b"callee!");
    // Active asked IRD 8 / ORD 4, passive IRD 2 / ORD 16: active IRD = min(8,16,16)=8,
    // ORD = min(4,16,2)=2; passive IRD = min(2,16,4)=2, ORD = min(16,16,8)=8.
    assert_eq!(data.limits, ReadLimits::new(8, 2));
    assert_eq!(active.phase(), Some(Phase::Replied));

    Connector::complete_connect(active.arc(), Some(w.event("event-a"))).unwrap();
    assert_eq!(
        qa.events(),
        [cm_common::QpEvent::Joined {
            own: ReadLimits::new(8, 2),
            peer: ReadLimits::new(2, 8)
        }]
    );
    w.run();
    assert_eq!(w.log.statuses("accept"), [STATUS_SUCCESS]);
    assert_eq!(w.log.statuses("connect"), [STATUS_SUCCESS], "exactly once");
    assert_eq!(active.phase(), Some(Phase::Connected));
    assert_eq!(passive.phase(), Some(Phase::Connected));
    assert_eq!(
        Connector::complete_connect(active.arc(), None),
        Err(STATUS_CONNECTION_INVALID)
    );
    assert_eq!(
        listener
            .shell()
            .events
            .load(core::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[test]
fn ipv4_listen_connect_accept_complete() {
    full_flow(v4(B4, 445), v4(A4, 0), v4(B4, 445));
}

#[test]
fn ipv6_listen_connect_accept_complete() {
    full_flow(v6(B6, 5445), v6(A6, 0), v6(B6, 5445));
}

#[test]
fn wildcard_listeners_take_requests_for_every_address_of_their_family() {
    full_flow(v4(B4, 445), v4([0; 4], 0), v4([0; 4], 445));
    full_flow(v6(B6, 445), v6([0; 16], 7), v6([0; 16], 445));
}

#[test]
fn loopback_to_the_own_adapter_works() {
    let w = World::new();
    let listener = w.listener(&w.a, v4(A4, 9));
    let c = w.connector(&w.a);
    let qp = w.qp();
    w.connect(&c, &qp, v4(A4, 0), v4(A4, 9), ReadLimits::new(1, 1), b"")
        .unwrap();
    w.run();
    assert_eq!(w.incoming(&listener).len(), 1);
}

#[test]
fn private_data_above_the_adapter_limits_is_refused() {
    let w = World::new();
    let listener = w.listener(&w.b, v4(B4, 1));
    let c = w.connector(&w.a);
    let qp = w.qp();
    assert_eq!(
        w.connect(
            &c,
            &qp,
            v4(A4, 0),
            v4(B4, 1),
            ReadLimits::new(1, 1),
            &[0; 57]
        ),
        Err(STATUS_INVALID_BUFFER_SIZE)
    );
    w.connect(
        &c,
        &qp,
        v4(A4, 0),
        v4(B4, 1),
        ReadLimits::new(1, 1),
        &[7; 56],
    )
    .unwrap();
    w.run();
    let passive = w.incoming(&listener).pop().unwrap();
    let mut small = [0u8; 10];
    let data = passive.connection_data(Some(&mut small)).unwrap();
    assert_eq!((data.status, data.length), (STATUS_BUFFER_TOO_SMALL, 56));
    assert_eq!(small, [7; 10]);
    let qb = w.qp();
    assert_eq!(
        Connector::accept(
            passive.arc(),
            qb.unit(),
            ReadLimits::new(1, 1),
            &[0; 149],
            None,
            w.done("accept")
        ),
        Err(STATUS_INVALID_BUFFER_SIZE)
    );
    assert_eq!(
        Connector::reject(passive.arc(), &[0; 149]),
        Err(STATUS_INVALID_BUFFER_SIZE)
    );
    Connector::accept(
        passive.arc(),
        qb.unit(),
        ReadLimits::new(1, 1),
        &[1; 148],
        None,
        w.done("accept"),
    )
    .unwrap();
    w.run();
    assert_eq!(w.log.statuses("connect"), [STATUS_SUCCESS]);
    assert_eq!(c.connection_data(None).unwrap().length, 148);
}

#[test]
fn read_limits_follow_the_negotiation_table() {
    // (active max, passive max, active asks, passive asks) -> (active eff, passive eff)
    let table = [
        ((16, 16), (16, 16), (8, 8), (8, 8), (8, 8), (8, 8)),
        ((4, 2), (16, 16), (8, 8), (8, 8), (4, 2), (2, 4)),
        ((16, 16), (1, 3), (8, 8), (8, 8), (3, 1), (1, 3)),
        ((16, 16), (16, 16), (0, 8), (8, 0), (0, 8), (8, 0)),
        ((32, 32), (32, 32), (32, 1), (5, 32), (32, 1), (1, 32)),
    ];
    for (am, pm, aa, pa, ae, pe) in table {
        let w = World::with(config(), limits(am.0, am.1), limits(pm.0, pm.1));
        let listener = w.listener(&w.b, v4(B4, 1));
        let c = w.connector(&w.a);
        let (qa, qb) = (w.qp(), w.qp());
        w.connect(
            &c,
            &qa,
            v4(A4, 0),
            v4(B4, 1),
            ReadLimits::new(aa.0, aa.1),
            b"",
        )
        .unwrap();
        w.run();
        let p = w.incoming(&listener).pop().unwrap();
        Connector::accept(
            p.arc(),
            qb.unit(),
            ReadLimits::new(pa.0, pa.1),
            b"",
            None,
            w.done("accept"),
        )
        .unwrap();
        w.run();
        let want = (ReadLimits::new(ae.0, ae.1), ReadLimits::new(pe.0, pe.1));
        assert_eq!(
            c.connection_data(None).unwrap().limits,
            want.0,
            "{am:?} {pm:?} {aa:?} {pa:?}"
        );
        Connector::complete_connect(c.arc(), None).unwrap();
        assert_eq!(
            qb.events(),
            [cm_common::QpEvent::Joined {
                own: want.1,
                peer: want.0
            }]
        );
    }
}

#[test]
fn nobody_listening_paused_or_closing_is_refused() {
    let w = World::new();
    let c = w.connector(&w.a);
    let qp = w.qp();
    let ask = ReadLimits::new(1, 1);
    assert_eq!(
        w.connect(&c, &qp, v4(A4, 0), v4(B4, 1), ask, b""),
        Err(STATUS_CONNECTION_REFUSED)
    );
    assert_eq!(
        w.connect(&c, &qp, v4(A4, 0), v4([10, 9, 9, 9], 1), ask, b""),
        Err(STATUS_HOST_UNREACHABLE)
    );
    assert_eq!(
        w.connect(&c, &qp, v4(A4, 0), v6(B6, 1), ask, b""),
        Err(STATUS_INVALID_PARAMETER)
    );
    assert_eq!(
        w.connect(&c, &qp, v4(B4, 0), v4(B4, 1), ask, b""),
        Err(STATUS_INVALID_ADDRESS),
        "source address of another adapter"
    );
    let listener = w.listener(&w.b, v4(B4, 1));
    listener.control_connect_events(true);
    assert_eq!(
        w.connect(&c, &qp, v4(A4, 0), v4(B4, 1), ask, b""),
        Err(STATUS_CONNECTION_REFUSED)
    );
    assert_eq!(
        w.fabric.endpoint_refs(&v4(A4, 50000)),
        None,
        "failed connect released its port"
    );
    listener.control_connect_events(false);
    assert_eq!(
        close_listener(listener),
        softndk::lifetime::Closed::Finished
    );
    assert_eq!(
        w.connect(&c, &qp, v4(A4, 0), v4(B4, 1), ask, b""),
        Err(STATUS_CONNECTION_REFUSED)
    );
    assert!(
        w.log.of("connect").is_empty(),
        "inline failures never call back"
    );
    // The connector is still usable after inline failures.
    let _l2 = w.listener(&w.b, v4(B4, 1));
    w.connect(&c, &qp, v4(A4, 0), v4(B4, 1), ask, b"").unwrap();
    assert_eq!(
        w.connect(&c, &qp, v4(A4, 0), v4(B4, 1), ask, b""),
        Err(STATUS_CONNECTION_ACTIVE)
    );
}

#[test]
fn addresses_in_use_are_sharing_violations() {
    let w = World::new();
    let _l = w.listener(&w.b, v4(B4, 445));
    let l2 = w.new_listener(&w.b);
    assert_eq!(
        Listener::listen(l2.arc(), v4(B4, 445)),
        Err(STATUS_SHARING_VIOLATION)
    );
    assert_eq!(
        Listener::listen(l2.arc(), v4([0; 4], 445)),
        Err(STATUS_SHARING_VIOLATION)
    );
    Listener::listen(l2.arc(), v6([0; 16], 445)).unwrap();
    assert_eq!(
        Listener::listen(l2.arc(), v6(B6, 446)),
        Err(STATUS_INVALID_DEVICE_STATE)
    );
    assert_eq!(
        SharedEndpoint::new(&w.fabric, w.b.unit(), w.shell(), v4(B4, 445)).err(),
        Some(STATUS_SHARING_VIOLATION)
    );
    let ep = w.endpoint(&w.a, v4(A4, 7000));
    let c = w.connector(&w.a);
    let qp = w.qp();
    assert_eq!(
        w.connect(
            &c,
            &qp,
            v4(A4, 7000),
            v4(B4, 445),
            ReadLimits::new(1, 1),
            b""
        ),
        Err(STATUS_SHARING_VIOLATION)
    );
    // Same 4-tuple twice through a shared endpoint.
    Connector::connect_with_shared_endpoint(
        c.arc(),
        qp.unit(),
        ep.unit(),
        v4(B4, 445),
        ReadLimits::new(1, 1),
        b"",
        w.done("c1"),
    )
    .unwrap();
    let c2 = w.connector(&w.a);
    assert_eq!(
        Connector::connect_with_shared_endpoint(
            c2.arc(),
            qp.unit(),
            ep.unit(),
            v4(B4, 445),
            ReadLimits::new(1, 1),
            b"",
            w.done("c2")
        ),
        Err(STATUS_ADDRESS_ALREADY_EXISTS)
    );
    assert_eq!(c.local_address(), Some(v4(A4, 7000)));
}

#[test]
fn port_zero_gets_an_ephemeral_port_until_they_run_out() {
    let w = World::new();
    let l = w.listener(&w.b, v4(B4, 0));
    let port = l.local_address().unwrap().port;
    assert!((50000..=50009).contains(&port));
    let ep = w.endpoint(&w.a, v6(A6, 0));
    assert!((50000..=50009).contains(&ep.local_address().port));
    let c = w.connector(&w.a);
    let qp = w.qp();
    w.connect(&c, &qp, v4(A4, 0), v4(B4, port), ReadLimits::new(1, 1), b"")
        .unwrap();
    let mine = c.local_address().unwrap();
    assert_eq!(mine.ip, v4(A4, 0).ip);
    assert!((50000..=50009).contains(&mine.port));
    // Nine ports are left on 10.0.0.1 (ephemeral ports are per address).
    let mut held = Vec::new();
    for _ in 0..9 {
        held.push(w.endpoint(&w.a, v4(A4, 0)));
    }
    assert_eq!(
        SharedEndpoint::new(&w.fabric, w.a.unit(), w.shell(), v4(A4, 0)).err(),
        Some(STATUS_TOO_MANY_ADDRESSES)
    );
    let c2 = w.connector(&w.a);
    assert_eq!(
        w.connect(
            &c2,
            &qp,
            v4(A4, 0),
            v4(B4, port),
            ReadLimits::new(1, 1),
            b""
        ),
        Err(STATUS_TOO_MANY_ADDRESSES)
    );
    let freed = held.pop().unwrap();
    let freed_port = freed.local_address().port;
    assert_eq!(close_endpoint(freed), softndk::lifetime::Closed::Finished);
    w.connect(
        &c2,
        &qp,
        v4(A4, 0),
        v4(B4, port),
        ReadLimits::new(1, 1),
        b"",
    )
    .unwrap();
    assert_eq!(c2.local_address().unwrap().port, freed_port);
}

#[test]
fn paused_listeners_hold_queued_requests_and_refuse_new_ones() {
    let w = World::new();
    let listener = w.listener(&w.b, v4(B4, 1));
    let (c1, c2) = (w.connector(&w.a), w.connector(&w.a));
    let qp = w.qp();
    w.connect(&c1, &qp, v4(A4, 0), v4(B4, 1), ReadLimits::new(1, 1), b"1")
        .unwrap();
    listener.control_connect_events(true);
    w.run();
    assert!(
        w.incoming(&listener).is_empty(),
        "no connect event while paused"
    );
    assert_eq!(
        w.connect(&c2, &qp, v4(A4, 0), v4(B4, 1), ReadLimits::new(1, 1), b"2"),
        Err(STATUS_CONNECTION_REFUSED)
    );
    listener.control_connect_events(false);
    w.run();
    let got = w.incoming(&listener);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].peer_address(), c1.local_address());
}

#[test]
fn a_full_backlog_refuses() {
    let w = World::new();
    let _listener = w.listener(&w.b, v4(B4, 1));
    let qp = w.qp();
    let cs: Vec<_> = (0..5).map(|_| w.connector(&w.a)).collect();
    for c in &cs[..4] {
        w.connect(c, &qp, v4(A4, 0), v4(B4, 1), ReadLimits::new(1, 1), b"")
            .unwrap();
    }
    assert_eq!(
        w.connect(
            &cs[4],
            &qp,
            v4(A4, 0),
            v4(B4, 1),
            ReadLimits::new(1, 1),
            b""
        ),
        Err(STATUS_CONNECTION_REFUSED)
    );
}

#[test]
fn rejects_reach_the_other_side() {
    let w = World::new();
    let listener = w.listener(&w.b, v4(B4, 1));
    let qp = w.qp();
    let ask = ReadLimits::new(1, 1);
    // Passive reject.
    let c1 = w.connector(&w.a);
    w.connect(&c1, &qp, v4(A4, 0), v4(B4, 1), ask, b"").unwrap();
    w.run();
    let p1 = w.incoming(&listener).pop().unwrap();
    Connector::reject(p1.arc(), b"no").unwrap();
    w.run();
    assert_eq!(w.log.statuses("connect"), [STATUS_CONNECTION_REFUSED]);
    assert_eq!(
        Connector::reject(p1.arc(), b""),
        Err(STATUS_CONNECTION_INVALID)
    );
    // Close without accept = reject.
    let c2 = w.connector(&w.a);
    Connector::connect(
        c2.arc(),
        qp.unit(),
        (v4(A4, 0), v4(B4, 1)),
        ask,
        b"",
        w.done("c2"),
    )
    .unwrap();
    w.run();
    let p2 = w.incoming(&listener).pop().unwrap();
    assert_eq!(close_connector(p2), softndk::lifetime::Closed::Finished);
    w.run();
    assert_eq!(w.log.statuses("c2"), [STATUS_CONNECTION_REFUSED]);
    // Active reject after its connect completed: the passive accept is aborted.
    let c3 = w.connector(&w.a);
    Connector::connect(
        c3.arc(),
        qp.unit(),
        (v4(A4, 0), v4(B4, 1)),
        ask,
        b"",
        w.done("c3"),
    )
    .unwrap();
    w.run();
    let p3 = w.incoming(&listener).pop().unwrap();
    let qb = w.qp();
    Connector::accept(p3.arc(), qb.unit(), ask, b"", None, w.done("accept3")).unwrap();
    w.run();
    assert_eq!(w.log.statuses("c3"), [STATUS_SUCCESS]);
    Connector::reject(c3.arc(), b"").unwrap();
    w.run();
    assert_eq!(w.log.statuses("accept3"), [STATUS_CONNECTION_ABORTED]);
    assert_eq!(
        Connector::complete_connect(c3.arc(), None),
        Err(STATUS_CONNECTION_INVALID)
    );
    assert_eq!(qb.events(), [], "never joined");
}

#[test]
fn a_refused_join_aborts_both_sides() {
    let w = World::new();
    let listener = w.listener(&w.b, v4(B4, 1));
    let c = w.connector(&w.a);
    let (qa, qb) = (w.qp(), w.qp());
    w.connect(&c, &qa, v4(A4, 0), v4(B4, 1), ReadLimits::new(1, 1), b"")
        .unwrap();
    w.run();
    let p = w.incoming(&listener).pop().unwrap();
    Connector::accept(
        p.arc(),
        qb.unit(),
        ReadLimits::new(1, 1),
        b"",
        None,
        w.done("accept"),
    )
    .unwrap();
    w.run();
    qa.refuse_join
        .store(true, core::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        Connector::complete_connect(c.arc(), None),
        Err(STATUS_INVALID_DEVICE_STATE)
    );
    w.run();
    assert_eq!(w.log.statuses("accept"), [STATUS_CONNECTION_ABORTED]);
    assert_eq!(c.phase(), Some(Phase::Aborted));
}
