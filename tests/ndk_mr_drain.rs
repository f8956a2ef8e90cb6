//! Tearing registered memory down while a peer is copying into it (issue #5, "MR being read by
//! the peer"): `NdkDeregisterMr` and an `NdkInvalidate` of a fast-registered MR must not report
//! success while a copy that resolved the old token is still running on another processor,
//! because the consumer may free or reuse the memory the moment it sees that success.
//!
//! Each scenario runs a writer thread that RDMA-writes a large pattern into the target memory
//! back to back, and a consumer thread that tears the target down mid-stream and, as soon as the
//! teardown reports success, overwrites the whole buffer with a sentinel. Once the writer has
//! stopped (its next write fails: the token is stale), the buffer must still hold only the
//! sentinel: any byte of the pattern would be a copy that outlived the teardown's success. A
//! provider without the drain fails these within the first few rounds; a correct one can never
//! fail them, whatever the timing.

// Sizes are small compile-time constants.
#![allow(clippy::cast_possible_truncation)]

mod ndk_common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ndk_common::{Pair, Side};
use softndk::abi::{
    NDK_MR_FLAG_ALLOW_REMOTE_WRITE, NDK_OP_FLAG_ALLOW_REMOTE_WRITE, NDK_SGE, STATUS_SUCCESS,
};
use softndk::consumer::{Buffer, Closed, CqEvents, QpLimits};
use softndk::platform::host::Host;

const PATTERN: u8 = 0x5A;
const SENTINEL: u8 = 0xEE;
const ROUNDS: usize = 12;

/// RDMA-writes `sge` to `va`/`token` from `from`'s QP back to back, until a post or a
/// completion fails; counts the successful writes in `done`.
fn write_until_refused(from: &Side, sge: NDK_SGE, va: u64, token: u32, done: &AtomicUsize) {
    for i in 0.. {
        if from.qp.write(i, &[sge], va, token, 0) != STATUS_SUCCESS {
            return;
        }
        let results = from.icq.results(4);
        if results.iter().any(|r| r.Status != STATUS_SUCCESS) {
            return;
        }
        done.fetch_add(results.len(), Ordering::Release);
    }
}

fn wait_closed(closed: Closed) {
    match closed {
        Closed::Now => {}
        Closed::Pending(signal) => assert!(signal.wait(Duration::from_secs(10)), "close hung"),
        Closed::Refused(status) => panic!("close refused: {status:?}"),
    }
}

/// Waits until the writer has finished at least `n` writes (so the next one is in flight).
fn wait_for(done: &AtomicUsize, n: usize) {
    while done.load(Ordering::Acquire) < n {
        std::hint::spin_loop();
    }
}

fn close_all(pair: Pair, mrs: Vec<softndk::consumer::Mr>) {
    pair.a.qp.flush();
    pair.b.qp.flush();
    let _ = pair.a.icq.results(64);
    let _ = pair.b.icq.results(64);
    for mr in mrs {
        wait_closed(mr.close());
    }
    pair.a.close_waiting(Duration::from_secs(10));
    pair.b.close_waiting(Duration::from_secs(10));
    pair.adapter.close();
}

#[test]
fn deregistration_succeeds_only_after_every_peer_copy_into_the_region_ended() {
    const LEN: usize = 4 << 20;
    let p = Host::threaded(1);
    for round in 0..ROUNDS {
        let pair = Pair::new(&p, 64, QpLimits::default());
        let (src, src_mr) = pair.a.buffer(&vec![PATTERN; LEN], 0);
        let (dst, dst_mr) = pair.b.buffer(&vec![0; LEN], NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
        let token = dst_mr.remote_token();
        let done = AtomicUsize::new(0);
        std::thread::scope(|s| {
            s.spawn(|| {
                let sge = src.sge(0, LEN as u32, src_mr.local_token());
                write_until_refused(&pair.a, sge, dst.va(), token, &done);
            });
            wait_for(&done, 1 + round % 3);
            assert_eq!(dst_mr.deregister(), STATUS_SUCCESS);
            // The consumer owns the memory again: it reuses it at once.
            dst.write(0, &vec![SENTINEL; LEN]);
        });
        let stray = dst.read().iter().filter(|&&b| b != SENTINEL).count();
        assert_eq!(
            stray, 0,
            "round {round}: {stray} bytes written after NdkDeregisterMr returned"
        );
        close_all(pair, vec![src_mr, dst_mr]);
    }
    assert_eq!(p.alloc_stats().live, 0);
}

/// How the scenario invalidates the fast-registered MR and learns that it is done.
#[derive(Clone, Copy, Debug)]
enum Invalidation {
    /// `NdkInvalidate` on b's QP; done when its completion is polled.
    Local,
    /// a's `NdkSendAndInvalidate` to b; done when b polls its `ReceiveAndInvalidate`.
    Remote,
}

/// `two_lams`: the registration lists the pages of two LAMs over the two halves of the target
/// (a composite region), so the fence must cover that mapping too.
fn invalidation_waits_for_copies_of_another_connection(how: Invalidation, two_lams: bool) {
    const PAGES: usize = 256;
    // One page of headroom: the buffer need not start on a page boundary.
    const LEN: usize = (PAGES - 1) * 4096;
    let p = Host::threaded(1);
    for round in 0..ROUNDS {
        // b invalidates on its connection with a; the writer c reaches b's PD through another
        // connection (to d, a QP of b's PD), so its copies run outside the invalidating lock.
        let pair = Pair::new(&p, 64, QpLimits::default());
        let c = Side::new(&pair.adapter, 0xC, 64, QpLimits::default());
        let d_events = CqEvents::new();
        let d_cq = pair.adapter.create_cq(64, &d_events).unwrap();
        let d = pair
            .b
            .pd
            .create_qp(&d_cq, &d_cq, 0xD, QpLimits::default())
            .unwrap();
        assert_eq!(c.qp.connect_to(&d, 4, 4), STATUS_SUCCESS);
        let (src, src_mr) = c.buffer(&vec![PATTERN; LEN], 0);
        let target = Buffer::from_bytes(&vec![0; LEN]);
        // The second LAM starts on a page boundary, so the first one's pages are all whole
        // but its first, and the two lists concatenate into the target's bytes in order.
        let half = 128 * 4096 - (target.va() % 4096) as usize;
        let lams = if two_lams {
            vec![
                pair.adapter.build_lam(&target, 0, half).unwrap(),
                pair.adapter.build_lam(&target, half, LEN - half).unwrap(),
            ]
        } else {
            vec![pair.adapter.build_lam(&target, 0, LEN).unwrap()]
        };
        let pages: Vec<_> = lams
            .iter()
            .flat_map(softndk::consumer::Lam::pages)
            .collect();
        let lam = &lams[0];
        let fr = pair.b.pd.create_mr(true).unwrap();
        assert_eq!(
            fr.initialize_fast_register(PAGES as u32, true),
            STATUS_SUCCESS
        );
        let va = 0x4000_0000 + u64::from(lam.fbo());
        let flags = NDK_OP_FLAG_ALLOW_REMOTE_WRITE;
        assert_eq!(
            pair.b
                .qp
                .fast_register(1, &fr, &pages, lam.fbo(), LEN, va, flags),
            STATUS_SUCCESS
        );
        let token = fr.remote_token();
        let done = AtomicUsize::new(0);
        std::thread::scope(|s| {
            s.spawn(|| {
                let sge = src.sge(0, LEN as u32, src_mr.local_token());
                write_until_refused(&c, sge, va, token, &done);
            });
            wait_for(&done, 1 + round % 3);
            let cq = match how {
                Invalidation::Local => {
                    assert_eq!(pair.b.qp.invalidate_mr(2, &fr, 0), STATUS_SUCCESS);
                    &pair.b.icq
                }
                Invalidation::Remote => {
                    assert_eq!(pair.b.qp.receive(2, &[]), STATUS_SUCCESS);
                    assert_eq!(
                        pair.a.qp.send_and_invalidate(9, &[], 0, token),
                        STATUS_SUCCESS
                    );
                    &pair.b.rcq
                }
            };
            // The completion tells the consumer the pages are its own again.
            loop {
                let r = cq.results(4);
                if let Some(inv) = r.iter().find(|r| r.RequestContext.addr() == 2) {
                    assert_eq!(inv.Status, STATUS_SUCCESS);
                    break;
                }
                std::hint::spin_loop();
            }
            target.write(0, &vec![SENTINEL; LEN]);
        });
        let stray = target.read().iter().filter(|&&b| b != SENTINEL).count();
        assert_eq!(
            stray, 0,
            "round {round}: {stray} bytes written after the invalidation completed"
        );
        for lam in lams {
            pair.adapter.release_lam(lam);
        }
        c.qp.flush();
        d.flush();
        let _ = c.icq.results(64);
        let _ = d_cq.results(64);
        for closed in [d.close(), d_cq.close(), src_mr.close(), fr.close()] {
            wait_closed(closed);
        }
        c.close_waiting(Duration::from_secs(10));
        close_all(pair, Vec::new());
    }
    assert_eq!(p.alloc_stats().live, 0);
}

#[test]
fn local_invalidation_completes_only_after_every_peer_copy_into_the_pages_ended() {
    invalidation_waits_for_copies_of_another_connection(Invalidation::Local, false);
}

#[test]
fn remote_invalidation_completes_only_after_every_copy_of_another_peer_ended() {
    invalidation_waits_for_copies_of_another_connection(Invalidation::Remote, false);
}

#[test]
fn local_invalidation_of_pages_of_two_lams_waits_for_every_peer_copy() {
    invalidation_waits_for_copies_of_another_connection(Invalidation::Local, true);
}

#[test]
fn remote_invalidation_of_pages_of_two_lams_waits_for_every_peer_copy() {
    invalidation_waits_for_copies_of_another_connection(Invalidation::Remote, true);
}
