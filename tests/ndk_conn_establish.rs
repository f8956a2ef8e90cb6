//! Connection establishment through the dispatch tables: listen, connect, the connect event
//! handing up a new connector, accept, complete — on one adapter (loopback, two QPs) and
//! across two adapters of one fabric, IPv4/IPv6/wildcards — then data movement over the
//! established connection; private data, read-limit negotiation, refusals, address conflicts,
//! shared endpoints.
// a/b adapters and sides, p platform: the scenario vocabulary.
#![allow(clippy::many_single_char_names, clippy::too_many_lines)]

mod ndk_conn_common;

use ndk_conn_common::*;
use softndk::abi::{
    NDK_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED, NDK_MR_FLAG_ALLOW_LOCAL_WRITE,
    NDK_MR_FLAG_ALLOW_REMOTE_READ, NDK_MR_FLAG_ALLOW_REMOTE_WRITE, NDK_OBJECT_TYPE,
    NDK_OPERATION_TYPE, NDK_VERSION, STATUS_ADDRESS_ALREADY_EXISTS, STATUS_BUFFER_TOO_SMALL,
    STATUS_CONNECTION_INVALID, STATUS_CONNECTION_REFUSED, STATUS_HOST_UNREACHABLE,
    STATUS_INVALID_ADDRESS, STATUS_PENDING, STATUS_SHARING_VIOLATION, STATUS_SUCCESS,
};
use softndk::consumer::{ConnectEvents, Connector, Listener, Request, SharedEndpoint};
use softndk::dispatch::TABLES;
use softndk::fabric::{Address, FabricConfig};
use softndk::platform::host::Host;

const S: u32 = STATUS_SUCCESS.as_u32();
const SEND: i32 = NDK_OPERATION_TYPE::SEND.0;
const RECV: i32 = NDK_OPERATION_TYPE::RECEIVE.0;

/// Full flow on `dst` (listened on at `listen_on` by adapter b) from `src` (adapter `from`),
/// then send/receive, RDMA write and read over the connection, then graceful teardown.
fn full_flow(net: &Net, from_b: bool, src: Address, listen_on: Address, dst: Address) {
    let active_adapter = if from_b { &net.b } else { &net.a };
    let (listener, events) = listen(&net.b, &listen_on);
    let a = Net::side(active_adapter, 0xA);
    let b = Net::side(&net.b, 0xB);

    let active = Connector::create(active_adapter).unwrap();
    assert_eq!(active.local_address(), Err(STATUS_CONNECTION_INVALID));
    let connect = Request::new();
    assert_eq!(
        active.connect(&a.qp, &src, &dst, 8, 4, b"caller", &connect),
        STATUS_PENDING
    );
    assert_eq!(connect.calls(), 0, "never completed inside the call");
    assert_eq!(events.calls(), 0, "connect events are deferred too");
    net.run();
    assert_eq!(events.calls(), 1, "one connect event per request");
    let passive = events.take().unwrap();

    // The handed-up connector: a new object with the adapter's version and the connector table.
    let h = passive.header();
    assert_eq!(h.ObjectType, NDK_OBJECT_TYPE::CONNECTOR);
    assert_eq!(h.Version, net.b.header().Version);
    assert!(core::ptr::eq(passive.dispatch(), TABLES.connector));

    // Passive side before accepting: the peer's data, the best limits, both addresses.
    let mut buf = [0_u8; 64];
    let data = passive.connection_data(Some(&mut buf));
    assert_eq!((data.status, data.length), (STATUS_SUCCESS, 6));
    assert_eq!(&buf[..6], b"caller");
    assert_eq!(
        (data.ird, data.ord),
        (4, 8),
        "best obtainable from this peer"
    );
    let active_local = active.local_address().unwrap();
    assert_ne!(active_local.port, 0, "ephemeral port chosen");
    assert_eq!(passive.peer_address(), Ok(active_local));
    assert_eq!(passive.local_address(), Ok(dst));
    assert_eq!(active.peer_address(), Ok(dst));

    let accept = Request::new();
    let pe = softndk::consumer::DisconnectEvents::new();
    assert_eq!(
        passive.accept(&b.qp, 2, 16, b"callee!", Some(&pe), &accept),
        STATUS_PENDING
    );
    assert_eq!(accept.calls(), 0);
    net.run();
    assert_eq!(connect.statuses(), [STATUS_SUCCESS]);
    assert_eq!(accept.calls(), 0, "accept waits for CompleteConnect");

    // Active side after its connect completed: the callee's data and the negotiated limits.
    // Active asked IRD 8 / ORD 4, passive IRD 2 / ORD 16: active IRD = min(8,32,16) = 8,
    // ORD = min(4,32,2) = 2.
    let data = active.connection_data(None);
    assert_eq!(
        (data.status, data.length),
        (STATUS_SUCCESS, 7),
        "size probe"
    );
    assert_eq!((data.ird, data.ord), (8, 2));
    let mut small = [0_u8; 3];
    let data = active.connection_data(Some(&mut small));
    assert_eq!((data.status, data.length), (STATUS_BUFFER_TOO_SMALL, 7));
    assert_eq!(&small, b"cal");

    let ae = softndk::consumer::DisconnectEvents::new();
    assert_eq!(active.complete_connect(Some(&ae)), STATUS_SUCCESS);
    net.run();
    assert_eq!(accept.statuses(), [STATUS_SUCCESS]);
    assert_eq!(connect.calls(), 1, "exactly once");

    // Data over the connection: send/receive both ways, RDMA write and read.
    let (src_buf, src_mr) = a.buffer(b"over the wire", NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    let (dst_buf, dst_mr) = b.buffer(&[0; 32], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    assert_eq!(
        b.qp.receive(100, &[dst_buf.sge(0, 32, dst_mr.local_token())]),
        STATUS_SUCCESS
    );
    assert_eq!(
        a.qp.send(1, &[src_buf.sge(0, 13, src_mr.local_token())], 0),
        STATUS_SUCCESS
    );
    assert_eq!(&dst_buf.read()[..13], b"over the wire");
    assert_eq!(summary(&a.icq.results_ex(8)), [(1, S, 13, SEND)]);
    assert_eq!(summary(&b.rcq.results_ex(8)), [(100, S, 13, RECV)]);
    assert_eq!(
        a.qp.receive(200, &[src_buf.sge(0, 13, src_mr.local_token())]),
        STATUS_SUCCESS
    );
    assert_eq!(
        b.qp.send(2, &[dst_buf.sge(0, 4, dst_mr.local_token())], 0),
        STATUS_SUCCESS
    );
    assert_eq!(&src_buf.read()[..4], b"over");
    assert_eq!(summary(&a.rcq.results_ex(8)), [(200, S, 4, RECV)]);
    let _ = b.icq.results(8);

    let (target, target_mr) = b.buffer(&[0; 8], NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
    let w = src_buf.sge(0, 4, src_mr.local_token());
    assert_eq!(
        a.qp.write(3, &[w], target.va() + 1, target_mr.remote_token(), 0),
        STATUS_SUCCESS
    );
    assert_eq!(target.read(), b"\0over\0\0\0");
    let (source, source_mr) = b.buffer(b"read me", NDK_MR_FLAG_ALLOW_REMOTE_READ);
    let (sink, sink_mr) = a.buffer(&[0; 7], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    assert_eq!(
        a.qp.read(
            4,
            &[sink.sge(0, 7, sink_mr.local_token())],
            source.va(),
            source_mr.remote_token(),
            0
        ),
        STATUS_SUCCESS,
        "ORD 2 allows reads"
    );
    assert_eq!(sink.read(), b"read me");
    assert_eq!(a.icq.results(8).len(), 2);

    // Graceful teardown: A disconnects (B hears it), B disconnects, both complete.
    let da = Request::new();
    assert_eq!(active.disconnect(&da), STATUS_PENDING);
    net.run();
    assert_eq!(pe.reasons(), [None], "plain event: no reason");
    assert_eq!(da.calls(), 0, "waits for the peer's disconnect");
    let db = Request::new();
    assert_eq!(passive.disconnect(&db), STATUS_PENDING);
    assert_eq!(completed(net, &da), STATUS_SUCCESS);
    assert_eq!(completed(net, &db), STATUS_SUCCESS);
    assert!(ae.reasons().is_empty(), "no event for a local disconnect");

    for mr in [src_mr, dst_mr, target_mr, source_mr, sink_mr] {
        closed(net, mr.close());
    }
    closed(net, active.close());
    closed(net, passive.close());
    closed(net, listener.close());
    a.close();
    b.close();
}

#[test]
fn connect_accept_complete_across_two_adapters_then_data_ipv4() {
    let net = Net::deterministic();
    full_flow(&net, false, v4(A4, 0), v4(B4, 445), v4(B4, 445));
    net.close();
}

#[test]
fn connect_accept_complete_on_one_adapter_with_two_qps_loopback() {
    let net = Net::deterministic();
    let info = net.b.query_info().unwrap();
    assert_ne!(
        info.AdapterFlags & NDK_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED,
        0
    );
    full_flow(&net, true, v4(B4, 0), v4(B4, 5000), v4(B4, 5000));
    net.close();
}

#[test]
fn ipv6_and_wildcards() {
    let net = Net::deterministic();
    full_flow(&net, false, v6(A6, 0), v6(B6, 7000), v6(B6, 7000));
    // Wildcard listener (any address of adapter b), wildcard source (adapter a's first IPv4).
    full_flow(&net, false, v4([0; 4], 0), v4([0; 4], 7001), v4(B4, 7001));
    full_flow(&net, false, v6([0; 16], 0), v6([0; 16], 7002), v6(B6, 7002));
    net.close();
}

#[test]
fn ndk_1_0_adapter_hands_up_connectors_of_its_version() {
    let net = Net::with(
        Host::deterministic(),
        FabricConfig::default(),
        NDK_VERSION::new(1, 0),
    );
    let (listener, events) = listen(&net.b, &v4(B4, 1));
    let a = Net::side(&net.a, 1);
    let b = Net::side(&net.b, 2);
    let link = establish(&net, &net.a, &a, &events, &b, &v4(A4, 0), &v4(B4, 1));
    // 1.0 negotiates the highest 1.x minor; every CM object carries the adapter's version.
    let version = net.b.header().Version;
    assert_eq!(version.Major, 1);
    assert_eq!(link.passive.header().Version, version);
    assert_eq!(link.active.header().Version, version);
    closed(&net, link.active.close());
    // The survivor hears the abortive close once, with the `_EX` reason 1.
    assert_eq!(link.passive_events.reasons(), [Some(1)]);
    closed(&net, link.passive.close());
    closed(&net, listener.close());
    a.close();
    b.close();
    net.close();
}

#[test]
fn listener_local_address_reports_the_chosen_port() {
    let net = Net::deterministic();
    let events = ConnectEvents::new();
    let listener = Listener::create(&net.a, &events).unwrap();
    assert!(
        listener.local_address().is_err(),
        "nothing before NdkListen"
    );
    assert_eq!(listener.listen(&v4(A4, 0)), STATUS_SUCCESS);
    let bound = listener.local_address().unwrap();
    assert_eq!(bound.ip, v4(A4, 0).ip);
    assert!(bound.port >= 49152, "ephemeral range");
    let mut len = 0_u32;
    assert_eq!(
        listener.local_address_raw(None, Some(&mut len)),
        STATUS_BUFFER_TOO_SMALL
    );
    assert_eq!(len, 16, "required size of a SOCKADDR_IN");
    closed(&net, listener.close());
    net.close();
}

#[test]
fn refused_unreachable_and_address_in_use() {
    let net = Net::deterministic();
    let a = Net::side(&net.a, 1);
    let c = Connector::create(&net.a).unwrap();
    let r = Request::new();
    // Nobody listens: refused inline, the completion is never called.
    assert_eq!(
        c.connect(&a.qp, &v4(A4, 0), &v4(B4, 9), 1, 1, &[], &r),
        STATUS_CONNECTION_REFUSED
    );
    // No adapter has that address.
    assert_eq!(
        c.connect(&a.qp, &v4(A4, 0), &v4([10, 9, 9, 9], 9), 1, 1, &[], &r),
        STATUS_HOST_UNREACHABLE
    );
    // A source address that is not adapter a's.
    assert_eq!(
        c.connect(&a.qp, &v4(B4, 0), &v4(B4, 9), 1, 1, &[], &r),
        STATUS_INVALID_ADDRESS
    );
    net.run();
    assert_eq!(r.calls(), 0, "inline failures never call back");

    // Address in use: a second listener on the same endpoint, a shared endpoint on it.
    let (l1, e1) = listen(&net.b, &v4(B4, 445));
    let e2 = ConnectEvents::new();
    let l2 = Listener::create(&net.b, &e2).unwrap();
    assert_eq!(l2.listen(&v4(B4, 445)), STATUS_SHARING_VIOLATION);
    assert_eq!(
        l2.listen(&v4([0; 4], 445)),
        STATUS_SHARING_VIOLATION,
        "wildcard overlaps"
    );
    assert_eq!(
        SharedEndpoint::create(&net.b, &v4(B4, 445)).unwrap_err(),
        STATUS_SHARING_VIOLATION
    );
    assert_eq!(
        l2.listen(&v4(A4, 445)),
        STATUS_INVALID_ADDRESS,
        "not adapter b's address"
    );

    // The refused connector is unused: it can connect again, now successfully.
    let b = Net::side(&net.b, 2);
    assert_eq!(
        c.connect(&a.qp, &v4(A4, 0), &v4(B4, 445), 1, 1, &[], &r),
        STATUS_PENDING
    );
    net.run();
    let passive = e1.take().unwrap();
    // Closing an unaccepted connector rejects the request.
    closed(&net, passive.close());
    assert_eq!(completed(&net, &r), STATUS_CONNECTION_REFUSED);
    closed(&net, c.close());
    closed(&net, l1.close());
    closed(&net, l2.close());
    a.close();
    b.close();
    net.close();
}

#[test]
fn shared_endpoint_connections_to_two_listeners_and_four_tuples() {
    let net = Net::deterministic();
    let ep = SharedEndpoint::create(&net.a, &v4(A4, 0)).unwrap();
    let local = ep.local_address().unwrap();
    assert!(local.port >= 49152);
    let (l1, e1) = listen(&net.b, &v4(B4, 1));
    let (l2, e2) = listen(&net.b, &v4(B4, 2));
    let (a1, a2, a3) = (
        Net::side(&net.a, 1),
        Net::side(&net.a, 2),
        Net::side(&net.a, 3),
    );
    let (b1, b2) = (Net::side(&net.b, 11), Net::side(&net.b, 12));
    let mut links = Vec::new();
    for (side, events, bside, port) in [(&a1, &e1, &b1, 1), (&a2, &e2, &b2, 2)] {
        let c = Connector::create(&net.a).unwrap();
        let r = Request::new();
        assert_eq!(
            c.connect_with_shared_endpoint(&side.qp, &ep, &v4(B4, port), 4, 4, &[], &r),
            STATUS_PENDING
        );
        net.run();
        let p = events.take().unwrap();
        assert_eq!(
            p.peer_address(),
            Ok(local),
            "both connections come from the shared address"
        );
        let acc = Request::new();
        assert_eq!(p.accept(&bside.qp, 4, 4, &[], None, &acc), STATUS_PENDING);
        assert_eq!(completed(&net, &r), STATUS_SUCCESS);
        assert_eq!(c.complete_connect(None), STATUS_SUCCESS);
        assert_eq!(completed(&net, &acc), STATUS_SUCCESS);
        assert_eq!(c.local_address(), Ok(local));
        links.push((c, p));
    }
    // Same 4-tuple again while the first connection lives.
    let c = Connector::create(&net.a).unwrap();
    let r = Request::new();
    assert_eq!(
        c.connect_with_shared_endpoint(&a3.qp, &ep, &v4(B4, 1), 4, 4, &[], &r),
        STATUS_ADDRESS_ALREADY_EXISTS
    );
    closed(&net, c.close());
    // The shared endpoint's close pends while connectors use it; its port stays reserved.
    let ep_closed = ep.close();
    net.run();
    assert!(!ep_closed.is_complete());
    assert_eq!(
        SharedEndpoint::create(&net.a, &local).unwrap_err(),
        STATUS_SHARING_VIOLATION
    );
    for (c, p) in links {
        closed(&net, c.close());
        closed(&net, p.close());
    }
    net.run();
    assert!(
        ep_closed.is_complete(),
        "completes after the last connector closed"
    );
    let again = SharedEndpoint::create(&net.a, &local).unwrap();
    closed(&net, again.close());
    closed(&net, l1.close());
    closed(&net, l2.close());
    for s in [a1, a2, a3, b1, b2] {
        s.close();
    }
    net.close();
}

#[test]
fn private_data_both_ways_and_read_limits_capped_by_the_adapter() {
    let net = Net::deterministic();
    let (l, e) = listen(&net.b, &v4(B4, 80));
    let a = Net::side(&net.a, 1);
    let b = Net::side(&net.b, 2);
    let c = Connector::create(&net.a).unwrap();
    let r = Request::new();
    let info = net.a.query_info().unwrap();
    let sent = vec![0xCA; info.MaxCallerData as usize];
    assert_eq!(
        c.connect(&a.qp, &v4(A4, 0), &v4(B4, 80), 1000, 1000, &sent, &r),
        STATUS_PENDING
    );
    net.run();
    let p = e.take().unwrap();
    let mut buf = vec![0; 300];
    let d = p.connection_data(Some(&mut buf));
    assert_eq!(d.length, info.MaxCallerData);
    assert!(buf[..sent.len()].iter().all(|&x| x == 0xCA));
    // Capped at the adapter's MaxInbound/MaxOutboundReadLimit on both sides.
    assert_eq!(
        (d.ird, d.ord),
        (info.MaxInboundReadLimit, info.MaxOutboundReadLimit)
    );
    let answer = vec![0xCE; info.MaxCalleeData as usize];
    let acc = Request::new();
    assert_eq!(p.accept(&b.qp, 3, 0, &answer, None, &acc), STATUS_PENDING);
    assert_eq!(completed(&net, &r), STATUS_SUCCESS);
    let d = c.connection_data(Some(&mut buf));
    assert_eq!(d.length, info.MaxCalleeData);
    assert!(buf[..answer.len()].iter().all(|&x| x == 0xCE));
    // Passive IRD 3 / ORD 0: active IRD = min(1000, 32, 0) = 0, ORD = min(1000, 32, 3) = 3.
    assert_eq!((d.ird, d.ord), (0, 3));
    assert_eq!(c.complete_connect(None), STATUS_SUCCESS);
    assert_eq!(completed(&net, &acc), STATUS_SUCCESS);
    closed(&net, c.close());
    closed(&net, p.close());
    closed(&net, l.close());
    a.close();
    b.close();
    net.close();
}
