//! The verifier's state and rule checker: per-object life cycle (open → closing → closed),
//! per-request completion tracking, callback bookkeeping, notification arming, antecedent links,
//! and the bounded event history each violation quotes.
//!
//! Every method takes the one state mutex for a short, non-blocking section and releases it
//! before returning: callers (`forward`, `trampoline`) never hold it while calling into the
//! provider or the consumer, so re-entrant calls (a close from inside a callback) cannot
//! deadlock. Nothing here panics on bad provider behaviour; it records a [`Violation`].
#![deny(unsafe_code)]
// Each method holds the state lock for its whole (short, non-blocking) section on purpose:
// checks and records of one event must be atomic with respect to other threads' events.
#![allow(clippy::significant_drop_tightening)]

use core::ffi::c_void;
use core::sync::atomic::{AtomicPtr, Ordering};
use std::boxed::Box;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::format;
use std::string::{String, ToString};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::vec::Vec;

use super::book::{Book, QpInfo, Queue};
use super::record::{CallbackKind, Event, EventKind, ObjectId, ObjectKind, Rule, Stats, Violation};
use super::registry;
use crate::abi::upcall::{
    CloseCompletion, ConnectEvent, CqNotification, CreateCompletion, Disconnect, RequestCompletion,
    SrqNotification,
};
use crate::abi::{NTSTATUS, STATUS_INVALID_PARAMETER, STATUS_PENDING, STATUS_SUCCESS};
use crate::platform::{Irql, host};

/// The value the verifier puts in a create's out-pointer slot; a pending create must leave it.
const OUT_SENTINEL: usize = 0x5EED_0000_0000_5EED;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClosedBy {
    Completion,
    Success,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Life {
    Open,
    Closing,
    Closed(ClosedBy),
}

#[derive(Debug)]
struct ObjRecord {
    id: ObjectId,
    life: Life,
    /// The close finished from the consumer's view (completion returned / SUCCESS returned).
    finished: bool,
    antecedents: Vec<u32>,
    open_successors: BTreeSet<u32>,
    /// `Some` while the object's close call runs: the antecedents whose close completed during
    /// that call. Legal only if the call returns `STATUS_SUCCESS` (the provider finished this
    /// object, then completed the antecedent on the same stack; the ABI cannot order the two
    /// more finely).
    completed_during_close: Option<Vec<(u32, &'static str, Rule)>>,
    history: VecDeque<Event>,
    /// Callbacks concerning the object currently running (close completion excluded).
    running: u32,
    close_running: bool,
    /// Tokens of requests on this object that may still complete.
    pending: BTreeSet<usize>,
    /// Notifications the consumer's arms still allow (§3.4 rule 1). A second arm before the
    /// first was seen satisfied combines with it (rule 4) and adds nothing, unless a poll
    /// returned results since the previous arm: the provider may have cleared that arm on a
    /// completion and not delivered its notification yet, so the new arm earns its own.
    arms: u32,
    /// A poll of this CQ returned results since its last arm.
    reaped_since_arm: bool,
    notifying: u32,
    shadow: usize,
}

/// What a create makes once it succeeds.
#[derive(Debug)]
pub struct Birth {
    /// Kind of the new object.
    pub kind: ObjectKind,
    /// Its antecedents (object indices), parent first.
    pub antecedents: Vec<u32>,
    /// For QPs: what they complete into.
    pub qp: Option<QpInfo>,
    /// Token of the event registration (CQ/SRQ notification, connect event) to bind to it.
    pub event: Option<usize>,
    /// For SRQs: armed at creation (non-zero `NotifyThreshold`).
    pub armed: bool,
}

#[derive(Debug)]
enum Upcall {
    Request(Option<RequestCompletion>),
    Create {
        up: Option<CreateCompletion>,
        birth: Birth,
        /// The out-pointer slot handed to the provider (stable address).
        out: Box<AtomicPtr<c_void>>,
        /// The shadow handed to the consumer, once created.
        shadow: usize,
    },
}

#[derive(Debug)]
struct Request {
    object: u32,
    slot: &'static str,
    returned: Option<NTSTATUS>,
    completions: u32,
    upcall: Upcall,
    /// `(successor, antecedent)` link made by this request, dropped if it fails.
    link: Option<(u32, u32)>,
}

#[derive(Debug)]
enum Reg {
    Request(Request),
    Close {
        object: u32,
        up: CloseCompletion,
        returned: Option<NTSTATUS>,
        completions: u32,
    },
    CqNotify {
        parent: u32,
        cq: Option<u32>,
        up: CqNotification,
    },
    SrqNotify {
        parent: u32,
        srq: Option<u32>,
        up: SrqNotification,
    },
    Connect {
        parent: u32,
        listener: Option<u32>,
        up: ConnectEvent,
    },
    Disconnect {
        connector: u32,
        up: Disconnect,
        count: u32,
    },
}

#[derive(Debug, Default)]
struct State {
    seq: u64,
    serial: u64,
    objects: Vec<ObjRecord>,
    regs: HashMap<usize, Reg>,
    book: Book,
    violations: Vec<Violation>,
    taken: usize,
    stats: Stats,
}

/// A verifier's shared state (behind the public `Verifier` handle, every shadow and every
/// callback token).
#[derive(Debug)]
pub struct Inner {
    /// Registry id (high bits of this verifier's callback tokens).
    pub id: u32,
    history_len: usize,
    state: Mutex<State>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        registry::unregister_verifier(self.id);
    }
}

/// A new object the caller must shadow (outside the lock) with [`registry::adopt`].
#[derive(Clone, Copy, Debug)]
pub struct Adoption {
    /// The identity the shadow gets.
    pub id: ObjectId,
    /// The provider's object.
    pub real: *mut c_void,
}

impl State {
    fn event(&mut self, obj: u32, kind: EventKind, detail: String, history_len: usize) {
        self.seq += 1;
        let Some(record) = self.objects.get_mut(obj as usize) else {
            return;
        };
        if record.history.len() >= history_len {
            record.history.pop_front();
        }
        record.history.push_back(Event {
            seq: self.seq,
            object: record.id,
            irql: crate::platform::current_irql(),
            thread: std::thread::current().id(),
            kind,
            detail,
        });
    }

    fn violate(&mut self, rule: Rule, obj: u32, message: String, history_len: usize) {
        self.event(
            obj,
            EventKind::Violation { rule },
            String::new(),
            history_len,
        );
        self.stats.violations += 1;
        let Some(record) = self.objects.get(obj as usize) else {
            return;
        };
        self.violations.push(Violation {
            rule,
            object: record.id,
            message,
            history: record.history.iter().cloned().collect(),
        });
    }

    fn new_object(&mut self, kind: ObjectKind, antecedents: Vec<u32>) -> u32 {
        let index = u32::try_from(self.objects.len()).unwrap_or(u32::MAX);
        for &a in &antecedents {
            if let Some(parent) = self.objects.get_mut(a as usize) {
                parent.open_successors.insert(index);
            }
        }
        self.objects.push(ObjRecord {
            id: ObjectId { kind, index },
            life: Life::Open,
            finished: false,
            antecedents,
            open_successors: BTreeSet::new(),
            completed_during_close: None,
            history: VecDeque::new(),
            running: 0,
            close_running: false,
            pending: BTreeSet::new(),
            arms: 0,
            reaped_since_arm: false,
            notifying: 0,
            shadow: 0,
        });
        self.stats.objects += 1;
        index
    }

    const fn next_token(&mut self, verifier: u32) -> usize {
        self.serial += 1;
        registry::token(verifier, self.serial)
    }

    fn life(&self, obj: u32) -> Life {
        self.objects
            .get(obj as usize)
            .map_or(Life::Closed(ClosedBy::Success), |r| r.life)
    }
}

impl Inner {
    /// A new verifier state, registered for token lookups.
    pub fn new(history_len: usize) -> std::sync::Arc<Self> {
        std::sync::Arc::new_cyclic(|weak| Self {
            id: registry::register_verifier(weak.clone()),
            history_len: history_len.max(1),
            state: Mutex::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    // ---- Reporting --------------------------------------------------------------------------

    /// Every violation recorded so far.
    pub fn violations(&self) -> Vec<Violation> {
        self.lock().violations.clone()
    }

    /// Violations not yet taken; marks them taken.
    pub fn take_new(&self) -> Vec<Violation> {
        let mut st = self.lock();
        let from = st.taken;
        st.taken = st.violations.len();
        st.violations[from..].to_vec()
    }

    /// Violations not yet taken, without taking them.
    pub fn untaken(&self) -> Vec<Violation> {
        let st = self.lock();
        st.violations[st.taken..].to_vec()
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.lock().stats
    }

    /// The recorded history of object `index`.
    pub fn history(&self, index: u32) -> Vec<Event> {
        self.lock()
            .objects
            .get(index as usize)
            .map(|r| r.history.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Identities of objects whose close has not finished.
    pub fn open_objects(&self) -> Vec<ObjectId> {
        self.lock()
            .objects
            .iter()
            .filter(|r| !r.finished)
            .map(|r| r.id)
            .collect()
    }

    // ---- Objects and calls ------------------------------------------------------------------

    /// Allocates the identity of a new adapter.
    pub fn new_adapter(&self) -> ObjectId {
        let mut st = self.lock();
        let index = st.new_object(ObjectKind::Adapter, Vec::new());
        ObjectId {
            kind: ObjectKind::Adapter,
            index,
        }
    }

    /// Records the shadow address of a freshly adopted object.
    pub fn adopted(&self, id: ObjectId, shadow: usize) {
        if let Some(r) = self.lock().objects.get_mut(id.index as usize) {
            r.shadow = shadow;
        }
    }

    /// A consumer call on object `obj`; `detail` describes the arguments.
    pub fn call(&self, obj: u32, slot: &'static str, detail: String) {
        let mut st = self.lock();
        st.stats.calls += 1;
        st.event(obj, EventKind::Call { slot }, detail, self.history_len);
        st.stats.checks += 1;
        if st.life(obj) != Life::Open {
            let message = format!("{slot} called on an object whose close has started");
            st.violate(Rule::UnknownObject, obj, message, self.history_len);
        }
    }

    /// The provider function called on `obj` returned.
    pub fn returned(&self, obj: u32, slot: &'static str, status: Option<NTSTATUS>, detail: String) {
        self.lock().event(
            obj,
            EventKind::Return { slot, status },
            detail,
            self.history_len,
        );
    }

    /// A consumer call through a stale or mismatched shadow (reported, not forwarded).
    pub fn misuse(&self, id: ObjectId, slot: &'static str, message: &str) {
        let mut st = self.lock();
        st.stats.calls += 1;
        st.stats.checks += 1;
        st.event(
            id.index,
            EventKind::Call { slot },
            String::new(),
            self.history_len,
        );
        st.violate(
            Rule::UnknownObject,
            id.index,
            format!("{slot}: {message}"),
            self.history_len,
        );
    }

    /// Adds the antecedent link `successor → antecedent` (connect/accept/bind).
    pub fn link(&self, successor: u32, antecedent: u32) {
        let mut st = self.lock();
        let Some(s) = st.objects.get_mut(successor as usize) else {
            return;
        };
        if s.finished || s.antecedents.contains(&antecedent) {
            return;
        }
        s.antecedents.push(antecedent);
        if let Some(a) = st.objects.get_mut(antecedent as usize) {
            a.open_successors.insert(successor);
        }
    }

    /// Drops the antecedent link `successor → antecedent` (a connect/accept that failed).
    pub fn unlink(&self, successor: u32, antecedent: u32) {
        Self::unlink_in(&mut self.lock(), successor, antecedent);
    }

    fn unlink_in(st: &mut State, successor: u32, antecedent: u32) {
        if let Some(s) = st.objects.get_mut(successor as usize) {
            s.antecedents.retain(|&a| a != antecedent);
        }
        if let Some(a) = st.objects.get_mut(antecedent as usize) {
            a.open_successors.remove(&successor);
        }
    }

    // ---- Requests (asynchronous calls with a completion) ------------------------------------

    /// Registers a request on `obj` whose completion (if any) the verifier wraps. Returns the
    /// token to hand to the provider, or `None` when the consumer passed no callback.
    pub fn request(
        &self,
        obj: u32,
        slot: &'static str,
        up: Option<RequestCompletion>,
        link: Option<(u32, u32)>,
    ) -> Option<usize> {
        up?;
        let mut st = self.lock();
        let token = st.next_token(self.id);
        st.regs.insert(
            token,
            Reg::Request(Request {
                object: obj,
                slot,
                returned: None,
                completions: 0,
                upcall: Upcall::Request(up),
                link,
            }),
        );
        if let Some(r) = st.objects.get_mut(obj as usize) {
            r.pending.insert(token);
        }
        Some(token)
    }

    /// Registers a create on `parent`. Returns the token and the out-pointer slot to hand to the
    /// provider (the slot only if the consumer passed an out-pointer).
    pub fn create(
        &self,
        parent: u32,
        slot: &'static str,
        up: Option<CreateCompletion>,
        birth: Birth,
    ) -> (usize, *mut *mut c_void) {
        let mut st = self.lock();
        let token = st.next_token(self.id);
        let out = Box::new(AtomicPtr::new(core::ptr::without_provenance_mut(
            OUT_SENTINEL,
        )));
        let out_ptr = out.as_ptr();
        st.regs.insert(
            token,
            Reg::Request(Request {
                object: parent,
                slot,
                returned: None,
                completions: 0,
                upcall: Upcall::Create {
                    up,
                    birth,
                    out,
                    shadow: 0,
                },
                link: None,
            }),
        );
        if let Some(r) = st.objects.get_mut(parent as usize) {
            r.pending.insert(token);
        }
        (token, out_ptr)
    }

    /// The request `token` returned `status` from its provider function. For a create that
    /// succeeded inline, returns the object to adopt.
    pub fn request_returned(&self, token: usize, status: NTSTATUS) -> Option<Adoption> {
        let mut st = self.lock();
        let hl = self.history_len;
        let Some(Reg::Request(req)) = st.regs.get_mut(&token) else {
            return None;
        };
        req.returned = Some(status);
        let (obj, slot, completions) = (req.object, req.slot, req.completions);
        let written = match &req.upcall {
            Upcall::Create { out, .. } => {
                let value = out.load(Ordering::Acquire);
                (value.addr() != OUT_SENTINEL).then_some(value)
            }
            Upcall::Request(_) => None,
        };
        let link = req.link;
        let pending = status == STATUS_PENDING;
        let mut adopt = None;
        if !pending {
            if let Some(r) = st.objects.get_mut(obj as usize) {
                r.pending.remove(&token);
            }
            st.stats.checks += 1;
            if completions > 0 {
                let message = format!(
                    "{slot} returned {status} (not STATUS_PENDING) but its completion was \
                     already delivered"
                );
                st.violate(Rule::CompletionWithoutPending, obj, message, hl);
            }
            if !status.is_success()
                && let Some((s, a)) = link
            {
                Self::unlink_in(&mut st, s, a);
            }
            if status == STATUS_SUCCESS
                && let Some(Reg::Request(req)) = st.regs.get(&token)
                && let Upcall::Create { birth, .. } = &req.upcall
            {
                let kind = birth.kind;
                st.stats.checks += 1;
                match written {
                    Some(real) if !real.is_null() => {
                        adopt = Self::birth_object(&mut st, token, real);
                    }
                    _ => {
                        let message =
                            format!("{slot} returned STATUS_SUCCESS without a new {kind:?}");
                        st.violate(Rule::CreateWithoutObject, obj, message, hl);
                    }
                }
            }
        } else if let Some(real) = written {
            st.stats.checks += 1;
            let message = format!(
                "{slot} returned STATUS_PENDING but wrote {real:p} to the consumer's out-pointer"
            );
            st.violate(Rule::PendingCreateOutPointerWritten, obj, message, hl);
        }
        adopt
    }

    /// Creates the record of the object a create made and binds its event registration.
    fn birth_object(st: &mut State, token: usize, real: *mut c_void) -> Option<Adoption> {
        let Some(Reg::Request(Request {
            upcall: Upcall::Create { birth, .. },
            ..
        })) = st.regs.get(&token)
        else {
            return None;
        };
        let (kind, antecedents, qp, event, armed) = (
            birth.kind,
            birth.antecedents.clone(),
            birth.qp,
            birth.event,
            birth.armed,
        );
        let index = st.new_object(kind, antecedents);
        if let Some(r) = st.objects.get_mut(index as usize) {
            r.arms = u32::from(armed);
        }
        if let Some(info) = qp {
            st.book.add_qp(index, info);
        }
        if let Some(event) = event {
            match st.regs.get_mut(&event) {
                Some(Reg::CqNotify { cq, .. }) => *cq = Some(index),
                Some(Reg::SrqNotify { srq, .. }) => *srq = Some(index),
                Some(Reg::Connect { listener, .. }) => *listener = Some(index),
                _ => {}
            }
        }
        Some(Adoption {
            id: ObjectId { kind, index },
            real,
        })
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
        let (obj, first) = self.completion_common(&mut st, token, status)?;
        let Some(Reg::Request(req)) = st.regs.get(&token) else {
            return None;
        };
        let up = match req.upcall {
            Upcall::Request(up) => up,
            Upcall::Create { .. } => None,
        };
        let link = req.link;
        if first
            && !status.is_success()
            && let Some((s, a)) = link
        {
            Self::unlink_in(&mut st, s, a);
        }
        self.enter(&mut st, obj, CallbackKind::RequestCompletion, Some(status));
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
        let hl = self.history_len;
        let Some((obj, first)) = self.completion_common(&mut st, token, status) else {
            return (None, None, 0);
        };
        let Some(Reg::Request(req)) = st.regs.get(&token) else {
            return (None, None, 0);
        };
        let slot = req.slot;
        let Upcall::Create {
            up,
            ref out,
            shadow,
            ref birth,
        } = req.upcall
        else {
            return (None, None, 0);
        };
        let kind = birth.kind;
        let value = out.load(Ordering::Acquire);
        let mut adopt = None;
        st.stats.checks += 2;
        if value.addr() != OUT_SENTINEL {
            let message = format!(
                "{slot} completed asynchronously but the provider wrote {value:p} to the \
                 consumer's out-pointer"
            );
            st.violate(Rule::PendingCreateOutPointerWritten, obj, message, hl);
        }
        if first && status == STATUS_SUCCESS {
            if object.is_null() {
                let message = format!("{slot} completed with STATUS_SUCCESS but no {kind:?}");
                st.violate(Rule::CreateWithoutObject, obj, message, hl);
            } else {
                adopt = Self::birth_object(&mut st, token, object);
            }
        }
        self.enter(&mut st, obj, CallbackKind::CreateCompletion, Some(status));
        (up, adopt, shadow)
    }

    /// Shared part of request/create completions: multiplicity and pairing with PENDING.
    /// Returns the request's object and whether this is the first completion.
    fn completion_common(
        &self,
        st: &mut State,
        token: usize,
        status: NTSTATUS,
    ) -> Option<(u32, bool)> {
        let hl = self.history_len;
        let Some(Reg::Request(req)) = st.regs.get_mut(&token) else {
            return None;
        };
        req.completions += 1;
        let (obj, slot, returned, completions) =
            (req.object, req.slot, req.returned, req.completions);
        if let Some(r) = st.objects.get_mut(obj as usize) {
            r.pending.remove(&token);
        }
        st.stats.checks += 2;
        if completions > 1 {
            let message = format!("{slot} completed {completions} times (latest {status})");
            st.violate(Rule::CompletionTwice, obj, message, hl);
        } else if let Some(r) = returned
            && r != STATUS_PENDING
        {
            let message =
                format!("{slot} returned {r} but its completion ({status}) was delivered");
            st.violate(Rule::CompletionWithoutPending, obj, message, hl);
        }
        Some((obj, completions == 1))
    }

    // ---- Callback entry/exit ----------------------------------------------------------------

    /// Common checks when a callback concerning `obj` starts; counts it as running.
    fn enter(&self, st: &mut State, obj: u32, callback: CallbackKind, status: Option<NTSTATUS>) {
        let hl = self.history_len;
        st.stats.callbacks += 1;
        st.event(
            obj,
            EventKind::CallbackEnter { callback, status },
            String::new(),
            hl,
        );
        Self::context_checks(st, obj, callback, hl);
        st.stats.checks += 1;
        match st.life(obj) {
            Life::Closed(ClosedBy::Completion) => {
                let message = format!("{callback:?} after the object's close completion");
                st.violate(Rule::CallbackAfterCloseCompletion, obj, message, hl);
            }
            Life::Closed(ClosedBy::Success) => {
                let message =
                    format!("{callback:?} after the object's close returned STATUS_SUCCESS");
                st.violate(Rule::CallbackAfterSuccessClose, obj, message, hl);
            }
            Life::Open | Life::Closing => {}
        }
        if let Some(r) = st.objects.get_mut(obj as usize) {
            r.running += 1;
        }
    }

    /// IRQL and provider-lock checks for a callback on the current thread.
    fn context_checks(st: &mut State, obj: u32, callback: CallbackKind, hl: usize) {
        st.stats.checks += 2;
        let irql = crate::platform::current_irql();
        if irql > Irql::Dispatch {
            let message = format!("{callback:?} invoked at {irql:?}");
            st.violate(Rule::CallbackAboveDispatch, obj, message, hl);
        }
        let held = host::held_lock_count();
        if held > 0 {
            let message = format!("{callback:?} invoked with {held} provider spin lock(s) held");
            st.violate(Rule::CallbackWithProviderLock, obj, message, hl);
        }
    }

    /// A callback concerning `obj` returned to the provider.
    fn exit(&self, st: &mut State, obj: u32, callback: CallbackKind) {
        if let Some(r) = st.objects.get_mut(obj as usize) {
            r.running = r.running.saturating_sub(1);
        }
        st.event(
            obj,
            EventKind::CallbackExit { callback },
            String::new(),
            self.history_len,
        );
    }

    /// A request or create completion returned to the provider.
    pub fn completion_returned(&self, token: usize, callback: CallbackKind) {
        let mut st = self.lock();
        if let Some(Reg::Request(req)) = st.regs.get(&token) {
            let obj = req.object;
            self.exit(&mut st, obj, callback);
        }
    }

    // ---- Close ------------------------------------------------------------------------------

    /// The consumer starts closing `obj`. Returns the token wrapping its close completion.
    pub fn close(
        &self,
        obj: u32,
        slot: &'static str,
        up: Option<CloseCompletion>,
    ) -> Option<usize> {
        let mut st = self.lock();
        let hl = self.history_len;
        st.stats.calls += 1;
        st.event(obj, EventKind::Call { slot }, String::new(), hl);
        st.stats.checks += 1;
        if st.life(obj) != Life::Open {
            st.violate(
                Rule::UnknownObject,
                obj,
                format!("{slot} on an object whose close has already started"),
                hl,
            );
        } else if let Some(r) = st.objects.get_mut(obj as usize) {
            r.life = Life::Closing;
            r.completed_during_close = Some(Vec::new());
        }
        let up = up?;
        let token = st.next_token(self.id);
        st.regs.insert(
            token,
            Reg::Close {
                object: obj,
                up,
                returned: None,
                completions: 0,
            },
        );
        Some(token)
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
        let hl = self.history_len;
        st.event(
            obj,
            EventKind::Return {
                slot,
                status: Some(status),
            },
            String::new(),
            hl,
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
                st.violate(rule, antecedent, message, hl);
            }
        }
        if status == STATUS_PENDING {
            return None;
        }
        if token.is_none() && status == STATUS_INVALID_PARAMETER {
            // The consumer passed no close completion and the provider refused the close.
            if let Some(r) = st.objects.get_mut(obj as usize) {
                r.life = Life::Open;
            }
            return None;
        }
        st.stats.checks += 2;
        if status != STATUS_SUCCESS {
            let message = format!("{slot} returned {status}");
            st.violate(Rule::CloseStatusInvalid, obj, message, hl);
        }
        if completions > 0 {
            let message = format!(
                "{slot} returned {status} (not STATUS_PENDING) after its close completion ran"
            );
            st.violate(Rule::CompletionWithoutPending, obj, message, hl);
            return None;
        }
        self.close_complete_checks(&mut st, obj, "returned STATUS_SUCCESS");
        if let Some(r) = st.objects.get_mut(obj as usize) {
            r.life = Life::Closed(ClosedBy::Success);
        }
        Some(Self::finish(&mut st, obj))
    }

    /// Preconditions of a completed close (§5.3 C1, C2, C4).
    fn close_complete_checks(&self, st: &mut State, obj: u32, how: &'static str) {
        let hl = self.history_len;
        let Some(r) = st.objects.get(obj as usize) else {
            return;
        };
        let running = r.running;
        let pending: Vec<usize> = r.pending.iter().copied().collect();
        let successors: Vec<u32> = r.open_successors.iter().copied().collect();
        st.stats.checks += 3;
        if running > 0 {
            let message =
                format!("close {how} while {running} callback(s) of the object were running");
            st.violate(Rule::CloseCompletionNotLast, obj, message, hl);
        }
        for token in pending {
            let Some(Reg::Request(req)) = st.regs.get(&token) else {
                continue;
            };
            if req.returned != Some(STATUS_PENDING) {
                continue;
            }
            let message = format!("close {how} while {} was still pending", req.slot);
            if let Some(r) = st.objects.get_mut(obj as usize) {
                r.pending.remove(&token);
            }
            st.violate(Rule::CloseCompletionNotLast, obj, message, hl);
        }
        for s in successors {
            // A successor whose close call is still running may have been finished by the
            // provider already: judged when that call returns (see `completed_during_close`).
            if let Some(during) = st
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
            let name = st
                .objects
                .get(s as usize)
                .map_or_else(String::new, |r| r.id.to_string());
            let message = format!("close {how} while successor {name} was still open");
            st.violate(Rule::ClosedBeforeSuccessors, obj, message, hl);
        }
    }

    /// The close of `obj` finished from the consumer's view. Returns the shadow to retire.
    fn finish(st: &mut State, obj: u32) -> usize {
        let seq = st.seq;
        let Some(r) = st.objects.get_mut(obj as usize) else {
            return 0;
        };
        r.finished = true;
        let (kind, shadow, antecedents) = (r.id.kind, r.shadow, r.antecedents.clone());
        for a in antecedents {
            if let Some(ar) = st.objects.get_mut(a as usize) {
                ar.open_successors.remove(&obj);
            }
        }
        if kind == ObjectKind::Qp {
            st.book.qp_closed(obj, seq);
        }
        shadow
    }

    /// The close completion for `token` started. Returns the consumer's callback.
    pub fn close_completion(&self, token: usize) -> Option<CloseCompletion> {
        let mut st = self.lock();
        let hl = self.history_len;
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
        if completions > 1 {
            let message = format!("close completion delivered {completions} times");
            st.violate(Rule::CompletionTwice, obj, message, hl);
            self.enter(&mut st, obj, CallbackKind::CloseCompletion, None);
            return Some(up);
        }
        if let Some(r) = returned
            && r != STATUS_PENDING
        {
            let message = format!("close returned {r} but its close completion was delivered");
            st.violate(Rule::CompletionWithoutPending, obj, message, hl);
            self.enter(&mut st, obj, CallbackKind::CloseCompletion, None);
            return Some(up);
        }
        st.stats.callbacks += 1;
        st.event(
            obj,
            EventKind::CallbackEnter {
                callback: CallbackKind::CloseCompletion,
                status: None,
            },
            String::new(),
            hl,
        );
        Self::context_checks(&mut st, obj, CallbackKind::CloseCompletion, hl);
        self.close_complete_checks(&mut st, obj, "completed");
        if let Some(r) = st.objects.get_mut(obj as usize) {
            r.life = Life::Closed(ClosedBy::Completion);
            r.close_running = true;
        }
        Some(up)
    }

    /// The close completion for `token` returned. Returns the shadow to retire (first one only).
    pub fn close_completion_returned(&self, token: usize) -> Option<usize> {
        let mut st = self.lock();
        let Some(&Reg::Close {
            object,
            completions,
            ..
        }) = st.regs.get(&token)
        else {
            return None;
        };
        let first_running = st
            .objects
            .get(object as usize)
            .is_some_and(|r| r.close_running && completions == 1);
        if !first_running {
            self.exit(&mut st, object, CallbackKind::CloseCompletion);
            return None;
        }
        if let Some(r) = st.objects.get_mut(object as usize) {
            r.close_running = false;
        }
        st.event(
            object,
            EventKind::CallbackExit {
                callback: CallbackKind::CloseCompletion,
            },
            String::new(),
            self.history_len,
        );
        Some(Self::finish(&mut st, object))
    }

    // ---- Notifications and events -----------------------------------------------------------

    /// Registers a CQ notification callback for a CQ being created on `parent`.
    pub fn register_cq_notify(&self, parent: u32, up: CqNotification) -> usize {
        let mut st = self.lock();
        let token = st.next_token(self.id);
        st.regs.insert(
            token,
            Reg::CqNotify {
                parent,
                cq: None,
                up,
            },
        );
        token
    }

    /// Registers an SRQ notification callback for an SRQ being created on `parent`.
    pub fn register_srq_notify(&self, parent: u32, up: SrqNotification) -> usize {
        let mut st = self.lock();
        let token = st.next_token(self.id);
        st.regs.insert(
            token,
            Reg::SrqNotify {
                parent,
                srq: None,
                up,
            },
        );
        token
    }

    /// Registers a connect-event callback for a listener being created on `parent`.
    pub fn register_connect(&self, parent: u32, up: ConnectEvent) -> usize {
        let mut st = self.lock();
        let token = st.next_token(self.id);
        st.regs.insert(
            token,
            Reg::Connect {
                parent,
                listener: None,
                up,
            },
        );
        token
    }

    /// Registers a disconnect-event callback for `connector`.
    pub fn register_disconnect(&self, connector: u32, up: Disconnect) -> usize {
        let mut st = self.lock();
        let token = st.next_token(self.id);
        st.regs.insert(
            token,
            Reg::Disconnect {
                connector,
                up,
                count: 0,
            },
        );
        token
    }

    /// The consumer armed `obj` (CQ arm, or SRQ modify with a non-zero threshold).
    pub fn arm(&self, obj: u32) {
        if let Some(r) = self.lock().objects.get_mut(obj as usize) {
            if r.arms == 0 || r.reaped_since_arm {
                r.arms += 1;
            }
            r.reaped_since_arm = false;
        }
    }

    /// A CQ or SRQ notification for `token` started. Returns the queue's object index.
    fn notify_enter(&self, st: &mut State, obj: u32, callback: CallbackKind, status: NTSTATUS) {
        let hl = self.history_len;
        self.enter(st, obj, callback, Some(status));
        let Some(r) = st.objects.get_mut(obj as usize) else {
            return;
        };
        let (armed, notifying) = (r.arms > 0, r.notifying);
        r.arms = r.arms.saturating_sub(1);
        r.notifying += 1;
        st.stats.checks += 2;
        if !armed {
            let message = format!("{callback:?}({status}) without a preceding arm");
            st.violate(Rule::NotificationWithoutArm, obj, message, hl);
        }
        if notifying > 0 {
            let message = format!("{callback:?} started while {notifying} other(s) were running");
            st.violate(Rule::NotificationOverlap, obj, message, hl);
        }
    }

    /// A CQ notification arrived. Returns the consumer's callback and the CQ's index.
    pub fn cq_notification(&self, token: usize, status: NTSTATUS) -> Option<(CqNotification, u32)> {
        let mut st = self.lock();
        let Some(&Reg::CqNotify { parent, cq, up }) = st.regs.get(&token) else {
            return None;
        };
        let obj = cq.unwrap_or(parent);
        if cq.is_none() {
            self.enter(&mut st, obj, CallbackKind::CqNotification, Some(status));
            let message = format!("CQ notification({status}) before the CQ was handed out");
            st.stats.checks += 1;
            st.violate(Rule::NotificationWithoutArm, obj, message, self.history_len);
        } else {
            self.notify_enter(&mut st, obj, CallbackKind::CqNotification, status);
        }
        Some((up, obj))
    }

    /// An SRQ notification arrived. Returns the consumer's callback and the SRQ's index.
    pub fn srq_notification(
        &self,
        token: usize,
        status: NTSTATUS,
    ) -> Option<(SrqNotification, u32)> {
        let mut st = self.lock();
        let Some(&Reg::SrqNotify { parent, srq, up }) = st.regs.get(&token) else {
            return None;
        };
        let obj = srq.unwrap_or(parent);
        if srq.is_none() {
            self.enter(&mut st, obj, CallbackKind::SrqNotification, Some(status));
            let message = format!("SRQ notification({status}) before the SRQ was handed out");
            st.stats.checks += 1;
            st.violate(Rule::NotificationWithoutArm, obj, message, self.history_len);
        } else {
            self.notify_enter(&mut st, obj, CallbackKind::SrqNotification, status);
        }
        Some((up, obj))
    }

    /// A CQ/SRQ notification on `obj` returned.
    pub fn notification_returned(&self, obj: u32, callback: CallbackKind) {
        let mut st = self.lock();
        if let Some(r) = st.objects.get_mut(obj as usize) {
            r.notifying = r.notifying.saturating_sub(1);
        }
        self.exit(&mut st, obj, callback);
    }

    /// A connect event arrived with the provider's new connector `real`. Returns the consumer's
    /// callback, the listener's index and the connector to adopt.
    pub fn connect_event(
        &self,
        token: usize,
        real: *mut c_void,
    ) -> Option<(ConnectEvent, u32, Option<Adoption>)> {
        let mut st = self.lock();
        let Some(&Reg::Connect {
            parent,
            listener,
            up,
        }) = st.regs.get(&token)
        else {
            return None;
        };
        let obj = listener.unwrap_or(parent);
        self.enter(&mut st, obj, CallbackKind::ConnectEvent, None);
        let adopt = (!real.is_null()).then(|| {
            let mut antecedents = vec_of(parent);
            if listener.is_some() {
                antecedents.push(obj);
            }
            let index = st.new_object(ObjectKind::Connector, antecedents);
            Adoption {
                id: ObjectId {
                    kind: ObjectKind::Connector,
                    index,
                },
                real,
            }
        });
        Some((up, obj, adopt))
    }

    /// A disconnect event arrived. Returns the consumer's callback and the connector's index.
    pub fn disconnect_event(&self, token: usize, reason: Option<u32>) -> Option<(Disconnect, u32)> {
        let mut st = self.lock();
        let hl = self.history_len;
        let Some(Reg::Disconnect {
            connector,
            up,
            count,
        }) = st.regs.get_mut(&token)
        else {
            return None;
        };
        *count += 1;
        let (obj, up, count) = (*connector, *up, *count);
        self.enter(&mut st, obj, CallbackKind::DisconnectEvent, None);
        st.stats.checks += 1;
        if count > 1 {
            let message =
                format!("disconnect event #{count} for one connection (reason {reason:?})");
            st.violate(Rule::DisconnectEventTwice, obj, message, hl);
        }
        Some((up, obj))
    }

    /// An event callback (connect, disconnect) on `obj` returned.
    pub fn event_returned(&self, obj: u32, callback: CallbackKind) {
        let mut st = self.lock();
        self.exit(&mut st, obj, callback);
    }

    // ---- Work requests and CQ results -------------------------------------------------------

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
            st.violate(Rule::CqResultUnknown, obj, message, self.history_len);
        }
    }

    /// A poll of `cq` starts; returns the sequence number that orders it against closes.
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
        let hl = self.history_len;
        st.stats.checks += 1;
        if count > requested {
            let message = format!("returned {count} results for nResults = {requested}");
            st.violate(Rule::CqResultCountExceeded, cq, message, hl);
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
                    super::book::Mismatch::Unknown(m) => (Rule::CqResultUnknown, m),
                    super::book::Mismatch::WrongCq(m) => (Rule::CqResultWrongCq, m),
                    super::book::Mismatch::SilentSuccess(m) => (Rule::CqSilentSuccessReported, m),
                };
                st.violate(rule, cq, message, hl);
            }
        }
        if count < requested {
            st.stats.checks += 1;
            for missing in st.book.cq_ran_empty(cq, poll_seq) {
                st.violate(Rule::CqResultMissing, missing.object, missing.message, hl);
            }
        }
    }

    /// The consumer declares every CQ drained.
    pub fn drained(&self) {
        let mut st = self.lock();
        st.stats.checks += 1;
        for missing in st.book.drained() {
            st.violate(
                Rule::CqResultMissing,
                missing.object,
                missing.message,
                self.history_len,
            );
        }
    }

    // ---- Adapter close ----------------------------------------------------------------------

    /// The consumer starts closing adapter `obj`.
    pub fn adapter_close(&self, obj: u32) {
        let mut st = self.lock();
        st.stats.calls += 1;
        st.event(
            obj,
            EventKind::Call {
                slot: "CloseNDKAdapterHandler",
            },
            String::new(),
            self.history_len,
        );
        if let Some(r) = st.objects.get_mut(obj as usize) {
            r.life = Life::Closing;
        }
    }

    /// The adapter close returned: everything under the adapter must be closed, every request
    /// completed and every callback returned (§5.6). Returns the shadow to retire.
    pub fn adapter_closed(&self, obj: u32) -> usize {
        let mut st = self.lock();
        let hl = self.history_len;
        st.event(
            obj,
            EventKind::Return {
                slot: "CloseNDKAdapterHandler",
                status: None,
            },
            String::new(),
            hl,
        );
        let descendants = Self::descendants(&st, obj);
        st.stats.checks += 1;
        for d in descendants {
            let Some(r) = st.objects.get(d as usize) else {
                continue;
            };
            let is_adapter = d == obj;
            let (id, finished, running, close_running) =
                (r.id, r.finished, r.running, r.close_running);
            let pending: Vec<usize> = r.pending.iter().copied().collect();
            if !finished && !is_adapter {
                // A close call still running may have finished the object already: judged when
                // it returns (see `completed_during_close`).
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
                    st.violate(Rule::AdapterCloseReturnedEarly, obj, message, hl);
                }
            }
            if running > 0 || close_running {
                let message =
                    format!("adapter close returned while a callback of {id} was running");
                st.violate(Rule::AdapterCloseReturnedEarly, obj, message, hl);
            }
            for token in pending {
                if let Some(Reg::Request(req)) = st.regs.get(&token)
                    && req.returned == Some(STATUS_PENDING)
                {
                    let message = format!(
                        "{} on {id} returned STATUS_PENDING and never completed",
                        req.slot
                    );
                    st.violate(Rule::CompletionMissing, d, message, hl);
                }
            }
        }
        if let Some(r) = st.objects.get_mut(obj as usize) {
            r.life = Life::Closed(ClosedBy::Success);
        }
        Self::finish(&mut st, obj)
    }

    /// The adapter and every object created under it (by parentage through antecedents).
    fn descendants(st: &State, adapter: u32) -> Vec<u32> {
        let mut out = std::vec![adapter];
        for r in &st.objects {
            if r.id.index != adapter && out.iter().any(|a| r.antecedents.first() == Some(a)) {
                out.push(r.id.index);
            }
        }
        out
    }
}

fn vec_of(first: u32) -> Vec<u32> {
    std::vec![first]
}
