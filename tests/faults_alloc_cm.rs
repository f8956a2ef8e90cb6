//! Fault injection through the connection manager (issue 7): a fabric, two adapters on it,
//! a listener, a shared endpoint, a connector connecting through it, accept, complete, a
//! send over the connection, graceful disconnect and closes, under the consumer-side
//! verifier. Allocation attempts fail in turn (`FailNth`), per allocation site (`FailAt`, the
//! sites found by scanning `src/cm` and `src/fabric` plus the rest of the provider core) and at
//! random; each failure must answer a clean status inline (`STATUS_INSUFFICIENT_RESOURCES`,
//! never through a completion), leave every object built so far closable, keep the verifier
//! clean and leak nothing.
//!
//! `FAULTS_CM_RANDOM_SEEDS=<n>` sets the number of random-plan seeds (default 48).

mod conformance_common;

use std::collections::BTreeSet;
use std::sync::Arc;

use conformance_common::{Cell, Delivery, Env, Hooked, Ticket, close, create_qp};
use softndk::abi::{
    NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NTSTATUS, STATUS_INSUFFICIENT_RESOURCES, STATUS_PENDING,
    STATUS_SUCCESS,
};
use softndk::cm::ndk::NdkFabric;
use softndk::consumer::{
    Adapter, Buffer, Closed, ConnectEvents, Connector, Listener, Mr, Pd, Qp, QpLimits, Request,
    SharedEndpoint,
};
use softndk::fabric::{Address, Fabric, FabricConfig, IpAddr};
use softndk::platform::Irql;
use softndk::platform::host::FaultPlan;

const IPS: [[u8; 4]; 2] = [[10, 0, 7, 1], [10, 0, 7, 2]];

/// What the scenario built before it stopped.
#[derive(Default)]
struct Built {
    fabric: Option<NdkFabric>,
    adapters: Vec<Adapter>,
    pds: Vec<Pd>,
    cqs: Vec<Hooked>,
    qps: Vec<Qp>,
    mrs: Vec<(Arc<Buffer>, Mr)>,
    listener: Option<(Listener, Arc<ConnectEvents>)>,
    endpoint: Option<SharedEndpoint>,
    connectors: Vec<Connector>,
    requests: Vec<Arc<Request>>,
}

type Stop = (&'static str, NTSTATUS);

fn clean(step: &'static str, status: NTSTATUS) -> Stop {
    assert_eq!(
        status, STATUS_INSUFFICIENT_RESOURCES,
        "{step}: an allocation failure must answer STATUS_INSUFFICIENT_RESOURCES"
    );
    (step, status)
}

fn made<T>(step: &'static str, r: Result<T, NTSTATUS>) -> Result<T, Stop> {
    r.map_err(|s| clean(step, s))
}

/// An asynchronous call: PENDING, or an inline failure whose request never completes.
fn pended(step: &'static str, b: &mut Built, r: &Arc<Request>, s: NTSTATUS) -> Result<(), Stop> {
    if s == STATUS_PENDING {
        b.requests.push(Arc::clone(r));
        Ok(())
    } else {
        assert_eq!(r.calls(), 0, "{step}: an inline failure never calls back");
        Err(clean(step, s))
    }
}

fn steps(env: &Env, b: &mut Built) -> Result<(), Stop> {
    let fabric = b.fabric.insert(made(
        "fabric",
        Fabric::new(env.host.clone(), FabricConfig::default()),
    )?);
    for ip in IPS {
        let config = env.config().on_fabric(fabric, &[IpAddr::V4(ip)]);
        // A failed open reports an NDIS status; nothing is created.
        let adapter = env
            .try_open_with(&config)
            .map_err(|s| ("open adapter", s))?;
        b.adapters.push(adapter);
    }
    for side in 0..2 {
        let adapter = &b.adapters[side];
        b.pds.push(made("PD", env.at(|| adapter.create_pd()))?);
        b.cqs
            .push(made("CQ", env.at(|| Hooked::create(adapter, 64)))?);
        let qp = env.at(|| {
            create_qp(
                &b.pds[side],
                &b.cqs[side],
                &b.cqs[side],
                side + 1,
                QpLimits::default(),
            )
        });
        b.qps.push(made("QP", qp)?);
        let buf = Buffer::from_bytes(&[u8::try_from(side).unwrap_or(0); 32]);
        let mr = made("MR", env.at(|| b.pds[side].create_mr(false)))?;
        let status = env.at(|| mr.register(&buf, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, &[]));
        b.mrs.push((buf, mr));
        if status != STATUS_SUCCESS {
            return Err(clean("register", status));
        }
    }
    let port = Address::v4(IPS[1], 445);
    let events = ConnectEvents::new();
    let listener = made(
        "listener",
        env.at(|| Listener::create(&b.adapters[1], &events)),
    )?;
    let status = env.at(|| listener.listen(&port));
    b.listener = Some((listener, Arc::clone(&events)));
    if status != STATUS_SUCCESS {
        return Err(clean("listen", status));
    }
    let shared = Address::v4(IPS[0], 7000);
    b.endpoint = Some(made(
        "shared endpoint",
        env.at(|| SharedEndpoint::create(&b.adapters[0], &shared)),
    )?);
    let active = made("connector", env.at(|| Connector::create(&b.adapters[0])))?;
    b.connectors.push(active);
    let connect = Request::new();
    let ep = b.endpoint.as_ref().expect("endpoint");
    let s = env.at(|| {
        b.connectors[0].connect_with_shared_endpoint(&b.qps[0], ep, &port, 4, 4, b"hi", &connect)
    });
    pended("connect", b, &connect, s)?;
    env.settle();
    let passive = events.take().expect("connect event");
    b.connectors.push(passive);
    let accept = Request::new();
    let s = env.at(|| b.connectors[1].accept(&b.qps[1], 4, 4, b"ok", None, &accept));
    pended("accept", b, &accept, s)?;
    env.settle();
    assert_eq!(connect.statuses(), [STATUS_SUCCESS]);
    let s = env.at(|| b.connectors[0].complete_connect(None));
    if s != STATUS_SUCCESS {
        return Err(clean("complete connect", s));
    }
    env.settle();
    assert_eq!(accept.statuses(), [STATUS_SUCCESS]);
    let (rbuf, rmr) = &b.mrs[1];
    let (sbuf, smr) = &b.mrs[0];
    let rsge = rbuf.sge(0, 32, rmr.local_token());
    let ssge = sbuf.sge(0, 16, smr.local_token());
    assert_eq!(env.at(|| b.qps[1].receive(1, &[rsge])), STATUS_SUCCESS);
    assert_eq!(env.at(|| b.qps[0].send(2, &[ssge], 0)), STATUS_SUCCESS);
    env.settle();
    let got = env.at(|| b.cqs[1].poll(4));
    assert_eq!(got.len(), 1, "the receive completed");
    assert_eq!(
        (got[0].Status, got[0].BytesTransferred),
        (STATUS_SUCCESS, 16)
    );
    let (d0, d1) = (Request::new(), Request::new());
    let s = env.at(|| b.connectors[0].disconnect(&d0));
    pended("disconnect", b, &d0, s)?;
    let s = env.at(|| b.connectors[1].disconnect(&d1));
    pended("disconnect", b, &d1, s)?;
    env.settle();
    assert_eq!(
        (d0.statuses(), d1.statuses()),
        (vec![STATUS_SUCCESS], vec![STATUS_SUCCESS])
    );
    Ok(())
}

/// Closes everything built, CM objects first; every close is accepted and completes, every
/// pended request completed exactly once.
fn teardown(env: &Env, mut b: Built) {
    let mut closes: Vec<Closed> = Vec::new();
    env.at(|| {
        closes.extend(b.connectors.drain(..).map(Connector::close));
        closes.extend(b.endpoint.take().map(SharedEndpoint::close));
        closes.extend(b.listener.take().map(|(l, _)| l.close()));
    });
    let mut tickets: Vec<Ticket> = Vec::new();
    let mut buffers = Vec::new();
    env.at(|| {
        tickets.extend(b.qps.drain(..).map(|x| close(x, || {})));
        for (buf, mr) in b.mrs.drain(..) {
            tickets.push(close(mr, || {}));
            buffers.push(buf);
        }
        tickets.extend(b.cqs.drain(..).map(|x| close(x, || {})));
        tickets.extend(b.pds.drain(..).map(|x| close(x, || {})));
    });
    env.settle();
    for c in &closes {
        assert!(c.is_complete(), "CM close {c:?}");
    }
    for t in &tickets {
        assert!(t.accepted() && t.complete(), "close {:?}", t.status);
    }
    for r in &b.requests {
        assert_eq!(r.calls(), 1, "a pended request completes exactly once");
    }
    drop(buffers);
    for adapter in b.adapters.drain(..) {
        env.close_adapter(adapter);
    }
    drop(b.fabric.take());
    env.settle();
}

fn run(cell: Cell, plan: FaultPlan) -> (Option<Stop>, u64, u64) {
    let env = Env::new(cell);
    env.host.set_fault_plan(plan);
    let mut built = Built::default();
    let stop = steps(&env, &mut built).err();
    teardown(&env, built);
    let stats = env.host.alloc_stats();
    env.finish(); // verifier clean, live == 0
    (stop, stats.attempts, stats.injected_failures)
}

const CELLS: [Cell; 3] = [
    Cell {
        delivery: Delivery::Fifo,
        irql: Irql::Passive,
        pend: false,
    },
    Cell {
        delivery: Delivery::Seeded(0xC0_FA17),
        irql: Irql::Dispatch,
        pend: false,
    },
    Cell {
        delivery: Delivery::Inline,
        irql: Irql::Dispatch,
        pend: false,
    },
];

/// Every allocation attempt of the CM scenario fails once, in turn.
#[test]
fn every_cm_allocation_attempt_fails_once_in_turn() {
    for cell in CELLS {
        let (stop, attempts, _) = run(cell, FaultPlan::Off);
        assert_eq!(stop, None, "the clean run completes");
        let mut stops = BTreeSet::new();
        for n in 0..attempts {
            let (stop, _, injected) = run(cell, FaultPlan::FailNth(n));
            assert_eq!(injected, 1, "attempt {n} of {attempts}");
            let stop = stop.unwrap_or_else(|| panic!("attempt {n}: failure not reported"));
            stops.insert(stop.0);
        }
        eprintln!("{cell:?}: {attempts} attempts, stopping steps {stops:?}");
        for step in [
            "fabric",
            "listener",
            "shared endpoint",
            "connector",
            "connect",
        ] {
            assert!(
                stops.contains(step),
                "no allocation failed at {step}: {stops:?}"
            );
        }
    }
}

/// Random plans (1 failure in 4 attempts): clean statuses, nothing leaked.
#[test]
fn random_cm_allocation_failures_are_clean() {
    let seeds = std::env::var("FAULTS_CM_RANDOM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(48_u64);
    let mut failed = 0;
    for seed in 0..seeds {
        let cell = CELLS[usize::try_from(seed % 3).unwrap_or(0)];
        let (stop, _, injected) = run(cell, FaultPlan::Random { seed, one_in: 4 });
        assert_eq!(
            stop.is_some(),
            injected > 0,
            "seed {seed}: failure vs report"
        );
        failed += usize::from(stop.is_some());
    }
    assert!(failed > 0, "no random plan hit an allocation");
}

/// Every allocation site of `src/cm` and `src/fabric` (source scan) is reached by the scenario
/// and fails cleanly at every attempt (`FailAt`); the number of distinct sites reached over
/// the whole provider core is printed for `docs/verification.md`.
#[test]
fn every_cm_and_fabric_allocation_site_fails_cleanly() {
    let sites = allocation_sites();
    let mut reached = Vec::new();
    for (file, line) in &sites {
        let leaked: &'static str = Box::leak(file.clone().into_boxed_str());
        let plan = FaultPlan::FailAt {
            file: leaked,
            line: *line,
        };
        let (stop, _, injected) = run(CELLS[0], plan);
        assert_eq!(stop.is_some(), injected > 0, "{file}:{line}");
        if injected > 0 {
            reached.push(format!("{file}:{line}"));
        }
    }
    eprintln!(
        "CM scenario: {} of {} allocation sites reached: {reached:?}",
        reached.len(),
        sites.len()
    );
    for (file, line) in &sites {
        if file.starts_with("src/cm/") || file.starts_with("src/fabric/") {
            let site = format!("{file}:{line}");
            assert!(
                reached.contains(&site),
                "CM/fabric site {site} never reached"
            );
        }
    }
    assert!(
        reached.iter().filter(|s| s.starts_with("src/cm/")).count() >= 6,
        "connection, connector (2), endpoint, listener (2)"
    );
}

/// `(path, line)` of every allocating platform call in the provider core (as in
/// `tests/faults_alloc.rs`).
fn allocation_sites() -> Vec<(String, u32)> {
    const CALLS: [&str; 6] = [
        ".try_box(",
        ".try_arc(",
        ".try_slice(",
        ".try_vec_with_capacity(",
        ".new_dpc(",
        ".try_defer(",
    ];
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sites = Vec::new();
    for dir in ["verbs", "dispatch", "engine", "cm", "fabric", "lifetime"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join("src").join(dir))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        for path in files {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            for (i, line) in text.lines().enumerate() {
                if line.trim_start().starts_with("#[cfg(test)]") {
                    break;
                }
                let code = line.split("//").next().unwrap_or("");
                if CALLS.iter().any(|c| code.contains(c)) {
                    sites.push((
                        format!("src/{dir}/{name}"),
                        u32::try_from(i + 1).unwrap_or(0),
                    ));
                }
            }
        }
    }
    sites
}
