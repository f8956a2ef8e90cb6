//! The verifier's state and rule checker, behind one mutex.
//!
//! [`Inner`] is what every shadow, every callback token and the public `Verifier` handle share.
//! Its state is split by concern; each submodule adds the `Inner` methods of its concern and the
//! `State` helpers they need:
//!
//! * `history`: the per-object event rings and the violation log (recording and reading back);
//! * `objects`: object records, their life cycle (open → closing → closed) and the antecedent
//!   links between them;
//! * `requests`: asynchronous requests and creates (pairing with `STATUS_PENDING`, completion
//!   multiplicity, out-pointer sentinel, birth of created objects);
//! * `callbacks`: the checks every callback entry runs, callback running counts, notification
//!   arming and connect/disconnect events;
//! * `close`: object closes and the adapter close (§5.3, §5.6);
//! * `work`: work requests and CQ results, delegated to [`Book`].
//!
//! Every public method takes the mutex for one short, non-blocking section and releases it
//! before returning: callers (`forward`, `trampoline`) never hold it while calling into the
//! provider or the consumer, so re-entrant calls (a close from inside a callback) cannot
//! deadlock, and callbacks may arrive on any thread. Nothing here calls the provider or the
//! consumer, and nothing panics on bad provider behaviour: it records a [`Violation`].
#![deny(unsafe_code)]
// Each method holds the state lock for its whole (short, non-blocking) section on purpose:
// checks and records of one event must be atomic with respect to other threads' events.
#![allow(clippy::significant_drop_tightening)]

mod callbacks;
mod close;
mod history;
mod objects;
mod requests;
mod work;

use core::ffi::c_void;
use std::collections::HashMap;
use std::string::String;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::vec::Vec;

use super::book::{Book, QpInfo};
use super::record::{EventKind, ObjectId, ObjectKind, Rule, Stats, Violation};
use super::registry;
use crate::abi::NTSTATUS;
use crate::abi::upcall::{
    CloseCompletion, ConnectEvent, CqNotification, Disconnect, SrqNotification,
};
pub use close::CloseStart;
use objects::ObjRecord;
use requests::Request;
pub use requests::accepted;

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

/// A new object the caller must shadow (outside the lock) with [`registry::adopt`].
#[derive(Clone, Copy, Debug)]
pub struct Adoption {
    /// The identity the shadow gets.
    pub id: ObjectId,
    /// The provider's object.
    pub real: *mut c_void,
}

/// What a callback token stands for.
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

#[derive(Debug)]
struct State {
    /// Registry id of the owning verifier (high bits of its callback tokens).
    verifier: u32,
    /// Events kept per object (at least 1).
    history_len: usize,
    seq: u64,
    serial: u64,
    objects: Vec<ObjRecord>,
    regs: HashMap<usize, Reg>,
    book: Book,
    violations: Vec<Violation>,
    taken: usize,
    stats: Stats,
}

impl State {
    /// Registers a callback token for `reg`.
    fn register(&mut self, reg: Reg) -> usize {
        self.serial += 1;
        let token = registry::token(self.verifier, self.serial);
        self.regs.insert(token, reg);
        token
    }

    /// Records a consumer call on `obj` (an event and the call counter).
    fn consumer_call(&mut self, obj: u32, slot: &'static str, detail: String) {
        self.stats.calls += 1;
        self.event(obj, EventKind::Call { slot }, detail);
    }

    /// Flags a consumer call on `obj` after its close started. Returns whether it was open.
    fn check_open(&mut self, obj: u32, message: impl FnOnce() -> String) -> bool {
        self.stats.checks += 1;
        if self.life(obj) == objects::Life::Open {
            return true;
        }
        self.violate(Rule::UnknownObject, obj, message());
        false
    }
}

/// A verifier's shared state (behind the public `Verifier` handle, every shadow and every
/// callback token).
#[derive(Debug)]
pub struct Inner {
    /// Registry id (high bits of this verifier's callback tokens).
    pub id: u32,
    state: Mutex<State>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        registry::unregister_verifier(self.id);
    }
}

impl Inner {
    /// A new verifier state keeping `history_len` events per object, registered for token
    /// lookups.
    pub fn new(history_len: usize) -> Arc<Self> {
        Arc::new_cyclic(|weak| {
            let id = registry::register_verifier(weak.clone());
            Self {
                id,
                state: Mutex::new(State {
                    verifier: id,
                    history_len: history_len.max(1),
                    seq: 0,
                    serial: 0,
                    objects: Vec::new(),
                    regs: HashMap::new(),
                    book: Book::default(),
                    violations: Vec::new(),
                    taken: 0,
                    stats: Stats::default(),
                }),
            }
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A consumer call on object `obj`; `detail` describes the arguments.
    pub fn call(&self, obj: u32, slot: &'static str, detail: String) {
        let mut st = self.lock();
        st.consumer_call(obj, slot, detail);
        st.check_open(obj, || {
            std::format!("{slot} called on an object whose close has started")
        });
    }

    /// The provider function called on `obj` returned.
    pub fn returned(&self, obj: u32, slot: &'static str, status: Option<NTSTATUS>, detail: String) {
        self.lock()
            .event(obj, EventKind::Return { slot, status }, detail);
    }

    /// A consumer call on `obj` (already recorded) that breaks `rule`; the caller does not
    /// forward it.
    pub fn refuse(&self, obj: u32, rule: Rule, message: String) {
        let mut st = self.lock();
        st.stats.checks += 1;
        st.violate(rule, obj, message);
    }

    /// A consumer call through a stale or mismatched shadow (reported, not forwarded).
    pub fn misuse(&self, id: ObjectId, slot: &'static str, message: &str) {
        let mut st = self.lock();
        st.stats.checks += 1;
        st.consumer_call(id.index, slot, String::new());
        st.violate(
            Rule::UnknownObject,
            id.index,
            std::format!("{slot}: {message}"),
        );
    }
}
