//! The NDK-related NDIS structures and constants (`spec/ndis-miniport.md` §1.2–§1.7, §2.1):
//! how the miniport registers its NDK open/close handlers and reports NDK capabilities.
//!
//! Only the NDK slice of NDIS lives here; the rest of the NDIS FFI belongs to `sys`. The
//! `NDIS_STATUS` values used by open/close are in the `status` module.

use super::object::NDK_ADAPTER;
use super::status::NDIS_STATUS;
use super::structs::NDK_ADAPTER_INFO;
use super::version::NDK_VERSION;
use super::win::{BOOLEAN, NDIS_HANDLE, SOCKADDR_IN, SOCKADDR_IN6};

/// `NDIS_OBJECT_HEADER`: `{ UCHAR Type; UCHAR Revision; USHORT Size; }`, first member of most
/// NDIS 6 structures. `Size` is the size of the revision filled, not necessarily `sizeof`.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct NDIS_OBJECT_HEADER {
    /// `NDIS_OBJECT_TYPE_*`.
    pub Type: u8,
    /// Structure revision.
    pub Revision: u8,
    /// `NDIS_SIZEOF_*_REVISION_n`.
    pub Size: u16,
}

impl NDIS_OBJECT_HEADER {
    /// `{ Type, Revision, Size }`.
    #[must_use]
    pub const fn new(object_type: u8, revision: u8, size: u16) -> Self {
        Self {
            Type: object_type,
            Revision: revision,
            Size: size,
        }
    }
}

/// `NDIS_OBJECT_TYPE_DEFAULT`: used by `NDIS_NDK_CAPABILITIES`.
pub const NDIS_OBJECT_TYPE_DEFAULT: u8 = 0x80;
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

/// `OID_NDK_SET_STATE`: enable/disable NDK (BOOLEAN buffer; must not pend).
pub const OID_NDK_SET_STATE: u32 = 0xFC04_0201;
/// `OID_NDK_STATISTICS`: NDK performance counters.
pub const OID_NDK_STATISTICS: u32 = 0xFC04_0202;
/// `OID_NDK_CONNECTIONS`: list of NDK connections.
pub const OID_NDK_CONNECTIONS: u32 = 0xFC04_0203;
/// `OID_NDK_LOCAL_ENDPOINTS`: list of NDK local endpoints.
pub const OID_NDK_LOCAL_ENDPOINTS: u32 = 0xFC04_0204;

/// `OPEN_NDK_ADAPTER_HANDLER` (PASSIVE): open an `NDK_ADAPTER` instance.
pub type OPEN_NDK_ADAPTER_HANDLER = unsafe extern "system" fn(
    MiniportAdapterContext: NDIS_HANDLE,
    Parameters: *mut NDIS_OPEN_NDK_ADAPTER_PARAMETERS,
    ppNdkAdapter: *mut *mut NDK_ADAPTER,
) -> NDIS_STATUS;

/// `CLOSE_NDK_ADAPTER_HANDLER` (PASSIVE, blocking): close an `NDK_ADAPTER` instance.
pub type CLOSE_NDK_ADAPTER_HANDLER =
    unsafe extern "system" fn(MiniportAdapterContext: NDIS_HANDLE, pNdkAdapter: *mut NDK_ADAPTER);

/// `NDIS_NDK_PROVIDER_CHARACTERISTICS`: registered with `NdisSetOptionalHandlers` from
/// `MiniportSetOptions` (x64 size 24).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NDIS_NDK_PROVIDER_CHARACTERISTICS {
    /// Type 0xB2, Revision 1, Size [`NDIS_SIZEOF_NDK_PROVIDER_CHARACTERISTICS_REVISION_1`].
    pub Header: NDIS_OBJECT_HEADER,
    /// Reserved, 0.
    pub Flags: u32,
    /// The open handler.
    pub OpenNDKAdapterHandler: OPEN_NDK_ADAPTER_HANDLER,
    /// The close handler.
    pub CloseNDKAdapterHandler: CLOSE_NDK_ADAPTER_HANDLER,
}

/// `NDIS_SIZEOF_NDK_PROVIDER_CHARACTERISTICS_REVISION_1` (through `CloseNDKAdapterHandler`).
// The structure is 24 bytes on x64 and 12 on x86: it always fits in a USHORT.
#[allow(clippy::cast_possible_truncation)]
pub const NDIS_SIZEOF_NDK_PROVIDER_CHARACTERISTICS_REVISION_1: u16 =
    (core::mem::offset_of!(NDIS_NDK_PROVIDER_CHARACTERISTICS, CloseNDKAdapterHandler)
        + size_of::<CLOSE_NDK_ADAPTER_HANDLER>()) as u16;

/// `NDIS_OPEN_NDK_ADAPTER_PARAMETERS`, NDIS 6.50+ layout (12 bytes).
///
/// A miniport that declares an NDIS version below 6.50 receives only `Version` (4 bytes): read
/// fields through raw pointers, never form a reference to the whole structure from NDIS memory.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct NDIS_OPEN_NDK_ADAPTER_PARAMETERS {
    /// Required major and lowest acceptable minor (§1.6).
    pub Version: NDK_VERSION,
    /// `NDIS_NIC_SWITCH_ID` (NDIS 6.50+).
    pub SwitchId: u32,
    /// `NDIS_NIC_SWITCH_VPORT_ID` (NDIS 6.50+).
    pub VPortId: u32,
}

/// `NDIS_NDK_CAPABILITIES` (`ntddndis.h`, x64 size 0x38).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NDIS_NDK_CAPABILITIES {
    /// Type `NDIS_OBJECT_TYPE_DEFAULT`, Revision 1, Size [`NDIS_SIZEOF_NDK_CAPABILITIES_REVISION_1`].
    pub Header: NDIS_OBJECT_HEADER,
    /// Reserved, 0.
    pub Flags: u32,
    /// Adapter-wide maximum number of QPs.
    pub MaxQpCount: u32,
    /// Adapter-wide maximum number of CQs.
    pub MaxCqCount: u32,
    /// Adapter-wide maximum number of MRs.
    pub MaxMrCount: u32,
    /// Adapter-wide maximum number of PDs.
    pub MaxPdCount: u32,
    /// Adapter-wide cap on inbound reads in progress (0 = none).
    pub MaxInboundReadLimit: u32,
    /// Adapter-wide cap on outbound reads in progress (0 = none).
    pub MaxOutboundReadLimit: u32,
    /// Adapter-wide maximum number of MWs.
    pub MaxMwCount: u32,
    /// Adapter-wide maximum number of SRQs (0 = no SRQ support).
    pub MaxSrqCount: u32,
    /// One bit per `NDIS_NDK_PERFORMANCE_COUNTERS` field the provider does not maintain.
    pub MissingCounterMask: u64,
    /// Must be non-null: same content `NdkQueryAdapterInfo` returns.
    pub NdkInfo: *mut NDK_ADAPTER_INFO,
}

/// `NDIS_SIZEOF_NDK_CAPABILITIES_REVISION_1` (through `NdkInfo`; 0x38 on x64).
#[allow(clippy::cast_possible_truncation)]
pub const NDIS_SIZEOF_NDK_CAPABILITIES_REVISION_1: u16 =
    (core::mem::offset_of!(NDIS_NDK_CAPABILITIES, NdkInfo) + size_of::<*mut NDK_ADAPTER_INFO>())
        as u16;

/// `NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES`: reported by `NdisMSetMiniportAttributes` in
/// `MiniportInitializeEx`, even while NDK is disabled (x64 size 16).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES {
    /// Type 0xB3, Revision 1, Size [`NDIS_SIZEOF_MINIPORT_ADAPTER_NDK_ATTRIBUTES_REVISION_1`].
    pub Header: NDIS_OBJECT_HEADER,
    /// Whether NDK is enabled now.
    pub Enabled: BOOLEAN,
    /// Must point at a filled `NDIS_NDK_CAPABILITIES`.
    pub NdkCapabilities: *mut NDIS_NDK_CAPABILITIES,
}

/// `NDIS_SIZEOF_MINIPORT_ADAPTER_NDK_ATTRIBUTES_REVISION_1` (through `NdkCapabilities`; 16 on x64).
#[allow(clippy::cast_possible_truncation)]
pub const NDIS_SIZEOF_MINIPORT_ADAPTER_NDK_ATTRIBUTES_REVISION_1: u16 =
    (core::mem::offset_of!(NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES, NdkCapabilities)
        + size_of::<*mut NDIS_NDK_CAPABILITIES>()) as u16;

/// `NDIS_NDK_STATISTICS_INFO_REVISION_1`.
pub const NDIS_NDK_STATISTICS_INFO_REVISION_1: u8 = 1;
/// `NDIS_NDK_CONNECTIONS_REVISION_1`.
pub const NDIS_NDK_CONNECTIONS_REVISION_1: u8 = 1;
/// `NDIS_NDK_LOCAL_ENDPOINTS_REVISION_1`.
pub const NDIS_NDK_LOCAL_ENDPOINTS_REVISION_1: u8 = 1;

/// Number of `ULONG64` counters in [`NDIS_NDK_PERFORMANCE_COUNTERS`].
pub const NDK_PERFORMANCE_COUNTERS: usize = 30;

/// `NDIS_NDK_PERFORMANCE_COUNTERS` (`ntddndis.h`): 30 `ULONG64`s; bit *i* of
/// `NDIS_NDK_CAPABILITIES::MissingCounterMask` stands for the counter at byte offset 8*i*.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct NDIS_NDK_PERFORMANCE_COUNTERS {
    /// Outbound connections established.
    pub Connect: u64,
    /// Inbound connections accepted.
    pub Accept: u64,
    /// Connection attempts that failed.
    pub ConnectFailure: u64,
    /// Established connections that later failed.
    pub ConnectionError: u64,
    /// Connections up now.
    pub ActiveConnection: u64,
    /// `Reserved01` .. `Reserved20`: 0.
    pub Reserved: [u64; 20],
    /// CQ errors.
    pub CQError: u64,
    /// Bytes received by RDMA.
    pub RDMAInOctets: u64,
    /// Bytes sent by RDMA.
    pub RDMAOutOctets: u64,
    /// Frames received by RDMA.
    pub RDMAInFrames: u64,
    /// Frames sent by RDMA.
    pub RDMAOutFrames: u64,
}

/// `NDIS_NDK_STATISTICS_INFO`: the `OID_NDK_STATISTICS` answer (x64 248 bytes).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct NDIS_NDK_STATISTICS_INFO {
    /// Type `NDIS_OBJECT_TYPE_DEFAULT`, Revision 1, Size
    /// [`NDIS_SIZEOF_NDK_STATISTICS_INFO_REVISION_1`].
    pub Header: NDIS_OBJECT_HEADER,
    /// Reserved, 0.
    pub Flags: u32,
    /// The counters.
    pub CounterSet: NDIS_NDK_PERFORMANCE_COUNTERS,
}

/// `NDIS_SIZEOF_NDK_STATISTICS_INFO_REVISION_1` (through `CounterSet`; 248).
pub const NDIS_SIZEOF_NDK_STATISTICS_INFO_REVISION_1: usize =
    core::mem::offset_of!(NDIS_NDK_STATISTICS_INFO, CounterSet)
        + size_of::<NDIS_NDK_PERFORMANCE_COUNTERS>();

/// `SOCKADDR_INET`: a `SOCKADDR_IN`, a `SOCKADDR_IN6` or just the family (28 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub union SOCKADDR_INET {
    /// `AF_INET`.
    pub Ipv4: SOCKADDR_IN,
    /// `AF_INET6`.
    pub Ipv6: SOCKADDR_IN6,
    /// The family of either arm.
    pub si_family: u16,
}

/// `NDIS_NDK_CONNECTION_ENTRY` (x64 64 bytes): one NetworkDirect connection.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_NDK_CONNECTION_ENTRY {
    /// Local address and port.
    pub Local: SOCKADDR_INET,
    /// Peer address and port.
    pub Remote: SOCKADDR_INET,
    /// TRUE for a user-mode ND connection (never, for a kernel-only provider).
    pub UserModeOwner: BOOLEAN,
    /// Owning process for user-mode connections, else 0.
    pub OwnerPid: u32,
}

/// `NDIS_NDK_CONNECTIONS`: the `OID_NDK_CONNECTIONS` answer, `Count` entries from
/// `Connections` on (declared with one, as the C `ANYSIZE_ARRAY`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_NDK_CONNECTIONS {
    /// Type `NDIS_OBJECT_TYPE_DEFAULT`, Revision 1, Size
    /// <code>[ndis_sizeof_ndk_connections_revision_1]\(Count)</code>.
    pub Header: NDIS_OBJECT_HEADER,
    /// Reserved, 0.
    pub Flags: u32,
    /// Entries that follow.
    pub Count: u32,
    /// TRUE when entries are ND/TCP pairs.
    pub NDConnectionsMappedtoTCPConnections: BOOLEAN,
    /// The entries.
    pub Connections: [NDIS_NDK_CONNECTION_ENTRY; 1],
}

/// `NDIS_NDK_LOCAL_ENDPOINT_ENTRY` (x64 36 bytes): one listener or bound endpoint.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_NDK_LOCAL_ENDPOINT_ENTRY {
    /// Local address and port.
    pub Local: SOCKADDR_INET,
    /// TRUE for a user-mode ND endpoint.
    pub UserModeOwner: BOOLEAN,
    /// TRUE for a listener.
    pub Listener: BOOLEAN,
    /// Owning process for user-mode endpoints, else 0.
    pub OwnerPid: u32,
}

/// `NDIS_NDK_LOCAL_ENDPOINTS`: the `OID_NDK_LOCAL_ENDPOINTS` answer, `Count` entries from
/// `LocalEndpoints` on.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_NDK_LOCAL_ENDPOINTS {
    /// Type `NDIS_OBJECT_TYPE_DEFAULT`, Revision 1, Size
    /// <code>[ndis_sizeof_ndk_local_endpoints_revision_1]\(Count)</code>.
    pub Header: NDIS_OBJECT_HEADER,
    /// Reserved, 0.
    pub Flags: u32,
    /// Entries that follow.
    pub Count: u32,
    /// TRUE when entries are ND/TCP pairs.
    pub NDLocalEndpointsMappedtoTCPLocalEndpoints: BOOLEAN,
    /// The entries.
    pub LocalEndpoints: [NDIS_NDK_LOCAL_ENDPOINT_ENTRY; 1],
}

/// Offset of the entry array in both lists: the size of an empty list.
pub const NDIS_NDK_LIST_HEADER_SIZE: usize =
    core::mem::offset_of!(NDIS_NDK_CONNECTIONS, Connections);

/// Bytes of an `NDIS_NDK_CONNECTIONS` with `count` entries (`None` if that overflows).
#[must_use]
pub const fn ndk_connections_size(count: usize) -> Option<usize> {
    match count.checked_mul(size_of::<NDIS_NDK_CONNECTION_ENTRY>()) {
        Some(entries) => NDIS_NDK_LIST_HEADER_SIZE.checked_add(entries),
        None => None,
    }
}

/// Bytes of an `NDIS_NDK_LOCAL_ENDPOINTS` with `count` entries (`None` if that overflows).
#[must_use]
pub const fn ndk_local_endpoints_size(count: usize) -> Option<usize> {
    match count.checked_mul(size_of::<NDIS_NDK_LOCAL_ENDPOINT_ENTRY>()) {
        Some(entries) => NDIS_NDK_LIST_HEADER_SIZE.checked_add(entries),
        None => None,
    }
}

/// `NDIS_SIZEOF_NDK_CONNECTIONS_REVISION_1(n)`: the header's `Size`, which saturates at
/// `0xFFFF` (readers size the list by `Count`).
#[must_use]
pub const fn ndis_sizeof_ndk_connections_revision_1(count: usize) -> u16 {
    saturate_u16(ndk_connections_size(count))
}

/// `NDIS_SIZEOF_NDK_LOCAL_ENDPOINTS_REVISION_1(n)`, saturating like the connections size.
#[must_use]
pub const fn ndis_sizeof_ndk_local_endpoints_revision_1(count: usize) -> u16 {
    saturate_u16(ndk_local_endpoints_size(count))
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "checked against u16::MAX first"
)]
const fn saturate_u16(size: Option<usize>) -> u16 {
    match size {
        Some(size) if size <= u16::MAX as usize => size as u16,
        _ => u16::MAX,
    }
}

const _: () = {
    use core::mem::offset_of;
    assert!(size_of::<NDIS_OBJECT_HEADER>() == 4);
    assert!(offset_of!(NDIS_OBJECT_HEADER, Revision) == 1);
    assert!(offset_of!(NDIS_OBJECT_HEADER, Size) == 2);
    assert!(size_of::<NDIS_OPEN_NDK_ADAPTER_PARAMETERS>() == 12);
    assert!(offset_of!(NDIS_OPEN_NDK_ADAPTER_PARAMETERS, Version) == 0);
    assert!(offset_of!(NDIS_OPEN_NDK_ADAPTER_PARAMETERS, SwitchId) == 4);
    assert!(offset_of!(NDIS_OPEN_NDK_ADAPTER_PARAMETERS, VPortId) == 8);
};

#[cfg(target_pointer_width = "64")]
const _: () = {
    use core::mem::offset_of;
    assert!(size_of::<NDIS_NDK_PROVIDER_CHARACTERISTICS>() == 24);
    assert!(offset_of!(NDIS_NDK_PROVIDER_CHARACTERISTICS, Flags) == 4);
    assert!(offset_of!(NDIS_NDK_PROVIDER_CHARACTERISTICS, OpenNDKAdapterHandler) == 8);
    assert!(offset_of!(NDIS_NDK_PROVIDER_CHARACTERISTICS, CloseNDKAdapterHandler) == 16);
    assert!(NDIS_SIZEOF_NDK_PROVIDER_CHARACTERISTICS_REVISION_1 == 24);

    assert!(size_of::<NDIS_NDK_CAPABILITIES>() == 0x38);
    assert!(offset_of!(NDIS_NDK_CAPABILITIES, Flags) == 0x04);
    assert!(offset_of!(NDIS_NDK_CAPABILITIES, MaxQpCount) == 0x08);
    assert!(offset_of!(NDIS_NDK_CAPABILITIES, MaxCqCount) == 0x0C);
    assert!(offset_of!(NDIS_NDK_CAPABILITIES, MaxMrCount) == 0x10);
    assert!(offset_of!(NDIS_NDK_CAPABILITIES, MaxPdCount) == 0x14);
    assert!(offset_of!(NDIS_NDK_CAPABILITIES, MaxInboundReadLimit) == 0x18);
    assert!(offset_of!(NDIS_NDK_CAPABILITIES, MaxOutboundReadLimit) == 0x1C);
    assert!(offset_of!(NDIS_NDK_CAPABILITIES, MaxMwCount) == 0x20);
    assert!(offset_of!(NDIS_NDK_CAPABILITIES, MaxSrqCount) == 0x24);
    assert!(offset_of!(NDIS_NDK_CAPABILITIES, MissingCounterMask) == 0x28);
    assert!(offset_of!(NDIS_NDK_CAPABILITIES, NdkInfo) == 0x30);
    assert!(NDIS_SIZEOF_NDK_CAPABILITIES_REVISION_1 == 0x38);

    assert!(size_of::<NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES>() == 16);
    assert!(offset_of!(NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES, Enabled) == 4);
    assert!(offset_of!(NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES, NdkCapabilities) == 8);
    assert!(NDIS_SIZEOF_MINIPORT_ADAPTER_NDK_ATTRIBUTES_REVISION_1 == 16);
};

// The NDK OID payloads have no pointers: the same layout on every target.
#[allow(
    clippy::items_after_statements,
    reason = "one alias per asserted struct, beside its assertions"
)]
const _: () = {
    use core::mem::{align_of, offset_of};
    type P = NDIS_NDK_PERFORMANCE_COUNTERS;
    assert!(size_of::<P>() == NDK_PERFORMANCE_COUNTERS * 8);
    assert!(offset_of!(P, ActiveConnection) == 4 * 8);
    assert!(offset_of!(P, Reserved) == 5 * 8);
    assert!(offset_of!(P, CQError) == 25 * 8);
    assert!(offset_of!(P, RDMAOutFrames) == 29 * 8);
    type S = NDIS_NDK_STATISTICS_INFO;
    assert!(offset_of!(S, Flags) == 4);
    assert!(offset_of!(S, CounterSet) == 8);
    assert!(NDIS_SIZEOF_NDK_STATISTICS_INFO_REVISION_1 == 248);
    assert!(size_of::<S>() == 248);
    assert!(size_of::<SOCKADDR_INET>() == 28);
    assert!(align_of::<SOCKADDR_INET>() == 4);
    type C = NDIS_NDK_CONNECTION_ENTRY;
    assert!(size_of::<C>() == 64);
    assert!(offset_of!(C, Remote) == 28);
    assert!(offset_of!(C, UserModeOwner) == 56);
    assert!(offset_of!(C, OwnerPid) == 60);
    type L = NDIS_NDK_CONNECTIONS;
    assert!(offset_of!(L, Flags) == 4);
    assert!(offset_of!(L, Count) == 8);
    assert!(offset_of!(L, NDConnectionsMappedtoTCPConnections) == 12);
    assert!(offset_of!(L, Connections) == 16);
    assert!(size_of::<L>() == 16 + 64);
    type E = NDIS_NDK_LOCAL_ENDPOINT_ENTRY;
    assert!(size_of::<E>() == 36);
    assert!(offset_of!(E, UserModeOwner) == 28);
    assert!(offset_of!(E, Listener) == 29);
    assert!(offset_of!(E, OwnerPid) == 32);
    type N = NDIS_NDK_LOCAL_ENDPOINTS;
    assert!(offset_of!(N, Count) == 8);
    assert!(offset_of!(N, NDLocalEndpointsMappedtoTCPLocalEndpoints) == 12);
    assert!(offset_of!(N, LocalEndpoints) == NDIS_NDK_LIST_HEADER_SIZE);
    assert!(NDIS_NDK_LIST_HEADER_SIZE == 16);
    assert!(ndis_sizeof_ndk_connections_revision_1(0) == 16);
    assert!(ndis_sizeof_ndk_connections_revision_1(2) == 16 + 128);
    assert!(ndis_sizeof_ndk_connections_revision_1(2000) == u16::MAX);
    assert!(ndis_sizeof_ndk_local_endpoints_revision_1(3) == 16 + 108);
};
