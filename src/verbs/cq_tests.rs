//! Unit tests of the CQ: arming, notification, overrun, resize and statistics.
#![allow(unsafe_code)] // the consumer callback is an `unsafe extern "system" fn`

use super::*;
use crate::abi::upcall::Context;
use crate::abi::{NDK_VERSION, STATUS_BUFFER_OVERFLOW, STATUS_SUCCESS};
use crate::lifetime::{Closed, Unit};
use crate::platform::Platform;
use crate::platform::host::Host;
use crate::verbs::AdapterConfig;
use std::boxed::Box;
use std::sync::Mutex;
use std::vec::Vec;

#[derive(Default)]
struct Seen(Mutex<Vec<NTSTATUS>>);

unsafe extern "system" fn on_notify(context: *mut core::ffi::c_void, status: NTSTATUS) {
    // SAFETY: the tests pass a `Seen` that outlives the CQ.
    let seen = unsafe { &*context.cast_const().cast::<Seen>() };
    seen.0.lock().unwrap().push(status);
}

struct Fixture {
    p: Platform,
    adapter: Base<Adapter>,
    seen: Box<Seen>,
}

impl Fixture {
    fn new() -> Self {
        let p = Host::deterministic();
        let adapter = Adapter::open(
            AdapterConfig::softndk(1),
            p.clone(),
            crate::dispatch::TABLES,
            NDK_VERSION::new(1, 0),
        )
        .unwrap();
        Self {
            p,
            adapter,
            seen: Box::default(),
        }
    }

    fn cq(&self, depth: u32) -> Arc<Cq> {
        let ctx = Context::new(core::ptr::from_ref(&*self.seen).cast_mut().cast());
        // SAFETY: `on_notify` with a `Seen` that outlives the CQ (the fixture owns it).
        let notify = unsafe { CqNotification::new(on_notify, ctx) };
        Cq::create(self.adapter.arc(), depth, notify)
            .unwrap()
            .into_arc()
    }

    fn seen(&self) -> Vec<NTSTATUS> {
        self.p.run_until_idle();
        self.seen.0.lock().unwrap().clone()
    }

    fn close(cq: Arc<Cq>) -> Closed {
        Cq::close(Base::from_arc(cq), None).unwrap()
    }
}

fn completion(status: Status, solicited: bool) -> Completion {
    Completion {
        status,
        solicited,
        ..EMPTY
    }
}

const OK: Completion = EMPTY;

#[test]
fn notifies_once_per_arm_and_never_synchronously() {
    let f = Fixture::new();
    let cq = f.cq(8);
    cq.push(OK).unwrap();
    assert!(f.seen().is_empty(), "never without an arm");
    cq.arm(ArmType::Any);
    assert!(
        f.seen.0.lock().unwrap().is_empty(),
        "not from inside NdkArmCq"
    );
    assert_eq!(
        f.seen(),
        [STATUS_SUCCESS],
        "queued completion arrived since last notify"
    );
    cq.push(OK).unwrap();
    assert_eq!(f.seen().len(), 1, "one-shot");
    cq.arm(ArmType::Any);
    assert_eq!(
        f.seen().len(),
        2,
        "new completion since the last notification"
    );
    cq.arm(ArmType::Any);
    assert_eq!(
        f.seen().len(),
        2,
        "nothing new: the provider may wait, and does"
    );
    cq.push(OK).unwrap();
    assert_eq!(f.seen().len(), 3);
    assert_eq!(cq.poll(10, |_, _| {}), 3);
    assert!(matches!(Fixture::close(cq), Closed::Finished));
}

#[test]
fn solicited_and_errors_arms_and_their_combination() {
    let f = Fixture::new();
    let cq = f.cq(8);
    cq.arm(ArmType::Solicited);
    cq.push(OK).unwrap();
    assert!(
        f.seen().is_empty(),
        "plain success does not satisfy SOLICITED"
    );
    cq.push(completion(Status::Success, true)).unwrap();
    assert_eq!(f.seen().len(), 1);
    cq.arm(ArmType::Solicited);
    assert_eq!(
        f.seen().len(),
        1,
        "it was already notified: the provider waits"
    );
    cq.push(completion(Status::Cancelled, false)).unwrap();
    assert_eq!(f.seen().len(), 2, "an error completion satisfies SOLICITED");
    cq.arm(ArmType::Errors);
    cq.push(completion(Status::Cancelled, false)).unwrap();
    assert_eq!(f.seen().len(), 2, "ERRORS ignores error completions");
    cq.arm(ArmType::Solicited); // ERRORS + SOLICITED = SOLICITED: the new error satisfies it
    assert_eq!(f.seen().len(), 3);
    cq.arm(ArmType::Errors);
    cq.arm(ArmType::Any); // ERRORS + ANY = ANY
    cq.push(OK).unwrap();
    assert_eq!(f.seen().len(), 4);
    let _ = Fixture::close(cq);
}

#[test]
fn overrun_reports_buffer_overflow_and_the_cq_stays_unusable() {
    let f = Fixture::new();
    let cq = f.cq(2);
    cq.arm(ArmType::Errors);
    cq.push(OK).unwrap();
    cq.push(OK).unwrap();
    assert!(!cq.is_overrun());
    assert_eq!(cq.push(OK), Err(Overrun));
    assert!(cq.is_overrun());
    assert_eq!(f.seen(), [STATUS_BUFFER_OVERFLOW]);
    assert_eq!(cq.push(OK), Err(Overrun), "refuses forever");
    assert_eq!(cq.poll(10, |_, _| {}), 0, "unusable");
    cq.arm(ArmType::Any);
    assert_eq!(f.seen().len(), 1, "reported once");
    let stats = f.adapter.arc().stats();
    assert_eq!(stats.cq_errors, 1, "one overrun, counted once");
    assert_eq!(
        stats.out_messages, 2,
        "only the completions that entered the ring"
    );
    let _ = Fixture::close(cq);
}

#[test]
fn an_unarmed_overrun_is_reported_by_the_next_arm_of_any_type() {
    let f = Fixture::new();
    let cq = f.cq(1);
    cq.push(OK).unwrap();
    assert_eq!(cq.push(OK), Err(Overrun));
    assert!(f.seen().is_empty());
    cq.arm(ArmType::Solicited);
    assert_eq!(f.seen(), [STATUS_BUFFER_OVERFLOW]);
    let _ = Fixture::close(cq);
}

#[test]
fn close_cancels_a_queued_notification() {
    let f = Fixture::new();
    let cq = f.cq(4);
    cq.arm(ArmType::Any);
    cq.push(OK).unwrap();
    assert_eq!(f.p.pending(), 1);
    assert!(
        matches!(Fixture::close(cq), Closed::Finished),
        "the DPC's unit was released"
    );
    assert!(f.seen().is_empty(), "no notification after close");
}

fn sent(bytes: u32) -> Completion {
    Completion { bytes, ..OK }
}

fn received(bytes: u32) -> Completion {
    Completion {
        bytes,
        op: OpType::Receive,
        ..OK
    }
}

#[test]
fn adapter_traffic_sums_every_cq_and_survives_their_close() {
    let f = Fixture::new();
    let (first, second, third) = (f.cq(8), f.cq(8), f.cq(8));
    first.push(sent(100)).unwrap();
    second.push(sent(20)).unwrap();
    second.push(received(7)).unwrap();
    third.push(received(3)).unwrap();
    third.push(completion(Status::Cancelled, false)).unwrap();
    let before = f.adapter.arc().stats();
    assert_eq!((before.out_octets, before.out_messages), (120, 2));
    assert_eq!((before.in_octets, before.in_messages), (10, 2));
    assert_eq!(
        second.traffic().out_octets,
        20,
        "each CQ keeps its own counts"
    );
    assert!(matches!(Fixture::close(second), Closed::Finished));
    assert_eq!(
        f.adapter.arc().stats(),
        before,
        "a closed CQ's counts stay in the adapter's totals"
    );
    first.push(sent(1)).unwrap();
    let _ = Fixture::close(first);
    let _ = Fixture::close(third);
    let after = f.adapter.arc().stats();
    assert_eq!((after.out_octets, after.out_messages), (121, 3));
    assert_eq!((after.in_octets, after.in_messages), (10, 2));
    let late = f.cq(4);
    late.push(received(5)).unwrap();
    assert_eq!(f.adapter.arc().stats().in_octets, 15, "retired + live");
    let _ = Fixture::close(late);
    assert_eq!(f.adapter.arc().stats().in_octets, 15);
}

#[test]
fn a_cq_whose_close_pends_counts_until_it_is_finalised() {
    let f = Fixture::new();
    let cq = f.cq(4);
    cq.arm(ArmType::Any);
    cq.push(sent(10)).unwrap();
    // The notification DPC holds a unit: the close pends until it ran.
    let held = Unit::try_new(&cq).unwrap();
    assert!(matches!(Fixture::close(Arc::clone(&cq)), Closed::Pending));
    cq.push(sent(5)).unwrap();
    assert_eq!(f.adapter.arc().stats().out_octets, 15);
    drop(held);
    f.p.run_until_idle();
    drop(cq);
    assert_eq!(
        f.adapter.arc().stats().out_octets,
        15,
        "folded exactly once"
    );
}

#[test]
fn cqs_counted_on_several_threads_add_up() {
    let f = Fixture::new();
    let cqs: Vec<Arc<Cq>> = (0..4).map(|_| f.cq(256)).collect();
    std::thread::scope(|scope| {
        for cq in &cqs {
            scope.spawn(move || {
                for i in 0..200 {
                    cq.push(sent(i)).unwrap();
                    if i % 50 == 0 {
                        cq.poll(256, |_, _| {});
                    }
                }
            });
        }
        scope.spawn(|| {
            let mut last = 0;
            for _ in 0..100 {
                let now = f.adapter.arc().stats().out_messages;
                assert!(now >= last, "counters never go backwards");
                last = now;
            }
        });
    });
    let s = f.adapter.arc().stats();
    assert_eq!(s.out_messages, 4 * 200);
    assert_eq!(s.out_octets, 4 * (0..200).sum::<u64>());
    for cq in cqs {
        let _ = Fixture::close(cq);
    }
    assert_eq!(f.adapter.arc().stats().out_messages, 800);
}

#[test]
fn resize_keeps_waiting_completions_in_order() {
    let f = Fixture::new();
    let cq = f.cq(4);
    for i in 0..3 {
        cq.push(Completion {
            request_context: i,
            ..OK
        })
        .unwrap();
    }
    cq.poll(1, |_, _| {});
    cq.push(Completion {
        request_context: 3,
        ..OK
    })
    .unwrap();
    assert_eq!(cq.resize(1), Err(STATUS_INVALID_PARAMETER), "3 waiting");
    cq.resize(3).unwrap();
    let mut got = Vec::new();
    cq.poll(8, |_, c| got.push(c.request_context));
    assert_eq!(got, [1, 2, 3]);
    let _ = Fixture::close(cq);
}

#[test]
fn a_reaper_on_another_thread_gets_every_completion_once_in_order() {
    // The reaper polls without pause, mostly finding the CQ empty (answered without the lock);
    // the pusher pushes in order with a poll of its own now and then, so both sides of the
    // count's mirror are exercised while the other runs.
    const N: usize = 20_000;
    let f = Fixture::new();
    let cq = f.cq(64);
    let reaped = Mutex::new(Vec::with_capacity(N));
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut mine = Vec::new();
            while mine.len() + reaped.lock().unwrap().len() < N {
                cq.poll(8, |_, c| mine.push(c.request_context));
                if mine.len() >= 64 {
                    reaped.lock().unwrap().append(&mut mine);
                }
            }
            reaped.lock().unwrap().append(&mut mine);
        });
        let mut i = 0;
        while i < N {
            if cq
                .push(Completion {
                    request_context: i,
                    ..OK
                })
                .is_ok()
            {
                i += 1;
            } else {
                unreachable!("the pusher waits for room, so the CQ never overruns");
            }
            while cq.len() >= 60 {
                std::hint::spin_loop();
            }
        }
    });
    let got = reaped.into_inner().unwrap();
    assert_eq!(got.len(), N);
    // One reaper: the order it reaped in is the order pushed.
    assert!(
        got.iter().copied().eq(0..N),
        "every completion once, in order"
    );
    assert_eq!(cq.poll(8, |_, _| {}), 0);
    assert!(cq.is_empty());
    let _ = Fixture::close(cq);
}

#[test]
fn polls_see_the_count_after_every_kind_of_change() {
    let f = Fixture::new();
    let cq = f.cq(4);
    assert_eq!(cq.poll(4, |_, _| {}), 0, "new CQ: empty");
    cq.push(OK).unwrap();
    cq.push(OK).unwrap();
    assert_eq!(cq.poll(1, |_, _| {}), 1);
    assert_eq!(
        cq.poll(4, |_, _| {}),
        1,
        "a partial poll leaves the rest visible"
    );
    assert_eq!(cq.poll(4, |_, _| {}), 0, "drained");
    cq.push(OK).unwrap();
    cq.resize(2).unwrap();
    assert_eq!(cq.poll(4, |_, _| {}), 1, "resize keeps the count");
    let _ = Fixture::close(cq);
}
