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
use crate::platform::{DeferredWork, Dpc, SpinLock, assert_no_provider_lock_held};
use crate::sync::Arc;

/// Released after the listener's close completion.
pub struct ListenerLate<F: Family> {
    adapter: Option<Unit<F::Adapter>>,
    reservation: Option<Reservation<F>>,
}

struct State<F: Family> {
    listening: bool,
    paused: bool,
    /// A hand-up loop is running (a DPC may run again on another processor while it runs, as a
    /// `KDPC` can): the second instance leaves the work to the first, so connect events of one
    /// listener never overlap.
    handing_up: bool,
    local: Option<Address>,
    backlog: VecDeque<Base<Connector<F>>>,
    late: ListenerLate<F>,
}

/// A listener.
///
/// `#[repr(C)]` with the shell first (the consumer's `NDK_LISTENER` at offset 0).
#[repr(C)]
pub struct Listener<F: Family> {
    shell: F::ListenerShell,
    node: Node,
    fabric: Fabric<F>,
    adapter: AdapterId,
    /// The hand-up work, set once right after allocation (it needs the object's `Weak`).
    dpc: SpinLock<Option<Dpc>>,
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

// The consumer's pointer is the object's address: the shell (and in it the NDK struct) must be
// at offset 0.
const _: () = assert!(core::mem::offset_of!(Listener<super::ndk::Ndk>, shell) == 0);

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
        let platform = fabric.platform();
        let id = adapter.fabric_id();
        let built = platform.try_arc(Self {
            shell,
            node: Node::new(Links::new()),
            fabric: fabric.clone(),
            adapter: id,
            dpc: SpinLock::new(lock_level::DELIVERY, None),
            state: SpinLock::new(
                lock_level::LISTENER,
                State {
                    listening: false,
                    paused: false,
                    handing_up: false,
                    local: None,
                    backlog: VecDeque::new(),
                    late: ListenerLate {
                        adapter: Some(adapter),
                        reservation: None,
                    },
                },
            ),
        });
        let this = built.map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
        let dpc = platform
            .new_dpc(HandUp(Arc::downgrade(&this)))
            .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
        *this.dpc.lock() = Some(dpc);
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
        if resume {
            self.queue_hand_up();
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
            None => this.queue_hand_up(),
        }
        Ok(())
    }

    fn queue_hand_up(&self) {
        if let Some(dpc) = &*self.dpc.lock() {
            dpc.queue();
        }
    }

    /// Whether this listener was created on `adapter`.
    #[must_use]
    pub fn is_on(&self, adapter: &F::Adapter) -> bool {
        self.state
            .lock()
            .late
            .adapter
            .as_ref()
            .is_some_and(|own| core::ptr::eq(Arc::as_ptr(own.arc()), adapter))
    }

    /// Hands queued connectors up one at a time (deferred work, no lock held).
    fn hand_up(self: &Arc<Self>) {
        {
            let mut s = self.state.lock();
            if s.handing_up {
                return;
            }
            s.handing_up = true;
        }
        loop {
            // Every push, pause change and this check happen under the state lock, and the
            // flag clears only when this check finds nothing: a request queued after that
            // queues the work again and finds the flag clear (no lost hand-up).
            let next = {
                let mut s = self.state.lock();
                let next = if s.paused && !self.node.is_closing() {
                    None
                } else {
                    s.backlog.pop_front()
                };
                s.handing_up = next.is_some();
                next
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
