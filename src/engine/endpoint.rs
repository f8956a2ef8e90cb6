//! One QP's engine state and its posting entry points.
//!
//! It holds the [`QpState`], initiator queue, receive queue (unless the QP uses an SRQ), limits
//! and negotiated read credits; every post validates the request completely before queueing it.
//!
//! Posting never executes anything (execution is [`progress`](super::progress)) and never
//! allocates. A refused post queues nothing and will never complete.

use super::completer::{self, CompletionSink};
use super::memory::{BindRequest, FastRegisterRequest, MemorySpace};
use super::queue::{InitiatorQueue, ReceiveQueue, Wqe, WqeKind, total_length};
use super::ring::CreateError;
use super::types::{Access, CqId, MemoryHandle, OpFlags, PostError, Sge};

/// Creation-time limits and identities of a QP, fixed for its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndpointConfig {
    /// `QPContext`, echoed in every completion of this QP.
    pub qp_context: usize,
    /// Where initiator completions go.
    pub initiator_cq: CqId,
    /// Where receive completions go (also for receives taken from an SRQ).
    pub receive_cq: CqId,
    /// Initiator queue depth.
    pub initiator_depth: u32,
    /// Receive queue depth (ignored with an SRQ).
    pub receive_depth: u32,
    /// `MaxInitiatorRequestSge`.
    pub max_initiator_sge: u32,
    /// `MaxReceiveRequestSge` (ignored with an SRQ).
    pub max_receive_sge: u32,
    /// The adapter's `MaxReadRequestSge`, which overrides the initiator limit for reads.
    pub max_read_sge: u32,
    /// `InlineDataSize`: inline bytes per request; reserved per initiator slot.
    pub inline_data_size: u32,
    /// `MaxTransferLength`: total bytes of one send, receive, read or write.
    pub max_transfer_length: u32,
    /// The QP takes its receives from a shared receive queue supplied to every
    /// [`progress`](super::progress) call.
    pub uses_srq: bool,
    /// The adapter sets `NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED`; without it the
    /// op flag is accepted and ignored (ndkpi §2.7).
    pub read_local_invalidate_supported: bool,
}

/// Why a QP entered [`QpState::Error`]. The first cause is kept; later ones never overwrite it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCause {
    /// `NdkFlush`.
    Flushed,
    /// Disconnect (graceful or abortive) or connector close.
    Disconnected,
    /// A request of this QP, or one arriving at it, failed.
    RequestFailed,
    /// One of its CQs refused a completion (overrun).
    CqOverrun,
}

/// The QP's data-path state.
///
/// ```text
/// Idle ──connect──▶ Connected
///  │                   │  flush / disconnect / failed request / CQ overrun
///  └──flush──────────▶ Error (terminal: queues flushed, every post refused)
/// ```
// A plain tag byte: without it the tag shares a byte with `ErrorCause` and every "is it
// connected?" test decodes that niche first (several instructions, per post and per step).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum QpState {
    /// Created, not connected: receives may be posted, initiator requests are refused.
    Idle,
    /// Connected: requests execute.
    Connected,
    /// Terminal: everything outstanding was (or is being) completed as cancelled.
    Error(ErrorCause),
}

/// A state change that the current state does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StateError(pub QpState);

/// Payload of a send or write.
#[derive(Clone, Copy, Debug)]
pub enum Payload<'a> {
    /// Registered memory; resolved and checked when the request executes.
    Sges(&'a [Sge]),
    /// `NDK_OP_FLAG_INLINE`: the bytes behind each SGE, turned into slices by the dispatch layer
    /// (tokens ignored). Copied into the request's own slot during the post.
    Inline(&'a [&'a [u8]]),
}

/// An initiator-queue work request.
#[derive(Clone, Copy, Debug)]
pub enum WorkRequest<'a> {
    /// `NdkSend`.
    Send {
        /// Data to send.
        payload: Payload<'a>,
    },
    /// `NdkSendAndInvalidate`.
    SendAndInvalidate {
        /// Data to send.
        payload: Payload<'a>,
        /// The receiver's token to invalidate.
        remote_token: u32,
    },
    /// `NdkRead` into `sges` (limit `max_read_sge`).
    Read {
        /// Local destination.
        sges: &'a [Sge],
        /// Peer address of the first byte.
        remote_address: u64,
        /// Peer's token.
        remote_token: u32,
    },
    /// `NdkWrite`.
    Write {
        /// Local source.
        payload: Payload<'a>,
        /// Peer address of the first byte.
        remote_address: u64,
        /// Peer's token.
        remote_token: u32,
    },
    /// `NdkBind`; `access` is replaced by [`Access::from_op_flags`] of the post's flags.
    Bind(BindRequest),
    /// `NdkFastRegister`; `access` is replaced by [`Access::from_op_flags`] of the post's flags.
    FastRegister(FastRegisterRequest<'a>),
    /// `NdkInvalidate` of a fast-registered MR or a bound MW.
    Invalidate {
        /// The MR or MW.
        target: MemoryHandle,
    },
}

const SEND_FLAGS: OpFlags = OpFlags(
    OpFlags::SILENT_SUCCESS.0
        | OpFlags::READ_FENCE.0
        | OpFlags::SEND_AND_SOLICIT_EVENT.0
        | OpFlags::INLINE.0
        | OpFlags::DEFER.0,
);
const READ_FLAGS: OpFlags = OpFlags(
    OpFlags::SILENT_SUCCESS.0
        | OpFlags::READ_FENCE.0
        | OpFlags::RDMA_READ_LOCAL_INVALIDATE.0
        | OpFlags::DEFER.0,
);
// INLINE on writes: accepted, see ndkpi §2.7 [DISCREPANCY].
const WRITE_FLAGS: OpFlags = OpFlags(
    OpFlags::SILENT_SUCCESS.0 | OpFlags::READ_FENCE.0 | OpFlags::INLINE.0 | OpFlags::DEFER.0,
);
const BIND_FLAGS: OpFlags = OpFlags(
    OpFlags::SILENT_SUCCESS.0
        | OpFlags::READ_FENCE.0
        | OpFlags::ALLOW_REMOTE_READ.0
        | OpFlags::ALLOW_REMOTE_WRITE.0
        | OpFlags::DEFER.0,
);
const FAST_REGISTER_FLAGS: OpFlags =
    OpFlags(BIND_FLAGS.0 | OpFlags::ALLOW_LOCAL_WRITE.0 | OpFlags::RDMA_READ_SINK.0);
const INVALIDATE_FLAGS: OpFlags =
    OpFlags(OpFlags::SILENT_SUCCESS.0 | OpFlags::READ_FENCE.0 | OpFlags::DEFER.0);

/// The engine side of one QP.
#[derive(Debug)]
pub struct Endpoint {
    pub(crate) config: EndpointConfig,
    pub(crate) state: QpState,
    pub(crate) sq: InitiatorQueue,
    pub(crate) rq: Option<ReceiveQueue>,
    /// Negotiated outbound read limit (ORD).
    pub(crate) ord: u32,
    /// Negotiated inbound read limit (IRD).
    pub(crate) ird: u32,
    /// RDMA reads issued and not yet completed (against `ord`).
    pub(crate) reads_in_flight: u32,
    /// Peer reads being served (against `ird`).
    pub(crate) inbound_reads: u32,
}

impl Endpoint {
    /// Build the QP's queues, reserving every per-slot table now.
    ///
    /// # Errors
    ///
    /// [`CreateError::OutOfMemory`] if a reservation fails, [`CreateError::LimitTooLarge`] for
    /// depths or sizes the engine does not support.
    pub fn try_new(config: EndpointConfig) -> Result<Self, CreateError> {
        let stride = config.max_initiator_sge.max(config.max_read_sge);
        let sq = InitiatorQueue::try_new(config.initiator_depth, stride, config.inline_data_size)?;
        let rq = if config.uses_srq {
            None
        } else {
            Some(ReceiveQueue::try_new(
                config.receive_depth,
                config.max_receive_sge,
                config.max_transfer_length,
            )?)
        };
        Ok(Self {
            config,
            state: QpState::Idle,
            sq,
            rq,
            ord: 0,
            ird: 0,
            reads_in_flight: 0,
            inbound_reads: 0,
        })
    }

    /// The creation-time configuration.
    #[must_use]
    pub const fn config(&self) -> &EndpointConfig {
        &self.config
    }

    /// Current state.
    #[must_use]
    pub const fn state(&self) -> QpState {
        self.state
    }

    /// Outstanding initiator requests (posted, not yet completed or flushed).
    #[must_use]
    pub const fn initiator_outstanding(&self) -> u32 {
        self.sq.ring().len()
    }

    /// Outstanding receives on the QP's own receive queue (0 with an SRQ).
    #[must_use]
    pub fn receive_outstanding(&self) -> u32 {
        self.rq.as_ref().map_or(0, ReceiveQueue::len)
    }

    /// Initiator requests posted with DEFER whose doorbell has not been rung yet (they wait for
    /// the next post without DEFER, ndkpi §6.3).
    #[must_use]
    pub const fn deferred(&self) -> u32 {
        self.sq.held_by_defer()
    }

    /// Idle → Connected with the negotiated read limits (ndkpi §6.10: effective ORD/IRD).
    ///
    /// # Errors
    ///
    /// [`StateError`] with the current state unless the QP is idle; a QP is never reused after
    /// an error or disconnect.
    pub const fn connect(&mut self, ord: u32, ird: u32) -> Result<(), StateError> {
        if !matches!(self.state, QpState::Idle) {
            return Err(StateError(self.state));
        }
        self.ord = ord;
        self.ird = ird;
        self.state = QpState::Connected;
        Ok(())
    }

    /// Enter the error state (idempotent; the first cause is kept).
    #[inline]
    pub(crate) const fn enter_error(&mut self, cause: ErrorCause) {
        if !matches!(self.state, QpState::Error(_)) {
            self.state = QpState::Error(cause);
        }
    }

    /// `NdkFlush`: enter [`QpState::Error`] and complete every outstanding request of both
    /// queues with `Status::Cancelled`, in posting order (initiator queue first, then receive
    /// queue; each into its own CQ). Receives held by an SRQ are not the QP's and stay.
    /// Completions a CQ refuses are dropped (that CQ is overrun and unusable anyway).
    /// Call [`progress`](super::progress) afterwards so the peer notices.
    pub fn flush<S: CompletionSink + ?Sized>(&mut self, sink: &mut S) {
        self.enter_error(ErrorCause::Flushed);
        completer::flush(self, sink);
    }

    /// Disconnect: data movement stops (the QP leaves Connected), then the queues are flushed
    /// as by [`Endpoint::flush`]. The peer is not flushed by this; its next request to this QP
    /// completes with `Status::ConnectionAborted`.
    pub fn disconnect<S: CompletionSink + ?Sized>(&mut self, sink: &mut S) {
        self.enter_error(ErrorCause::Disconnected);
        completer::flush(self, sink);
    }

    /// `NdkReceive`: queue a receive. Allowed while idle (before connect) and connected.
    ///
    /// # Errors
    ///
    /// [`PostError::QpInError`], [`PostError::WrongQueue`] (QP uses an SRQ),
    /// [`PostError::TooManySges`], [`PostError::TransferTooLong`], [`PostError::QueueFull`].
    #[inline]
    pub fn post_receive(&mut self, context: usize, sges: &[Sge]) -> Result<(), PostError> {
        if matches!(self.state, QpState::Error(_)) {
            return Err(PostError::QpInError);
        }
        self.rq
            .as_mut()
            .ok_or(PostError::WrongQueue)?
            .post(context, sges)
    }

    /// Queue an initiator request after validating all of it: state, flags, SGE count, total
    /// and inline length, queue space, and — for bind and fast-register — the memory operation
    /// itself, which `memory` applies now so the new token is valid when this returns. Execution
    /// and the completion follow in queue order from [`progress`](super::progress).
    ///
    /// A refused post also rings the doorbell for earlier DEFER posts (ndkpi §6.3).
    ///
    /// # Errors
    ///
    /// Any [`PostError`]; nothing is queued and no completion will appear.
    #[inline]
    pub fn post<M: MemorySpace + ?Sized>(
        &mut self,
        memory: &M,
        context: usize,
        request: WorkRequest<'_>,
        flags: OpFlags,
    ) -> Result<(), PostError> {
        let result = self.try_post(memory, context, request, flags);
        if result.is_err() {
            self.sq.ring_doorbell();
        }
        result
    }

    /// The data requests (send, send-and-invalidate, write) and invalidate here, inlined into
    /// the caller; reads, binds and fast-registers out of line ([`Endpoint::post_read`],
    /// [`Endpoint::post_bind`], [`Endpoint::post_fast_register`]). Validation order per
    /// request: state, flags, then what the request carries.
    #[inline(always)]
    fn try_post<M: MemorySpace + ?Sized>(
        &mut self,
        memory: &M,
        context: usize,
        request: WorkRequest<'_>,
        flags: OpFlags,
    ) -> Result<(), PostError> {
        // One compare for the usual answer.
        if !matches!(self.state, QpState::Connected) {
            return Err(if matches!(self.state, QpState::Idle) {
                PostError::NotConnected
            } else {
                PostError::QpInError
            });
        }
        let (kind, payload, allowed) = match request {
            WorkRequest::Send { payload } => (WqeKind::Send, payload, SEND_FLAGS),
            WorkRequest::SendAndInvalidate {
                payload,
                remote_token,
            } => (
                WqeKind::SendAndInvalidate(remote_token),
                payload,
                SEND_FLAGS,
            ),
            WorkRequest::Write {
                payload,
                remote_address,
                remote_token,
            } => (
                WqeKind::Write {
                    address: remote_address,
                    token: remote_token,
                },
                payload,
                WRITE_FLAGS,
            ),
            WorkRequest::Read {
                sges,
                remote_address,
                remote_token,
            } => return self.post_read(context, sges, remote_address, remote_token, flags),
            WorkRequest::Bind(bind) => return self.post_bind(memory, context, bind, flags),
            WorkRequest::FastRegister(fr) => {
                return self.post_fast_register(memory, context, fr, flags);
            }
            WorkRequest::Invalidate { target } => {
                if flags.has_bits_outside(INVALIDATE_FLAGS) {
                    return Err(PostError::InvalidFlags);
                }
                let wqe = Wqe {
                    context,
                    kind: WqeKind::Invalidate(target),
                    flags,
                    ..Wqe::default()
                };
                return self.sq.push(wqe, &[], &[]);
            }
        };
        if flags.has_bits_outside(allowed) {
            return Err(PostError::InvalidFlags);
        }
        let wqe = Wqe {
            context,
            kind,
            flags,
            ..Wqe::default()
        };
        self.push_data(wqe, payload)
    }

    /// `NdkRead`, after the state check (out of line: the data requests stay small).
    #[inline(never)]
    fn post_read(
        &mut self,
        context: usize,
        sges: &[Sge],
        address: u64,
        token: u32,
        flags: OpFlags,
    ) -> Result<(), PostError> {
        if flags.has_bits_outside(READ_FLAGS) {
            return Err(PostError::InvalidFlags);
        }
        if self.ord == 0 {
            return Err(PostError::ReadsNotAllowed);
        }
        if sges.len() > self.config.max_read_sge as usize {
            return Err(PostError::TooManySges);
        }
        let wqe = Wqe {
            context,
            kind: WqeKind::Read { address, token },
            flags,
            length: total_length(sges, self.config.max_transfer_length)?,
            ..Wqe::default()
        };
        self.sq.push(wqe, sges, &[])
    }

    /// `NdkBind`, after the state check: applied now, completed in queue order.
    #[inline(never)]
    fn post_bind<M: MemorySpace + ?Sized>(
        &mut self,
        memory: &M,
        context: usize,
        bind: BindRequest,
        flags: OpFlags,
    ) -> Result<(), PostError> {
        if flags.has_bits_outside(BIND_FLAGS) {
            return Err(PostError::InvalidFlags);
        }
        self.has_room()?;
        let bind = BindRequest {
            access: Access::from_op_flags(flags),
            ..bind
        };
        memory.bind(&bind).map_err(PostError::Access)?;
        let wqe = Wqe {
            context,
            kind: WqeKind::Bind,
            flags,
            ..Wqe::default()
        };
        self.sq.push(wqe, &[], &[])
    }

    /// `NdkFastRegister`, after the state check: applied now, completed in queue order.
    #[inline(never)]
    fn post_fast_register<M: MemorySpace + ?Sized>(
        &mut self,
        memory: &M,
        context: usize,
        fr: FastRegisterRequest<'_>,
        flags: OpFlags,
    ) -> Result<(), PostError> {
        if flags.has_bits_outside(FAST_REGISTER_FLAGS) {
            return Err(PostError::InvalidFlags);
        }
        fr.check_layout().map_err(|_| PostError::InvalidParameter)?;
        self.has_room()?;
        let fr = FastRegisterRequest {
            access: Access::from_op_flags(flags),
            ..fr
        };
        memory.fast_register(&fr).map_err(PostError::Access)?;
        let wqe = Wqe {
            context,
            kind: WqeKind::FastRegister,
            flags,
            ..Wqe::default()
        };
        self.sq.push(wqe, &[], &[])
    }

    #[inline]
    const fn has_room(&self) -> Result<(), PostError> {
        if self.sq.ring().is_full() {
            Err(PostError::QueueFull)
        } else {
            Ok(())
        }
    }

    /// Validate and queue a send or write payload.
    #[inline(always)]
    fn push_data(&mut self, mut wqe: Wqe, payload: Payload<'_>) -> Result<(), PostError> {
        let inline_flag = wqe.flags.contains(OpFlags::INLINE);
        match payload {
            Payload::Sges(sges) => {
                if inline_flag {
                    return Err(PostError::InvalidFlags);
                }
                if sges.len() > self.config.max_initiator_sge as usize {
                    return Err(PostError::TooManySges);
                }
                wqe.length = total_length(sges, self.config.max_transfer_length)?;
                self.sq.push(wqe, sges, &[])
            }
            Payload::Inline(parts) => {
                if !inline_flag {
                    return Err(PostError::InvalidFlags);
                }
                let mut total = 0usize;
                for p in parts {
                    total = total.saturating_add(p.len());
                }
                if total > self.sq.inline_size() as usize {
                    return Err(PostError::InlineTooLong);
                }
                #[allow(clippy::cast_possible_truncation)] // ≤ inline_size, a u32
                {
                    wqe.length = total as u32;
                }
                if wqe.length > self.config.max_transfer_length {
                    return Err(PostError::TransferTooLong);
                }
                wqe.inline = true;
                self.sq.push(wqe, &[], parts)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::testkit::{Pair, config};
    use crate::engine::types::AccessError;
    use alloc::vec;

    fn send(sges: &[Sge]) -> WorkRequest<'_> {
        WorkRequest::Send {
            payload: Payload::Sges(sges),
        }
    }

    #[test]
    fn idle_qp_takes_receives_but_no_initiator_requests() {
        let mut p = Pair::new(config(0), config(1));
        assert_eq!(
            p.post(0, 1, send(&[]), OpFlags::NONE),
            Err(PostError::NotConnected)
        );
        assert_eq!(p.receive(0, 2, &[]), Ok(()));
        assert_eq!(p.ep[0].receive_outstanding(), 1);
        assert_eq!(p.ep[0].initiator_outstanding(), 0);
    }

    #[test]
    fn every_limit_is_checked_before_queueing() {
        let mut p = Pair::connected();
        let b = p.buffer(0, vec![0; 16], Access::LOCAL_WRITE);
        let five = [b.sge(0, 1); 5];
        assert_eq!(
            p.post(0, 1, send(&five), OpFlags::NONE),
            Err(PostError::TooManySges)
        );
        let huge = [
            Sge {
                length: u32::MAX,
                ..b.all()
            },
            b.all(),
        ];
        assert_eq!(
            p.post(0, 1, send(&huge), OpFlags::NONE),
            Err(PostError::TransferTooLong)
        );
        let big = [Sge {
            length: (1 << 20) + 1,
            ..b.all()
        }];
        assert_eq!(
            p.post(0, 1, send(&big), OpFlags::NONE),
            Err(PostError::TransferTooLong)
        );
        assert_eq!(
            p.post(0, 1, send(&[]), OpFlags::ALLOW_REMOTE_READ),
            Err(PostError::InvalidFlags),
            "a flag the operation does not allow"
        );
        assert_eq!(
            p.post(0, 1, send(&[]), OpFlags::INLINE),
            Err(PostError::InvalidFlags)
        );
        let data = [0u8; 65];
        let inline = WorkRequest::Send {
            payload: Payload::Inline(&[&data]),
        };
        assert_eq!(
            p.post(0, 1, inline, OpFlags::INLINE),
            Err(PostError::InlineTooLong)
        );
        let inline = WorkRequest::Send {
            payload: Payload::Inline(&[&data[..64]]),
        };
        assert_eq!(
            p.post(0, 1, inline, OpFlags::NONE),
            Err(PostError::InvalidFlags)
        );
        // An inline request may carry more parts than the SGE limit.
        let parts: [&[u8]; 8] = [&data[..8]; 8];
        let inline = WorkRequest::Send {
            payload: Payload::Inline(&parts),
        };
        assert_eq!(p.post(0, 1, inline, OpFlags::INLINE), Ok(()));
        assert_eq!(
            p.ep[0].initiator_outstanding(),
            1,
            "only the valid post was queued"
        );
    }

    #[test]
    fn full_queue_refuses() {
        let mut c = config(0);
        c.initiator_depth = 2;
        let mut p = Pair::new(c, config(1));
        p.ep[0].connect(1, 1).unwrap();
        assert_eq!(p.post(0, 1, send(&[]), OpFlags::NONE), Ok(()));
        assert_eq!(p.post(0, 2, send(&[]), OpFlags::NONE), Ok(()));
        assert_eq!(
            p.post(0, 3, send(&[]), OpFlags::NONE),
            Err(PostError::QueueFull)
        );
    }

    #[test]
    fn reads_need_an_outbound_read_limit() {
        let mut p = Pair::new(config(0), config(1));
        p.ep[0].connect(0, 4).unwrap();
        let read = WorkRequest::Read {
            sges: &[],
            remote_address: 0,
            remote_token: 0,
        };
        assert_eq!(
            p.post(0, 1, read, OpFlags::NONE),
            Err(PostError::ReadsNotAllowed)
        );
    }

    #[test]
    fn bind_token_is_valid_when_the_post_returns_even_behind_a_blocked_send() {
        let mut p = Pair::connected();
        let b = p.buffer(0, vec![0; 64], Access::LOCAL_WRITE);
        let mw = p.mem[0].window();
        p.post(0, 1, send(&[]), OpFlags::NONE).unwrap();
        p.progress();
        let bind = BindRequest {
            mr: b.mr,
            mw,
            virtual_address: b.va + 8,
            length: 16,
            access: Access::LOCAL_READ,
        };
        p.post(0, 2, WorkRequest::Bind(bind), OpFlags::ALLOW_REMOTE_WRITE)
            .unwrap();
        assert!(p.mem[0].is_valid(mw), "published at post time");
        assert_eq!(
            p.ep[0].initiator_outstanding(),
            2,
            "its completion waits behind the send"
        );
        // A refused bind publishes nothing.
        let again = p.post(0, 3, WorkRequest::Bind(bind), OpFlags::NONE);
        assert_eq!(again, Err(PostError::Access(AccessError::InvalidState)));
        let mw2 = p.mem[0].window();
        let outside = BindRequest {
            mw: mw2,
            length: 64,
            ..bind
        };
        assert_eq!(
            p.post(0, 4, WorkRequest::Bind(outside), OpFlags::NONE),
            Err(PostError::Access(AccessError::OutOfRange))
        );
        assert!(!p.mem[0].is_valid(mw2));
    }

    #[test]
    fn fast_register_checks_layout_then_publishes() {
        let mut p = Pair::connected();
        let region = p.arena.add(vec![0; 8192]);
        let mr = p.mem[0].fast_register_mr(region, 8192);
        let pages = [0u64, 4096];
        let fr = FastRegisterRequest {
            mr,
            pages: &pages,
            first_byte_offset: 0,
            length: 8192,
            base_virtual_address: 0x4000_0000,
            access: Access::LOCAL_READ,
        };
        let bad = FastRegisterRequest {
            base_virtual_address: 0x4000_0001,
            ..fr
        };
        assert_eq!(
            p.post(0, 1, WorkRequest::FastRegister(bad), OpFlags::NONE),
            Err(PostError::InvalidParameter)
        );
        assert!(!p.mem[0].is_valid(mr));
        p.post(
            0,
            2,
            WorkRequest::FastRegister(fr),
            OpFlags::ALLOW_REMOTE_READ,
        )
        .unwrap();
        assert!(p.mem[0].is_valid(mr));
    }

    #[test]
    fn error_state_is_terminal_and_refuses_everything() {
        let mut p = Pair::connected();
        p.ep[0].flush(&mut p.sink);
        assert_eq!(p.ep[0].state(), QpState::Error(ErrorCause::Flushed));
        assert_eq!(
            p.post(0, 1, send(&[]), OpFlags::NONE),
            Err(PostError::QpInError)
        );
        assert_eq!(p.receive(0, 1, &[]), Err(PostError::QpInError));
        assert_eq!(
            p.ep[0].connect(1, 1),
            Err(StateError(QpState::Error(ErrorCause::Flushed)))
        );
        p.ep[0].disconnect(&mut p.sink);
        assert_eq!(
            p.ep[0].state(),
            QpState::Error(ErrorCause::Flushed),
            "the first cause is kept"
        );
    }

    #[test]
    fn srq_qp_refuses_its_own_receives() {
        let mut c = config(0);
        c.uses_srq = true;
        let mut ep = Endpoint::try_new(c).unwrap();
        assert_eq!(ep.post_receive(1, &[]), Err(PostError::WrongQueue));
    }

    #[test]
    fn a_failed_post_rings_the_doorbell_for_earlier_deferred_posts() {
        let mut p = Pair::connected();
        p.receive(1, 10, &[]).unwrap();
        p.post(0, 1, send(&[]), OpFlags::DEFER).unwrap();
        assert_eq!(
            p.progress().executed,
            0,
            "deferred: not handed to execution yet"
        );
        assert_eq!(p.ep[0].deferred(), 1);
        assert!(p.post(0, 2, send(&[]), OpFlags::INLINE).is_err());
        assert_eq!(p.ep[0].deferred(), 0);
        assert_eq!(
            p.progress().executed,
            1,
            "the deferred send ran after the failed post"
        );
    }

    #[test]
    fn oversized_limits_fail_creation_instead_of_aborting() {
        let mut c = config(0);
        c.initiator_depth = 1024;
        c.inline_data_size = u32::MAX;
        assert!(Endpoint::try_new(c).is_err());
    }
}
