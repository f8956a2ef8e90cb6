//! A pass that pins more ranges than one release batch holds: every pin must still be released
//! (after the connection lock), so the MRs it covered close at once afterwards and every
//! request completes with its bytes in place. Through the dispatch tables.

mod ndk_common;

use ndk_common::{Side, config, summary};
use softndk::abi::{
    NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NDK_OP_FLAG_DEFER, NDK_OPERATION_TYPE, NDK_VERSION,
    STATUS_SUCCESS,
};
use softndk::consumer::{Adapter, Closed, QpLimits};
use softndk::platform::host::Host;

const SEND: i32 = NDK_OPERATION_TYPE::SEND.0;
const RECV: i32 = NDK_OPERATION_TYPE::RECEIVE.0;
const S: u32 = STATUS_SUCCESS.as_u32();

/// Sends waiting behind DEFER, released by one doorbell: the first pass executes a full budget
/// of them (each pins 3 source ranges and 1 receive range), far more pins than one batch.
#[test]
fn a_pass_with_more_pins_than_a_batch_releases_them_all() {
    const SENDS: usize = 12;
    let p = Host::deterministic();
    let adapter = Adapter::open(&config(), &p, NDK_VERSION::new(2, 1)).unwrap();
    let limits = QpLimits {
        receive_depth: 16,
        initiator_depth: 16,
        max_receive_sge: 1,
        max_initiator_sge: 3,
        inline_data_size: 0,
    };
    let a = Side::new(&adapter, 0xA, 32, limits);
    let b = Side::new(&adapter, 0xB, 32, limits);
    assert_eq!(a.qp.connect_to(&b.qp, 4, 4), STATUS_SUCCESS);
    let payload: Vec<u8> = (0..SENDS * 3).map(|i| u8::try_from(i).unwrap()).collect();
    let (src, src_mr) = a.buffer(&payload, 0);
    let (dst, dst_mr) = b.buffer(&[0; SENDS * 3], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);

    for i in 0..SENDS {
        let at = i * 3;
        let sge = dst.sge(at, 3, dst_mr.local_token());
        assert_eq!(b.qp.receive(100 + i, &[sge]), STATUS_SUCCESS);
    }
    for i in 0..SENDS {
        let at = i * 3;
        // Three one-byte SGEs: three pins of the same MR per send.
        let sges = [0, 1, 2].map(|k| src.sge(at + k, 1, src_mr.local_token()));
        let flags = if i + 1 < SENDS { NDK_OP_FLAG_DEFER } else { 0 };
        assert_eq!(a.qp.send(i, &sges, flags), STATUS_SUCCESS);
    }

    assert_eq!(
        dst.read(),
        payload,
        "every send's bytes landed in its receive"
    );
    let sent: Vec<_> = (0..SENDS).map(|i| (i, S, 3, SEND)).collect();
    assert_eq!(summary(&a.icq.results_ex(32)), sent);
    let received: Vec<_> = (0..SENDS).map(|i| (100 + i, S, 3, RECV)).collect();
    assert_eq!(summary(&b.rcq.results_ex(32)), received);
    // A pin left behind would hold its MR's unit and make the close pend.
    assert!(matches!(src_mr.close(), Closed::Now), "a source pin leaked");
    assert!(
        matches!(dst_mr.close(), Closed::Now),
        "a receive pin leaked"
    );
    a.close();
    b.close();
    adapter.close();
}
