//! Traffic and NDK counters an adapter keeps, readable at any IRQL without locks
//! (direct OIDs read them concurrently with the data path).
//!
//! Owns: the atomic Ethernet counters, their snapshots, and how the provider's statistics
//! ([`StatsSnapshot`]) map onto `NDIS_NDK_PERFORMANCE_COUNTERS`. Must never: block.
#![deny(unsafe_code)]

use core::sync::atomic::{AtomicU64, Ordering};

use crate::abi::{NDIS_NDK_PERFORMANCE_COUNTERS, NDK_PERFORMANCE_COUNTERS};
#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
use crate::verbs::StatsSnapshot;

/// Number of `ULONG64` counters in `NDIS_NDK_PERFORMANCE_COUNTERS`.
pub const NDK_COUNTERS: usize = NDK_PERFORMANCE_COUNTERS;

/// The provider's statistics as `NDIS_NDK_PERFORMANCE_COUNTERS`.
///
/// A software transport has no
/// frames: `RDMAIn/OutFrames` count messages (see `verbs::stats`). Counters the provider
/// does not maintain stay 0 and are flagged in `config::NDK_MISSING_COUNTER_MASK`.
#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
#[must_use]
pub const fn ndk_performance_counters(stats: &StatsSnapshot) -> NDIS_NDK_PERFORMANCE_COUNTERS {
    NDIS_NDK_PERFORMANCE_COUNTERS {
        Connect: stats.connects,
        Accept: stats.accepts,
        ConnectFailure: stats.connect_failures,
        ConnectionError: stats.connection_errors,
        ActiveConnection: stats.active_connections,
        Reserved: [0; 20],
        CQError: stats.cq_errors,
        RDMAInOctets: stats.in_octets,
        RDMAOutOctets: stats.out_octets,
        RDMAInFrames: stats.in_messages,
        RDMAOutFrames: stats.out_messages,
    }
}

/// The counters in header order (index *i* at byte offset 8*i*, the `MissingCounterMask` bit).
#[must_use]
pub const fn ndk_counter_array(c: &NDIS_NDK_PERFORMANCE_COUNTERS) -> [u64; NDK_COUNTERS] {
    let mut out = [0; NDK_COUNTERS];
    out[0] = c.Connect;
    out[1] = c.Accept;
    out[2] = c.ConnectFailure;
    out[3] = c.ConnectionError;
    out[4] = c.ActiveConnection;
    let mut i = 0;
    while i < c.Reserved.len() {
        out[5 + i] = c.Reserved[i];
        i += 1;
    }
    out[25] = c.CQError;
    out[26] = c.RDMAInOctets;
    out[27] = c.RDMAOutOctets;
    out[28] = c.RDMAInFrames;
    out[29] = c.RDMAOutFrames;
    out
}

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
    /// `NDIS_NDK_PERFORMANCE_COUNTERS` in header order ([`ndk_counter_array`]); zero until
    /// [`CounterSnapshot::with_ndk`] fills them from the provider.
    pub ndk: [u64; NDK_COUNTERS],
}

#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
impl CounterSnapshot {
    /// This snapshot with the NDK counters of `stats` (the adapter's open and closed
    /// `NDK_ADAPTER` instances, summed).
    #[must_use]
    pub const fn with_ndk(self, stats: &StatsSnapshot) -> Self {
        Self {
            ndk: ndk_counter_array(&ndk_performance_counters(stats)),
            ..self
        }
    }
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

    #[cfg(feature = "std")]
    #[test]
    fn ndk_counters_land_at_their_header_offsets() {
        use crate::abi::NDIS_NDK_PERFORMANCE_COUNTERS as P;
        use core::mem::offset_of;
        let stats = StatsSnapshot {
            connects: 1,
            accepts: 2,
            connect_failures: 3,
            connection_errors: 4,
            active_connections: 5,
            cq_errors: 6,
            in_octets: 7,
            in_messages: 8,
            out_octets: 9,
            out_messages: 10,
        };
        let ndk = AdapterCounters::new().snapshot().with_ndk(&stats).ndk;
        let at = |offset: usize| ndk[offset / 8];
        assert_eq!(at(offset_of!(P, Connect)), 1);
        assert_eq!(at(offset_of!(P, Accept)), 2);
        assert_eq!(at(offset_of!(P, ConnectFailure)), 3);
        assert_eq!(at(offset_of!(P, ConnectionError)), 4);
        assert_eq!(at(offset_of!(P, ActiveConnection)), 5);
        assert_eq!(at(offset_of!(P, CQError)), 6);
        assert_eq!(at(offset_of!(P, RDMAInOctets)), 7);
        assert_eq!(at(offset_of!(P, RDMAInFrames)), 8);
        assert_eq!(at(offset_of!(P, RDMAOutOctets)), 9);
        assert_eq!(at(offset_of!(P, RDMAOutFrames)), 10);
        assert!(
            ndk[5..25].iter().all(|&c| c == 0),
            "reserved counters stay 0"
        );
    }
}
