//! The driver-wide Ethernet hub (kernel half): the table of attached adapters behind one spin
//! lock, and the delivery of a sent frame to every other adapter whose filter accepts it.
//!
//! Routing and filtering are [`super::hub`]'s pure logic; this module owns the `static` table,
//! what keeps a receiver alive (an adapter is in the table from the end of a successful
//! `MiniportInitializeEx` until the start of `MiniportHaltEx`, and the table is only read
//! under its lock; a delivery then holds a unit of the receiver's [`super::state::AdapterRun`],
//! which keeps its pause — and therefore its halt — from completing) and the order of calls:
//! nothing NDIS-visible happens under the hub lock. Must never: call NDIS or copy frames with
//! the hub lock held, or touch a receiver after releasing its last unit.
#![allow(unsafe_code)]

use core::ptr::{NonNull, null_mut};

use crate::platform::prelude::*;
use crate::platform::{LockLevel, SpinLock};
use crate::sys::NDIS_HANDLE;
use crate::sys::ffi::NdisMPauseComplete;
use crate::sys::nbl::NET_BUFFER;

use super::adapter::Adapter;
use super::hub::{HubFull, MAX_PORTS, MacAddress, PortId, Ports, RxFilter};
use super::state::Leave;

/// Level of the hub lock: taken alone (after the OID-state lock is released).
const HUB_LOCK_LEVEL: LockLevel = LockLevel::new(2);

/// A pointer to an attached adapter.
///
/// # Invariants
/// Points at a live `Adapter` for as long as it is in [`HUB`] (halt detaches it before freeing).
#[derive(Clone, Copy, Debug)]
struct AdapterRef(NonNull<Adapter>);

// SAFETY: `Adapter` is shared between processors by design (every field synchronises itself);
// the pointer is only dereferenced under the invariant above.
unsafe impl Send for AdapterRef {}

/// Every attached adapter and its receive filter.
static HUB: SpinLock<Ports<AdapterRef, MAX_PORTS>> =
    SpinLock::new_static(HUB_LOCK_LEVEL, Ports::new());

/// Attaches `adapter` (end of a successful initialize) with the filter its OID state gives.
///
/// # Errors
/// [`HubFull`]: initialize then fails with `NDIS_STATUS_RESOURCES`.
pub(super) fn attach(adapter: &Adapter) -> Result<PortId, HubFull> {
    let filter = RxFilter::from_oid_state(&adapter.oid_snapshot());
    let peer = AdapterRef(NonNull::from(adapter));
    let port = HUB.lock().attach(peer, filter)?;
    adapter.set_port(Some(port));
    Ok(port)
}

/// Detaches `adapter` (start of halt); no sender can reach it afterwards.
pub(super) fn detach(adapter: &Adapter) {
    if let Some(port) = adapter.port() {
        HUB.lock().detach(port);
        adapter.set_port(None);
    }
}

/// Installs `adapter`'s current filter (after an OID set).
pub(super) fn update_filter(adapter: &Adapter) {
    let filter = RxFilter::from_oid_state(&adapter.oid_snapshot());
    if let Some(port) = adapter.port() {
        HUB.lock().set_filter(port, filter);
    }
}

/// Copies the frame in `nb` (`len` bytes, destination `dst`) to every other attached adapter
/// that accepts it. Frames for a receiver that is not running are counted as its discards.
/// Returns when every copy is made (the send may then be completed).
///
/// # Safety
/// `nb` is a `NET_BUFFER` of an NBL the caller (the send handler of `from`) owns, with at least
/// `len` bytes of data; `IRQL <= DISPATCH_LEVEL`.
pub(super) unsafe fn deliver(from: &Adapter, nb: *mut NET_BUFFER, len: usize, dst: &MacAddress) {
    let Some(port) = from.port() else {
        return;
    };
    let mut targets = [None::<AdapterRef>; MAX_PORTS];
    let mut pause_completions: [NDIS_HANDLE; MAX_PORTS] = [null_mut(); MAX_PORTS];
    let mut completions = 0;
    {
        let ports = HUB.lock();
        for (target, peer) in targets.iter_mut().zip(ports.receivers(port, dst)) {
            // SAFETY: attached, so alive while the hub lock is held (`AdapterRef` invariant).
            let rx = unsafe { peer.0.as_ref() };
            if rx.run.begin_delivery() {
                *target = Some(*peer);
            } else {
                rx.counters.receive_dropped(1);
                if rx.run.leave(1) == Leave::CompletePause {
                    pause_completions[completions] = rx.handle;
                    completions += 1;
                }
            }
        }
    }
    for &handle in &pause_completions[..completions] {
        // SAFETY: <= DISPATCH; that adapter's pause returned PENDING and the gate picked this
        // call, alone, to complete it. Only the handle is used: the adapter may be halted next.
        unsafe { NdisMPauseComplete(handle) };
    }
    for peer in targets.iter().flatten() {
        // SAFETY: the delivery unit taken under the lock keeps the receiver's pause, hence its
        // halt, from completing until `receive_frame` releases it.
        let rx = unsafe { peer.0.as_ref() };
        // SAFETY: this call holds that delivery unit; the caller's contract covers `nb` and
        // `len` (at most `MAX_FRAME`, checked by the send path).
        unsafe { rx.receive_frame(nb, len) };
    }
}
