//! The `run` report: its structures (serialised as-is for `--json`) and its tables.

use std::fmt::Write as _;

use serde::Serialize;

use super::{Percentiles, pct, table};
use crate::units::{format_bandwidth, format_rate, format_size};

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

/// The first lines of the `run` report: what ran.
fn run_header(r: &RunReport) -> String {
    let c = &r.config;
    let seconds = |key: &str| {
        c[key]
            .as_f64()
            .map_or_else(|| "off".to_owned(), |s| format!("{s} s"))
    };
    format!(
        "softndk run: {:.1} s, seed {}: {} connections, {} I/Os, {} outstanding, {} credits, \
         churn mean {}, storm mean {}, connections by {}\n\n",
        r.elapsed_seconds,
        r.seed,
        c["connections"],
        c["io_size"]
            .as_u64()
            .map_or_else(|| "?".into(), format_size),
        c["outstanding"],
        c["credits"],
        seconds("churn_mean_seconds"),
        seconds("storm_mean_seconds"),
        c["connections_via"].as_str().unwrap_or("?"),
    )
}

/// The `run` tables.
#[must_use]
pub fn render_run(r: &RunReport) -> String {
    let mut out = run_header(r);
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
         connections: {} negotiated, {} torn down (incl. those ended before negotiating); {} churn events, {} close storms, {} requests cancelled\n\
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RunReport {
        RunReport {
            seed: 7,
            config: serde_json::json!({
                "connections": 2,
                "io_size": 1_048_576,
                "outstanding": 8,
                "credits": 32,
                "churn_mean_seconds": 0.3,
                "storm_mean_seconds": null,
                "connections_via": "NdkConnect/NdkListen/NdkAccept",
            }),
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
            "seed 7: 2 connections, 1 MiB I/Os, 8 outstanding, 32 credits",
            "churn mean 0.3 s, storm mean off",
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
}
