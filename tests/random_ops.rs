//! Randomised sequences of NDK operations across two adapters and many objects (issue 7),
//! checked by the verifier and by a reference model of the expected completions.
//!
//! Each case draws a delivery mode (inline, FIFO, seeded-reordered), a consumer IRQL and a
//! sequence of [`Op`]s: creates (PD, CQ, QP with a registered 256-byte buffer), connects,
//! posts (receive, send — silent, solicited —, RDMA write, RDMA read), polls, arms, flushes
//! and closes of any object in any order. Everything goes through the verifier's shadows of
//! two SoftNDK adapters. The [`Model`] predicts every post's status, every completion per
//! (QP, queue) in order (context, status, type, bytes) and every buffer's bytes; at the end
//! everything is flushed, reaped, compared, closed, and the allocations must balance.
//!
//! Failing cases shrink and are saved in `tests/random_ops.proptest-regressions` (replayed
//! first on every run); `PROPTEST_RNG_SEED=<n>` fixes the generator, `RANDOM_OPS_CASES=<n>`
//! sets the number of sequences (default 256), `RANDOM_OPS_LEN=<n>` their maximal length
//! (default 60).
//!
//! Adding an operation: a variant of [`Op`], an arm in [`op`], an arm in [`Model::step`]
//! (what it should do) and one in [`World::apply`] (doing it through the ABI).
#![allow(clippy::too_many_lines, clippy::many_single_char_names)]

mod conformance_common;
mod random_common;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use conformance_common::{Cell, Delivery, Env, Hooked, Ticket, close, create_qp};
use proptest::prelude::*;
use random_common::{Entries, Entry, Key, Queue, cell, compare, env_usize, record};
use softndk::abi::{
    NDK_CQ_NOTIFY_ANY, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NDK_MR_FLAG_ALLOW_REMOTE_READ,
    NDK_MR_FLAG_ALLOW_REMOTE_WRITE, NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT, NDK_OP_FLAG_SILENT_SUCCESS,
    NDK_OPERATION_TYPE, NTSTATUS, STATUS_CANCELLED, STATUS_CONNECTION_ABORTED,
    STATUS_CONNECTION_INVALID, STATUS_INSUFFICIENT_RESOURCES, STATUS_SUCCESS,
};
use softndk::consumer::{Adapter, Buffer, Mr, Pd, Qp, QpLimits};

/// Queue depths of every QP (`QpLimits::default()`).
const DEPTH: usize = 16;
/// Bytes of each QP's registered buffer: [0, 64) receive slots, [64, 128) RDMA target,
/// [128, 256) constant source bytes.
const BUF: usize = 256;
/// CQ depth: larger than any sequence's completions, so no overrun.
const CQ_DEPTH: u32 = 512;

/// One consumer operation. Object operands are indices into the live objects of that kind
/// (taken modulo their number, so every sequence is meaningful).
#[derive(Clone, Debug)]
enum Op {
    CreatePd {
        adapter: u8,
    },
    CreateCq {
        adapter: u8,
    },
    CreateQp {
        pd: u8,
        rcq: u8,
        icq: u8,
    },
    Connect {
        a: u8,
        b: u8,
    },
    Receive {
        qp: u8,
        slot: u8,
    },
    Send {
        qp: u8,
        len: u8,
        silent: bool,
        solicit: bool,
    },
    Write {
        qp: u8,
        len: u8,
        at: u8,
    },
    Read {
        qp: u8,
        len: u8,
        at: u8,
    },
    Poll {
        cq: u8,
    },
    Arm {
        cq: u8,
    },
    Flush {
        qp: u8,
    },
    ClosePd {
        pd: u8,
    },
    CloseCq {
        cq: u8,
    },
    CloseQp {
        qp: u8,
    },
    Settle,
}

fn op() -> impl Strategy<Value = Op> {
    let n = any::<u8>;
    prop_oneof![
        2 => (0..2u8).prop_map(|adapter| Op::CreatePd { adapter }),
        3 => (0..2u8).prop_map(|adapter| Op::CreateCq { adapter }),
        4 => (n(), n(), n()).prop_map(|(pd, rcq, icq)| Op::CreateQp { pd, rcq, icq }),
        4 => (n(), n()).prop_map(|(a, b)| Op::Connect { a, b }),
        8 => (n(), 0..2u8).prop_map(|(qp, slot)| Op::Receive { qp, slot }),
        8 => (n(), 0..33u8, any::<bool>(), any::<bool>())
            .prop_map(|(qp, len, silent, solicit)| Op::Send { qp, len, silent, solicit }),
        4 => (n(), 0..33u8, 0..33u8).prop_map(|(qp, len, at)| Op::Write { qp, len, at }),
        3 => (n(), 0..33u8, 0..33u8).prop_map(|(qp, len, at)| Op::Read { qp, len, at }),
        5 => n().prop_map(|cq| Op::Poll { cq }),
        2 => n().prop_map(|cq| Op::Arm { cq }),
        2 => n().prop_map(|qp| Op::Flush { qp }),
        1 => n().prop_map(|pd| Op::ClosePd { pd }),
        1 => n().prop_map(|cq| Op::CloseCq { cq }),
        2 => n().prop_map(|qp| Op::CloseQp { qp }),
        2 => Just(Op::Settle),
    ]
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Send { len: usize, silent: bool },
    Write { len: usize, at: usize },
    Read { len: usize, at: usize },
}

#[derive(Clone, Copy, Debug)]
struct Request {
    ctx: usize,
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle,
    Connected(usize),
    Error,
}

/// The model of one QP.
#[derive(Debug)]
struct MQp {
    ctx: usize,
    rcq: usize,
    icq: usize,
    state: State,
    /// Initiator requests not executed yet (the head may wait for a receive).
    sq: VecDeque<Request>,
    /// Receives not consumed: (context, slot).
    rq: VecDeque<(usize, usize)>,
    bytes: Vec<u8>,
    /// Peer of a connection that existed (kept after errors, for the peer's aborts).
    peer: Option<usize>,
    closed: bool,
}

/// Reference model: RC semantics as `docs/engine.md` states them.
#[derive(Debug, Default)]
struct Model {
    qps: Vec<MQp>,
    /// Expected entries per (CQ, QP context, queue), in order.
    expected: Entries,
}

fn source_pattern(ctx: usize) -> Vec<u8> {
    (0..BUF)
        .map(|i| u8::try_from((i * 7 + ctx * 31) % 251).unwrap_or(0))
        .collect()
}

impl Model {
    fn push(&mut self, q: usize, queue: Queue, entry: Entry) {
        let qp = &self.qps[q];
        let cq = if queue == Queue::Initiator {
            qp.icq
        } else {
            qp.rcq
        };
        self.expected
            .entry((cq, qp.ctx, queue))
            .or_default()
            .push(entry);
    }

    fn complete(&mut self, q: usize, req: Request, status: NTSTATUS, bytes: u32) {
        let (ty, silent) = match req.kind {
            Kind::Send { silent, .. } => (NDK_OPERATION_TYPE::SEND.0, silent),
            Kind::Write { .. } => (NDK_OPERATION_TYPE::WRITE.0, false),
            Kind::Read { .. } => (NDK_OPERATION_TYPE::READ.0, false),
        };
        if silent && status == STATUS_SUCCESS {
            return;
        }
        self.push(q, Queue::Initiator, (req.ctx, status.as_u32(), ty, bytes));
    }

    /// The QP enters the error state and everything outstanding completes cancelled,
    /// initiator queue first, each in posting order.
    fn fail(&mut self, q: usize) {
        self.qps[q].state = State::Error;
        while let Some(req) = self.qps[q].sq.pop_front() {
            self.complete(q, req, STATUS_CANCELLED, 0);
        }
        while let Some((ctx, _)) = self.qps[q].rq.pop_front() {
            let ty = NDK_OPERATION_TYPE::RECEIVE.0;
            self.push(q, Queue::Receive, (ctx, STATUS_CANCELLED.as_u32(), ty, 0));
        }
    }

    /// Runs `q`'s initiator queue as far as it goes.
    fn progress(&mut self, q: usize) {
        while let Some(&req) = self.qps[q].sq.front() {
            let State::Connected(p) = self.qps[q].state else {
                return;
            };
            if self.qps[p].state == State::Error {
                self.qps[q].sq.pop_front();
                self.complete(q, req, STATUS_CONNECTION_ABORTED, 0);
                self.fail(q);
                return;
            }
            match req.kind {
                Kind::Send { len, .. } => {
                    let Some((rctx, slot)) = self.qps[p].rq.pop_front() else {
                        return; // waits for a receive
                    };
                    let src = self.qps[q].bytes[128..128 + len].to_vec();
                    self.qps[p].bytes[slot * 32..slot * 32 + len].copy_from_slice(&src);
                    let n = u32::try_from(len).unwrap_or(0);
                    let ty = NDK_OPERATION_TYPE::RECEIVE.0;
                    self.push(p, Queue::Receive, (rctx, STATUS_SUCCESS.as_u32(), ty, n));
                    self.qps[q].sq.pop_front();
                    self.complete(q, req, STATUS_SUCCESS, n);
                }
                Kind::Write { len, at } => {
                    let src = self.qps[q].bytes[128..128 + len].to_vec();
                    self.qps[p].bytes[64 + at..64 + at + len].copy_from_slice(&src);
                    self.qps[q].sq.pop_front();
                    self.complete(q, req, STATUS_SUCCESS, u32::try_from(len).unwrap_or(0));
                }
                Kind::Read { len, at } => {
                    let src = self.qps[p].bytes[128 + at..128 + at + len].to_vec();
                    self.qps[q].bytes[64 + at..64 + at + len].copy_from_slice(&src);
                    self.qps[q].sq.pop_front();
                    self.complete(q, req, STATUS_SUCCESS, u32::try_from(len).unwrap_or(0));
                }
            }
        }
    }

    /// After something happened at `q`: both ends of its connection make progress.
    fn settle_connection(&mut self, q: usize) {
        self.progress(q);
        if let Some(p) = self.qps[q].peer {
            self.progress(p);
        }
    }

    /// Expected status of an initiator post on `q`.
    fn post(&mut self, q: usize, req: Request) -> NTSTATUS {
        let qp = &self.qps[q];
        if !matches!(qp.state, State::Connected(_)) {
            return STATUS_CONNECTION_INVALID;
        }
        if qp.sq.len() >= DEPTH {
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        self.qps[q].sq.push_back(req);
        self.settle_connection(q);
        STATUS_SUCCESS
    }

    fn receive(&mut self, q: usize, ctx: usize, slot: usize) -> NTSTATUS {
        let qp = &self.qps[q];
        if qp.state == State::Error {
            return STATUS_CONNECTION_INVALID;
        }
        if qp.rq.len() >= DEPTH {
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        self.qps[q].rq.push_back((ctx, slot));
        if let Some(p) = self.qps[q].peer {
            self.progress(p);
        }
        STATUS_SUCCESS
    }

    fn flush(&mut self, q: usize) {
        self.fail(q);
        if let Some(p) = self.qps[q].peer {
            self.progress(p);
        }
    }
}

/// The real objects, in creation order (closed ones stay as `None`).
struct World {
    adapters: Vec<Adapter>,
    pds: Vec<Option<(usize, Pd)>>,
    cqs: Vec<Option<(usize, Hooked)>>,
    /// QP, its MR, its buffer (kept to the end), model index.
    qps: Vec<Option<(Qp, Mr)>>,
    buffers: Vec<Arc<Buffer>>,
    /// Observed entries per (CQ, QP context, queue).
    observed: Entries,
    tickets: Vec<Ticket>,
    next_ctx: usize,
}

/// Picks the `i`-th (modulo) live index of `v`.
fn pick<T>(v: &[Option<T>], i: u8, ok: impl Fn(&T) -> bool) -> Option<usize> {
    let live: Vec<usize> = v
        .iter()
        .enumerate()
        .filter(|(_, x)| x.as_ref().is_some_and(&ok))
        .map(|(i, _)| i)
        .collect();
    (!live.is_empty()).then(|| live[usize::from(i) % live.len()])
}

impl World {
    fn poll(&mut self, env: &Env, cq: usize) -> usize {
        let Some((_, hooked)) = &self.cqs[cq] else {
            return 0;
        };
        let got = env.at(|| hooked.poll(64));
        record(&mut self.observed, cq, &got);
        got.len()
    }

    fn apply(&mut self, env: &Env, m: &mut Model, op: &Op) {
        self.next_ctx += 1;
        let ctx = self.next_ctx;
        match *op {
            Op::CreatePd { adapter } => {
                let a = usize::from(adapter) % self.adapters.len();
                let pd = env.at(|| self.adapters[a].create_pd()).expect("PD");
                self.pds.push(Some((a, pd)));
            }
            Op::CreateCq { adapter } => {
                let a = usize::from(adapter) % self.adapters.len();
                let cq = env
                    .at(|| Hooked::create(&self.adapters[a], CQ_DEPTH))
                    .expect("CQ");
                self.cqs.push(Some((a, cq)));
            }
            Op::CreateQp { pd, rcq, icq } => {
                let Some(p) = pick(&self.pds, pd, |_| true) else {
                    return;
                };
                let a = self.pds[p].as_ref().map_or(0, |x| x.0);
                let same = |x: &(usize, Hooked)| x.0 == a;
                let (Some(r), Some(i)) = (pick(&self.cqs, rcq, same), pick(&self.cqs, icq, same))
                else {
                    return;
                };
                let (Some((_, pdo)), Some((_, rc)), Some((_, ic))) =
                    (&self.pds[p], &self.cqs[r], &self.cqs[i])
                else {
                    return;
                };
                let qp_ctx = 0x1000 + m.qps.len();
                let qp = env
                    .at(|| create_qp(pdo, rc, ic, qp_ctx, QpLimits::default()))
                    .expect("QP");
                let bytes = source_pattern(qp_ctx);
                let buf = Buffer::from_bytes(&bytes);
                let mr = env.at(|| pdo.create_mr(false)).expect("MR");
                let flags = NDK_MR_FLAG_ALLOW_LOCAL_WRITE
                    | NDK_MR_FLAG_ALLOW_REMOTE_WRITE
                    | NDK_MR_FLAG_ALLOW_REMOTE_READ;
                assert_eq!(env.at(|| mr.register(&buf, flags, &[])), STATUS_SUCCESS);
                self.qps.push(Some((qp, mr)));
                self.buffers.push(buf);
                m.qps.push(MQp {
                    ctx: qp_ctx,
                    rcq: r,
                    icq: i,
                    state: State::Idle,
                    sq: VecDeque::new(),
                    rq: VecDeque::new(),
                    bytes,
                    peer: None,
                    closed: false,
                });
            }
            Op::Connect { a, b } => {
                let idle = |q: usize| m.qps[q].state == State::Idle;
                let Some(x) = pick(&self.qps, a, |_| true) else {
                    return;
                };
                let Some(y) = pick(&self.qps, b, |_| true) else {
                    return;
                };
                let (Some((qa, _)), Some((qb, _))) = (&self.qps[x], &self.qps[y]) else {
                    return;
                };
                if x == y || !idle(x) || !idle(y) {
                    // Only idle pairs are connected: re-connecting is the CM's business.
                    return;
                }
                assert_eq!(env.connect(qa, qb, 4, 4), STATUS_SUCCESS);
                m.qps[x].state = State::Connected(y);
                m.qps[y].state = State::Connected(x);
                m.qps[x].peer = Some(y);
                m.qps[y].peer = Some(x);
            }
            Op::Receive { qp, slot } => {
                let Some(q) = pick(&self.qps, qp, |_| true) else {
                    return;
                };
                let slot = usize::from(slot);
                let Some((qpo, mr)) = &self.qps[q] else {
                    return;
                };
                let sge = self.buffers[q].sge(slot * 32, 32, mr.local_token());
                let got = env.at(|| qpo.receive(ctx, &[sge]));
                assert_eq!(got, m.receive(q, ctx, slot), "{op:?}");
            }
            Op::Send {
                qp,
                len,
                silent,
                solicit,
            } => {
                let Some(q) = pick(&self.qps, qp, |_| true) else {
                    return;
                };
                let len = usize::from(len);
                let Some((qpo, mr)) = &self.qps[q] else {
                    return;
                };
                let sge =
                    self.buffers[q].sge(128, u32::try_from(len).unwrap_or(0), mr.local_token());
                let mut flags = 0;
                if silent {
                    flags |= NDK_OP_FLAG_SILENT_SUCCESS;
                }
                if solicit {
                    flags |= NDK_OP_FLAG_SEND_AND_SOLICIT_EVENT;
                }
                let got = env.at(|| qpo.send(ctx, &[sge], flags));
                let req = Request {
                    ctx,
                    kind: Kind::Send { len, silent },
                };
                assert_eq!(got, m.post(q, req), "{op:?}");
            }
            Op::Write { qp, len, at } | Op::Read { qp, len, at } => {
                let Some(q) = pick(&self.qps, qp, |_| true) else {
                    return;
                };
                let (len, at) = (usize::from(len), usize::from(at).min(32));
                let Some((qpo, mr)) = &self.qps[q] else {
                    return;
                };
                let peer = m.qps[q].peer;
                // A peer's token and address: its buffer outlives the run; its MR may be
                // closed (then the peer QP is in error and the request is aborted anyway).
                let (raddr, rtoken) = peer
                    .and_then(|p| {
                        self.qps[p]
                            .as_ref()
                            .map(|(_, pm)| (self.buffers[p].va(), pm.remote_token()))
                    })
                    .unwrap_or((0, 0));
                let n = u32::try_from(len).unwrap_or(0);
                let (got, req) = if matches!(op, Op::Write { .. }) {
                    let sge = self.buffers[q].sge(128, n, mr.local_token());
                    let got = env.at(|| qpo.write(ctx, &[sge], raddr + 64 + at as u64, rtoken, 0));
                    (
                        got,
                        Request {
                            ctx,
                            kind: Kind::Write { len, at },
                        },
                    )
                } else {
                    let sge = self.buffers[q].sge(64 + at, n, mr.local_token());
                    let got = env.at(|| qpo.read(ctx, &[sge], raddr + 128 + at as u64, rtoken, 0));
                    (
                        got,
                        Request {
                            ctx,
                            kind: Kind::Read { len, at },
                        },
                    )
                };
                assert_eq!(got, m.post(q, req), "{op:?}");
            }
            Op::Poll { cq } => {
                if let Some(c) = pick(&self.cqs, cq, |_| true) {
                    self.poll(env, c);
                }
            }
            Op::Arm { cq } => {
                if let Some((_, c)) =
                    pick(&self.cqs, cq, |_| true).and_then(|c| self.cqs[c].as_ref())
                {
                    env.at(|| c.arm(NDK_CQ_NOTIFY_ANY));
                }
            }
            Op::Flush { qp } => {
                let Some(q) = pick(&self.qps, qp, |_| true) else {
                    return;
                };
                if let Some((qpo, _)) = &self.qps[q] {
                    env.at(|| qpo.flush());
                }
                m.flush(q);
            }
            Op::ClosePd { pd } => {
                if let Some(p) = pick(&self.pds, pd, |_| true)
                    && let Some((_, pdo)) = self.pds[p].take()
                {
                    self.tickets.push(env.at(|| close(pdo, || {})));
                }
            }
            Op::CloseCq { cq } => {
                if let Some(c) = pick(&self.cqs, cq, |_| true) {
                    // What was reaped so far must be a prefix of what the model expects.
                    self.poll(env, c);
                    self.check(m, Some(c), false);
                    if let Some((_, h)) = self.cqs[c].take() {
                        self.tickets.push(env.at(|| close(h, || {})));
                    }
                }
            }
            Op::CloseQp { qp } => {
                let Some(q) = pick(&self.qps, qp, |_| true) else {
                    return;
                };
                if let Some((qpo, mr)) = self.qps[q].take() {
                    self.tickets.push(env.at(|| close(qpo, || {})));
                    self.tickets.push(env.at(|| close(mr, || {})));
                }
                m.flush(q);
                m.qps[q].closed = true;
            }
            Op::Settle => env.settle(),
        }
    }

    /// Compares observed with expected entries of `cq` (all open CQs if `None`): equal when
    /// `complete`, else a prefix.
    fn check(&self, m: &Model, cq: Option<usize>, complete: bool) {
        let keep = |k: &Key| cq.is_none_or(|c| k.0 == c) && self.cqs[k.0].is_some();
        compare(&m.expected, &self.observed, keep, complete);
    }
}

fn run(cell: Cell, ops: &[Op]) {
    let env = Env::new(cell);
    let mut world = World {
        adapters: vec![env.open(), env.open()],
        pds: Vec::new(),
        cqs: Vec::new(),
        qps: Vec::new(),
        buffers: Vec::new(),
        observed: BTreeMap::new(),
        tickets: Vec::new(),
        next_ctx: 0,
    };
    let mut model = Model::default();
    for op in prelude().iter().chain(ops) {
        world.apply(&env, &mut model, op);
    }
    // Flush every QP, reap every open CQ and compare everything.
    for q in 0..world.qps.len() {
        if let Some((qp, _)) = &world.qps[q] {
            env.at(|| qp.flush());
            model.flush(q);
        }
    }
    env.settle();
    for c in 0..world.cqs.len() {
        while world.poll(&env, c) > 0 {}
    }
    world.check(&model, None, true);
    if std::env::var_os("RANDOM_OPS_VERBOSE").is_some() {
        let entries: usize = world.observed.values().map(Vec::len).sum();
        eprintln!(
            "{cell:?}: {} ops, {} QPs, {} CQs, {entries} completions observed",
            ops.len(),
            world.qps.len(),
            world.cqs.len()
        );
    }
    for (q, buf) in world.buffers.iter().enumerate() {
        assert_eq!(buf.read(), model.qps[q].bytes, "bytes of QP {q}'s buffer");
    }
    if world.cqs.iter().all(Option::is_some) {
        env.v.check_drained();
    }
    // Close what is left, successors first half the time and antecedents first otherwise.
    let mut tickets = std::mem::take(&mut world.tickets);
    env.at(|| {
        for (qp, mr) in world.qps.drain(..).flatten() {
            tickets.push(close(qp, || {}));
            tickets.push(close(mr, || {}));
        }
        for (_, cq) in world.cqs.drain(..).flatten() {
            tickets.push(close(cq, || {}));
        }
        for (_, pd) in world.pds.drain(..).flatten() {
            tickets.push(close(pd, || {}));
        }
    });
    env.settle();
    for t in &tickets {
        assert!(t.accepted() && t.complete(), "close {:?}", t.status);
        assert!(t.calls() <= 1);
    }
    for adapter in world.adapters.drain(..) {
        env.close_adapter(adapter);
    }
    drop(world);
    env.finish();
}

/// Every sequence starts from a PD and two CQs per adapter and four QPs connected as two
/// cross-adapter pairs (0-1, 2-3), so random operations find objects; random `Connect`s add
/// same-adapter and further pairs.
fn prelude() -> Vec<Op> {
    let mut ops = vec![
        Op::CreatePd { adapter: 0 },
        Op::CreatePd { adapter: 1 },
        Op::CreateCq { adapter: 0 },
        Op::CreateCq { adapter: 0 },
        Op::CreateCq { adapter: 1 },
        Op::CreateCq { adapter: 1 },
    ];
    // PD 0 and CQs 0/1 are adapter 0's; PD 1 and CQs 2/3 adapter 1's (`pick` counts only
    // the CQs of the PD's adapter).
    for (pd, rcq, icq) in [(0, 0, 1), (1, 0, 1), (0, 1, 1), (1, 1, 0)] {
        ops.push(Op::CreateQp { pd, rcq, icq });
    }
    ops.push(Op::Connect { a: 0, b: 1 });
    ops.push(Op::Connect { a: 2, b: 3 });
    ops
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        u32::try_from(env_usize("RANDOM_OPS_CASES", 256)).unwrap_or(256)
    ))]

    #[test]
    fn random_sequences_match_the_model_and_the_verifier(
        cell in cell(),
        ops in proptest::collection::vec(op(), 1..env_usize("RANDOM_OPS_LEN", 60)),
    ) {
        run(cell, &ops);
    }
}

/// A fixed sequence that exercises every operation once, so the harness itself is tested
/// even when the random cases happen not to reach an operation.
#[test]
fn every_operation_once() {
    let ops = [
        Op::CreatePd { adapter: 0 },
        Op::CreatePd { adapter: 1 },
        Op::CreateCq { adapter: 0 },
        Op::CreateCq { adapter: 1 },
        Op::CreateQp {
            pd: 0,
            rcq: 0,
            icq: 0,
        },
        Op::CreateQp {
            pd: 1,
            rcq: 0,
            icq: 0,
        },
        Op::Connect { a: 0, b: 1 },
        Op::Arm { cq: 1 },
        Op::Receive { qp: 1, slot: 1 },
        Op::Send {
            qp: 0,
            len: 20,
            silent: false,
            solicit: true,
        },
        Op::Send {
            qp: 0,
            len: 3,
            silent: true,
            solicit: false,
        },
        Op::Write {
            qp: 1,
            len: 9,
            at: 5,
        },
        Op::Read {
            qp: 0,
            len: 32,
            at: 0,
        },
        Op::Settle,
        Op::Poll { cq: 0 },
        Op::Receive { qp: 1, slot: 0 },
        Op::Flush { qp: 1 },
        Op::Send {
            qp: 0,
            len: 1,
            silent: false,
            solicit: false,
        },
        Op::CloseCq { cq: 1 },
        Op::CloseQp { qp: 0 },
        Op::ClosePd { pd: 0 },
    ];
    for cell in conformance_common::cells() {
        if cell.delivery != Delivery::Threaded {
            run(cell, &ops);
        }
    }
}
