//! Work requests and CQ results (`spec/ndkpi.md` §2.2, §6.2): the locked entry points around
//! the pure bookkeeping of [`Book`](crate::verifier::book::Book), turning its mismatches into
//! violations on the CQ or QP concerned.
//!
//! Owns nothing but the translation from `Book` outcomes to rules; the matching itself lives in
//! `book`. It must never read a consumer's CQ buffer (the caller passes the results it read).

use std::format;
use std::vec::Vec;

use super::{Inner, State};
use crate::abi::{NTSTATUS, STATUS_SUCCESS};
use crate::verifier::book::{Mismatch, Missing, Queue};
use crate::verifier::record::Rule;

impl State {
    /// Flags each request that should have come back and did not.
    fn missing(&mut self, missing: Vec<Missing>) {
        for m in missing {
            self.violate(Rule::CqResultMissing, m.object, m.message);
        }
    }
}

impl Inner {
    /// A work request is about to be posted. Returns its sequence number.
    pub fn post(&self, queue: Queue, context: usize, silent: bool, slot: &'static str) -> u64 {
        let mut st = self.lock();
        st.seq += 1;
        let seq = st.seq;
        st.book.post(seq, queue, context, silent, slot);
        seq
    }

    /// The post `seq` on `obj` returned `status`.
    pub fn posted(&self, obj: u32, seq: u64, context: usize, status: NTSTATUS, slot: &'static str) {
        let mut st = self.lock();
        st.stats.checks += 1;
        if status == STATUS_SUCCESS {
            st.stats.posted += 1;
        }
        if !st.book.posted(seq, context, status) {
            let message = format!(
                "{slot} with RequestContext {context:#x} returned {status} but a CQ result for \
                 it was already reported"
            );
            st.violate(Rule::CqResultUnknown, obj, message);
        }
    }

    /// A poll starts; returns the sequence number that orders it against QP closes.
    pub fn poll_start(&self) -> u64 {
        let mut st = self.lock();
        st.seq += 1;
        st.seq
    }

    /// A poll of `cq` (asking for `requested`) returned `results` (`(Status, QPContext,
    /// RequestContext)`, already cut to `requested`) out of `count` claimed.
    pub fn poll_results(
        &self,
        cq: u32,
        poll_seq: u64,
        requested: u32,
        count: u32,
        results: &[(NTSTATUS, usize, usize)],
    ) {
        let mut st = self.lock();
        st.stats.checks += 1;
        if count > requested {
            let message = format!("returned {count} results for nResults = {requested}");
            st.violate(Rule::CqResultCountExceeded, cq, message);
        }
        if count > 0
            && let Some(r) = st.objects.get_mut(cq as usize)
        {
            r.reaped_since_arm = true;
        }
        for &(status, qp_context, request_context) in results {
            st.stats.cq_results += 1;
            st.stats.checks += 1;
            if let Err(mismatch) = st.book.reap(cq, status, qp_context, request_context) {
                let (rule, message) = match mismatch {
                    Mismatch::Unknown(m) => (Rule::CqResultUnknown, m),
                    Mismatch::WrongCq(m) => (Rule::CqResultWrongCq, m),
                    Mismatch::SilentSuccess(m) => (Rule::CqSilentSuccessReported, m),
                };
                st.violate(rule, cq, message);
            }
        }
        if count < requested {
            st.stats.checks += 1;
            let missing = st.book.cq_ran_empty(cq, poll_seq);
            st.missing(missing);
        }
    }

    /// The consumer declares every CQ drained.
    pub fn drained(&self) {
        let mut st = self.lock();
        st.stats.checks += 1;
        let missing = st.book.drained();
        st.missing(missing);
    }
}
