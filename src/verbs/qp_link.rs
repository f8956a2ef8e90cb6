//! The QP's side of the connection manager: joining two QPs when a connection is established
//! and stopping a QP when it ends ([`crate::cm::QpLink`]).
//!
//! Owns nothing but the mapping onto [`connect_pair`] and [`Qp::flush`]. Called by the CM with
//! no CM lock held, while the calling connector holds a unit on the QP.
#![deny(unsafe_code)]

use crate::abi::NTSTATUS;
use crate::cm::{QpLink, ReadLimits};
use crate::sync::Arc;

use super::qp::{Qp, connect_pair};

impl QpLink for Qp {
    fn connect(
        this: &Arc<Self>,
        peer: &Arc<Self>,
        own: ReadLimits,
        _peer_limits: ReadLimits,
    ) -> Result<(), NTSTATUS> {
        // `connect_pair` gives the peer the mirror image of `own` (its ORD = our IRD, its IRD =
        // our ORD), which is what negotiation computed for it (`cm::negotiate`).
        connect_pair(this, peer, own.outbound, own.inbound)
    }

    fn stop_and_flush(&self) {
        // Flushing runs under the QP's connection lock, which every execution pass holds: when
        // it returns the endpoint is in error, no pass of this QP runs, and every outstanding
        // request has completed `STATUS_CANCELLED` into its CQ.
        self.flush();
    }
}
