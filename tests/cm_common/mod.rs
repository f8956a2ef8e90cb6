//! Test family for the connection manager: adapters, QPs, completions, events and shells that
//! record what happened, on a deterministic host platform.
#![allow(
    dead_code,
    clippy::missing_panics_doc,
    clippy::must_use_candidate,
    clippy::unused_self,
    reason = "shared test helpers; not every test uses every helper"
)]

use std::string::String;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::vec::Vec;

use softndk::abi::NTSTATUS;
use softndk::cm::{
    CmAdapter, CmLimits, Complete, Connector, Family, Listener, ListenerShell, Notify, QpLink,
    ReadLimits, SharedEndpoint, Shell,
};
use softndk::fabric::{AdapterId, Address, Fabric, FabricConfig, IpAddr, PortRange};
use softndk::lifetime::{Base, Closed, Farewell, Links, Node, Tracked};
use softndk::platform::Platform;
use softndk::platform::host::Host;

/// Everything that reached the consumer, in order.
#[derive(Default)]
pub struct Log {
    entries: Mutex<Vec<(String, u32)>>,
}

impl Log {
    pub fn push(&self, tag: &str, value: u32) {
        self.entries.lock().unwrap().push((tag.into(), value));
    }
    /// Values logged under `tag`.
    pub fn of(&self, tag: &str) -> Vec<u32> {
        self.entries
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _)| t == tag)
            .map(|(_, v)| *v)
            .collect()
    }
    /// Statuses logged under `tag`.
    pub fn statuses(&self, tag: &str) -> Vec<NTSTATUS> {
        self.of(tag).into_iter().map(NTSTATUS::from_u32).collect()
    }
    pub fn tags(&self) -> Vec<String> {
        self.entries
            .lock()
            .unwrap()
            .iter()
            .map(|(t, _)| t.clone())
            .collect()
    }
}

pub struct Done {
    log: Arc<Log>,
    tag: &'static str,
}

impl Complete for Done {
    fn complete(self, status: NTSTATUS) {
        softndk::platform::assert_no_provider_lock_held();
        self.log.push(self.tag, status.as_u32());
    }
}

#[derive(Clone)]
pub struct Event {
    log: Arc<Log>,
    tag: &'static str,
}

impl Notify for Event {
    fn notify(&self, reason: u32) {
        softndk::platform::assert_no_provider_lock_held();
        self.log.push(self.tag, reason);
    }
}

/// A close completion that counts, if the closer "stored" one (armed).
pub struct CloseCount {
    armed: AtomicBool,
    count: Arc<AtomicUsize>,
}

impl CloseCount {
    const fn new(count: Arc<AtomicUsize>) -> Self {
        Self {
            armed: AtomicBool::new(false),
            count,
        }
    }
}

pub struct CountFarewell(Option<Arc<AtomicUsize>>);

impl Farewell for CountFarewell {
    fn complete(self) {
        if let Some(c) = self.0 {
            c.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Shell for CloseCount {
    type Farewell = CountFarewell;
    fn farewell(&self) -> CountFarewell {
        CountFarewell(
            self.armed
                .load(Ordering::SeqCst)
                .then(|| Arc::clone(&self.count)),
        )
    }
}

pub struct ListenerHooks {
    close: CloseCount,
    connector_closes: Arc<AtomicUsize>,
    pub incoming: Mutex<Vec<Base<Connector<T>>>>,
    pub events: AtomicUsize,
}

impl Shell for ListenerHooks {
    type Farewell = CountFarewell;
    fn farewell(&self) -> CountFarewell {
        self.close.farewell()
    }
}

impl ListenerShell<T> for ListenerHooks {
    fn incoming_shell(&self) -> CloseCount {
        CloseCount::new(Arc::clone(&self.connector_closes))
    }
    fn connect_event(&self, connector: Base<Connector<T>>) {
        softndk::platform::assert_no_provider_lock_held();
        self.events.fetch_add(1, Ordering::SeqCst);
        self.incoming.lock().unwrap().push(connector);
    }
}

pub struct TestAdapter {
    node: Node,
    id: AdapterId,
    limits: CmLimits,
}

impl Tracked for TestAdapter {
    type Farewell = ();
    fn node(&self) -> &Node {
        &self.node
    }
    fn finalize(&self) {}
}

impl CmAdapter for TestAdapter {
    fn fabric_id(&self) -> AdapterId {
        self.id
    }
    fn cm_limits(&self) -> CmLimits {
        self.limits
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QpEvent {
    Joined { own: ReadLimits, peer: ReadLimits },
    Flushed,
}

pub struct TestQp {
    node: Node,
    pub log: Mutex<Vec<QpEvent>>,
    pub refuse_join: AtomicBool,
}

impl Tracked for TestQp {
    type Farewell = ();
    fn node(&self) -> &Node {
        &self.node
    }
    fn finalize(&self) {}
}

impl QpLink for TestQp {
    fn connect(
        &self,
        peer: &Self,
        own: ReadLimits,
        peer_limits: ReadLimits,
    ) -> Result<(), NTSTATUS> {
        softndk::platform::assert_no_provider_lock_held();
        if self.refuse_join.load(Ordering::SeqCst) {
            return Err(softndk::abi::STATUS_INVALID_DEVICE_STATE);
        }
        self.log.lock().unwrap().push(QpEvent::Joined {
            own,
            peer: peer_limits,
        });
        peer.log.lock().unwrap().push(QpEvent::Joined {
            own: peer_limits,
            peer: own,
        });
        Ok(())
    }
    fn stop_and_flush(&self) {
        softndk::platform::assert_no_provider_lock_held();
        self.log.lock().unwrap().push(QpEvent::Flushed);
    }
}

impl TestQp {
    pub fn events(&self) -> Vec<QpEvent> {
        self.log.lock().unwrap().clone()
    }
    pub fn flushes(&self) -> usize {
        self.events()
            .iter()
            .filter(|e| **e == QpEvent::Flushed)
            .count()
    }
}

/// The test family.
pub struct T;

impl Family for T {
    type Adapter = TestAdapter;
    type Qp = TestQp;
    type Completion = Done;
    type DisconnectEvent = Event;
    type ConnectorShell = CloseCount;
    type ListenerShell = ListenerHooks;
    type EndpointShell = CloseCount;
}

pub const A4: [u8; 4] = [10, 0, 0, 1];
pub const B4: [u8; 4] = [10, 0, 0, 2];
pub const A6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub const B6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

pub fn limits(ird: u32, ord: u32) -> CmLimits {
    CmLimits::new(ReadLimits::new(ird, ord), 56, 148)
}

/// A fabric with two adapters: `a` (`10.0.0.1`, `fd00::1`) and `b` (`10.0.0.2`, `fd00::2`).
pub struct World {
    pub host: Host,
    pub fabric: Fabric<T>,
    pub log: Arc<Log>,
    pub a: Base<TestAdapter>,
    pub b: Base<TestAdapter>,
    pub closes: Arc<AtomicUsize>,
}

pub const fn config() -> FabricConfig {
    FabricConfig {
        ephemeral: PortRange {
            first: 50000,
            last: 50009,
        },
        connect_timeout: Duration::from_secs(1),
        accept_timeout: Duration::from_secs(2),
        disconnect_timeout: Duration::from_secs(3),
        backlog: 4,
    }
}

impl World {
    pub fn new() -> Self {
        Self::with(config(), limits(16, 16), limits(16, 16))
    }

    pub fn with(config: FabricConfig, la: CmLimits, lb: CmLimits) -> Self {
        Self::on(Host::deterministic(), config, la, lb)
    }

    /// Deferred work runs in a random (seeded, reproducible) order.
    pub fn seeded(seed: u64) -> Self {
        Self::on(
            Host::deterministic_seeded(seed),
            config(),
            limits(16, 16),
            limits(16, 16),
        )
    }

    pub fn on(host: Host, config: FabricConfig, la: CmLimits, lb: CmLimits) -> Self {
        let fabric = Fabric::new(Platform::clone(&host), config);
        let a = fabric.attach_adapter();
        let b = fabric.attach_adapter();
        fabric.add_address(a, IpAddr::V4(A4)).unwrap();
        fabric.add_address(a, IpAddr::v6(A6)).unwrap();
        fabric.add_address(b, IpAddr::V4(B4)).unwrap();
        fabric.add_address(b, IpAddr::v6(B6)).unwrap();
        let adapter = |id, limits| {
            Base::new(TestAdapter {
                node: Node::new(Links::new()),
                id,
                limits,
            })
        };
        Self {
            host,
            fabric,
            log: Arc::default(),
            a: adapter(a, la),
            b: adapter(b, lb),
            closes: Arc::default(),
        }
    }

    pub fn run(&self) -> usize {
        self.host.run_until_idle()
    }

    pub fn done(&self, tag: &'static str) -> Done {
        Done {
            log: Arc::clone(&self.log),
            tag,
        }
    }

    pub fn event(&self, tag: &'static str) -> Event {
        Event {
            log: Arc::clone(&self.log),
            tag,
        }
    }

    pub fn shell(&self) -> CloseCount {
        CloseCount::new(Arc::clone(&self.closes))
    }

    pub fn listener(&self, on: &Base<TestAdapter>, addr: Address) -> Base<Listener<T>> {
        let l = self.new_listener(on);
        Listener::listen(l.arc(), addr).unwrap();
        l
    }

    pub fn new_listener(&self, on: &Base<TestAdapter>) -> Base<Listener<T>> {
        let hooks = ListenerHooks {
            close: self.shell(),
            connector_closes: Arc::clone(&self.closes),
            incoming: Mutex::default(),
            events: AtomicUsize::new(0),
        };
        Listener::new(&self.fabric, on.unit(), hooks).unwrap()
    }

    pub fn connector(&self, on: &Base<TestAdapter>) -> Base<Connector<T>> {
        Connector::new(&self.fabric, on.unit(), self.shell()).unwrap()
    }

    pub fn endpoint(&self, on: &Base<TestAdapter>, addr: Address) -> Base<SharedEndpoint<T>> {
        SharedEndpoint::new(&self.fabric, on.unit(), self.shell(), addr).unwrap()
    }

    pub fn qp(&self) -> Base<TestQp> {
        Base::new(TestQp {
            node: Node::new(Links::new()),
            log: Mutex::default(),
            refuse_join: AtomicBool::new(false),
        })
    }

    /// Close completions counted so far (closes that pended and completed).
    pub fn close_completions(&self) -> usize {
        self.closes.load(Ordering::SeqCst)
    }

    /// Connect `c` with `qp` from `src` to `dst` asking `ask` limits.
    pub fn connect(
        &self,
        c: &Base<Connector<T>>,
        qp: &Base<TestQp>,
        src: Address,
        dst: Address,
        ask: ReadLimits,
        data: &[u8],
    ) -> Result<(), NTSTATUS> {
        Connector::connect(
            c.arc(),
            qp.unit(),
            (src, dst),
            ask,
            data,
            self.done("connect"),
        )
    }

    /// The connectors `l` handed up since the last call.
    pub fn incoming(&self, l: &Base<Listener<T>>) -> Vec<Base<Connector<T>>> {
        core::mem::take(&mut *l.shell().incoming.lock().unwrap())
    }

    /// Full establishment between adapter `a` (active) and a listener on `b` at `dst`.
    pub fn establish(&self, dst: Address, src: Address) -> Pair {
        let listener = self.listener(&self.b, dst);
        let active = self.connector(&self.a);
        let (qa, qb) = (self.qp(), self.qp());
        self.connect(&active, &qa, src, dst, ReadLimits::new(8, 8), b"hi")
            .unwrap();
        self.run();
        let passive = self.incoming(&listener).pop().unwrap();
        Connector::accept(
            passive.arc(),
            qb.unit(),
            ReadLimits::new(8, 8),
            b"yo",
            Some(self.event("event-b")),
            self.done("accept"),
        )
        .unwrap();
        self.run();
        Connector::complete_connect(active.arc(), Some(self.event("event-a"))).unwrap();
        self.run();
        Pair {
            listener,
            active,
            passive,
            qa,
            qb,
        }
    }
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

pub struct Pair {
    pub listener: Base<Listener<T>>,
    pub active: Base<Connector<T>>,
    pub passive: Base<Connector<T>>,
    pub qa: Base<TestQp>,
    pub qb: Base<TestQp>,
}

/// Closes a connector with a "stored" close completion.
pub fn close_connector(c: Base<Connector<T>>) -> Closed {
    Connector::close(c, |s| s.shell().armed.store(true, Ordering::SeqCst)).unwrap()
}

pub fn close_listener(l: Base<Listener<T>>) -> Closed {
    Listener::close(l, |s| s.shell().close.armed.store(true, Ordering::SeqCst)).unwrap()
}

pub fn close_endpoint(e: Base<SharedEndpoint<T>>) -> Closed {
    SharedEndpoint::close(e, |s| s.shell().armed.store(true, Ordering::SeqCst)).unwrap()
}

pub const fn v4(ip: [u8; 4], port: u16) -> Address {
    Address::v4(ip, port)
}

pub const fn v6(ip: [u8; 16], port: u16) -> Address {
    Address::v6(ip, port)
}
