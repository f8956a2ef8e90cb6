//! The requester: executes the head of one QP's initiator queue against its connected peer,
//! one request per step, strictly in posting order.
//!
//! Each step runs three phases in order — fetch the head, gate it (connection, peer, read fence
//! and read credit), execute it — and each phase either hands the request on or ends the step
//! with why it stopped or the outcome (failures carry their completion status).
//! Execution validates every range of the request (local SGEs here, the peer's side in the
//! responder) before the first byte is copied, then copies each byte once from its source range
//! to its destination range. The requester never pushes completions (the completer does).

use super::completer::{Outcome, is_silent, op_of};
use super::endpoint::{Endpoint, QpState};
use super::memory::{Copier, MemorySpace, RegionSlice, Source, scatter_gather};
use super::queue::{ReceiveQueue, Wqe, WqeKind};
use super::responder::{self, SendRefusal};
use super::types::{Access, Completion, OpFlags, OpType, Status};

/// Why the requester stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Blocked {
    /// Nothing queued, or only DEFER posts whose doorbell has not been rung.
    Empty,
    /// This QP is not connected (idle, or in the error state).
    NotConnected,
    /// The peer QP is not connected yet; requests touching it wait.
    PeerNotReady,
    /// The head is a send and the peer has no receive posted: it waits at the head and blocks
    /// every later request of this queue until the peer posts one.
    WaitingForReceive,
    /// `READ_FENCE` with an earlier read still outstanding. With inline execution every read
    /// completes inside its own step, so in-order execution already satisfies the fence; the
    /// gate keeps the state machine correct if reads ever complete asynchronously.
    ReadFence,
    /// All outbound read credits (ORD) are in use; the read waits. As for the fence, inline
    /// execution holds at most one read in flight, so with ORD ≥ 1 this does not occur.
    ReadCredit,
    /// The `progress` call's budget ran out; work may be left: call again (e.g. from deferred
    /// work, so one call never runs unboundedly long at DISPATCH).
    Budget,
}

/// Result of one step.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Step {
    Blocked(Blocked),
    Executed(Outcome),
}

/// The pieces of the peer a step needs.
pub(crate) struct Peer<'p, M: ?Sized> {
    pub endpoint: &'p mut Endpoint,
    pub memory: &'p M,
    pub srq: Option<&'p mut ReceiveQueue>,
}

/// Run one request of `local` against `peer`, if it can run: Fetch → Gate → Execute, each
/// phase either handing the request on or ending the step with a [`Step`].
///
/// Straight-line code rather than a loop over a phase enum: the phases always run in this
/// order, and the loop form moved the entry and the outcome through memory on every turn.
#[inline]
pub(crate) fn step<ML, MP, C>(
    local: &mut Endpoint,
    local_memory: &ML,
    peer: &mut Peer<'_, MP>,
    copier: &mut C,
) -> Step
where
    ML: MemorySpace + ?Sized,
    MP: MemorySpace + ?Sized,
    C: Copier + ?Sized,
{
    let (slot, wqe) = match fetch(local) {
        Ok(head) => head,
        Err(why) => return Step::Blocked(why),
    };
    if let Some(end) = gate(local, peer.endpoint, &wqe) {
        return end;
    }
    execute(local, local_memory, peer, copier, slot, wqe)
}

/// Why `local` has nothing to fetch, if so: what [`step`] would answer without reading the
/// head entry.
#[inline]
pub(crate) const fn idle(local: &Endpoint) -> Option<Blocked> {
    if !matches!(local.state, QpState::Connected) {
        Some(Blocked::NotConnected)
    } else if local.sq.is_idle() {
        Some(Blocked::Empty)
    } else {
        None
    }
}

/// Fetch: the head of the initiator queue, if this QP is connected and the doorbell covers it.
#[inline]
fn fetch(local: &Endpoint) -> Result<(usize, Wqe), Blocked> {
    if !matches!(local.state, QpState::Connected) {
        return Err(Blocked::NotConnected);
    }
    local.sq.head().ok_or(Blocked::Empty)
}

const fn touches_peer(kind: WqeKind) -> bool {
    matches!(
        kind,
        WqeKind::Send
            | WqeKind::SendAndInvalidate(_)
            | WqeKind::Read { .. }
            | WqeKind::Write { .. }
    )
}

/// Gate: whether the head may execute now. `None` hands it on to execution; `Some` ends the
/// step (the request waits, or it failed against a peer in error and was removed).
#[inline]
const fn gate(local: &mut Endpoint, peer: &Endpoint, wqe: &Wqe) -> Option<Step> {
    if touches_peer(wqe.kind) {
        match peer.state {
            QpState::Idle => return Some(Step::Blocked(Blocked::PeerNotReady)),
            QpState::Error(_) => {
                local.sq.retire_head();
                return Some(Step::Executed(local_only(
                    local,
                    wqe,
                    Status::ConnectionAborted,
                    0,
                )));
            }
            QpState::Connected => {}
        }
    }
    if wqe.flags.contains(OpFlags::READ_FENCE) && local.reads_in_flight != 0 {
        return Some(Step::Blocked(Blocked::ReadFence));
    }
    if matches!(wqe.kind, WqeKind::Read { .. }) && local.reads_in_flight >= local.ord {
        return Some(Step::Blocked(Blocked::ReadCredit));
    }
    None
}

/// The requester's completion for `wqe`, with no responder side.
const fn local_only(local: &Endpoint, wqe: &Wqe, status: Status, bytes: u32) -> Outcome {
    Outcome {
        local: completion(local, wqe.context, status, bytes, op_of(wqe.kind)),
        silent: is_silent(wqe.flags),
        remote: None,
        remote_fails: false,
    }
}

const fn completion(
    ep: &Endpoint,
    context: usize,
    status: Status,
    bytes: u32,
    op: OpType,
) -> Completion {
    Completion {
        request_context: context,
        qp_context: ep.config.qp_context,
        status,
        bytes: if status.is_success() { bytes } else { 0 },
        op,
        invalidated_token: None,
        solicited: false,
    }
}

#[inline]
fn execute<ML, MP, C>(
    local: &mut Endpoint,
    local_memory: &ML,
    peer: &mut Peer<'_, MP>,
    copier: &mut C,
    slot: usize,
    wqe: Wqe,
) -> Step
where
    ML: MemorySpace + ?Sized,
    MP: MemorySpace + ?Sized,
    C: Copier + ?Sized,
{
    match wqe.kind {
        WqeKind::Send => send(local, local_memory, peer, copier, slot, wqe, None),
        WqeKind::SendAndInvalidate(token) => {
            send(local, local_memory, peer, copier, slot, wqe, Some(token))
        }
        WqeKind::Write { address, token } => {
            write(local, local_memory, peer, copier, slot, wqe, address, token)
        }
        WqeKind::Read { address, token } => {
            read(local, local_memory, peer, copier, slot, wqe, address, token)
        }
        WqeKind::Bind | WqeKind::FastRegister => {
            // Validated and applied at post time; only the in-order completion remains.
            local.sq.retire_head();
            Step::Executed(local_only(local, &wqe, Status::Success, 0))
        }
        WqeKind::Invalidate(target) => {
            local.sq.retire_head();
            let status = if local_memory.invalidate(target).is_ok() {
                Status::Success
            } else {
                Status::InvalidateError
            };
            Step::Executed(local_only(local, &wqe, status, 0))
        }
    }
}

/// Resolve the local source of a send or write: inline bytes, or SGEs with local read rights.
#[inline]
fn local_source<'q, M: MemorySpace + ?Sized>(
    local: &'q mut Endpoint,
    memory: &M,
    slot: usize,
    wqe: &Wqe,
) -> Option<Source<'q>> {
    if wqe.inline {
        Some(Source::Inline(local.sq.inline_bytes(slot, wqe)))
    } else {
        local
            .sq
            .resolve(slot, wqe, memory, Access::LOCAL_READ)
            .ok()
            .map(Source::Regions)
    }
}

#[inline]
fn send<ML, MP, C>(
    local: &mut Endpoint,
    local_memory: &ML,
    peer: &mut Peer<'_, MP>,
    copier: &mut C,
    slot: usize,
    wqe: Wqe,
    invalidate: Option<u32>,
) -> Step
where
    ML: MemorySpace + ?Sized,
    MP: MemorySpace + ?Sized,
    C: Copier + ?Sized,
{
    let rq = match peer.srq.as_deref_mut() {
        Some(srq) => srq,
        None => match peer.endpoint.rq.as_mut() {
            Some(rq) => rq,
            // A QP created with an SRQ was driven without it: nothing can be received.
            None => return Step::Blocked(Blocked::WaitingForReceive),
        },
    };
    if rq.is_empty() {
        return Step::Blocked(Blocked::WaitingForReceive);
    }
    let peer_qp_context = peer.endpoint.config.qp_context;
    let Some(source) = local_source(local, local_memory, slot, &wqe) else {
        // Local fault: the send never left; the peer's receive stays posted.
        local.sq.retire_head();
        return Step::Executed(local_only(local, &wqe, Status::LocalProtectionError, 0));
    };
    let receive = |context, status, bytes| Completion {
        request_context: context,
        qp_context: peer_qp_context,
        status,
        bytes,
        op: if invalidate.is_some() {
            OpType::ReceiveAndInvalidate
        } else {
            OpType::Receive
        },
        invalidated_token: if status.is_success() {
            invalidate
        } else {
            None
        },
        solicited: status.is_success() && wqe.flags.contains(OpFlags::SEND_AND_SOLICIT_EVENT),
    };
    match responder::accept_send(rq, peer.memory, wqe.length, invalidate) {
        Err(SendRefusal::NoReceive) => Step::Blocked(Blocked::WaitingForReceive),
        Err(SendRefusal::Rejected {
            receive_context,
            receive_status,
        }) => {
            local.sq.retire_head();
            let mut outcome = local_only(local, &wqe, Status::RemoteOperationError, 0);
            outcome.remote = Some(receive(receive_context, receive_status, 0));
            outcome.remote_fails = true;
            Step::Executed(outcome)
        }
        Ok((rqe, destination)) => {
            scatter_gather(copier, source, destination, wqe.length);
            rq.retire_head();
            local.sq.retire_head();
            let mut outcome = local_only(local, &wqe, Status::Success, wqe.length);
            outcome.remote = Some(receive(rqe.context, Status::Success, wqe.length));
            Step::Executed(outcome)
        }
    }
}

#[allow(clippy::too_many_arguments)] // one per piece of the request; a struct would only rename them
#[inline]
fn write<ML, MP, C>(
    local: &mut Endpoint,
    local_memory: &ML,
    peer: &Peer<'_, MP>,
    copier: &mut C,
    slot: usize,
    wqe: Wqe,
    address: u64,
    token: u32,
) -> Step
where
    ML: MemorySpace + ?Sized,
    MP: MemorySpace + ?Sized,
    C: Copier + ?Sized,
{
    let Some(source) = local_source(local, local_memory, slot, &wqe) else {
        local.sq.retire_head();
        return Step::Executed(local_only(local, &wqe, Status::LocalProtectionError, 0));
    };
    let target = responder::accept_write(peer.endpoint, peer.memory, token, address, wqe.length);
    match target {
        Err(status) => {
            local.sq.retire_head();
            let mut outcome = local_only(local, &wqe, status, 0);
            outcome.remote_fails = true;
            Step::Executed(outcome)
        }
        Ok(target) => {
            scatter_gather(copier, source, &[target], wqe.length);
            local.sq.retire_head();
            Step::Executed(local_only(local, &wqe, Status::Success, wqe.length))
        }
    }
}

#[allow(clippy::too_many_arguments)] // as for `write`
fn read<ML, MP, C>(
    local: &mut Endpoint,
    local_memory: &ML,
    peer: &mut Peer<'_, MP>,
    copier: &mut C,
    slot: usize,
    wqe: Wqe,
    address: u64,
    token: u32,
) -> Step
where
    ML: MemorySpace + ?Sized,
    MP: MemorySpace + ?Sized,
    C: Copier + ?Sized,
{
    // Local sink first: a local fault never reaches the peer.
    let sink_rights = Access::LOCAL_WRITE | Access::READ_SINK;
    if local
        .sq
        .resolve(slot, &wqe, local_memory, sink_rights)
        .is_err()
    {
        local.sq.retire_head();
        return Step::Executed(local_only(local, &wqe, Status::LocalProtectionError, 0));
    }
    local.reads_in_flight += 1;
    let source = responder::begin_read(peer.endpoint, peer.memory, token, address, wqe.length);
    let source: RegionSlice = match source {
        Ok(s) => s,
        Err(status) => {
            local.reads_in_flight -= 1;
            local.sq.retire_head();
            let mut outcome = local_only(local, &wqe, status, 0);
            outcome.remote_fails = true;
            return Step::Executed(outcome);
        }
    };
    scatter_gather(
        copier,
        Source::Regions(&[source]),
        local.sq.resolved(),
        wqe.length,
    );
    responder::end_read(peer.endpoint);
    local.reads_in_flight -= 1;
    let first_token = local.sq.sges(slot, &wqe).first().map(|s| s.token);
    local.sq.retire_head();
    let invalidate_first = wqe.flags.contains(OpFlags::RDMA_READ_LOCAL_INVALIDATE)
        && local.config.read_local_invalidate_supported;
    let status = match first_token {
        Some(token) if invalidate_first && local_memory.invalidate_token(token).is_err() => {
            Status::InvalidateError
        }
        _ => Status::Success,
    };
    Step::Executed(local_only(local, &wqe, status, wqe.length))
}
