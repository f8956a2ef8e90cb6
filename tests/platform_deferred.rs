//! Deferred work: ordering, coalescing, cancellation, the three modes, events and the clock.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use softndk::platform::host::{Host, WAIT_WOULD_HANG};
use softndk::platform::prelude::*;
use softndk::platform::{Dpc, Timestamp};

/// Records which job ran, in order.
fn recorder(platform: &Host, log: &Arc<Mutex<Vec<u32>>>, ids: std::ops::Range<u32>) {
    for id in ids {
        let log = Arc::clone(log);
        platform
            .try_defer(move || log.lock().unwrap().push(id))
            .unwrap();
    }
}

fn order_for(seed: Option<u64>) -> Vec<u32> {
    let platform = seed.map_or_else(Host::deterministic, Host::deterministic_seeded);
    let log = Arc::new(Mutex::new(Vec::new()));
    recorder(&platform, &log, 0..32);
    assert_eq!(platform.pending(), 32);
    assert_eq!(platform.run_until_idle(), 32);
    assert_eq!(platform.pending(), 0);
    log.lock().unwrap().clone()
}

#[test]
fn deterministic_fifo_without_seed() {
    assert_eq!(order_for(None), (0..32).collect::<Vec<_>>());
}

#[test]
fn seeded_order_is_a_reproducible_permutation() {
    let a = order_for(Some(7));
    assert_eq!(a, order_for(Some(7)), "same seed, same order");
    let mut sorted = a.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..32).collect::<Vec<_>>(), "every item ran once");
    assert_ne!(a, (0..32).collect::<Vec<_>>(), "seed 7 reorders");
    assert_ne!(a, order_for(Some(8)), "another seed, another order");
}

#[test]
fn run_at_most_bounds_self_requeueing_work() {
    struct Again(Arc<AtomicUsize>, Arc<Mutex<Option<Dpc>>>);
    impl DeferredWork for Again {
        fn run(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
            // A running DPC may queue itself again.
            assert!(self.1.lock().unwrap().as_ref().unwrap().queue());
        }
    }
    let platform = Host::deterministic();
    let count = Arc::new(AtomicUsize::new(0));
    let slot = Arc::new(Mutex::new(None));
    let dpc = platform
        .new_dpc(Again(Arc::clone(&count), Arc::clone(&slot)))
        .unwrap();
    *slot.lock().unwrap() = Some(dpc.clone());
    assert!(dpc.queue());
    assert_eq!(platform.run_at_most(5), 5);
    assert_eq!(count.load(Ordering::SeqCst), 5);
    assert_eq!(platform.pending(), 1);
    // Break the cycle DPC -> work -> DPC so the test ends without leaks.
    assert!(dpc.cancel());
    slot.lock().unwrap().take();
}

struct Count(Arc<AtomicUsize>);
impl DeferredWork for Count {
    fn run(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn queueing_a_queued_dpc_coalesces_and_cancel_removes_it() {
    let platform = Host::deterministic();
    let count = Arc::new(AtomicUsize::new(0));
    let dpc = platform.new_dpc(Count(Arc::clone(&count))).unwrap();
    assert!(dpc.queue());
    assert!(!dpc.queue(), "already queued");
    assert_eq!(platform.pending(), 1);
    assert_eq!(platform.run_until_idle(), 1);
    assert_eq!(count.load(Ordering::SeqCst), 1);

    assert!(dpc.queue(), "queueable again after it ran");
    assert!(dpc.cancel());
    assert!(!dpc.cancel(), "nothing left to cancel");
    assert_eq!(platform.run_until_idle(), 0);
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert!(dpc.queue(), "cancel made it queueable");
    platform.run_until_idle();
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[test]
fn queueing_a_dpc_never_allocates() {
    let platform = Host::deterministic();
    let count = Arc::new(AtomicUsize::new(0));
    let dpcs: Vec<Dpc> = (0..64)
        .map(|_| platform.new_dpc(Count(Arc::clone(&count))).unwrap())
        .collect();
    let before = platform.alloc_stats();
    // Even with every allocation failing, queueing all of them works.
    platform.set_fault_plan(softndk::platform::host::FaultPlan::FailFrom(0));
    for dpc in &dpcs {
        assert!(dpc.queue());
    }
    assert_eq!(platform.alloc_stats().attempts, before.attempts);
    platform.run_until_idle();
    assert_eq!(count.load(Ordering::SeqCst), 64);
}

#[test]
fn dropping_a_queued_dpc_still_runs_it_once_then_frees_it() {
    let platform = Host::deterministic();
    let count = Arc::new(AtomicUsize::new(0));
    let dpc = platform.new_dpc(Count(Arc::clone(&count))).unwrap();
    assert!(dpc.queue());
    drop(dpc);
    assert_eq!(platform.alloc_stats().live, 1);
    assert_eq!(platform.run_until_idle(), 1);
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(platform.alloc_stats().live, 0);
}

#[test]
fn dropping_a_deterministic_platform_frees_unrun_work() {
    let count = Arc::new(AtomicUsize::new(0));
    let witness = Arc::new(());
    {
        let platform = Host::deterministic();
        let dpc = platform.new_dpc(Count(Arc::clone(&count))).unwrap();
        assert!(dpc.queue());
        let w = Arc::clone(&witness);
        platform.try_defer(move || drop(w)).unwrap();
        drop(dpc);
    }
    assert_eq!(count.load(Ordering::SeqCst), 0, "never ran");
    assert_eq!(Arc::strong_count(&witness), 1, "the job was dropped");
    assert_eq!(Arc::strong_count(&count), 1, "the DPC was freed");
}

#[test]
fn threaded_flush_waits_for_all_work_and_drop_drains() {
    let platform = Host::threaded(2);
    let count = Arc::new(AtomicUsize::new(0));
    for _ in 0..200 {
        let c = Arc::clone(&count);
        platform
            .try_defer(move || {
                c.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
    }
    platform.flush();
    assert_eq!(count.load(Ordering::SeqCst), 200);
    assert_eq!(platform.pending(), 0);

    for _ in 0..50 {
        let c = Arc::clone(&count);
        platform
            .try_defer(move || {
                c.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
    }
    drop(platform);
    assert_eq!(
        count.load(Ordering::SeqCst),
        250,
        "shutdown ran queued work"
    );
}

#[test]
fn threaded_dpc_runs_once_per_queue_under_contention() {
    let platform = Host::threaded(2);
    let count = Arc::new(AtomicUsize::new(0));
    let dpc = platform.new_dpc(Count(Arc::clone(&count))).unwrap();
    let queued = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..500 {
                    if dpc.queue() {
                        queued.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    platform.flush();
    let queued = queued.load(Ordering::SeqCst);
    assert!(queued >= 1);
    assert_eq!(
        count.load(Ordering::SeqCst),
        queued,
        "one run per successful queue"
    );
}

#[test]
fn event_signalled_from_another_thread_wakes_the_waiter() {
    let platform = Host::threaded(1);
    let event = Arc::new(platform.try_new_event().unwrap());
    assert!(!event.is_signaled());
    assert!(!event.wait_timeout(Duration::from_millis(1)));
    let e2 = Arc::clone(&event);
    let t = std::thread::spawn(move || e2.signal());
    event.wait();
    t.join().unwrap();
    assert!(event.is_signaled());
    // Manual reset: stays signalled until reset.
    event.wait();
    event.reset();
    assert!(!event.is_signaled());
    // Signalled from deferred work (at DISPATCH).
    let e3 = Arc::clone(&event);
    platform.try_defer(move || e3.signal()).unwrap();
    assert!(event.wait_timeout(Duration::from_secs(30)));
}

#[test]
fn deterministic_wait_pumps_the_queue_and_reports_a_hang() {
    let platform = Host::deterministic_seeded(3);
    let event = Arc::new(platform.try_new_event().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    for _ in 0..5 {
        let c = Arc::clone(&count);
        platform
            .try_defer(move || {
                c.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
    }
    let e2 = Arc::clone(&event);
    platform.try_defer(move || e2.signal()).unwrap();
    event.wait();
    assert!(event.is_signaled());
    event.reset();
    platform.run_until_idle();
    assert!(
        !event.wait_timeout(Duration::from_secs(5)),
        "idle: returns at once"
    );
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| event.wait())).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains(WAIT_WOULD_HANG), "{msg}");
}

#[test]
fn virtual_clock_moves_only_when_advanced() {
    let platform = Host::deterministic();
    let t0 = platform.now();
    assert_eq!(t0, Timestamp::from_nanos(0));
    assert_eq!(platform.now(), t0);
    platform.advance(Duration::from_micros(1500));
    let t1 = platform.now();
    assert_eq!(
        t1.saturating_duration_since(t0),
        Duration::from_micros(1500)
    );
    assert_eq!(t0.saturating_duration_since(t1), Duration::ZERO);
    assert_eq!(
        t0.checked_add(Duration::from_micros(1500)),
        Some(t1),
        "deadline arithmetic"
    );
    assert_eq!(
        Timestamp::from_nanos(u64::MAX).checked_add(Duration::from_nanos(1)),
        None
    );
}

#[test]
fn real_clock_is_monotonic_and_refuses_advance() {
    let platform = Host::inline();
    let a = platform.now();
    let b = platform.now();
    assert!(b >= a);
    assert!(std::panic::catch_unwind(|| platform.advance(Duration::from_secs(1))).is_err());
}

#[test]
fn run_one_on_a_non_deterministic_platform_is_refused() {
    let platform = Host::inline();
    assert!(std::panic::catch_unwind(|| platform.run_one()).is_err());
}
