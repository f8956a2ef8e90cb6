//! Live heap bytes of the whole process, for `softndk perf --objects`: the global allocator
//! wraps the system allocator and, only while counting is switched on, adds every allocation's
//! size to a counter and subtracts every free.
//!
//! Owns the counter; must never change what the system allocator returns. Counting is off by
//! default so the timed points of `perf` and `run` pay one relaxed load per allocation, not an
//! atomic read-modify-write.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

/// The system allocator with an optional live-byte counter.
pub struct Counting;

static ON: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicI64 = AtomicI64::new(0);

fn add(bytes: usize) {
    if ON.load(Ordering::Relaxed) {
        LIVE.fetch_add(i64::try_from(bytes).unwrap_or(i64::MAX), Ordering::Relaxed);
    }
}

fn sub(bytes: usize) {
    if ON.load(Ordering::Relaxed) {
        LIVE.fetch_sub(i64::try_from(bytes).unwrap_or(i64::MAX), Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged and returns
// its result unchanged, so `System`'s guarantees are this allocator's; the counter is a side
// effect that never touches the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which is `System`'s.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, i.e. from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        sub(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from `System` with `layout`; the caller upholds the rest.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            sub(layout.size());
            add(new_size);
        }
        p
    }
}

/// Starts counting from zero. Memory allocated before and freed while counting makes the
/// figure lower by its size; callers measure differences across steps they control.
pub fn start() {
    LIVE.store(0, Ordering::Relaxed);
    ON.store(true, Ordering::Relaxed);
}

/// Stops counting.
pub fn stop() {
    ON.store(false, Ordering::Relaxed);
}

/// Bytes allocated and not freed since [`start`] (by every thread).
#[must_use]
pub fn live() -> i64 {
    LIVE.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIG: usize = 64 << 20;

    #[test]
    fn counts_what_is_allocated_and_freed_while_on() {
        start();
        let before = live();
        let v: Vec<u8> = Vec::with_capacity(BIG);
        let with = live();
        drop(v);
        let after = live();
        stop();
        // Other test threads allocate and free concurrently (the counter is process-wide);
        // a 64 MiB step (address space only: the pages are never touched) dwarfs that noise.
        let step = i64::try_from(BIG).unwrap();
        assert!((with - before - step).abs() < step / 4, "{before} → {with}");
        assert!((with - after - step).abs() < step / 4, "{with} → {after}");
    }
}
