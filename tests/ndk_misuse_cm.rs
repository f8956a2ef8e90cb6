//! The provider-side verifier on the objects `tests/ndk_misuse.rs` does not cover: connector,
//! listener, shared endpoint, MW and SRQ. Each closed object is poisoned and quarantined; a call
//! through every slot of its (poisoned) table is refused with the slot's failure value and
//! reported with the object, the rule and the slot; a second close is refused and reported; a
//! closed object passed to another object's call is refused and reported once; with the checks
//! off nothing is reported or kept. Every test ends with no live allocation.
//!
//! Every stale call here is made while the object is quarantined, so its memory is alive.
#![allow(unsafe_code)]
// One scenario walks every slot of three tables: long by nature.
#![allow(clippy::too_many_lines)]

mod misuse_common;
mod ndk_conn_common;

use core::ffi::c_void;
use core::ptr;

use misuse_common::{never, reports, slot, table_of, type_of};
use ndk_conn_common::{A4, Net, config_on};
use softndk::abi::{
    NDK_CONNECTOR, NDK_LISTENER, NDK_MW, NDK_OBJECT_TYPE, NDK_SGE, NDK_SHARED_ENDPOINT, NDK_SRQ,
    NDK_VERSION, SOCKADDR, STATUS_INVALID_HANDLE, STATUS_INVALID_PARAMETER,
};
use softndk::consumer::{
    Adapter, Closed, ConnectEvents, Connector, Listener, QpLimits, SharedEndpoint,
    create_completion,
};
use softndk::dispatch::misuse::{self, Detail, Misuse, MisuseChecks, MisuseKind};
use softndk::fabric::{Address, IpAddr};
use softndk::verbs::AdapterConfig;

/// Calls one dispatch slot or reads one object.
macro_rules! call {
    ($e:expr) => {{
        // SAFETY: every object passed is open or closed-but-quarantined (kept by the provider
        // verifier for the whole test); NULL is passed for every optional or refused buffer.
        unsafe { $e }
    }};
}

const fn passed(t: NDK_OBJECT_TYPE, at: usize) -> Misuse {
    Misuse {
        kind: MisuseKind::CallOnClosedObject,
        object_type: t,
        object: at,
        detail: Detail::None,
    }
}

const CALL: MisuseKind = MisuseKind::CallOnClosedObject;
const TWICE: MisuseKind = MisuseKind::CloseTwice;

const fn a_address(port: u16) -> Address {
    Address::v4(A4, port)
}

#[test]
fn every_slot_of_a_closed_connector_listener_and_endpoint_is_reported() {
    let net = Net::deterministic();
    let c = Connector::create(&net.a).unwrap();
    let events = ConnectEvents::new();
    let l = Listener::create(&net.a, &events).unwrap();
    let e = SharedEndpoint::create(&net.a, &a_address(0)).unwrap();
    let (c_raw, l_raw, e_raw): (
        *mut NDK_CONNECTOR,
        *mut NDK_LISTENER,
        *mut NDK_SHARED_ENDPOINT,
    ) = (c.raw(), l.raw(), e.raw());
    let (c_real, l_real) = (c.dispatch(), l.dispatch());
    for closed in [c.close(), l.close(), e.close()] {
        net.run();
        assert!(closed.is_complete(), "closed once, normally");
    }
    for t in [type_of(c_raw), type_of(l_raw), type_of(e_raw)] {
        assert!(!t.is_object(), "poisoned: {t:?}");
    }
    assert_eq!(
        call!(misuse::quarantined(net.a.raw())),
        [c_raw.addr(), l_raw.addr(), e_raw.addr()]
    );
    let bad = STATUS_INVALID_HANDLE;
    let null: *mut c_void = ptr::null_mut();
    let no_addr: *const SOCKADDR = ptr::null();

    // Connector: all 13 slots of the poison table.
    let d = table_of(c_raw);
    let qp = ptr::null_mut();
    let statuses = [
        call!((d.NdkQueryExtension)(
            c_raw.cast(),
            ptr::null(),
            NDK_VERSION::new(2, 1),
            null.cast()
        )),
        call!((d.NdkConnect)(
            c_raw,
            qp,
            no_addr,
            0,
            no_addr,
            0,
            0,
            0,
            ptr::null(),
            0,
            None,
            null
        )),
        call!((d.NdkConnectWithSharedEndpoint)(
            c_raw,
            qp,
            e_raw,
            no_addr,
            0,
            0,
            0,
            ptr::null(),
            0,
            None,
            null
        )),
        call!((d.NdkCompleteConnect)(c_raw, None, null, None, null)),
        call!((d.NdkAccept)(
            c_raw,
            qp,
            0,
            0,
            ptr::null(),
            0,
            None,
            null,
            None,
            null
        )),
        call!((d.NdkReject)(c_raw, ptr::null(), 0)),
        call!((d.NdkGetConnectionData)(
            c_raw,
            null.cast(),
            null.cast(),
            null,
            null.cast()
        )),
        call!((d.NdkGetLocalAddress)(c_raw, null.cast(), null.cast())),
        call!((d.NdkGetPeerAddress)(c_raw, null.cast(), null.cast())),
        call!((d.NdkDisconnect)(c_raw, None, null)),
        call!((d.NdkCompleteConnectEx)(c_raw, None, null, None, null)),
        call!((d.NdkAcceptEx)(
            c_raw,
            qp,
            0,
            0,
            ptr::null(),
            0,
            None,
            null,
            None,
            null
        )),
        call!((d.NdkCloseConnector)(c_raw.cast(), Some(never), null)),
        // A cached real table reaches the real entry, which refuses the poisoned type.
        call!((c_real.NdkCloseConnector)(c_raw.cast(), Some(never), null)),
    ];
    assert!(statuses.iter().all(|&s| s == bad), "{statuses:?}");

    // Listener: all 5.
    let d = table_of(l_raw);
    call!((d.NdkControlConnectEvents)(l_raw, 1));
    let statuses = [
        call!((d.NdkQueryExtension)(
            l_raw.cast(),
            ptr::null(),
            NDK_VERSION::new(2, 1),
            null.cast()
        )),
        call!((d.NdkListen)(l_raw, no_addr, 0, None, null)),
        call!((d.NdkGetLocalAddress)(l_raw, null.cast(), null.cast())),
        call!((d.NdkCloseListener)(l_raw.cast(), Some(never), null)),
    ];
    assert!(statuses.iter().all(|&s| s == bad), "{statuses:?}");
    let mut len = 64_u32;
    assert_eq!(
        call!((l_real.NdkGetLocalAddress)(
            l_raw,
            null.cast(),
            &raw mut len
        )),
        STATUS_INVALID_PARAMETER,
        "the real entry's bad-object status"
    );
    assert_eq!(len, 64, "nothing written");

    // Shared endpoint: all 3, then as an argument of a live connector's call.
    let d = table_of(e_raw);
    let statuses = [
        call!((d.NdkQueryExtension)(
            e_raw.cast(),
            ptr::null(),
            NDK_VERSION::new(2, 1),
            null.cast()
        )),
        call!((d.NdkGetLocalAddress)(e_raw, null.cast(), null.cast())),
        call!((d.NdkCloseSharedEndpoint)(e_raw.cast(), Some(never), null)),
    ];
    assert!(statuses.iter().all(|&s| s == bad), "{statuses:?}");
    let other = Connector::create(&net.a).unwrap();
    let side = Net::side(&net.a, 1);
    let mut to = [0_u8; 28];
    let to_len = Address::v4([10, 0, 0, 2], 445)
        .write_sockaddr(&mut to)
        .unwrap();
    let status = call!((other.dispatch().NdkConnectWithSharedEndpoint)(
        other.raw(),
        side.qp.raw(),
        e_raw,
        to.as_ptr().cast(),
        to_len,
        0,
        0,
        ptr::null(),
        0,
        Some(softndk::consumer::request_completion),
        null,
    ));
    assert_eq!(status, STATUS_INVALID_PARAMETER);

    let (ct, lt, et) = (
        NDK_OBJECT_TYPE::CONNECTOR,
        NDK_OBJECT_TYPE::LISTENER,
        NDK_OBJECT_TYPE::SHARED_ENDPOINT,
    );
    let (ca, la, ea) = (c_raw.addr(), l_raw.addr(), e_raw.addr());
    let mut expected: Vec<Misuse> = [
        "NdkQueryExtension",
        "NdkConnect",
        "NdkConnectWithSharedEndpoint",
        "NdkCompleteConnect",
        "NdkAccept",
        "NdkReject",
        "NdkGetConnectionData",
        "NdkGetLocalAddress",
        "NdkGetPeerAddress",
        "NdkDisconnect",
        "NdkCompleteConnectEx",
        "NdkAcceptEx",
    ]
    .into_iter()
    .map(|name| slot(CALL, ct, ca, name))
    .collect();
    expected.push(slot(TWICE, ct, ca, "NdkCloseObject"));
    expected.push(Misuse {
        kind: TWICE,
        object_type: ct,
        object: ca,
        detail: Detail::None,
    });
    expected.extend([
        slot(CALL, lt, la, "NdkControlConnectEvents"),
        slot(CALL, lt, la, "NdkQueryExtension"),
        slot(CALL, lt, la, "NdkListen"),
        slot(CALL, lt, la, "NdkGetLocalAddress"),
        slot(TWICE, lt, la, "NdkCloseObject"),
        passed(lt, la),
        slot(CALL, et, ea, "NdkQueryExtension"),
        slot(CALL, et, ea, "NdkGetLocalAddress"),
        slot(TWICE, et, ea, "NdkCloseObject"),
        passed(et, ea),
    ]);
    assert_eq!(reports(&net.a), expected);
    let line = expected[1].to_string();
    assert!(
        line.contains("NdkConnect") && line.contains("closed connector"),
        "{line}"
    );
    assert!(
        reports(&net.b).is_empty(),
        "reported on the object's own adapter"
    );

    side.close();
    assert!(matches!(other.close(), Closed::Now | Closed::Pending(_)));
    net.run();
    net.close();
}

#[test]
fn every_slot_of_a_closed_mw_and_srq_is_reported() {
    let net = Net::deterministic();
    let side = Net::side(&net.a, 1);
    let mw = side.pd.create_mw().unwrap();
    let srq = side.pd.create_srq(4, 1, 0, None).unwrap();
    let (mw_raw, srq_raw): (*mut NDK_MW, *mut NDK_SRQ) = (mw.raw(), srq.raw());
    let srq_real = srq.dispatch();
    assert!(matches!(mw.close(), Closed::Now));
    assert!(matches!(srq.close(), Closed::Now));
    let null: *mut c_void = ptr::null_mut();
    let bad = STATUS_INVALID_HANDLE;

    let d = table_of(mw_raw);
    assert_eq!(call!((d.NdkGetRemoteTokenFromMw)(mw_raw)), 0);
    assert_eq!(
        call!((d.NdkQueryExtension)(
            mw_raw.cast(),
            ptr::null(),
            NDK_VERSION::new(2, 1),
            null.cast()
        )),
        bad
    );
    assert_eq!(call!((d.NdkCloseMw)(mw_raw.cast(), Some(never), null)), bad);
    // As an argument: one refusal, one report (not one per type `NdkInvalidate` accepts).
    assert_eq!(
        side.qp.invalidate_raw(9, mw_raw.cast(), 0),
        STATUS_INVALID_PARAMETER
    );

    let d = table_of(srq_raw);
    let no_sge: *const NDK_SGE = ptr::null();
    let statuses = [
        call!((d.NdkQueryExtension)(
            srq_raw.cast(),
            ptr::null(),
            NDK_VERSION::new(2, 1),
            null.cast()
        )),
        call!((d.NdkModifySrq)(srq_raw, 8, 0, None, null)),
        call!((d.NdkSrqReceive)(srq_raw, null, no_sge, 0)),
        call!((d.NdkCloseSrq)(srq_raw.cast(), Some(never), null)),
    ];
    assert!(statuses.iter().all(|&s| s == bad), "{statuses:?}");
    assert_eq!(
        call!((srq_real.NdkSrqReceive)(srq_raw, null, no_sge, 0)),
        STATUS_INVALID_PARAMETER
    );
    let mut out = null.cast();
    let l = QpLimits::default();
    let status = call!((side.pd.dispatch().NdkCreateQpWithSrq)(
        side.pd.raw(),
        side.rcq.raw(),
        side.icq.raw(),
        srq_raw,
        null,
        l.initiator_depth,
        l.max_initiator_sge,
        l.inline_data_size,
        Some(create_completion),
        null,
        &raw mut out,
    ));
    assert_eq!(status, STATUS_INVALID_PARAMETER);
    assert!(out.is_null());

    let (mt, st) = (NDK_OBJECT_TYPE::MW, NDK_OBJECT_TYPE::SRQ);
    let (ma, sa) = (mw_raw.addr(), srq_raw.addr());
    assert_eq!(
        reports(&net.a),
        [
            slot(CALL, mt, ma, "NdkGetRemoteTokenFromMw"),
            slot(CALL, mt, ma, "NdkQueryExtension"),
            slot(TWICE, mt, ma, "NdkCloseObject"),
            passed(mt, ma),
            slot(CALL, st, sa, "NdkQueryExtension"),
            slot(CALL, st, sa, "NdkModifySrq"),
            slot(CALL, st, sa, "NdkSrqReceive"),
            slot(TWICE, st, sa, "NdkCloseObject"),
            passed(st, sa),
            passed(st, sa),
        ]
    );
    assert!(
        side.icq.results_ex(4).is_empty(),
        "the refused invalidate queued nothing"
    );
    side.close();
    net.close();
}

#[test]
fn with_checks_off_closed_objects_are_freed_at_close_and_nothing_is_reported() {
    let net = Net::deterministic();
    let off = AdapterConfig {
        misuse: MisuseChecks::Off,
        ..config_on(&net.fabric, &[IpAddr::V4([10, 0, 0, 9])])
    };
    let adapter = Adapter::open(&off, &net.host, NDK_VERSION::new(2, 1)).unwrap();
    let pd = adapter.create_pd().unwrap();
    let live = || net.host.alloc_stats().live;
    let before = live();
    let events = ConnectEvents::new();
    let l = Listener::create(&adapter, &events).unwrap();
    let c = Connector::create(&adapter).unwrap();
    let e = SharedEndpoint::create(&adapter, &Address::v4([10, 0, 0, 9], 0)).unwrap();
    let mw = pd.create_mw().unwrap();
    let srq = pd.create_srq(4, 1, 0, None).unwrap();
    assert!(live() > before);
    for closed in [l.close(), c.close(), e.close(), mw.close(), srq.close()] {
        net.run();
        assert!(closed.is_complete());
    }
    assert_eq!(
        live(),
        before,
        "memory released at close, as without the verifier"
    );
    assert!(reports(&adapter).is_empty());
    assert!(call!(misuse::quarantined(adapter.raw())).is_empty());
    assert!(matches!(pd.close(), Closed::Now));
    adapter.close();
    drop(off); // its fabric handle
    net.close();
}
