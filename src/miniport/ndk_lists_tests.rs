use super::*;
use crate::abi::{AF_INET, AF_INET6};
use crate::sys::NDIS_STATUS_SUCCESS;

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn v4(last: u8, port: u16) -> Address {
    Address::v4([10, 0, 0, last], port)
}

fn v6(last: u8, port: u16) -> Address {
    let mut ip = [0; 16];
    ip[0] = 0xFE;
    ip[1] = 0x80;
    ip[15] = last;
    Address::v6(ip, port)
}

#[test]
fn empty_lists_are_a_bare_header() {
    for write in [
        |b: &mut [u8]| write_connections(b, &[]),
        |b: &mut [u8]| write_local_endpoints(b, &[]),
    ] {
        let mut buf = [0xAA_u8; 20];
        let outcome = write(&mut buf);
        assert_eq!(outcome.status, NDIS_STATUS_SUCCESS);
        assert_eq!(outcome.bytes_done, 16);
        assert_eq!(buf[0], 0x80);
        assert_eq!(buf[1], 1);
        assert_eq!(u16_at(&buf, 2), 16);
        assert_eq!(u32_at(&buf, 4), 0, "flags");
        assert_eq!(u32_at(&buf, 8), 0, "count");
        assert_eq!(buf[12], 0, "not mapped to TCP");
        assert_eq!(&buf[16..], [0xAA; 4], "nothing past the answer");
    }
}

#[test]
fn connections_are_encoded_at_their_offsets() {
    let entries = [
        ConnectionEntry {
            local: v4(1, 445),
            remote: v4(2, 50_000),
        },
        ConnectionEntry {
            local: v6(1, 445),
            remote: v6(2, 1),
        },
    ];
    let mut buf = [0xAA_u8; 16 + 2 * 64];
    let outcome = write_connections(&mut buf, &entries);
    assert_eq!(outcome.status, NDIS_STATUS_SUCCESS);
    assert_eq!(outcome.bytes_done, 144);
    assert_eq!(u16_at(&buf, 2), 144);
    assert_eq!(u32_at(&buf, 8), 2);
    let first = &buf[16..80];
    assert_eq!(u16::from_ne_bytes([first[0], first[1]]), AF_INET);
    assert_eq!(&first[2..4], 445_u16.to_be_bytes());
    assert_eq!(&first[4..8], [10, 0, 0, 1]);
    assert_eq!(
        &first[8..28],
        [0; 20],
        "the rest of the 28-byte slot is zero"
    );
    assert_eq!(u16::from_ne_bytes([first[28], first[29]]), AF_INET);
    assert_eq!(&first[30..32], 50_000_u16.to_be_bytes());
    assert_eq!(&first[32..36], [10, 0, 0, 2]);
    assert_eq!(first[56], 0, "kernel owner");
    assert_eq!(u32_at(first, 60), 0, "no pid");
    let second = &buf[80..144];
    assert_eq!(u16::from_ne_bytes([second[0], second[1]]), AF_INET6);
    assert_eq!(second[8], 0xFE, "IPv6 address at 8 in SOCKADDR_IN6");
    assert_eq!(second[23], 1);
    assert_eq!(u16::from_ne_bytes([second[28], second[29]]), AF_INET6);
    assert_eq!(second[28 + 23], 2);
    assert_eq!(
        Address::from_sockaddr(&second[28..56]).unwrap(),
        entries[1].remote,
        "the slot parses back"
    );
}

#[test]
fn local_endpoints_are_encoded_at_their_offsets() {
    let entries = [
        LocalEndpointEntry {
            local: v4(9, 445),
            listener: true,
        },
        LocalEndpointEntry {
            local: v6(9, 7),
            listener: false,
        },
    ];
    let mut buf = [0xAA_u8; 16 + 2 * 36 + 3];
    let outcome = write_local_endpoints(&mut buf, &entries);
    assert_eq!(outcome.status, NDIS_STATUS_SUCCESS);
    assert_eq!(outcome.bytes_done, 88);
    assert_eq!(u16_at(&buf, 2), 88);
    assert_eq!(u32_at(&buf, 8), 2);
    assert_eq!(
        Address::from_sockaddr(&buf[16..44]).unwrap(),
        entries[0].local
    );
    assert_eq!(buf[16 + 28], 0, "kernel owner");
    assert_eq!(buf[16 + 29], 1, "listener");
    assert_eq!(u32_at(&buf, 16 + 32), 0, "no pid");
    assert_eq!(
        Address::from_sockaddr(&buf[52..80]).unwrap(),
        entries[1].local
    );
    assert_eq!(buf[52 + 29], 0, "not a listener");
    assert_eq!(&buf[88..], [0xAA; 3], "extra bytes untouched");
}

#[test]
fn a_short_buffer_gets_the_whole_size_and_nothing_written() {
    let entries = [ConnectionEntry {
        local: v4(1, 1),
        remote: v4(2, 2),
    }; 3];
    for len in [0, 4, 16, 16 + 64, 16 + 3 * 64 - 1] {
        let mut buf = std::vec![0xAA_u8; len];
        let outcome = write_connections(&mut buf, &entries);
        assert_eq!(outcome.status, NDIS_STATUS_BUFFER_TOO_SHORT, "len {len}");
        assert_eq!(outcome.bytes_needed, 16 + 3 * 64);
        assert_eq!(outcome.bytes_done, 0);
        assert!(buf.iter().all(|&b| b == 0xAA), "nothing written");
    }
    let endpoints = [LocalEndpointEntry {
        local: v4(1, 1),
        listener: true,
    }];
    let mut buf = [0_u8; 51];
    let outcome = write_local_endpoints(&mut buf, &endpoints);
    assert_eq!(outcome.status, NDIS_STATUS_BUFFER_TOO_SHORT);
    assert_eq!(outcome.bytes_needed, 52);
}

#[test]
fn a_long_list_saturates_the_header_size_but_not_the_count() {
    let entries = std::vec![
        ConnectionEntry {
            local: v4(1, 1),
            remote: v4(2, 2),
        };
        1100
    ];
    let mut buf = std::vec![0_u8; 16 + 1100 * 64];
    let outcome = write_connections(&mut buf, &entries);
    assert_eq!(outcome.status, NDIS_STATUS_SUCCESS);
    assert_eq!(outcome.bytes_done, 16 + 1100 * 64);
    assert_eq!(u16_at(&buf, 2), u16::MAX);
    assert_eq!(u32_at(&buf, 8), 1100);
    let last = &buf[16 + 1099 * 64..];
    assert_eq!(Address::from_sockaddr(&last[28..56]).unwrap(), v4(2, 2));
}
