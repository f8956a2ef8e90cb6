//! The miniport's OID answers (`spec/ndis-miniport.md` §1.9, §2.9) as pure functions over
//! byte buffers: exact buffer-length behaviour, content validation, state updates.
//!
//! Owns: which OIDs are supported in which direction, how each payload is encoded or
//! decoded, and the adapter fields OIDs change. Must never: touch NDIS structures (the
//! `control` trampoline turns an `NDIS_OID_REQUEST` into these calls), allocate or block —
//! direct OIDs call [`direct_query`] at `DISPATCH_LEVEL`.
//!
//! Length rules: a query whose buffer is too short gets `NDIS_STATUS_BUFFER_TOO_SHORT` with
//! `bytes_needed` = the full answer size and writes nothing; a set whose buffer is too short
//! gets `NDIS_STATUS_INVALID_LENGTH` with `bytes_needed` = the size it needs; extra bytes are
//! ignored (`bytes_done` counts what was written/read). `u64` counters follow NDIS's rule:
//! a 4..8-byte buffer receives the low 32 bits, `bytes_needed` still says 8.
#![deny(unsafe_code)]

use crate::sys::ndis::NDIS_OBJECT_TYPE_DEFAULT;
use crate::sys::oid::{
    NDIS_INTERRUPT_MODERATION_NOT_SUPPORTED, NDIS_INTERRUPT_MODERATION_PARAMETERS,
    NDIS_INTERRUPT_MODERATION_PARAMETERS_REVISION_1, NDIS_LINK_PARAMETERS,
    NDIS_LINK_PARAMETERS_REVISION_1, NDIS_NDK_STATISTICS_INFO_REVISION_1,
    NDIS_PACKET_TYPE_ALL_MULTICAST, NDIS_PACKET_TYPE_BROADCAST, NDIS_PACKET_TYPE_DIRECTED,
    NDIS_PACKET_TYPE_MULTICAST, NDIS_PACKET_TYPE_PROMISCUOUS,
    NDIS_SIZEOF_NDK_STATISTICS_INFO_REVISION_1, NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_RCV,
    NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_XMIT, NDIS_STATISTICS_FLAGS_VALID_RCV_DISCARDS,
    NDIS_STATISTICS_FLAGS_VALID_XMIT_DISCARDS, NDIS_STATISTICS_INFO,
    NDIS_STATISTICS_INFO_REVISION_1, OID_802_3_CURRENT_ADDRESS, OID_802_3_MAXIMUM_LIST_SIZE,
    OID_802_3_MULTICAST_LIST, OID_802_3_PERMANENT_ADDRESS, OID_GEN_CURRENT_LOOKAHEAD,
    OID_GEN_CURRENT_PACKET_FILTER, OID_GEN_INTERRUPT_MODERATION, OID_GEN_LINK_PARAMETERS,
    OID_GEN_MAXIMUM_TOTAL_SIZE, OID_GEN_NETWORK_LAYER_ADDRESSES, OID_GEN_RCV_OK,
    OID_GEN_RECEIVE_BLOCK_SIZE, OID_GEN_RECEIVE_BUFFER_SPACE, OID_GEN_STATISTICS,
    OID_GEN_TRANSMIT_BLOCK_SIZE, OID_GEN_TRANSMIT_BUFFER_SPACE, OID_GEN_VENDOR_DESCRIPTION,
    OID_GEN_VENDOR_DRIVER_VERSION, OID_GEN_VENDOR_ID, OID_GEN_XMIT_OK, OID_NDK_CONNECTIONS,
    OID_NDK_LOCAL_ENDPOINTS, OID_NDK_SET_STATE, OID_NDK_STATISTICS, OID_PNP_QUERY_POWER,
    OID_PNP_SET_POWER, statistics_counter,
};
use crate::sys::{
    NDIS_STATUS, NDIS_STATUS_BUFFER_TOO_SHORT, NDIS_STATUS_INVALID_DATA,
    NDIS_STATUS_INVALID_LENGTH, NDIS_STATUS_MULTICAST_FULL, NDIS_STATUS_NOT_SUPPORTED,
    NDIS_STATUS_SUCCESS, object_header,
};

use super::config;
use super::counters::CounterSnapshot;
use super::ndk_lists::{self, NdkLists};
use super::netaddr::{self, AddressSet};

/// Every OID this miniport answers, for `SupportedOidList` in the general attributes
/// (`OID_GEN_SUPPORTED_LIST` itself and the other attribute-derived OIDs NDIS answers).
pub const SUPPORTED_OIDS: [u32; 26] = [
    OID_GEN_TRANSMIT_BUFFER_SPACE,
    OID_GEN_RECEIVE_BUFFER_SPACE,
    OID_GEN_TRANSMIT_BLOCK_SIZE,
    OID_GEN_RECEIVE_BLOCK_SIZE,
    OID_GEN_VENDOR_ID,
    OID_GEN_VENDOR_DESCRIPTION,
    OID_GEN_CURRENT_PACKET_FILTER,
    OID_GEN_CURRENT_LOOKAHEAD,
    OID_GEN_MAXIMUM_TOTAL_SIZE,
    OID_GEN_VENDOR_DRIVER_VERSION,
    OID_GEN_LINK_PARAMETERS,
    OID_GEN_INTERRUPT_MODERATION,
    OID_GEN_XMIT_OK,
    OID_GEN_RCV_OK,
    OID_GEN_STATISTICS,
    OID_802_3_PERMANENT_ADDRESS,
    OID_802_3_CURRENT_ADDRESS,
    OID_802_3_MULTICAST_LIST,
    OID_802_3_MAXIMUM_LIST_SIZE,
    OID_PNP_SET_POWER,
    OID_PNP_QUERY_POWER,
    OID_GEN_NETWORK_LAYER_ADDRESSES,
    OID_NDK_SET_STATE,
    OID_NDK_STATISTICS,
    OID_NDK_CONNECTIONS,
    OID_NDK_LOCAL_ENDPOINTS,
];

/// Packet filters the adapter accepts in `OID_GEN_CURRENT_PACKET_FILTER`.
pub const SUPPORTED_PACKET_FILTERS: u32 = NDIS_PACKET_TYPE_DIRECTED
    | NDIS_PACKET_TYPE_MULTICAST
    | NDIS_PACKET_TYPE_ALL_MULTICAST
    | NDIS_PACKET_TYPE_BROADCAST
    | NDIS_PACKET_TYPE_PROMISCUOUS;

/// Statistics kept (`SupportedStatistics` in the general attributes and in
/// `OID_GEN_STATISTICS`): frames sent and received and the discards of both directions.
///
/// Every frame is counted as directed (the hub does not split the classes).
pub const SUPPORTED_STATISTICS: u32 = NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_XMIT
    | NDIS_STATISTICS_FLAGS_VALID_XMIT_DISCARDS
    | NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_RCV
    | NDIS_STATISTICS_FLAGS_VALID_RCV_DISCARDS;

const ETH_ALEN: usize = 6;

/// The result of one OID request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OidOutcome {
    /// What the handler returns.
    pub status: NDIS_STATUS,
    /// `BytesWritten` (query) or `BytesRead` (set).
    pub bytes_done: u32,
    /// `BytesNeeded`.
    pub bytes_needed: u32,
    /// `Some(enable)` for a successful `OID_NDK_SET_STATE`: the caller hands it to the
    /// adapter's `ndk_state::NdkAnnouncer`, which decides whether an announcement is needed.
    pub ndk_request: Option<bool>,
}

impl OidOutcome {
    pub(super) const fn status(status: NDIS_STATUS) -> Self {
        Self {
            status,
            bytes_done: 0,
            bytes_needed: 0,
            ndk_request: None,
        }
    }

    pub(super) const fn done(bytes: usize) -> Self {
        Self {
            bytes_done: len_u32(bytes),
            ..Self::status(NDIS_STATUS_SUCCESS)
        }
    }

    pub(super) const fn short(status: NDIS_STATUS, needed: usize) -> Self {
        Self {
            bytes_needed: len_u32(needed),
            ..Self::status(status)
        }
    }
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "saturated at u32::MAX first"
)]
const fn len_u32(len: usize) -> u32 {
    if len > u32::MAX as usize {
        u32::MAX
    } else {
        len as u32
    }
}

/// Adapter fields that OIDs read and change. Regular OIDs are serialized by NDIS, so one
/// request at a time holds `&mut OidState`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidState {
    /// Burned-in address.
    pub permanent_mac: [u8; ETH_ALEN],
    /// Address in use.
    pub current_mac: [u8; ETH_ALEN],
    /// `NDIS_PACKET_TYPE_*` currently set.
    pub packet_filter: u32,
    /// Current lookahead.
    pub lookahead: u32,
    multicast: [[u8; ETH_ALEN]; config::MAX_MULTICAST_LIST],
    multicast_len: usize,
    /// The adapter's IP addresses, as TCP/IP last set them (`OID_GEN_NETWORK_LAYER_ADDRESSES`);
    /// the control path registers them on the fabric (`fabric_port::FabricPort::sync`).
    pub addresses: AddressSet,
}

impl OidState {
    /// State of a freshly initialized adapter: no filter, full lookahead, empty multicast
    /// list.
    #[must_use]
    pub const fn new(mac: [u8; ETH_ALEN]) -> Self {
        Self {
            permanent_mac: mac,
            current_mac: mac,
            packet_filter: 0,
            lookahead: config::MTU,
            multicast: [[0; ETH_ALEN]; config::MAX_MULTICAST_LIST],
            multicast_len: 0,
            addresses: AddressSet::EMPTY,
        }
    }

    /// The multicast addresses currently set.
    #[must_use]
    pub fn multicast_list(&self) -> &[[u8; ETH_ALEN]] {
        &self.multicast[..self.multicast_len]
    }
}

fn write(buf: &mut [u8], bytes: &[u8]) -> OidOutcome {
    buf.get_mut(..bytes.len()).map_or_else(
        || OidOutcome::short(NDIS_STATUS_BUFFER_TOO_SHORT, bytes.len()),
        |dest| {
            dest.copy_from_slice(bytes);
            OidOutcome::done(bytes.len())
        },
    )
}

fn write_u32(buf: &mut [u8], value: u32) -> OidOutcome {
    write(buf, &value.to_le_bytes())
}

fn write_counter(buf: &mut [u8], value: u64) -> OidOutcome {
    let bytes = value.to_le_bytes();
    let outcome = if buf.len() >= 8 {
        write(buf, &bytes)
    } else if buf.len() >= 4 {
        write(buf, &bytes[..4])
    } else {
        OidOutcome::short(NDIS_STATUS_BUFFER_TOO_SHORT, 8)
    };
    OidOutcome {
        bytes_needed: 8,
        ..outcome
    }
}

const fn header_bytes(object_type: u8, revision: u8, size: usize) -> [u8; 4] {
    let header = object_header(object_type, revision, size);
    let size = header.Size.to_le_bytes();
    [header.Type, header.Revision, size[0], size[1]]
}

/// Writes a structure of `size` bytes that starts with a default-type header and whose
/// remaining fields `fill` writes into the zeroed tail.
fn write_struct(
    buf: &mut [u8],
    size: usize,
    revision: u8,
    fill: impl FnOnce(&mut [u8]),
) -> OidOutcome {
    let Some(dest) = buf.get_mut(..size) else {
        return OidOutcome::short(NDIS_STATUS_BUFFER_TOO_SHORT, size);
    };
    dest.fill(0);
    dest[..4].copy_from_slice(&header_bytes(NDIS_OBJECT_TYPE_DEFAULT, revision, size));
    fill(dest);
    OidOutcome::done(size)
}

fn put_u32(dest: &mut [u8], offset: usize, value: u32) {
    dest[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
}

fn put_u64(dest: &mut [u8], offset: usize, value: u64) {
    dest[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
}

fn read_u32(buf: &[u8]) -> Result<u32, OidOutcome> {
    buf.first_chunk::<4>()
        .map(|bytes| u32::from_le_bytes(*bytes))
        .ok_or(OidOutcome::short(NDIS_STATUS_INVALID_LENGTH, 4))
}

/// Answers a query (`NdisRequestQueryInformation` / `QueryStatistics`) into `buf`;
/// `lists` are the NDK connections and local endpoints.
#[must_use]
pub fn query(
    oid: u32,
    buf: &mut [u8],
    state: &OidState,
    counters: &CounterSnapshot,
    lists: &NdkLists<'_>,
) -> OidOutcome {
    match oid {
        OID_GEN_TRANSMIT_BUFFER_SPACE | OID_GEN_RECEIVE_BUFFER_SPACE => {
            write_u32(buf, config::MAX_FRAME_SIZE * config::FRAME_BUFFERS)
        }
        OID_GEN_TRANSMIT_BLOCK_SIZE | OID_GEN_RECEIVE_BLOCK_SIZE | OID_GEN_MAXIMUM_TOTAL_SIZE => {
            write_u32(buf, config::MAX_FRAME_SIZE)
        }
        OID_GEN_VENDOR_ID => write_u32(buf, config::VENDOR_ID),
        OID_GEN_VENDOR_DESCRIPTION => write(buf, config::VENDOR_DESCRIPTION),
        OID_GEN_VENDOR_DRIVER_VERSION => write_u32(buf, config::VENDOR_DRIVER_VERSION),
        OID_GEN_CURRENT_PACKET_FILTER => write_u32(buf, state.packet_filter),
        OID_GEN_CURRENT_LOOKAHEAD => write_u32(buf, state.lookahead),
        OID_GEN_INTERRUPT_MODERATION => write_struct(
            buf,
            core::mem::size_of::<NDIS_INTERRUPT_MODERATION_PARAMETERS>(),
            NDIS_INTERRUPT_MODERATION_PARAMETERS_REVISION_1,
            |dest| put_u32(dest, 8, NDIS_INTERRUPT_MODERATION_NOT_SUPPORTED),
        ),
        OID_GEN_XMIT_OK => write_counter(buf, counters.xmit_ok),
        OID_GEN_RCV_OK => write_counter(buf, counters.rcv_ok),
        OID_GEN_STATISTICS => write_struct(
            buf,
            core::mem::size_of::<NDIS_STATISTICS_INFO>(),
            NDIS_STATISTICS_INFO_REVISION_1,
            |dest| {
                put_u32(dest, 4, SUPPORTED_STATISTICS);
                let counter = |index: usize| 8 + index * 8;
                put_u64(
                    dest,
                    counter(statistics_counter::IF_HC_OUT_UCAST_PKTS),
                    counters.xmit_ok,
                );
                put_u64(
                    dest,
                    counter(statistics_counter::IF_OUT_DISCARDS),
                    counters.xmit_discards,
                );
                put_u64(
                    dest,
                    counter(statistics_counter::IF_HC_IN_UCAST_PKTS),
                    counters.rcv_ok,
                );
                put_u64(
                    dest,
                    counter(statistics_counter::IF_IN_DISCARDS),
                    counters.rcv_discards,
                );
            },
        ),
        OID_802_3_PERMANENT_ADDRESS => write(buf, &state.permanent_mac),
        OID_802_3_CURRENT_ADDRESS => write(buf, &state.current_mac),
        OID_802_3_MULTICAST_LIST => write(buf, state.multicast_list().as_flattened()),
        OID_802_3_MAXIMUM_LIST_SIZE => write_u32(buf, len_u32(config::MAX_MULTICAST_LIST)),
        OID_PNP_QUERY_POWER => OidOutcome::done(0),
        OID_NDK_CONNECTIONS => ndk_lists::write_connections(buf, lists.connections),
        OID_NDK_LOCAL_ENDPOINTS => ndk_lists::write_local_endpoints(buf, lists.endpoints),
        _ => direct_query(oid, buf, counters),
    }
}

/// Answers a query arriving through `MiniportDirectOidRequest` (`IRQL <= DISPATCH_LEVEL`,
/// concurrent with everything): only `OID_NDK_STATISTICS`, from counter snapshots.
#[must_use]
pub fn direct_query(oid: u32, buf: &mut [u8], counters: &CounterSnapshot) -> OidOutcome {
    match oid {
        OID_NDK_STATISTICS => write_struct(
            buf,
            NDIS_SIZEOF_NDK_STATISTICS_INFO_REVISION_1,
            NDIS_NDK_STATISTICS_INFO_REVISION_1,
            |dest| {
                for (index, value) in counters.ndk.iter().enumerate() {
                    put_u64(dest, 8 + index * 8, *value);
                }
            },
        ),
        _ => OidOutcome::status(NDIS_STATUS_NOT_SUPPORTED),
    }
}

/// Applies a set (`NdisRequestSetInformation`) from `buf`.
#[must_use]
pub fn set(oid: u32, buf: &[u8], state: &mut OidState) -> OidOutcome {
    let result = match oid {
        OID_GEN_CURRENT_PACKET_FILTER => set_packet_filter(buf, state),
        OID_GEN_CURRENT_LOOKAHEAD => set_lookahead(buf, state),
        OID_802_3_MULTICAST_LIST => set_multicast_list(buf, state),
        OID_GEN_INTERRUPT_MODERATION => set_interrupt_moderation(buf),
        OID_GEN_LINK_PARAMETERS => set_link_parameters(buf),
        OID_PNP_SET_POWER => read_u32(buf).map(|_| OidOutcome::done(4)),
        OID_NDK_SET_STATE => set_ndk_state(buf),
        OID_GEN_NETWORK_LAYER_ADDRESSES => set_network_addresses(buf, state),
        _ => Ok(OidOutcome::status(NDIS_STATUS_NOT_SUPPORTED)),
    };
    result.unwrap_or_else(|refused| refused)
}

fn set_packet_filter(buf: &[u8], state: &mut OidState) -> Result<OidOutcome, OidOutcome> {
    let filter = read_u32(buf)?;
    if filter & !SUPPORTED_PACKET_FILTERS != 0 {
        return Err(OidOutcome::status(NDIS_STATUS_NOT_SUPPORTED));
    }
    state.packet_filter = filter;
    Ok(OidOutcome::done(4))
}

fn set_lookahead(buf: &[u8], state: &mut OidState) -> Result<OidOutcome, OidOutcome> {
    let lookahead = read_u32(buf)?;
    if lookahead > config::MTU {
        return Err(OidOutcome::status(NDIS_STATUS_INVALID_DATA));
    }
    state.lookahead = lookahead;
    Ok(OidOutcome::done(4))
}

fn set_multicast_list(buf: &[u8], state: &mut OidState) -> Result<OidOutcome, OidOutcome> {
    if !buf.len().is_multiple_of(ETH_ALEN) {
        return Err(OidOutcome::short(
            NDIS_STATUS_INVALID_LENGTH,
            buf.len().next_multiple_of(ETH_ALEN),
        ));
    }
    let count = buf.len() / ETH_ALEN;
    if count > config::MAX_MULTICAST_LIST {
        return Err(OidOutcome::short(
            NDIS_STATUS_MULTICAST_FULL,
            config::MAX_MULTICAST_LIST * ETH_ALEN,
        ));
    }
    let (addresses, _) = buf.as_chunks::<ETH_ALEN>();
    if addresses.iter().any(|address| address[0] & 1 == 0) {
        return Err(OidOutcome::status(NDIS_STATUS_INVALID_DATA));
    }
    state.multicast[..count].copy_from_slice(addresses);
    state.multicast_len = count;
    Ok(OidOutcome::done(buf.len()))
}

const fn set_interrupt_moderation(buf: &[u8]) -> Result<OidOutcome, OidOutcome> {
    let size = core::mem::size_of::<NDIS_INTERRUPT_MODERATION_PARAMETERS>();
    if buf.len() < size {
        return Err(OidOutcome::short(NDIS_STATUS_INVALID_LENGTH, size));
    }
    // There is no interrupt to moderate; NDIS documents INVALID_DATA for this case.
    Err(OidOutcome::status(NDIS_STATUS_INVALID_DATA))
}

fn set_link_parameters(buf: &[u8]) -> Result<OidOutcome, OidOutcome> {
    let size = core::mem::size_of::<NDIS_LINK_PARAMETERS>();
    if buf.len() < size {
        return Err(OidOutcome::short(NDIS_STATUS_INVALID_LENGTH, size));
    }
    let declared = usize::from(u16::from_le_bytes([buf[2], buf[3]]));
    if buf[0] != NDIS_OBJECT_TYPE_DEFAULT
        || buf[1] < NDIS_LINK_PARAMETERS_REVISION_1
        || declared < size
    {
        return Err(OidOutcome::status(NDIS_STATUS_INVALID_DATA));
    }
    // A software link has no speed or duplex to renegotiate: accept and keep the values.
    Ok(OidOutcome::done(size))
}

/// `OID_GEN_NETWORK_LAYER_ADDRESSES`: see [`netaddr`](super::netaddr) for the rules. The new
/// set replaces the named families' addresses in `state.addresses`.
fn set_network_addresses(buf: &[u8], state: &mut OidState) -> Result<OidOutcome, OidOutcome> {
    let (update, read) = netaddr::decode(buf)
        .map_err(|refused| OidOutcome::short(refused.status, refused.needed))?;
    let _not_kept = state.addresses.apply(&update);
    Ok(OidOutcome::done(read))
}

const fn set_ndk_state(buf: &[u8]) -> Result<OidOutcome, OidOutcome> {
    let Some(&requested) = buf.first() else {
        return Err(OidOutcome::short(NDIS_STATUS_INVALID_LENGTH, 1));
    };
    Ok(OidOutcome {
        ndk_request: Some(requested != 0),
        ..OidOutcome::done(1)
    })
}

#[cfg(test)]
#[path = "oid_tests.rs"]
mod tests;
