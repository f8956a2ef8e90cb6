//! The connector object (`NDK_CONNECTOR`): both the active side (`NdkCreateConnector`,
//! `NdkConnect(WithSharedEndpoint)`, `NdkCompleteConnect(Ex)`) and the passive side (created by
//! a listener for an incoming request, `NdkAccept(Ex)`), plus what both share: `NdkReject`,
//! `NdkGetConnectionData`, addresses, `NdkDisconnect`, close.
//!
//! Owns the connector's lifetime: its antecedent links (adapter; listener for a handed-up
//! connector; QP once associated; shared endpoint), its endpoint reference, its deferred
//! delivery work. Every asynchronous outcome is delivered by that work, never inside the
//! consumer's call; calls that finish at once return their status and never call back.
#![deny(unsafe_code)]

use alloc::sync::Weak;

use super::connection::{ACTIVE, Connection, Effects, PASSIVE, Pending, Side};
use super::endpoint::SharedEndpoint;
use super::listener::Listener;
use super::negotiate::{CmLimits, PrivateData, ReadLimits};
use super::state::Phase;
use super::{CmAdapter, CmFarewell, Family, QpLink, Shell, lock_level};
use crate::abi::{
    NTSTATUS, STATUS_CONNECTION_ACTIVE, STATUS_CONNECTION_INVALID, STATUS_INSUFFICIENT_RESOURCES,
    STATUS_INVALID_PARAMETER,
};
use crate::fabric::{AdapterId, Address, EndpointKind, Fabric, Reservation, TupleGuard};
use crate::lifetime::{AlreadyClosing, Base, Closed, Closing, Links, Node, Tracked, Unit};
use crate::platform::prelude::*;
use crate::platform::{AllocError, DeferredWork, Dpc, SpinLock};
use crate::sync::Arc;

/// Antecedent links and references a connector acquires after creation; released (in its
/// farewell) only after its close completion has returned.
pub struct Late<F: Family> {
    adapter: Option<Unit<F::Adapter>>,
    listener: Option<Unit<Listener<F>>>,
    endpoint: Option<Unit<SharedEndpoint<F>>>,
    qp: Option<Unit<F::Qp>>,
    reservation: Option<Reservation<F>>,
    tuple: Option<TupleGuard<F>>,
    conn: Option<Arc<Connection<F>>>,
}

impl<F: Family> Late<F> {
    const fn empty() -> Self {
        Self {
            adapter: None,
            listener: None,
            endpoint: None,
            qp: None,
            reservation: None,
            tuple: None,
            conn: None,
        }
    }
}

struct Local<F: Family> {
    /// The connection and which side of it this connector is.
    attach: Option<(Arc<Connection<F>>, usize)>,
    late: Late<F>,
}

/// Effective read limits and the peer's private data (`NdkGetConnectionData`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionData {
    /// Effective (or, before accepting, the best obtainable) IRD and ORD.
    pub limits: ReadLimits,
    /// `STATUS_SUCCESS`, or `STATUS_BUFFER_TOO_SMALL` when the buffer held less than `length`.
    pub status: NTSTATUS,
    /// The required private-data size (bytes the peer sent).
    pub length: u32,
}

/// Where `NdkConnect`'s local endpoint comes from.
enum Source<F: Family> {
    Own(Address),
    Shared(Unit<SharedEndpoint<F>>),
}

/// A connector.
pub struct Connector<F: Family> {
    node: Node,
    shell: F::ConnectorShell,
    fabric: Fabric<F>,
    adapter: AdapterId,
    limits: CmLimits,
    dpc: Result<Dpc, AllocError>,
    local: SpinLock<Local<F>>,
}

/// The connector's deferred work: deliver everything ready for it.
struct Delivery<F: Family>(Weak<Connector<F>>);

impl<F: Family> DeferredWork for Delivery<F> {
    fn run(&self) {
        if let Some(connector) = self.0.upgrade()
            && let Some((conn, side)) = connector.attachment()
        {
            conn.deliver(side);
        }
    }
}

impl<F: Family> Tracked for Connector<F> {
    type Farewell = CmFarewell<<F::ConnectorShell as Shell>::Farewell, Late<F>>;

    fn node(&self) -> &Node {
        &self.node
    }

    fn finalize(&self) -> Self::Farewell {
        let (attach, mut late) = {
            let mut local = self.local.lock();
            (
                local.attach.take(),
                core::mem::replace(&mut local.late, Late::empty()),
            )
        };
        if let Some((conn, side)) = attach {
            late.qp = conn.detach(side);
            late.conn = Some(conn);
        }
        CmFarewell::new(self.shell.farewell(), late)
    }
}

impl<F: Family> Connector<F> {
    /// `NdkCreateConnector`: a connector on `adapter` (its unit becomes the adapter link).
    ///
    /// # Errors
    ///
    /// `STATUS_INSUFFICIENT_RESOURCES` if its deferred work cannot be allocated.
    pub fn new(
        fabric: &Fabric<F>,
        adapter: Unit<F::Adapter>,
        shell: F::ConnectorShell,
    ) -> Result<Base<Self>, NTSTATUS> {
        let mut late = Late::empty();
        let (id, limits) = (adapter.fabric_id(), adapter.cm_limits());
        late.adapter = Some(adapter);
        Self::build(fabric, id, limits, shell, late).map(Base::from_arc)
    }

    /// A passive connector for an incoming request on a listener (not yet published).
    pub(crate) fn incoming(
        fabric: &Fabric<F>,
        adapter: Unit<F::Adapter>,
        listener: Unit<Listener<F>>,
        reservation: Reservation<F>,
        shell: F::ConnectorShell,
        conn: &Arc<Connection<F>>,
    ) -> Result<Base<Self>, NTSTATUS> {
        let mut late = Late::empty();
        let (id, limits) = (adapter.fabric_id(), adapter.cm_limits());
        late.adapter = Some(adapter);
        late.listener = Some(listener);
        late.reservation = Some(reservation);
        let this = Self::build(fabric, id, limits, shell, late)?;
        this.local.lock().attach = Some((Arc::clone(conn), PASSIVE));
        conn.publish(PASSIVE, &this);
        Ok(Base::from_arc(this))
    }

    fn build(
        fabric: &Fabric<F>,
        adapter: AdapterId,
        limits: CmLimits,
        shell: F::ConnectorShell,
        late: Late<F>,
    ) -> Result<Arc<Self>, NTSTATUS> {
        let platform = fabric.platform().clone();
        let this = Arc::new_cyclic(|weak| Self {
            node: Node::new(Links::new()),
            shell,
            fabric: fabric.clone(),
            adapter,
            limits,
            dpc: platform.new_dpc(Delivery(weak.clone())),
            local: SpinLock::new(lock_level::CONNECTOR, Local { attach: None, late }),
        });
        if this.dpc.is_err() {
            // Never handed out: dropping it releases the links it was given.
            return Err(STATUS_INSUFFICIENT_RESOURCES);
        }
        Ok(this)
    }

    /// The embedded shell.
    #[must_use]
    pub const fn shell(&self) -> &F::ConnectorShell {
        &self.shell
    }

    /// The adapter limits this connector negotiates with.
    #[must_use]
    pub const fn limits(&self) -> CmLimits {
        self.limits
    }

    fn attachment(&self) -> Option<(Arc<Connection<F>>, usize)> {
        self.local
            .lock()
            .attach
            .as_ref()
            .map(|(c, s)| (Arc::clone(c), *s))
    }

    /// Queues the delivery work (coalesces like `KeInsertQueueDpc`).
    pub(crate) fn queue_delivery(&self) {
        if let Ok(dpc) = &self.dpc {
            dpc.queue();
        }
    }

    /// This side's phase (`None` before connect). For diagnostics and tests.
    #[must_use]
    pub fn phase(&self) -> Option<Phase> {
        let (conn, side) = self.attachment()?;
        Some(conn.with(|pair| pair.sides[side].phase))
    }

    /// `NdkConnect`: sends a connection request from `src` (port 0: ephemeral; wildcard IP:
    /// the adapter's first address of that family) to `dst`, associating `qp`. `Ok` means
    /// `STATUS_PENDING`: `completion` is called later (deferred) with `STATUS_SUCCESS` when the
    /// peer accepted, `STATUS_CONNECTION_REFUSED` when it rejected or closed the request,
    /// `STATUS_IO_TIMEOUT`, or `STATUS_CANCELLED` when this connector is closed first.
    ///
    /// # Errors
    ///
    /// Returned inline, `completion` never called: `STATUS_INVALID_BUFFER_SIZE` (private data
    /// above `MaxCallerData`), `STATUS_INVALID_PARAMETER` (families differ),
    /// `STATUS_CONNECTION_ACTIVE` (already used), `STATUS_INVALID_ADDRESS`,
    /// `STATUS_SHARING_VIOLATION`, `STATUS_TOO_MANY_ADDRESSES`, `STATUS_HOST_UNREACHABLE`,
    /// `STATUS_CONNECTION_REFUSED` (nobody listening, listener paused, closing or its backlog
    /// full), `STATUS_INSUFFICIENT_RESOURCES`.
    pub fn connect(
        this: &Arc<Self>,
        qp: Unit<F::Qp>,
        (src, dst): (Address, Address),
        limits: ReadLimits,
        private_data: &[u8],
        completion: F::Completion,
    ) -> Result<(), NTSTATUS> {
        Self::start(
            this,
            qp,
            Source::Own(src),
            dst,
            limits,
            private_data,
            completion,
        )
    }

    /// `NdkConnectWithSharedEndpoint`: as [`Connector::connect`] from `endpoint`'s address
    /// (its unit becomes this connector's link to it).
    ///
    /// # Errors
    ///
    /// As [`Connector::connect`], plus `STATUS_ADDRESS_ALREADY_EXISTS` when a live connection
    /// from this endpoint to `dst` exists.
    pub fn connect_with_shared_endpoint(
        this: &Arc<Self>,
        qp: Unit<F::Qp>,
        endpoint: Unit<SharedEndpoint<F>>,
        dst: Address,
        limits: ReadLimits,
        private_data: &[u8],
        completion: F::Completion,
    ) -> Result<(), NTSTATUS> {
        Self::start(
            this,
            qp,
            Source::Shared(endpoint),
            dst,
            limits,
            private_data,
            completion,
        )
    }

    fn start(
        this: &Arc<Self>,
        qp: Unit<F::Qp>,
        source: Source<F>,
        dst: Address,
        limits: ReadLimits,
        private_data: &[u8],
        completion: F::Completion,
    ) -> Result<(), NTSTATUS> {
        let sent = PrivateData::new(private_data, this.limits.max_caller_data)?;
        let src_ip = match &source {
            Source::Own(src) => src.ip,
            Source::Shared(ep) => ep.local_address().ip,
        };
        if !src_ip.same_family(&dst.ip) {
            return Err(STATUS_INVALID_PARAMETER);
        }
        if this.local.lock().attach.is_some() {
            return Err(STATUS_CONNECTION_ACTIVE);
        }
        let unit = Unit::try_new(this).ok_or(STATUS_CONNECTION_INVALID)?;
        let (reservation, endpoint) = match source {
            Source::Own(src) => (
                this.fabric
                    .reserve(this.adapter, src, EndpointKind::Connector)?,
                None,
            ),
            Source::Shared(ep) => (ep.share_reservation()?, Some(ep)),
        };
        let local = reservation.address();
        let tuple = this.fabric.add_tuple(local, dst)?;
        let pending = Pending { completion, unit };
        let active = Side::connecting(
            this,
            qp,
            (limits, this.limits.max_read),
            sent,
            (local, dst),
            pending,
        );
        let conn = Connection::new(
            &this.fabric,
            active,
            Side::new(Phase::Requested, dst, local),
        );
        this.fabric.register(&conn)?;
        // Attach before routing: the peer may answer before `route` returns.
        {
            let mut l = this.local.lock();
            if l.attach.is_some() {
                return Err(STATUS_CONNECTION_ACTIVE);
            }
            l.attach = Some((Arc::clone(&conn), ACTIVE));
            l.late.reservation = Some(reservation);
            l.late.tuple = Some(tuple);
            l.late.endpoint = endpoint;
        }
        let routed = this
            .fabric
            .route(&dst)
            .and_then(|listener| Listener::incoming(listener, &conn, local, dst));
        if let Err(status) = routed {
            let undo = {
                let mut l = this.local.lock();
                (
                    l.attach.take(),
                    l.late.reservation.take(),
                    l.late.tuple.take(),
                    l.late.endpoint.take(),
                )
            };
            let abandoned = conn.abandon();
            drop((undo, abandoned));
            return Err(status);
        }
        Ok(())
    }

    /// `NdkAccept(Ex)`: accepts the request this (handed-up) connector represents, associating
    /// `qp`, sending `private_data` (≤ `MaxCalleeData`) and registering `event` (the
    /// disconnect callback, plain or `_EX`). `Ok` means `STATUS_PENDING`: `completion` is
    /// called (deferred) with `STATUS_SUCCESS` when the peer's `NdkCompleteConnect` arrived,
    /// `STATUS_CONNECTION_ABORTED` if the peer rejected or closed, `STATUS_IO_TIMEOUT`, or
    /// `STATUS_CANCELLED` if this connector is closed first.
    ///
    /// # Errors
    ///
    /// Inline: `STATUS_INVALID_BUFFER_SIZE`, `STATUS_CONNECTION_ABORTED` (the connecting peer
    /// gave up), `STATUS_CONNECTION_INVALID` (not a request waiting for an answer).
    pub fn accept(
        this: &Arc<Self>,
        qp: Unit<F::Qp>,
        limits: ReadLimits,
        private_data: &[u8],
        event: Option<F::DisconnectEvent>,
        completion: F::Completion,
    ) -> Result<(), NTSTATUS> {
        let sent = PrivateData::new(private_data, this.limits.max_callee_data)?;
        let (conn, side) = this.attachment().ok_or(STATUS_CONNECTION_INVALID)?;
        let unit = Unit::try_new(this).ok_or(STATUS_CONNECTION_INVALID)?;
        let pending = Pending { completion, unit };
        let effects = conn.accept(
            side,
            qp,
            (limits, this.limits.max_read),
            &sent,
            event,
            pending,
        )?;
        effects.run();
        Ok(())
    }

    /// `NdkReject` (synchronous): rejects the request (passive, before accepting) or the
    /// accepted connection (active, after the connect completed), sending `private_data`.
    ///
    /// # Errors
    ///
    /// `STATUS_INVALID_BUFFER_SIZE`, `STATUS_CONNECTION_ABORTED` (the peer already gave up),
    /// `STATUS_CONNECTION_INVALID` (nothing to reject).
    pub fn reject(this: &Arc<Self>, private_data: &[u8]) -> Result<(), NTSTATUS> {
        let sent = PrivateData::new(private_data, this.limits.max_callee_data)?;
        let (conn, side) = this.attachment().ok_or(STATUS_CONNECTION_INVALID)?;
        conn.reject(side, &sent)?.run();
        Ok(())
    }

    /// `NdkCompleteConnect(Ex)` (synchronous): joins the QPs and registers `event`; the
    /// passive side's accept completes. `Ok` means `STATUS_SUCCESS`, no callback.
    ///
    /// # Errors
    ///
    /// `STATUS_CONNECTION_ABORTED` (the accepting peer gave up), `STATUS_CONNECTION_INVALID`
    /// (the connect has not completed successfully), or the QP layer's status if the QPs
    /// cannot be joined (the attempt is then aborted on both sides).
    pub fn complete_connect(
        this: &Arc<Self>,
        event: Option<F::DisconnectEvent>,
    ) -> Result<(), NTSTATUS> {
        let (conn, side) = this.attachment().ok_or(STATUS_CONNECTION_INVALID)?;
        let (qp, peer, own, theirs) = conn.prepare_join(side)?;
        let joined = qp.connect(&peer, own, theirs);
        drop((qp, peer));
        conn.complete_connect(side, event, joined)?.run();
        Ok(())
    }

    /// `NdkGetConnectionData`: effective limits (passive side before accepting: what it can
    /// get at most) and the peer's private data copied into `out` (`None`: size probe).
    ///
    /// # Errors
    ///
    /// `STATUS_CONNECTION_INVALID` before the peer answered (or before connect).
    pub fn connection_data(&self, out: Option<&mut [u8]>) -> Result<ConnectionData, NTSTATUS> {
        let (conn, side) = self.attachment().ok_or(STATUS_CONNECTION_INVALID)?;
        let (limits, peer_data) = conn.with(|pair| {
            let (s, p) = (&pair.sides[side], &pair.sides[1 - side]);
            if s.phase == Phase::Connecting {
                return Err(STATUS_CONNECTION_INVALID);
            }
            // Before accepting, the passive side sees the most it can get from this peer.
            let max = self.limits.max_read;
            let limits = s
                .effective
                .unwrap_or_else(|| max.negotiate(max, p.requested.capped(p.max)));
            Ok((limits, p.sent))
        })?;
        let (status, length) = peer_data.copy_out(out);
        Ok(ConnectionData {
            limits,
            status,
            length,
        })
    }

    /// `NdkGetLocalAddress`: the connection's local address (`None` before connect).
    #[must_use]
    pub fn local_address(&self) -> Option<Address> {
        let (conn, side) = self.attachment()?;
        Some(conn.with(|pair| pair.sides[side].local))
    }

    /// `NdkGetPeerAddress`: the peer's address (`None` before connect).
    #[must_use]
    pub fn peer_address(&self) -> Option<Address> {
        let (conn, side) = self.attachment()?;
        Some(conn.with(|pair| pair.sides[side].remote))
    }

    /// `NdkDisconnect` (graceful). `Ok` means `STATUS_PENDING`: `completion` is called
    /// (deferred) once the peer's disconnect arrived (or the peer closed) and this QP stopped
    /// and was flushed — `STATUS_SUCCESS` — or with `STATUS_IO_TIMEOUT`, or `STATUS_CANCELLED`
    /// if this connector is closed first. No disconnect event follows a local disconnect.
    ///
    /// # Errors
    ///
    /// `STATUS_CONNECTION_INVALID` unless connected (or the peer disconnected first).
    pub fn disconnect(this: &Arc<Self>, completion: F::Completion) -> Result<(), NTSTATUS> {
        let (conn, side) = this.attachment().ok_or(STATUS_CONNECTION_INVALID)?;
        let unit = Unit::try_new(this).ok_or(STATUS_CONNECTION_INVALID)?;
        let effects: Effects<F> = conn.disconnect(side, Pending { completion, unit })?;
        effects.run();
        Ok(())
    }

    /// `NdkCloseObject` on a connector: runs `stage` (store the close completion), then
    /// aborts: pending requests complete `STATUS_CANCELLED` (deferred), the QP stops and is
    /// flushed, the peer sees a reject/abort/disconnect as `state::close` says. Always close
    /// connectors through this function (dropping a `Base` would skip the abort).
    ///
    /// # Errors
    ///
    /// [`AlreadyClosing`] on a second close.
    pub fn close(
        base: Base<Self>,
        stage: impl FnOnce(&Closing<'_, Self>),
    ) -> Result<Closed, AlreadyClosing> {
        base.close(|closing| {
            stage(closing);
            let this = closing.arc();
            if let Some((conn, side)) = this.attachment() {
                conn.close(side, this).run();
            }
        })
    }
}
