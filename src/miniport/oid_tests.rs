use super::*;
use crate::fabric::Address;
use crate::miniport::ndk_lists::{ConnectionEntry, LocalEndpointEntry};
use crate::sys::NDIS_STATUS_INVALID_DATA;
use crate::verbs::StatsSnapshot;

const MAC: [u8; 6] = [0x02, 0x53, 0, 0, 0, 9];

fn state() -> OidState {
    OidState::new(MAC)
}

fn counters() -> CounterSnapshot {
    CounterSnapshot {
        xmit_ok: 0x1_0000_0002,
        xmit_discards: 5,
        rcv_ok: 7,
        rcv_discards: 9,
        ..CounterSnapshot::default()
    }
}

fn query_len(oid: u32, len: usize) -> (OidOutcome, std::vec::Vec<u8>) {
    let mut buf = std::vec![0xAA_u8; len];
    let outcome = query(oid, &mut buf, &state(), &counters(), &NdkLists::EMPTY);
    (outcome, buf)
}

const QUERY_ONLY: [u32; 14] = [
    OID_GEN_TRANSMIT_BUFFER_SPACE,
    OID_GEN_RECEIVE_BUFFER_SPACE,
    OID_GEN_TRANSMIT_BLOCK_SIZE,
    OID_GEN_RECEIVE_BLOCK_SIZE,
    OID_GEN_VENDOR_ID,
    OID_GEN_VENDOR_DESCRIPTION,
    OID_GEN_MAXIMUM_TOTAL_SIZE,
    OID_GEN_VENDOR_DRIVER_VERSION,
    OID_GEN_XMIT_OK,
    OID_GEN_RCV_OK,
    OID_GEN_STATISTICS,
    OID_802_3_PERMANENT_ADDRESS,
    OID_802_3_CURRENT_ADDRESS,
    OID_802_3_MAXIMUM_LIST_SIZE,
];
const SET_ONLY: [u32; 3] = [
    OID_GEN_LINK_PARAMETERS,
    OID_PNP_SET_POWER,
    OID_NDK_SET_STATE,
];

#[test]
fn every_supported_oid_is_answered_in_some_direction() {
    for oid in SUPPORTED_OIDS {
        let mut buf = [0_u8; 512];
        let queried = query(oid, &mut buf, &state(), &counters(), &NdkLists::EMPTY).status;
        let mut s = state();
        let set_status = set(oid, &[0_u8; 512], &mut s).status;
        assert!(
            queried != NDIS_STATUS_NOT_SUPPORTED || set_status != NDIS_STATUS_NOT_SUPPORTED,
            "OID {oid:#010x} listed as supported but answered in no direction"
        );
    }
    let mut unique = SUPPORTED_OIDS.to_vec();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), SUPPORTED_OIDS.len(), "no duplicates");
}

#[test]
fn wrong_direction_and_unknown_oids_are_not_supported() {
    let mut s = state();
    for oid in QUERY_ONLY {
        assert_eq!(
            set(oid, &[0; 512], &mut s).status,
            NDIS_STATUS_NOT_SUPPORTED,
            "{oid:#x}"
        );
    }
    for oid in SET_ONLY {
        assert_eq!(
            query_len(oid, 512).0.status,
            NDIS_STATUS_NOT_SUPPORTED,
            "{oid:#x}"
        );
    }
    assert_eq!(
        query_len(0x0001_0101, 512).0.status,
        NDIS_STATUS_NOT_SUPPORTED
    );
    assert_eq!(
        set(0xDEAD_BEEF, &[0; 4], &mut s).status,
        NDIS_STATUS_NOT_SUPPORTED
    );
    assert_eq!(s, state(), "refused sets change nothing");
}

#[test]
fn u32_queries_need_exactly_four_bytes() {
    for (oid, expected) in [
        (OID_GEN_MAXIMUM_TOTAL_SIZE, 1514_u32),
        (OID_GEN_TRANSMIT_BLOCK_SIZE, 1514),
        (OID_GEN_RECEIVE_BUFFER_SPACE, 1514 * 64),
        (OID_GEN_VENDOR_ID, 0x00FF_FFFF),
        (OID_GEN_CURRENT_LOOKAHEAD, 1500),
        (OID_802_3_MAXIMUM_LIST_SIZE, 32),
    ] {
        for len in 0..4 {
            let (outcome, buf) = query_len(oid, len);
            assert_eq!(
                outcome.status, NDIS_STATUS_BUFFER_TOO_SHORT,
                "{oid:#x} len {len}"
            );
            assert_eq!(outcome.bytes_needed, 4);
            assert_eq!(outcome.bytes_done, 0);
            assert!(
                buf.iter().all(|&b| b == 0xAA),
                "nothing written when too short"
            );
        }
        for len in [4, 5, 64] {
            let (outcome, buf) = query_len(oid, len);
            assert_eq!(outcome.status, NDIS_STATUS_SUCCESS);
            assert_eq!(outcome.bytes_done, 4);
            assert_eq!(u32::from_le_bytes(buf[..4].try_into().unwrap()), expected);
            assert!(
                buf[4..].iter().all(|&b| b == 0xAA),
                "nothing past the answer"
            );
        }
    }
}

#[test]
fn counters_fall_back_to_32_bits_and_always_ask_for_8() {
    let (outcome, _) = query_len(OID_GEN_XMIT_OK, 3);
    assert_eq!(
        (outcome.status, outcome.bytes_needed, outcome.bytes_done),
        (NDIS_STATUS_BUFFER_TOO_SHORT, 8, 0)
    );
    let (outcome, buf) = query_len(OID_GEN_XMIT_OK, 4);
    assert_eq!(
        (outcome.status, outcome.bytes_done, outcome.bytes_needed),
        (NDIS_STATUS_SUCCESS, 4, 8)
    );
    assert_eq!(
        u32::from_le_bytes(buf[..4].try_into().unwrap()),
        2,
        "low 32 bits"
    );
    let (outcome, buf) = query_len(OID_GEN_XMIT_OK, 7);
    assert_eq!(outcome.bytes_done, 4);
    assert_eq!(buf[4..7], [0xAA; 3]);
    let (outcome, buf) = query_len(OID_GEN_XMIT_OK, 8);
    assert_eq!(outcome.bytes_done, 8);
    assert_eq!(
        u64::from_le_bytes(buf[..8].try_into().unwrap()),
        0x1_0000_0002
    );
    let (_, buf) = query_len(OID_GEN_RCV_OK, 8);
    assert_eq!(u64::from_le_bytes(buf[..8].try_into().unwrap()), 7);
}

#[test]
fn addresses_and_description() {
    for oid in [OID_802_3_PERMANENT_ADDRESS, OID_802_3_CURRENT_ADDRESS] {
        let (outcome, _) = query_len(oid, 5);
        assert_eq!(
            (outcome.status, outcome.bytes_needed),
            (NDIS_STATUS_BUFFER_TOO_SHORT, 6)
        );
        let (outcome, buf) = query_len(oid, 6);
        assert_eq!(outcome.bytes_done, 6);
        assert_eq!(buf[..6], MAC);
    }
    let description = config::VENDOR_DESCRIPTION;
    let (outcome, _) = query_len(OID_GEN_VENDOR_DESCRIPTION, description.len() - 1);
    assert_eq!(outcome.bytes_needed as usize, description.len());
    let (outcome, buf) = query_len(OID_GEN_VENDOR_DESCRIPTION, 100);
    assert_eq!(&buf[..outcome.bytes_done as usize], description);
    assert_eq!(buf[outcome.bytes_done as usize - 1], 0, "NUL-terminated");
}

#[test]
fn structured_answers_carry_their_headers() {
    let (outcome, _) = query_len(OID_GEN_STATISTICS, 0x97);
    assert_eq!(
        (outcome.status, outcome.bytes_needed),
        (NDIS_STATUS_BUFFER_TOO_SHORT, 0x98)
    );
    let (outcome, buf) = query_len(OID_GEN_STATISTICS, 0x98);
    assert_eq!(outcome.bytes_done, 0x98);
    assert_eq!(buf[..4], [0x80, 1, 0x98, 0]);
    assert_eq!(
        u32::from_le_bytes(buf[4..8].try_into().unwrap()),
        SUPPORTED_STATISTICS
    );
    let at = |i: usize| u64::from_le_bytes(buf[8 + 8 * i..16 + 8 * i].try_into().unwrap());
    assert_eq!(at(statistics_counter::IF_HC_OUT_UCAST_PKTS), 0x1_0000_0002);
    assert_eq!(at(statistics_counter::IF_OUT_DISCARDS), 5);
    assert_eq!(at(statistics_counter::IF_HC_IN_UCAST_PKTS), 7);
    assert_eq!(at(statistics_counter::IF_IN_DISCARDS), 9);
    assert_eq!(at(1), 0, "ifInErrors is not kept");

    let (outcome, buf) = query_len(OID_GEN_INTERRUPT_MODERATION, 12);
    assert_eq!(outcome.bytes_done, 12);
    assert_eq!(buf[..4], [0x80, 1, 12, 0]);
    assert_eq!(
        u32::from_le_bytes(buf[8..12].try_into().unwrap()),
        1,
        "NotSupported"
    );
    let (outcome, _) = query_len(OID_GEN_INTERRUPT_MODERATION, 11);
    assert_eq!(outcome.bytes_needed, 12);

    let (outcome, _) = query_len(OID_NDK_STATISTICS, 247);
    assert_eq!(
        (outcome.status, outcome.bytes_needed),
        (NDIS_STATUS_BUFFER_TOO_SHORT, 248)
    );
    let (outcome, buf) = query_len(OID_NDK_STATISTICS, 300);
    assert_eq!(outcome.bytes_done, 248);
    assert_eq!(buf[..4], [0x80, 1, 248, 0]);
    assert_eq!(buf[248..], [0xAA; 52]);

    for oid in [OID_NDK_CONNECTIONS, OID_NDK_LOCAL_ENDPOINTS] {
        let (outcome, _) = query_len(oid, 15);
        assert_eq!(
            (outcome.status, outcome.bytes_needed),
            (NDIS_STATUS_BUFFER_TOO_SHORT, 16)
        );
        let (outcome, buf) = query_len(oid, 16);
        assert_eq!(outcome.bytes_done, 16);
        assert_eq!(buf[..4], [0x80, 1, 16, 0]);
        assert_eq!(
            u32::from_le_bytes(buf[8..12].try_into().unwrap()),
            0,
            "Count"
        );
    }
}

#[test]
fn direct_path_answers_only_ndk_statistics() {
    let mut buf = [0_u8; 256];
    assert_eq!(
        direct_query(OID_NDK_STATISTICS, &mut buf, &counters()).bytes_done,
        248
    );
    assert_eq!(
        direct_query(OID_GEN_XMIT_OK, &mut buf, &counters()).status,
        NDIS_STATUS_NOT_SUPPORTED
    );
}

#[test]
fn u32_sets_check_length_then_content() {
    let mut s = state();
    for len in 0..4 {
        let outcome = set(OID_GEN_CURRENT_PACKET_FILTER, &[1; 3][..len], &mut s);
        assert_eq!(
            (outcome.status, outcome.bytes_needed),
            (NDIS_STATUS_INVALID_LENGTH, 4)
        );
    }
    let outcome = set(
        OID_GEN_CURRENT_PACKET_FILTER,
        &0x0B_u32.to_le_bytes(),
        &mut s,
    );
    assert_eq!(
        (outcome.status, outcome.bytes_done),
        (NDIS_STATUS_SUCCESS, 4)
    );
    assert_eq!(s.packet_filter, 0x0B);
    let outcome = set(
        OID_GEN_CURRENT_PACKET_FILTER,
        &0x40_u32.to_le_bytes(),
        &mut s,
    );
    assert_eq!(
        outcome.status, NDIS_STATUS_NOT_SUPPORTED,
        "source-routing filter unsupported"
    );
    assert_eq!(s.packet_filter, 0x0B, "refused filter leaves the old one");

    let mut eight = [0_u8; 8];
    eight[..4].copy_from_slice(&256_u32.to_le_bytes());
    let outcome = set(OID_GEN_CURRENT_LOOKAHEAD, &eight, &mut s);
    assert_eq!(
        (outcome.status, outcome.bytes_done),
        (NDIS_STATUS_SUCCESS, 4)
    );
    assert_eq!(s.lookahead, 256);
    let outcome = set(OID_GEN_CURRENT_LOOKAHEAD, &1501_u32.to_le_bytes(), &mut s);
    assert_eq!(outcome.status, NDIS_STATUS_INVALID_DATA);
    assert_eq!(s.lookahead, 256);
    let mut q = [0_u8; 4];
    assert_eq!(
        query(
            OID_GEN_CURRENT_LOOKAHEAD,
            &mut q,
            &s,
            &counters(),
            &NdkLists::EMPTY
        )
        .bytes_done,
        4
    );
    assert_eq!(u32::from_le_bytes(q), 256, "query reads back the set value");
}

#[test]
fn multicast_list_edges() {
    let mut s = state();
    let group = |n: u8| [0x01, 0x00, 0x5E, 0, 0, n];
    let two: std::vec::Vec<u8> = [group(1), group(2)].concat();
    let outcome = set(OID_802_3_MULTICAST_LIST, &two, &mut s);
    assert_eq!(
        (outcome.status, outcome.bytes_done),
        (NDIS_STATUS_SUCCESS, 12)
    );
    assert_eq!(s.multicast_list(), &[group(1), group(2)]);
    let (outcome, buf) = {
        let mut buf = [0_u8; 20];
        (
            query(
                OID_802_3_MULTICAST_LIST,
                &mut buf,
                &s,
                &counters(),
                &NdkLists::EMPTY,
            ),
            buf,
        )
    };
    assert_eq!(outcome.bytes_done, 12);
    assert_eq!(buf[..12], two[..]);
    let mut short = [0_u8; 11];
    let outcome = query(
        OID_802_3_MULTICAST_LIST,
        &mut short,
        &s,
        &counters(),
        &NdkLists::EMPTY,
    );
    assert_eq!(
        (outcome.status, outcome.bytes_needed),
        (NDIS_STATUS_BUFFER_TOO_SHORT, 12)
    );

    let outcome = set(OID_802_3_MULTICAST_LIST, &two[..7], &mut s);
    assert_eq!(
        (outcome.status, outcome.bytes_needed),
        (NDIS_STATUS_INVALID_LENGTH, 12)
    );
    let unicast: std::vec::Vec<u8> = [group(3), MAC].concat();
    assert_eq!(
        set(OID_802_3_MULTICAST_LIST, &unicast, &mut s).status,
        NDIS_STATUS_INVALID_DATA
    );
    let full: std::vec::Vec<u8> = (0..32).flat_map(group).collect();
    assert_eq!(
        set(OID_802_3_MULTICAST_LIST, &full, &mut s).status,
        NDIS_STATUS_SUCCESS
    );
    assert_eq!(s.multicast_list().len(), 32);
    let over: std::vec::Vec<u8> = (0..33).flat_map(group).collect();
    let outcome = set(OID_802_3_MULTICAST_LIST, &over, &mut s);
    assert_eq!(
        (outcome.status, outcome.bytes_needed),
        (NDIS_STATUS_MULTICAST_FULL, 192)
    );
    assert_eq!(
        s.multicast_list().len(),
        32,
        "refused list leaves the old one"
    );
    let outcome = set(OID_802_3_MULTICAST_LIST, &[], &mut s);
    assert_eq!(
        (outcome.status, outcome.bytes_done),
        (NDIS_STATUS_SUCCESS, 0)
    );
    assert!(s.multicast_list().is_empty(), "empty set clears the list");
    let outcome = query(
        OID_802_3_MULTICAST_LIST,
        &mut [],
        &s,
        &counters(),
        &NdkLists::EMPTY,
    );
    assert_eq!(
        (outcome.status, outcome.bytes_done),
        (NDIS_STATUS_SUCCESS, 0)
    );
}

#[test]
fn interrupt_moderation_and_link_parameter_sets() {
    let mut s = state();
    let outcome = set(OID_GEN_INTERRUPT_MODERATION, &[0; 11], &mut s);
    assert_eq!(
        (outcome.status, outcome.bytes_needed),
        (NDIS_STATUS_INVALID_LENGTH, 12)
    );
    assert_eq!(
        set(OID_GEN_INTERRUPT_MODERATION, &[0; 12], &mut s).status,
        NDIS_STATUS_INVALID_DATA
    );

    let mut link = [0_u8; 0x20];
    link[..4].copy_from_slice(&[0x80, 1, 0x20, 0]);
    let outcome = set(OID_GEN_LINK_PARAMETERS, &link[..0x1F], &mut s);
    assert_eq!(
        (outcome.status, outcome.bytes_needed),
        (NDIS_STATUS_INVALID_LENGTH, 0x20)
    );
    let outcome = set(OID_GEN_LINK_PARAMETERS, &link, &mut s);
    assert_eq!(
        (outcome.status, outcome.bytes_done),
        (NDIS_STATUS_SUCCESS, 0x20)
    );
    for bad in [[0x81, 1, 0x20, 0], [0x80, 0, 0x20, 0], [0x80, 1, 0x1F, 0]] {
        link[..4].copy_from_slice(&bad);
        assert_eq!(
            set(OID_GEN_LINK_PARAMETERS, &link, &mut s).status,
            NDIS_STATUS_INVALID_DATA
        );
    }

    assert_eq!(
        set(OID_PNP_SET_POWER, &[1, 0, 0], &mut s).status,
        NDIS_STATUS_INVALID_LENGTH
    );
    assert_eq!(
        set(OID_PNP_SET_POWER, &1_u32.to_le_bytes(), &mut s).status,
        NDIS_STATUS_SUCCESS
    );
}

#[test]
fn ndk_set_state_decodes_a_boolean_and_changes_no_oid_state() {
    let mut s = state();
    let outcome = set(OID_NDK_SET_STATE, &[], &mut s);
    assert_eq!(
        (outcome.status, outcome.bytes_needed, outcome.ndk_request),
        (NDIS_STATUS_INVALID_LENGTH, 1, None)
    );
    let outcome = set(OID_NDK_SET_STATE, &[1], &mut s);
    assert_eq!(
        (outcome.status, outcome.bytes_done, outcome.ndk_request),
        (NDIS_STATUS_SUCCESS, 1, Some(true))
    );
    assert_eq!(
        set(OID_NDK_SET_STATE, &[0], &mut s).ndk_request,
        Some(false)
    );
    assert_eq!(
        set(OID_NDK_SET_STATE, &[2], &mut s).ndk_request,
        Some(true),
        "any non-zero is TRUE"
    );
    assert_eq!(
        set(OID_NDK_SET_STATE, &[0, 1, 1, 1], &mut s).ndk_request,
        Some(false),
        "only the first byte is the BOOLEAN"
    );
    assert_eq!(
        s,
        state(),
        "NDK state lives in ndk_state, not in the OID state"
    );
    assert_eq!(
        set(OID_GEN_CURRENT_LOOKAHEAD, &100_u32.to_le_bytes(), &mut s).ndk_request,
        None,
        "other OIDs never request an NDK change"
    );
}

#[test]
fn ndk_statistics_carry_the_provider_counters_on_both_paths() {
    let stats = StatsSnapshot {
        cq_errors: 3,
        in_octets: 0x1_0000_0000,
        out_messages: 42,
        ..StatsSnapshot::default()
    };
    let with_ndk = counters().with_ndk(&stats);
    let counter = |buf: &[u8], index: usize| {
        u64::from_le_bytes(buf[8 + index * 8..16 + index * 8].try_into().unwrap())
    };
    let mut regular = [0_u8; 248];
    let outcome = query(
        OID_NDK_STATISTICS,
        &mut regular,
        &state(),
        &with_ndk,
        &NdkLists::EMPTY,
    );
    assert_eq!(outcome.bytes_done, 248);
    let mut direct = [0_u8; 248];
    assert_eq!(
        direct_query(OID_NDK_STATISTICS, &mut direct, &with_ndk).bytes_done,
        248
    );
    assert_eq!(regular, direct, "both paths answer the same");
    assert_eq!(
        u32::from_le_bytes(regular[4..8].try_into().unwrap()),
        0,
        "Flags"
    );
    assert_eq!(counter(&regular, 25), 3, "CQError");
    assert_eq!(counter(&regular, 26), 0x1_0000_0000, "RDMAInOctets");
    assert_eq!(counter(&regular, 29), 42, "RDMAOutFrames");
}

#[test]
fn ndk_list_oids_encode_the_lists_they_are_given() {
    let connections = [ConnectionEntry {
        local: Address::v4([10, 0, 0, 1], 445),
        remote: Address::v4([10, 0, 0, 2], 9000),
    }];
    let endpoints = [
        LocalEndpointEntry {
            local: Address::v4([10, 0, 0, 1], 445),
            listener: true,
        },
        LocalEndpointEntry {
            local: Address::v4([10, 0, 0, 1], 9001),
            listener: false,
        },
    ];
    let lists = NdkLists {
        connections: &connections,
        endpoints: &endpoints,
    };
    let mut buf = [0_u8; 256];
    let outcome = query(OID_NDK_CONNECTIONS, &mut buf, &state(), &counters(), &lists);
    assert_eq!(outcome.bytes_done, 16 + 64);
    assert_eq!(u32::from_le_bytes(buf[8..12].try_into().unwrap()), 1);
    let outcome = query(
        OID_NDK_LOCAL_ENDPOINTS,
        &mut buf,
        &state(),
        &counters(),
        &lists,
    );
    assert_eq!(outcome.bytes_done, 16 + 2 * 36);
    assert_eq!(u32::from_le_bytes(buf[8..12].try_into().unwrap()), 2);
    let outcome = query(
        OID_NDK_LOCAL_ENDPOINTS,
        &mut buf[..87],
        &state(),
        &counters(),
        &lists,
    );
    assert_eq!(
        (outcome.status, outcome.bytes_needed),
        (NDIS_STATUS_BUFFER_TOO_SHORT, 88)
    );
}

#[test]
fn network_layer_addresses_set_the_adapter_addresses() {
    use crate::fabric::IpAddr;
    use crate::sys::oid::{NDIS_PROTOCOL_ID_TCP_IP, OID_GEN_NETWORK_LAYER_ADDRESSES};
    assert!(SUPPORTED_OIDS.contains(&OID_GEN_NETWORK_LAYER_ADDRESSES));
    let mut s = state();
    let mut buf = std::vec::Vec::new();
    buf.extend_from_slice(&1_i32.to_le_bytes());
    buf.extend_from_slice(&NDIS_PROTOCOL_ID_TCP_IP.to_le_bytes());
    buf.extend_from_slice(&16_u16.to_le_bytes());
    buf.extend_from_slice(&NDIS_PROTOCOL_ID_TCP_IP.to_le_bytes());
    buf.extend_from_slice(&[0, 0, 0, 0, 10, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0]);
    let outcome = set(OID_GEN_NETWORK_LAYER_ADDRESSES, &buf, &mut s);
    assert_eq!(outcome.status, NDIS_STATUS_SUCCESS);
    assert_eq!(outcome.bytes_done, 26);
    assert_eq!(
        s.addresses.iter().collect::<std::vec::Vec<_>>(),
        [IpAddr::V4([10, 0, 0, 7])]
    );
    let before = s.clone();
    let outcome = set(OID_GEN_NETWORK_LAYER_ADDRESSES, &buf[..20], &mut s);
    assert_eq!(outcome.status, NDIS_STATUS_INVALID_LENGTH);
    assert_eq!(outcome.bytes_needed, 26);
    assert_eq!(s, before, "a refused set changes nothing");
    let outcome = query(
        OID_GEN_NETWORK_LAYER_ADDRESSES,
        &mut [0; 64],
        &s,
        &counters(),
        &NdkLists::EMPTY,
    );
    assert_eq!(outcome.status, NDIS_STATUS_NOT_SUPPORTED, "set only");
}
