//! The physical limits each perf figure is compared with, measured in the same run: memcpy of
//! each size into the same destination buffer the RDMA operations use, and one uncontended
//! atomic read-modify-write.
//!
//! The memcpy source is a heap buffer placed 256 bytes past the destination modulo 4 KiB, the
//! best case of the 4 KiB-aliasing pathology (`spec/rdma-anchors.md` §4.3), and the copy is
//! timed both as one `memcpy` call and as 64 KiB calls (glibc switches to non-temporal stores
//! for multi-MiB copies, which is slower in a hot loop), keeping the faster: the baseline is an
//! upper bound rather than a victim of an unlucky placement or strategy.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use softndk::consumer::Buffer;

/// Offset of `(dst - src) mod 4096` that keeps memcpy at full speed.
const GOOD_DISTANCE: u64 = 256;

/// Nanoseconds per copy of `len` bytes into `dst` at offset 0, over about `time`.
#[must_use]
pub fn memcpy_ns(dst: &Buffer, len: usize, time: Duration) -> f64 {
    let backing = vec![0x5Au8; len + 4096];
    let base = backing.as_ptr().addr() as u64;
    let offset = dst.va().wrapping_sub(base).wrapping_sub(GOOD_DISTANCE) & 4095;
    let start_at = usize::try_from(offset).unwrap_or(0);
    let src = &backing[start_at..start_at + len];
    let whole = timed(time, || dst.write(0, black_box(src)));
    if len <= CHUNK {
        return whole;
    }
    let chunked = timed(time, || {
        for (i, piece) in src.chunks(CHUNK).enumerate() {
            dst.write(i * CHUNK, black_box(piece));
        }
    });
    whole.min(chunked)
}

/// Piece size of the chunked variant.
const CHUNK: usize = 64 << 10;

/// Nanoseconds per call of `copy`, over about `time` (after one warm-up call).
fn timed(time: Duration, mut copy: impl FnMut()) -> f64 {
    copy();
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < time || n < 8 {
        for _ in 0..8 {
            copy();
        }
        n += 8;
    }
    start.elapsed().as_secs_f64() * 1e9 / f64::from(n)
}

/// Nanoseconds per uncontended `fetch_add` (`SeqCst`, a locked instruction on x86), over
/// about `time`.
#[must_use]
pub fn atomic_ns(time: Duration) -> f64 {
    let word = AtomicU64::new(0);
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < time || n < 1024 {
        for _ in 0..1024 {
            black_box(&word).fetch_add(1, Ordering::SeqCst);
        }
        n += 1024;
    }
    start.elapsed().as_secs_f64() * 1e9 / f64::from(n)
}
