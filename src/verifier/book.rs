//! CQ accounting (`spec/ndkpi.md` §6.2): every work request posted successfully must come back
//! exactly once from `NdkGetCqResults(Ex)` on the right CQ, unless it was posted with
//! `NDK_OP_FLAG_SILENT_SUCCESS` and succeeded.
//!
//! Posts are entered *before* they are forwarded (a request may execute inline and be reaped on
//! another thread before the post returns) and withdrawn if the post fails. Results are matched
//! by `(RequestContext, QPContext)` in posting order. A silent-success request is retired
//! unreported once a later initiator request of its QP comes back, which relies on per-queue
//! in-order completion (§6.8 inference; `SoftNDK` executes initiator requests in order).
//!
//! Pure bookkeeping: no locks, no callbacks, no `unsafe`.

use std::collections::{HashMap, VecDeque};
use std::format;
use std::string::String;
use std::vec::Vec;

use crate::abi::NTSTATUS;

/// What a QP's work completes into, as recorded at its creation.
#[derive(Clone, Copy, Debug, Default)]
pub struct QpInfo {
    /// Receive CQ (object index).
    pub rcq: Option<u32>,
    /// Initiator CQ (object index).
    pub icq: Option<u32>,
    /// SRQ (object index), for QPs created with one.
    pub srq: Option<u32>,
    /// The consumer's `QPContext`.
    pub context: usize,
    /// Sequence number at which the QP's close completed.
    pub closed_at: Option<u64>,
}

/// Which queue a work request was posted to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queue {
    /// The QP's initiator queue (send, read, write, bind, fast-register, invalidate).
    Initiator(u32),
    /// The QP's receive queue.
    Receive(u32),
    /// An SRQ (the receive completes on the receive CQ of whichever attached QP consumes it).
    Srq(u32),
}

#[derive(Clone, Copy, Debug)]
struct Posted {
    seq: u64,
    queue: Queue,
    context: usize,
    silent: bool,
    slot: &'static str,
    /// The post has returned `STATUS_SUCCESS` (before that it is in flight).
    confirmed: bool,
}

/// Why a CQ result does not fit the posted work.
#[derive(Debug)]
pub enum Mismatch {
    /// No outstanding request has this context (never posted, duplicate, or failed post).
    Unknown(String),
    /// Requests with this context exist but complete into another CQ or QP.
    WrongCq(String),
    /// A silent-success request was reported as successful.
    SilentSuccess(String),
}

/// A request that should have come back and did not.
#[derive(Debug)]
pub struct Missing {
    /// The QP (or SRQ) object index it was posted to.
    pub object: u32,
    /// What was posted.
    pub message: String,
}

/// The outstanding work of one verifier.
#[derive(Debug, Default)]
pub struct Book {
    by_context: HashMap<usize, VecDeque<Posted>>,
    qps: HashMap<u32, QpInfo>,
    /// Outstanding silent-success initiator requests per QP: `(seq, context)` in posting order.
    silent: HashMap<u32, VecDeque<(u64, usize)>>,
    /// Results matched so far per context (to tell "duplicate" from "never posted").
    reaped: HashMap<usize, u64>,
    /// QPs whose close completed while requests were outstanding.
    closed_with_work: Vec<u32>,
}

impl Book {
    /// Records a new QP.
    pub fn add_qp(&mut self, qp: u32, info: QpInfo) {
        self.qps.insert(qp, info);
    }

    /// Enters a post before it is forwarded.
    pub fn post(
        &mut self,
        seq: u64,
        queue: Queue,
        context: usize,
        silent: bool,
        slot: &'static str,
    ) {
        self.by_context
            .entry(context)
            .or_default()
            .push_back(Posted {
                seq,
                queue,
                context,
                silent,
                slot,
                confirmed: false,
            });
        if silent && let Queue::Initiator(qp) = queue {
            self.silent.entry(qp).or_default().push_back((seq, context));
        }
    }

    /// The post entered at `seq` returned `status`. A failed post is withdrawn; returns `false`
    /// if it had already been matched by a CQ result (a result for a failed post).
    pub fn posted(&mut self, seq: u64, context: usize, status: NTSTATUS) -> bool {
        let Some(list) = self.by_context.get_mut(&context) else {
            // Already matched by a result while the post was in flight.
            return status == crate::abi::STATUS_SUCCESS;
        };
        let Some(i) = list.iter().position(|p| p.seq == seq) else {
            // Already matched by a result while the post was in flight.
            return status == crate::abi::STATUS_SUCCESS;
        };
        if status == crate::abi::STATUS_SUCCESS {
            list[i].confirmed = true;
        } else {
            let removed = list.remove(i);
            if let Some(Posted {
                queue: Queue::Initiator(qp),
                silent: true,
                ..
            }) = removed
                && let Some(s) = self.silent.get_mut(&qp)
            {
                s.retain(|&(sq, _)| sq != seq);
            }
        }
        true
    }

    fn fits(&self, p: &Posted, cq: u32, qp_context: usize) -> bool {
        match p.queue {
            Queue::Initiator(qp) => self
                .qps
                .get(&qp)
                .is_some_and(|q| q.icq == Some(cq) && q.context == qp_context),
            Queue::Receive(qp) => self
                .qps
                .get(&qp)
                .is_some_and(|q| q.rcq == Some(cq) && q.context == qp_context),
            Queue::Srq(srq) => self
                .qps
                .values()
                .any(|q| q.srq == Some(srq) && q.rcq == Some(cq) && q.context == qp_context),
        }
    }

    /// Matches one result reaped from CQ `cq`.
    ///
    /// # Errors
    ///
    /// The [`Mismatch`] when the result fits no outstanding request.
    pub fn reap(
        &mut self,
        cq: u32,
        status: NTSTATUS,
        qp_context: usize,
        request_context: usize,
    ) -> Result<(), Mismatch> {
        let success = status == crate::abi::STATUS_SUCCESS;
        let list = self
            .by_context
            .get(&request_context)
            .cloned()
            .unwrap_or_default();
        let fitting: Vec<usize> = (0..list.len())
            .filter(|&i| self.fits(&list[i], cq, qp_context))
            .collect();
        let chosen = if success {
            fitting.iter().copied().find(|&i| !list[i].silent)
        } else {
            fitting.first().copied()
        };
        let Some(i) = chosen else {
            if let Some(&i) = fitting.first() {
                self.take(request_context, i);
                return Err(Mismatch::SilentSuccess(format!(
                    "{} with context {request_context:#x} was posted with \
                     NDK_OP_FLAG_SILENT_SUCCESS but reported with {status}",
                    list[i].slot
                )));
            }
            if let Some(p) = list.front() {
                return Err(Mismatch::WrongCq(format!(
                    "result with RequestContext {request_context:#x}, QPContext \
                     {qp_context:#x} on this CQ, but the outstanding {} with that context \
                     ({:?}) completes elsewhere",
                    p.slot, p.queue
                )));
            }
            let before = self.reaped.get(&request_context).copied().unwrap_or(0);
            return Err(Mismatch::Unknown(if before > 0 {
                format!(
                    "duplicate result ({status}) for RequestContext {request_context:#x}: its \
                     {before} posted request(s) already came back"
                )
            } else {
                format!(
                    "result ({status}) with RequestContext {request_context:#x} that was never \
                     posted successfully"
                )
            }));
        };
        let taken = self.take(request_context, i);
        *self.reaped.entry(request_context).or_default() += 1;
        if let Some(Posted {
            queue: Queue::Initiator(qp),
            seq,
            ..
        }) = taken
        {
            self.retire_silent_before(qp, seq);
        }
        Ok(())
    }

    fn take(&mut self, context: usize, i: usize) -> Option<Posted> {
        let list = self.by_context.get_mut(&context)?;
        let taken = list.remove(i);
        if list.is_empty() {
            self.by_context.remove(&context);
        }
        if let Some(Posted {
            queue: Queue::Initiator(qp),
            silent: true,
            seq,
            ..
        }) = taken
            && let Some(s) = self.silent.get_mut(&qp)
        {
            s.retain(|&(sq, _)| sq != seq);
        }
        taken
    }

    /// Silent requests of `qp` posted before `seq` succeeded silently (in-order completion).
    fn retire_silent_before(&mut self, qp: u32, seq: u64) {
        let Some(queue) = self.silent.get_mut(&qp) else {
            return;
        };
        let mut retired = Vec::new();
        while let Some(&(s, ctx)) = queue.front()
            && s < seq
        {
            queue.pop_front();
            retired.push((s, ctx));
        }
        for (s, ctx) in retired {
            if let Some(list) = self.by_context.get_mut(&ctx) {
                list.retain(|p| p.seq != s);
                if list.is_empty() {
                    self.by_context.remove(&ctx);
                }
            }
        }
    }

    /// The QP's close completed at `seq`: its outstanding requests must already be in its CQs.
    pub fn qp_closed(&mut self, qp: u32, seq: u64) {
        if let Some(info) = self.qps.get_mut(&qp) {
            info.closed_at = Some(seq);
        }
        let has_work = self
            .by_context
            .values()
            .flatten()
            .any(|p| matches!(p.queue, Queue::Initiator(q) | Queue::Receive(q) if q == qp));
        if has_work {
            self.closed_with_work.push(qp);
        }
    }

    fn expected_cq(&self, p: &Posted) -> Option<u32> {
        match p.queue {
            Queue::Initiator(qp) => self.qps.get(&qp).and_then(|q| q.icq),
            Queue::Receive(qp) => self.qps.get(&qp).and_then(|q| q.rcq),
            Queue::Srq(_) => None,
        }
    }

    /// CQ `cq` ran empty in a poll that started at `poll_seq`: requests of QPs closed before
    /// that which complete into `cq` are missing. Reports each once and forgets it.
    pub fn cq_ran_empty(&mut self, cq: u32, poll_seq: u64) -> Vec<Missing> {
        let mut missing = Vec::new();
        if self.closed_with_work.is_empty() {
            return missing;
        }
        let closed: Vec<u32> = self
            .closed_with_work
            .iter()
            .copied()
            .filter(|qp| {
                self.qps
                    .get(qp)
                    .and_then(|q| q.closed_at)
                    .is_some_and(|at| at < poll_seq)
            })
            .collect();
        for qp in closed {
            let mut gone = Vec::new();
            for list in self.by_context.values() {
                for p in list {
                    let of_qp =
                        matches!(p.queue, Queue::Initiator(q) | Queue::Receive(q) if q == qp);
                    if of_qp && self.expected_cq(p) == Some(cq) {
                        if !p.silent && p.confirmed {
                            missing.push(Missing {
                                object: qp,
                                message: format!(
                                    "{} with RequestContext {:#x} ({:?}) never came back: the \
                                     QP's close completed and its CQ ran empty",
                                    p.slot, p.context, p.queue
                                ),
                            });
                        }
                        gone.push((p.context, p.seq));
                    }
                }
            }
            for (ctx, seq) in gone {
                self.forget(ctx, seq);
            }
            let still = self
                .by_context
                .values()
                .flatten()
                .any(|p| matches!(p.queue, Queue::Initiator(q) | Queue::Receive(q) if q == qp));
            if !still {
                self.closed_with_work.retain(|&q| q != qp);
            }
        }
        missing
    }

    fn forget(&mut self, context: usize, seq: u64) {
        if let Some(list) = self.by_context.get(&context)
            && let Some(i) = list.iter().position(|p| p.seq == seq)
        {
            self.take(context, i);
        }
    }

    /// The consumer says every CQ has been drained: every confirmed, non-silent request still
    /// outstanding is missing. Forgets all outstanding work.
    pub fn drained(&mut self) -> Vec<Missing> {
        let mut missing: Vec<(u64, Missing)> = self
            .by_context
            .values()
            .flatten()
            .filter(|p| p.confirmed && !p.silent)
            .map(|p| {
                let (Queue::Initiator(object) | Queue::Receive(object) | Queue::Srq(object)) =
                    p.queue;
                (
                    p.seq,
                    Missing {
                        object,
                        message: format!(
                            "{} with RequestContext {:#x} ({:?}) never came back although the \
                             consumer drained its CQs",
                            p.slot, p.context, p.queue
                        ),
                    },
                )
            })
            .collect();
        missing.sort_by_key(|(seq, _)| *seq);
        self.by_context.clear();
        self.silent.clear();
        self.closed_with_work.clear();
        missing.into_iter().map(|(_, m)| m).collect()
    }

    /// Number of requests still outstanding (confirmed or in flight, silent included).
    #[cfg(test)]
    pub fn outstanding(&self) -> usize {
        self.by_context.values().map(VecDeque::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::{STATUS_CANCELLED, STATUS_SUCCESS};

    fn book() -> Book {
        let mut b = Book::default();
        b.add_qp(
            10,
            QpInfo {
                rcq: Some(1),
                icq: Some(2),
                srq: None,
                context: 0xAA,
                closed_at: None,
            },
        );
        b
    }

    fn post_ok(b: &mut Book, seq: u64, q: Queue, ctx: usize, silent: bool) {
        b.post(seq, q, ctx, silent, "NdkSend");
        assert!(b.posted(seq, ctx, STATUS_SUCCESS));
    }

    #[test]
    fn results_match_once_on_the_right_cq() {
        let mut b = book();
        post_ok(&mut b, 1, Queue::Initiator(10), 7, false);
        post_ok(&mut b, 2, Queue::Receive(10), 8, false);
        assert!(matches!(
            b.reap(1, STATUS_SUCCESS, 0xAA, 7),
            Err(Mismatch::WrongCq(_))
        ));
        assert!(b.reap(2, STATUS_SUCCESS, 0xAA, 7).is_ok());
        assert!(matches!(
            b.reap(2, STATUS_SUCCESS, 0xAA, 7),
            Err(Mismatch::Unknown(m)) if m.contains("duplicate")
        ));
        assert!(b.reap(1, STATUS_SUCCESS, 0xAA, 8).is_ok());
        assert_eq!(b.outstanding(), 0);
    }

    #[test]
    fn silent_success_is_retired_by_a_later_completion_and_flagged_if_reported() {
        let mut b = book();
        post_ok(&mut b, 1, Queue::Initiator(10), 5, true);
        post_ok(&mut b, 2, Queue::Initiator(10), 6, false);
        assert!(b.reap(2, STATUS_SUCCESS, 0xAA, 6).is_ok());
        assert_eq!(b.outstanding(), 0, "silent request retired");
        post_ok(&mut b, 3, Queue::Initiator(10), 5, true);
        assert!(matches!(
            b.reap(2, STATUS_SUCCESS, 0xAA, 5),
            Err(Mismatch::SilentSuccess(_))
        ));
        post_ok(&mut b, 4, Queue::Initiator(10), 5, true);
        assert!(
            b.reap(2, STATUS_CANCELLED, 0xAA, 5).is_ok(),
            "failures are reported"
        );
    }

    #[test]
    fn failed_post_is_withdrawn_and_closed_qp_work_goes_missing() {
        let mut b = book();
        b.post(1, Queue::Initiator(10), 9, false, "NdkWrite");
        assert!(b.posted(1, 9, STATUS_CANCELLED));
        assert!(matches!(
            b.reap(2, STATUS_SUCCESS, 0xAA, 9),
            Err(Mismatch::Unknown(_))
        ));
        post_ok(&mut b, 2, Queue::Receive(10), 11, false);
        b.qp_closed(10, 5);
        assert!(
            b.cq_ran_empty(1, 5).is_empty(),
            "poll began before the close"
        );
        let missing = b.cq_ran_empty(1, 6);
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].object, 10);
        assert!(b.cq_ran_empty(1, 7).is_empty(), "reported once");
    }
}
