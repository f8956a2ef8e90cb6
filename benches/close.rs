//! T10 through the provider: `NdkCloseQp` of a connected QP with `N` outstanding requests on
//! each of its queues (`N` receives, `N` sends the peer cannot take because it posted no
//! receive), until every cancelled completion is reaped with `NdkGetCqResults`.
//!
//! Per measured close: the dispatch slot, the lifetime engine's close, the close stage's flush
//! (each outstanding request completes `STATUS_CANCELLED` into the QP's CQ), the peer's error
//! notice, the teardown and free of the QP, and one `NdkGetCqResults` of the `2 N` results.
//! The QP pair is built, connected and loaded outside the measurement; the peer is closed
//! outside it too. Nothing runs the QP's close later: with nothing else in progress the close
//! answers `STATUS_SUCCESS` (asserted per close), so the "one deferral hop" of the target is
//! zero hops here; a close that meets a running pass or callback pends and completes on that
//! pass's last `end` (`docs/lifetime.md`), measured by the lifetime bench (T2).
//!
//! * `cargo bench --bench close` — criterion, per close and per cancelled request.
//! * `CLOSE_ICOUNT=<n>:<rounds> valgrind --tool=callgrind --toggle-collect='*measured_close*'
//!   <bench binary>` — instructions per close with `n` outstanding on each queue, outside
//!   criterion (independent of the machine's load); figures in `docs/benchmarks.md`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use softndk::abi::{
    NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NDK_RESULT, NDK_SGE, NDK_VERSION, STATUS_CANCELLED,
    STATUS_SUCCESS,
};
use softndk::consumer::{Adapter, Buffer, Closed, Cq, CqEvents, Mr, Pd, Qp, QpLimits};
use softndk::platform::host::Host;
use softndk::verbs::AdapterConfig;

/// The largest `N` measured; queues and the CQ are sized for it.
const MAX_N: u32 = 64;

/// One adapter, one PD, one CQ per side, a registered buffer; QP pairs come and go.
struct Rig {
    adapter: Adapter,
    pd: Pd,
    /// The closing QP's CQ (both its queues).
    cq: Cq,
    /// The peer's CQ.
    peer_cq: Cq,
    buf: Arc<Buffer>,
    mr: Mr,
    results: Vec<NDK_RESULT>,
}

impl Rig {
    fn new(p: &Host) -> Self {
        let adapter = Adapter::open(&AdapterConfig::softndk(0xC105E), p, NDK_VERSION::new(1, 0))
            .expect("adapter");
        let pd = adapter.create_pd().expect("PD");
        let cq = adapter.create_cq(2 * MAX_N, &CqEvents::new()).expect("CQ");
        let peer_cq = adapter.create_cq(2 * MAX_N, &CqEvents::new()).expect("CQ");
        let buf = Buffer::zeroed(64);
        let mr = pd.create_mr(false).expect("MR");
        assert_eq!(
            mr.register(&buf, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, &[]),
            STATUS_SUCCESS
        );
        Self {
            adapter,
            pd,
            cq,
            peer_cq,
            buf,
            mr,
            results: vec![NDK_RESULT::ZEROED; 2 * MAX_N as usize],
        }
    }

    fn sge(&self) -> NDK_SGE {
        self.buf.sge(0, 64, self.mr.local_token())
    }

    /// A connected pair whose first QP holds `n` receives and `n` sends, all outstanding.
    fn loaded_pair(&self, n: u32) -> (Qp, Qp) {
        let limits = QpLimits {
            receive_depth: MAX_N,
            initiator_depth: MAX_N,
            max_receive_sge: 1,
            max_initiator_sge: 1,
            inline_data_size: 0,
        };
        let qp = self
            .pd
            .create_qp(&self.cq, &self.cq, 0xA, limits)
            .expect("QP");
        let peer = self
            .pd
            .create_qp(&self.peer_cq, &self.peer_cq, 0xB, limits)
            .expect("QP");
        assert_eq!(qp.connect_to(&peer, 1, 1), STATUS_SUCCESS);
        let sge = [self.sge()];
        for i in 0..n as usize {
            assert_eq!(qp.receive(i, &sge), STATUS_SUCCESS);
            // The peer has no receive posted: the send waits at the head, and so do the rest.
            assert_eq!(qp.send(1000 + i, &sge, 0), STATUS_SUCCESS);
        }
        (qp, peer)
    }

    /// `NdkGetCqResults` until `want` results were reaped from `cq`; returns how many were
    /// cancelled.
    fn reap(cq: &Cq, results: &mut [NDK_RESULT], want: usize) -> usize {
        let mut got = 0;
        let mut cancelled = 0;
        while got < want {
            let n = cq.results_into(&mut results[..want - got]);
            assert!(n > 0, "a flushed request never completed");
            cancelled += results[..n]
                .iter()
                .filter(|r| r.Status == STATUS_CANCELLED)
                .count();
            got += n;
        }
        cancelled
    }

    /// Closes the peer and reaps what the QP's close sent it (nothing: it had posted nothing).
    fn retire(&self, peer: Qp) {
        assert!(matches!(peer.close(), Closed::Now));
        assert_eq!(self.peer_cq.results_into(&mut [NDK_RESULT::ZEROED; 1]), 0);
    }

    fn close(self) {
        for closed in [
            self.cq.close(),
            self.peer_cq.close(),
            self.mr.close(),
            self.pd.close(),
        ] {
            assert!(matches!(closed, Closed::Now));
        }
        self.adapter.close();
    }
}

/// The measured part: close `qp` and reap its `2 n` cancelled completions.
#[inline(never)]
fn measured_close(qp: Qp, cq: &Cq, results: &mut [NDK_RESULT], n: u32) {
    let closed = qp.close();
    assert!(
        matches!(closed, Closed::Now),
        "nothing is in progress: the close completes in its own call"
    );
    let want = 2 * n as usize;
    assert_eq!(Rig::reap(cq, results, want), want);
    black_box(results);
}

fn closes(c: &mut Criterion) {
    let p = Host::inline();
    let mut rig = Rig::new(&p);
    measure_closes(c, &mut rig);
    rig.close();
}

fn measure_closes(c: &mut Criterion, rig: &mut Rig) {
    let mut g = c.benchmark_group("t10_provider");
    for n in [0u32, 1, 16, 64] {
        g.throughput(Throughput::Elements(u64::from(2 * n).max(1)));
        g.bench_with_input(BenchmarkId::new("close_qp", n), &n, |b, &n| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (qp, peer) = rig.loaded_pair(n);
                    let start = Instant::now();
                    measured_close(qp, &rig.cq, &mut rig.results, n);
                    total += start.elapsed();
                    rig.retire(peer);
                }
                total
            });
        });
    }
    g.finish();
}

/// `CLOSE_ICOUNT=<n>:<rounds>`: `rounds` closes with `n` outstanding per queue, outside
/// criterion.
fn icount(spec: &str) {
    let (n, rounds) = spec.split_once(':').expect("CLOSE_ICOUNT=<n>:<rounds>");
    let n: u32 = n.parse().expect("CLOSE_ICOUNT: n is a number");
    assert!(n <= MAX_N, "CLOSE_ICOUNT: n is at most {MAX_N}");
    let rounds: u32 = rounds.parse().expect("CLOSE_ICOUNT: rounds is a number");
    let p = Host::inline();
    let mut rig = Rig::new(&p);
    for _ in 0..rounds {
        let (qp, peer) = rig.loaded_pair(n);
        measured_close(qp, &rig.cq, &mut rig.results, n);
        rig.retire(peer);
    }
    rig.close();
    println!("{rounds} closes with {n} outstanding per queue");
}

fn main() {
    if let Ok(spec) = std::env::var("CLOSE_ICOUNT") {
        icount(&spec);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    closes(&mut c);
    c.final_summary();
}
