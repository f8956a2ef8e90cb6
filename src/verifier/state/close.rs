//! Closes (`spec/ndkpi.md` §2.A, §5.3, §5.6): an object's close from its call through its
//! return and its close completion, and the blocking adapter close.
//!
//! Owns the close registrations and the moves of an object's life cycle to closing and closed,
//! and decides when a close has *finished* from the consumer's view (the close returned
//! `STATUS_SUCCESS`, or its completion returned): only then is the shadow handed back for
//! retirement. It must never retire a shadow itself (it returns the address for the caller to
//! retire outside the lock) and never finish an object twice.

use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use super::objects::{ClosedBy, Life};
use super::{Inner, Reg, State};
use crate::abi::upcall::CloseCompletion;
use crate::abi::{NTSTATUS, STATUS_INVALID_PARAMETER, STATUS_PENDING, STATUS_SUCCESS};
use crate::verifier::record::{CallbackKind, EventKind, ObjectKind, Rule};

/// How a close completion delivery was taken when it started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseEntry {
    /// The one delivery that completes the close: its return finishes the object.
    Finishing,
    /// A duplicate or unpaired delivery: an ordinary running callback of the object.
    Extra,
}

/// Whether a consumer's close is forwarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseStart {
    /// The object's first close: forward it, with this close-completion token (if the consumer
    /// passed a completion).
    Forward(Option<usize>),
    /// The object's close had already started: reported as [`Rule::CloseTwice`], not forwarded.
    Refused,
}

/// The slot name the adapter close is recorded under.
const ADAPTER_CLOSE: &str = "CloseNDKAdapterHandler";

impl State {
    /// Preconditions of a completed close (§5.3 C1, C2, C4); `how` says how it completed.
    fn close_checks(&mut self, obj: u32, how: &'static str) {
        let Some(r) = self.objects.get(obj as usize) else {
            return;
        };
        let running = r.running;
        let successors: Vec<u32> = r.open_successors.iter().copied().collect();
        let pending = self.pending_requests(obj);
        self.stats.checks += 3;
        if running > 0 {
            let message =
                format!("close {how} while {running} callback(s) of the object were running");
            self.violate(Rule::CloseCompletionNotLast, obj, message);
        }
        for (token, slot) in pending {
            let message = format!("close {how} while {slot} was still pending");
            if let Some(r) = self.objects.get_mut(obj as usize) {
                r.pending.remove(&token);
            }
            self.violate(Rule::CloseCompletionNotLast, obj, message);
        }
        for s in successors {
            // A successor whose close call is still running may have been finished by the
            // provider already: judged when that call returns (`completed_during_close`).
            if let Some(during) = self
                .objects
                .get_mut(s as usize)
                .and_then(|sr| sr.completed_during_close.as_mut())
            {
                let what = if how == "completed" {
                    "close completed"
                } else {
                    "close returned STATUS_SUCCESS"
                };
                during.push((obj, what, Rule::ClosedBeforeSuccessors));
                continue;
            }
            let name = self
                .objects
                .get(s as usize)
                .map_or_else(String::new, |r| r.id.to_string());
            let message = format!("close {how} while successor {name} was still open");
            self.violate(Rule::ClosedBeforeSuccessors, obj, message);
        }
    }

    /// The close of `obj` finished from the consumer's view. Returns the shadow to retire.
    fn finish(&mut self, obj: u32) -> usize {
        let seq = self.seq;
        let failed = self.life(obj) == Life::Closed(ClosedBy::Error);
        let Some((kind, shadow)) = self.release(obj) else {
            return 0;
        };
        // A QP whose close failed is not known to have flushed: its missing results are not
        // judged at this close (they still are by `check_drained`).
        if kind == ObjectKind::Qp && !failed {
            self.book.qp_closed(obj, seq);
        }
        shadow
    }
}

impl Inner {
    /// The consumer starts closing `obj`. Whether this is the object's first close is decided
    /// here, under the lock, so of two racing closes exactly one is forwarded.
    pub fn close(&self, obj: u32, slot: &'static str, up: Option<CloseCompletion>) -> CloseStart {
        let mut st = self.lock();
        st.consumer_call(obj, slot, String::new());
        st.stats.checks += 1;
        if st.life(obj) != Life::Open {
            let message =
                format!("{slot} on an object whose close has already started (not forwarded)");
            st.violate(Rule::CloseTwice, obj, message);
            return CloseStart::Refused;
        }
        st.set_life(obj, Life::Closing);
        if let Some(r) = st.objects.get_mut(obj as usize) {
            r.completed_during_close = Some(Vec::new());
        }
        CloseStart::Forward(up.map(|up| {
            st.register(Reg::Close {
                object: obj,
                up,
                returned: None,
                completions: 0,
            })
        }))
    }

    /// The consumer closed `obj` through a shadow that was already retired (its close
    /// finished): a double close, not forwarded.
    pub fn close_after_close(&self, obj: u32, slot: &'static str) {
        let mut st = self.lock();
        st.consumer_call(obj, slot, String::new());
        st.stats.checks += 1;
        let message = format!("{slot} on an object already closed (not forwarded)");
        st.violate(Rule::CloseTwice, obj, message);
    }

    /// The close of `obj` returned `status`. Returns the shadow address to retire when the
    /// close finished synchronously.
    pub fn close_returned(
        &self,
        obj: u32,
        slot: &'static str,
        token: Option<usize>,
        status: NTSTATUS,
    ) -> Option<usize> {
        let mut st = self.lock();
        st.event(
            obj,
            EventKind::Return {
                slot,
                status: Some(status),
            },
            String::new(),
        );
        let completions = match token.and_then(|t| st.regs.get_mut(&t)) {
            Some(Reg::Close {
                returned,
                completions,
                ..
            }) => {
                *returned = Some(status);
                *completions
            }
            _ => 0,
        };
        let early = st
            .objects
            .get_mut(obj as usize)
            .and_then(|r| r.completed_during_close.take())
            .unwrap_or_default();
        if status != STATUS_SUCCESS {
            let name = st
                .objects
                .get(obj as usize)
                .map_or_else(String::new, |r| r.id.to_string());
            for (antecedent, how, rule) in early {
                st.stats.checks += 1;
                let message = format!(
                    "{how} during the close call of descendant {name}, which then returned \
                     {status} instead of STATUS_SUCCESS (still open)"
                );
                st.violate(rule, antecedent, message);
            }
        }
        if status == STATUS_PENDING {
            return None;
        }
        if token.is_none() && status == STATUS_INVALID_PARAMETER {
            // The consumer passed no close completion and the provider refused the close.
            st.set_life(obj, Life::Open);
            return None;
        }
        st.stats.checks += 2;
        if status != STATUS_SUCCESS {
            // One bug, one report: the consumer treats any non-PENDING close as closed
            // (§5.3), so the object is finished and its shadow retired, but nothing that
            // follows only from the provider having failed the close is judged: no close
            // checks, no CqResultMissing at this close, no "after the close" callbacks, and a
            // close completion that follows (the close was really pending) is not unpaired.
            let message = format!("{slot} returned {status}");
            st.violate(Rule::CloseStatusInvalid, obj, message);
            if completions > 0 {
                // A close completion already ran and finished the object.
                return None;
            }
            st.set_life(obj, Life::Closed(ClosedBy::Error));
            return Some(st.finish(obj));
        }
        if completions > 0 {
            let message = format!(
                "{slot} returned {status} (not STATUS_PENDING) after its close completion ran"
            );
            st.violate(Rule::CompletionWithoutPending, obj, message);
            return None;
        }
        st.close_checks(obj, "returned STATUS_SUCCESS");
        st.set_life(obj, Life::Closed(ClosedBy::Success));
        Some(st.finish(obj))
    }

    /// The close completion for `token` started. Returns the consumer's callback and how this
    /// delivery was taken, to hand back to [`Inner::close_completion_returned`].
    ///
    /// Which delivery finishes the close is decided here, under the lock, when it *starts*:
    /// a second delivery that starts while the first is still running is a duplicate, not the
    /// finishing one, whichever of them returns first.
    pub fn close_completion(&self, token: usize) -> Option<(CloseCompletion, CloseEntry)> {
        let mut st = self.lock();
        let Some(Reg::Close {
            object,
            up,
            returned,
            completions,
        }) = st.regs.get_mut(&token)
        else {
            return None;
        };
        *completions += 1;
        let (obj, up, returned, completions) = (*object, *up, *returned, *completions);
        st.stats.checks += 1;
        // Precedence: a duplicate is `CompletionTwice`, an unpaired one `CompletionWithoutPending`;
        // neither is also reported as a callback after the close (`enter_reported`).
        if completions > 1 {
            let message = format!("close completion delivered {completions} times");
            st.violate(Rule::CompletionTwice, obj, message);
            st.enter_reported(obj, CallbackKind::CloseCompletion, None);
            return Some((up, CloseEntry::Extra));
        }
        if let Some(r) = returned
            && r != STATUS_PENDING
        {
            // After an error return (already `CloseStatusInvalid`) the completion only shows
            // the close was really pending: not reported again.
            if r == STATUS_SUCCESS {
                let message = format!("close returned {r} but its close completion was delivered");
                st.violate(Rule::CompletionWithoutPending, obj, message);
            }
            st.enter_reported(obj, CallbackKind::CloseCompletion, None);
            return Some((up, CloseEntry::Extra));
        }
        // The genuine close completion: not counted as running (`close_running` instead), and
        // not subject to the "after the close" checks of other callbacks.
        st.callback_starts(obj, CallbackKind::CloseCompletion, None);
        st.close_checks(obj, "completed");
        if let Some(r) = st.objects.get_mut(obj as usize) {
            r.life = Life::Closed(ClosedBy::Completion);
            r.close_running = true;
        }
        Some((up, CloseEntry::Finishing))
    }

    /// The close completion for `token`, taken as `entry` when it started, returned. Returns
    /// the shadow to retire (for the finishing delivery only).
    pub fn close_completion_returned(&self, token: usize, entry: CloseEntry) -> Option<usize> {
        let mut st = self.lock();
        let Some(&Reg::Close { object, .. }) = st.regs.get(&token) else {
            return None;
        };
        if entry == CloseEntry::Extra {
            st.exit(object, CallbackKind::CloseCompletion);
            return None;
        }
        if let Some(r) = st.objects.get_mut(object as usize) {
            debug_assert!(r.close_running, "{} finished a close twice", r.id);
            r.close_running = false;
        }
        st.event(
            object,
            EventKind::CallbackExit {
                callback: CallbackKind::CloseCompletion,
            },
            String::new(),
        );
        Some(st.finish(object))
    }

    /// The consumer starts closing adapter `obj`.
    pub fn adapter_close(&self, obj: u32) {
        let mut st = self.lock();
        st.consumer_call(obj, ADAPTER_CLOSE, String::new());
        st.set_life(obj, Life::Closing);
    }

    /// The adapter close returned: everything under the adapter must be closed, every request
    /// completed and every callback returned (§5.6). Returns the shadow to retire.
    pub fn adapter_closed(&self, obj: u32) -> usize {
        let mut st = self.lock();
        st.event(
            obj,
            EventKind::Return {
                slot: ADAPTER_CLOSE,
                status: None,
            },
            String::new(),
        );
        let descendants = st.descendants(obj);
        st.stats.checks += 1;
        for d in descendants {
            let Some(r) = st.objects.get(d as usize) else {
                continue;
            };
            let is_adapter = d == obj;
            let (id, finished, running, close_running) =
                (r.id, r.finished, r.running, r.close_running);
            let pending = st.pending_requests(d);
            if !finished && !is_adapter {
                // A close call still running may have finished the object already: judged when
                // it returns (`completed_during_close`).
                if let Some(during) = st
                    .objects
                    .get_mut(d as usize)
                    .and_then(|r| r.completed_during_close.as_mut())
                {
                    during.push((
                        obj,
                        "adapter close returned",
                        Rule::AdapterCloseReturnedEarly,
                    ));
                } else {
                    let message = format!("adapter close returned while {id} was still open");
                    st.violate(Rule::AdapterCloseReturnedEarly, obj, message);
                }
            }
            if running > 0 || close_running {
                let message =
                    format!("adapter close returned while a callback of {id} was running");
                st.violate(Rule::AdapterCloseReturnedEarly, obj, message);
            }
            for (_, slot) in pending {
                let message = format!("{slot} on {id} returned STATUS_PENDING and never completed");
                st.violate(Rule::CompletionMissing, d, message);
            }
        }
        st.set_life(obj, Life::Closed(ClosedBy::Success));
        st.finish(obj)
    }
}
