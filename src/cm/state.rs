//! The connection state machine of both sides, as plain values and one small function per
//! event (`STYLE.md`: "data path as explicit state machines").
//!
//! Each function takes the acting side's [`Phase`] and its peer's and returns a [`Step`]: the
//! next phases, which pending requests complete with which status, whether the peer gets a
//! disconnect event, which QPs stop and flush, whether the QPs are joined. The object layer
//! (`connection.rs`) applies a step under the connection lock and performs its effects after
//! releasing it. Nothing here touches objects, locks or the consumer.
//!
//! ```text
//! active:  Connecting ──peer accepts──▶ Replied ──CompleteConnect──▶ Connected
//!              │ refused/reject/timeout      │ Reject / peer gone
//!              ▼                              ▼
//!           Aborted                       Rejected / Aborted
//! passive: Requested ──Accept──▶ Accepting ──peer CompleteConnect──▶ Connected
//!              │ Reject / close        │ timeout / peer rejects or closes
//!              ▼                        ▼
//!           Rejected                 Aborted
//! both:    Connected ──Disconnect──▶ Disconnecting ──peer's disconnect / close / timeout──▶ Disconnected
//!          Connected ──peer disconnects or closes──▶ PeerDisconnected ──Disconnect──▶ Disconnected
//!          any ──close──▶ Closed
//! ```
#![deny(unsafe_code)]

use crate::abi::{
    NTSTATUS, STATUS_CANCELLED, STATUS_CONNECTION_ABORTED, STATUS_CONNECTION_INVALID,
    STATUS_CONNECTION_REFUSED, STATUS_IO_TIMEOUT, STATUS_SUCCESS,
};

/// Where one side of a connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Active: `NdkConnect` sent the request; waiting for accept or reject (has a deadline).
    Connecting,
    /// Active: the peer accepted, `NdkConnect` completed; connection data is valid; waiting for
    /// `NdkCompleteConnect` or `NdkReject`.
    Replied,
    /// Passive: the request arrived (connector handed up); waiting for `NdkAccept`/`NdkReject`.
    Requested,
    /// Passive: accepted; waiting for the peer's `NdkCompleteConnect` (has a deadline).
    Accepting,
    /// Established; the QPs are joined.
    Connected,
    /// Local `NdkDisconnect` sent; waiting for the peer's (has a deadline).
    Disconnecting,
    /// The peer disconnected (gracefully or by closing); the local side has not.
    PeerDisconnected,
    /// Both sides are done (or the wait timed out); final.
    Disconnected,
    /// One side rejected the attempt; final.
    Rejected,
    /// The attempt failed (peer gave up, timeout); final.
    Aborted,
    /// This side's connector is closed; final.
    Closed,
}

impl Phase {
    /// Whether this phase waits for the peer under a deadline.
    #[must_use]
    pub const fn has_deadline(self) -> bool {
        matches!(
            self,
            Self::Connecting | Self::Accepting | Self::Disconnecting
        )
    }
}

/// Which pending request of a side a step completes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// `NdkConnect`/`NdkConnectWithSharedEndpoint` (active) or `NdkAccept(Ex)` (passive).
    Establish,
    /// `NdkDisconnect`.
    Disconnect,
}

/// Disconnect-event reason passed to `_EX` callbacks: the peer disconnected gracefully.
pub const REASON_GRACEFUL: u32 = 0;
/// Disconnect-event reason passed to `_EX` callbacks: the peer closed its connector without
/// disconnecting first (abortive).
pub const REASON_ABORTED: u32 = 1;

/// The outcome of one event on one side.
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent effects of one step, read by name"
)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// The acting side's next phase.
    pub me: Phase,
    /// The peer's next phase.
    pub peer: Phase,
    /// A pending request of the acting side to complete.
    pub complete_me: Option<(Request, NTSTATUS)>,
    /// A pending request of the peer to complete.
    pub complete_peer: Option<(Request, NTSTATUS)>,
    /// Complete every pending request of the acting side with `STATUS_CANCELLED` (close).
    pub cancel_me: bool,
    /// Deliver the peer a disconnect event with this reason.
    pub event_peer: Option<u32>,
    /// Stop and flush the acting side's QP (before its completion is delivered).
    pub flush_me: bool,
    /// Stop and flush the peer's QP.
    pub flush_peer: bool,
    /// Join the two QPs (establishment).
    pub join: bool,
}

impl Step {
    const fn to(me: Phase, peer: Phase) -> Self {
        Self {
            me,
            peer,
            complete_me: None,
            complete_peer: None,
            cancel_me: false,
            event_peer: None,
            flush_me: false,
            flush_peer: false,
            join: false,
        }
    }
}

/// A refused call: the status to return to the consumer, and the acting side's phase after
/// it (an attempt whose peer has given up is over).
pub type Refusal = (NTSTATUS, Phase);

/// `NdkAccept(Ex)` on the passive side.
///
/// # Errors
///
/// `STATUS_CONNECTION_ABORTED` if the connecting peer gave up (the attempt is over),
/// `STATUS_CONNECTION_INVALID` if this side is not a request waiting for an answer.
pub const fn accept(me: Phase, peer: Phase) -> Result<Step, Refusal> {
    match (me, peer) {
        (Phase::Requested, Phase::Connecting) => {
            let mut s = Step::to(Phase::Accepting, Phase::Replied);
            s.complete_peer = Some((Request::Establish, STATUS_SUCCESS));
            Ok(s)
        }
        (Phase::Requested | Phase::Aborted, _) => Err((STATUS_CONNECTION_ABORTED, Phase::Aborted)),
        _ => Err((STATUS_CONNECTION_INVALID, me)),
    }
}

/// `NdkReject` on either side: the passive side before accepting, or the active side after its
/// connect completed.
///
/// # Errors
///
/// `STATUS_CONNECTION_ABORTED` if the peer already gave up, `STATUS_CONNECTION_INVALID` in any
/// other phase.
pub const fn reject(me: Phase, peer: Phase) -> Result<Step, Refusal> {
    match (me, peer) {
        (Phase::Requested, Phase::Connecting) => {
            let mut s = Step::to(Phase::Rejected, Phase::Aborted);
            s.complete_peer = Some((Request::Establish, STATUS_CONNECTION_REFUSED));
            Ok(s)
        }
        (Phase::Replied, Phase::Accepting) => {
            let mut s = Step::to(Phase::Rejected, Phase::Aborted);
            s.complete_peer = Some((Request::Establish, STATUS_CONNECTION_ABORTED));
            Ok(s)
        }
        (Phase::Requested | Phase::Replied | Phase::Aborted, _) => {
            Err((STATUS_CONNECTION_ABORTED, Phase::Aborted))
        }
        _ => Err((STATUS_CONNECTION_INVALID, me)),
    }
}

/// `NdkCompleteConnect(Ex)` on the active side (completes synchronously).
///
/// # Errors
///
/// `STATUS_CONNECTION_ABORTED` if the accepting peer gave up, `STATUS_CONNECTION_INVALID` if
/// the connect has not completed successfully.
pub const fn complete_connect(me: Phase, peer: Phase) -> Result<Step, Refusal> {
    match (me, peer) {
        (Phase::Replied, Phase::Accepting) => {
            let mut s = Step::to(Phase::Connected, Phase::Connected);
            s.complete_peer = Some((Request::Establish, STATUS_SUCCESS));
            s.join = true;
            Ok(s)
        }
        (Phase::Replied | Phase::Aborted, _) => Err((STATUS_CONNECTION_ABORTED, Phase::Aborted)),
        _ => Err((STATUS_CONNECTION_INVALID, me)),
    }
}

/// `NdkDisconnect` (graceful). Completes (success) once the peer's disconnect arrived or the
/// peer is gone; the acting side's QP stops and flushes first.
///
/// # Errors
///
/// `STATUS_CONNECTION_INVALID` unless connected (or the peer already disconnected).
pub const fn disconnect(me: Phase, peer: Phase) -> Result<Step, Refusal> {
    match (me, peer) {
        (Phase::Connected, Phase::Connected) => {
            let mut s = Step::to(Phase::Disconnecting, Phase::PeerDisconnected);
            s.event_peer = Some(REASON_GRACEFUL);
            Ok(s)
        }
        (Phase::PeerDisconnected, Phase::Disconnecting) => {
            let mut s = Step::to(Phase::Disconnected, Phase::Disconnected);
            s.complete_me = Some((Request::Disconnect, STATUS_SUCCESS));
            s.complete_peer = Some((Request::Disconnect, STATUS_SUCCESS));
            s.flush_me = true;
            s.flush_peer = true;
            Ok(s)
        }
        (Phase::PeerDisconnected, _) => {
            let mut s = Step::to(Phase::Disconnected, peer);
            s.complete_me = Some((Request::Disconnect, STATUS_SUCCESS));
            s.flush_me = true;
            Ok(s)
        }
        _ => Err((STATUS_CONNECTION_INVALID, me)),
    }
}

/// `NdkCloseObject` on a connector: an abortive end of the connection.
///
/// Pending requests of the closing side complete `STATUS_CANCELLED`; its QP stops and
/// flushes; the peer sees a reject (request never accepted), an abort of its pending request,
/// a disconnect event (connected), or the completion of its own disconnect (it was waiting
/// for ours).
#[must_use]
pub const fn close(me: Phase, peer: Phase) -> Step {
    let mut s = Step::to(Phase::Closed, peer);
    s.cancel_me = true;
    s.flush_me = true;
    match (me, peer) {
        (Phase::Requested, Phase::Connecting) => {
            s.peer = Phase::Aborted;
            s.complete_peer = Some((Request::Establish, STATUS_CONNECTION_REFUSED));
        }
        (_, Phase::Accepting) => {
            s.peer = Phase::Aborted;
            s.complete_peer = Some((Request::Establish, STATUS_CONNECTION_ABORTED));
        }
        (_, Phase::Connecting | Phase::Requested | Phase::Replied) => s.peer = Phase::Aborted,
        (_, Phase::Connected) => {
            s.peer = Phase::PeerDisconnected;
            s.event_peer = Some(REASON_ABORTED);
        }
        (_, Phase::Disconnecting) => {
            s.peer = Phase::Disconnected;
            s.complete_peer = Some((Request::Disconnect, STATUS_SUCCESS));
            s.flush_peer = true;
        }
        _ => {}
    }
    s
}

/// The acting side's deadline passed. `None` if its phase has no deadline (stale check).
#[must_use]
pub const fn timeout(me: Phase, peer: Phase) -> Option<Step> {
    match me {
        Phase::Connecting | Phase::Accepting => {
            let mut s = Step::to(Phase::Aborted, peer);
            s.complete_me = Some((Request::Establish, STATUS_IO_TIMEOUT));
            if matches!(peer, Phase::Requested | Phase::Replied) {
                s.peer = Phase::Aborted;
            }
            Some(s)
        }
        Phase::Disconnecting => {
            let mut s = Step::to(Phase::Disconnected, peer);
            s.complete_me = Some((Request::Disconnect, STATUS_IO_TIMEOUT));
            s.flush_me = true;
            Some(s)
        }
        _ => None,
    }
}

/// The status a close gives the closing side's pending requests.
pub const CANCELLED: NTSTATUS = STATUS_CANCELLED;

#[cfg(test)]
mod tests {
    use super::Phase::*;
    use super::*;

    #[test]
    fn establishment_happy_path() {
        let s = accept(Requested, Connecting).unwrap();
        assert_eq!((s.me, s.peer), (Accepting, Replied));
        assert_eq!(s.complete_peer, Some((Request::Establish, STATUS_SUCCESS)));
        let s = complete_connect(Replied, Accepting).unwrap();
        assert_eq!((s.me, s.peer, s.join), (Connected, Connected, true));
        assert_eq!(s.complete_peer, Some((Request::Establish, STATUS_SUCCESS)));
    }

    #[test]
    fn rejects_and_aborts_report_the_documented_statuses() {
        let s = reject(Requested, Connecting).unwrap();
        assert_eq!(
            s.complete_peer,
            Some((Request::Establish, STATUS_CONNECTION_REFUSED))
        );
        let s = reject(Replied, Accepting).unwrap();
        assert_eq!(
            s.complete_peer,
            Some((Request::Establish, STATUS_CONNECTION_ABORTED))
        );
        assert_eq!(
            reject(Requested, Aborted),
            Err((STATUS_CONNECTION_ABORTED, Aborted))
        );
        assert_eq!(
            accept(Requested, Closed),
            Err((STATUS_CONNECTION_ABORTED, Aborted))
        );
        assert_eq!(
            complete_connect(Replied, Closed),
            Err((STATUS_CONNECTION_ABORTED, Aborted))
        );
        assert_eq!(
            accept(Accepting, Replied),
            Err((STATUS_CONNECTION_INVALID, Accepting))
        );
        assert_eq!(
            complete_connect(Connecting, Requested),
            Err((STATUS_CONNECTION_INVALID, Connecting))
        );
        assert_eq!(
            reject(Connected, Connected),
            Err((STATUS_CONNECTION_INVALID, Connected))
        );
    }

    #[test]
    fn graceful_disconnect_needs_both_sides() {
        let s = disconnect(Connected, Connected).unwrap();
        assert_eq!((s.me, s.peer), (Disconnecting, PeerDisconnected));
        assert_eq!((s.complete_me, s.event_peer), (None, Some(REASON_GRACEFUL)));
        let s = disconnect(PeerDisconnected, Disconnecting).unwrap();
        assert_eq!((s.me, s.peer), (Disconnected, Disconnected));
        assert!(s.flush_me && s.flush_peer && s.event_peer.is_none());
        assert_eq!(s.complete_peer, Some((Request::Disconnect, STATUS_SUCCESS)));
        let s = disconnect(PeerDisconnected, Closed).unwrap();
        assert_eq!(s.complete_me, Some((Request::Disconnect, STATUS_SUCCESS)));
        assert_eq!(
            disconnect(Disconnecting, PeerDisconnected),
            Err((STATUS_CONNECTION_INVALID, Disconnecting))
        );
        assert_eq!(
            disconnect(Replied, Accepting),
            Err((STATUS_CONNECTION_INVALID, Replied))
        );
    }

    #[test]
    fn close_tells_the_peer_what_it_needs_to_know() {
        let cases = [
            (
                Requested,
                Connecting,
                Aborted,
                Some(STATUS_CONNECTION_REFUSED),
                None,
            ),
            (
                Replied,
                Accepting,
                Aborted,
                Some(STATUS_CONNECTION_ABORTED),
                None,
            ),
            (Connecting, Requested, Aborted, None, None),
            (Accepting, Replied, Aborted, None, None),
            (
                Connected,
                Connected,
                PeerDisconnected,
                None,
                Some(REASON_ABORTED),
            ),
            (
                PeerDisconnected,
                Disconnecting,
                Disconnected,
                Some(STATUS_SUCCESS),
                None,
            ),
            (
                Disconnecting,
                PeerDisconnected,
                PeerDisconnected,
                None,
                None,
            ),
        ];
        for (me, peer, next, status, event) in cases {
            let s = close(me, peer);
            assert_eq!(s.me, Closed);
            assert!(s.cancel_me && s.flush_me);
            assert_eq!(s.peer, next, "{me:?}/{peer:?}");
            assert_eq!(s.complete_peer.map(|c| c.1), status, "{me:?}/{peer:?}");
            assert_eq!(s.event_peer, event, "{me:?}/{peer:?}");
        }
    }

    #[test]
    fn timeouts_end_only_waiting_phases() {
        let s = timeout(Connecting, Requested).unwrap();
        assert_eq!((s.me, s.peer), (Aborted, Aborted));
        assert_eq!(s.complete_me, Some((Request::Establish, STATUS_IO_TIMEOUT)));
        let s = timeout(Accepting, Replied).unwrap();
        assert_eq!((s.me, s.peer), (Aborted, Aborted));
        let s = timeout(Disconnecting, PeerDisconnected).unwrap();
        assert_eq!(
            (s.me, s.peer, s.flush_me),
            (Disconnected, PeerDisconnected, true)
        );
        assert_eq!(
            s.complete_me,
            Some((Request::Disconnect, STATUS_IO_TIMEOUT))
        );
        for p in [Replied, Requested, Connected, PeerDisconnected, Closed] {
            assert!(timeout(p, Connected).is_none());
            assert!(!p.has_deadline());
        }
    }
}
