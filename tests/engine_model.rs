//! Random sequences of posts, receives, writes and flushes on a connected pair, checked against
//! a small reference model of reliable-connection semantics: the same completions per CQ (in
//! order, with contexts, statuses and byte counts) and the same bytes in every buffer.

use std::collections::VecDeque;

use proptest::prelude::*;
use softndk::engine::testkit::{Buf, CQS, Pair};
use softndk::engine::{Access, OpFlags, OpType, Payload, Status, WorkRequest};

#[derive(Clone, Debug)]
enum Op {
    /// Side sends `len` bytes from `offset` of its source buffer.
    Send {
        side: usize,
        offset: u8,
        len: u8,
        silent: bool,
    },
    /// Side posts a receive of `cap` bytes (its own fresh buffer).
    Receive { side: usize, cap: u8 },
    /// Side writes `len` bytes to the peer's exposed buffer at `at` (may be out of range).
    Write {
        side: usize,
        offset: u8,
        len: u8,
        at: u8,
        silent: bool,
    },
    /// `NdkFlush` on side.
    Flush { side: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2usize, 0..32u8, 0..33u8, any::<bool>()).prop_map(|(side, offset, len, silent)| Op::Send { side, offset, len, silent }),
        4 => (0..2usize, 0..40u8).prop_map(|(side, cap)| Op::Receive { side, cap }),
        2 => (0..2usize, 0..32u8, 0..17u8, 0..52u8, any::<bool>()).prop_map(|(side, offset, len, at, silent)| Op::Write { side, offset, len, at, silent }),
        1 => (0..2usize).prop_map(|side| Op::Flush { side }),
    ]
}

const EXPOSED: usize = 64;

#[derive(Clone, Copy, Debug)]
enum Req {
    Send {
        ctx: usize,
        offset: usize,
        len: usize,
        silent: bool,
    },
    Write {
        ctx: usize,
        offset: usize,
        len: usize,
        at: usize,
        silent: bool,
    },
}

type Entry = (usize, Status, OpType, u32);

#[derive(Default)]
struct Side {
    error: bool,
    sq: VecDeque<Req>,
    rq: VecDeque<(usize, usize, usize)>, // (ctx, cap, buffer index)
    initiator_cq: Vec<Entry>,
    receive_cq: Vec<Entry>,
    exposed: Vec<u8>,
}

struct Model {
    sides: [Side; 2],
    src: [Vec<u8>; 2],
    /// Expected contents of every receive buffer.
    receive_bufs: Vec<Vec<u8>>,
}

impl Model {
    fn fail(&mut self, s: usize) {
        let side = &mut self.sides[s];
        side.error = true;
        while let Some(r) = side.sq.pop_front() {
            let (ctx, op) = match r {
                Req::Send { ctx, .. } => (ctx, OpType::Send),
                Req::Write { ctx, .. } => (ctx, OpType::Write),
            };
            side.initiator_cq.push((ctx, Status::Cancelled, op, 0));
        }
        while let Some((ctx, _, _)) = side.rq.pop_front() {
            side.receive_cq
                .push((ctx, Status::Cancelled, OpType::Receive, 0));
        }
    }

    fn run(&mut self, s: usize) {
        let p = 1 - s;
        while !self.sides[s].error {
            let Some(&head) = self.sides[s].sq.front() else {
                return;
            };
            if self.sides[p].error {
                self.sides[s].sq.pop_front();
                let (ctx, op) = match head {
                    Req::Send { ctx, .. } => (ctx, OpType::Send),
                    Req::Write { ctx, .. } => (ctx, OpType::Write),
                };
                self.sides[s]
                    .initiator_cq
                    .push((ctx, Status::ConnectionAborted, op, 0));
                self.fail(s);
                return;
            }
            match head {
                Req::Send {
                    ctx,
                    offset,
                    len,
                    silent,
                } => {
                    let Some(&(rctx, cap, buf)) = self.sides[p].rq.front() else {
                        return;
                    };
                    self.sides[p].rq.pop_front();
                    self.sides[s].sq.pop_front();
                    if len > cap {
                        self.sides[p].receive_cq.push((
                            rctx,
                            Status::ReceiveTooSmall,
                            OpType::Receive,
                            0,
                        ));
                        self.sides[s].initiator_cq.push((
                            ctx,
                            Status::RemoteOperationError,
                            OpType::Send,
                            0,
                        ));
                        self.fail(s);
                        self.fail(p);
                        return;
                    }
                    self.receive_bufs[buf][..len]
                        .copy_from_slice(&self.src[s][offset..offset + len]);
                    let n = u32::try_from(len).unwrap();
                    self.sides[p]
                        .receive_cq
                        .push((rctx, Status::Success, OpType::Receive, n));
                    if !silent {
                        self.sides[s]
                            .initiator_cq
                            .push((ctx, Status::Success, OpType::Send, n));
                    }
                }
                Req::Write {
                    ctx,
                    offset,
                    len,
                    at,
                    silent,
                } => {
                    self.sides[s].sq.pop_front();
                    if at + len > EXPOSED {
                        self.sides[s].initiator_cq.push((
                            ctx,
                            Status::RemoteAccessError,
                            OpType::Write,
                            0,
                        ));
                        self.fail(s);
                        self.fail(p);
                        return;
                    }
                    let data = self.src[s][offset..offset + len].to_vec();
                    self.sides[p].exposed[at..at + len].copy_from_slice(&data);
                    if !silent {
                        self.sides[s].initiator_cq.push((
                            ctx,
                            Status::Success,
                            OpType::Write,
                            u32::try_from(len).unwrap(),
                        ));
                    }
                }
            }
        }
    }
}

fn entries(p: &Pair, side: usize, queue: usize) -> Vec<Entry> {
    p.sink
        .of(CQS[side][queue])
        .iter()
        .map(|c| (c.request_context, c.status, c.op, c.bytes))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn engine_matches_reference_model(ops in prop::collection::vec(op(), 1..80)) {
        let mut pair = Pair::connected();
        let src: [Vec<u8>; 2] = [(0..64u8).collect(), (100..164u8).collect()];
        let src_bufs = [
            pair.buffer(0, src[0].clone(), Access::LOCAL_READ),
            pair.buffer(1, src[1].clone(), Access::LOCAL_READ),
        ];
        let rw = Access::LOCAL_WRITE | Access::REMOTE_WRITE;
        let exposed = [pair.buffer(0, vec![0; EXPOSED], rw), pair.buffer(1, vec![0; EXPOSED], rw)];
        let mut model = Model {
            sides: [Side { exposed: vec![0; EXPOSED], ..Side::default() }, Side { exposed: vec![0; EXPOSED], ..Side::default() }],
            src,
            receive_bufs: Vec::new(),
        };
        let mut receive_regions: Vec<Buf> = Vec::new();
        for (ctx, op) in ops.into_iter().enumerate() {
            match op {
                Op::Send { side, offset, len, silent } => {
                    let (offset, len) = (usize::from(offset), usize::from(len));
                    let sge = src_bufs[side].sge(u32::try_from(offset).unwrap(), u32::try_from(len).unwrap());
                    let flags = if silent { OpFlags::SILENT_SUCCESS } else { OpFlags::NONE };
                    let posted = pair.post(side, ctx, WorkRequest::Send { payload: Payload::Sges(&[sge]) }, flags);
                    prop_assert_eq!(posted.is_ok(), !model.sides[side].error);
                    if posted.is_ok() {
                        model.sides[side].sq.push_back(Req::Send { ctx, offset, len, silent });
                    }
                }
                Op::Receive { side, cap } => {
                    let buf = pair.buffer(side, vec![0xAA; usize::from(cap)], Access::LOCAL_WRITE);
                    let posted = pair.receive(side, ctx, &[buf.all()]);
                    prop_assert_eq!(posted.is_ok(), !model.sides[side].error);
                    if posted.is_ok() {
                        model.sides[side].rq.push_back((ctx, usize::from(cap), model.receive_bufs.len()));
                        model.receive_bufs.push(vec![0xAA; usize::from(cap)]);
                        receive_regions.push(buf);
                    }
                }
                Op::Write { side, offset, len, at, silent } => {
                    let (offset, len, at) = (usize::from(offset), usize::from(len), usize::from(at));
                    let sge = src_bufs[side].sge(u32::try_from(offset).unwrap(), u32::try_from(len).unwrap());
                    let target = exposed[1 - side];
                    let request = WorkRequest::Write {
                        payload: Payload::Sges(&[sge]),
                        remote_address: target.va + at as u64,
                        remote_token: target.token,
                    };
                    let flags = if silent { OpFlags::SILENT_SUCCESS } else { OpFlags::NONE };
                    let posted = pair.post(side, ctx, request, flags);
                    prop_assert_eq!(posted.is_ok(), !model.sides[side].error);
                    if posted.is_ok() {
                        model.sides[side].sq.push_back(Req::Write { ctx, offset, len, at, silent });
                    }
                }
                Op::Flush { side } => {
                    pair.ep[side].flush(&mut pair.sink);
                    model.fail(side);
                }
            }
            pair.progress();
            model.run(0);
            model.run(1);
        }
        for side in 0..2 {
            prop_assert_eq!(entries(&pair, side, 0), model.sides[side].initiator_cq.clone(), "initiator CQ of side {}", side);
            prop_assert_eq!(entries(&pair, side, 1), model.sides[side].receive_cq.clone(), "receive CQ of side {}", side);
            prop_assert_eq!(pair.arena.bytes(exposed[side].region), model.sides[side].exposed.as_slice());
            prop_assert_eq!(pair.arena.bytes(src_bufs[side].region), model.src[side].as_slice(), "sources untouched");
        }
        for (buf, expected) in receive_regions.iter().zip(&model.receive_bufs) {
            prop_assert_eq!(pair.arena.bytes(buf.region), expected.as_slice());
        }
    }
}
