//! What two sides agree on when a connection is established: read limits (IRD/ORD) and the
//! private data each side sends.
//!
//! Owns the negotiation rule of `spec/ndkpi.md` §6.10 and the `NdkGetConnectionData`
//! private-data protocol of §2.9. Pure values: no allocation (private data lives in a fixed
//! inline buffer), no locks.
#![deny(unsafe_code)]

use crate::abi::{NTSTATUS, STATUS_BUFFER_TOO_SMALL, STATUS_INVALID_BUFFER_SIZE, STATUS_SUCCESS};

/// Read limits of one side of a connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadLimits {
    /// Inbound read limit (IRD): RDMA reads the peer may have in flight against this side.
    pub inbound: u32,
    /// Outbound read limit (ORD): RDMA reads this side may have in flight.
    pub outbound: u32,
}

impl ReadLimits {
    /// Limits with the given IRD and ORD.
    #[must_use]
    pub const fn new(inbound: u32, outbound: u32) -> Self {
        Self { inbound, outbound }
    }

    /// The request capped at an adapter's maxima: what a side can actually offer its peer.
    #[must_use]
    pub fn capped(self, max: Self) -> Self {
        Self {
            inbound: self.inbound.min(max.inbound),
            outbound: self.outbound.min(max.outbound),
        }
    }

    /// The effective limits of a side that asked for `self`, on an adapter allowing `max`,
    /// connected to a peer offering `peer`: IRD = min(own IRD, max IRD, peer's ORD),
    /// ORD = min(own ORD, max ORD, peer's IRD) (`spec/ndkpi.md` §6.10).
    ///
    /// `peer` must be the peer's request already [capped](Self::capped) at *its* adapter's
    /// maxima; then one side's effective ORD always equals the other's effective IRD, so no
    /// side issues more reads than its peer admits.
    #[must_use]
    pub fn negotiate(self, max: Self, peer: Self) -> Self {
        Self {
            inbound: self.inbound.min(max.inbound).min(peer.outbound),
            outbound: self.outbound.min(max.outbound).min(peer.inbound),
        }
    }
}

/// The connection-manager limits of an adapter (from its `NDK_ADAPTER_INFO`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CmLimits {
    /// `MaxInboundReadLimit` and `MaxOutboundReadLimit`.
    pub max_read: ReadLimits,
    /// `MaxCallerData`: private data on `NdkConnect`.
    pub max_caller_data: u32,
    /// `MaxCalleeData`: private data on `NdkAccept`/`NdkReject`.
    pub max_callee_data: u32,
}

impl CmLimits {
    /// Limits with caller/callee data capped at [`MAX_PRIVATE_DATA`].
    #[must_use]
    pub fn new(max_read: ReadLimits, on_connect: u32, on_accept: u32) -> Self {
        let cap = u32::try_from(MAX_PRIVATE_DATA).unwrap_or(u32::MAX);
        Self {
            max_read,
            max_caller_data: on_connect.min(cap),
            max_callee_data: on_accept.min(cap),
        }
    }
}

/// The most private data any adapter may advertise (bytes); what [`PrivateData`] holds inline.
pub const MAX_PRIVATE_DATA: usize = 256;

/// Private data sent with a connect, accept or reject, held inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PrivateData {
    len: u16,
    bytes: [u8; MAX_PRIVATE_DATA],
}

impl core::fmt::Debug for PrivateData {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PrivateData")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Default for PrivateData {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl PrivateData {
    /// No data.
    pub const EMPTY: Self = Self {
        len: 0,
        bytes: [0; MAX_PRIVATE_DATA],
    };

    /// Copies `data`, which may be at most `max` bytes (the adapter's `MaxCallerData` or
    /// `MaxCalleeData`).
    ///
    /// # Errors
    ///
    /// `STATUS_INVALID_BUFFER_SIZE` when `data` is longer than `max` (or than
    /// [`MAX_PRIVATE_DATA`]).
    pub fn new(data: &[u8], max: u32) -> Result<Self, NTSTATUS> {
        let max = usize::try_from(max)
            .unwrap_or(usize::MAX)
            .min(MAX_PRIVATE_DATA);
        if data.len() > max {
            return Err(STATUS_INVALID_BUFFER_SIZE);
        }
        let mut bytes = [0; MAX_PRIVATE_DATA];
        bytes[..data.len()].copy_from_slice(data);
        Ok(Self {
            len: u16::try_from(data.len()).unwrap_or(u16::MAX),
            bytes,
        })
    }

    /// The data.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The `NdkGetConnectionData` protocol: the required size ("RDS") is the number of bytes
    /// the peer sent. With no buffer, report it (`STATUS_SUCCESS`); with a buffer, copy
    /// min(buffer, RDS) bytes and return `STATUS_SUCCESS` if it held everything, else
    /// `STATUS_BUFFER_TOO_SMALL`. The second value is RDS in every case.
    #[must_use]
    pub fn copy_out(&self, out: Option<&mut [u8]>) -> (NTSTATUS, u32) {
        let data = self.as_bytes();
        let rds = u32::from(self.len);
        out.map_or((STATUS_SUCCESS, rds), |buf| {
            let n = buf.len().min(data.len());
            buf[..n].copy_from_slice(&data[..n]);
            let status = if buf.len() >= data.len() {
                STATUS_SUCCESS
            } else {
                STATUS_BUFFER_TOO_SMALL
            };
            (status, rds)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_takes_the_minimum_of_request_adapter_and_peer() {
        let max = ReadLimits::new(16, 8);
        // (own request, peer request) -> own effective
        let table = [
            ((32, 32), (32, 32), (16, 8)), // adapter caps both
            ((4, 4), (32, 32), (4, 4)),    // own request is lowest
            ((32, 32), (2, 3), (3, 2)),    // peer's ORD caps our IRD, its IRD our ORD
            ((0, 32), (32, 0), (0, 8)),    // zero stays zero
            ((16, 8), (8, 16), (16, 8)),   // exact fit
        ];
        for (own, peer, want) in table {
            let got = ReadLimits::new(own.0, own.1).negotiate(max, ReadLimits::new(peer.0, peer.1));
            assert_eq!(
                got,
                ReadLimits::new(want.0, want.1),
                "own {own:?} peer {peer:?}"
            );
        }
    }

    #[test]
    fn capped_offers_make_both_sides_agree() {
        let (a_max, b_max) = (ReadLimits::new(4, 2), ReadLimits::new(16, 16));
        let (a, b) = (
            ReadLimits::new(8, 8).capped(a_max),
            ReadLimits::new(8, 8).capped(b_max),
        );
        let (ea, eb) = (a.negotiate(a_max, b), b.negotiate(b_max, a));
        assert_eq!((ea, eb), (ReadLimits::new(4, 2), ReadLimits::new(2, 4)));
        assert_eq!((ea.outbound, ea.inbound), (eb.inbound, eb.outbound));
    }

    #[test]
    fn private_data_is_bounded_and_copied_out_by_the_protocol() {
        assert_eq!(
            PrivateData::new(&[1; 57], 56).err(),
            Some(STATUS_INVALID_BUFFER_SIZE)
        );
        assert_eq!(
            PrivateData::new(&[1; MAX_PRIVATE_DATA + 1], u32::MAX).err(),
            Some(STATUS_INVALID_BUFFER_SIZE)
        );
        let pd = PrivateData::new(b"hello", 56).unwrap();
        assert_eq!(pd.copy_out(None), (STATUS_SUCCESS, 5));
        let mut small = [0; 3];
        assert_eq!(pd.copy_out(Some(&mut small)), (STATUS_BUFFER_TOO_SMALL, 5));
        assert_eq!(&small, b"hel");
        let mut big = [0; 8];
        assert_eq!(pd.copy_out(Some(&mut big)), (STATUS_SUCCESS, 5));
        assert_eq!(&big[..5], b"hello");
        assert_eq!(PrivateData::EMPTY.as_bytes(), b"");
    }

    #[test]
    fn limits_cap_private_data_at_the_inline_buffer() {
        let l = CmLimits::new(ReadLimits::new(1, 1), 10_000, 20);
        assert_eq!(l.max_caller_data, 256);
        assert_eq!(l.max_callee_data, 20);
    }
}
