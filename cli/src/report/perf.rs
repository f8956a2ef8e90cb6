//! The `perf` report: its structures (serialised as-is for `--json`) and its table.

use std::fmt::Write as _;

use serde::Serialize;

use super::{Percentiles, table};
use crate::units::{format_bandwidth, format_nanos, format_rate, format_size};

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
