//! The provider-side verifier's post guard on the posts `tests/ndk_misuse_posts.rs` does not
//! cover: `NdkBind`, `NdkFastRegister`, `NdkInvalidate` (the QP's initiator queue) and
//! `NdkSrqReceive` (the SRQ). For each: a post on a full queue is reported with the queue and its
//! depth; a post that begins while another post on the same queue has not returned is reported
//! and still executed, and every accepted request completes exactly once.
//!
//! The overlap is made on one thread, through the report sink: it runs inside the overflowing
//! post (before that post gives its marker back) and makes room, then posts again on the same
//! queue. The guard has no thread identity, so this is exactly what it sees when two threads
//! overlap — and what the kernel build sees too.
#![allow(unsafe_code)]
// a/b sides, p platform, q QP: the scenario vocabulary; one scenario per post kind.
#![allow(
    clippy::many_single_char_names,
    clippy::similar_names,
    clippy::too_many_lines
)]

mod misuse_common;
mod ndk_common;

use core::ffi::c_void;
use core::ptr;
use std::sync::Mutex;

use misuse_common::{SMALL, completed, on_queue, receive, send, table_of};
use ndk_common::{Pair, config, open_checked};
use softndk::abi::{
    NDK_LOGICAL_ADDRESS, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NDK_OBJECT_TYPE,
    NDK_OP_FLAG_ALLOW_REMOTE_READ, NDK_QP, NDK_SRQ, NDK_VERSION, NTSTATUS,
    STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS,
};
use softndk::consumer::{Adapter, Buffer, Closed};
use softndk::dispatch::misuse::{self, Misuse, MisuseChecks, MisuseKind, MisuseSink, Queue};
use softndk::platform::host::Host;

const OK: u32 = STATUS_SUCCESS.as_u32();
const PAGE: usize = 4096;

/// Runs one dispatch call on objects the test keeps open.
macro_rules! call {
    ($e:expr) => {{
        // SAFETY: every object passed is open for the whole test, every array holds the count
        // passed with it, and contexts are only handed back.
        unsafe { $e }
    }};
}

const fn qp(addr: usize) -> *mut NDK_QP {
    ptr::with_exposed_provenance_mut(addr)
}

const fn ctx(c: usize) -> *mut c_void {
    ptr::without_provenance_mut(c)
}

fn srq_receive(srq: usize, c: usize) -> NTSTATUS {
    let s = ptr::with_exposed_provenance_mut::<NDK_SRQ>(srq);
    call!((table_of(s).NdkSrqReceive)(s, ctx(c), ptr::null(), 0))
}

/// A post run by the sink from inside the reporting post (once), and its status.
type Hook = Box<dyn FnOnce() -> NTSTATUS + Send>;

/// Records every report; on the first overflow runs the hook.
#[derive(Default)]
struct Sink {
    seen: Mutex<Vec<Misuse>>,
    hook: Mutex<Option<Hook>>,
    hooked: Mutex<Option<NTSTATUS>>,
}

impl MisuseSink for Sink {
    fn report(&self, misuse: &Misuse) {
        self.seen.lock().unwrap().push(*misuse);
        if misuse.kind == MisuseKind::QueueOverflow {
            let hook = self.hook.lock().unwrap().take();
            if let Some(hook) = hook {
                *self.hooked.lock().unwrap() = Some(hook());
            }
        }
    }
}

fn sink_on(adapter: &Adapter) -> &'static Sink {
    let sink: &'static Sink = Box::leak(Box::default());
    call!(misuse::set_sink(adapter.raw(), Some(sink)));
    sink
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Bind,
    FastRegister,
    Invalidate,
}

/// Fills side a's initiator queue (two sends waiting for the peer's receives), then:
/// `kind` on the full queue is refused and reported; a send overflows and, from inside it, the
/// peer's receive makes room and `kind` (context 7) overlaps it: reported and executed. The
/// accepted requests (sends 1 and 2, `kind` 7) complete exactly once each.
fn overlapping(kind: Kind) {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 16, SMALL);
    let (a, b) = (&pair.a, &pair.b);
    let (buf, mr) = a.buffer(&[0; PAGE], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    let mw = a.pd.create_mw().unwrap();
    let frmr = a.pd.create_mr(true).unwrap();
    assert_eq!(frmr.initialize_fast_register(1, true), STATUS_SUCCESS);
    let lam = pair
        .adapter
        .build_lam(&Buffer::from_bytes(&[0; PAGE]), 0, PAGE)
        .unwrap();
    if kind == Kind::Invalidate {
        // Something to invalidate: a bound window (its completion reaped now).
        let rr = NDK_OP_FLAG_ALLOW_REMOTE_READ;
        assert_eq!(a.qp.bind(50, &mr, &mw, buf.va(), 64, rr), STATUS_SUCCESS);
        assert_eq!(a.icq.results_ex(4).len(), 1);
    }
    let q = a.qp.raw().expose_provenance();
    let peer = b.qp.raw().expose_provenance();
    let (mr_raw, mw_raw, fr_raw) = (
        mr.raw().expose_provenance(),
        mw.raw().expose_provenance(),
        frmr.raw().expose_provenance(),
    );
    let (pages, fbo, va) = (lam.pages(), lam.fbo(), buf.va());
    let post = move || -> NTSTATUS {
        let t = table_of(qp(q));
        match kind {
            Kind::Bind => call!((t.NdkBind)(
                qp(q),
                ctx(7),
                ptr::with_exposed_provenance_mut(mr_raw),
                ptr::with_exposed_provenance_mut(mw_raw),
                ptr::without_provenance_mut(usize::try_from(va).unwrap()),
                64,
                NDK_OP_FLAG_ALLOW_REMOTE_READ,
            )),
            Kind::FastRegister => call!((t.NdkFastRegister)(
                qp(q),
                ctx(7),
                ptr::with_exposed_provenance_mut(fr_raw),
                1,
                pages.as_ptr().cast::<NDK_LOGICAL_ADDRESS>(),
                fbo,
                64,
                ptr::without_provenance_mut(0x7000_0000 + fbo as usize),
                0,
            )),
            Kind::Invalidate => call!((t.NdkInvalidate)(
                qp(q),
                ctx(7),
                ptr::with_exposed_provenance_mut(mw_raw),
                0,
            )),
        }
    };
    let sink = sink_on(&pair.adapter);
    assert_eq!(send(q, 1), STATUS_SUCCESS);
    assert_eq!(send(q, 2), STATUS_SUCCESS);
    let first = post.clone();
    assert_eq!(
        first(),
        STATUS_INSUFFICIENT_RESOURCES,
        "{kind:?}: the queue is full"
    );

    *sink.hook.lock().unwrap() = Some(Box::new(move || {
        assert_eq!(receive(peer), STATUS_SUCCESS, "lets send 1 finish");
        post()
    }));
    assert_eq!(send(q, 9), STATUS_INSUFFICIENT_RESOURCES);
    assert_eq!(
        sink.hooked.lock().unwrap().take(),
        Some(STATUS_SUCCESS),
        "{kind:?}: the overlapping post was reported, then executed"
    );
    let full = |k| on_queue(k, NDK_OBJECT_TYPE::QP, q, Queue::Initiator, 2);
    let expected = [
        full(MisuseKind::QueueOverflow),
        full(MisuseKind::QueueOverflow),
        full(MisuseKind::ConcurrentPost),
    ];
    assert_eq!(*sink.seen.lock().unwrap(), expected, "{kind:?}");
    assert_eq!(call!(misuse::reports(pair.adapter.raw())), expected);
    let line = expected[2].to_string();
    assert!(
        line.contains("concurrent posts") && line.contains("QP"),
        "{line}"
    );

    assert_eq!(receive(peer), STATUS_SUCCESS);
    assert_eq!(receive(peer), STATUS_SUCCESS);
    let done = completed(&a.icq);
    assert_eq!(done, [(1, OK), (2, OK), (7, OK)], "{kind:?}");
    assert!(a.icq.results_ex(16).is_empty(), "nothing completes twice");

    call!(misuse::set_sink(pair.adapter.raw(), None));
    assert!(matches!(mw.close(), Closed::Now));
    assert!(matches!(frmr.close(), Closed::Now));
    assert!(matches!(mr.close(), Closed::Now));
    pair.adapter.release_lam(lam);
    pair.close();
    assert_eq!(p.alloc_stats().live, 0, "nothing leaked");
}

#[test]
fn overlapping_and_overflowing_binds_are_reported() {
    overlapping(Kind::Bind);
}

#[test]
fn overlapping_and_overflowing_fast_registrations_are_reported() {
    overlapping(Kind::FastRegister);
}

#[test]
fn overlapping_and_overflowing_invalidations_are_reported() {
    overlapping(Kind::Invalidate);
}

#[test]
fn overlapping_and_overflowing_srq_receives_are_reported() {
    let p = Host::deterministic();
    let adapter = Adapter::open(&config(), &p, NDK_VERSION::new(1, 0)).unwrap();
    let pd = adapter.create_pd().unwrap();
    // Depth 3 is allocated for 4, so `NdkModifySrq` may grow it to 4 while receives are posted.
    let srq = pd.create_srq(3, 1, 0, None).unwrap();
    let s = srq.raw().expose_provenance();
    let sink = sink_on(&adapter);
    for c in 1..=3 {
        assert_eq!(srq_receive(s, c), STATUS_SUCCESS);
    }
    assert_eq!(srq_receive(s, 4), STATUS_INSUFFICIENT_RESOURCES);
    *sink.hook.lock().unwrap() = Some(Box::new(move || {
        let r = ptr::with_exposed_provenance_mut::<NDK_SRQ>(s);
        let grown = call!((table_of(r).NdkModifySrq)(
            r,
            4,
            0,
            Some(softndk::consumer::request_completion),
            ptr::null_mut()
        ));
        assert_eq!(grown, STATUS_SUCCESS);
        srq_receive(s, 5)
    }));
    assert_eq!(srq_receive(s, 9), STATUS_INSUFFICIENT_RESOURCES);
    assert_eq!(
        sink.hooked.lock().unwrap().take(),
        Some(STATUS_SUCCESS),
        "reported, then executed into the room the modify made"
    );
    let at = |k, depth| on_queue(k, NDK_OBJECT_TYPE::SRQ, s, Queue::Srq, depth);
    assert_eq!(
        *sink.seen.lock().unwrap(),
        [
            at(MisuseKind::QueueOverflow, 3),
            at(MisuseKind::QueueOverflow, 3),
            at(MisuseKind::ConcurrentPost, 4),
        ]
    );
    assert_eq!(
        srq_receive(s, 6),
        STATUS_INSUFFICIENT_RESOURCES,
        "exactly one receive went in: the SRQ holds 4"
    );
    call!(misuse::set_sink(adapter.raw(), None));
    assert!(matches!(srq.close(), Closed::Now));
    assert!(matches!(pd.close(), Closed::Now));
    adapter.close();
    assert_eq!(p.alloc_stats().live, 0, "nothing leaked");
}

#[test]
fn with_checks_off_memory_and_srq_posts_are_not_watched() {
    let p = Host::deterministic();
    let adapter = open_checked(&p, MisuseChecks::Off);
    let pd = adapter.create_pd().unwrap();
    let srq = pd.create_srq(1, 1, 0, None).unwrap();
    assert_eq!(srq.receive(1, &[]), STATUS_SUCCESS);
    assert_eq!(srq.receive(2, &[]), STATUS_INSUFFICIENT_RESOURCES);
    assert!(call!(misuse::reports(adapter.raw())).is_empty());
    assert!(matches!(srq.close(), Closed::Now));
    assert!(matches!(pd.close(), Closed::Now));
    adapter.close();
    assert_eq!(p.alloc_stats().live, 0);
}
