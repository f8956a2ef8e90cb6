//! The command line: `softndk run` and `softndk perf` and their options (clap derive).
//!
//! Owns option names, defaults and range checks; a value out of range is a usage error
//! (exit status 2, clap's message). It never runs anything.

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::units::{parse_duration, parse_size};

/// SoftNDK's provider in user mode: a verified workload and microbenchmarks.
#[derive(Debug, Parser)]
#[command(name = "softndk", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Two SoftNDK adapters on the loopback fabric, SMB-Direct-style traffic with churn and
    /// close storms, the NDK verifier on; exits 1 on any violation or workload error.
    Run(RunArgs),
    /// Bandwidth and latency of write, read and send over sizes, queue depths and QP counts,
    /// each figure next to its physical limit measured in the same run.
    Perf(PerfArgs),
}

/// Output options shared by both commands.
#[derive(Clone, Copy, Debug, Args)]
pub struct Output {
    /// Print one JSON document on stdout instead of tables (no progress bar).
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `softndk run`.
#[derive(Clone, Debug, Args)]
pub struct RunArgs {
    /// Connections kept open at once (each a client QP on adapter 0 and a server QP on
    /// adapter 1).
    #[arg(long, short, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub connections: u16,
    /// How long to drive traffic (e.g. 500ms, 10s, 1m).
    #[arg(long, short, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Bytes per READ/WRITE (a file-sized transfer; at most what one fast registration maps,
    /// 256 pages = 1 MiB).
    #[arg(long, default_value = "1M", value_parser = parse_io_size)]
    pub io_size: u64,
    /// I/Os each connection keeps in flight.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub outstanding: u16,
    /// Receive credits per side (posted receives); at least outstanding + 2.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(3..=255))]
    pub credits: u16,
    /// Mean time between churn events (a connection torn down and replaced); 0 for none.
    #[arg(long, default_value = "300ms", value_parser = parse_optional_duration)]
    pub churn: Duration,
    /// Mean time between close storms (every connection closed at once, mid-flight); 0 for
    /// none.
    #[arg(long, default_value = "2s", value_parser = parse_optional_duration)]
    pub storms: Duration,
    /// Seed of every random choice (commands, churn and storm moments); random if absent.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads of the platform's deferred work (modelled processors).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub dpc_workers: u16,
    /// Make every create pend and deliver its object through the create completion from
    /// deferred work (exercises consumers' pending-create paths).
    #[arg(long)]
    pub pend_creates: bool,
    /// Make every memory registration, CQ resize and SRQ modify pend and deliver its status
    /// through the request completion from deferred work (exercises consumers'
    /// pending-request paths; the miniport's `SoftNdkPendRequests` keyword does both).
    #[arg(long)]
    pub pend_requests: bool,
    /// Output options.
    #[command(flatten)]
    pub output: Output,
}

/// `softndk perf`.
#[derive(Clone, Debug, Args)]
pub struct PerfArgs {
    /// Operations to measure.
    #[arg(long, value_delimiter = ',', default_value = "write,read,send")]
    pub ops: Vec<PerfOp>,
    /// Message sizes (64 B … 4 MiB by default).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "64,256,1K,4K,16K,64K,256K,1M,4M",
        value_parser = parse_perf_size
    )]
    pub sizes: Vec<u64>,
    /// Queue depths (requests in flight per QP).
    #[arg(long, value_delimiter = ',', default_value = "1,16", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub depths: Vec<u32>,
    /// QP counts.
    #[arg(long, value_delimiter = ',', default_value = "1,4", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub qps: Vec<u32>,
    /// Where the target side's completions are reaped: the posting thread, another core, or
    /// both.
    #[arg(long, value_delimiter = ',', default_value = "same,cross")]
    pub placement: Vec<Placement>,
    /// Time per measured point.
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    pub time: Duration,
    /// Short points (20 ms) and only depth 1 and 1 QP unless given: a smoke run.
    #[arg(long)]
    pub quick: bool,
    /// Leave `cross` points' threads to the scheduler instead of pinning the poster to the
    /// first core and the reaper to the second (pinning is repeatable on an idle machine; on
    /// a loaded one a pinned thread waits for its core while another is free).
    #[arg(long)]
    pub no_pin: bool,
    /// Instead of the bandwidth matrix: memory per object and create/close time with this
    /// many PDs, CQs, QPs and registered MRs open at once (e.g. `1000,10000,100000`; MRs are
    /// capped at the adapter's memory-object limit).
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub objects: Vec<u64>,
    /// Output options.
    #[command(flatten)]
    pub output: Output,
}

/// A measured operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PerfOp {
    /// RDMA write.
    Write,
    /// RDMA read.
    Read,
    /// Send into a posted receive.
    Send,
}

/// Where the passive side runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Placement {
    /// Everything on the posting thread.
    Same,
    /// The peer's receives/completions on a second thread.
    Cross,
}

impl RunArgs {
    /// Checks what clap cannot check option by option.
    ///
    /// # Errors
    ///
    /// A usage message.
    pub fn validate(&self) -> Result<(), String> {
        if self.credits < self.outstanding + 2 {
            return Err(format!(
                "--credits {} must be at least --outstanding {} + 2 (the negotiate exchange and \
                 one reply per outstanding request need receives)",
                self.credits, self.outstanding
            ));
        }
        Ok(())
    }

    /// Mean time between churn events, `None` when disabled.
    #[must_use]
    pub fn churn_mean(&self) -> Option<Duration> {
        (!self.churn.is_zero()).then_some(self.churn)
    }

    /// Mean time between close storms, `None` when disabled.
    #[must_use]
    pub fn storm_mean(&self) -> Option<Duration> {
        (!self.storms.is_zero()).then_some(self.storms)
    }
}

/// A duration, or `0` (zero: disabled).
fn parse_optional_duration(text: &str) -> Result<Duration, String> {
    if text.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    parse_duration(text)
}

/// The largest transfer SoftNDK's adapter advertises (`MaxTransferLength`).
pub const MAX_IO: u64 = 16 << 20;

/// The largest `run` I/O: what one fast registration maps (`FRMRPageCount` 256 × 4 KiB), as
/// SMB Direct's `MaxReadWriteSize` is bounded by it.
pub const MAX_RUN_IO: u64 = 256 * 4096;

fn parse_io_size(text: &str) -> Result<u64, String> {
    let size = parse_size(text)?;
    if !(64..=MAX_RUN_IO).contains(&size) {
        return Err(format!(
            "the I/O size must be between 64 B and {} KiB (one fast registration)",
            MAX_RUN_IO >> 10
        ));
    }
    Ok(size)
}

fn parse_perf_size(text: &str) -> Result<u64, String> {
    let size = parse_size(text)?;
    if size > MAX_IO {
        return Err(format!("{size} is above the {} MiB limit", MAX_IO >> 20));
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documentation() {
        let cli = Cli::try_parse_from(["softndk", "run"]).expect("parses");
        let Command::Run(run) = cli.command else {
            panic!("run expected")
        };
        assert_eq!(run.connections, 4);
        assert_eq!(run.duration, Duration::from_secs(10));
        assert_eq!(run.io_size, 1 << 20);
        assert_eq!(run.churn_mean(), Some(Duration::from_millis(300)));
        assert!(run.seed.is_none());

        let cli = Cli::try_parse_from(["softndk", "perf", "--sizes", "64,4K", "--quick"])
            .expect("parses");
        let Command::Perf(perf) = cli.command else {
            panic!("perf expected")
        };
        assert_eq!(perf.sizes, vec![64, 4096]);
        assert_eq!(perf.ops, vec![PerfOp::Write, PerfOp::Read, PerfOp::Send]);
        assert!(perf.quick);
        assert!(
            perf.objects.is_empty(),
            "the object sweep runs only when asked for"
        );

        let cli = Cli::try_parse_from(["softndk", "perf", "--objects", "1000,100000", "--no-pin"])
            .expect("parses");
        let Command::Perf(perf) = cli.command else {
            panic!("perf expected")
        };
        assert_eq!(perf.objects, vec![1000, 100_000]);
        assert!(perf.no_pin);
        assert!(Cli::try_parse_from(["softndk", "perf", "--objects", "0"]).is_err());
    }

    #[test]
    fn out_of_range_values_are_usage_errors() {
        for args in [
            &["softndk", "run", "--connections", "0"][..],
            &["softndk", "run", "--duration", "10"],
            &["softndk", "run", "--io-size", "32"],
            &["softndk", "run", "--io-size", "2M"],
            &["softndk", "run", "--churn", "soon"],
            &["softndk", "perf", "--sizes", "1G"],
            &["softndk", "perf", "--ops", "atomic"],
            &["softndk", "fly"],
        ] {
            let err = Cli::try_parse_from(args).expect_err("refused");
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
        let cli = Cli::try_parse_from(["softndk", "run", "--credits", "9", "--outstanding", "8"])
            .expect("parses");
        let Command::Run(run) = cli.command else {
            panic!("run expected")
        };
        assert!(run.validate().is_err_and(|m| m.contains("--credits 9")));
        let cli = Cli::try_parse_from(["softndk", "run", "--churn", "0", "--storms", "0"])
            .expect("0 disables");
        let Command::Run(run) = cli.command else {
            panic!("run expected")
        };
        assert_eq!((run.churn_mean(), run.storm_mean()), (None, None));
    }
}
