//! An in-memory loopback [`Wire`] pair for unit tests of the session state machines: posts
//! execute at once (like SoftNDK's inline execution), a send waits for the peer's receive,
//! completions queue per side.

use std::collections::VecDeque;

use super::smb::{Descriptor, MAX_MESSAGE};
use super::wire::{Done, Fault, Op, STAMP, Wire, stamp_bytes, stamp_spots};

/// Which end.
pub const CLIENT: usize = 0;
/// Which end.
pub const SERVER: usize = 1;

#[derive(Default)]
struct End {
    recv_bufs: Vec<Vec<u8>>,
    posted: VecDeque<u32>,
    slots: Vec<Vec<u8>>,
    /// Per slot: the currently valid token.
    tokens: Vec<Option<u32>>,
    done: VecDeque<Done>,
}

/// A send waiting for the peer's receive: (send buffer, message, token to invalidate).
type Blocked = (u32, Vec<u8>, Option<u32>);

/// Both ends.
pub struct Loop {
    ends: [End; 2],
    /// Sends waiting for a receive: (from, message, invalidate).
    blocked: [VecDeque<Blocked>; 2],
    next_token: u32,
    /// Invalidates requested by the server are dropped (a provider bug the client must catch).
    pub drop_invalidate: bool,
    /// Corrupts the first byte of every RDMA transfer.
    pub corrupt: bool,
}

/// One end's view, implementing [`Wire`].
pub struct Side<'a> {
    l: &'a mut Loop,
    me: usize,
}

impl Loop {
    /// Two ends with `bufs` message buffers and `slots` data slots of `size` bytes each.
    pub fn new(bufs: usize, slots: usize, size: usize) -> Self {
        let end = || End {
            recv_bufs: vec![vec![0; MAX_MESSAGE]; bufs],
            slots: vec![vec![0; size]; slots],
            tokens: vec![None; slots],
            ..End::default()
        };
        Self {
            ends: [end(), end()],
            blocked: [VecDeque::new(), VecDeque::new()],
            next_token: 0x100,
            drop_invalidate: false,
            corrupt: false,
        }
    }

    /// An end's wire.
    pub const fn side(&mut self, me: usize) -> Side<'_> {
        Side { l: self, me }
    }

    /// Takes one completion of `me`.
    pub fn next(&mut self, me: usize) -> Option<Done> {
        self.ends[me].done.pop_front()
    }

    fn deliver(&mut self, from: usize) {
        let to = 1 - from;
        while !self.blocked[from].is_empty() {
            let Some(buf) = self.ends[to].posted.pop_front() else {
                return;
            };
            let (send_buf, msg, invalidate) = self.blocked[from].pop_front().unwrap_or_default();
            let mut invalidated = None;
            if let Some(token) = invalidate.filter(|_| !self.drop_invalidate) {
                for t in &mut self.ends[to].tokens {
                    if *t == Some(token) {
                        *t = None;
                        invalidated = Some(token);
                    }
                }
            }
            self.ends[to].recv_bufs[buf as usize][..msg.len()].copy_from_slice(&msg);
            self.ends[to].done.push_back(Done {
                op: Op::Receive,
                index: buf,
                result: Ok(u32::try_from(msg.len()).unwrap_or(0)),
                invalidated,
            });
            self.ends[from].done.push_back(Done {
                op: Op::Send,
                index: send_buf,
                result: Ok(0),
                invalidated: None,
            });
        }
    }

    fn remote(&self, me: usize, d: Descriptor) -> Option<usize> {
        self.ends[1 - me]
            .tokens
            .iter()
            .position(|t| *t == Some(d.token))
    }
}

impl Side<'_> {
    fn complete(&mut self, op: Op, index: u32, result: Result<u32, i32>) {
        self.l.ends[self.me].done.push_back(Done {
            op,
            index,
            result,
            invalidated: None,
        });
    }
}

impl Wire for Side<'_> {
    fn post_receive(&mut self, buf: u32) -> Result<(), Fault> {
        self.l.ends[self.me].posted.push_back(buf);
        self.l.deliver(1 - self.me);
        Ok(())
    }

    fn send(&mut self, buf: u32, msg: &[u8], invalidate: Option<u32>) -> Result<(), Fault> {
        self.l.blocked[self.me].push_back((buf, msg.to_vec(), invalidate));
        self.l.deliver(self.me);
        Ok(())
    }

    fn fast_register(&mut self, slot: u32, length: u32) -> Result<Descriptor, Fault> {
        self.l.next_token += 1;
        let token = self.l.next_token;
        self.l.ends[self.me].tokens[slot as usize] = Some(token);
        self.complete(Op::FastRegister, slot, Ok(0));
        Ok(Descriptor {
            offset: u64::from(slot) << 32,
            token,
            length,
        })
    }

    fn invalidate(&mut self, slot: u32) -> Result<bool, Fault> {
        self.l.ends[self.me].tokens[slot as usize] = None;
        self.complete(Op::Invalidate, slot, Ok(0));
        Ok(true)
    }

    fn rdma_write(&mut self, slot: u32, to: Descriptor) -> Result<(), Fault> {
        let Some(remote) = self.l.remote(self.me, to) else {
            self.complete(Op::Write, slot, Err(-1));
            return Ok(());
        };
        let len = to.length as usize;
        let mut data = self.l.ends[self.me].slots[slot as usize][..len].to_vec();
        if self.l.corrupt {
            data[0] ^= 0xFF;
        }
        self.l.ends[1 - self.me].slots[remote][..len].copy_from_slice(&data);
        self.complete(Op::Write, slot, Ok(to.length));
        Ok(())
    }

    fn rdma_read(&mut self, slot: u32, from: Descriptor) -> Result<(), Fault> {
        let Some(remote) = self.l.remote(self.me, from) else {
            self.complete(Op::Read, slot, Err(-1));
            return Ok(());
        };
        let len = from.length as usize;
        let mut data = self.l.ends[1 - self.me].slots[remote][..len].to_vec();
        if self.l.corrupt {
            data[0] ^= 0xFF;
        }
        self.l.ends[self.me].slots[slot as usize][..len].copy_from_slice(&data);
        self.complete(Op::Read, slot, Ok(from.length));
        Ok(())
    }

    fn received(&self, buf: u32, len: usize) -> Vec<u8> {
        self.l.ends[self.me].recv_bufs[buf as usize][..len].to_vec()
    }

    fn stamp(&mut self, slot: u32, length: u32, seed: u64) {
        let data = &mut self.l.ends[self.me].slots[slot as usize];
        for (i, at) in stamp_spots(length).into_iter().enumerate() {
            let n = STAMP.min(length as usize);
            data[at..at + n].copy_from_slice(&stamp_bytes(seed, i)[..n]);
        }
    }

    fn check(&self, slot: u32, length: u32, seed: u64) -> bool {
        let data = &self.l.ends[self.me].slots[slot as usize];
        stamp_spots(length).into_iter().enumerate().all(|(i, at)| {
            let n = STAMP.min(length as usize);
            data[at..at + n] == stamp_bytes(seed, i)[..n]
        })
    }
}
