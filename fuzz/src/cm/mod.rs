//! The `cm_ops` harness: an arbitrary byte string decoded into a sequence of connection-manager
//! calls on two SoftNDK adapters of one fabric, through the adapter's three CM creates and the
//! connector (13 slots, NDK 2.1), listener (5) and shared-endpoint (3) tables, with arbitrary
//! arguments: `SOCKADDR`s of any family, length and port (wildcards, IPs on no adapter, NULL),
//! private data across every limit (NULL with a length included), any read limits, QPs and
//! endpoints of either adapter or of the wrong type, NULL where the provider documents the
//! check, calls on connectors in every state, connect events paused and resumed, timeouts, and
//! closes at any point.
//!
//! Checks: no panic (including the host platform's IRQL, lock-order and "no wait at DISPATCH"
//! checks); every status is one `docs/connections.md` documents; inline-only calls never pend;
//! no completion runs inside its call; every pended request completes exactly once with a
//! documented deferred status and no other request completes; a disconnect event comes at
//! most once per registration and never after the connector's own disconnect or close
//! started; connect events of one listener never overlap; output buffers are never written
//! past the stated length; every close is accepted and completes exactly once; at the end the
//! adapters close and no platform allocation is left.
//!
//! Memory safety rests on this module keeping the consumer contract where breaking it would be
//! undefined behaviour rather than bad input: every pointer it passes is NULL, a live object
//! of this run (possibly of the wrong type or adapter), or memory it owns for at least the
//! stated length; an object is never used after its close was requested; every callback
//! context lives until both adapters are closed. Shared by the libFuzzer target and the
//! stable replay (`tests/random_fuzz_replay.rs`).

mod args;
mod ops;
mod track;

use std::sync::Arc;

use softndk::abi::{
    NDK_OBJECT_HEADER, NDK_VERSION, NTSTATUS, STATUS_ADDRESS_ALREADY_EXISTS,
    STATUS_BUFFER_TOO_SMALL, STATUS_CANCELLED, STATUS_CONNECTION_ABORTED, STATUS_CONNECTION_ACTIVE,
    STATUS_CONNECTION_INVALID, STATUS_CONNECTION_REFUSED, STATUS_HOST_UNREACHABLE,
    STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_ADDRESS, STATUS_INVALID_BUFFER_SIZE,
    STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER, STATUS_IO_TIMEOUT, STATUS_NOT_SUPPORTED,
    STATUS_PENDING, STATUS_SHARING_VIOLATION, STATUS_SUCCESS, STATUS_TOO_MANY_ADDRESSES,
};
use softndk::cm::ndk::NdkFabric;
use softndk::consumer::{
    Adapter, Closed, ConnectEvents, Connector, Cq, CqEvents, Listener, Pd, Qp, SharedEndpoint,
};
use softndk::fabric::{Fabric, FabricConfig, IpAddr};
use softndk::platform::host::{Host, with_irql};
use softndk::platform::{Irql, Platform};
use softndk::verbs::AdapterConfig;

use args::{A4, A6, B4, B6, DATA_BUF, Input};
use track::Arena;

/// Statuses the CM entries document inline (`docs/connections.md`, `dispatch::connection`).
const DOCUMENTED: [NTSTATUS; 19] = [
    STATUS_SUCCESS,
    STATUS_PENDING,
    STATUS_INVALID_PARAMETER,
    STATUS_INVALID_ADDRESS,
    STATUS_INVALID_BUFFER_SIZE,
    STATUS_INVALID_DEVICE_STATE,
    STATUS_BUFFER_TOO_SMALL,
    STATUS_SHARING_VIOLATION,
    STATUS_TOO_MANY_ADDRESSES,
    STATUS_ADDRESS_ALREADY_EXISTS,
    STATUS_HOST_UNREACHABLE,
    STATUS_CONNECTION_REFUSED,
    STATUS_CONNECTION_ABORTED,
    STATUS_CONNECTION_ACTIVE,
    STATUS_CONNECTION_INVALID,
    STATUS_INSUFFICIENT_RESOURCES,
    STATUS_NOT_SUPPORTED,
    // The QP's join error of `NdkCompleteConnect` / a connect on a QP that cannot join.
    softndk::abi::STATUS_INVALID_DEVICE_REQUEST,
    softndk::abi::STATUS_INVALID_HANDLE,
];

/// Statuses a pended CM request may complete with.
const DEFERRED: [NTSTATUS; 5] = [
    STATUS_SUCCESS,
    STATUS_CONNECTION_REFUSED,
    STATUS_CONNECTION_ABORTED,
    STATUS_IO_TIMEOUT,
    STATUS_CANCELLED,
];

/// Most operations one input may run (keeps each execution short).
const MAX_OPS: usize = 128;
/// Most live QPs.
const MAX_QPS: usize = 8;
/// Callback slots: at most two per operation (a request and a disconnect event).
const SLOTS: usize = 2 * MAX_OPS;

fn documented(what: &str, status: NTSTATUS) {
    assert!(
        DOCUMENTED.contains(&status),
        "{what}: undocumented status {status:?}"
    );
}

/// A live object of the run.
enum Obj {
    /// A connector (created or handed up) and the disconnect-event slots registered on it.
    Connector(Connector, Vec<usize>),
    Listener(Listener),
    Endpoint(SharedEndpoint),
    Qp(Qp),
}

impl Obj {
    const fn header(&self) -> *mut NDK_OBJECT_HEADER {
        match self {
            Self::Connector(o, _) => o.raw().cast(),
            Self::Listener(o) => o.raw().cast(),
            Self::Endpoint(o) => o.raw().cast(),
            Self::Qp(o) => o.raw().cast(),
        }
    }

    const fn is_connector(&self) -> bool {
        matches!(self, Self::Connector(..))
    }

    const fn is_listener(&self) -> bool {
        matches!(self, Self::Listener(_))
    }

    const fn is_endpoint(&self) -> bool {
        matches!(self, Self::Endpoint(_))
    }

    const fn is_qp(&self) -> bool {
        matches!(self, Self::Qp(_))
    }
}

/// A request the run issued: its slot, and whether the provider pended it.
struct Req {
    slot: usize,
    what: &'static str,
    pended: bool,
}

/// What one input reached (the replay asserts the seeds get this far).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Operations run.
    pub ops: usize,
    /// `NdkConnect(WithSharedEndpoint)` calls that pended.
    pub connects: usize,
    /// Connectors handed up and taken.
    pub handed_up: usize,
    /// `NdkAccept(Ex)` calls that pended.
    pub accepts: usize,
    /// `NdkCompleteConnect(Ex)` calls that succeeded.
    pub established: usize,
    /// Pended requests that completed `STATUS_SUCCESS`.
    pub succeeded: usize,
    /// Disconnect events delivered.
    pub disconnect_events: usize,
}

struct Run {
    host: Host,
    irql: Irql,
    fabric: NdkFabric,
    adapters: Vec<Adapter>,
    pds: Vec<Pd>,
    cqs: Vec<Cq>,
    objects: Vec<Option<Obj>>,
    /// Every listener's connect-event recorder, also after its close (to take late hand-ups).
    connect_events: Vec<Arc<ConnectEvents>>,
    arena: Arena,
    requests: Vec<Req>,
    /// Slots registered as disconnect events.
    events: Vec<usize>,
    closes: Vec<(&'static str, Closed)>,
    data: [u8; DATA_BUF],
    stats: Stats,
}

impl Run {
    fn new(mode: u8) -> Self {
        let host = if mode & 1 == 0 {
            Host::deterministic()
        } else {
            Host::deterministic_seeded(u64::from(mode))
        };
        let irql = if mode & 2 == 0 {
            Irql::Passive
        } else {
            Irql::Dispatch
        };
        let config = FabricConfig {
            backlog: 1 + usize::from((mode >> 2) & 3),
            ..FabricConfig::default()
        };
        let fabric = Fabric::new(Platform::clone(&host), config).expect("fabric");
        let adapters: Vec<Adapter> = [(A4, A6), (B4, B6)]
            .iter()
            .map(|&(v4, v6)| {
                let config = AdapterConfig::softndk(0xF0CC)
                    .on_fabric(&fabric, &[IpAddr::V4(v4), IpAddr::v6(v6)]);
                Adapter::open(&config, &host, NDK_VERSION::new(2, 1)).expect("open")
            })
            .collect();
        let (pds, cqs) = with_irql(irql, || {
            let pds = adapters
                .iter()
                .map(|a| a.create_pd().expect("PD"))
                .collect();
            let cqs = adapters
                .iter()
                .map(|a| a.create_cq(64, &CqEvents::new()).expect("CQ"))
                .collect();
            (pds, cqs)
        });
        let mut data = [0_u8; DATA_BUF];
        data.iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = u8::try_from(i % 251).unwrap_or(0));
        Self {
            host,
            irql,
            fabric,
            adapters,
            pds,
            cqs,
            objects: Vec::new(),
            connect_events: Vec::new(),
            arena: Arena::new(SLOTS),
            requests: Vec::new(),
            events: Vec::new(),
            closes: Vec::new(),
            data,
            stats: Stats::default(),
        }
    }

    fn at<R>(&self, f: impl FnOnce() -> R) -> R {
        with_irql(self.irql, f)
    }

    /// The index of the `i`-th live object of a kind.
    fn nth(&self, i: u8, kind: fn(&Obj) -> bool) -> Option<usize> {
        crate::pick::nth_live(&self.objects, i, kind)
    }

    /// An object argument: usually a live object of the expected kind, sometimes any live
    /// object of the run (PDs and CQs included: the wrong type), sometimes NULL.
    fn arg(&self, input: &mut Input<'_>, kind: fn(&Obj) -> bool) -> *mut NDK_OBJECT_HEADER {
        let (sel, i) = (input.byte(), input.byte());
        match sel % 8 {
            0 => core::ptr::null_mut(),
            1 => {
                let mut all: Vec<*mut NDK_OBJECT_HEADER> =
                    self.objects.iter().flatten().map(Obj::header).collect();
                all.extend(self.pds.iter().map(|p| p.raw().cast::<NDK_OBJECT_HEADER>()));
                all.extend(self.cqs.iter().map(|c| c.raw().cast::<NDK_OBJECT_HEADER>()));
                all[usize::from(i) % all.len()]
            }
            _ => self
                .nth(i, kind)
                .and_then(|n| self.objects[n].as_ref())
                .map_or(core::ptr::null_mut(), Obj::header),
        }
    }

    /// The live connector behind `p`, if `p` is one.
    fn connector_at(&mut self, p: *mut NDK_OBJECT_HEADER) -> Option<&mut Vec<usize>> {
        self.objects.iter_mut().flatten().find_map(|o| match o {
            Obj::Connector(c, slots) if c.raw().cast() == p => Some(slots),
            _ => None,
        })
    }

    fn keep(&mut self, r: Result<Obj, NTSTATUS>, what: &str) {
        match r {
            Ok(o) => self.objects.push(Some(o)),
            Err(s) => {
                documented(what, s);
                assert_ne!(s, STATUS_SUCCESS);
                assert_ne!(s, STATUS_PENDING, "{what}: SoftNDK never pends a create");
            }
        }
    }

    /// Closes `obj` (stopping its disconnect events first: none may follow the close).
    fn close_obj(&mut self, obj: Obj) {
        let (what, closed) = match obj {
            Obj::Connector(c, slots) => {
                for &s in &slots {
                    self.arena.get(s).stop();
                }
                ("connector", self.at(|| c.close()))
            }
            Obj::Listener(l) => ("listener", self.at(|| l.close())),
            Obj::Endpoint(e) => ("shared endpoint", self.at(|| e.close())),
            Obj::Qp(q) => ("QP", self.at(|| q.close())),
        };
        assert!(
            !matches!(closed, Closed::Refused(_)),
            "{what} close refused: {closed:?}"
        );
        self.closes.push((what, closed));
    }

    /// Takes every connector handed up so far; how many.
    fn take_all(&mut self) -> usize {
        let mut taken = 0;
        for events in self.connect_events.clone() {
            while let Some(c) = events.take() {
                self.objects.push(Some(Obj::Connector(c, Vec::new())));
                taken += 1;
            }
        }
        self.stats.handed_up += taken;
        taken
    }

    /// The rules that hold after any operation.
    fn check(&self) {
        for r in &self.requests {
            let calls = self.arena.get(r.slot).calls();
            if r.pended {
                assert!(calls <= 1, "{}: completed {calls} times", r.what);
            } else {
                assert_eq!(calls, 0, "{}: completed although not pended", r.what);
            }
        }
        for &e in &self.events {
            let slot = self.arena.get(e);
            assert!(slot.calls() <= 1, "disconnect event {} times", slot.calls());
            assert_eq!(slot.late(), 0, "disconnect event after disconnect/close");
        }
        for events in &self.connect_events {
            assert_eq!(events.overlaps(), 0, "overlapping connect events");
        }
    }

    /// Closes everything left (taking late hand-ups), settles, and checks the final rules.
    fn finish(mut self) -> Stats {
        for round in 0.. {
            assert!(
                round < 8,
                "connectors keep being handed up after every close"
            );
            self.take_all();
            let left: Vec<Obj> = self.objects.drain(..).flatten().collect();
            if left.is_empty() && round > 0 {
                break;
            }
            for obj in left {
                self.close_obj(obj);
            }
            self.host.run_until_idle();
        }
        let verbs: Vec<(&'static str, Closed)> = {
            let cqs = core::mem::take(&mut self.cqs);
            let pds = core::mem::take(&mut self.pds);
            let mut v: Vec<_> = cqs
                .into_iter()
                .map(|c| ("CQ", self.at(|| c.close())))
                .collect();
            v.extend(pds.into_iter().map(|p| ("PD", self.at(|| p.close()))));
            v
        };
        self.closes.extend(verbs);
        self.host.run_until_idle();
        self.check();
        for (what, closed) in &self.closes {
            assert!(closed.is_complete(), "{what} close never completed");
            if let Closed::Pending(signal) = closed {
                assert_eq!(signal.calls(), 1, "{what} close completion count");
            }
        }
        for r in &self.requests {
            let slot = self.arena.get(r.slot);
            if r.pended {
                assert_eq!(slot.calls(), 1, "{}: never completed", r.what);
                let status = NTSTATUS(slot.seen()[0].cast_signed());
                assert!(
                    DEFERRED.contains(&status),
                    "{}: completed with undocumented {status:?}",
                    r.what
                );
                self.stats.succeeded += usize::from(status == STATUS_SUCCESS);
            }
        }
        for &e in &self.events {
            let slot = self.arena.get(e);
            for reason in slot.seen() {
                assert!(
                    matches!(reason, 0 | 1 | u32::MAX),
                    "undocumented disconnect reason {reason}"
                );
            }
            self.stats.disconnect_events += slot.calls() as usize;
        }
        let stats = self.stats;
        let host = self.host.clone();
        for adapter in self.adapters.drain(..) {
            adapter.close();
        }
        // The arena (every callback context) goes only now: nothing can call back any more.
        drop(self);
        host.run_until_idle();
        assert_eq!(host.alloc_stats().live, 0, "allocations leaked");
        stats
    }
}

/// Decodes and runs one input; what it reached.
///
/// # Panics
///
/// On any broken rule (the fuzzer's finding).
pub fn run(data: &[u8]) -> Stats {
    let mut input = Input(data);
    let mut run = Run::new(input.byte());
    while !input.0.is_empty() && run.stats.ops < MAX_OPS {
        run.step(&mut input);
        run.stats.ops += 1;
    }
    run.finish()
}
