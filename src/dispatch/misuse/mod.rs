//! The provider-side verifier (issue 7): with [`MisuseChecks`] on, consumer misuse that would
//! corrupt memory in a hardware provider is detected, refused and reported instead.
//!
//! * **Closed objects.** [`on_close`] poisons a closing object's header (see [`poison`]) and
//!   parks one `Arc` of it in the adapter's bounded FIFO quarantine, so a later call through
//!   the stale pointer lands on valid, poisoned memory: through `Dispatch` it reaches a poison
//!   slot, through a cached real table it reaches `handle::borrow`, which sees the poisoned
//!   `ObjectType`. Either way the call is reported and fails.
//! * **A second close** is reported as [`MisuseKind::CloseTwice`] (`STATUS_INVALID_HANDLE`).
//! * **Concurrent posts on one queue** ([`post`]): each QP queue and each SRQ has a "poster
//!   inside" marker, taken by compare-exchange for the length of a post; a post that finds it
//!   taken overlaps another post on the same queue and is reported. It is still executed: the
//!   provider's queues are serialised by their own locks, so the overlap cannot corrupt
//!   anything here, and without thread identity an overlap may also be a post made from inside a
//!   callback the provider ran inline during a post, which must not fail.
//! * **Queue overflow**: a post refused because the queue is full is reported with the depth.
//!
//! Watched: every object type a consumer closes — CQ, PD, MR, MW, SRQ, QP, connector, listener
//! and shared endpoint — and every post: `NdkSend`, `NdkSendAndInvalidate`, `NdkWrite`,
//! `NdkRead`, `NdkBind`, `NdkFastRegister`, `NdkInvalidate` (initiator queue), `NdkReceive`
//! (receive queue) and `NdkSrqReceive`.
//!
//! Reports go to the adapter's ring ([`reports`], [`report_count`]) and to an optional
//! [`MisuseSink`] ([`set_sink`]). See `docs/provider-verifier.md`.
//!
//! Must never: read an object's `Dispatch`, poison an object it does not also quarantine,
//! allocate, block or panic on a report path, or add an atomic operation to the off path.
#![allow(unsafe_code)]

pub mod poison;
mod poison_cm;

use alloc::vec::Vec;
use core::ffi::c_void;
use core::ptr;

use crate::abi::{
    NDK_ADAPTER, NDK_OBJECT_HEADER, NDK_OBJECT_TYPE, NTSTATUS, NdkObject,
    STATUS_INSUFFICIENT_RESOURCES,
};
use crate::cm::ndk::{NdkConnector, NdkListener, NdkSharedEndpoint};
use crate::lifetime::Base;
use crate::sync::Arc;
use crate::verbs::misuse::{Monitor, Parked, PostEntry, PostMarkers};
use crate::verbs::{Adapter, Cq, Mr, Mw, Pd, Qp, Srq};

use super::handle::{self, Embedded, Handle};

pub use crate::verbs::misuse::{
    Detail, Misuse, MisuseChecks, MisuseKind, MisuseSink, Queue, REPORTS_KEPT,
};

/// What [`handle::Handle::watch`] gives for a watched type: the adapter's monitor and the
/// type's poison table.
#[derive(Debug)]
pub struct Watch<'a> {
    monitor: &'a Monitor,
    poison: *const c_void,
}

/// An object type the provider verifier watches: its adapter's monitor and its poison table.
///
/// Every type `report_closed` recognises implements it, and its `Handle::watch` answers with
/// it (`handle!(…, watched)` for the verbs objects, `connection.rs` for the CM objects).
pub trait Watched: Handle {
    /// The poison dispatch table of this type.
    const POISON: &'static <Self::Ndk as NdkObject>::Dispatch;
    /// The monitor of the adapter this object belongs to.
    fn monitor(&self) -> &Monitor;
}

/// The [`Watch`] of a watched object.
pub fn watch<T: Watched>(object: &T) -> Watch<'_> {
    Watch {
        monitor: object.monitor(),
        poison: ptr::from_ref(T::POISON).cast(),
    }
}

/// Implements [`Watched`]: the poison table and how the object reaches its adapter's monitor.
macro_rules! watched {
    ($($ty:ty: $table:path, |$o:ident| $monitor:expr;)+) => {
        $(
            impl Watched for $ty {
                const POISON: &'static <<Self as Embedded>::Ndk as NdkObject>::Dispatch = &$table;
                fn monitor(&self) -> &Monitor {
                    let $o = self;
                    $monitor
                }
            }
        )+
    };
}

watched! {
    Cq: poison::CQ, |o| o.adapter().misuse();
    Pd: poison::PD, |o| o.adapter().misuse();
    Mr: poison::MR, |o| o.pd().adapter().misuse();
    Mw: poison::MW, |o| o.pd().adapter().misuse();
    Srq: poison::SRQ, |o| o.pd().adapter().misuse();
    Qp: poison::QP, |o| o.pd().adapter().misuse();
    // The CM objects' links to their adapter are gone once finalised; their shells keep the
    // monitor.
    NdkConnector: poison_cm::CONNECTOR, |o| o.shell().monitor();
    NdkListener: poison_cm::LISTENER, |o| o.shell().monitor();
    NdkSharedEndpoint: poison_cm::SHARED_ENDPOINT, |o| o.shell().monitor();
}

/// Close hook of `NdkCloseObject`: poisons the header and quarantines the object.
///
/// Called after the object was adopted and before its close runs; does nothing with checks off
/// or for a type that is not watched. A full quarantine releases its oldest object here.
pub fn on_close<T: Handle>(base: &Base<T>) {
    let Some(watch) = base.watch() else {
        return;
    };
    if !watch.monitor.is_on() {
        return;
    }
    // `Arc::as_ptr` keeps the allocation's provenance (the `NdkCell` may be written through it).
    let header = Arc::as_ptr(base.arc())
        .cast::<NDK_OBJECT_HEADER>()
        .cast_mut();
    // SAFETY: `header` starts the object (NDK struct at offset 0), whose close the consumer
    // just started (adopted: it gives the object up); `base` keeps it alive for this call and
    // the quarantine keeps it alive afterwards; `watch.poison` is `T`'s poison table.
    unsafe { poison::poison_header(header, T::Ndk::OBJECT_TYPE, watch.poison) };
    let keep: Parked = Arc::<T>::clone(base.arc());
    // An evicted object (or `keep` itself, if nothing can be kept) is dropped here, with no
    // provider lock held.
    drop(watch.monitor.park(keep));
}

/// Which misuse a refused object stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// Any call but close.
    Call,
    /// `NdkCloseObject`.
    Close,
}

impl Use {
    const fn kind(self) -> MisuseKind {
        match self {
            Self::Call => MisuseKind::CallOnClosedObject,
            Self::Close => MisuseKind::CloseTwice,
        }
    }
}

/// `handle::borrow` found `found` instead of the expected type: if the header is poisoned,
/// report the misuse on the object's adapter.
///
/// # Safety
///
/// `header` points to an object this provider handed out, live or quarantined.
pub unsafe fn refused(header: *const NDK_OBJECT_HEADER, found: NDK_OBJECT_TYPE, used: Use) {
    if poison::unpoisoned(found).is_some() {
        // SAFETY: forwarded.
        unsafe { report_closed(header, used.kind(), Detail::None) };
    }
}

/// `handle::adopt` found an object whose close already started but that is not poisoned
/// (checks were off when it closed, or its type is not watched): report it if checks are on.
pub fn closing_again<T: Handle>(object: &T) {
    if let Some(watch) = object.watch() {
        watch.monitor.report(Misuse {
            kind: MisuseKind::CloseTwice,
            object_type: T::Ndk::OBJECT_TYPE,
            object: ptr::from_ref(object).addr(),
            detail: Detail::None,
        });
    }
}

/// Reports `kind` on the adapter of the poisoned object at `header`; nothing if the header is
/// not poisoned or its type is not watched.
///
/// # Safety
///
/// `header` points to an object this provider handed out, live or quarantined.
pub(super) unsafe fn report_closed(
    header: *const NDK_OBJECT_HEADER,
    kind: MisuseKind,
    detail: Detail,
) {
    // SAFETY: forwarded.
    let found = unsafe { poison::read_type(header) };
    let Some(real) = poison::unpoisoned(found) else {
        return;
    };
    // A poisoned header of type `real` starts a quarantined object of the matching provider
    // type: only `on_close` poisons, with the object's own type, and only watched types.
    let report: unsafe fn(*const NDK_OBJECT_HEADER, MisuseKind, Detail) = match real {
        NDK_OBJECT_TYPE::CQ => report_on::<Cq>,
        NDK_OBJECT_TYPE::PD => report_on::<Pd>,
        NDK_OBJECT_TYPE::MR => report_on::<Mr>,
        NDK_OBJECT_TYPE::MW => report_on::<Mw>,
        NDK_OBJECT_TYPE::SRQ => report_on::<Srq>,
        NDK_OBJECT_TYPE::QP => report_on::<Qp>,
        NDK_OBJECT_TYPE::CONNECTOR => report_on::<NdkConnector>,
        NDK_OBJECT_TYPE::LISTENER => report_on::<NdkListener>,
        NDK_OBJECT_TYPE::SHARED_ENDPOINT => report_on::<NdkSharedEndpoint>,
        _ => return,
    };
    // SAFETY: `header` starts a quarantined object of the type `report` expects (above).
    unsafe { report(header, kind, detail) };
}

/// Reports on the adapter of the object of type `T` at `header`.
///
/// # Safety
///
/// `header` starts a live or quarantined `T`.
unsafe fn report_on<T: Watched>(
    header: *const NDK_OBJECT_HEADER,
    kind: MisuseKind,
    detail: Detail,
) {
    // SAFETY: the caller guarantees a `T` whose memory is kept alive (by the quarantine); only
    // shared access follows.
    let object = unsafe { &*handle::object_ptr::<T>(header.cast_mut().cast()) };
    object.monitor().report(Misuse {
        kind,
        object_type: T::Ndk::OBJECT_TYPE,
        object: header.addr(),
        detail,
    });
}

/// A queue owner whose posts are guarded: a QP (initiator and receive queue) or an SRQ.
pub trait Poster: Embedded {
    /// Its queues' markers (which also say whether the checks are on).
    fn markers(&self) -> &PostMarkers;
    /// The adapter's monitor.
    fn monitor(&self) -> &Monitor;
    /// The depth of `queue` (report path only).
    fn depth(&self, queue: Queue) -> u32;
}

impl Poster for Qp {
    fn markers(&self) -> &PostMarkers {
        self.post_markers()
    }

    fn monitor(&self) -> &Monitor {
        self.pd().adapter().misuse()
    }

    fn depth(&self, queue: Queue) -> u32 {
        match queue {
            Queue::Receive | Queue::Srq => self.config().receive_depth,
            Queue::Initiator => self.config().initiator_depth,
        }
    }
}

impl Poster for Srq {
    fn markers(&self) -> &PostMarkers {
        self.post_markers()
    }

    fn monitor(&self) -> &Monitor {
        self.pd().adapter().misuse()
    }

    fn depth(&self, _: Queue) -> u32 {
        Self::depth(self)
    }
}

/// Gives the marker back even if the post unwinds.
struct Inside<'a> {
    markers: &'a PostMarkers,
    queue: Queue,
    entry: PostEntry,
}

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        self.markers.exit(self.queue, self.entry);
    }
}

/// Runs one post entry's work (`post`, which returns the entry's status) under the post guard
/// of `queue` of `object`.
///
/// With checks off it reads one flag of `object` and runs `post`: no atomic read-modify-write,
/// no report.
///
/// With checks on, the post takes the queue's marker by compare-exchange. A post that finds it
/// taken (another post on this queue has not returned) is reported
/// ([`MisuseKind::ConcurrentPost`]) and then **executed** like any post: the queue's own lock
/// makes that safe, and without thread identity the overlap may be a legal post from inside a
/// callback the provider ran inline during the other post. A post refused for a full queue
/// (`STATUS_INSUFFICIENT_RESOURCES`) is reported ([`MisuseKind::QueueOverflow`]) before the
/// marker is given back.
pub fn post<P: Poster>(object: &P, queue: Queue, post: impl FnOnce() -> NTSTATUS) -> NTSTATUS {
    let markers = object.markers();
    if !markers.is_on() {
        return post();
    }
    guarded(object, markers, queue, post)
}

/// [`post`] with the checks on (kept out of line so the off path stays one branch).
#[inline(never)]
fn guarded<P: Poster>(
    object: &P,
    markers: &PostMarkers,
    queue: Queue,
    post: impl FnOnce() -> NTSTATUS,
) -> NTSTATUS {
    let report = |kind| {
        object.monitor().report(Misuse {
            kind,
            object_type: P::Ndk::OBJECT_TYPE,
            object: ptr::from_ref(object).addr(),
            detail: Detail::Queue {
                queue,
                depth: object.depth(queue),
            },
        });
    };
    let inside = Inside {
        markers,
        queue,
        entry: markers.enter(queue),
    };
    if inside.entry == PostEntry::Overlap {
        report(MisuseKind::ConcurrentPost);
    }
    let status = post();
    if status == STATUS_INSUFFICIENT_RESOURCES {
        report(MisuseKind::QueueOverflow);
    }
    drop(inside);
    status
}

/// Runs `f` on the monitor of an open adapter; `None` for NULL or not an adapter.
///
/// # Safety
///
/// `adapter` is NULL or an adapter returned by `dispatch::open_adapter` and not closed.
unsafe fn with_monitor<R>(adapter: *mut NDK_ADAPTER, f: impl FnOnce(&Monitor) -> R) -> Option<R> {
    // SAFETY: forwarded.
    let adapter = unsafe { handle::borrow::<Adapter>(adapter) }?;
    Some(f(adapter.misuse()))
}

/// The misuse reports an adapter keeps (the newest [`REPORTS_KEPT`]), oldest first; empty with
/// checks off. PASSIVE (allocates the copy).
///
/// # Safety
///
/// `adapter` is NULL or an open adapter returned by `dispatch::open_adapter`.
#[must_use]
pub unsafe fn reports(adapter: *mut NDK_ADAPTER) -> Vec<Misuse> {
    // SAFETY: forwarded.
    unsafe { with_monitor(adapter, Monitor::reports) }.unwrap_or_default()
}

/// How many misuses an adapter reported in total.
///
/// # Safety
///
/// As [`reports`].
#[must_use]
pub unsafe fn report_count(adapter: *mut NDK_ADAPTER) -> u64 {
    // SAFETY: forwarded.
    unsafe { with_monitor(adapter, Monitor::count) }.unwrap_or(0)
}

/// Addresses of the quarantined objects, oldest first (diagnostics). PASSIVE (allocates).
///
/// # Safety
///
/// As [`reports`].
#[must_use]
pub unsafe fn quarantined(adapter: *mut NDK_ADAPTER) -> Vec<usize> {
    // SAFETY: forwarded.
    unsafe { with_monitor(adapter, Monitor::quarantined) }.unwrap_or_default()
}

/// Sets the sink every later report of `adapter` is also handed to (`None`: no sink). Nothing
/// with checks off.
///
/// # Safety
///
/// As [`reports`].
pub unsafe fn set_sink(adapter: *mut NDK_ADAPTER, sink: Option<&'static dyn MisuseSink>) {
    // SAFETY: forwarded.
    unsafe { with_monitor(adapter, |m| m.set_sink(sink)) };
}
