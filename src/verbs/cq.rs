//! The completion queue: a ring of completions, one-shot arming and notifications, resize, and
//! overrun.
//!
//! Owns the notification rules of `spec/ndkpi.md` §3.4: a callback only after an arm, at most one
//! per arm, never two at once, never synchronously from inside `NdkArmCq` (so a re-arm inside the
//! callback is delivered after it returns), combined arms take the stronger type, an arm with
//! completions that arrived since the last notification is satisfied at once, and an overrun
//! reports `STATUS_BUFFER_OVERFLOW` to any arm and makes the CQ unusable for good.
//!
//! Notifications are delivered by a per-CQ platform DPC created with the CQ, so queueing one
//! never allocates and never fails. The DPC holds a lifetime unit while it is queued or running
//! (taken under the CQ lock before queueing, dropped after the callback returned, outside every
//! lock), so a close pends until a running callback has returned and suppresses one that has not
//! started. It must never call the consumer with a lock held or from the thread that pushed the
//! completion.
#![deny(unsafe_code)]

use crate::abi::upcall::{CloseCompletion, CqNotification, NdkCell};
use crate::abi::{
    NDK_CQ, NDK_CQ_NOTIFY_ANY, NDK_CQ_NOTIFY_ERRORS, NDK_CQ_NOTIFY_SOLICITED, NTSTATUS,
    STATUS_BUFFER_OVERFLOW, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_PARAMETER,
    STATUS_SUCCESS,
};
use crate::engine::{Completion, OpType, Overrun, Status};
use crate::lifetime::{AlreadyClosing, Base, Closed, Links, Node, Tracked};
use crate::platform::prelude::*;
use crate::platform::{Dpc, PSlice, SpinLock};
use crate::sync::{Arc, AtomicBool, Ordering};

use super::notify::{Delivery, Notified, NotifyWork, Notifying, deliver};
use super::stats::ShardId;
use super::{Adapter, Closer, lock_order};

/// An `NDK_CQ_NOTIFY_*` arm type, ordered by strength (ANY > SOLICITED > ERRORS).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ArmType {
    /// `NDK_CQ_NOTIFY_ERRORS`: only CQ errors (overrun).
    Errors,
    /// `NDK_CQ_NOTIFY_SOLICITED`: a solicited receive or any error completion.
    Solicited,
    /// `NDK_CQ_NOTIFY_ANY`: the next completion.
    Any,
}

impl ArmType {
    /// The arm type of an `NdkArmCq` `Type` value; `None` for values outside the three defined.
    #[must_use]
    pub const fn from_raw(raw: u32) -> Option<Self> {
        match raw {
            NDK_CQ_NOTIFY_ERRORS => Some(Self::Errors),
            NDK_CQ_NOTIFY_ANY => Some(Self::Any),
            NDK_CQ_NOTIFY_SOLICITED => Some(Self::Solicited),
            _ => None,
        }
    }

    const fn satisfied_by(self, c: &Completion) -> bool {
        match self {
            Self::Any => true,
            Self::Solicited => c.satisfies_solicited_arm(),
            Self::Errors => false,
        }
    }
}

/// The ring slot filler for never-written slots.
const EMPTY: Completion = Completion {
    request_context: 0,
    qp_context: 0,
    status: Status::Success,
    bytes: 0,
    op: OpType::Send,
    invalidated_token: None,
    solicited: false,
};

/// Everything behind the CQ lock. (The flags are independent facts the arming rules combine,
/// not states of one machine.)
#[derive(Debug)]
#[allow(clippy::struct_excessive_bools)]
struct CqState {
    ring: PSlice<Completion>,
    head: usize,
    len: usize,
    arm: Option<ArmType>,
    /// A completion arrived since the last notification was handed to the consumer.
    arrived: bool,
    /// ... and one of them satisfies a SOLICITED arm.
    arrived_solicited: bool,
    overrun: bool,
    overrun_reported: bool,
    /// Pending notification, queued DPC, running callback (serialisation, §3.4 rule 3).
    delivery: Delivery<Cq>,
}

impl Notifying for CqState {
    type Owner = Cq;

    fn delivery(&mut self) -> &mut Delivery<Cq> {
        &mut self.delivery
    }

    fn handing_over(&mut self) {
        self.arrived = false;
        self.arrived_solicited = false;
    }
}

impl Notified for Cq {
    fn deliver(&self) {
        deliver(self, &self.state, |status| self.notify.call(status));
    }
}

/// A completion queue.
#[repr(C)]
pub struct Cq {
    /// Offset 0: the consumer's `NDK_CQ`.
    ndk: NdkCell<NDK_CQ>,
    node: Node,
    closer: Closer,
    adapter: Arc<Adapter>,
    notify: CqNotification,
    /// `None` only while a failed create unwinds.
    dpc: Option<Dpc>,
    /// Mirror of `CqState::overrun` readable without the lock (QPs check it when posting).
    overrun: AtomicBool,
    /// Where this CQ counts its completions in the adapter's statistics.
    shard: ShardId,
    state: SpinLock<CqState>,
}

const _: () = assert!(core::mem::offset_of!(Cq, ndk) == 0);

impl core::fmt::Debug for Cq {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Cq")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

tracked_by_closer!(Cq);

impl Cq {
    /// `NdkCreateCq` with a validated depth and notification callback.
    ///
    /// # Errors
    ///
    /// `STATUS_INVALID_PARAMETER` for a depth of 0 or above `MaxCqDepth`,
    /// `STATUS_INSUFFICIENT_RESOURCES` when the ring or the DPC cannot be allocated,
    /// `STATUS_DEVICE_NOT_READY` if the adapter is closing.
    pub fn create(
        adapter: &Arc<Adapter>,
        depth: u32,
        notify: CqNotification,
    ) -> Result<Base<Self>, NTSTATUS> {
        if depth == 0 || depth > adapter.limits().max_cq_depth {
            return Err(STATUS_INVALID_PARAMETER);
        }
        let ring = adapter
            .platform()
            .try_slice(depth as usize, |_| EMPTY)
            .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
        let mut links = Links::new();
        let _ = links.push(adapter.link()?);
        let platform = adapter.platform().clone();
        let cq = Arc::new_cyclic(|weak| Self {
            ndk: NdkCell::new(NDK_CQ::new(adapter.version(), adapter.tables().cq)),
            node: Node::new(links),
            closer: Closer::new(),
            adapter: Arc::clone(adapter),
            notify,
            dpc: platform.new_dpc(NotifyWork(weak.clone())).ok(),
            overrun: AtomicBool::new(false),
            shard: adapter.stats_sink().assign_shard(),
            state: SpinLock::new(
                lock_order::CQ,
                CqState {
                    ring,
                    head: 0,
                    len: 0,
                    arm: None,
                    arrived: false,
                    arrived_solicited: false,
                    overrun: false,
                    overrun_reported: false,
                    delivery: Delivery::new(),
                },
            ),
        });
        if cq.dpc.is_none() {
            // Never published: dropping the node releases the adapter link.
            return Err(STATUS_INSUFFICIENT_RESOURCES);
        }
        Ok(Base::from_arc(cq))
    }

    /// `NdkCloseCq`: disarms and cancels a queued notification; pends while QPs use the CQ or a
    /// notification callback is running. Unreaped entries are simply dropped.
    ///
    /// # Errors
    ///
    /// [`AlreadyClosing`] on a second close.
    pub fn close(
        base: Base<Self>,
        completion: Option<CloseCompletion>,
    ) -> Result<Closed, AlreadyClosing> {
        base.close(|c| {
            c.closer.store(completion);
            {
                let mut s = c.state.lock();
                s.arm = None;
                s.delivery.forget();
            }
            if c.dpc.as_ref().is_some_and(DpcOps::cancel) {
                // The DPC will not run: its unit is ours to release (BASE is still held, so this
                // never finalises here).
                let unit = c.state.lock().delivery.take_unit();
                drop(unit);
            }
        })
    }

    /// The address handed to the consumer.
    #[must_use]
    pub const fn ndk(&self) -> *mut NDK_CQ {
        self.ndk.as_ptr()
    }

    /// The adapter.
    #[must_use]
    pub const fn adapter(&self) -> &Arc<Adapter> {
        &self.adapter
    }

    /// Whether the CQ has overrun (unusable, and so is every QP attached to it).
    #[must_use]
    pub fn is_overrun(&self) -> bool {
        self.overrun.load(Ordering::Acquire)
    }

    /// Appends one completion (called by the QPs' completion sinks, under their connection lock).
    ///
    /// # Errors
    ///
    /// [`Overrun`] when the ring is full, and forever after.
    pub fn push(self: &Arc<Self>, completion: Completion) -> Result<(), Overrun> {
        let mut s = self.state.lock();
        if s.overrun {
            drop(s);
            return Err(Overrun);
        }
        let depth = s.ring.len();
        if s.len == depth {
            s.overrun = true;
            self.overrun.store(true, Ordering::Release);
            self.adapter.stats_sink().cq_error();
            if s.arm.take().is_some() {
                s.overrun_reported = true;
                self.schedule(&mut s, STATUS_BUFFER_OVERFLOW);
            }
            drop(s);
            return Err(Overrun);
        }
        let at = (s.head + s.len) % depth;
        s.ring[at] = completion;
        s.len += 1;
        s.arrived = true;
        s.arrived_solicited |= completion.satisfies_solicited_arm();
        self.adapter.stats_sink().completed(self.shard, &completion);
        if s.arm.is_some_and(|arm| arm.satisfied_by(&completion)) {
            s.arm = None;
            self.schedule(&mut s, STATUS_SUCCESS);
        }
        drop(s);
        Ok(())
    }

    /// `NdkArmCq` with a decoded type. Never calls back synchronously: a satisfied arm is
    /// delivered by the DPC (after the running callback, if called from inside one).
    pub fn arm(self: &Arc<Self>, arm: ArmType) {
        let mut s = self.state.lock();
        if s.overrun {
            if !s.overrun_reported {
                s.overrun_reported = true;
                self.schedule(&mut s, STATUS_BUFFER_OVERFLOW);
            }
            return;
        }
        let arm = s.arm.map_or(arm, |old| old.max(arm));
        let due = s.len > 0
            && match arm {
                ArmType::Any => s.arrived,
                ArmType::Solicited => s.arrived_solicited,
                ArmType::Errors => false,
            };
        if due {
            s.arm = None;
            self.schedule(&mut s, STATUS_SUCCESS);
        } else {
            s.arm = Some(arm);
        }
    }

    /// Records a due notification and queues the DPC unless it is already queued. Called under
    /// the CQ lock; never calls the consumer.
    fn schedule(self: &Arc<Self>, s: &mut CqState, status: NTSTATUS) {
        s.delivery.schedule(self, status, self.dpc.as_ref());
    }

    /// `NdkGetCqResults(Ex)`: removes up to `max` completions, oldest first, handing each to
    /// `write` with its index. An overrun CQ reports nothing (it is unusable, §6.7).
    pub fn poll(&self, max: usize, mut write: impl FnMut(usize, &Completion)) -> usize {
        let mut s = self.state.lock();
        if s.overrun {
            return 0;
        }
        let n = max.min(s.len);
        let depth = s.ring.len();
        // `head < depth` always, so wrapping is one compare per entry, not a division.
        let mut at = s.head;
        for i in 0..n {
            write(i, &s.ring[at]);
            at += 1;
            if at == depth {
                at = 0;
            }
        }
        s.head = at;
        s.len -= n;
        n
    }

    /// Completions waiting to be reaped.
    #[must_use]
    pub fn len(&self) -> usize {
        self.state.lock().len
    }

    /// Whether no completion is waiting.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `NdkResizeCq`: moves the waiting completions into a ring of `depth` entries.
    ///
    /// # Errors
    ///
    /// `STATUS_INVALID_PARAMETER` for 0, a depth above `MaxCqDepth`, or one below the number of
    /// completions waiting (the spec is silent; refusing keeps every completion);
    /// `STATUS_INSUFFICIENT_RESOURCES` when the new ring cannot be allocated.
    pub fn resize(&self, depth: u32) -> Result<(), NTSTATUS> {
        if depth == 0 || depth > self.adapter.limits().max_cq_depth {
            return Err(STATUS_INVALID_PARAMETER);
        }
        let mut ring = self
            .adapter
            .platform()
            .try_slice(depth as usize, |_| EMPTY)
            .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
        let mut s = self.state.lock();
        if s.len > ring.len() {
            return Err(STATUS_INVALID_PARAMETER);
        }
        let old = s.ring.len();
        for i in 0..s.len {
            ring[i] = s.ring[(s.head + i) % old];
        }
        s.head = 0;
        let old_ring = core::mem::replace(&mut s.ring, ring);
        drop(s);
        drop(old_ring);
        Ok(())
    }
}

#[cfg(test)]
#[allow(unsafe_code)]
mod tests {
    use super::*;
    use crate::abi::upcall::Context;
    use crate::abi::{NDK_VERSION, STATUS_BUFFER_OVERFLOW};
    use crate::lifetime::Closed;
    use crate::platform::Platform;
    use crate::platform::host::Host;
    use crate::verbs::AdapterConfig;
    use std::boxed::Box;
    use std::sync::Mutex;
    use std::vec::Vec;

    #[derive(Default)]
    struct Seen(Mutex<Vec<NTSTATUS>>);

    unsafe extern "system" fn on_notify(context: *mut core::ffi::c_void, status: NTSTATUS) {
        // SAFETY: the tests pass a `Seen` that outlives the CQ.
        let seen = unsafe { &*context.cast_const().cast::<Seen>() };
        seen.0.lock().unwrap().push(status);
    }

    struct Fixture {
        p: Platform,
        adapter: Base<Adapter>,
        seen: Box<Seen>,
    }

    impl Fixture {
        fn new() -> Self {
            let p = Host::deterministic();
            let adapter = Adapter::open(
                AdapterConfig::softndk(1),
                p.clone(),
                crate::dispatch::TABLES,
                NDK_VERSION::new(1, 0),
            )
            .unwrap();
            Self {
                p,
                adapter,
                seen: Box::default(),
            }
        }

        fn cq(&self, depth: u32) -> Arc<Cq> {
            let ctx = Context::new(core::ptr::from_ref(&*self.seen).cast_mut().cast());
            // SAFETY: `on_notify` with a `Seen` that outlives the CQ (the fixture owns it).
            let notify = unsafe { CqNotification::new(on_notify, ctx) };
            Cq::create(self.adapter.arc(), depth, notify)
                .unwrap()
                .into_arc()
        }

        fn seen(&self) -> Vec<NTSTATUS> {
            self.p.run_until_idle();
            self.seen.0.lock().unwrap().clone()
        }

        fn close(cq: Arc<Cq>) -> Closed {
            Cq::close(Base::from_arc(cq), None).unwrap()
        }
    }

    fn completion(status: Status, solicited: bool) -> Completion {
        Completion {
            status,
            solicited,
            ..EMPTY
        }
    }

    const OK: Completion = EMPTY;

    #[test]
    fn notifies_once_per_arm_and_never_synchronously() {
        let f = Fixture::new();
        let cq = f.cq(8);
        cq.push(OK).unwrap();
        assert!(f.seen().is_empty(), "never without an arm");
        cq.arm(ArmType::Any);
        assert!(
            f.seen.0.lock().unwrap().is_empty(),
            "not from inside NdkArmCq"
        );
        assert_eq!(
            f.seen(),
            [STATUS_SUCCESS],
            "queued completion arrived since last notify"
        );
        cq.push(OK).unwrap();
        assert_eq!(f.seen().len(), 1, "one-shot");
        cq.arm(ArmType::Any);
        assert_eq!(
            f.seen().len(),
            2,
            "new completion since the last notification"
        );
        cq.arm(ArmType::Any);
        assert_eq!(
            f.seen().len(),
            2,
            "nothing new: the provider may wait, and does"
        );
        cq.push(OK).unwrap();
        assert_eq!(f.seen().len(), 3);
        assert_eq!(cq.poll(10, |_, _| {}), 3);
        assert!(matches!(Fixture::close(cq), Closed::Finished));
    }

    #[test]
    fn solicited_and_errors_arms_and_their_combination() {
        let f = Fixture::new();
        let cq = f.cq(8);
        cq.arm(ArmType::Solicited);
        cq.push(OK).unwrap();
        assert!(
            f.seen().is_empty(),
            "plain success does not satisfy SOLICITED"
        );
        cq.push(completion(Status::Success, true)).unwrap();
        assert_eq!(f.seen().len(), 1);
        cq.arm(ArmType::Solicited);
        assert_eq!(
            f.seen().len(),
            1,
            "it was already notified: the provider waits"
        );
        cq.push(completion(Status::Cancelled, false)).unwrap();
        assert_eq!(f.seen().len(), 2, "an error completion satisfies SOLICITED");
        cq.arm(ArmType::Errors);
        cq.push(completion(Status::Cancelled, false)).unwrap();
        assert_eq!(f.seen().len(), 2, "ERRORS ignores error completions");
        cq.arm(ArmType::Solicited); // ERRORS + SOLICITED = SOLICITED: the new error satisfies it
        assert_eq!(f.seen().len(), 3);
        cq.arm(ArmType::Errors);
        cq.arm(ArmType::Any); // ERRORS + ANY = ANY
        cq.push(OK).unwrap();
        assert_eq!(f.seen().len(), 4);
        let _ = Fixture::close(cq);
    }

    #[test]
    fn overrun_reports_buffer_overflow_and_the_cq_stays_unusable() {
        let f = Fixture::new();
        let cq = f.cq(2);
        cq.arm(ArmType::Errors);
        cq.push(OK).unwrap();
        cq.push(OK).unwrap();
        assert!(!cq.is_overrun());
        assert_eq!(cq.push(OK), Err(Overrun));
        assert!(cq.is_overrun());
        assert_eq!(f.seen(), [STATUS_BUFFER_OVERFLOW]);
        assert_eq!(cq.push(OK), Err(Overrun), "refuses forever");
        assert_eq!(cq.poll(10, |_, _| {}), 0, "unusable");
        cq.arm(ArmType::Any);
        assert_eq!(f.seen().len(), 1, "reported once");
        let stats = f.adapter.arc().stats();
        assert_eq!(stats.cq_errors, 1, "one overrun, counted once");
        assert_eq!(
            stats.out_messages, 2,
            "only the completions that entered the ring"
        );
        let _ = Fixture::close(cq);
    }

    #[test]
    fn an_unarmed_overrun_is_reported_by_the_next_arm_of_any_type() {
        let f = Fixture::new();
        let cq = f.cq(1);
        cq.push(OK).unwrap();
        assert_eq!(cq.push(OK), Err(Overrun));
        assert!(f.seen().is_empty());
        cq.arm(ArmType::Solicited);
        assert_eq!(f.seen(), [STATUS_BUFFER_OVERFLOW]);
        let _ = Fixture::close(cq);
    }

    #[test]
    fn close_cancels_a_queued_notification() {
        let f = Fixture::new();
        let cq = f.cq(4);
        cq.arm(ArmType::Any);
        cq.push(OK).unwrap();
        assert_eq!(f.p.pending(), 1);
        assert!(
            matches!(Fixture::close(cq), Closed::Finished),
            "the DPC's unit was released"
        );
        assert!(f.seen().is_empty(), "no notification after close");
    }

    #[test]
    fn resize_keeps_waiting_completions_in_order() {
        let f = Fixture::new();
        let cq = f.cq(4);
        for i in 0..3 {
            cq.push(Completion {
                request_context: i,
                ..OK
            })
            .unwrap();
        }
        cq.poll(1, |_, _| {});
        cq.push(Completion {
            request_context: 3,
            ..OK
        })
        .unwrap();
        assert_eq!(cq.resize(1), Err(STATUS_INVALID_PARAMETER), "3 waiting");
        cq.resize(3).unwrap();
        let mut got = Vec::new();
        cq.poll(8, |_, c| got.push(c.request_context));
        assert_eq!(got, [1, 2, 3]);
        let _ = Fixture::close(cq);
    }
}
