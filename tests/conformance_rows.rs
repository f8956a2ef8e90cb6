//! Conformance, `spec/ndkpi.md` §5.4 rows not covered by `conformance_lifetime.rs` and
//! `conformance_cm.rs`: SRQ ← QP, MR ← MW and QP ← connector. Each antecedent's close is
//! accepted with `STATUS_PENDING` while its successor is open, completes exactly once right
//! after the successor's close, and never before; on the whole matrix (inline / FIFO / seeded /
//! threaded delivery × PASSIVE / DISPATCH consumer calls, plus the pending-create cells) under
//! the consumer-side verifier, with allocations balanced at the end of every cell.

mod conformance_common;

use conformance_common::{
    Closeable, Env, Hooked, Pair, Side, Ticket, close, create_qp_with_srq, matrix, reap,
};
use softndk::abi::{
    NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NDK_OP_FLAG_ALLOW_REMOTE_READ, STATUS_PENDING, STATUS_SUCCESS,
};
use softndk::cm::ndk::NdkFabric;
use softndk::consumer::{
    Buffer, Closed, ConnectEvents, Connector, DisconnectEvents, Listener, QpLimits, Request,
};
use softndk::fabric::{Address, Fabric, FabricConfig, IpAddr};

/// Closes `antecedent` while its successor is open and checks it pends; then `successor`
/// closes the successor (and checks that close), and the antecedent's close must have completed,
/// exactly once.
fn pends_until<A: Closeable>(env: &Env, row: &str, antecedent: A, successor: impl FnOnce(&Env)) {
    let pending = env.at(|| close(antecedent, || {}));
    assert_eq!(
        pending.status, STATUS_PENDING,
        "{row}: close while the successor is open"
    );
    env.settle();
    assert_eq!(
        pending.calls(),
        0,
        "{row}: completed with its successor open"
    );
    successor(env);
    env.settle();
    assert!(pending.complete(), "{row}: antecedent never completed");
    assert_eq!(pending.calls(), 1, "{row}: close completion once");
}

/// Closes `object` (an NDK object of the conformance wrappers) and checks the close completes.
fn closes<O: Closeable>(object: O) -> impl FnOnce(&Env) {
    move |env| {
        let done = env.at(|| close(object, || {}));
        env.settle();
        assert!(done.complete(), "successor close");
    }
}

/// Checks a connection-manager object's close: accepted, and completed once if it pended.
fn cm_closed(env: &Env, closed: &Closed) {
    env.settle();
    match closed {
        Closed::Now => {}
        Closed::Pending(signal) => assert_eq!(signal.calls(), 1, "close completion once"),
        Closed::Refused(status) => panic!("close refused: {status:?}"),
    }
}

/// §5.4 SRQ row: an SRQ's close pends until the QP created with it has closed.
#[test]
fn srq_close_pends_until_its_qp_closes() {
    matrix(|env| {
        let adapter = env.open();
        let (pd, rcq, icq, srq) = env.at(|| {
            let pd = adapter.create_pd().expect("PD");
            let rcq = Hooked::create(&adapter, 16).expect("receive CQ");
            let icq = Hooked::create(&adapter, 16).expect("initiator CQ");
            let srq = pd.create_srq(16, 1, 0, None).expect("SRQ");
            (pd, rcq, icq, srq)
        });
        let qp = env
            .at(|| create_qp_with_srq(&pd, &rcq, &icq, &srq, 1, QpLimits::default()))
            .expect("QP with SRQ");
        env.created();
        pends_until(env, "SRQ ← QP", srq, closes(qp));
        let rest = env.at(|| [close(rcq, || {}), close(icq, || {}), close(pd, || {})]);
        env.settle();
        assert!(rest.iter().all(Ticket::complete));
        env.close_adapter(adapter);
    });
}

/// §5.4 MR row: an MR's close pends until the memory window bound into it has closed.
#[test]
fn mr_close_pends_until_its_bound_window_closes() {
    matrix(|env| {
        let pair = Pair::new(env, 16);
        let a = &pair.a;
        let buf = Buffer::from_bytes(&[0; 64]);
        let (mr, mw) = env.at(|| {
            let mr = a.pd.create_mr(false).expect("MR");
            assert_eq!(
                mr.register(&buf, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, &[]),
                STATUS_SUCCESS
            );
            (mr, a.pd.create_mw().expect("MW"))
        });
        env.created();
        assert_eq!(
            env.at(|| a
                .qp
                .bind(7, &mr, &mw, buf.va(), 64, NDK_OP_FLAG_ALLOW_REMOTE_READ)),
            STATUS_SUCCESS
        );
        let bound = reap(env, &a.icq, 1);
        assert_eq!(
            (bound[0].RequestContext.addr(), bound[0].Status),
            (7, STATUS_SUCCESS)
        );
        pends_until(env, "MR ← MW", mr, closes(mw));
        pair.close(env);
    });
}

/// §5.4 QP row: a QP's close pends until the connector associated with it has closed (the
/// sample closes the connector first; the other order must work too).
#[test]
fn qp_close_pends_until_its_connector_closes() {
    const A: [u8; 4] = [10, 0, 8, 1];
    const B: [u8; 4] = [10, 0, 8, 2];
    matrix(|env| {
        let fabric: NdkFabric =
            Fabric::new(env.host.clone(), FabricConfig::default()).expect("fabric");
        let open = |ip| {
            let config = env.config().on_fabric(&fabric, &[IpAddr::V4(ip)]);
            env.try_open_with(&config).expect("open adapter")
        };
        let (one, two) = (open(A), open(B));
        let sa = Side::new(env, &one, 0xA, 16);
        let sb = Side::new(env, &two, 0xB, 16);
        let port = Address::v4(B, 445);
        let events = ConnectEvents::new();
        let listener = env
            .at(|| Listener::create(&two, &events))
            .expect("listener");
        assert_eq!(env.at(|| listener.listen(&port)), STATUS_SUCCESS);
        let active = env.at(|| Connector::create(&one)).expect("connector");
        let connect = Request::new();
        assert_eq!(
            env.at(|| active.connect(&sa.qp, &Address::v4(A, 0), &port, 4, 4, b"", &connect)),
            STATUS_PENDING
        );
        env.settle();
        let passive = events.take().expect("one connect event");
        let accept = Request::new();
        let none: Option<&std::sync::Arc<DisconnectEvents>> = None;
        assert_eq!(
            env.at(|| passive.accept_ex(&sb.qp, 4, 4, b"", none, &accept)),
            STATUS_PENDING
        );
        env.settle();
        assert_eq!(connect.statuses(), [STATUS_SUCCESS]);
        assert_eq!(env.at(|| active.complete_connect_ex(None)), STATUS_SUCCESS);
        env.settle();
        assert_eq!(accept.statuses(), [STATUS_SUCCESS]);

        let Side { pd, rcq, icq, qp } = sa;
        pends_until(env, "QP ← connector", qp, |env| {
            cm_closed(env, &env.at(|| active.close()));
        });
        cm_closed(env, &env.at(|| passive.close()));
        cm_closed(env, &env.at(|| listener.close()));
        let rest = env.at(|| [close(rcq, || {}), close(icq, || {}), close(pd, || {})]);
        env.settle();
        assert!(rest.iter().all(Ticket::complete));
        sb.close(env);
        env.close_adapter(one);
        env.close_adapter(two);
        drop(fabric);
        env.settle();
    });
}
