//! Object records: identity, life cycle (open → closing → closed), the per-object counters the
//! close checks read, and the antecedent links between objects (§5.3 C4, §5.4).
//!
//! Owns creating records, moving the life cycle forward on behalf of `close`, and keeping
//! `antecedents` and `open_successors` consistent with each other. It must never flag a rule:
//! the checks that read these records live with the concern that observes the event.

use std::collections::{BTreeSet, VecDeque};
use std::vec::Vec;

use super::{Adoption, Inner, State};
use crate::verifier::record::{Event, ObjectId, ObjectKind, Rule};

/// How a finished close ended: through its completion, by returning `STATUS_SUCCESS`, or by
/// returning an error code (already reported as `CloseStatusInvalid`; the consumer treats the
/// object as closed, but what the provider did with it is unknown, so nothing that follows
/// from the close is judged).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ClosedBy {
    Completion,
    Success,
    Error,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Life {
    Open,
    Closing,
    Closed(ClosedBy),
}

#[derive(Debug)]
pub(super) struct ObjRecord {
    pub(super) id: ObjectId,
    pub(super) life: Life,
    /// The close finished from the consumer's view (completion returned / SUCCESS returned).
    pub(super) finished: bool,
    /// Objects this one depends on, parent first.
    pub(super) antecedents: Vec<u32>,
    /// Objects depending on this one whose close has not finished.
    pub(super) open_successors: BTreeSet<u32>,
    /// `Some` while the object's close call runs: the antecedents whose close finished during
    /// that call, with how and under which rule. Legal only if the call returns
    /// `STATUS_SUCCESS` (the provider finished this object, then completed the antecedent on the
    /// same stack; the ABI cannot order the two more finely), so judged when it returns.
    pub(super) completed_during_close: Option<Vec<(u32, &'static str, Rule)>>,
    pub(super) history: VecDeque<Event>,
    /// Callbacks concerning the object currently running (close completion excluded).
    pub(super) running: u32,
    pub(super) close_running: bool,
    /// Tokens of requests on this object that may still complete.
    pub(super) pending: BTreeSet<usize>,
    /// Notifications the consumer's arms still allow (§3.4 rule 1). A second arm before the
    /// first was seen satisfied combines with it (rule 4) and adds nothing, unless a poll
    /// returned results since the previous arm: the provider may have cleared that arm on a
    /// completion and not delivered its notification yet, so the new arm earns its own.
    pub(super) arms: u32,
    /// A poll of this CQ returned results since its last arm.
    pub(super) reaped_since_arm: bool,
    pub(super) notifying: u32,
    pub(super) shadow: usize,
}

impl State {
    /// A new open object linked to its antecedents. Returns its index.
    pub(super) fn new_object(&mut self, kind: ObjectKind, antecedents: Vec<u32>) -> u32 {
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

    /// A new object the provider handed out at `real`, for the caller to shadow.
    pub(super) fn new_adoption(
        &mut self,
        kind: ObjectKind,
        antecedents: Vec<u32>,
        real: *mut core::ffi::c_void,
    ) -> Adoption {
        let index = self.new_object(kind, antecedents);
        Adoption {
            id: ObjectId { kind, index },
            real,
        }
    }

    /// `obj`'s life cycle stage (an unknown index counts as closed).
    pub(super) fn life(&self, obj: u32) -> Life {
        self.objects
            .get(obj as usize)
            .map_or(Life::Closed(ClosedBy::Success), |r| r.life)
    }

    pub(super) fn set_life(&mut self, obj: u32, life: Life) {
        if let Some(r) = self.objects.get_mut(obj as usize) {
            r.life = life;
        }
    }

    pub(super) fn unlink(&mut self, successor: u32, antecedent: u32) {
        if let Some(s) = self.objects.get_mut(successor as usize) {
            s.antecedents.retain(|&a| a != antecedent);
        }
        if let Some(a) = self.objects.get_mut(antecedent as usize) {
            a.open_successors.remove(&successor);
        }
    }

    /// Marks `obj`'s close finished and releases it from its antecedents. Returns its kind
    /// and shadow address (0 for an unknown object).
    pub(super) fn release(&mut self, obj: u32) -> Option<(ObjectKind, usize)> {
        let r = self.objects.get_mut(obj as usize)?;
        r.finished = true;
        let (kind, shadow, antecedents) = (r.id.kind, r.shadow, r.antecedents.clone());
        for a in antecedents {
            if let Some(ar) = self.objects.get_mut(a as usize) {
                ar.open_successors.remove(&obj);
            }
        }
        Some((kind, shadow))
    }

    /// The adapter and every object created under it (by parentage through antecedents).
    pub(super) fn descendants(&self, adapter: u32) -> Vec<u32> {
        let mut out = std::vec![adapter];
        for r in &self.objects {
            if r.id.index != adapter && out.iter().any(|a| r.antecedents.first() == Some(a)) {
                out.push(r.id.index);
            }
        }
        out
    }
}

impl Inner {
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

    /// Identities of objects whose close has not finished.
    pub fn open_objects(&self) -> Vec<ObjectId> {
        self.lock()
            .objects
            .iter()
            .filter(|r| !r.finished)
            .map(|r| r.id)
            .collect()
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
        self.lock().unlink(successor, antecedent);
    }
}
