//! Allocation failure injected at every allocation the connection manager makes during a full
//! connection lifetime (listener, connector, shared endpoint, the connection, the passive
//! connector a request creates): each failure is reported inline as
//! `STATUS_INSUFFICIENT_RESOURCES`, never through a completion, and nothing leaks.

mod ndk_conn_common;

use ndk_conn_common::*;
use softndk::abi::{STATUS_INSUFFICIENT_RESOURCES, STATUS_PENDING, STATUS_SUCCESS};
use softndk::consumer::{ConnectEvents, Connector, Listener, Request, SharedEndpoint};
use softndk::platform::host::FaultPlan;

/// One connection lifetime that tolerates a refused allocation at any step.
fn scenario(net: &Net, a: &Side, b: &Side) {
    let refused = |status| assert_eq!(status, STATUS_INSUFFICIENT_RESOURCES);
    let events = ConnectEvents::new();
    let listener = match Listener::create(&net.b, &events) {
        Ok(l) => l,
        Err(status) => return refused(status),
    };
    assert_eq!(listener.listen(&v4(B4, 1)), STATUS_SUCCESS);
    match SharedEndpoint::create(&net.a, &v4(A4, 0)) {
        Ok(ep) => closed(net, ep.close()),
        Err(status) => refused(status),
    }
    let connector = match Connector::create(&net.a) {
        Ok(c) => c,
        Err(status) => {
            refused(status);
            return closed(net, listener.close());
        }
    };
    let connect = Request::new();
    let status = connector.connect(&a.qp, &v4(A4, 0), &v4(B4, 1), 4, 4, b"x", &connect);
    if status == STATUS_PENDING {
        net.run();
        let passive = events.take().expect("connect event");
        let accept = Request::new();
        assert_eq!(
            passive.accept(&b.qp, 4, 4, &[], None, &accept),
            STATUS_PENDING
        );
        assert_eq!(completed(net, &connect), STATUS_SUCCESS);
        assert_eq!(connector.complete_connect(None), STATUS_SUCCESS);
        assert_eq!(completed(net, &accept), STATUS_SUCCESS);
        let (d1, d2) = (Request::new(), Request::new());
        assert_eq!(connector.disconnect(&d1), STATUS_PENDING);
        assert_eq!(passive.disconnect(&d2), STATUS_PENDING);
        assert_eq!(completed(net, &d1), STATUS_SUCCESS);
        assert_eq!(completed(net, &d2), STATUS_SUCCESS);
        closed(net, passive.close());
    } else {
        refused(status);
        net.run();
        assert_eq!(connect.calls(), 0, "an inline failure never calls back");
        assert_eq!(events.calls(), 0);
    }
    closed(net, connector.close());
    closed(net, listener.close());
}

#[test]
fn every_cm_allocation_failure_is_reported_inline_and_leaks_nothing() {
    // A clean run counts the attempts.
    let attempts = {
        let net = Net::deterministic();
        let (a, b) = (Net::side(&net.a, 1), Net::side(&net.b, 2));
        let before = net.host.alloc_stats().attempts;
        scenario(&net, &a, &b);
        let n = net.host.alloc_stats().attempts - before;
        a.close();
        b.close();
        net.close();
        n
    };
    assert!(
        attempts >= 6,
        "listener, endpoint, connector, connection, passive connector"
    );
    for n in 0..attempts {
        let net = Net::deterministic();
        let (a, b) = (Net::side(&net.a, 1), Net::side(&net.b, 2));
        net.host.set_fault_plan(FaultPlan::FailNth(n));
        scenario(&net, &a, &b);
        assert_eq!(
            net.host.alloc_stats().injected_failures,
            1,
            "allocation {n} failed"
        );
        net.host.set_fault_plan(FaultPlan::Off);
        a.close();
        b.close();
        net.close();
    }
}
