//! The sweeps the allocation fault-injection suites (`faults_alloc`, `faults_alloc_cm`) run
//! over their own scenarios: every attempt failing once in turn (`FailNth`), random plans, and
//! every allocation site of the provider core failing (`FailAt`), plus the checks every
//! stopped step makes. A scenario is its `steps` (stop at the first failure) and a `teardown`
//! of whatever was built; [`run`] wraps them in a fresh [`Env`] that asserts a clean verifier
//! and no leak at the end.
//!
//! Must never: decide what a scenario builds or which sites it must reach (each suite asserts
//! its own coverage on what the sweeps return).
#![allow(dead_code)]

use std::collections::BTreeSet;

use softndk::abi::{NTSTATUS, STATUS_INSUFFICIENT_RESOURCES};
use softndk::platform::host::FaultPlan;

use crate::conformance_common::{Cell, Env};

/// Why a scenario stopped: the step and the status it got.
pub type Stop = (&'static str, NTSTATUS);

/// One run's result: where it stopped, the platform's allocation attempts and injected
/// failures.
pub type Outcome = (Option<Stop>, u64, u64);

/// The stop of `step` that failed with `status`, which must be the allocation-failure status.
pub fn clean(step: &'static str, status: NTSTATUS) -> Stop {
    assert_eq!(
        status, STATUS_INSUFFICIENT_RESOURCES,
        "{step}: an allocation failure must answer STATUS_INSUFFICIENT_RESOURCES"
    );
    (step, status)
}

/// A create's result, its failure checked like [`clean`].
pub fn made<T>(step: &'static str, r: Result<T, NTSTATUS>) -> Result<T, Stop> {
    r.map_err(|status| clean(step, status))
}

/// One run of a scenario with `plan` installed from the start: `steps` until the first
/// failure, then `teardown` of what was built; the environment's end checks (verifier clean,
/// `live == 0`) run before it returns.
pub fn run<B: Default>(
    cell: Cell,
    plan: FaultPlan,
    steps: fn(&Env, &mut B) -> Result<(), Stop>,
    teardown: fn(&Env, B),
) -> Outcome {
    let env = Env::new(cell);
    env.host.set_fault_plan(plan);
    let mut built = B::default();
    let stop = steps(&env, &mut built).err();
    teardown(&env, built);
    let stats = env.host.alloc_stats();
    env.finish(); // verifier clean, live == 0
    (stop, stats.attempts, stats.injected_failures)
}

/// Every allocation attempt of the scenario on `cell` fails once, in turn (`FailNth`): the
/// clean run completes, and each failing run injects exactly one failure and reports a stop.
/// Returns the steps the runs stopped at.
pub fn fail_each_attempt(
    cell: Cell,
    run: fn(Cell, FaultPlan) -> Outcome,
) -> BTreeSet<&'static str> {
    let (stop, attempts, _) = run(cell, FaultPlan::Off);
    assert_eq!(stop, None, "the clean run completes");
    assert!(attempts > 0);
    let mut stops = BTreeSet::new();
    for n in 0..attempts {
        let (stop, _, injected) = run(cell, FaultPlan::FailNth(n));
        assert_eq!(injected, 1, "attempt {n} of {attempts}");
        let stop = stop.unwrap_or_else(|| panic!("attempt {n}: failure not reported"));
        stops.insert(stop.0);
    }
    eprintln!("{cell:?}: {attempts} attempts, stopping steps {stops:?}");
    stops
}

/// Random plans (1 failure in `one_in` attempts) over seeds `0..n`, `n` from the environment
/// variable `seeds_var` (else `default_seeds`), the cells taken in turn: a run stops exactly
/// when a failure was injected, and at least one run was hit.
pub fn random_failures(
    cells: &[Cell],
    seeds_var: &str,
    default_seeds: u64,
    one_in: u64,
    run: fn(Cell, FaultPlan) -> Outcome,
) {
    let seeds = std::env::var(seeds_var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_seeds);
    let mut failed_runs = 0;
    for (seed, cell) in (0..seeds).zip(cells.iter().cycle()) {
        let (stop, _, injected) = run(*cell, FaultPlan::Random { seed, one_in });
        assert_eq!(
            stop.is_some(),
            injected > 0,
            "seed {seed}: failure vs report"
        );
        failed_runs += usize::from(stop.is_some());
    }
    assert!(failed_runs > 0, "no random plan hit an allocation");
}

/// Every allocation site of [`allocation_sites`] fails at every attempt (`FailAt`) on each of
/// `cells`: a run stops exactly when a failure was injected. Returns the `file:line` of the
/// sites some run reached and of those none did.
pub fn fail_each_site(
    cells: &[Cell],
    run: fn(Cell, FaultPlan) -> Outcome,
) -> (Vec<String>, Vec<String>) {
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
        for cell in cells {
            let (stop, _, injected) = run(*cell, plan);
            assert_eq!(stop.is_some(), injected > 0, "{file}:{line}");
            hit |= injected > 0;
        }
        if hit {
            reached.push(format!("{file}:{line}"));
        } else {
            unreached.push(format!("{file}:{line}"));
        }
    }
    (reached, unreached)
}

/// `(path relative to the crate, line)` of every call of an allocating platform method in the
/// provider core (`try_box`, `try_arc`, `try_slice`, `try_vec_with_capacity`, `new_dpc`,
/// `try_defer`), outside the platform itself and outside tests.
pub fn allocation_sites() -> Vec<(String, u32)> {
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
