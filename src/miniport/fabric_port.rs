//! One miniport adapter's place on the driver-wide connection fabric: its adapter id, the IP
//! addresses registered for it, and its rows of `OID_NDK_CONNECTIONS` /
//! `OID_NDK_LOCAL_ENDPOINTS`.
//!
//! The adapter attaches one id when it initializes ([`FabricPort::attach`]) and detaches it when
//! it halts (drop). Every `NDK_ADAPTER` opened on it joins that id through the bound fabric
//! handle ([`FabricPort::fabric`], passed into `ndk_config::ndk_adapter_config`), so all its
//! consumers (SMB client and server each open one) are one host on the fabric, and an address
//! change is one update of that id ([`FabricPort::sync`]) that every open instance sees.
//!
//! Must never: hold its lock while allocating, or call the fabric at more than `DISPATCH_LEVEL`.
#![deny(unsafe_code)]

use alloc::vec::Vec;

use crate::abi::{NTSTATUS, STATUS_INSUFFICIENT_RESOURCES};
use crate::cm::ndk::NdkFabric;
use crate::fabric::{AdapterId, EndpointKind};
use crate::platform::prelude::*;
use crate::platform::{LockLevel, SpinLock};

use super::ndk_lists::{ConnectionEntry, LocalEndpointEntry, NdkLists};
use super::netaddr::AddressSet;

/// Level of the registered-addresses lock: taken alone from the OID path; the fabric's table
/// lock (a higher level) is taken inside it.
const PORT_LOCK_LEVEL: LockLevel = LockLevel::new(2);

/// A miniport adapter on the fabric.
#[derive(Debug)]
pub struct FabricPort {
    /// Bound to this adapter's id.
    fabric: NdkFabric,
    id: AdapterId,
    /// The addresses the fabric has for this adapter.
    registered: SpinLock<AddressSet>,
}

impl FabricPort {
    /// Attaches a new adapter id (without addresses) to `fabric`.
    #[must_use]
    pub fn attach(fabric: &NdkFabric) -> Self {
        let id = fabric.attach_adapter();
        Self {
            fabric: fabric.bound_to(id),
            id,
            registered: SpinLock::new(PORT_LOCK_LEVEL, AddressSet::EMPTY),
        }
    }

    /// The fabric handle bound to this adapter's id: what its `NDK_ADAPTER`s join.
    #[must_use]
    pub const fn fabric(&self) -> &NdkFabric {
        &self.fabric
    }

    /// The adapter's id on the fabric.
    #[must_use]
    pub const fn id(&self) -> AdapterId {
        self.id
    }

    /// The addresses the fabric has for this adapter now.
    #[must_use]
    pub fn addresses(&self) -> AddressSet {
        *self.registered.lock()
    }

    /// Makes the fabric's addresses of this adapter `wanted`: removes the ones no longer
    /// wanted, then adds the new ones. An address another adapter already has (or that the
    /// fabric cannot store) is left out. Returns the addresses registered afterwards.
    /// `IRQL <= DISPATCH_LEVEL` (OID path, PASSIVE in practice).
    pub fn sync(&self, wanted: &AddressSet) -> AddressSet {
        let mut registered = self.registered.lock();
        let before = *registered;
        for ip in before.iter().filter(|ip| !wanted.contains(ip)) {
            let _was_there = self.fabric.remove_address(self.id, &ip);
            registered.remove(&ip);
        }
        for ip in wanted.iter().filter(|ip| !before.contains(ip)) {
            if self.fabric.add_address(self.id, ip).is_ok() {
                registered.insert(ip);
            }
        }
        let now = *registered;
        drop(registered);
        now
    }

    /// `OID_NDK_CONNECTIONS` / `OID_NDK_LOCAL_ENDPOINTS`: calls `answer` with this adapter's
    /// established connections and reserved endpoints on the fabric (listeners flagged), as
    /// one snapshot collected into lists allocated outside any lock. PASSIVE or DISPATCH.
    ///
    /// # Errors
    /// `STATUS_INSUFFICIENT_RESOURCES` when the lists cannot be allocated (`answer` is not
    /// called).
    pub fn with_lists<R>(&self, answer: impl FnOnce(&NdkLists<'_>) -> R) -> Result<R, NTSTATUS> {
        let found = self.fabric.connections_of(self.id)?;
        let mut connections: Vec<ConnectionEntry> = Vec::new();
        connections
            .try_reserve_exact(found.len())
            .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
        connections.extend(
            found
                .into_iter()
                .map(|(local, remote)| ConnectionEntry { local, remote }),
        );
        let found = self.fabric.local_endpoints(self.id)?;
        let mut endpoints: Vec<LocalEndpointEntry> = Vec::new();
        endpoints
            .try_reserve_exact(found.len())
            .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
        endpoints.extend(found.into_iter().map(|(local, kind)| LocalEndpointEntry {
            local,
            listener: kind == EndpointKind::Listener,
        }));
        Ok(answer(&NdkLists {
            connections: &connections,
            endpoints: &endpoints,
        }))
    }
}

impl Drop for FabricPort {
    /// Halt: the adapter's addresses leave the fabric (its `NDK_ADAPTER`s are closed by then).
    fn drop(&mut self) {
        self.fabric.detach_adapter(self.id);
    }
}
