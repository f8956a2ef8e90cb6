//! The progress bar: shown on a terminal, hidden with `--json`, `--quiet` or when stdout is
//! not a TTY (so pipes and CI logs stay clean).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::args::Output;

/// A bar of `total` steps, or a hidden one.
#[must_use]
pub fn bar(output: Output, total: u64, what: &str) -> ProgressBar {
    if output.json || output.quiet || !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    #[allow(clippy::literal_string_with_formatting_args)] // indicatif's template syntax
    let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
