//! One connection's life on a slot thread: create both ends, connect, negotiate, drive
//! traffic until a churn event, a close storm or the end of the run, then tear down.
//!
//! Owns the traffic loop and the teardown policy; every NDK object it creates is closed on
//! every path (an error tears down abortively), because the adapter close waits for them.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::Shared;
use super::client::Client;
use super::cm::Listening;
use super::ndk::{self, End, Role, finish_closes};
use super::server::Server;
use super::smb::Command;
use super::stats::Tally;
use super::wire::{Done, Fault};

/// Why traffic stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The run is over: drain and close in order.
    Finish,
    /// A churn event: drain and close in order, then reconnect.
    Churn,
    /// A close storm: close everything at once, antecedents first, nothing drained.
    Storm,
    /// A workload error: close like a storm.
    Error,
}

/// Longest wait for draining, reaping flushes and close completions.
const PATIENCE: Duration = Duration::from_secs(10);

/// Runs one connection; answers how it ended.
pub fn run(
    shared: &Shared,
    listening: &Listening,
    id: u64,
    rng: &mut ChaCha8Rng,
    tally: &mut Tally,
) -> Ending {
    let cfg = shared.session;
    let client = End::create(
        &shared.fabric.adapters[0],
        &shared.ledger,
        cfg,
        Role::Client,
    );
    let server = End::create(
        &shared.fabric.adapters[1],
        &shared.ledger,
        cfg,
        Role::Server,
    );
    let (mut client, mut server) = match (client, server) {
        (Ok(c), Ok(s)) => (c, s),
        (c, s) => {
            // A half-built end leaks objects the adapter close would wait for: stop the run.
            for e in [c.err(), s.err()].into_iter().flatten() {
                tally.errors.push(format!("connection {id}: {e}"));
            }
            shared.fatal.store(true, Ordering::SeqCst);
            return Ending::Error;
        }
    };
    let churn_at = shared
        .churn
        .map(|mean| Instant::now() + exponential(rng, mean));
    let established = shared.fabric.establish(
        listening,
        &shared.ledger,
        &mut client,
        &mut server,
        u32::from(cfg.outstanding),
    );
    let traffic = established
        .and_then(|()| traffic(shared, id, rng, tally, &mut client, &mut server, churn_at));
    let ending = match traffic {
        Ok(ending) => ending,
        Err(e) => {
            tally.errors.push(format!("connection {id}: {e}"));
            Ending::Error
        }
    };
    if let Err(e) = teardown(shared, tally, client, server, ending) {
        tally.errors.push(format!("connection {id} teardown: {e}"));
    }
    tally.churn.connections_closed += 1;
    ending
}

fn traffic(
    shared: &Shared,
    id: u64,
    rng: &mut ChaCha8Rng,
    tally: &mut Tally,
    client_end: &mut End,
    server_end: &mut End,
    churn_at: Option<Instant>,
) -> Result<Ending, Fault> {
    let cfg = shared.session;
    let mut server = Server::start(cfg, id, server_end)?;
    let mut client = Client::start(cfg, id, client_end)?;
    let storm_epoch = shared.storm_epoch.load(Ordering::SeqCst);
    let mut negotiated = false;
    loop {
        let ending = if shared.stop.load(Ordering::SeqCst) {
            Some(Ending::Finish)
        } else if shared.storm_epoch.load(Ordering::SeqCst) != storm_epoch {
            Some(Ending::Storm)
        } else if churn_at.is_some_and(|t| Instant::now() >= t) {
            Some(Ending::Churn)
        } else {
            None
        };
        if ending.is_none() {
            client.pump(client_end, Instant::now(), || pick(rng))?;
        }
        let moved = step(tally, client_end, server_end, &mut client, &mut server)?;
        if client.is_ready() && !negotiated {
            negotiated = true;
            tally.churn.connections_opened += 1;
        }
        for f in client.take_finished() {
            tally.finished(&f);
            shared.ios.fetch_add(1, Ordering::Relaxed);
            shared
                .bytes
                .fetch_add(u64::from(f.bytes), Ordering::Relaxed);
        }
        match ending {
            Some(Ending::Storm) => return Ok(Ending::Storm),
            Some(e) => return drain(shared, tally, client_end, server_end, client, server, e),
            None if moved == 0 => std::thread::yield_now(),
            None => {}
        }
    }
}

/// Polls both ends once and feeds their state machines; answers how many completions came.
fn step(
    tally: &mut Tally,
    client_end: &mut End,
    server_end: &mut End,
    client: &mut Client,
    server: &mut Server,
) -> Result<usize, Fault> {
    let (server_done, s_cancelled) = server_end.poll(64);
    let (client_done, c_cancelled) = client_end.poll(64);
    if s_cancelled + c_cancelled > 0 {
        return Err(Fault("a request was cancelled on a live connection".into()));
    }
    let n = server_done.len() + client_done.len();
    for d in server_done {
        count(tally, d);
        server.on_done(server_end, d)?;
    }
    for d in client_done {
        count(tally, d);
        client.on_done(client_end, d, Instant::now())?;
    }
    Ok(n)
}

fn count(tally: &mut Tally, d: Done) {
    if let Ok(bytes) = d.result {
        tally.op(d.op, bytes);
    }
}

/// Lets the negotiation and every I/O in flight finish (no new I/Os), then answers `ending`:
/// afterwards no message is in flight, so the flush cancels exactly the posted receives.
fn drain(
    shared: &Shared,
    tally: &mut Tally,
    client_end: &mut End,
    server_end: &mut End,
    mut client: Client,
    mut server: Server,
    ending: Ending,
) -> Result<Ending, Fault> {
    let deadline = Instant::now() + PATIENCE;
    while !client.is_ready() || client.busy() > 0 || server.backlog() > 0 {
        if Instant::now() > deadline {
            return Err(Fault(format!(
                "{} I/Os did not finish within {PATIENCE:?}",
                client.busy()
            )));
        }
        if step(tally, client_end, server_end, &mut client, &mut server)? == 0 {
            std::thread::yield_now();
        }
        for f in client.take_finished() {
            tally.finished(&f);
            shared.ios.fetch_add(1, Ordering::Relaxed);
            shared
                .bytes
                .fetch_add(u64::from(f.bytes), Ordering::Relaxed);
        }
    }
    Ok(ending)
}

fn teardown(
    shared: &Shared,
    tally: &mut Tally,
    client: End,
    server: End,
    ending: Ending,
) -> Result<(), Fault> {
    let storm = matches!(ending, Ending::Storm | Ending::Error);
    // Errors are collected, never returned early: every object must be closed whatever
    // happened, or the adapter close would wait for it forever.
    let problem = if storm {
        None
    } else {
        reap_flush(shared, tally, &client, &server).err()
    };
    if ending == Ending::Churn {
        tally.churn.churn_events += 1;
    }
    let (mut closing, client_lams) = client.close(storm);
    let (server_closing, server_lams) = server.close(storm);
    closing.extend(server_closing);
    // The MRs that mapped the LAMs are closed once this succeeds; if a close did not finish,
    // the LAMs stay (and the run fails for the unclosed object).
    finish_closes(closing, &shared.ledger, PATIENCE)?;
    for lam in client_lams {
        shared.fabric.adapters[0].release_lam(lam);
    }
    for lam in server_lams {
        shared.fabric.adapters[1].release_lam(lam);
    }
    problem.map_or(Ok(()), Err)
}

/// Orderly teardown: flush both QPs and reap every posted receive, cancelled.
fn reap_flush(shared: &Shared, tally: &mut Tally, client: &End, server: &End) -> Result<(), Fault> {
    client.flush();
    server.flush();
    let expected = 2 * u64::from(shared.session.credits);
    let deadline = Instant::now() + PATIENCE;
    let mut cancelled = 0;
    let mut other = Vec::new();
    while cancelled < expected && Instant::now() < deadline {
        let (a, c1) = client.poll(64);
        let (b, c2) = server.poll(64);
        other.extend(a.into_iter().chain(b));
        cancelled += c1 + c2;
        if c1 + c2 == 0 {
            std::thread::yield_now();
        }
    }
    tally.churn.cancelled += cancelled;
    if cancelled < expected || other.iter().any(|d| d.result.is_err()) {
        return Err(Fault(format!(
            "flush cancelled {cancelled} of {expected} posted receives; other completions: {other:?}"
        )));
    }
    Ok(())
}

/// An exponentially distributed wait of mean `mean`.
pub fn exponential(rng: &mut ChaCha8Rng, mean: Duration) -> Duration {
    let u: f64 = rng.random_range(0.0..1.0);
    mean.mul_f64(-(1.0 - u).ln()).min(mean * 20)
}

/// A READ or WRITE, half and half; the reply invalidates remotely three times in four when
/// fast registration is in use (as SMB does with `SMB2_CHANNEL_RDMA_V1_INVALIDATE`).
fn pick(rng: &mut ChaCha8Rng) -> (Command, bool) {
    let command = if rng.random_bool(0.5) {
        Command::Read
    } else {
        Command::Write
    };
    (command, ndk::FAST_REGISTER && rng.random_bool(0.75))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn waits_are_seeded_bounded_and_near_their_mean() {
        let mean = Duration::from_millis(100);
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..2000)
                .map(|_| exponential(&mut rng, mean))
                .collect::<Vec<_>>()
        };
        let a = draw(5);
        assert_eq!(a, draw(5), "the same seed gives the same moments");
        assert_ne!(a, draw(6));
        assert!(a.iter().all(|d| *d <= mean * 20));
        let avg = a.iter().sum::<Duration>() / 2000;
        assert!(avg > mean / 2 && avg < mean * 2, "mean {avg:?}");
    }
}
