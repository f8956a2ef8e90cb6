//! RC scenarios between two connected engine endpoints, over the engine's test memory.

use softndk::engine::testkit::{Buf, Pair};
use softndk::engine::{
    Access, BindRequest, Blocked, Completion, ErrorCause, OpFlags, OpType, Payload, PostError,
    QpState, Sge, Status, WorkRequest,
};

const fn send(sges: &[Sge]) -> WorkRequest<'_> {
    WorkRequest::Send {
        payload: Payload::Sges(sges),
    }
}

const fn write<'a>(sges: &'a [Sge], to: &Buf, offset: u64) -> WorkRequest<'a> {
    WorkRequest::Write {
        payload: Payload::Sges(sges),
        remote_address: to.va + offset,
        remote_token: to.token,
    }
}

const fn read<'a>(sges: &'a [Sge], from: &Buf, offset: u64) -> WorkRequest<'a> {
    WorkRequest::Read {
        sges,
        remote_address: from.va + offset,
        remote_token: from.token,
    }
}

fn summary(cs: &[Completion]) -> Vec<(usize, Status, OpType, u32)> {
    cs.iter()
        .map(|c| (c.request_context, c.status, c.op, c.bytes))
        .collect()
}

const fn failed(p: &Pair, side: usize) -> bool {
    matches!(
        p.ep[side].state(),
        QpState::Error(ErrorCause::RequestFailed)
    )
}

#[test]
fn send_gathers_and_receive_scatters_in_order() {
    let mut p = Pair::connected();
    let src = p.buffer(0, b"0123456789abcdef".to_vec(), Access::LOCAL_READ);
    let dst = p.buffer(1, vec![b'.'; 20], Access::LOCAL_WRITE);
    p.receive(1, 10, &[dst.sge(0, 4), dst.sge(10, 10)]).unwrap();
    p.receive(1, 11, &[dst.sge(4, 6)]).unwrap();
    p.post(
        0,
        1,
        send(&[src.sge(0, 3), src.sge(8, 2), src.sge(14, 2)]),
        OpFlags::NONE,
    )
    .unwrap();
    p.post(0, 2, send(&[src.sge(12, 2)]), OpFlags::NONE)
        .unwrap();
    assert_eq!(p.progress().executed, 2);
    assert_eq!(p.arena.bytes(dst.region), b"0128cd....9ef.......");
    assert_eq!(
        summary(p.cq(0, 0)),
        [
            (1, Status::Success, OpType::Send, 7),
            (2, Status::Success, OpType::Send, 2)
        ]
    );
    assert_eq!(
        summary(p.cq(1, 1)),
        [
            (10, Status::Success, OpType::Receive, 7),
            (11, Status::Success, OpType::Receive, 2)
        ]
    );
    assert!(
        p.cq(1, 1)
            .iter()
            .all(|c| c.qp_context == 0x101 && !c.solicited)
    );
}

#[test]
fn receives_are_matched_in_posting_order() {
    let mut p = Pair::connected();
    let src = p.buffer(0, b"abc".to_vec(), Access::LOCAL_READ);
    let dst = p.buffer(1, vec![0; 3], Access::LOCAL_WRITE);
    for i in 0..3 {
        p.receive(1, 20 + i, &[dst.sge(u32::try_from(i).unwrap(), 1)])
            .unwrap();
    }
    for i in 0..3 {
        p.post(
            0,
            i,
            send(&[src.sge(u32::try_from(i).unwrap(), 1)]),
            OpFlags::NONE,
        )
        .unwrap();
    }
    p.progress();
    assert_eq!(p.arena.bytes(dst.region), b"abc");
    let order: Vec<_> = p.cq(1, 1).iter().map(|c| c.request_context).collect();
    assert_eq!(order, [20, 21, 22]);
}

#[test]
fn receive_too_small_fails_both_sides_and_places_nothing() {
    let mut p = Pair::connected();
    let src = p.buffer(0, vec![7; 10], Access::LOCAL_READ);
    let dst = p.buffer(1, vec![0; 10], Access::LOCAL_WRITE);
    p.receive(1, 30, &[dst.sge(0, 9)]).unwrap();
    p.receive(1, 31, &[dst.all()]).unwrap();
    p.post(0, 1, send(&[src.all()]), OpFlags::NONE).unwrap();
    p.post(0, 2, send(&[src.all()]), OpFlags::NONE).unwrap();
    p.progress();
    assert_eq!(p.arena.bytes(dst.region), [0; 10], "no byte placed");
    assert_eq!(
        summary(p.cq(1, 1)),
        [
            (30, Status::ReceiveTooSmall, OpType::Receive, 0),
            (31, Status::Cancelled, OpType::Receive, 0)
        ]
    );
    assert_eq!(
        summary(p.cq(0, 0)),
        [
            (1, Status::RemoteOperationError, OpType::Send, 0),
            (2, Status::Cancelled, OpType::Send, 0)
        ]
    );
    assert!(failed(&p, 0) && failed(&p, 1));
    assert!(
        p.cq(1, 1)[0].satisfies_solicited_arm(),
        "an error completion satisfies a SOLICITED arm"
    );
}

#[test]
fn send_waits_for_a_receive_and_blocks_later_requests() {
    let mut p = Pair::connected();
    let src = p.buffer(0, b"hello".to_vec(), Access::LOCAL_READ);
    let dst = p.buffer(1, vec![0; 5], Access::LOCAL_WRITE);
    let target = p.buffer(1, vec![0; 5], Access::LOCAL_WRITE | Access::REMOTE_WRITE);
    p.post(0, 1, send(&[src.all()]), OpFlags::NONE).unwrap();
    p.post(0, 2, write(&[src.all()], &target, 0), OpFlags::NONE)
        .unwrap();
    let r = p.progress();
    assert_eq!((r.executed, r.a), (0, Blocked::WaitingForReceive));
    assert_eq!(
        p.arena.bytes(target.region),
        [0; 5],
        "the write waits behind the send"
    );
    assert!(p.cq(0, 0).is_empty());
    // The peer's receive post drives the waiting send and everything behind it.
    p.receive(1, 40, &[dst.all()]).unwrap();
    assert_eq!(p.progress().executed, 2);
    assert_eq!(p.arena.bytes(dst.region), b"hello");
    assert_eq!(p.arena.bytes(target.region), b"hello");
    let ops: Vec<_> = p
        .cq(0, 0)
        .iter()
        .map(|c| (c.request_context, c.op))
        .collect();
    assert_eq!(ops, [(1, OpType::Send), (2, OpType::Write)]);
}

#[test]
fn write_and_read_scatter_gather() {
    let mut p = Pair::connected();
    let local = p.buffer(0, b"ABCDEFGH".to_vec(), Access::LOCAL_WRITE);
    let remote = p.buffer(
        1,
        vec![b'-'; 12],
        Access::LOCAL_WRITE | Access::REMOTE_WRITE | Access::REMOTE_READ,
    );
    p.post(
        0,
        1,
        write(&[local.sge(6, 2), local.sge(0, 3)], &remote, 2),
        OpFlags::NONE,
    )
    .unwrap();
    p.progress();
    assert_eq!(p.arena.bytes(remote.region), b"--GHABC-----");
    // Read 5 remote bytes back into two local pieces.
    p.post(
        0,
        2,
        read(&[local.sge(7, 1), local.sge(0, 4)], &remote, 2),
        OpFlags::READ_FENCE,
    )
    .unwrap();
    p.progress();
    assert_eq!(p.arena.bytes(local.region), b"HABCEFGG");
    assert_eq!(
        summary(p.cq(0, 0)),
        [
            (1, Status::Success, OpType::Write, 5),
            (2, Status::Success, OpType::Read, 5)
        ]
    );
    assert!(p.cq(1, 1).is_empty(), "RDMA never consumes receives");
}

/// Every way a remote access can be refused: an error completion, both QPs in error, and not
/// one destination byte changed.
#[test]
fn every_remote_access_violation_touches_no_memory() {
    type Mutate = fn(&mut Pair, &Buf, &Buf) -> (u32, u64, u32);
    let cases: [(&str, Mutate); 7] = [
        ("unknown token", |_, _, r| (r.token + 0x100 * 50, r.va, 4)),
        ("token of another PD", |_, l, r| (l.token, r.va, 4)),
        ("past the end", |_, _, r| (r.token, r.va + 6, 4)),
        ("before the start", |_, _, r| (r.token, r.va - 1, 4)),
        ("length overflow", |_, _, r| (r.token, u64::MAX - 1, 4)),
        ("stale token", |p, _, r| {
            let mw = p.mem[1].window();
            let bind = BindRequest {
                mr: r.mr,
                mw,
                virtual_address: r.va,
                length: 8,
                access: Access::LOCAL_READ,
            };
            p.post(
                1,
                99,
                WorkRequest::Bind(bind),
                OpFlags::ALLOW_REMOTE_WRITE | OpFlags::ALLOW_REMOTE_READ,
            )
            .unwrap();
            let token = p.mem[1].token(mw);
            p.post(1, 98, WorkRequest::Invalidate { target: mw }, OpFlags::NONE)
                .unwrap();
            p.progress();
            assert!(!p.mem[1].is_valid(mw));
            (token, r.va, 4)
        }),
        ("missing right", |p, _, _| {
            let ro = p.buffer(1, vec![0xEE; 8], Access::LOCAL_WRITE);
            (ro.token, ro.va, 4)
        }),
    ];
    for (name, make) in cases {
        for is_read in [false, true] {
            let mut p = Pair::connected();
            let local = p.buffer(0, vec![0x11; 8], Access::LOCAL_WRITE);
            let remote_access = if name == "missing right" {
                Access::LOCAL_WRITE
            } else {
                Access::LOCAL_WRITE | Access::REMOTE_WRITE | Access::REMOTE_READ
            };
            let remote = p.buffer(1, vec![0x22; 8], remote_access);
            let (token, address, length) = make(&mut p, &local, &remote);
            p.receive(1, 7, &[]).unwrap();
            let sges = [local.sge(0, length)];
            let request = if is_read {
                WorkRequest::Read {
                    sges: &sges,
                    remote_address: address,
                    remote_token: token,
                }
            } else {
                WorkRequest::Write {
                    payload: Payload::Sges(&sges),
                    remote_address: address,
                    remote_token: token,
                }
            };
            p.post(0, 1, request, OpFlags::SILENT_SUCCESS).unwrap();
            p.progress();
            assert_eq!(
                p.arena.bytes(local.region),
                [0x11; 8],
                "{name}: local untouched"
            );
            assert!(
                p.arena.bytes(remote.region).iter().all(|&b| b == 0x22),
                "{name}: remote untouched"
            );
            for r in 2..p.arena.len() {
                assert!(
                    p.arena.bytes(r).iter().all(|&b| b == 0xEE),
                    "{name}: other region untouched"
                );
            }
            let last = *p.cq(0, 0).last().unwrap();
            assert_eq!(
                (last.request_context, last.status),
                (1, Status::RemoteAccessError),
                "{name} read={is_read}"
            );
            assert!(
                failed(&p, 0) && failed(&p, 1),
                "{name}: the connection is in error"
            );
            assert_eq!(
                summary(p.cq(1, 1)),
                [(7, Status::Cancelled, OpType::Receive, 0)],
                "{name}"
            );
        }
    }
}

#[test]
fn local_protection_error_fails_only_the_requester() {
    let mut p = Pair::connected();
    let dst = p.buffer(1, vec![0; 4], Access::LOCAL_WRITE);
    p.receive(1, 5, &[dst.all()]).unwrap();
    let bogus = Sge {
        address: 0x42,
        length: 4,
        token: 0x0100_0F00,
    };
    p.post(0, 1, send(&[bogus]), OpFlags::NONE).unwrap();
    p.progress();
    assert_eq!(
        summary(p.cq(0, 0)),
        [(1, Status::LocalProtectionError, OpType::Send, 0)]
    );
    assert!(failed(&p, 0));
    assert_eq!(p.ep[1].state(), QpState::Connected, "the send never left");
    assert_eq!(
        p.ep[1].receive_outstanding(),
        1,
        "the peer's receive is still posted"
    );
}

#[test]
fn send_and_invalidate_invalidates_the_receivers_token() {
    let mut p = Pair::connected();
    let src = p.buffer(0, b"inv".to_vec(), Access::LOCAL_READ);
    let dst = p.buffer(1, vec![0; 3], Access::LOCAL_WRITE);
    let exposed = p.buffer(1, vec![0; 8], Access::LOCAL_WRITE);
    let mw = p.mem[1].window();
    let bind = BindRequest {
        mr: exposed.mr,
        mw,
        virtual_address: exposed.va,
        length: 8,
        access: Access::LOCAL_READ,
    };
    p.post(1, 50, WorkRequest::Bind(bind), OpFlags::ALLOW_REMOTE_WRITE)
        .unwrap();
    let token = p.mem[1].token(mw);
    p.receive(1, 51, &[dst.all()]).unwrap();
    let payload = Payload::Sges(&[src.all()]);
    p.post(
        0,
        1,
        WorkRequest::SendAndInvalidate {
            payload,
            remote_token: token,
        },
        OpFlags::SEND_AND_SOLICIT_EVENT,
    )
    .unwrap();
    p.progress();
    let r = p.cq(1, 1)[0];
    assert_eq!(
        (r.request_context, r.status, r.op, r.bytes),
        (51, Status::Success, OpType::ReceiveAndInvalidate, 3)
    );
    assert_eq!(r.invalidated_token, Some(token));
    assert!(r.solicited && r.satisfies_solicited_arm());
    assert_eq!(
        p.cq(0, 0)[0].op,
        OpType::Send,
        "the sender's own completion is a send"
    );
    assert!(!p.mem[1].is_valid(mw));
    // The invalidated window refuses the peer's write.
    let probe = Sge {
        length: 1,
        ..src.all()
    };
    let w = WorkRequest::Write {
        payload: Payload::Sges(&[probe]),
        remote_address: exposed.va,
        remote_token: token,
    };
    p.post(0, 2, w, OpFlags::NONE).unwrap();
    p.progress();
    assert_eq!(p.cq(0, 0)[1].status, Status::RemoteAccessError);
    assert_eq!(p.arena.bytes(exposed.region), [0; 8]);
}

#[test]
fn send_and_invalidate_with_a_bad_token_aborts_the_connection() {
    let mut p = Pair::connected();
    let src = p.buffer(0, b"x".to_vec(), Access::LOCAL_READ);
    let dst = p.buffer(1, vec![0; 1], Access::LOCAL_WRITE);
    p.receive(1, 60, &[dst.all()]).unwrap();
    // An MR registered with NdkRegisterMr cannot be invalidated remotely.
    let payload = Payload::Sges(&[src.all()]);
    p.post(
        0,
        1,
        WorkRequest::SendAndInvalidate {
            payload,
            remote_token: dst.token,
        },
        OpFlags::NONE,
    )
    .unwrap();
    p.progress();
    assert_eq!(
        summary(p.cq(1, 1)),
        [(60, Status::InvalidateError, OpType::ReceiveAndInvalidate, 0)]
    );
    assert_eq!(p.cq(1, 1)[0].invalidated_token, None);
    assert_eq!(
        summary(p.cq(0, 0)),
        [(1, Status::RemoteOperationError, OpType::Send, 0)]
    );
    assert_eq!(p.arena.bytes(dst.region), [0], "nothing placed");
    assert!(failed(&p, 0) && failed(&p, 1));
}

#[test]
fn silent_success_hides_only_successes() {
    let mut p = Pair::connected();
    let src = p.buffer(0, vec![1; 4], Access::LOCAL_READ);
    let remote = p.buffer(1, vec![0; 4], Access::LOCAL_WRITE | Access::REMOTE_WRITE);
    let dst = p.buffer(1, vec![0; 4], Access::LOCAL_WRITE);
    p.receive(1, 70, &[dst.all()]).unwrap();
    p.post(
        0,
        1,
        write(&[src.all()], &remote, 0),
        OpFlags::SILENT_SUCCESS,
    )
    .unwrap();
    p.post(0, 2, send(&[src.all()]), OpFlags::SILENT_SUCCESS)
        .unwrap();
    p.post(
        0,
        3,
        write(&[src.all()], &remote, 1),
        OpFlags::SILENT_SUCCESS,
    )
    .unwrap();
    p.progress();
    assert_eq!(p.arena.bytes(remote.region), [1; 4]);
    assert_eq!(
        p.cq(1, 1).len(),
        1,
        "the receiver always gets its completion"
    );
    assert_eq!(
        summary(p.cq(0, 0)),
        [(3, Status::RemoteAccessError, OpType::Write, 0)],
        "only the failure shows"
    );
}

#[test]
fn inline_data_is_captured_at_post_time() {
    let mut p = Pair::connected();
    let dst = p.buffer(1, vec![0; 8], Access::LOCAL_WRITE);
    let mut staging = *b"inline!!";
    let parts: [&[u8]; 2] = [&staging[..3], &staging[3..]];
    p.post(
        0,
        1,
        WorkRequest::Send {
            payload: Payload::Inline(&parts),
        },
        OpFlags::INLINE,
    )
    .unwrap();
    staging.fill(b'X'); // the consumer may reuse its buffer as soon as the post returns
    assert_eq!(staging, [b'X'; 8]);
    p.receive(1, 80, &[dst.sge(0, 2), dst.sge(2, 6)]).unwrap();
    p.progress();
    assert_eq!(p.arena.bytes(dst.region), b"inline!!");
    assert_eq!(p.cq(1, 1)[0].bytes, 8);
}

#[test]
fn flush_with_hundreds_outstanding_cancels_all_in_order() {
    let mut c0 = softndk::engine::testkit::config(0);
    c0.initiator_depth = 512;
    c0.receive_depth = 512;
    let mut p = Pair::new(c0, softndk::engine::testkit::config(1));
    p.ep[0].connect(4, 4).unwrap();
    p.ep[1].connect(4, 4).unwrap();
    for i in 0..300 {
        p.post(
            0,
            i,
            send(&[]),
            if i % 3 == 0 {
                OpFlags::SILENT_SUCCESS
            } else {
                OpFlags::NONE
            },
        )
        .unwrap();
    }
    for i in 0..200 {
        p.receive(0, 1000 + i, &[]).unwrap();
    }
    assert_eq!(p.progress().a, Blocked::WaitingForReceive);
    p.ep[0].flush(&mut p.sink);
    let sent = p.cq(0, 0);
    assert_eq!(sent.len(), 300);
    assert!(
        sent.iter()
            .enumerate()
            .all(|(i, c)| c.request_context == i && c.status == Status::Cancelled)
    );
    let received = p.cq(0, 1);
    assert_eq!(received.len(), 200);
    assert!(
        received
            .iter()
            .enumerate()
            .all(|(i, c)| c.request_context == 1000 + i && c.status == Status::Cancelled)
    );
    assert_eq!(
        (
            p.ep[0].initiator_outstanding(),
            p.ep[0].receive_outstanding()
        ),
        (0, 0)
    );
    // The peer learns at its next request.
    p.post(1, 5, send(&[]), OpFlags::NONE).unwrap();
    p.progress();
    assert_eq!(
        summary(p.cq(1, 0)),
        [(5, Status::ConnectionAborted, OpType::Send, 0)]
    );
}

#[test]
fn cq_overrun_stops_the_qp() {
    let mut p = Pair::connected();
    let src = p.buffer(0, vec![3; 4], Access::LOCAL_READ);
    let remote = p.buffer(1, vec![0; 4], Access::LOCAL_WRITE | Access::REMOTE_WRITE);
    p.sink.limit(softndk::engine::testkit::CQS[0][0], 3);
    for i in 0..10 {
        p.post(0, i, write(&[src.all()], &remote, 0), OpFlags::NONE)
            .unwrap();
    }
    p.progress();
    assert_eq!(p.cq(0, 0).len(), 3);
    assert_eq!(p.ep[0].state(), QpState::Error(ErrorCause::CqOverrun));
    assert_eq!(
        p.ep[0].initiator_outstanding(),
        0,
        "the rest was flushed (into a dead CQ)"
    );
    assert_eq!(
        p.post(0, 11, send(&[]), OpFlags::NONE),
        Err(PostError::QpInError)
    );
}

#[test]
fn posts_after_an_error_are_refused() {
    let mut p = Pair::connected();
    p.post(
        0,
        1,
        WorkRequest::Write {
            payload: Payload::Sges(&[]),
            remote_address: 0,
            remote_token: 0,
        },
        OpFlags::NONE,
    )
    .unwrap();
    p.progress();
    assert!(failed(&p, 0) && failed(&p, 1));
    for side in 0..2 {
        assert_eq!(
            p.post(side, 2, send(&[]), OpFlags::NONE),
            Err(PostError::QpInError)
        );
        assert_eq!(p.receive(side, 3, &[]), Err(PostError::QpInError));
    }
    let before = (p.cq(0, 0).len(), p.cq(1, 0).len());
    p.progress();
    assert_eq!(
        (p.cq(0, 0).len(), p.cq(1, 0).len()),
        before,
        "refused posts never complete"
    );
}

#[test]
fn deferred_chain_runs_when_the_last_request_rings_the_doorbell() {
    let mut p = Pair::connected();
    let src = p.buffer(0, vec![9; 2], Access::LOCAL_READ);
    let remote = p.buffer(1, vec![0; 2], Access::LOCAL_WRITE | Access::REMOTE_WRITE);
    p.post(0, 1, write(&[src.sge(0, 1)], &remote, 0), OpFlags::DEFER)
        .unwrap();
    assert_eq!(p.progress().executed, 0);
    assert_eq!(p.arena.bytes(remote.region), [0, 0]);
    p.post(0, 2, write(&[src.sge(1, 1)], &remote, 1), OpFlags::NONE)
        .unwrap();
    assert_eq!(p.progress().executed, 2);
    assert_eq!(p.arena.bytes(remote.region), [9, 9]);
}

#[test]
fn disconnect_flushes_locally_and_aborts_the_peer_on_its_next_request() {
    let mut p = Pair::connected();
    p.receive(0, 1, &[]).unwrap();
    p.ep[0].disconnect(&mut p.sink);
    assert_eq!(p.ep[0].state(), QpState::Error(ErrorCause::Disconnected));
    assert_eq!(
        summary(p.cq(0, 1)),
        [(1, Status::Cancelled, OpType::Receive, 0)]
    );
    p.receive(1, 2, &[]).unwrap();
    p.post(1, 3, send(&[]), OpFlags::NONE).unwrap();
    p.progress();
    assert_eq!(
        summary(p.cq(1, 0)),
        [(3, Status::ConnectionAborted, OpType::Send, 0)]
    );
    assert_eq!(
        summary(p.cq(1, 1)),
        [(2, Status::Cancelled, OpType::Receive, 0)]
    );
}
