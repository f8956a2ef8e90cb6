//! What the commands print: the report structures (serialised as-is for `--json`) and their
//! tables.
//!
//! Owns presentation only; the figures come from `run::stats` and `perf`. Never prints
//! anything itself: callers decide between [`render_run`]/[`render_perf`] and JSON.

mod perf;
mod run;

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;

use crate::units::format_nanos;

pub use perf::{Baseline, ObjectCostRow, PerfReport, PerfRow, render_perf};
pub use run::{
    ChurnSummary, CloseSummary, IoRow, ObjectRow, OpRow, RunReport, VerifierSummary, render_run,
};

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

/// A table with `header`, every column but the first right-aligned.
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

/// p50, p99, p99.9 and max, printed.
#[allow(clippy::cast_precision_loss)] // display
fn pct(p: &Percentiles) -> [String; 4] {
    [p.p50_ns, p.p99_ns, p.p999_ns, p.max_ns].map(|v| format_nanos(v as f64))
}
