//! Conformance, `spec/ndkpi.md` §5.7 (endpoint reference counting) and the connection parts of
//! §5.8 (connector close without accept, connector close during connect, graceful disconnect,
//! peer disconnect event once), one test per bullet, each on the whole matrix (inline / FIFO /
//! seeded / threaded delivery × PASSIVE / DISPATCH consumer calls, plus the pending-create
//! cells) under the consumer-side verifier, with allocations balanced at the end of every cell.
//! Two adapters share one fabric: `a` (10.0.9.1) and `b` (10.0.9.2); connections go from `a` to
//! `b` through the real `NdkListen`/`NdkConnect`/`NdkAccept` exchange.

mod conformance_common;

use std::sync::Arc;

use conformance_common::{Env, Side, matrix, reap};
use softndk::abi::{
    NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NTSTATUS, STATUS_CANCELLED, STATUS_CONNECTION_INVALID,
    STATUS_CONNECTION_REFUSED, STATUS_PENDING, STATUS_SHARING_VIOLATION, STATUS_SUCCESS,
};
use softndk::cm::ndk::NdkFabric;
use softndk::consumer::{
    Adapter, Buffer, Closed, ConnectEvents, Connector, DisconnectEvents, Listener, Request,
    SharedEndpoint,
};
use softndk::fabric::{Address, Fabric, FabricConfig, IpAddr};

const A: [u8; 4] = [10, 0, 9, 1];
const B: [u8; 4] = [10, 0, 9, 2];

/// Two adapters on one fabric, each with a side (PD, hooked CQs, QP).
struct Net {
    fabric: NdkFabric,
    a: Adapter,
    b: Adapter,
    sa: Side,
    sb: Side,
}

impl Net {
    fn new(env: &Env) -> Self {
        let fabric = Fabric::new(env.host.clone(), FabricConfig::default()).expect("fabric");
        let open = |ip| {
            let config = env.config().on_fabric(&fabric, &[IpAddr::V4(ip)]);
            env.try_open_with(&config).expect("open adapter")
        };
        let (a, b) = (open(A), open(B));
        let sa = Side::new(env, &a, 0xA, 64);
        let sb = Side::new(env, &b, 0xB, 64);
        Self {
            fabric,
            a,
            b,
            sa,
            sb,
        }
    }

    /// Closes the sides and adapters, then releases the fabric (allocations balance after).
    fn close(self, env: &Env) {
        self.sa.close(env);
        self.sb.close(env);
        env.close_adapter(self.a);
        env.close_adapter(self.b);
        drop(self.fabric);
        env.settle();
    }
}

/// A listener on `adapter` listening at `address`.
fn listen(env: &Env, adapter: &Adapter, address: &Address) -> (Listener, Arc<ConnectEvents>) {
    let events = ConnectEvents::new();
    let listener = env
        .at(|| Listener::create(adapter, &events))
        .expect("listener");
    assert_eq!(env.at(|| listener.listen(address)), STATUS_SUCCESS);
    (listener, events)
}

/// `NdkListen` on `address` by a fresh listener, which is closed again; the status.
fn try_listen(env: &Env, adapter: &Adapter, address: &Address) -> NTSTATUS {
    let (status, close) = env.at(|| {
        let listener = Listener::create(adapter, &ConnectEvents::new()).expect("listener");
        (listener.listen(address), listener.close())
    });
    closed(env, close);
    status
}

/// Settles and asserts a close finished (now, or pended and completed exactly once).
#[allow(clippy::needless_pass_by_value)] // takes the close's outcome as returned
fn closed(env: &Env, close: Closed) {
    env.settle();
    match &close {
        Closed::Now => {}
        Closed::Pending(signal) => assert_eq!(signal.calls(), 1, "close completion once"),
        Closed::Refused(status) => panic!("close refused: {status:?}"),
    }
}

/// An active connector of `net.a` whose `NdkConnect` from `src` to `dst` pends.
fn connect(env: &Env, net: &Net, src: &Address, dst: &Address) -> (Connector, Arc<Request>) {
    let c = env.at(|| Connector::create(&net.a)).expect("connector");
    let r = Request::new();
    assert_eq!(
        env.at(|| c.connect(&net.sa.qp, src, dst, 4, 4, b"hi", &r)),
        STATUS_PENDING
    );
    (c, r)
}

/// An established connection: active on `a`, passive (accepted) on `b`.
struct Link {
    active: Connector,
    passive: Connector,
    active_events: Arc<DisconnectEvents>,
    passive_events: Arc<DisconnectEvents>,
}

impl Link {
    fn new(env: &Env, net: &Net, events: &ConnectEvents, dst: &Address) -> Self {
        let (active, connect) = connect(env, net, &Address::v4(A, 0), dst);
        env.settle();
        let passive = events.take().expect("one connect event");
        let accept = Request::new();
        let passive_events = DisconnectEvents::new();
        assert_eq!(
            env.at(|| passive.accept_ex(&net.sb.qp, 4, 4, b"ok", Some(&passive_events), &accept)),
            STATUS_PENDING
        );
        env.settle();
        assert_eq!(connect.statuses(), [STATUS_SUCCESS]);
        let active_events = DisconnectEvents::new();
        assert_eq!(
            env.at(|| active.complete_connect_ex(Some(&active_events))),
            STATUS_SUCCESS
        );
        env.settle();
        assert_eq!(accept.statuses(), [STATUS_SUCCESS]);
        Self {
            active,
            passive,
            active_events,
            passive_events,
        }
    }

    fn close(self, env: &Env) {
        closed(env, env.at(|| self.active.close()));
        closed(env, env.at(|| self.passive.close()));
    }
}

/// §5.7 bullet 1 / §5.4 listener row: closing the listener alone does not free its port while
/// an accepted connector lives — a new `NdkListen` there fails — and the listener's close pends
/// until the last accepted connector is closed; then the port is free again.
#[test]
fn listener_port_stays_reserved_until_its_last_accepted_connector_closes() {
    matrix(|env| {
        let net = Net::new(env);
        let port = Address::v4(B, 445);
        let (listener, events) = listen(env, &net.b, &port);
        let link = Link::new(env, &net, &events, &port);
        let lc = env.at(|| listener.close());
        env.settle();
        assert!(
            matches!(lc, Closed::Pending(_)) && !lc.is_complete(),
            "pends while an accepted connector is open"
        );
        assert_eq!(try_listen(env, &net.b, &port), STATUS_SHARING_VIOLATION);
        closed(env, env.at(|| link.active.close()));
        assert!(!lc.is_complete(), "the passive connector still holds it");
        assert_eq!(try_listen(env, &net.b, &port), STATUS_SHARING_VIOLATION);
        closed(env, env.at(|| link.passive.close()));
        assert!(
            lc.is_complete(),
            "completes after the last connector closed"
        );
        assert_eq!(try_listen(env, &net.b, &port), STATUS_SUCCESS, "port free");
        net.close(env);
    });
}

/// §5.7 (last sentence of bullet 1) / §5.3: a listener stops accepting as soon as its close is
/// requested, even while its close pends: a new connect is refused and raises no event.
#[test]
fn listener_close_stops_new_connections_at_once() {
    matrix(|env| {
        let net = Net::new(env);
        let port = Address::v4(B, 446);
        let (listener, events) = listen(env, &net.b, &port);
        let link = Link::new(env, &net, &events, &port);
        let lc = env.at(|| listener.close());
        let c = env.at(|| Connector::create(&net.a)).expect("connector");
        let r = Request::new();
        let status = env.at(|| c.connect(&net.sa.qp, &Address::v4(A, 0), &port, 1, 1, &[], &r));
        env.settle();
        let outcome = if status == STATUS_PENDING {
            r.status()
        } else {
            Some(status)
        };
        assert_eq!(outcome, Some(STATUS_CONNECTION_REFUSED), "refused at once");
        assert!(events.take().is_none(), "no connect event after the close");
        closed(env, env.at(|| c.close()));
        link.close(env);
        assert!(lc.is_complete());
        net.close(env);
    });
}

/// §5.7 bullet 2: a connector's private endpoint (`NdkConnect` from an explicit port) holds
/// that address:port while the connector lives (a listen there fails) and is released when the
/// connector closes.
#[test]
fn connector_endpoint_is_released_when_the_connector_closes() {
    matrix(|env| {
        let net = Net::new(env);
        let dst = Address::v4(B, 447);
        let src = Address::v4(A, 5007);
        let (listener, events) = listen(env, &net.b, &dst);
        let (c, r) = connect(env, &net, &src, &dst);
        env.settle();
        assert_eq!(try_listen(env, &net.a, &src), STATUS_SHARING_VIOLATION);
        let p = events.take().expect("connect event");
        assert_eq!(p.peer_address(), Ok(src), "the connector's endpoint");
        closed(env, env.at(|| p.close())); // close without accept: a reject
        assert_eq!(r.status(), Some(STATUS_CONNECTION_REFUSED));
        assert_eq!(
            try_listen(env, &net.a, &src),
            STATUS_SHARING_VIOLATION,
            "still held by the (refused) connector"
        );
        closed(env, env.at(|| c.close()));
        assert_eq!(try_listen(env, &net.a, &src), STATUS_SUCCESS, "released");
        closed(env, env.at(|| listener.close()));
        net.close(env);
    });
}

/// §5.7 bullet 3 / §5.4 shared-endpoint row: a shared endpoint's address stays reserved while a
/// connector connected through it lives, even after the endpoint's close (which pends until
/// that connector is closed); then it is freed.
#[test]
fn shared_endpoint_is_held_by_its_connectors() {
    matrix(|env| {
        let net = Net::new(env);
        let dst = Address::v4(B, 448);
        let shared = Address::v4(A, 6008);
        let (listener, events) = listen(env, &net.b, &dst);
        let ep = env
            .at(|| SharedEndpoint::create(&net.a, &shared))
            .expect("shared endpoint");
        let c = env.at(|| Connector::create(&net.a)).expect("connector");
        let r = Request::new();
        assert_eq!(
            env.at(|| c.connect_with_shared_endpoint(&net.sa.qp, &ep, &dst, 4, 4, &[], &r)),
            STATUS_PENDING
        );
        env.settle();
        let p = events.take().expect("connect event");
        assert_eq!(p.peer_address(), Ok(shared));
        let ec = env.at(|| ep.close());
        env.settle();
        assert!(
            matches!(ec, Closed::Pending(_)) && !ec.is_complete(),
            "pends while a connector uses it"
        );
        assert_eq!(try_listen(env, &net.a, &shared), STATUS_SHARING_VIOLATION);
        closed(env, env.at(|| p.close()));
        closed(env, env.at(|| c.close()));
        assert!(
            ec.is_complete(),
            "completes after its last connector closed"
        );
        assert_eq!(try_listen(env, &net.a, &shared), STATUS_SUCCESS, "freed");
        assert_eq!(r.calls(), 1);
        closed(env, env.at(|| listener.close()));
        net.close(env);
    });
}

/// §5.7 bullet 4: connectors accepted over a listener inherit the listener's endpoint.
#[test]
fn accepted_connectors_inherit_the_listener_endpoint() {
    matrix(|env| {
        let net = Net::new(env);
        let port = Address::v4(B, 449);
        let (listener, events) = listen(env, &net.b, &port);
        let link = Link::new(env, &net, &events, &port);
        assert_eq!(env.at(|| link.passive.local_address()), Ok(port));
        assert_eq!(env.at(|| link.active.peer_address()), Ok(port));
        link.close(env);
        closed(env, env.at(|| listener.close()));
        net.close(env);
    });
}

/// §5.8 "closing a connector": a connector handed up by a connect event and closed without
/// accept rejects the request (the active connect completes `STATUS_CONNECTION_REFUSED`).
#[test]
fn connector_closed_without_accept_rejects() {
    matrix(|env| {
        let net = Net::new(env);
        let port = Address::v4(B, 450);
        let (listener, events) = listen(env, &net.b, &port);
        let (c, r) = connect(env, &net, &Address::v4(A, 0), &port);
        env.settle();
        let p = events.take().expect("connect event");
        assert_eq!(r.calls(), 0, "waits for the passive side");
        closed(env, env.at(|| p.close()));
        assert_eq!(r.statuses(), [STATUS_CONNECTION_REFUSED]);
        closed(env, env.at(|| c.close()));
        closed(env, env.at(|| listener.close()));
        net.close(env);
    });
}

/// §5.8 / §5.3 C1: a connector closed while its `NdkConnect` is pending pends its close (checked
/// where the connect certainly is pending: the deterministic cells); the connect completes
/// exactly once and before the close completion (the verifier checks that no callback follows
/// the close completion); a peer that tries to accept does not succeed.
#[test]
fn connector_closed_during_connect_completes_its_request_first() {
    matrix(|env| {
        let net = Net::new(env);
        let port = Address::v4(B, 451);
        let (listener, events) = listen(env, &net.b, &port);
        let (c, r) = connect(env, &net, &Address::v4(A, 0), &port);
        let close = env.at(|| c.close());
        assert!(!matches!(close, Closed::Refused(_)), "close accepted");
        if env.deterministic() {
            // Nothing has run yet: the connect is certainly still pending.
            assert!(
                matches!(close, Closed::Pending(_)) && r.calls() == 0,
                "a request is pending: the close pends"
            );
        }
        env.settle();
        assert_eq!(r.calls(), 1, "the connect completed exactly once");
        assert!(close.is_complete());
        if let Some(p) = events.take() {
            let accept = Request::new();
            let status = env.at(|| p.accept(&net.sb.qp, 4, 4, &[], None, &accept));
            env.settle();
            if status == STATUS_PENDING {
                assert_ne!(accept.status(), Some(STATUS_SUCCESS), "the peer is gone");
            }
            closed(env, env.at(|| p.close()));
        }
        closed(env, env.at(|| listener.close()));
        net.close(env);
    });
}

/// §5.8 `NdkDisconnect`: the graceful disconnect completes only after the peer's own
/// disconnect, delivers one disconnect event to the peer (none to the side that disconnected),
/// flushes the QPs (`STATUS_CANCELLED`) and leaves them unusable (no half-closed state).
#[test]
fn graceful_disconnect_completes_after_the_peer_and_flushes() {
    matrix(|env| {
        let net = Net::new(env);
        let port = Address::v4(B, 452);
        let (listener, events) = listen(env, &net.b, &port);
        let link = Link::new(env, &net, &events, &port);
        let buf = Buffer::from_bytes(&[0; 16]);
        let mr = env.at(|| net.sa.pd.create_mr(false)).expect("MR");
        assert_eq!(
            env.at(|| mr.register(&buf, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, &[])),
            STATUS_SUCCESS
        );
        let sge = buf.sge(0, 16, mr.local_token());
        assert_eq!(env.at(|| net.sa.qp.receive(10, &[sge])), STATUS_SUCCESS);
        let da = Request::new();
        assert_eq!(env.at(|| link.active.disconnect(&da)), STATUS_PENDING);
        env.settle();
        assert_eq!(da.calls(), 0, "waits for the peer's disconnect");
        assert_eq!(link.passive_events.count(), 1, "the peer is told once");
        let db = Request::new();
        assert_eq!(env.at(|| link.passive.disconnect(&db)), STATUS_PENDING);
        env.settle();
        assert_eq!(da.statuses(), [STATUS_SUCCESS]);
        assert_eq!(db.statuses(), [STATUS_SUCCESS]);
        let flushed = reap(env, &net.sa.rcq, 1);
        assert_eq!(
            (flushed[0].RequestContext.addr(), flushed[0].Status),
            (10, STATUS_CANCELLED)
        );
        assert_eq!(
            env.at(|| net.sa.qp.receive(11, &[sge])),
            STATUS_CONNECTION_INVALID,
            "no reuse after a disconnect"
        );
        assert_eq!(
            link.active_events.count(),
            0,
            "no event for the local disconnect"
        );
        assert_eq!(link.passive_events.count(), 1);
        closed(env, env.at(|| mr.close()));
        link.close(env);
        closed(env, env.at(|| listener.close()));
        net.close(env);
    });
}

/// §5.8 peer-initiated disconnect: the peer's abortive close delivers the disconnect event
/// exactly once; a later local `NdkDisconnect` completes and raises no second event.
#[test]
fn peer_disconnect_event_is_delivered_once() {
    matrix(|env| {
        let net = Net::new(env);
        let port = Address::v4(B, 453);
        let (listener, events) = listen(env, &net.b, &port);
        let link = Link::new(env, &net, &events, &port);
        closed(env, env.at(|| link.passive.close()));
        assert_eq!(link.active_events.count(), 1, "one event");
        let d = Request::new();
        assert_eq!(env.at(|| link.active.disconnect(&d)), STATUS_PENDING);
        env.settle();
        assert_eq!(d.calls(), 1);
        assert_eq!(link.active_events.count(), 1, "no second event");
        assert_eq!(link.passive_events.count(), 0, "the closer gets none");
        closed(env, env.at(|| link.active.close()));
        closed(env, env.at(|| listener.close()));
        net.close(env);
    });
}
