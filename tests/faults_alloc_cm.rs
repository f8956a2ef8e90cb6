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
mod faults_common;

use std::sync::Arc;

use conformance_common::{Cell, Delivery, Env, Hooked, Ticket, close, create_qp};
use softndk::abi::{NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NTSTATUS, STATUS_PENDING, STATUS_SUCCESS};
use softndk::cm::ndk::NdkFabric;
use softndk::consumer::{
    Adapter, Buffer, Closed, ConnectEvents, Connector, Listener, Mr, Pd, Qp, QpLimits, Request,
    SharedEndpoint,
};
use softndk::fabric::{Address, Fabric, FabricConfig, IpAddr};
use softndk::platform::Irql;
use softndk::platform::host::FaultPlan;

use faults_common::{
    Outcome, Stop, clean, fail_each_attempt, fail_each_site, made, random_failures,
};

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

/// One run of this scenario with `plan` installed from the start.
fn run(cell: Cell, plan: FaultPlan) -> Outcome {
    faults_common::run(cell, plan, steps, teardown)
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
        let stops = fail_each_attempt(cell, run);
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
    random_failures(&CELLS, "FAULTS_CM_RANDOM_SEEDS", 48, 4, run);
}

/// Every allocation site of `src/cm` and `src/fabric` (source scan) is reached by the scenario
/// and fails cleanly at every attempt (`FailAt`); the number of distinct sites reached over
/// the whole provider core is printed for `docs/verification.md`.
#[test]
fn every_cm_and_fabric_allocation_site_fails_cleanly() {
    let (reached, unreached) = fail_each_site(&CELLS[..1], run);
    eprintln!(
        "CM scenario: {} of {} allocation sites reached: {reached:?}",
        reached.len(),
        reached.len() + unreached.len()
    );
    for site in &unreached {
        assert!(
            !site.starts_with("src/cm/") && !site.starts_with("src/fabric/"),
            "CM/fabric site {site} never reached"
        );
    }
    assert!(
        reached.iter().filter(|s| s.starts_with("src/cm/")).count() >= 6,
        "connection, connector (2), endpoint, listener (2)"
    );
}
