//! Statistics one adapter instance keeps for `OID_NDK_STATISTICS`: RDMA traffic seen by its
//! CQs, CQ errors, and the connection counts the connection manager reports.
//!
//! Owns the counters and their snapshot. Traffic is counted where a completion enters a CQ
//! ([`Cq::push`](super::Cq::push), already under that CQ's lock), into one of [`SHARDS`]
//! cache-line-sized shards chosen per CQ at creation: a CQ's completions touch only its own
//! shard line, so the counting adds two relaxed atomic adds per completion and no shared
//! cache line between CQs of different shards, and nothing at all to the engine's copy loop.
//! Readers sum the shards; the result is not a consistent cut (no NDIS statistic is).
//!
//! SoftNDK has no wire, so a "frame" is one message: a send, a receive, an RDMA read or an
//! RDMA write, counted at its completion with its byte count. Incoming traffic is what
//! completes on this adapter as a receive or a read; outgoing is a send or a write. The target
//! side of an RDMA read or write has no completion and is not counted.
//!
//! Must never: take a lock, allocate, or be read for anything but statistics.
#![deny(unsafe_code)]

use crate::engine::{Completion, OpType};
use crate::sync::{AtomicU64, AtomicUsize, Ordering};

/// Counter shards per adapter instance.
pub const SHARDS: usize = 16;

/// Whether the connection counters (`connects` … `active_connections`) are maintained.
///
/// They are: the connection manager counts each side's outcome on its adapter
/// (`cm::CmOutcome`, through `CmAdapter::count`) when the side's phase changes: reaching
/// `Connected` ([`Stats::connected`] active, [`Stats::accepted`] passive), leaving the
/// established phases ([`Stats::disconnected`], an error when aborted by a timeout), and an
/// active attempt ending rejected or aborted ([`Stats::connect_failed`]).
pub const CONNECTIONS_COUNTED: bool = true;

/// One shard: the traffic counters of the CQs assigned to it, alone on its cache line.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Shard {
    in_octets: AtomicU64,
    in_messages: AtomicU64,
    out_octets: AtomicU64,
    out_messages: AtomicU64,
}

/// The live statistics of one adapter instance.
#[derive(Debug, Default)]
pub struct Stats {
    shards: [Shard; SHARDS],
    next_shard: AtomicUsize,
    cq_errors: AtomicU64,
    connects: AtomicU64,
    accepts: AtomicU64,
    connect_failures: AtomicU64,
    connection_errors: AtomicU64,
    active_connections: AtomicU64,
}

/// A CQ's shard, chosen once at creation ([`Stats::assign_shard`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardId(usize);

/// A copy of an adapter's statistics (or the sum over several adapters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Outbound connections established.
    pub connects: u64,
    /// Inbound connections accepted.
    pub accepts: u64,
    /// Connection attempts that failed.
    pub connect_failures: u64,
    /// Established connections that later failed.
    pub connection_errors: u64,
    /// Connections up now.
    pub active_connections: u64,
    /// CQ overruns (each CQ overruns at most once; it is unusable afterwards).
    pub cq_errors: u64,
    /// Bytes of successful receive and read completions.
    pub in_octets: u64,
    /// Successful receive and read completions.
    pub in_messages: u64,
    /// Bytes of successful send and write completions.
    pub out_octets: u64,
    /// Successful send and write completions.
    pub out_messages: u64,
}

impl StatsSnapshot {
    /// The field-wise sum (wrapping, as 64-bit NDIS counters do).
    #[must_use]
    pub const fn plus(self, other: Self) -> Self {
        Self {
            connects: self.connects.wrapping_add(other.connects),
            accepts: self.accepts.wrapping_add(other.accepts),
            connect_failures: self.connect_failures.wrapping_add(other.connect_failures),
            connection_errors: self.connection_errors.wrapping_add(other.connection_errors),
            active_connections: self
                .active_connections
                .wrapping_add(other.active_connections),
            cq_errors: self.cq_errors.wrapping_add(other.cq_errors),
            in_octets: self.in_octets.wrapping_add(other.in_octets),
            in_messages: self.in_messages.wrapping_add(other.in_messages),
            out_octets: self.out_octets.wrapping_add(other.out_octets),
            out_messages: self.out_messages.wrapping_add(other.out_messages),
        }
    }

    /// The snapshot of an instance that has closed: what it counted stays, its connections
    /// are no longer active.
    #[must_use]
    pub const fn retired(self) -> Self {
        Self {
            active_connections: 0,
            ..self
        }
    }
}

impl Stats {
    /// All zero.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The shard for a new CQ (round robin).
    pub fn assign_shard(&self) -> ShardId {
        ShardId(self.next_shard.fetch_add(1, Ordering::Relaxed) % SHARDS)
    }

    /// Counts a completion that entered a CQ of `shard`. Failures and memory operations carry
    /// no traffic and are not counted.
    pub fn completed(&self, shard: ShardId, completion: &Completion) {
        if !completion.status.is_success() {
            return;
        }
        let s = &self.shards[shard.0 % SHARDS];
        let bytes = u64::from(completion.bytes);
        let (octets, messages) = match completion.op {
            OpType::Receive | OpType::ReceiveAndInvalidate | OpType::Read => {
                (&s.in_octets, &s.in_messages)
            }
            OpType::Send | OpType::Write => (&s.out_octets, &s.out_messages),
            OpType::FastRegister | OpType::Bind | OpType::Invalidate => return,
        };
        octets.fetch_add(bytes, Ordering::Relaxed);
        messages.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a CQ overrun.
    pub fn cq_error(&self) {
        self.cq_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// An outbound connection was established (for the connection manager).
    pub fn connected(&self) {
        self.connects.fetch_add(1, Ordering::Relaxed);
        self.active_connections.fetch_add(1, Ordering::Relaxed);
    }

    /// An inbound connection was accepted (for the connection manager).
    pub fn accepted(&self) {
        self.accepts.fetch_add(1, Ordering::Relaxed);
        self.active_connections.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection attempt failed (for the connection manager).
    pub fn connect_failed(&self) {
        self.connect_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// An established connection ended; `error` when it failed rather than being disconnected
    /// (for the connection manager). Pairs with one [`Stats::connected`] or
    /// [`Stats::accepted`].
    pub fn disconnected(&self, error: bool) {
        if error {
            self.connection_errors.fetch_add(1, Ordering::Relaxed);
        }
        // Saturating: an unpaired call must not wrap the gauge to 2^64 - 1.
        let _ = self
            .active_connections
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// The current values.
    #[must_use]
    pub fn snapshot(&self) -> StatsSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = StatsSnapshot {
            connects: load(&self.connects),
            accepts: load(&self.accepts),
            connect_failures: load(&self.connect_failures),
            connection_errors: load(&self.connection_errors),
            active_connections: load(&self.active_connections),
            cq_errors: load(&self.cq_errors),
            ..StatsSnapshot::default()
        };
        for s in &self.shards {
            out.in_octets = out.in_octets.wrapping_add(load(&s.in_octets));
            out.in_messages = out.in_messages.wrapping_add(load(&s.in_messages));
            out.out_octets = out.out_octets.wrapping_add(load(&s.out_octets));
            out.out_messages = out.out_messages.wrapping_add(load(&s.out_messages));
        }
        out
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::engine::Status;

    const fn completion(op: OpType, bytes: u32, status: Status) -> Completion {
        Completion {
            request_context: 0,
            qp_context: 0,
            status,
            bytes,
            op,
            invalidated_token: None,
            solicited: false,
        }
    }

    #[test]
    fn traffic_is_split_by_direction_and_summed_over_shards() {
        let stats = Stats::new();
        let a = stats.assign_shard();
        let b = stats.assign_shard();
        assert_ne!(a, b, "consecutive CQs get different shards");
        stats.completed(a, &completion(OpType::Send, 100, Status::Success));
        stats.completed(b, &completion(OpType::Write, 50, Status::Success));
        stats.completed(a, &completion(OpType::Receive, 7, Status::Success));
        stats.completed(
            b,
            &completion(OpType::ReceiveAndInvalidate, 3, Status::Success),
        );
        stats.completed(b, &completion(OpType::Read, 4096, Status::Success));
        let s = stats.snapshot();
        assert_eq!((s.out_octets, s.out_messages), (150, 2));
        assert_eq!((s.in_octets, s.in_messages), (7 + 3 + 4096, 3));
    }

    #[test]
    fn failures_and_memory_operations_carry_no_traffic() {
        let stats = Stats::new();
        let shard = stats.assign_shard();
        stats.completed(shard, &completion(OpType::Send, 100, Status::Cancelled));
        stats.completed(shard, &completion(OpType::FastRegister, 0, Status::Success));
        stats.completed(shard, &completion(OpType::Bind, 0, Status::Success));
        stats.completed(shard, &completion(OpType::Invalidate, 0, Status::Success));
        assert_eq!(stats.snapshot(), StatsSnapshot::default());
    }

    #[test]
    fn shards_wrap_around() {
        let stats = Stats::new();
        let first = stats.assign_shard();
        for _ in 1..SHARDS {
            let _ = stats.assign_shard();
        }
        assert_eq!(stats.assign_shard(), first);
    }

    #[test]
    fn connection_gauge_follows_connects_and_never_underflows() {
        let stats = Stats::new();
        stats.connected();
        stats.accepted();
        stats.connect_failed();
        stats.disconnected(true);
        let s = stats.snapshot();
        assert_eq!(
            (
                s.connects,
                s.accepts,
                s.connect_failures,
                s.connection_errors,
                s.active_connections
            ),
            (1, 1, 1, 1, 1)
        );
        stats.disconnected(false);
        stats.disconnected(false);
        assert_eq!(stats.snapshot().active_connections, 0);
        stats.cq_error();
        assert_eq!(stats.snapshot().cq_errors, 1);
    }

    #[test]
    fn retired_snapshots_add_up_without_active_connections() {
        let stats = Stats::new();
        stats.connected();
        let shard = stats.assign_shard();
        stats.completed(shard, &completion(OpType::Send, 10, Status::Success));
        let live = stats.snapshot();
        let total = live.retired().plus(live);
        assert_eq!(total.connects, 2);
        assert_eq!(total.active_connections, 1, "only the live one is active");
        assert_eq!(total.out_octets, 20);
    }
}
