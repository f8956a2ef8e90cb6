//! The connection manager bound to SoftNDK's own objects: the [`Ndk`] family the dispatch layer
//! and the adapter use.
//!
//! Owns the shells that put the consumer-visible `NDK_CONNECTOR`, `NDK_LISTENER` and
//! `NDK_SHARED_ENDPOINT` at offset 0 of the CM objects (each CM object is `#[repr(C)]` with its
//! shell first, and each shell `#[repr(C)]` with its `NdkCell` first, so the `Arc`'s data pointer
//! is the consumer's pointer), the stored close completions, the hand-up of a new connector
//! through the consumer's connect event, and the adapter's attachment to a fabric
//! ([`AdapterCm`]).
//!
//! Consumer callbacks are only ever called through `abi::upcall` values built by the dispatch
//! layer; this module never dereferences a consumer pointer and never calls with a lock held.
#![deny(unsafe_code)]

use crate::abi::upcall::{CloseCompletion, ConnectEvent, Disconnect, NdkCell, RequestCompletion};
use crate::abi::{
    NDK_CONNECTOR, NDK_CONNECTOR_DISPATCH, NDK_LISTENER, NDK_LISTENER_DISPATCH,
    NDK_SHARED_ENDPOINT, NDK_SHARED_ENDPOINT_DISPATCH, NDK_VERSION, NTSTATUS,
};
use crate::fabric::{AdapterId, Fabric, FabricConfig, IpAddr};
use crate::lifetime::Base;
use crate::platform::{Platform, assert_no_provider_lock_held};
use crate::sync::Arc;
use crate::verbs::misuse::Monitor;
use crate::verbs::{Adapter, Closer, Goodbye, Qp};

use super::{
    CmAdapter, CmLimits, CmOutcome, Connector, Family, Listener, ListenerShell, ReadLimits,
    SharedEndpoint, Shell,
};

/// The family of the real provider: verbs adapters and QPs, consumer upcalls, NDK shells.
#[derive(Debug)]
pub enum Ndk {}

impl Family for Ndk {
    type Adapter = Adapter;
    type Qp = Qp;
    type Completion = RequestCompletion;
    type DisconnectEvent = Disconnect;
    type ConnectorShell = NdkConnectorShell;
    type ListenerShell = NdkListenerShell;
    type EndpointShell = NdkEndpointShell;
}

/// The fabric SoftNDK adapters attach to.
pub type NdkFabric = Fabric<Ndk>;
/// A connector handed to NDK consumers.
pub type NdkConnector = Connector<Ndk>;
/// A listener handed to NDK consumers.
pub type NdkListener = Listener<Ndk>;
/// A shared endpoint handed to NDK consumers.
pub type NdkSharedEndpoint = SharedEndpoint<Ndk>;

/// `NDK_CONNECTOR` + its stored close completion and its adapter's provider verifier.
#[repr(C)]
pub struct NdkConnectorShell {
    ndk: NdkCell<NDK_CONNECTOR>,
    closer: Closer,
    monitor: Monitor,
}

const _: () = assert!(core::mem::offset_of!(NdkConnectorShell, ndk) == 0);

impl NdkConnectorShell {
    /// A shell whose header carries `version` and whose `Dispatch` is `table`, watched by
    /// `monitor` (its adapter's).
    #[must_use]
    pub fn new(
        version: NDK_VERSION,
        table: &'static NDK_CONNECTOR_DISPATCH,
        monitor: &Monitor,
    ) -> Self {
        Self {
            ndk: NdkCell::new(NDK_CONNECTOR::new(version, table)),
            closer: Closer::new(),
            monitor: monitor.clone(),
        }
    }

    /// The provider verifier of the adapter the connector was created on.
    #[must_use]
    pub const fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// The consumer's pointer.
    #[must_use]
    pub const fn ndk(&self) -> *mut NDK_CONNECTOR {
        self.ndk.as_ptr()
    }

    /// Stores the close completion (close stage).
    pub fn store_close(&self, completion: Option<CloseCompletion>) {
        self.closer.store(completion);
    }
}

impl Shell for NdkConnectorShell {
    type Farewell = Goodbye;
    fn farewell(&self) -> Goodbye {
        self.closer.farewell()
    }
}

/// `NDK_LISTENER`, its close completion, the connect event and what new connectors are built
/// with.
///
/// New connectors get the adapter's negotiated version, the connector table and the adapter's
/// provider verifier, which watches the listener too.
#[repr(C)]
pub struct NdkListenerShell {
    ndk: NdkCell<NDK_LISTENER>,
    closer: Closer,
    event: ConnectEvent,
    version: NDK_VERSION,
    connectors: &'static NDK_CONNECTOR_DISPATCH,
    monitor: Monitor,
}

const _: () = assert!(core::mem::offset_of!(NdkListenerShell, ndk) == 0);

impl NdkListenerShell {
    /// A listener shell for an adapter opened at `version`.
    #[must_use]
    pub fn new(
        version: NDK_VERSION,
        table: &'static NDK_LISTENER_DISPATCH,
        connectors: &'static NDK_CONNECTOR_DISPATCH,
        event: ConnectEvent,
        monitor: &Monitor,
    ) -> Self {
        Self {
            ndk: NdkCell::new(NDK_LISTENER::new(version, table)),
            closer: Closer::new(),
            event,
            version,
            connectors,
            monitor: monitor.clone(),
        }
    }

    /// The provider verifier of the adapter the listener was created on.
    #[must_use]
    pub const fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// The consumer's pointer.
    #[must_use]
    pub const fn ndk(&self) -> *mut NDK_LISTENER {
        self.ndk.as_ptr()
    }

    /// Stores the close completion (close stage).
    pub fn store_close(&self, completion: Option<CloseCompletion>) {
        self.closer.store(completion);
    }
}

impl Shell for NdkListenerShell {
    type Farewell = Goodbye;
    fn farewell(&self) -> Goodbye {
        self.closer.farewell()
    }
}

impl ListenerShell<Ndk> for NdkListenerShell {
    fn incoming_shell(&self) -> NdkConnectorShell {
        NdkConnectorShell::new(self.version, self.connectors, &self.monitor)
    }

    fn connect_event(&self, connector: Base<NdkConnector>) {
        // The BASE unit becomes the consumer's pointer (as for every created object): the
        // connector's shell, and in it the `NDK_CONNECTOR`, sits at offset 0 of the allocation.
        let raw = Arc::into_raw(connector.into_arc())
            .cast_mut()
            .cast::<NDK_CONNECTOR>();
        assert_no_provider_lock_held();
        self.event.call(raw);
    }
}

/// `NDK_SHARED_ENDPOINT` + its close completion and its adapter's provider verifier.
#[repr(C)]
pub struct NdkEndpointShell {
    ndk: NdkCell<NDK_SHARED_ENDPOINT>,
    closer: Closer,
    monitor: Monitor,
}

const _: () = assert!(core::mem::offset_of!(NdkEndpointShell, ndk) == 0);

impl NdkEndpointShell {
    /// A shell whose header carries `version` and whose `Dispatch` is `table`, watched by
    /// `monitor` (its adapter's).
    #[must_use]
    pub fn new(
        version: NDK_VERSION,
        table: &'static NDK_SHARED_ENDPOINT_DISPATCH,
        monitor: &Monitor,
    ) -> Self {
        Self {
            ndk: NdkCell::new(NDK_SHARED_ENDPOINT::new(version, table)),
            closer: Closer::new(),
            monitor: monitor.clone(),
        }
    }

    /// The provider verifier of the adapter the endpoint was created on.
    #[must_use]
    pub const fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// The consumer's pointer.
    #[must_use]
    pub const fn ndk(&self) -> *mut NDK_SHARED_ENDPOINT {
        self.ndk.as_ptr()
    }

    /// Stores the close completion (close stage).
    pub fn store_close(&self, completion: Option<CloseCompletion>) {
        self.closer.store(completion);
    }
}

impl Shell for NdkEndpointShell {
    type Farewell = Goodbye;
    fn farewell(&self) -> Goodbye {
        self.closer.farewell()
    }
}

/// An adapter's place on a fabric: the fabric and the adapter's id on it.
///
/// Dropping it (when the adapter's memory goes, after its close) removes the adapter's
/// addresses from the fabric, unless the id is a bound one ([`Fabric::bound_to`]), which its
/// owner detaches.
#[derive(Debug)]
pub struct AdapterCm {
    fabric: NdkFabric,
    id: AdapterId,
    /// Attached by this adapter (so detached when it goes), not joined through a bound handle.
    owned: bool,
}

impl AdapterCm {
    /// Attaches a new adapter to `fabric` (or, with `None`, to a private fabric of its own on
    /// `platform`, so that the CM still works between its own objects) with `addresses`.
    ///
    /// A `fabric` handle bound to an id ([`Fabric::bound_to`]) is joined instead: the adapter
    /// takes that id, whose addresses its owner manages, and `addresses` are not added.
    ///
    /// # Errors
    ///
    /// `STATUS_INSUFFICIENT_RESOURCES`; the status of [`Fabric::add_address`] (an address
    /// already owned by another adapter): nothing stays attached then.
    pub fn attach(
        fabric: Option<&NdkFabric>,
        platform: &Platform,
        addresses: &[Option<IpAddr>],
    ) -> Result<Self, NTSTATUS> {
        let fabric = match fabric {
            Some(f) => f.clone(),
            None => Fabric::new(platform.clone(), FabricConfig::default())?,
        };
        if let Some(id) = fabric.bound() {
            return Ok(Self {
                fabric,
                id,
                owned: false,
            });
        }
        let this = Self {
            id: fabric.attach_adapter(),
            fabric,
            owned: true,
        };
        for ip in addresses.iter().flatten() {
            // On failure `this` detaches again when dropped.
            this.fabric.add_address(this.id, *ip)?;
        }
        Ok(this)
    }

    /// The fabric.
    #[must_use]
    pub const fn fabric(&self) -> &NdkFabric {
        &self.fabric
    }

    /// The adapter's id on it.
    #[must_use]
    pub const fn id(&self) -> AdapterId {
        self.id
    }
}

impl Drop for AdapterCm {
    fn drop(&mut self) {
        if self.owned {
            self.fabric.detach_adapter(self.id);
        }
    }
}

impl CmAdapter for Adapter {
    fn fabric_id(&self) -> AdapterId {
        self.cm().id()
    }

    fn count(&self, outcome: CmOutcome) {
        let stats = self.stats_sink();
        match outcome {
            CmOutcome::Connected => stats.connected(),
            CmOutcome::Accepted => stats.accepted(),
            CmOutcome::ConnectFailed => stats.connect_failed(),
            CmOutcome::Ended { error } => stats.disconnected(error),
        }
    }

    fn cm_limits(&self) -> CmLimits {
        let l = self.limits();
        CmLimits::new(
            ReadLimits::new(l.max_inbound_reads, l.max_outbound_reads),
            l.max_caller_data,
            l.max_callee_data,
        )
    }
}
