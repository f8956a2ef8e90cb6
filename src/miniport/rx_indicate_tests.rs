//! The indication pass against pause and restart, driven by the host platform's DPC queue:
//! hand-picked interleavings, then seeded random schedules.

use std::boxed::Box;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::vec::Vec;

use super::*;
use crate::miniport::state::{PauseOutcome, RunState, Transition};
use crate::platform::host::Host;
use crate::platform::prelude::*;

/// What NDIS and the protocol above it would observe of one adapter's receive side.
#[derive(Default)]
struct Observed {
    /// Slots indicated and not yet returned by the protocol.
    held: Mutex<Vec<usize>>,
    /// Calls to `MiniportPause`.
    pauses: AtomicUsize,
    /// Pauses completed (returned `SUCCESS`, or `NdisMPauseComplete`).
    pause_completions: AtomicUsize,
    /// Between `MiniportPause` being called and the pause completing.
    pause_begun: AtomicBool,
    /// Frames indicated while a pause had begun (must stay 0).
    indicated_after_pause: AtomicUsize,
    /// Inside the indication call.
    in_indication: AtomicBool,
    /// Pause completions made while an indication call was in progress (must stay 0).
    completed_during_indication: AtomicUsize,
    dropped: AtomicUsize,
}

/// What the protocol does inside the next indication call.
type Inside = Box<dyn FnMut(&Nic) + Send>;

/// One adapter's receive side: the gate, the slots, and what was observed.
struct Nic {
    run: AdapterRun,
    slots: RxSlots,
    seen: Observed,
    /// What the protocol does inside the indication call.
    inside: Mutex<Option<Inside>>,
}

impl Nic {
    fn running() -> Arc<Self> {
        let nic = Arc::new(Self {
            run: AdapterRun::new(),
            slots: RxSlots::new(8),
            seen: Observed::default(),
            inside: Mutex::new(None),
        });
        nic.run.apply(Transition::InitializeComplete).unwrap();
        nic.restart();
        nic
    }

    fn restart(&self) {
        self.run.apply(Transition::RestartBegin).unwrap();
        self.seen.pause_begun.store(false, Ordering::SeqCst);
        self.run.apply(Transition::RestartComplete).unwrap();
    }

    fn settle(&self, leave: Leave) {
        if leave == Leave::CompletePause {
            self.seen.pause_completions.fetch_add(1, Ordering::SeqCst);
            self.seen.pause_begun.store(false, Ordering::SeqCst);
            if self.seen.in_indication.load(Ordering::SeqCst) {
                self.seen
                    .completed_during_indication
                    .fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    /// `MiniportPause`.
    fn pause(&self) -> PauseOutcome {
        self.seen.pause_begun.store(true, Ordering::SeqCst);
        self.seen.pauses.fetch_add(1, Ordering::SeqCst);
        let outcome = self.run.pause().unwrap();
        if outcome == PauseOutcome::Completed {
            self.seen.pause_completions.fetch_add(1, Ordering::SeqCst);
            self.seen.pause_begun.store(false, Ordering::SeqCst);
        }
        outcome
    }

    /// A sender copying one frame in (`receive_frame`): true when a slot was published.
    fn deliver(&self, dpc: &impl DpcOps) -> bool {
        let published = if self.run.begin_delivery()
            && let Some(slot) = self.slots.take()
        {
            self.run.hold();
            self.slots.publish(slot).unwrap();
            dpc.queue();
            true
        } else {
            false
        };
        self.settle(self.run.leave(1));
        published
    }

    /// `MiniportReturnNetBufferLists` for up to `count` held NBLs.
    fn give_back(&self, count: usize) {
        let returned: Vec<usize> = {
            let mut held = self.seen.held.lock().unwrap();
            let keep = held.len().saturating_sub(count);
            held.split_off(keep)
        };
        for slot in &returned {
            self.slots.give(*slot).unwrap();
        }
        self.settle(self.run.leave(returned.len()));
    }

    /// The DPC body, as `datapath` runs it.
    fn pass(&self) {
        let (outcome, leave) = indicate_ready(
            &self.run,
            &self.slots,
            |dropped| {
                self.seen.dropped.fetch_add(dropped, Ordering::SeqCst);
            },
            |ready| {
                let ready: Vec<usize> = ready.collect();
                if self.seen.pause_begun.load(Ordering::SeqCst) {
                    self.seen
                        .indicated_after_pause
                        .fetch_add(ready.len(), Ordering::SeqCst);
                }
                self.seen.held.lock().unwrap().extend(ready);
                self.seen.in_indication.store(true, Ordering::SeqCst);
                let inside = self.inside.lock().unwrap().take();
                if let Some(mut inside) = inside {
                    inside(self);
                }
                self.seen.in_indication.store(false, Ordering::SeqCst);
            },
        );
        assert!(outcome.indicated == 0 || outcome.dropped == 0);
        self.settle(leave);
    }

    fn completions(&self) -> usize {
        self.seen.pause_completions.load(Ordering::SeqCst)
    }

    fn assert_clean(&self) {
        assert_eq!(self.seen.indicated_after_pause.load(Ordering::SeqCst), 0);
        assert_eq!(
            self.seen.completed_during_indication.load(Ordering::SeqCst),
            0
        );
    }
}

struct Pass(Arc<Nic>);

impl DeferredWork for Pass {
    fn run(&self) {
        self.0.pass();
    }
}

fn setup(host: &Host) -> (Arc<Nic>, impl DpcOps) {
    let nic = Nic::running();
    let dpc = host.new_dpc(Pass(Arc::clone(&nic))).unwrap();
    (nic, dpc)
}

#[test]
fn a_pause_during_the_indication_call_waits_for_the_call_and_the_returns() {
    let host = Host::deterministic();
    let (nic, dpc) = setup(&host);
    assert!(nic.deliver(&dpc));
    assert!(nic.deliver(&dpc));
    // NDIS pauses the adapter while the protocol is inside the indication, and the protocol
    // returns both NBLs before the call is over.
    *nic.inside.lock().unwrap() = Some(Box::new(|nic: &Nic| {
        assert_eq!(nic.pause(), PauseOutcome::Pending);
        nic.give_back(2);
        assert_eq!(nic.completions(), 0, "not while the call is in progress");
    }));
    assert_eq!(host.run_until_idle(), 1);
    assert_eq!(nic.completions(), 1, "the pass itself completes the pause");
    assert_eq!(nic.run.state(), RunState::Paused);
    assert_eq!(nic.run.units_in_flight(), 0);
    nic.assert_clean();
}

#[test]
fn a_pause_after_admission_pends_until_the_indicated_frames_return() {
    let host = Host::deterministic();
    let (nic, dpc) = setup(&host);
    assert!(nic.deliver(&dpc));
    *nic.inside.lock().unwrap() = Some(Box::new(|nic: &Nic| {
        assert_eq!(nic.pause(), PauseOutcome::Pending);
    }));
    host.run_until_idle();
    assert_eq!(nic.completions(), 0, "the NBL is still with NDIS");
    assert!(!nic.deliver(&dpc), "no delivery while pausing");
    nic.give_back(1);
    assert_eq!(nic.completions(), 1);
    assert_eq!(nic.run.state(), RunState::Paused);
    nic.assert_clean();
}

#[test]
fn frames_ready_when_the_pause_begins_are_dropped_not_indicated() {
    let host = Host::deterministic();
    let (nic, dpc) = setup(&host);
    assert!(nic.deliver(&dpc));
    assert!(nic.deliver(&dpc));
    assert_eq!(
        nic.pause(),
        PauseOutcome::Pending,
        "ready frames hold units"
    );
    host.run_until_idle();
    assert_eq!(nic.seen.dropped.load(Ordering::SeqCst), 2);
    assert!(nic.seen.held.lock().unwrap().is_empty());
    assert_eq!(
        nic.completions(),
        1,
        "the dropping pass completes the pause"
    );
    assert_eq!(nic.slots.in_use(), 0);
    nic.assert_clean();
}

#[test]
fn restart_after_pause_indicates_again() {
    let host = Host::deterministic();
    let (nic, dpc) = setup(&host);
    assert_eq!(nic.pause(), PauseOutcome::Completed);
    assert!(!nic.deliver(&dpc), "paused: nothing is delivered");
    nic.restart();
    assert!(nic.deliver(&dpc));
    host.run_until_idle();
    assert_eq!(nic.seen.held.lock().unwrap().len(), 1);
    nic.give_back(1);
    assert_eq!(nic.pause(), PauseOutcome::Completed);
    assert_eq!(nic.completions(), 2);
    nic.assert_clean();
}

#[test]
fn an_empty_pass_holding_the_last_unit_completes_the_pause() {
    let host = Host::deterministic();
    let (nic, dpc) = setup(&host);
    assert!(nic.deliver(&dpc));
    // A second queued pass finds nothing; the first one's frame is returned inside its call
    // while a pause is pending, so the unit the pass holds is the last.
    *nic.inside.lock().unwrap() = Some(Box::new(|nic: &Nic| {
        assert_eq!(nic.pause(), PauseOutcome::Pending);
        nic.give_back(1);
    }));
    nic.pass();
    assert_eq!(nic.completions(), 1);
    host.run_until_idle();
    assert_eq!(
        nic.completions(),
        1,
        "an empty pass on a paused adapter changes nothing"
    );
    assert_eq!(nic.run.units_in_flight(), 0);
}

/// A tiny deterministic generator for the schedule (xorshift64*).
struct Schedule(u64);

impl Schedule {
    const fn next(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % bound
    }
}

#[test]
fn seeded_schedules_never_indicate_after_pause_and_complete_each_pause_once() {
    for seed in 1..=300_u64 {
        let host = Host::deterministic_seeded(seed);
        let (nic, dpc) = setup(&host);
        let mut schedule = Schedule(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        for _ in 0..60 {
            match schedule.next(6) {
                0 | 1 => {
                    let _ = nic.deliver(&dpc);
                }
                2 => {
                    let _ = host.run_one();
                }
                3 => nic.give_back(usize::try_from(schedule.next(3)).unwrap()),
                4 if nic.run.state() == RunState::Running => {
                    if schedule.next(2) == 0 {
                        let _ = nic.pause();
                    } else {
                        // The next pass meets a pause (and returns) inside its call.
                        let returns = usize::try_from(schedule.next(3)).unwrap();
                        *nic.inside.lock().unwrap() = Some(Box::new(move |nic: &Nic| {
                            if nic.run.state() == RunState::Running {
                                let _ = nic.pause();
                            }
                            nic.give_back(returns);
                        }));
                    }
                }
                4 | 5 if nic.run.state() == RunState::Paused => nic.restart(),
                _ => {}
            }
        }
        // Finish: NDIS returns everything, the DPCs drain, and a running adapter is paused.
        *nic.inside.lock().unwrap() = None;
        host.run_until_idle();
        nic.give_back(usize::MAX);
        if nic.run.state() == RunState::Running {
            let _ = nic.pause();
        }
        assert_eq!(nic.run.state(), RunState::Paused, "seed {seed}");
        assert_eq!(nic.run.units_in_flight(), 0, "seed {seed}");
        assert_eq!(nic.slots.in_use(), 0, "seed {seed}");
        assert_eq!(
            nic.completions(),
            nic.seen.pauses.load(Ordering::SeqCst),
            "seed {seed}: every pause completed exactly once"
        );
        nic.assert_clean();
    }
}
