//! When a CQ or SRQ notification is due: the arming rules as pure state machines, kept behind
//! the object's lock and driven by `cq.rs` / `srq.rs`.
//!
//! Owns the decisions of `spec/ndkpi.md` §3.4 (CQ: one-shot arms of three strengths that
//! combine, completions since the last notification, overrun reported once to any arm) and
//! §3.5 (SRQ: low-water threshold, one notification per arm). Each transition returns the
//! status to notify, if one is due; handing it to the consumer is [`super::notify`]'s job. They
//! are public (and lock-free, allocation-free plain data) so that the loom models in
//! `tests/loom_notify.rs` drive exactly the code the provider runs.
//!
//! Must never: call anything, lock, allocate, or decide about delivery (queueing, overlap).
#![deny(unsafe_code)]

use crate::abi::{
    NDK_CQ_NOTIFY_ANY, NDK_CQ_NOTIFY_ERRORS, NDK_CQ_NOTIFY_SOLICITED, NTSTATUS,
    STATUS_BUFFER_OVERFLOW, STATUS_SUCCESS,
};

/// An `NDK_CQ_NOTIFY_*` arm type, ordered by strength (ANY > SOLICITED > ERRORS).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ArmType {
    /// `NDK_CQ_NOTIFY_ERRORS`: only CQ errors (overrun).
    Errors,
    /// `NDK_CQ_NOTIFY_SOLICITED`: a solicited receive or any error completion.
    Solicited,
    /// `NDK_CQ_NOTIFY_ANY`: the next completion.
    Any,
}

impl ArmType {
    /// The arm type of an `NdkArmCq` `Type` value; `None` for values outside the three defined.
    #[must_use]
    pub const fn from_raw(raw: u32) -> Option<Self> {
        match raw {
            NDK_CQ_NOTIFY_ERRORS => Some(Self::Errors),
            NDK_CQ_NOTIFY_ANY => Some(Self::Any),
            NDK_CQ_NOTIFY_SOLICITED => Some(Self::Solicited),
            _ => None,
        }
    }

    /// Whether a completion (`solicited`: it satisfies a SOLICITED arm, see
    /// `Completion::satisfies_solicited_arm`) satisfies this arm.
    const fn satisfied_by(self, solicited: bool) -> bool {
        match self {
            Self::Any => true,
            Self::Solicited => solicited,
            Self::Errors => false,
        }
    }
}

/// What [`CqArming::push`] decided about a completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// The CQ overran earlier: refused, nothing changes.
    Refused,
    /// The ring was full: the CQ overruns now (and for good); a notification may be due.
    Overran(Option<NTSTATUS>),
    /// The completion enters the ring; a notification may be due.
    Entered(Option<NTSTATUS>),
}

/// The arming state of one CQ. (The flags are independent facts the rules combine, not states
/// of one machine.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)]
pub struct CqArming {
    arm: Option<ArmType>,
    /// A completion arrived since the last notification was handed to the consumer.
    arrived: bool,
    /// ... and one of them satisfies a SOLICITED arm.
    arrived_solicited: bool,
    overrun: bool,
    overrun_reported: bool,
}

impl CqArming {
    /// Unarmed, nothing arrived, not overrun.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            arm: None,
            arrived: false,
            arrived_solicited: false,
            overrun: false,
            overrun_reported: false,
        }
    }

    /// A completion is offered to the CQ; `full`: its ring has no free slot; `solicited`: it
    /// satisfies a SOLICITED arm. A satisfied arm is consumed (one-shot); an overrun reports
    /// `STATUS_BUFFER_OVERFLOW` to an arm of any type.
    pub const fn push(&mut self, full: bool, solicited: bool) -> Pushed {
        if self.overrun {
            return Pushed::Refused;
        }
        if full {
            self.overrun = true;
            if self.arm.take().is_some() {
                self.overrun_reported = true;
                return Pushed::Overran(Some(STATUS_BUFFER_OVERFLOW));
            }
            return Pushed::Overran(None);
        }
        self.arrived = true;
        self.arrived_solicited |= solicited;
        match self.arm {
            Some(arm) if arm.satisfied_by(solicited) => {
                self.arm = None;
                Pushed::Entered(Some(STATUS_SUCCESS))
            }
            _ => Pushed::Entered(None),
        }
    }

    /// `NdkArmCq` with `waiting` completions in the ring. Arms combine to the stronger type; an
    /// arm that completions arrived since the last notification satisfy is due at once (and
    /// consumed); an overrun not yet reported is reported to any arm, once.
    pub fn arm(&mut self, arm: ArmType, waiting: bool) -> Option<NTSTATUS> {
        if self.overrun {
            if self.overrun_reported {
                return None;
            }
            self.overrun_reported = true;
            return Some(STATUS_BUFFER_OVERFLOW);
        }
        let arm = self.arm.map_or(arm, |old| old.max(arm));
        let due = waiting
            && match arm {
                ArmType::Any => self.arrived,
                ArmType::Solicited => self.arrived_solicited,
                ArmType::Errors => false,
            };
        if due {
            self.arm = None;
            Some(STATUS_SUCCESS)
        } else {
            self.arm = Some(arm);
            None
        }
    }

    /// A due notification is being handed to the consumer: what arrived so far is covered by it.
    pub const fn handing_over(&mut self) {
        self.arrived = false;
        self.arrived_solicited = false;
    }

    /// Close: no arm survives it.
    pub const fn disarm(&mut self) {
        self.arm = None;
    }

    /// Whether an arm is waiting to be satisfied.
    #[must_use]
    pub const fn is_armed(&self) -> bool {
        self.arm.is_some()
    }

    /// Whether the CQ has overrun (unusable for good).
    #[must_use]
    pub const fn is_overrun(&self) -> bool {
        self.overrun
    }
}

/// The low-water arming of one SRQ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SrqThreshold {
    threshold: u32,
    armed: bool,
}

impl SrqThreshold {
    /// A threshold given at create: > 0 arms, without the immediate check (the queue starts
    /// empty, so "already below" would always fire before the first receive is posted).
    #[must_use]
    pub const fn new(threshold: u32) -> Self {
        Self {
            threshold,
            armed: threshold > 0,
        }
    }

    /// Receives were consumed, `queued` are left: due (and disarmed) if armed and below.
    pub const fn consumed(&mut self, queued: u32) -> Option<NTSTATUS> {
        if self.armed && queued < self.threshold {
            self.armed = false;
            Some(STATUS_SUCCESS)
        } else {
            None
        }
    }

    /// `NdkModifySrq`'s threshold with `queued` receives posted: 0 leaves threshold and arming
    /// untouched; > 0 sets it, arms, and is due at once if the queue is already below.
    pub const fn modify(&mut self, threshold: u32, queued: u32) -> Option<NTSTATUS> {
        if threshold == 0 {
            return None;
        }
        self.threshold = threshold;
        self.armed = true;
        self.consumed(queued)
    }

    /// Close: no arm survives it.
    pub const fn disarm(&mut self) {
        self.armed = false;
    }

    /// Whether a low-water notification is armed.
    #[must_use]
    pub const fn is_armed(&self) -> bool {
        self.armed
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_cq_arm_is_one_shot_and_arms_combine_to_the_stronger() {
        let mut a = CqArming::new();
        assert_eq!(a.push(false, false), Pushed::Entered(None), "no arm");
        assert_eq!(a.arm(ArmType::Errors, true), None);
        assert_eq!(a.arm(ArmType::Any, true), Some(STATUS_SUCCESS), "arrived");
        assert!(!a.is_armed());
        a.handing_over();
        assert_eq!(a.arm(ArmType::Solicited, true), None, "nothing new");
        assert_eq!(a.push(false, false), Pushed::Entered(None));
        assert_eq!(a.push(false, true), Pushed::Entered(Some(STATUS_SUCCESS)));
        assert_eq!(a.push(false, true), Pushed::Entered(None), "one-shot");
    }

    #[test]
    fn a_cq_overrun_is_reported_once_to_any_arm() {
        let mut a = CqArming::new();
        assert_eq!(a.push(true, false), Pushed::Overran(None));
        assert!(a.is_overrun());
        assert_eq!(a.push(false, false), Pushed::Refused);
        assert_eq!(a.arm(ArmType::Errors, false), Some(STATUS_BUFFER_OVERFLOW));
        assert_eq!(a.arm(ArmType::Any, true), None, "reported once");
        let mut b = CqArming::new();
        b.arm(ArmType::Errors, false);
        assert_eq!(
            b.push(true, false),
            Pushed::Overran(Some(STATUS_BUFFER_OVERFLOW))
        );
        assert_eq!(b.arm(ArmType::Any, false), None);
    }

    #[test]
    fn an_srq_threshold_fires_once_per_arm() {
        let mut t = SrqThreshold::new(2);
        assert!(t.is_armed());
        assert_eq!(t.consumed(2), None, "not below");
        assert_eq!(t.consumed(1), Some(STATUS_SUCCESS));
        assert_eq!(t.consumed(0), None, "disarmed");
        assert_eq!(t.modify(0, 0), None, "0 leaves arming untouched");
        assert!(!t.is_armed());
        assert_eq!(t.modify(1, 0), Some(STATUS_SUCCESS), "already below");
        assert_eq!(t.modify(1, 5), None);
        t.disarm();
        assert_eq!(t.consumed(0), None);
    }
}
