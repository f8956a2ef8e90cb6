//! The SMB Direct server end of one connection: answers the negotiate, then serves each READ
//! with an RDMA write into the client's buffer and each WRITE with an RDMA read from it, and
//! replies with a send (a send-and-invalidate of the client's token when asked).
//!
//! Pure state driven by completions; every NDK call goes through the [`Wire`].

use std::collections::VecDeque;

use super::session::{Credits, SessionConfig, seed_of, verified};
use super::smb::{self, Command, NegotiateRequest, NegotiateResponse, Request, Response};
use super::wire::{Done, Fault, Op, Wire};

#[derive(Clone, Copy, Debug)]
struct Reply {
    id: u64,
    length: u32,
    invalidate: Option<u32>,
}

/// The server state machine.
#[derive(Debug)]
pub struct Server {
    cfg: SessionConfig,
    connection: u64,
    negotiated: bool,
    credits: Credits,
    free_send: Vec<u32>,
    jobs: Vec<Option<Request>>,
    waiting: VecDeque<Request>,
    replies: VecDeque<Reply>,
}

impl Server {
    /// Posts every receive.
    ///
    /// # Errors
    ///
    /// A refused post.
    pub fn start(cfg: SessionConfig, connection: u64, wire: &mut impl Wire) -> Result<Self, Fault> {
        for buf in 0..u32::from(cfg.credits) {
            wire.post_receive(buf)?;
        }
        Ok(Self {
            cfg,
            connection,
            negotiated: false,
            // One receive takes the negotiate request, which needs no credit.
            credits: Credits {
                send: 0,
                to_grant: cfg.credits - 1,
            },
            free_send: (0..u32::from(cfg.credits)).rev().collect(),
            jobs: vec![None; usize::from(cfg.outstanding)],
            waiting: VecDeque::new(),
            replies: VecDeque::new(),
        })
    }

    /// Requests being served or waiting, and replies not yet sent.
    #[must_use]
    pub fn backlog(&self) -> usize {
        self.jobs.iter().filter(|j| j.is_some()).count() + self.waiting.len() + self.replies.len()
    }

    /// Handles one completion of this end.
    ///
    /// # Errors
    ///
    /// A failed completion, a malformed or unexpected message, corrupted data, a refused post.
    pub fn on_done(&mut self, wire: &mut impl Wire, done: Done) -> Result<(), Fault> {
        let len = done
            .result
            .map_err(|status| Fault(format!("server {:?} failed: {status:#010x}", done.op)))?;
        match done.op {
            Op::Send => self.free_send.push(done.index),
            Op::Receive => self.on_receive(wire, done.index, len as usize)?,
            Op::Write => {
                self.take_job(done.index)?;
            }
            Op::Read => {
                let job = self.take_job(done.index)?;
                let seed = seed_of(self.connection, job.id);
                if verified(job.id) && !wire.check(done.index, job.buffer.length, seed) {
                    return Err(Fault(format!("WRITE {} read the wrong data", job.id)));
                }
                self.replies.push_back(reply_to(&job));
            }
            Op::FastRegister | Op::Invalidate => {
                return Err(Fault(format!("server got a {:?} completion", done.op)));
            }
        }
        self.serve_waiting(wire)?;
        self.send_replies(wire)
    }

    fn on_receive(&mut self, wire: &mut impl Wire, buf: u32, len: usize) -> Result<(), Fault> {
        let msg = wire.received(buf, len);
        wire.post_receive(buf)?;
        self.credits.to_grant += 1;
        if !self.negotiated {
            let req = NegotiateRequest::decode(&msg)
                .ok_or_else(|| Fault("malformed negotiate request".into()))?;
            let send = self.free_send.pop().unwrap_or_default();
            let response = NegotiateResponse {
                credits_requested: self.cfg.credits,
                credits_granted: self.credits.grant_now(),
                status: 0,
                max_read_write_size: self.cfg.io_size,
                preferred_send_size: req.max_receive_size.min(MAX_MESSAGE32),
                max_receive_size: MAX_MESSAGE32,
            };
            self.negotiated = true;
            return wire.send(send, &response.encode(), None);
        }
        let (header, data) =
            smb::decode_data(&msg).ok_or_else(|| Fault("malformed data message".into()))?;
        self.credits.granted(header.credits_granted);
        let request = Request::decode(data).ok_or_else(|| Fault("malformed request".into()))?;
        if request.buffer.length > self.cfg.io_size {
            return Err(Fault(format!("request {} is too large", request.id)));
        }
        self.waiting.push_back(request);
        Ok(())
    }

    fn serve_waiting(&mut self, wire: &mut impl Wire) -> Result<(), Fault> {
        while let Some(slot) = self.jobs.iter().position(Option::is_none) {
            let Some(request) = self.waiting.pop_front() else {
                break;
            };
            let index = u32::try_from(slot).unwrap_or(u32::MAX);
            self.jobs[slot] = Some(request);
            match request.command {
                Command::Read => {
                    let seed = seed_of(self.connection, request.id);
                    wire.stamp(index, request.buffer.length, seed);
                    wire.rdma_write(index, request.buffer)?;
                    // The reply follows the write on the same queue, so it cannot overtake it.
                    self.replies.push_back(reply_to(&request));
                }
                Command::Write => wire.rdma_read(index, request.buffer)?,
            }
        }
        Ok(())
    }

    fn send_replies(&mut self, wire: &mut impl Wire) -> Result<(), Fault> {
        while !self.replies.is_empty() && self.credits.send > 0 && !self.free_send.is_empty() {
            let reply = self.replies.pop_front().unwrap_or(Reply {
                id: 0,
                length: 0,
                invalidate: None,
            });
            self.credits.take_send();
            let buf = self.free_send.pop().unwrap_or_default();
            let body = Response {
                id: reply.id,
                status: 0,
                length: reply.length,
            };
            let grant = self.credits.grant_now();
            let msg = smb::encode_data(self.cfg.credits, grant, &body.encode());
            wire.send(buf, &msg, reply.invalidate)?;
        }
        Ok(())
    }

    fn take_job(&mut self, slot: u32) -> Result<Request, Fault> {
        self.jobs
            .get_mut(slot as usize)
            .and_then(Option::take)
            .ok_or_else(|| Fault(format!("completion for idle server slot {slot}")))
    }
}

/// [`smb::MAX_MESSAGE`] as a wire field.
#[allow(clippy::cast_possible_truncation)] // 1364
const MAX_MESSAGE32: u32 = smb::MAX_MESSAGE as u32;

const fn reply_to(request: &Request) -> Reply {
    Reply {
        id: request.id,
        length: request.buffer.length,
        invalidate: if request.invalidate {
            Some(request.buffer.token)
        } else {
            None
        },
    }
}
