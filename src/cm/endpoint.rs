//! The shared endpoint object (`NDK_SHARED_ENDPOINT`): `NdkCreateSharedEndpoint`,
//! `NdkGetLocalAddress`, close.
//!
//! Owns one reference on its endpoint (`spec/ndkpi.md` §5.7); every connector connected
//! through it holds another plus a unit on it, so the address stays reserved and the close
//! pends until the last such connector is closed.
#![deny(unsafe_code)]

use super::{CmAdapter, CmFarewell, Family, Shell, lock_level};
use crate::abi::{NTSTATUS, STATUS_CONNECTION_INVALID};
use crate::fabric::{Address, EndpointKind, Fabric, Reservation};
use crate::lifetime::{AlreadyClosing, Base, Closed, Closing, Links, Node, Tracked, Unit};
use crate::platform::SpinLock;
use crate::platform::prelude::*;

/// Released after the endpoint's close completion.
pub struct EndpointLate<F: Family> {
    adapter: Option<Unit<F::Adapter>>,
    reservation: Option<Reservation<F>>,
}

/// A shared endpoint.
pub struct SharedEndpoint<F: Family> {
    node: Node,
    shell: F::EndpointShell,
    local: Address,
    late: SpinLock<EndpointLate<F>>,
}

impl<F: Family> Tracked for SharedEndpoint<F> {
    type Farewell = CmFarewell<<F::EndpointShell as Shell>::Farewell, EndpointLate<F>>;

    fn node(&self) -> &Node {
        &self.node
    }

    fn finalize(&self) -> Self::Farewell {
        let late = {
            let mut l = self.late.lock();
            EndpointLate {
                adapter: l.adapter.take(),
                reservation: l.reservation.take(),
            }
        };
        CmFarewell::new(self.shell.farewell(), late)
    }
}

impl<F: Family> SharedEndpoint<F> {
    /// `NdkCreateSharedEndpoint` (synchronous): reserves `addr` (port 0: ephemeral) on
    /// `adapter`.
    ///
    /// # Errors
    ///
    /// `STATUS_INVALID_ADDRESS`, `STATUS_SHARING_VIOLATION`, `STATUS_TOO_MANY_ADDRESSES`,
    /// `STATUS_INSUFFICIENT_RESOURCES`.
    pub fn new(
        fabric: &Fabric<F>,
        adapter: Unit<F::Adapter>,
        shell: F::EndpointShell,
        addr: Address,
    ) -> Result<Base<Self>, NTSTATUS> {
        let reservation = fabric.reserve(adapter.fabric_id(), addr, EndpointKind::Shared)?;
        Ok(Base::new(Self {
            node: Node::new(Links::new()),
            shell,
            local: reservation.address(),
            late: SpinLock::new(
                lock_level::ENDPOINT,
                EndpointLate {
                    adapter: Some(adapter),
                    reservation: Some(reservation),
                },
            ),
        }))
    }

    /// The embedded shell.
    #[must_use]
    pub const fn shell(&self) -> &F::EndpointShell {
        &self.shell
    }

    /// `NdkGetLocalAddress`: the bound address (with the chosen port).
    #[must_use]
    pub const fn local_address(&self) -> Address {
        self.local
    }

    /// One more reference on the endpoint, for a connector connecting through it.
    pub(crate) fn share_reservation(&self) -> Result<Reservation<F>, NTSTATUS> {
        self.late
            .lock()
            .reservation
            .as_ref()
            .map(Reservation::share)
            .ok_or(STATUS_CONNECTION_INVALID)
    }

    /// `NdkCloseObject` on a shared endpoint: drops the object's endpoint reference at once
    /// (the address stays reserved while connectors hold theirs) and pends while connectors
    /// use it.
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
            let own = closing.late.lock().reservation.take();
            drop(own);
        })
    }
}
