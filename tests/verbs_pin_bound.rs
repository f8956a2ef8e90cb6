//! The connection's pin list is sized from the SGE limits of the QPs that run in it: when the
//! peer lives on an adapter that allows more SGEs than the list was sized for at create, the
//! connect grows it, so a full pass of the peer's widest requests still pins every range (a
//! list too short refuses the access: the writes would complete with an error). Through the
//! dispatch tables.

mod ndk_common;

use ndk_common::{Side, config, summary};
use softndk::abi::{
    NDK_MR_FLAG_ALLOW_REMOTE_WRITE, NDK_OP_FLAG_DEFER, NDK_OPERATION_TYPE, NDK_VERSION,
    STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS,
};
use softndk::consumer::{Adapter, Closed, QpLimits};
use softndk::platform::host::{FaultPlan, Host};
use softndk::verbs::{AdapterConfig, Limits};

const WRITE: i32 = NDK_OPERATION_TYPE::WRITE.0;
const S: u32 = STATUS_SUCCESS.as_u32();

/// Widest SGE list the wide adapter allows (its default).
const WIDE: usize = 16;

fn narrow() -> AdapterConfig {
    let wide = config();
    AdapterConfig {
        limits: Limits {
            max_initiator_sge: 1,
            max_receive_sge: 1,
            max_read_sge: 1,
            ..wide.limits
        },
        ..wide
    }
}

/// `a` on an adapter allowing 1 SGE everywhere (its list is sized for 1-SGE peers), `b` on one
/// allowing 16; the pair runs in `a`'s connection. `b` then writes 8 deferred requests of 16
/// one-byte SGEs each into `a`'s memory, released by the last one: one pass of the full budget,
/// 8 × 17 ranges, several times what a list sized for 1-SGE peers holds.
#[test]
fn a_wider_peer_gets_a_longer_pin_list_at_connect() {
    const WRITES: usize = 8;
    let p = Host::deterministic();
    let narrow_adapter = Adapter::open(&narrow(), &p, NDK_VERSION::new(2, 1)).unwrap();
    let wide_adapter = Adapter::open(&config(), &p, NDK_VERSION::new(2, 1)).unwrap();
    let limits = |sge| QpLimits {
        receive_depth: 16,
        initiator_depth: 16,
        max_receive_sge: 1,
        max_initiator_sge: sge,
        inline_data_size: 0,
    };
    let a = Side::new(&narrow_adapter, 0xA, 32, limits(1));
    let b = Side::new(&wide_adapter, 0xB, 32, limits(16));
    assert_eq!(a.qp.connect_to(&b.qp, 4, 4), STATUS_SUCCESS);
    let payload: Vec<u8> = (0..WRITES * WIDE)
        .map(|i| u8::try_from(i % 251).unwrap())
        .collect();
    let (src, src_mr) = b.buffer(&payload, 0);
    let (dst, dst_mr) = a.buffer(&[0; WRITES * WIDE], NDK_MR_FLAG_ALLOW_REMOTE_WRITE);

    for i in 0..WRITES {
        let at = i * WIDE;
        let sges: Vec<_> = (0..WIDE)
            .map(|k| src.sge(at + k, 1, src_mr.local_token()))
            .collect();
        let flags = if i + 1 < WRITES { NDK_OP_FLAG_DEFER } else { 0 };
        let target = dst.va() + at as u64;
        assert_eq!(
            b.qp.write(i, &sges, target, dst_mr.remote_token(), flags),
            STATUS_SUCCESS
        );
    }

    let written: Vec<_> = (0..WRITES).map(|i| (i, S, 16, WRITE)).collect();
    assert_eq!(
        summary(&b.icq.results_ex(32)),
        written,
        "every write pinned all its ranges"
    );
    assert_eq!(dst.read(), payload, "every write's bytes landed");
    // A pin left behind would hold its MR's unit and make the close pend.
    assert!(matches!(src_mr.close(), Closed::Now), "a source pin leaked");
    assert!(matches!(dst_mr.close(), Closed::Now), "a target pin leaked");
    a.close();
    b.close();
    narrow_adapter.close();
    wide_adapter.close();
}

/// The longer list is reserved at connect: when that fails, the connect fails with
/// `STATUS_INSUFFICIENT_RESOURCES` and changes nothing (both QPs stay idle and connect later).
#[test]
fn a_connect_that_cannot_reserve_the_longer_list_changes_nothing() {
    let p = Host::deterministic();
    let narrow_adapter = Adapter::open(&narrow(), &p, NDK_VERSION::new(2, 1)).unwrap();
    let wide_adapter = Adapter::open(&config(), &p, NDK_VERSION::new(2, 1)).unwrap();
    let limits = |sge| QpLimits {
        receive_depth: 4,
        initiator_depth: 4,
        max_receive_sge: 1,
        max_initiator_sge: sge,
        inline_data_size: 0,
    };
    let a = Side::new(&narrow_adapter, 0xA, 8, limits(1));
    let b = Side::new(&wide_adapter, 0xB, 8, limits(16));
    p.set_fault_plan(FaultPlan::FailFrom(0));
    let refused = a.qp.connect_to(&b.qp, 4, 4);
    p.set_fault_plan(FaultPlan::Off);
    assert_eq!(refused, STATUS_INSUFFICIENT_RESOURCES);
    assert_eq!(
        a.qp.connect_to(&b.qp, 4, 4),
        STATUS_SUCCESS,
        "both still idle"
    );
    let (src, src_mr) = b.buffer(&[7; WIDE], 0);
    let (dst, dst_mr) = a.buffer(&[0; WIDE], NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
    let sges: Vec<_> = (0..WIDE)
        .map(|k| src.sge(k, 1, src_mr.local_token()))
        .collect();
    assert_eq!(
        b.qp.write(1, &sges, dst.va(), dst_mr.remote_token(), 0),
        STATUS_SUCCESS
    );
    assert_eq!(summary(&b.icq.results_ex(4)), [(1, S, 16, WRITE)]);
    assert_eq!(dst.read(), [7; WIDE]);
    assert!(matches!(src_mr.close(), Closed::Now));
    assert!(matches!(dst_mr.close(), Closed::Now));
    a.close();
    b.close();
    narrow_adapter.close();
    wide_adapter.close();
}
