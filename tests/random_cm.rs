//! Randomised sequences through the connection manager (issue 7): listeners, connectors,
//! accept/reject, complete-connect, data over established connections, graceful disconnect,
//! flushes and closes of any object at any moment, across two adapters on one fabric, all
//! behind the consumer-side verifier and checked against a reference model.
//!
//! Each case draws a delivery mode (inline, FIFO, seeded-reordered), a consumer IRQL and a
//! sequence of [`Op`]s. The model (`tests/random_cm_common`) predicts every inline status
//! (`NdkListen` → SUCCESS or SHARING_VIOLATION by the §5.7 reservation rule; `NdkConnect` →
//! PENDING to a listening address, CONNECTION_REFUSED to a silent one, HOST_UNREACHABLE to an
//! IP on no adapter; accept/reject/complete-connect/disconnect by the phase table of
//! `docs/connections.md`), the completion status of every pended request (first answer wins:
//! accept → connect SUCCESS, reject or close unanswered → REFUSED, own close → CANCELLED, the
//! peer's complete-connect → accept SUCCESS, the peer's close → ABORTED, both disconnects or
//! the peer's close → disconnect SUCCESS), the number of disconnect events, every CQ entry
//! and every buffer byte. After every operation each request has completed at most once and
//! only with its decided status; after every settle, exactly the decided ones have completed.
//! At the end everything is closed: every close is accepted and completes exactly once, every
//! request completed exactly once, the verifier saw no violation and nothing is left
//! allocated.
//!
//! Failing cases shrink and are saved in `tests/random_cm.proptest-regressions` (replayed
//! first); `PROPTEST_RNG_SEED=<n>` fixes the generator, `RANDOM_CM_CASES=<n>` sets the number
//! of sequences (default 256), `RANDOM_CM_LEN=<n>` their maximal length (default 64).
#![allow(
    clippy::too_many_lines,
    clippy::many_single_char_names,
    clippy::doc_markdown
)]

mod conformance_common;
mod random_cm_common;
mod random_common;

use std::collections::BTreeMap;
use std::sync::Arc;

use conformance_common::{Cell, Delivery, Env, Hooked, Ticket, close, create_qp};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use random_cm_common::data::{DataModel, Entry, Key};
use random_cm_common::{ADDRS, CmModel, Conn, Cx, IPS, Ls, Ph, Port, addr};
use random_common::{cell, compare, env_usize, record};
use softndk::abi::{
    NDK_CQ_NOTIFY_ANY, NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NDK_MR_FLAG_ALLOW_REMOTE_READ,
    NDK_MR_FLAG_ALLOW_REMOTE_WRITE, STATUS_CONNECTION_ABORTED, STATUS_CONNECTION_REFUSED,
    STATUS_HOST_UNREACHABLE, STATUS_PENDING, STATUS_SHARING_VIOLATION, STATUS_SUCCESS,
};
use softndk::cm::ndk::NdkFabric;
use softndk::consumer::{
    Adapter, Buffer, Closed, ConnectEvents, Connector, DisconnectEvents, Listener, Mr, Pd, Qp,
    QpLimits, Request,
};
use softndk::fabric::{Address, Fabric, FabricConfig, IpAddr};
use softndk::platform::Irql;

/// CQ depth: larger than any sequence's completions, so no overrun.
const CQ_DEPTH: u32 = 1024;
/// Most QPs a sequence creates (each needs a buffer and an MR).
const MAX_QPS: usize = 16;

/// One consumer operation. Operands are indices into the candidates the operation applies to
/// (taken modulo their number; an operation without candidates does nothing).
#[derive(Clone, Debug)]
enum Op {
    CreateQp { adapter: u8 },
    Listen { at: u8 },
    Connect { qp: u8, dst: u8 },
    Accept { cx: u8, qp: u8 },
    Reject { cx: u8 },
    CompleteConnect { cx: u8 },
    Receive { qp: u8, slot: u8 },
    Send { qp: u8, len: u8 },
    Write { qp: u8, len: u8, at: u8 },
    Disconnect { cx: u8 },
    Flush { qp: u8 },
    CloseConnector { cx: u8 },
    CloseListener { l: u8 },
    CloseQp { qp: u8 },
    Poll { adapter: u8 },
    Arm { adapter: u8 },
    Settle,
}

fn op() -> impl Strategy<Value = Op> {
    let n = any::<u8>;
    prop_oneof![
        2 => (0..2u8).prop_map(|adapter| Op::CreateQp { adapter }),
        3 => (0..6u8).prop_map(|at| Op::Listen { at }),
        8 => (n(), 0..14u8).prop_map(|(qp, dst)| Op::Connect { qp, dst }),
        8 => (n(), n()).prop_map(|(cx, qp)| Op::Accept { cx, qp }),
        1 => n().prop_map(|cx| Op::Reject { cx }),
        8 => n().prop_map(|cx| Op::CompleteConnect { cx }),
        5 => (n(), 0..2u8).prop_map(|(qp, slot)| Op::Receive { qp, slot }),
        4 => (n(), 0..33u8).prop_map(|(qp, len)| Op::Send { qp, len }),
        2 => (n(), 0..33u8, 0..33u8).prop_map(|(qp, len, at)| Op::Write { qp, len, at }),
        3 => n().prop_map(|cx| Op::Disconnect { cx }),
        1 => n().prop_map(|qp| Op::Flush { qp }),
        3 => n().prop_map(|cx| Op::CloseConnector { cx }),
        1 => n().prop_map(|l| Op::CloseListener { l }),
        1 => n().prop_map(|qp| Op::CloseQp { qp }),
        2 => (0..2u8).prop_map(|adapter| Op::Poll { adapter }),
        1 => (0..2u8).prop_map(|adapter| Op::Arm { adapter }),
        10 => Just(Op::Settle),
    ]
}

/// A QP the world owns: the QP and MR until closed, its buffer to the end, and whether a
/// connector was given it (then the CM owns its connection).
struct WQp {
    qp: Option<(Qp, Mr)>,
    buf: Arc<Buffer>,
    used: bool,
    /// The connection it belongs to.
    conn: Option<usize>,
    /// Posts allowed: the consumer saw its connection established (active: complete-connect
    /// succeeded; passive: the accept completed SUCCESS).
    ready: bool,
    /// Flushed or closed by the consumer outside a connection.
    frozen: bool,
}

struct World {
    _fabric: NdkFabric,
    adapters: Vec<Adapter>,
    pds: Vec<Pd>,
    cqs: Vec<Hooked>,
    qps: Vec<WQp>,
    data: DataModel,
    cm: CmModel,
    observed: BTreeMap<Key, Vec<Entry>>,
    tickets: Vec<Ticket>,
    next_ctx: usize,
    stats: Stats,
}

/// What a sequence did (operations that found no candidate do nothing and are not counted).
#[derive(Clone, Copy, Debug, Default)]
struct Stats {
    ops: usize,
    connects: usize,
    established: usize,
    posts: usize,
    disconnects: usize,
    events: usize,
    closes: usize,
}

fn pick(candidates: &[usize], i: u8) -> Option<usize> {
    (!candidates.is_empty()).then(|| candidates[usize::from(i) % candidates.len()])
}

impl World {
    fn new(env: &Env) -> Self {
        let fabric = Fabric::new(env.host.clone(), FabricConfig::default()).expect("fabric");
        let adapters: Vec<Adapter> = IPS[..2]
            .iter()
            .map(|ip| {
                let config = env.config().on_fabric(&fabric, &[IpAddr::V4(*ip)]);
                env.try_open_with(&config).expect("open adapter")
            })
            .collect();
        let (pds, cqs) = env.at(|| {
            let pds = adapters
                .iter()
                .map(|a| a.create_pd().expect("PD"))
                .collect();
            let cqs = adapters
                .iter()
                .map(|a| Hooked::create(a, CQ_DEPTH).expect("CQ"))
                .collect();
            (pds, cqs)
        });
        env.created();
        Self {
            _fabric: fabric,
            adapters,
            pds,
            cqs,
            qps: Vec::new(),
            data: DataModel::default(),
            cm: CmModel::default(),
            observed: BTreeMap::new(),
            tickets: Vec::new(),
            next_ctx: 0,
            stats: Stats::default(),
        }
    }

    fn create_qp(&mut self, env: &Env, a: usize) {
        if self.qps.len() >= MAX_QPS {
            return;
        }
        let ctx = 0x1000 + self.qps.len();
        let (pd, cq) = (&self.pds[a], &self.cqs[a]);
        let qp = env
            .at(|| create_qp(pd, cq, cq, ctx, QpLimits::default()))
            .expect("QP");
        let q = self.data.add(a, ctx);
        let buf = Buffer::from_bytes(&self.data.qps[q].bytes);
        let mr = env.at(|| pd.create_mr(false)).expect("MR");
        let flags = NDK_MR_FLAG_ALLOW_LOCAL_WRITE
            | NDK_MR_FLAG_ALLOW_REMOTE_WRITE
            | NDK_MR_FLAG_ALLOW_REMOTE_READ;
        assert_eq!(env.at(|| mr.register(&buf, flags, &[])), STATUS_SUCCESS);
        env.created();
        self.qps.push(WQp {
            qp: Some((qp, mr)),
            buf,
            used: false,
            conn: None,
            ready: false,
            frozen: false,
        });
    }

    /// QPs that may take a post: open, not frozen, not in a torn-down connection.
    fn postable(&self, q: usize) -> bool {
        let w = &self.qps[q];
        w.qp.is_some()
            && !w.frozen
            && !self.data.qps[q].error
            && w.conn.is_none_or(|c| !self.cm.conns[c].frozen)
    }

    fn candidates(&self, ok: impl Fn(usize) -> bool) -> Vec<usize> {
        (0..self.qps.len()).filter(|&q| ok(q)).collect()
    }

    /// Connectors (open) of connections satisfying `ok(conn, side)`.
    fn connectors(&self, ok: impl Fn(&Conn, usize) -> bool) -> Vec<usize> {
        (0..self.cm.cxs.len())
            .filter(|&x| {
                let cx = &self.cm.cxs[x];
                cx.c.is_some() && cx.conn.is_some_and(|(c, s)| ok(&self.cm.conns[c], s))
            })
            .collect()
    }

    fn connector(&self, x: usize) -> &Connector {
        self.cm.cxs[x].c.as_ref().expect("open connector")
    }

    /// Freezes posting on a QP and its connection (flush or close by the consumer).
    fn freeze(&mut self, q: usize) {
        self.qps[q].frozen = true;
        if let Some(c) = self.qps[q].conn {
            self.cm.conns[c].frozen = true;
        }
    }

    fn apply(&mut self, env: &Env, op: &Op) {
        self.next_ctx += 1;
        let ctx = self.next_ctx;
        match *op {
            Op::CreateQp { adapter } => self.create_qp(env, usize::from(adapter)),
            Op::Listen { at } => self.listen(env, usize::from(at)),
            Op::Connect { qp, dst } => {
                // Half the draws aim at an address that is listening now.
                let dst = usize::from(dst);
                let listening: Vec<usize> = self
                    .cm
                    .lss
                    .iter()
                    .filter(|l| l.l.is_some())
                    .map(|l| l.addr)
                    .collect();
                let dst = if dst > ADDRS && !listening.is_empty() {
                    listening[dst % listening.len()]
                } else {
                    dst.min(ADDRS)
                };
                self.connect(env, qp, dst);
            }
            Op::Accept { cx, qp } => self.accept(env, cx, qp),
            Op::Reject { cx } => self.reject(env, cx),
            Op::CompleteConnect { cx } => self.complete_connect(env, cx),
            Op::Receive { qp, slot } => {
                let Some(q) = pick(&self.candidates(|q| self.postable(q)), qp) else {
                    return;
                };
                let slot = usize::from(slot);
                let Some((qpo, mr)) = &self.qps[q].qp else {
                    return;
                };
                let sge = self.qps[q].buf.sge(slot * 32, 32, mr.local_token());
                let got = env.at(|| qpo.receive(ctx, &[sge]));
                assert_eq!(got, self.data.receive(q, ctx, slot), "{op:?}");
                self.stats.posts += 1;
            }
            Op::Send { qp, len } => {
                let ok = |q: usize| {
                    self.postable(q) && self.qps[q].ready && {
                        let p = self.data.qps[q].peer;
                        p.is_some_and(|p| self.postable(p)) && self.data.can_send(q)
                    }
                };
                let Some(q) = pick(&self.candidates(ok), qp) else {
                    return;
                };
                let len = usize::from(len);
                let Some((qpo, mr)) = &self.qps[q].qp else {
                    return;
                };
                let sge =
                    self.qps[q]
                        .buf
                        .sge(128, u32::try_from(len).unwrap_or(0), mr.local_token());
                assert_eq!(
                    env.at(|| qpo.send(ctx, &[sge], 0)),
                    STATUS_SUCCESS,
                    "{op:?}"
                );
                self.data.send(q, ctx, len);
                self.stats.posts += 1;
            }
            Op::Write { qp, len, at } => {
                let ok = |q: usize| {
                    self.postable(q)
                        && self.qps[q].ready
                        && self.data.qps[q].peer.is_some_and(|p| self.postable(p))
                };
                let Some(q) = pick(&self.candidates(ok), qp) else {
                    return;
                };
                let p = self.data.qps[q].peer.expect("joined");
                let (len, at) = (usize::from(len), usize::from(at).min(32));
                let (Some((qpo, mr)), Some((_, pmr))) = (&self.qps[q].qp, &self.qps[p].qp) else {
                    return;
                };
                let n = u32::try_from(len).unwrap_or(0);
                let sge = self.qps[q].buf.sge(128, n, mr.local_token());
                let raddr = self.qps[p].buf.va() + 64 + at as u64;
                let got = env.at(|| qpo.write(ctx, &[sge], raddr, pmr.remote_token(), 0));
                assert_eq!(got, STATUS_SUCCESS, "{op:?}");
                self.data.write(q, ctx, len, at);
                self.stats.posts += 1;
            }
            Op::Disconnect { cx } => self.disconnect(env, cx),
            Op::Flush { qp } => {
                let Some(q) = pick(&self.candidates(|q| self.may_tear(q)), qp) else {
                    return;
                };
                if let Some((qpo, _)) = &self.qps[q].qp {
                    env.at(|| qpo.flush());
                }
                self.data.flush(q);
                self.freeze(q);
            }
            Op::CloseConnector { cx } => {
                let open: Vec<usize> = (0..self.cm.cxs.len())
                    .filter(|&x| self.cm.cxs[x].c.is_some())
                    .collect();
                if let Some(x) = pick(&open, cx) {
                    self.close_connector(env, x);
                }
            }
            Op::CloseListener { l } => {
                let open: Vec<usize> = (0..self.cm.lss.len())
                    .filter(|&i| self.cm.lss[i].l.is_some())
                    .collect();
                if let Some(i) = pick(&open, l) {
                    self.close_listener(env, i);
                }
            }
            Op::CloseQp { qp } => {
                let Some(q) = pick(&self.candidates(|q| self.may_tear(q)), qp) else {
                    return;
                };
                if let Some((qpo, mr)) = self.qps[q].qp.take() {
                    self.tickets.push(env.at(|| close(qpo, || {})));
                    self.tickets.push(env.at(|| close(mr, || {})));
                }
                self.data.flush(q);
                self.freeze(q);
            }
            Op::Poll { adapter } => {
                let a = usize::from(adapter);
                self.poll(env, a);
                self.check_entries(Some(a), false);
            }
            Op::Arm { adapter } => env.at(|| self.cqs[usize::from(adapter)].arm(NDK_CQ_NOTIFY_ANY)),
            Op::Settle => self.settle(env),
        }
        self.stats.ops += 1;
        self.observe(env);
    }

    /// A QP the consumer may flush or close: open, and not in a connection being set up
    /// (its join would fail, which the model does not predict).
    fn may_tear(&self, q: usize) -> bool {
        self.qps[q].qp.is_some()
            && self.qps[q]
                .conn
                .is_none_or(|c| !self.cm.conns[c].ph.iter().any(|p| p.establishing()))
    }

    fn listen(&mut self, env: &Env, at: usize) {
        let a = at / 3;
        let expect = self.cm.port(at);
        let events = ConnectEvents::new();
        let listener = env
            .at(|| Listener::create(&self.adapters[a], &events))
            .expect("listener");
        let got = env.at(|| listener.listen(&addr(at)));
        match expect {
            Port::Held => assert_eq!(got, STATUS_SHARING_VIOLATION, "listen {at}"),
            Port::Free => assert_eq!(got, STATUS_SUCCESS, "listen {at}"),
            Port::Unknown => assert!(
                got == STATUS_SUCCESS || got == STATUS_SHARING_VIOLATION,
                "listen {at}: {got:?}"
            ),
        }
        if got == STATUS_SUCCESS {
            self.cm.lss.push(Ls {
                l: Some(listener),
                events,
                addr: at,
                pending: Vec::new(),
            });
        } else {
            let closed = env.at(|| listener.close());
            self.cm.closes.push(closed);
        }
    }

    fn connect(&mut self, env: &Env, qp: u8, dst: usize) {
        let idle = |q: usize| self.postable(q) && !self.qps[q].used && self.qps[q].conn.is_none();
        let Some(q) = pick(&self.candidates(idle), qp) else {
            return;
        };
        let a = self.data.qps[q].adapter;
        // Reuse a connector whose earlier connect failed inline (it stays unused).
        let x = (0..self.cm.cxs.len()).find(|&x| {
            let cx = &self.cm.cxs[x];
            cx.c.is_some() && cx.conn.is_none() && cx.adapter == a
        });
        let x = x.unwrap_or_else(|| {
            let c = env
                .at(|| Connector::create(&self.adapters[a]))
                .expect("connector");
            self.cm.cxs.push(Cx {
                c: Some(c),
                adapter: a,
                conn: None,
                events: DisconnectEvents::new(),
                ev: (0, 0),
            });
            self.cm.cxs.len() - 1
        });
        let listener = (dst < ADDRS).then(|| self.cm.listening(dst)).flatten();
        let r = Request::new();
        let src = Address::v4(IPS[a], 0);
        let (qpo, _) = self.qps[q].qp.as_ref().expect("open QP");
        let got = env.at(|| {
            self.connector(x)
                .connect(qpo, &src, &addr(dst), 4, 4, b"rc", &r)
        });
        match listener {
            None => {
                let want = if dst < ADDRS {
                    STATUS_CONNECTION_REFUSED
                } else {
                    STATUS_HOST_UNREACHABLE
                };
                assert_eq!(got, want, "connect to {dst} (nobody listening)");
            }
            Some(l) => {
                assert_eq!(got, STATUS_PENDING, "connect to {dst} (listening)");
                self.stats.connects += 1;
                let active_addr = env.at(|| self.connector(x).local_address()).expect("bound");
                let est = self.cm.request(&r, "connect");
                let c = self.cm.conns.len();
                self.cm.conns.push(Conn {
                    ph: [Ph::Connecting, Ph::Requested],
                    cx: [Some(x), None],
                    qp: [Some(q), None],
                    est: [Some(est), None],
                    disc: [None, None],
                    listener: l,
                    active_addr,
                    answered_connect: false,
                    answered_request: false,
                    frozen: false,
                });
                self.cm.cxs[x].conn = Some((c, 0));
                self.cm.lss[l].pending.push(c);
                self.qps[q].used = true;
                self.qps[q].conn = Some(c);
            }
        }
    }

    fn accept(&mut self, env: &Env, cx: u8, qp: u8) {
        let Some(x) = pick(&self.connectors(|c, s| s == 1 && !c.answered_request), cx) else {
            return;
        };
        let a = self.cm.cxs[x].adapter;
        let idle = |q: usize| {
            self.postable(q)
                && !self.qps[q].used
                && self.qps[q].conn.is_none()
                && self.data.qps[q].adapter == a
        };
        let Some(q) = pick(&self.candidates(idle), qp) else {
            return;
        };
        let (c, _) = self.cm.cxs[x].conn.expect("handed up");
        let r = Request::new();
        let events = Arc::clone(&self.cm.cxs[x].events);
        let (qpo, _) = self.qps[q].qp.as_ref().expect("open QP");
        let got = env.at(|| {
            self.connector(x)
                .accept_ex(qpo, 4, 4, b"ok", Some(&events), &r)
        });
        self.cm.conns[c].answered_request = true;
        let ph = self.cm.conns[c].ph;
        if ph == [Ph::Connecting, Ph::Requested] {
            assert_eq!(got, STATUS_PENDING, "accept");
            let est = self.cm.request(&r, "accept");
            let active_est = self.cm.conns[c].est[0];
            self.cm.decide(active_est, STATUS_SUCCESS);
            let conn = &mut self.cm.conns[c];
            conn.ph = [Ph::Replied, Ph::Accepting];
            conn.qp[1] = Some(q);
            conn.est[1] = Some(est);
            self.qps[q].used = true;
            self.qps[q].conn = Some(c);
        } else {
            assert_eq!(
                got, STATUS_CONNECTION_ABORTED,
                "accept after the peer gave up"
            );
            self.cm.conns[c].ph[1] = Ph::Aborted;
        }
    }

    fn reject(&mut self, env: &Env, cx: u8) {
        // A passive side before answering, or an active one whose connect completed SUCCESS.
        let ok = |c: &Conn, s: usize| {
            if s == 1 {
                !c.answered_request
            } else {
                !c.answered_connect && self.connect_succeeded(c)
            }
        };
        let Some(x) = pick(&self.connectors(ok), cx) else {
            return;
        };
        let (c, s) = self.cm.cxs[x].conn.expect("connected");
        let got = env.at(|| self.connector(x).reject(b"no"));
        let conn = &mut self.cm.conns[c];
        if s == 1 {
            conn.answered_request = true;
        } else {
            conn.answered_connect = true;
        }
        match (s, conn.ph[s], conn.ph[1 - s]) {
            (1, Ph::Requested, Ph::Connecting) => {
                assert_eq!(got, STATUS_SUCCESS, "passive reject");
                conn.ph = [Ph::Rejected, Ph::Rejected];
                let est = conn.est[0];
                self.cm.decide(est, STATUS_CONNECTION_REFUSED);
            }
            (0, Ph::Replied, Ph::Accepting) => {
                assert_eq!(got, STATUS_SUCCESS, "active reject");
                conn.ph = [Ph::Rejected, Ph::Aborted];
                let est = conn.est[1];
                self.cm.decide(est, STATUS_CONNECTION_ABORTED);
            }
            _ => {
                assert_eq!(
                    got, STATUS_CONNECTION_ABORTED,
                    "reject after the peer gave up"
                );
                conn.ph[s] = Ph::Aborted;
            }
        }
    }

    /// The active side's connect completed SUCCESS (what a consumer waits for).
    fn connect_succeeded(&self, c: &Conn) -> bool {
        c.est[0].is_some_and(|r| self.cm.rqs[r].r.status() == Some(STATUS_SUCCESS))
    }

    fn complete_connect(&mut self, env: &Env, cx: u8) {
        let ok = |c: &Conn, s: usize| s == 0 && !c.answered_connect && self.connect_succeeded(c);
        let Some(x) = pick(&self.connectors(ok), cx) else {
            return;
        };
        let (c, _) = self.cm.cxs[x].conn.expect("connected");
        let events = Arc::clone(&self.cm.cxs[x].events);
        let got = env.at(|| self.connector(x).complete_connect_ex(Some(&events)));
        let conn = &mut self.cm.conns[c];
        conn.answered_connect = true;
        if conn.ph == [Ph::Replied, Ph::Accepting] {
            assert_eq!(got, STATUS_SUCCESS, "complete connect");
            self.stats.established += 1;
            conn.ph = [Ph::Connected, Ph::Connected];
            let (aq, pq) = (conn.qp[0].expect("QP"), conn.qp[1].expect("QP"));
            let est = conn.est[1];
            self.cm.decide(est, STATUS_SUCCESS);
            self.data.qps[aq].peer = Some(pq);
            self.data.qps[pq].peer = Some(aq);
            self.qps[aq].ready = true;
        } else {
            assert_eq!(
                got, STATUS_CONNECTION_ABORTED,
                "complete connect, peer gone"
            );
            conn.ph[0] = Ph::Aborted;
        }
    }

    fn disconnect(&mut self, env: &Env, cx: u8) {
        // Sides the consumer knows are established and has not disconnected yet.
        let ok = |c: &Conn, s: usize| {
            c.disc[s].is_none()
                && c.qp[s].is_some_and(|q| self.qps[q].ready)
                && matches!(c.ph[s], Ph::Connected | Ph::PeerDisconnected)
        };
        let Some(x) = pick(&self.connectors(ok), cx) else {
            return;
        };
        let (c, s) = self.cm.cxs[x].conn.expect("connected");
        let r = Request::new();
        let got = env.at(|| self.connector(x).disconnect(&r));
        assert_eq!(got, STATUS_PENDING, "disconnect");
        self.stats.disconnects += 1;
        let d = self.cm.request(&r, "disconnect");
        self.cm.may_drop_event(x);
        let conn = &mut self.cm.conns[c];
        conn.disc[s] = Some(d);
        conn.frozen = true;
        let mut flush = Vec::new();
        match (conn.ph[s], conn.ph[1 - s]) {
            (Ph::Connected, Ph::Connected) => {
                conn.ph[s] = Ph::Disconnecting;
                conn.ph[1 - s] = Ph::PeerDisconnected;
                if let Some(y) = conn.cx[1 - s] {
                    self.cm.cxs[y].ev.0 += 1;
                    self.cm.cxs[y].ev.1 += 1;
                }
            }
            (Ph::PeerDisconnected, Ph::Disconnecting) => {
                conn.ph = [Ph::Disconnected, Ph::Disconnected];
                flush.extend(conn.qp.iter().flatten());
                let peer = conn.disc[1 - s];
                self.cm.decide(Some(d), STATUS_SUCCESS);
                self.cm.decide(peer, STATUS_SUCCESS);
            }
            (Ph::PeerDisconnected, _) => {
                conn.ph[s] = Ph::Disconnected;
                flush.extend(conn.qp[s]);
                self.cm.decide(Some(d), STATUS_SUCCESS);
            }
            other => panic!("disconnect picked in phases {other:?}"),
        }
        for q in flush {
            self.data.flush(q);
        }
    }

    fn close_connector(&mut self, env: &Env, x: usize) {
        self.cm.may_drop_event(x);
        let flush = match self.cm.cxs[x].conn {
            Some((c, s)) => self.cm.close_side(c, s),
            None => Vec::new(),
        };
        for q in flush {
            self.data.flush(q);
        }
        let c = self.cm.cxs[x].c.take().expect("open connector");
        let closed = env.at(|| c.close());
        assert!(
            !matches!(closed, Closed::Refused(_)),
            "connector close refused"
        );
        self.stats.closes += 1;
        self.cm.closes.push(closed);
    }

    fn close_listener(&mut self, env: &Env, i: usize) {
        // Requests routed to it and not handed up are rejected (their connect: REFUSED).
        for c in std::mem::take(&mut self.cm.lss[i].pending) {
            let conn = &mut self.cm.conns[c];
            if conn.ph == [Ph::Connecting, Ph::Requested] {
                conn.ph = [Ph::Rejected, Ph::Closed];
                let est = conn.est[0];
                self.cm.decide(est, STATUS_CONNECTION_REFUSED);
            }
        }
        self.cm.dirty[self.cm.lss[i].addr] = true;
        let l = self.cm.lss[i].l.take().expect("open listener");
        let closed = env.at(|| l.close());
        assert!(
            !matches!(closed, Closed::Refused(_)),
            "listener close refused"
        );
        self.cm.closes.push(closed);
    }

    fn settle(&mut self, env: &Env) {
        env.settle();
        self.observe(env);
        self.cm.dirty = [false; ADDRS];
        // Everything decided has been delivered, nothing else has.
        for rq in &self.cm.rqs {
            assert_eq!(
                rq.r.calls(),
                usize::from(rq.want.is_some()),
                "{} (decided {:?}) after settling: {:?}",
                rq.what,
                rq.want,
                rq.r.statuses()
            );
        }
        for (x, cx) in self.cm.cxs.iter().enumerate() {
            let n = cx.events.count();
            assert!(
                (cx.ev.0..=cx.ev.1).contains(&n),
                "connector {x}: {n} disconnect events, expected {:?}",
                cx.ev
            );
        }
        // Every request routed to an open listener whose connector still waits was handed up.
        for l in &self.cm.lss {
            for &c in &l.pending {
                assert!(
                    l.l.is_none() || self.cm.conns[c].ph[0] != Ph::Connecting,
                    "request {c} not handed up after settling"
                );
            }
        }
    }

    /// After every operation: takes handed-up connectors, checks every completion so far.
    fn observe(&mut self, env: &Env) {
        for i in 0..self.cm.lss.len() {
            while let Some(p) = self.cm.lss[i].events.take() {
                assert!(
                    self.cm.lss[i].l.is_some(),
                    "connect event after the listener's close"
                );
                let peer = env.at(|| p.peer_address()).expect("peer address");
                let pending = &mut self.cm.lss[i].pending;
                let k = pending
                    .iter()
                    .position(|&c| self.cm.conns[c].active_addr == peer)
                    .unwrap_or_else(|| panic!("connect event from unknown {peer:?}"));
                let c = pending.remove(k);
                let a = self.cm.lss[i].addr / 3;
                self.cm.cxs.push(Cx {
                    c: Some(p),
                    adapter: a,
                    conn: Some((c, 1)),
                    events: DisconnectEvents::new(),
                    ev: (0, 0),
                });
                self.cm.conns[c].cx[1] = Some(self.cm.cxs.len() - 1);
            }
        }
        for rq in &self.cm.rqs {
            let got = rq.r.statuses();
            assert!(got.len() <= 1, "{} completed {} times", rq.what, got.len());
            if let Some(&s) = got.first() {
                assert_eq!(Some(s), rq.want, "{} completed with {s:?}", rq.what);
            }
        }
        for cx in &self.cm.cxs {
            assert!(cx.events.count() <= cx.ev.1, "unexpected disconnect event");
        }
        // The passive side may post once its accept completed.
        for c in &self.cm.conns {
            if let (Some(q), Some(r)) = (c.qp[1], c.est[1])
                && self.cm.rqs[r].r.status() == Some(STATUS_SUCCESS)
            {
                self.qps[q].ready = true;
            }
        }
    }

    fn poll(&mut self, env: &Env, a: usize) -> usize {
        let got = env.at(|| self.cqs[a].poll(64));
        record(&mut self.observed, a, &got);
        got.len()
    }

    /// Observed entries of CQ `cq` (all if `None`) equal the expected ones when `complete`,
    /// else are a prefix of them.
    fn check_entries(&self, cq: Option<usize>, complete: bool) {
        let keep = |k: &Key| cq.is_none_or(|c| k.0 == c);
        compare(&self.data.expected, &self.observed, keep, complete);
    }

    /// Closes every connector and listener, flushes every QP, compares every entry and byte,
    /// checks every request and close, then closes the rest.
    fn finish(mut self, env: &Env) -> Stats {
        self.settle(env);
        for x in 0..self.cm.cxs.len() {
            if self.cm.cxs[x].c.is_some() {
                self.close_connector(env, x);
            }
        }
        for i in 0..self.cm.lss.len() {
            if self.cm.lss[i].l.is_some() {
                self.close_listener(env, i);
            }
        }
        for q in 0..self.qps.len() {
            if let Some((qp, _)) = &self.qps[q].qp {
                env.at(|| qp.flush());
                self.data.flush(q);
            }
        }
        self.settle(env);
        for a in 0..self.cqs.len() {
            while self.poll(env, a) > 0 {}
        }
        self.check_entries(None, true);
        for (q, w) in self.qps.iter().enumerate() {
            assert_eq!(w.buf.read(), self.data.qps[q].bytes, "bytes of QP {q}");
        }
        for rq in &self.cm.rqs {
            assert_eq!(rq.r.calls(), 1, "{} completed exactly once", rq.what);
        }
        for closed in &self.cm.closes {
            assert!(closed.is_complete(), "a CM close did not complete");
            if let Closed::Pending(signal) = closed {
                assert_eq!(signal.calls(), 1, "close completion exactly once");
            }
        }
        let mut stats = self.stats;
        stats.events = self.cm.cxs.iter().map(|x| x.events.count()).sum();
        let mut tickets = std::mem::take(&mut self.tickets);
        env.at(|| {
            for w in &mut self.qps {
                if let Some((qp, mr)) = w.qp.take() {
                    tickets.push(close(qp, || {}));
                    tickets.push(close(mr, || {}));
                }
            }
            for cq in self.cqs.drain(..) {
                tickets.push(close(cq, || {}));
            }
            for pd in self.pds.drain(..) {
                tickets.push(close(pd, || {}));
            }
        });
        env.settle();
        for t in &tickets {
            assert!(t.accepted() && t.complete(), "close {:?}", t.status);
            assert!(t.calls() <= 1);
        }
        for adapter in self.adapters.drain(..) {
            env.close_adapter(adapter);
        }
        drop(self);
        stats
    }
}

/// Every sequence starts with three QPs per adapter and a listener on each adapter's first
/// port, so random operations find objects.
fn prelude() -> Vec<Op> {
    let mut ops: Vec<Op> = (0..6).map(|i| Op::CreateQp { adapter: i % 2 }).collect();
    ops.push(Op::Listen { at: 3 });
    ops.push(Op::Listen { at: 0 });
    ops
}

fn run(cell: Cell, ops: &[Op]) -> Stats {
    let env = Env::new(cell);
    let mut world = World::new(&env);
    for op in prelude().iter().chain(ops) {
        world.apply(&env, op);
    }
    let stats = world.finish(&env);
    env.finish();
    if std::env::var_os("RANDOM_CM_VERBOSE").is_some() {
        eprintln!("{cell:?}: {stats:?}");
    }
    stats
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        u32::try_from(env_usize("RANDOM_CM_CASES", 256)).unwrap_or(256)
    ))]

    #[test]
    fn random_cm_sequences_match_the_model_and_the_verifier(
        cell in cell(),
        ops in proptest::collection::vec(op(), 1..env_usize("RANDOM_CM_LEN", 64)),
    ) {
        run(cell, &ops);
    }
}

/// A fixed sequence through every operation and the main paths (accept + complete + data +
/// graceful disconnect both ways, reject, refused and unreachable connects, close during
/// connect, listener close with an accepted connector), so the harness itself is tested
/// whatever the random cases reach.
#[test]
fn every_operation_once() {
    use Op::*;
    let ops = [
        Connect { qp: 0, dst: 3 }, // A → B:1000, listening
        Connect { qp: 0, dst: 4 }, // A → B:1001, refused
        Connect { qp: 0, dst: 6 }, // unreachable
        Settle,
        Receive { qp: 1, slot: 0 }, // an idle QP of B takes a receive
        Accept { cx: 1, qp: 0 },
        Settle,
        CompleteConnect { cx: 0 },
        Settle,
        Receive { qp: 0, slot: 1 },
        Send { qp: 0, len: 20 },
        Write {
            qp: 0,
            len: 9,
            at: 3,
        },
        Poll { adapter: 1 },
        Arm { adapter: 0 },
        Connect { qp: 1, dst: 0 }, // B → A:1000
        Settle,
        Reject { cx: 0 },
        Connect { qp: 2, dst: 0 },
        CloseConnector { cx: 3 }, // during connect
        Disconnect { cx: 0 },
        Settle,
        Disconnect { cx: 0 },
        Listen { at: 3 }, // held
        Listen { at: 4 },
        CloseListener { l: 0 },
        Flush { qp: 5 },
        CreateQp { adapter: 1 },
        CloseQp { qp: 4 },
        Settle,
    ];
    for delivery in [Delivery::Inline, Delivery::Fifo, Delivery::Seeded(7)] {
        for irql in [Irql::Passive, Irql::Dispatch] {
            let cell = Cell {
                delivery,
                irql,
                pend: false,
            };
            let stats = run(cell, &ops);
            assert_eq!(stats.ops, ops.len() + prelude().len());
            assert_eq!(
                (stats.connects, stats.established, stats.disconnects),
                (3, 1, 2),
                "{cell:?}: {stats:?}"
            );
            assert_eq!(stats.posts, 4, "{cell:?}: {stats:?}");
            assert_eq!(stats.events, 1, "one graceful disconnect event: {stats:?}");
        }
    }
}

/// One fixed sequence per CI run with `RANDOM_CM_VERBOSE` prints how far the random ones get
/// (connections per sequence), for `docs/verification.md`.
#[test]
fn random_sequences_reach_connections() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = (cell(), proptest::collection::vec(op(), 40..48));
    let mut total = Stats::default();
    let runs = 16;
    for _ in 0..runs {
        let (cell, seq) = strategy.new_tree(&mut runner).expect("generate").current();
        let s = run(cell, &seq);
        total.ops += s.ops;
        total.connects += s.connects;
        total.established += s.established;
        total.posts += s.posts;
        total.disconnects += s.disconnects;
        total.events += s.events;
        total.closes += s.closes;
    }
    if std::env::var_os("RANDOM_CM_VERBOSE").is_some() {
        eprintln!("{runs} sequences: {total:?}");
    }
    assert!(total.connects >= runs, "rarely connect: {total:?}");
    assert!(
        total.established > 0 && total.posts > 0,
        "never establish: {total:?}"
    );
}
