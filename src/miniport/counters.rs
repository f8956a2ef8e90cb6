//! Traffic and NDK counters an adapter keeps, readable at any IRQL without locks
//! (direct OIDs read them concurrently with the data path).
//!
//! Owns: the atomic counters and their snapshots. Must never: block.
#![deny(unsafe_code)]

use core::sync::atomic::{AtomicU64, Ordering};

/// Number of `ULONG64` counters in `NDIS_NDK_PERFORMANCE_COUNTERS`.
pub const NDK_COUNTERS: usize = 30;

/// Live counters of one adapter.
#[derive(Debug, Default)]
pub struct AdapterCounters {
    xmit_ok: AtomicU64,
    xmit_discards: AtomicU64,
    rcv_ok: AtomicU64,
    rcv_discards: AtomicU64,
    rcv_no_buffer: AtomicU64,
}

/// A copy of the counters, taken for one OID answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Frames sent (`OID_GEN_XMIT_OK`, `ifHCOutUcastPkts`).
    pub xmit_ok: u64,
    /// Frames dropped on send (completed while not running).
    pub xmit_discards: u64,
    /// Frames indicated to NDIS (`OID_GEN_RCV_OK`).
    pub rcv_ok: u64,
    /// Frames for this adapter that were dropped (`ifInDiscards`): not running, no receive
    /// buffer, or unreadable; includes `rcv_no_buffer`.
    pub rcv_discards: u64,
    /// Of `rcv_discards`, those dropped because every receive buffer was in use.
    pub rcv_no_buffer: u64,
    /// `NDIS_NDK_PERFORMANCE_COUNTERS` in header order; all zero until the provider core
    /// maintains them (every bit is set in the advertised `MissingCounterMask`).
    pub ndk: [u64; NDK_COUNTERS],
}

impl AdapterCounters {
    /// Zeroed counters.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            xmit_ok: AtomicU64::new(0),
            xmit_discards: AtomicU64::new(0),
            rcv_ok: AtomicU64::new(0),
            rcv_discards: AtomicU64::new(0),
            rcv_no_buffer: AtomicU64::new(0),
        }
    }

    /// Counts `frames` sent successfully.
    pub fn sent(&self, frames: u64) {
        self.xmit_ok.fetch_add(frames, Ordering::Relaxed);
    }

    /// Counts `frames` dropped on the send path.
    pub fn discarded(&self, frames: u64) {
        self.xmit_discards.fetch_add(frames, Ordering::Relaxed);
    }

    /// Counts `frames` indicated to NDIS.
    pub fn received(&self, frames: u64) {
        self.rcv_ok.fetch_add(frames, Ordering::Relaxed);
    }

    /// Counts `frames` for this adapter dropped (not running, or unreadable).
    pub fn receive_dropped(&self, frames: u64) {
        self.rcv_discards.fetch_add(frames, Ordering::Relaxed);
    }

    /// Counts `frames` dropped because every receive buffer was in use.
    pub fn receive_no_buffer(&self, frames: u64) {
        self.rcv_no_buffer.fetch_add(frames, Ordering::Relaxed);
        self.rcv_discards.fetch_add(frames, Ordering::Relaxed);
    }

    /// A snapshot for an OID answer (each counter is individually current; they are not a
    /// consistent cut, which NDIS statistics never are).
    #[must_use]
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            xmit_ok: self.xmit_ok.load(Ordering::Relaxed),
            xmit_discards: self.xmit_discards.load(Ordering::Relaxed),
            rcv_ok: self.rcv_ok.load(Ordering::Relaxed),
            rcv_discards: self.rcv_discards.load(Ordering::Relaxed),
            rcv_no_buffer: self.rcv_no_buffer.load(Ordering::Relaxed),
            ndk: [0; NDK_COUNTERS],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_accumulate() {
        let counters = AdapterCounters::new();
        counters.sent(3);
        counters.sent(2);
        counters.discarded(4);
        counters.received(7);
        counters.receive_dropped(1);
        counters.receive_no_buffer(2);
        let snapshot = counters.snapshot();
        assert_eq!(snapshot.xmit_ok, 5);
        assert_eq!(snapshot.xmit_discards, 4);
        assert_eq!(snapshot.rcv_ok, 7);
        assert_eq!(snapshot.rcv_discards, 3, "no-buffer drops are discards too");
        assert_eq!(snapshot.rcv_no_buffer, 2);
    }
}
