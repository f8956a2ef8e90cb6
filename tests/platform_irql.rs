//! The IRQL model: what runs at DISPATCH, what may block, and the callback-lock rule.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use softndk::platform::host::{
    self, BLOCKING_AT_DISPATCH, CALLBACK_WITH_LOCK_HELD, Host, held_lock_count, with_irql,
};
use softndk::platform::prelude::*;
use softndk::platform::{
    Irql, LockLevel, SpinLock, assert_can_block, assert_no_provider_lock_held, current_irql,
};

const LEVEL: LockLevel = LockLevel::new(10);

fn panic_message(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

#[test]
fn threads_start_at_passive_and_may_block() {
    assert_eq!(current_irql(), Irql::Passive);
    assert_can_block();
    assert_no_provider_lock_held();
}

#[test]
fn with_irql_sets_and_restores_even_on_panic() {
    with_irql(Irql::Dispatch, || {
        assert_eq!(current_irql(), Irql::Dispatch);
    });
    assert_eq!(current_irql(), Irql::Passive);
    with_irql(Irql::Apc, || {
        assert_eq!(current_irql(), Irql::Apc);
        assert_can_block();
    });
    let _ = catch_unwind(|| with_irql(Irql::Dispatch, || panic!("inside")));
    assert_eq!(current_irql(), Irql::Passive);
}

#[test]
fn blocking_at_dispatch_panics() {
    let msg = panic_message(|| with_irql(Irql::Dispatch, assert_can_block));
    assert!(msg.contains(BLOCKING_AT_DISPATCH), "{msg}");
}

#[test]
fn waiting_on_an_event_at_dispatch_panics_even_if_signalled() {
    let platform = Host::inline();
    let event = platform.try_new_event().unwrap();
    event.signal();
    let msg = panic_message(|| with_irql(Irql::Dispatch, || event.wait()));
    assert!(msg.contains(BLOCKING_AT_DISPATCH), "{msg}");
    // The same wait at PASSIVE returns at once.
    event.wait();
}

#[test]
fn waiting_while_holding_a_spin_lock_panics() {
    let platform = Host::threaded(1);
    let lock = SpinLock::new(LEVEL, ());
    let event = platform.try_new_event().unwrap();
    let msg = panic_message(|| {
        let _guard = lock.lock();
        event.wait_timeout(std::time::Duration::from_secs(1));
    });
    assert!(msg.contains(BLOCKING_AT_DISPATCH), "{msg}");
    assert_eq!(held_lock_count(), 0);
    assert_eq!(current_irql(), Irql::Passive);
}

#[test]
fn callback_check_catches_a_held_lock() {
    let lock = SpinLock::new(LEVEL, 0_u32);
    let msg = panic_message(|| {
        let _guard = lock.lock();
        assert_no_provider_lock_held();
    });
    assert!(msg.contains(CALLBACK_WITH_LOCK_HELD), "{msg}");
    // Consumers at DISPATCH without provider locks are fine.
    with_irql(Irql::Dispatch, assert_no_provider_lock_held);
}

#[test]
fn with_irql_refuses_to_run_a_consumer_inside_provider_locks() {
    let lock = SpinLock::new(LEVEL, ());
    let msg = panic_message(|| {
        let _guard = lock.lock();
        with_irql(Irql::Dispatch, || ());
    });
    assert!(msg.contains(CALLBACK_WITH_LOCK_HELD), "{msg}");
}

#[derive(Clone)]
struct Probe(mpsc::Sender<(Irql, usize, std::thread::ThreadId)>);

impl DeferredWork for Probe {
    fn run(&self) {
        let _ = self.0.send((
            current_irql(),
            held_lock_count(),
            std::thread::current().id(),
        ));
    }
}

#[test]
fn threaded_workers_run_deferred_work_at_dispatch_on_other_threads() {
    let platform = Host::threaded(2);
    let (tx, rx) = mpsc::channel();
    let dpc = platform.new_dpc(Probe(tx.clone())).unwrap();
    assert!(dpc.queue());
    let (irql, held, thread) = rx.recv().unwrap();
    assert_eq!(irql, Irql::Dispatch);
    assert_eq!(held, 0);
    assert_ne!(thread, std::thread::current().id());
    platform
        .try_defer(move || Probe(tx).run())
        .expect("no fault plan installed");
    assert_eq!(rx.recv().unwrap().0, Irql::Dispatch);
}

#[test]
fn deterministic_items_run_at_dispatch_on_the_draining_thread() {
    let platform = Host::deterministic();
    let (tx, rx) = mpsc::channel();
    let dpc = platform.new_dpc(Probe(tx)).unwrap();
    assert!(dpc.queue());
    assert!(rx.try_recv().is_err(), "nothing runs until the test drains");
    assert_eq!(platform.run_until_idle(), 1);
    let (irql, held, thread) = rx.try_recv().unwrap();
    assert_eq!((irql, held), (Irql::Dispatch, 0));
    assert_eq!(thread, std::thread::current().id());
    assert_eq!(
        current_irql(),
        Irql::Passive,
        "draining restores the test's IRQL"
    );
}

#[test]
fn draining_with_a_provider_lock_held_panics() {
    let platform = Host::deterministic();
    platform.try_defer(|| ()).unwrap();
    let lock = SpinLock::new(LEVEL, ());
    let msg = panic_message(|| {
        let _guard = lock.lock();
        platform.run_one();
    });
    assert!(msg.contains(CALLBACK_WITH_LOCK_HELD), "{msg}");
    assert_eq!(platform.pending(), 1, "the item was not taken");
}

#[test]
fn deferred_work_that_blocks_is_caught() {
    let platform = Host::deterministic();
    let event = Arc::new(platform.try_new_event().unwrap());
    let e2 = Arc::clone(&event);
    platform.try_defer(move || e2.wait()).unwrap();
    let msg = panic_message(|| {
        platform.run_one();
    });
    assert!(msg.contains(BLOCKING_AT_DISPATCH), "{msg}");
}

#[test]
fn deferred_work_leaking_a_lock_is_caught() {
    let platform = Host::deterministic();
    let lock = Arc::new(SpinLock::new(LEVEL, ()));
    let l2 = Arc::clone(&lock);
    platform
        .try_defer(move || std::mem::forget(l2.lock()))
        .unwrap();
    let msg = panic_message(|| {
        platform.run_one();
    });
    assert!(msg.contains("holding a provider lock"), "{msg}");
}

#[test]
fn inline_work_queued_under_a_lock_runs_when_the_lock_drops() {
    let platform = Host::inline();
    let lock = SpinLock::new(LEVEL, ());
    let ran = Arc::new(AtomicUsize::new(0));
    let r2 = Arc::clone(&ran);
    let guard = lock.lock();
    platform
        .try_defer(move || {
            assert_eq!(current_irql(), Irql::Dispatch);
            assert_eq!(held_lock_count(), 0);
            r2.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    assert_eq!(
        ran.load(Ordering::SeqCst),
        0,
        "a DPC never runs inside a lock"
    );
    drop(guard);
    assert_eq!(
        ran.load(Ordering::SeqCst),
        1,
        "delivered when the IRQL dropped"
    );
}

#[test]
fn inline_work_queued_at_dispatch_runs_when_the_consumer_lowers_irql() {
    let platform = Host::inline();
    let ran = Arc::new(AtomicUsize::new(0));
    let r2 = Arc::clone(&ran);
    with_irql(Irql::Dispatch, || {
        platform
            .try_defer(move || {
                r2.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    });
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    // Queued from PASSIVE: runs before `try_defer` returns.
    let r3 = Arc::clone(&ran);
    platform
        .try_defer(move || {
            r3.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 2);
}

#[test]
fn host_module_functions_agree_with_the_selected_platform() {
    assert_eq!(host::current_irql(), current_irql());
    let lock = SpinLock::new(LEVEL, ());
    let _g = lock.lock();
    assert_eq!(host::current_irql(), Irql::Dispatch);
    assert_eq!(
        <softndk::platform::Platform as PlatformOps>::current_irql(),
        Irql::Dispatch
    );
}
