//! `OID_GEN_NETWORK_LAYER_ADDRESSES`: the adapter's IP addresses as TCP/IP sets them.
//!
//! Decodes the `NETWORK_ADDRESS_LIST` bytes into an [`AddressUpdate`] and keeps the adapter's
//! current [`AddressSet`] that the updates change.
//!
//! Owns the buffer-length rules of that set and which entries count. Must never: allocate,
//! touch NDIS structures (the layouts are pinned in `sys::oid`), or reach the fabric (the
//! control trampoline passes the resulting set to `fabric_port`).
//!
//! Rules (tested in `oid_tests.rs`):
//! - fewer than the 6 header bytes (`AddressCount`, `AddressType`) → `NDIS_STATUS_INVALID_LENGTH`,
//!   `BytesNeeded` 6; a negative `AddressCount` → `NDIS_STATUS_INVALID_DATA`;
//! - entries are packed: a 4-byte header (`AddressLength`, `AddressType`) and `AddressLength`
//!   bytes. An entry whose header or body runs past the buffer (including an `AddressCount`
//!   larger than the buffer holds) → `NDIS_STATUS_INVALID_LENGTH` with `BytesNeeded` = the end
//!   of what that entry needs; nothing changes;
//! - `NDIS_PROTOCOL_ID_TCP_IP` entries of at least 16 bytes are IPv4 (`in_addr` at 4),
//!   `NDIS_PROTOCOL_ID_IP6` entries of at least 28 bytes are IPv6 (`sin6_addr` at 8,
//!   `sin6_scope_id` at 24); other types, shorter entries and unspecified addresses are skipped;
//! - a list replaces the addresses of the families it names (its entries' types, and for an
//!   empty list its `AddressType`: TCP/IP → IPv4, IP6 → IPv6, anything else → both), since
//!   TCP/IP reports IPv4 and IPv6 in separate sets; an empty list clears;
//! - at most [`MAX_ADDRESSES`] addresses are kept; the rest are ignored (counted in
//!   [`AddressUpdate::dropped`]).
#![deny(unsafe_code)]

use crate::fabric::IpAddr;
use crate::sys::oid::{NDIS_PROTOCOL_ID_IP6, NDIS_PROTOCOL_ID_TCP_IP};
use crate::sys::{NDIS_STATUS, NDIS_STATUS_INVALID_DATA, NDIS_STATUS_INVALID_LENGTH};

/// Most addresses an adapter keeps (IPv4 and IPv6 together).
pub const MAX_ADDRESSES: usize = 16;

/// Bytes of the list header (`AddressCount` + `AddressType`).
pub const LIST_HEADER: usize = 6;
/// Bytes of an entry header (`AddressLength` + `AddressType`).
const ENTRY_HEADER: usize = 4;
/// `NETWORK_ADDRESS_LENGTH_IP`.
const IP_LENGTH: usize = 16;
/// `sizeof(NETWORK_ADDRESS_IP6)`.
const IP6_LENGTH: usize = 28;

/// Which address families an update replaces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Families {
    /// IPv4 addresses are replaced.
    pub v4: bool,
    /// IPv6 addresses are replaced.
    pub v6: bool,
}

impl Families {
    const fn covers(self, ip: &IpAddr) -> bool {
        match ip {
            IpAddr::V4(_) => self.v4,
            IpAddr::V6 { .. } => self.v6,
        }
    }
}

/// A set of IP addresses (no duplicates, at most [`MAX_ADDRESSES`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddressSet {
    ips: [Option<IpAddr>; MAX_ADDRESSES],
}

impl AddressSet {
    /// No address.
    pub const EMPTY: Self = Self {
        ips: [None; MAX_ADDRESSES],
    };

    /// The addresses, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.ips.iter().flatten().copied()
    }

    /// Number of addresses.
    #[must_use]
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether it has no address.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ips.iter().all(Option::is_none)
    }

    /// Whether `ip` is in the set (scope ids are not compared, as on the fabric).
    #[must_use]
    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.iter().any(|own| own.same_host(ip))
    }

    /// Adds `ip`; false when it is already there or the set is full.
    pub fn insert(&mut self, ip: IpAddr) -> bool {
        if self.contains(&ip) {
            return false;
        }
        self.ips
            .iter_mut()
            .find(|slot| slot.is_none())
            .is_some_and(|slot| {
                *slot = Some(ip);
                true
            })
    }

    /// Removes `ip`; false when it was not there.
    pub fn remove(&mut self, ip: &IpAddr) -> bool {
        let mut removed = false;
        for slot in &mut self.ips {
            if slot.is_some_and(|own| own.same_host(ip)) {
                *slot = None;
                removed = true;
            }
        }
        removed
    }

    /// Applies `update`: the families it names lose their addresses and get its addresses.
    /// Returns how many of its addresses did not fit.
    pub fn apply(&mut self, update: &AddressUpdate) -> usize {
        for slot in &mut self.ips {
            if slot.is_some_and(|ip| update.families.covers(&ip)) {
                *slot = None;
            }
        }
        update
            .addresses
            .iter()
            .filter(|ip| !self.insert(*ip))
            .count()
    }
}

/// One decoded `OID_GEN_NETWORK_LAYER_ADDRESSES` set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddressUpdate {
    /// The families whose addresses the list replaces.
    pub families: Families,
    /// The list's usable addresses.
    pub addresses: AddressSet,
    /// Usable addresses beyond [`MAX_ADDRESSES`] (or repeated) that were not kept.
    pub dropped: usize,
}

/// A refused set: the status and `BytesNeeded`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused {
    /// `NDIS_STATUS_INVALID_LENGTH` or `NDIS_STATUS_INVALID_DATA`.
    pub status: NDIS_STATUS,
    /// `BytesNeeded` (0 for bad content).
    pub needed: usize,
}

const fn u16_at(buf: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([buf[at], buf[at + 1]])
}

const fn u32_at(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

fn entry_address(kind: u16, body: &[u8]) -> Option<IpAddr> {
    let ip = match kind {
        NDIS_PROTOCOL_ID_TCP_IP if body.len() >= IP_LENGTH => {
            // `in_addr` is stored in network order: its bytes are the address, first octet
            // first.
            IpAddr::V4([body[4], body[5], body[6], body[7]])
        }
        NDIS_PROTOCOL_ID_IP6 if body.len() >= IP6_LENGTH => {
            let mut addr = [0_u8; 16];
            addr.copy_from_slice(&body[8..24]);
            // The scope id is a host-order ULONG.
            IpAddr::V6 {
                addr,
                scope_id: u32_at(body, 24),
            }
        }
        _ => return None,
    };
    (!ip.is_unspecified()).then_some(ip)
}

const fn family_of(kind: u16) -> Families {
    match kind {
        NDIS_PROTOCOL_ID_TCP_IP => Families {
            v4: true,
            v6: false,
        },
        NDIS_PROTOCOL_ID_IP6 => Families {
            v4: false,
            v6: true,
        },
        _ => Families {
            v4: false,
            v6: false,
        },
    }
}

/// Decodes a `NETWORK_ADDRESS_LIST` (see the module rules). On success, also returns the bytes
/// read (`BytesRead`: the header and every entry, not trailing bytes).
///
/// # Errors
/// [`Refused`] with `NDIS_STATUS_INVALID_LENGTH` (and `BytesNeeded`) for a truncated list,
/// `NDIS_STATUS_INVALID_DATA` for a negative count.
pub fn decode(buf: &[u8]) -> Result<(AddressUpdate, usize), Refused> {
    if buf.len() < LIST_HEADER {
        return Err(Refused {
            status: NDIS_STATUS_INVALID_LENGTH,
            needed: LIST_HEADER,
        });
    }
    let Ok(count) = usize::try_from(u32_at(buf, 0).cast_signed()) else {
        return Err(Refused {
            status: NDIS_STATUS_INVALID_DATA,
            needed: 0,
        });
    };
    let mut update = AddressUpdate::default();
    if count == 0 {
        let kind = u16_at(buf, 4);
        update.families = match family_of(kind) {
            Families {
                v4: false,
                v6: false,
            } => Families { v4: true, v6: true },
            named => named,
        };
        return Ok((update, LIST_HEADER));
    }
    let mut at = LIST_HEADER;
    for _ in 0..count {
        let body_at = at + ENTRY_HEADER;
        if buf.len() < body_at {
            return Err(Refused {
                status: NDIS_STATUS_INVALID_LENGTH,
                needed: body_at,
            });
        }
        let length = usize::from(u16_at(buf, at));
        let kind = u16_at(buf, at + 2);
        let end = body_at + length;
        if buf.len() < end {
            return Err(Refused {
                status: NDIS_STATUS_INVALID_LENGTH,
                needed: end,
            });
        }
        let named = family_of(kind);
        update.families.v4 |= named.v4;
        update.families.v6 |= named.v6;
        if let Some(ip) = entry_address(kind, &buf[body_at..end])
            && !update.addresses.insert(ip)
        {
            update.dropped += 1;
        }
        at = end;
    }
    Ok((update, at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::oid::NDIS_PROTOCOL_ID_DEFAULT;
    use std::vec::Vec;

    /// A `NETWORK_ADDRESS_LIST` of `entries` (type, body), with `count` in the header.
    fn list(count: i32, kind: u16, entries: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&count.to_le_bytes());
        b.extend_from_slice(&kind.to_le_bytes());
        for (kind, body) in entries {
            b.extend_from_slice(&u16::try_from(body.len()).unwrap().to_le_bytes());
            b.extend_from_slice(&kind.to_le_bytes());
            b.extend_from_slice(body);
        }
        b
    }

    fn ip4(a: [u8; 4]) -> (u16, Vec<u8>) {
        let mut body = std::vec![0_u8; 16];
        body[4..8].copy_from_slice(&a);
        (NDIS_PROTOCOL_ID_TCP_IP, body)
    }

    fn ip6(a: [u8; 16], scope: u32) -> (u16, Vec<u8>) {
        let mut body = std::vec![0_u8; 28];
        body[8..24].copy_from_slice(&a);
        body[24..28].copy_from_slice(&scope.to_le_bytes());
        (NDIS_PROTOCOL_ID_IP6, body)
    }

    const A6: [u8; 16] = [0xFE, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];

    fn ips(update: &AddressUpdate) -> Vec<IpAddr> {
        update.addresses.iter().collect()
    }

    #[test]
    fn ipv4_and_ipv6_entries_are_decoded_in_network_order() {
        let buf = list(
            2,
            NDIS_PROTOCOL_ID_TCP_IP,
            &[ip4([10, 0, 0, 1]), ip6(A6, 12)],
        );
        let (update, read) = decode(&buf).unwrap();
        assert_eq!(read, buf.len());
        assert_eq!(
            ips(&update),
            [
                IpAddr::V4([10, 0, 0, 1]),
                IpAddr::V6 {
                    addr: A6,
                    scope_id: 12
                }
            ]
        );
        assert_eq!(update.families, Families { v4: true, v6: true });
        assert_eq!(update.dropped, 0);
    }

    #[test]
    fn short_headers_and_truncated_entries_are_invalid_length_with_the_bytes_needed() {
        for len in 0..LIST_HEADER {
            assert_eq!(
                decode(&std::vec![0; len]),
                Err(Refused {
                    status: NDIS_STATUS_INVALID_LENGTH,
                    needed: LIST_HEADER
                })
            );
        }
        let full = list(1, 0, &[ip4([10, 0, 0, 1])]);
        // Entry header cut: needs 6 + 4.
        for len in LIST_HEADER..LIST_HEADER + 4 {
            assert_eq!(decode(&full[..len]).unwrap_err().needed, LIST_HEADER + 4);
        }
        // Entry body cut: needs the whole entry.
        for len in LIST_HEADER + 4..full.len() {
            let refused = decode(&full[..len]).unwrap_err();
            assert_eq!(refused.status, NDIS_STATUS_INVALID_LENGTH);
            assert_eq!(refused.needed, full.len());
        }
        assert!(decode(&full).is_ok());
    }

    #[test]
    fn a_count_larger_than_the_buffer_is_refused_and_trailing_bytes_are_ignored() {
        let mut buf = list(3, 0, &[ip4([10, 0, 0, 1]), ip4([10, 0, 0, 2])]);
        let refused = decode(&buf).unwrap_err();
        assert_eq!(refused.status, NDIS_STATUS_INVALID_LENGTH);
        assert_eq!(refused.needed, buf.len() + 4, "the third entry's header");
        buf[0] = 2;
        let end = buf.len();
        buf.extend_from_slice(&[0xEE; 5]);
        let (update, read) = decode(&buf).unwrap();
        assert_eq!(read, end, "BytesRead stops after the last entry");
        assert_eq!(update.addresses.len(), 2);
    }

    #[test]
    fn a_negative_count_is_invalid_data() {
        let buf = list(-1, 0, &[]);
        assert_eq!(
            decode(&buf),
            Err(Refused {
                status: NDIS_STATUS_INVALID_DATA,
                needed: 0
            })
        );
    }

    #[test]
    fn unknown_types_short_entries_and_unspecified_addresses_are_skipped() {
        let buf = list(
            5,
            0,
            &[
                (0x06, std::vec![1; 12]),                   // IPX
                (NDIS_PROTOCOL_ID_TCP_IP, std::vec![1; 8]), // shorter than NETWORK_ADDRESS_IP
                (NDIS_PROTOCOL_ID_IP6, std::vec![1; 20]),   // shorter than NETWORK_ADDRESS_IP6
                ip4([0, 0, 0, 0]),
                ip4([192, 168, 1, 5]),
            ],
        );
        let (update, read) = decode(&buf).unwrap();
        assert_eq!(read, buf.len());
        assert_eq!(ips(&update), [IpAddr::V4([192, 168, 1, 5])]);
        assert_eq!(
            update.families,
            Families { v4: true, v6: true },
            "a short IPv6 entry still names its family"
        );
    }

    #[test]
    fn an_empty_list_clears_the_family_it_names() {
        let mut set = AddressSet::EMPTY;
        let both = list(2, 0, &[ip4([10, 0, 0, 1]), ip6(A6, 0)]);
        assert_eq!(set.apply(&decode(&both).unwrap().0), 0);
        assert_eq!(set.len(), 2);
        let clear_v4 = decode(&list(0, NDIS_PROTOCOL_ID_TCP_IP, &[])).unwrap();
        assert_eq!(clear_v4.1, LIST_HEADER);
        set.apply(&clear_v4.0);
        assert_eq!(set.iter().collect::<Vec<_>>(), [IpAddr::v6(A6)]);
        set.apply(&decode(&both).unwrap().0);
        let clear_all = decode(&list(0, NDIS_PROTOCOL_ID_DEFAULT, &[])).unwrap().0;
        set.apply(&clear_all);
        assert!(set.is_empty());
    }

    #[test]
    fn a_list_replaces_only_its_own_family() {
        let mut set = AddressSet::EMPTY;
        set.apply(&decode(&list(1, 0, &[ip6(A6, 3)])).unwrap().0);
        set.apply(&decode(&list(1, 0, &[ip4([10, 0, 0, 1])])).unwrap().0);
        set.apply(&decode(&list(1, 0, &[ip4([10, 0, 0, 9])])).unwrap().0);
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [
                IpAddr::V6 {
                    addr: A6,
                    scope_id: 3
                },
                IpAddr::V4([10, 0, 0, 9])
            ],
            "IPv6 survives IPv4 updates; the old IPv4 address is gone"
        );
    }

    #[test]
    fn more_addresses_than_fit_are_dropped_and_counted() {
        let entries: Vec<_> = (1..=u8::try_from(MAX_ADDRESSES + 2).unwrap())
            .map(|i| ip4([10, 0, 1, i]))
            .chain([ip4([10, 0, 1, 1])])
            .collect();
        let buf = list(i32::try_from(entries.len()).unwrap(), 0, &entries);
        let (update, _) = decode(&buf).unwrap();
        assert_eq!(update.addresses.len(), MAX_ADDRESSES);
        assert_eq!(update.dropped, 3, "two beyond the limit and one repeat");
    }
}
