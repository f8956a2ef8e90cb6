//! The connection manager: connectors, listeners and shared endpoints (`spec/ndkpi.md` §2.8–2.10,
//! §3.2–3.3, §5.7, §5.8, §6.10), over the loopback [`fabric`](crate::fabric).
//!
//! Owns the connection state machines of both sides ([`state`]), read-limit and private-data
//! negotiation ([`negotiate`]), and the three CM objects with their lifetime rules: every
//! request completion and event is delivered through platform deferred work with a lifetime
//! unit held, never from inside the consumer's call and never with a provider lock held; a
//! connector's close cancels what it has pending and aborts the connection; a listener's close
//! stops new connections at once and pends while the connectors it handed up live. See
//! `docs/connections.md`.
//!
//! It must never dereference consumer memory or hold a raw consumer function pointer: the
//! dispatch layer hands in parsed values ([`Address`](crate::fabric::Address), byte slices) and
//! `abi::upcall` values, and the [`Family`] hooks decide what a completion, an event and the
//! embedded NDK struct are ([`ndk`] binds them to SoftNDK's objects). It must never call into a
//! QP or the consumer while holding a CM lock.
#![deny(unsafe_code)]

pub mod negotiate;
pub mod publication;
pub mod state;

#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
pub(crate) mod connection;
#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
mod connector;
#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
mod endpoint;
#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
mod listener;
#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
pub mod ndk;

#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
pub use connector::{ConnectionData, Connector, Late};
#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
pub use endpoint::{EndpointLate, SharedEndpoint};
#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
pub use listener::{Listener, ListenerLate};
pub use negotiate::{CmLimits, MAX_PRIVATE_DATA, PrivateData, ReadLimits};
pub use state::{Phase, REASON_ABORTED, REASON_GRACEFUL};

use crate::abi::NTSTATUS;
use crate::abi::upcall::{Disconnect, RequestCompletion};
use crate::fabric::AdapterId;
use crate::lifetime::{Farewell, Tracked};
use crate::platform::LockLevel;
use crate::sync::Arc;

/// Lock levels of the connection manager, in acquisition order (see `docs/platform.md`).
///
/// CM locks are never held while calling a QP, the consumer, or another layer, so they only
/// order among themselves: connector → listener → endpoint → connection → fabric tables →
/// fabric connection list.
pub mod lock_level {
    use super::LockLevel;
    /// A connector's own state (attachment, late links).
    pub const CONNECTOR: LockLevel = LockLevel::new(40);
    /// A listener's state (backlog, pause).
    pub const LISTENER: LockLevel = LockLevel::new(41);
    /// A shared endpoint's state.
    pub const ENDPOINT: LockLevel = LockLevel::new(42);
    /// One connection: both sides' state machines.
    pub const CONNECTION: LockLevel = LockLevel::new(44);
    /// The fabric's address/endpoint tables (innermost but one).
    pub const FABRIC: LockLevel = LockLevel::new(48);
    /// The fabric's list of connections (for timeouts).
    pub const FABRIC_CONNECTIONS: LockLevel = LockLevel::new(49);
    /// The once-set slot holding an object's deferred-work item (innermost: queueing only).
    pub const DELIVERY: LockLevel = LockLevel::new(50);
}

/// A request completion (`NDK_FN_REQUEST_COMPLETION` + context), called at most once.
pub trait Complete: Send + 'static {
    /// Completes the request. Called at or below `DISPATCH_LEVEL`, with no provider lock held.
    fn complete(self, status: NTSTATUS);
}

impl Complete for RequestCompletion {
    fn complete(self, status: NTSTATUS) {
        self.call(status);
    }
}

/// A disconnect-event callback (plain or `_EX`), registered by `NdkCompleteConnect(Ex)` or
/// `NdkAccept(Ex)`.
pub trait Notify: Clone + Send + Sync + 'static {
    /// Delivers the event; `reason` ([`REASON_GRACEFUL`], [`REASON_ABORTED`]) reaches only the
    /// `_EX` flavour.
    fn notify(&self, reason: u32);
}

impl Notify for Disconnect {
    fn notify(&self, reason: u32) {
        self.call(reason);
    }
}

/// What the dispatch layer embeds in a CM object (the `NDK_xxx` struct at offset 0, the stored
/// close completion) and how it ends.
pub trait Shell: Send + Sync + 'static {
    /// The close completion (and whatever must be released after it).
    type Farewell: Farewell;
    /// Builds the farewell from the stored close completion. Called once, by the finaliser.
    /// Must tolerate that no completion was stored: the provider closes connectors it never
    /// handed up (a listener closed with requests still queued).
    fn farewell(&self) -> Self::Farewell;
}

/// The listener's shell: it also makes the connectors the listener hands up and hands them up.
pub trait ListenerShell<F: Family>: Shell {
    /// The shell of a connector created for an incoming request.
    fn incoming_shell(&self) -> F::ConnectorShell;
    /// The connect event (`NDK_FN_CONNECT_EVENT_CALLBACK`): ownership of `connector` passes to
    /// the consumer, who must eventually close it ([`Connector::close`]). Called from deferred
    /// work, with a unit held on the listener and no provider lock held, never while connect
    /// events are paused or once the listener's close started; one at a time per listener.
    #[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
    fn connect_event(&self, connector: crate::lifetime::Base<Connector<F>>);
}

/// The adapter as the connection manager sees it.
pub trait CmAdapter: Tracked {
    /// The adapter's id on the fabric ([`crate::fabric::Fabric::attach_adapter`]).
    fn fabric_id(&self) -> AdapterId;
    /// Read-limit and private-data limits from its `NDK_ADAPTER_INFO`.
    fn cm_limits(&self) -> CmLimits;
    /// Counts a connection outcome of one of its connectors (`OID_NDK_STATISTICS`). Called
    /// with no CM lock held; must not block. The default counts nothing.
    fn count(&self, outcome: CmOutcome) {
        let _ = outcome;
    }
}

/// A connection outcome, as one side's adapter counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmOutcome {
    /// The active side reached `Connected` (its `NdkCompleteConnect` succeeded).
    Connected,
    /// The passive side reached `Connected` (its `NdkAccept` is answered with success).
    Accepted,
    /// An attempt of the active side ended without a connection (rejected, timed out,
    /// aborted).
    ConnectFailed,
    /// An established side ended (disconnected or closed); `error` when the connection
    /// failed for it (the peer aborted it by closing, or a step timed out) rather than being
    /// disconnected in order.
    Ended {
        /// Aborted rather than ended in order.
        error: bool,
    },
}

impl CmOutcome {
    /// This outcome, with an ended connection counted as an error when `failed`.
    #[must_use]
    pub const fn failed_if(self, failed: bool) -> Self {
        match self {
            Self::Ended { error } => Self::Ended {
                error: error || failed,
            },
            other => other,
        }
    }

    /// The outcome of side `side` (0 active, 1 passive) moving from `old` to `new`, if it is
    /// one that is counted.
    #[must_use]
    pub const fn of(side: usize, old: state::Phase, new: state::Phase) -> Option<Self> {
        use state::Phase::{
            Aborted, Connected, Connecting, Disconnecting, PeerDisconnected, Rejected, Replied,
        };
        let was_up = matches!(old, Connected | Disconnecting | PeerDisconnected);
        let is_up = matches!(new, Connected | Disconnecting | PeerDisconnected);
        match (was_up, is_up) {
            (false, true) if side == 0 => Some(Self::Connected),
            (false, true) => Some(Self::Accepted),
            (true, false) => Some(Self::Ended {
                error: matches!(new, Aborted),
            }),
            (false, false)
                if side == 0
                    && matches!(old, Connecting | Replied)
                    && matches!(new, Rejected | Aborted) =>
            {
                Some(Self::ConnectFailed)
            }
            _ => None,
        }
    }
}

/// What the QP layer provides to the connection manager.
///
/// The connector holds a unit on the QP from `NdkConnect`/`NdkAccept` until its own close
/// completion has returned. These hooks are called with no CM lock held, only while the
/// connector holds a unit (so the QP is open or at least not finalised).
pub trait QpLink: Tracked {
    /// Joins this QP with `peer` (establishment, on `NdkCompleteConnect`): this QP gets the
    /// effective limits `own`, the peer `peer_limits` (`verbs::connect_pair`).
    ///
    /// # Errors
    ///
    /// The status to report (e.g. the QP is already connected or in error); the attempt is
    /// then aborted on both sides.
    fn connect(
        this: &Arc<Self>,
        peer: &Arc<Self>,
        own: ReadLimits,
        peer_limits: ReadLimits,
    ) -> Result<(), NTSTATUS>;

    /// Stops all data movement of this QP and flushes it (`NdkDisconnect`'s implicit flush,
    /// a connector's close). When it returns, no data movement of the QP is in progress and
    /// every outstanding request has completed (`STATUS_CANCELLED`) into its CQ. Idempotent.
    fn stop_and_flush(&self);
}

/// The concrete types one build of the provider uses for the CM objects' hooks.
///
/// The dispatch layer defines one family (request completions are `RequestCompletion`
/// upcalls, shells are the `NDK_xxx` structs); tests define their own with counters.
pub trait Family: Sized + Send + Sync + 'static {
    /// The adapter type (antecedent of every CM object).
    type Adapter: CmAdapter;
    /// The QP type (antecedent of a connector once associated).
    type Qp: QpLink;
    /// Request completions.
    type Completion: Complete;
    /// Disconnect events.
    type DisconnectEvent: Notify;
    /// Embedded in each connector.
    type ConnectorShell: Shell;
    /// Embedded in each listener.
    type ListenerShell: ListenerShell<Self>;
    /// Embedded in each shared endpoint.
    type EndpointShell: Shell;
}

/// A CM object's farewell: the shell's close completion, then the late antecedent links.
pub struct CmFarewell<W, L> {
    inner: W,
    late: L,
}

impl<W: Farewell, L: Send> Farewell for CmFarewell<W, L> {
    fn complete(self) {
        let Self { inner, late } = self;
        inner.complete();
        // The links drop only now, after the completion returned (NDK rule C4).
        drop(late);
    }
}

impl<W, L> CmFarewell<W, L> {
    #[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
    const fn new(inner: W, late: L) -> Self {
        Self { inner, late }
    }
}

#[cfg(test)]
mod tests {
    use super::CmOutcome;
    use super::state::Phase::{
        Aborted, Accepting, Closed, Connected, Connecting, Disconnected, Disconnecting,
        PeerDisconnected, Rejected, Replied, Requested,
    };

    #[test]
    fn outcomes_follow_the_side_and_the_established_phases() {
        assert_eq!(
            CmOutcome::of(0, Replied, Connected),
            Some(CmOutcome::Connected)
        );
        assert_eq!(
            CmOutcome::of(1, Accepting, Connected),
            Some(CmOutcome::Accepted)
        );
        for (old, new) in [
            (Connecting, Rejected),
            (Connecting, Aborted),
            (Replied, Aborted),
        ] {
            assert_eq!(CmOutcome::of(0, old, new), Some(CmOutcome::ConnectFailed));
            assert_eq!(CmOutcome::of(1, old, new), None, "only attempts count");
        }
        assert_eq!(
            CmOutcome::of(0, Connecting, Closed),
            None,
            "own close cancels"
        );
        assert_eq!(CmOutcome::of(1, Requested, Rejected), None);
        for old in [Connected, Disconnecting, PeerDisconnected] {
            assert_eq!(
                CmOutcome::of(0, old, Disconnected),
                Some(CmOutcome::Ended { error: false })
            );
            assert_eq!(
                CmOutcome::of(1, old, Closed),
                Some(CmOutcome::Ended { error: false })
            );
        }
        assert_eq!(CmOutcome::of(0, Connected, Disconnecting), None, "still up");
        assert_eq!(
            CmOutcome::of(0, Connected, Closed).map(|o| o.failed_if(true)),
            Some(CmOutcome::Ended { error: true })
        );
        assert_eq!(
            CmOutcome::Connected.failed_if(true),
            CmOutcome::Connected,
            "only ends carry the error"
        );
    }
}
