//! Statistics one adapter instance keeps for `OID_NDK_STATISTICS`: RDMA traffic seen by its
//! CQs, CQ errors, and the connection counts the connection manager reports.
//!
//! Owns the adapter-wide counters, the registry of the adapter's CQs and the snapshot. Traffic
//! is counted where a completion enters a CQ ([`Cq::push`](super::Cq::push)) in that CQ's
//! [`Traffic`]: plain integers behind the CQ lock that `push` holds anyway, so the data path
//! pays no atomic for statistics. Each CQ registers in the adapter's [`Stats`] at creation; a
//! reader sums the counters of the registered CQs plus what closed CQs left behind, and a CQ's
//! finaliser moves its counters into that "retired" total and leaves the registry in one step
//! under the registry lock, so a count is never lost or seen twice. The result is not a
//! consistent cut across CQs (no NDIS statistic is), but no counter ever goes backwards.
//!
//! SoftNDK has no wire, so a "frame" is one message: a send, a receive, an RDMA read or an
//! RDMA write, counted at its completion with its byte count. Incoming traffic is what
//! completes on this adapter as a receive or a read; outgoing is a send or a write. The target
//! side of an RDMA read or write has no completion and is not counted.
//!
//! Must never: be touched per completion outside the CQ lock, allocate anywhere but CQ
//! registration, hold the registry lock while calling anything but a CQ's counter read, or be
//! read for anything but statistics.
#![deny(unsafe_code)]

use alloc::sync::Weak;

use crate::engine::{Completion, OpType};
use crate::lifetime::{Key, Table};
use crate::platform::SpinLock;
use crate::platform::prelude::*;
use crate::sync::{AtomicU64, Ordering};

use super::{Cq, lock_order};

/// Whether the connection counters (`connects` … `active_connections`) are maintained.
///
/// They are: the connection manager counts each side's outcome on its adapter
/// (`cm::CmOutcome`, through `CmAdapter::count`) when the side's phase changes: reaching
/// `Connected` ([`Stats::connected`] active, [`Stats::accepted`] passive), leaving the
/// established phases ([`Stats::disconnected`], an error when aborted by a timeout), and an
/// active attempt ending rejected or aborted ([`Stats::connect_failed`]).
pub const CONNECTIONS_COUNTED: bool = true;

/// The traffic counters of one CQ (or a sum of them). Plain integers: a CQ keeps its own behind
/// its lock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Bytes of successful receive and read completions.
    pub in_octets: u64,
    /// Successful receive and read completions.
    pub in_messages: u64,
    /// Bytes of successful send and write completions.
    pub out_octets: u64,
    /// Successful send and write completions.
    pub out_messages: u64,
}

impl Traffic {
    /// Counts a completion. Failures and memory operations carry no traffic and are not
    /// counted.
    pub fn count(&mut self, completion: &Completion) {
        if !completion.status.is_success() {
            return;
        }
        let bytes = u64::from(completion.bytes);
        let (octets, messages) = match completion.op {
            OpType::Receive | OpType::ReceiveAndInvalidate | OpType::Read => {
                (&mut self.in_octets, &mut self.in_messages)
            }
            OpType::Send | OpType::Write => (&mut self.out_octets, &mut self.out_messages),
            OpType::FastRegister | OpType::Bind | OpType::Invalidate => return,
        };
        *octets = octets.wrapping_add(bytes);
        *messages = messages.wrapping_add(1);
    }

    /// The field-wise sum (wrapping, as 64-bit NDIS counters do).
    #[must_use]
    pub const fn plus(self, other: Self) -> Self {
        Self {
            in_octets: self.in_octets.wrapping_add(other.in_octets),
            in_messages: self.in_messages.wrapping_add(other.in_messages),
            out_octets: self.out_octets.wrapping_add(other.out_octets),
            out_messages: self.out_messages.wrapping_add(other.out_messages),
        }
    }
}

/// The adapter's CQs and what closed ones counted, behind [`lock_order::STATS`].
#[derive(Debug)]
struct CqRegistry {
    live: Table<Weak<Cq>>,
    retired: Traffic,
}

/// A CQ's place in its adapter's statistics registry (given at the CQ's creation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CqSlot(Key);

/// The live statistics of one adapter instance.
#[derive(Debug)]
pub struct Stats {
    cqs: SpinLock<CqRegistry>,
    cq_errors: AtomicU64,
    connects: AtomicU64,
    accepts: AtomicU64,
    connect_failures: AtomicU64,
    connection_errors: AtomicU64,
    active_connections: AtomicU64,
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

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
    /// All zero, no CQ registered.
    #[must_use]
    pub fn new() -> Self {
        Self {
            cqs: SpinLock::new(
                lock_order::STATS,
                CqRegistry {
                    live: Table::new(),
                    retired: Traffic::default(),
                },
            ),
            cq_errors: AtomicU64::new(0),
            connects: AtomicU64::new(0),
            accepts: AtomicU64::new(0),
            connect_failures: AtomicU64::new(0),
            connection_errors: AtomicU64::new(0),
            active_connections: AtomicU64::new(0),
        }
    }

    /// Registers a new CQ (from its constructor) so that readers include its [`Traffic`].
    /// `None` when the registry cannot grow (the CQ create fails).
    pub(super) fn register_cq(&self, cq: Weak<Cq>) -> Option<CqSlot> {
        self.cqs.lock().live.insert(cq).ok().map(CqSlot)
    }

    /// A CQ's finaliser: leaves the registry and adds its final counts (read by `traffic`,
    /// which takes the CQ lock: [`lock_order::STATS`] comes before [`lock_order::CQ`]) to the
    /// retired total, in one step under the registry lock.
    pub(super) fn retire_cq(&self, slot: CqSlot, traffic: impl FnOnce() -> Traffic) {
        let mut cqs = self.cqs.lock();
        let gone = cqs.live.remove(slot.0);
        cqs.retired = cqs.retired.plus(traffic());
        drop(cqs);
        // The `Weak` is freed outside the lock.
        drop(gone);
    }

    /// Counts a CQ overrun (once per CQ, not on the data path).
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

    /// The traffic of every CQ of the adapter, open or closed. Holds the registry lock while it
    /// takes each open CQ's lock in turn (a few instructions each); a CQ being finalised is
    /// either still registered (its finaliser waits for this lock) or already retired.
    #[must_use]
    pub fn traffic(&self) -> Traffic {
        let cqs = self.cqs.lock();
        cqs.live.iter().fold(cqs.retired, |sum, (_, cq)| {
            // A registered CQ that can no longer be upgraded was never finalised (a failed
            // create) and counted nothing. One that can is not released here: its finaliser,
            // which holds an `Arc` until it retired the CQ, is waiting for this lock.
            cq.upgrade().map_or(sum, |cq| sum.plus(cq.traffic()))
        })
    }

    /// The current values.
    #[must_use]
    pub fn snapshot(&self) -> StatsSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let traffic = self.traffic();
        StatsSnapshot {
            connects: load(&self.connects),
            accepts: load(&self.accepts),
            connect_failures: load(&self.connect_failures),
            connection_errors: load(&self.connection_errors),
            active_connections: load(&self.active_connections),
            cq_errors: load(&self.cq_errors),
            in_octets: traffic.in_octets,
            in_messages: traffic.in_messages,
            out_octets: traffic.out_octets,
            out_messages: traffic.out_messages,
        }
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
    fn traffic_is_split_by_direction() {
        let mut t = Traffic::default();
        t.count(&completion(OpType::Send, 100, Status::Success));
        t.count(&completion(OpType::Write, 50, Status::Success));
        t.count(&completion(OpType::Receive, 7, Status::Success));
        t.count(&completion(
            OpType::ReceiveAndInvalidate,
            3,
            Status::Success,
        ));
        t.count(&completion(OpType::Read, 4096, Status::Success));
        assert_eq!((t.out_octets, t.out_messages), (150, 2));
        assert_eq!((t.in_octets, t.in_messages), (7 + 3 + 4096, 3));
        let twice = t.plus(t);
        assert_eq!((twice.in_octets, twice.out_messages), (2 * 4106, 4));
    }

    #[test]
    fn failures_and_memory_operations_carry_no_traffic() {
        let mut t = Traffic::default();
        t.count(&completion(OpType::Send, 100, Status::Cancelled));
        t.count(&completion(OpType::FastRegister, 0, Status::Success));
        t.count(&completion(OpType::Bind, 0, Status::Success));
        t.count(&completion(OpType::Invalidate, 0, Status::Success));
        assert_eq!(t, Traffic::default());
    }

    #[test]
    fn counters_wrap_like_ndis_counters() {
        let mut t = Traffic {
            out_octets: u64::MAX,
            ..Traffic::default()
        };
        t.count(&completion(OpType::Send, 2, Status::Success));
        assert_eq!((t.out_octets, t.out_messages), (1, 1));
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
        let live = StatsSnapshot {
            out_octets: 10,
            ..stats.snapshot()
        };
        let total = live.retired().plus(live);
        assert_eq!(total.connects, 2);
        assert_eq!(total.active_connections, 1, "only the live one is active");
        assert_eq!(total.out_octets, 20);
    }
}
