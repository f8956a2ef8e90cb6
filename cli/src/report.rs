//! What the commands print: the report structures (serialised as-is for `--json`) and their
//! tables.
//!
//! Owns presentation only; the figures come from `run::stats` and `perf`. Never prints
//! anything itself: callers decide between [`render_run`]/[`render_perf`] and JSON.

use std::fmt::Write as _;

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;

use crate::units::{format_bandwidth, format_nanos, format_rate, format_size};

/// Latency percentiles in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Percentiles {
    /// Samples.
    pub samples: u64,
    /// Median.
    pub p50_ns: u64,
    /// 90th percentile.
    pub p90_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile.
    pub p999_ns: u64,
    /// Largest sample.
    pub max_ns: u64,
}

/// One kind of SMB I/O (READ or WRITE).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IoRow {
    /// `read` or `write`.
    pub name: String,
    /// Completed I/Os.
    pub ops: u64,
    /// Bytes moved by their RDMA transfers.
    pub bytes: u64,
    /// I/Os per second.
    pub ops_per_second: f64,
    /// Bytes per second.
    pub bytes_per_second: f64,
    /// End-to-end latency (fast registration to invalidation).
    pub latency: Percentiles,
}

/// One NDK operation kind, counted at completion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpRow {
    /// Operation name.
    pub name: String,
    /// Successful completions.
    pub completed: u64,
    /// Bytes (RDMA transfers and messages).
    pub bytes: u64,
}

/// Objects of one kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ObjectRow {
    /// NDK object kind.
    pub kind: String,
    /// Creates that succeeded.
    pub created: u64,
    /// Closes that finished (inline or through their completion).
    pub closed: u64,
}

/// How closes went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CloseSummary {
    /// Every close issued (adapters excluded).
    pub total: u64,
    /// Closes that returned `STATUS_PENDING`.
    pub pended: u64,
    /// From the `STATUS_PENDING` return until the closer saw the completion.
    pub pend_time: Percentiles,
}

/// Connection churn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ChurnSummary {
    /// Connections established (negotiated).
    pub connections_opened: u64,
    /// Connections torn down.
    pub connections_closed: u64,
    /// Teardowns by a churn event (drained first).
    pub churn_events: u64,
    /// Close storms (every connection closed at once without draining).
    pub storms: u64,
    /// Requests completed `STATUS_CANCELLED` by those teardowns.
    pub cancelled: u64,
}

/// What the verifier saw.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VerifierSummary {
    /// Whether the verifier sat between the workload and the provider. When `false`, the
    /// counters below are zero because nothing was checked, not because nothing was wrong.
    pub interposed: bool,
    /// Why it was not interposed.
    pub not_interposed_because: Option<String>,
    /// Broken NDK rules (must be 0).
    pub violations: u64,
    /// Provider calls checked.
    pub calls: u64,
    /// Callbacks checked.
    pub callbacks: u64,
    /// Rule checks made.
    pub checks: u64,
    /// Objects still open after the adapters closed (leaks).
    pub open_objects: u64,
    /// The verifier's report when there were violations.
    pub report: Option<String>,
}

/// The `run` report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunReport {
    /// Seed of the run (rerun with `--seed` to repeat its choices).
    pub seed: u64,
    /// Connections, I/O size, outstanding, credits, churn and storm means.
    pub config: serde_json::Value,
    /// Traffic time in seconds.
    pub elapsed_seconds: f64,
    /// READ and WRITE.
    pub io: Vec<IoRow>,
    /// NDK operations.
    pub operations: Vec<OpRow>,
    /// Objects created and closed by kind.
    pub objects: Vec<ObjectRow>,
    /// Closes.
    pub closes: CloseSummary,
    /// Churn.
    pub churn: ChurnSummary,
    /// Verifier.
    pub verifier: VerifierSummary,
    /// Workload errors (failed completions outside teardown, corrupted data, refused posts).
    pub errors: Vec<String>,
    /// No violation, no error, every object closed.
    pub ok: bool,
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header.iter().map(|h| Cell::new(*h)));
    for i in 1..header.len() {
        if let Some(col) = t.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

#[allow(clippy::cast_precision_loss)] // display
fn pct(p: &Percentiles) -> [String; 4] {
    [p.p50_ns, p.p99_ns, p.p999_ns, p.max_ns].map(|v| format_nanos(v as f64))
}

/// The `run` tables.
#[must_use]
pub fn render_run(r: &RunReport) -> String {
    let mut out = format!(
        "softndk run: {:.1} s, seed {}, {}\n\n",
        r.elapsed_seconds, r.seed, r.config
    );
    let mut t = table(&[
        "I/O",
        "ops",
        "ops/s",
        "bandwidth",
        "p50",
        "p99",
        "p99.9",
        "max",
    ]);
    for row in &r.io {
        let [p50, p99, p999, max] = pct(&row.latency);
        t.add_row(vec![
            row.name.clone(),
            row.ops.to_string(),
            format_rate(row.ops_per_second),
            format_bandwidth(row.bytes_per_second),
            p50,
            p99,
            p999,
            max,
        ]);
    }
    let _ = write!(out, "{t}\n\n");
    let mut t = table(&["NDK operation", "completed", "bytes"]);
    for row in &r.operations {
        t.add_row(vec![
            row.name.clone(),
            row.completed.to_string(),
            format_size(row.bytes),
        ]);
    }
    let _ = write!(out, "{t}\n\n");
    let mut t = table(&["object", "created", "closed"]);
    for row in &r.objects {
        t.add_row(vec![
            row.kind.clone(),
            row.created.to_string(),
            row.closed.to_string(),
        ]);
    }
    let _ = write!(out, "{t}\n\n");
    let [p50, p99, _, max] = pct(&r.closes.pend_time);
    let c = &r.churn;
    let _ = write!(
        out,
        "closes: {} issued, {} pended (p50 {p50}, p99 {p99}, max {max})\n\
         connections: {} opened, {} closed; {} churn events, {} close storms, {} requests cancelled\n\
         ",
        r.closes.total,
        r.closes.pended,
        c.connections_opened,
        c.connections_closed,
        c.churn_events,
        c.storms,
        c.cancelled,
    );
    let v = &r.verifier;
    if v.interposed {
        let _ = writeln!(
            out,
            "verifier: {} violations ({} calls, {} callbacks, {} checks, {} objects left open)",
            v.violations, v.calls, v.callbacks, v.checks, v.open_objects
        );
    } else {
        let _ = writeln!(
            out,
            "verifier: NOT interposed ({}); nothing was checked",
            v.not_interposed_because.as_deref().unwrap_or("unknown")
        );
    }
    if let Some(report) = &r.verifier.report {
        out.push_str(report);
        out.push('\n');
    }
    for e in &r.errors {
        let _ = writeln!(out, "error: {e}");
    }
    out.push_str(if r.ok {
        "result: OK\n"
    } else {
        "result: FAILED\n"
    });
    out
}

/// One measured perf point.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PerfRow {
    /// `write`, `read` or `send`.
    pub op: String,
    /// Message size.
    pub size: u64,
    /// Requests in flight per QP.
    pub depth: u32,
    /// QPs.
    pub qps: u32,
    /// `same` or `cross`.
    pub placement: String,
    /// Completed operations per second.
    pub ops_per_second: f64,
    /// Payload bytes per second.
    pub bytes_per_second: f64,
    /// Bandwidth ÷ memcpy bandwidth of the same size on the same buffers.
    pub bandwidth_ratio: f64,
    /// Mean time per operation.
    pub ns_per_op: f64,
    /// Post-to-completion latency (depth-1 points; otherwise includes queueing).
    pub latency: Percentiles,
    /// Latency floor (memcpy of the size + one uncontended atomic) ÷ median latency.
    pub latency_ratio: f64,
}

/// A physical limit measured in the same run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Baseline {
    /// Size.
    pub size: u64,
    /// memcpy time per copy.
    pub memcpy_ns: f64,
    /// memcpy bandwidth.
    pub memcpy_bytes_per_second: f64,
}

/// The `perf` report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PerfReport {
    /// One uncontended atomic `fetch_add`.
    pub atomic_ns: f64,
    /// memcpy per size.
    pub baselines: Vec<Baseline>,
    /// Measured points.
    pub rows: Vec<PerfRow>,
    /// Errors (a point that could not run).
    pub errors: Vec<String>,
}

/// The `perf` table.
#[must_use]
pub fn render_perf(r: &PerfReport) -> String {
    let mut out = format!(
        "softndk perf: one uncontended atomic = {}\n\n",
        format_nanos(r.atomic_ns)
    );
    let mut t = table(&["size", "memcpy", "memcpy bw"]);
    for b in &r.baselines {
        t.add_row(vec![
            format_size(b.size),
            format_nanos(b.memcpy_ns),
            format_bandwidth(b.memcpy_bytes_per_second),
        ]);
    }
    let _ = write!(out, "{t}\n\n");
    let mut t = table(&[
        "op",
        "size",
        "depth",
        "QPs",
        "cores",
        "ops/s",
        "bandwidth",
        "×memcpy",
        "p50 lat",
        "floor/p50",
    ]);
    #[allow(clippy::cast_precision_loss)] // display
    for row in &r.rows {
        t.add_row(vec![
            row.op.clone(),
            format_size(row.size),
            row.depth.to_string(),
            row.qps.to_string(),
            row.placement.clone(),
            format_rate(row.ops_per_second),
            format_bandwidth(row.bytes_per_second),
            format!("{:.2}", row.bandwidth_ratio),
            format_nanos(row.latency.p50_ns as f64),
            format!("{:.2}", row.latency_ratio),
        ]);
    }
    let _ = writeln!(out, "{t}");
    for e in &r.errors {
        let _ = writeln!(out, "error: {e}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RunReport {
        RunReport {
            seed: 7,
            config: serde_json::json!({"connections": 2}),
            elapsed_seconds: 1.0,
            io: vec![IoRow {
                name: "read".into(),
                ops: 10,
                bytes: 10 << 20,
                ops_per_second: 10.0,
                bytes_per_second: 10.0 * 1_048_576.0,
                latency: Percentiles {
                    samples: 10,
                    p50_ns: 1500,
                    p90_ns: 2000,
                    p99_ns: 3000,
                    p999_ns: 3000,
                    max_ns: 3000,
                },
            }],
            operations: vec![OpRow {
                name: "rdma-write".into(),
                completed: 10,
                bytes: 10 << 20,
            }],
            objects: vec![ObjectRow {
                kind: "QP".into(),
                created: 4,
                closed: 4,
            }],
            closes: CloseSummary {
                total: 20,
                pended: 3,
                pend_time: Percentiles::default(),
            },
            churn: ChurnSummary::default(),
            verifier: VerifierSummary {
                interposed: true,
                ..VerifierSummary::default()
            },
            errors: vec![],
            ok: true,
        }
    }

    #[test]
    fn run_table_shows_every_section() {
        let text = render_run(&sample());
        for needle in [
            "read",
            "1.50 µs",
            "10.5 MB/s",
            "10 MiB",
            "rdma-write",
            "QP",
            "20 issued, 3 pended",
            "0 violations",
            "result: OK",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        let blind = RunReport {
            verifier: VerifierSummary {
                interposed: false,
                not_interposed_because: Some("no shadow".into()),
                ..VerifierSummary::default()
            },
            ..sample()
        };
        let text = render_run(&blind);
        assert!(text.contains("NOT interposed (no shadow)"), "{text}");
        assert!(!text.contains("0 violations"), "{text}");
        let failed = RunReport {
            ok: false,
            errors: vec!["boom".into()],
            ..sample()
        };
        let text = render_run(&failed);
        assert!(text.contains("error: boom") && text.contains("result: FAILED"));
    }

    #[test]
    fn run_json_has_the_documented_fields() {
        let v = serde_json::to_value(sample()).expect("serialises");
        assert_eq!(v["seed"], 7);
        assert_eq!(v["io"][0]["latency"]["p50_ns"], 1500);
        assert_eq!(v["objects"][0]["created"], v["objects"][0]["closed"]);
        assert_eq!(v["verifier"]["violations"], 0);
        assert_eq!(v["ok"], true);
    }

    #[test]
    fn perf_table_shows_ratios() {
        let r = PerfReport {
            atomic_ns: 2.3,
            baselines: vec![Baseline {
                size: 4096,
                memcpy_ns: 70.0,
                memcpy_bytes_per_second: 58e9,
            }],
            rows: vec![PerfRow {
                op: "write".into(),
                size: 4096,
                depth: 1,
                qps: 1,
                placement: "same".into(),
                ops_per_second: 1e6,
                bytes_per_second: 4.096e9,
                bandwidth_ratio: 0.07,
                ns_per_op: 1000.0,
                latency: Percentiles::default(),
                latency_ratio: 0.07,
            }],
            errors: vec![],
        };
        let text = render_perf(&r);
        assert!(text.contains("2.3 ns") && text.contains("58.00 GB/s") && text.contains("0.07"));
    }
}
