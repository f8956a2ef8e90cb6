//! What the provider verifier's checks (`docs/provider-verifier.md`) cost on the data path:
//! one 64-byte send → receive, posted and polled through the NDK dispatch tables, on an
//! adapter opened with `MisuseChecks::Off` (the release-driver default) and with
//! `MisuseChecks::ON` (the host and debug default).
//!
//! Per iteration: `NdkReceive` on the target, `NdkSend` of 64 B from a registered buffer on
//! the initiator (the engine executes it inline, under the connection lock), then
//! `NdkGetCqResults` on both CQs into stack arrays. The difference between the two figures is
//! the post guard of two posts (a marker compare-exchange and store each, the guarded path out
//! of line); nothing is misused, so nothing is reported.
//!
//! * `cargo bench --bench misuse` — criterion; figures in `docs/benchmarks.md` and
//!   `docs/provider-verifier.md`.
//! * `MISUSE_ICOUNT=<off|on>:<n> valgrind --tool=callgrind --toggle-collect='*icount_loop*'
//!   <bench binary>` — `n` rounds outside criterion, so callgrind counts their instructions
//!   (what the checks add, independent of the machine's load).
#![allow(missing_docs)]
#![allow(unsafe_code)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::Criterion;
use softndk::abi::{
    NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NDK_RESULT, NDK_SGE, NDK_VERSION, STATUS_SUCCESS,
};
use softndk::consumer::{Adapter, Buffer, Cq, CqEvents, Mr, Pd, Qp, QpLimits};
use softndk::dispatch::misuse::MisuseChecks;
use softndk::platform::host::Host;
use softndk::verbs::AdapterConfig;

const SIZE: u32 = 64;
const DEPTH: u32 = 16;

/// One side: PD, one CQ for both queues, QP, a registered 64-byte buffer.
struct Side {
    pd: Pd,
    cq: Cq,
    qp: Qp,
    buf: Arc<Buffer>,
    mr: Mr,
}

impl Side {
    fn new(adapter: &Adapter) -> Self {
        let pd = adapter.create_pd().unwrap();
        let cq = adapter.create_cq(2 * DEPTH, &CqEvents::new()).unwrap();
        let limits = QpLimits {
            receive_depth: DEPTH,
            initiator_depth: DEPTH,
            max_receive_sge: 1,
            max_initiator_sge: 1,
            inline_data_size: 0,
        };
        let qp = pd.create_qp(&cq, &cq, 0, limits).unwrap();
        let buf = Buffer::zeroed(SIZE as usize);
        let mr = pd.create_mr(false).unwrap();
        assert_eq!(
            mr.register(&buf, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, &[]),
            STATUS_SUCCESS
        );
        Self {
            pd,
            cq,
            qp,
            buf,
            mr,
        }
    }

    fn sge(&self) -> NDK_SGE {
        self.buf.sge(0, SIZE, self.mr.local_token())
    }

    /// `NdkGetCqResults` into a stack array; returns how many results were reaped.
    fn poll(&self) -> u32 {
        let mut out = [NDK_RESULT::ZEROED; 4];
        // SAFETY: an open CQ; `out` holds 4 results.
        let n = unsafe { (self.cq.dispatch().NdkGetCqResults)(self.cq.raw(), out.as_mut_ptr(), 4) };
        black_box(&out);
        n
    }

    fn close(self) {
        self.qp.flush();
        for closed in [
            self.qp.close(),
            self.cq.close(),
            self.mr.close(),
            self.pd.close(),
        ] {
            assert!(matches!(closed, softndk::consumer::Closed::Now));
        }
    }
}

/// An adapter with a connected initiator/target pair.
struct Bench {
    adapter: Adapter,
    initiator: Side,
    target: Side,
}

impl Bench {
    fn new(p: &Host, misuse: MisuseChecks) -> Self {
        let config = AdapterConfig {
            misuse,
            ..AdapterConfig::softndk(0xBE_0C40)
        };
        let adapter = Adapter::open(&config, p, NDK_VERSION::new(1, 0)).unwrap();
        let initiator = Side::new(&adapter);
        let target = Side::new(&adapter);
        assert_eq!(
            initiator.qp.connect_to(&target.qp, DEPTH, DEPTH),
            STATUS_SUCCESS
        );
        Self {
            adapter,
            initiator,
            target,
        }
    }

    /// Receive, send, poll both CQs: one message.
    fn round(&self) {
        let status = self.target.qp.receive(1, &[self.target.sge()]);
        debug_assert_eq!(status, STATUS_SUCCESS);
        let status = self.initiator.qp.send(2, &[self.initiator.sge()], 0);
        debug_assert_eq!(status, STATUS_SUCCESS);
        let reaped = self.initiator.poll() + self.target.poll();
        debug_assert_eq!(reaped, 2);
        black_box(reaped);
    }

    fn close(self) {
        self.initiator.close();
        self.target.close();
        self.adapter.close();
    }
}

fn post_poll(c: &mut Criterion) {
    let mut group = c.benchmark_group("misuse/send64_post_poll");
    for (name, checks) in [("off", MisuseChecks::Off), ("on", MisuseChecks::ON)] {
        let p = Host::inline();
        let bench = Bench::new(&p, checks);
        // The round must really complete both sides, with the guard armed only when on.
        bench.round();
        group.bench_function(name, |b| b.iter(|| bench.round()));
        bench.close();
    }
    group.finish();
}

/// Runs `rounds` rounds outside criterion, so callgrind can count their instructions
/// (`--toggle-collect='*icount_loop*'`), independent of the machine's load.
#[inline(never)]
fn icount_loop(bench: &Bench, rounds: u64) {
    for _ in 0..rounds {
        bench.round();
    }
}

/// `MISUSE_ICOUNT=<off|on>:<rounds>`.
fn icount(spec: &str) {
    let (mode, rounds) = spec
        .split_once(':')
        .expect("MISUSE_ICOUNT=<off|on>:<rounds>");
    let checks = match mode {
        "off" => MisuseChecks::Off,
        "on" => MisuseChecks::ON,
        other => panic!("MISUSE_ICOUNT: unknown mode {other:?}"),
    };
    let rounds = rounds.parse().expect("MISUSE_ICOUNT: rounds is a number");
    let p = Host::inline();
    let bench = Bench::new(&p, checks);
    bench.round();
    icount_loop(&bench, rounds);
    bench.close();
}

fn main() {
    if let Ok(spec) = std::env::var("MISUSE_ICOUNT") {
        icount(&spec);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    post_poll(&mut c);
    c.final_summary();
}
