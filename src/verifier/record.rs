//! What the verifier reports: object identities, recorded events, the rules with their spec
//! sections, violations and counters. Plain data; no checking happens here.

use core::fmt;
use std::string::String;
use std::thread::ThreadId;
use std::vec::Vec;

use crate::abi::NTSTATUS;
use crate::platform::Irql;

/// The ten NDK object kinds, as the verifier names them in reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// `NDK_ADAPTER`.
    Adapter,
    /// `NDK_CQ`.
    Cq,
    /// `NDK_PD`.
    Pd,
    /// `NDK_MR`.
    Mr,
    /// `NDK_MW`.
    Mw,
    /// `NDK_SRQ`.
    Srq,
    /// `NDK_QP`.
    Qp,
    /// `NDK_SHARED_ENDPOINT`.
    SharedEndpoint,
    /// `NDK_CONNECTOR`.
    Connector,
    /// `NDK_LISTENER`.
    Listener,
}

impl ObjectKind {
    /// Short upper-case name used in reports (`QP`, `CQ`, ...).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Adapter => "ADAPTER",
            Self::Cq => "CQ",
            Self::Pd => "PD",
            Self::Mr => "MR",
            Self::Mw => "MW",
            Self::Srq => "SRQ",
            Self::Qp => "QP",
            Self::SharedEndpoint => "SHARED_ENDPOINT",
            Self::Connector => "CONNECTOR",
            Self::Listener => "LISTENER",
        }
    }
}

/// One object as the verifier knows it: its kind and a per-verifier serial number, in creation
/// order across all kinds (`QP#7` is the eighth object this verifier saw, a QP).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ObjectId {
    /// The object's kind.
    pub kind: ObjectKind,
    /// Serial number within its verifier.
    pub index: u32,
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.kind.name(), self.index)
    }
}

/// The consumer callback kinds (`spec/ndkpi.md` §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallbackKind {
    /// `NDK_FN_CLOSE_COMPLETION`.
    CloseCompletion,
    /// `NDK_FN_REQUEST_COMPLETION`.
    RequestCompletion,
    /// `NDK_FN_CREATE_COMPLETION`.
    CreateCompletion,
    /// `NDK_FN_CQ_NOTIFICATION_CALLBACK`.
    CqNotification,
    /// `NDK_FN_SRQ_NOTIFICATION_CALLBACK`.
    SrqNotification,
    /// `NDK_FN_CONNECT_EVENT_CALLBACK`.
    ConnectEvent,
    /// `NDK_FN_DISCONNECT_EVENT_CALLBACK` or its `_EX` flavour.
    DisconnectEvent,
}

/// What happened, in one recorded [`Event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The consumer called a provider function (dispatch slot) on the object.
    Call {
        /// Slot name (`NdkSend`).
        slot: &'static str,
    },
    /// The provider function returned (`status` is `None` for `VOID`/count-returning slots).
    Return {
        /// Slot name.
        slot: &'static str,
        /// The returned status, if the slot returns one.
        status: Option<NTSTATUS>,
    },
    /// The provider invoked a consumer callback that concerns the object.
    CallbackEnter {
        /// Which callback.
        callback: CallbackKind,
        /// Its status argument, if it has one.
        status: Option<NTSTATUS>,
    },
    /// The consumer's callback returned to the provider.
    CallbackExit {
        /// Which callback.
        callback: CallbackKind,
    },
    /// The verifier detected a rule violation on the object.
    Violation {
        /// The broken rule.
        rule: Rule,
    },
}

/// One recorded event of an object's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Verifier-wide sequence number (total order of recording).
    pub seq: u64,
    /// The object the event concerns.
    pub object: ObjectId,
    /// The modelled IRQL of the thread that recorded it.
    pub irql: Irql,
    /// The thread that recorded it.
    pub thread: ThreadId,
    /// What happened.
    pub kind: EventKind,
    /// Arguments and results that matter (contexts, flags, counts), formatted.
    pub detail: String,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:<6} {:<10} {:?} ", self.seq, self.object, self.irql)?;
        match self.kind {
            EventKind::Call { slot } => write!(f, "call   {slot}")?,
            EventKind::Return {
                slot,
                status: Some(status),
            } => write!(f, "return {slot} -> {status}")?,
            EventKind::Return { slot, status: None } => write!(f, "return {slot}")?,
            EventKind::CallbackEnter {
                callback,
                status: Some(status),
            } => write!(f, "enter  {callback:?}({status})")?,
            EventKind::CallbackEnter {
                callback,
                status: None,
            } => write!(f, "enter  {callback:?}")?,
            EventKind::CallbackExit { callback } => write!(f, "exit   {callback:?}")?,
            EventKind::Violation { rule } => write!(f, "VIOLATION {rule:?}")?,
        }
        if !self.detail.is_empty() {
            write!(f, " [{}]", self.detail)?;
        }
        write!(f, " ({:?})", self.thread)
    }
}

/// Declares [`Rule`], its documentation, spec sections and summaries from one list.
macro_rules! rules {
    ($( $(#[$doc:meta])* $name:ident => $section:literal, $summary:literal; )*) => {
        /// A rule of the NDKPI contract the verifier checks. Each names its section of
        /// `spec/ndkpi.md`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Rule {
            $( $(#[$doc])* $name, )*
        }

        impl Rule {
            /// Every rule, in declaration order (for documentation and coverage tests).
            pub const ALL: &'static [Self] = &[$(Self::$name),*];

            /// The `spec/ndkpi.md` section(s) the rule comes from.
            #[must_use]
            pub const fn spec_section(self) -> &'static str {
                match self { $(Self::$name => $section,)* }
            }

            /// One-line statement of the rule.
            #[must_use]
            pub const fn summary(self) -> &'static str {
                match self { $(Self::$name => $summary,)* }
            }
        }
    };
}

rules! {
    /// A completion callback (request, create or close) was delivered more than once.
    CompletionTwice => "§3.1, §3.6", "a completion callback is delivered at most once";
    /// A completion callback was delivered for a call that did not return `STATUS_PENDING`.
    CompletionWithoutPending => "§3.1, §5.5",
        "a completion callback is delivered only for a call that returned STATUS_PENDING";
    /// A call returned `STATUS_PENDING` and its completion never came (reported at adapter close).
    CompletionMissing => "§3.1, §5.6",
        "a call that returned STATUS_PENDING is completed exactly once";
    /// `NdkCloseObject` returned something other than `STATUS_SUCCESS` or `STATUS_PENDING`.
    CloseStatusInvalid => "§2.A, §5.3", "a close returns STATUS_SUCCESS or STATUS_PENDING";
    /// A close completed (completion invoked or `STATUS_SUCCESS` returned) while a request on the
    /// object was still pending or one of its callbacks was still running.
    CloseCompletionNotLast => "§5.3 (C1, C2)",
        "a close completes only after every request and callback of the object has returned";
    /// A close completed while a successor object was still open (or its close completion was
    /// still running).
    ClosedBeforeSuccessors => "§5.3 (C4), §5.4",
        "an antecedent's close completes only after all successors are closed";
    /// A callback concerning the object arrived after its close completion was invoked.
    CallbackAfterCloseCompletion => "§3.1, §5.3",
        "the close completion is the last callback of the object";
    /// A callback concerning the object arrived after its close returned `STATUS_SUCCESS`.
    CallbackAfterSuccessClose => "§2.A, §5.3",
        "no callback of any kind follows a STATUS_SUCCESS close";
    /// A callback ran above `DISPATCH_LEVEL` (never observable on the host model, whose highest
    /// level is DISPATCH; kept for a kernel-side verifier).
    CallbackAboveDispatch => "§3, §5.9", "callbacks are invoked at or below DISPATCH_LEVEL";
    /// A callback ran while the calling thread held a provider spin lock.
    CallbackWithProviderLock => "§5.5", "callbacks are invoked with no provider lock held";
    /// The provider wrote a create's out-pointer although the create returned `STATUS_PENDING`.
    PendingCreateOutPointerWritten => "§3.1, §5.2",
        "a pending create never writes its out-pointer";
    /// A create reported success (inline or through its completion) without an object.
    CreateWithoutObject => "§3.1, §5.2", "a successful create hands over the new object";
    /// `NdkGetCqResults(Ex)` returned a result no outstanding work request matches (never posted,
    /// already reported, or its post failed).
    CqResultUnknown => "§6.2", "each CQ result matches one outstanding posted work request";
    /// A result came back on a CQ other than the one its work request completes into.
    CqResultWrongCq => "§6.2",
        "initiator requests complete on the initiator CQ, receives on the receive CQ";
    /// `NdkGetCqResults(Ex)` returned more results than the caller asked for.
    CqResultCountExceeded => "§2.2", "NdkGetCqResults returns at most nResults results";
    /// A request posted with `NDK_OP_FLAG_SILENT_SUCCESS` was reported with `STATUS_SUCCESS`.
    CqSilentSuccessReported => "§6.2, §6.5",
        "a successful silent-success request produces no CQ result";
    /// A successfully posted request never came back: its QP's close completed and its CQ ran
    /// empty, or the consumer declared the CQs drained.
    CqResultMissing => "§6.2, §5.3, §5.8",
        "every successfully posted request (not silently successful) produces one CQ result";
    /// A CQ or SRQ notification arrived without an arm.
    NotificationWithoutArm => "§3.4 rule 1, §3.5", "at most one notification per arm";
    /// A CQ or SRQ notification started while another one of the same queue was running.
    NotificationOverlap => "§3.4 rule 3", "notifications of one queue never overlap";
    /// A second disconnect event was delivered for one connection.
    DisconnectEventTwice => "§3.3, §3.6", "at most one disconnect event per connection";
    /// The adapter close returned while objects were open, requests pending or callbacks running.
    AdapterCloseReturnedEarly => "§5.6",
        "the adapter close returns only after every descendant is closed and every callback returned";
    /// The consumer closed an object whose close had already started (or finished). A consumer
    /// bug: the second close is not forwarded, since the first may free the provider's object at
    /// any moment, and returns `STATUS_INVALID_HANDLE`.
    CloseTwice => "§5.3 (consumer guarantees)", "the consumer closes each object once";
    /// The consumer passed a create a NULL out-pointer (a consumer bug: the call is not forwarded
    /// and returns `STATUS_INVALID_PARAMETER`).
    CreateOutPointerNull => "§5.2 (consumer)", "the consumer passes every create an out-pointer";
    /// The consumer used an object it had already closed, or a pointer the verifier never handed
    /// out, or the wrong slot for an object (a consumer bug, reported so scenarios stay honest).
    /// A second close is [`Rule::CloseTwice`] instead.
    UnknownObject => "§5.3 (consumer guarantees)",
        "the consumer calls only objects that are open and were handed to it";
}

/// One broken rule, with the object it concerns and that object's recent history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The broken rule.
    pub rule: Rule,
    /// The object concerned.
    pub object: ObjectId,
    /// What exactly happened.
    pub message: String,
    /// The object's recorded events up to the violation (oldest first, bounded).
    pub history: Vec<Event>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:?} ({}) on {}: {}",
            self.rule,
            self.rule.spec_section(),
            self.object,
            self.message
        )?;
        writeln!(f, "  rule: {}", self.rule.summary())?;
        writeln!(f, "  history of {} (oldest first):", self.object)?;
        for event in &self.history {
            writeln!(f, "    {event}")?;
        }
        Ok(())
    }
}

/// The verifier's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Provider functions called through the verifier.
    pub calls: u64,
    /// Consumer callbacks delivered through the verifier.
    pub callbacks: u64,
    /// Rule evaluations performed.
    pub checks: u64,
    /// Objects the verifier shadowed (adapters included).
    pub objects: u64,
    /// Work requests successfully posted.
    pub posted: u64,
    /// CQ results seen by `NdkGetCqResults(Ex)`.
    pub cq_results: u64,
    /// Violations recorded (including already taken ones).
    pub violations: u64,
}
