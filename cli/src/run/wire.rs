//! What an SMB-style session needs from one side of a connection, independent of how the
//! connection is made: posting, registering, and reading and writing its own buffers.
//!
//! The NDK implementation is [`super::ndk`]; unit tests use an in-memory loop. Owns the
//! vocabulary only: it must never hold NDK objects itself.

use super::smb::Descriptor;

/// A request failed to post, or completed with an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault(pub String);

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The kind of a completed request (its `NDK_RESULT.Type`, as the session needs it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `NdkSend` / `NdkSendAndInvalidate`.
    Send,
    /// `NdkReceive`.
    Receive,
    /// `NdkFastRegister`.
    FastRegister,
    /// `NdkInvalidate` (local).
    Invalidate,
    /// `NdkWrite`.
    Write,
    /// `NdkRead`.
    Read,
}

impl Op {
    /// Every op, in report order.
    pub const ALL: [Self; 6] = [
        Self::Send,
        Self::Receive,
        Self::Write,
        Self::Read,
        Self::FastRegister,
        Self::Invalidate,
    ];

    /// The report name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::Receive => "receive",
            Self::FastRegister => "fast-register",
            Self::Invalidate => "invalidate",
            Self::Write => "rdma-write",
            Self::Read => "rdma-read",
        }
    }
}

/// One reaped completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Done {
    /// What completed.
    pub op: Op,
    /// The buffer or slot index the request was posted for.
    pub index: u32,
    /// `Ok(bytes)` (received length for receives) or the failure status.
    pub result: Result<u32, i32>,
    /// For a receive: the token the peer's send-and-invalidate invalidated.
    pub invalidated: Option<u32>,
}

/// One side's queue pair and memory, seen by the session.
///
/// Buffers are small message buffers (receive or send, [`super::smb::MAX_MESSAGE`] bytes each)
/// and data slots (one file-sized buffer each; on the client, each slot has its own
/// fast-register MR).
pub trait Wire {
    /// Posts a receive into message buffer `buf` of the receive pool.
    ///
    /// # Errors
    ///
    /// The post was refused.
    fn post_receive(&mut self, buf: u32) -> Result<(), Fault>;

    /// Copies `msg` into send buffer `buf` and posts a send of it; with `invalidate`, a
    /// send-and-invalidate of the peer's token.
    ///
    /// # Errors
    ///
    /// The post was refused.
    fn send(&mut self, buf: u32, msg: &[u8], invalidate: Option<u32>) -> Result<(), Fault>;

    /// Posts a fast registration of data slot `slot` (its whole buffer, remote read and write)
    /// and answers the buffer's descriptor (the token is valid when this returns).
    ///
    /// # Errors
    ///
    /// The post was refused.
    fn fast_register(&mut self, slot: u32, length: u32) -> Result<Descriptor, Fault>;

    /// Posts a local invalidation of data slot `slot`'s registration: `Ok(true)` when a
    /// completion will follow, `Ok(false)` when there was nothing to invalidate (the slot's
    /// memory is not fast-registered) and the slot is free now.
    ///
    /// # Errors
    ///
    /// The post was refused.
    fn invalidate(&mut self, slot: u32) -> Result<bool, Fault>;

    /// Posts an RDMA write of data slot `slot` (first `to.length` bytes) to `to`.
    ///
    /// # Errors
    ///
    /// The post was refused.
    fn rdma_write(&mut self, slot: u32, to: Descriptor) -> Result<(), Fault>;

    /// Posts an RDMA read of `from` into data slot `slot`.
    ///
    /// # Errors
    ///
    /// The post was refused.
    fn rdma_read(&mut self, slot: u32, from: Descriptor) -> Result<(), Fault>;

    /// The first `len` bytes of receive buffer `buf`.
    fn received(&self, buf: u32, len: usize) -> Vec<u8>;

    /// Stamps data slot `slot` with a pattern derived from `seed` (a few sample spots over
    /// `length` bytes, so a transfer that skips or misplaces data is caught).
    fn stamp(&mut self, slot: u32, length: u32, seed: u64);

    /// Whether data slot `slot` carries the pattern of `seed`.
    fn check(&self, slot: u32, length: u32, seed: u64) -> bool;
}

/// Where [`Wire::stamp`] writes: start, middle and end of the transfer.
#[must_use]
pub fn stamp_spots(length: u32) -> [usize; 3] {
    let len = length as usize;
    let span = STAMP.min(len);
    [0, (len / 2).min(len - span), len - span]
}

/// Bytes written at each stamp spot.
pub const STAMP: usize = 16;

/// The pattern of `seed` at spot `i`.
#[must_use]
pub fn stamp_bytes(seed: u64, spot: usize) -> [u8; STAMP] {
    let mut out = [0; STAMP];
    let a = seed.rotate_left(17) ^ 0x9E37_79B9_7F4A_7C15 ^ (spot as u64);
    out[..8].copy_from_slice(&a.to_le_bytes());
    out[8..].copy_from_slice(&(!a).rotate_left(5).to_le_bytes());
    out
}
