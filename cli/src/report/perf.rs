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
    /// Latency floor ÷ median latency. The floor is memcpy of the size plus one uncontended
    /// atomic (`same`) or plus one cache-line hand-off between the two cores (`cross`).
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

/// Cost of one kind of object at one count (`perf --objects`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ObjectCostRow {
    /// `PD`, `CQ`, `QP`, `MR (registered)`.
    pub kind: String,
    /// Objects open at once.
    pub count: u64,
    /// Mean on-CPU time of one create (all `count` created back to back; best of the rounds).
    pub create_ns: f64,
    /// Mean on-CPU time of one close call (closes that pended are waited for after the timing).
    pub close_ns: f64,
    /// Mean wall time of one create (includes time the thread waited for a core).
    pub create_wall_ns: f64,
    /// Mean wall time of one close call.
    pub close_wall_ns: f64,
    /// Live heap bytes the objects held, per object (provider and consumer wrapper).
    pub bytes_per_object: f64,
}

/// The `perf` report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PerfReport {
    /// One uncontended atomic `fetch_add`.
    pub atomic_ns: f64,
    /// One cache line moving from one core to the other (half a ping-pong round trip between
    /// the `cross` points' cores); `None` when no `cross` point ran.
    pub handoff_ns: Option<f64>,
    /// memcpy per size.
    pub baselines: Vec<Baseline>,
    /// Measured points.
    pub rows: Vec<PerfRow>,
    /// The cores the `cross` points pinned the poster and the reaper to; `None` when the
    /// threads were left to the scheduler (fewer than two cores, or pinning refused).
    pub cross_cores: Option<[usize; 2]>,
    /// `--objects`: per-object cost rows.
    pub objects: Vec<ObjectCostRow>,
    /// `--objects`: heap bytes of one CQ entry.
    pub cq_entry_bytes: Option<f64>,
    /// `--objects`: how the measured objects were configured.
    pub object_config: Option<String>,
    /// Errors (a point that could not run).
    pub errors: Vec<String>,
}

/// The `perf` table.
#[must_use]
pub fn render_perf(r: &PerfReport) -> String {
    let mut out = format!(
        "softndk perf: one uncontended atomic = {}",
        format_nanos(r.atomic_ns)
    );
    if let Some(handoff) = r.handoff_ns {
        let _ = write!(
            out,
            "; one cache line between the cross cores = {}",
            format_nanos(handoff)
        );
    }
    out.push_str("\n\n");
    if r.rows.is_empty() && r.baselines.is_empty() {
        render_objects(&mut out, r);
        for e in &r.errors {
            let _ = writeln!(out, "error: {e}");
        }
        return out;
    }
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
    match r.cross_cores {
        Some([poster, reaper]) => {
            let _ = writeln!(
                out,
                "cross: poster pinned to core {poster}, reaper to core {reaper}"
            );
        }
        None if r.rows.iter().any(|row| row.placement == "cross") => {
            let _ = writeln!(
                out,
                "cross: threads not pinned (placement left to the scheduler)"
            );
        }
        None => {}
    }
    render_objects(&mut out, r);
    for e in &r.errors {
        let _ = writeln!(out, "error: {e}");
    }
    out
}

/// The `--objects` table; a ratio column shows how per-object time grows with the count
/// (1.00 = the smallest count's time: linear total growth).
fn render_objects(out: &mut String, r: &PerfReport) {
    if r.objects.is_empty() {
        return;
    }
    let mut t = table(&[
        "object",
        "open at once",
        "create (CPU)",
        "close (CPU)",
        "vs fewest",
        "create (wall)",
        "close (wall)",
        "bytes/object",
    ]);
    for row in &r.objects {
        let fewest = r
            .objects
            .iter()
            .filter(|o| o.kind == row.kind)
            .min_by_key(|o| o.count)
            .map_or(row.create_ns + row.close_ns, |o| o.create_ns + o.close_ns);
        t.add_row(vec![
            row.kind.clone(),
            row.count.to_string(),
            format_nanos(row.create_ns),
            format_nanos(row.close_ns),
            format!("{:.2}", (row.create_ns + row.close_ns) / fewest.max(1e-9)),
            format_nanos(row.create_wall_ns),
            format_nanos(row.close_wall_ns),
            format!("{:.0}", row.bytes_per_object),
        ]);
    }
    let _ = writeln!(out, "\n{t}");
    if let Some(config) = &r.object_config {
        let _ = writeln!(out, "{config}");
    }
    if let Some(b) = r.cq_entry_bytes {
        let _ = writeln!(out, "one CQ entry: {b:.1} bytes");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perf_table_shows_ratios() {
        let r = PerfReport {
            atomic_ns: 2.3,
            handoff_ns: Some(61.0),
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
            cross_cores: None,
            objects: vec![],
            cq_entry_bytes: None,
            object_config: None,
            errors: vec![],
        };
        let text = render_perf(&r);
        assert!(text.contains("2.3 ns") && text.contains("58.00 GB/s") && text.contains("0.07"));
        assert!(
            text.contains("one cache line between the cross cores = 61"),
            "{text}"
        );
        assert!(
            !text.contains("cross:"),
            "no cross point, no placement line"
        );
    }
}

#[cfg(test)]
mod object_tests {
    use super::*;

    fn cost(kind: &str, count: u64, create_ns: f64, close_ns: f64) -> ObjectCostRow {
        ObjectCostRow {
            kind: kind.into(),
            count,
            create_ns,
            close_ns,
            create_wall_ns: 2.0 * create_ns,
            close_wall_ns: 2.0 * close_ns,
            bytes_per_object: 1234.0,
        }
    }

    #[test]
    fn object_rows_compare_with_the_fewest_of_their_kind() {
        let r = PerfReport {
            atomic_ns: 2.0,
            handoff_ns: None,
            baselines: vec![],
            rows: vec![],
            cross_cores: Some([0, 1]),
            objects: vec![
                cost("QP", 1000, 300.0, 100.0),
                cost("QP", 100_000, 600.0, 200.0),
                cost("PD", 1000, 50.0, 50.0),
            ],
            cq_entry_bytes: Some(48.0),
            object_config: Some("QPs 16 deep".into()),
            errors: vec![],
        };
        let text = render_perf(&r);
        assert!(
            text.contains("2.00"),
            "QP at 100k took twice the time per object:\n{text}"
        );
        assert!(text.contains("1234"), "{text}");
        assert!(text.contains("one CQ entry: 48.0 bytes"), "{text}");
        assert!(text.contains("QPs 16 deep"), "{text}");
        assert!(
            !text.contains("memcpy"),
            "an object sweep has no matrix tables:\n{text}"
        );
    }
}
