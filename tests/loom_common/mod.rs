//! What the small loom models (`loom_cm`, `loom_notify`) share: running a model exhaustively.
//! Built only under `--cfg loom`, like the suites that include it.
//!
//! Must never: hold model state (each suite owns its probes and steps).
#![cfg(loom)]

use loom::model::Builder;

/// Checks `f` in every interleaving, whatever `LOOM_MAX_PREEMPTIONS` says: these models are
/// small (their size and time are in `docs/verification.md`), and a preemption bound can hide
/// real bugs (in `loom_notify`, dropping the "a callback is running" check only shows with 3
/// preemptions).
pub fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = Builder::new();
    builder.preemption_bound = None;
    builder.check(f);
}
