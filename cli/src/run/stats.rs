//! The run's counters: I/O latency histograms, NDK operation counts, objects created and
//! closed, close pend times, churn. One [`Tally`] per connection thread, merged at the end;
//! the [`Ledger`] of objects is shared.
//!
//! Owns arithmetic only; it never calls the provider.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use hdrhistogram::Histogram;

use super::session::Finished;
use super::smb::Command;
use super::wire::Op;
use crate::report::{ChurnSummary, IoRow, ObjectRow, OpRow, Percentiles};

/// The row of I/Os whose registration the reply's send-and-invalidate retired (seen by the
/// client as a `RECEIVE_AND_INVALIDATE` completion carrying its token).
pub const REMOTE_INVALIDATE: &str = "remote-invalidate";

/// A latency histogram in nanoseconds (1 ns … 100 s, 3 significant digits).
#[must_use]
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).unwrap_or_else(|_| {
        Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant digits are valid"))
    })
}

/// Records `d` (clamped into the histogram's range).
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    h.saturating_record(nanos.max(1));
}

/// The percentiles of `h`.
#[must_use]
pub fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    Percentiles {
        samples: h.len(),
        p50_ns: h.value_at_quantile(0.50),
        p90_ns: h.value_at_quantile(0.90),
        p99_ns: h.value_at_quantile(0.99),
        p999_ns: h.value_at_quantile(0.999),
        max_ns: h.max(),
    }
}

/// What one connection thread counted.
#[derive(Debug)]
pub struct Tally {
    /// READ latencies.
    pub reads: Histogram<u64>,
    /// WRITE latencies.
    pub writes: Histogram<u64>,
    /// Bytes of READs and WRITEs.
    pub read_bytes: u64,
    /// Bytes of WRITEs.
    pub write_bytes: u64,
    /// Successful completions and bytes per NDK operation.
    pub ops: BTreeMap<&'static str, (u64, u64)>,
    /// Churn counters.
    pub churn: ChurnSummary,
    /// Workload errors.
    pub errors: Vec<String>,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            reads: histogram(),
            writes: histogram(),
            read_bytes: 0,
            write_bytes: 0,
            ops: BTreeMap::new(),
            churn: ChurnSummary::default(),
            errors: Vec::new(),
        }
    }
}

impl Tally {
    /// Counts a finished I/O.
    pub fn finished(&mut self, f: &Finished) {
        if f.remote_invalidate {
            let e = self.ops.entry(REMOTE_INVALIDATE).or_default();
            e.0 += 1;
        }
        match f.command {
            Command::Read => {
                record(&mut self.reads, f.latency);
                self.read_bytes += u64::from(f.bytes);
            }
            Command::Write => {
                record(&mut self.writes, f.latency);
                self.write_bytes += u64::from(f.bytes);
            }
        }
    }

    /// Counts a successful completion of `op` that moved `bytes`.
    pub fn op(&mut self, op: Op, bytes: u32) {
        let e = self.ops.entry(op.name()).or_default();
        e.0 += 1;
        e.1 += u64::from(bytes);
    }

    /// Adds another tally.
    pub fn merge(&mut self, other: Self) {
        let _ = self.reads.add(&other.reads);
        let _ = self.writes.add(&other.writes);
        self.read_bytes += other.read_bytes;
        self.write_bytes += other.write_bytes;
        for (k, (n, b)) in other.ops {
            let e = self.ops.entry(k).or_default();
            e.0 += n;
            e.1 += b;
        }
        let (a, b) = (&mut self.churn, other.churn);
        a.connections_opened += b.connections_opened;
        a.connections_closed += b.connections_closed;
        a.churn_events += b.churn_events;
        a.storms += b.storms;
        a.cancelled += b.cancelled;
        self.errors.extend(other.errors);
    }

    /// The I/O rows over `elapsed`.
    #[must_use]
    pub fn io_rows(&self, elapsed: Duration) -> Vec<IoRow> {
        let secs = elapsed.as_secs_f64().max(1e-9);
        [
            ("read", &self.reads, self.read_bytes),
            ("write", &self.writes, self.write_bytes),
        ]
        .into_iter()
        .map(|(name, h, bytes)| {
            #[allow(clippy::cast_precision_loss)] // rates
            let (ops, b) = (h.len() as f64, bytes as f64);
            IoRow {
                name: name.into(),
                ops: h.len(),
                bytes,
                ops_per_second: ops / secs,
                bytes_per_second: b / secs,
                latency: percentiles(h),
            }
        })
        .collect()
    }

    /// The operation rows, in [`Op::ALL`] order, then the remote invalidations.
    #[must_use]
    pub fn op_rows(&self) -> Vec<OpRow> {
        Op::ALL
            .iter()
            .map(|op| op.name())
            .chain([REMOTE_INVALIDATE])
            .map(|name| {
                let (completed, bytes) = self.ops.get(name).copied().unwrap_or_default();
                OpRow {
                    name: name.into(),
                    completed,
                    bytes,
                }
            })
            .collect()
    }
}

/// Objects created and closed, and close pend times, shared by every thread.
#[derive(Debug)]
pub struct Ledger {
    inner: Mutex<LedgerInner>,
}

#[derive(Debug)]
struct LedgerInner {
    objects: BTreeMap<&'static str, (u64, u64)>,
    closes: u64,
    pended: u64,
    pend_time: Histogram<u64>,
}

impl Default for Ledger {
    fn default() -> Self {
        Self {
            inner: Mutex::new(LedgerInner {
                objects: BTreeMap::new(),
                closes: 0,
                pended: 0,
                pend_time: histogram(),
            }),
        }
    }
}

impl Ledger {
    fn with<R>(&self, f: impl FnOnce(&mut LedgerInner) -> R) -> R {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A `kind` object was created.
    pub fn created(&self, kind: &'static str) {
        self.with(|l| l.objects.entry(kind).or_default().0 += 1);
    }

    /// A `kind` object's close was issued; `pended` if it returned `STATUS_PENDING`.
    pub fn close_issued(&self, pended: bool) {
        self.with(|l| {
            l.closes += 1;
            l.pended += u64::from(pended);
        });
    }

    /// A `kind` object's close finished, `pend` after its `STATUS_PENDING` return.
    pub fn closed(&self, kind: &'static str, pend: Option<Duration>) {
        self.with(|l| {
            l.objects.entry(kind).or_default().1 += 1;
            if let Some(d) = pend {
                record(&mut l.pend_time, d);
            }
        });
    }

    /// Objects by kind.
    #[must_use]
    pub fn object_rows(&self) -> Vec<ObjectRow> {
        self.with(|l| {
            l.objects
                .iter()
                .map(|(k, (c, d))| ObjectRow {
                    kind: (*k).into(),
                    created: *c,
                    closed: *d,
                })
                .collect()
        })
    }

    /// Closes issued, pended, and the pend-time percentiles.
    #[must_use]
    pub fn closes(&self) -> (u64, u64, Percentiles) {
        self.with(|l| (l.closes, l.pended, percentiles(&l.pend_time)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_merge_and_rate() {
        let mut a = Tally::default();
        a.finished(&Finished {
            command: Command::Read,
            bytes: 100,
            latency: Duration::from_micros(10),
            remote_invalidate: true,
        });
        a.op(Op::Write, 100);
        assert_eq!(a.ops.get(REMOTE_INVALIDATE), Some(&(1, 0)));
        let mut b = Tally::default();
        b.finished(&Finished {
            command: Command::Read,
            bytes: 100,
            latency: Duration::from_micros(30),
            remote_invalidate: false,
        });
        b.op(Op::Write, 100);
        b.errors.push("x".into());
        a.merge(b);
        let rows = a.io_rows(Duration::from_secs(2));
        assert_eq!(rows[0].ops, 2);
        assert_eq!(rows[0].bytes, 200);
        assert!((rows[0].bytes_per_second - 100.0).abs() < 1e-9);
        assert_eq!(rows[0].latency.samples, 2);
        assert!(rows[0].latency.max_ns >= 29_000);
        let ops = a.op_rows();
        let write = ops.iter().find(|r| r.name == "rdma-write").expect("row");
        assert_eq!((write.completed, write.bytes), (2, 200));
        assert_eq!(a.errors, vec!["x".to_owned()]);
    }

    #[test]
    fn ledger_counts_objects_and_pends() {
        let l = Ledger::default();
        l.created("QP");
        l.close_issued(true);
        l.closed("QP", Some(Duration::from_micros(5)));
        l.created("CQ");
        l.close_issued(false);
        l.closed("CQ", None);
        let rows = l.object_rows();
        assert!(rows.iter().all(|r| r.created == r.closed));
        let (total, pended, p) = l.closes();
        assert_eq!((total, pended, p.samples), (2, 1, 1));
    }
}
