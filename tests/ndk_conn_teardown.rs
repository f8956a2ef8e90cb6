//! How connections end, through the dispatch tables: reject, close without accept, graceful
//! disconnect (completion after the peer's disconnect and after the QP stopped; the QP flushed),
//! the peer's disconnect event (once), closes in every awkward moment (connector during connect,
//! listener with accepted connectors, QP while its connector is open), the NDK lifetime page's
//! close-inside-the-completion example, Microsoft's NDK sample teardown order, and timeouts
//! driven by the fabric's own deferred work.
#![allow(clippy::many_single_char_names, clippy::too_many_lines)]

mod ndk_conn_common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ndk_conn_common::*;
use softndk::abi::{
    NDK_MR_FLAG_ALLOW_LOCAL_WRITE, STATUS_CANCELLED, STATUS_CONNECTION_ABORTED,
    STATUS_CONNECTION_INVALID, STATUS_CONNECTION_REFUSED, STATUS_IO_TIMEOUT, STATUS_PENDING,
    STATUS_SHARING_VIOLATION, STATUS_SUCCESS,
};
use softndk::consumer::{Closed, ConnectEvents, Connector, Listener, Request};
use softndk::fabric::FabricConfig;
use softndk::platform::host::Host;

/// A connection attempt up to the connect event: (active connector, its connect request, the
/// handed-up connector).
fn request(
    net: &Net,
    a: &Side,
    events: &ConnectEvents,
    port: u16,
) -> (Connector, Arc<Request>, Connector) {
    let c = Connector::create(&net.a).unwrap();
    let r = Request::new();
    assert_eq!(
        c.connect(&a.qp, &v4(A4, 0), &v4(B4, port), 4, 4, b"req", &r),
        STATUS_PENDING
    );
    net.run();
    (c, r, events.take().expect("connect event"))
}

#[test]
fn reject_close_without_accept_and_active_reject() {
    let net = Net::deterministic();
    let (l, e) = listen(&net.b, &v4(B4, 1));
    let (a, b) = (Net::side(&net.a, 1), Net::side(&net.b, 2));

    // Passive reject with private data: the connect completes CONNECTION_REFUSED.
    let (c, r, p) = request(&net, &a, &e, 1);
    assert_eq!(p.reject(b"no"), STATUS_SUCCESS);
    assert_eq!(r.calls(), 0, "deferred");
    assert_eq!(completed(&net, &r), STATUS_CONNECTION_REFUSED);
    assert_eq!(
        p.reject(&[]),
        STATUS_CONNECTION_INVALID,
        "nothing left to reject"
    );
    let acc = Request::new();
    assert_ne!(
        p.accept(&b.qp, 1, 1, &[], None, &acc),
        STATUS_PENDING,
        "cannot accept after reject"
    );
    closed(&net, p.close());
    closed(&net, c.close());
    assert_eq!(acc.calls(), 0);

    // Close without accept = reject (Microsoft's sample relies on it).
    let (c, r, p) = request(&net, &a, &e, 1);
    closed(&net, p.close());
    assert_eq!(completed(&net, &r), STATUS_CONNECTION_REFUSED);
    closed(&net, c.close());

    // Active reject after its connect completed: the passive accept completes ABORTED.
    let (c, r, p) = request(&net, &a, &e, 1);
    let acc = Request::new();
    assert_eq!(p.accept(&b.qp, 4, 4, b"yes", None, &acc), STATUS_PENDING);
    assert_eq!(completed(&net, &r), STATUS_SUCCESS);
    let mut buf = [0; 8];
    assert_eq!(c.connection_data(Some(&mut buf)).length, 3);
    assert_eq!(c.reject(b"changed my mind"), STATUS_SUCCESS);
    assert_eq!(completed(&net, &acc), STATUS_CONNECTION_ABORTED);
    assert_eq!(
        c.complete_connect(None),
        STATUS_CONNECTION_INVALID,
        "rejected: no completing"
    );
    closed(&net, c.close());
    closed(&net, p.close());
    closed(&net, l.close());
    a.close();
    b.close();
    net.close();
}

#[test]
fn graceful_disconnect_completes_after_the_peers_and_flushes_the_qps() {
    let net = Net::deterministic();
    let (l, e) = listen(&net.b, &v4(B4, 1));
    let (a, b) = (Net::side(&net.a, 1), Net::side(&net.b, 2));
    let link = establish(&net, &net.a, &a, &e, &b, &v4(A4, 0), &v4(B4, 1));
    // Outstanding work on both sides.
    let (abuf, amr) = a.buffer(&[0; 16], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    let (bbuf, bmr) = b.buffer(&[0; 16], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    for ctx in [10, 11] {
        assert_eq!(
            a.qp.receive(ctx, &[abuf.sge(0, 16, amr.local_token())]),
            STATUS_SUCCESS
        );
    }
    assert_eq!(
        b.qp.receive(20, &[bbuf.sge(0, 16, bmr.local_token())]),
        STATUS_SUCCESS
    );

    let da = Request::new();
    assert_eq!(link.active.disconnect(&da), STATUS_PENDING);
    net.run();
    assert_eq!(da.calls(), 0, "waits for the peer's disconnect");
    assert_eq!(
        link.passive_events.reasons(),
        [Some(0)],
        "graceful, _EX reason 0, once"
    );
    assert!(
        a.rcq.results(8).is_empty(),
        "not flushed before the disconnect completes"
    );
    assert_eq!(
        link.active.disconnect(&Request::new()),
        STATUS_CONNECTION_INVALID,
        "once"
    );

    let db = Request::new();
    assert_eq!(link.passive.disconnect(&db), STATUS_PENDING);
    assert_eq!(db.calls(), 0, "never inside the call");
    assert_eq!(completed(&net, &da), STATUS_SUCCESS);
    assert_eq!(completed(&net, &db), STATUS_SUCCESS);
    // When a disconnect has completed the QP is stopped and flushed.
    let ra = a.rcq.results_ex(8);
    assert_eq!(
        ra.iter()
            .map(|r| (r.RequestContext.addr(), r.Status))
            .collect::<Vec<_>>(),
        [(10, STATUS_CANCELLED), (11, STATUS_CANCELLED)]
    );
    let rb = b.rcq.results_ex(8);
    assert_eq!(
        rb.iter().map(|r| r.Status).collect::<Vec<_>>(),
        [STATUS_CANCELLED]
    );
    // No half-closed state: the QP cannot be used any more.
    assert_eq!(
        a.qp.receive(12, &[abuf.sge(0, 16, amr.local_token())]),
        STATUS_CONNECTION_INVALID
    );
    assert!(
        link.active_events.reasons().is_empty(),
        "no event for the local disconnect"
    );
    assert_eq!(
        link.passive_events.count(),
        1,
        "at most one event per connection"
    );

    closed(&net, amr.close());
    closed(&net, bmr.close());
    closed(&net, link.active.close());
    closed(&net, link.passive.close());
    closed(&net, l.close());
    a.close();
    b.close();
    net.close();
}

#[test]
fn peer_close_is_an_abortive_event_once_and_a_later_disconnect_completes() {
    let net = Net::deterministic();
    let (l, e) = listen(&net.b, &v4(B4, 1));
    let (a, b) = (Net::side(&net.a, 1), Net::side(&net.b, 2));
    let link = establish(&net, &net.a, &a, &e, &b, &v4(A4, 0), &v4(B4, 1));
    closed(&net, link.passive.close());
    assert_eq!(link.active_events.reasons(), [Some(1)], "aborted, once");
    let d = Request::new();
    assert_eq!(link.active.disconnect(&d), STATUS_PENDING);
    assert_eq!(completed(&net, &d), STATUS_SUCCESS);
    assert_eq!(link.active_events.count(), 1, "no second event");
    closed(&net, link.active.close());
    closed(&net, l.close());
    a.close();
    b.close();
    net.close();
}

#[test]
fn closing_a_connector_during_connect_cancels_its_request_first() {
    let net = Net::deterministic();
    let (l, e) = listen(&net.b, &v4(B4, 1));
    let (a, b) = (Net::side(&net.a, 1), Net::side(&net.b, 2));
    let (c, r, p) = request(&net, &a, &e, 1);
    let acc = Request::new();
    assert_eq!(p.accept(&b.qp, 4, 4, &[], None, &acc), STATUS_PENDING);
    // The active side closes while its connect is (from its view) still pending delivery.
    let close = c.close();
    assert!(
        matches!(close, Closed::Pending(_)),
        "a request is pending: the close pends"
    );
    assert!(!close.is_complete());
    net.run();
    // The accept had already answered the connect (its SUCCESS was waiting for delivery): it
    // is delivered, exactly once, before the close completes; the accepting peer is aborted.
    assert_eq!(
        r.statuses(),
        [STATUS_SUCCESS],
        "the connect completed exactly once"
    );
    assert!(close.is_complete(), "after the completion returned");
    assert_eq!(completed(&net, &acc), STATUS_CONNECTION_ABORTED);
    closed(&net, p.close());
    closed(&net, l.close());
    a.close();
    b.close();
    net.close();
}

#[test]
fn listener_close_pends_while_its_connectors_live_and_keeps_the_port() {
    let net = Net::deterministic();
    let (l, e) = listen(&net.b, &v4(B4, 445));
    let (a, b) = (Net::side(&net.a, 1), Net::side(&net.b, 2));
    let link = establish(&net, &net.a, &a, &e, &b, &v4(A4, 0), &v4(B4, 445));
    // The sample pauses before closing.
    l.pause();
    let lc = l.close();
    net.run();
    assert!(matches!(lc, Closed::Pending(_)));
    assert!(!lc.is_complete(), "an accepted connector is open");
    // New requests are refused at once, and the port stays reserved.
    let a2 = Net::side(&net.a, 3);
    let c2 = Connector::create(&net.a).unwrap();
    let r2 = Request::new();
    assert_eq!(
        c2.connect(&a2.qp, &v4(A4, 0), &v4(B4, 445), 1, 1, &[], &r2),
        STATUS_CONNECTION_REFUSED
    );
    let e2 = ConnectEvents::new();
    let l2 = Listener::create(&net.b, &e2).unwrap();
    assert_eq!(l2.listen(&v4(B4, 445)), STATUS_SHARING_VIOLATION);
    // Data still flows over the accepted connection.
    let (buf, mr) = b.buffer(&[0; 4], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    assert_eq!(
        b.qp.receive(1, &[buf.sge(0, 4, mr.local_token())]),
        STATUS_SUCCESS
    );
    assert_eq!(
        a.qp.send(
            2,
            &[softndk::consumer::Buffer::from_bytes(b"x").sge(0, 1, 0)],
            softndk::abi::NDK_OP_FLAG_INLINE
        ),
        STATUS_SUCCESS
    );
    assert_eq!(b.rcq.results(4).len(), 1);

    closed(&net, link.active.close());
    net.run();
    assert!(
        !lc.is_complete(),
        "the passive connector still holds the listener"
    );
    closed(&net, link.passive.close());
    net.run();
    assert_eq!(
        lc.pending().calls(),
        1,
        "completes after the last connector closed"
    );
    assert_eq!(l2.listen(&v4(B4, 445)), STATUS_SUCCESS, "port free again");
    closed(&net, mr.close());
    closed(&net, c2.close());
    closed(&net, l2.close());
    a.close();
    a2.close();
    b.close();
    net.close();
}

#[test]
fn qp_close_pends_while_its_connector_is_open() {
    let net = Net::deterministic();
    let (l, e) = listen(&net.b, &v4(B4, 1));
    let (a, b) = (Net::side(&net.a, 1), Net::side(&net.b, 2));
    let link = establish(&net, &net.a, &a, &e, &b, &v4(A4, 0), &v4(B4, 1));
    let Side {
        pd, rcq, icq, qp, ..
    } = a;
    let qc = qp.close();
    net.run();
    assert!(matches!(qc, Closed::Pending(_)));
    assert!(!qc.is_complete(), "the connector is a successor of the QP");
    closed(&net, link.active.close());
    net.run();
    assert_eq!(qc.pending().calls(), 1);
    assert_eq!(link.passive_events.count(), 1);
    closed(&net, rcq.close());
    closed(&net, icq.close());
    closed(&net, pd.close());
    closed(&net, link.passive.close());
    closed(&net, l.close());
    b.close();
    net.close();
}

/// NDK lifetime page: "`NdkConnect` fails internally and the provider reports the failure through
/// the completion; the consumer closes the connector from inside that callback."
#[test]
fn lifetime_page_example_close_from_inside_a_failed_connect_completion() {
    let net = Net::deterministic();
    let (l, e) = listen(&net.b, &v4(B4, 1));
    let a = Net::side(&net.a, 1);
    let connector = Arc::new(Mutex::new(Some(Connector::create(&net.a).unwrap())));
    let inner: Arc<Mutex<Option<(softndk::abi::NTSTATUS, Closed)>>> = Arc::default();
    let r = {
        let (connector, inner) = (Arc::clone(&connector), Arc::clone(&inner));
        Request::then(move |status| {
            let c = connector.lock().unwrap().take().unwrap();
            *inner.lock().unwrap() = Some((status, c.close()));
        })
    };
    let guard = connector.lock().unwrap();
    let status = guard
        .as_ref()
        .unwrap()
        .connect(&a.qp, &v4(A4, 0), &v4(B4, 1), 1, 1, &[], &r);
    drop(guard);
    assert_eq!(status, STATUS_PENDING);
    net.run();
    // The passive side closes without accepting: the connect fails in its completion path.
    closed(&net, e.take().unwrap().close());
    net.run();
    let (status, close) = inner.lock().unwrap().take().unwrap();
    assert_eq!(status, STATUS_CONNECTION_REFUSED);
    assert!(
        matches!(close, Closed::Pending(_)),
        "close inside the completion pends"
    );
    assert_eq!(
        close.pending().calls(),
        1,
        "and completes once the callback returned"
    );
    assert_eq!(r.calls(), 1);
    closed(&net, l.close());
    a.close();
    net.close();
}

/// Microsoft's NDK consumer sample teardown: NdkFlush(QP) → close connector (wait) → close QP
/// → close CQs → close MRs (no-wait) → close PD → close adapter; listener side:
/// ControlConnectEvents(TRUE) → close listener → close adapter. Every close completion runs
/// exactly once and the adapter close returns last. Threaded host: completions race the
/// closes on worker threads.
#[test]
fn microsoft_sample_teardown_order_threaded() {
    let net = Net::new(Host::threaded(2));
    let (l, e) = listen(&net.b, &v4(B4, 1));
    let (a, b) = (Net::side(&net.a, 1), Net::side(&net.b, 2));
    let link = establish(&net, &net.a, &a, &e, &b, &v4(A4, 0), &v4(B4, 1));
    let (buf, amr) = a.buffer(&[0; 64], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    assert_eq!(
        a.qp.receive(1, &[buf.sge(0, 64, amr.local_token())]),
        STATUS_SUCCESS
    );
    let mut closes = Vec::new();
    for (side, connector, mr) in [(a, link.active, Some(amr)), (b, link.passive, None)] {
        side.qp.flush();
        let c = connector.close();
        if let Closed::Pending(s) = &c {
            assert!(s.wait(Duration::from_secs(10)), "connector close completes");
        }
        closes.push(c);
        closes.push(side.qp.close());
        closes.push(side.rcq.close());
        closes.push(side.icq.close());
        if let Some(mr) = mr {
            closes.push(mr.close());
        }
        closes.push(side.pd.close());
    }
    l.pause();
    closes.push(l.close());
    let Net {
        host,
        fabric,
        a: ad_a,
        b: ad_b,
    } = net;
    ad_a.close();
    ad_b.close();
    for c in &closes {
        match c {
            Closed::Now => {}
            Closed::Pending(s) => {
                assert_eq!(s.calls(), 1, "completed before the adapter close returned");
            }
            Closed::Refused(status) => panic!("refused: {status:?}"),
        }
    }
    drop(fabric);
    host.flush();
    assert_eq!(host.alloc_stats().live, 0);
}

#[test]
fn timeouts_are_driven_by_the_fabric_and_closes_never_wait_for_them() {
    let net = Net::deterministic();
    let config = FabricConfig::default();
    let (l, e) = listen(&net.b, &v4(B4, 1));
    let (a, b) = (Net::side(&net.a, 1), Net::side(&net.b, 2));

    // Connect: the listener side never answers.
    let (c, r, p) = request(&net, &a, &e, 1);
    net.host.advance(config.connect_timeout / 2);
    assert!(net.fabric.tick());
    net.run();
    assert_eq!(r.calls(), 0, "not due yet");
    net.host.advance(config.connect_timeout);
    assert!(
        net.fabric.tick(),
        "the scan is the fabric's own deferred work"
    );
    assert!(!net.fabric.tick(), "ticks coalesce while a scan is queued");
    assert_eq!(r.calls(), 0, "nothing runs inside tick");
    assert_eq!(completed(&net, &r), STATUS_IO_TIMEOUT);
    let acc = Request::new();
    assert_ne!(
        p.accept(&b.qp, 1, 1, &[], None, &acc),
        STATUS_PENDING,
        "the attempt is over"
    );
    closed(&net, p.close());
    closed(&net, c.close());

    // Accept: the active side never completes the connect.
    let a2 = Net::side(&net.a, 3);
    let (c, r, p) = request(&net, &a2, &e, 1);
    let acc = Request::new();
    assert_eq!(p.accept(&b.qp, 1, 1, &[], None, &acc), STATUS_PENDING);
    assert_eq!(completed(&net, &r), STATUS_SUCCESS);
    net.host
        .advance(config.accept_timeout + Duration::from_secs(1));
    net.fabric.tick();
    assert_eq!(completed(&net, &acc), STATUS_IO_TIMEOUT);
    assert_ne!(c.complete_connect(None), STATUS_SUCCESS, "too late");
    closed(&net, p.close());
    closed(&net, c.close());

    // Disconnect: the peer never disconnects; the QP is flushed before the timeout reports.
    let (a3, b3) = (Net::side(&net.a, 4), Net::side(&net.b, 5));
    let link = establish(&net, &net.a, &a3, &e, &b3, &v4(A4, 0), &v4(B4, 1));
    let (buf, mr) = a3.buffer(&[0; 8], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    assert_eq!(
        a3.qp.receive(7, &[buf.sge(0, 8, mr.local_token())]),
        STATUS_SUCCESS
    );
    let d = Request::new();
    assert_eq!(link.active.disconnect(&d), STATUS_PENDING);
    net.host
        .advance(config.disconnect_timeout + Duration::from_secs(1));
    net.fabric.tick();
    assert_eq!(completed(&net, &d), STATUS_IO_TIMEOUT);
    assert_eq!(a3.rcq.results(4).len(), 1, "flushed");

    // A close while connecting completes without any tick.
    let (c, r, p) = request(&net, &a, &e, 1);
    let close = c.close();
    net.run();
    assert!(close.is_complete(), "no timeout needed");
    assert_eq!(r.statuses(), [STATUS_CANCELLED]);
    closed(&net, p.close());

    closed(&net, mr.close());
    closed(&net, link.active.close());
    closed(&net, link.passive.close());
    closed(&net, l.close());
    for s in [a, a2, a3, b, b3] {
        s.close();
    }
    net.close();
}
