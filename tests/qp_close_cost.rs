//! T10's structural half (`spec/rdma-anchors.md` §6.5): closing a QP with `N` outstanding
//! requests does the flush work inside the close, at DISPATCH, and never waits, allocates or
//! defers. `NdkCloseQp` answers `STATUS_SUCCESS` in its own call (nothing else is in
//! progress), queues no deferred work, allocates nothing, and every outstanding request is
//! already reaped as `STATUS_CANCELLED` when it returns. The cost side is `benches/close.rs`.
#![cfg(not(loom))]
#![allow(clippy::unwrap_used, missing_docs)]

mod alloc_count;

use std::ffi::c_void;
use std::ptr;

use softndk::abi::{
    NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NDK_OPERATION_TYPE, NDK_RESULT_EX, NDK_VERSION, NTSTATUS,
    STATUS_CANCELLED, STATUS_CONNECTION_ABORTED, STATUS_SUCCESS,
};
use softndk::consumer::{Adapter, Buffer, Closed, Cq, CqEvents, Pd, QpLimits};
use softndk::platform::Irql;
use softndk::platform::host::{Host, with_irql};
use softndk::verbs::AdapterConfig;

use alloc_count::allocations_in;

/// A close completion that must never run: the close finishes in its call.
unsafe extern "system" fn never_called(_context: *mut c_void) {
    panic!("a close that answered STATUS_SUCCESS called its completion");
}

const MAX_N: u32 = 64;

const fn limits() -> QpLimits {
    QpLimits {
        receive_depth: MAX_N,
        initiator_depth: MAX_N,
        max_receive_sge: 1,
        max_initiator_sge: 1,
        inline_data_size: 0,
    }
}

fn reap_all(cq: &Cq) -> Vec<NDK_RESULT_EX> {
    let mut all = Vec::new();
    loop {
        let got = cq.results_ex(16);
        if got.is_empty() {
            return all;
        }
        all.extend(got);
    }
}

/// `n` receives and `n` sends (the peer posted no receive, so every send waits) on the QP
/// being closed, then `NdkCloseQp` at DISPATCH.
fn close_with_outstanding(n: u32) {
    let p = Host::deterministic();
    let adapter = Adapter::open(&AdapterConfig::softndk(0xC1), &p, NDK_VERSION::new(1, 0)).unwrap();
    let pd: Pd = adapter.create_pd().unwrap();
    let cq = adapter.create_cq(2 * MAX_N, &CqEvents::new()).unwrap();
    let peer_cq = adapter.create_cq(2 * MAX_N, &CqEvents::new()).unwrap();
    let buf = Buffer::zeroed(64);
    let mr = pd.create_mr(false).unwrap();
    assert_eq!(
        mr.register(&buf, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, &[]),
        STATUS_SUCCESS
    );
    let qp = pd.create_qp(&cq, &cq, 0xA, limits()).unwrap();
    let peer = pd.create_qp(&peer_cq, &peer_cq, 0xB, limits()).unwrap();
    assert_eq!(qp.connect_to(&peer, 1, 1), STATUS_SUCCESS);
    let sge = [buf.sge(0, 64, mr.local_token())];
    for i in 0..n as usize {
        assert_eq!(qp.receive(i, &sge), STATUS_SUCCESS);
        assert_eq!(qp.send(1000 + i, &sge, 0), STATUS_SUCCESS);
    }
    p.run_until_idle();
    assert!(
        reap_all(&cq).is_empty(),
        "nothing completed before the close"
    );
    // Not through the wrapper's `close`, which allocates its completion signal: the raw slot.
    let (slot, raw) = (qp.dispatch().NdkCloseQp, qp.raw());
    let (status, allocated): (NTSTATUS, usize) = with_irql(Irql::Dispatch, || {
        // SAFETY: `raw` is an open QP given up above; the completion is a valid function that
        // ignores its NULL context.
        allocations_in(|| unsafe { slot(raw.cast(), Some(never_called), ptr::null_mut()) })
    });
    assert_eq!(
        status, STATUS_SUCCESS,
        "n = {n}: the close finished in its call"
    );
    assert_eq!(allocated, 0, "n = {n}: the close allocated");
    assert_eq!(p.pending(), 0, "n = {n}: the close deferred work");
    let results = reap_all(&cq);
    let (mut receives, mut sends) = (Vec::new(), Vec::new());
    for r in &results {
        assert_eq!(r.Status, STATUS_CANCELLED, "n = {n}: {r:?}");
        if r.Type == NDK_OPERATION_TYPE::RECEIVE {
            receives.push(r.RequestContext.addr());
        } else {
            assert_eq!(r.Type, NDK_OPERATION_TYPE::SEND);
            sends.push(r.RequestContext.addr() - 1000);
        }
    }
    let in_order: Vec<usize> = (0..n as usize).collect();
    assert_eq!(receives, in_order, "n = {n}: receives in posting order");
    assert_eq!(sends, in_order, "n = {n}: sends in posting order");
    // The peer notices: its next request fails against a QP that is gone.
    assert_eq!(peer.send(7, &[], 0), STATUS_SUCCESS);
    p.run_until_idle();
    let notice = reap_all(&peer_cq);
    assert_eq!(notice.len(), 1);
    assert_eq!(notice[0].Status, STATUS_CONNECTION_ABORTED);
    for c in [
        peer.close(),
        cq.close(),
        peer_cq.close(),
        mr.close(),
        pd.close(),
    ] {
        assert!(matches!(c, Closed::Now), "{c:?}");
    }
    adapter.close();
}

#[test]
fn qp_close_flushes_n_outstanding_in_its_own_call_without_allocating_or_deferring() {
    for n in [0, 1, 16, MAX_N] {
        close_with_outstanding(n);
    }
}
