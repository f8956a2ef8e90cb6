//! The provider-side verifier's post guard (`docs/provider-verifier.md`) on `NdkSend` and
//! `NdkReceive`: a post that begins while another post on the same queue has not returned is
//! reported and still executed, exactly once; a post on a full queue is reported with the queue
//! and its depth; posts on different queues never conflict; with the checks off nothing is
//! reported. (`tests/ndk_misuse_memory_posts.rs` covers bind, fast-register, invalidate and SRQ
//! receives.)
//!
//! The race is made deterministic through the report sink: the sink runs on the posting thread
//! while it is still inside the guarded post (reporting the overflow), and from there starts a
//! second thread that posts on the same QP and waits for it.
#![allow(unsafe_code)]

mod misuse_common;
mod ndk_common;

use std::sync::Mutex;

use misuse_common::{SMALL, completed, on_queue, receive, send};
use ndk_common::{Pair, Side, open_checked};
use softndk::abi::{NTSTATUS, STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS};
use softndk::dispatch::misuse::{self, Misuse, MisuseChecks, MisuseKind, MisuseSink, Queue};
use softndk::platform::host::Host;

/// A sink that, on the first overflow report, posts from another thread while the reporting
/// post is still inside the guard: a receive on the peer (which lets one waiting send finish),
/// then a send with context 3 on the armed QP, then a receive on it.
struct Racer {
    /// (armed QP, its peer).
    armed: Mutex<Option<(usize, usize)>>,
    seen: Mutex<Vec<Misuse>>,
    /// (send, receive) status of the second thread.
    second: Mutex<Option<(NTSTATUS, NTSTATUS)>>,
}

impl MisuseSink for Racer {
    fn report(&self, misuse: &Misuse) {
        self.seen.lock().unwrap().push(*misuse);
        if misuse.kind != MisuseKind::QueueOverflow {
            return;
        }
        let armed = self.armed.lock().unwrap().take();
        if let Some((qp, peer)) = armed {
            let statuses = std::thread::spawn(move || {
                assert_eq!(receive(peer), STATUS_SUCCESS);
                (send(qp, 3), receive(qp))
            })
            .join()
            .unwrap();
            *self.second.lock().unwrap() = Some(statuses);
        }
    }
}

static RACER: Racer = Racer {
    armed: Mutex::new(None),
    seen: Mutex::new(Vec::new()),
    second: Mutex::new(None),
};

const fn queue(kind: MisuseKind, qp: usize, queue: Queue, depth: u32) -> Misuse {
    on_queue(kind, softndk::abi::NDK_OBJECT_TYPE::QP, qp, queue, depth)
}

#[test]
fn a_second_thread_posting_on_the_same_queue_is_reported_and_executed_once() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 16, SMALL);
    let qp = pair.a.qp.raw().expose_provenance();
    let peer = pair.b.qp.raw().expose_provenance();
    // Two sends wait for receives the peer has not posted: the initiator queue is full.
    assert_eq!(send(qp, 1), STATUS_SUCCESS);
    assert_eq!(send(qp, 2), STATUS_SUCCESS);
    // SAFETY: an open adapter.
    unsafe { misuse::set_sink(pair.adapter.raw(), Some(&RACER)) };
    *RACER.armed.lock().unwrap() = Some((qp, peer));

    assert_eq!(
        send(qp, 9),
        STATUS_INSUFFICIENT_RESOURCES,
        "the queue is full"
    );
    let (second_send, second_receive) = RACER.second.lock().unwrap().take().unwrap();
    assert_eq!(
        second_send, STATUS_SUCCESS,
        "reported, then executed: the peer's receive had made room"
    );
    assert_eq!(
        second_receive, STATUS_SUCCESS,
        "the receive queue is another queue: no conflict"
    );
    let expected = [
        queue(MisuseKind::QueueOverflow, qp, Queue::Initiator, 2),
        queue(MisuseKind::ConcurrentPost, qp, Queue::Initiator, 2),
    ];
    assert_eq!(*RACER.seen.lock().unwrap(), expected, "the sink saw both");
    // SAFETY: an open adapter.
    assert_eq!(unsafe { misuse::reports(pair.adapter.raw()) }, expected);
    // SAFETY: an open adapter.
    unsafe { misuse::set_sink(pair.adapter.raw(), None) };

    // The marker was given back: another thread's post now only overflows.
    let later = std::thread::spawn(move || send(qp, 10)).join().unwrap();
    assert_eq!(later, STATUS_INSUFFICIENT_RESOURCES);
    // SAFETY: an open adapter.
    let reports = unsafe { misuse::reports(pair.adapter.raw()) };
    assert_eq!(reports.len(), 3);
    assert_eq!(reports[2].kind, MisuseKind::QueueOverflow);

    // Every accepted send completes exactly once, the refused ones never.
    assert_eq!(receive(peer), STATUS_SUCCESS);
    assert_eq!(receive(peer), STATUS_SUCCESS);
    let done = completed(&pair.a.icq);
    let ok = STATUS_SUCCESS.as_u32();
    assert_eq!(done, [(1, ok), (2, ok), (3, ok)]);
    assert!(
        pair.a.icq.results_ex(16).is_empty(),
        "nothing completes twice"
    );
    pair.close();
    assert_eq!(p.alloc_stats().live, 0, "nothing leaked");
}

#[test]
fn a_receive_beyond_the_queue_depth_is_reported_with_the_depth() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 16, SMALL);
    let qp = pair.b.qp.raw().expose_provenance();
    assert_eq!(receive(qp), STATUS_SUCCESS);
    assert_eq!(receive(qp), STATUS_SUCCESS);
    assert_eq!(receive(qp), STATUS_INSUFFICIENT_RESOURCES);
    // SAFETY: an open adapter.
    let reports = unsafe { misuse::reports(pair.adapter.raw()) };
    assert_eq!(
        reports,
        [queue(MisuseKind::QueueOverflow, qp, Queue::Receive, 2)]
    );
    let line = reports[0].to_string();
    assert!(line.contains("depth 2"), "{line}");
    pair.close();
}

#[test]
fn with_checks_off_an_overflow_is_refused_but_not_reported() {
    let p = Host::deterministic();
    let adapter = open_checked(&p, MisuseChecks::Off);
    let side = Side::new(&adapter, 1, 16, SMALL);
    let qp = side.qp.raw().expose_provenance();
    assert_eq!(receive(qp), STATUS_SUCCESS);
    assert_eq!(receive(qp), STATUS_SUCCESS);
    assert_eq!(receive(qp), STATUS_INSUFFICIENT_RESOURCES);
    // SAFETY: an open adapter.
    assert!(unsafe { misuse::reports(adapter.raw()) }.is_empty());
    // SAFETY: an open adapter.
    assert_eq!(unsafe { misuse::report_count(adapter.raw()) }, 0);
    side.close();
    adapter.close();
    assert_eq!(p.alloc_stats().live, 0);
}
