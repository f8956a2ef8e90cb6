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

/// Round trips per timed batch of [`handoff_ns`].
const HANDOFF_BATCH: u64 = 2000;

/// Nanoseconds for one cache line to go from one core to the other: half the best batch
/// average of a ping-pong on one atomic word between this thread and a helper thread, over
/// about `time`. With `cores`, this thread is expected to run on `cores[0]` already and the
/// helper is pinned to `cores[1]` (the placement of `cross` points); without, both are left to
/// the scheduler.
///
/// This is the floor of a cross-core post → completion latency: the completion's line must
/// reach the reaping core at least once. The best batch (not the mean) is the limit, as for
/// memcpy: a batch the scheduler interrupted says nothing about the hardware.
#[must_use]
pub fn handoff_ns(time: Duration, cores: Option<[usize; 2]>) -> f64 {
    // Even values are the pinger's turn, odd values the ponger's; `u64::MAX` stops the ponger.
    let word = AtomicU64::new(0);
    let best = std::thread::scope(|s| {
        let word = &word;
        s.spawn(move || {
            if let Some([_, other]) = cores {
                // Best effort: an unpinned helper still measures, only less repeatably.
                let _ = core_affinity::set_for_current(core_affinity::CoreId { id: other });
            }
            let (mut seen, mut idle) = (0, Backoff::spinning());
            loop {
                let v = word.load(Ordering::Acquire);
                if v == u64::MAX {
                    return;
                }
                if !v.is_multiple_of(2) && v != seen {
                    seen = v;
                    word.store(v + 1, Ordering::Release);
                } else {
                    idle.wait();
                }
            }
        });
        let start = Instant::now();
        let mut best = f64::INFINITY;
        let mut next = 0u64;
        while start.elapsed() < time || best.is_infinite() {
            let batch = Instant::now();
            for _ in 0..HANDOFF_BATCH {
                word.store(next + 1, Ordering::Release);
                let mut idle = Backoff::spinning();
                while word.load(Ordering::Acquire) != next + 2 {
                    idle.wait();
                }
                next += 2;
            }
            #[allow(clippy::cast_precision_loss)] // a batch count
            let per_trip = batch.elapsed().as_secs_f64() * 1e9 / HANDOFF_BATCH as f64;
            best = best.min(per_trip);
        }
        word.store(u64::MAX, Ordering::Release);
        best
    });
    best / 2.0
}

/// How a thread waits for another one's store: it spins, and gives its core back every
/// [`SPINS_PER_YIELD`] empty turns (or every turn), since with both threads on one core (one
/// CPU, or an unpinned pair the scheduler stacked) pure spinning would cost a scheduler tick
/// per turn. In the hand-off ping-pong a batch that had to yield is slow and loses to the
/// unyielding ones.
pub struct Backoff {
    every: u32,
    turns: u32,
}

impl Backoff {
    /// Spins, yielding every [`SPINS_PER_YIELD`] empty turns.
    #[must_use]
    pub const fn spinning() -> Self {
        Self {
            every: SPINS_PER_YIELD,
            turns: 0,
        }
    }

    /// Yields on every empty turn.
    #[must_use]
    pub const fn yielding() -> Self {
        Self { every: 1, turns: 0 }
    }

    /// One empty turn.
    pub fn wait(&mut self) {
        self.turns += 1;
        if self.turns.is_multiple_of(self.every) {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

/// Empty turns between two `yield_now` calls of a [`Backoff::spinning`] thread.
pub const SPINS_PER_YIELD: u32 = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handoff_measures_a_finite_positive_time_and_stops_its_helper() {
        // Unpinned: the test may run on a one-core machine; `Backoff` keeps it finite.
        let ns = handoff_ns(Duration::from_millis(5), None);
        assert!(ns.is_finite() && ns > 0.0, "{ns}");
    }
}
