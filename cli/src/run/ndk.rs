//! The NDK side of the workload: the two adapters and, per connection, every object of both
//! ends, created, used and closed through `softndk::consumer` (the dispatch tables, exactly as
//! a kernel consumer calls them).
//!
//! Owns object creation, the [`Wire`] implementation over a QP, CQ polling and the two
//! teardown orders (each closes the end's connector first). The adapters are
//! [`super::fabric`]'s; connections are made by `NdkConnect`/`NdkListen`/`NdkAccept` ([`cm`]).
//!
//! The client's data slots are fast-register MRs over LAM pages: each I/O posts
//! `NdkFastRegister` and hands out the new token, and the reply's send-and-invalidate (or a
//! local `NdkInvalidate`) retires it, as SMB Direct does. The server's slots are ordinary
//! registered MRs. One LAM is built per client slot at connection setup and released after
//! the slot's MR is closed (SMB builds one per I/O; per slot keeps `NdkBuildLAM` out of the
//! measured data path).

use std::sync::Arc;
use std::time::{Duration, Instant};

use softndk::abi::{
    NDK_MR_FLAG_ALLOW_LOCAL_WRITE, NDK_MR_FLAG_ALLOW_REMOTE_READ, NDK_MR_FLAG_ALLOW_REMOTE_WRITE,
    NDK_OP_FLAG_ALLOW_REMOTE_READ, NDK_OP_FLAG_ALLOW_REMOTE_WRITE, NDK_OPERATION_TYPE, NTSTATUS,
    STATUS_CANCELLED, STATUS_SUCCESS,
};
use softndk::consumer::{
    Adapter, Buffer, Closed, Connector, Cq, CqEvents, Lam, Mr, Pd, Qp, QpLimits,
};

use super::cm;
use super::session::SessionConfig;
use super::smb::{Descriptor, MAX_MESSAGE};
use super::stats::Ledger;
use super::wire::{Done, Fault, Op, STAMP, Wire, stamp_bytes, stamp_spots};

/// Whether the client's data slots are fast-registered per I/O (`NdkFastRegister`,
/// `NdkInvalidate`, send-and-invalidate) rather than registered once.
pub const FAST_REGISTER: bool = true;

/// Which end of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Adapter 0: fast-registered data slots.
    Client,
    /// Adapter 1: registered data slots.
    Server,
}

/// One data slot: its buffer, its MR and where in the buffer the slot's bytes start (client
/// slots start on a page boundary so a 1 MiB slot fits `FRMRPageCount` = 256 pages).
#[derive(Debug)]
struct Slot {
    buf: Arc<Buffer>,
    mr: Mr,
    at: usize,
    lam: Option<Lam>,
}

/// Base address of fast registrations of slot `slot`: `FBO + n·PAGE_SIZE`, with `FBO` 0.
fn fr_base(slot: u32) -> u64 {
    0x10_0000_0000 + (u64::from(slot) << 32)
}

/// One end of a connection: PD, one CQ for both queues, QP, message pools and data slots.
#[derive(Debug)]
pub struct End {
    connector: Option<Connector>,
    pd: Pd,
    cq: Cq,
    qp: Qp,
    recv: Arc<Buffer>,
    recv_mr: Mr,
    send: Arc<Buffer>,
    send_mr: Mr,
    data: Vec<Slot>,
    sent: Vec<u32>,
    moved: Vec<u32>,
}

fn ok(status: NTSTATUS, what: &str) -> Result<(), Fault> {
    if status == STATUS_SUCCESS {
        Ok(())
    } else {
        Err(Fault(format!("{what} refused: {status:?}")))
    }
}

fn ctx(op: Op, index: u32) -> usize {
    let code = Op::ALL.iter().position(|o| *o == op).unwrap_or(0);
    (code << 32) | index as usize
}

fn split(context: usize) -> (Op, u32) {
    let op = Op::ALL.get(context >> 32).copied().unwrap_or(Op::Send);
    (op, u32::try_from(context & 0xFFFF_FFFF).unwrap_or(u32::MAX))
}

fn fail(what: &'static str) -> impl Fn(NTSTATUS) -> Fault {
    move |s| Fault(format!("{what} failed: {s:?}"))
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A client slot: a buffer with one spare page, a fast-register MR for `len` bytes and a LAM
/// over the page-aligned part. On failure the MR is closed again.
fn fast_slot(adapter: &Adapter, pd: &Pd, ledger: &Ledger, len: u32) -> Result<Slot, Fault> {
    const PAGE: usize = 4096;
    let len = len as usize;
    let buf = Buffer::zeroed(len + PAGE);
    let misalign = usize::try_from(buf.va() % PAGE as u64).unwrap_or(0);
    let at = (PAGE - misalign) % PAGE;
    let mr = pd.create_mr(true).map_err(fail("NdkCreateMr"))?;
    ledger.created("MR");
    let pages = len32(len.div_ceil(PAGE));
    let lam = ok(
        mr.initialize_fast_register(pages, true),
        "NdkInitializeFastRegisterMr",
    )
    .and_then(|()| {
        adapter
            .build_lam(&buf, at, len)
            .map_err(fail("NdkBuildLAM"))
    });
    match lam {
        Ok(lam) => Ok(Slot {
            buf,
            mr,
            at,
            lam: Some(lam),
        }),
        Err(f) => {
            let closing = vec![Closing {
                kind: "MR",
                closed: mr.close(),
                at: Instant::now(),
            }];
            finish_closes(closing, ledger, Duration::from_secs(10))?;
            Err(f)
        }
    }
}

impl End {
    /// Creates every object of one end on `adapter`.
    ///
    /// # Errors
    ///
    /// A create or registration failed.
    pub fn create(
        adapter: &Adapter,
        ledger: &Ledger,
        cfg: SessionConfig,
        role: Role,
    ) -> Result<Self, Fault> {
        let credits = u32::from(cfg.credits);
        let limits = QpLimits {
            receive_depth: credits,
            initiator_depth: credits + 2 * u32::from(cfg.outstanding),
            max_receive_sge: 1,
            max_initiator_sge: 1,
            inline_data_size: 0,
        };
        let pd = adapter.create_pd().map_err(fail("NdkCreatePd"))?;
        ledger.created("PD");
        let cq = adapter
            .create_cq(
                limits.receive_depth + limits.initiator_depth,
                &CqEvents::new(),
            )
            .map_err(fail("NdkCreateCq"))?;
        ledger.created("CQ");
        let qp = pd
            .create_qp(&cq, &cq, 0, limits)
            .map_err(fail("NdkCreateQp"))?;
        ledger.created("QP");
        let register = |len: usize, flags: u32| -> Result<(Arc<Buffer>, Mr), Fault> {
            let buf = Buffer::zeroed(len);
            let mr = pd.create_mr(false).map_err(fail("NdkCreateMr"))?;
            ledger.created("MR");
            ok(mr.register(&buf, flags, &[]), "NdkRegisterMr")?;
            Ok((buf, mr))
        };
        let pool = MAX_MESSAGE * cfg.credits as usize;
        let (recv, recv_mr) = register(pool, NDK_MR_FLAG_ALLOW_LOCAL_WRITE)?;
        let (send, send_mr) = register(pool, 0)?;
        let data = (0..cfg.outstanding)
            .map(|_| match role {
                Role::Client if FAST_REGISTER => fast_slot(adapter, &pd, ledger, cfg.io_size),
                _ => {
                    let flags = NDK_MR_FLAG_ALLOW_LOCAL_WRITE
                        | NDK_MR_FLAG_ALLOW_REMOTE_READ
                        | NDK_MR_FLAG_ALLOW_REMOTE_WRITE;
                    let (buf, mr) = register(cfg.io_size as usize, flags)?;
                    Ok(Slot {
                        buf,
                        mr,
                        at: 0,
                        lam: None,
                    })
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            connector: None,
            pd,
            cq,
            qp,
            recv,
            recv_mr,
            send,
            send_mr,
            data,
            sent: vec![0; cfg.credits as usize],
            moved: vec![0; cfg.outstanding as usize],
        })
    }

    /// Reaps up to `max` completions: successes and failures as [`Done`]s, plus the number of
    /// `STATUS_CANCELLED` ones (flushes).
    pub fn poll(&self, max: u32) -> (Vec<Done>, u64) {
        let mut cancelled = 0;
        let mut out = Vec::new();
        for r in self.cq.results_ex(max) {
            if r.Status == STATUS_CANCELLED {
                cancelled += 1;
                continue;
            }
            let (op, index) = split(r.RequestContext.addr());
            let result = if r.Status == STATUS_SUCCESS {
                Ok(match op {
                    Op::Receive => r.BytesTransferred,
                    Op::Send => self.sent.get(index as usize).copied().unwrap_or(0),
                    Op::Read | Op::Write => self.moved.get(index as usize).copied().unwrap_or(0),
                    Op::FastRegister | Op::Invalidate => 0,
                })
            } else {
                Err(r.Status.0)
            };
            let invalidated = (r.Type == NDK_OPERATION_TYPE::RECEIVE_AND_INVALIDATE)
                .then(|| u32::try_from(r.TypeSpecificCompletionOutput & 0xFFFF_FFFF).unwrap_or(0));
            out.push(Done {
                op,
                index,
                result,
                invalidated,
            });
        }
        (out, cancelled)
    }

    /// The end's QP and connector slot, for connection establishment.
    pub const fn cm_side(&mut self) -> cm::Side<'_> {
        cm::Side {
            qp: &self.qp,
            connector: &mut self.connector,
        }
    }

    /// `NdkFlush` of the QP.
    pub fn flush(&self) {
        self.qp.flush();
    }

    /// Closes everything. `storm`: antecedents first (PD, CQ, MRs, then the QP), without
    /// flushing, so most closes pend on their successors; otherwise the sample consumer's
    /// order (QP, CQ, MRs, PD), which finishes inline when nothing is outstanding. Also
    /// answers the slots' LAMs, to be released once the closes have finished.
    #[must_use]
    pub fn close(self, storm: bool) -> (Vec<Closing>, Vec<Lam>) {
        let mut out = Vec::new();
        let mut push = |kind: &'static str, closed: Closed| {
            out.push(Closing {
                kind,
                closed,
                at: Instant::now(),
            });
        };
        let mut lams = Vec::new();
        let mut mrs = Vec::new();
        for slot in self.data {
            lams.extend(slot.lam);
            mrs.push(slot.mr);
            drop(slot.buf);
        }
        mrs.extend([self.recv_mr, self.send_mr]);
        // The connector goes first in both orders: it references the QP.
        if let Some(connector) = self.connector {
            push("connector", connector.close());
        }
        if storm {
            push("PD", self.pd.close());
            push("CQ", self.cq.close());
            for mr in mrs {
                push("MR", mr.close());
            }
            push("QP", self.qp.close());
        } else {
            push("QP", self.qp.close());
            push("CQ", self.cq.close());
            for mr in mrs {
                push("MR", mr.close());
            }
            push("PD", self.pd.close());
        }
        drop((self.recv, self.send));
        (out, lams)
    }
}

/// A close in progress.
#[derive(Debug)]
pub struct Closing {
    /// Object kind.
    pub kind: &'static str,
    /// What the close answered.
    pub closed: Closed,
    /// When it answered.
    pub at: Instant,
}

/// Waits for every close to finish, recording each in the ledger.
///
/// # Errors
///
/// A close refused, or not completed within `timeout`.
pub fn finish_closes(
    closing: Vec<Closing>,
    ledger: &Ledger,
    timeout: Duration,
) -> Result<(), Fault> {
    let mut first_error = None;
    for c in closing {
        match c.closed {
            Closed::Now => {
                ledger.close_issued(false);
                ledger.closed(c.kind, None);
            }
            Closed::Pending(signal) => {
                ledger.close_issued(true);
                if signal.wait(timeout) {
                    ledger.closed(c.kind, Some(c.at.elapsed()));
                } else {
                    first_error.get_or_insert_with(|| {
                        Fault(format!(
                            "{} close did not complete within {timeout:?}",
                            c.kind
                        ))
                    });
                }
            }
            Closed::Refused(status) => {
                ledger.close_issued(false);
                first_error
                    .get_or_insert_with(|| Fault(format!("{} close refused: {status:?}", c.kind)));
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

impl Wire for End {
    fn post_receive(&mut self, buf: u32) -> Result<(), Fault> {
        let sge = self.recv.sge(
            buf as usize * MAX_MESSAGE,
            len32(MAX_MESSAGE),
            self.recv_mr.local_token(),
        );
        ok(self.qp.receive(ctx(Op::Receive, buf), &[sge]), "NdkReceive")
    }

    fn send(&mut self, buf: u32, msg: &[u8], invalidate: Option<u32>) -> Result<(), Fault> {
        let at = buf as usize * MAX_MESSAGE;
        self.send.write(at, msg);
        self.sent[buf as usize] = len32(msg.len());
        let sge = self
            .send
            .sge(at, len32(msg.len()), self.send_mr.local_token());
        let context = ctx(Op::Send, buf);
        let status = match invalidate {
            Some(token) => self.qp.send_and_invalidate(context, &[sge], 0, token),
            None => self.qp.send(context, &[sge], 0),
        };
        ok(status, "NdkSend")
    }

    fn fast_register(&mut self, slot: u32, length: u32) -> Result<Descriptor, Fault> {
        let s = &self.data[slot as usize];
        let Some(lam) = &s.lam else {
            // A registered slot: its token is always valid.
            return Ok(Descriptor {
                offset: s.buf.va() + s.at as u64,
                token: s.mr.remote_token(),
                length,
            });
        };
        let base = fr_base(slot);
        let flags = NDK_OP_FLAG_ALLOW_REMOTE_READ | NDK_OP_FLAG_ALLOW_REMOTE_WRITE;
        let status = self.qp.fast_register(
            ctx(Op::FastRegister, slot),
            &s.mr,
            &lam.pages(),
            lam.fbo(),
            length as usize,
            base,
            flags,
        );
        ok(status, "NdkFastRegister")?;
        // The new token is valid once the post returned (docs/engine.md).
        Ok(Descriptor {
            offset: base + u64::from(lam.fbo()),
            token: s.mr.remote_token(),
            length,
        })
    }

    fn invalidate(&mut self, slot: u32) -> Result<bool, Fault> {
        let s = &self.data[slot as usize];
        if s.lam.is_none() {
            return Ok(false);
        }
        let status = self.qp.invalidate_mr(ctx(Op::Invalidate, slot), &s.mr, 0);
        ok(status, "NdkInvalidate").map(|()| true)
    }

    fn rdma_write(&mut self, slot: u32, to: Descriptor) -> Result<(), Fault> {
        let s = &self.data[slot as usize];
        self.moved[slot as usize] = to.length;
        let sge = s.buf.sge(s.at, to.length, s.mr.local_token());
        let status = self
            .qp
            .write(ctx(Op::Write, slot), &[sge], to.offset, to.token, 0);
        ok(status, "NdkWrite")
    }

    fn rdma_read(&mut self, slot: u32, from: Descriptor) -> Result<(), Fault> {
        let s = &self.data[slot as usize];
        self.moved[slot as usize] = from.length;
        let sge = s.buf.sge(s.at, from.length, s.mr.local_token());
        let status = self
            .qp
            .read(ctx(Op::Read, slot), &[sge], from.offset, from.token, 0);
        ok(status, "NdkRead")
    }

    fn received(&self, buf: u32, len: usize) -> Vec<u8> {
        let at = buf as usize * MAX_MESSAGE;
        let all = self.recv.read();
        all.get(at..at + len.min(MAX_MESSAGE))
            .map(<[u8]>::to_vec)
            .unwrap_or_default()
    }

    fn stamp(&mut self, slot: u32, length: u32, seed: u64) {
        let s = &self.data[slot as usize];
        let n = STAMP.min(length as usize);
        for (i, at) in stamp_spots(length).into_iter().enumerate() {
            s.buf.write(s.at + at, &stamp_bytes(seed, i)[..n]);
        }
    }

    fn check(&self, slot: u32, length: u32, seed: u64) -> bool {
        let s = &self.data[slot as usize];
        let all = s.buf.read();
        let n = STAMP.min(length as usize);
        stamp_spots(length)
            .into_iter()
            .enumerate()
            .all(|(i, at)| all.get(s.at + at..s.at + at + n) == Some(&stamp_bytes(seed, i)[..n]))
    }
}
