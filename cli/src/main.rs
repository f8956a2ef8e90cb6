//! The `softndk` command-line tool.
use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("softndk: no commands yet (`run` and `perf` are tracked in the issues)");
    ExitCode::from(2)
}
