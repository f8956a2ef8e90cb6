//! The host platform (std): what tests, benchmarks and the `softndk` CLI run the provider on.
//!
//! It models the kernel honestly rather than merely working: a per-thread IRQL that spin locks
//! raise to DISPATCH, DPC-like deferred work that runs at DISPATCH (inline, deterministic or on
//! per-processor worker threads), lock-order and "no blocking at DISPATCH" checks that panic,
//! allocation accounting with fault injection, and a clock that deterministic tests drive.
//! Each [`Host`] value is an independent platform instance, so tests run in parallel with
//! different modes and fault plans.
//!
//! It must never be compiled into the kernel build (it needs `std`), and only [`Region`]'s
//! module contains `unsafe`.

mod cpu;
mod event;
mod faults;
mod lock;
mod once;
mod region;
mod sched;

use core::fmt;
use core::panic::Location;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use std::string::String;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Instant;
use std::vec::Vec;

pub use cpu::{
    BLOCKING_AT_DISPATCH, CALLBACK_WITH_LOCK_HELD, LOCK_ORDER_VIOLATION, assert_can_block,
    assert_no_provider_lock_held, current_irql, held_lock_count, with_irql,
};
pub use event::{Event, WAIT_WOULD_HANG};
pub use faults::{AllocStats, AllocToken, FaultPlan};
pub use lock::{SpinLock, SpinLockGuard};
pub use once::SetOnce;
pub use region::Region;
pub use sched::Dpc;

use super::{AllocError, DebugLine, DeferredWork, Irql, PlatformOps, Timestamp};
use faults::Accounting;
use sched::Scheduler;

/// How a host platform runs deferred work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// On the queueing thread, as soon as its IRQL is below DISPATCH with no lock held.
    Inline,
    /// On the test thread, only when the test drains the queue ([`Host::run_until_idle`]).
    /// With `seed`, the next item is chosen at random among those queued (reproducibly);
    /// without, in FIFO order. The clock is virtual ([`Host::advance`]).
    Deterministic {
        /// Scheduler seed; `None` for FIFO.
        seed: Option<u64>,
    },
    /// On `workers` worker threads (modelled processors) at DISPATCH.
    Threaded {
        /// Number of worker threads (at least 1).
        workers: usize,
    },
}

enum Clock {
    Real(Instant),
    Virtual(AtomicU64),
}

/// Where a host platform's debugger-log lines ([`PlatformOps::debug_print`]) go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DebugPrint {
    /// Nowhere (the default): tests stay quiet.
    Discard,
    /// Kept by this instance until [`Host::take_debug_lines`] (tests assert on them).
    Collect,
    /// Written to stderr, one line each (also chosen by `SOFTNDK_DEBUG_PRINT=stderr`).
    Stderr,
}

impl DebugPrint {
    /// The default of a new platform: [`DebugPrint::Stderr`] if the environment variable
    /// `SOFTNDK_DEBUG_PRINT` is `stderr`, else [`DebugPrint::Discard`].
    fn from_env() -> Self {
        match std::env::var("SOFTNDK_DEBUG_PRINT") {
            Ok(v) if v == "stderr" => Self::Stderr,
            _ => Self::Discard,
        }
    }
}

struct DebugLog {
    to: DebugPrint,
    lines: Vec<String>,
}

struct HostInner {
    mode: Mode,
    sched: Arc<Scheduler>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    accounting: Arc<Accounting>,
    clock: Clock,
    debug: Mutex<DebugLog>,
    /// Breaks asked for through [`PlatformOps::debug_break`] (counted, never taken).
    debug_breaks: AtomicU64,
}

impl Drop for HostInner {
    fn drop(&mut self) {
        let handles = core::mem::take(
            self.workers
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
        );
        self.sched.shut_down(handles);
    }
}

/// One host platform instance. Clones share it; the provider adapter holds one.
///
/// Dropping the last clone stops it: threaded workers finish every queued item first;
/// deterministic items never run are dropped.
#[derive(Clone)]
pub struct Host {
    inner: Arc<HostInner>,
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Host")
            .field("mode", &self.inner.mode)
            .field("alloc", &self.alloc_stats())
            .finish_non_exhaustive()
    }
}

impl Host {
    /// A platform running deferred work in `mode`.
    ///
    /// # Panics
    ///
    /// If a worker thread cannot be spawned.
    #[must_use]
    pub fn new(mode: Mode) -> Self {
        let (sched, workers, clock) = match mode {
            Mode::Inline => (
                Arc::new(Scheduler::inline()),
                Vec::new(),
                Clock::Real(Instant::now()),
            ),
            Mode::Deterministic { seed } => (
                Arc::new(Scheduler::deterministic(seed)),
                Vec::new(),
                Clock::Virtual(AtomicU64::new(0)),
            ),
            Mode::Threaded { workers } => {
                let (sched, handles) = Scheduler::threaded(workers);
                (sched, handles, Clock::Real(Instant::now()))
            }
        };
        Self {
            inner: Arc::new(HostInner {
                mode,
                sched,
                workers: Mutex::new(workers),
                accounting: Arc::new(Accounting::new()),
                clock,
                debug: Mutex::new(DebugLog {
                    to: DebugPrint::from_env(),
                    lines: Vec::new(),
                }),
                debug_breaks: AtomicU64::new(0),
            }),
        }
    }

    /// [`Mode::Inline`].
    #[must_use]
    pub fn inline() -> Self {
        Self::new(Mode::Inline)
    }

    /// [`Mode::Deterministic`] in FIFO order.
    #[must_use]
    pub fn deterministic() -> Self {
        Self::new(Mode::Deterministic { seed: None })
    }

    /// [`Mode::Deterministic`] with a seeded random order.
    #[must_use]
    pub fn deterministic_seeded(seed: u64) -> Self {
        Self::new(Mode::Deterministic { seed: Some(seed) })
    }

    /// [`Mode::Threaded`] with `workers` worker threads.
    #[must_use]
    pub fn threaded(workers: usize) -> Self {
        Self::new(Mode::Threaded { workers })
    }

    /// The mode this platform was created with.
    #[must_use]
    pub fn mode(&self) -> Mode {
        self.inner.mode
    }

    /// Deterministic mode: runs one queued item at DISPATCH on this thread; `false` if none.
    ///
    /// # Panics
    ///
    /// If the platform is not deterministic, or a provider lock is held.
    #[expect(
        clippy::must_use_candidate,
        reason = "tests often call it for its effect alone"
    )]
    pub fn run_one(&self) -> bool {
        self.inner.sched.run_one()
    }

    /// Deterministic mode: runs queued items (including those they queue) until none is left;
    /// returns how many ran. Does not terminate if work re-queues itself forever; bound such
    /// tests with [`Host::run_at_most`].
    ///
    /// # Panics
    ///
    /// As [`Host::run_one`].
    #[expect(
        clippy::must_use_candidate,
        reason = "tests often call it for its effect alone"
    )]
    pub fn run_until_idle(&self) -> usize {
        let mut ran = 0;
        while self.run_one() {
            ran += 1;
        }
        ran
    }

    /// Deterministic mode: runs at most `limit` items; returns how many ran.
    ///
    /// # Panics
    ///
    /// As [`Host::run_one`].
    #[expect(
        clippy::must_use_candidate,
        reason = "tests often call it for its effect alone"
    )]
    pub fn run_at_most(&self, limit: usize) -> usize {
        (0..limit).take_while(|_| self.run_one()).count()
    }

    /// Items queued and not yet started (0 in inline mode).
    #[must_use]
    pub fn pending(&self) -> usize {
        self.inner.sched.pending()
    }

    /// Waits until all deferred work queued so far has run: threaded mode waits for the workers
    /// (`KeFlushQueuedDpcs`), deterministic mode runs the queue until idle, inline mode has
    /// nothing outstanding at PASSIVE.
    ///
    /// # Panics
    ///
    /// At DISPATCH or with a provider lock held (it may block).
    pub fn flush(&self) {
        assert_can_block();
        if self.inner.sched.is_deterministic() {
            self.run_until_idle();
        } else {
            self.inner.sched.flush();
        }
    }

    /// Deterministic mode: moves the virtual clock forward by `d`.
    ///
    /// # Panics
    ///
    /// If the platform uses the real clock (inline and threaded modes).
    pub fn advance(&self, d: Duration) {
        let Clock::Virtual(nanos) = &self.inner.clock else {
            panic!("platform: advance() needs a deterministic host platform (virtual clock)");
        };
        let d = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        nanos.fetch_add(d, Ordering::Relaxed);
    }

    /// Allocation counters: attempts, injected failures, live allocations.
    #[must_use]
    pub fn alloc_stats(&self) -> AllocStats {
        self.inner.accounting.stats()
    }

    /// Installs a fault plan for allocations made through this platform from now on.
    pub fn set_fault_plan(&self, plan: FaultPlan) {
        self.inner.accounting.set_plan(plan);
    }

    /// Chooses where later [`PlatformOps::debug_print`] lines of this instance go.
    pub fn set_debug_print(&self, to: DebugPrint) {
        self.debug_log().to = to;
    }

    /// The lines collected under [`DebugPrint::Collect`] since the last call, oldest first.
    #[must_use]
    pub fn take_debug_lines(&self) -> Vec<String> {
        core::mem::take(&mut self.debug_log().lines)
    }

    /// How many times [`PlatformOps::debug_break`] was called on this instance (and its
    /// clones). The host never stops: this count is what a test asserts instead.
    #[must_use]
    pub fn debug_breaks(&self) -> u64 {
        self.inner.debug_breaks.load(Ordering::Relaxed)
    }

    fn debug_log(&self) -> std::sync::MutexGuard<'_, DebugLog> {
        self.inner
            .debug
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl PlatformOps for Host {
    type Dpc = Dpc;
    type Event = Event;
    type AllocToken = AllocToken;

    fn current_irql() -> Irql {
        cpu::current_irql()
    }

    fn assert_can_block() {
        cpu::assert_can_block();
    }

    fn assert_no_provider_lock_held() {
        cpu::assert_no_provider_lock_held();
    }

    fn now(&self) -> Timestamp {
        match &self.inner.clock {
            Clock::Real(origin) => Timestamp::from_nanos(
                u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX),
            ),
            Clock::Virtual(nanos) => Timestamp::from_nanos(nanos.load(Ordering::Relaxed)),
        }
    }

    fn alloc_gate(&self, site: &'static Location<'static>) -> Result<AllocToken, AllocError> {
        self.inner.accounting.gate(site)
    }

    /// Host: as [`Host::set_debug_print`] chose (discarded by default). Collecting allocates,
    /// which the host may; the line itself was formatted on the caller's stack.
    fn debug_print(&self, line: &DebugLine) {
        let mut log = self.debug_log();
        match log.to {
            DebugPrint::Discard => {}
            DebugPrint::Collect => log.lines.push(String::from(line.as_str())),
            DebugPrint::Stderr => {
                use std::io::Write as _;
                // A closed stderr loses the line, as an absent debugger does.
                let _ = writeln!(std::io::stderr().lock(), "{line}");
            }
        }
    }

    /// Host: counts the break ([`Host::debug_breaks`]); the process never stops, even under
    /// a debugger (a test run must not hang on a report it expects). Panics if a provider
    /// lock is held, which the contract forbids (a stopped kernel processor would stall every
    /// other one waiting for that lock).
    fn debug_break(&self) {
        Self::assert_no_provider_lock_held();
        self.inner.debug_breaks.fetch_add(1, Ordering::Relaxed);
    }

    #[track_caller]
    fn new_dpc<W: DeferredWork>(&self, work: W) -> Result<Dpc, AllocError> {
        let token = self.alloc_gate(Location::caller())?;
        Dpc::new(&self.inner.sched, work, token)
    }

    #[track_caller]
    fn try_defer<F: FnOnce() + Send + 'static>(&self, f: F) -> Result<(), AllocError> {
        let token = self.alloc_gate(Location::caller())?;
        self.inner.sched.defer_job(f, token)
    }

    /// Never fails on the host and is not subject to the fault plan (host events are
    /// ordinary heap values; the kernel's is a pool block).
    fn try_new_event(&self) -> Result<Event, AllocError> {
        Ok(Event::new(&self.inner.sched))
    }
}
