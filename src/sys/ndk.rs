//! The NDK structures the *miniport* side exchanges with NDIS (`ndisndk.h`, `ndis.h`,
//! `ntddndis.h`, `ndkinfo.h`), per `spec/ndis-miniport.md` §1.2–§1.7.
//!
//! The `abi` layer owns the NDKPI object model (`NDK_ADAPTER`, dispatch tables); this file
//! declares only what registration and attributes need. `NDK_VERSION` and `NDK_ADAPTER_INFO`
//! are duplicated here until the `abi` layer's versions land — when they do, these become
//! re-exports of them (the layouts are asserted identically on both sides).

use core::mem::{offset_of, size_of};

use super::{BOOLEAN, NDIS_HANDLE, NDIS_OBJECT_HEADER, NDIS_STATUS};

/// `NDIS_OBJECT_TYPE_NDK_PROVIDER_CHARACTERISTICS`.
pub const NDIS_OBJECT_TYPE_NDK_PROVIDER_CHARACTERISTICS: u8 = 0xB2;
/// `NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_NDK_ATTRIBUTES`.
pub const NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_NDK_ATTRIBUTES: u8 = 0xB3;
/// `NDIS_NDK_PROVIDER_CHARACTERISTICS_REVISION_1`.
pub const NDIS_NDK_PROVIDER_CHARACTERISTICS_REVISION_1: u8 = 1;
/// `NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES_REVISION_1`.
pub const NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES_REVISION_1: u8 = 1;
/// `NDIS_NDK_CAPABILITIES_REVISION_1`.
pub const NDIS_NDK_CAPABILITIES_REVISION_1: u8 = 1;

/// `NDK_VERSION`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDK_VERSION {
    /// Major version.
    pub Major: u16,
    /// Minor version.
    pub Minor: u16,
}

/// `NDK_ADAPTER`: provider-owned, handed out by the open handler; opaque here.
#[repr(C)]
pub struct NDK_ADAPTER {
    _opaque: [u8; 0],
}

/// `NDIS_OPEN_NDK_ADAPTER_PARAMETERS` as seen by a 6.30 miniport (no vPort fields).
#[repr(C)]
pub struct NDIS_OPEN_NDK_ADAPTER_PARAMETERS {
    /// Requested NDKPI version.
    pub Version: NDK_VERSION,
}

/// `OPEN_NDK_ADAPTER_HANDLER` (PASSIVE).
pub type OPEN_NDK_ADAPTER_HANDLER = unsafe extern "system" fn(
    MiniportAdapterContext: NDIS_HANDLE,
    Parameters: *mut NDIS_OPEN_NDK_ADAPTER_PARAMETERS,
    ppNdkAdapter: *mut *mut NDK_ADAPTER,
) -> NDIS_STATUS;
/// `CLOSE_NDK_ADAPTER_HANDLER` (PASSIVE, blocking).
pub type CLOSE_NDK_ADAPTER_HANDLER =
    unsafe extern "system" fn(MiniportAdapterContext: NDIS_HANDLE, pNdkAdapter: *mut NDK_ADAPTER);

/// `NDIS_NDK_PROVIDER_CHARACTERISTICS` (x64 24), passed to `NdisSetOptionalHandlers`.
#[repr(C)]
pub struct NDIS_NDK_PROVIDER_CHARACTERISTICS {
    /// Type 0xB2, revision 1, size 24.
    pub Header: NDIS_OBJECT_HEADER,
    /// Reserved, 0.
    pub Flags: u32,
    /// Required.
    pub OpenNDKAdapterHandler: Option<OPEN_NDK_ADAPTER_HANDLER>,
    /// Required.
    pub CloseNDKAdapterHandler: Option<CLOSE_NDK_ADAPTER_HANDLER>,
}

/// `NDK_ADAPTER_INFO` (x64 0x68, the byte count NDIS copies).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NDK_ADAPTER_INFO {
    /// Highest NDKPI version implemented.
    pub Version: NDK_VERSION,
    /// Vendor.
    pub VendorId: u32,
    /// Device.
    pub DeviceId: u32,
    /// Largest single registration.
    pub MaxRegistrationSize: usize,
    /// Largest memory window.
    pub MaxWindowSize: usize,
    /// FRMR size in pages (>= 16).
    pub FRMRPageCount: u32,
    /// SGEs per initiator request.
    pub MaxInitiatorRequestSge: u32,
    /// SGEs per receive request.
    pub MaxReceiveRequestSge: u32,
    /// SGEs per read request.
    pub MaxReadRequestSge: u32,
    /// Largest transfer.
    pub MaxTransferLength: u32,
    /// Inline data bytes.
    pub MaxInlineDataSize: u32,
    /// Per-QP inbound reads.
    pub MaxInboundReadLimit: u32,
    /// Per-QP outbound reads.
    pub MaxOutboundReadLimit: u32,
    /// Receive queue depth.
    pub MaxReceiveQueueDepth: u32,
    /// Initiator queue depth.
    pub MaxInitiatorQueueDepth: u32,
    /// SRQ depth.
    pub MaxSrqDepth: u32,
    /// CQ depth.
    pub MaxCqDepth: u32,
    /// Requests above this may be slower.
    pub LargeRequestThreshold: u32,
    /// Connect private data.
    pub MaxCallerData: u32,
    /// Accept private data.
    pub MaxCalleeData: u32,
    /// `NDK_ADAPTER_FLAG_*`.
    pub AdapterFlags: u32,
    /// `NDK_RDMA_TECHNOLOGY`.
    pub RdmaTechnology: u32,
}

/// `NDIS_NDK_CAPABILITIES` (x64 0x38).
#[repr(C)]
pub struct NDIS_NDK_CAPABILITIES {
    /// Type 0x80, revision 1, size 0x38.
    pub Header: NDIS_OBJECT_HEADER,
    /// Reserved, 0.
    pub Flags: u32,
    /// Adapter-wide QP limit.
    pub MaxQpCount: u32,
    /// Adapter-wide CQ limit.
    pub MaxCqCount: u32,
    /// Adapter-wide MR limit.
    pub MaxMrCount: u32,
    /// Adapter-wide PD limit.
    pub MaxPdCount: u32,
    /// Adapter-wide inbound reads (0 = no cap).
    pub MaxInboundReadLimit: u32,
    /// Adapter-wide outbound reads (0 = no cap).
    pub MaxOutboundReadLimit: u32,
    /// Adapter-wide MW limit.
    pub MaxMwCount: u32,
    /// Adapter-wide SRQ limit (0 = no SRQs).
    pub MaxSrqCount: u32,
    /// One bit per performance counter not maintained.
    pub MissingCounterMask: u64,
    /// Non-NULL; NDIS copies 0x68 bytes from it.
    pub NdkInfo: *const NDK_ADAPTER_INFO,
}

/// `NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES` (x64 16).
#[repr(C)]
pub struct NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES {
    /// Type 0xB3, revision 1, size 16.
    pub Header: NDIS_OBJECT_HEADER,
    /// Whether NDK is enabled now.
    pub Enabled: BOOLEAN,
    /// Non-NULL.
    pub NdkCapabilities: *const NDIS_NDK_CAPABILITIES,
}

#[allow(
    clippy::items_after_statements,
    reason = "one alias per asserted struct, beside its assertions"
)]
const _: () = {
    assert!(size_of::<NDK_VERSION>() == 4);
    assert!(size_of::<NDIS_OPEN_NDK_ADAPTER_PARAMETERS>() == 4);

    type P = NDIS_NDK_PROVIDER_CHARACTERISTICS;
    assert!(size_of::<P>() == 24);
    assert!(offset_of!(P, Flags) == 4);
    assert!(offset_of!(P, OpenNDKAdapterHandler) == 8);
    assert!(offset_of!(P, CloseNDKAdapterHandler) == 16);

    type I = NDK_ADAPTER_INFO;
    assert!(size_of::<I>() == 0x68);
    assert!(offset_of!(I, MaxRegistrationSize) == 0x10);
    assert!(offset_of!(I, MaxWindowSize) == 0x18);
    assert!(offset_of!(I, FRMRPageCount) == 0x20);
    assert!(offset_of!(I, MaxTransferLength) == 0x30);
    assert!(offset_of!(I, MaxInboundReadLimit) == 0x38);
    assert!(offset_of!(I, MaxReceiveQueueDepth) == 0x40);
    assert!(offset_of!(I, MaxCqDepth) == 0x4C);
    assert!(offset_of!(I, LargeRequestThreshold) == 0x50);
    assert!(offset_of!(I, AdapterFlags) == 0x5C);
    assert!(offset_of!(I, RdmaTechnology) == 0x60);

    type C = NDIS_NDK_CAPABILITIES;
    assert!(size_of::<C>() == 0x38);
    assert!(offset_of!(C, MaxQpCount) == 0x08);
    assert!(offset_of!(C, MaxPdCount) == 0x14);
    assert!(offset_of!(C, MaxMwCount) == 0x20);
    assert!(offset_of!(C, MaxSrqCount) == 0x24);
    assert!(offset_of!(C, MissingCounterMask) == 0x28);
    assert!(offset_of!(C, NdkInfo) == 0x30);

    type A = NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES;
    assert!(size_of::<A>() == 16);
    assert!(offset_of!(A, Enabled) == 4);
    assert!(offset_of!(A, NdkCapabilities) == 8);
};
