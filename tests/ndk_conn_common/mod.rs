//! Shared fixtures for the `ndk_conn_*` scenario tests: a fabric with two adapters opened
//! through `dispatch::open_adapter`, each with IPv4 and IPv6 addresses, and the usual
//! connect/accept/complete sequence through the dispatch tables.
#![allow(dead_code)]

#[path = "../ndk_common/mod.rs"]
mod ndk_common;

use std::sync::Arc;

#[allow(unused_imports, reason = "not every test file uses every fixture")]
pub use ndk_common::{Side, summary};
use softndk::abi::{NDK_VERSION, NTSTATUS, STATUS_PENDING, STATUS_SUCCESS};
use softndk::cm::ndk::NdkFabric;
use softndk::consumer::{
    Adapter, Closed, ConnectEvents, Connector, DisconnectEvents, Listener, QpLimits, Request,
};
use softndk::fabric::{Address, Fabric, FabricConfig, IpAddr};
use softndk::platform::Platform;
use softndk::platform::host::Host;
use softndk::verbs::AdapterConfig;

pub const A4: [u8; 4] = [10, 0, 0, 1];
pub const B4: [u8; 4] = [10, 0, 0, 2];
pub const A6: [u8; 16] = [0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub const B6: [u8; 16] = [0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// The adapter configuration every test uses, on `fabric` with `ips`.
pub fn config_on(fabric: &NdkFabric, ips: &[IpAddr]) -> AdapterConfig {
    AdapterConfig::softndk(0x5EED_C0DE).on_fabric(fabric, ips)
}

/// A fabric with adapters `a` (`10.0.0.1`, `fd00::1`) and `b` (`10.0.0.2`, `fd00::2`).
pub struct Net {
    pub host: Host,
    pub fabric: NdkFabric,
    pub a: Adapter,
    pub b: Adapter,
}

impl Net {
    pub fn new(host: Host) -> Self {
        Self::with(host, FabricConfig::default(), NDK_VERSION::new(2, 1))
    }

    pub fn deterministic() -> Self {
        Self::new(Host::deterministic())
    }

    pub fn with(host: Host, config: FabricConfig, version: NDK_VERSION) -> Self {
        let p = Platform::clone(&host);
        let fabric = Fabric::new(p.clone(), config).unwrap();
        let a = Adapter::open(
            &config_on(&fabric, &[IpAddr::V4(A4), IpAddr::v6(A6)]),
            &p,
            version,
        )
        .unwrap();
        let b = Adapter::open(
            &config_on(&fabric, &[IpAddr::V4(B4), IpAddr::v6(B6)]),
            &p,
            version,
        )
        .unwrap();
        Self { host, fabric, a, b }
    }

    /// Runs deferred work until none is left: the deterministic host runs it on this thread,
    /// the threaded host waits for its workers (`KeFlushQueuedDpcs`).
    pub fn run(&self) {
        self.host.flush();
    }

    /// A side (PD, CQs, QP) on `adapter`.
    pub fn side(adapter: &Adapter, context: usize) -> Side {
        Side::new(adapter, context, 64, QpLimits::default())
    }

    /// Closes both adapters (blocks until everything below them is closed) and checks that
    /// no accounted allocation is left.
    pub fn close(self) {
        self.a.close();
        self.b.close();
        let host = self.host.clone();
        drop(self.fabric);
        host.flush();
        assert_eq!(host.alloc_stats().live, 0, "every allocation released");
    }
}

pub const fn v4(ip: [u8; 4], port: u16) -> Address {
    Address::v4(ip, port)
}

pub const fn v6(ip: [u8; 16], port: u16) -> Address {
    Address::v6(ip, port)
}

/// A listening listener on `adapter` at `address`.
pub fn listen(adapter: &Adapter, address: &Address) -> (Listener, Arc<ConnectEvents>) {
    let events = ConnectEvents::new();
    let listener = Listener::create(adapter, &events).unwrap();
    assert_eq!(
        listener.listen(address),
        STATUS_SUCCESS,
        "listen completes inline"
    );
    (listener, events)
}

/// Both ends of an established connection, with their disconnect-event recorders.
pub struct Link {
    pub active: Connector,
    pub passive: Connector,
    pub active_events: Arc<DisconnectEvents>,
    pub passive_events: Arc<DisconnectEvents>,
}

/// Connects `active_side`'s QP on `active_adapter` from `src` to `dst` (listened on by
/// `events`' listener), accepts with `passive_side`'s QP and completes; asserts each step's
/// documented outcome (pending, deferred, exactly once).
#[allow(clippy::too_many_arguments)]
pub fn establish(
    net: &Net,
    active_adapter: &Adapter,
    active_side: &Side,
    events: &ConnectEvents,
    passive_side: &Side,
    src: &Address,
    dst: &Address,
) -> Link {
    let active = Connector::create(active_adapter).unwrap();
    let connect = Request::new();
    assert_eq!(
        active.connect(&active_side.qp, src, dst, 8, 8, b"hi", &connect),
        STATUS_PENDING
    );
    assert_eq!(connect.calls(), 0, "never completed inside the call");
    net.run();
    let passive = events.take().expect("one connect event");
    let accept = Request::new();
    let passive_events = DisconnectEvents::new();
    assert_eq!(
        passive.accept_ex(
            &passive_side.qp,
            8,
            8,
            b"ok",
            Some(&passive_events),
            &accept
        ),
        STATUS_PENDING
    );
    net.run();
    assert_eq!(connect.statuses(), [STATUS_SUCCESS]);
    assert_eq!(accept.calls(), 0, "accept waits for CompleteConnect");
    let active_events = DisconnectEvents::new();
    assert_eq!(
        active.complete_connect_ex(Some(&active_events)),
        STATUS_SUCCESS
    );
    net.run();
    assert_eq!(accept.statuses(), [STATUS_SUCCESS]);
    Link {
        active,
        passive,
        active_events,
        passive_events,
    }
}

/// Runs a close and expects it to finish (now, or pended and completed exactly once by the
/// deferred work `net` runs).
#[allow(
    clippy::needless_pass_by_value,
    reason = "takes the close's outcome as returned"
)]
pub fn closed(net: &Net, closed: Closed) {
    net.run();
    match &closed {
        Closed::Now => {}
        Closed::Pending(signal) => assert_eq!(signal.calls(), 1, "close completion once"),
        Closed::Refused(status) => panic!("close refused: {status:?}"),
    }
}

/// The status a request completed with (after running deferred work).
pub fn completed(net: &Net, request: &Request) -> NTSTATUS {
    net.run();
    assert_eq!(request.calls(), 1, "completion exactly once");
    request.status().unwrap()
}
