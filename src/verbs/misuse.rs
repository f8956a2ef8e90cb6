//! The provider-side verifier's per-adapter state: the switch, the record of consumer misuse,
//! the quarantine of closed objects and the "poster inside" table of the post guard.
//!
//! Owns the data only; the checks themselves (poisoning a closed object's header, refusing a
//! call through a poisoned object, guarding the post entries) are the dispatch layer's, in
//! `dispatch::misuse`, because they touch consumer-visible memory. See
//! `docs/provider-verifier.md`.
//!
//! Everything here is bounded and allocated when the adapter opens (only when the checks are
//! on): reporting, parking and guarding never allocate, never block and never panic, so they may
//! run at `DISPATCH_LEVEL`. The locks are leaves: nothing is called while one is held — objects
//! evicted from the quarantine and the report sink run after the lock is released.
//!
//! Must never: hold a lock while dropping a quarantined object or calling the sink, allocate
//! after the adapter opened, or report anything while the checks are off.
#![deny(unsafe_code)]

use core::any::Any;
use core::fmt;

use crate::abi::NDK_OBJECT_TYPE;
use crate::platform::prelude::*;
use crate::platform::{AllocError, PBox, PSlice, Platform, SpinLock};
use crate::sync::{Arc, AtomicUsize, Ordering};

use super::lock_order;

/// Whether an adapter checks for consumer misuse, and how many closed objects it keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MisuseChecks {
    /// No checks: no quarantine, no post guard, nothing reported (release kernel builds).
    Off,
    /// Checks on; up to `quarantine` closed objects are kept poisoned before their memory is
    /// released (0: poison and report, but release memory as before).
    On {
        /// Capacity of the FIFO quarantine.
        quarantine: u32,
    },
}

impl MisuseChecks {
    /// The default quarantine capacity.
    pub const QUARANTINE: u32 = 1024;
    /// The largest quarantine capacity [`MisuseChecks::from_registry`] accepts.
    pub const MAX_QUARANTINE: u32 = 65_536;
    /// Checks on with the default quarantine.
    pub const ON: Self = Self::On {
        quarantine: Self::QUARANTINE,
    };
    /// On in debug and host builds, off in release kernel builds.
    pub const DEFAULT: Self = if cfg!(all(
        feature = "kernel",
        not(feature = "std"),
        not(debug_assertions)
    )) {
        Self::Off
    } else {
        Self::ON
    };

    /// The setting for the `SoftNdkVerifier` registry keyword (`REG_DWORD`): 0 off, 1 on with
    /// the default quarantine, any larger value on with that many quarantined objects (at most
    /// [`MisuseChecks::MAX_QUARANTINE`]).
    #[must_use]
    pub const fn from_registry(value: u32) -> Self {
        match value {
            0 => Self::Off,
            1 => Self::ON,
            n if n > Self::MAX_QUARANTINE => Self::On {
                quarantine: Self::MAX_QUARANTINE,
            },
            n => Self::On { quarantine: n },
        }
    }

    /// Whether the checks are on.
    #[must_use]
    pub const fn is_on(self) -> bool {
        matches!(self, Self::On { .. })
    }
}

/// What the consumer did wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MisuseKind {
    /// A call on an object after its close started (§5.3: close is the last call).
    CallOnClosedObject,
    /// `NdkCloseObject` on an object whose close already started.
    CloseTwice,
    /// A post while another thread is inside a post on the same queue (§6.1).
    ConcurrentPost,
    /// A post on a queue already holding its depth of outstanding requests (§6.2).
    QueueOverflow,
}

/// Which work queue a post targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Queue {
    /// A QP's initiator queue (send, read, write, bind, fast-register, invalidate).
    Initiator,
    /// A QP's receive queue.
    Receive,
    /// A shared receive queue.
    Srq,
}

impl Queue {
    /// Distinguishes the queues of one object in the poster table (objects are at least
    /// 8-aligned, so the low bits of their address are free).
    const fn tag(self) -> usize {
        match self {
            Self::Initiator => 0,
            Self::Receive => 1,
            Self::Srq => 2,
        }
    }
}

/// More about one misuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Detail {
    /// Nothing more is known (e.g. a stale pointer passed to another object's call).
    None,
    /// The dispatch slot the consumer called.
    Slot(&'static str),
    /// The queue and its depth.
    Queue {
        /// Which queue.
        queue: Queue,
        /// Its depth (outstanding requests it may hold).
        depth: u32,
    },
}

/// One reported consumer misuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Misuse {
    /// What happened.
    pub kind: MisuseKind,
    /// The object's type (for a closed object: the type it had).
    pub object_type: NDK_OBJECT_TYPE,
    /// The object's address (the consumer's `NDK_xxx*`).
    pub object: usize,
    /// More about it.
    pub detail: Detail,
}

impl Misuse {
    const EMPTY: Self = Self {
        kind: MisuseKind::CallOnClosedObject,
        object_type: NDK_OBJECT_TYPE::UNDEFINED,
        object: 0,
        detail: Detail::None,
    };
}

/// The NDK name of an object type, for messages.
const fn type_name(t: NDK_OBJECT_TYPE) -> &'static str {
    match t.0 {
        1 => "adapter",
        2 => "QP",
        3 => "CQ",
        4 => "MR",
        5 => "MW",
        6 => "PD",
        7 => "shared endpoint",
        8 => "connector",
        9 => "listener",
        10 => "SRQ",
        _ => "object",
    }
}

impl fmt::Display for Misuse {
    /// One line, for a debugger log (`DbgPrintEx`) or a test failure.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = type_name(self.object_type);
        let at = self.object;
        match (self.kind, self.detail) {
            (MisuseKind::CallOnClosedObject, Detail::Slot(slot)) => {
                write!(
                    f,
                    "SoftNDK verifier: {slot} called on closed {name} {at:#x}"
                )
            }
            (MisuseKind::CallOnClosedObject, _) => {
                write!(
                    f,
                    "SoftNDK verifier: closed {name} {at:#x} passed to a call"
                )
            }
            (MisuseKind::CloseTwice, _) => {
                write!(f, "SoftNDK verifier: {name} {at:#x} closed twice")
            }
            (MisuseKind::ConcurrentPost, Detail::Queue { queue, .. }) => write!(
                f,
                "SoftNDK verifier: concurrent posts on the {queue:?} queue of {name} {at:#x}"
            ),
            (MisuseKind::QueueOverflow, Detail::Queue { queue, depth }) => write!(
                f,
                "SoftNDK verifier: post beyond the {queue:?} queue depth {depth} of {name} {at:#x}"
            ),
            (kind, _) => write!(f, "SoftNDK verifier: {kind:?} on {name} {at:#x}"),
        }
    }
}

/// Where reports go besides the adapter's own ring (the miniport's debugger log, a test).
///
/// Called on the reporting thread, at its IRQL (up to `DISPATCH_LEVEL`), with no provider lock
/// held, possibly from inside a consumer's call (a post). It must not block and must not call
/// back into the provider on the object it is told about.
pub trait MisuseSink: Send + Sync {
    /// One misuse, already recorded in the adapter's ring.
    fn report(&self, misuse: &Misuse);
}

/// Reports kept per adapter (older ones are overwritten; [`Monitor::count`] counts them all).
pub const REPORTS_KEPT: usize = 64;
/// Queues the post guard can watch at the same moment per adapter (a direct-mapped table:
/// two queues colliding in it at the same moment leave the later one unchecked).
pub const POSTER_SLOTS: usize = 64;

/// A closed object kept alive (its memory only) by the quarantine.
pub type Parked = Arc<dyn Any + Send + Sync>;

struct Reports {
    ring: PSlice<Misuse>,
    /// Index of the oldest kept report.
    head: usize,
    len: usize,
    total: u64,
    sink: Option<&'static dyn MisuseSink>,
}

struct Quarantine {
    ring: PSlice<Option<Parked>>,
    head: usize,
    len: usize,
    /// Set once the adapter released everything: later parks release at once.
    drained: bool,
}

/// One slot of the poster table: the queue being posted to and the posting thread.
struct Poster {
    queue: AtomicUsize,
    owner: AtomicUsize,
}

struct Inner {
    reports: SpinLock<Reports>,
    quarantine: SpinLock<Quarantine>,
    posters: PSlice<Poster>,
}

/// An adapter's misuse state (`verbs::Adapter::misuse`). Empty, and free, when the checks are
/// off.
pub struct Monitor {
    inner: Option<PBox<Inner>>,
}

impl fmt::Debug for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Monitor")
            .field("on", &self.is_on())
            .field("reported", &self.count())
            .finish_non_exhaustive()
    }
}

/// How a post entered the guard.
#[derive(Debug)]
#[must_use]
pub enum PostEntry {
    /// Not watched (checks off, this thread is already inside a post on the queue, or the
    /// table slot is taken by another queue): nothing to release.
    Unwatched,
    /// This post holds the queue's slot; release it with [`Monitor::exit_post`].
    Held(usize),
    /// Another thread is inside a post on this queue.
    Concurrent,
}

/// An identity of the current thread for the post guard, `None` where the platform offers none
/// yet (the kernel build: it then never reports concurrent posts rather than risk reporting a
/// re-entrant post from inside a callback the provider made).
#[cfg(feature = "std")]
#[allow(clippy::unnecessary_wraps)] // the kernel build's signature
fn thread_token() -> Option<usize> {
    std::thread_local! {
        static TOKEN: u8 = const { 0 };
    }
    Some(TOKEN.with(|t| core::ptr::from_ref(t).addr()))
}

#[cfg(not(feature = "std"))]
const fn thread_token() -> Option<usize> {
    None
}

impl Monitor {
    /// The state for `checks`, allocated now (nothing when off).
    ///
    /// # Errors
    ///
    /// [`AllocError`] when the rings cannot be allocated.
    pub fn new(checks: MisuseChecks, platform: &Platform) -> Result<Self, AllocError> {
        let MisuseChecks::On { quarantine } = checks else {
            return Ok(Self { inner: None });
        };
        let inner = Inner {
            reports: SpinLock::new(
                lock_order::LEAF,
                Reports {
                    ring: platform.try_slice(REPORTS_KEPT, |_| Misuse::EMPTY)?,
                    head: 0,
                    len: 0,
                    total: 0,
                    sink: None,
                },
            ),
            quarantine: SpinLock::new(
                lock_order::LEAF,
                Quarantine {
                    ring: platform.try_slice(quarantine as usize, |_| None)?,
                    head: 0,
                    len: 0,
                    drained: false,
                },
            ),
            posters: platform.try_slice(POSTER_SLOTS, |_| Poster {
                queue: AtomicUsize::new(0),
                owner: AtomicUsize::new(0),
            })?,
        };
        Ok(Self {
            inner: Some(platform.try_box(inner)?),
        })
    }

    /// Whether the checks are on.
    #[must_use]
    pub const fn is_on(&self) -> bool {
        self.inner.is_some()
    }

    /// Records `misuse` and hands it to the sink. Nothing when the checks are off.
    pub fn report(&self, misuse: Misuse) {
        let Some(inner) = &self.inner else {
            return;
        };
        let sink = {
            let mut r = inner.reports.lock();
            let cap = r.ring.len();
            let at = (r.head + r.len) % cap;
            r.ring[at] = misuse;
            if r.len == cap {
                r.head = (r.head + 1) % cap;
            } else {
                r.len += 1;
            }
            r.total += 1;
            r.sink
        };
        if let Some(sink) = sink {
            sink.report(&misuse);
        }
    }

    /// Every misuse reported so far (saturating; 0 when off).
    #[must_use]
    pub fn count(&self) -> u64 {
        self.inner.as_ref().map_or(0, |i| i.reports.lock().total)
    }

    /// The kept reports, oldest first (diagnostics, PASSIVE: allocates the copy).
    #[must_use]
    pub fn reports(&self) -> alloc::vec::Vec<Misuse> {
        let Some(inner) = &self.inner else {
            return alloc::vec::Vec::new();
        };
        let r = inner.reports.lock();
        let cap = r.ring.len();
        (0..r.len).map(|i| r.ring[(r.head + i) % cap]).collect()
    }

    /// Sets (or, with `None`, removes) the sink every later report is handed to.
    pub fn set_sink(&self, sink: Option<&'static dyn MisuseSink>) {
        if let Some(inner) = &self.inner {
            inner.reports.lock().sink = sink;
        }
    }

    /// Keeps `object` in the quarantine. Returns what must be dropped now, after the lock: the
    /// oldest object when full, `object` itself when the checks are off, the capacity is 0 or
    /// the adapter already released its quarantine. The caller drops it with no lock held.
    #[must_use = "drop the returned object outside every provider lock"]
    pub fn park(&self, object: Parked) -> Option<Parked> {
        let Some(inner) = &self.inner else {
            return Some(object);
        };
        let mut q = inner.quarantine.lock();
        let cap = q.ring.len();
        if q.drained || cap == 0 {
            return Some(object);
        }
        let at = (q.head + q.len) % cap;
        let evicted = q.ring[at].replace(object);
        if q.len == cap {
            q.head = (q.head + 1) % cap;
        } else {
            q.len += 1;
        }
        evicted
    }

    /// Releases every quarantined object, oldest first, each dropped with no lock held; later
    /// parks release at once. Called by the adapter's finaliser (every child is closed by then).
    pub fn release_quarantine(&self) {
        let Some(inner) = &self.inner else {
            return;
        };
        loop {
            let oldest = {
                let mut q = inner.quarantine.lock();
                q.drained = true;
                if q.len == 0 {
                    return;
                }
                let cap = q.ring.len();
                let head = q.head;
                q.head = (head + 1) % cap;
                q.len -= 1;
                q.ring[head].take()
            };
            drop(oldest);
        }
    }

    /// Addresses of the quarantined objects, oldest first (diagnostics, PASSIVE: allocates).
    #[must_use]
    pub fn quarantined(&self) -> alloc::vec::Vec<usize> {
        let Some(inner) = &self.inner else {
            return alloc::vec::Vec::new();
        };
        let q = inner.quarantine.lock();
        let cap = q.ring.len();
        (0..q.len)
            .filter_map(|i| q.ring[(q.head + i) % cap].as_ref())
            .map(|o| Arc::as_ptr(o).cast::<()>().addr())
            .collect()
    }

    /// Enters a post on `queue` of the object at `object`.
    pub fn enter_post(&self, object: usize, queue: Queue) -> PostEntry {
        let (Some(inner), Some(me)) = (&self.inner, thread_token()) else {
            return PostEntry::Unwatched;
        };
        let key = object | queue.tag();
        let index = slot_of(key);
        let slot = &inner.posters[index];
        match slot
            .queue
            .compare_exchange(0, key, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => {
                slot.owner.store(me, Ordering::Relaxed);
                PostEntry::Held(index)
            }
            // Held for this queue: by this thread (a post from inside a callback the provider
            // made from a post) or by another one. The owner is written right after the
            // queue, so a holder that is not us may still show 0: that is another thread too.
            Err(held) if held == key => {
                if slot.owner.load(Ordering::Relaxed) == me {
                    PostEntry::Unwatched
                } else {
                    PostEntry::Concurrent
                }
            }
            Err(_) => PostEntry::Unwatched,
        }
    }

    /// Leaves a post entered with [`Monitor::enter_post`].
    pub fn exit_post(&self, entry: &PostEntry) {
        if let (Some(inner), PostEntry::Held(index)) = (&self.inner, entry) {
            let slot = &inner.posters[*index];
            slot.owner.store(0, Ordering::Relaxed);
            slot.queue.store(0, Ordering::Release);
        }
    }
}

/// The poster-table slot of a queue key (Fibonacci hashing of the address).
const fn slot_of(key: usize) -> usize {
    let h = (key as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // The top bits index a power-of-two table, so the shifted value is below `POSTER_SLOTS`.
    #[allow(clippy::cast_possible_truncation)]
    let index = (h >> (64 - POSTER_SLOTS.trailing_zeros())) as usize;
    index
}

const _: () = assert!(POSTER_SLOTS.is_power_of_two());

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::host::Host;

    fn on(quarantine: u32) -> Monitor {
        Monitor::new(MisuseChecks::On { quarantine }, &Host::deterministic()).unwrap()
    }

    fn misuse(object: usize) -> Misuse {
        Misuse {
            kind: MisuseKind::CloseTwice,
            object_type: NDK_OBJECT_TYPE::CQ,
            object,
            detail: Detail::None,
        }
    }

    #[test]
    fn off_records_nothing_and_parks_nothing() {
        let m = Monitor::new(MisuseChecks::Off, &Host::deterministic()).unwrap();
        m.report(misuse(1));
        assert_eq!((m.count(), m.reports().len()), (0, 0));
        let obj: Parked = Arc::new(5_u32);
        assert!(m.park(Arc::clone(&obj)).is_some(), "handed straight back");
        assert!(m.quarantined().is_empty());
        assert!(matches!(
            m.enter_post(64, Queue::Receive),
            PostEntry::Unwatched
        ));
    }

    #[test]
    fn report_ring_keeps_the_newest_and_counts_all() {
        let m = on(4);
        for i in 0..(REPORTS_KEPT + 3) {
            m.report(misuse(i));
        }
        let kept = m.reports();
        assert_eq!(m.count(), (REPORTS_KEPT + 3) as u64);
        assert_eq!(kept.len(), REPORTS_KEPT);
        assert_eq!(kept[0].object, 3, "the three oldest were overwritten");
        assert_eq!(kept[REPORTS_KEPT - 1].object, REPORTS_KEPT + 2);
    }

    #[test]
    fn quarantine_is_fifo_and_releases_everything_once_drained() {
        let m = on(2);
        let objs: [Parked; 3] = [Arc::new(1_u8), Arc::new(2_u8), Arc::new(3_u8)];
        let addr = |o: &Parked| Arc::as_ptr(o).cast::<()>().addr();
        assert!(m.park(Arc::clone(&objs[0])).is_none());
        assert!(m.park(Arc::clone(&objs[1])).is_none());
        let evicted = m
            .park(Arc::clone(&objs[2]))
            .expect("full: the oldest leaves");
        assert_eq!(addr(&evicted), addr(&objs[0]));
        assert_eq!(m.quarantined(), [addr(&objs[1]), addr(&objs[2])]);
        drop(evicted);
        m.release_quarantine();
        assert!(m.quarantined().is_empty());
        assert!(
            objs.iter().all(|o| Arc::strong_count(o) == 1),
            "all released"
        );
        assert!(
            m.park(Arc::clone(&objs[0])).is_some(),
            "after draining: at once"
        );
    }

    #[test]
    fn post_guard_tells_nested_from_concurrent() {
        let m = on(0);
        let outer = m.enter_post(0x1000, Queue::Initiator);
        assert!(matches!(outer, PostEntry::Held(_)));
        assert!(
            matches!(m.enter_post(0x1000, Queue::Initiator), PostEntry::Unwatched),
            "the same thread again: a re-entrant post"
        );
        assert!(
            matches!(
                m.enter_post(0x1000, Queue::Receive),
                PostEntry::Held(_) | PostEntry::Unwatched
            ),
            "another queue of the same QP is never a conflict"
        );
        std::thread::scope(|s| {
            s.spawn(|| {
                assert!(matches!(
                    m.enter_post(0x1000, Queue::Initiator),
                    PostEntry::Concurrent
                ));
            });
        });
        m.exit_post(&outer);
        std::thread::scope(|s| {
            s.spawn(|| {
                let e = m.enter_post(0x1000, Queue::Initiator);
                assert!(matches!(e, PostEntry::Held(_)), "free again");
                m.exit_post(&e);
            });
        });
    }

    #[test]
    fn registry_values() {
        assert_eq!(MisuseChecks::from_registry(0), MisuseChecks::Off);
        assert_eq!(MisuseChecks::from_registry(1), MisuseChecks::ON);
        assert_eq!(
            MisuseChecks::from_registry(8),
            MisuseChecks::On { quarantine: 8 }
        );
        assert_eq!(
            MisuseChecks::from_registry(u32::MAX),
            MisuseChecks::On {
                quarantine: MisuseChecks::MAX_QUARANTINE
            }
        );
        assert!(MisuseChecks::DEFAULT.is_on(), "host builds check");
    }
}
