//! OID numbers (`ntddndis.h`) and the fixed-layout payloads of their answers.
//!
//! The miniport reads or writes these payloads for the OIDs (`spec/ndis-miniport.md` §1.9, §2.9). Payloads are encoded byte by byte by
//! `miniport::oid`; the structs here exist to pin the sizes and offsets it writes.

use core::mem::{offset_of, size_of};

use super::NDIS_OBJECT_HEADER;

/// `OID_GEN_SUPPORTED_LIST` (answered by NDIS from the general attributes).
pub const OID_GEN_SUPPORTED_LIST: u32 = 0x0001_0101;
/// `OID_GEN_TRANSMIT_BUFFER_SPACE`.
pub const OID_GEN_TRANSMIT_BUFFER_SPACE: u32 = 0x0001_0108;
/// `OID_GEN_RECEIVE_BUFFER_SPACE`.
pub const OID_GEN_RECEIVE_BUFFER_SPACE: u32 = 0x0001_0109;
/// `OID_GEN_TRANSMIT_BLOCK_SIZE`.
pub const OID_GEN_TRANSMIT_BLOCK_SIZE: u32 = 0x0001_010A;
/// `OID_GEN_RECEIVE_BLOCK_SIZE`.
pub const OID_GEN_RECEIVE_BLOCK_SIZE: u32 = 0x0001_010B;
/// `OID_GEN_VENDOR_ID`.
pub const OID_GEN_VENDOR_ID: u32 = 0x0001_010C;
/// `OID_GEN_VENDOR_DESCRIPTION`.
pub const OID_GEN_VENDOR_DESCRIPTION: u32 = 0x0001_010D;
/// `OID_GEN_CURRENT_PACKET_FILTER`.
pub const OID_GEN_CURRENT_PACKET_FILTER: u32 = 0x0001_010E;
/// `OID_GEN_CURRENT_LOOKAHEAD`.
pub const OID_GEN_CURRENT_LOOKAHEAD: u32 = 0x0001_010F;
/// `OID_GEN_MAXIMUM_TOTAL_SIZE`.
pub const OID_GEN_MAXIMUM_TOTAL_SIZE: u32 = 0x0001_0111;
/// `OID_GEN_VENDOR_DRIVER_VERSION`.
pub const OID_GEN_VENDOR_DRIVER_VERSION: u32 = 0x0001_0116;
/// `OID_GEN_LINK_PARAMETERS`.
pub const OID_GEN_LINK_PARAMETERS: u32 = 0x0001_0208;
/// `OID_GEN_INTERRUPT_MODERATION`.
pub const OID_GEN_INTERRUPT_MODERATION: u32 = 0x0001_0209;
/// `OID_GEN_XMIT_OK`.
pub const OID_GEN_XMIT_OK: u32 = 0x0002_0101;
/// `OID_GEN_RCV_OK`.
pub const OID_GEN_RCV_OK: u32 = 0x0002_0102;
/// `OID_GEN_STATISTICS`.
pub const OID_GEN_STATISTICS: u32 = 0x0002_0106;
/// `OID_802_3_PERMANENT_ADDRESS`.
pub const OID_802_3_PERMANENT_ADDRESS: u32 = 0x0101_0101;
/// `OID_802_3_CURRENT_ADDRESS`.
pub const OID_802_3_CURRENT_ADDRESS: u32 = 0x0101_0102;
/// `OID_802_3_MULTICAST_LIST`.
pub const OID_802_3_MULTICAST_LIST: u32 = 0x0101_0103;
/// `OID_802_3_MAXIMUM_LIST_SIZE`.
pub const OID_802_3_MAXIMUM_LIST_SIZE: u32 = 0x0101_0104;
/// `OID_PNP_SET_POWER`.
pub const OID_PNP_SET_POWER: u32 = 0xFD01_0101;
/// `OID_PNP_QUERY_POWER`.
pub const OID_PNP_QUERY_POWER: u32 = 0xFD01_0102;
pub use crate::abi::{
    NDIS_NDK_CONNECTIONS_REVISION_1, NDIS_NDK_LIST_HEADER_SIZE,
    NDIS_NDK_LOCAL_ENDPOINTS_REVISION_1, NDIS_NDK_STATISTICS_INFO_REVISION_1,
    NDIS_SIZEOF_NDK_STATISTICS_INFO_REVISION_1, OID_NDK_CONNECTIONS, OID_NDK_LOCAL_ENDPOINTS,
    OID_NDK_SET_STATE, OID_NDK_STATISTICS,
};

/// `NDIS_PACKET_TYPE_DIRECTED`.
pub const NDIS_PACKET_TYPE_DIRECTED: u32 = 0x0000_0001;
/// `NDIS_PACKET_TYPE_MULTICAST`.
pub const NDIS_PACKET_TYPE_MULTICAST: u32 = 0x0000_0002;
/// `NDIS_PACKET_TYPE_ALL_MULTICAST`.
pub const NDIS_PACKET_TYPE_ALL_MULTICAST: u32 = 0x0000_0004;
/// `NDIS_PACKET_TYPE_BROADCAST`.
pub const NDIS_PACKET_TYPE_BROADCAST: u32 = 0x0000_0008;
/// `NDIS_PACKET_TYPE_PROMISCUOUS`.
pub const NDIS_PACKET_TYPE_PROMISCUOUS: u32 = 0x0000_0020;

/// `NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_XMIT`.
pub const NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_XMIT: u32 = 0x0000_0040;
/// `NDIS_STATISTICS_FLAGS_VALID_BYTES_XMIT`.
pub const NDIS_STATISTICS_FLAGS_VALID_BYTES_XMIT: u32 = 0x0000_0200;
/// `NDIS_STATISTICS_FLAGS_VALID_XMIT_DISCARDS`.
pub const NDIS_STATISTICS_FLAGS_VALID_XMIT_DISCARDS: u32 = 0x0000_8000;
/// `NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_RCV`.
pub const NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_RCV: u32 = 0x0000_0001;
/// `NDIS_STATISTICS_FLAGS_VALID_BYTES_RCV`.
pub const NDIS_STATISTICS_FLAGS_VALID_BYTES_RCV: u32 = 0x0000_0008;
/// `NDIS_STATISTICS_FLAGS_VALID_RCV_DISCARDS`.
pub const NDIS_STATISTICS_FLAGS_VALID_RCV_DISCARDS: u32 = 0x0000_0010;

/// `NdisInterruptModerationNotSupported`.
pub const NDIS_INTERRUPT_MODERATION_NOT_SUPPORTED: u32 = 1;
/// `NDIS_INTERRUPT_MODERATION_PARAMETERS_REVISION_1`.
pub const NDIS_INTERRUPT_MODERATION_PARAMETERS_REVISION_1: u8 = 1;
/// `NDIS_STATISTICS_INFO_REVISION_1`.
pub const NDIS_STATISTICS_INFO_REVISION_1: u8 = 1;
/// `NDIS_LINK_PARAMETERS_REVISION_1`.
pub const NDIS_LINK_PARAMETERS_REVISION_1: u8 = 1;

/// `NDIS_INTERRUPT_MODERATION_PARAMETERS` (12 bytes).
#[repr(C)]
pub struct NDIS_INTERRUPT_MODERATION_PARAMETERS {
    /// Type 0x80, revision 1, size 12.
    pub Header: NDIS_OBJECT_HEADER,
    /// Flags.
    pub Flags: u32,
    /// `NDIS_INTERRUPT_MODERATION`.
    pub InterruptModeration: u32,
}

/// `NDIS_LINK_PARAMETERS` (x64 0x20).
#[repr(C)]
pub struct NDIS_LINK_PARAMETERS {
    /// Type 0x80, revision 1, size 0x20.
    pub Header: NDIS_OBJECT_HEADER,
    /// `NET_IF_MEDIA_DUPLEX_STATE`.
    pub MediaDuplexState: u32,
    /// Bits per second.
    pub XmitLinkSpeed: u64,
    /// Bits per second.
    pub RcvLinkSpeed: u64,
    /// `NDIS_SUPPORTED_PAUSE_FUNCTIONS`.
    pub PauseFunctions: u32,
    /// Auto-negotiation flags.
    pub AutoNegotiationFlags: u32,
}

/// `NDIS_STATISTICS_INFO` (x64 0x98).
#[repr(C)]
pub struct NDIS_STATISTICS_INFO {
    /// Type 0x80, revision 1, size 0x98.
    pub Header: NDIS_OBJECT_HEADER,
    /// `NDIS_STATISTICS_FLAGS_VALID_*`.
    pub SupportedStatistics: u32,
    /// The 18 `ULONG64` counters from `ifInDiscards` to `ifHCOutBroadcastOctets`, in header
    /// order ([`statistics_counter`] names their indices).
    pub Counters: [u64; 18],
}

/// Indices into [`NDIS_STATISTICS_INFO::Counters`].
pub mod statistics_counter {
    /// `ifInDiscards`.
    pub const IF_IN_DISCARDS: usize = 0;
    /// `ifHCInOctets`.
    pub const IF_HC_IN_OCTETS: usize = 2;
    /// `ifHCInUcastPkts`.
    pub const IF_HC_IN_UCAST_PKTS: usize = 3;
    /// `ifHCOutOctets`.
    pub const IF_HC_OUT_OCTETS: usize = 6;
    /// `ifHCOutUcastPkts`.
    pub const IF_HC_OUT_UCAST_PKTS: usize = 7;
    /// `ifOutDiscards`.
    pub const IF_OUT_DISCARDS: usize = 11;
}

#[allow(
    clippy::items_after_statements,
    reason = "one alias per asserted struct, beside its assertions"
)]
const _: () = {
    assert!(size_of::<NDIS_INTERRUPT_MODERATION_PARAMETERS>() == 12);
    type L = NDIS_LINK_PARAMETERS;
    assert!(size_of::<L>() == 0x20);
    assert!(offset_of!(L, XmitLinkSpeed) == 0x08);
    assert!(offset_of!(L, PauseFunctions) == 0x18);
    type S = NDIS_STATISTICS_INFO;
    assert!(size_of::<S>() == 0x98);
    assert!(offset_of!(S, Counters) == 0x08);
};

/// `OID_GEN_NETWORK_LAYER_ADDRESSES` (set): TCP/IP tells the miniport the adapter's addresses.
pub const OID_GEN_NETWORK_LAYER_ADDRESSES: u32 = 0x0001_0118;

/// `NDIS_PROTOCOL_ID_DEFAULT`: a cleared list of every protocol.
pub const NDIS_PROTOCOL_ID_DEFAULT: u16 = 0x00;
/// `NDIS_PROTOCOL_ID_TCP_IP`: an IPv4 entry (`NETWORK_ADDRESS_IP`).
pub const NDIS_PROTOCOL_ID_TCP_IP: u16 = 0x02;
/// `NDIS_PROTOCOL_ID_IP6`: an IPv6 entry (`NETWORK_ADDRESS_IP6`).
pub const NDIS_PROTOCOL_ID_IP6: u16 = 0x03;

/// `NETWORK_ADDRESS_LIST` header: `AddressCount` (LONG), `AddressType` (the protocol of a
/// cleared list, `AddressCount` 0), then `AddressCount` packed `NETWORK_ADDRESS` entries from
/// offset 6.
#[repr(C)]
pub struct NETWORK_ADDRESS_LIST {
    /// Number of entries; 0 clears the list of protocol `AddressType`.
    pub AddressCount: i32,
    /// Protocol of a cleared list.
    pub AddressType: u16,
    /// The first entry (`ANYSIZE_ARRAY`).
    pub Address: [NETWORK_ADDRESS; 1],
}

/// `NETWORK_ADDRESS` header: `AddressLength` bytes of address follow at offset 4; the next
/// entry starts right after them (entries are packed, 2-byte aligned).
#[repr(C)]
pub struct NETWORK_ADDRESS {
    /// Bytes of `Address`.
    pub AddressLength: u16,
    /// `NDIS_PROTOCOL_ID_*`.
    pub AddressType: u16,
    /// The address (`ANYSIZE_ARRAY`).
    pub Address: [u8; 1],
}

/// `NETWORK_ADDRESS_IP`: `sin_port`, `in_addr` (network order), `sin_zero`.
#[repr(C)]
pub struct NETWORK_ADDRESS_IP {
    /// Port (unused for addresses).
    pub sin_port: u16,
    /// IPv4 address, network byte order.
    pub in_addr: u32,
    /// Zero.
    pub sin_zero: [u8; 8],
}

/// `NETWORK_ADDRESS_IP6`: `sin6_port`, `sin6_flowinfo`, `sin6_addr` (network order),
/// `sin6_scope_id`.
#[repr(C)]
pub struct NETWORK_ADDRESS_IP6 {
    /// Port (unused).
    pub sin6_port: u16,
    /// Flow information (unused).
    pub sin6_flowinfo: u32,
    /// IPv6 address, network byte order.
    pub sin6_addr: [u16; 8],
    /// Scope id.
    pub sin6_scope_id: u32,
}

#[allow(
    clippy::items_after_statements,
    reason = "one alias per asserted struct, beside its assertions"
)]
const _: () = {
    type List = NETWORK_ADDRESS_LIST;
    assert!(offset_of!(List, AddressType) == 4);
    assert!(offset_of!(List, Address) == 6);
    type Entry = NETWORK_ADDRESS;
    assert!(offset_of!(Entry, AddressType) == 2);
    assert!(offset_of!(Entry, Address) == 4);
    type Ip = NETWORK_ADDRESS_IP;
    assert!(size_of::<Ip>() == 16);
    assert!(offset_of!(Ip, in_addr) == 4);
    type Ip6 = NETWORK_ADDRESS_IP6;
    assert!(size_of::<Ip6>() == 28);
    assert!(offset_of!(Ip6, sin6_addr) == 8);
    assert!(offset_of!(Ip6, sin6_scope_id) == 24);
};
