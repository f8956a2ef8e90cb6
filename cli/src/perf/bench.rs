//! The measurement loops: keep `depth` requests in flight on each QP for a fixed time, reap
//! completions on the posting thread (`same`) or on a second thread pinned to another core
//! (`cross`, the poster pinned to the first core), and record post-to-completion latency.
//!
//! Owns timing only; every NDK call goes through `softndk::consumer` (via [`Pair`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use softndk::abi::{NDK_RESULT, NTSTATUS, STATUS_SUCCESS};

use super::baseline::Backoff;
use super::pair::Pair;
use crate::args::{PerfOp, Placement};

/// One point of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Point {
    /// Operation.
    pub op: PerfOp,
    /// Bytes per operation.
    pub size: u32,
    /// In flight per QP.
    pub depth: u32,
    /// QPs used.
    pub qps: usize,
    /// Where completions are reaped.
    pub placement: Placement,
}

/// What a point measured.
#[derive(Debug)]
pub struct Measured {
    /// Operations completed.
    pub ops: u64,
    /// Measured time.
    pub elapsed: Duration,
    /// Post-to-completion latency in ns.
    pub latency: Histogram<u64>,
}

/// Completions a point measures at the least, whatever `time` says.
const MIN_OPS: u64 = 8;

/// Per-QP bookkeeping shared by poster and reaper.
struct Track {
    posted: AtomicU64,
    completed: AtomicU64,
    stamps: Vec<AtomicU64>,
}

impl Track {
    fn new(depth: u32) -> Self {
        Self {
            posted: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            stamps: (0..depth).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

fn post(pair: &Pair, op: PerfOp, size: u32, context: usize) -> NTSTATUS {
    let sge = pair.initiator.sge(size);
    let (address, token) = pair.target.remote();
    match op {
        PerfOp::Write => pair.initiator.qp.write(context, &[sge], address, token, 0),
        PerfOp::Read => pair.initiator.qp.read(context, &[sge], address, token, 0),
        PerfOp::Send => pair.initiator.qp.send(context, &[sge], 0),
    }
}

/// Tops the target's posted receives up to `depth` (sends only).
///
/// # Errors
///
/// A refused receive.
pub fn prime_receives(pair: &Pair, depth: u32, posted: &mut u32) -> Result<(), String> {
    let len = u32::try_from(pair.target.buf.len()).unwrap_or(u32::MAX);
    while *posted < depth {
        let status = pair.target.qp.receive(0, &[pair.target.sge(len)]);
        if status != STATUS_SUCCESS {
            return Err(format!("NdkReceive: {status:?}"));
        }
        *posted += 1;
    }
    Ok(())
}

fn nanos(base: Instant) -> u64 {
    u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Results one poll reaps at most.
const POLL_BATCH: usize = 64;

/// Where a reaping thread polls into (allocated once per thread, outside the measured loop).
fn scratch() -> Vec<NDK_RESULT> {
    vec![NDK_RESULT::ZEROED; POLL_BATCH]
}

/// Reaps both CQs of every pair once, polling into `scratch`; answers completions seen.
fn reap(
    pairs: &[Pair],
    tracks: &[Track],
    p: Point,
    base: Instant,
    latency: &mut Histogram<u64>,
    scratch: &mut [NDK_RESULT],
) -> Result<u64, String> {
    let mut seen = 0;
    let len = |pair: &Pair| u32::try_from(pair.target.buf.len()).unwrap_or(u32::MAX);
    for (pair, track) in pairs.iter().zip(tracks) {
        for r in pair.initiator.poll(scratch) {
            if r.Status != STATUS_SUCCESS {
                return Err(format!("{:?} completed with {:?}", p.op, r.Status));
            }
            let seq = r.RequestContext.addr() as u64;
            let slot = usize::try_from(seq % u64::from(p.depth)).unwrap_or(0);
            let posted_at = track.stamps[slot].load(Ordering::Acquire);
            latency.saturating_record(nanos(base).saturating_sub(posted_at).max(1));
            track.completed.fetch_add(1, Ordering::Release);
            seen += 1;
        }
        if p.op == PerfOp::Send {
            for r in pair.target.poll(scratch) {
                if r.Status != STATUS_SUCCESS {
                    return Err(format!("receive completed with {:?}", r.Status));
                }
                let status = pair.target.qp.receive(0, &[pair.target.sge(len(pair))]);
                if status != STATUS_SUCCESS {
                    return Err(format!("NdkReceive: {status:?}"));
                }
            }
        }
    }
    Ok(seen)
}

/// Posts on every pair while fewer than `depth` requests are in flight; answers posts made.
fn top_up(pairs: &[Pair], tracks: &[Track], p: Point, base: Instant) -> Result<u64, String> {
    let mut made = 0;
    for (pair, track) in pairs.iter().zip(tracks) {
        loop {
            let posted = track.posted.load(Ordering::Relaxed);
            if posted - track.completed.load(Ordering::Acquire) >= u64::from(p.depth) {
                break;
            }
            let slot = usize::try_from(posted % u64::from(p.depth)).unwrap_or(0);
            track.stamps[slot].store(nanos(base), Ordering::Release);
            let status = post(pair, p.op, p.size, usize::try_from(posted).unwrap_or(0));
            if status != STATUS_SUCCESS {
                return Err(format!("{:?} post refused: {status:?}", p.op));
            }
            track.posted.store(posted + 1, Ordering::Release);
            made += 1;
        }
    }
    Ok(made)
}

/// Pins the calling (posting) thread to the first core the OS reports and answers the
/// `[poster, reaper]` cores for `cross` points; `None` with fewer than two cores or when the
/// OS refuses (the threads are then left to the scheduler).
pub fn pin_main_thread() -> Option<[usize; 2]> {
    let ids = core_affinity::get_core_ids()?;
    let [poster, reaper, ..] = ids[..] else {
        return None;
    };
    core_affinity::set_for_current(poster).then_some([poster.id, reaper.id])
}

/// How a `cross` point's thread waits when it found nothing to do.
///
/// Pinned to a core of its own, it spins and yields only every
/// [`SPINS_PER_YIELD`](super::baseline::SPINS_PER_YIELD) empty turns: a `yield_now` per empty
/// poll is a system call, which would put the scheduler on every completion's path and
/// measure it instead of the provider. Unpinned, the two threads may share a core, where
/// spinning would cost whole scheduler ticks; it yields every time.
const fn idle_wait(pinned: bool) -> Backoff {
    if pinned {
        Backoff::spinning()
    } else {
        Backoff::yielding()
    }
}

/// Measures one point for about `time` on the first `p.qps` pairs; a `cross` point's reaper
/// runs pinned to `cores[1]` when given (the caller pinned itself to `cores[0]`).
///
/// # Errors
///
/// A refused post or a failed completion.
pub fn measure(
    pairs: &[Pair],
    p: Point,
    time: Duration,
    cores: Option<[usize; 2]>,
) -> Result<Measured, String> {
    let pairs = &pairs[..p.qps];
    let tracks: Vec<Track> = pairs.iter().map(|_| Track::new(p.depth)).collect();
    let base = Instant::now();
    let mut latency = crate::run::histogram();
    let mut buf = scratch();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| -> Result<Measured, String> {
        let reaper = (p.placement == Placement::Cross).then(|| {
            let (tracks, stop) = (&tracks, &stop);
            s.spawn(move || -> Result<Histogram<u64>, String> {
                if let Some([_, reaper]) = cores {
                    // Best effort: an unpinned reaper still measures, only less repeatably.
                    let _ = core_affinity::set_for_current(core_affinity::CoreId { id: reaper });
                }
                let mut h = crate::run::histogram();
                let mut buf = scratch();
                let mut idle = idle_wait(cores.is_some());
                loop {
                    let done = stop.load(Ordering::Acquire);
                    if reap(pairs, tracks, p, base, &mut h, &mut buf)? == 0 {
                        if done && drained(tracks) {
                            return Ok(h);
                        }
                        idle.wait();
                    }
                }
            })
        });
        let mut outcome = Ok(());
        let mut idle = idle_wait(cores.is_some());
        // At least MIN_OPS completions, however long the scheduler keeps a thread away (but
        // not forever: a reaper that stopped or a stuck queue ends the point with an error).
        let give_up = time * 10 + Duration::from_secs(10);
        while base.elapsed() < time || completed(&tracks) < MIN_OPS {
            if reaper
                .as_ref()
                .is_some_and(std::thread::ScopedJoinHandle::is_finished)
            {
                break;
            }
            if base.elapsed() > give_up {
                outcome = Err(format!("fewer than {MIN_OPS} completions in {give_up:?}"));
                break;
            }
            match top_up(pairs, &tracks, p, base) {
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
                Ok(0) if reaper.is_some() => idle.wait(),
                Ok(_) => {}
            }
            if reaper.is_none()
                && let Err(e) = reap(pairs, &tracks, p, base, &mut latency, &mut buf)
            {
                outcome = Err(e);
                break;
            }
        }
        let elapsed = base.elapsed();
        let ops = completed(&tracks);
        if outcome.is_ok() && reaper.is_none() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !drained(&tracks) && Instant::now() < deadline {
                reap(pairs, &tracks, p, base, &mut latency, &mut buf)?;
            }
        }
        stop.store(true, Ordering::Release);
        if let Some(r) = reaper {
            match r.join() {
                Ok(Ok(h)) => {
                    let _ = latency.add(&h);
                }
                Ok(Err(e)) => outcome = outcome.and(Err(e)),
                Err(_) => {
                    outcome = outcome.and_then(|()| Err("the reaper thread panicked".into()));
                }
            }
        }
        outcome?;
        Ok(Measured {
            ops,
            elapsed,
            latency,
        })
    })
}

fn completed(tracks: &[Track]) -> u64 {
    tracks
        .iter()
        .map(|t| t.completed.load(Ordering::Acquire))
        .sum()
}

fn drained(tracks: &[Track]) -> bool {
    tracks
        .iter()
        .all(|t| t.completed.load(Ordering::Acquire) >= t.posted.load(Ordering::Acquire))
}
