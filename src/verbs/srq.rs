//! Shared receive queues: `NdkCreateSrq`, `NdkSrqReceive`, `NdkModifySrq`, the low-water
//! notification, and the QPs that take their receives from an SRQ.
//!
//! Owns the SRQ's receive queue (an engine [`ReceiveQueue`] behind [`lock_order::SRQ`]), its
//! depth and notification threshold, the notification DPC, and the list of attached QPs. A
//! receive is consumed by whichever attached QP needs one first; its completion goes to that
//! QP's receive CQ with that QP's context. QPs drive the queue through `Srq::with_queue` while
//! they hold their connection lock (order: connection → SRQ → CQ → memory); two SRQ locks are
//! never held at once (see `qp.rs`: a pair whose both sides use SRQs runs one half-pass per
//! SRQ).
//!
//! Notification rules (`spec/ndkpi.md` §3.5): a threshold > 0 arms; one notification
//! (`STATUS_SUCCESS`) when the queued receives drop below it, then disarmed; `NdkModifySrq`
//! with a threshold > 0 re-arms and fires at once if already below; threshold 0 leaves the
//! threshold and arming untouched. Delivery is through a per-SRQ platform DPC holding a
//! lifetime unit while queued or running, so callbacks are never nested, never from inside the
//! posting call, never after the close.
//!
//! Choices (documented in `docs/objects.md`): a threshold given at create arms without the
//! immediate check (the queue starts empty, so "already below" would always fire before the
//! first receive is posted); close discards the receives no QP consumed, without completions
//! (no CQ is associated with an SRQ receive until a QP consumes it); `STATUS_INTERNAL_ERROR`
//! is never reported (software has no catastrophic SRQ failure).
//!
//! Growth (`NdkModifySrq` past the queue's allocation) allocates the new storage with no lock
//! held, then only moves the posted receives under the SRQ lock, re-checking everything there.
//!
//! It must never call the consumer with a lock held or from the thread that posted, and never
//! allocate or free under its lock.
#![deny(unsafe_code)]

use crate::abi::upcall::{CloseCompletion, NdkCell, SrqNotification};
use crate::abi::{
    NDK_SRQ, NTSTATUS, STATUS_CANCELLED, STATUS_DEVICE_NOT_READY, STATUS_INSUFFICIENT_RESOURCES,
    STATUS_INVALID_PARAMETER,
};
use crate::engine::{CreateError, ReceiveQueue, ReceiveStorage, Sge};
use crate::lifetime::{AlreadyClosing, Base, Closed, Links, Node, Tracked, Unit};
use crate::platform::prelude::*;
use crate::platform::{Dpc, PVec, Platform, SpinLock};
use crate::sync::Arc;

use super::arming::SrqThreshold;
use super::misuse::PostMarkers;
use super::notify::{Delivery, Notified, NotifyWork, Notifying, deliver_to};
use super::qp::post_status;
use super::{Closer, Pd, Qp, lock_order};

/// Everything behind the SRQ lock.
#[derive(Debug)]
struct SrqState {
    queue: ReceiveQueue,
    /// The consumer's depth (≤ the queue's allocated depth).
    depth: u32,
    /// When the low-water notification is due (§3.5).
    threshold: SrqThreshold,
    /// `None` when the consumer gave no notification callback.
    dpc: Option<Dpc>,
    /// Pending notification, queued DPC, running callback (serialisation).
    delivery: Delivery<Unit<Srq>>,
    closed: bool,
}

impl Notifying for SrqState {
    type Unit = Unit<Srq>;

    fn delivery(&mut self) -> &mut Delivery<Unit<Srq>> {
        &mut self.delivery
    }
}

/// The QPs attached to the SRQ (units are taken under this lock; QPs leave in their close
/// stage), and a counter of removals so a walk notices the list changed under it.
#[derive(Debug)]
struct Users {
    qps: PVec<Arc<Qp>>,
    epoch: u64,
}

/// A shared receive queue.
#[repr(C)]
pub struct Srq {
    /// Offset 0: the consumer's `NDK_SRQ`.
    ndk: NdkCell<NDK_SRQ>,
    node: Node,
    closer: Closer,
    pd: Arc<Pd>,
    notify: Option<SrqNotification>,
    max_sge: u32,
    state: SpinLock<SrqState>,
    users: SpinLock<Users>,
    /// The provider verifier's "poster inside" marker (`dispatch::misuse`).
    posting: PostMarkers,
}

const _: () = assert!(core::mem::offset_of!(Srq, ndk) == 0);

impl core::fmt::Debug for Srq {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Srq")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

tracked_by_closer!(Srq);

impl Notified for Srq {
    fn deliver(&self) {
        deliver_to(self, &self.state, |status| {
            if let Some(notify) = self.notify {
                notify.call(status);
            }
        });
    }
}

/// Slots for `depth` receives: the next power of two, what the engine's ring reserves anyway,
/// so `NdkModifySrq` can grow up to that without moving receives. Never below `depth` (a depth
/// beyond [`MAX_RING_DEPTH`](crate::engine::MAX_RING_DEPTH), possible only with configured limits above it, makes the engine
/// refuse the allocation rather than hand out a shallower queue).
fn allocated_depth(depth: u32) -> u32 {
    depth.max(1).checked_next_power_of_two().unwrap_or(u32::MAX)
}

/// A receive queue for `depth`; each of its allocations passes the platform's gate.
fn new_queue(pd: &Pd, depth: u32, max_sge: u32) -> Result<ReceiveQueue, NTSTATUS> {
    let adapter = pd.adapter();
    let platform = adapter.platform();
    ReceiveQueue::try_new_admitted(
        allocated_depth(depth),
        max_sge,
        adapter.limits().max_transfer_length,
        || admit_engine(platform),
    )
    .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)
}

/// One engine allocation admitted by the platform's gate (fault injection reaches it).
#[track_caller]
fn admit_engine(platform: &Platform) -> Result<(), CreateError> {
    super::memory::admit(platform).map_err(|_| CreateError::OutOfMemory)
}

impl Srq {
    /// `NdkCreateSrq`: `depth` ≤ `MaxSrqDepth` (and > 0), `max_sge` ≤ `MaxReceiveRequestSge`.
    ///
    /// # Errors
    ///
    /// `STATUS_INVALID_PARAMETER` for limits outside the adapter's; `STATUS_INSUFFICIENT_RESOURCES`
    /// when the queue, the object or the DPC cannot be allocated; `STATUS_DEVICE_NOT_READY` if the
    /// PD is closing.
    pub fn create(
        pd: &Arc<Pd>,
        depth: u32,
        max_sge: u32,
        threshold: u32,
        notify: Option<SrqNotification>,
    ) -> Result<Base<Self>, NTSTATUS> {
        let adapter = pd.adapter();
        let l = adapter.limits();
        if depth == 0 || depth > l.max_srq_depth || max_sge > l.max_receive_sge {
            return Err(STATUS_INVALID_PARAMETER);
        }
        let queue = new_queue(pd, depth, max_sge)?;
        let platform = adapter.platform();
        let qps = platform
            .try_vec_with_capacity(4)
            .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
        let mut links = Links::new();
        let _ = links.push(Unit::try_new(pd).ok_or(STATUS_DEVICE_NOT_READY)?);
        let srq = platform
            .try_arc(Self {
                ndk: NdkCell::new(NDK_SRQ::new(adapter.version(), adapter.tables().srq)),
                node: Node::new(links),
                closer: Closer::new(),
                pd: Arc::clone(pd),
                notify,
                max_sge,
                state: SpinLock::new(
                    lock_order::SRQ,
                    SrqState {
                        queue,
                        depth,
                        threshold: SrqThreshold::new(threshold),
                        dpc: None,
                        delivery: Delivery::new(),
                        closed: false,
                    },
                ),
                users: SpinLock::new(lock_order::LEAF, Users { qps, epoch: 0 }),
                posting: adapter.misuse().post_markers(),
            })
            .map(Base::from_arc)
            .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
        if srq.notify.is_some() {
            // Never published yet: on failure the handle drops and releases the PD link.
            let dpc = platform
                .new_dpc(NotifyWork(Arc::downgrade(srq.arc())))
                .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
            srq.state.lock().dpc = Some(dpc);
        }
        Ok(srq)
    }

    /// `NdkCloseSrq`: discards the receives no QP consumed (no completions: an SRQ receive has
    /// no CQ until a QP takes it), disarms and cancels a queued notification; pends while QPs
    /// use the SRQ or a notification callback runs.
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
            let unit = {
                let mut s = c.state.lock();
                s.closed = true;
                s.threshold.disarm();
                s.delivery.forget();
                while s.queue.take_oldest().is_some() {}
                let cancelled = s.dpc.as_ref().is_some_and(DpcOps::cancel);
                if cancelled {
                    s.delivery.take_unit()
                } else {
                    None
                }
            };
            // The cancelled DPC will not run: its unit is ours (BASE is still held, so this
            // never finalises here).
            drop(unit);
        })
    }

    /// The address handed to the consumer.
    #[must_use]
    pub const fn ndk(&self) -> *mut NDK_SRQ {
        self.ndk.as_ptr()
    }

    /// The PD.
    #[must_use]
    pub const fn pd(&self) -> &Arc<Pd> {
        &self.pd
    }

    /// The consumer's depth: receives it may hold (create, then `NdkModifySrq`).
    #[must_use]
    pub fn depth(&self) -> u32 {
        self.state.lock().depth
    }

    /// The provider verifier's post marker.
    #[must_use]
    pub const fn post_markers(&self) -> &PostMarkers {
        &self.posting
    }

    /// The SGE limit given at create (`NdkSrqReceive` is checked against it).
    #[must_use]
    pub const fn max_sge(&self) -> u32 {
        self.max_sge
    }

    /// Receives posted and not consumed yet.
    #[must_use]
    pub fn len(&self) -> u32 {
        self.state.lock().queue.len()
    }

    /// Whether no receive is posted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `NdkSrqReceive` (SGE count already checked against [`Srq::max_sge`] by the caller).
    /// Posting into an empty SRQ runs every attached QP, so sends that waited for a receive
    /// execute now.
    ///
    /// # Errors
    ///
    /// `STATUS_INSUFFICIENT_RESOURCES` when the SRQ holds its depth of receives,
    /// `STATUS_INVALID_PARAMETER` for a transfer above `MaxTransferLength`, `STATUS_CANCELLED`
    /// on a closing SRQ; nothing is queued then.
    pub fn post(self: &Arc<Self>, context: usize, sges: &[Sge]) -> Result<(), NTSTATUS> {
        let _entry = Unit::try_new(self).ok_or(STATUS_CANCELLED)?;
        let was_empty = {
            let mut s = self.state.lock();
            if s.closed {
                return Err(STATUS_CANCELLED);
            }
            if s.queue.len() >= s.depth {
                return Err(STATUS_INSUFFICIENT_RESOURCES);
            }
            let was_empty = s.queue.is_empty();
            s.queue.post(context, sges).map_err(post_status)?;
            was_empty
        };
        if was_empty {
            self.kick();
        }
        Ok(())
    }

    /// The argument check of [`Srq::modify`], which the dispatch layer also answers inline
    /// before a modification may pend (0 keeps the depth).
    ///
    /// # Errors
    ///
    /// `STATUS_INVALID_PARAMETER` for a depth above `MaxSrqDepth`.
    pub fn check_depth(&self, depth: u32) -> Result<(), NTSTATUS> {
        if depth > self.pd.adapter().limits().max_srq_depth {
            return Err(STATUS_INVALID_PARAMETER);
        }
        Ok(())
    }

    /// `NdkModifySrq`: `depth` 0 keeps the depth (else ≤ `MaxSrqDepth` and ≥ the receives
    /// posted); `threshold` 0 keeps threshold and arming, > 0 arms and notifies at once if the
    /// queue already holds fewer receives. Validates completely before changing anything.
    ///
    /// Growing past the queue's allocation moves the posted receives, in posting order, into
    /// storage allocated first with no lock held; only the move runs under the SRQ lock. If the
    /// queue changed while allocating (another modify grew it, posts arrived), everything is
    /// checked again under the lock, and storage that is no longer needed is dropped.
    ///
    /// # Errors
    ///
    /// `STATUS_INVALID_PARAMETER` for a depth above `MaxSrqDepth` or below the receives posted;
    /// `STATUS_INSUFFICIENT_RESOURCES` when the larger storage cannot be allocated. The SRQ is
    /// unchanged then.
    pub fn modify(self: &Arc<Self>, depth: u32, threshold: u32) -> Result<(), NTSTATUS> {
        self.check_depth(depth)?;
        let mut spare: Option<ReceiveStorage> = None;
        // At most two rounds: storage allocated for `depth` holds at least `depth`
        // ([`allocated_depth`]), and the queue's allocation only ever grows.
        loop {
            let mut s = self.state.lock();
            if depth != 0 && depth < s.queue.len() {
                drop(s);
                drop(spare);
                return Err(STATUS_INVALID_PARAMETER);
            }
            if depth > s.queue.depth() {
                let Some(storage) = spare.as_mut().filter(|st| st.depth() >= depth) else {
                    drop(s);
                    drop(spare.take());
                    spare = Some(self.storage_for(depth)?);
                    continue;
                };
                if s.queue.grow(storage).is_err() {
                    // Made for this SRQ's SGE limit and deeper than its queue: grow cannot
                    // refuse it; if it ever did, the queue is untouched.
                    drop(s);
                    drop(spare);
                    return Err(STATUS_INSUFFICIENT_RESOURCES);
                }
            }
            if depth != 0 {
                s.depth = depth;
            }
            let queued = s.queue.len();
            let due = s.threshold.modify(threshold, queued);
            self.schedule(&mut s, due);
            drop(s);
            // The queue's old storage (after a grow) or storage another modify made needless.
            drop(spare);
            return Ok(());
        }
    }

    /// Slot storage for a queue of `depth`, each allocation admitted by the platform's gate.
    /// Called with no lock held.
    fn storage_for(&self, depth: u32) -> Result<ReceiveStorage, NTSTATUS> {
        let platform = self.pd.adapter().platform();
        ReceiveStorage::try_new(allocated_depth(depth), self.max_sge, || {
            admit_engine(platform)
        })
        .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)
    }

    /// Runs `f` on the queue under the SRQ lock (a QP's execution pass, with its connection
    /// lock held), then fires the low-water notification if consumption crossed the threshold.
    pub(super) fn with_queue<R>(
        self: &Arc<Self>,
        f: impl FnOnce(Option<&mut ReceiveQueue>) -> R,
    ) -> R {
        let mut s = self.state.lock();
        if s.closed {
            // A closing SRQ offers nothing (its receives were discarded).
            return f(None);
        }
        let before = s.queue.len();
        let r = f(Some(&mut s.queue));
        if s.queue.len() < before {
            // Only consumption can make the queue "drop below" the threshold.
            let queued = s.queue.len();
            let due = s.threshold.consumed(queued);
            self.schedule(&mut s, due);
        }
        drop(s);
        r
    }

    /// Records a due notification and queues the DPC unless it is already queued. Under the SRQ
    /// lock; never calls the consumer.
    fn schedule(self: &Arc<Self>, s: &mut SrqState, due: Option<NTSTATUS>) {
        let Some(status) = due else { return };
        let Some(dpc) = &s.dpc else {
            return; // no callback given: never notify
        };
        if s.delivery.schedule(status, || Unit::try_new(self)) {
            dpc.queue();
        }
    }

    /// Attaches a QP created with this SRQ (so a post into an empty SRQ runs it).
    pub(super) fn attach(&self, qp: &Arc<Qp>) -> Result<(), NTSTATUS> {
        loop {
            let capacity = {
                let mut u = self.users.lock();
                match u.qps.push(Arc::clone(qp)) {
                    Ok(()) => return Ok(()),
                    Err(refused) => {
                        drop(u);
                        drop(refused); // a plain `Arc`: the QP's handle is still held
                        self.users.lock().qps.capacity()
                    }
                }
            };
            let mut bigger = self
                .pd
                .adapter()
                .platform()
                .try_vec_with_capacity(capacity.max(2) * 2)
                .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
            let mut u = self.users.lock();
            if u.qps.capacity() < bigger.capacity() {
                while let Some(q) = u.qps.pop() {
                    // `bigger` holds at least twice the old capacity.
                    let _ = bigger.push(q);
                }
                core::mem::swap(&mut u.qps, &mut bigger);
                u.epoch += 1;
            }
            drop(u);
            drop(bigger);
        }
    }

    /// Detaches a closing QP (its close stage; I2: units are taken under the same lock).
    pub(super) fn detach(&self, qp: &Qp) {
        let removed = {
            let mut u = self.users.lock();
            let at = u.qps.iter().position(|q| core::ptr::eq(Arc::as_ptr(q), qp));
            let removed = at.map(|i| u.qps.swap_remove(i));
            if removed.is_some() {
                u.epoch += 1;
            }
            removed
        };
        // A plain `Arc` (the QP's BASE is held by its closer): released outside the lock.
        drop(removed);
    }

    /// Runs every attached QP once (restarting the walk if the list changed under it; running a
    /// QP twice is harmless).
    fn kick(&self) {
        let mut at = 0;
        let mut seen = None;
        loop {
            let unit = {
                let u = self.users.lock();
                if seen.is_some_and(|e| e != u.epoch) {
                    at = 0;
                }
                seen = Some(u.epoch);
                let Some(qp) = u.qps.get(at) else {
                    return;
                };
                let unit = Unit::try_new(qp);
                drop(u);
                unit
            };
            at += 1;
            if let Some(qp) = unit {
                qp.arc().kick();
                drop(qp);
            }
        }
    }
}
