//! What a consumer can get wrong, through the dispatch tables: every refusal has its documented
//! status, queues nothing, completes nothing, and leaks nothing.
#![allow(unsafe_code)]

mod ndk_common;

use core::ptr;

use ndk_common::{Pair, Side, config};
use softndk::abi::{
    NDK_CQ_NOTIFY_ANY, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NDK_OP_FLAG_ALLOW_REMOTE_READ,
    NDK_OP_FLAG_INLINE, NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE, NDK_PD, NDK_SGE, NDK_VERSION,
    STATUS_ACCESS_VIOLATION, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_DEVICE_STATE,
    STATUS_INVALID_HANDLE, STATUS_INVALID_PARAMETER, STATUS_PENDING, STATUS_SUCCESS,
};
use softndk::consumer::{Adapter, Buffer, Closed, CqEvents, QpLimits, create_completion};
use softndk::platform::host::Host;

/// Calls one dispatch slot.
macro_rules! call {
    ($e:expr) => {{
        // SAFETY: every call in this file passes NULL or objects that are live for the call,
        // buffers of the stated sizes, and valid callbacks; the entries under test must refuse
        // (or ignore) what they are given without touching anything else.
        unsafe { $e }
    }};
}

#[test]
fn null_where_not_optional() {
    let p = Host::deterministic();
    let adapter = Adapter::open(&config(), &p, NDK_VERSION::new(1, 0)).unwrap();
    let d = adapter.dispatch();
    let mut cq = ptr::null_mut();
    let mut pd: *mut NDK_PD = ptr::null_mut();
    assert_eq!(
        call!((d.NdkCreateCq)(
            adapter.raw(),
            4,
            None,
            ptr::null_mut(),
            ptr::null(),
            Some(create_completion),
            ptr::null_mut(),
            &raw mut cq
        )),
        STATUS_INVALID_PARAMETER,
        "NULL CqNotification"
    );
    assert_eq!(
        call!((d.NdkCreatePd)(
            adapter.raw(),
            None,
            ptr::null_mut(),
            &raw mut pd
        )),
        STATUS_INVALID_PARAMETER,
        "NULL CreateCompletion"
    );
    assert_eq!(
        call!((d.NdkCreatePd)(
            adapter.raw(),
            Some(create_completion),
            ptr::null_mut(),
            ptr::null_mut()
        )),
        STATUS_INVALID_PARAMETER,
        "NULL out pointer"
    );
    assert_eq!(
        call!((d.NdkCreatePd)(
            ptr::null_mut(),
            Some(create_completion),
            ptr::null_mut(),
            &raw mut pd
        )),
        STATUS_INVALID_PARAMETER,
        "NULL adapter"
    );
    assert!(cq.is_null() && pd.is_null());

    let side = Side::new(&adapter, 1, 8, QpLimits::default());
    // A close with a NULL completion is refused and closes nothing.
    let close = side.pd.dispatch().NdkClosePd;
    // A refused close leaves the PD open.
    assert_eq!(
        call!(close(side.pd.raw().cast(), None, ptr::null_mut())),
        STATUS_INVALID_PARAMETER
    );
    assert_ne!(side.pd.privileged_token(), 0, "still usable");
    assert_eq!(side.qp.send_null_sgl(2, 0), STATUS_INVALID_PARAMETER);
    assert_eq!(side.rcq.results_into_null(4), 0);
    side.close();
    adapter.close();
    assert_eq!(p.alloc_stats().live, 0);
}

#[test]
fn an_object_of_the_wrong_type_is_refused() {
    let p = Host::deterministic();
    let adapter = Adapter::open(&config(), &p, NDK_VERSION::new(1, 0)).unwrap();
    let events = CqEvents::new();
    let cq = adapter.create_cq(4, &events).unwrap();
    let pd = adapter.create_pd().unwrap();
    let d = pd.dispatch();
    let mut mr = ptr::null_mut();
    // A live CQ passed where a PD is expected: the provider reads only the header.
    let status = call!((d.NdkCreateMr)(
        cq.raw().cast(),
        0,
        Some(create_completion),
        ptr::null_mut(),
        &raw mut mr,
    ));
    assert_eq!(status, STATUS_INVALID_PARAMETER);
    let other = Adapter::open(&config(), &p, NDK_VERSION::new(1, 0)).unwrap();
    let foreign = other.create_cq(4, &events).unwrap();
    assert_eq!(
        pd.create_qp(&cq, &foreign, 0, QpLimits::default())
            .unwrap_err(),
        STATUS_INVALID_PARAMETER,
        "a CQ of another adapter"
    );
    let _ = (foreign.close(), cq.close(), pd.close());
    other.close();
    adapter.close();
}

#[test]
fn qp_limits_are_checked_at_create() {
    let p = Host::deterministic();
    let adapter = Adapter::open(&config(), &p, NDK_VERSION::new(1, 0)).unwrap();
    let info = adapter.query_info().unwrap();
    let pd = adapter.create_pd().unwrap();
    let events = CqEvents::new();
    let cq = adapter.create_cq(16, &events).unwrap();
    let ok = QpLimits::default();
    for bad in [
        QpLimits {
            max_initiator_sge: info.MaxInitiatorRequestSge + 1,
            ..ok
        },
        QpLimits {
            max_receive_sge: info.MaxReceiveRequestSge + 1,
            ..ok
        },
        QpLimits {
            initiator_depth: info.MaxInitiatorQueueDepth + 1,
            ..ok
        },
        QpLimits {
            receive_depth: info.MaxReceiveQueueDepth + 1,
            ..ok
        },
        QpLimits {
            inline_data_size: info.MaxInlineDataSize + 1,
            ..ok
        },
    ] {
        assert_eq!(
            pd.create_qp(&cq, &cq, 0, bad).unwrap_err(),
            STATUS_INVALID_PARAMETER,
            "{bad:?}"
        );
    }
    let _ = (cq.close(), pd.close());
    adapter.close();
    assert_eq!(p.alloc_stats().live, 0);
}

#[test]
fn posts_validate_flags_counts_lengths_and_depth() {
    let p = Host::deterministic();
    let limits = QpLimits {
        initiator_depth: 2,
        receive_depth: 2,
        max_initiator_sge: 2,
        max_receive_sge: 2,
        inline_data_size: 8,
    };
    let pair = Pair::new(&p, 16, limits);
    let (a, b) = (&pair.a, &pair.b);
    let (buf, mr) = a.buffer(&[0; 64], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    let sge = buf.sge(0, 8, mr.local_token());
    let info = pair.adapter.query_info().unwrap();

    // Unknown / disallowed flag bits.
    assert_eq!(a.qp.send(1, &[], 0x8000_0000), STATUS_INVALID_PARAMETER);
    assert_eq!(
        a.qp.send(1, &[], NDK_OP_FLAG_ALLOW_REMOTE_READ),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        a.qp.write(1, &[], 0, 0, NDK_OP_FLAG_RDMA_READ_LOCAL_INVALIDATE),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        a.qp.read(1, &[], 0, 0, NDK_OP_FLAG_INLINE),
        STATUS_INVALID_PARAMETER
    );
    // nSge above the QP's limit (reads: the adapter's MaxReadRequestSge).
    assert_eq!(a.qp.send(1, &[sge; 3], 0), STATUS_INVALID_PARAMETER);
    assert_eq!(b.qp.receive(1, &[sge; 3]), STATUS_INVALID_PARAMETER);
    let many = vec![sge; info.MaxReadRequestSge as usize + 1];
    assert_eq!(a.qp.read(1, &many, 0, 0, 0), STATUS_INVALID_PARAMETER);
    // Total length above MaxTransferLength (checked before any memory is touched).
    let huge = NDK_SGE {
        Length: info.MaxTransferLength / 2 + 1,
        ..sge
    };
    assert_eq!(a.qp.send(1, &[huge, huge], 0), STATUS_INVALID_PARAMETER);
    let overflow = NDK_SGE {
        Length: u32::MAX,
        ..sge
    };
    assert_eq!(
        a.qp.write(1, &[overflow, sge], 0, 0, 0),
        STATUS_INVALID_PARAMETER
    );
    // Inline above the QP's inline size.
    let data = Buffer::from_bytes(&[1; 16]);
    assert_eq!(
        a.qp.send(1, &[data.sge(0, 9, 0)], NDK_OP_FLAG_INLINE),
        STATUS_INVALID_PARAMETER
    );
    // None of those queued anything.
    assert!(a.icq.results(8).is_empty());
    // Queue depths: two receives fit, the third is refused.
    assert_eq!(b.qp.receive(1, &[]), STATUS_SUCCESS);
    assert_eq!(b.qp.receive(2, &[]), STATUS_SUCCESS);
    assert_eq!(
        b.qp.receive(3, &[]),
        STATUS_INSUFFICIENT_RESOURCES,
        "receive depth"
    );
    assert_eq!(a.qp.send(1, &[], 0), STATUS_SUCCESS);
    assert_eq!(a.qp.send(2, &[], 0), STATUS_SUCCESS);
    // No receive left: two sends wait, the third is refused.
    assert_eq!(a.qp.send(3, &[], 0), STATUS_SUCCESS);
    assert_eq!(a.qp.send(4, &[], 0), STATUS_SUCCESS);
    assert_eq!(
        a.qp.send(5, &[], 0),
        STATUS_INSUFFICIENT_RESOURCES,
        "initiator depth"
    );
    assert_eq!(b.qp.receive(3, &[]), STATUS_SUCCESS);
    assert_eq!(b.qp.receive(4, &[]), STATUS_SUCCESS);
    let done = a.icq.results(8);
    assert_eq!(
        done.iter()
            .map(|r| r.RequestContext.addr())
            .collect::<Vec<_>>(),
        [1, 2, 3, 4],
        "each accepted request completes exactly once; the refused one never"
    );
    assert_eq!(b.rcq.results(8).len(), 4);
    // An undefined arm type is ignored: no notification ever follows from it.
    b.rcq.arm(7);
    assert_eq!(b.qp.receive(6, &[]), STATUS_SUCCESS);
    assert_eq!(a.qp.send(6, &[], 0), STATUS_SUCCESS);
    p.run_until_idle();
    assert_eq!(b.revents.count(), 0);
    b.rcq.arm(NDK_CQ_NOTIFY_ANY);
    p.run_until_idle();
    assert_eq!(
        b.revents.count(),
        1,
        "the valid arm sees the new completion"
    );
    let _ = mr.close();
    pair.close();
    assert_eq!(p.alloc_stats().live, 0);
}

#[test]
fn registration_misuse() {
    let p = Host::deterministic();
    let adapter = Adapter::open(&config(), &p, NDK_VERSION::new(1, 0)).unwrap();
    let pd = adapter.create_pd().unwrap();
    let mr = pd.create_mr(false).unwrap();
    let buf = Buffer::zeroed(64);
    assert_eq!(mr.register_null(64, 0), STATUS_INVALID_PARAMETER);
    assert_eq!(
        mr.register(&buf, 0x4, &[]),
        STATUS_INVALID_PARAMETER,
        "remote-write bit alone"
    );
    assert_eq!(
        mr.register(&buf, 0x10, &[]),
        STATUS_INVALID_PARAMETER,
        "unknown bit"
    );
    let mut gap = buf.mdl_pieces(&[(0, 16), (32, 32)]);
    assert_eq!(
        mr.register_chain(&buf, &mut gap, 48, 0),
        STATUS_INVALID_PARAMETER,
        "not contiguous"
    );
    let mut short = buf.mdl(&[]);
    assert_eq!(
        mr.register_chain(&buf, &mut short, 65, 0),
        STATUS_INVALID_PARAMETER,
        "beyond the chain"
    );
    assert_eq!(
        mr.register_chain(&buf, &mut short, 0, 0),
        STATUS_INVALID_PARAMETER,
        "empty"
    );
    assert_eq!(
        mr.deregister(),
        STATUS_INVALID_DEVICE_STATE,
        "not registered"
    );
    let before = mr.local_token();
    assert_eq!(mr.register(&buf, 0, &[8, 40]), STATUS_SUCCESS);
    assert_ne!(
        mr.local_token(),
        before,
        "a registration issues a new token"
    );
    assert_eq!(
        mr.register(&buf, 0, &[]),
        STATUS_INVALID_DEVICE_STATE,
        "twice"
    );
    assert_eq!(mr.deregister(), STATUS_SUCCESS);
    assert!(matches!(mr.close(), Closed::Now));
    let _ = pd.close();
    adapter.close();
    assert_eq!(p.alloc_stats().live, 0);
}

#[test]
fn local_tokens_of_another_pd_fail_the_request() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 16, QpLimits::default());
    let (a, b) = (&pair.a, &pair.b);
    // b's buffer used as a's local source: another PD.
    let (buf, mr) = b.buffer(b"secret", 0);
    let (dst, dst_mr) = b.buffer(&[0; 8], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    assert_eq!(
        b.qp.receive(1, &[dst.sge(0, 8, dst_mr.local_token())]),
        STATUS_SUCCESS
    );
    assert_eq!(
        a.qp.send(1, &[buf.sge(0, 6, mr.local_token())], 0),
        STATUS_SUCCESS
    );
    let r = a.icq.results(4);
    assert_eq!(r[0].Status, STATUS_ACCESS_VIOLATION);
    assert_eq!(dst.read(), [0; 8], "no byte moved");
    let _ = (mr.close(), dst_mr.close());
    pair.close();
}

#[test]
fn a_second_close_is_refused_and_antecedents_pend_until_successors_close() {
    let p = Host::deterministic();
    let adapter = Adapter::open(&config(), &p, NDK_VERSION::new(1, 0)).unwrap();
    let pd = adapter.create_pd().unwrap();
    let mr = pd.create_mr(false).unwrap();
    let raw = pd.raw();
    let close = pd.dispatch().NdkClosePd;
    let closed = pd.close();
    let signal = closed.pending().clone();
    assert!(!signal.is_done(), "the MR is still open");
    // The PD is closing but alive (its close pends on the MR): a second close must be refused.
    let again = call!(close(raw.cast(), Some(noop), ptr::null_mut()));
    assert_eq!(again, STATUS_INVALID_HANDLE);
    assert_ne!(again, STATUS_PENDING);
    assert!(matches!(mr.close(), Closed::Now));
    assert_eq!(
        signal.calls(),
        1,
        "exactly once, after the successor closed"
    );
    adapter.close();
    assert_eq!(p.alloc_stats().live, 0);
}

unsafe extern "system" fn noop(_: *mut core::ffi::c_void) {
    panic!("a refused close must never complete");
}
