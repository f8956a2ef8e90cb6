//! `OID_NDK_CONNECTIONS` and `OID_NDK_LOCAL_ENDPOINTS` (`spec/ndis-miniport.md` §1.9): the
//! entries the miniport reports and their encoding as `NDIS_NDK_CONNECTIONS` /
//! `NDIS_NDK_LOCAL_ENDPOINTS`.
//!
//! Owns the byte layout of both lists and their buffer-length rule (too short →
//! `NDIS_STATUS_BUFFER_TOO_SHORT` with `BytesNeeded` = the whole list, nothing written; the
//! header's 16-bit `Size` saturates at `0xFFFF`, `Count` is exact). Every entry is a kernel
//! NDK one (`UserModeOwner` FALSE, `OwnerPid` 0), and the lists are not mapped to TCP
//! (SoftNDK's connections run on its own fabric, not on TCP 4-tuples).
//!
//! Where the entries come from is [`NdkLists`]: the miniport fills it from the driver-wide
//! connection fabric (`fabric_port::FabricPort::with_lists`, the adapter's connections and
//! endpoints). Must never: allocate, block, or touch NDIS structures.
#![deny(unsafe_code)]

use core::mem::{offset_of, size_of};

use crate::abi::{
    NDIS_NDK_CONNECTION_ENTRY, NDIS_NDK_CONNECTIONS, NDIS_NDK_CONNECTIONS_REVISION_1,
    NDIS_NDK_LIST_HEADER_SIZE, NDIS_NDK_LOCAL_ENDPOINT_ENTRY, NDIS_NDK_LOCAL_ENDPOINTS,
    NDIS_NDK_LOCAL_ENDPOINTS_REVISION_1, NDIS_OBJECT_TYPE_DEFAULT,
    ndis_sizeof_ndk_connections_revision_1, ndis_sizeof_ndk_local_endpoints_revision_1,
    ndk_connections_size, ndk_local_endpoints_size,
};
use crate::fabric::Address;
use crate::sys::NDIS_STATUS_BUFFER_TOO_SHORT;

use super::oid::OidOutcome;

/// One NetworkDirect connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionEntry {
    /// Local address and port.
    pub local: Address,
    /// Peer address and port.
    pub remote: Address,
}

/// One local endpoint: a listener or an endpoint bound for connecting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalEndpointEntry {
    /// Address and port.
    pub local: Address,
    /// Whether it is a listener.
    pub listener: bool,
}

/// The entries of both lists for one OID answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NdkLists<'a> {
    /// Connections.
    pub connections: &'a [ConnectionEntry],
    /// Local endpoints.
    pub endpoints: &'a [LocalEndpointEntry],
}

impl NdkLists<'_> {
    /// No connection and no endpoint.
    pub const EMPTY: NdkLists<'static> = NdkLists {
        connections: &[],
        endpoints: &[],
    };
}

const SOCKADDR_INET_SIZE: usize = size_of::<crate::abi::SOCKADDR_INET>();

/// Writes `address` as a `SOCKADDR_INET` into the 28 zeroed bytes at `dest`.
fn put_address(dest: &mut [u8], address: &Address) {
    // The slot is 28 bytes, as large as the larger arm; zero-filled by the caller.
    let _written = address.write_sockaddr(&mut dest[..SOCKADDR_INET_SIZE]);
}

/// Writes the 16-byte list header: type, revision, saturated size, flags 0, count, not
/// mapped to TCP.
fn put_header(dest: &mut [u8], revision: u8, size: u16, count: usize) {
    dest[0] = NDIS_OBJECT_TYPE_DEFAULT;
    dest[1] = revision;
    dest[2..4].copy_from_slice(&size.to_le_bytes());
    // Lists never get near 2^32 entries (each is pool memory of the provider).
    let count = u32::try_from(count).unwrap_or(u32::MAX);
    dest[8..12].copy_from_slice(&count.to_le_bytes());
}

/// Reserves the whole answer in `buf`, zeroed, or reports the size needed.
fn answer(buf: &mut [u8], size: Option<usize>) -> Result<&mut [u8], OidOutcome> {
    let size = size.unwrap_or(usize::MAX);
    let dest = buf
        .get_mut(..size)
        .ok_or_else(|| OidOutcome::short(NDIS_STATUS_BUFFER_TOO_SHORT, size))?;
    dest.fill(0);
    Ok(dest)
}

/// Encodes `NDIS_NDK_CONNECTIONS` with `entries` into `buf`.
#[must_use]
pub fn write_connections(buf: &mut [u8], entries: &[ConnectionEntry]) -> OidOutcome {
    let size = ndk_connections_size(entries.len());
    let dest = match answer(buf, size) {
        Ok(dest) => dest,
        Err(outcome) => return outcome,
    };
    let total = dest.len();
    put_header(
        dest,
        NDIS_NDK_CONNECTIONS_REVISION_1,
        ndis_sizeof_ndk_connections_revision_1(entries.len()),
        entries.len(),
    );
    let (_, slots) = dest.split_at_mut(offset_of!(NDIS_NDK_CONNECTIONS, Connections));
    for (slot, entry) in slots
        .chunks_exact_mut(size_of::<NDIS_NDK_CONNECTION_ENTRY>())
        .zip(entries)
    {
        put_address(
            &mut slot[offset_of!(NDIS_NDK_CONNECTION_ENTRY, Local)..],
            &entry.local,
        );
        put_address(
            &mut slot[offset_of!(NDIS_NDK_CONNECTION_ENTRY, Remote)..],
            &entry.remote,
        );
    }
    OidOutcome::done(total)
}

/// Encodes `NDIS_NDK_LOCAL_ENDPOINTS` with `entries` into `buf`.
#[must_use]
pub fn write_local_endpoints(buf: &mut [u8], entries: &[LocalEndpointEntry]) -> OidOutcome {
    let size = ndk_local_endpoints_size(entries.len());
    let dest = match answer(buf, size) {
        Ok(dest) => dest,
        Err(outcome) => return outcome,
    };
    let total = dest.len();
    put_header(
        dest,
        NDIS_NDK_LOCAL_ENDPOINTS_REVISION_1,
        ndis_sizeof_ndk_local_endpoints_revision_1(entries.len()),
        entries.len(),
    );
    let (_, slots) = dest.split_at_mut(offset_of!(NDIS_NDK_LOCAL_ENDPOINTS, LocalEndpoints));
    for (slot, entry) in slots
        .chunks_exact_mut(size_of::<NDIS_NDK_LOCAL_ENDPOINT_ENTRY>())
        .zip(entries)
    {
        put_address(
            &mut slot[offset_of!(NDIS_NDK_LOCAL_ENDPOINT_ENTRY, Local)..],
            &entry.local,
        );
        slot[offset_of!(NDIS_NDK_LOCAL_ENDPOINT_ENTRY, Listener)] = u8::from(entry.listener);
    }
    OidOutcome::done(total)
}

const _: () =
    assert!(NDIS_NDK_LIST_HEADER_SIZE == offset_of!(NDIS_NDK_LOCAL_ENDPOINTS, LocalEndpoints));

#[cfg(test)]
#[path = "ndk_lists_tests.rs"]
mod tests;
