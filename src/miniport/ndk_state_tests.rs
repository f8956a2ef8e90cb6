use super::*;
use crate::abi::{NDIS_STATUS_ADAPTER_NOT_READY, NDK_VERSION};
use crate::miniport::instances::NdkInstances;
use crate::miniport::ndk_adapters;
use crate::miniport::ndk_config::NdkAdapterState;
use crate::platform::host::Host;
use std::sync::{Arc, Mutex};
use std::vec::Vec;

/// Runs a worker to the end, answering every announcement with `answer`; returns the events.
fn run_worker(state: &mut NdkState, answer: AnnounceResult) -> Vec<bool> {
    let mut events = Vec::new();
    while let Some(enable) = state.next_announcement() {
        events.push(enable);
        state.announced(enable, answer);
    }
    events
}

#[test]
fn initial_state_is_what_the_attributes_report() {
    assert!(NdkState::new(None, true).announced_enabled());
    assert!(NdkState::new(Some(1), true).accepts_opens());
    assert!(!NdkState::new(Some(0), true).announced_enabled());
    assert!(!NdkState::new(None, false).announced_enabled());
    assert!(NdkState::new(None, true).worker_idle());
}

#[test]
fn only_real_changes_queue_a_worker() {
    let mut s = NdkState::new(None, true);
    assert!(!s.request(true), "already enabled: nothing to announce");
    assert!(s.request(false));
    assert!(
        !s.accepts_opens(),
        "opens refused as soon as a disable is requested"
    );
    assert_eq!(run_worker(&mut s, AnnounceResult::Done), [false]);
    assert!(s.worker_idle());
    assert!(!s.announced_enabled());
    assert!(!s.request(false), "already disabled");
    assert!(s.request(true));
    assert_eq!(run_worker(&mut s, AnnounceResult::Done), [true]);
    assert!(s.accepts_opens());
}

#[test]
fn repeated_sets_coalesce_into_one_worker() {
    let mut s = NdkState::new(None, true);
    assert!(s.request(false), "first change queues the worker");
    assert!(!s.request(true), "worker pending: no second queue");
    assert!(!s.request(false));
    assert!(!s.request(true));
    // Back where NDIS already is: the worker finds nothing to announce.
    assert_eq!(run_worker(&mut s, AnnounceResult::Done), Vec::<bool>::new());
    assert!(s.worker_idle());
    assert!(s.accepts_opens());
    // Flip-flop ending on a change announces only the final state.
    assert!(s.request(false));
    assert!(!s.request(true));
    assert!(!s.request(false));
    assert_eq!(run_worker(&mut s, AnnounceResult::Done), [false]);
}

#[test]
fn a_set_while_the_worker_announces_is_picked_up_by_the_same_worker() {
    let mut s = NdkState::new(None, true);
    assert!(s.request(false));
    assert_eq!(s.next_announcement(), Some(false));
    // NdisMNetPnPEvent(disable) is in progress; an enable arrives meanwhile.
    assert!(!s.request(true), "the running worker will see it");
    s.announced(false, AnnounceResult::Done);
    assert_eq!(s.next_announcement(), Some(true));
    assert!(
        s.accepts_opens(),
        "opens accepted while the enable is being forwarded"
    );
    s.announced(true, AnnounceResult::Done);
    assert_eq!(s.next_announcement(), None);
    assert!(s.worker_idle());
}

#[test]
fn keyword_or_missing_provider_keeps_ndk_off() {
    let mut off = NdkState::new(Some(0), true);
    assert!(!off.request(true), "*NetworkDirect = 0 never enables");
    assert!(!off.accepts_opens());
    let mut unready = NdkState::new(None, false);
    for value in [true, false, true] {
        assert!(!unready.request(value));
    }
    assert!(unready.worker_idle());
    assert!(!unready.announced_enabled());
}

#[test]
fn failures_roll_back_and_are_not_retried_in_a_loop() {
    let mut s = NdkState::new(None, true);
    assert!(s.request(false));
    assert_eq!(run_worker(&mut s, AnnounceResult::Failed), [false]);
    assert!(s.announced_enabled(), "NDIS did not flip");
    assert!(s.accepts_opens(), "the request was dropped");
    assert!(s.worker_idle());
    // NDIS already in the target state counts as announced.
    assert!(s.request(false));
    assert_eq!(run_worker(&mut s, AnnounceResult::AlreadyInState), [false]);
    assert!(!s.announced_enabled());
    // The next set tries again.
    assert!(s.request(true));
    assert_eq!(run_worker(&mut s, AnnounceResult::Done), [true]);
}

#[test]
fn announcer_signals_idle_only_when_the_worker_ends() {
    let p = Host::deterministic();
    let a = NdkAnnouncer::try_new(&p, None, false).unwrap();
    assert!(!a.accepts_opens());
    assert!(a.configure(None, true), "configured at initialize: enabled");
    a.wait_idle();
    assert!(a.request(false));
    assert!(!a.snapshot().worker_idle());
    assert_eq!(a.next_announcement(), Some(false));
    a.announced(false, AnnounceResult::Done);
    assert_eq!(a.next_announcement(), None);
    a.wait_idle();
    assert!(!a.accepts_opens());
}

#[test]
#[allow(
    unsafe_code,
    reason = "closes the instance the way the close handler does"
)]
fn disable_waits_for_open_instances_and_refuses_new_opens_meanwhile() {
    let p = Host::threaded(1);
    let announcer = Arc::new(NdkAnnouncer::try_new(&p, None, true).unwrap());
    let instances = Arc::new(NdkInstances::try_new(&p).unwrap());
    let state = NdkAdapterState::detached(3);
    let open = |announcer: &NdkAnnouncer| {
        ndk_adapters::open(announcer, &instances, &p, &state, NDK_VERSION::new(1, 0))
    };
    let instance = open(&announcer).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    assert!(announcer.request(false), "queue the worker");
    // The worker (a PASSIVE thread, like an NDIS I/O work item): NdisMNetPnPEvent(disable)
    // returns only once every open NDK_ADAPTER is closed.
    let worker = {
        let (announcer, instances, log) = (
            Arc::clone(&announcer),
            Arc::clone(&instances),
            Arc::clone(&log),
        );
        std::thread::spawn(move || {
            while let Some(enable) = announcer.next_announcement() {
                if !enable {
                    instances.wait_idle();
                }
                log.lock().unwrap().push(enable);
                announcer.announced(enable, AnnounceResult::Done);
            }
        })
    };
    assert_eq!(
        open(&announcer),
        Err(NDIS_STATUS_ADAPTER_NOT_READY),
        "an open racing the disable is refused"
    );
    assert!(
        log.lock().unwrap().is_empty(),
        "disable still waiting for the close"
    );
    // SAFETY: returned by `open` above; closed once.
    unsafe { ndk_adapters::close(&instances, instance) };
    announcer.wait_idle();
    worker.join().unwrap();
    assert_eq!(*log.lock().unwrap(), [false]);
    assert!(announcer.snapshot().worker_idle());
}
