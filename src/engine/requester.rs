//! The requester: executes the head of one QP's initiator queue against its connected peer,
//! one request per step, strictly in posting order.
//!
//! Each step runs three phases in order — fetch the head (`fetch`, made by the caller, which
//! hands the step the slot), gate it (connection, peer, read fence and read credit), execute
//! it — and each phase either hands the request on or ends the step with why it stopped or by
//! handing the outcome to the completer (failures carry their completion status).
//! Execution validates every range of the request (local SGEs here, the peer's side in the
//! responder) before the first byte is copied, then copies each byte once from its source range
//! to its destination range. The requester builds completions but never pushes them: each
//! executed step ends in `completer::finish` (the copier settles, then the completions go to
//! the sink), called from the exit the step took, so no outcome travels back through a
//! return value.

use super::completer::{self, CompletionSink, Outcome, is_silent, op_of};
use super::endpoint::{Endpoint, QpState};
use super::memory::{Copier, MemorySpace, RegionSlice, Source, copy_one, scatter_gather};
use super::queue::{ReceiveQueue, Wqe, WqeKind};
use super::responder::{self, Placement, SendRefusal};
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

/// The pieces of the peer a step needs.
pub(crate) struct Peer<'p, M: ?Sized> {
    pub endpoint: &'p mut Endpoint,
    pub memory: &'p M,
    pub srq: Option<&'p mut ReceiveQueue>,
}

/// Fetch: the slot of the head of `local`'s initiator queue, if this QP is connected and the
/// doorbell covers it; otherwise why nothing can run. Reads nothing but the queue's indices.
#[inline]
pub(crate) const fn fetch(local: &Endpoint) -> Result<usize, Blocked> {
    if !matches!(local.state, QpState::Connected) {
        Err(Blocked::NotConnected)
    } else if let Some(slot) = local.sq.head_slot() {
        Ok(slot)
    } else {
        Err(Blocked::Empty)
    }
}

/// Run the request [`fetch`] found in `slot` against `peer`, if it can run: Gate → Execute,
/// each phase either handing the request on or ending the step.
///
/// `Ok` when the request executed: its copies are done, the copier settled and its completions
/// were delivered (by `completer::finish`, from the exit the step took). `Err` says why
/// nothing ran; nothing was delivered and the caller settles the copier.
///
/// The fetch is the caller's (`connection::run`), so the test that decides whether a side has
/// work at all is made once per request, not once before the requester loop and again in it.
/// Straight-line code rather than a loop over a phase enum: the phases always run in this
/// order, and the loop form moved the entry and the outcome through memory on every turn.
#[inline]
pub(crate) fn step<ML, MP, C, S>(
    local: &mut Endpoint,
    local_memory: &ML,
    peer: &mut Peer<'_, MP>,
    copier: &mut C,
    sink: &mut S,
    slot: usize,
) -> Result<(), Blocked>
where
    ML: MemorySpace + ?Sized,
    MP: MemorySpace + ?Sized,
    C: Copier + ?Sized,
    S: CompletionSink + ?Sized,
{
    // The entry is read straight from its slot, never wrapped in an `Option`.
    let wqe = *local.sq.entry(slot);
    if gate(local, peer.endpoint, &wqe)? {
        // The peer is in the error state: the request failed without executing.
        let status = Status::ConnectionAborted;
        fail_head(local, peer.endpoint, copier, sink, slot, status, false);
        return Ok(());
    }
    execute(local, local_memory, peer, copier, sink, slot, wqe)
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

/// Gate: whether the head may execute now. `Ok(false)` hands it on to execution, `Ok(true)`
/// says it touches a peer in the error state (it fails with `ConnectionAborted`), `Err` makes
/// it wait.
#[inline]
const fn gate(local: &Endpoint, peer: &Endpoint, wqe: &Wqe) -> Result<bool, Blocked> {
    // One compare for the usual answer (the peer is connected); the `match` form made the
    // compiler build the state's discriminant in a register first.
    if touches_peer(wqe.kind) && !matches!(peer.state, QpState::Connected) {
        return if matches!(peer.state, QpState::Idle) {
            Err(Blocked::PeerNotReady)
        } else {
            Ok(true)
        };
    }
    if wqe.flags.contains(OpFlags::READ_FENCE) && local.reads_in_flight != 0 {
        return Err(Blocked::ReadFence);
    }
    if matches!(wqe.kind, WqeKind::Read { .. }) && local.reads_in_flight >= local.ord {
        return Err(Blocked::ReadCredit);
    }
    Ok(false)
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

/// The head request (in `slot`) failed with `status`: retire it and report it; the peer enters
/// the error state too if `remote_fails`. Reads the entry again from its slot, so the fast
/// path never needs its copy of the entry in memory.
#[cold]
#[inline(never)]
fn fail_head<C, S>(
    local: &mut Endpoint,
    peer: &mut Endpoint,
    copier: &mut C,
    sink: &mut S,
    slot: usize,
    status: Status,
    remote_fails: bool,
) where
    C: Copier + ?Sized,
    S: CompletionSink + ?Sized,
{
    let wqe = *local.sq.entry(slot);
    local.sq.retire_head();
    let mut outcome = local_only(local, &wqe, status, 0);
    outcome.remote_fails = remote_fails;
    completer::finish_failed(copier, &outcome, local, peer, sink);
}

#[inline]
fn execute<ML, MP, C, S>(
    local: &mut Endpoint,
    local_memory: &ML,
    peer: &mut Peer<'_, MP>,
    copier: &mut C,
    sink: &mut S,
    slot: usize,
    wqe: Wqe,
) -> Result<(), Blocked>
where
    ML: MemorySpace + ?Sized,
    MP: MemorySpace + ?Sized,
    C: Copier + ?Sized,
    S: CompletionSink + ?Sized,
{
    match wqe.kind {
        // The send takes the entry again from its slot rather than a copy (an out-of-line
        // callee taking it by value made every step store the entry to the stack first), and
        // its token to invalidate from the entry (six arguments: all in registers).
        WqeKind::Send | WqeKind::SendAndInvalidate(_) => {
            return send(local, local_memory, peer, copier, sink, slot);
        }
        WqeKind::Write { address, token } => write(
            local,
            local_memory,
            peer,
            copier,
            sink,
            slot,
            wqe,
            address,
            token,
        ),
        // Out of line, the read takes the entry again from its slot rather than a copy:
        // passing it made the step store every entry to memory first. It gets the peer's
        // pieces rather than `peer`, which would have to be in memory for it on every step.
        WqeKind::Read { address, token } => read(
            local,
            local_memory,
            peer.endpoint,
            peer.memory,
            copier,
            sink,
            slot,
            address,
            token,
        ),
        WqeKind::Bind | WqeKind::FastRegister => {
            // Validated and applied at post time; only the in-order completion remains.
            local.sq.retire_head();
            let outcome = local_only(local, &wqe, Status::Success, 0);
            completer::finish(copier, &outcome, local, peer.endpoint, sink);
        }
        WqeKind::Invalidate(target) => {
            local.sq.retire_head();
            let status = if local_memory.invalidate(target).is_ok() {
                Status::Success
            } else {
                Status::InvalidateError
            };
            let outcome = local_only(local, &wqe, status, 0);
            completer::finish(copier, &outcome, local, peer.endpoint, sink);
        }
    }
    Ok(())
}

/// Resolve the local source of a send or write: inline bytes, or SGEs with local read rights.
/// Always inlined: out of line, the entry it reads had to be copied to memory for it.
#[inline(always)]
fn local_source<'q, M: MemorySpace + ?Sized>(
    local: &'q mut Endpoint,
    memory: &M,
    slot: usize,
    wqe: &Wqe,
) -> Option<Source<'q>> {
    if wqe.inline {
        Some(Source::Inline(local.sq.inline_bytes(slot, wqe)))
    } else if wqe.sge_count == 1 {
        local
            .sq
            .resolve_one(slot, memory, Access::LOCAL_READ)
            .ok()
            .map(Source::One)
    } else {
        local
            .sq
            .resolve(slot, wqe, memory, Access::LOCAL_READ)
            .ok()
            .map(Source::Regions)
    }
}

#[allow(clippy::too_many_arguments)] // one per piece of the request; a struct would only rename them
#[inline]
fn send<ML, MP, C, S>(
    local: &mut Endpoint,
    local_memory: &ML,
    peer: &mut Peer<'_, MP>,
    copier: &mut C,
    sink: &mut S,
    slot: usize,
) -> Result<(), Blocked>
where
    ML: MemorySpace + ?Sized,
    MP: MemorySpace + ?Sized,
    C: Copier + ?Sized,
    S: CompletionSink + ?Sized,
{
    let wqe = *local.sq.entry(slot);
    let invalidate = match wqe.kind {
        WqeKind::SendAndInvalidate(token) => Some(token),
        _ => None,
    };
    let rq = match peer.srq.as_deref_mut() {
        Some(srq) => srq,
        None => match peer.endpoint.rq.as_mut() {
            Some(rq) => rq,
            // A QP created with an SRQ was driven without it: nothing can be received.
            None => return Err(Blocked::WaitingForReceive),
        },
    };
    if rq.is_empty() {
        return Err(Blocked::WaitingForReceive);
    }
    let peer_qp_context = peer.endpoint.config.qp_context;
    let Some(source) = local_source(local, local_memory, slot, &wqe) else {
        // Local fault: the send never left; the peer's receive stays posted.
        fail_head(
            local,
            peer.endpoint,
            copier,
            sink,
            slot,
            Status::LocalProtectionError,
            false,
        );
        return Ok(());
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
        Err(SendRefusal::NoReceive) => Err(Blocked::WaitingForReceive),
        Err(SendRefusal::Rejected {
            receive_context,
            receive_status,
        }) => {
            local.sq.retire_head();
            let mut outcome = local_only(local, &wqe, Status::RemoteOperationError, 0);
            outcome.remote = Some(receive(receive_context, receive_status, 0));
            outcome.remote_fails = true;
            completer::finish_failed(copier, &outcome, local, peer.endpoint, sink);
            Ok(())
        }
        Ok((rqe, placement)) => {
            let one;
            let destination = match placement {
                Placement::One(range) => {
                    one = range;
                    core::slice::from_ref(&one)
                }
                Placement::List(list) => list,
            };
            scatter_gather(copier, source, destination, wqe.length);
            rq.retire_head();
            local.sq.retire_head();
            let mut outcome = local_only(local, &wqe, Status::Success, wqe.length);
            outcome.remote = Some(receive(rqe.context, Status::Success, wqe.length));
            completer::finish(copier, &outcome, local, peer.endpoint, sink);
            Ok(())
        }
    }
}

#[allow(clippy::too_many_arguments)] // as for `send`
#[inline]
fn write<ML, MP, C, S>(
    local: &mut Endpoint,
    local_memory: &ML,
    peer: &mut Peer<'_, MP>,
    copier: &mut C,
    sink: &mut S,
    slot: usize,
    wqe: Wqe,
    address: u64,
    token: u32,
) where
    ML: MemorySpace + ?Sized,
    MP: MemorySpace + ?Sized,
    C: Copier + ?Sized,
    S: CompletionSink + ?Sized,
{
    // The usual write — one SGE — resolves and copies its one range without building a
    // `Source` (which joined the three kinds of source in memory); same checks, same order.
    if !wqe.inline && wqe.sge_count == 1 {
        let Ok(from) = local.sq.resolve_one(slot, local_memory, Access::LOCAL_READ) else {
            fail_head(
                local,
                peer.endpoint,
                copier,
                sink,
                slot,
                Status::LocalProtectionError,
                false,
            );
            return;
        };
        let target =
            responder::accept_write(peer.endpoint, peer.memory, token, address, wqe.length);
        match target {
            Err(status) => fail_head(local, peer.endpoint, copier, sink, slot, status, true),
            Ok(target) => {
                copy_one(copier, from, target, wqe.length);
                written(local, peer.endpoint, copier, sink, &wqe);
            }
        }
        return;
    }
    let Some(source) = local_source(local, local_memory, slot, &wqe) else {
        fail_head(
            local,
            peer.endpoint,
            copier,
            sink,
            slot,
            Status::LocalProtectionError,
            false,
        );
        return;
    };
    let target = responder::accept_write(peer.endpoint, peer.memory, token, address, wqe.length);
    match target {
        Err(status) => fail_head(local, peer.endpoint, copier, sink, slot, status, true),
        Ok(target) => {
            scatter_gather(copier, source, &[target], wqe.length);
            written(local, peer.endpoint, copier, sink, &wqe);
        }
    }
}

/// A write's bytes are copied: retire it and finish the step.
#[inline(always)]
fn written<C, S>(local: &mut Endpoint, peer: &mut Endpoint, copier: &mut C, sink: &mut S, wqe: &Wqe)
where
    C: Copier + ?Sized,
    S: CompletionSink + ?Sized,
{
    local.sq.retire_head();
    let outcome = local_only(local, wqe, Status::Success, wqe.length);
    completer::finish(copier, &outcome, local, peer, sink);
}

#[allow(clippy::too_many_arguments)] // as for `send`
fn read<ML, MP, C, S>(
    local: &mut Endpoint,
    local_memory: &ML,
    peer_endpoint: &mut Endpoint,
    peer_memory: &MP,
    copier: &mut C,
    sink: &mut S,
    slot: usize,
    address: u64,
    token: u32,
) where
    ML: MemorySpace + ?Sized,
    MP: MemorySpace + ?Sized,
    C: Copier + ?Sized,
    S: CompletionSink + ?Sized,
{
    let wqe = *local.sq.entry(slot);
    // Local sink first: a local fault never reaches the peer.
    let sink_rights = Access::LOCAL_WRITE | Access::READ_SINK;
    if local
        .sq
        .resolve(slot, &wqe, local_memory, sink_rights)
        .is_err()
    {
        fail_head(
            local,
            peer_endpoint,
            copier,
            sink,
            slot,
            Status::LocalProtectionError,
            false,
        );
        return;
    }
    local.reads_in_flight += 1;
    let source = responder::begin_read(peer_endpoint, peer_memory, token, address, wqe.length);
    let source: RegionSlice = match source {
        Ok(s) => s,
        Err(status) => {
            local.reads_in_flight -= 1;
            fail_head(local, peer_endpoint, copier, sink, slot, status, true);
            return;
        }
    };
    scatter_gather(
        copier,
        Source::Regions(&[source]),
        local.sq.resolved(),
        wqe.length,
    );
    responder::end_read(peer_endpoint);
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
    let outcome = local_only(local, &wqe, status, wqe.length);
    completer::finish(copier, &outcome, local, peer_endpoint, sink);
}
