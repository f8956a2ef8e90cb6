//! The completer: reports outcomes as completions and flushes QPs in the error state.
//!
//! It applies silent success, moves QPs to the error state when a request fails or a CQ
//! overruns, and flushes queues with `Status::Cancelled` in posting order.
//!
//! It never copies data and never decides whether a request succeeds; it only reports outcomes
//! that the requester and responder computed.

use super::endpoint::{Endpoint, ErrorCause, QpState};
use super::memory::Copier;
use super::queue::WqeKind;
use super::types::{Completion, CqId, OpFlags, OpType, Status};

/// A completion queue refused an entry because it is full: the overrun of ndkpi §6.7.
///
/// The CQ must keep refusing afterwards (it is unusable); the engine moves every QP of the pair that
/// uses it to the error state and produces nothing more for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Overrun;

/// Where completions go. Implemented by the verbs layer (routing by [`CqId`] to its CQs, each
/// behind its own lock; lock order connection → CQ) and by tests.
pub trait CompletionSink {
    /// Append `completion` to CQ `cq`.
    ///
    /// # Errors
    ///
    /// [`Overrun`] when the CQ is full (or already overrun).
    fn push(&mut self, cq: CqId, completion: Completion) -> Result<(), Overrun>;
}

/// The completion op type of an initiator entry.
pub(crate) const fn op_of(kind: WqeKind) -> OpType {
    match kind {
        WqeKind::Send | WqeKind::SendAndInvalidate(_) => OpType::Send,
        WqeKind::Read { .. } => OpType::Read,
        WqeKind::Write { .. } => OpType::Write,
        WqeKind::Bind => OpType::Bind,
        WqeKind::FastRegister => OpType::FastRegister,
        WqeKind::Invalidate(_) => OpType::Invalidate,
    }
}

/// What one executed request produced.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Outcome {
    /// The requester's completion.
    pub local: Completion,
    /// Posted with `SILENT_SUCCESS`: suppressed if `local` succeeded.
    pub silent: bool,
    /// The responder's receive completion, if a receive was consumed.
    pub remote: Option<Completion>,
    /// The responder detected a connection-level error and must enter the error state.
    pub remote_fails: bool,
}

/// Push, and on overrun put every endpoint attached to that CQ in the error state.
#[inline(always)]
fn push_or_overrun<S: CompletionSink + ?Sized>(
    sink: &mut S,
    cq: CqId,
    completion: Completion,
    a: &mut Endpoint,
    b: &mut Endpoint,
) {
    if sink.push(cq, completion).is_err() {
        overrun(cq, a, b);
    }
}

/// CQ `cq` overran: every endpoint attached to it enters the error state.
#[cold]
#[inline(never)]
fn overrun(cq: CqId, a: &mut Endpoint, b: &mut Endpoint) {
    for ep in [a, b] {
        if ep.config.initiator_cq == cq || ep.config.receive_cq == cq {
            ep.enter_error(ErrorCause::CqOverrun);
        }
    }
}

/// End an executed step: settle the copier (the step's copies are over and memory it
/// invalidated is fenced), then report the step's outcome and settle both endpoints.
///
/// The copier settles before the first completion is pushed: a consumer polling on another
/// processor may free invalidated memory as soon as it sees one (`docs/objects.md`, "the
/// copy fence"). Inlined into each exit of the requester, so the outcome's fields are
/// constants or registers there and never travel through memory.
#[inline(always)]
pub(crate) fn finish<C: Copier + ?Sized, S: CompletionSink + ?Sized>(
    copier: &mut C,
    outcome: &Outcome,
    requester: &mut Endpoint,
    responder: &mut Endpoint,
    sink: &mut S,
) {
    copier.settle();
    deliver(outcome, requester, responder, sink);
}

/// [`finish`] for the exits where the request failed, kept out of line.
#[cold]
#[inline(never)]
pub(crate) fn finish_failed<C: Copier + ?Sized, S: CompletionSink + ?Sized>(
    copier: &mut C,
    outcome: &Outcome,
    requester: &mut Endpoint,
    responder: &mut Endpoint,
    sink: &mut S,
) {
    finish(copier, outcome, requester, responder, sink);
}

/// Report one executed request of `requester` against `responder`, then settle both: any
/// endpoint that entered the error state has its queues flushed.
#[inline(always)]
fn deliver<S: CompletionSink + ?Sized>(
    outcome: &Outcome,
    requester: &mut Endpoint,
    responder: &mut Endpoint,
    sink: &mut S,
) {
    if let Some(remote) = outcome.remote {
        let cq = responder.config.receive_cq;
        push_or_overrun(sink, cq, remote, requester, responder);
    }
    if outcome.remote_fails {
        responder.enter_error(ErrorCause::RequestFailed);
    }
    let failed = !outcome.local.status.is_success();
    if failed || !outcome.silent {
        // A CQ that overran above refuses again here and the requester stays silent for it.
        let cq = requester.config.initiator_cq;
        push_or_overrun(sink, cq, outcome.local, requester, responder);
    }
    if failed {
        requester.enter_error(ErrorCause::RequestFailed);
    }
    settle(requester, responder, sink);
}

/// Flush every endpoint in the error state until none has anything outstanding. A flush can
/// overrun a CQ and so put the other endpoint in the error state; the loop catches that.
///
/// Runs after every executed request, so the common case — both connected — is one inlined
/// test of the two states.
#[inline]
pub(crate) fn settle<S: CompletionSink + ?Sized>(a: &mut Endpoint, b: &mut Endpoint, sink: &mut S) {
    if matches!(a.state, QpState::Error(_)) || matches!(b.state, QpState::Error(_)) {
        settle_errors(a, b, sink);
    }
}

#[cold]
#[inline(never)]
fn settle_errors<S: CompletionSink + ?Sized>(a: &mut Endpoint, b: &mut Endpoint, sink: &mut S) {
    loop {
        let mut flushed = false;
        for first in [true, false] {
            let (ep, other) = if first {
                (&mut *a, &mut *b)
            } else {
                (&mut *b, &mut *a)
            };
            if matches!(ep.state, QpState::Error(_)) && has_outstanding(ep) {
                flush_with(ep, sink, Some(other));
                flushed = true;
            }
        }
        if !flushed {
            return;
        }
    }
}

fn has_outstanding(ep: &Endpoint) -> bool {
    ep.initiator_outstanding() != 0 || ep.receive_outstanding() != 0
}

/// Flush a lone endpoint (no peer to propagate overruns to).
pub(crate) fn flush<S: CompletionSink + ?Sized>(ep: &mut Endpoint, sink: &mut S) {
    flush_with(ep, sink, None);
}

/// Complete every outstanding entry of `ep` with `Cancelled`, initiator queue first, each in
/// posting order. Overruns are propagated to `peer` if it shares the CQ.
fn flush_with<S: CompletionSink + ?Sized>(
    ep: &mut Endpoint,
    sink: &mut S,
    mut peer: Option<&mut Endpoint>,
) {
    let qp_context = ep.config.qp_context;
    let cancelled = |request_context, op| Completion {
        request_context,
        qp_context,
        status: Status::Cancelled,
        bytes: 0,
        op,
        invalidated_token: None,
        solicited: false,
    };
    let overrun = |sink: &mut S, cq: CqId, c: Completion, peer: &mut Option<&mut Endpoint>| {
        if sink.push(cq, c).is_err()
            && let Some(p) = peer.as_deref_mut()
            && (p.config.initiator_cq == cq || p.config.receive_cq == cq)
        {
            p.enter_error(ErrorCause::CqOverrun);
        }
    };
    let icq = ep.config.initiator_cq;
    while let Some(wqe) = ep.sq.pop() {
        overrun(
            sink,
            icq,
            cancelled(wqe.context, op_of(wqe.kind)),
            &mut peer,
        );
    }
    let rcq = ep.config.receive_cq;
    if let Some(rq) = ep.rq.as_mut() {
        while let Some(rqe) = rq.pop() {
            overrun(
                sink,
                rcq,
                cancelled(rqe.context, OpType::Receive),
                &mut peer,
            );
        }
    }
}

/// Whether a successful completion with these flags is suppressed.
pub(crate) const fn is_silent(flags: OpFlags) -> bool {
    flags.contains(OpFlags::SILENT_SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::testkit::{CQS, Pair};
    use crate::engine::{Payload, QpState, WorkRequest};
    use alloc::vec::Vec;

    fn send() -> WorkRequest<'static> {
        WorkRequest::Send {
            payload: Payload::Sges(&[]),
        }
    }

    #[test]
    fn flush_cancels_initiator_then_receive_queue_in_posting_order() {
        let mut p = Pair::connected();
        for i in 0..3 {
            p.receive(0, 100 + i, &[]).unwrap();
        }
        p.ep[1].flush(&mut p.sink); // peer gone: nothing will execute
        for i in 0..3 {
            p.post(0, i, send(), OpFlags::SILENT_SUCCESS).unwrap();
        }
        p.ep[0].flush(&mut p.sink);
        let sent: Vec<_> = p
            .cq(0, 0)
            .iter()
            .map(|c| (c.request_context, c.status, c.op))
            .collect();
        assert_eq!(
            sent,
            [0, 1, 2].map(|i| (i, Status::Cancelled, OpType::Send)),
            "silent success never hides a cancel"
        );
        let received: Vec<_> = p
            .cq(0, 1)
            .iter()
            .map(|c| (c.request_context, c.status, c.op))
            .collect();
        assert_eq!(
            received,
            [100, 101, 102].map(|i| (i, Status::Cancelled, OpType::Receive))
        );
        assert!(
            p.cq(0, 1)
                .iter()
                .all(|c| c.qp_context == p.ep[0].config().qp_context)
        );
    }

    #[test]
    fn overrun_moves_every_qp_on_that_cq_to_error_and_stops_producing() {
        let mut c0 = crate::engine::testkit::config(0);
        let mut c1 = crate::engine::testkit::config(1);
        // Both QPs complete their initiator requests into one CQ of 2 entries.
        c1.initiator_cq = c0.initiator_cq;
        c0.receive_cq = CqId(9);
        let mut p = Pair::new(c0, c1);
        p.ep[0].connect(1, 1).unwrap();
        p.ep[1].connect(1, 1).unwrap();
        p.sink.limit(CQS[0][0], 2);
        for i in 0..4 {
            p.receive(1, 100 + i, &[]).unwrap();
            p.post(0, i, send(), OpFlags::NONE).unwrap();
        }
        p.receive(1, 200, &[]).unwrap();
        p.progress();
        assert!(p.sink.is_overrun(CQS[0][0]));
        assert_eq!(p.sink.of(CQS[0][0]).len(), 2, "nothing after the overrun");
        assert_eq!(
            p.ep[0].state(),
            QpState::Error(crate::engine::ErrorCause::CqOverrun)
        );
        assert_eq!(
            p.ep[1].state(),
            QpState::Error(crate::engine::ErrorCause::CqOverrun),
            "shares the CQ"
        );
        // Side 1's receive CQ is healthy: its three executed receives and the flushed one are there.
        let r: Vec<_> = p
            .cq(1, 1)
            .iter()
            .map(|c| (c.request_context, c.status))
            .collect();
        assert_eq!(
            r,
            [
                (100, Status::Success),
                (101, Status::Success),
                (102, Status::Success),
                (103, Status::Cancelled),
                (200, Status::Cancelled)
            ]
        );
    }

    #[test]
    fn overrun_of_a_cq_only_one_side_uses_leaves_the_other_side_connected() {
        let mut p = Pair::connected();
        p.sink.limit(CQS[1][1], 0);
        p.receive(1, 7, &[]).unwrap();
        p.post(0, 1, send(), OpFlags::NONE).unwrap();
        p.progress();
        assert_eq!(
            p.ep[1].state(),
            QpState::Error(crate::engine::ErrorCause::CqOverrun)
        );
        assert_eq!(p.ep[0].state(), QpState::Connected);
        assert_eq!(
            p.cq(0, 0)[0].status,
            Status::Success,
            "the send itself was delivered"
        );
        // The next send meets a peer in error.
        p.post(0, 2, send(), OpFlags::NONE).unwrap();
        p.progress();
        assert_eq!(p.cq(0, 0)[1].status, Status::ConnectionAborted);
        assert!(matches!(p.ep[0].state(), QpState::Error(_)));
    }
}
