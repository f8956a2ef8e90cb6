//! The model half of the random connection-manager sequences (`tests/random_cm.rs`): the
//! records the world keeps per connection, connector, listener and request, and the
//! connection-manager rules (`docs/connections.md`, `src/cm/state.rs`) the sequences are
//! checked against. The rules are restated here from the documentation, not imported from
//! the provider, so a provider change that breaks them is caught.
#![allow(dead_code)]

pub mod data;

use std::sync::Arc;

use softndk::abi::{
    NTSTATUS, STATUS_CANCELLED, STATUS_CONNECTION_ABORTED, STATUS_CONNECTION_REFUSED,
    STATUS_SUCCESS,
};
use softndk::consumer::{Closed, ConnectEvents, Connector, DisconnectEvents, Listener, Request};
use softndk::fabric::Address;

/// One side's phase, as `docs/connections.md` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ph {
    /// Active, `NdkConnect` pending.
    Connecting,
    /// Active, accepted (connect answered SUCCESS), `NdkCompleteConnect` not called yet.
    Replied,
    /// Passive, request not answered.
    Requested,
    /// Passive, accepted, waiting for the peer's `NdkCompleteConnect`.
    Accepting,
    /// Established.
    Connected,
    /// Own `NdkDisconnect` waiting for the peer's.
    Disconnecting,
    /// The peer disconnected or closed; this side has not disconnected.
    PeerDisconnected,
    /// Done.
    Disconnected,
    /// Rejected.
    Rejected,
    /// The attempt failed (the peer gave up).
    Aborted,
    /// This side's connector is closed.
    Closed,
}

impl Ph {
    /// Whether the connection is being set up (a QP of it must not be flushed or closed by a
    /// disciplined consumer: the join would fail).
    #[must_use]
    pub const fn establishing(self) -> bool {
        matches!(
            self,
            Self::Connecting | Self::Replied | Self::Requested | Self::Accepting
        )
    }
}

/// One asynchronous request the provider pended, and the status the model decided for it.
pub struct Rq {
    /// The consumer's recorder.
    pub r: Arc<Request>,
    /// The completion status, once the rules decide it (first decision wins).
    pub want: Option<NTSTATUS>,
    /// For messages.
    pub what: &'static str,
}

/// One connection attempt: side 0 active, side 1 passive.
pub struct Conn {
    /// Phases.
    pub ph: [Ph; 2],
    /// Connector record per side (passive: once handed up and taken).
    pub cx: [Option<usize>; 2],
    /// QP model index per side (passive: once it accepted).
    pub qp: [Option<usize>; 2],
    /// Connect (0) / accept (1) request.
    pub est: [Option<usize>; 2],
    /// Disconnect requests.
    pub disc: [Option<usize>; 2],
    /// The listener it was routed to.
    pub listener: usize,
    /// The active connector's local address (ephemeral port), to match the hand-up.
    pub active_addr: Address,
    /// The active side called `NdkCompleteConnect` or `NdkReject` (after its connect).
    pub answered_connect: bool,
    /// The passive side called `NdkAccept` or `NdkReject`.
    pub answered_request: bool,
    /// A disconnect, close or flush started: no more posts on either QP.
    pub frozen: bool,
}

/// A connector the test owns.
pub struct Cx {
    /// The connector until closed.
    pub c: Option<Connector>,
    /// Its adapter.
    pub adapter: usize,
    /// (connection, side) once it connected (active) or was handed up (passive).
    pub conn: Option<(usize, usize)>,
    /// Its disconnect events (registered by `NdkCompleteConnectEx`/`NdkAcceptEx`).
    pub events: Arc<DisconnectEvents>,
    /// Least and most disconnect events it may have received.
    pub ev: (usize, usize),
}

/// A listener the test created.
pub struct Ls {
    /// The listener until closed.
    pub l: Option<Listener>,
    /// Its connect events.
    pub events: Arc<ConnectEvents>,
    /// Index of its address in [`ADDRS`].
    pub addr: usize,
    /// Connections routed to it and not handed up yet.
    pub pending: Vec<usize>,
}

/// The fabric's IPs: adapter 0, adapter 1, and one on no adapter.
pub const IPS: [[u8; 4]; 3] = [[10, 0, 9, 1], [10, 0, 9, 2], [10, 0, 9, 3]];

/// Listen/connect addresses: ports 1000–1002 on each adapter, then one unreachable.
#[must_use]
pub fn addr(i: usize) -> Address {
    match i {
        0..=5 => Address::v4(IPS[i / 3], 1000 + u16::try_from(i % 3).unwrap_or(0)),
        _ => Address::v4(IPS[2], 1000),
    }
}

/// Number of listenable addresses (the unreachable one is `ADDRS`).
pub const ADDRS: usize = 6;

/// The CM part of the model.
#[derive(Default)]
pub struct CmModel {
    /// Every connection attempt that pended.
    pub conns: Vec<Conn>,
    /// Every connector.
    pub cxs: Vec<Cx>,
    /// Every listener.
    pub lss: Vec<Ls>,
    /// Every pended request.
    pub rqs: Vec<Rq>,
    /// Per address: a reservation may have ended since the last settle (a close of its
    /// listener or of one of the listener's connectors), so `NdkListen` may go either way.
    pub dirty: [bool; ADDRS],
    /// Close outcomes of connectors and listeners (each must be accepted and complete).
    pub closes: Vec<Closed>,
}

/// What `NdkListen` must answer at an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Port {
    /// Reserved: `STATUS_SHARING_VIOLATION`.
    Held,
    /// Free: `STATUS_SUCCESS`.
    Free,
    /// A reservation may just have ended: either.
    Unknown,
}

impl CmModel {
    /// Decides request `rq`'s completion status if nothing decided it yet.
    pub fn decide(&mut self, rq: Option<usize>, status: NTSTATUS) {
        if let Some(i) = rq
            && self.rqs[i].want.is_none()
        {
            self.rqs[i].want = Some(status);
        }
    }

    /// A pended request; its index.
    pub fn request(&mut self, r: &Arc<Request>, what: &'static str) -> usize {
        self.rqs.push(Rq {
            r: Arc::clone(r),
            want: None,
            what,
        });
        self.rqs.len() - 1
    }

    /// The open listener listening at `addr`.
    #[must_use]
    pub fn listening(&self, addr: usize) -> Option<usize> {
        self.lss
            .iter()
            .position(|l| l.addr == addr && l.l.is_some())
    }

    /// The reservation state of `addr` (§5.7: a listener's port is held while it or a
    /// connector it handed up is open).
    #[must_use]
    pub fn port(&self, addr: usize) -> Port {
        let held_by_connector = self.conns.iter().any(|c| {
            self.lss[c.listener].addr == addr && c.cx[1].is_some_and(|x| self.cxs[x].c.is_some())
        });
        if self.listening(addr).is_some() || held_by_connector {
            Port::Held
        } else if self.dirty[addr] {
            Port::Unknown
        } else {
            Port::Free
        }
    }

    /// At most this many events after a side stopped listening for them (its own disconnect
    /// or close drops an event not delivered yet).
    pub fn may_drop_event(&mut self, cx: usize) {
        let seen = self.cxs[cx].events.count();
        self.cxs[cx].ev.0 = self.cxs[cx].ev.0.min(seen);
    }

    fn event_to(&mut self, conn: usize, side: usize) {
        if let Some(x) = self.conns[conn].cx[side] {
            self.cxs[x].ev.0 += 1;
            self.cxs[x].ev.1 += 1;
        }
    }

    /// `NdkCloseConnector` on `side` of `conn` (`src/cm/state.rs` `close`); returns the QPs to
    /// flush (the closing side's, and the peer's when its disconnect was waiting for us).
    pub fn close_side(&mut self, conn: usize, side: usize) -> Vec<usize> {
        let peer = 1 - side;
        let c = &self.conns[conn];
        let (me, other) = (c.ph[side], c.ph[peer]);
        let (est, disc) = (c.est[side], c.disc[side]);
        self.decide(est, STATUS_CANCELLED);
        self.decide(disc, STATUS_CANCELLED);
        let mut flush: Vec<usize> = self.conns[conn].qp[side].into_iter().collect();
        let (peer_est, peer_disc) = (self.conns[conn].est[peer], self.conns[conn].disc[peer]);
        let next = match (me, other) {
            (Ph::Requested, Ph::Connecting) => {
                self.decide(peer_est, STATUS_CONNECTION_REFUSED);
                Ph::Aborted
            }
            (_, Ph::Accepting) => {
                self.decide(peer_est, STATUS_CONNECTION_ABORTED);
                Ph::Aborted
            }
            (_, Ph::Connecting | Ph::Requested | Ph::Replied) => Ph::Aborted,
            (_, Ph::Connected) => {
                self.event_to(conn, peer);
                Ph::PeerDisconnected
            }
            (_, Ph::Disconnecting) => {
                self.decide(peer_disc, STATUS_SUCCESS);
                flush.extend(self.conns[conn].qp[peer]);
                Ph::Disconnected
            }
            (_, other) => other,
        };
        let c = &mut self.conns[conn];
        c.ph = if side == 0 {
            [Ph::Closed, next]
        } else {
            [next, Ph::Closed]
        };
        c.frozen = true;
        if side == 1 {
            let addr = self.lss[c.listener].addr;
            self.dirty[addr] = true;
        }
        flush
    }
}
