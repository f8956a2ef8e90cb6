//! The responder: what happens at the QP a request arrives at.
//!
//! It matches a send to the oldest receive, checks the receive buffers, the message length and a requested invalidation, and
//! checks RDMA read/write targets against the responder's memory space and read credit.
//!
//! Every check happens before any byte moves; a rejection says which status each side gets.
//! It never copies (the requester does, straight from source to destination) and never pushes
//! completions.

use super::endpoint::Endpoint;
use super::memory::{MemorySpace, RegionSlice};
use super::queue::{ReceiveQueue, Rqe};
use super::types::{Access, Status};

/// Why a send could not be placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SendRefusal {
    /// No receive is posted: the send waits at the head of its queue.
    NoReceive,
    /// The oldest receive was consumed with `receive_status`; the sender gets
    /// `Status::RemoteOperationError`; both QPs enter the error state.
    Rejected {
        receive_context: usize,
        receive_status: Status,
    },
}

/// Where an accepted send is placed: the receive's one range (resolved without the scratch
/// list), or its resolved list.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Placement<'q> {
    One(RegionSlice),
    List(&'q [RegionSlice]),
}

/// Match an arriving send of `length` bytes to the oldest receive of `rq` and validate it
/// completely: buffer large enough, every receive SGE writable, and — for send-and-invalidate —
/// the token invalidated (the last check, so a refusal before it changes nothing). Returns the
/// receive and its resolved buffers; the caller copies, then pops the receive.
#[inline(always)]
pub(crate) fn accept_send<'q, M: MemorySpace + ?Sized>(
    rq: &'q mut ReceiveQueue,
    memory: &M,
    length: u32,
    invalidate: Option<u32>,
) -> Result<(Rqe, Placement<'q>), SendRefusal> {
    let Some((slot, rqe)) = rq.head() else {
        return Err(SendRefusal::NoReceive);
    };
    let refuse = |rq: &mut ReceiveQueue, receive_status| {
        rq.retire_head();
        Err(SendRefusal::Rejected {
            receive_context: rqe.context,
            receive_status,
        })
    };
    if length > rqe.length {
        return refuse(rq, Status::ReceiveTooSmall);
    }
    let one = if rqe.sge_count == 1 {
        match rq.resolve_one(slot, memory) {
            Ok(range) => Some(range),
            Err(_) => return refuse(rq, Status::LocalProtectionError),
        }
    } else if rq.resolve(slot, &rqe, memory).is_err() {
        return refuse(rq, Status::LocalProtectionError);
    } else {
        None
    };
    if let Some(token) = invalidate
        && memory.invalidate_token(token).is_err()
    {
        return refuse(rq, Status::InvalidateError);
    }
    let placement = one.map_or_else(|| Placement::List(rq.resolved()), Placement::One);
    Ok((rqe, placement))
}

/// Check an RDMA write target. The error is the requester's status; the responder enters the
/// error state too.
#[inline]
pub(crate) fn accept_write<M: MemorySpace + ?Sized>(
    responder: &Endpoint,
    memory: &M,
    token: u32,
    address: u64,
    length: u32,
) -> Result<RegionSlice, Status> {
    if length > responder.config.max_transfer_length {
        return Err(Status::RemoteInvalidRequest);
    }
    memory
        .resolve_remote(token, address, length, Access::REMOTE_WRITE)
        .map_err(|_| Status::RemoteAccessError)
}

/// Check an RDMA read source and take one inbound read credit (IRD). Release it with
/// [`end_read`] once the data has moved.
pub(crate) fn begin_read<M: MemorySpace + ?Sized>(
    responder: &mut Endpoint,
    memory: &M,
    token: u32,
    address: u64,
    length: u32,
) -> Result<RegionSlice, Status> {
    if responder.inbound_reads >= responder.ird || length > responder.config.max_transfer_length {
        return Err(Status::RemoteInvalidRequest);
    }
    let source = memory
        .resolve_remote(token, address, length, Access::REMOTE_READ)
        .map_err(|_| Status::RemoteAccessError)?;
    responder.inbound_reads += 1;
    Ok(source)
}

/// Return the inbound read credit taken by [`begin_read`].
pub(crate) const fn end_read(responder: &mut Endpoint) {
    responder.inbound_reads -= 1;
}
