//! The provider verifier's break option (`SoftNdkVerifier` = 2, [`MisuseChecks::ON_BREAK`];
//! `docs/provider-verifier.md`, "Breaking into the debugger"): every report, after its line is
//! printed, asks the platform to stop in the debugger — the host counts the breaks instead of
//! stopping, so a test sees exactly one per report, none with the checks merely on or off, none
//! for legal calls, and each one before the report's sink runs.
//!
//! The host's `debug_break` also asserts that no provider lock is held, so every break here
//! proves the report path released its locks first.
//!
//! Every stale call is made while the object is quarantined, so its memory is alive.
#![allow(unsafe_code)]

mod misuse_common;
mod ndk_common;

use core::ptr;
use std::sync::Mutex;

use misuse_common::{never, table_of};
use ndk_common::{Side, open_checked};
use softndk::abi::{STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_HANDLE, STATUS_SUCCESS};
use softndk::consumer::{Adapter, Closed, CqEvents, QpLimits};
use softndk::dispatch::misuse::{self, Misuse, MisuseChecks, MisuseKind, MisuseSink};
use softndk::platform::host::{DebugPrint, Host};

const LIMITS: QpLimits = QpLimits {
    receive_depth: 2,
    initiator_depth: 2,
    max_receive_sge: 1,
    max_initiator_sge: 1,
    inline_data_size: 0,
};

/// Closes a CQ legally, then, when `checks` keep it quarantined, makes two misuses on it: a
/// call on the closed CQ and a second close (with the checks off its memory is gone, so there
/// is nothing to call). Returns the reports the adapter counted.
fn two_misuses_on_a_closed_cq(adapter: &Adapter, p: &Host, checks: MisuseChecks) -> u64 {
    let cq = adapter.create_cq(4, &CqEvents::new()).unwrap();
    let raw = cq.raw();
    assert!(matches!(cq.close(), Closed::Now));
    assert_eq!(p.debug_breaks(), 0, "legal calls never break");
    if checks.is_on() {
        let poisoned = table_of(raw);
        // SAFETY: a quarantined CQ; the poison slot writes nothing (and returns nothing).
        unsafe { (poisoned.NdkArmCq)(raw, 1) };
        // SAFETY: a quarantined CQ; the poison close slot refuses and never completes.
        let status = unsafe { (poisoned.NdkCloseCq)(raw.cast(), Some(never), ptr::null_mut()) };
        assert_eq!(status, STATUS_INVALID_HANDLE);
    }
    // SAFETY: an open adapter.
    unsafe { misuse::report_count(adapter.raw()) }
}

#[test]
fn each_report_breaks_exactly_once_with_break_on() {
    let p = Host::deterministic();
    p.set_debug_print(DebugPrint::Collect);
    let adapter = open_checked(&p, MisuseChecks::ON_BREAK);
    assert_eq!(
        two_misuses_on_a_closed_cq(&adapter, &p, MisuseChecks::ON_BREAK),
        2
    );
    assert_eq!(p.debug_breaks(), 2, "one break per report");
    assert_eq!(
        p.take_debug_lines().len(),
        2,
        "each break still comes with its line"
    );
    adapter.close();
    assert_eq!(p.debug_breaks(), 2, "closing the adapter never breaks");
}

#[test]
fn no_break_with_the_checks_only_on_or_off() {
    for checks in [MisuseChecks::ON, MisuseChecks::Off] {
        let p = Host::deterministic();
        let adapter = open_checked(&p, checks);
        let reported = two_misuses_on_a_closed_cq(&adapter, &p, checks);
        assert_eq!(reported, if checks.is_on() { 2 } else { 0 }, "{checks:?}");
        assert_eq!(p.debug_breaks(), 0, "{checks:?}");
        adapter.close();
        assert_eq!(p.debug_breaks(), 0, "{checks:?}");
    }
}

#[test]
fn a_refused_post_breaks_on_the_posting_thread_with_no_lock_held() {
    let p = Host::deterministic();
    let adapter = open_checked(&p, MisuseChecks::ON_BREAK);
    let a = Side::new(&adapter, 0xA, 8, LIMITS);
    let b = Side::new(&adapter, 0xB, 8, LIMITS);
    assert_eq!(a.qp.connect_to(&b.qp, 4, 4), STATUS_SUCCESS);
    // Two sends wait for receives the peer has not posted: the third finds the queue full.
    assert_eq!(a.qp.send(1, &[], 0), STATUS_SUCCESS);
    assert_eq!(a.qp.send(2, &[], 0), STATUS_SUCCESS);
    assert_eq!(p.debug_breaks(), 0);
    assert_eq!(a.qp.send(3, &[], 0), STATUS_INSUFFICIENT_RESOURCES);
    assert_eq!(
        p.debug_breaks(),
        1,
        "the overflow broke inside the consumer's post (host: counted)"
    );
    a.close();
    b.close();
    adapter.close();
    assert_eq!(p.debug_breaks(), 1);
}

/// Records, at each report, how many breaks the platform had counted by then.
struct BreaksSeen {
    host: Host,
    seen: Mutex<Vec<(MisuseKind, u64)>>,
}

impl MisuseSink for BreaksSeen {
    fn report(&self, misuse: &Misuse) {
        let breaks = self.host.debug_breaks();
        self.seen.lock().unwrap().push((misuse.kind, breaks));
    }
}

#[test]
fn each_break_is_taken_before_its_sink_runs() {
    let p = Host::deterministic();
    let adapter = open_checked(&p, MisuseChecks::ON_BREAK);
    let sink: &'static BreaksSeen = Box::leak(Box::new(BreaksSeen {
        host: p.clone(),
        seen: Mutex::new(Vec::new()),
    }));
    // SAFETY: an open adapter; the sink lives for the rest of the process.
    unsafe { misuse::set_sink(adapter.raw(), Some(sink)) };
    assert_eq!(
        two_misuses_on_a_closed_cq(&adapter, &p, MisuseChecks::ON_BREAK),
        2
    );
    assert_eq!(
        *sink.seen.lock().unwrap(),
        [
            (MisuseKind::CallOnClosedObject, 1),
            (MisuseKind::CloseTwice, 2)
        ],
        "each report's break was taken before its sink ran, once"
    );
    // SAFETY: an open adapter.
    unsafe { misuse::set_sink(adapter.raw(), None) };
    adapter.close();
}
