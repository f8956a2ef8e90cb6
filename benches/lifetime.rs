//! Cost of the lifetime engine's hot operations, each next to its reference in the same run:
//! one uncontended `fetch_add` (target T1: a `try_begin` + `end` pair costs at most 2.2x that)
//! and the close of an idle object (target T2). Figures are recorded in `docs/lifetime.md`.
//!
//! `cargo bench --bench lifetime -- --warm-up-time 1 --measurement-time 3`
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use softndk::lifetime::{Base, Lifetime, Links, Node, Tracked, Unit};

struct Obj {
    node: Node,
}

impl Tracked for Obj {
    type Farewell = ();
    fn node(&self) -> &Node {
        &self.node
    }
    fn finalize(&self) {}
}

/// The reference atomic gets its own cache line, like the lifetime word.
#[repr(align(128))]
struct Line(AtomicU64);

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("lifetime");

    let line = Line(AtomicU64::new(0));
    group.bench_function("fetch_add (reference)", |b| {
        b.iter(|| black_box(&line.0).fetch_add(1, Ordering::AcqRel));
    });

    let lt = Lifetime::new();
    group.bench_function("try_begin+end", |b| {
        b.iter(|| {
            let lt = black_box(&lt);
            let begun = lt.try_begin();
            black_box(begun.is_ok());
            black_box(lt.end())
        });
    });

    let base = Base::new(Obj {
        node: Node::new(Links::new()),
    });
    group.bench_function("Unit::try_new+drop (word pair + Arc clone/drop)", |b| {
        b.iter(|| drop(black_box(Unit::try_new(black_box(base.arc())))));
    });

    group.bench_function("close idle word (Lifetime::close)", |b| {
        b.iter_batched_ref(
            Lifetime::new,
            |lt| black_box(lt.close()),
            BatchSize::SmallInput,
        );
    });

    group.bench_function(
        "close idle object (Base::close, incl. teardown + free)",
        |b| {
            b.iter_batched(
                || {
                    Base::new(Obj {
                        node: Node::new(Links::new()),
                    })
                },
                |base| black_box(base.close(|_| {})),
                BatchSize::SmallInput,
            );
        },
    );

    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
