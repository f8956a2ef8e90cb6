//! The provider-side verifier's state: the per-adapter switch, record of consumer misuse and
//! quarantine of closed objects, and the per-queue "poster inside" markers of the post guard.
//!
//! Owns the data only; the checks themselves (poisoning a closed object's header, refusing a
//! call through a poisoned object, guarding the post entries) are the dispatch layer's, in
//! `dispatch::misuse`, because they touch consumer-visible memory. See
//! `docs/provider-verifier.md`.
//!
//! Everything here is bounded and allocated when the adapter opens (only when the checks are
//! on; a queue's markers live in its QP or SRQ): reporting, parking and guarding never allocate,
//! never block and never panic, so they may run at `DISPATCH_LEVEL`. Every report is also
//! printed, as one line formatted on the stack, to the platform's debugger log (`DbgPrintEx` on
//! the kernel), so a kernel driver's reports are seen without a debugger extension reading the
//! ring. With `SoftNdkVerifier` = 2 ([`MisuseChecks::ON_BREAK`]) each report then also stops in
//! the kernel debugger, when one is attached, on the consumer's stack. The locks are leaves:
//! nothing is called while one is held — objects evicted from the quarantine, the debugger-log
//! line, the break and the report sink run after the lock is released.
//!
//! Must never: hold a lock while dropping a quarantined object, printing, breaking or calling
//! the sink, allocate after the adapter opened, or report (or break) while the checks are off.
#![deny(unsafe_code)]

use core::any::Any;
use core::fmt;

use crate::abi::NDK_OBJECT_TYPE;
use crate::platform::prelude::*;
use crate::platform::{AllocError, DebugLine, PSlice, Platform, SpinLock};
use crate::sync::{Arc, AtomicBool, Ordering};

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
        /// Stop in the debugger at each report, after its line is printed
        /// ([`PlatformOps::debug_break`]: on the kernel only when a kernel debugger is
        /// attached, so the consumer's stack is on screen; never a bug check).
        debug_break: bool,
    },
}

impl MisuseChecks {
    /// The default quarantine capacity.
    pub const QUARANTINE: u32 = 1024;
    /// Checks on with the default quarantine, reports printed but never stopping.
    pub const ON: Self = Self::On {
        quarantine: Self::QUARANTINE,
        debug_break: false,
    };
    /// Checks on with the default quarantine, stopping in the debugger at each report
    /// (`SoftNdkVerifier` = 2).
    pub const ON_BREAK: Self = Self::On {
        quarantine: Self::QUARANTINE,
        debug_break: true,
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

    /// The setting a `SoftNdkVerifier` registry value (`REG_DWORD`) asks for: 0 off, 1 on with
    /// the default quarantine, 2 the same and a break into the kernel debugger at each report
    /// ([`MisuseChecks::ON_BREAK`]); `None` for any other number (the caller then keeps
    /// [`MisuseChecks::DEFAULT`], see `miniport::config::verifier_checks`).
    #[must_use]
    pub const fn from_registry(value: u32) -> Option<Self> {
        match value {
            0 => Some(Self::Off),
            1 => Some(Self::ON),
            2 => Some(Self::ON_BREAK),
            _ => None,
        }
    }

    /// Whether the checks are on.
    #[must_use]
    pub const fn is_on(self) -> bool {
        matches!(self, Self::On { .. })
    }

    /// Whether each report also stops in the debugger (only ever with the checks on).
    #[must_use]
    pub const fn breaks(self) -> bool {
        matches!(
            self,
            Self::On {
                debug_break: true,
                ..
            }
        )
    }
}

/// What the consumer did wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MisuseKind {
    /// A call on an object after its close started (§5.3: close is the last call).
    CallOnClosedObject,
    /// `NdkCloseObject` on an object whose close already started.
    CloseTwice,
    /// A post that began while another post on the same queue had not returned (§6.1).
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
            (MisuseKind::CloseTwice, Detail::Slot(slot)) => {
                write!(f, "SoftNDK verifier: {name} {at:#x} closed twice ({slot})")
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

struct Inner {
    reports: SpinLock<Reports>,
    quarantine: SpinLock<Quarantine>,
    /// Where every report's line goes (kernel: `DbgPrintEx`; host: as the test chose).
    platform: Platform,
    /// Whether every report, once printed, also stops in the debugger.
    debug_break: bool,
}

/// An adapter's misuse state (`verbs::Adapter::misuse`). Empty, and free, when the checks are
/// off.
///
/// Cloning shares the state: the connection manager's objects keep a clone, because their link
/// to the adapter is gone once they are finalised while a quarantined one must still report on
/// its adapter. The clones a quarantined object holds form a cycle with the quarantine, which
/// [`Monitor::release_quarantine`] (the adapter's finaliser) breaks.
#[derive(Clone)]
pub struct Monitor {
    inner: Option<Arc<Inner>>,
}

impl fmt::Debug for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Monitor")
            .field("on", &self.is_on())
            .field("reported", &self.count())
            .finish_non_exhaustive()
    }
}

impl Monitor {
    /// The state for `checks`, allocated now (nothing when off).
    ///
    /// # Errors
    ///
    /// [`AllocError`] when the rings cannot be allocated.
    pub fn new(checks: MisuseChecks, platform: &Platform) -> Result<Self, AllocError> {
        let MisuseChecks::On {
            quarantine,
            debug_break,
        } = checks
        else {
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
            platform: platform.clone(),
            debug_break,
        };
        Ok(Self {
            inner: Some(platform.try_arc(inner)?),
        })
    }

    /// Whether the checks are on.
    #[must_use]
    pub const fn is_on(&self) -> bool {
        self.inner.is_some()
    }

    /// The post markers of a new QP or SRQ of this adapter (watched when the checks are on).
    #[must_use]
    #[allow(clippy::missing_const_for_fn)] // loom's atomics (under `--cfg loom`) are not const
    pub fn post_markers(&self) -> PostMarkers {
        PostMarkers::new(self.is_on())
    }

    /// Records `misuse`, prints its line to the platform's debugger log
    /// ([`PlatformOps::debug_print`]: `DbgPrintEx` on the kernel), stops in the debugger if
    /// the checks were opened with `debug_break` ([`PlatformOps::debug_break`]: the kernel
    /// breaks only when a kernel debugger is attached) and hands it to the sink. Nothing when
    /// the checks are off. The print and the break run with no provider lock held (the ring's
    /// lock is released first), so a debugger stopped here holds up no other processor's
    /// provider call.
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
        // Formatted on this stack, printed with no lock held: no allocation, no wait.
        inner
            .platform
            .debug_print(&DebugLine::format(format_args!("{misuse}")));
        if inner.debug_break {
            // After the line, so the debugger shows what stopped it; the stack is the
            // consumer's call that misbehaved.
            inner.platform.debug_break();
        }
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
}

/// How a post entered its queue's marker ([`PostMarkers::enter`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum PostEntry {
    /// The checks are off for this queue: nothing was taken, nothing to release.
    Unwatched,
    /// This post took the marker; [`PostMarkers::exit`] releases it.
    Held,
    /// Another post on this queue had not returned yet: the marker stays with that post.
    Overlap,
}

/// The "poster inside" markers of one object's queues: a QP's initiator and receive queues, or
/// the one queue of an SRQ (which uses the receive marker).
///
/// A post takes its queue's marker with one compare-exchange and gives it back with one store;
/// a post that finds the marker taken overlaps another post on the same queue. No thread
/// identity is involved, so the kernel and host builds detect the same overlaps. Whether the
/// markers are used is fixed when the object is created (its adapter's checks): with the checks
/// off, a post reads that one flag and touches nothing else.
pub struct PostMarkers {
    on: bool,
    initiator: AtomicBool,
    receive: AtomicBool,
}

impl fmt::Debug for PostMarkers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostMarkers")
            .field("on", &self.on)
            .finish_non_exhaustive()
    }
}

impl PostMarkers {
    /// Markers that are used only when `on`.
    #[must_use]
    #[allow(clippy::missing_const_for_fn)] // loom's atomics (under `--cfg loom`) are not const
    pub fn new(on: bool) -> Self {
        Self {
            on,
            initiator: AtomicBool::new(false),
            receive: AtomicBool::new(false),
        }
    }

    /// Whether posts on these queues are guarded (the adapter's checks were on at creation).
    #[must_use]
    pub const fn is_on(&self) -> bool {
        self.on
    }

    const fn marker(&self, queue: Queue) -> &AtomicBool {
        match queue {
            Queue::Initiator => &self.initiator,
            Queue::Receive | Queue::Srq => &self.receive,
        }
    }

    /// Enters a post on `queue`.
    pub fn enter(&self, queue: Queue) -> PostEntry {
        if !self.on {
            return PostEntry::Unwatched;
        }
        match self
            .marker(queue)
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => PostEntry::Held,
            Err(_) => PostEntry::Overlap,
        }
    }

    /// Leaves a post entered with [`PostMarkers::enter`] (releases the marker if it took it).
    pub fn exit(&self, queue: Queue, entry: PostEntry) {
        if entry == PostEntry::Held {
            self.marker(queue).store(false, Ordering::Release);
        }
    }

    /// Whether a post on `queue` is inside its marker now (diagnostics and tests).
    #[must_use]
    pub fn is_inside(&self, queue: Queue) -> bool {
        self.marker(queue).load(Ordering::Acquire)
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::host::Host;
    use alloc::string::ToString;

    fn on(quarantine: u32) -> Monitor {
        Monitor::new(
            MisuseChecks::On {
                quarantine,
                debug_break: false,
            },
            &Host::deterministic(),
        )
        .unwrap()
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
        let markers = m.post_markers();
        assert!(!markers.is_on());
        assert_eq!(markers.enter(Queue::Receive), PostEntry::Unwatched);
        assert_eq!(
            markers.enter(Queue::Receive),
            PostEntry::Unwatched,
            "nothing was taken"
        );
        assert!(!markers.is_inside(Queue::Receive));
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
    fn a_post_marker_is_held_by_one_post_per_queue() {
        let markers = on(0).post_markers();
        let outer = markers.enter(Queue::Initiator);
        assert_eq!(outer, PostEntry::Held);
        assert!(markers.is_inside(Queue::Initiator));
        let inner = markers.enter(Queue::Initiator);
        assert_eq!(
            inner,
            PostEntry::Overlap,
            "a second post before the first returned"
        );
        markers.exit(Queue::Initiator, inner);
        assert!(
            markers.is_inside(Queue::Initiator),
            "the overlapping post does not release the first one's marker"
        );
        let receive = markers.enter(Queue::Receive);
        assert_eq!(
            receive,
            PostEntry::Held,
            "another queue is never a conflict"
        );
        assert_eq!(
            markers.enter(Queue::Srq),
            PostEntry::Overlap,
            "an SRQ uses the receive marker"
        );
        markers.exit(Queue::Receive, receive);
        std::thread::scope(|s| {
            s.spawn(|| {
                assert_eq!(markers.enter(Queue::Initiator), PostEntry::Overlap);
            });
        });
        markers.exit(Queue::Initiator, outer);
        assert!(!markers.is_inside(Queue::Initiator));
        let again = markers.enter(Queue::Initiator);
        assert_eq!(again, PostEntry::Held, "free again");
        markers.exit(Queue::Initiator, again);
    }

    #[test]
    fn each_line_names_the_rule_the_object_and_the_slot_or_queue() {
        let line = |kind, object_type, detail| {
            Misuse {
                kind,
                object_type,
                object: 0xAB0,
                detail,
            }
            .to_string()
        };
        let q = Detail::Queue {
            queue: Queue::Srq,
            depth: 7,
        };
        let cases = [
            (
                line(
                    MisuseKind::CallOnClosedObject,
                    NDK_OBJECT_TYPE::CQ,
                    Detail::Slot("NdkArmCq"),
                ),
                "SoftNDK verifier: NdkArmCq called on closed CQ 0xab0",
            ),
            (
                line(
                    MisuseKind::CallOnClosedObject,
                    NDK_OBJECT_TYPE::MW,
                    Detail::None,
                ),
                "SoftNDK verifier: closed MW 0xab0 passed to a call",
            ),
            (
                line(
                    MisuseKind::CloseTwice,
                    NDK_OBJECT_TYPE::PD,
                    Detail::Slot("NdkCloseObject"),
                ),
                "SoftNDK verifier: PD 0xab0 closed twice (NdkCloseObject)",
            ),
            (
                line(
                    MisuseKind::CloseTwice,
                    NDK_OBJECT_TYPE::CONNECTOR,
                    Detail::None,
                ),
                "SoftNDK verifier: connector 0xab0 closed twice",
            ),
            (
                line(MisuseKind::ConcurrentPost, NDK_OBJECT_TYPE::SRQ, q),
                "SoftNDK verifier: concurrent posts on the Srq queue of SRQ 0xab0",
            ),
            (
                line(MisuseKind::QueueOverflow, NDK_OBJECT_TYPE::SRQ, q),
                "SoftNDK verifier: post beyond the Srq queue depth 7 of SRQ 0xab0",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
            assert!(
                got.len() < crate::platform::DEBUG_LINE_CAPACITY,
                "fits a debug line"
            );
        }
    }

    #[test]
    fn registry_values() {
        assert_eq!(MisuseChecks::from_registry(0), Some(MisuseChecks::Off));
        assert_eq!(MisuseChecks::from_registry(1), Some(MisuseChecks::ON));
        assert_eq!(MisuseChecks::from_registry(2), Some(MisuseChecks::ON_BREAK));
        for out_of_range in [3, 8, 0x8000_0000, u32::MAX] {
            assert_eq!(MisuseChecks::from_registry(out_of_range), None);
        }
        assert!(MisuseChecks::DEFAULT.is_on(), "host builds check");
        assert!(
            !MisuseChecks::DEFAULT.breaks(),
            "no build breaks by default"
        );
        assert!(MisuseChecks::ON_BREAK.is_on() && MisuseChecks::ON_BREAK.breaks());
        assert!(!MisuseChecks::ON.breaks() && !MisuseChecks::Off.breaks());
    }

    #[test]
    fn each_report_breaks_once_only_when_asked() {
        for (checks, per_report) in [
            (MisuseChecks::Off, 0),
            (MisuseChecks::ON, 0),
            (MisuseChecks::ON_BREAK, 1),
            (
                MisuseChecks::On {
                    quarantine: 0,
                    debug_break: true,
                },
                1,
            ),
        ] {
            let p = Host::deterministic();
            p.set_debug_print(crate::platform::host::DebugPrint::Collect);
            let m = Monitor::new(checks, &p).unwrap();
            for i in 0..3 {
                m.report(misuse(i));
            }
            assert_eq!(p.debug_breaks(), 3 * per_report, "{checks:?}");
            assert_eq!(
                p.take_debug_lines().len() as u64,
                m.count(),
                "a break never replaces the line ({checks:?})"
            );
        }
    }
}
