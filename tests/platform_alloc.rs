//! Fallible allocation through the platform: fault injection and live-allocation balance.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use softndk::platform::host::{FaultPlan, Host};
use softndk::platform::prelude::*;
use softndk::platform::{AllocError, PBox, PSlice, PVec};

/// A miniature "create an object" path with several allocation sites and unwinding on failure,
/// the shape provider objects will have.
struct Object {
    _header: PBox<u64>,
    _ring: PSlice<u32>,
    _table: PVec<u16>,
    _dpc: softndk::platform::Dpc,
}

struct Noop;
impl DeferredWork for Noop {
    fn run(&self) {}
}

fn create(platform: &Host) -> Result<Object, AllocError> {
    let header = platform.try_box(7_u64)?;
    let ring = platform.try_slice(64, |i| u32::try_from(i).unwrap_or(0))?;
    let mut table = platform.try_vec_with_capacity(8)?;
    table.push(1).expect("capacity 8");
    let dpc = platform.new_dpc(Noop)?;
    Ok(Object {
        _header: header,
        _ring: ring,
        _table: table,
        _dpc: dpc,
    })
}

#[test]
fn every_allocation_site_fails_once_and_nothing_leaks() {
    let platform = Host::deterministic();
    let baseline = platform.alloc_stats().attempts;
    let object = create(&platform).expect("no faults");
    let sites = platform.alloc_stats().attempts - baseline;
    assert_eq!(sites, 4);
    assert_eq!(platform.alloc_stats().live, 4);
    drop(object);
    assert_eq!(platform.alloc_stats().live, 0);

    for n in 0..sites {
        platform.set_fault_plan(FaultPlan::FailNth(n));
        assert_eq!(
            create(&platform).err(),
            Some(AllocError),
            "failure at site {n}"
        );
        assert_eq!(
            platform.alloc_stats().live,
            0,
            "unwind after site {n} leaked"
        );
    }
    platform.set_fault_plan(FaultPlan::FailNth(sites));
    assert!(
        create(&platform).is_ok(),
        "plan beyond the last site: no failure"
    );
    assert_eq!(platform.alloc_stats().injected_failures, sites);
    assert_eq!(platform.alloc_stats().live, 0);
}

#[test]
fn fail_at_targets_one_source_line() {
    let platform = Host::inline();
    let line = line!() + 1;
    let fails = |p: &Host| p.try_box(1_u8).map(|_| ());
    platform.set_fault_plan(FaultPlan::FailAt {
        file: "tests/platform_alloc.rs",
        line,
    });
    assert_eq!(fails(&platform), Err(AllocError));
    assert!(platform.try_box(2_u8).is_ok(), "another line is unaffected");
}

#[test]
fn failed_defer_drops_the_closure_without_running_it() {
    let platform = Host::inline();
    let ran = Arc::new(AtomicUsize::new(0));
    let witness = Arc::clone(&ran);
    platform.set_fault_plan(FaultPlan::FailFrom(0));
    assert_eq!(
        platform.try_defer(move || {
            witness.fetch_add(1, Ordering::SeqCst);
        }),
        Err(AllocError)
    );
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert_eq!(Arc::strong_count(&ran), 1, "closure dropped");
    assert_eq!(platform.alloc_stats().live, 0);
}

#[test]
fn random_plan_is_reproducible_and_balanced() {
    let outcomes = |seed| {
        let platform = Host::deterministic();
        platform.set_fault_plan(FaultPlan::Random { seed, one_in: 4 });
        let results: Vec<bool> = (0..50).map(|_| create(&platform).is_ok()).collect();
        assert_eq!(platform.alloc_stats().live, 0);
        results
    };
    let a = outcomes(11);
    assert_eq!(a, outcomes(11));
    assert!(a.contains(&true) && a.contains(&false), "{a:?}");
}

#[test]
fn deferred_jobs_hold_their_allocation_until_they_run() {
    let platform = Host::deterministic();
    platform.try_defer(|| ()).unwrap();
    platform.try_defer(|| ()).unwrap();
    assert_eq!(platform.alloc_stats().live, 2);
    platform.run_one();
    assert_eq!(platform.alloc_stats().live, 1);
    platform.run_until_idle();
    assert_eq!(platform.alloc_stats().live, 0);
}

#[test]
fn instances_are_independent() {
    let a = Host::inline();
    let b = Host::inline();
    a.set_fault_plan(FaultPlan::FailFrom(0));
    assert!(a.try_box(1).is_err());
    assert!(b.try_box(1).is_ok());
    assert_eq!(b.alloc_stats().injected_failures, 0);
}

#[test]
fn pooled_values_behave_like_their_std_counterparts() {
    let platform = Host::inline();
    let mut b = platform.try_box(String::from("ab")).unwrap();
    b.push('c');
    assert_eq!(PBox::into_inner(b), "abc");
    let mut v: PVec<u8> = platform.try_vec_with_capacity(2).unwrap();
    let cap = v.capacity();
    for i in 0..cap {
        v.push(u8::try_from(i).unwrap()).unwrap();
    }
    assert_eq!(v.push(9), Err(9), "full vectors refuse instead of growing");
    assert_eq!(platform.alloc_stats().live, 1);
}

#[test]
fn try_arc_goes_through_the_allocation_gate() {
    let platform = Host::deterministic();
    let before = platform.alloc_stats();
    let arc = platform.try_arc(41_u32).expect("no faults");
    assert_eq!(*arc, 41);
    let after = platform.alloc_stats();
    assert_eq!(after.attempts, before.attempts + 1);
    // The admission is not kept: Arc memory is outside the live balance.
    assert_eq!(after.live, before.live);

    platform.set_fault_plan(FaultPlan::FailNth(0));
    assert_eq!(platform.try_arc(5_u32).err(), Some(AllocError));
    assert_eq!(
        platform.alloc_stats().injected_failures,
        after.injected_failures + 1
    );
}
