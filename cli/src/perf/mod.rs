//! `softndk perf`: write, read and send bandwidth and latency over message sizes, queue depths,
//! QP counts and placements, each next to its physical limit measured in the same run (memcpy
//! of the same size into the same buffer; one uncontended atomic).
//!
//! Owns the matrix and the figures; must never print a ratio without its baseline.

pub mod alloc;
mod baseline;
mod bench;
mod objects;
mod pair;

use std::time::Duration;

use crate::args::{PerfArgs, Placement};
use crate::report::{self, Baseline, PerfReport, PerfRow};
use crate::run::percentiles;
use bench::Point;
use pair::Pair;
use softndk::consumer::Buffer;

/// Runs the measurements and prints the report; `true` when every point ran.
pub fn main(args: &PerfArgs) -> bool {
    let report = perf(args);
    if args.output.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report)
                .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
        );
    } else {
        print!("{}", report::render_perf(&report));
    }
    report.errors.is_empty()
}

fn perf(args: &PerfArgs) -> PerfReport {
    if !args.objects.is_empty() {
        return object_sweep(&args.objects);
    }
    let time = if args.quick {
        Duration::from_millis(20)
    } else {
        args.time
    };
    let max_size = args.sizes.iter().copied().max().unwrap_or(64);
    let max_depth = args.depths.iter().copied().max().unwrap_or(1);
    let max_qps = args.qps.iter().copied().max().unwrap_or(1) as usize;
    let mut report = empty_report(baseline::atomic_ns(time));
    let fabric = match crate::run::Fabric::open(1, 0x5EED, false, false, false) {
        Ok(f) => f,
        Err(e) => {
            report.errors.push(e);
            return report;
        }
    };
    let mut pairs = Vec::new();
    for _ in 0..max_qps {
        match Pair::new(
            &fabric.adapters,
            usize::try_from(max_size).unwrap_or(usize::MAX),
            max_depth,
        ) {
            Ok(p) => pairs.push(p),
            Err(e) => {
                // A half-built pair would keep the adapter close waiting: report and stop.
                report.errors.push(e);
                return report;
            }
        }
    }
    measure_baselines(&mut report, &pairs[0].target.buf, &args.sizes, time);
    let points = matrix(args);
    let cross = points.iter().any(|p| p.placement == Placement::Cross);
    if cross {
        if !args.no_pin {
            report.cross_cores = bench::pin_main_thread();
        }
        report.handoff_ns = Some(baseline::handoff_ns(time, report.cross_cores));
    }
    let bar = crate::progress::bar(args.output, points.len() as u64, "perf");
    let mut receives = vec![0u32; pairs.len()];
    for p in points {
        bar.inc(1);
        if p.op == crate::args::PerfOp::Send {
            for (pair, posted) in pairs.iter().zip(&mut receives) {
                if let Err(e) = bench::prime_receives(pair, max_depth, posted) {
                    report.errors.push(e);
                }
            }
        }
        match bench::measure(&pairs, p, time, report.cross_cores) {
            Ok(m) => report.rows.push(row(&report, p, &m)),
            Err(e) => report.errors.push(format!("{p:?}: {e}")),
        }
    }
    bar.finish_and_clear();
    // Measured again after the points: a limit is the best the machine showed, so a load spike
    // during the first measurement cannot make a figure look better than it is.
    measure_baselines(&mut report, &pairs[0].target.buf, &args.sizes, time);
    if let Some(first) = report.handoff_ns {
        report.handoff_ns = Some(first.min(baseline::handoff_ns(time, report.cross_cores)));
    }
    let rows = std::mem::take(&mut report.rows);
    report.rows = rows.into_iter().map(|r| rescale(&report, r)).collect();
    for pair in pairs {
        report.errors.extend(pair.close());
    }
    if report.errors.is_empty() {
        // `perf` runs without the verifier (it measures the provider alone): nothing to read.
        let _ = fabric.close();
    }
    report
}

const fn empty_report(atomic_ns: f64) -> PerfReport {
    PerfReport {
        atomic_ns,
        handoff_ns: None,
        baselines: Vec::new(),
        rows: Vec::new(),
        cross_cores: None,
        objects: Vec::new(),
        cq_entry_bytes: None,
        object_config: None,
        errors: Vec::new(),
    }
}

/// `--objects`: the object sweep on adapter 0 instead of the matrix.
fn object_sweep(counts: &[u64]) -> PerfReport {
    let mut report = empty_report(baseline::atomic_ns(Duration::from_millis(20)));
    let fabric = match crate::run::Fabric::open(1, 0x5EED, false, false, false) {
        Ok(f) => f,
        Err(e) => {
            report.errors.push(e);
            return report;
        }
    };
    let adapter = &fabric.adapters[0];
    match objects::cq_entry_bytes(adapter) {
        Ok(b) => report.cq_entry_bytes = Some(b),
        Err(e) => report.errors.push(e),
    }
    match objects::measure(adapter, counts) {
        Ok(rows) => report.objects = rows,
        Err(e) => report.errors.push(e),
    }
    let q = objects::QP_LIMITS;
    report.object_config = Some(format!(
        "QPs: {}-deep initiator and receive queues, {} SGE, {} inline bytes, one shared PD and \
         CQ; CQs: {} deep; MRs: registered over one shared 4 KiB buffer. Bytes: the process's \
         live heap bytes per object (provider state and the consumer wrapper).",
        q.initiator_depth,
        q.max_initiator_sge,
        q.inline_data_size,
        objects::CQ_DEPTH
    ));
    if report.errors.is_empty() {
        let _ = fabric.close();
    }
    report
}

/// Measures memcpy for every size into `dst`, keeping the faster of this and any earlier
/// measurement; the atomic likewise.
fn measure_baselines(report: &mut PerfReport, dst: &Buffer, sizes: &[u64], time: Duration) {
    report.atomic_ns = report.atomic_ns.min(baseline::atomic_ns(time));
    for &size in sizes {
        let ns = baseline::memcpy_ns(dst, usize::try_from(size).unwrap_or(0), time);
        #[allow(clippy::cast_precision_loss)] // rates
        let fresh = Baseline {
            size,
            memcpy_ns: ns,
            memcpy_bytes_per_second: size as f64 / ns * 1e9,
        };
        match report.baselines.iter_mut().find(|b| b.size == size) {
            Some(b) if b.memcpy_ns > ns => *b = fresh,
            Some(_) => {}
            None => report.baselines.push(fresh),
        }
    }
}

/// Recomputes a row's ratios against the final baselines.
#[allow(clippy::cast_precision_loss)] // ratios
fn rescale(report: &PerfReport, mut r: PerfRow) -> PerfRow {
    let memcpy = report.baselines.iter().find(|b| b.size == r.size).copied();
    r.bandwidth_ratio = memcpy.map_or(0.0, |b| r.bytes_per_second / b.memcpy_bytes_per_second);
    // Same core: the copy and one atomic (the completion's publication). Cross-core: the copy
    // and the completion's cache line reaching the other core.
    let publish = match (r.placement.as_str(), report.handoff_ns) {
        ("cross", Some(handoff)) => handoff,
        _ => report.atomic_ns,
    };
    let floor = memcpy.map_or(0.0, |b| b.memcpy_ns) + publish;
    r.latency_ratio = if r.latency.p50_ns == 0 {
        0.0
    } else {
        floor / r.latency.p50_ns as f64
    };
    r
}

fn matrix(args: &PerfArgs) -> Vec<Point> {
    let (depths, qps): (Vec<u32>, Vec<u32>) = if args.quick {
        (vec![1], vec![1])
    } else {
        (args.depths.clone(), args.qps.clone())
    };
    let mut out = Vec::new();
    for &op in &args.ops {
        for &size in &args.sizes {
            for &depth in &depths {
                for &q in &qps {
                    for &placement in &args.placement {
                        out.push(Point {
                            op,
                            size: u32::try_from(size).unwrap_or(u32::MAX),
                            depth,
                            qps: q as usize,
                            placement,
                        });
                    }
                }
            }
        }
    }
    out
}

#[allow(clippy::cast_precision_loss)] // rates
fn row(report: &PerfReport, p: Point, m: &bench::Measured) -> PerfRow {
    let secs = m.elapsed.as_secs_f64().max(1e-9);
    let ops_per_second = m.ops as f64 / secs;
    let row = PerfRow {
        op: format!("{:?}", p.op).to_lowercase(),
        size: u64::from(p.size),
        depth: p.depth,
        qps: u32::try_from(p.qps).unwrap_or(u32::MAX),
        placement: match p.placement {
            Placement::Same => "same".into(),
            Placement::Cross => "cross".into(),
        },
        ops_per_second,
        bytes_per_second: ops_per_second * f64::from(p.size),
        bandwidth_ratio: 0.0,
        ns_per_op: if m.ops == 0 {
            0.0
        } else {
            secs * 1e9 / m.ops as f64
        },
        latency: percentiles(&m.latency),
        latency_ratio: 0.0,
    };
    rescale(report, row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Percentiles;

    fn measured(placement: &str, p50_ns: u64) -> PerfRow {
        PerfRow {
            op: "write".into(),
            size: 64,
            depth: 1,
            qps: 1,
            placement: placement.into(),
            ops_per_second: 1e6,
            bytes_per_second: 64e6,
            bandwidth_ratio: 0.0,
            ns_per_op: 1000.0,
            latency: Percentiles {
                p50_ns,
                ..Percentiles::default()
            },
            latency_ratio: 0.0,
        }
    }

    #[test]
    fn cross_rows_are_held_to_the_handoff_and_same_rows_to_the_atomic() {
        let mut report = empty_report(2.0);
        report.handoff_ns = Some(48.0);
        report.baselines.push(Baseline {
            size: 64,
            memcpy_ns: 2.0,
            memcpy_bytes_per_second: 32e9,
        });
        let same = rescale(&report, measured("same", 400));
        let cross = rescale(&report, measured("cross", 500));
        assert!((same.latency_ratio - 4.0 / 400.0).abs() < 1e-12);
        assert!((cross.latency_ratio - 50.0 / 500.0).abs() < 1e-12);
        assert!((same.bandwidth_ratio - 64e6 / 32e9).abs() < 1e-12);
        // No cross point ran: no hand-off, and a stray cross row falls back to the atomic.
        report.handoff_ns = None;
        let cross = rescale(&report, measured("cross", 500));
        assert!((cross.latency_ratio - 4.0 / 500.0).abs() < 1e-12);
    }
}
