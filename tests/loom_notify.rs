//! Loom models of the CQ and SRQ notification protocol (`src/verbs/arming.rs`,
//! `src/verbs/notify.rs`).
//!
//! Run (exhaustively, without a preemption bound: see `model`):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --release --test loom_notify
//! ```
//!
//! The provider's CQ and SRQ sit on the platform's spin lock and DPCs, which loom cannot run.
//! Their protocol does not: *when* a notification is due is decided by the provider's own
//! `CqArming` / `SrqThreshold`, and *how* it is delivered (one pending status, one queued unit,
//! one running callback, the loop that hands statuses over with no lock held) by its own
//! `Delivery` and `deliver`. The models below drive exactly those types behind a loom `Mutex`,
//! with the same glue `Cq::push` / `Cq::arm` / `Srq::with_queue` / `Srq::modify` have around
//! them (a ring length, a queue length). A DPC is modelled as the kernel runs one: every queue
//! that `Delivery::schedule` asks for becomes a new thread (a `KDPC` that is queued again while
//! its routine runs may run on another processor at the same time), so two delivery runs can
//! overlap and the protocol has to serialise the callbacks itself.
//!
//! Checked in every interleaving: no two callbacks overlap (a callback entered while one runs
//! on any thread, including synchronously from a re-arm inside the callback, is a failure);
//! no callback without an arm and at most one per arm; no lost notification (an arm that a
//! completion satisfied is not still outstanding at the end); an overrun is reported exactly
//! once; every unit a queued DPC took is released exactly once.
#![cfg(loom)]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod loom_common;

use loom::sync::Mutex;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use loom::thread::{self, JoinHandle};
use softndk::abi::{NTSTATUS, STATUS_BUFFER_OVERFLOW, STATUS_SUCCESS};
use softndk::verbs::arming::{ArmType, CqArming, Pushed, SrqThreshold};
use softndk::verbs::notify::{Delivery, Notifying, StateLock, deliver};
use std::sync::Arc;

use loom_common::model;

/// The lifetime unit a queued DPC holds: counted, so the model sees each released once.
struct Token(Arc<AtomicUsize>);

impl Token {
    fn take(units: &Arc<AtomicUsize>) -> Self {
        units.fetch_add(1, SeqCst);
        Self(Arc::clone(units))
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

/// What every model observes about callbacks.
#[derive(Default)]
struct Observed {
    /// Units held by queued or running DPCs.
    units: Arc<AtomicUsize>,
    in_callback: AtomicBool,
    notifications: AtomicUsize,
    overflows: AtomicUsize,
    /// DPC runs, joined by the model's main thread. (A `std` mutex: only harness bookkeeping,
    /// never held across a loom operation.)
    runs: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

impl Observed {
    /// Enters a callback: fails if another is running (overlap or synchronous re-entry).
    fn enter(&self, status: NTSTATUS) {
        assert!(
            !self.in_callback.swap(true, SeqCst),
            "notification callbacks overlap"
        );
        if status == STATUS_BUFFER_OVERFLOW {
            self.overflows.fetch_add(1, SeqCst);
        } else {
            assert_eq!(status, STATUS_SUCCESS);
        }
        self.notifications.fetch_add(1, SeqCst);
    }

    fn leave(&self) {
        self.in_callback.store(false, SeqCst);
    }

    /// Runs a DPC on a processor of its own.
    fn queue_dpc(&self, run: impl FnOnce() + Send + 'static) {
        let handle = thread::spawn(run);
        self.runs.lock().unwrap().push(handle);
    }

    /// Waits for every DPC run, including those queued by runs being waited for.
    fn settle(&self) {
        loop {
            let next = self.runs.lock().unwrap().pop();
            match next {
                Some(run) => run.join().unwrap(),
                None => break,
            }
        }
        assert_eq!(self.units.load(SeqCst), 0, "a queued DPC's unit leaked");
    }
}

// ---------------------------------------------------------------- CQ

/// `CqState` of `src/verbs/cq.rs`, without the completions themselves.
struct CqModelState {
    depth: usize,
    len: usize,
    /// Solicited completions that entered the ring.
    solicited: usize,
    arming: CqArming,
    delivery: Delivery<Token>,
}

impl Notifying for CqModelState {
    type Unit = Token;

    fn delivery(&mut self) -> &mut Delivery<Token> {
        &mut self.delivery
    }

    fn handing_over(&mut self) {
        self.arming.handing_over();
    }
}

struct CqLock(Mutex<CqModelState>);

impl StateLock for CqLock {
    type State = CqModelState;

    fn with<R>(&self, f: impl FnOnce(&mut CqModelState) -> R) -> R {
        f(&mut self.0.lock().unwrap())
    }
}

/// What the consumer's callback does.
#[derive(Clone, Copy)]
enum OnNotify {
    /// Nothing (counts only).
    Count,
    /// Reaps every completion and re-arms ANY, from inside the callback, the first time.
    PollAndRearmOnce,
    /// Checks that a solicited completion is in the ring.
    ExpectSolicited,
}

struct ModelCq {
    state: CqLock,
    seen: Observed,
    on_notify: OnNotify,
    rearmed: AtomicBool,
    /// Arms that found the CQ unarmed (each allows one notification).
    fresh_arms: AtomicUsize,
}

impl ModelCq {
    fn new(depth: usize, on_notify: OnNotify) -> Arc<Self> {
        Arc::new(Self {
            state: CqLock(Mutex::new(CqModelState {
                depth,
                len: 0,
                solicited: 0,
                arming: CqArming::new(),
                delivery: Delivery::new(),
            })),
            seen: Observed::default(),
            on_notify,
            rearmed: AtomicBool::new(false),
            fresh_arms: AtomicUsize::new(0),
        })
    }

    /// `Cq::push`'s glue around `CqArming::push`.
    fn push(self: &Arc<Self>, solicited: bool) -> bool {
        self.state.with(|s| {
            let full = s.len == s.depth;
            let (entered, due) = match s.arming.push(full, solicited) {
                Pushed::Refused => (false, None),
                Pushed::Overran(due) => (false, due),
                Pushed::Entered(due) => {
                    s.len += 1;
                    s.solicited += usize::from(solicited);
                    (true, due)
                }
            };
            self.schedule(s, due);
            entered
        })
    }

    /// `Cq::arm`'s glue around `CqArming::arm`.
    fn arm(self: &Arc<Self>, arm: ArmType) {
        self.state.with(|s| {
            if !s.arming.is_armed() && !s.arming.is_overrun() {
                self.fresh_arms.fetch_add(1, SeqCst);
            }
            let waiting = s.len > 0;
            let due = s.arming.arm(arm, waiting);
            self.schedule(s, due);
        });
    }

    /// `Cq::poll` of everything.
    fn poll(&self) -> usize {
        self.state.with(|s| {
            if s.arming.is_overrun() {
                return 0;
            }
            let n = s.len;
            s.len = 0;
            n
        })
    }

    /// `Cq::schedule`: the DPC is queued iff `Delivery::schedule` says so.
    fn schedule(self: &Arc<Self>, s: &mut CqModelState, due: Option<NTSTATUS>) {
        let Some(status) = due else { return };
        let units = Arc::clone(&self.seen.units);
        if s.delivery.schedule(status, || Some(Token::take(&units))) {
            let cq = Arc::clone(self);
            self.seen.queue_dpc(move || cq.dpc());
        }
    }

    /// The DPC body (`Cq::deliver`): the provider's delivery loop.
    fn dpc(self: &Arc<Self>) {
        deliver(&self.state, || false, |status| self.callback(status));
    }

    fn callback(self: &Arc<Self>, status: NTSTATUS) {
        self.seen.enter(status);
        match self.on_notify {
            OnNotify::Count => {}
            OnNotify::PollAndRearmOnce => {
                if !self.rearmed.swap(true, SeqCst) {
                    self.poll();
                    // Must not call back from here: the check in `enter` would fail.
                    self.arm(ArmType::Any);
                }
            }
            OnNotify::ExpectSolicited => {
                let solicited = self.state.with(|s| s.solicited);
                assert_eq!(
                    solicited, 1,
                    "SOLICITED notified before a solicited completion"
                );
            }
        }
        self.seen.leave();
    }

    /// Every notification was owed by an arm and every arm a completion satisfied was
    /// notified: `notifications + (still armed) == fresh arms`, and an arm still outstanding
    /// has nothing waiting in the ring.
    fn check_arms_accounted(&self) {
        let (armed, waiting) = self.state.with(|s| (s.arming.is_armed(), s.len));
        let notified = self.seen.notifications.load(SeqCst);
        assert_eq!(
            notified + usize::from(armed),
            self.fresh_arms.load(SeqCst),
            "a notification without an arm, or an arm satisfied but never notified"
        );
        assert!(
            !armed || waiting == 0,
            "lost notification: armed with completions waiting"
        );
    }
}

/// An ANY arm and a completion racing: exactly one notification, whatever the order.
#[test]
fn armed_completion_notifies_exactly_once() {
    model(|| {
        let cq = ModelCq::new(4, OnNotify::Count);
        let pusher = {
            let cq = Arc::clone(&cq);
            thread::spawn(move || assert!(cq.push(false)))
        };
        cq.arm(ArmType::Any);
        pusher.join().unwrap();
        cq.seen.settle();
        assert_eq!(cq.seen.notifications.load(SeqCst), 1);
        cq.check_arms_accounted();
    });
}

/// Completions racing a poll with no arm: never a notification.
#[test]
fn completions_without_an_arm_never_notify() {
    model(|| {
        let cq = ModelCq::new(4, OnNotify::Count);
        let pusher = {
            let cq = Arc::clone(&cq);
            thread::spawn(move || {
                assert!(cq.push(true));
                assert!(cq.push(false));
            })
        };
        let reaped = cq.poll();
        pusher.join().unwrap();
        cq.seen.settle();
        assert_eq!(reaped + cq.poll(), 2, "every completion reaped once");
        assert_eq!(cq.seen.notifications.load(SeqCst), 0);
        cq.check_arms_accounted();
    });
}

/// Two completions against an arm that the callback renews (after reaping) from inside
/// itself: the re-arm never calls back synchronously, callbacks never overlap although each
/// queue may start a run on another processor, and the second arm is notified iff a
/// completion arrived after it.
#[test]
fn rearm_inside_the_callback_never_nests_and_loses_nothing() {
    model(|| {
        let cq = ModelCq::new(4, OnNotify::PollAndRearmOnce);
        let pusher = {
            let cq = Arc::clone(&cq);
            thread::spawn(move || {
                assert!(cq.push(false));
                assert!(cq.push(false));
            })
        };
        cq.arm(ArmType::Any);
        pusher.join().unwrap();
        cq.seen.settle();
        let notified = cq.seen.notifications.load(SeqCst);
        assert!((1..=2).contains(&notified), "{notified} notifications");
        cq.check_arms_accounted();
    });
}

/// A SOLICITED arm ignores a plain completion and is notified once the solicited one is in.
#[test]
fn solicited_arm_waits_for_a_solicited_completion() {
    model(|| {
        let cq = ModelCq::new(4, OnNotify::ExpectSolicited);
        let pusher = {
            let cq = Arc::clone(&cq);
            thread::spawn(move || {
                assert!(cq.push(false));
                assert!(cq.push(true));
            })
        };
        cq.arm(ArmType::Solicited);
        pusher.join().unwrap();
        cq.seen.settle();
        assert_eq!(cq.seen.notifications.load(SeqCst), 1);
        cq.check_arms_accounted();
    });
}

/// An ERRORS arm racing an overrun: `STATUS_BUFFER_OVERFLOW` exactly once, whether the arm
/// came before the overrun (reported at the overrun) or after (reported at the arm), and
/// never again to a later arm.
#[test]
fn overrun_is_notified_exactly_once() {
    model(|| {
        let cq = ModelCq::new(1, OnNotify::Count);
        let pusher = {
            let cq = Arc::clone(&cq);
            thread::spawn(move || {
                assert!(cq.push(false));
                assert!(!cq.push(false), "the ring of one is full");
                assert!(!cq.push(false), "refused for good");
            })
        };
        cq.arm(ArmType::Errors);
        pusher.join().unwrap();
        cq.arm(ArmType::Any);
        cq.seen.settle();
        assert_eq!(cq.seen.notifications.load(SeqCst), 1);
        assert_eq!(cq.seen.overflows.load(SeqCst), 1);
        assert_eq!(cq.poll(), 0, "an overrun CQ is unusable");
    });
}

// ---------------------------------------------------------------- SRQ

/// `SrqState` of `src/verbs/srq.rs`, without the receives themselves.
struct SrqModelState {
    queued: u32,
    threshold: SrqThreshold,
    delivery: Delivery<Token>,
}

impl Notifying for SrqModelState {
    type Unit = Token;

    fn delivery(&mut self) -> &mut Delivery<Token> {
        &mut self.delivery
    }
}

struct SrqLock(Mutex<SrqModelState>);

impl StateLock for SrqLock {
    type State = SrqModelState;

    fn with<R>(&self, f: impl FnOnce(&mut SrqModelState) -> R) -> R {
        f(&mut self.0.lock().unwrap())
    }
}

struct ModelSrq {
    state: SrqLock,
    seen: Observed,
}

impl ModelSrq {
    fn new(queued: u32, threshold: u32) -> Arc<Self> {
        Arc::new(Self {
            state: SrqLock(Mutex::new(SrqModelState {
                queued,
                threshold: SrqThreshold::new(threshold),
                delivery: Delivery::new(),
            })),
            seen: Observed::default(),
        })
    }

    /// `Srq::with_queue` when a QP consumed one receive.
    fn consume(self: &Arc<Self>) {
        self.state.with(|s| {
            s.queued -= 1;
            let due = s.threshold.consumed(s.queued);
            self.schedule(s, due);
        });
    }

    /// `Srq::modify` with a new threshold.
    fn modify(self: &Arc<Self>, threshold: u32) {
        self.state.with(|s| {
            let due = s.threshold.modify(threshold, s.queued);
            self.schedule(s, due);
        });
    }

    fn schedule(self: &Arc<Self>, s: &mut SrqModelState, due: Option<NTSTATUS>) {
        let Some(status) = due else { return };
        let units = Arc::clone(&self.seen.units);
        if s.delivery.schedule(status, || Some(Token::take(&units))) {
            let srq = Arc::clone(self);
            self.seen.queue_dpc(move || {
                deliver(
                    &srq.state,
                    || false,
                    |status| {
                        srq.seen.enter(status);
                        srq.seen.leave();
                    },
                );
            });
        }
    }
}

/// Receives consumed while `NdkModifySrq` re-arms: every arm that the queue dropped below is
/// notified once, callbacks never overlap, and no arm is left outstanding with the queue below
/// its threshold (no lost notification). With the re-arm before the first consumption the two
/// arms combine into one notification; otherwise there are two.
#[test]
fn srq_threshold_notifies_once_per_arm_and_never_loses_one() {
    model(|| {
        let srq = ModelSrq::new(2, 2);
        let consumer = {
            let srq = Arc::clone(&srq);
            thread::spawn(move || {
                srq.consume();
                srq.consume();
            })
        };
        srq.modify(1);
        consumer.join().unwrap();
        srq.seen.settle();
        let notified = srq.seen.notifications.load(SeqCst);
        assert!((1..=2).contains(&notified), "{notified} notifications");
        let armed = srq.state.with(|s| s.threshold.is_armed());
        assert!(
            !armed,
            "lost notification: the queue is below the threshold"
        );
    });
}
