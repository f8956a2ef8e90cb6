//! The SMB Direct client end of one connection: negotiates, then keeps up to `outstanding`
//! file-sized READs and WRITEs in flight, each into a freshly fast-registered buffer that the
//! server's reply invalidates (send-and-invalidate) or the client invalidates itself.
//!
//! Pure state driven by completions; every NDK call goes through the [`Wire`].

use std::time::Instant;

use super::session::{Credits, Finished, SessionConfig, seed_of, since, verified};
use super::smb::{self, Command, NegotiateRequest, NegotiateResponse, Request, Response};
use super::wire::{Done, Fault, Op, Wire};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Negotiating,
    Ready,
}

#[derive(Clone, Copy, Debug)]
struct Io {
    id: u64,
    command: Command,
    token: u32,
    invalidate: bool,
    started: Instant,
    replied: bool,
}

/// The client state machine.
#[derive(Debug)]
pub struct Client {
    cfg: SessionConfig,
    connection: u64,
    phase: Phase,
    credits: Credits,
    free_send: Vec<u32>,
    slots: Vec<Option<Io>>,
    next_id: u64,
    finished: Vec<Finished>,
}

impl Client {
    /// Posts every receive and sends the negotiate request.
    ///
    /// # Errors
    ///
    /// A refused post.
    pub fn start(cfg: SessionConfig, connection: u64, wire: &mut impl Wire) -> Result<Self, Fault> {
        for buf in 0..u32::from(cfg.credits) {
            wire.post_receive(buf)?;
        }
        let mut free_send: Vec<u32> = (0..u32::from(cfg.credits)).rev().collect();
        let buf = free_send
            .pop()
            .ok_or_else(|| Fault("no send buffer".into()))?;
        let request = NegotiateRequest {
            credits_requested: cfg.credits,
            preferred_send_size: u32::try_from(smb::MAX_MESSAGE).unwrap_or(u32::MAX),
            max_receive_size: u32::try_from(smb::MAX_MESSAGE).unwrap_or(u32::MAX),
            max_fragmented_size: 1 << 20,
        };
        wire.send(buf, &request.encode(), None)?;
        Ok(Self {
            cfg,
            connection,
            phase: Phase::Negotiating,
            // One receive waits for the negotiate response, which needs no credit.
            credits: Credits {
                send: 0,
                to_grant: cfg.credits - 1,
            },
            free_send,
            slots: vec![None; usize::from(cfg.outstanding)],
            next_id: 1,
            finished: Vec::new(),
        })
    }

    /// Whether negotiation finished.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Ready
    }

    /// I/Os in flight.
    #[must_use]
    pub fn busy(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// Takes the I/Os finished since the last call.
    pub fn take_finished(&mut self) -> Vec<Finished> {
        std::mem::take(&mut self.finished)
    }

    /// Starts new I/Os while a slot, a send buffer and a credit are free. `pick` chooses each
    /// I/O's command and whether its reply invalidates.
    ///
    /// # Errors
    ///
    /// A refused post.
    pub fn pump(
        &mut self,
        wire: &mut impl Wire,
        now: Instant,
        mut pick: impl FnMut() -> (Command, bool),
    ) -> Result<usize, Fault> {
        let mut started = 0;
        while self.phase == Phase::Ready && self.credits.send > 0 && !self.free_send.is_empty() {
            let Some(slot) = self.slots.iter().position(Option::is_none) else {
                break;
            };
            let (command, invalidate) = pick();
            let id = self.next_id;
            self.next_id += 1;
            let slot_index = u32::try_from(slot).unwrap_or(u32::MAX);
            if command == Command::Write {
                wire.stamp(slot_index, self.cfg.io_size, seed_of(self.connection, id));
            }
            let buffer = wire.fast_register(slot_index, self.cfg.io_size)?;
            let request = Request {
                command,
                invalidate,
                id,
                buffer,
            };
            self.credits.take_send();
            let buf = self.free_send.pop().unwrap_or_default();
            let grant = self.credits.grant_now();
            wire.send(
                buf,
                &smb::encode_data(self.cfg.credits, grant, &request.encode()),
                None,
            )?;
            self.slots[slot] = Some(Io {
                id,
                command,
                token: buffer.token,
                invalidate,
                started: now,
                replied: false,
            });
            started += 1;
        }
        Ok(started)
    }

    /// Handles one completion of this end.
    ///
    /// # Errors
    ///
    /// A failed completion, a malformed or unexpected message, corrupted data, a refused post.
    pub fn on_done(&mut self, wire: &mut impl Wire, done: Done, now: Instant) -> Result<(), Fault> {
        let len = done
            .result
            .map_err(|status| Fault(format!("client {:?} failed: {status:#010x}", done.op)))?;
        match done.op {
            Op::Send => self.free_send.push(done.index),
            Op::FastRegister => {}
            Op::Receive => self.on_receive(wire, done, len as usize, now)?,
            Op::Invalidate => {
                let io = self.io(done.index)?;
                if !io.replied {
                    return Err(Fault("local invalidation before the reply".into()));
                }
                self.finish(wire, done.index, now, false)?;
            }
            Op::Write | Op::Read => {
                return Err(Fault(format!("client got a {:?} completion", done.op)));
            }
        }
        Ok(())
    }

    fn on_receive(
        &mut self,
        wire: &mut impl Wire,
        done: Done,
        len: usize,
        now: Instant,
    ) -> Result<(), Fault> {
        let msg = wire.received(done.index, len);
        wire.post_receive(done.index)?;
        self.credits.to_grant += 1;
        if self.phase == Phase::Negotiating {
            let resp = NegotiateResponse::decode(&msg)
                .ok_or_else(|| Fault("malformed negotiate response".into()))?;
            if resp.status != 0 || resp.max_read_write_size < self.cfg.io_size {
                return Err(Fault(format!("negotiate refused: {resp:?}")));
            }
            self.credits.granted(resp.credits_granted);
            self.phase = Phase::Ready;
            return Ok(());
        }
        let (header, data) =
            smb::decode_data(&msg).ok_or_else(|| Fault("malformed data message".into()))?;
        self.credits.granted(header.credits_granted);
        let resp = Response::decode(data).ok_or_else(|| Fault("malformed response".into()))?;
        let slot = self
            .slots
            .iter()
            .position(|s| s.is_some_and(|io| io.id == resp.id))
            .ok_or_else(|| Fault(format!("response to unknown request {}", resp.id)))?;
        if resp.status != 0 || resp.length != self.cfg.io_size {
            return Err(Fault(format!("request {} failed: {resp:?}", resp.id)));
        }
        let slot = u32::try_from(slot).unwrap_or(u32::MAX);
        let io = self.io(slot)?;
        if io.invalidate {
            if done.invalidated != Some(io.token) {
                return Err(Fault(format!(
                    "reply to {} invalidated {:?}, expected token {:#x}",
                    io.id, done.invalidated, io.token
                )));
            }
            return self.finish(wire, slot, now, true);
        }
        if done.invalidated.is_some() {
            return Err(Fault("reply invalidated a token nobody asked for".into()));
        }
        if let Some(io) = self.slots[slot as usize].as_mut() {
            io.replied = true;
        }
        if wire.invalidate(slot)? {
            Ok(())
        } else {
            self.finish(wire, slot, now, false)
        }
    }

    fn io(&self, slot: u32) -> Result<Io, Fault> {
        self.slots
            .get(slot as usize)
            .copied()
            .flatten()
            .ok_or_else(|| Fault(format!("completion for idle slot {slot}")))
    }

    fn finish(
        &mut self,
        wire: &impl Wire,
        slot: u32,
        now: Instant,
        remote_invalidate: bool,
    ) -> Result<(), Fault> {
        let io = self.io(slot)?;
        if io.command == Command::Read
            && verified(io.id)
            && !wire.check(slot, self.cfg.io_size, seed_of(self.connection, io.id))
        {
            return Err(Fault(format!("READ {} delivered the wrong data", io.id)));
        }
        self.slots[slot as usize] = None;
        self.finished.push(Finished {
            command: io.command,
            bytes: self.cfg.io_size,
            latency: since(io.started, now),
            remote_invalidate,
        });
        Ok(())
    }
}
