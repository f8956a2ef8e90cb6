//! The `softndk` command-line tool (issue 8): `softndk run` drives an SMB-Direct-style workload
//! through two SoftNDK adapters with the NDK verifier on; `softndk perf` measures bandwidth and
//! latency against memcpy and atomic baselines measured in the same run.
//!
//! Exit status: 0 success, 1 verifier violations or workload errors, 2 usage errors.

mod args;
mod perf;
mod progress;
mod report;
mod run;
mod units;

use std::process::ExitCode;

use clap::Parser;

/// Counts live heap bytes for `perf --objects` (off, one relaxed load per allocation, otherwise).
#[global_allocator]
static ALLOCATOR: perf::alloc::Counting = perf::alloc::Counting;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let ok = match cli.command {
        args::Command::Run(a) => {
            if let Err(message) = a.validate() {
                eprintln!("error: {message}");
                return ExitCode::from(2);
            }
            run::main(&a)
        }
        args::Command::Perf(a) => perf::main(&a),
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
