//! The adapter's limits and capability flags: the one place the numbers `NdkQueryAdapterInfo`
//! reports, and every create and post checks, are defined.
//!
//! Owns the values and their justification. Every number is one SoftNDK really honours (the
//! creates refuse anything above it, the engine reserves per-slot storage for it); every flag is
//! set only for behaviour that is implemented. It must never advertise a capability another
//! module has not built yet.

use crate::abi::{
    NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED, NDK_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED,
    NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED,
    NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED, NDK_ADAPTER_INFO, NDK_RDMA_TECHNOLOGY,
    NDK_VERSION,
};
use crate::platform::LockLevel;

use super::misuse::MisuseChecks;

/// Limits of one adapter instance. [`Limits::SOFTNDK`] is what the miniport uses; tests may
/// shrink them to reach the edges quickly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `MaxRegistrationSize`: largest `NdkRegisterMr` length.
    pub max_registration_size: usize,
    /// `MaxWindowSize`: largest `NdkBind` length.
    pub max_window_size: usize,
    /// `FRMRPageCount`, also the largest `NdkInitializeFastRegisterMr` page count.
    pub frmr_page_count: u32,
    /// `MaxInitiatorRequestSge`.
    pub max_initiator_sge: u32,
    /// `MaxReceiveRequestSge` (QPs and SRQs).
    pub max_receive_sge: u32,
    /// `MaxReadRequestSge`.
    pub max_read_sge: u32,
    /// `MaxTransferLength`: total bytes of one send, receive, read or write.
    pub max_transfer_length: u32,
    /// `MaxInlineDataSize`.
    pub max_inline_data: u32,
    /// `MaxInboundReadLimit` (IRD).
    pub max_inbound_reads: u32,
    /// `MaxOutboundReadLimit` (ORD).
    pub max_outbound_reads: u32,
    /// `MaxReceiveQueueDepth`.
    pub max_receive_depth: u32,
    /// `MaxInitiatorQueueDepth`.
    pub max_initiator_depth: u32,
    /// `MaxSrqDepth`.
    pub max_srq_depth: u32,
    /// `MaxCqDepth`.
    pub max_cq_depth: u32,
    /// `LargeRequestThreshold`: a hint only.
    pub large_request_threshold: u32,
    /// `MaxCallerData` (connect private data; enforced by the connection manager).
    pub max_caller_data: u32,
    /// `MaxCalleeData` (accept/reject private data; enforced by the connection manager).
    pub max_callee_data: u32,
    /// Most memory objects (MRs and MWs together) open at once on an adapter: bounded by the 15
    /// index bits of a memory token (see `mr.rs`).
    pub max_memory_objects: u32,
}

impl Limits {
    /// SoftNDK's limits: the generous values SMB Direct expects (`spec/ndis-miniport.md` §5.4),
    /// matching what the miniport reports in its NDK attributes.
    pub const SOFTNDK: Self = Self {
        max_registration_size: 1 << 30,
        max_window_size: 1 << 30,
        frmr_page_count: 256,
        max_initiator_sge: 16,
        max_receive_sge: 16,
        max_read_sge: 16,
        max_transfer_length: 1 << 24,
        max_inline_data: 256,
        max_inbound_reads: 32,
        max_outbound_reads: 32,
        max_receive_depth: 1024,
        max_initiator_depth: 1024,
        max_srq_depth: 4096,
        max_cq_depth: 65536,
        large_request_threshold: 1 << 16,
        max_caller_data: 56,
        max_callee_data: 148,
        max_memory_objects: 1 << 15,
    };
}

/// The `NDK_ADAPTER_FLAG_*` bits SoftNDK sets, each for implemented behaviour:
///
/// * `RDMA_READ_SINK_NOT_REQUIRED`: read targets need only local write; the `READ_SINK` flags are
///   accepted and ignored.
/// * `RDMA_READ_LOCAL_INVALIDATE_SUPPORTED`: the engine invalidates the first SGE's token.
/// * `CQ_RESIZE_SUPPORTED`: `NdkResizeCq` reallocates the ring.
/// * `LOOPBACK_CONNECTIONS_SUPPORTED`: the connection manager connects an adapter to its own
///   addresses (`docs/connections.md`).
///
/// Not set, deliberately: `IN_ORDER_DMA_SUPPORTED` (bytes are placed by the platform's `memcpy`,
/// whose store order inside one call is unspecified, so a consumer polling the last byte could
/// see it before earlier ones), `CQ_INTERRUPT_MODERATION_SUPPORTED` (not implemented:
/// `NdkControlCqInterruptModeration` answers `STATUS_NOT_SUPPORTED`), `MULTI_ENGINE_SUPPORTED`.
pub const ADAPTER_FLAGS: u32 = NDK_ADAPTER_FLAG_RDMA_READ_SINK_NOT_REQUIRED
    | NDK_ADAPTER_FLAG_RDMA_READ_LOCAL_INVALIDATE_SUPPORTED
    | NDK_ADAPTER_FLAG_CQ_RESIZE_SUPPORTED
    | NDK_ADAPTER_FLAG_LOOPBACK_CONNECTIONS_SUPPORTED;

/// Most IP addresses one adapter has on its fabric.
pub const MAX_ADAPTER_ADDRESSES: usize = 4;

/// Identity, limits and fabric attachment of one adapter instance.
#[derive(Clone, Debug)]
pub struct AdapterConfig {
    /// `VendorId`.
    pub vendor_id: u32,
    /// `DeviceId`.
    pub device_id: u32,
    /// Limits.
    pub limits: Limits,
    /// `RdmaTechnology` (iWARP: a TCP-shaped software transport).
    pub technology: NDK_RDMA_TECHNOLOGY,
    /// Secret mixed into memory tokens so they are not simply slot numbers. The miniport draws it
    /// from the system's random source at adapter open; tests pass fixed values.
    pub token_secret: u32,
    /// The provider-side verifier (`docs/provider-verifier.md`): [`MisuseChecks::DEFAULT`] is on
    /// except in release kernel builds; the miniport reads the `SoftNdkVerifier` keyword.
    pub misuse: MisuseChecks,
    /// The fabric the adapter's connectors, listeners and shared endpoints live on; `None`: a
    /// private fabric of its own (connections only between its own objects).
    pub fabric: Option<crate::cm::ndk::NdkFabric>,
    /// The adapter's IP addresses on that fabric.
    pub addresses: [Option<crate::fabric::IpAddr>; MAX_ADAPTER_ADDRESSES],
    /// Whether every `NdkCreateXxx` answers `STATUS_PENDING` and delivers its object (or its
    /// failure) through the create completion from deferred work, instead of completing inline
    /// (`docs/objects.md`, "Pending creates"). Off by default; the miniport sets it from the
    /// `SoftNdkPendRequests` keyword, tests and `softndk run --pend-creates` to exercise
    /// consumers' pending paths.
    pub pend_creates: bool,
    /// Whether `NdkRegisterMr`, `NdkDeregisterMr`, `NdkInitializeFastRegisterMr`,
    /// `NdkResizeCq` and `NdkModifySrq` answer `STATUS_PENDING` once their arguments passed the entry point's checks, and deliver their
    /// status through the request completion from deferred work, instead of completing inline
    /// (`docs/objects.md`, "Pending requests"). Off by default; the miniport sets it from the
    /// `SoftNdkPendRequests` keyword, tests and `softndk run --pend-requests` to exercise
    /// consumers' pending-request paths.
    pub pend_requests: bool,
}

/// The vendor id SoftNDK reports in `NDK_ADAPTER_INFO` (no PCI vendor: a software adapter).
pub const SOFTNDK_VENDOR_ID: u32 = 0x00FF_FFFF;
/// The RDMA technology SoftNDK reports (its transport is shaped like iWARP/siw).
pub const SOFTNDK_TECHNOLOGY: NDK_RDMA_TECHNOLOGY = NDK_RDMA_TECHNOLOGY::IWARP;

impl AdapterConfig {
    /// SoftNDK's identity (vendor `0x00FFFFFF`, as the miniport reports) and limits, with
    /// `token_secret`.
    #[must_use]
    pub const fn softndk(token_secret: u32) -> Self {
        Self {
            vendor_id: SOFTNDK_VENDOR_ID,
            device_id: 0,
            limits: Limits::SOFTNDK,
            technology: SOFTNDK_TECHNOLOGY,
            token_secret,
            misuse: MisuseChecks::DEFAULT,
            fabric: None,
            addresses: [None; MAX_ADAPTER_ADDRESSES],
            pend_creates: false,
            pend_requests: false,
        }
    }

    /// This configuration with [`AdapterConfig::pend_creates`] set to `pend`.
    #[must_use]
    pub const fn with_pending_creates(mut self, pend: bool) -> Self {
        self.pend_creates = pend;
        self
    }

    /// This configuration with [`AdapterConfig::pend_requests`] set to `pend`.
    #[must_use]
    pub const fn with_pending_requests(mut self, pend: bool) -> Self {
        self.pend_requests = pend;
        self
    }

    /// This configuration on `fabric` with the addresses `ips` (at most
    /// [`MAX_ADAPTER_ADDRESSES`]; more are ignored).
    #[must_use]
    pub fn on_fabric(
        mut self,
        fabric: &crate::cm::ndk::NdkFabric,
        ips: &[crate::fabric::IpAddr],
    ) -> Self {
        self.fabric = Some(fabric.clone());
        self.addresses = [None; MAX_ADAPTER_ADDRESSES];
        for (slot, ip) in self.addresses.iter_mut().zip(ips) {
            *slot = Some(*ip);
        }
        self
    }

    /// The `NDK_ADAPTER_INFO` of an adapter opened at `version`.
    #[must_use]
    pub const fn adapter_info(&self, version: NDK_VERSION) -> NDK_ADAPTER_INFO {
        let l = &self.limits;
        NDK_ADAPTER_INFO {
            Version: version,
            VendorId: self.vendor_id,
            DeviceId: self.device_id,
            MaxRegistrationSize: l.max_registration_size,
            MaxWindowSize: l.max_window_size,
            FRMRPageCount: l.frmr_page_count,
            MaxInitiatorRequestSge: l.max_initiator_sge,
            MaxReceiveRequestSge: l.max_receive_sge,
            MaxReadRequestSge: l.max_read_sge,
            MaxTransferLength: l.max_transfer_length,
            MaxInlineDataSize: l.max_inline_data,
            MaxInboundReadLimit: l.max_inbound_reads,
            MaxOutboundReadLimit: l.max_outbound_reads,
            MaxReceiveQueueDepth: l.max_receive_depth,
            MaxInitiatorQueueDepth: l.max_initiator_depth,
            MaxSrqDepth: l.max_srq_depth,
            MaxCqDepth: l.max_cq_depth,
            LargeRequestThreshold: l.large_request_threshold,
            MaxCallerData: l.max_caller_data,
            MaxCalleeData: l.max_callee_data,
            AdapterFlags: ADAPTER_FLAGS,
            RdmaTechnology: self.technology,
        }
    }
}

/// The verbs layer's spin-lock order. A thread holding a lock only takes locks of a strictly
/// higher level; consumer callbacks run with none held.
///
/// | level | lock | held while taking |
/// |---|---|---|
/// | [`QP_LINK`](lock_order::QP_LINK) | a QP's `moving` lock (held while `connect_pair` moves its endpoint) | connection locks (connect only) |
/// | [`CONNECTION`](lock_order::CONNECTION) | a connection (both endpoints of a pair) | one SRQ, CQ, memory |
/// | [`SRQ`](lock_order::SRQ) | an SRQ's receive queue, threshold, DPC state | CQ, memory |
/// | [`CQ`](lock_order::CQ) | a CQ's ring and arm state | nothing |
/// | [`MEMORY`](lock_order::MEMORY) | the adapter's memory table (tokens and LAMs) | leaf (an MW's MR link) |
/// | [`LEAF`](lock_order::LEAF) | small per-object cells (stored close completion, an MW's MR link, an SRQ's list of QPs) | nothing |
///
/// Two SRQ locks are never held at once. When both QPs of a connection take their receives
/// from SRQs (two SRQs, or one SRQ serving both ends of a loopback connection), an execution
/// pass runs `engine::progress` twice, each time with only the receiving side's SRQ locked
/// (the other direction simply waits for its half). This avoids an ordered try-lock between
/// two locks of one level, which the platform's level checker could not verify.
pub mod lock_order {
    use super::LockLevel;

    /// A QP's `moving` lock (its endpoint leaving its home connection).
    pub const QP_LINK: LockLevel = LockLevel::new(10);
    /// A connection's endpoints and pins.
    pub const CONNECTION: LockLevel = LockLevel::new(20);
    /// An SRQ.
    pub const SRQ: LockLevel = LockLevel::new(30);
    /// An adapter's CQ registry for statistics (a reader then takes each CQ's lock).
    pub const STATS: LockLevel = LockLevel::new(35);
    /// A CQ.
    pub const CQ: LockLevel = LockLevel::new(40);
    /// Token and LAM tables.
    pub const MEMORY: LockLevel = LockLevel::new(50);
    /// Innermost cells.
    pub const LEAF: LockLevel = LockLevel::new(60);
}
