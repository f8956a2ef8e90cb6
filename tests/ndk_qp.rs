//! Data movement, flush, CQ notifications and overrun between two QPs, through the dispatch
//! tables (connected with the connection manager's hook, `dispatch::connect_pair`).
// a/b sides, p platform, r results: the scenario vocabulary.
#![allow(clippy::many_single_char_names)]

mod ndk_common;

use ndk_common::{Pair, Side, config, summary};
use softndk::abi::{
    NDK_CQ_NOTIFY_ANY, NDK_CQ_NOTIFY_ERRORS, NDK_CQ_NOTIFY_SOLICITED,
    NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NDK_MR_FLAG_ALLOW_REMOTE_READ, NDK_MR_FLAG_ALLOW_REMOTE_WRITE,
    NDK_OP_FLAG_INLINE, NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT, NDK_OPERATION_TYPE, NDK_VERSION,
    STATUS_BUFFER_OVERFLOW, STATUS_CANCELLED, STATUS_CONNECTION_ABORTED, STATUS_CONNECTION_INVALID,
    STATUS_REMOTE_RESOURCES, STATUS_SUCCESS,
};
use softndk::consumer::{Adapter, Buffer, Closed, QpLimits};
use softndk::platform::Irql;
use softndk::platform::host::{Host, with_irql};

const SEND: i32 = NDK_OPERATION_TYPE::SEND.0;
const RECV: i32 = NDK_OPERATION_TYPE::RECEIVE.0;
const S: u32 = STATUS_SUCCESS.as_u32();

#[test]
fn send_receive_write_read_move_bytes_and_complete_in_order() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 16, QpLimits::default());
    let (a, b) = (&pair.a, &pair.b);
    let (src, src_mr) = a.buffer(b"hello, ndk", 0);
    let (dst, dst_mr) = b.buffer(&[0; 16], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);

    // Receive first, then send.
    let rsge = dst.sge(0, 16, dst_mr.local_token());
    assert_eq!(b.qp.receive(100, &[rsge]), STATUS_SUCCESS);
    let ssge = src.sge(0, 10, src_mr.local_token());
    assert_eq!(a.qp.send(1, &[ssge], 0), STATUS_SUCCESS);
    assert_eq!(&dst.read()[..10], b"hello, ndk");
    assert_eq!(summary(&a.icq.results_ex(8)), [(1, S, 10, SEND)]);
    let r = b.rcq.results_ex(8);
    assert_eq!(summary(&r), [(100, S, 10, RECV)]);
    assert_eq!(r[0].QPContext.addr(), 0xB);

    // A send before the receive waits for it.
    assert_eq!(a.qp.send(2, &[ssge], 0), STATUS_SUCCESS);
    assert!(a.icq.results(8).is_empty(), "no receive posted yet");
    assert_eq!(b.qp.receive(101, &[rsge]), STATUS_SUCCESS);
    assert_eq!(a.icq.results(8).len(), 1);
    assert_eq!(b.rcq.results(8).len(), 1);

    // RDMA write into a remote-writable buffer, and read back from a remote-readable one.
    let (target, target_mr) = b.buffer(&[0; 8], NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
    let w = src.sge(0, 5, src_mr.local_token());
    assert_eq!(
        a.qp.write(3, &[w], target.va() + 2, target_mr.remote_token(), 0),
        STATUS_SUCCESS
    );
    assert_eq!(target.read(), b"\0\0hello\0");
    let (source, source_mr) = b.buffer(b"remote bytes", NDK_MR_FLAG_ALLOW_REMOTE_READ);
    let (sink, sink_mr) = a.buffer(&[0; 12], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    let rd = sink.sge(0, 12, sink_mr.local_token());
    assert_eq!(
        a.qp.read(4, &[rd], source.va(), source_mr.remote_token(), 0),
        STATUS_SUCCESS
    );
    assert_eq!(sink.read(), b"remote bytes");
    let done = a.icq.results_ex(8);
    assert_eq!(
        done.iter()
            .map(|r| (r.RequestContext.addr(), r.Status))
            .collect::<Vec<_>>(),
        [(3, STATUS_SUCCESS), (4, STATUS_SUCCESS)]
    );
    assert!(b.rcq.results(8).is_empty(), "RDMA consumes no receive");

    // Inline: the source needs no registration.
    let inline = softndk::consumer::Buffer::from_bytes(b"inline!");
    assert_eq!(b.qp.receive(102, &[rsge]), STATUS_SUCCESS);
    assert_eq!(
        a.qp.send(5, &[inline.sge(0, 7, 0xDEAD)], NDK_OP_FLAG_INLINE),
        STATUS_SUCCESS
    );
    assert_eq!(&dst.read()[..7], b"inline!");
    assert_eq!(b.rcq.results(8)[0].BytesTransferred, 7);

    for mr in [src_mr, dst_mr, target_mr, source_mr, sink_mr] {
        assert!(matches!(mr.close(), Closed::Now));
    }
    let _ = a.icq.results(64);
    pair.close();
    assert_eq!(p.alloc_stats().live, 0);
}

#[test]
fn unconnected_qp_refuses_initiator_requests_but_takes_receives() {
    let p = Host::deterministic();
    let adapter = Adapter::open(&config(), &p, NDK_VERSION::new(1, 0)).unwrap();
    let side = Side::new(&adapter, 1, 8, QpLimits::default());
    let (buf, mr) = side.buffer(&[0; 8], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    assert_eq!(side.qp.send(1, &[], 0), STATUS_CONNECTION_INVALID);
    assert_eq!(
        side.qp.write(2, &[], buf.va(), mr.remote_token(), 0),
        STATUS_CONNECTION_INVALID
    );
    assert_eq!(
        side.qp.receive(3, &[buf.sge(0, 8, mr.local_token())]),
        STATUS_SUCCESS
    );
    // Flush of a lone QP cancels its receive.
    side.qp.flush();
    let r = side.rcq.results_ex(8);
    assert_eq!(summary(&r), [(3, STATUS_CANCELLED.as_u32(), 0, RECV)]);
    assert!(
        side.icq.results(8).is_empty(),
        "refused posts never complete"
    );
    let _ = mr.close();
    side.close();
    adapter.close();
}

#[test]
fn flush_cancels_everything_in_posting_order_and_the_peer_notices() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 32, QpLimits::default());
    let (a, b) = (&pair.a, &pair.b);
    let (buf, mr) = a.buffer(&[0; 64], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    for i in 0..4 {
        assert_eq!(
            a.qp.receive(10 + i, &[buf.sge(0, 64, mr.local_token())]),
            STATUS_SUCCESS
        );
    }
    for i in 0..3 {
        // No receive at b: the sends wait.
        assert_eq!(a.qp.send(20 + i, &[], 0), STATUS_SUCCESS);
    }
    a.qp.flush();
    let c = STATUS_CANCELLED.as_u32();
    assert_eq!(
        summary(&a.icq.results_ex(16)),
        [(20, c, 0, SEND), (21, c, 0, SEND), (22, c, 0, SEND)]
    );
    assert_eq!(
        summary(&a.rcq.results_ex(16)),
        [
            (10, c, 0, RECV),
            (11, c, 0, RECV),
            (12, c, 0, RECV),
            (13, c, 0, RECV)
        ]
    );
    assert_eq!(
        a.qp.send(30, &[], 0),
        STATUS_CONNECTION_INVALID,
        "error state is terminal"
    );
    assert_eq!(a.qp.receive(31, &[]), STATUS_CONNECTION_INVALID);
    // The peer's next send meets a QP in error.
    assert_eq!(b.qp.send(40, &[], 0), STATUS_SUCCESS);
    let r = b.icq.results(8);
    assert_eq!(r[0].Status, STATUS_CONNECTION_ABORTED);
    let _ = mr.close();
    pair.close();
}

#[test]
fn notifications_are_deferred_one_per_arm_and_rearm_inside_the_callback_does_not_nest() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 32, QpLimits::default());
    let (a, b) = (&pair.a, &pair.b);
    b.rcq.arm(NDK_CQ_NOTIFY_ANY);
    b.rcq.rearm_inside_callback(NDK_CQ_NOTIFY_ANY);
    assert_eq!(b.qp.receive(1, &[]), STATUS_SUCCESS);
    assert_eq!(a.qp.send(1, &[], 0), STATUS_SUCCESS);
    assert_eq!(b.revents.count(), 0, "never from inside the posting call");
    p.run_until_idle();
    assert_eq!(b.revents.statuses(), [STATUS_SUCCESS]);
    // The re-arm inside the callback found nothing new: no second notification...
    p.run_until_idle();
    assert_eq!(b.revents.count(), 1);
    // ...until the next completion, which the re-arm covers.
    assert_eq!(b.qp.receive(2, &[]), STATUS_SUCCESS);
    assert_eq!(a.qp.send(2, &[], 0), STATUS_SUCCESS);
    p.run_until_idle();
    assert_eq!(b.revents.count(), 2);
    assert_eq!(b.revents.overlaps(), 0);

    // SOLICITED: only a solicited message (or an error) notifies.
    a.rcq.arm(NDK_CQ_NOTIFY_SOLICITED);
    for i in 0..2 {
        assert_eq!(a.qp.receive(10 + i, &[]), STATUS_SUCCESS);
    }
    assert_eq!(b.qp.send(10, &[], 0), STATUS_SUCCESS);
    p.run_until_idle();
    assert_eq!(a.revents.count(), 0);
    assert_eq!(
        b.qp.send(11, &[], NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT),
        STATUS_SUCCESS
    );
    p.run_until_idle();
    assert_eq!(a.revents.statuses(), [STATUS_SUCCESS]);
    pair.close();
}

#[test]
fn cq_overrun_notifies_buffer_overflow_and_its_qps_become_unusable() {
    let p = Host::deterministic();
    let pair = Pair::new(&p, 2, QpLimits::default());
    let (a, b) = (&pair.a, &pair.b);
    b.rcq.arm(NDK_CQ_NOTIFY_ERRORS);
    for i in 0..3 {
        assert_eq!(b.qp.receive(i, &[]), STATUS_SUCCESS);
    }
    for i in 0..3 {
        assert_eq!(a.qp.send(i, &[], 0), STATUS_SUCCESS);
    }
    p.run_until_idle();
    assert_eq!(b.revents.statuses(), [STATUS_BUFFER_OVERFLOW]);
    assert!(b.rcq.results(8).is_empty(), "an overrun CQ reports nothing");
    assert_eq!(b.qp.receive(9, &[]), STATUS_CONNECTION_INVALID);
    assert_eq!(b.qp.send(9, &[], 0), STATUS_CONNECTION_INVALID);
    pair.close();
}

#[test]
fn remote_access_with_bad_tokens_fails_the_request_not_the_provider() {
    let p = Host::deterministic();
    let adapter = Adapter::open(&config(), &p, NDK_VERSION::new(1, 0)).unwrap();
    let limits = QpLimits::default();
    let remote = |stale: &dyn Fn(&Side, &Side) -> (u64, u32)| {
        let a = Side::new(&adapter, 1, 8, limits);
        let b = Side::new(&adapter, 2, 8, limits);
        assert_eq!(a.qp.connect_to(&b.qp, 1, 1), STATUS_SUCCESS);
        let (addr, token) = stale(&a, &b);
        let r = a.qp.write(7, &[], addr, token, 0);
        assert_eq!(r, STATUS_SUCCESS, "a zero-length write is posted");
        let done = a.icq.results(8);
        a.close();
        b.close();
        done[0].Status
    };
    // Deregistered: the token is stale.
    let status = remote(&|_, b| {
        let (buf, mr) = b.buffer(&[0; 8], NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
        let token = mr.remote_token();
        assert_eq!(mr.deregister(), STATUS_SUCCESS);
        let _ = mr.close();
        (buf.va(), token)
    });
    assert_eq!(status, STATUS_REMOTE_RESOURCES);
    // A token of the requester's own PD is not valid at the responder's PD.
    let status = remote(&|a, _| {
        let (buf, mr) = a.buffer(&[0; 8], NDK_MR_FLAG_ALLOW_REMOTE_WRITE);
        let token = mr.remote_token();
        let _ = mr.close();
        (buf.va(), token)
    });
    assert_eq!(status, STATUS_REMOTE_RESOURCES);
    // Missing right: registered for remote read only.
    let status = remote(&|_, b| {
        let (buf, mr) = b.buffer(&[0; 8], NDK_MR_FLAG_ALLOW_REMOTE_READ);
        let token = mr.remote_token();
        let _ = mr.close();
        (buf.va(), token)
    });
    assert_eq!(status, STATUS_REMOTE_RESOURCES);
    assert_eq!(
        remote(&|_, _| (0, 0x1234_5678)),
        STATUS_REMOTE_RESOURCES,
        "never issued"
    );
    adapter.close();
}

#[test]
fn posts_and_notifications_at_dispatch_and_across_adapters_on_worker_threads() {
    let p = Host::threaded(2);
    let one = Adapter::open(&config(), &p, NDK_VERSION::new(1, 0)).unwrap();
    let two = Adapter::open(&config(), &p, NDK_VERSION::new(2, 0)).unwrap();
    let a = Side::new(&one, 1, 64, QpLimits::default());
    let b = Side::new(&two, 2, 64, QpLimits::default());
    assert_eq!(a.qp.connect_to(&b.qp, 2, 2), STATUS_SUCCESS);
    b.rcq.arm(NDK_CQ_NOTIFY_ANY);
    with_irql(Irql::Dispatch, || {
        for i in 0..16 {
            assert_eq!(b.qp.receive(i, &[]), STATUS_SUCCESS);
            assert_eq!(a.qp.send(i, &[], 0), STATUS_SUCCESS);
        }
    });
    p.flush();
    assert_eq!(b.revents.statuses(), [STATUS_SUCCESS], "one per arm");
    assert_eq!(b.rcq.results(32).len(), 16);
    assert_eq!(a.icq.results(32).len(), 16);
    a.close();
    b.close();
    one.close();
    two.close();
}

/// SGE lists of every length class the dispatch layer reads (one entry, the small buffer's
/// four, one past it, the adapter's 16) gather on send and scatter on receive, byte for byte,
/// and an RDMA read of the received bytes scatters them back through the same lists.
#[test]
fn sge_lists_of_every_length_gather_and_scatter() {
    let p = Host::deterministic();
    let limits = QpLimits {
        max_initiator_sge: 16,
        max_receive_sge: 16,
        ..QpLimits::default()
    };
    let pair = Pair::new(&p, 64, limits);
    let (a, b) = (&pair.a, &pair.b);
    let bytes: Vec<u8> = (0..64u8).collect();
    let (src, src_mr) = a.buffer(&bytes, 0);
    let (dst, dst_mr) = b.buffer(
        &[0; 64],
        NDK_MR_FLAG_ALLOW_LOCAL_WRITE | NDK_MR_FLAG_ALLOW_REMOTE_READ,
    );
    let (back, back_mr) = a.buffer(&[0; 64], NDK_MR_FLAG_ALLOW_LOCAL_WRITE);
    for n in [1u32, 4, 5, 16] {
        let piece = 64 / n;
        let sges = |buf: &Buffer, token: u32| -> Vec<_> {
            (0..n)
                .map(|i| buf.sge((i * piece) as usize, piece, token))
                .collect()
        };
        dst.write(0, &[0; 64]);
        back.write(0, &[0; 64]);
        // Receive scatters in reverse order, so a wrong entry shows as misplaced bytes.
        let mut rsges = sges(&dst, dst_mr.local_token());
        rsges.reverse();
        assert_eq!(b.qp.receive(n as usize, &rsges), STATUS_SUCCESS);
        assert_eq!(
            a.qp.send(n as usize, &sges(&src, src_mr.local_token()), 0),
            STATUS_SUCCESS
        );
        p.run_until_idle();
        // Then read b's buffer back into `n` SGEs of a's.
        let read = a.qp.read(
            100 + n as usize,
            &sges(&back, back_mr.local_token()),
            dst.va(),
            dst_mr.remote_token(),
            0,
        );
        assert_eq!(read, STATUS_SUCCESS, "a read of {n} SGEs");
        p.run_until_idle();
        let r = b.rcq.results(4);
        assert_eq!(r.len(), 1, "n = {n}");
        assert_eq!(r[0].Status, STATUS_SUCCESS, "n = {n}");
        let used = (piece * n) as usize;
        let mut expect = vec![0u8; 64];
        for (i, chunk) in bytes[..used].chunks(piece as usize).enumerate() {
            let at = (n as usize - 1 - i) * piece as usize;
            expect[at..at + chunk.len()].copy_from_slice(chunk);
        }
        assert_eq!(
            dst.read(),
            expect,
            "n = {n}: scattered in the receive's order"
        );
        let done = a.icq.results(4);
        assert_eq!(done.len(), 2, "n = {n}: {done:?}");
        assert!(
            done.iter().all(|r| r.Status == STATUS_SUCCESS),
            "n = {n}: {done:?}"
        );
        assert_eq!(
            back.read()[..used],
            expect[..used],
            "n = {n}: read scattered"
        );
    }
    for mr in [src_mr, dst_mr, back_mr] {
        assert!(matches!(mr.close(), Closed::Now));
    }
    pair.close();
}
