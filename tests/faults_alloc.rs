//! Fault injection (issue 7): allocation failures at each allocation attempt in turn, at each
//! allocation site of the provider, and at random; deferred work delayed and reordered. Every
//! failure must give a clean error status, leave every object created so far closable, leak
//! nothing (`live == 0` after the adapters closed) and keep the verifier clean.
//!
//! The scenario is one multi-step consumer run through the ABI (two adapters, PDs, CQs, an MR,
//! two QPs, a connection, an armed notification, a send, a CQ resize, flushes, a memory
//! window, a LAM, an SRQ shared by enough QPs to grow its user table and grown with receives
//! posted); each step stops the run at its first failure, then everything built so far is torn
//! down.
//! `FAULTS_RANDOM_SEEDS=<n>` sets the number of random-plan seeds (default 64).

mod conformance_common;

use std::sync::Arc;

use conformance_common::{
    Cell, Delivery, Env, Hooked, Ticket, close, create_qp, create_qp_with_srq,
};
use softndk::abi::{
    NDK_CQ_NOTIFY_ANY, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NTSTATUS, STATUS_INSUFFICIENT_RESOURCES,
    STATUS_SUCCESS,
};
use softndk::consumer::{Adapter, Buffer, Lam, Mr, Mw, Pd, Qp, QpLimits, Srq, SrqEvents};
use softndk::platform::Irql;
use softndk::platform::host::FaultPlan;

/// What the scenario built before it stopped.
#[derive(Default)]
struct Built {
    adapters: Vec<Adapter>,
    pds: Vec<Pd>,
    cqs: Vec<Hooked>,
    mrs: Vec<(Arc<Buffer>, Mr)>,
    qps: Vec<Qp>,
    mws: Vec<Mw>,
    srqs: Vec<Srq>,
    /// LAMs with the adapter index that built them.
    lams: Vec<(usize, Lam)>,
    srq_events: Arc<SrqEvents>,
}

/// Why the scenario stopped: the step and the status it got.
type Stop = (&'static str, NTSTATUS);

fn check(step: &'static str, status: NTSTATUS) -> Result<(), Stop> {
    if status == STATUS_SUCCESS {
        Ok(())
    } else {
        assert_eq!(
            status, STATUS_INSUFFICIENT_RESOURCES,
            "{step}: an allocation failure must answer STATUS_INSUFFICIENT_RESOURCES"
        );
        Err((step, status))
    }
}

/// A create's result, its failure checked like [`check`].
fn made<T>(step: &'static str, r: Result<T, NTSTATUS>) -> Result<T, Stop> {
    r.map_err(|status| {
        assert_eq!(
            status, STATUS_INSUFFICIENT_RESOURCES,
            "{step}: an allocation failure must answer STATUS_INSUFFICIENT_RESOURCES"
        );
        (step, status)
    })
}

fn steps(env: &Env, b: &mut Built) -> Result<(), Stop> {
    for _ in 0..2 {
        // An adapter open that fails reports an NDIS status; nothing is created.
        let adapter = env.try_open().map_err(|s| ("open adapter", s))?;
        b.adapters.push(adapter);
    }
    for a in 0..2 {
        let adapter = &b.adapters[a];
        let pd = made("create PD", env.at(|| adapter.create_pd()))?;
        b.pds.push(pd);
        for _ in 0..2 {
            let cq = made("create CQ", env.at(|| Hooked::create(adapter, 64)))?;
            b.cqs.push(cq);
        }
    }
    let buf = Buffer::from_bytes(b"fault-injected!!");
    let mr = made("create MR", env.at(|| b.pds[0].create_mr(false)))?;
    let registered = env.at(|| mr.register(&buf, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, &[]));
    b.mrs.push((Arc::clone(&buf), mr));
    check("register MR", registered)?;
    for side in 0..2 {
        let qp = env.at(|| {
            create_qp(
                &b.pds[side],
                &b.cqs[2 * side],
                &b.cqs[2 * side + 1],
                side + 1,
                QpLimits::default(),
            )
        });
        let qp = made("create QP", qp)?;
        b.qps.push(qp);
    }
    check("connect", env.connect(&b.qps[0], &b.qps[1], 2, 2))?;
    let (_, mr) = &b.mrs[0];
    let sge = buf.sge(0, 16, mr.local_token());
    env.at(|| b.cqs[2].arm(NDK_CQ_NOTIFY_ANY));
    check("receive", env.at(|| b.qps[1].receive(1, &[])))?;
    check("send", env.at(|| b.qps[0].send(2, &[sge], 0)))?;
    env.settle();
    check("resize CQ", env.at(|| b.cqs[1].resize(128)))?;
    env.at(|| {
        b.qps[0].flush();
        b.qps[1].flush();
    });
    let mw = made("create MW", env.at(|| b.pds[0].create_mw()))?;
    b.mws.push(mw);
    let lam_buf = Buffer::from_bytes(&[0x5A; 64]);
    let lam = made(
        "build LAM",
        env.at(|| b.adapters[0].build_lam(&lam_buf, 0, 64)),
    )?;
    b.lams.push((0, lam));
    // With a notification callback, so its deferred-work item is allocated too.
    let srq = made(
        "create SRQ",
        env.at(|| b.pds[1].create_srq(16, 1, 4, Some(&b.srq_events))),
    )?;
    b.srqs.push(srq);
    // More QPs than the SRQ's initial user table holds, so attaching one grows it.
    for context in 10..15 {
        let qp = env.at(|| {
            create_qp_with_srq(
                &b.pds[1],
                &b.cqs[2],
                &b.cqs[3],
                &b.srqs[0],
                context,
                QpLimits::default(),
            )
        });
        b.qps.push(made("create QP with SRQ", qp)?);
    }
    // Growing the SRQ past its allocation with receives posted allocates new storage.
    for context in 20..22 {
        check("SRQ receive", env.at(|| b.srqs[0].receive(context, &[])))?;
    }
    check("grow SRQ", env.at(|| b.srqs[0].modify(64, 0)))?;
    Ok(())
}

/// Closes everything built, antecedents first (the provider must pend them); every close is
/// accepted and completes.
fn teardown(env: &Env, mut b: Built) {
    let mut tickets: Vec<Ticket> = Vec::new();
    env.at(|| {
        tickets.extend(b.pds.drain(..).map(|x| close(x, || {})));
        tickets.extend(b.cqs.drain(..).map(|x| close(x, || {})));
        tickets.extend(b.qps.drain(..).map(|x| close(x, || {})));
        tickets.extend(b.mws.drain(..).map(|x| close(x, || {})));
        tickets.extend(b.srqs.drain(..).map(|x| close(x, || {})));
    });
    for (adapter, lam) in b.lams.drain(..) {
        env.at(|| b.adapters[adapter].release_lam(lam));
    }
    // Registered memory stays alive until its MR's close completed (`b.mrs` keeps it).
    let mrs: Vec<(Arc<Buffer>, Mr)> = b.mrs.drain(..).collect();
    let mut buffers = Vec::new();
    for (buf, mr) in mrs {
        tickets.push(env.at(|| close(mr, || {})));
        buffers.push(buf);
    }
    env.settle();
    for t in &tickets {
        assert!(t.accepted() && t.complete(), "close {:?}", t.status);
    }
    drop(buffers);
    for adapter in b.adapters.drain(..) {
        env.close_adapter(adapter);
    }
}

/// One run with `plan` installed from the start; returns where it stopped and the platform's
/// attempt and failure counts.
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

const CELLS: [Cell; 4] = [
    Cell {
        delivery: Delivery::Fifo,
        irql: Irql::Passive,
        pend: false,
    },
    Cell {
        delivery: Delivery::Seeded(0xFA_0175),
        irql: Irql::Dispatch,
        pend: false,
    },
    Cell {
        delivery: Delivery::Inline,
        irql: Irql::Dispatch,
        pend: false,
    },
    // Pending creates: every object is built by deferred work and a failure arrives through
    // the create completion.
    Cell {
        delivery: Delivery::Fifo,
        irql: Irql::Passive,
        pend: true,
    },
];

/// Every allocation attempt of the scenario fails once, in turn (`FailNth`): each run stops
/// with a clean status at the step that allocates, and tears down without leaks.
#[test]
fn every_allocation_attempt_fails_once_in_turn() {
    for cell in CELLS {
        let (stop, attempts, _) = run(cell, FaultPlan::Off);
        assert_eq!(stop, None, "the clean run completes");
        assert!(attempts > 0);
        let mut stops = std::collections::BTreeSet::new();
        for n in 0..attempts {
            let (stop, _, injected) = run(cell, FaultPlan::FailNth(n));
            assert_eq!(injected, 1, "attempt {n} of {attempts}");
            let stop = stop.unwrap_or_else(|| panic!("attempt {n}: failure not reported"));
            stops.insert(stop.0);
        }
        eprintln!("{cell:?}: {attempts} attempts, stopping steps {stops:?}");
    }
}

/// Random plans (1 failure in 3 attempts, many seeds): clean statuses, nothing leaked.
#[test]
fn random_allocation_failures_are_clean() {
    let seeds = std::env::var("FAULTS_RANDOM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64_u64);
    let mut failed_runs = 0;
    for seed in 0..seeds {
        let cell = CELLS[usize::try_from(seed % 4).unwrap_or(0)];
        let (stop, _, injected) = run(cell, FaultPlan::Random { seed, one_in: 3 });
        assert_eq!(
            stop.is_some(),
            injected > 0,
            "seed {seed}: failure vs report"
        );
        failed_runs += usize::from(stop.is_some());
    }
    assert!(failed_runs > 0, "no random plan hit an allocation");
}

/// Deferred work delayed and reordered: the scenario under many seeded schedules, without
/// allocation faults, always completes.
#[test]
fn reordered_deferred_work_is_clean() {
    for seed in 0..32 {
        for irql in [Irql::Passive, Irql::Dispatch] {
            let cell = Cell {
                delivery: Delivery::Seeded(seed),
                irql,
                pend: false,
            };
            assert_eq!(run(cell, FaultPlan::Off).0, None, "{cell:?}");
        }
    }
}

/// Every allocation site of the provider core reachable through the ABI (found by scanning the
/// sources for the platform's allocating calls) fails at every attempt (`FailAt`); the run
/// stops cleanly. Sites this scenario does not reach are listed: the connection manager's and
/// the fabric's, which `tests/faults_alloc_cm.rs` reaches and fails with its own scenario.
#[test]
fn every_allocation_site_fails_cleanly() {
    let sites = allocation_sites();
    assert!(
        !sites.is_empty(),
        "the source scan found no allocation site"
    );
    let mut reached = Vec::new();
    let mut unreached = Vec::new();
    for (file, line) in &sites {
        let leaked: &'static str = Box::leak(file.clone().into_boxed_str());
        let plan = FaultPlan::FailAt {
            file: leaked,
            line: *line,
        };
        let mut hit = false;
        for cell in CELLS {
            let (stop, _, injected) = run(cell, plan);
            assert_eq!(stop.is_some(), injected > 0, "{file}:{line}");
            hit |= injected > 0;
        }
        if hit {
            reached.push(format!("{file}:{line}"));
        } else {
            unreached.push(format!("{file}:{line}"));
        }
    }
    eprintln!(
        "allocation sites reached: {reached:?}; not reachable through the ABI: {unreached:?}"
    );
    // Every site of the NDK objects built on main must be reached.
    for site in &unreached {
        assert!(
            !site.starts_with("src/verbs/") && !site.starts_with("src/dispatch/"),
            "allocation site {site} of a built object was never reached"
        );
    }
}

/// `(path relative to the crate, line)` of every call of an allocating platform method in the
/// provider core (`try_box`, `try_arc`, `try_slice`, `try_vec_with_capacity`, `new_dpc`,
/// `try_defer`), outside the platform itself and outside tests.
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
            let rel = format!(
                "src/{dir}/{}",
                path.file_name().and_then(|n| n.to_str()).unwrap_or("")
            );
            for (i, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if line.trim_start().starts_with("#[cfg(test)]") {
                    break; // unit tests follow
                }
                if CALLS.iter().any(|c| code.contains(c)) {
                    sites.push((rel.clone(), u32::try_from(i + 1).unwrap_or(0)));
                }
            }
        }
    }
    sites
}
