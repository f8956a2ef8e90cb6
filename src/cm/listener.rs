//! The listener object (`NDK_LISTENER`): `NdkListen`, `NdkGetLocalAddress`,
//! `NdkControlConnectEvents`, close, and the hand-up of incoming requests as new connectors
//! through the connect event.
//!
//! Owns the listener's endpoint reference, its backlog of requests not yet handed up, and the
//! close rule of `spec/ndkpi.md` §5.4/§5.7: the close stops new connections at once (the
//! fabric stops routing to it, queued requests are rejected) and stays pending while any
//! connector it handed up is open (each holds a unit on it and a reference on its endpoint).
#![deny(unsafe_code)]

use alloc::collections::VecDeque;
use alloc::sync::Weak;

use super::connection::Connection;
use super::connector::Connector;
use super::{CmAdapter, CmFarewell, Family, ListenerShell, Shell, lock_level};
use crate::abi::{
    NTSTATUS, STATUS_CONNECTION_REFUSED, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_DEVICE_STATE,
};
use crate::fabric::{AdapterId, Address, EndpointKind, Fabric, Reservation};
use crate::lifetime::{AlreadyClosing, Base, Closed, Closing, Links, Node, Tracked, Unit};
use crate::platform::prelude::*;
use crate::platform::{AllocError, DeferredWork, Dpc, SpinLock, assert_no_provider_lock_held};
use crate::sync::Arc;

/// Released after the listener's close completion.
pub struct ListenerLate<F: Family> {
    adapter: Option<Unit<F::Adapter>>,
    reservation: Option<Reservation<F>>,
}

struct State<F: Family> {
    listening: bool,
    paused: bool,
    local: Option<Address>,
    backlog: VecDeque<Base<Connector<F>>>,
    late: ListenerLate<F>,
}

/// A listener.
pub struct Listener<F: Family> {
    node: Node,
    shell: F::ListenerShell,
    fabric: Fabric<F>,
    adapter: AdapterId,
    dpc: Result<Dpc, AllocError>,
    state: SpinLock<State<F>>,
}

/// The listener's deferred work: hand up queued requests.
struct HandUp<F: Family>(Weak<Listener<F>>);

impl<F: Family> DeferredWork for HandUp<F> {
    fn run(&self) {
        if let Some(listener) = self.0.upgrade() {
            listener.hand_up();
        }
    }
}

impl<F: Family> Tracked for Listener<F> {
    type Farewell = CmFarewell<<F::ListenerShell as Shell>::Farewell, ListenerLate<F>>;

    fn node(&self) -> &Node {
        &self.node
    }

    fn finalize(&self) -> Self::Farewell {
        let late = {
            let mut s = self.state.lock();
            debug_assert!(s.backlog.is_empty(), "queued connectors hold units");
            ListenerLate {
                adapter: s.late.adapter.take(),
                reservation: s.late.reservation.take(),
            }
        };
        CmFarewell::new(self.shell.farewell(), late)
    }
}

impl<F: Family> Listener<F> {
    /// `NdkCreateListener`: a listener on `adapter` whose shell receives the connect events.
    ///
    /// # Errors
    ///
    /// `STATUS_INSUFFICIENT_RESOURCES`.
    pub fn new(
        fabric: &Fabric<F>,
        adapter: Unit<F::Adapter>,
        shell: F::ListenerShell,
    ) -> Result<Base<Self>, NTSTATUS> {
        let platform = fabric.platform().clone();
        let id = adapter.fabric_id();
        let this = Arc::new_cyclic(|weak| Self {
            node: Node::new(Links::new()),
            shell,
            fabric: fabric.clone(),
            adapter: id,
            dpc: platform.new_dpc(HandUp(weak.clone())),
            state: SpinLock::new(
                lock_level::LISTENER,
                State {
                    listening: false,
                    paused: false,
                    local: None,
                    backlog: VecDeque::new(),
                    late: ListenerLate {
                        adapter: Some(adapter),
                        reservation: None,
                    },
                },
            ),
        });
        if this.dpc.is_err() {
            return Err(STATUS_INSUFFICIENT_RESOURCES);
        }
        Ok(Base::from_arc(this))
    }

    /// The embedded shell.
    #[must_use]
    pub const fn shell(&self) -> &F::ListenerShell {
        &self.shell
    }

    /// `NdkListen` (completes synchronously: `Ok` is `STATUS_SUCCESS`, no callback): reserves
    /// `addr` (port 0: ephemeral; a wildcard IP listens on every address of the adapter of
    /// that family) and starts routing connect requests here.
    ///
    /// # Errors
    ///
    /// `STATUS_INVALID_DEVICE_STATE` (already listening), `STATUS_INVALID_ADDRESS`,
    /// `STATUS_SHARING_VIOLATION`, `STATUS_TOO_MANY_ADDRESSES`,
    /// `STATUS_INSUFFICIENT_RESOURCES`.
    pub fn listen(this: &Arc<Self>, addr: Address) -> Result<(), NTSTATUS> {
        if this.state.lock().listening {
            return Err(STATUS_INVALID_DEVICE_STATE);
        }
        let mut backlog = VecDeque::new();
        backlog
            .try_reserve_exact(this.fabric.config().backlog)
            .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
        let reservation = this
            .fabric
            .reserve(this.adapter, addr, EndpointKind::Listener)?;
        let local = reservation.address();
        {
            let mut s = this.state.lock();
            if s.listening {
                drop(s);
                return Err(STATUS_INVALID_DEVICE_STATE);
            }
            s.listening = true;
            s.local = Some(local);
            s.backlog = backlog;
            s.late.reservation = Some(reservation);
        }
        this.fabric.set_route(&local, Arc::downgrade(this));
        Ok(())
    }

    /// `NdkGetLocalAddress` (`None` before `NdkListen`).
    #[must_use]
    pub fn local_address(&self) -> Option<Address> {
        self.state.lock().local
    }

    /// `NdkControlConnectEvents`: `pause` stops connect events and makes new requests fail
    /// as if nobody listened (`STATUS_CONNECTION_REFUSED`, `spec/ndkpi.md` §2.10); requests
    /// already queued wait and are handed up after resuming.
    pub fn control_connect_events(&self, pause: bool) {
        let resume = {
            let mut s = self.state.lock();
            s.paused = pause;
            !pause && !s.backlog.is_empty()
        };
        if resume && let Ok(dpc) = &self.dpc {
            dpc.queue();
        }
    }

    /// `NdkCloseObject` on a listener: runs `stage`, stops routing new requests here at once,
    /// rejects queued ones, then pends until every connector it handed up is closed.
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
            // The listener's own endpoint reference goes now (§5.7); connectors it handed up
            // hold theirs, so the port stays reserved while they live.
            let (local, queued, own) = {
                let mut s = this.state.lock();
                (
                    s.local,
                    core::mem::take(&mut s.backlog),
                    s.late.reservation.take(),
                )
            };
            drop(own);
            if let Some(local) = local {
                this.fabric.clear_route(&local);
            }
            for connector in queued {
                // Closing an unaccepted connector rejects its request.
                let _ = Connector::close(connector, |_| {});
            }
        })
    }

    /// An incoming request routed here (the fabric took `unit` under its lock). Creates the
    /// passive connector and queues it for the connect event.
    ///
    /// # Errors
    ///
    /// `STATUS_CONNECTION_REFUSED` (paused, closing, backlog full),
    /// `STATUS_INSUFFICIENT_RESOURCES`; nothing was created then. Once the connector exists,
    /// failures reach the active side through the connector's close (a reject).
    pub(crate) fn incoming(
        unit: Unit<Self>,
        conn: &Arc<Connection<F>>,
        _peer: Address,
        _dest: Address,
    ) -> Result<(), NTSTATUS> {
        let this = Arc::clone(unit.arc());
        let limit = this.fabric.config().backlog;
        let (adapter, reservation) = {
            let s = this.state.lock();
            let open = s.listening && !s.paused && !this.node.is_closing();
            match (&s.late.adapter, &s.late.reservation) {
                (Some(a), Some(r)) if open && s.backlog.len() < limit => (a.clone(), r.share()),
                _ => return Err(STATUS_CONNECTION_REFUSED),
            }
        };
        let shell = this.shell.incoming_shell();
        let connector = Connector::incoming(&this.fabric, adapter, unit, reservation, shell, conn)?;
        let refused = {
            let mut s = this.state.lock();
            if !s.paused && !this.node.is_closing() && s.backlog.len() < limit {
                s.backlog.push_back(connector);
                drop(s);
                None
            } else {
                drop(s);
                Some(connector)
            }
        };
        match refused {
            Some(connector) => {
                let _ = Connector::close(connector, |_| {});
            }
            None => {
                if let Ok(dpc) = &this.dpc {
                    dpc.queue();
                }
            }
        }
        Ok(())
    }

    /// Hands queued connectors up one at a time (deferred work, no lock held).
    fn hand_up(self: &Arc<Self>) {
        loop {
            let next = {
                let mut s = self.state.lock();
                if s.paused && !self.node.is_closing() {
                    None
                } else {
                    s.backlog.pop_front()
                }
            };
            let Some(connector) = next else { return };
            // The queued connector holds a unit on this listener, so taking one is legal
            // (I1); it is refused once the listener is closing: reject instead.
            match Unit::try_new(self) {
                Some(guard) => {
                    assert_no_provider_lock_held();
                    self.shell.connect_event(connector);
                    drop(guard);
                }
                None => {
                    let _ = Connector::close(connector, |_| {});
                }
            }
        }
    }
}
