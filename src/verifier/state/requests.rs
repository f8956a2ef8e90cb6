//! Asynchronous requests and creates (`spec/ndkpi.md` §3.1, §5.2, §5.5): each is tracked from
//! its call to its return and to its completion, so that a completion pairs with exactly one
//! `STATUS_PENDING` return, a pending create leaves its out-pointer alone, and a successful
//! create hands out an object, which then gets its record and shadow identity.
//!
//! Owns the `Request` records (and the out slots handed to the provider in place of a
//! consumer's out-pointer) and the object's list of requests that may still complete. It must
//! never adopt a shadow itself (it returns an [`Adoption`] for the caller to shadow outside the
//! lock) and never forgets a request record: a duplicate completion must still find it.

use core::ffi::c_void;
use core::sync::atomic::{AtomicPtr, Ordering};
use std::boxed::Box;
use std::format;
use std::vec::Vec;

use super::{Adoption, Birth, Inner, Reg, State};
use crate::abi::upcall::{CreateCompletion, RequestCompletion};
use crate::abi::{NTSTATUS, STATUS_PENDING, STATUS_SUCCESS};
use crate::verifier::record::{CallbackKind, Rule};

/// The value the verifier puts in a create's out-pointer slot; a pending create must leave it.
const OUT_SENTINEL: usize = 0x5EED_0000_0000_5EED;

#[derive(Debug)]
pub(super) enum Upcall {
    Request(Option<RequestCompletion>),
    Create {
        up: Option<CreateCompletion>,
        birth: Birth,
        /// The out-pointer slot handed to the provider (stable address).
        out: Box<AtomicPtr<c_void>>,
        /// The shadow handed to the consumer, once created.
        shadow: usize,
        /// The object's record exists (made at most once, by the inline success or the first
        /// completion, whichever the provider delivered).
        born: bool,
        /// A write to `out` while pending was reported (one write, one report).
        out_flagged: bool,
    },
}

/// Whether a request's inline return accepted it (`STATUS_SUCCESS` or `STATUS_PENDING`): the
/// antecedent links it made stand until its completion reports a failure. Any other return,
/// success-class codes such as `STATUS_TIMEOUT` included, fails the request.
pub const fn accepted(status: NTSTATUS) -> bool {
    status.0 == STATUS_SUCCESS.0 || status.0 == STATUS_PENDING.0
}

/// How a request or create completion arrived.
#[derive(Debug)]
struct Arrival {
    /// The object the request was issued on.
    obj: u32,
    /// The request's first completion.
    first: bool,
    /// Already reported as [`Rule::CompletionTwice`] or [`Rule::CompletionWithoutPending`]: no
    /// other sequencing rule is applied to it.
    reported: bool,
}

#[derive(Debug)]
pub(super) struct Request {
    /// The object the request was issued on (the parent, for a create).
    pub(super) object: u32,
    pub(super) slot: &'static str,
    pub(super) returned: Option<NTSTATUS>,
    completions: u32,
    upcall: Upcall,
    /// `(successor, antecedent)` links made by this request, dropped if it fails.
    links: Vec<(u32, u32)>,
}

impl State {
    /// Registers `req` and counts it as pending on its object. Returns its token.
    fn track(&mut self, req: Request) -> usize {
        let obj = req.object;
        let token = self.register(Reg::Request(req));
        if let Some(r) = self.objects.get_mut(obj as usize) {
            r.pending.insert(token);
        }
        token
    }

    /// Drops the links request `token` made (it failed).
    fn drop_links(&mut self, token: usize) {
        let links = match self.regs.get(&token) {
            Some(Reg::Request(req)) => req.links.clone(),
            _ => return,
        };
        for (s, a) in links {
            self.unlink(s, a);
        }
    }

    /// Creates the record of the object a create made and binds its event registration.
    fn birth_object(&mut self, token: usize, real: *mut c_void) -> Option<Adoption> {
        let Some(Reg::Request(Request {
            upcall: Upcall::Create { birth, born, .. },
            ..
        })) = self.regs.get_mut(&token)
        else {
            return None;
        };
        if core::mem::replace(born, true) {
            return None;
        }
        let (kind, antecedents, qp, event, armed) = (
            birth.kind,
            birth.antecedents.clone(),
            birth.qp,
            birth.event,
            birth.armed,
        );
        let adoption = self.new_adoption(kind, antecedents, real);
        let index = adoption.id.index;
        if let Some(r) = self.objects.get_mut(index as usize) {
            r.arms = u32::from(armed);
        }
        if let Some(info) = qp {
            self.book.add_qp(index, info);
        }
        if let Some(event) = event {
            match self.regs.get_mut(&event) {
                Some(Reg::CqNotify { cq, .. }) => *cq = Some(index),
                Some(Reg::SrqNotify { srq, .. }) => *srq = Some(index),
                Some(Reg::Connect { listener, .. }) => *listener = Some(index),
                _ => {}
            }
        }
        Some(adoption)
    }

    /// Checks that the pending create `token` left its out slot alone; `when` says where the
    /// write was seen. A write is reported once, at the return or at the completion.
    fn check_pending_out(&mut self, token: usize, when: &str) {
        let Some(Reg::Request(Request {
            object,
            slot,
            upcall: Upcall::Create {
                out, out_flagged, ..
            },
            ..
        })) = self.regs.get_mut(&token)
        else {
            return;
        };
        let value = out.load(Ordering::Acquire);
        self.stats.checks += 1;
        if value.addr() == OUT_SENTINEL || core::mem::replace(out_flagged, true) {
            return;
        }
        let (obj, slot) = (*object, *slot);
        let message = format!("{slot} {when} but wrote {value:p} to the consumer's out-pointer");
        self.violate(Rule::PendingCreateOutPointerWritten, obj, message);
    }

    /// Shared part of request/create completions: multiplicity and pairing with PENDING.
    fn completion_arrived(&mut self, token: usize, status: NTSTATUS) -> Option<Arrival> {
        let Some(Reg::Request(req)) = self.regs.get_mut(&token) else {
            return None;
        };
        req.completions += 1;
        let (obj, slot, returned, completions) =
            (req.object, req.slot, req.returned, req.completions);
        if let Some(r) = self.objects.get_mut(obj as usize) {
            r.pending.remove(&token);
        }
        self.stats.checks += 2;
        let mut reported = true;
        if completions > 1 {
            let message = format!("{slot} completed {completions} times (latest {status})");
            self.violate(Rule::CompletionTwice, obj, message);
        } else if let Some(r) = returned
            && r != STATUS_PENDING
        {
            let message =
                format!("{slot} returned {r} but its completion ({status}) was delivered");
            self.violate(Rule::CompletionWithoutPending, obj, message);
        } else {
            reported = false;
        }
        Some(Arrival {
            obj,
            first: completions == 1,
            reported,
        })
    }

    /// A request or create completion concerning `obj` starts (see [`Arrival`]).
    fn enter_completion(&mut self, arrival: &Arrival, callback: CallbackKind, status: NTSTATUS) {
        if arrival.reported {
            self.enter_reported(arrival.obj, callback, Some(status));
        } else {
            self.enter(arrival.obj, callback, Some(status));
        }
    }

    /// `obj`'s requests that returned `STATUS_PENDING` and have not completed:
    /// `(token, slot)`.
    pub(super) fn pending_requests(&self, obj: u32) -> std::vec::Vec<(usize, &'static str)> {
        let Some(r) = self.objects.get(obj as usize) else {
            return std::vec::Vec::new();
        };
        r.pending
            .iter()
            .filter_map(|token| match self.regs.get(token) {
                Some(Reg::Request(req)) if req.returned == Some(STATUS_PENDING) => {
                    Some((*token, req.slot))
                }
                _ => None,
            })
            .collect()
    }
}

impl Inner {
    /// Registers a request on `obj` whose completion (if any) the verifier wraps. Returns the
    /// token to hand to the provider, or `None` when the consumer passed no callback.
    pub fn request(
        &self,
        obj: u32,
        slot: &'static str,
        up: Option<RequestCompletion>,
        links: Vec<(u32, u32)>,
    ) -> Option<usize> {
        up?;
        Some(self.lock().track(Request {
            object: obj,
            slot,
            returned: None,
            completions: 0,
            upcall: Upcall::Request(up),
            links,
        }))
    }

    /// Registers a create on `parent`. Returns the token and the out-pointer slot to hand to the
    /// provider in place of the consumer's (non-NULL: `forward` refuses a create without one).
    pub fn create(
        &self,
        parent: u32,
        slot: &'static str,
        up: Option<CreateCompletion>,
        birth: Birth,
    ) -> (usize, *mut *mut c_void) {
        let out = Box::new(AtomicPtr::new(core::ptr::without_provenance_mut(
            OUT_SENTINEL,
        )));
        let out_ptr = out.as_ptr();
        let token = self.lock().track(Request {
            object: parent,
            slot,
            returned: None,
            completions: 0,
            upcall: Upcall::Create {
                up,
                birth,
                out,
                shadow: 0,
                born: false,
                out_flagged: false,
            },
            links: Vec::new(),
        });
        (token, out_ptr)
    }

    /// The request `token` returned `status` from its provider function. For a create that
    /// succeeded inline, returns the object to adopt.
    pub fn request_returned(&self, token: usize, status: NTSTATUS) -> Option<Adoption> {
        let mut st = self.lock();
        let Some(Reg::Request(req)) = st.regs.get_mut(&token) else {
            return None;
        };
        req.returned = Some(status);
        let (obj, slot, completions) = (req.object, req.slot, req.completions);
        let created = match &req.upcall {
            Upcall::Create {
                out, birth, born, ..
            } => {
                let value = out.load(Ordering::Acquire);
                Some((birth.kind, value, *born))
            }
            Upcall::Request(_) => None,
        };
        if status == STATUS_PENDING {
            if created.is_some() {
                st.check_pending_out(token, "returned STATUS_PENDING");
            }
            return None;
        }
        if let Some(r) = st.objects.get_mut(obj as usize) {
            r.pending.remove(&token);
        }
        st.stats.checks += 1;
        if completions > 0 {
            let message = format!(
                "{slot} returned {status} (not STATUS_PENDING) but its completion was already \
                 delivered"
            );
            st.violate(Rule::CompletionWithoutPending, obj, message);
        }
        if !accepted(status) {
            st.drop_links(token);
        }
        let (Some((kind, value, born)), true) = (created, status == STATUS_SUCCESS) else {
            return None;
        };
        st.stats.checks += 1;
        if value.addr() != OUT_SENTINEL && !value.is_null() {
            return st.birth_object(token, value);
        }
        // An object already handed over by a (premature) completion is not missing.
        if !born {
            let message = format!("{slot} returned STATUS_SUCCESS without a new {kind:?}");
            st.violate(Rule::CreateWithoutObject, obj, message);
        }
        None
    }

    /// Records the shadow handed to the consumer for a create.
    pub fn created_shadow(&self, token: usize, shadow: usize) {
        if let Some(Reg::Request(Request {
            upcall: Upcall::Create { shadow: s, .. },
            ..
        })) = self.lock().regs.get_mut(&token)
        {
            *s = shadow;
        }
    }

    /// A request completion arrived for `token`. Returns the consumer's callback.
    pub fn request_completion(&self, token: usize, status: NTSTATUS) -> Option<RequestCompletion> {
        let mut st = self.lock();
        let arrival = st.completion_arrived(token, status)?;
        let Some(Reg::Request(req)) = st.regs.get(&token) else {
            return None;
        };
        let up = match req.upcall {
            Upcall::Request(up) => up,
            Upcall::Create { .. } => None,
        };
        // The request's outcome, unless this completion is a duplicate or unpaired one (the
        // outcome was decided by the first completion or by the inline return).
        if arrival.first && !arrival.reported && status != STATUS_SUCCESS {
            st.drop_links(token);
        }
        st.enter_completion(&arrival, CallbackKind::RequestCompletion, status);
        up
    }

    /// A create completion arrived for `token` with `object`. Returns the consumer's callback,
    /// the object to adopt (first successful completion), and a shadow already handed out.
    pub fn create_completion(
        &self,
        token: usize,
        status: NTSTATUS,
        object: *mut c_void,
    ) -> (Option<CreateCompletion>, Option<Adoption>, usize) {
        let mut st = self.lock();
        let Some(arrival) = st.completion_arrived(token, status) else {
            return (None, None, 0);
        };
        let (obj, first) = (arrival.obj, arrival.first);
        // Entered before anything else so that `completion_returned`'s exit always has its
        // entry, whatever kind of request the token turns out to be.
        st.enter_completion(&arrival, CallbackKind::CreateCompletion, status);
        let Some(Reg::Request(Request {
            slot,
            returned,
            upcall: Upcall::Create {
                up, shadow, birth, ..
            },
            ..
        })) = st.regs.get(&token)
        else {
            return (None, None, 0);
        };
        let (slot, up, shadow, kind, returned) = (*slot, *up, *shadow, birth.kind, *returned);
        let mut adopt = None;
        // Only a create that returned STATUS_PENDING must have left the slot alone: after an
        // inline success it holds the object legitimately, and before the return the write is
        // judged at the return (once the status is known).
        if returned == Some(STATUS_PENDING) {
            st.check_pending_out(token, "completed asynchronously");
        }
        // An unpaired completion (already reported) neither creates nor fails to create.
        st.stats.checks += 1;
        if first && !arrival.reported && status == STATUS_SUCCESS {
            if object.is_null() {
                let message = format!("{slot} completed with STATUS_SUCCESS but no {kind:?}");
                st.violate(Rule::CreateWithoutObject, obj, message);
            } else {
                adopt = st.birth_object(token, object);
            }
        }
        (up, adopt, shadow)
    }

    /// A request or create completion returned to the provider.
    pub fn completion_returned(&self, token: usize, callback: CallbackKind) {
        let mut st = self.lock();
        if let Some(Reg::Request(req)) = st.regs.get(&token) {
            let obj = req.object;
            st.exit(obj, callback);
        }
    }
}
