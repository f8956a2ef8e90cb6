//! One fabric instance: the tables under a spin lock, the platform it runs on, the timeouts,
//! and the RAII handles ([`Reservation`], [`TupleGuard`]) through which CM objects hold
//! endpoint references.
#![deny(unsafe_code)]

use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use super::address::{Address, IpAddr};
use super::table::{AdapterId, EndpointKind, PortRange, Tables};
use crate::abi::{NTSTATUS, STATUS_INSUFFICIENT_RESOURCES};
use crate::cm::lock_level;
use crate::cm::{Family, Listener};
use crate::lifetime::Unit;
use crate::platform::prelude::*;
use crate::platform::{Platform, SpinLock, Timestamp};
use crate::sync::Arc;

use crate::cm::connection::Connection;
use alloc::sync::Weak;

/// Timeouts and sizes of a fabric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FabricConfig {
    /// Ports served for port 0.
    pub ephemeral: PortRange,
    /// How long `NdkConnect` waits for the listener side to accept or reject.
    pub connect_timeout: Duration,
    /// How long `NdkAccept` waits for the active side's `NdkCompleteConnect`.
    pub accept_timeout: Duration,
    /// How long `NdkDisconnect` waits for the peer's disconnect.
    pub disconnect_timeout: Duration,
    /// Incoming requests a listener queues before handing them up; more are refused.
    pub backlog: usize,
}

impl Default for FabricConfig {
    fn default() -> Self {
        Self {
            ephemeral: PortRange::DYNAMIC,
            connect_timeout: Duration::from_secs(10),
            accept_timeout: Duration::from_secs(10),
            disconnect_timeout: Duration::from_secs(5),
            backlog: 64,
        }
    }
}

pub struct Inner<F: Family> {
    platform: Platform,
    config: FabricConfig,
    tables: SpinLock<Tables<Weak<Listener<F>>>>,
    connections: SpinLock<Vec<Weak<Connection<F>>>>,
}

/// The loopback fabric. Clones share it.
pub struct Fabric<F: Family> {
    inner: Arc<Inner<F>>,
}

impl<F: Family> Clone for Fabric<F> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<F: Family> fmt::Debug for Fabric<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fabric")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl<F: Family> Fabric<F> {
    /// A fabric with no adapters, running deferred work and timeouts on `platform`.
    #[must_use]
    pub fn new(platform: Platform, config: FabricConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                platform,
                config,
                tables: SpinLock::new(lock_level::FABRIC, Tables::new(config.ephemeral)),
                connections: SpinLock::new(lock_level::FABRIC_CONNECTIONS, Vec::new()),
            }),
        }
    }

    /// The platform CM objects on this fabric use.
    #[must_use]
    pub fn platform(&self) -> &Platform {
        &self.inner.platform
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &FabricConfig {
        &self.inner.config
    }

    /// Attaches a new adapter (it has no addresses yet).
    #[must_use]
    pub fn attach_adapter(&self) -> AdapterId {
        self.inner.tables.lock().new_adapter()
    }

    /// Gives `adapter` the local address `ip`.
    ///
    /// # Errors
    ///
    /// See [`Tables::add_address`].
    pub fn add_address(&self, adapter: AdapterId, ip: IpAddr) -> Result<(), NTSTATUS> {
        self.inner.tables.lock().add_address(adapter, ip)
    }

    /// Removes `adapter`'s addresses: new listens and connects on them fail, connect requests
    /// to them are unreachable; endpoints already reserved stay until released.
    pub fn detach_adapter(&self, adapter: AdapterId) {
        self.inner.tables.lock().remove_adapter(adapter);
    }

    /// References held on the endpoint `addr` (`None`: free). For diagnostics and tests.
    #[must_use]
    pub fn endpoint_refs(&self, addr: &Address) -> Option<u32> {
        self.inner.tables.lock().refs(addr)
    }

    /// Number of reserved endpoints.
    #[must_use]
    pub fn endpoint_count(&self) -> usize {
        self.inner.tables.lock().endpoint_count()
    }

    /// Ends every connection step whose deadline has passed on the platform clock: a connect
    /// or accept completes `STATUS_IO_TIMEOUT` (the peer sees the attempt aborted), a
    /// disconnect completes `STATUS_IO_TIMEOUT` after the QP stopped. Returns how many steps
    /// timed out.
    ///
    /// The platform has no timers; whoever owns the fabric calls this periodically (the
    /// kernel driver from a timer DPC, host tests after advancing the virtual clock). It never
    /// blocks and takes no lock while calling anything else. Callable at `DISPATCH_LEVEL`.
    #[allow(clippy::must_use_candidate, reason = "callers drive it for its effect")]
    pub fn expire(&self) -> usize {
        let now = self.inner.platform.now();
        let mut expired = 0;
        let mut i = 0;
        loop {
            let mut list = self.inner.connections.lock();
            let Some(weak) = list.get(i) else { break };
            let Some(conn) = weak.upgrade() else {
                // Both connectors are gone: forget it (nothing is dropped but a `Weak`).
                list.swap_remove(i);
                continue;
            };
            drop(list);
            i += 1;
            expired += conn.expire(now);
        }
        expired
    }

    pub(crate) fn deadline(&self, after: Duration) -> Timestamp {
        let now = self.inner.platform.now();
        now.checked_add(after)
            .unwrap_or(Timestamp::from_nanos(u64::MAX))
    }

    pub(crate) fn reserve(
        &self,
        adapter: AdapterId,
        addr: Address,
        kind: EndpointKind,
    ) -> Result<Reservation<F>, NTSTATUS> {
        let addr = self.inner.tables.lock().reserve(adapter, addr, kind)?;
        Ok(Reservation {
            fabric: Arc::clone(&self.inner),
            addr,
        })
    }

    pub(crate) fn add_tuple(
        &self,
        local: Address,
        remote: Address,
    ) -> Result<TupleGuard<F>, NTSTATUS> {
        self.inner.tables.lock().add_tuple(local, remote)?;
        Ok(TupleGuard {
            fabric: Arc::clone(&self.inner),
            local,
            remote,
        })
    }

    /// Routes `listener`'s endpoint: connect requests to it reach the listener from now on.
    pub(crate) fn set_route(&self, addr: &Address, listener: Weak<Listener<F>>) {
        let old = self.inner.tables.lock().set_route(addr, listener);
        drop(old);
    }

    /// Stops routing to `addr` (listener close stage, BASE still held: invariant I2).
    pub(crate) fn clear_route(&self, addr: &Address) {
        let old = self.inner.tables.lock().clear_route(addr);
        drop(old);
    }

    /// A unit on the listener a connect request to `dest` goes to. Taken under the table lock,
    /// which the listener's close takes to unroute before it drops BASE (invariant I2).
    pub(crate) fn route(&self, dest: &Address) -> Result<Unit<Listener<F>>, NTSTATUS> {
        let tables = self.inner.tables.lock();
        let arc = tables.route(dest)?.upgrade();
        let unit = arc.as_ref().and_then(Unit::try_new);
        drop(tables);
        // The temporary `Arc` is dropped here, outside the lock.
        drop(arc);
        unit.ok_or(crate::abi::STATUS_CONNECTION_REFUSED)
    }

    /// Adds a connection to the timeout scan.
    pub(crate) fn register(&self, conn: &Arc<Connection<F>>) -> Result<(), NTSTATUS> {
        let weak = Arc::downgrade(conn);
        let mut list = self.inner.connections.lock();
        list.try_reserve(1)
            .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
        list.push(weak);
        drop(list);
        Ok(())
    }
}

/// One reference on a reserved endpoint; the port is freed when the last one drops.
///
/// Must not be dropped while a fabric lock is held (drop takes the table lock).
pub struct Reservation<F: Family> {
    fabric: Arc<Inner<F>>,
    addr: Address,
}

impl<F: Family> Reservation<F> {
    /// The endpoint's address.
    pub const fn address(&self) -> Address {
        self.addr
    }

    /// Another reference on the same endpoint (a connector accepted over a listener, or
    /// connected through a shared endpoint).
    pub fn share(&self) -> Self {
        let held = self.fabric.tables.lock().add_ref(&self.addr);
        debug_assert!(held, "a reservation's endpoint is reserved while it lives");
        Self {
            fabric: Arc::clone(&self.fabric),
            addr: self.addr,
        }
    }
}

impl<F: Family> Drop for Reservation<F> {
    fn drop(&mut self) {
        let route = self.fabric.tables.lock().release(&self.addr);
        drop(route);
    }
}

/// A recorded 4-tuple; forgotten when dropped.
pub struct TupleGuard<F: Family> {
    fabric: Arc<Inner<F>>,
    local: Address,
    remote: Address,
}

impl<F: Family> Drop for TupleGuard<F> {
    fn drop(&mut self) {
        self.fabric
            .tables
            .lock()
            .remove_tuple(self.local, self.remote);
    }
}
