//! NDIS 6.x miniport structures (`ndis.h`).
//!
//! Driver characteristics and handler types, adapter attributes, the OID request,
//! configuration access. The data-path structures (`NET_BUFFER_LIST`, `NET_BUFFER`, pools)
//! are in [`super::nbl`].
//!
//! Every size/offset below is asserted against the x64 values in `spec/ndis-miniport.md`
//! §2.3–§2.9 (PDB-confirmed there) so a mistyped field fails the build on every target.

use core::ffi::c_void;
use core::mem::{offset_of, size_of};

use super::nbl::NET_BUFFER_LIST;

use super::{
    BOOLEAN, DRIVER_OBJECT, NDIS_HANDLE, NDIS_OBJECT_HEADER, NDIS_OID, NDIS_PORT_NUMBER,
    NDIS_STATUS, UNICODE_STRING,
};

pub use crate::abi::NDIS_OBJECT_TYPE_DEFAULT;
/// `NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS`.
pub const NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS: u8 = 0x8A;
/// `NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES`.
pub const NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES: u8 = 0x9E;
/// `NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES`.
pub const NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES: u8 = 0x9F;
/// `NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT`.
pub const NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT: u8 = 0xA9;

/// `NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2` (NDIS 6.1+, adds the direct-OID pair).
pub const NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2: u8 = 2;
/// `NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2`.
pub const NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2: usize = 0x98;
/// `NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_2` (NDIS 6.30).
pub const NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_2: u8 = 2;
/// `NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2` (NDIS 6.20+).
pub const NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2: u8 = 2;
/// `NDIS_CONFIGURATION_OBJECT_REVISION_1`.
pub const NDIS_CONFIGURATION_OBJECT_REVISION_1: u8 = 1;

/// `NDIS_MINIPORT_ATTRIBUTES_NDIS_WDM`.
pub const NDIS_MINIPORT_ATTRIBUTES_NDIS_WDM: u32 = 0x2;
/// `NDIS_MINIPORT_ATTRIBUTES_SURPRISE_REMOVE_OK`.
pub const NDIS_MINIPORT_ATTRIBUTES_SURPRISE_REMOVE_OK: u32 = 0x4;
/// `NDIS_MINIPORT_ATTRIBUTES_NO_PAUSE_ON_SUSPEND` (NDIS 6.30).
pub const NDIS_MINIPORT_ATTRIBUTES_NO_PAUSE_ON_SUSPEND: u32 = 0x100;
/// `NdisInterfaceInternal`.
pub const NDIS_INTERFACE_INTERNAL: u32 = 0;

/// `NdisMedium802_3`.
pub const NDIS_MEDIUM_802_3: u32 = 0;
/// `NdisPhysicalMedium802_3`.
pub const NDIS_PHYSICAL_MEDIUM_802_3: u32 = 14;
/// `MediaConnectStateConnected`.
pub const MEDIA_CONNECT_STATE_CONNECTED: u32 = 1;
/// `MediaDuplexStateFull`.
pub const MEDIA_DUPLEX_STATE_FULL: u32 = 2;
/// `NET_IF_ACCESS_BROADCAST`.
pub const NET_IF_ACCESS_BROADCAST: u32 = 2;
/// `NET_IF_DIRECTION_SENDRECEIVE`.
pub const NET_IF_DIRECTION_SENDRECEIVE: u32 = 0;
/// `NET_IF_CONNECTION_DEDICATED`.
pub const NET_IF_CONNECTION_DEDICATED: u32 = 1;
/// `IF_TYPE_ETHERNET_CSMACD`.
pub const IF_TYPE_ETHERNET_CSMACD: u16 = 6;
/// `NdisPauseFunctionsUnsupported`.
pub const NDIS_PAUSE_FUNCTIONS_UNSUPPORTED: u32 = 0;
/// `NDIS_MAC_OPTION_COPY_LOOKAHEAD_DATA`.
pub const NDIS_MAC_OPTION_COPY_LOOKAHEAD_DATA: u32 = 0x1;
/// `NDIS_MAC_OPTION_TRANSFERS_NOT_PEND`.
pub const NDIS_MAC_OPTION_TRANSFERS_NOT_PEND: u32 = 0x4;
/// `NDIS_MAC_OPTION_NO_LOOPBACK`.
pub const NDIS_MAC_OPTION_NO_LOOPBACK: u32 = 0x8;
/// `NDIS_MAX_PHYS_ADDRESS_LENGTH`.
pub const NDIS_MAX_PHYS_ADDRESS_LENGTH: usize = 32;

/// `NdisParameterInteger`.
pub const NDIS_PARAMETER_INTEGER: u32 = 0;

/// `MINIPORT_SET_OPTIONS` (PASSIVE).
pub type SET_OPTIONS_HANDLER = unsafe extern "system" fn(
    NdisDriverHandle: NDIS_HANDLE,
    DriverContext: NDIS_HANDLE,
) -> NDIS_STATUS;
/// `MINIPORT_INITIALIZE` (PASSIVE).
pub type MINIPORT_INITIALIZE_HANDLER = unsafe extern "system" fn(
    NdisMiniportHandle: NDIS_HANDLE,
    MiniportDriverContext: NDIS_HANDLE,
    MiniportInitParameters: *mut NDIS_MINIPORT_INIT_PARAMETERS,
) -> NDIS_STATUS;
/// `MINIPORT_HALT` (PASSIVE).
pub type MINIPORT_HALT_HANDLER =
    unsafe extern "system" fn(MiniportAdapterContext: NDIS_HANDLE, HaltAction: u32);
/// `MINIPORT_UNLOAD` (PASSIVE).
pub type MINIPORT_DRIVER_UNLOAD = unsafe extern "system" fn(DriverObject: *mut DRIVER_OBJECT);
/// `MINIPORT_PAUSE` (PASSIVE).
pub type MINIPORT_PAUSE_HANDLER = unsafe extern "system" fn(
    MiniportAdapterContext: NDIS_HANDLE,
    PauseParameters: *mut c_void,
) -> NDIS_STATUS;
/// `MINIPORT_RESTART` (PASSIVE).
pub type MINIPORT_RESTART_HANDLER = unsafe extern "system" fn(
    MiniportAdapterContext: NDIS_HANDLE,
    RestartParameters: *mut c_void,
) -> NDIS_STATUS;
/// `MINIPORT_OID_REQUEST` (regular: PASSIVE; direct: <= DISPATCH).
pub type MINIPORT_OID_REQUEST_HANDLER = unsafe extern "system" fn(
    MiniportAdapterContext: NDIS_HANDLE,
    OidRequest: *mut NDIS_OID_REQUEST,
) -> NDIS_STATUS;
/// `MINIPORT_SEND_NET_BUFFER_LISTS` (<= DISPATCH).
pub type MINIPORT_SEND_NET_BUFFER_LISTS_HANDLER = unsafe extern "system" fn(
    MiniportAdapterContext: NDIS_HANDLE,
    NetBufferList: *mut NET_BUFFER_LIST,
    PortNumber: NDIS_PORT_NUMBER,
    SendFlags: u32,
);
/// `MINIPORT_RETURN_NET_BUFFER_LISTS` (<= DISPATCH).
pub type MINIPORT_RETURN_NET_BUFFER_LISTS_HANDLER = unsafe extern "system" fn(
    MiniportAdapterContext: NDIS_HANDLE,
    NetBufferLists: *mut NET_BUFFER_LIST,
    ReturnFlags: u32,
);
/// `MINIPORT_CANCEL_SEND` (<= DISPATCH).
pub type MINIPORT_CANCEL_SEND_HANDLER =
    unsafe extern "system" fn(MiniportAdapterContext: NDIS_HANDLE, CancelId: *mut c_void);
/// `MINIPORT_CHECK_FOR_HANG`.
pub type MINIPORT_CHECK_FOR_HANG_HANDLER =
    unsafe extern "system" fn(MiniportAdapterContext: NDIS_HANDLE) -> BOOLEAN;
/// `MINIPORT_RESET`.
pub type MINIPORT_RESET_HANDLER = unsafe extern "system" fn(
    MiniportAdapterContext: NDIS_HANDLE,
    AddressingReset: *mut BOOLEAN,
) -> NDIS_STATUS;
/// `MINIPORT_DEVICE_PNP_EVENT_NOTIFY` (PASSIVE).
pub type MINIPORT_DEVICE_PNP_EVENT_NOTIFY_HANDLER =
    unsafe extern "system" fn(MiniportAdapterContext: NDIS_HANDLE, NetDevicePnPEvent: *mut c_void);
/// `MINIPORT_SHUTDOWN` (PASSIVE for power-off, any IRQL for bug check).
pub type MINIPORT_SHUTDOWN_HANDLER =
    unsafe extern "system" fn(MiniportAdapterContext: NDIS_HANDLE, ShutdownAction: u32);
/// `MINIPORT_CANCEL_OID_REQUEST` (<= DISPATCH).
pub type MINIPORT_CANCEL_OID_REQUEST_HANDLER =
    unsafe extern "system" fn(MiniportAdapterContext: NDIS_HANDLE, RequestId: *mut c_void);

/// `NDIS_MINIPORT_DRIVER_CHARACTERISTICS` through revision 2 (x64 0x98).
#[repr(C)]
pub struct NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
    /// Type 0x8A, revision 2, size 0x98.
    pub Header: NDIS_OBJECT_HEADER,
    /// 6.
    pub MajorNdisVersion: u8,
    /// 30 or above for NDK.
    pub MinorNdisVersion: u8,
    /// Driver's own major version.
    pub MajorDriverVersion: u8,
    /// Driver's own minor version.
    pub MinorDriverVersion: u8,
    /// 0 for a plain miniport.
    pub Flags: u32,
    /// Registers the NDK handlers.
    pub SetOptionsHandler: Option<SET_OPTIONS_HANDLER>,
    /// `MiniportInitializeEx`.
    pub InitializeHandlerEx: Option<MINIPORT_INITIALIZE_HANDLER>,
    /// `MiniportHaltEx`.
    pub HaltHandlerEx: Option<MINIPORT_HALT_HANDLER>,
    /// `MiniportDriverUnload`.
    pub UnloadHandler: Option<MINIPORT_DRIVER_UNLOAD>,
    /// `MiniportPause`.
    pub PauseHandler: Option<MINIPORT_PAUSE_HANDLER>,
    /// `MiniportRestart`.
    pub RestartHandler: Option<MINIPORT_RESTART_HANDLER>,
    /// `MiniportOidRequest`.
    pub OidRequestHandler: Option<MINIPORT_OID_REQUEST_HANDLER>,
    /// `MiniportSendNetBufferLists`.
    pub SendNetBufferListsHandler: Option<MINIPORT_SEND_NET_BUFFER_LISTS_HANDLER>,
    /// `MiniportReturnNetBufferLists`.
    pub ReturnNetBufferListsHandler: Option<MINIPORT_RETURN_NET_BUFFER_LISTS_HANDLER>,
    /// `MiniportCancelSend`.
    pub CancelSendHandler: Option<MINIPORT_CANCEL_SEND_HANDLER>,
    /// `MiniportCheckForHangEx` (NULL for a virtual miniport).
    pub CheckForHangHandlerEx: Option<MINIPORT_CHECK_FOR_HANG_HANDLER>,
    /// `MiniportResetEx` (optional).
    pub ResetHandlerEx: Option<MINIPORT_RESET_HANDLER>,
    /// `MiniportDevicePnPEventNotify`.
    pub DevicePnPEventNotifyHandler: Option<MINIPORT_DEVICE_PNP_EVENT_NOTIFY_HANDLER>,
    /// `MiniportShutdownEx`.
    pub ShutdownHandlerEx: Option<MINIPORT_SHUTDOWN_HANDLER>,
    /// `MiniportCancelOidRequest`.
    pub CancelOidRequestHandler: Option<MINIPORT_CANCEL_OID_REQUEST_HANDLER>,
    /// `MiniportDirectOidRequest` (revision 2).
    pub DirectOidRequestHandler: Option<MINIPORT_OID_REQUEST_HANDLER>,
    /// `MiniportCancelDirectOidRequest` (revision 2).
    pub CancelDirectOidRequestHandler: Option<MINIPORT_CANCEL_OID_REQUEST_HANDLER>,
}

#[allow(
    clippy::items_after_statements,
    reason = "one alias per asserted struct, beside its assertions"
)]
const _: () = {
    type C = NDIS_MINIPORT_DRIVER_CHARACTERISTICS;
    assert!(size_of::<C>() == NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2);
    assert!(offset_of!(C, Flags) == 0x08);
    assert!(offset_of!(C, SetOptionsHandler) == 0x10);
    assert!(offset_of!(C, InitializeHandlerEx) == 0x18);
    assert!(offset_of!(C, HaltHandlerEx) == 0x20);
    assert!(offset_of!(C, UnloadHandler) == 0x28);
    assert!(offset_of!(C, PauseHandler) == 0x30);
    assert!(offset_of!(C, RestartHandler) == 0x38);
    assert!(offset_of!(C, OidRequestHandler) == 0x40);
    assert!(offset_of!(C, SendNetBufferListsHandler) == 0x48);
    assert!(offset_of!(C, ReturnNetBufferListsHandler) == 0x50);
    assert!(offset_of!(C, CancelSendHandler) == 0x58);
    assert!(offset_of!(C, CheckForHangHandlerEx) == 0x60);
    assert!(offset_of!(C, ResetHandlerEx) == 0x68);
    assert!(offset_of!(C, DevicePnPEventNotifyHandler) == 0x70);
    assert!(offset_of!(C, ShutdownHandlerEx) == 0x78);
    assert!(offset_of!(C, CancelOidRequestHandler) == 0x80);
    assert!(offset_of!(C, DirectOidRequestHandler) == 0x88);
    assert!(offset_of!(C, CancelDirectOidRequestHandler) == 0x90);
};

/// `NDIS_MINIPORT_INIT_PARAMETERS` (read-only view; NDIS fills it).
#[repr(C)]
pub struct NDIS_MINIPORT_INIT_PARAMETERS {
    /// Type 0x81.
    pub Header: NDIS_OBJECT_HEADER,
    /// Reserved flags.
    pub Flags: u32,
    /// Empty for a root-enumerated virtual device.
    pub AllocatedResources: *mut c_void,
    /// IM drivers only.
    pub IMDeviceInstanceContext: NDIS_HANDLE,
    /// From `MiniportAddDevice`, unused here.
    pub MiniportAddDeviceContext: NDIS_HANDLE,
    /// `NET_IFINDEX` NDK consumers select the adapter by.
    pub IfIndex: u32,
    /// `NET_LUID`.
    pub NetLuid: u64,
    /// Port authentication defaults.
    pub DefaultPortAuthStates: *mut c_void,
    /// PCI properties (none for a virtual device).
    pub PciDeviceCustomProperties: *mut c_void,
}

#[allow(
    clippy::items_after_statements,
    reason = "one alias per asserted struct, beside its assertions"
)]
const _: () = {
    type P = NDIS_MINIPORT_INIT_PARAMETERS;
    assert!(offset_of!(P, AllocatedResources) == 0x08);
    assert!(offset_of!(P, IfIndex) == 0x20);
    assert!(offset_of!(P, NetLuid) == 0x28);
    assert!(offset_of!(P, PciDeviceCustomProperties) == 0x38);
};

/// `NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES` (x64 0x20).
#[repr(C)]
pub struct NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES {
    /// Type 0x9E, revision 2, size 0x20.
    pub Header: NDIS_OBJECT_HEADER,
    /// What NDIS hands back to every handler (and the NDK open/close handlers).
    pub MiniportAdapterContext: NDIS_HANDLE,
    /// `NDIS_MINIPORT_ATTRIBUTES_*`.
    pub AttributeFlags: u32,
    /// 0 = default.
    pub CheckForHangTimeInSeconds: u32,
    /// `NDIS_INTERFACE_TYPE`.
    pub InterfaceType: u32,
}

#[allow(
    clippy::items_after_statements,
    reason = "one alias per asserted struct, beside its assertions"
)]
const _: () = {
    type R = NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES;
    assert!(size_of::<R>() == 0x20);
    assert!(offset_of!(R, MiniportAdapterContext) == 0x08);
    assert!(offset_of!(R, AttributeFlags) == 0x10);
    assert!(offset_of!(R, CheckForHangTimeInSeconds) == 0x14);
    assert!(offset_of!(R, InterfaceType) == 0x18);
};

/// `NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES` (x64 0xE0).
#[repr(C)]
pub struct NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES {
    /// Type 0x9F, revision 2, size 0xE0.
    pub Header: NDIS_OBJECT_HEADER,
    /// 0.
    pub Flags: u32,
    /// `NDIS_MEDIUM`.
    pub MediaType: u32,
    /// `NDIS_PHYSICAL_MEDIUM`.
    pub PhysicalMediumType: u32,
    /// Payload MTU.
    pub MtuSize: u32,
    /// Bits per second.
    pub MaxXmitLinkSpeed: u64,
    /// Bits per second.
    pub XmitLinkSpeed: u64,
    /// Bits per second.
    pub MaxRcvLinkSpeed: u64,
    /// Bits per second.
    pub RcvLinkSpeed: u64,
    /// `NET_IF_MEDIA_CONNECT_STATE`.
    pub MediaConnectState: u32,
    /// `NET_IF_MEDIA_DUPLEX_STATE`.
    pub MediaDuplexState: u32,
    /// Lookahead bytes.
    pub LookaheadSize: u32,
    /// NULL for NDIS 6.20+ drivers.
    pub PowerManagementCapabilities: *mut c_void,
    /// `NDIS_MAC_OPTION_*`.
    pub MacOptions: u32,
    /// `NDIS_PACKET_TYPE_*`.
    pub SupportedPacketFilters: u32,
    /// Multicast list capacity.
    pub MaxMulticastListSize: u32,
    /// 6 for Ethernet.
    pub MacAddressLength: u16,
    /// Burned-in address.
    pub PermanentMacAddress: [u8; NDIS_MAX_PHYS_ADDRESS_LENGTH],
    /// Address in use.
    pub CurrentMacAddress: [u8; NDIS_MAX_PHYS_ADDRESS_LENGTH],
    /// NULL: no RSS.
    pub RecvScaleCapabilities: *mut c_void,
    /// `NET_IF_ACCESS_TYPE`.
    pub AccessType: u32,
    /// `NET_IF_DIRECTION_TYPE`.
    pub DirectionType: u32,
    /// `NET_IF_CONNECTION_TYPE`.
    pub ConnectionType: u32,
    /// `NET_IFTYPE` (a USHORT).
    pub IfType: u16,
    /// FALSE for a virtual adapter.
    pub IfConnectorPresent: BOOLEAN,
    /// `NDIS_STATISTICS_FLAGS_VALID_*`.
    pub SupportedStatistics: u32,
    /// `NDIS_SUPPORTED_PAUSE_FUNCTIONS`.
    pub SupportedPauseFunctions: u32,
    /// 0.
    pub DataBackFillSize: u32,
    /// 0.
    pub ContextBackFillSize: u32,
    /// Every OID the miniport answers (NDIS copies the array).
    pub SupportedOidList: *const NDIS_OID,
    /// Length of the list in bytes.
    pub SupportedOidListLength: u32,
    /// `NDIS_LINK_STATE_*_AUTO_NEGOTIATED`.
    pub AutoNegotiationFlags: u32,
    /// NULL: no wake support (revision 2).
    pub PowerManagementCapabilitiesEx: *mut c_void,
}

#[allow(
    clippy::items_after_statements,
    reason = "one alias per asserted struct, beside its assertions"
)]
const _: () = {
    type G = NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES;
    assert!(size_of::<G>() == 0xE0);
    assert!(offset_of!(G, MediaType) == 0x08);
    assert!(offset_of!(G, PhysicalMediumType) == 0x0C);
    assert!(offset_of!(G, MtuSize) == 0x10);
    assert!(offset_of!(G, MaxXmitLinkSpeed) == 0x18);
    assert!(offset_of!(G, RcvLinkSpeed) == 0x30);
    assert!(offset_of!(G, MediaConnectState) == 0x38);
    assert!(offset_of!(G, MediaDuplexState) == 0x3C);
    assert!(offset_of!(G, LookaheadSize) == 0x40);
    assert!(offset_of!(G, PowerManagementCapabilities) == 0x48);
    assert!(offset_of!(G, MacOptions) == 0x50);
    assert!(offset_of!(G, SupportedPacketFilters) == 0x54);
    assert!(offset_of!(G, MaxMulticastListSize) == 0x58);
    assert!(offset_of!(G, MacAddressLength) == 0x5C);
    assert!(offset_of!(G, PermanentMacAddress) == 0x5E);
    assert!(offset_of!(G, CurrentMacAddress) == 0x7E);
    assert!(offset_of!(G, RecvScaleCapabilities) == 0xA0);
    assert!(offset_of!(G, AccessType) == 0xA8);
    assert!(offset_of!(G, DirectionType) == 0xAC);
    assert!(offset_of!(G, ConnectionType) == 0xB0);
    assert!(offset_of!(G, IfType) == 0xB4);
    assert!(offset_of!(G, IfConnectorPresent) == 0xB6);
    assert!(offset_of!(G, SupportedStatistics) == 0xB8);
    assert!(offset_of!(G, SupportedPauseFunctions) == 0xBC);
    assert!(offset_of!(G, DataBackFillSize) == 0xC0);
    assert!(offset_of!(G, ContextBackFillSize) == 0xC4);
    assert!(offset_of!(G, SupportedOidList) == 0xC8);
    assert!(offset_of!(G, SupportedOidListLength) == 0xD0);
    assert!(offset_of!(G, AutoNegotiationFlags) == 0xD4);
    assert!(offset_of!(G, PowerManagementCapabilitiesEx) == 0xD8);
};

/// `NDIS_REQUEST_TYPE` values this miniport tells apart.
pub mod request_type {
    /// `NdisRequestQueryInformation`.
    pub const QUERY_INFORMATION: u32 = 0;
    /// `NdisRequestSetInformation`.
    pub const SET_INFORMATION: u32 = 1;
    /// `NdisRequestQueryStatistics`: answered like a query.
    pub const QUERY_STATISTICS: u32 = 2;
    /// `NdisRequestMethod`.
    pub const METHOD: u32 = 12;
}

/// `DATA.QUERY_INFORMATION` / `DATA.SET_INFORMATION` of [`NDIS_OID_REQUEST`] (same layout;
/// `BytesWritten` is `BytesRead` for sets).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_OID_REQUEST_QUERY_SET {
    /// The OID.
    pub Oid: NDIS_OID,
    /// Caller's buffer (may be NULL when the length is 0).
    pub InformationBuffer: *mut c_void,
    /// Its length in bytes.
    pub InformationBufferLength: u32,
    /// `BytesWritten` (query) or `BytesRead` (set).
    pub BytesWrittenOrRead: u32,
    /// Bytes the request needs when the buffer is too short.
    pub BytesNeeded: u32,
}

/// `DATA.METHOD_INFORMATION` of [`NDIS_OID_REQUEST`].
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NDIS_OID_REQUEST_METHOD {
    /// The OID.
    pub Oid: NDIS_OID,
    /// In/out buffer.
    pub InformationBuffer: *mut c_void,
    /// Input bytes.
    pub InputBufferLength: u32,
    /// Output capacity.
    pub OutputBufferLength: u32,
    /// Method selector.
    pub MethodId: u32,
    /// Bytes written.
    pub BytesWritten: u32,
    /// Bytes read.
    pub BytesRead: u32,
    /// Bytes needed.
    pub BytesNeeded: u32,
}

/// The `DATA` union of [`NDIS_OID_REQUEST`].
#[repr(C)]
#[derive(Clone, Copy)]
pub union NDIS_OID_REQUEST_DATA {
    /// Query and set requests.
    pub QUERY_SET: NDIS_OID_REQUEST_QUERY_SET,
    /// Method requests.
    pub METHOD_INFORMATION: NDIS_OID_REQUEST_METHOD,
}

/// `NDIS_OID_REQUEST` (x64 0xF8). NDIS fills it; the miniport reads it and writes the
/// byte counts.
#[repr(C)]
pub struct NDIS_OID_REQUEST {
    /// Type 0x96.
    pub Header: NDIS_OBJECT_HEADER,
    /// `NDIS_REQUEST_TYPE` ([`request_type`]).
    pub RequestType: u32,
    /// Port.
    pub PortNumber: NDIS_PORT_NUMBER,
    /// Seconds.
    pub Timeout: u32,
    /// Matches `MiniportCancelOidRequest`'s `RequestId`.
    pub RequestId: *mut c_void,
    /// NDIS's handle.
    pub RequestHandle: NDIS_HANDLE,
    /// Request-type-specific data.
    pub DATA: NDIS_OID_REQUEST_DATA,
    /// NDIS's.
    pub NdisReserved: [usize; 16],
    /// Ours while we own a pended request.
    pub MiniportReserved: [usize; 2],
    /// The source's.
    pub SourceReserved: [usize; 2],
    /// Revision the source supports.
    pub SupportedRevision: u8,
    /// Reserved.
    pub Reserved1: u8,
    /// Reserved.
    pub Reserved2: u16,
    /// NIC switch (revision 2).
    pub SwitchId: u32,
    /// vPort (revision 2).
    pub VPortId: u32,
    /// Flags (revision 2).
    pub Flags: u32,
}

#[allow(
    clippy::items_after_statements,
    reason = "one alias per asserted struct, beside its assertions"
)]
const _: () = {
    type O = NDIS_OID_REQUEST;
    type Q = NDIS_OID_REQUEST_QUERY_SET;
    type M = NDIS_OID_REQUEST_METHOD;
    assert!(size_of::<O>() == 0xF8);
    assert!(offset_of!(O, RequestType) == 0x04);
    assert!(offset_of!(O, PortNumber) == 0x08);
    assert!(offset_of!(O, Timeout) == 0x0C);
    assert!(offset_of!(O, RequestId) == 0x10);
    assert!(offset_of!(O, RequestHandle) == 0x18);
    assert!(offset_of!(O, DATA) == 0x20);
    assert!(offset_of!(O, NdisReserved) == 0x48);
    assert!(offset_of!(O, MiniportReserved) == 0xC8);
    assert!(offset_of!(O, SourceReserved) == 0xD8);
    assert!(offset_of!(O, SupportedRevision) == 0xE8);
    assert!(offset_of!(O, SwitchId) == 0xEC);
    assert!(offset_of!(O, Flags) == 0xF4);
    assert!(offset_of!(Q, InformationBuffer) == 0x08);
    assert!(offset_of!(Q, InformationBufferLength) == 0x10);
    assert!(offset_of!(Q, BytesWrittenOrRead) == 0x14);
    assert!(offset_of!(Q, BytesNeeded) == 0x18);
    assert!(offset_of!(M, BytesNeeded) == 0x24);
    assert!(size_of::<NDIS_OID_REQUEST_DATA>() == 0x28);
};

/// `NDIS_CONFIGURATION_OBJECT` (x64 0x18).
#[repr(C)]
pub struct NDIS_CONFIGURATION_OBJECT {
    /// Type 0xA9, revision 1, size 0x18.
    pub Header: NDIS_OBJECT_HEADER,
    /// The miniport adapter handle (per-adapter keywords).
    pub NdisHandle: NDIS_HANDLE,
    /// 0.
    pub Flags: u32,
}

const _: () = assert!(size_of::<NDIS_CONFIGURATION_OBJECT>() == 0x18);
const _: () = assert!(offset_of!(NDIS_CONFIGURATION_OBJECT, Flags) == 0x10);

/// `NDIS_CONFIGURATION_PARAMETER` with the integer arm of its union (the only one read).
#[repr(C)]
pub struct NDIS_CONFIGURATION_PARAMETER {
    /// `NDIS_PARAMETER_TYPE`.
    pub ParameterType: u32,
    /// Padding: the union holds an `NDIS_STRING`, so it is pointer-aligned.
    pub UnionAlignment: u32,
    /// `ParameterData.IntegerData`.
    pub IntegerData: u32,
    /// Rest of the union (`NDIS_STRING`/`BINARY_DATA`).
    pub RestOfUnion: [u32; 3],
}

const _: () = assert!(offset_of!(NDIS_CONFIGURATION_PARAMETER, IntegerData) == 8);
const _: () = assert!(size_of::<NDIS_CONFIGURATION_PARAMETER>() == 0x18);

/// `NDIS_STRING`.
pub type NDIS_STRING = UNICODE_STRING;

/// `NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS`.
pub const NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS: u8 = 0x97;
/// `NDIS_TIMER_CHARACTERISTICS_REVISION_1`.
pub const NDIS_TIMER_CHARACTERISTICS_REVISION_1: u8 = 1;
/// `NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1` (x64).
pub const NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1: u16 = 24;

/// `NDIS_TIMER_FUNCTION`: runs at `DISPATCH_LEVEL` (a DPC) with the context the timer was set
/// with in the second argument.
pub type NDIS_TIMER_FUNCTION = unsafe extern "system" fn(
    SystemSpecific1: *mut core::ffi::c_void,
    FunctionContext: *mut core::ffi::c_void,
    SystemSpecific2: *mut core::ffi::c_void,
    SystemSpecific3: *mut core::ffi::c_void,
);

/// `NDIS_TIMER_CHARACTERISTICS` (`NdisAllocateTimerObject`).
#[repr(C)]
pub struct NDIS_TIMER_CHARACTERISTICS {
    /// Type 0x97, revision 1, size 24.
    pub Header: NDIS_OBJECT_HEADER,
    /// Pool tag of the timer object.
    pub AllocationTag: u32,
    /// The timer function.
    pub TimerFunction: NDIS_TIMER_FUNCTION,
    /// Default context (`NdisSetTimerObject` may pass another).
    pub FunctionContext: *mut core::ffi::c_void,
}

const _: () = assert!(
    size_of::<NDIS_TIMER_CHARACTERISTICS>()
        == NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1 as usize
);
const _: () = assert!(offset_of!(NDIS_TIMER_CHARACTERISTICS, TimerFunction) == 8);
