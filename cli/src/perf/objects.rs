//! `softndk perf --objects N,…`: memory per object and create/close time as the number of open
//! objects grows. For each kind (PD, CQ, QP, registered MR) and each count, creates that many
//! objects through the NDK dispatch table, then closes them all, and reports the time per
//! create and per close and the live heap bytes per object (the process's global allocator
//! counts, see [`super::alloc`]); plus the bytes of one CQ entry (a deep CQ minus a shallow one).
//!
//! Owns the object sweep only; must never keep an object open past its row (every row closes
//! what it created, waiting for pended closes).

use std::sync::Arc;
use std::time::{Duration, Instant};

use softndk::abi::{NDK_MR_FLAG_ALLOW_LOCAL_WRITE, STATUS_SUCCESS};
use softndk::consumer::{Adapter, Buffer, Closed, CqEvents, QpLimits};
use softndk::verbs::Limits;

use super::alloc;
use crate::report::ObjectCostRow;

/// Queues of every QP the sweep creates (reported with the figures).
pub const QP_LIMITS: QpLimits = QpLimits {
    receive_depth: 16,
    initiator_depth: 16,
    max_receive_sge: 1,
    max_initiator_sge: 1,
    inline_data_size: 0,
};

/// Depth of every CQ the sweep creates as an object.
pub const CQ_DEPTH: u32 = 16;

/// The deep CQ of the entry-size measurement.
const DEEP_CQ: u32 = 65_536;

/// Closes everything in `closes`, waiting for pended closes; answers an error for any other.
fn settle(closes: Vec<Closed>) -> Result<(), String> {
    for c in closes {
        match c {
            Closed::Now => {}
            Closed::Pending(s) if s.wait(Duration::from_secs(30)) => {}
            other => return Err(format!("close did not finish: {other:?}")),
        }
    }
    Ok(())
}

/// On-CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`): unlike wall time it does
/// not grow while other processes hold the core, which on a shared 2-core machine is most of
/// the wall time. Work a create or close hands to another thread is not in it (SoftNDK's
/// creates and idle closes run on the caller's thread).
#[cfg(unix)]
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable `timespec`; the clock id is a constant Linux and the
    // other Unix systems this builds on define.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// Elsewhere: wall time (the figures then include time the thread did not run).
#[cfg(not(unix))]
fn thread_cpu() -> Duration {
    use std::sync::OnceLock;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

/// Times of one create loop and one close loop.
#[derive(Clone, Copy)]
struct Times {
    create_cpu: Duration,
    create_wall: Duration,
    close_cpu: Duration,
    close_wall: Duration,
}

impl Times {
    fn min(self, o: Self) -> Self {
        Self {
            create_cpu: self.create_cpu.min(o.create_cpu),
            create_wall: self.create_wall.min(o.create_wall),
            close_cpu: self.close_cpu.min(o.close_cpu),
            close_wall: self.close_wall.min(o.close_wall),
        }
    }
}

/// Rounds per (kind, count); every figure is the best round's.
const ROUNDS: usize = 3;

/// Creates `count` objects with `make`, then closes them all, [`ROUNDS`] times; answers the
/// row with the fastest round's times and the bytes the objects held (the same every round).
fn sweep<T>(
    kind: &str,
    count: usize,
    mut make: impl FnMut() -> Result<T, String>,
    close: impl Fn(T) -> Closed,
) -> Result<ObjectCostRow, String> {
    let mut best: Option<Times> = None;
    let mut bytes = 0;
    for _ in 0..ROUNDS {
        let (times, held) = round(kind, count, &mut make, &close)?;
        best = Some(best.map_or(times, |b| b.min(times)));
        bytes = held;
    }
    let t = best.ok_or("no round ran")?;
    #[allow(clippy::cast_precision_loss)] // per-object averages
    let per = |d: Duration| d.as_secs_f64() * 1e9 / count.max(1) as f64;
    #[allow(clippy::cast_precision_loss)]
    Ok(ObjectCostRow {
        kind: kind.into(),
        count: count as u64,
        create_ns: per(t.create_cpu),
        close_ns: per(t.close_cpu),
        create_wall_ns: per(t.create_wall),
        close_wall_ns: per(t.close_wall),
        bytes_per_object: bytes as f64 / count.max(1) as f64,
    })
}

fn round<T>(
    kind: &str,
    count: usize,
    make: &mut impl FnMut() -> Result<T, String>,
    close: &impl Fn(T) -> Closed,
) -> Result<(Times, i64), String> {
    let mut objects = Vec::new();
    objects
        .try_reserve_exact(count)
        .map_err(|e| e.to_string())?;
    alloc::start();
    let before = alloc::live();
    let (cpu, wall) = (thread_cpu(), Instant::now());
    for _ in 0..count {
        match make() {
            Ok(o) => objects.push(o),
            Err(e) => {
                alloc::stop();
                let done = objects.len();
                settle(objects.into_iter().map(close).collect())?;
                return Err(format!("{kind} {done} of {count}: {e}"));
            }
        }
    }
    let (create_cpu, create_wall) = (thread_cpu().saturating_sub(cpu), wall.elapsed());
    let bytes = alloc::live() - before;
    alloc::stop();
    let (cpu, wall) = (thread_cpu(), Instant::now());
    let closes: Vec<Closed> = objects.into_iter().map(close).collect();
    let (close_cpu, close_wall) = (thread_cpu().saturating_sub(cpu), wall.elapsed());
    settle(closes)?;
    let times = Times {
        create_cpu,
        create_wall,
        close_cpu,
        close_wall,
    };
    Ok((times, bytes))
}

/// Bytes one CQ entry costs: a [`DEEP_CQ`]-entry CQ minus a 1-entry CQ, per extra entry.
///
/// # Errors
///
/// A create or close failed.
#[allow(clippy::cast_precision_loss)] // per-entry average
pub fn cq_entry_bytes(adapter: &Adapter) -> Result<f64, String> {
    let events = CqEvents::new();
    let mut bytes = [0i64; 2];
    for (depth, out) in [1, DEEP_CQ].into_iter().zip(&mut bytes) {
        alloc::start();
        let before = alloc::live();
        let cq = adapter
            .create_cq(depth, &events)
            .map_err(|s| format!("NdkCreateCq({depth}): {s:?}"))?;
        *out = alloc::live() - before;
        alloc::stop();
        settle(vec![cq.close()])?;
    }
    Ok((bytes[1] - bytes[0]) as f64 / f64::from(DEEP_CQ - 1))
}

/// Runs the sweep for every count and kind. MR counts are capped at the adapter's memory
/// object limit (the token's index bits), less the one MR-free slot it keeps.
///
/// # Errors
///
/// The first create or close that failed.
pub fn measure(adapter: &Adapter, counts: &[u64]) -> Result<Vec<ObjectCostRow>, String> {
    let events = CqEvents::new();
    let pd = adapter
        .create_pd()
        .map_err(|s| format!("NdkCreatePd: {s:?}"))?;
    let cq = adapter
        .create_cq(CQ_DEPTH, &events)
        .map_err(|s| format!("NdkCreateCq: {s:?}"))?;
    let buffer: Arc<Buffer> = Buffer::zeroed(4096);
    let mr_cap = Limits::SOFTNDK.max_memory_objects as usize - 1;
    let mut rows = Vec::new();
    let mut outcome = Ok(());
    for &count in counts {
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        let results = [
            sweep(
                "PD",
                count,
                || adapter.create_pd().map_err(|s| format!("{s:?}")),
                softndk::consumer::Pd::close,
            ),
            sweep(
                "CQ",
                count,
                || {
                    adapter
                        .create_cq(CQ_DEPTH, &events)
                        .map_err(|s| format!("{s:?}"))
                },
                softndk::consumer::Cq::close,
            ),
            sweep(
                "QP",
                count,
                || {
                    pd.create_qp(&cq, &cq, 0, QP_LIMITS)
                        .map_err(|s| format!("{s:?}"))
                },
                softndk::consumer::Qp::close,
            ),
            sweep(
                "MR (registered)",
                count.min(mr_cap),
                || {
                    let mr = pd.create_mr(false).map_err(|s| format!("{s:?}"))?;
                    let status = mr.register(&buffer, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, &[]);
                    if status == STATUS_SUCCESS {
                        Ok(mr)
                    } else {
                        let _ = settle(vec![mr.close()]);
                        Err(format!("NdkRegisterMr: {status:?}"))
                    }
                },
                softndk::consumer::Mr::close,
            ),
        ];
        for r in results {
            match r {
                Ok(r) => rows.push(r),
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        if outcome.is_err() {
            break;
        }
    }
    settle(vec![cq.close(), pd.close()])?;
    outcome.map(|()| rows)
}
