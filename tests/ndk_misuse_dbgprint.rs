//! The provider verifier's debugger-log line (`docs/provider-verifier.md`, "Reports"): every
//! report is printed once through the platform's `debug_print` — `DbgPrintEx` in the kernel
//! build, a per-instance collector here — naming the rule, the object and the slot or queue;
//! nothing is printed with the checks off, and the host prints nothing unless asked.
//!
//! Every stale call is made while the object is quarantined, so its memory is alive.
#![allow(unsafe_code)]

mod misuse_common;
mod ndk_common;

use core::ptr;

use misuse_common::{never, table_of};
use ndk_common::{Pair, Side, open_checked};
use softndk::abi::{
    NDK_OBJECT_TYPE, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_HANDLE, STATUS_SUCCESS,
};
use softndk::consumer::{Closed, CqEvents, QpLimits};
use softndk::dispatch::misuse::{self, Detail, Misuse, MisuseChecks, MisuseKind, Queue};
use softndk::platform::host::{DebugPrint, Host};

const LIMITS: QpLimits = QpLimits {
    receive_depth: 2,
    initiator_depth: 2,
    max_receive_sge: 1,
    max_initiator_sge: 1,
    inline_data_size: 0,
};

#[test]
fn each_misuse_prints_exactly_one_line_with_rule_object_and_slot() {
    let p = Host::deterministic();
    p.set_debug_print(DebugPrint::Collect);
    let adapter = open_checked(&p, MisuseChecks::ON);
    let cq = adapter.create_cq(4, &CqEvents::new()).unwrap();
    let raw = cq.raw();
    assert!(matches!(cq.close(), Closed::Now));
    assert!(
        p.take_debug_lines().is_empty(),
        "a legal close prints nothing"
    );

    let poisoned = table_of(raw);
    // SAFETY: a quarantined CQ; the poison slot writes nothing.
    let status = unsafe { (poisoned.NdkResizeCq)(raw, 8, None, ptr::null_mut()) };
    assert_eq!(status, STATUS_INVALID_HANDLE);
    let at = raw.addr();
    let lines = p.take_debug_lines();
    assert_eq!(
        lines,
        [format!(
            "SoftNDK verifier: NdkResizeCq called on closed CQ {at:#x}"
        )],
        "one line: the slot, the rule, the object type and address"
    );

    // SAFETY: a quarantined CQ; the poison close slot refuses and never completes.
    let status = unsafe { (poisoned.NdkCloseCq)(raw.cast(), Some(never), ptr::null_mut()) };
    assert_eq!(status, STATUS_INVALID_HANDLE);
    let lines = p.take_debug_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains(&format!("{at:#x}")), "{lines:?}");
    assert!(lines[0].contains("NdkCloseObject"), "{lines:?}");

    // The line is the report's `Display`, so the ring and the log agree.
    // SAFETY: an open adapter.
    let reports = unsafe { misuse::reports(adapter.raw()) };
    assert_eq!(reports.len(), 2);
    assert_eq!(lines[0], reports[1].to_string());
    assert_eq!(
        reports[1],
        Misuse {
            kind: MisuseKind::CloseTwice,
            object_type: NDK_OBJECT_TYPE::CQ,
            object: at,
            detail: Detail::Slot("NdkCloseObject"),
        }
    );
    adapter.close();
    assert!(p.take_debug_lines().is_empty(), "closing prints nothing");
}

#[test]
fn a_queue_overflow_line_names_the_queue_and_its_depth() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 8, LIMITS);
    p.set_debug_print(DebugPrint::Collect);
    let qp = &pair.a.qp;
    // Two sends wait for receives the peer has not posted: the third finds the queue full.
    assert_eq!(qp.send(1, &[], 0), STATUS_SUCCESS);
    assert_eq!(qp.send(2, &[], 0), STATUS_SUCCESS);
    assert!(p.take_debug_lines().is_empty());
    assert_eq!(qp.send(3, &[], 0), STATUS_INSUFFICIENT_RESOURCES);
    let at = qp.raw().addr();
    assert_eq!(
        p.take_debug_lines(),
        [format!(
            "SoftNDK verifier: post beyond the Initiator queue depth 2 of QP {at:#x}"
        )]
    );
    let expected = Misuse {
        kind: MisuseKind::QueueOverflow,
        object_type: NDK_OBJECT_TYPE::QP,
        object: at,
        detail: Detail::Queue {
            queue: Queue::Initiator,
            depth: 2,
        },
    };
    // SAFETY: an open adapter.
    assert_eq!(unsafe { misuse::reports(pair.adapter.raw()) }, [expected]);
    pair.close();
}

#[test]
fn nothing_is_printed_with_the_checks_off() {
    let p = Host::deterministic();
    p.set_debug_print(DebugPrint::Collect);
    let adapter = open_checked(&p, MisuseChecks::Off);
    let a = Side::new(&adapter, 0xA, 8, LIMITS);
    let b = Side::new(&adapter, 0xB, 8, LIMITS);
    assert_eq!(a.qp.connect_to(&b.qp, 4, 4), STATUS_SUCCESS);
    assert_eq!(a.qp.send(1, &[], 0), STATUS_SUCCESS);
    assert_eq!(a.qp.send(2, &[], 0), STATUS_SUCCESS);
    assert_eq!(
        a.qp.send(3, &[], 0),
        STATUS_INSUFFICIENT_RESOURCES,
        "refused as before, unreported"
    );
    assert!(p.take_debug_lines().is_empty());
    // SAFETY: an open adapter.
    assert_eq!(unsafe { misuse::report_count(adapter.raw()) }, 0);
    a.close();
    b.close();
    adapter.close();
    assert!(p.take_debug_lines().is_empty());
}

#[test]
fn the_host_discards_lines_unless_asked() {
    let p = Host::deterministic();
    let adapter = open_checked(&p, MisuseChecks::ON);
    let cq = adapter.create_cq(4, &CqEvents::new()).unwrap();
    let raw = cq.raw();
    assert!(matches!(cq.close(), Closed::Now));
    // SAFETY: a quarantined CQ; the poison slot writes nothing.
    unsafe { (table_of(raw).NdkArmCq)(raw, 1) };
    // SAFETY: an open adapter.
    assert_eq!(unsafe { misuse::report_count(adapter.raw()) }, 1);
    p.set_debug_print(DebugPrint::Collect);
    assert!(
        p.take_debug_lines().is_empty(),
        "reported, but nothing was kept before collecting"
    );
    adapter.close();
}
