//! Engine data-path benchmarks: post → execute → poll of a 64 B send/receive pair, and RDMA
//! writes of 4 KiB and 1 MiB against a plain memcpy between the same two buffers.
//!
//! Run: `cargo bench --bench engine`. Figures are recorded in `docs/engine.md`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use softndk::engine::testkit::{Buf, Pair};
use softndk::engine::{
    Access, Completion, CompletionSink, Copier, CqId, OpFlags, Overrun, Payload, RegionSlice, Side,
    WorkRequest, progress,
};

/// A CQ per id as a plain vector: the cheapest honest sink (polling = draining it).
struct Cqs([Vec<Completion>; 5]);

impl CompletionSink for Cqs {
    fn push(&mut self, cq: CqId, completion: Completion) -> Result<(), Overrun> {
        self.0[cq.0].push(completion);
        Ok(())
    }
}

fn run(p: &mut Pair, cqs: &mut Cqs) {
    let [a, b] = &mut p.ep;
    progress(
        Side {
            endpoint: a,
            memory: &p.mem[0],
            srq: None,
        },
        Side {
            endpoint: b,
            memory: &p.mem[1],
            srq: None,
        },
        &mut p.arena,
        cqs,
        u32::MAX,
    );
}

fn poll(cqs: &mut Cqs, cq: usize) -> usize {
    let n = cqs.0[cq].len();
    black_box(&cqs.0[cq]);
    cqs.0[cq].clear();
    n
}

fn send_receive(c: &mut Criterion) {
    let mut p = Pair::connected();
    let src = p.buffer(0, vec![7; 64], Access::LOCAL_READ);
    let dst = p.buffer(1, vec![0; 64], Access::LOCAL_WRITE);
    let mut cqs = Cqs(Default::default());
    let (src_sge, dst_sge) = ([src.all()], [dst.all()]);
    c.bench_function("engine/send_receive_64B", |b| {
        b.iter(|| {
            p.receive(1, 1, &dst_sge).unwrap();
            p.post(
                0,
                2,
                WorkRequest::Send {
                    payload: Payload::Sges(&src_sge),
                },
                OpFlags::NONE,
            )
            .unwrap();
            run(&mut p, &mut cqs);
            assert_eq!(poll(&mut cqs, 1) + poll(&mut cqs, 4), 2);
        });
    });
    let inline = [7u8; 64];
    let parts: [&[u8]; 1] = [&inline];
    c.bench_function("engine/send_receive_64B_inline", |b| {
        b.iter(|| {
            p.receive(1, 1, &dst_sge).unwrap();
            p.post(
                0,
                2,
                WorkRequest::Send {
                    payload: Payload::Inline(&parts),
                },
                OpFlags::INLINE,
            )
            .unwrap();
            run(&mut p, &mut cqs);
            assert_eq!(poll(&mut cqs, 1) + poll(&mut cqs, 4), 2);
        });
    });
}

fn writes(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine/write");
    for size in [4096usize, 1 << 20] {
        let mut p = Pair::connected();
        let src: Buf = p.buffer(0, vec![5; size], Access::LOCAL_READ);
        let dst: Buf = p.buffer(1, vec![0; size], Access::LOCAL_WRITE | Access::REMOTE_WRITE);
        let mut cqs = Cqs(Default::default());
        let sge = [src.all()];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("rdma_write", size), &size, |b, _| {
            b.iter(|| {
                let w = WorkRequest::Write {
                    payload: Payload::Sges(&sge),
                    remote_address: dst.va,
                    remote_token: dst.token,
                };
                p.post(0, 1, w, OpFlags::NONE).unwrap();
                run(&mut p, &mut cqs);
                assert_eq!(poll(&mut cqs, 1), 1);
            });
        });
        group.bench_with_input(BenchmarkId::new("memcpy", size), &size, |b, _| {
            // The same two buffers, copied by one `copy_from_slice` (memcpy) through the
            // arena, with no engine around it.
            let len = u32::try_from(size).unwrap();
            let from = RegionSlice {
                region: src.region,
                offset: 0,
                length: len,
            };
            let to = RegionSlice {
                region: dst.region,
                offset: 0,
                length: len,
            };
            b.iter(|| {
                p.arena.copy(black_box(from), black_box(to));
                black_box(p.arena.bytes(dst.region)[size - 1]);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, send_receive, writes);
criterion_main!(benches);
