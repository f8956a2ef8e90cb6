//! The miniport's NDK side on the host: what `OpenNDKAdapterHandler`/`CloseNDKAdapterHandler`
//! run (`miniport::ndk_adapters`), the instance registry and its statistics, and the NDK
//! attributes against what the provider answers in `NdkQueryAdapterInfo`.
// p platform, a/b sides: the scenario vocabulary.
#![allow(clippy::many_single_char_names)]

mod ndk_common;

use std::sync::{Arc, Mutex};

use ndk_common::Pair;
use softndk::abi::{
    NDIS_STATUS_ADAPTER_NOT_READY, NDIS_STATUS_BAD_VERSION, NDIS_STATUS_RESOURCES, NDK_ADAPTER,
    NDK_ADAPTER_INFO, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NDK_MR_FLAG_ALLOW_REMOTE_READ, NDK_VERSION,
    NDK_VERSION_1_2, NDK_VERSION_2_1, OID_NDK_STATISTICS, STATUS_SUCCESS,
};
use softndk::consumer::{Adapter, Closed, QpLimits};
use softndk::dispatch::handle;
use softndk::miniport::config;
use softndk::miniport::counters::AdapterCounters;
use softndk::miniport::instances::NdkInstances;
use softndk::miniport::ndk_adapters;
use softndk::miniport::ndk_config::{self, NdkAdapterState};
use softndk::miniport::ndk_state::NdkAnnouncer;
use softndk::miniport::oid;
use softndk::platform::Platform;
use softndk::platform::host::{FaultPlan, Host};
use softndk::verbs;

const STATE: NdkAdapterState = NdkAdapterState::detached(0x5EC2_E700);

/// One miniport adapter's NDK side: NDK enabled (keyword absent, provider ready).
struct Miniport {
    p: Platform,
    ndk: NdkAnnouncer,
    instances: NdkInstances,
}

impl Miniport {
    fn new() -> Self {
        Self::on(Host::deterministic())
    }

    /// A miniport on `p` (a threaded host for tests where another thread releases a waiter:
    /// the deterministic host's wait refuses to block when its own queue is empty).
    fn on(p: Host) -> Self {
        let ndk = NdkAnnouncer::try_new(&p, None, config::NDK_PROVIDER_READY).unwrap();
        let instances = NdkInstances::try_new(&p).unwrap();
        Self { p, ndk, instances }
    }

    fn open(&self, requested: NDK_VERSION) -> Result<*mut NDK_ADAPTER, softndk::abi::NDIS_STATUS> {
        ndk_adapters::open(&self.ndk, &self.instances, &self.p, &STATE, requested)
    }

    fn close(&self, instance: *mut NDK_ADAPTER) {
        // SAFETY: an instance `open` returned (or one the registry does not know).
        unsafe { ndk_adapters::close(&self.instances, instance) };
    }

    /// Registers an adapter the consumer wrapper opened, as the open handler registers its
    /// own, so wrapper-made traffic shows in the registry's statistics.
    fn adopt(&self, adapter: &Adapter) {
        // SAFETY: an open adapter of this provider, not closed during the borrow.
        let borrowed = unsafe { handle::borrow::<verbs::Adapter>(adapter.raw()) }.unwrap();
        self.instances.opened(Arc::clone(&borrowed)).unwrap();
    }

    fn statistics(&self) -> [u64; 30] {
        let counters = AdapterCounters::new()
            .snapshot()
            .with_ndk(&self.instances.stats());
        let mut buf = [0_u8; 248];
        let outcome = oid::direct_query(OID_NDK_STATISTICS, &mut buf, &counters);
        assert_eq!(outcome.bytes_done, 248);
        std::array::from_fn(|i| u64::from_le_bytes(buf[8 + 8 * i..16 + 8 * i].try_into().unwrap()))
    }
}

fn query_info(instance: *mut NDK_ADAPTER) -> NDK_ADAPTER_INFO {
    let mut info = NDK_ADAPTER_INFO::default();
    let mut size = u32::try_from(size_of::<NDK_ADAPTER_INFO>()).unwrap();
    // SAFETY: a live adapter object.
    let dispatch = unsafe { (*instance).Dispatch };
    // SAFETY: the provider set `Dispatch` to its static table.
    let table = unsafe { &*dispatch };
    // SAFETY: a live adapter, a buffer of `size` bytes and its size.
    let status = unsafe { (table.NdkQueryAdapterInfo)(instance, &raw mut info, &raw mut size) };
    assert_eq!(status, STATUS_SUCCESS);
    info
}

#[test]
fn several_instances_open_and_each_close_unregisters_one() {
    let m = Miniport::new();
    let a = m.open(NDK_VERSION::new(1, 0)).unwrap();
    let b = m.open(NDK_VERSION::new(1, 2)).unwrap();
    let c = m.open(NDK_VERSION::new(2, 0)).unwrap();
    assert!(a != b && b != c && a != c, "each open is a distinct object");
    assert_eq!(m.instances.open_count(), 3);
    assert_eq!(query_info(a).Version, NDK_VERSION_1_2);
    assert_eq!(query_info(c).Version, NDK_VERSION_2_1);

    m.close(b);
    assert_eq!(m.instances.open_count(), 2);
    m.close(b);
    assert_eq!(m.instances.open_count(), 2, "a second close is ignored");
    m.close(std::ptr::null_mut());
    assert_eq!(m.instances.open_count(), 2, "NULL is ignored");
    m.close(a);
    m.close(c);
    assert_eq!(m.instances.open_count(), 0);
    m.instances.wait_idle();
    assert_eq!(
        m.p.alloc_stats().live,
        0,
        "every instance's provider objects are freed once unregistered"
    );
}

#[test]
fn opens_are_refused_while_ndk_is_off_or_a_disable_is_pending() {
    let p = Host::deterministic();
    let instances = NdkInstances::try_new(&p).unwrap();
    let off = NdkAnnouncer::try_new(&p, Some(0), config::NDK_PROVIDER_READY).unwrap();
    let before = p.alloc_stats().live;
    assert_eq!(
        ndk_adapters::open(&off, &instances, &p, &STATE, NDK_VERSION::new(1, 0)),
        Err(NDIS_STATUS_ADAPTER_NOT_READY),
        "*NetworkDirect = 0"
    );
    let on = NdkAnnouncer::try_new(&p, None, config::NDK_PROVIDER_READY).unwrap();
    assert!(on.request(false), "a disable needs announcing");
    assert_eq!(
        ndk_adapters::open(&on, &instances, &p, &STATE, NDK_VERSION::new(1, 0)),
        Err(NDIS_STATUS_ADAPTER_NOT_READY),
        "disable pending"
    );
    assert_eq!(on.next_announcement(), Some(false));
    assert_eq!(on.next_announcement(), None);
    assert!(on.request(true));
    assert_eq!(
        ndk_adapters::open(&on, &instances, &p, &STATE, NDK_VERSION::new(1, 0)),
        Err(NDIS_STATUS_ADAPTER_NOT_READY),
        "enable not announced yet"
    );
    assert_eq!(on.next_announcement(), Some(true));
    let opened = ndk_adapters::open(&on, &instances, &p, &STATE, NDK_VERSION::new(1, 0)).unwrap();
    assert_eq!(instances.open_count(), 1);
    // SAFETY: returned by `open` above.
    unsafe { ndk_adapters::close(&instances, opened) };
    assert_eq!(instances.open_count(), 0);
    drop(on);
    assert_eq!(
        p.alloc_stats().live,
        before,
        "refused opens leave nothing behind"
    );
}

#[test]
fn version_negotiation_is_the_providers() {
    let m = Miniport::new();
    for bad in [(3, 0), (1, 3), (0, 0), (2, 2)] {
        assert_eq!(
            m.open(NDK_VERSION::new(bad.0, bad.1)),
            Err(NDIS_STATUS_BAD_VERSION),
            "{bad:?}"
        );
    }
    assert_eq!(m.instances.open_count(), 0);
}

#[test]
fn allocation_failures_answer_resources_and_leave_nothing_open() {
    let m = Miniport::new();
    let host = m.p.clone();
    let before = host.alloc_stats().live;
    let mut failed = 0;
    for n in 0.. {
        host.set_fault_plan(FaultPlan::FailNth(n));
        match m.open(NDK_VERSION::new(1, 0)) {
            Err(status) => {
                assert_eq!(status, NDIS_STATUS_RESOURCES, "allocation {n}");
                assert_eq!(m.instances.open_count(), 0);
                assert_eq!(
                    host.alloc_stats().live,
                    before,
                    "allocation {n} leaks nothing"
                );
                failed += 1;
            }
            Ok(instance) => {
                host.set_fault_plan(FaultPlan::Off);
                m.close(instance);
                break;
            }
        }
    }
    assert!(
        failed >= 2,
        "the provider's event and adapter object were both exercised"
    );
    assert_eq!(host.alloc_stats().live, before);
}

#[test]
fn the_attributes_report_what_the_provider_answers() {
    let m = Miniport::new();
    let provider = ndk_config::ndk_adapter_config(&STATE);
    let attributes = ndk_config::ndk_adapter_info(&provider);
    let instance = m.open(NDK_VERSION::new(1, 0)).unwrap();
    assert_eq!(
        query_info(instance),
        attributes,
        "NDIS's copy equals NdkQueryAdapterInfo for a 1.x open"
    );
    let capabilities = ndk_config::ndk_capabilities(&provider);
    assert_eq!(
        capabilities.MaxMrCount,
        verbs::Limits::SOFTNDK.max_memory_objects
    );
    // Another per-open state changes nothing NDIS sees.
    let other = ndk_config::ndk_adapter_config(&NdkAdapterState::detached(1));
    assert_eq!(ndk_config::ndk_adapter_info(&other), attributes);
    m.close(instance);
}

#[test]
fn close_returns_only_after_the_descendants_are_closed() {
    let m = Arc::new(Miniport::on(Host::threaded(1)));
    let adapter = Adapter::open(&ndk_common::config(), &m.p, NDK_VERSION::new(1, 0)).unwrap();
    m.adopt(&adapter);
    let pd = adapter.create_pd().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let closer = {
        let (m, log) = (Arc::clone(&m), Arc::clone(&log));
        let raw = adapter.raw() as usize;
        std::thread::spawn(move || {
            m.close(raw as *mut NDK_ADAPTER);
            log.lock()
                .unwrap()
                .push(("adapter closed", m.instances.open_count()));
        })
    };
    // Whether or not the closer has started, the instance counts until its close returns.
    log.lock()
        .unwrap()
        .push(("closing the PD", m.instances.open_count()));
    assert!(matches!(pd.close(), Closed::Now));
    closer.join().unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        [("closing the PD", 1), ("adapter closed", 0)]
    );
    m.instances.wait_idle();
}

#[test]
fn statistics_count_real_traffic_and_survive_close() {
    let m = Miniport::new();
    let pair = Pair::new(&m.p, 16, QpLimits::default());
    m.adopt(&pair.adapter);
    let (a, b) = (&pair.a, &pair.b);
    let (src, src_mr) = a.buffer(b"0123456789", 0);
    let (dst, dst_mr) = b.buffer(&[0; 16], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    assert_eq!(
        b.qp.receive(1, &[dst.sge(0, 16, dst_mr.local_token())]),
        STATUS_SUCCESS
    );
    assert_eq!(
        a.qp.send(2, &[src.sge(0, 10, src_mr.local_token())], 0),
        STATUS_SUCCESS
    );
    let (remote, remote_mr) = b.buffer(b"remote", NDK_MR_FLAG_ALLOW_REMOTE_READ);
    let (sink, sink_mr) = a.buffer(&[0; 6], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    assert_eq!(
        a.qp.read(
            3,
            &[sink.sge(0, 6, sink_mr.local_token())],
            remote.va(),
            remote_mr.remote_token(),
            0
        ),
        STATUS_SUCCESS
    );
    let counters = m.statistics();
    // CQError, RDMAInOctets, RDMAOutOctets, RDMAInFrames, RDMAOutFrames.
    assert_eq!(counters[25..], [0, 10 + 6, 10, 2, 1]);
    assert_eq!(counters[..25], [0; 25], "connections are not counted yet");

    // A second instance adds to the sum; closing instances never takes counts back.
    let second = m.open(NDK_VERSION::new(1, 0)).unwrap();
    m.close(second);
    for mr in [src_mr, dst_mr, remote_mr, sink_mr] {
        assert!(matches!(mr.close(), Closed::Now));
    }
    let _ = (a.icq.results(8), b.rcq.results(8));
    let raw = pair.adapter.raw();
    assert!(m.instances.begin_close(raw));
    pair.close();
    m.instances.closed(raw).unwrap();
    assert_eq!(m.instances.open_count(), 0);
    assert_eq!(
        m.statistics(),
        counters,
        "retired instances keep their counts"
    );
}
