//! `softndk run`: SMB-Direct-style traffic through two SoftNDK adapters in user mode, with
//! connection churn and close storms at random moments, and a report.
//!
//! Shape: one thread per connection slot runs connections one after another
//! ([`connection::run`]); each connection is a [`client::Client`] on adapter 0 and a
//! [`server::Server`] on adapter 1 speaking [`smb`] over the [`ndk`] objects. The main thread
//! schedules close storms, shows progress and builds the report. This module must never hide
//! a failure: any error, leaked object or verifier violation makes the run fail (exit 1).

mod client;
mod cm;
mod connection;
mod fabric;
mod ndk;
mod server;
mod session;
mod smb;
mod stats;
mod wire;

#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod testloop;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::args::RunArgs;
use crate::report::{self, CloseSummary, RunReport, VerifierSummary};
pub use fabric::Fabric;
use session::SessionConfig;
use stats::{Ledger, Tally};
pub use stats::{histogram, percentiles};

/// What every slot thread shares.
#[derive(Debug)]
pub struct Shared {
    fabric: fabric::Fabric,
    ledger: Ledger,
    session: SessionConfig,
    churn: Option<Duration>,
    stop: AtomicBool,
    fatal: AtomicBool,
    storm_epoch: AtomicU64,
    next_connection: AtomicU64,
    ios: AtomicU64,
    bytes: AtomicU64,
}

/// Runs the workload and prints the report; `true` when it passed.
pub fn main(args: &RunArgs) -> bool {
    let seed = args.seed.unwrap_or_else(|| rand::rng().random());
    let report = run(args, seed);
    if args.output.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report)
                .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
        );
    } else {
        print!("{}", report::render_run(&report));
    }
    report.ok
}

fn run(args: &RunArgs, seed: u64) -> RunReport {
    let session = SessionConfig {
        credits: args.credits,
        outstanding: args.outstanding,
        io_size: u32::try_from(args.io_size).unwrap_or(u32::MAX),
    };
    let config = serde_json::json!({
        "connections": args.connections,
        "duration_seconds": args.duration.as_secs_f64(),
        "io_size": args.io_size,
        "outstanding": args.outstanding,
        "credits": args.credits,
        "churn_mean_seconds": args.churn_mean().map(|d| d.as_secs_f64()),
        "storm_mean_seconds": args.storm_mean().map(|d| d.as_secs_f64()),
        "dpc_workers": args.dpc_workers,
        "pend_creates": args.pend_creates,
        "pend_requests": args.pend_requests,
        "fast_register": ndk::FAST_REGISTER,
        "connections_via": "NdkConnect/NdkListen/NdkAccept",
    });
    let mut errors = Vec::new();
    let fabric = match fabric::Fabric::open(
        usize::from(args.dpc_workers),
        low32(seed),
        true,
        args.pend_creates,
        args.pend_requests,
    ) {
        Ok(f) => f,
        Err(e) => {
            errors.push(e);
            return finish(
                seed,
                config,
                Duration::ZERO,
                &Tally::default(),
                &Ledger::default(),
                errors,
                None,
            );
        }
    };
    let shared = Shared {
        fabric,
        ledger: Ledger::default(),
        session,
        churn: args.churn_mean(),
        stop: AtomicBool::new(false),
        fatal: AtomicBool::new(false),
        storm_epoch: AtomicU64::new(0),
        next_connection: AtomicU64::new(1),
        ios: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
    };
    let started = Instant::now();
    let (mut tally, storms) = std::thread::scope(|s| {
        let workers: Vec<_> = (0..args.connections)
            .map(|slot| {
                let shared = &shared;
                s.spawn(move || slot_thread(shared, seed, slot))
            })
            .collect();
        let storms = schedule(&shared, args, seed, started);
        let mut tally = Tally::default();
        for w in workers {
            match w.join() {
                Ok(t) => tally.merge(t),
                Err(_) => tally.errors.push("a connection thread panicked".into()),
            }
        }
        (tally, storms)
    });
    let elapsed = started.elapsed();
    tally.churn.storms = storms;
    let Shared { fabric, ledger, .. } = shared;
    let checked =
        if tally.errors.is_empty() || !ledger.object_rows().iter().any(|r| r.created != r.closed) {
            fabric.close()
        } else {
            // Closing the adapters would wait forever for the objects that leaked.
            errors.push("objects leaked: adapters left open".into());
            fabric.abandon()
        };
    finish(seed, config, elapsed, &tally, &ledger, errors, checked)
}

fn low32(seed: u64) -> u32 {
    u32::try_from(seed & 0xFFFF_FFFF).unwrap_or(0) | 1
}

/// One connection slot: connections back to back until the run stops.
fn slot_thread(shared: &Shared, seed: u64, slot: u16) -> Tally {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (u64::from(slot) << 48));
    let mut tally = Tally::default();
    let listening = match cm::Listening::open(&shared.fabric.adapters[1], &shared.ledger, slot) {
        Ok(l) => l,
        Err(e) => {
            tally.errors.push(format!("slot {slot}: {e}"));
            shared.fatal.store(true, Ordering::SeqCst);
            return tally;
        }
    };
    while !shared.stop.load(Ordering::SeqCst) && !shared.fatal.load(Ordering::SeqCst) {
        let id = shared.next_connection.fetch_add(1, Ordering::SeqCst);
        let ending = connection::run(shared, &listening, id, &mut rng, &mut tally);
        if ending == connection::Ending::Error {
            shared.fatal.store(true, Ordering::SeqCst);
        }
    }
    if let Err(e) = listening.close(&shared.ledger) {
        tally.errors.push(format!("slot {slot} listener: {e}"));
    }
    tally
}

/// Main thread: close storms at random moments and progress until the duration is over;
/// answers the number of storms.
fn schedule(shared: &Shared, args: &RunArgs, seed: u64, started: Instant) -> u64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5707_3000);
    let bar = crate::progress::bar(
        args.output,
        u64::try_from(args.duration.as_millis()).unwrap_or(u64::MAX),
        "run",
    );
    let end = started + args.duration;
    let mut next_storm = args
        .storm_mean()
        .map(|mean| Instant::now() + connection::exponential(&mut rng, mean));
    let mut storms = 0;
    while Instant::now() < end && !shared.fatal.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(20));
        if let (Some(at), Some(mean)) = (next_storm, args.storm_mean())
            && Instant::now() >= at
        {
            shared.storm_epoch.fetch_add(1, Ordering::SeqCst);
            storms += 1;
            next_storm = Some(Instant::now() + connection::exponential(&mut rng, mean));
        }
        let secs = started.elapsed().as_secs_f64().max(1e-3);
        #[allow(clippy::cast_precision_loss)] // display
        let gbps = shared.bytes.load(Ordering::Relaxed) as f64 / secs / 1e9;
        bar.set_position(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
        bar.set_message(format!(
            "{} I/Os, {gbps:.2} GB/s, {storms} storms",
            shared.ios.load(Ordering::Relaxed)
        ));
    }
    shared.stop.store(true, Ordering::SeqCst);
    bar.finish_and_clear();
    storms
}

fn finish(
    seed: u64,
    config: serde_json::Value,
    elapsed: Duration,
    tally: &Tally,
    ledger: &Ledger,
    mut errors: Vec<String>,
    checked: Option<fabric::Checked>,
) -> RunReport {
    let objects = ledger.object_rows();
    let (total, pended, pend_time) = ledger.closes();
    for row in objects.iter().filter(|r| r.created != r.closed) {
        errors.push(format!(
            "{} {} objects created, {} closed",
            row.created, row.kind, row.closed
        ));
    }
    errors.extend(tally.errors.iter().cloned());
    let verifier = checked.map_or_else(
        || VerifierSummary {
            interposed: false,
            not_interposed_because: Some("the adapters did not open".into()),
            ..VerifierSummary::default()
        },
        |c| VerifierSummary {
            interposed: true,
            not_interposed_because: None,
            violations: c.stats.violations,
            calls: c.stats.calls,
            callbacks: c.stats.callbacks,
            checks: c.stats.checks,
            open_objects: c.open_objects,
            report: c.report,
        },
    );
    let ok = errors.is_empty() && verifier.violations == 0 && verifier.open_objects == 0;
    RunReport {
        seed,
        config,
        elapsed_seconds: elapsed.as_secs_f64(),
        io: tally.io_rows(elapsed),
        operations: tally.op_rows(),
        objects,
        closes: CloseSummary {
            total,
            pended,
            pend_time,
        },
        churn: tally.churn,
        verifier,
        errors,
        ok,
    }
}
