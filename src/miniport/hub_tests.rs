use super::*;
use crate::miniport::oid;
use crate::sys::oid::{OID_802_3_MULTICAST_LIST, OID_GEN_CURRENT_PACKET_FILTER};
use std::collections::HashSet;
use std::sync::Arc;
use std::vec::Vec;

const ME: MacAddress = [0x02, 0x53, 0, 0, 0, 1];
const OTHER: MacAddress = [0x02, 0x53, 0, 0, 0, 2];
const GROUP: MacAddress = [0x01, 0x00, 0x5E, 0, 0, 1];
const OTHER_GROUP: MacAddress = [0x33, 0x33, 0, 0, 0, 1];

fn filter(packet_filter: u32, multicast: &[MacAddress]) -> RxFilter {
    let mut state = oid::OidState::new(ME);
    let set = oid::set(
        OID_GEN_CURRENT_PACKET_FILTER,
        &packet_filter.to_le_bytes(),
        &mut state,
    );
    assert_eq!(set.status, crate::sys::NDIS_STATUS_SUCCESS);
    let list: Vec<u8> = multicast.iter().flatten().copied().collect();
    let set = oid::set(OID_802_3_MULTICAST_LIST, &list, &mut state);
    assert_eq!(set.status, crate::sys::NDIS_STATUS_SUCCESS);
    RxFilter::from_oid_state(&state)
}

#[test]
fn closed_filter_accepts_nothing() {
    let f = RxFilter::closed(ME);
    for dst in [ME, OTHER, GROUP, BROADCAST] {
        assert!(!f.accepts(&dst), "{dst:?}");
    }
}

#[test]
fn each_filter_bit_admits_its_class_only() {
    let directed = filter(NDIS_PACKET_TYPE_DIRECTED, &[]);
    assert!(directed.accepts(&ME));
    assert!(!directed.accepts(&OTHER), "unicast to another MAC");
    assert!(!directed.accepts(&BROADCAST));
    assert!(!directed.accepts(&GROUP));

    let broadcast = filter(NDIS_PACKET_TYPE_BROADCAST, &[]);
    assert!(broadcast.accepts(&BROADCAST));
    assert!(!broadcast.accepts(&ME));
    assert!(!broadcast.accepts(&GROUP));

    let listed = filter(NDIS_PACKET_TYPE_MULTICAST, &[GROUP]);
    assert!(listed.accepts(&GROUP));
    assert!(!listed.accepts(&OTHER_GROUP), "not in the list");
    assert!(!listed.accepts(&BROADCAST), "broadcast is its own class");

    let list_without_bit = filter(NDIS_PACKET_TYPE_DIRECTED, &[GROUP]);
    assert!(
        !list_without_bit.accepts(&GROUP),
        "list alone does not admit"
    );

    let all_multicast = filter(NDIS_PACKET_TYPE_ALL_MULTICAST, &[]);
    assert!(all_multicast.accepts(&GROUP));
    assert!(all_multicast.accepts(&OTHER_GROUP));
    assert!(!all_multicast.accepts(&BROADCAST));
    assert!(!all_multicast.accepts(&ME));

    let promiscuous = filter(NDIS_PACKET_TYPE_PROMISCUOUS, &[]);
    for dst in [ME, OTHER, GROUP, BROADCAST] {
        assert!(promiscuous.accepts(&dst));
    }
}

#[test]
fn frame_lengths_and_destination() {
    assert!(!frame_len_ok(MIN_FRAME - 1));
    assert!(frame_len_ok(MIN_FRAME));
    assert!(frame_len_ok(MAX_FRAME));
    assert!(!frame_len_ok(MAX_FRAME + 1));
    assert_eq!(MAX_FRAME, 1514);
    assert_eq!(destination(&[1, 2, 3, 4, 5]), None);
    assert_eq!(
        destination(&[1, 2, 3, 4, 5, 6, 7]),
        Some([1, 2, 3, 4, 5, 6])
    );
}

#[test]
fn hub_routes_to_every_other_accepting_port() {
    let mut ports: Ports<u32, 4> = Ports::new();
    let all = NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_BROADCAST;
    let a = ports.attach(1, filter(all, &[])).unwrap();
    let b = ports.attach(2, filter(all, &[])).unwrap();
    let c = ports
        .attach(3, RxFilter::closed([0x02, 0x53, 0, 0, 0, 3]))
        .unwrap();
    let got: Vec<u32> = ports.receivers(a, &BROADCAST).copied().collect();
    assert_eq!(got, [2], "never back to the sender; closed filter excluded");
    let got: Vec<u32> = ports.receivers(c, &BROADCAST).copied().collect();
    assert_eq!(got, [1, 2]);
    // Unicast to ME: both a and b have MAC ME in this test; from b only a gets it.
    let got: Vec<u32> = ports.receivers(b, &ME).copied().collect();
    assert_eq!(got, [1]);
    // A filter change takes effect at once.
    assert!(ports.set_filter(c, filter(NDIS_PACKET_TYPE_PROMISCUOUS, &[])));
    let got: Vec<u32> = ports.receivers(a, &OTHER).copied().collect();
    assert_eq!(got, [3]);
    // Detached ports receive nothing and free their slot.
    assert_eq!(ports.detach(b), Some(2));
    assert_eq!(ports.detach(b), None);
    assert!(!ports.set_filter(b, RxFilter::closed(ME)));
    let got: Vec<u32> = ports.receivers(a, &BROADCAST).copied().collect();
    assert_eq!(got, [3]);
    assert_eq!(ports.len(), 2);
}

#[test]
fn hub_refuses_a_port_beyond_capacity() {
    let mut ports: Ports<u32, 2> = Ports::new();
    let first = ports.attach(1, RxFilter::closed(ME)).unwrap();
    ports.attach(2, RxFilter::closed(ME)).unwrap();
    assert_eq!(ports.attach(3, RxFilter::closed(ME)), Err(HubFull));
    assert_eq!(ports.len(), 2);
    ports.detach(first);
    assert_eq!(
        ports.attach(3, RxFilter::closed(ME)),
        Ok(first),
        "slot reused"
    );
}

#[test]
fn slots_run_out_and_come_back() {
    let slots = RxSlots::new(3);
    let taken: Vec<usize> = (0..3).map(|_| slots.take().unwrap()).collect();
    assert_eq!(taken, [0, 1, 2]);
    assert_eq!(slots.take(), None, "exhausted: the frame is dropped");
    assert_eq!(slots.in_use(), 3);
    slots.give(1).unwrap();
    assert_eq!(slots.take(), Some(1));
    assert_eq!(slots.in_use(), 3);
}

#[test]
fn publish_and_drain_hand_slots_to_the_indicator_once() {
    let slots = RxSlots::new(RX_SLOTS);
    let a = slots.take().unwrap();
    let b = slots.take().unwrap();
    slots.publish(b).unwrap();
    slots.publish(a).unwrap();
    let drained = slots.drain();
    assert_eq!(drained.len(), 2);
    assert_eq!(drained.collect::<Vec<_>>(), [a, b]);
    assert!(slots.drain().is_empty(), "a slot is drained once");
    assert_eq!(
        slots.in_use(),
        2,
        "indicated slots stay in use until returned"
    );
    slots.give(a).unwrap();
    slots.give(b).unwrap();
    assert_eq!(slots.in_use(), 0);
}

#[test]
fn bad_slot_indices_are_refused_without_change() {
    let slots = RxSlots::new(4);
    assert_eq!(slots.give(0), Err(NotInUse(0)), "double return");
    assert_eq!(slots.give(4), Err(NotInUse(4)), "out of range");
    assert_eq!(slots.give(usize::MAX), Err(NotInUse(usize::MAX)));
    assert_eq!(slots.publish(2), Err(NotInUse(2)), "publishing a free slot");
    assert_eq!(slots.publish(9), Err(NotInUse(9)));
    assert!(slots.drain().is_empty());
    assert_eq!(slots.in_use(), 0);
    let full = RxSlots::new(64);
    assert_eq!(
        (0..64).filter_map(|_| full.take()).count(),
        64,
        "all 64 bits usable"
    );
    assert_eq!(full.take(), None);
}

#[test]
fn concurrent_senders_never_share_a_slot() {
    let slots = Arc::new(RxSlots::new(RX_SLOTS));
    #[expect(
        clippy::needless_collect,
        reason = "every thread must be spawned before the first join"
    )]
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let slots = Arc::clone(&slots);
            std::thread::spawn(move || {
                let mut seen = 0_usize;
                for _ in 0..2000 {
                    let mut mine = Vec::new();
                    while mine.len() < 8 {
                        if let Some(i) = slots.take() {
                            mine.push(i);
                        }
                    }
                    let unique: HashSet<_> = mine.iter().collect();
                    assert_eq!(unique.len(), mine.len());
                    for i in mine {
                        slots.publish(i).unwrap();
                    }
                    for i in slots.drain() {
                        slots.give(i).unwrap();
                        seen += 1;
                    }
                }
                seen
            })
        })
        .collect();
    let mut total: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    for i in slots.drain() {
        slots.give(i).unwrap();
        total += 1;
    }
    assert_eq!(slots.in_use(), 0, "every slot came back exactly once");
    assert_eq!(
        total,
        4 * 2000 * 8,
        "every published frame was drained once"
    );
}
