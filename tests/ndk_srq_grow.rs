//! `NdkModifySrq` growing an SRQ past its create-time allocation while receives are posted,
//! through the dispatch tables: receives kept and consumed in posting order, threshold
//! semantics kept, allocation failure at every attempt of the grow leaves the SRQ unchanged
//! and usable, and growth racing posts and consumption on worker threads keeps every receive
//! exactly once. (Kept apart from `ndk_srq.rs`, which holds the other SRQ rules.)

mod ndk_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use ndk_common::{Domain, closed, config, open_adapter, open_checked, summary};
use softndk::abi::{
    NDK_OPERATION_TYPE, NDK_VERSION, NTSTATUS, STATUS_INSUFFICIENT_RESOURCES,
    STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
};
use softndk::consumer::{Adapter, Buffer, Mr, Qp, QpLimits, Srq, SrqEvents};
use softndk::engine::MAX_RING_DEPTH;
use softndk::platform::host::{FaultPlan, Host};
use softndk::verbs::misuse::MisuseChecks;

const S: u32 = STATUS_SUCCESS.as_u32();
const RECV: i32 = NDK_OPERATION_TYPE::RECEIVE.0;
/// Bytes per message (and per receive buffer).
const MSG: usize = 8;
/// [`MSG`] as an SGE length.
const MSG_LEN: u32 = 8;

/// The message of send `i`: 8 bytes naming it.
fn message(i: usize) -> [u8; MSG] {
    let mut m = [0; MSG];
    m.copy_from_slice(format!("m{i:07}").as_bytes());
    m
}

/// An SRQ (on `x`'s PD) serving a QP connected to a plain peer QP (on `y`), with the peer's
/// message buffer (message `i` at offset `i * MSG`) and the SRQ side's receive buffer
/// (receive `i` at offset `i * MSG`).
struct Pair {
    x: Domain,
    y: Domain,
    srq: Srq,
    q: Qp,
    peer: Qp,
    src: (Arc<Buffer>, Mr),
    dst: (Arc<Buffer>, Mr),
}

impl Pair {
    /// `messages` messages; an SRQ of `depth` with `threshold` and `events`; CQs of `cq_depth`.
    fn new(
        ad: &Adapter,
        messages: usize,
        cq_depth: u32,
        (depth, threshold, events): (u32, u32, Option<&Arc<SrqEvents>>),
    ) -> Self {
        let (x, y) = (Domain::new(ad, cq_depth), Domain::new(ad, cq_depth));
        let srq = x.pd.create_srq(depth, 1, threshold, events).unwrap();
        let q =
            x.pd.create_qp_with_srq(&x.rcq, &x.icq, &srq, 0x51, QpLimits::default())
                .unwrap();
        let peer =
            y.pd.create_qp(&y.rcq, &y.icq, 0x61, QpLimits::default())
                .unwrap();
        assert_eq!(q.connect_to(&peer, 1, 1), STATUS_SUCCESS);
        let src = y.register(Buffer::zeroed(messages * MSG));
        let bytes: Vec<u8> = (0..messages).flat_map(message).collect();
        src.0.write(0, &bytes);
        let dst = x.register(Buffer::zeroed(messages * MSG));
        Self {
            x,
            y,
            srq,
            q,
            peer,
            src,
            dst,
        }
    }

    /// `NdkSrqReceive` of receive `i` (context `i`, buffer slice `i`).
    fn post(&self, i: usize) -> NTSTATUS {
        let (buf, mr) = &self.dst;
        self.srq
            .receive(i, &[buf.sge(i * MSG, MSG_LEN, mr.local_token())])
    }

    /// `NdkSend` of message `i` (context `i`).
    fn send(&self, i: usize) -> NTSTATUS {
        let (buf, mr) = &self.src;
        self.peer
            .send(i, &[buf.sge(i * MSG, MSG_LEN, mr.local_token())], 0)
    }

    /// Sends messages `range`, reaping the peer's send completions as it goes.
    fn send_all(&self, range: std::ops::Range<usize>) {
        for i in range {
            assert_eq!(self.send(i), STATUS_SUCCESS, "send {i}");
            let _ = self.y.icq.results(16);
        }
    }

    /// Receive completions: exactly `contexts`, in that order, each with `MSG` bytes, and
    /// receive buffer `i` holding message `i` for each.
    fn expect_received(&self, contexts: &[usize]) {
        let max = u32::try_from(contexts.len() + 1).unwrap();
        let got = self.x.rcq.results_ex(max);
        let want: Vec<_> = contexts.iter().map(|&c| (c, S, MSG_LEN, RECV)).collect();
        assert_eq!(summary(&got), want, "receives complete in posting order");
        let data = self.dst.0.read();
        for &i in contexts {
            assert_eq!(
                data[i * MSG..(i + 1) * MSG],
                message(i),
                "receive {i} got send {i}"
            );
        }
    }

    fn close(self) {
        let _ = (self.y.icq.results(4096), self.x.icq.results(4096));
        closed(self.q.close());
        closed(self.peer.close());
        closed(self.srq.close());
        closed(self.src.1.close());
        closed(self.dst.1.close());
        self.x.close();
        self.y.close();
    }
}

/// Grown from 3 (room allocated for 4) to 64 and then to `MaxSrqDepth` with receives posted:
/// every receive stays, the new depth takes posts, and the peer's sends consume them in posting
/// order, each into its own buffer.
#[test]
fn grow_with_receives_posted_keeps_them_in_order() {
    let p = Host::deterministic();
    let ad = open_adapter(&p);
    let pair = Pair::new(&ad, 100, 128, (3, 0, None));
    for i in 0..3 {
        assert_eq!(pair.post(i), STATUS_SUCCESS);
    }
    assert_eq!(pair.post(3), STATUS_INSUFFICIENT_RESOURCES, "full at 3");
    assert_eq!(
        pair.srq.modify(64, 0),
        STATUS_SUCCESS,
        "grows past its allocation"
    );
    for i in 3..64 {
        assert_eq!(pair.post(i), STATUS_SUCCESS, "receive {i}");
    }
    assert_eq!(pair.post(64), STATUS_INSUFFICIENT_RESOURCES, "full at 64");
    // Consume some, so the next grow moves a queue whose oldest entry is not in slot 0.
    pair.send_all(0..10);
    pair.expect_received(&(0..10).collect::<Vec<_>>());
    assert_eq!(
        pair.srq.modify(4096, 0),
        STATUS_SUCCESS,
        "up to MaxSrqDepth"
    );
    assert_eq!(pair.srq.modify(4097, 0), STATUS_INVALID_PARAMETER);
    for i in 64..100 {
        assert_eq!(pair.post(i), STATUS_SUCCESS, "receive {i}");
    }
    assert_eq!(
        pair.srq.modify(89, 0),
        STATUS_INVALID_PARAMETER,
        "below the 90 receives posted"
    );
    assert_eq!(
        pair.srq.modify(90, 0),
        STATUS_SUCCESS,
        "shrinks to what is posted"
    );
    assert_eq!(pair.post(100), STATUS_INSUFFICIENT_RESOURCES, "full at 90");
    pair.send_all(10..100);
    pair.expect_received(&(10..100).collect::<Vec<_>>());
    pair.close();
    ad.close();
    assert_eq!(softndk::consumer::unexpected_completions(), 0);
    assert_eq!(p.alloc_stats().live, 0);
}

/// Growing neither fires nor disarms the low-water notification: the count of queued receives
/// is what it was. A grow that also arms checks the threshold against the moved receives.
#[test]
fn grow_keeps_the_notification_threshold() {
    let p = Host::deterministic();
    let ad = open_adapter(&p);
    let events = SrqEvents::new();
    let pair = Pair::new(&ad, 16, 64, (4, 3, Some(&events)));
    for i in 0..4 {
        assert_eq!(pair.post(i), STATUS_SUCCESS);
    }
    assert_eq!(pair.srq.modify(64, 0), STATUS_SUCCESS);
    p.run_until_idle();
    assert_eq!(events.count(), 0, "a grow alone never notifies");
    for i in 4..8 {
        assert_eq!(pair.post(i), STATUS_SUCCESS);
    }
    pair.send_all(0..5); // 8 → 3 queued: not below 3
    p.run_until_idle();
    assert_eq!(events.count(), 0);
    pair.send_all(5..6); // 3 → 2: below, one notification
    p.run_until_idle();
    assert_eq!(
        events.statuses(),
        [STATUS_SUCCESS],
        "still armed after the grow"
    );
    // Grow and arm at once with 2 queued, below the new threshold 5: fires (through the DPC).
    assert_eq!(pair.srq.modify(512, 5), STATUS_SUCCESS);
    assert_eq!(events.count(), 1, "never inside the call");
    p.run_until_idle();
    assert_eq!(events.count(), 2);
    pair.send_all(6..8);
    pair.expect_received(&(0..8).collect::<Vec<_>>());
    p.run_until_idle();
    assert_eq!(events.count(), 2, "disarmed after its notification");
    assert_eq!(events.overlaps(), 0);
    pair.close();
    ad.close();
    assert_eq!(p.alloc_stats().live, 0);
}

/// Every allocation attempt of a grow with receives posted fails in turn (`FailNth`): the
/// modify answers `STATUS_INSUFFICIENT_RESOURCES`, the SRQ keeps its depth and receives, stays
/// usable (posts, consumption in order, a later grow) and nothing leaks.
#[test]
fn grow_under_allocation_failure_leaves_the_srq_unchanged() {
    let p = Host::deterministic();
    // Provider-verifier quarantine keeps closed QPs alive until the adapter closes, which the
    // per-attempt balance would count as live.
    let ad = open_checked(&p, MisuseChecks::Off);
    let attempts = {
        let pair = Pair::new(&ad, 8, 16, (4, 0, None));
        for i in 0..4 {
            assert_eq!(pair.post(i), STATUS_SUCCESS);
        }
        let before = p.alloc_stats().attempts;
        assert_eq!(pair.srq.modify(64, 0), STATUS_SUCCESS);
        let attempts = p.alloc_stats().attempts - before;
        pair.close();
        attempts
    };
    assert!(attempts > 0, "a grow allocates");
    for n in 0..attempts {
        let live = p.alloc_stats().live;
        let pair = Pair::new(&ad, 8, 16, (4, 0, None));
        for i in 0..3 {
            assert_eq!(pair.post(i), STATUS_SUCCESS);
        }
        p.set_fault_plan(FaultPlan::FailNth(n));
        let status = pair.srq.modify(64, 0);
        p.set_fault_plan(FaultPlan::Off);
        assert_eq!(status, STATUS_INSUFFICIENT_RESOURCES, "attempt {n}");
        assert_eq!(pair.post(3), STATUS_SUCCESS, "attempt {n}: depth 4 kept");
        assert_eq!(
            pair.post(4),
            STATUS_INSUFFICIENT_RESOURCES,
            "attempt {n}: not grown"
        );
        pair.send_all(0..2);
        pair.expect_received(&[0, 1]);
        assert_eq!(
            pair.srq.modify(64, 0),
            STATUS_SUCCESS,
            "attempt {n}: usable"
        );
        for i in 4..8 {
            assert_eq!(pair.post(i), STATUS_SUCCESS);
        }
        pair.send_all(2..8);
        pair.expect_received(&(2..8).collect::<Vec<_>>());
        pair.close();
        assert_eq!(p.alloc_stats().live, live, "attempt {n}: nothing leaked");
    }
    assert_eq!(p.alloc_stats().injected_failures, attempts);
    ad.close();
    assert_eq!(p.alloc_stats().live, 0);
}

/// On worker threads: one thread posts receives (retrying while the SRQ is full), one grows
/// the SRQ step by step past each allocation, each time after the poster found it full (so the
/// grow races posts into a queue holding receives), one sends from the peer (retrying while its
/// initiator queue is full of sends waiting for receives). Every receive completes exactly
/// once, in posting order, with its own message.
#[test]
fn growth_racing_posts_and_consumption_keeps_every_receive_once() {
    const N: usize = 600;
    let p = Host::threaded(2);
    let ad = open_adapter(&p);
    let pair = Pair::new(&ad, N, 1024, (1, 0, None));
    let refused = AtomicUsize::new(0);
    let posted_all = AtomicBool::new(false);
    let retry = |what: &str, i: usize, op: &dyn Fn() -> NTSTATUS, on_full: &dyn Fn()| {
        loop {
            match op() {
                STATUS_SUCCESS => break,
                STATUS_INSUFFICIENT_RESOURCES => {
                    on_full();
                    std::thread::yield_now();
                }
                other => panic!("{what} {i}: {other:?}"),
            }
        }
    };
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..N {
                retry("receive", i, &|| pair.post(i), &|| {
                    refused.fetch_add(1, Ordering::Relaxed);
                });
            }
            posted_all.store(true, Ordering::Relaxed);
        });
        s.spawn(|| {
            let mut depth = 1;
            let mut seen = 0;
            while depth < 1024 {
                // Until the poster finds the SRQ full (or has nothing left to post).
                while refused.load(Ordering::Relaxed) == seen && !posted_all.load(Ordering::Relaxed)
                {
                    std::thread::yield_now();
                }
                seen = refused.load(Ordering::Relaxed);
                depth = depth * 2 + 1; // always past the current allocation
                assert_eq!(pair.srq.modify(depth, 0), STATUS_SUCCESS, "grow to {depth}");
            }
        });
        s.spawn(|| {
            for i in 0..N {
                retry("send", i, &|| pair.send(i), &|| {});
            }
        });
    });
    p.flush();
    let mut got = Vec::new();
    while got.len() < N {
        let batch = pair.x.rcq.results_ex(256);
        if batch.is_empty() {
            break;
        }
        got.extend(summary(&batch));
        p.flush();
    }
    let want: Vec<_> = (0..N).map(|c| (c, S, MSG_LEN, RECV)).collect();
    assert_eq!(got, want, "every receive once, in posting order");
    let data = pair.dst.0.read();
    for i in 0..N {
        assert_eq!(data[i * MSG..(i + 1) * MSG], message(i), "receive {i}");
    }
    pair.close();
    p.flush();
    ad.close();
    assert_eq!(p.alloc_stats().live, 0);
}

/// An adapter configured with `MaxSrqDepth` above what the engine's rings support: a grow
/// beyond [`MAX_RING_DEPTH`] answers `STATUS_INSUFFICIENT_RESOURCES` (never a shallower queue
/// than asked for), and the SRQ keeps its depth and receives.
#[test]
fn grow_beyond_the_engine_limit_is_refused_cleanly() {
    let p = Host::deterministic();
    let mut cfg = config();
    cfg.limits.max_srq_depth = u32::MAX;
    let ad = Adapter::open(&cfg, &p, NDK_VERSION::new(1, 0)).unwrap();
    let pair = Pair::new(&ad, 4, 16, (2, 0, None));
    assert_eq!(pair.post(0), STATUS_SUCCESS);
    for depth in [MAX_RING_DEPTH + 1, u32::MAX] {
        assert_eq!(
            pair.srq.modify(depth, 0),
            STATUS_INSUFFICIENT_RESOURCES,
            "{depth}"
        );
    }
    assert_eq!(pair.post(1), STATUS_SUCCESS);
    assert_eq!(pair.post(2), STATUS_INSUFFICIENT_RESOURCES, "depth 2 kept");
    assert_eq!(pair.srq.modify(4, 0), STATUS_SUCCESS);
    for i in 2..4 {
        assert_eq!(pair.post(i), STATUS_SUCCESS);
    }
    pair.send_all(0..4);
    pair.expect_received(&[0, 1, 2, 3]);
    pair.close();
    ad.close();
    assert_eq!(p.alloc_stats().live, 0);
}
