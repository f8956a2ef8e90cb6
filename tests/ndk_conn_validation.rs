//! Argument validation of every connector, listener and shared-endpoint slot and the adapter's
//! CM creates, through the dispatch tables (ndmval-style: every refusal is a documented status,
//! nothing is created or changed, no completion is ever called for an inline failure), plus
//! calls made at `DISPATCH_LEVEL`.
#![allow(unsafe_code, clippy::too_many_lines, clippy::many_single_char_names)]

mod ndk_conn_common;

use core::ptr;

use ndk_conn_common::*;
use softndk::abi::{
    AF_INET, NDK_QP, NDK_VERSION, STATUS_BUFFER_TOO_SMALL, STATUS_CONNECTION_ACTIVE,
    STATUS_CONNECTION_INVALID, STATUS_INVALID_ADDRESS, STATUS_INVALID_BUFFER_SIZE,
    STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER, STATUS_NOT_SUPPORTED, STATUS_PENDING,
    STATUS_SUCCESS,
};
use softndk::consumer::{ConnectEvents, Connector, Listener, Request, SharedEndpoint};
use softndk::dispatch::TABLES;
use softndk::platform::Irql;
use softndk::platform::host::with_irql;

/// Calls one dispatch slot with raw arguments.
macro_rules! call {
    ($e:expr) => {{
        // SAFETY: every call passes NULL or objects live for the call, buffers of the stated
        // sizes and valid callbacks; the slots must refuse what they are given.
        unsafe { $e }
    }};
}

unsafe extern "system" fn never(_context: *mut core::ffi::c_void, _status: softndk::abi::NTSTATUS) {
    panic!("a request completion was called for an inline failure");
}

fn sockaddr(a: &softndk::fabric::Address) -> ([u8; 28], u32) {
    let mut b = [0; 28];
    let n = a.write_sockaddr(&mut b).unwrap();
    (b, n)
}

#[test]
fn ndmval_connect_accept_reject_arguments() {
    let net = Net::deterministic();
    let (l, e) = listen(&net.b, &v4(B4, 1));
    let (a, b) = (Net::side(&net.a, 1), Net::side(&net.b, 2));
    let other = Net::side(&net.b, 3);
    let c = Connector::create(&net.a).unwrap();
    let t = TABLES.connector;
    let r = Request::new();
    let (src, sl) = sockaddr(&v4(A4, 0));
    let (dst, dl) = sockaddr(&v4(B4, 1));
    let (dst6, dl6) = sockaddr(&v6(B6, 1));

    // NULL connector, NULL QP, NULL addresses, NULL completion; a QP passed as the connector.
    for (conn, qp, s, d, done) in [
        (
            ptr::null_mut(),
            a.qp.raw(),
            src.as_ptr(),
            dst.as_ptr(),
            true,
        ),
        (c.raw(), ptr::null_mut(), src.as_ptr(), dst.as_ptr(), true),
        (c.raw(), a.qp.raw(), ptr::null(), dst.as_ptr(), true),
        (c.raw(), a.qp.raw(), src.as_ptr(), ptr::null(), true),
        (c.raw(), a.qp.raw(), src.as_ptr(), dst.as_ptr(), false),
        (
            a.qp.raw().cast(),
            a.qp.raw(),
            src.as_ptr(),
            dst.as_ptr(),
            true,
        ),
    ] {
        assert_eq!(
            call!((t.NdkConnect)(
                conn,
                qp,
                s.cast(),
                sl,
                d.cast(),
                dl,
                1,
                1,
                ptr::null(),
                0,
                done.then_some(never as _),
                ptr::null_mut()
            )),
            STATUS_INVALID_PARAMETER
        );
    }
    // SOCKADDR length and family.
    assert_eq!(
        c.connect_raw(&a.qp, (&src[..15], &dst[..16]), (1, 1), &[], &r),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        c.connect_raw(&a.qp, (&src[..16], &dst[..1]), (1, 1), &[], &r),
        STATUS_INVALID_PARAMETER
    );
    let mut bad = src;
    bad[..2].copy_from_slice(&99_u16.to_ne_bytes());
    assert_eq!(
        c.connect_raw(&a.qp, (&bad[..16], &dst[..16]), (1, 1), &[], &r),
        STATUS_INVALID_ADDRESS
    );
    assert_eq!(
        c.connect_raw(
            &a.qp,
            (&src[..sl as usize], &dst6[..dl6 as usize]),
            (1, 1),
            &[],
            &r
        ),
        STATUS_INVALID_PARAMETER,
        "families differ"
    );
    assert_eq!(&bad[2..4], &src[2..4]);
    assert_eq!(u16::from_ne_bytes([src[0], src[1]]), AF_INET);
    // Private data: above MaxCallerData, above any adapter's limit, NULL with a length.
    let info = net.a.query_info().unwrap();
    let big = vec![7; info.MaxCallerData as usize + 1];
    assert_eq!(
        c.connect(&a.qp, &v4(A4, 0), &v4(B4, 1), 1, 1, &big, &r),
        STATUS_INVALID_BUFFER_SIZE
    );
    assert_eq!(
        c.connect(&a.qp, &v4(A4, 0), &v4(B4, 1), 1, 1, &[0; 4096], &r),
        STATUS_INVALID_BUFFER_SIZE
    );
    assert_eq!(
        call!((t.NdkConnect)(
            c.raw(),
            a.qp.raw(),
            src.as_ptr().cast(),
            sl,
            dst.as_ptr().cast(),
            dl,
            1,
            1,
            ptr::null(),
            8,
            Some(never),
            ptr::null_mut()
        )),
        STATUS_INVALID_PARAMETER
    );
    // A QP of another adapter.
    assert_eq!(
        c.connect(&other.qp, &v4(A4, 0), &v4(B4, 1), 1, 1, &[], &r),
        STATUS_INVALID_PARAMETER
    );
    // Calls that need a connection.
    assert_eq!(c.complete_connect(None), STATUS_CONNECTION_INVALID);
    assert_eq!(c.disconnect(&r), STATUS_CONNECTION_INVALID);
    assert_eq!(c.reject(&[]), STATUS_CONNECTION_INVALID);
    assert_eq!(
        c.accept(&a.qp, 1, 1, &[], None, &r),
        STATUS_CONNECTION_INVALID
    );
    assert_eq!(c.connection_data(None).status, STATUS_CONNECTION_INVALID);
    assert_eq!(c.peer_address(), Err(STATUS_CONNECTION_INVALID));
    net.run();
    assert_eq!(r.calls(), 0, "inline failures never call back");

    // Now a real request, at DISPATCH_LEVEL; the connector cannot be used twice.
    let pending = Request::new();
    let status = with_irql(Irql::Dispatch, || {
        c.connect(&a.qp, &v4(A4, 0), &v4(B4, 1), 1, 1, b"x", &pending)
    });
    assert_eq!(status, STATUS_PENDING);
    assert_eq!(
        c.connect(&a.qp, &v4(A4, 0), &v4(B4, 1), 1, 1, &[], &r),
        STATUS_CONNECTION_ACTIVE
    );
    net.run();
    let p = e.take().unwrap();
    // Accept: another adapter's QP, too much data, NULL completion.
    assert_eq!(
        p.accept(&a.qp, 1, 1, &[], None, &r),
        STATUS_INVALID_PARAMETER
    );
    let big = vec![0; info.MaxCalleeData as usize + 1];
    assert_eq!(
        p.accept(&b.qp, 1, 1, &big, None, &r),
        STATUS_INVALID_BUFFER_SIZE
    );
    assert_eq!(p.reject(&big), STATUS_INVALID_BUFFER_SIZE);
    assert_eq!(
        call!((t.NdkAccept)(
            p.raw(),
            b.qp.raw(),
            1,
            1,
            ptr::null(),
            0,
            None,
            ptr::null_mut(),
            None,
            ptr::null_mut()
        )),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        call!((t.NdkAcceptEx)(
            p.raw(),
            ptr::null_mut::<NDK_QP>(),
            1,
            1,
            ptr::null(),
            0,
            None,
            ptr::null_mut(),
            Some(never),
            ptr::null_mut()
        )),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        p.complete_connect(None),
        STATUS_CONNECTION_INVALID,
        "passive side never completes"
    );
    // GetConnectionData: NULL length, NULL buffer with a length; NULL IRD/ORD are fine.
    assert_eq!(
        p.connection_data_raw(true, None, None),
        STATUS_INVALID_PARAMETER
    );
    let mut len = 5;
    assert_eq!(
        p.connection_data_raw(true, None, Some(&mut len)),
        STATUS_INVALID_PARAMETER
    );
    let mut len = 0;
    assert_eq!(
        p.connection_data_raw(false, None, Some(&mut len)),
        STATUS_SUCCESS
    );
    assert_eq!(len, 1, "RDS = bytes the peer sent");
    let mut one = [0_u8; 1];
    let mut len = 1;
    assert_eq!(
        p.connection_data_raw(false, Some(&mut one), Some(&mut len)),
        STATUS_SUCCESS
    );
    assert_eq!(one, *b"x");
    // CompleteConnect with a NULL completion (mandatory, even though it completes inline).
    assert_eq!(
        call!((t.NdkCompleteConnect)(
            c.raw(),
            None,
            ptr::null_mut(),
            None,
            ptr::null_mut()
        )),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        call!((t.NdkDisconnect)(c.raw(), None, ptr::null_mut())),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(c.query_extension(), STATUS_NOT_SUPPORTED);
    // Close: a NULL completion is refused without effect (the object stays usable).
    assert_eq!(
        call!((t.NdkCloseConnector)(p.raw().cast(), None, ptr::null_mut())),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        p.peer_address(),
        c.local_address(),
        "still open after the refused close"
    );
    closed(&net, p.close());
    assert_eq!(pending.statuses().len(), 1);
    closed(&net, c.close());
    closed(&net, l.close());
    a.close();
    b.close();
    other.close();
    net.close();
}

#[test]
fn address_queries_buffer_rules() {
    let net = Net::deterministic();
    let (l, _e) = listen(&net.a, &v6(A6, 9));
    let mut len = 0_u32;
    assert_eq!(
        l.local_address_raw(None, None),
        STATUS_INVALID_PARAMETER,
        "NULL length"
    );
    assert_eq!(
        l.local_address_raw(None, Some(&mut len)),
        STATUS_BUFFER_TOO_SMALL
    );
    assert_eq!(len, 28, "required size of a SOCKADDR_IN6");
    let mut buf = [0_u8; 27];
    len = 27;
    assert_eq!(
        l.local_address_raw(Some(&mut buf), Some(&mut len)),
        STATUS_BUFFER_TOO_SMALL
    );
    assert_eq!(len, 28);
    assert_eq!(buf, [0; 27], "nothing written into a short buffer");
    let mut buf = [0_u8; 40];
    len = 40;
    assert_eq!(
        l.local_address_raw(Some(&mut buf), Some(&mut len)),
        STATUS_SUCCESS
    );
    assert_eq!(len, 28);
    assert_eq!(
        softndk::fabric::Address::from_sockaddr(&buf[..28]),
        Ok(v6(A6, 9))
    );
    assert_eq!(l.query_extension(), STATUS_NOT_SUPPORTED);

    let ep = SharedEndpoint::create(&net.a, &v4(A4, 0)).unwrap();
    let mut len = 0;
    assert_eq!(
        ep.local_address_raw(None, Some(&mut len)),
        STATUS_BUFFER_TOO_SMALL
    );
    assert_eq!(len, 16);
    assert_eq!(ep.query_extension(), STATUS_NOT_SUPPORTED);
    let c = Connector::create(&net.a).unwrap();
    let mut len = 0;
    assert_eq!(
        c.address_raw(false, None, Some(&mut len)),
        STATUS_CONNECTION_INVALID,
        "not connected"
    );
    assert_eq!(c.address_raw(true, None, None), STATUS_INVALID_PARAMETER);
    let e2 = ConnectEvents::new();
    let l2 = Listener::create(&net.a, &e2).unwrap();
    let mut len = 64;
    assert_eq!(
        l2.local_address_raw(None, Some(&mut len)),
        STATUS_INVALID_DEVICE_STATE,
        "not listening"
    );
    assert_eq!(l2.listen(&v4(A4, 10)), STATUS_SUCCESS);
    assert_eq!(
        l2.listen(&v4(A4, 11)),
        STATUS_INVALID_DEVICE_STATE,
        "listens once"
    );
    assert_eq!(
        l2.listen_raw(&[0; 1]),
        STATUS_INVALID_PARAMETER,
        "short SOCKADDR"
    );
    // Connect events: any non-zero BOOLEAN pauses.
    // SAFETY: a live listener.
    unsafe { (l2.dispatch().NdkControlConnectEvents)(l2.raw(), 2) };
    let a = Net::side(&net.a, 1);
    let r = Request::new();
    assert_eq!(
        c.connect(&a.qp, &v4(A4, 0), &v4(A4, 10), 1, 1, &[], &r),
        softndk::abi::STATUS_CONNECTION_REFUSED,
        "paused: as if nobody listened"
    );
    l2.resume();
    closed(&net, l2.close());
    closed(&net, c.close());
    closed(&net, ep.close());
    closed(&net, l.close());
    a.close();
    net.close();
}

#[test]
fn creates_refuse_missing_arguments_and_foreign_objects() {
    let net = Net::deterministic();
    let ad = net.a.dispatch();
    let mut out = ptr::null_mut();
    let (addr, len) = sockaddr(&v4(A4, 0));
    assert_eq!(
        call!((ad.NdkCreateConnector)(
            net.a.raw(),
            None,
            ptr::null_mut(),
            &raw mut out
        )),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        call!((ad.NdkCreateConnector)(
            ptr::null_mut(),
            Some(softndk::consumer::create_completion),
            ptr::null_mut(),
            &raw mut out
        )),
        STATUS_INVALID_PARAMETER
    );
    let mut lout = ptr::null_mut();
    assert_eq!(
        call!((ad.NdkCreateListener)(
            net.a.raw(),
            None,
            ptr::null_mut(),
            Some(softndk::consumer::create_completion),
            ptr::null_mut(),
            &raw mut lout
        )),
        STATUS_INVALID_PARAMETER,
        "the connect event is mandatory"
    );
    let mut eout = ptr::null_mut();
    assert_eq!(
        call!((ad.NdkCreateSharedEndpoint)(
            net.a.raw(),
            addr.as_ptr().cast(),
            len,
            Some(softndk::consumer::create_completion),
            ptr::null_mut(),
            ptr::null_mut()
        )),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(
        call!((ad.NdkCreateSharedEndpoint)(
            net.a.raw(),
            addr.as_ptr().cast(),
            3,
            Some(softndk::consumer::create_completion),
            ptr::null_mut(),
            &raw mut eout
        )),
        STATUS_INVALID_PARAMETER
    );
    assert!(
        out.is_null() && lout.is_null() && eout.is_null(),
        "nothing created"
    );
    assert_eq!(
        SharedEndpoint::create(&net.a, &v4(B4, 0)).unwrap_err(),
        STATUS_INVALID_ADDRESS,
        "b's address"
    );
    // A shared endpoint of another adapter.
    let ep_b = SharedEndpoint::create(&net.b, &v4(B4, 0)).unwrap();
    let (listener, _events) = listen(&net.b, &v4(B4, 1));
    let a = Net::side(&net.a, 1);
    let c = Connector::create(&net.a).unwrap();
    let r = Request::new();
    assert_eq!(
        c.connect_with_shared_endpoint(&a.qp, &ep_b, &v4(B4, 1), 1, 1, &[], &r),
        STATUS_INVALID_PARAMETER
    );
    // A close without its completion is refused.
    assert_eq!(
        call!((TABLES.shared_endpoint.NdkCloseSharedEndpoint)(
            ep_b.raw().cast(),
            None,
            ptr::null_mut()
        )),
        STATUS_INVALID_PARAMETER
    );
    closed(&net, ep_b.close());
    closed(&net, c.close());
    closed(&net, listener.close());
    a.close();
    // An adapter whose address another adapter already has cannot open.
    let dup = config_on(&net.fabric, &[softndk::fabric::IpAddr::V4(A4)]);
    let host = softndk::platform::Platform::clone(&net.host);
    assert_eq!(
        softndk::consumer::Adapter::open(&dup, &host, NDK_VERSION::new(2, 0)).unwrap_err(),
        softndk::abi::STATUS_ADDRESS_ALREADY_EXISTS
    );
    // The configuration holds the fabric (and its timeout work) until dropped.
    drop(dup);
    net.close();
}
