//! Ports of the NetworkDirect unit tests that concern connections (`spec/rdma-anchors.md` §5,
//! microsoft/NetworkDirect `src/unittests`): `ndconn` (connection scalability from several
//! threads), `ndmpic` (the MS-MPI pattern among 4 ranks: active/passive and active/active
//! connects, `close`/`close_ack`, teardown), `ndmval` (a 1024-byte send into a 1023-byte receive),
//! and the connection cases of `ndmemorytest` (`NdConnClose`, `NdConnListenClosing`,
//! `NdConnReject`, `NdDualConnection`, `NdDualListen`, `NdInvalidIP`, `NdLargePrivateData`,
//! `NdReceiveConnClosed`, `NdReceiveFlushQP`). Each test is named after the ND test it ports;
//! where NDK semantics differ from ND's, the test says how it adapts.
#![allow(clippy::many_single_char_names, clippy::too_many_lines)]

mod ndk_conn_common;

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use ndk_conn_common::*;
use softndk::abi::{
    NDK_CQ_NOTIFY_ANY, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NDK_OP_FLAG_INLINE, NDK_VERSION,
    STATUS_BUFFER_TOO_SMALL, STATUS_CANCELLED, STATUS_CONNECTION_REFUSED, STATUS_HOST_UNREACHABLE,
    STATUS_INVALID_ADDRESS, STATUS_INVALID_BUFFER_SIZE, STATUS_INVALID_DEVICE_REQUEST,
    STATUS_PENDING, STATUS_SHARING_VIOLATION, STATUS_SUCCESS,
};
use softndk::consumer::{
    Adapter, Buffer, ConnectEvents, Connector, DisconnectEvents, Listener, Request,
};
use softndk::fabric::{Fabric, FabricConfig, IpAddr};
use softndk::platform::Platform;
use softndk::platform::host::Host;

const LONG: Duration = Duration::from_secs(30);

/// Sends `bytes` inline from `from` to a receive posted on `to` and checks they arrived.
fn message(from: &Side, to: &Side, bytes: &[u8]) {
    let (buf, mr) = to.buffer(&[0; 64], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    assert_eq!(
        to.qp.receive(1, &[buf.sge(0, 64, mr.local_token())]),
        STATUS_SUCCESS
    );
    let src = Buffer::from_bytes(bytes);
    let n = u32::try_from(bytes.len()).unwrap();
    assert_eq!(
        from.qp.send(2, &[src.sge(0, n, 0)], NDK_OP_FLAG_INLINE),
        STATUS_SUCCESS
    );
    assert_eq!(&buf.read()[..bytes.len()], bytes);
    let got = to.rcq.results(4);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].Status, STATUS_SUCCESS);
    assert_eq!(from.icq.results(4).len(), 1);
    assert!(matches!(mr.close(), softndk::consumer::Closed::Now));
}

/// `ndconn`: many connections established concurrently by two client threads against one
/// listener served by a third thread, on the threaded host; a message over each, then teardown.
#[test]
fn ndconn_connections_from_several_threads() {
    const PER_THREAD: usize = 8;
    let net = Arc::new(Net::new(Host::threaded(2)));
    let (listener, events) = listen(&net.b, &v4(B4, 3000));
    let server = {
        let (net, events) = (Arc::clone(&net), Arc::clone(&events));
        thread::spawn(move || {
            let mut accepted = Vec::new();
            for i in 0..2 * PER_THREAD {
                let passive = events.wait_take(LONG).expect("connect event");
                let side = Net::side(&net.b, 1000 + i);
                let request = Request::new();
                assert_eq!(
                    passive.accept(&side.qp, 4, 4, &[], None, &request),
                    STATUS_PENDING
                );
                accepted.push((passive, side, request));
            }
            accepted
        })
    };
    // Collected first so both clients run before either is joined.
    #[allow(clippy::needless_collect)]
    let clients: Vec<_> = (0..2)
        .map(|t| {
            let net = Arc::clone(&net);
            thread::spawn(move || {
                (0..PER_THREAD)
                    .map(|i| {
                        let side = Net::side(&net.a, t * 100 + i);
                        let c = Connector::create(&net.a).unwrap();
                        let r = Request::new();
                        let tag = [u8::try_from(t * 100 + i).unwrap()];
                        assert_eq!(
                            c.connect(&side.qp, &v4(A4, 0), &v4(B4, 3000), 4, 4, &tag, &r),
                            STATUS_PENDING
                        );
                        assert_eq!(r.wait(LONG), Some(STATUS_SUCCESS));
                        assert_eq!(c.complete_connect(None), STATUS_SUCCESS);
                        (c, side, tag[0])
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let active: Vec<_> = clients
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let passive = server.join().unwrap();
    assert_eq!(events.calls(), u32::try_from(2 * PER_THREAD).unwrap());
    assert_eq!(
        events.overlaps(),
        0,
        "connect events of one listener never overlap"
    );
    for (_, _, accept) in &passive {
        assert_eq!(accept.wait(LONG), Some(STATUS_SUCCESS));
    }
    // Pair each passive connector with its client by the private data the client sent.
    let mut ports = std::collections::HashSet::new();
    for (c, side, tag) in &active {
        let local = c.local_address().unwrap();
        assert!(
            ports.insert(local.port),
            "each connector has its own endpoint"
        );
        let (p, pside, _) = passive
            .iter()
            .find(|(p, _, _)| p.peer_address() == Ok(local))
            .expect("a passive connector for each active one");
        let mut data = [0; 1];
        let _ = p.connection_data(Some(&mut data));
        assert_eq!(data[0], *tag);
        message(side, pside, b"ping");
        message(pside, side, b"pong");
    }
    let listener_close = listener.close();
    for (c, side, _) in active {
        let closed = c.close();
        if let softndk::consumer::Closed::Pending(s) = &closed {
            assert!(s.wait(LONG));
        }
        side.close_waiting(LONG);
    }
    for (p, side, _) in passive {
        let closed = p.close();
        if let softndk::consumer::Closed::Pending(s) = &closed {
            assert!(s.wait(LONG));
        }
        side.close_waiting(LONG);
    }
    if let softndk::consumer::Closed::Pending(s) = &listener_close {
        assert!(
            s.wait(LONG),
            "the listener close completes after its connectors"
        );
    }
    Arc::try_unwrap(net).ok().expect("threads joined").close();
}

/// Four ranks on one fabric, each an adapter with its own address, each listening.
struct Ranks {
    host: Host,
    fabric: softndk::cm::ndk::NdkFabric,
    adapters: Vec<Adapter>,
    listeners: Vec<(Listener, Arc<ConnectEvents>)>,
}

const RANKS: usize = 4;
const PORT: u16 = 8677;

fn ip(rank: usize) -> [u8; 4] {
    [10, 1, 0, u8::try_from(rank + 1).unwrap()]
}

impl Ranks {
    fn new() -> Self {
        let host = Host::deterministic();
        let p = Platform::clone(&host);
        let fabric = Fabric::new(p.clone(), FabricConfig::default()).unwrap();
        let adapters: Vec<_> = (0..RANKS)
            .map(|r| {
                Adapter::open(
                    &config_on(&fabric, &[IpAddr::V4(ip(r))]),
                    &p,
                    NDK_VERSION::new(2, 0),
                )
                .unwrap()
            })
            .collect();
        let listeners = adapters
            .iter()
            .enumerate()
            .map(|(r, a)| listen(a, &v4(ip(r), PORT)))
            .collect();
        Self {
            host,
            fabric,
            adapters,
            listeners,
        }
    }

    fn run(&self) {
        self.host.run_until_idle();
    }
}

/// One connection between two ranks: (active rank, connector, side), (passive rank, ...).
struct RankLink {
    from: (usize, Connector, Side, Arc<DisconnectEvents>),
    to: (usize, Connector, Side, Arc<DisconnectEvents>),
}

/// `ndmpic`: the MS-MPI connection pattern among 4 ranks. Active/passive: every rank connects
/// to every higher rank. Active/active: every pair connects to each other at the same time
/// (both attempts are issued before either is answered; with NDK both become connections).
/// Then `close`/`close_ack` messages over every connection, graceful disconnects, teardown.
#[test]
fn ndmpic_four_ranks_active_passive_and_active_active() {
    let ranks = Ranks::new();
    let mut attempts = Vec::new();
    // Active/passive, then active/active (the reverse direction of each pair, issued together).
    for (i, j) in (0..RANKS).flat_map(|i| (i + 1..RANKS).map(move |j| (i, j))) {
        for (from, to) in [(i, j), (j, i)] {
            let side = Net::side(&ranks.adapters[from], from * 10 + to);
            let c = Connector::create(&ranks.adapters[from]).unwrap();
            let r = Request::new();
            let tag = [u8::try_from(from).unwrap(), u8::try_from(to).unwrap()];
            assert_eq!(
                c.connect(
                    &side.qp,
                    &v4(ip(from), 0),
                    &v4(ip(to), PORT),
                    2,
                    2,
                    &tag,
                    &r
                ),
                STATUS_PENDING
            );
            attempts.push((from, to, c, side, r));
        }
    }
    ranks.run();
    // Each rank accepts everything its listener handed up.
    let mut accepted = Vec::new();
    for (rank, (_, events)) in ranks.listeners.iter().enumerate() {
        while let Some(p) = events.take() {
            let mut tag = [0; 2];
            let _ = p.connection_data(Some(&mut tag));
            assert_eq!(usize::from(tag[1]), rank);
            let side = Net::side(&ranks.adapters[rank], 100 + rank * 10 + usize::from(tag[0]));
            let r = Request::new();
            let ev = DisconnectEvents::new();
            assert_eq!(
                p.accept_ex(&side.qp, 2, 2, &[], Some(&ev), &r),
                STATUS_PENDING
            );
            accepted.push((usize::from(tag[0]), rank, p, side, r, ev));
        }
    }
    assert_eq!(
        accepted.len(),
        RANKS * (RANKS - 1),
        "every attempt reached its rank"
    );
    ranks.run();
    let mut links = Vec::new();
    for (from, to, c, side, r) in attempts {
        assert_eq!(r.statuses(), [STATUS_SUCCESS]);
        let ev = DisconnectEvents::new();
        assert_eq!(c.complete_connect_ex(Some(&ev)), STATUS_SUCCESS);
        let pos = accepted
            .iter()
            .position(|(f, t, p, ..)| {
                (*f, *t) == (from, to) && p.peer_address() == c.local_address()
            })
            .unwrap();
        let (_, _, p, pside, pr, pev) = accepted.swap_remove(pos);
        ranks.run();
        assert_eq!(pr.statuses(), [STATUS_SUCCESS]);
        links.push(RankLink {
            from: (from, c, side, ev),
            to: (to, p, pside, pev),
        });
    }
    // close / close_ack, then both sides disconnect.
    for link in &links {
        message(&link.from.2, &link.to.2, b"close");
        message(&link.to.2, &link.from.2, b"close_ack");
        let (d1, d2) = (Request::new(), Request::new());
        assert_eq!(link.from.1.disconnect(&d1), STATUS_PENDING);
        assert_eq!(link.to.1.disconnect(&d2), STATUS_PENDING);
        ranks.run();
        assert_eq!(
            (d1.statuses(), d2.statuses()),
            (vec![STATUS_SUCCESS], vec![STATUS_SUCCESS])
        );
        // Crossing disconnects: neither side gets an event.
        assert_eq!(link.from.3.count() + link.to.3.count(), 0);
    }
    for link in links {
        for (_, c, side, _) in [link.from, link.to] {
            assert!(c.close().is_complete());
            side.close();
        }
    }
    let Ranks {
        host,
        fabric,
        adapters,
        listeners,
    } = ranks;
    for (l, _) in listeners {
        let _ = l.close();
    }
    host.run_until_idle();
    for a in adapters {
        a.close();
    }
    drop(fabric);
    host.flush();
    assert_eq!(host.alloc_stats().live, 0);
}

/// `ndmval`: a 1024-byte send into a 1023-byte receive over an established connection. The
/// receiver's receive completes `STATUS_BUFFER_TOO_SMALL` (`ND_BUFFER_OVERFLOW`). ND lets an
/// iWARP sender see success; SoftNDK's engine reports the remote operation error to the sender
/// (`STATUS_INVALID_DEVICE_REQUEST`, `docs/engine.md`), as ND's InfiniBand providers do.
#[test]
fn ndmval_send_1024_bytes_into_a_1023_byte_receive() {
    let net = Net::deterministic();
    let (l, e) = listen(&net.b, &v4(B4, 1));
    let (a, b) = (Net::side(&net.a, 1), Net::side(&net.b, 2));
    let link = establish(&net, &net.a, &a, &e, &b, &v4(A4, 0), &v4(B4, 1));
    let (rbuf, rmr) = b.buffer(&[0; 1023], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    assert_eq!(
        b.qp.receive(1, &[rbuf.sge(0, 1023, rmr.local_token())]),
        STATUS_SUCCESS
    );
    let (sbuf, smr) = a.buffer(&[0x5A; 1024], 0);
    assert_eq!(
        a.qp.send(2, &[sbuf.sge(0, 1024, smr.local_token())], 0),
        STATUS_SUCCESS
    );
    assert_eq!(b.rcq.results(4)[0].Status, STATUS_BUFFER_TOO_SMALL);
    assert_eq!(a.icq.results(4)[0].Status, STATUS_INVALID_DEVICE_REQUEST);
    closed(&net, rmr.close());
    closed(&net, smr.close());
    closed(&net, link.active.close());
    closed(&net, link.passive.close());
    closed(&net, l.close());
    a.close();
    b.close();
    net.close();
}

/// `NdConnClose`: closing a connected connector (without disconnecting) flushes its QP and the
/// peer hears an abortive disconnect once.
#[test]
fn nd_conn_close() {
    let net = Net::deterministic();
    let (l, e) = listen(&net.b, &v4(B4, 1));
    let (a, b) = (Net::side(&net.a, 1), Net::side(&net.b, 2));
    let link = establish(&net, &net.a, &a, &e, &b, &v4(A4, 0), &v4(B4, 1));
    let (buf, mr) = a.buffer(&[0; 8], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    assert_eq!(
        a.qp.receive(9, &[buf.sge(0, 8, mr.local_token())]),
        STATUS_SUCCESS
    );
    closed(&net, link.active.close());
    assert_eq!(
        a.rcq.results(4)[0].Status,
        STATUS_CANCELLED,
        "own QP flushed"
    );
    assert_eq!(link.passive_events.reasons(), [Some(1)]);
    closed(&net, mr.close());
    closed(&net, link.passive.close());
    closed(&net, l.close());
    a.close();
    b.close();
    net.close();
}

/// `NdConnListenClosing`: the listener closes while a request is queued for it (not yet handed
/// up): the request is refused and no connect event follows the close.
#[test]
fn nd_conn_listen_closing() {
    let net = Net::deterministic();
    let (l, e) = listen(&net.b, &v4(B4, 1));
    let a = Net::side(&net.a, 1);
    let c = Connector::create(&net.a).unwrap();
    let r = Request::new();
    assert_eq!(
        c.connect(&a.qp, &v4(A4, 0), &v4(B4, 1), 1, 1, &[], &r),
        STATUS_PENDING
    );
    // Closed before its deferred work handed the request up.
    closed(&net, l.close());
    assert_eq!(e.calls(), 0, "no connect event after the close was issued");
    assert_eq!(completed(&net, &r), STATUS_CONNECTION_REFUSED);
    closed(&net, c.close());
    a.close();
    net.close();
}

/// `NdConnReject`: the passive side rejects; the active connect completes refused and the
/// connector can be closed at once.
#[test]
fn nd_conn_reject() {
    let net = Net::deterministic();
    let (l, e) = listen(&net.b, &v4(B4, 1));
    let a = Net::side(&net.a, 1);
    let c = Connector::create(&net.a).unwrap();
    let r = Request::new();
    assert_eq!(
        c.connect(&a.qp, &v4(A4, 0), &v4(B4, 1), 1, 1, &[], &r),
        STATUS_PENDING
    );
    net.run();
    let p = e.take().unwrap();
    assert_eq!(p.reject(b"busy"), STATUS_SUCCESS);
    assert_eq!(completed(&net, &r), STATUS_CONNECTION_REFUSED);
    assert!(c.close().is_complete());
    assert!(p.close().is_complete());
    closed(&net, l.close());
    a.close();
    net.close();
}

/// `NdDualConnection`: two connections between the same two adapters at once, each carrying
/// its own traffic.
#[test]
fn nd_dual_connection() {
    let net = Net::deterministic();
    let (l, e) = listen(&net.b, &v4(B4, 1));
    let (a1, a2, b1, b2) = (
        Net::side(&net.a, 1),
        Net::side(&net.a, 2),
        Net::side(&net.b, 3),
        Net::side(&net.b, 4),
    );
    let l1 = establish(&net, &net.a, &a1, &e, &b1, &v4(A4, 0), &v4(B4, 1));
    let l2 = establish(&net, &net.a, &a2, &e, &b2, &v4(A4, 0), &v4(B4, 1));
    assert_ne!(l1.active.local_address(), l2.active.local_address());
    message(&a1, &b1, b"first");
    message(&a2, &b2, b"second");
    message(&b2, &a2, b"back2");
    message(&b1, &a1, b"back1");
    for c in [l1.active, l1.passive, l2.active, l2.passive] {
        closed(&net, c.close());
    }
    closed(&net, l.close());
    for s in [a1, a2, b1, b2] {
        s.close();
    }
    net.close();
}

/// `NdDualListen`: a second listener on the same address fails until the first is closed.
#[test]
fn nd_dual_listen() {
    let net = Net::deterministic();
    let (l1, _e1) = listen(&net.a, &v4(A4, 1));
    let e2 = ConnectEvents::new();
    let l2 = Listener::create(&net.a, &e2).unwrap();
    assert_eq!(l2.listen(&v4(A4, 1)), STATUS_SHARING_VIOLATION);
    assert_eq!(
        l2.listen(&v6(A6, 1)),
        STATUS_SUCCESS,
        "another address, same port"
    );
    closed(&net, l1.close());
    let e3 = ConnectEvents::new();
    let l3 = Listener::create(&net.a, &e3).unwrap();
    assert_eq!(
        l3.listen(&v4(A4, 1)),
        STATUS_SUCCESS,
        "free after the close"
    );
    closed(&net, l2.close());
    closed(&net, l3.close());
    net.close();
}

/// `NdInvalidIP`: connecting to an address no adapter has, listening on one the adapter does
/// not have.
#[test]
fn nd_invalid_ip() {
    let net = Net::deterministic();
    let a = Net::side(&net.a, 1);
    let c = Connector::create(&net.a).unwrap();
    let r = Request::new();
    assert_eq!(
        c.connect(&a.qp, &v4(A4, 0), &v4([192, 0, 2, 1], 1), 1, 1, &[], &r),
        STATUS_HOST_UNREACHABLE
    );
    let e = ConnectEvents::new();
    let l = Listener::create(&net.a, &e).unwrap();
    assert_eq!(l.listen(&v4([192, 0, 2, 1], 1)), STATUS_INVALID_ADDRESS);
    net.run();
    assert_eq!(r.calls(), 0);
    closed(&net, c.close());
    closed(&net, l.close());
    a.close();
    net.close();
}

/// `NdLargePrivateData`: private data up to `MaxCallerData` is delivered, one byte more is
/// refused inline.
#[test]
fn nd_large_private_data() {
    let net = Net::deterministic();
    let (l, e) = listen(&net.b, &v4(B4, 1));
    let a = Net::side(&net.a, 1);
    let max = net.a.query_info().unwrap().MaxCallerData as usize;
    let c = Connector::create(&net.a).unwrap();
    let r = Request::new();
    assert_eq!(
        c.connect(&a.qp, &v4(A4, 0), &v4(B4, 1), 1, 1, &vec![1; max + 1], &r),
        STATUS_INVALID_BUFFER_SIZE
    );
    assert_eq!(
        c.connect(&a.qp, &v4(A4, 0), &v4(B4, 1), 1, 1, &vec![1; max], &r),
        STATUS_PENDING
    );
    net.run();
    let p = e.take().unwrap();
    assert_eq!(p.connection_data(None).length as usize, max);
    closed(&net, p.close());
    assert_eq!(completed(&net, &r), STATUS_CONNECTION_REFUSED);
    closed(&net, c.close());
    closed(&net, l.close());
    a.close();
    net.close();
}

/// `NdReceiveConnClosed`: "close remote connector; verify a CQ notification with `ND_CANCELED`".
/// NDK adaptation: the disconnect event does not flush (§3.3); the consumer flushes on the
/// event, as Microsoft's NDK sample does, and its armed CQ reports the cancelled receive.
#[test]
fn nd_receive_conn_closed() {
    let net = Net::deterministic();
    let (l, e) = listen(&net.b, &v4(B4, 1));
    let (a, b) = (Net::side(&net.a, 1), Net::side(&net.b, 2));
    let link = establish(&net, &net.a, &a, &e, &b, &v4(A4, 0), &v4(B4, 1));
    let (buf, mr) = a.buffer(&[0; 8], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    assert_eq!(
        a.qp.receive(5, &[buf.sge(0, 8, mr.local_token())]),
        STATUS_SUCCESS
    );
    a.rcq.arm(NDK_CQ_NOTIFY_ANY);
    closed(&net, link.passive.close());
    assert_eq!(link.active_events.count(), 1);
    assert!(
        a.rcq.results(4).is_empty(),
        "the event alone does not flush"
    );
    a.qp.flush();
    net.run();
    assert_eq!(a.revents.count(), 1, "one CQ notification");
    let r = a.rcq.results(4);
    assert_eq!((r.len(), r[0].Status), (1, STATUS_CANCELLED));
    closed(&net, mr.close());
    closed(&net, link.active.close());
    closed(&net, l.close());
    a.close();
    b.close();
    net.close();
}

/// `NdReceiveFlushQP`: "post two receives, flush the QP; one CQ notification; both receives
/// completed cancelled" — on a QP connected through the connection manager.
#[test]
fn nd_receive_flush_qp() {
    let net = Net::deterministic();
    let (l, e) = listen(&net.b, &v4(B4, 1));
    let (a, b) = (Net::side(&net.a, 1), Net::side(&net.b, 2));
    let link = establish(&net, &net.a, &a, &e, &b, &v4(A4, 0), &v4(B4, 1));
    let (buf, mr) = b.buffer(&[0; 8], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    for ctx in [1, 2] {
        assert_eq!(
            b.qp.receive(ctx, &[buf.sge(0, 8, mr.local_token())]),
            STATUS_SUCCESS
        );
    }
    b.rcq.arm(NDK_CQ_NOTIFY_ANY);
    b.qp.flush();
    net.run();
    assert_eq!(b.revents.count(), 1);
    let r = b.rcq.results(4);
    assert_eq!(
        r.iter()
            .map(|r| (r.RequestContext.addr(), r.Status))
            .collect::<Vec<_>>(),
        [(1, STATUS_CANCELLED), (2, STATUS_CANCELLED)]
    );
    closed(&net, mr.close());
    closed(&net, link.active.close());
    closed(&net, link.passive.close());
    closed(&net, l.close());
    a.close();
    b.close();
    net.close();
}
