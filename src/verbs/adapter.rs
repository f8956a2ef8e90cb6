//! The adapter object: what `OpenNDKAdapterHandler` creates and `CloseNDKAdapterHandler` closes.
//!
//! Owns the negotiated version (written into every child's header), the limits, the platform
//! instance every child reaches the OS through, the dispatch tables children are built with, and
//! the adapter-wide memory-token table. Its close blocks (PASSIVE only) until every descendant is
//! closed and every callback has returned ([`crate::lifetime::close_and_wait`]). It must never be
//! closed from a path that may run at `DISPATCH_LEVEL`.
#![deny(unsafe_code)]

use crate::abi::upcall::NdkCell;
use crate::abi::{
    NDIS_STATUS_RESOURCES, NDK_ADAPTER, NDK_ADAPTER_INFO, NDK_VERSION, NTSTATUS, negotiate_version,
};
use crate::lifetime::{self, Base, Links, Node, Signal, Tracked, Unit};
use crate::platform::prelude::*;
use crate::platform::{Event, Platform, assert_can_block};
use crate::sync::{Arc, AtomicU32, Ordering};

use super::misuse::Monitor;
use super::mr::MemoryTable;
use super::{AdapterConfig, DispatchTables, Limits, Stats, StatsSnapshot};
use crate::cm::ndk::AdapterCm;

/// The platform event the adapter's finaliser signals and its closer waits on.
#[derive(Debug)]
pub struct AdapterEvent(Event);

impl lifetime::Event for AdapterEvent {
    fn signal(&self) {
        self.0.signal();
    }

    fn wait(&self) {
        self.0.wait();
    }
}

/// An open NDK adapter.
#[repr(C)]
pub struct Adapter {
    /// Offset 0: the consumer's `NDK_ADAPTER`.
    ndk: NdkCell<NDK_ADAPTER>,
    node: Node,
    platform: Platform,
    version: NDK_VERSION,
    config: AdapterConfig,
    tables: DispatchTables,
    event: Arc<AdapterEvent>,
    next_pd: AtomicU32,
    memory: MemoryTable,
    /// The provider-side verifier's state (`dispatch::misuse`).
    misuse: Monitor,
    /// The adapter's place on its fabric (detached when the adapter's memory goes).
    cm: AdapterCm,
    stats: Stats,
}

const _: () = assert!(core::mem::offset_of!(Adapter, ndk) == 0);

impl core::fmt::Debug for Adapter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Adapter")
            .field("version", &self.version)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl Tracked for Adapter {
    type Farewell = Signal<AdapterEvent>;

    fn node(&self) -> &Node {
        &self.node
    }

    fn finalize(&self) -> Self::Farewell {
        self.memory.release_all();
        // Every child is closed: quarantined objects (which hold this adapter) may go now.
        self.misuse.release_quarantine();
        Signal(Arc::clone(&self.event))
    }
}

impl Adapter {
    /// `OpenNDKAdapterHandler`: negotiates `requested` (§1.6) and builds the adapter.
    ///
    /// # Errors
    ///
    /// `NDIS_STATUS_BAD_VERSION` for a version SoftNDK cannot serve, `NDIS_STATUS_RESOURCES`
    /// when memory is short.
    pub fn open(
        config: AdapterConfig,
        platform: Platform,
        tables: DispatchTables,
        requested: NDK_VERSION,
    ) -> Result<Base<Self>, NTSTATUS> {
        let version = negotiate_version(requested)?;
        let cm = AdapterCm::attach(config.fabric.as_ref(), &platform, &config.addresses)?;
        let no_memory = |_| NDIS_STATUS_RESOURCES;
        let event = platform
            .try_new_event()
            .and_then(|event| platform.try_arc(AdapterEvent(event)))
            .map_err(no_memory)?;
        let misuse = Monitor::new(config.misuse, &platform).map_err(no_memory)?;
        let allocator = platform.clone();
        let adapter = allocator.try_arc(Self {
            ndk: NdkCell::new(NDK_ADAPTER::new(version, tables.adapter)),
            node: Node::new(Links::new()),
            memory: MemoryTable::new(config.token_secret, config.limits.max_memory_objects),
            platform,
            version,
            config,
            tables,
            event,
            next_pd: AtomicU32::new(0),
            misuse,
            cm,
            stats: Stats::new(),
        });
        Ok(Base::from_arc(adapter.map_err(no_memory)?))
    }

    /// `CloseNDKAdapterHandler`: closes and blocks until every descendant is closed and every
    /// callback has returned. PASSIVE only.
    pub fn close(base: Base<Self>) {
        assert_can_block();
        let event = Arc::clone(&base.event);
        // A second close of one adapter is a consumer error the engine reports without effect.
        let _ = lifetime::close_and_wait(base, &*event, |_| {});
    }

    /// The address handed to the consumer.
    #[must_use]
    pub const fn ndk(&self) -> *mut NDK_ADAPTER {
        self.ndk.as_ptr()
    }

    /// The negotiated version (reported in the adapter info and every object header).
    #[must_use]
    pub const fn version(&self) -> NDK_VERSION {
        self.version
    }

    /// The limits.
    #[must_use]
    pub const fn limits(&self) -> &Limits {
        &self.config.limits
    }

    /// The platform instance.
    #[must_use]
    pub const fn platform(&self) -> &Platform {
        &self.platform
    }

    /// Whether creates pend ([`AdapterConfig::pend_creates`]).
    #[must_use]
    pub const fn pends_creates(&self) -> bool {
        self.config.pend_creates
    }

    /// Whether registrations, `NdkResizeCq` and `NdkModifySrq` pend
    /// ([`AdapterConfig::pend_requests`]).
    #[must_use]
    pub const fn pends_requests(&self) -> bool {
        self.config.pend_requests
    }

    /// The dispatch tables children are built with.
    #[must_use]
    pub const fn tables(&self) -> &DispatchTables {
        &self.tables
    }

    /// The adapter's fabric attachment (connection manager).
    #[must_use]
    pub const fn cm(&self) -> &AdapterCm {
        &self.cm
    }

    /// The adapter-wide memory-token table.
    #[must_use]
    pub const fn memory(&self) -> &MemoryTable {
        &self.memory
    }

    /// The provider-side verifier's state.
    #[must_use]
    pub const fn misuse(&self) -> &Monitor {
        &self.misuse
    }

    /// The live statistics (counted by the CQs; read through [`Adapter::stats`]).
    #[must_use]
    pub const fn stats_sink(&self) -> &Stats {
        &self.stats
    }

    /// A snapshot of the statistics, for `OID_NDK_STATISTICS`. Readable at any IRQL and after
    /// close (while an `Arc` of the adapter is held).
    #[must_use]
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// `NdkQueryAdapterInfo`'s answer.
    #[must_use]
    pub const fn info(&self) -> NDK_ADAPTER_INFO {
        self.config.adapter_info(self.version)
    }

    /// A unit for a new child's links (the adapter is every child's antecedent).
    ///
    /// # Errors
    ///
    /// `STATUS_DEVICE_NOT_READY` if the adapter is closing (a consumer error: it closes the
    /// adapter only after its children).
    pub fn link(self: &Arc<Self>) -> Result<Unit<Self>, NTSTATUS> {
        Unit::try_new(self).ok_or(crate::abi::STATUS_DEVICE_NOT_READY)
    }

    /// A fresh protection-domain number (31 bits; it only tells privileged tokens apart and
    /// wraps after 2^31 PDs, never a lookup key).
    pub(super) fn next_pd_number(&self) -> u32 {
        self.next_pd.fetch_add(1, Ordering::Relaxed) & 0x7FFF_FFFF
    }

    /// Whether `other` is this adapter (objects of different adapters never mix).
    #[must_use]
    pub fn is(&self, other: &Self) -> bool {
        core::ptr::eq(self, other)
    }
}
