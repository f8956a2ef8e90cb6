//! The record a report quotes: the bounded per-object event ring, the violation log and the
//! counters, and reading them back.
//!
//! Owns the event sequence numbers (one total order across all objects) and the ring length.
//! It must never decide whether something is a violation: the other concerns call
//! `State::violate` once they have.

use std::string::String;
use std::vec::Vec;

use super::{Inner, State};
use crate::verifier::record::{Event, EventKind, Rule, Stats, Violation};

impl State {
    /// Appends an event to `obj`'s ring (dropping the oldest beyond the ring length).
    pub(super) fn event(&mut self, obj: u32, kind: EventKind, detail: String) {
        self.seq += 1;
        let Some(record) = self.objects.get_mut(obj as usize) else {
            return;
        };
        if record.history.len() >= self.history_len {
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

    /// Records a violation of `rule` on `obj`, quoting `obj`'s history up to it.
    pub(super) fn violate(&mut self, rule: Rule, obj: u32, message: String) {
        self.event(obj, EventKind::Violation { rule }, String::new());
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
}

impl Inner {
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
}
