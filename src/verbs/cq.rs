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
use crate::abi::{NDK_CQ, NTSTATUS, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_PARAMETER};
use crate::engine::{Completion, OpType, Overrun, Status};
use crate::lifetime::{AlreadyClosing, Base, Closed, Links, Node, Tracked, Unit};
use crate::platform::prelude::*;
use crate::platform::{Dpc, PSlice, SpinLock};
use crate::sync::{Arc, AtomicBool, AtomicUsize, Ordering};

pub use super::arming::ArmType;
use super::arming::{CqArming, Pushed};
use super::notify::{Delivery, Notified, NotifyWork, Notifying, deliver_to};
use super::stats::{CqSlot, Traffic};
use super::{Adapter, Closer, lock_order};

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

/// Everything behind the CQ lock.
#[derive(Debug)]
struct CqState {
    ring: PSlice<Completion>,
    head: usize,
    len: usize,
    /// When a notification is due (§3.4).
    arming: CqArming,
    /// What entered the ring, for the adapter's statistics (counted under this lock, so the
    /// data path pays no atomic for it).
    traffic: Traffic,
    /// Pending notification, queued DPC, running callback (serialisation, §3.4 rule 3).
    delivery: Delivery<Unit<Cq>>,
}

impl Notifying for CqState {
    type Unit = Unit<Cq>;

    fn delivery(&mut self) -> &mut Delivery<Unit<Cq>> {
        &mut self.delivery
    }

    fn handing_over(&mut self) {
        self.arming.handing_over();
    }
}

impl Notified for Cq {
    fn deliver(&self) {
        deliver_to(self, &self.state, |status| self.notify.call(status));
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
    /// Mirror of `CqState::len`, stored under the lock after every change, so a poll of an
    /// empty CQ answers without taking the lock (see [`Cq::poll`]). Alone on its cache line
    /// (see [`Lone`]): a reaper spinning on it must not pull the lines the pushing processor
    /// works on away from it.
    waiting: Lone<AtomicUsize>,
    /// This CQ's entry in the adapter's statistics registry (`None` only while a failed create
    /// unwinds).
    registered: Option<CqSlot>,
    state: SpinLock<CqState>,
}

const _: () = assert!(core::mem::offset_of!(Cq, ndk) == 0);

/// A value no other field shares a cache line with: 64 bytes of padding on each side, so any
/// 64-byte line that holds a byte of the value holds otherwise only padding. Padding rather
/// than `#[repr(align(64))]`, which would raise the whole object's alignment above what a
/// kernel pool allocation guarantees.
#[repr(C)]
struct Lone<T> {
    _before: [u8; 64],
    value: T,
    _after: [u8; 64],
}

impl<T> Lone<T> {
    const fn new(value: T) -> Self {
        Self {
            _before: [0; 64],
            value,
            _after: [0; 64],
        }
    }
}

impl<T> core::ops::Deref for Lone<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl core::fmt::Debug for Cq {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Cq")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl Tracked for Cq {
    type Farewell = super::Goodbye;

    fn node(&self) -> &Node {
        &self.node
    }

    fn finalize(&self) -> super::Goodbye {
        // No QP holds the CQ any more, so nothing pushes: its counts are final.
        if let Some(slot) = self.registered {
            self.adapter.stats_sink().retire_cq(slot, || self.traffic());
        }
        self.closer.farewell()
    }
}

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
        let cq = Arc::new_cyclic(|weak| {
            let dpc = platform.new_dpc(NotifyWork(weak.clone())).ok();
            // Registered last, and only when nothing else failed.
            let registered = dpc
                .as_ref()
                .and_then(|_| adapter.stats_sink().register_cq(weak.clone()));
            Self {
                ndk: NdkCell::new(NDK_CQ::new(adapter.version(), adapter.tables().cq)),
                node: Node::new(links),
                closer: Closer::new(),
                adapter: Arc::clone(adapter),
                notify,
                dpc,
                overrun: AtomicBool::new(false),
                waiting: Lone::new(AtomicUsize::new(0)),
                registered,
                state: SpinLock::new(
                    lock_order::CQ,
                    CqState {
                        ring,
                        head: 0,
                        len: 0,
                        arming: CqArming::new(),
                        traffic: Traffic::default(),
                        delivery: Delivery::new(),
                    },
                ),
            }
        });
        if cq.registered.is_none() {
            // Never published: dropping the node releases the adapter link (a registry entry
            // exists only if everything else succeeded).
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
                s.arming.disarm();
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
        let depth = s.ring.len();
        let full = s.len == depth;
        let pushed = match s.arming.push(full, completion.satisfies_solicited_arm()) {
            Pushed::Refused => Err(Overrun),
            Pushed::Overran(due) => {
                self.overrun.store(true, Ordering::Release);
                self.adapter.stats_sink().cq_error();
                self.schedule(&mut s, due);
                Err(Overrun)
            }
            Pushed::Entered(due) => {
                // `head < depth` and `len < depth` here, so one subtraction wraps.
                let at = s.head + s.len;
                let at = if at >= depth { at - depth } else { at };
                s.ring[at] = completion;
                s.len += 1;
                self.waiting.store(s.len, Ordering::Release);
                s.traffic.count(&completion);
                self.schedule(&mut s, due);
                Ok(())
            }
        };
        drop(s);
        pushed
    }

    /// `NdkArmCq` with a decoded type. Never calls back synchronously: a satisfied arm is
    /// delivered by the DPC (after the running callback, if called from inside one).
    pub fn arm(self: &Arc<Self>, arm: ArmType) {
        let mut s = self.state.lock();
        let waiting = s.len > 0;
        let due = s.arming.arm(arm, waiting);
        self.schedule(&mut s, due);
        drop(s);
    }

    /// Records a due notification and queues the DPC unless it is already queued. Called under
    /// the CQ lock; never calls the consumer.
    fn schedule(self: &Arc<Self>, s: &mut CqState, due: Option<NTSTATUS>) {
        let Some(status) = due else { return };
        if s.delivery.schedule(status, || Unit::try_new(self))
            && let Some(dpc) = &self.dpc
        {
            dpc.queue();
        }
    }

    /// `NdkGetCqResults(Ex)`: removes up to `max` completions, oldest first, handing each to
    /// `write` with its index. An overrun CQ reports nothing (it is unusable, §6.7).
    ///
    /// A CQ seen empty answers 0 without taking the lock: consumers poll until a call returns
    /// nothing, so every reaping loop ends with such a call, and a reaper spinning on another
    /// processor would otherwise pull the lock's line away from the pushing processor on every
    /// turn. Polling an empty CQ changes nothing, so the early answer is the one the locked
    /// path would give, ordered before any push it did not see: a push stores the new count
    /// (`Release`) before it returns and before any notification of it is queued, so a
    /// consumer that knows of a completion (it posted the request and saw it complete, or its
    /// notification ran) has that store ordered before its poll and finds the count non-zero.
    pub fn poll(&self, max: usize, mut write: impl FnMut(usize, &Completion)) -> usize {
        if self.waiting.load(Ordering::Acquire) == 0 {
            return 0;
        }
        let mut s = self.state.lock();
        if s.arming.is_overrun() {
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
        self.waiting.store(s.len, Ordering::Release);
        n
    }

    /// What entered this CQ so far (for the adapter's statistics).
    #[must_use]
    pub fn traffic(&self) -> Traffic {
        self.state.lock().traffic
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

    /// The argument check of [`Cq::resize`], which the dispatch layer also answers inline
    /// before a resize may pend.
    ///
    /// # Errors
    ///
    /// `STATUS_INVALID_PARAMETER` for 0 or a depth above `MaxCqDepth`.
    pub fn check_depth(&self, depth: u32) -> Result<(), NTSTATUS> {
        if depth == 0 || depth > self.adapter.limits().max_cq_depth {
            return Err(STATUS_INVALID_PARAMETER);
        }
        Ok(())
    }

    /// `NdkResizeCq`: moves the waiting completions into a ring of `depth` entries.
    ///
    /// # Errors
    ///
    /// `STATUS_INVALID_PARAMETER` for 0, a depth above `MaxCqDepth`, or one below the number of
    /// completions waiting (the spec is silent; refusing keeps every completion);
    /// `STATUS_INSUFFICIENT_RESOURCES` when the new ring cannot be allocated.
    pub fn resize(&self, depth: u32) -> Result<(), NTSTATUS> {
        self.check_depth(depth)?;
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
#[path = "cq_tests.rs"]
mod tests;
