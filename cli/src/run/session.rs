//! The SMB Direct session logic shared by both ends: credits, what a finished I/O reports, and
//! the parameters both ends agree on.
//!
//! Pure state: no NDK objects, no clock reads except the `Instant`s callers pass in.

use std::time::{Duration, Instant};

use super::smb::Command;

/// What the client and server are configured with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// Receives each side posts (its receive credits); also its number of send buffers.
    pub credits: u16,
    /// I/Os the client keeps in flight at most (data slots on each side).
    pub outstanding: u16,
    /// Bytes per READ/WRITE.
    pub io_size: u32,
}

/// SMB Direct credit accounting of one end.
///
/// A send needs a credit granted by the peer; every receive the end reposts is a credit it
/// grants with its next message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Credits {
    /// Sends this end may still make.
    pub send: u16,
    /// Receives reposted since this end's last message (granted with the next one).
    pub to_grant: u16,
}

impl Credits {
    /// Takes one send credit; `false` if none is left.
    pub const fn take_send(&mut self) -> bool {
        if self.send == 0 {
            return false;
        }
        self.send -= 1;
        true
    }

    /// The credits to grant in the message being sent now.
    pub const fn grant_now(&mut self) -> u16 {
        let g = self.to_grant;
        self.to_grant = 0;
        g
    }

    /// Adds credits the peer granted.
    pub const fn granted(&mut self, n: u16) {
        self.send = self.send.saturating_add(n);
    }
}

/// A finished client I/O.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finished {
    /// READ or WRITE.
    pub command: Command,
    /// Bytes moved by the RDMA transfer.
    pub bytes: u32,
    /// From the fast registration's post to the end of the invalidation.
    pub latency: Duration,
    /// Whether the reply's send-and-invalidate did the invalidation.
    pub remote_invalidate: bool,
}

/// A data slot's stamp seed for request `id` of a connection.
#[must_use]
pub const fn seed_of(connection: u64, id: u64) -> u64 {
    connection.wrapping_mul(0x1000_0000_01B3) ^ id
}

/// How often data is checked: every `VERIFY_EVERY`-th I/O of a connection (reading a whole
/// file-sized buffer back would double the copy work the run measures). The pattern is stamped
/// on every I/O.
pub const VERIFY_EVERY: u64 = 8;

/// Whether I/O `id` has its data checked.
#[must_use]
pub const fn verified(id: u64) -> bool {
    id % VERIFY_EVERY == 1
}

/// Time since `start`, at least 1 ns (histograms refuse zero).
#[must_use]
pub fn since(start: Instant, now: Instant) -> Duration {
    now.saturating_duration_since(start)
        .max(Duration::from_nanos(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_flow() {
        let mut c = Credits::default();
        assert!(!c.take_send());
        c.granted(2);
        assert!(c.take_send());
        assert!(c.take_send());
        assert!(!c.take_send());
        c.to_grant = 3;
        assert_eq!(c.grant_now(), 3);
        assert_eq!(c.grant_now(), 0);
    }
}
