//! One connection attempt/connection: both sides' state under one lock, the requests each side
//! has pending, what is ready to be delivered to each, and the effects a step has outside the
//! lock (QP stop/flush, queueing a connector's delivery work).
//!
//! Owns the application of [`state`](super::state) steps and the publication rule that makes
//! cross-connector notifications safe: a side's connector is *published* (its `Weak` stored
//! here) from attachment until its close stage, which unpublishes it under this lock while BASE
//! is still held; units on a peer are only ever taken under this lock while it is published
//! (invariant I2 of `docs/lifetime.md`). Nothing here calls a QP or the consumer, and no unit
//! is dropped while the lock is held.
#![deny(unsafe_code)]
// Each function holds the connection lock for one whole step and returns the effects to run
// after it drops; tightening the guard further would split steps.
#![allow(clippy::significant_drop_tightening)]

use super::connector::Connector;
use super::negotiate::{PrivateData, ReadLimits};
use super::publication::Published;
use super::state::{self, Phase, Request, Step};
use super::{CmOutcome, Complete, Family, Notify, QpLink, lock_level};
use crate::abi::NTSTATUS;
use crate::fabric::{Address, Fabric};
use crate::lifetime::{Tracked, Unit};
use crate::platform::prelude::*;
use crate::platform::{SpinLock, Timestamp, assert_no_provider_lock_held};
use crate::sync::Arc;

/// Index of the active (connecting) side.
pub const ACTIVE: usize = 0;
/// Index of the passive (listening) side.
pub const PASSIVE: usize = 1;

/// A request accepted with `STATUS_PENDING`: its completion and the unit that keeps the
/// connector's close pending until the completion has returned.
pub struct Pending<F: Family> {
    pub completion: F::Completion,
    pub unit: Unit<Connector<F>>,
}

/// Something ready to be delivered to one side's consumer by its deferred work.
pub enum Ready<F: Family> {
    Request(Pending<F>, NTSTATUS),
    Event(Unit<Connector<F>>, F::DisconnectEvent, u32),
    Suppressed(Unit<Connector<F>>),
}

impl<F: Family> Ready<F> {
    /// Delivers to the consumer. No provider lock may be held.
    fn deliver(self) {
        match self {
            Self::Request(pending, status) => {
                assert_no_provider_lock_held();
                pending.completion.complete(status);
                drop(pending.unit);
            }
            Self::Event(unit, event, reason) => {
                // C3: no event once the connector's close started (the unit keeps a close
                // that starts during the call pending until it returns: C2).
                if !unit.node().is_closing() {
                    assert_no_provider_lock_held();
                    event.notify(reason);
                }
                drop(unit);
            }
            Self::Suppressed(unit) => drop(unit),
        }
    }
}

/// One side of a connection.
pub struct Side<F: Family> {
    pub phase: Phase,
    /// The connector, while published (attachment until its close stage).
    obj: Published<Connector<F>>,
    /// The QP associated by connect/accept (the connector's late link; taken by its finaliser).
    pub qp: Option<Unit<F::Qp>>,
    establish: Option<Pending<F>>,
    disconnect: Option<Pending<F>>,
    event: Option<F::DisconnectEvent>,
    disconnect_called: bool,
    ready_establish: Option<(Pending<F>, NTSTATUS)>,
    ready_disconnect: Option<(Pending<F>, NTSTATUS)>,
    ready_event: Option<(Unit<Connector<F>>, F::DisconnectEvent, u32)>,
    /// Read limits this side asked for, and its adapter's maxima.
    pub requested: ReadLimits,
    pub max: ReadLimits,
    /// Private data this side sent (connect, accept or reject).
    pub sent: PrivateData,
    /// Negotiated limits, once the passive side accepted.
    pub effective: Option<ReadLimits>,
    pub local: Address,
    pub remote: Address,
    deadline: Option<Timestamp>,
    /// The established connection failed for this side (the peer aborted it, or a step timed
    /// out): counted as a connection error when the side ends.
    failed: bool,
}

impl<F: Family> Side<F> {
    /// A side in `phase` with nothing pending.
    pub const fn new(phase: Phase, local: Address, remote: Address) -> Self {
        Self {
            phase,
            obj: Published::none(),
            qp: None,
            establish: None,
            disconnect: None,
            event: None,
            disconnect_called: false,
            ready_establish: None,
            ready_disconnect: None,
            ready_event: None,
            requested: ReadLimits::new(0, 0),
            max: ReadLimits::new(0, 0),
            sent: PrivateData::EMPTY,
            effective: None,
            local,
            remote,
            deadline: None,
            failed: false,
        }
    }

    /// The active side of a new attempt: connecting, with its request pending.
    #[allow(clippy::large_types_passed_by_value, reason = "moved into the side")]
    pub fn connecting(
        obj: &Arc<Connector<F>>,
        qp: Unit<F::Qp>,
        limits: (ReadLimits, ReadLimits),
        sent: PrivateData,
        (local, remote): (Address, Address),
        pending: Pending<F>,
    ) -> Self {
        let mut side = Self::new(Phase::Connecting, local, remote);
        side.obj.publish(obj);
        side.qp = Some(qp);
        side.establish = Some(pending);
        (side.requested, side.max) = limits;
        side.sent = sent;
        side
    }

    fn published(&self) -> Option<Arc<Connector<F>>> {
        self.obj.get()
    }

    fn qp_arc(&self) -> Option<Arc<F::Qp>> {
        self.qp.as_ref().map(|u| Arc::clone(u.arc()))
    }

    /// Moves a completed pending request to the ready slot of its kind.
    fn finish(&mut self, request: Request, status: NTSTATUS) -> bool {
        let (pending, ready) = match request {
            Request::Establish => (&mut self.establish, &mut self.ready_establish),
            Request::Disconnect => (&mut self.disconnect, &mut self.ready_disconnect),
        };
        pending.take().is_some_and(|p| {
            debug_assert!(ready.is_none(), "one request of a kind at a time");
            *ready = Some((p, status));
            true
        })
    }
}

/// What a step does outside the lock, in this order: count outcomes on the adapters, stop/flush
/// QPs, then queue deliveries.
pub struct Effects<F: Family> {
    counts: [Option<(Arc<Connector<F>>, CmOutcome)>; 2],
    flush: [Option<Arc<F::Qp>>; 2],
    queue: [Option<Arc<Connector<F>>>; 2],
}

impl<F: Family> Effects<F> {
    const fn none() -> Self {
        Self {
            counts: [None, None],
            flush: [None, None],
            queue: [None, None],
        }
    }

    /// Performs the effects. No CM lock may be held.
    pub fn run(self) {
        for (connector, outcome) in self.counts.into_iter().flatten() {
            connector.count(outcome);
        }
        for qp in self.flush.into_iter().flatten() {
            qp.stop_and_flush();
        }
        for connector in self.queue.into_iter().flatten() {
            connector.queue_delivery();
        }
    }
}

pub struct Pair<F: Family> {
    pub sides: [Side<F>; 2],
}

/// A connection: both sides under one lock.
pub struct Connection<F: Family> {
    fabric: Fabric<F>,
    lock: SpinLock<Pair<F>>,
}

impl<F: Family> Connection<F> {
    /// A new attempt (fallible allocation: on failure both sides, with the active side's
    /// pending request and QP unit, are dropped and the caller reports the status inline).
    pub fn new(
        fabric: &Fabric<F>,
        active: Side<F>,
        passive: Side<F>,
    ) -> Result<Arc<Self>, NTSTATUS> {
        let mut active = active;
        active.deadline = Some(fabric.deadline(fabric.config().connect_timeout));
        fabric
            .platform()
            .try_arc(Self {
                fabric: fabric.clone(),
                lock: SpinLock::new(
                    lock_level::CONNECTION,
                    Pair {
                        sides: [active, passive],
                    },
                ),
            })
            .map_err(|_| crate::abi::STATUS_INSUFFICIENT_RESOURCES)
    }

    /// Runs `f` on both sides under the lock.
    pub fn with<R>(&self, f: impl FnOnce(&mut Pair<F>) -> R) -> R {
        f(&mut self.lock.lock())
    }

    /// Publishes the passive connector (listener hand-up path).
    pub fn publish(&self, side: usize, obj: &Arc<Connector<F>>) {
        self.lock.lock().sides[side].obj.publish(obj);
    }

    /// Takes back what the active side stored when routing failed (to drop outside the lock).
    pub fn abandon(&self) -> (Option<Pending<F>>, Option<Unit<F::Qp>>) {
        let mut pair = self.lock.lock();
        let side = &mut pair.sides[ACTIVE];
        side.phase = Phase::Aborted;
        let _ = side.obj.unpublish();
        side.deadline = None;
        (side.establish.take(), side.qp.take())
    }

    /// The connector's finaliser takes its QP link (the side is unpublished and idle by now).
    pub fn detach(&self, side: usize) -> Option<Unit<F::Qp>> {
        let mut pair = self.lock.lock();
        let s = &mut pair.sides[side];
        let _ = s.obj.unpublish();
        debug_assert!(s.establish.is_none() && s.disconnect.is_none());
        s.qp.take()
    }

    /// Everything ready for `side`'s consumer, in delivery order.
    pub fn take_ready(&self, side: usize) -> [Option<Ready<F>>; 3] {
        let mut pair = self.lock.lock();
        let s = &mut pair.sides[side];
        let event = s.ready_event.take().map(|(unit, event, reason)| {
            // The local consumer disconnected (or closed) since: no event any more.
            if s.disconnect_called || !s.obj.is_published() {
                Ready::Suppressed(unit)
            } else {
                Ready::Event(unit, event, reason)
            }
        });
        [
            s.ready_establish
                .take()
                .map(|(p, st)| Ready::Request(p, st)),
            s.ready_disconnect
                .take()
                .map(|(p, st)| Ready::Request(p, st)),
            event,
        ]
    }

    /// Delivers everything ready for `side` (deferred work). No lock may be held.
    pub fn deliver(&self, side: usize) {
        loop {
            let items = self.take_ready(side);
            if items.iter().all(Option::is_none) {
                return;
            }
            for item in items.into_iter().flatten() {
                item.deliver();
            }
        }
    }

    /// `NdkAccept(Ex)` on `side` (passive).
    pub fn accept(
        &self,
        me: usize,
        qp: Unit<F::Qp>,
        (requested, max): (ReadLimits, ReadLimits),
        sent: &PrivateData,
        event: Option<F::DisconnectEvent>,
        pending: Pending<F>,
    ) -> Result<Effects<F>, NTSTATUS> {
        let mut pair = self.lock.lock();
        let p = 1 - me;
        let step = match state::accept(pair.sides[me].phase, pair.sides[p].phase) {
            Ok(step) => step,
            Err((status, phase)) => {
                let effects = Self::refused(&mut pair, me, phase);
                drop(pair);
                effects.run();
                return Err(status);
            }
        };
        let peer_requested = pair.sides[p].requested;
        let peer_max = pair.sides[p].max;
        let s = &mut pair.sides[me];
        s.qp = Some(qp);
        s.establish = Some(pending);
        s.event = event;
        s.requested = requested;
        s.max = max;
        s.sent = *sent;
        let (mine, theirs) = (requested.capped(max), peer_requested.capped(peer_max));
        s.effective = Some(mine.negotiate(max, theirs));
        pair.sides[p].effective = Some(theirs.negotiate(peer_max, mine));
        Ok(self.apply(&mut pair, me, &step))
    }

    /// `NdkReject` on `side`.
    pub fn reject(&self, me: usize, sent: &PrivateData) -> Result<Effects<F>, NTSTATUS> {
        let mut pair = self.lock.lock();
        let p = 1 - me;
        match state::reject(pair.sides[me].phase, pair.sides[p].phase) {
            Ok(step) => {
                pair.sides[me].sent = *sent;
                Ok(self.apply(&mut pair, me, &step))
            }
            Err((status, phase)) => {
                let effects = Self::refused(&mut pair, me, phase);
                drop(pair);
                effects.run();
                Err(status)
            }
        }
    }

    /// First half of `NdkCompleteConnect`: checks the phases and hands out both QPs and their
    /// effective limits, to be joined outside the lock.
    #[allow(clippy::type_complexity)]
    pub fn prepare_join(
        &self,
        me: usize,
    ) -> Result<(Arc<F::Qp>, Arc<F::Qp>, ReadLimits, ReadLimits), NTSTATUS> {
        let mut pair = self.lock.lock();
        let p = 1 - me;
        if let Err((status, phase)) =
            state::complete_connect(pair.sides[me].phase, pair.sides[p].phase)
        {
            let effects = Self::refused(&mut pair, me, phase);
            drop(pair);
            effects.run();
            return Err(status);
        }
        let (s, peer) = (&pair.sides[me], &pair.sides[p]);
        match (s.qp_arc(), peer.qp_arc(), s.effective, peer.effective) {
            (Some(a), Some(b), Some(la), Some(lb)) => Ok((a, b, la, lb)),
            _ => Err(crate::abi::STATUS_CONNECTION_INVALID),
        }
    }

    /// Second half of `NdkCompleteConnect`: the QPs were joined (or `joined` says why not).
    pub fn complete_connect(
        &self,
        me: usize,
        event: Option<F::DisconnectEvent>,
        joined: Result<(), NTSTATUS>,
    ) -> Result<Effects<F>, NTSTATUS> {
        let mut pair = self.lock.lock();
        let p = 1 - me;
        let (mine, peers) = (pair.sides[me].phase, pair.sides[p].phase);
        if let Err(status) = joined {
            // The QPs cannot carry this connection: the attempt is over on both sides.
            return match state::reject(mine, peers) {
                Ok(mut step) => {
                    step.me = Phase::Aborted;
                    let effects = self.apply(&mut pair, me, &step);
                    drop(pair);
                    effects.run();
                    Err(status)
                }
                Err((_, phase)) => {
                    let effects = Self::refused(&mut pair, me, phase);
                    drop(pair);
                    effects.run();
                    Err(status)
                }
            };
        }
        match state::complete_connect(mine, peers) {
            Ok(step) => {
                pair.sides[me].event = event;
                Ok(self.apply(&mut pair, me, &step))
            }
            Err((status, phase)) => {
                let effects = Self::refused(&mut pair, me, phase);
                drop(pair);
                effects.run();
                Err(status)
            }
        }
    }

    /// `NdkDisconnect` on `side`.
    pub fn disconnect(&self, me: usize, pending: Pending<F>) -> Result<Effects<F>, NTSTATUS> {
        let mut pair = self.lock.lock();
        let p = 1 - me;
        let step = state::disconnect(pair.sides[me].phase, pair.sides[p].phase)
            .map_err(|(status, _)| status)?;
        let s = &mut pair.sides[me];
        s.disconnect = Some(pending);
        s.disconnect_called = true;
        Ok(self.apply(&mut pair, me, &step))
    }

    /// The close stage of `side`'s connector: abort, cancel, unpublish.
    pub fn close(&self, me: usize, own: &Arc<Connector<F>>) -> Effects<F> {
        let mut pair = self.lock.lock();
        let p = 1 - me;
        let step = state::close(pair.sides[me].phase, pair.sides[p].phase);
        let mut effects = self.apply(&mut pair, me, &step);
        let s = &mut pair.sides[me];
        let _ = s.obj.unpublish();
        s.deadline = None;
        s.disconnect_called = true;
        // Cancelled requests are delivered by the connector's own deferred work, which the
        // closer reaches through its own `Arc` (the side is unpublished from now on).
        if s.ready_establish.is_some() || s.ready_disconnect.is_some() {
            effects.queue[me] = Some(Arc::clone(own));
        }
        effects
    }

    /// Ends the steps whose deadline passed at `now`; returns how many.
    pub fn expire(&self, now: Timestamp) -> usize {
        let mut pair = self.lock.lock();
        let mut effects = [Effects::none(), Effects::none()];
        let mut expired = 0;
        for me in [ACTIVE, PASSIVE] {
            let due = pair.sides[me].deadline.is_some_and(|d| d <= now);
            if !due {
                continue;
            }
            pair.sides[me].deadline = None;
            if let Some(step) = state::timeout(pair.sides[me].phase, pair.sides[1 - me].phase) {
                pair.sides[me].failed = true;
                effects[me] = self.apply(&mut pair, me, &step);
                expired += 1;
            }
        }
        drop(pair);
        for e in effects {
            e.run();
        }
        expired
    }

    /// A call refused by the state machine leaves side `me` in `phase` (unchanged, or
    /// `Aborted` when the peer gave up): only the outcome count can follow, after unlocking.
    fn refused(pair: &mut Pair<F>, me: usize, phase: Phase) -> Effects<F> {
        let mut effects = Effects::none();
        let s = &mut pair.sides[me];
        if let Some(outcome) = CmOutcome::of(me, s.phase, phase) {
            effects.counts[me] = s.published().map(|c| (c, outcome));
        }
        s.phase = phase;
        effects
    }

    /// Applies `step` for side `me` under the lock; returns what to do after unlocking.
    fn apply(&self, pair: &mut Pair<F>, me: usize, step: &Step) -> Effects<F> {
        let p = 1 - me;
        let mut effects = Effects::none();
        let mut touched = [false; 2];
        if step.event_peer == Some(state::REASON_ABORTED) {
            // The peer's connection is aborted under it (this side closed while connected).
            pair.sides[p].failed = true;
        }
        for (side, phase) in [(me, step.me), (p, step.peer)] {
            let s = &mut pair.sides[side];
            if s.phase != phase {
                // Counted on the side's adapter (statistics) while it is published; a side
                // whose connector closed has reached a final phase and changes no more.
                if let Some(outcome) = CmOutcome::of(side, s.phase, phase) {
                    let outcome = outcome.failed_if(s.failed);
                    effects.counts[side] = s.published().map(|c| (c, outcome));
                }
                s.phase = phase;
                s.deadline = self.deadline_for(phase);
            }
        }
        if let Some((request, status)) = step.complete_me {
            touched[me] |= pair.sides[me].finish(request, status);
        }
        if let Some((request, status)) = step.complete_peer {
            touched[p] |= pair.sides[p].finish(request, status);
        }
        if step.cancel_me {
            let s = &mut pair.sides[me];
            touched[me] |= s.finish(Request::Establish, state::CANCELLED);
            touched[me] |= s.finish(Request::Disconnect, state::CANCELLED);
        }
        if let Some(reason) = step.event_peer {
            let s = &mut pair.sides[p];
            if let (Some(event), false) = (s.event.clone(), s.disconnect_called) {
                // Published under this lock, so its BASE is held: the unit is legal (I2).
                if let Some(unit) = s.obj.unit() {
                    debug_assert!(s.ready_event.is_none(), "at most one disconnect event");
                    s.ready_event = Some((unit, event, reason));
                    s.event = None;
                    touched[p] = true;
                }
            }
        }
        if step.flush_me {
            effects.flush[me] = pair.sides[me].qp_arc();
        }
        if step.flush_peer {
            effects.flush[p] = pair.sides[p].qp_arc();
        }
        for side in [me, p] {
            if touched[side] {
                effects.queue[side] = pair.sides[side].published();
            }
        }
        effects
    }

    fn deadline_for(&self, phase: Phase) -> Option<Timestamp> {
        let c = self.fabric.config();
        let after = match phase {
            Phase::Connecting => c.connect_timeout,
            Phase::Accepting => c.accept_timeout,
            Phase::Disconnecting => c.disconnect_timeout,
            _ => return None,
        };
        Some(self.fabric.deadline(after))
    }
}
