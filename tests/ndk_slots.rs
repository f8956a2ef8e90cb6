//! Every slot of every dispatch table is called at least once, through the tables a consumer
//! reads from its objects (or, for object types that cannot exist yet, from the provider's
//! static table set), and answers as documented. Only what the spec lets a provider leave out
//! answers `STATUS_NOT_SUPPORTED`: `NdkQueryExtension` and `NdkControlCqInterruptModeration`
//! (plus the connection-manager tables until they are wired).
#![allow(unsafe_code)]
// One long scenario walking the tables slot by slot; `a`/`b`/`p`/`t`... are its vocabulary.
#![allow(clippy::too_many_lines, clippy::many_single_char_names)]

mod ndk_common;

use core::ptr;

use ndk_common::{Pair, config};
use softndk::abi::{
    NDK_LOGICAL_ADDRESS_MAPPING, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NDK_VERSION,
    STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER, STATUS_NOT_SUPPORTED, STATUS_SUCCESS,
};
use softndk::consumer::{Adapter, Closed, create_completion, request_completion};
use softndk::dispatch::TABLES;
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
fn every_slot_of_every_table_answers() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 16, softndk::consumer::QpLimits::default());
    let (a, b) = (&pair.a, &pair.b);
    let adapter = &pair.adapter;
    let ad = adapter.dispatch();

    // Adapter: QueryExtension, QueryAdapterInfo, CreateCq, CreatePd are used by the fixture;
    // here the rest, each once.
    assert_eq!(adapter.query_extension(), STATUS_NOT_SUPPORTED);
    assert!(adapter.query_info().is_ok());
    let mut out = ptr::null_mut();
    assert_eq!(
        call!((ad.NdkCreateSharedEndpoint)(
            adapter.raw(),
            ptr::null(),
            0,
            Some(create_completion),
            ptr::null_mut(),
            &raw mut out,
        )),
        STATUS_NOT_SUPPORTED
    );
    let mut conn = ptr::null_mut();
    assert_eq!(
        call!((ad.NdkCreateConnector)(
            adapter.raw(),
            Some(create_completion),
            ptr::null_mut(),
            &raw mut conn
        )),
        STATUS_NOT_SUPPORTED
    );
    let mut listener = ptr::null_mut();
    assert_eq!(
        call!((ad.NdkCreateListener)(
            adapter.raw(),
            None,
            ptr::null_mut(),
            Some(create_completion),
            ptr::null_mut(),
            &raw mut listener
        )),
        STATUS_NOT_SUPPORTED
    );
    assert!(conn.is_null() && listener.is_null() && out.is_null());
    let (mut size, mut fbo) = (0_u32, 0_u32);
    assert_eq!(
        call!((ad.NdkBuildLAM)(
            adapter.raw(),
            ptr::null_mut(),
            0,
            Some(request_completion),
            ptr::null_mut(),
            ptr::null_mut(),
            &raw mut size,
            &raw mut fbo,
        )),
        STATUS_INVALID_PARAMETER
    );
    call!((ad.NdkReleaseLAM)(
        adapter.raw(),
        ptr::null_mut::<NDK_LOGICAL_ADDRESS_MAPPING>(),
    ));
    let lam_buf = softndk::consumer::Buffer::zeroed(64);
    let lam = adapter.build_lam(&lam_buf, 0, 64).unwrap();
    assert_eq!(lam.page_count(), 1);
    adapter.release_lam(lam);

    // CQ: every slot.
    assert_eq!(a.rcq.query_extension(), STATUS_NOT_SUPPORTED);
    assert_eq!(a.rcq.resize(32), STATUS_SUCCESS);
    a.rcq.arm(0);
    assert!(a.rcq.results(1).is_empty());
    assert!(a.rcq.results_ex(1).is_empty());
    assert_eq!(a.rcq.moderate(0, 0), STATUS_NOT_SUPPORTED);

    // PD: every slot.
    let pd = &a.pd;
    assert_eq!(pd.query_extension(), STATUS_NOT_SUPPORTED);
    assert_ne!(pd.privileged_token(), 0);
    let mr = pd.create_mr(false).unwrap();
    let fast = pd.create_mr(true).unwrap();
    assert_eq!(fast.initialize_fast_register(1, false), STATUS_SUCCESS);
    let mw = pd.create_mw().unwrap();
    let srq = pd.create_srq(16, 1, 0, None).unwrap();
    let srq_qp = pd
        .create_qp_with_srq(
            &a.rcq,
            &a.icq,
            &srq,
            0x5,
            softndk::consumer::QpLimits::default(),
        )
        .unwrap();
    // MW: every slot.
    assert_eq!(mw.query_extension(), STATUS_NOT_SUPPORTED);
    assert_ne!(mw.remote_token(), 0);
    // SRQ: every slot.
    assert_eq!(srq.query_extension(), STATUS_NOT_SUPPORTED);
    assert_eq!(srq.modify(0, 0), STATUS_SUCCESS);
    assert_eq!(srq.receive(9, &[]), STATUS_SUCCESS);
    assert!(matches!(srq_qp.close(), Closed::Now));
    assert!(matches!(srq.close(), Closed::Now));
    assert!(matches!(mw.close(), Closed::Now));
    assert!(matches!(fast.close(), Closed::Now));

    // MR: every slot.
    assert_eq!(mr.query_extension(), STATUS_NOT_SUPPORTED);
    assert_eq!(
        mr.initialize_fast_register(16, false),
        STATUS_INVALID_DEVICE_STATE
    );
    let buf = softndk::consumer::Buffer::zeroed(64);
    assert_eq!(
        mr.register(&buf, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, &[16]),
        STATUS_SUCCESS
    );
    assert_eq!(mr.local_token(), mr.remote_token());
    assert_eq!(mr.deregister(), STATUS_SUCCESS);

    // QP: every slot.
    let qp = &a.qp;
    assert_eq!(qp.query_extension(), STATUS_NOT_SUPPORTED);
    assert_eq!(b.qp.receive(1, &[]), STATUS_SUCCESS);
    assert_eq!(qp.send(1, &[], 0), STATUS_SUCCESS);
    let (remote, remote_mr) = b.buffer(
        &[7; 8],
        softndk::abi::NDK_MR_FLAG_ALLOW_REMOTE_WRITE | softndk::abi::NDK_MR_FLAG_ALLOW_REMOTE_READ,
    );
    assert_eq!(
        qp.write(3, &[], remote.va(), remote_mr.remote_token(), 0),
        STATUS_SUCCESS
    );
    assert_eq!(
        qp.read(4, &[], remote.va(), remote_mr.remote_token(), 0),
        STATUS_SUCCESS
    );
    assert_eq!(b.qp.receive(2, &[]), STATUS_SUCCESS);
    // The token names nothing invalidatable: the receiver aborts the connection (§6.6).
    assert_eq!(qp.send_and_invalidate(5, &[], 0, 0x1234), STATUS_SUCCESS);
    let done = a.icq.results(8);
    assert_eq!(done.len(), 4);
    assert!(done[..3].iter().all(|r| r.Status == STATUS_SUCCESS));
    assert_eq!(done[3].Status, softndk::abi::STATUS_INVALID_DEVICE_REQUEST);
    // Memory work requests with NULL objects are refused (the scenarios are in ndk_mw_bind,
    // ndk_frmr and ndk_lam).
    assert_eq!(qp.bind_nothing(), STATUS_INVALID_PARAMETER);
    assert_eq!(qp.fast_register_nothing(), STATUS_INVALID_PARAMETER);
    assert_eq!(qp.invalidate_nothing(), STATUS_INVALID_PARAMETER);
    assert!(matches!(remote_mr.close(), Closed::Now));
    qp.flush();

    // Tables of object types that cannot exist yet: every slot, with NULL objects.
    let t = TABLES;
    let se = t.shared_endpoint;
    assert_eq!(
        call!((se.NdkCloseSharedEndpoint)(
            ptr::null_mut(),
            None,
            ptr::null_mut()
        )),
        STATUS_NOT_SUPPORTED
    );
    assert_eq!(
        call!((se.NdkQueryExtension)(
            ptr::null_mut(),
            ptr::null(),
            NDK_VERSION::default(),
            ptr::null_mut()
        )),
        STATUS_NOT_SUPPORTED
    );
    assert_eq!(
        call!((se.NdkGetLocalAddress)(
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut()
        )),
        STATUS_NOT_SUPPORTED
    );
    let c = t.connector;
    let n = ptr::null_mut();
    assert_eq!(
        call!((c.NdkCloseConnector)(n, None, n.cast())),
        STATUS_NOT_SUPPORTED
    );
    assert_eq!(
        call!((c.NdkQueryExtension)(
            n,
            ptr::null(),
            NDK_VERSION::default(),
            ptr::null_mut()
        )),
        STATUS_NOT_SUPPORTED
    );
    assert_eq!(
        call!((c.NdkConnect)(
            n.cast(),
            n.cast(),
            ptr::null(),
            0,
            ptr::null(),
            0,
            0,
            0,
            ptr::null(),
            0,
            None,
            n.cast()
        )),
        STATUS_NOT_SUPPORTED
    );
    assert_eq!(
        call!((c.NdkConnectWithSharedEndpoint)(
            n.cast(),
            n.cast(),
            n.cast(),
            ptr::null(),
            0,
            0,
            0,
            ptr::null(),
            0,
            None,
            n.cast()
        )),
        STATUS_NOT_SUPPORTED
    );
    assert_eq!(
        call!((c.NdkCompleteConnect)(
            n.cast(),
            None,
            n.cast(),
            None,
            n.cast()
        )),
        STATUS_NOT_SUPPORTED
    );
    assert_eq!(
        call!((c.NdkAccept)(
            n.cast(),
            n.cast(),
            0,
            0,
            ptr::null(),
            0,
            None,
            n.cast(),
            None,
            n.cast()
        )),
        STATUS_NOT_SUPPORTED
    );
    assert_eq!(
        call!((c.NdkReject)(n.cast(), ptr::null(), 0)),
        STATUS_NOT_SUPPORTED
    );
    assert_eq!(
        call!((c.NdkGetConnectionData)(
            n.cast(),
            ptr::null_mut(),
            ptr::null_mut(),
            n.cast(),
            ptr::null_mut()
        )),
        STATUS_NOT_SUPPORTED
    );
    assert_eq!(
        call!((c.NdkGetLocalAddress)(
            n.cast(),
            ptr::null_mut(),
            ptr::null_mut()
        )),
        STATUS_NOT_SUPPORTED
    );
    assert_eq!(
        call!((c.NdkGetPeerAddress)(
            n.cast(),
            ptr::null_mut(),
            ptr::null_mut()
        )),
        STATUS_NOT_SUPPORTED
    );
    assert_eq!(
        call!((c.NdkDisconnect)(n.cast(), None, n.cast())),
        STATUS_NOT_SUPPORTED
    );
    assert_eq!(
        call!((c.NdkCompleteConnectEx)(
            n.cast(),
            None,
            n.cast(),
            None,
            n.cast()
        )),
        STATUS_NOT_SUPPORTED
    );
    assert_eq!(
        call!((c.NdkAcceptEx)(
            n.cast(),
            n.cast(),
            0,
            0,
            ptr::null(),
            0,
            None,
            n.cast(),
            None,
            n.cast()
        )),
        STATUS_NOT_SUPPORTED
    );
    let l = t.listener;
    assert_eq!(
        call!((l.NdkCloseListener)(n, None, n.cast())),
        STATUS_NOT_SUPPORTED
    );
    assert_eq!(
        call!((l.NdkQueryExtension)(
            n,
            ptr::null(),
            NDK_VERSION::default(),
            ptr::null_mut()
        )),
        STATUS_NOT_SUPPORTED
    );
    assert_eq!(
        call!((l.NdkListen)(n.cast(), ptr::null(), 0, None, n.cast())),
        STATUS_NOT_SUPPORTED
    );
    assert_eq!(
        call!((l.NdkGetLocalAddress)(
            n.cast(),
            ptr::null_mut(),
            ptr::null_mut()
        )),
        STATUS_NOT_SUPPORTED
    );
    call!((l.NdkControlConnectEvents)(n.cast(), 1));
    // MW and SRQ slots with NULL objects (the live ones were called above): a NULL close
    // completion is refused before anything is looked at.
    let mw = t.mw;
    assert_eq!(
        call!((mw.NdkCloseMw)(n, None, n.cast())),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(call!((mw.NdkGetRemoteTokenFromMw)(n.cast())), 0);
    let s = t.srq;
    assert_eq!(
        call!((s.NdkCloseSrq)(n, None, n.cast())),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        call!((s.NdkModifySrq)(n.cast(), 0, 0, None, n.cast())),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        call!((s.NdkSrqReceive)(n.cast(), n.cast(), ptr::null(), 0)),
        STATUS_INVALID_PARAMETER
    );

    // Close slots of the live object types.
    assert!(matches!(mr.close(), Closed::Now));
    let _ = a.icq.results(64);
    pair.close();
    let _ = Adapter::open(&config(), &p, NDK_VERSION::new(1, 0)).map(Adapter::close);
    assert_eq!(p.alloc_stats().live, 0);
    assert_eq!(
        softndk::consumer::unexpected_completions(),
        0,
        "SoftNDK completes inline"
    );
}
