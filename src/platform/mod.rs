//! What the OS provides to the provider core: spin locks, the current IRQL, deferred work
//! (DPC-like), allocation that may fail, a blocking event, access to registered memory, time,
//! a debugger log.
//!
//! The debugger log takes a [`DebugLine`] formatted on the caller's stack
//! ([`PlatformOps::debug_print`]); [`PlatformOps::debug_break`] stops only when a debugger is
//! attached.
//!
//! This module owns the OS-independent *contract* ([`PlatformOps`], [`SpinLockOps`],
//! [`DpcOps`], [`EventOps`], [`RegionOps`] and the small types beside them) and the code that is
//! the same on every OS: the fallible owning containers in [`PoolBox`]/[`PoolVec`]/[`PoolSlice`]
//! and the copy plan that avoids the 4 KiB-aliasing `memcpy` cliff. One implementation is chosen
//! at compile time (see `docs/platform.md`): [`host`] with the `std` feature (tests, benches, CLI)
//! or `kernel` on the Windows target (`kernel` feature without `std`). The chosen one is re-exported under fixed names
//! ([`Platform`], [`SpinLock`], [`Dpc`], [`Event`], [`Region`], [`PBox`], …) so the provider core
//! never names an implementation.
//!
//! It must never expose `unsafe` to the provider core: every operation here is safe to call,
//! and out-of-range memory access is an error value, never undefined behaviour. Nothing in this
//! module blocks except [`EventOps::wait`], which is checked against the IRQL.
#![deny(unsafe_code)]

mod copy;
mod debug_line;
mod pool;
#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
mod selected;

#[cfg(feature = "std")]
pub mod host;
#[cfg(all(target_os = "windows", feature = "kernel", not(feature = "std")))]
pub mod kernel;

use core::fmt;
use core::ops::DerefMut;
use core::panic::Location;
use core::time::Duration;

pub use copy::{ALIAS_CHUNK, ALIAS_WINDOW, PAGE_SIZE, Piece, Pieces, alias_safe_chunk, pieces};
pub use debug_line::{DEBUG_LINE_CAPACITY, DebugLine};
pub use pool::{PoolBox, PoolSlice, PoolVec};
#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
pub use selected::*;

/// The contract traits, for `use crate::platform::prelude::*;` (their methods are the API).
pub mod prelude {
    pub use super::{DeferredWork, DpcOps, EventOps, PlatformOps, RegionOps, SpinLockOps};
}

/// Interrupt request level, as far as the provider cares about it.
///
/// The order is the kernel's: `Passive < Apc < Dispatch`. Provider code runs at or below
/// [`Irql::Dispatch`]; it may never block at `Dispatch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Irql {
    /// `PASSIVE_LEVEL` (0): threads; waiting is allowed.
    Passive = 0,
    /// `APC_LEVEL` (1): waiting is allowed, APCs are masked.
    Apc = 1,
    /// `DISPATCH_LEVEL` (2): DPCs and spin-lock holders; never wait, sleep or block.
    Dispatch = 2,
}

/// Position of a provider spin lock in the documented lock order.
///
/// A thread that already holds provider locks may only acquire (blocking [`SpinLockOps::lock`])
/// a lock whose level is strictly greater than every level it holds; the host platform panics
/// on a violation, which is how lock-order inversions (potential deadlocks) are found in tests.
/// [`SpinLockOps::try_lock`] cannot deadlock and is exempt. The provider core defines its
/// levels as constants in one place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LockLevel(u8);

impl LockLevel {
    /// A lock level; higher levels are acquired later (innermost).
    #[must_use]
    pub const fn new(level: u8) -> Self {
        Self(level)
    }

    /// The numeric level.
    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }
}

/// An allocation failed (really, or because the host's fault injection said so).
///
/// The provider core maps it to `STATUS_INSUFFICIENT_RESOURCES`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AllocError;

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("allocation failed")
    }
}

/// A registered-memory access was refused; nothing was read or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegionError {
    /// `offset + len` lies beyond the region.
    OutOfBounds {
        /// Requested start, in bytes from the region start.
        offset: usize,
        /// Requested length in bytes.
        len: usize,
        /// Length of the region in bytes.
        region_len: usize,
    },
    /// `offset + len` does not fit in `usize`.
    Overflow {
        /// Requested start.
        offset: usize,
        /// Requested length.
        len: usize,
    },
}

impl RegionError {
    /// Checks that `[offset, offset + len)` lies inside a region of `region_len` bytes.
    ///
    /// # Errors
    ///
    /// [`RegionError::Overflow`] when `offset + len` overflows, [`RegionError::OutOfBounds`]
    /// when the range ends past `region_len`.
    pub const fn check(offset: usize, len: usize, region_len: usize) -> Result<(), Self> {
        match offset.checked_add(len) {
            None => Err(Self::Overflow { offset, len }),
            Some(end) if end > region_len => Err(Self::OutOfBounds {
                offset,
                len,
                region_len,
            }),
            Some(_) => Ok(()),
        }
    }
}

impl fmt::Display for RegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::OutOfBounds {
                offset,
                len,
                region_len,
            } => write!(
                f,
                "range {offset}+{len} is outside the {region_len}-byte region"
            ),
            Self::Overflow { offset, len } => write!(f, "range {offset}+{len} overflows"),
        }
    }
}

/// Why `Region::try_concat` could not build a composite region; nothing was built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConcatError {
    /// A part's range is not inside its region, or the total length overflows `usize`
    /// ([`RegionError::Overflow`] with the running total as `offset`).
    Range(RegionError),
    /// The segment table could not be allocated.
    NoMemory,
}

impl From<RegionError> for ConcatError {
    fn from(e: RegionError) -> Self {
        Self::Range(e)
    }
}

/// A point on the platform's monotonic clock, in nanoseconds since an arbitrary origin.
///
/// Host: `std::time::Instant` since the platform was created, or a virtual clock the test
/// advances (deterministic mode). Kernel: `KeQueryInterruptTime` scaled to nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The timestamp `nanos` nanoseconds after the clock's origin.
    #[must_use]
    pub const fn from_nanos(nanos: u64) -> Self {
        Self(nanos)
    }

    /// Nanoseconds since the clock's origin.
    #[must_use]
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    #[must_use]
    pub const fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, or `None` if it does not fit (deadline computations).
    #[must_use]
    pub fn checked_add(self, d: Duration) -> Option<Self> {
        let nanos = u64::try_from(d.as_nanos()).ok()?;
        self.0.checked_add(nanos).map(Self)
    }
}

/// Work run by a [`DpcOps`] item: at [`Irql::Dispatch`], with no provider lock held.
///
/// It must not block. Whatever objects it touches must be kept alive by the queuer (one
/// lifetime unit per queued item, released by the work itself; invariant I5 of the lifetime
/// design).
pub trait DeferredWork: Send + Sync + 'static {
    /// Runs the work once per successful [`DpcOps::queue`].
    fn run(&self);
}

/// A pre-allocated deferred-work item, the analogue of a `KDPC` embedded in an object.
///
/// Created once (fallibly) by [`PlatformOps::new_dpc`]; queueing it afterwards never allocates,
/// so close paths can defer work without a failure mode.
pub trait DpcOps: Send + Sync {
    /// Queues the item to run once. Returns `false` (and does nothing) if it is already queued
    /// and has not started running, like `KeInsertQueueDpc`; a running item may be re-queued.
    /// Callable at any IRQL up to [`Irql::Dispatch`], with or without provider locks held.
    fn queue(&self) -> bool;

    /// Removes the item from its queue if it has not started running (`KeRemoveQueueDpc`).
    /// Returns `true` if it was removed, i.e. this `queue` will not run.
    fn cancel(&self) -> bool;
}

/// A notification (manual-reset) event for the PASSIVE-level adapter close, like `KEVENT`.
pub trait EventOps: Send + Sync {
    /// Sets the event and wakes every waiter. Callable up to [`Irql::Dispatch`]; never blocks.
    fn signal(&self);
    /// Clears the event.
    fn reset(&self);
    /// Whether the event is set.
    fn is_signaled(&self) -> bool;
    /// Blocks until the event is set. Panics (host) if called at [`Irql::Dispatch`] or with a
    /// provider lock held.
    fn wait(&self);
    /// Like [`EventOps::wait`] with a bound; returns whether the event was set.
    fn wait_timeout(&self, timeout: Duration) -> bool;
}

/// A spin lock: acquiring it raises to [`Irql::Dispatch`] until the guard drops, like
/// `KeAcquireSpinLockRaiseToDpc`/`KeReleaseSpinLock`.
///
/// Guards must be released in reverse order of acquisition (each restores the IRQL it saw).
/// A consumer callback must never run while a guard is alive
/// ([`PlatformOps::assert_no_provider_lock_held`]).
pub trait SpinLockOps<T: Send>: Send + Sync + Sized {
    /// Guard giving access to the protected value.
    type Guard<'a>: DerefMut<Target = T>
    where
        Self: 'a;

    /// A lock at `level` in the lock order protecting `value`.
    fn new(level: LockLevel, value: T) -> Self;
    /// Spins until the lock is free. Panics (host) on a lock-order violation.
    fn lock(&self) -> Self::Guard<'_>;
    /// Takes the lock only if it is free right now.
    fn try_lock(&self) -> Option<Self::Guard<'_>>;
    /// Access through an exclusive reference: no locking needed.
    fn get_mut(&mut self) -> &mut T;
    /// Consumes the lock.
    fn into_inner(self) -> T;
    /// This lock's level.
    fn level(&self) -> LockLevel;
}

/// Registered memory as the provider core sees it: a byte range it may read and write at
/// (offset, length), bounds-checked, without `unsafe`.
///
/// Host: consumer-described byte ranges (one or more segments). Kernel: an MDL chain mapped
/// with `MmGetSystemAddressForMdlSafe`. The consumer guarantees the memory stays valid while it
/// is registered (the NDK contract for registered memory), which is what makes these safe.
pub trait RegionOps: Send + Sync {
    /// Length in bytes.
    fn len(&self) -> usize;

    /// Whether the region is zero bytes long.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies `dst.len()` bytes starting at `offset` out of the region.
    ///
    /// # Errors
    ///
    /// [`RegionError`] if the range is not inside the region; `dst` is then untouched.
    fn read(&self, offset: usize, dst: &mut [u8]) -> Result<(), RegionError>;

    /// Copies `src` into the region starting at `offset`.
    ///
    /// # Errors
    ///
    /// [`RegionError`] if the range is not inside the region; the region is then untouched.
    fn write(&self, offset: usize, src: &[u8]) -> Result<(), RegionError>;

    /// Copies `len` bytes from `src` at `src_offset` to `dst` at `dst_offset`, each byte once,
    /// in chunks that avoid the 4 KiB-aliasing slow path ([`alias_safe_chunk`]). `dst` and
    /// `src` may be the same region; overlapping ranges behave like `memmove`.
    ///
    /// # Errors
    ///
    /// [`RegionError`] (for whichever side is out of range, destination checked first) if
    /// either range is not inside its region; nothing is copied then.
    fn copy_between(
        dst: &Self,
        dst_offset: usize,
        src: &Self,
        src_offset: usize,
        len: usize,
    ) -> Result<(), RegionError>
    where
        Self: Sized;
}

/// One platform instance: what a provider adapter holds to reach the OS.
///
/// IRQL and lock checks are properties of the current thread/CPU, hence associated functions;
/// deferred work, time and allocation accounting belong to the instance so that host tests can
/// run side by side, each with its own scheduler mode and fault plan.
pub trait PlatformOps: Clone + Send + Sync + 'static {
    /// Pre-allocated deferred-work item.
    type Dpc: DpcOps;
    /// Blocking event.
    type Event: EventOps;
    /// Proof that one allocation was admitted; dropping it ends the allocation's accounting.
    type AllocToken: Send + Sync;

    /// The current thread's (kernel: processor's) IRQL.
    fn current_irql() -> Irql;

    /// Panics if the caller may not block: IRQL at [`Irql::Dispatch`] or a provider lock held.
    /// Every blocking primitive calls it, so "nothing waits at DISPATCH" is checked in tests.
    fn assert_can_block();

    /// Panics if a provider spin lock is held. The core calls it right before invoking any
    /// consumer callback (a callback may re-enter the provider and take the same lock).
    fn assert_no_provider_lock_held();

    /// The monotonic clock.
    fn now(&self) -> Timestamp;

    /// Sends one diagnostic line to the OS's debugger log. Callable up to [`Irql::Dispatch`],
    /// with or without provider locks held; never allocates on the kernel, never blocks,
    /// never fails (a line nobody listens to is dropped).
    ///
    /// Kernel: `DbgPrintEx(DPFLTR_IHVNETWORK_ID, DPFLTR_ERROR_LEVEL, "%s\n", line)`. Host:
    /// nothing unless asked — the instance collects the lines for a test, or writes them to
    /// stderr (`Host::set_debug_print`, or `SOFTNDK_DEBUG_PRINT=stderr`).
    fn debug_print(&self, line: &DebugLine);

    /// Stops in the debugger, if one is attached, so a developer sees the caller's stack (the
    /// provider verifier's `SoftNdkVerifier` = 2). Callable up to [`Irql::Dispatch`]; call it
    /// with no provider lock held (a stopped processor holding a lock would stall the others
    /// that want it). Never allocates, never fails; with no debugger attached it does nothing.
    ///
    /// Kernel: `DbgBreakPoint()` only when `KD_DEBUGGER_NOT_PRESENT` reads FALSE — a
    /// breakpoint nobody handles is a bug check, so it never breaks without a debugger. Host:
    /// counts the break on this instance (`Host::debug_breaks`) and never stops the process.
    fn debug_break(&self);

    /// Admits (or, under fault injection, refuses) one allocation made at `site`.
    ///
    /// # Errors
    ///
    /// [`AllocError`] when the allocation must fail.
    fn alloc_gate(&self, site: &'static Location<'static>) -> Result<Self::AllocToken, AllocError>;

    /// Allocates a deferred-work item running `work`.
    ///
    /// # Errors
    ///
    /// [`AllocError`] if the item (or the queue space it reserves) cannot be allocated.
    fn new_dpc<W: DeferredWork>(&self, work: W) -> Result<Self::Dpc, AllocError>;

    /// Defers a one-shot closure (allocates; for paths that may fail, never for closing an idle
    /// object). It runs at [`Irql::Dispatch`] with no provider lock held.
    ///
    /// # Errors
    ///
    /// [`AllocError`] if the closure cannot be stored; it is then dropped without running.
    fn try_defer<F: FnOnce() + Send + 'static>(&self, f: F) -> Result<(), AllocError>;

    /// A new, unsignalled event. On the kernel its `KEVENT` lives in its own pool block, so the
    /// returned handle may be moved freely; the host never fails.
    ///
    /// # Errors
    ///
    /// [`AllocError`] if the event's storage cannot be allocated.
    fn try_new_event(&self) -> Result<Self::Event, AllocError>;

    /// Moves `value` into a fallible, accounted heap allocation.
    ///
    /// # Errors
    ///
    /// [`AllocError`]; `value` is dropped.
    #[track_caller]
    fn try_box<T>(&self, value: T) -> Result<PoolBox<T, Self::AllocToken>, AllocError> {
        let token = self.alloc_gate(Location::caller())?;
        PoolBox::try_new(value, token)
    }

    /// Moves `value` into a new `Arc`, admitted by [`PlatformOps::alloc_gate`] like every other
    /// allocation (so host fault injection reaches it).
    ///
    /// This is how provider objects are allocated (then handed to
    /// `lifetime::Base::from_arc`): never `Arc::new`, which aborts — on the kernel, bug-checks —
    /// when memory is short, as it is under Driver Verifier's low-resources simulation. The
    /// kernel build allocates with `Arc::try_new`; the host checks the gate and then uses
    /// `Arc::new` (stable Rust has no fallible `Arc`; a real host out-of-memory ends the test
    /// process, which is acceptable there). The admission token is not kept: `Arc` memory is
    /// not counted in the host's live-allocation balance.
    ///
    /// # Errors
    ///
    /// [`AllocError`]; `value` is dropped.
    #[track_caller]
    fn try_arc<T>(&self, value: T) -> Result<crate::sync::Arc<T>, AllocError> {
        let admitted = self.alloc_gate(Location::caller())?;
        drop(admitted);
        pool::try_arc(value)
    }

    /// An empty vector that can hold `capacity` elements and never grows.
    ///
    /// # Errors
    ///
    /// [`AllocError`].
    #[track_caller]
    fn try_vec_with_capacity<T>(
        &self,
        capacity: usize,
    ) -> Result<PoolVec<T, Self::AllocToken>, AllocError> {
        let token = self.alloc_gate(Location::caller())?;
        PoolVec::try_with_capacity(capacity, token)
    }

    /// A fixed-length slice whose element `i` is `init(i)` (rings, tables).
    ///
    /// # Errors
    ///
    /// [`AllocError`].
    #[track_caller]
    fn try_slice<T, F: FnMut(usize) -> T>(
        &self,
        len: usize,
        init: F,
    ) -> Result<PoolSlice<T, Self::AllocToken>, AllocError> {
        let token = self.alloc_gate(Location::caller())?;
        PoolSlice::try_from_fn(len, init, token)
    }
}
