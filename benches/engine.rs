//! Engine data-path benchmarks against the targets of `spec/rdma-anchors.md` §6.5, each next to
//! its baseline measured in the same run.
//!
//! Everything goes through the entry points the verbs layer uses: [`Endpoint::post`],
//! [`Endpoint::post_receive`] and [`progress`] with a [`MemorySpace`] (the testkit token table:
//! a token → entry lookup with PD, generation, rights and range checks on every SGE), a
//! [`Copier`] over platform [`Region`]s (the alias-guarded copy the verbs layer will use) and
//! a [`CompletionSink`] of preallocated per-CQ vectors (polling = draining one).
//!
//! Groups: `baseline` (one uncontended `AtomicU64::fetch_add`, `memcpy` of 64 B), `t3` (64 B
//! post → execute → poll, one request per `progress` call and batches of 16), `t6_t7` (RDMA
//! write of 4 KiB / 1 MiB vs `memcpy` of the same bytes between the same buffers), `t8` (4 KiB
//! write and `memcpy` at several `(dst − src) mod 4096` distances), `t10` (flush of a QP with
//! 1, 16 or 64 outstanding writes, poll included).
//!
//! * `cargo bench --bench engine` — criterion; figures and ratios in `docs/benchmarks.md`.
//! * `ENGINE_ICOUNT=<scenario>:<n> valgrind --tool=callgrind --toggle-collect='*icount_loop*'
//!   <bench binary>` — runs one scenario `n` times outside criterion so callgrind counts its
//!   instructions reproducibly (scenarios: see [`Scenario`]; `<scenario>@<distance>:<n>` sets
//!   the alias distance of the destination buffer).
#![allow(missing_docs)]
// Host-only (64-bit) benchmark: region numbers and offsets come from `usize` values.
#![allow(clippy::cast_possible_truncation)]

use std::hint::black_box;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
use softndk::engine::testkit::{TestMemory, config};
use softndk::engine::{
    Access, Completion, CompletionSink, Copier, CqId, Endpoint, OpFlags, Overrun, Payload,
    RegionSlice, Sge, Side, WorkRequest, progress,
};
use softndk::platform::prelude::*;
use softndk::platform::{PAGE_SIZE, Region};

/// One vector per CQ number, preallocated: the cheapest honest sink (a CQ ring would add a
/// bounds check and an index store, as `Vec::push` does).
struct Cqs([Vec<Completion>; 5]);

impl Cqs {
    fn new() -> Self {
        Self(core::array::from_fn(|_| Vec::with_capacity(64)))
    }

    /// Poll CQ `cq`: hand every completion to the consumer and empty it.
    fn poll(&mut self, cq: usize) -> usize {
        let n = self.0[cq].len();
        black_box(&self.0[cq]);
        self.0[cq].clear();
        n
    }
}

impl CompletionSink for Cqs {
    fn push(&mut self, cq: CqId, completion: Completion) -> Result<(), Overrun> {
        self.0[cq.0].push(completion);
        Ok(())
    }
}

/// The verbs layer's copier shape: region number → platform region, alias-guarded copies.
struct RegionCopier(Vec<Region>);

impl Copier for RegionCopier {
    fn copy(&mut self, from: RegionSlice, to: RegionSlice) {
        Region::copy_between(
            &self.0[to.region as usize],
            to.offset as usize,
            &self.0[from.region as usize],
            from.offset as usize,
            from.length as usize,
        )
        .expect("the memory space resolved an in-bounds range");
    }

    fn copy_in(&mut self, from: &[u8], to: RegionSlice) {
        self.0[to.region as usize]
            .write(to.offset as usize, from)
            .expect("the memory space resolved an in-bounds range");
    }

    /// Nothing is counted or invalidated here (the bench's memory space never drains).
    fn settle(&mut self) {}
}

/// Heap memory registered as a region starting `offset` bytes after a page boundary.
struct Buffer {
    /// Start of the registered bytes (for the `memcpy` baseline only).
    ptr: *mut u8,
    len: usize,
    /// Keeps the memory alive; never touched through a reference while registered.
    _mem: Vec<u8>,
}

impl Buffer {
    fn new(len: usize, offset: usize, fill: u8) -> (Self, Region) {
        let mut mem = vec![fill; len + offset + 2 * PAGE_SIZE];
        let addr = mem.as_ptr() as usize;
        let start = addr.next_multiple_of(PAGE_SIZE) - addr + offset;
        let ptr = mem[start..].as_mut_ptr();
        // SAFETY: `[ptr, ptr + len)` lies inside `mem`'s heap block, which `Buffer` keeps alive
        // at least as long as the rig keeps the region (both live in the same `Rig`, the region
        // is dropped first); after this point `mem` is only accessed through the region or the
        // raw `ptr` (never both at once: the benchmark is single-threaded).
        let region = unsafe { Region::from_raw_parts(ptr, len) }.expect("non-null");
        (
            Self {
                ptr,
                len,
                _mem: mem,
            },
            region,
        )
    }
}

/// Two connected QPs in two PDs with one source buffer (side 0) and one target buffer (side 1).
struct Rig {
    // Field order = drop order: regions (in `copier`) before the memory they describe.
    copier: RegionCopier,
    mem: [TestMemory; 2],
    ep: [Endpoint; 2],
    cqs: Cqs,
    src: Buffer,
    dst: Buffer,
    src_sge: [Sge; 1],
    dst_sge: [Sge; 1],
    dst_va: u64,
    dst_token: u32,
}

const SRC_VA: u64 = 0x1_0000_0000;
const DST_VA: u64 = 0x2_0000_0000;

impl Rig {
    /// Buffers of `len` bytes; the destination starts `distance` bytes after a page boundary,
    /// the source on one, so `(dst − src) mod 4096 = distance`.
    fn new(len: usize, distance: usize) -> Self {
        let (src, src_region) = Buffer::new(len, 0, 0x5A);
        let (dst, dst_region) = Buffer::new(len, distance, 0);
        let mem = [TestMemory::new(1), TestMemory::new(2)];
        let len64 = len as u64;
        let src_mr = mem[0].register(0, SRC_VA, len64, Access::LOCAL_READ);
        let dst_mr = mem[1].register(1, DST_VA, len64, Access::LOCAL_WRITE | Access::REMOTE_WRITE);
        let mut c0 = config(0);
        let mut c1 = config(1);
        for c in [&mut c0, &mut c1] {
            c.max_transfer_length = u32::try_from(len).expect("len").max(1 << 20);
        }
        let mut ep = [
            Endpoint::try_new(c0).expect("endpoint"),
            Endpoint::try_new(c1).expect("endpoint"),
        ];
        ep[0].connect(4, 4).expect("connect");
        ep[1].connect(4, 4).expect("connect");
        let len32 = u32::try_from(len).expect("len");
        let src_sge = [Sge {
            address: SRC_VA,
            length: len32,
            token: mem[0].token(src_mr),
        }];
        let dst_sge = [Sge {
            address: DST_VA,
            length: len32,
            token: mem[1].token(dst_mr),
        }];
        Self {
            copier: RegionCopier(vec![src_region, dst_region]),
            dst_token: dst_sge[0].token,
            mem,
            ep,
            cqs: Cqs::new(),
            src,
            dst,
            src_sge,
            dst_sge,
            dst_va: DST_VA,
        }
    }

    fn progress(&mut self) {
        let [a, b] = &mut self.ep;
        progress(
            Side {
                endpoint: a,
                memory: &self.mem[0],
                srq: None,
            },
            Side {
                endpoint: b,
                memory: &self.mem[1],
                srq: None,
            },
            &mut self.copier,
            &mut self.cqs,
            u32::MAX,
        );
    }

    /// The engine's `try_post` is inlined here: the request kind, flags and SGE count are
    /// constants of this call site and fold into its checks. Through `verbs::Qp::post` they are
    /// runtime values, so the same post costs a few instructions more there
    /// (`docs/engine.md`, "The per-request path").
    fn post_write(&mut self, context: usize) {
        let w = WorkRequest::Write {
            payload: Payload::Sges(&self.src_sge),
            remote_address: self.dst_va,
            remote_token: self.dst_token,
        };
        self.ep[0]
            .post(&self.mem[0], context, w, OpFlags::NONE)
            .expect("post");
    }

    /// One RDMA write: post, progress, poll the initiator CQ.
    #[inline]
    fn write(&mut self) {
        self.post_write(1);
        self.progress();
        assert_eq!(self.cqs.poll(1), 1);
    }

    /// `n` writes posted back to back, one `progress`, one poll.
    #[inline]
    fn write_batch(&mut self, n: usize) {
        for i in 0..n {
            self.post_write(i);
        }
        self.progress();
        assert_eq!(self.cqs.poll(1), n);
    }

    /// One message: post a receive on side 1, post a send on side 0, progress, poll both CQs.
    #[inline]
    fn send(&mut self, inline: Option<&[&[u8]]>) {
        self.ep[1]
            .post_receive(1, &self.dst_sge)
            .expect("post receive");
        let (payload, flags) = match inline {
            Some(parts) => (Payload::Inline(parts), OpFlags::INLINE),
            None => (Payload::Sges(&self.src_sge), OpFlags::NONE),
        };
        self.ep[0]
            .post(&self.mem[0], 2, WorkRequest::Send { payload }, flags)
            .expect("post");
        self.progress();
        assert_eq!(self.cqs.poll(1) + self.cqs.poll(4), 2);
    }

    /// The same bytes through the copier alone (no engine): the platform's cost per copy call.
    #[inline]
    fn region_copy(&mut self) {
        let from = RegionSlice {
            region: 0,
            offset: 0,
            length: black_box(self.src.len.min(self.dst.len)) as u32,
        };
        let to = RegionSlice { region: 1, ..from };
        self.copier.copy(black_box(from), black_box(to));
    }

    /// `memcpy` of the same bytes between the same two buffers, no engine around it.
    #[inline]
    fn memcpy(&mut self) {
        let len = black_box(self.src.len.min(self.dst.len));
        // SAFETY: both pointers are valid for `len` bytes (see `Buffer::new`), the buffers are
        // distinct heap blocks, and no reference or region access covers them during the copy.
        unsafe { ptr::copy_nonoverlapping(black_box(self.src.ptr), black_box(self.dst.ptr), len) };
    }
}

/// The reference atomic on its own cache line.
#[repr(align(128))]
struct Line(AtomicU64);

fn baselines(c: &mut Criterion) {
    let mut g = c.benchmark_group("baseline");
    let line = Line(AtomicU64::new(0));
    g.bench_function("fetch_add", |b| {
        b.iter(|| black_box(&line.0).fetch_add(1, Ordering::Relaxed));
    });
    let mut rig = Rig::new(64, 256);
    g.bench_function("memcpy_64B", |b| b.iter(|| rig.memcpy()));
    // The platform's fixed cost per copy call (bounds and overlap checks, the length test that
    // decides whether the alias guard can apply, one `memcpy`).
    g.bench_function("region_copy_64B", |b| b.iter(|| rig.region_copy()));
    g.finish();
}

fn small(c: &mut Criterion) {
    let mut g = c.benchmark_group("t3");
    let mut rig = Rig::new(64, 256);
    g.throughput(Throughput::Elements(1));
    g.bench_function("write_64B", |b| b.iter(|| rig.write()));
    // Two work requests (receive + send) and two completions per iteration.
    g.throughput(Throughput::Elements(2));
    g.bench_function("send_receive_64B", |b| b.iter(|| rig.send(None)));
    let bytes = [7u8; 64];
    let parts: [&[u8]; 1] = [&bytes];
    g.bench_function("send_receive_64B_inline", |b| {
        b.iter(|| rig.send(Some(&parts)));
    });
    g.throughput(Throughput::Elements(16));
    g.bench_function("write_64B_x16", |b| b.iter(|| rig.write_batch(16)));
    g.finish();
}

fn large(c: &mut Criterion) {
    let mut g = c.benchmark_group("t6_t7");
    for size in [4096usize, 1 << 20] {
        let mut rig = Rig::new(size, 0);
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("write", size), &size, |b, _| {
            b.iter(|| rig.write());
        });
        g.bench_with_input(BenchmarkId::new("memcpy", size), &size, |b, _| {
            b.iter(|| rig.memcpy());
        });
    }
    g.finish();
}

fn aliasing(c: &mut Criterion) {
    let mut g = c.benchmark_group("t8");
    g.throughput(Throughput::Bytes(4096))
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for distance in [0usize, 8, 16, 48, 64, 256, 2048, 2112] {
        let mut rig = Rig::new(4096, distance);
        g.bench_with_input(
            BenchmarkId::new("write_4KiB", distance),
            &distance,
            |b, _| {
                b.iter(|| rig.write());
            },
        );
        g.bench_with_input(
            BenchmarkId::new("memcpy_4KiB", distance),
            &distance,
            |b, _| {
                b.iter(|| rig.memcpy());
            },
        );
    }
    g.finish();
}

/// T10: `Endpoint::flush` of a QP with `n` outstanding writes, then one poll that sees all `n`
/// cancelled completions. The rig is built and the writes posted outside the measurement.
fn flush(c: &mut Criterion) {
    let mut g = c.benchmark_group("t10");
    for n in [1usize, 16, 64] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("flush_writes", n), &n, |b, &n| {
            b.iter_batched_ref(
                || {
                    let mut rig = Rig::new(64, 256);
                    for i in 0..n {
                        rig.post_write(i);
                    }
                    rig
                },
                |rig| {
                    rig.ep[0].flush(&mut rig.cqs);
                    assert_eq!(rig.cqs.poll(1), n);
                },
                BatchSize::NumIterations(32),
            );
        });
    }
    g.finish();
}

/// Scenarios for the instruction-count mode.
#[derive(Clone, Copy, Debug)]
enum Scenario {
    Write64,
    Send64,
    Send64Inline,
    Write64x16,
    Write4K,
    Memcpy4K,
    Write1M,
    Memcpy1M,
    RegionCopy64,
}

impl Scenario {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "write_64B" => Self::Write64,
            "send_receive_64B" => Self::Send64,
            "send_receive_64B_inline" => Self::Send64Inline,
            "write_64B_x16" => Self::Write64x16,
            "write_4KiB" => Self::Write4K,
            "memcpy_4KiB" => Self::Memcpy4K,
            "write_1MiB" => Self::Write1M,
            "memcpy_1MiB" => Self::Memcpy1M,
            "region_copy_64B" => Self::RegionCopy64,
            _ => return None,
        })
    }
}

#[inline]
fn run_once(rig: &mut Rig, scenario: Scenario, parts: &[&[u8]]) {
    match scenario {
        Scenario::Write64 | Scenario::Write4K | Scenario::Write1M => rig.write(),
        Scenario::Send64 => rig.send(None),
        Scenario::Send64Inline => rig.send(Some(parts)),
        Scenario::Write64x16 => rig.write_batch(16),
        Scenario::Memcpy4K | Scenario::Memcpy1M => rig.memcpy(),
        Scenario::RegionCopy64 => rig.region_copy(),
    }
}

/// The measured loop; callgrind collects only inside it (`--toggle-collect='*icount_loop*'`).
#[inline(never)]
fn icount_loop(rig: &mut Rig, scenario: Scenario, parts: &[&[u8]], n: usize) {
    for _ in 0..n {
        run_once(rig, scenario, parts);
    }
}

fn icount(spec: &str) {
    let (name, n) = spec.split_once(':').unwrap_or((spec, "100000"));
    let (name, distance) = name.split_once('@').map_or((name, None), |(name, d)| {
        (name, Some(d.parse::<usize>().expect("alias distance")))
    });
    let scenario = Scenario::parse(name).unwrap_or_else(|| panic!("unknown scenario {name}"));
    let n: usize = n.parse().expect("iteration count");
    let size = match scenario {
        Scenario::Write4K | Scenario::Memcpy4K => 4096,
        Scenario::Write1M | Scenario::Memcpy1M => 1 << 20,
        _ => 64,
    };
    let distance = distance.unwrap_or(if size == 64 { 256 } else { 0 });
    let mut rig = Rig::new(size, distance);
    // Warm up outside the collected loop (first-touch, lazy binding).
    let bytes = [7u8; 64];
    let parts: [&[u8]; 1] = [&bytes];
    for _ in 0..100 {
        run_once(&mut rig, scenario, &parts);
    }
    icount_loop(&mut rig, scenario, &parts, n);
    println!("{scenario:?} x {n}");
}

fn main() {
    if let Ok(spec) = std::env::var("ENGINE_ICOUNT") {
        icount(&spec);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    baselines(&mut c);
    small(&mut c);
    large(&mut c);
    aliasing(&mut c);
    flush(&mut c);
    c.final_summary();
}
