//! Registered-memory copy throughput across 4 KiB alias distances.
//!
//! For each size (4 KiB, 64 KiB, 1 MiB) and each distance `(dst - src) mod 4096` in
//! `0..4096` step 64 plus the small distances where the cliff lives (8..56), compares a plain
//! `copy_from_slice` (what a naive engine does) with `Region::copy_between` (the guarded copy).
//! Figures are recorded in `docs/platform.md`; nothing here asserts speed.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use softndk::platform::prelude::*;
use softndk::platform::{PAGE_SIZE, Region};

/// Heap memory with a page-aligned start index.
struct Plain {
    mem: Vec<u8>,
    /// Index of the first page-aligned byte of `mem`.
    base: usize,
}

impl Plain {
    fn new(len: usize) -> Self {
        let mem = vec![0x5A_u8; len + 2 * PAGE_SIZE];
        let addr = mem.as_ptr() as usize;
        let base = addr.next_multiple_of(PAGE_SIZE) - addr;
        Self { mem, base }
    }
}

/// The same, registered as a region (and never touched through a reference afterwards).
struct Registered {
    // Declared first so it drops before the memory it describes.
    region: Region,
    _mem: Vec<u8>,
    base: usize,
}

impl Registered {
    fn new(len: usize) -> Self {
        let Plain { mut mem, base } = Plain::new(len);
        // SAFETY: the vector's heap block outlives `region` (field order), is never accessed
        // through a reference while `region` exists, and the benchmark is single-threaded.
        let region = unsafe { Region::from_raw_parts(mem.as_mut_ptr(), mem.len()) }
            .expect("vector pointers are non-null");
        Self {
            region,
            _mem: mem,
            base,
        }
    }
}

fn distances() -> Vec<usize> {
    let mut d: Vec<usize> = (0..PAGE_SIZE).step_by(64).collect();
    d.extend([8, 16, 24, 32, 40, 48, 56]);
    d.sort_unstable();
    d
}

fn bench_copy(c: &mut Criterion) {
    for size in [4 << 10, 64 << 10, 1 << 20] {
        let mut group = c.benchmark_group(format!("copy_{}k", size >> 10));
        group
            .throughput(Throughput::Bytes(size as u64))
            .sample_size(10)
            .warm_up_time(Duration::from_millis(100))
            .measurement_time(Duration::from_millis(300));
        let plain_src = Plain::new(size);
        let mut plain_dst = Plain::new(size);
        let src = Registered::new(size);
        let dst = Registered::new(size);
        for distance in distances() {
            let (s, d) = (plain_src.base, plain_dst.base + distance);
            group.bench_with_input(BenchmarkId::new("memcpy", distance), &distance, |b, _| {
                b.iter(|| {
                    plain_dst.mem[d..d + size]
                        .copy_from_slice(black_box(&plain_src.mem[s..s + size]));
                });
            });
            let (s, d) = (src.base, dst.base + distance);
            group.bench_with_input(BenchmarkId::new("region", distance), &distance, |b, _| {
                b.iter(|| {
                    Region::copy_between(&dst.region, black_box(d), &src.region, s, size)
                        .expect("in bounds");
                });
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_copy);
criterion_main!(benches);
