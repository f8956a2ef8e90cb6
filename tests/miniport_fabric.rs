//! The miniport on the driver-wide fabric, on the host: adapters attached with `FabricPort`,
//! their addresses set through `OID_GEN_NETWORK_LAYER_ADDRESSES`, `NDK_ADAPTER`s built by
//! `ndk_config::ndk_adapter_config`, connections made through the consumer wrapper, and what
//! `OID_NDK_CONNECTIONS` / `OID_NDK_LOCAL_ENDPOINTS` and `OID_NDK_STATISTICS` then report.
#![allow(clippy::many_single_char_names)]

mod ndk_conn_common;

use ndk_conn_common::{A4, B4, Net, closed, establish, listen, v4};
use softndk::abi::{
    NDK_VERSION, OID_NDK_CONNECTIONS, OID_NDK_LOCAL_ENDPOINTS, STATUS_HOST_UNREACHABLE,
    STATUS_PENDING, STATUS_SUCCESS,
};
use softndk::consumer::{Adapter, Connector, Request};
use softndk::dispatch::handle;
use softndk::fabric::{Address, Fabric, FabricConfig, IpAddr};
use softndk::miniport::counters::AdapterCounters;
use softndk::miniport::fabric_port::FabricPort;
use softndk::miniport::ndk_config::{self, NdkAdapterState};
use softndk::miniport::oid::{self, OidState};
use softndk::platform::Platform;
use softndk::platform::host::Host;
use softndk::sys::oid::{NDIS_PROTOCOL_ID_TCP_IP, OID_GEN_NETWORK_LAYER_ADDRESSES};
use softndk::sys::{NDIS_STATUS_BUFFER_TOO_SHORT, NDIS_STATUS_SUCCESS};
use softndk::verbs::{self, StatsSnapshot};

/// A `NETWORK_ADDRESS_LIST` with the IPv4 addresses `ips` (empty: clear IPv4).
fn address_list(ips: &[[u8; 4]]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&i32::try_from(ips.len()).unwrap().to_le_bytes());
    b.extend_from_slice(&NDIS_PROTOCOL_ID_TCP_IP.to_le_bytes());
    for ip in ips {
        b.extend_from_slice(&16_u16.to_le_bytes());
        b.extend_from_slice(&NDIS_PROTOCOL_ID_TCP_IP.to_le_bytes());
        b.extend_from_slice(&[0, 0, 0, 0]);
        b.extend_from_slice(ip);
        b.extend_from_slice(&[0; 8]);
    }
    b
}

/// One miniport adapter: its OID state and its place on the fabric.
struct Miniport {
    state: OidState,
    port: FabricPort,
}

impl Miniport {
    fn new(fabric: &softndk::cm::ndk::NdkFabric, mac_last: u8) -> Self {
        Self {
            state: OidState::new([2, 0x53, 0, 0, 0, mac_last]),
            port: FabricPort::attach(fabric),
        }
    }

    /// What the control trampoline does for a set of the adapter's addresses.
    fn set_addresses(&mut self, ips: &[[u8; 4]]) {
        let outcome = oid::set(
            OID_GEN_NETWORK_LAYER_ADDRESSES,
            &address_list(ips),
            &mut self.state,
        );
        assert_eq!(outcome.status, NDIS_STATUS_SUCCESS);
        let registered = self.port.sync(&self.state.addresses);
        assert_eq!(registered, self.state.addresses, "every address registered");
    }

    /// What the open handler does: an `NDK_ADAPTER` from `ndk_adapter_config`.
    fn open(&self, p: &Platform) -> Adapter {
        let state = NdkAdapterState {
            fabric: Some(self.port.fabric().clone()),
            addresses: self.port.addresses(),
            ..NdkAdapterState::detached(0x0123_4567)
        };
        Adapter::open(
            &ndk_config::ndk_adapter_config(&state),
            p,
            NDK_VERSION::new(2, 1),
        )
        .unwrap()
    }

    /// A list OID answered from the fabric into `buf`.
    fn list(&self, oid: u32, buf: &mut [u8]) -> oid::OidOutcome {
        let counters = AdapterCounters::new().snapshot();
        self.port
            .with_lists(|lists| oid::query(oid, buf, &self.state, &counters, lists))
            .unwrap()
    }
}

fn stats(adapter: &Adapter) -> StatsSnapshot {
    // SAFETY: an open adapter of this provider, not closed during the borrow.
    let borrowed = unsafe { handle::borrow::<verbs::Adapter>(adapter.raw()) }.unwrap();
    borrowed.stats()
}

fn count(buf: &[u8]) -> u32 {
    u32::from_le_bytes(buf[8..12].try_into().unwrap())
}

fn sockaddr(buf: &[u8], at: usize) -> Address {
    Address::from_sockaddr(&buf[at..at + 28]).unwrap()
}

const LISTEN_PORT: u16 = 5445;

#[test]
fn connections_between_two_adapters_show_in_the_lists_and_the_statistics() {
    let host = Host::deterministic();
    let p = Platform::clone(&host);
    let fabric = Fabric::new(p.clone(), FabricConfig::default()).unwrap();
    let mut ma = Miniport::new(&fabric, 1);
    let mut mb = Miniport::new(&fabric, 2);
    ma.set_addresses(&[A4]);
    mb.set_addresses(&[B4]);
    let net = Net {
        a: ma.open(&p),
        b: mb.open(&p),
        host,
        fabric,
    };
    let sa = Net::side(&net.a, 1);
    let sb = Net::side(&net.b, 2);
    // A wildcard listener: connects to B's address reach it because B's id owns 10.0.0.2.
    let (listener, events) = listen(&net.b, &v4([0; 4], LISTEN_PORT));
    let link = establish(
        &net,
        &net.a,
        &sa,
        &events,
        &sb,
        &v4(A4, 0),
        &v4(B4, LISTEN_PORT),
    );
    let active_local = link.active.local_address().unwrap();

    // OID_NDK_CONNECTIONS on each adapter: its own side of the one connection.
    let mut buf = [0_u8; 256];
    let outcome = mb.list(OID_NDK_CONNECTIONS, &mut buf);
    assert_eq!(outcome.status, NDIS_STATUS_SUCCESS);
    assert_eq!(outcome.bytes_done, 16 + 64);
    assert_eq!(count(&buf), 1);
    assert_eq!(sockaddr(&buf, 16), v4(B4, LISTEN_PORT));
    assert_eq!(sockaddr(&buf, 16 + 28), active_local);
    let outcome = ma.list(OID_NDK_CONNECTIONS, &mut buf);
    assert_eq!(outcome.bytes_done, 16 + 64);
    assert_eq!(sockaddr(&buf, 16), active_local);
    assert_eq!(sockaddr(&buf, 16 + 28), v4(B4, LISTEN_PORT));
    // Too short: the whole list is needed, nothing written.
    let mut short = [0xAA_u8; 79];
    let outcome = mb.list(OID_NDK_CONNECTIONS, &mut short);
    assert_eq!(outcome.status, NDIS_STATUS_BUFFER_TOO_SHORT);
    assert_eq!(outcome.bytes_needed, 80);
    assert!(short.iter().all(|&b| b == 0xAA));

    // OID_NDK_LOCAL_ENDPOINTS: B has its listener's endpoint (shared by the accepted
    // connector), A the connector's private endpoint.
    let outcome = mb.list(OID_NDK_LOCAL_ENDPOINTS, &mut buf);
    assert_eq!(outcome.bytes_done, 16 + 36);
    assert_eq!(count(&buf), 1);
    assert_eq!(sockaddr(&buf, 16), v4([0; 4], LISTEN_PORT));
    assert_eq!(buf[16 + 29], 1, "Listener");
    let outcome = ma.list(OID_NDK_LOCAL_ENDPOINTS, &mut buf);
    assert_eq!(outcome.bytes_done, 16 + 36);
    assert_eq!(sockaddr(&buf, 16), active_local);
    assert_eq!(buf[16 + 29], 0, "not a listener");
    let outcome = ma.list(OID_NDK_LOCAL_ENDPOINTS, &mut buf[..51]);
    assert_eq!(outcome.status, NDIS_STATUS_BUFFER_TOO_SHORT);
    assert_eq!(outcome.bytes_needed, 52);

    // The connection counters.
    let (a, b) = (stats(&net.a), stats(&net.b));
    assert_eq!((a.connects, a.accepts, a.active_connections), (1, 0, 1));
    assert_eq!((b.connects, b.accepts, b.active_connections), (0, 1, 1));

    // Graceful teardown: both sides end, the list empties, the gauge drops.
    let (da, db) = (Request::new(), Request::new());
    assert_eq!(link.active.disconnect(&da), STATUS_PENDING);
    net.run();
    assert_eq!(link.passive.disconnect(&db), STATUS_PENDING);
    net.run();
    assert_eq!(
        (da.statuses(), db.statuses()),
        (vec![STATUS_SUCCESS], vec![STATUS_SUCCESS])
    );
    let outcome = mb.list(OID_NDK_CONNECTIONS, &mut buf);
    assert_eq!((outcome.bytes_done, count(&buf)), (16, 0));
    let (a, b) = (stats(&net.a), stats(&net.b));
    assert_eq!(
        (a.connects, a.active_connections, a.connection_errors),
        (1, 0, 0)
    );
    assert_eq!((b.accepts, b.active_connections), (1, 0));

    closed(&net, link.active.close());
    closed(&net, link.passive.close());
    closed(&net, listener.close());
    sa.close();
    sb.close();
    drop((ma, mb));
    net.close();
}

#[test]
fn every_instance_of_an_adapter_shares_its_addresses_and_follows_their_changes() {
    let host = Host::deterministic();
    let p = Platform::clone(&host);
    let fabric = Fabric::new(p.clone(), FabricConfig::default()).unwrap();
    let mut ma = Miniport::new(&fabric, 1);
    let mut mb = Miniport::new(&fabric, 2);
    mb.set_addresses(&[B4]);
    // Opened before A has any address; a second instance of B (SMB client and server both
    // open one) does not conflict with the first over B's address.
    let a = ma.open(&p);
    let b_client = mb.open(&p);
    let net = Net {
        a,
        b: mb.open(&p),
        host,
        fabric,
    };
    let sa = Net::side(&net.a, 1);
    let sb = Net::side(&b_client, 2);
    // A has no address yet: unreachable.
    let c = Connector::create(&b_client).unwrap();
    let req = Request::new();
    assert_eq!(
        c.connect(&sb.qp, &v4(B4, 0), &v4(A4, LISTEN_PORT), 8, 8, b"", &req),
        STATUS_HOST_UNREACHABLE
    );
    // TCP/IP tells A its address: the instance opened before can listen on it and is
    // reachable now.
    ma.set_addresses(&[A4]);
    let (listener, events) = listen(&net.a, &v4([0; 4], LISTEN_PORT));
    let link = establish(
        &net,
        &b_client,
        &sb,
        &events,
        &sa,
        &v4(B4, 0),
        &v4(A4, LISTEN_PORT),
    );
    assert_eq!(
        stats(&b_client).connects,
        1,
        "counted on the instance that connected"
    );
    assert_eq!(stats(&net.b).connects, 0, "not on B's other instance");
    // The connection is B's whichever instance made it: the list is per miniport adapter.
    let mut buf = [0_u8; 256];
    let _ = mb.list(OID_NDK_CONNECTIONS, &mut buf);
    assert_eq!(count(&buf), 1);
    // An empty IPv4 list clears A's addresses: new connects are unreachable, the
    // established connection stays.
    ma.set_addresses(&[]);
    assert!(ma.port.addresses().is_empty());
    let c2 = Connector::create(&b_client).unwrap();
    assert_eq!(
        c2.connect(&sb.qp, &v4(B4, 0), &v4(A4, LISTEN_PORT), 8, 8, b"", &req),
        STATUS_HOST_UNREACHABLE
    );
    assert_eq!(req.calls(), 0, "inline failures never complete");
    assert!(
        link.active.local_address().is_ok(),
        "the established connection is untouched"
    );

    for x in [c, c2] {
        closed(&net, x.close());
    }
    closed(&net, link.active.close());
    closed(&net, link.passive.close());
    closed(&net, listener.close());
    sa.close();
    sb.close();
    b_client.close();
    drop((ma, mb));
    net.close();
}

#[test]
fn halting_an_adapter_takes_its_addresses_off_the_fabric() {
    let p = Host::deterministic();
    let fabric = Fabric::new(p, FabricConfig::default()).unwrap();
    let mut ma = Miniport::new(&fabric, 1);
    ma.set_addresses(&[A4]);
    let mut other = Miniport::new(&fabric, 2);
    // A's address cannot be given to another adapter while A has it.
    let _ = oid::set(
        OID_GEN_NETWORK_LAYER_ADDRESSES,
        &address_list(&[A4]),
        &mut other.state,
    );
    assert!(other.port.sync(&other.state.addresses).is_empty());
    drop(ma);
    // After A's halt, the address is free.
    assert_eq!(other.port.sync(&other.state.addresses).len(), 1);
    assert_eq!(other.port.addresses().iter().next(), Some(IpAddr::V4(A4)));
}

/// Two adapters on one fabric with their addresses, as in the tests above.
fn pair_net() -> (Net, Miniport, Miniport) {
    let host = Host::deterministic();
    let p = Platform::clone(&host);
    let fabric = Fabric::new(p.clone(), FabricConfig::default()).unwrap();
    let mut ma = Miniport::new(&fabric, 1);
    let mut mb = Miniport::new(&fabric, 2);
    ma.set_addresses(&[A4]);
    mb.set_addresses(&[B4]);
    let net = Net {
        a: ma.open(&p),
        b: mb.open(&p),
        host,
        fabric,
    };
    (net, ma, mb)
}

#[test]
fn a_rejected_attempt_is_a_connect_failure_and_a_peer_abort_a_connection_error() {
    let (net, ma, mb) = pair_net();
    let sa = Net::side(&net.a, 1);
    let sb = Net::side(&net.b, 2);
    let (listener, events) = listen(&net.b, &v4(B4, LISTEN_PORT));

    // Rejected: the active side counts a failed attempt, nobody a connection.
    let c = Connector::create(&net.a).unwrap();
    let req = Request::new();
    assert_eq!(
        c.connect(&sa.qp, &v4(A4, 0), &v4(B4, LISTEN_PORT), 8, 8, b"", &req),
        STATUS_PENDING
    );
    net.run();
    let incoming = events.take().expect("connect event");
    assert_eq!(incoming.reject(b""), STATUS_SUCCESS);
    net.run();
    assert_eq!(req.calls(), 1);
    let (a, b) = (stats(&net.a), stats(&net.b));
    assert_eq!(
        (a.connects, a.connect_failures, a.active_connections),
        (0, 1, 0)
    );
    assert_eq!(
        (b.accepts, b.connect_failures, b.active_connections),
        (0, 0, 0)
    );
    closed(&net, c.close());
    closed(&net, incoming.close());
    sa.close();
    let sa = Net::side(&net.a, 3);

    // Established, then B's connector closes without disconnecting: A's connection was
    // aborted under it, so its end counts as a connection error; B's own close does not.
    let link = establish(
        &net,
        &net.a,
        &sa,
        &events,
        &sb,
        &v4(A4, 0),
        &v4(B4, LISTEN_PORT),
    );
    closed(&net, link.passive.close());
    let done = Request::new();
    assert_eq!(link.active.disconnect(&done), STATUS_PENDING);
    net.run();
    assert_eq!(done.statuses(), [STATUS_SUCCESS]);
    let (a, b) = (stats(&net.a), stats(&net.b));
    assert_eq!(
        (a.connects, a.connection_errors, a.active_connections),
        (1, 1, 0)
    );
    assert_eq!(
        (b.accepts, b.connection_errors, b.active_connections),
        (1, 0, 0)
    );

    closed(&net, link.active.close());
    closed(&net, listener.close());
    sa.close();
    sb.close();
    drop((ma, mb));
    net.close();
}
