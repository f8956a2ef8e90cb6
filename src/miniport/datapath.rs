//! Ethernet data-path trampolines: `MiniportSendNetBufferLists`,
//! `MiniportReturnNetBufferLists`, `MiniportCancelSend` (all <= `DISPATCH_LEVEL`), and the
//! receive side of the hub: copying a frame into a receive buffer, the indication DPC, and
//! recycling returned NBLs.
//!
//! A send copies each frame to every other adapter on the hub that accepts it
//! ([`super::hubport::deliver`]) and completes the whole chain before returning — nothing is
//! queued, so cancel finds nothing. A delivered frame waits in a receive slot until the
//! receiver's indication DPC indicates it; indicating from a DPC rather than inside the
//! sender's call keeps a protocol that answers from its receive handler (ARP, TCP ACKs) from
//! recursing through two adapters' send and receive paths on one kernel stack.
//! Every send, delivery and receive buffer holds a unit of the adapter's
//! [`super::state::AdapterRun`]; the party releasing the last unit of a pausing adapter
//! completes the pause. Must never: wait, allocate, or hold a provider lock across an NDIS call.
#![allow(unsafe_code)]
// NDIS entry points are only ever called through pointers; the empty ones gain nothing from
// being `const`.
#![allow(clippy::missing_const_for_fn)]

use core::ffi::c_void;
use core::ptr::{self, null_mut};

use crate::platform::prelude::*;
use crate::platform::{Irql, current_irql};
use crate::sys::ffi::{
    NdisGetDataBuffer, NdisMIndicateReceiveNetBufferLists, NdisMPauseComplete,
    NdisMSendNetBufferListsComplete,
};
use crate::sys::nbl::{
    NDIS_DEFAULT_PORT_NUMBER, NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL,
    NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL, NDIS_SEND_FLAGS_DISPATCH_LEVEL, NET_BUFFER,
    NET_BUFFER_LIST,
};
use crate::sys::{
    NDIS_HANDLE, NDIS_PORT_NUMBER, NDIS_STATUS, NDIS_STATUS_INVALID_LENGTH, NDIS_STATUS_PAUSED,
    NDIS_STATUS_RESOURCES, NDIS_STATUS_SUCCESS,
};

use super::adapter::Adapter;
use super::hub::{self, MacAddress, SlotSet};
use super::state::Leave;
use super::{hubport, rx_indicate};

impl Adapter {
    /// Releases `units` data-path units; completes a pending pause if they were the last.
    /// After a completion the adapter may be halted at once, so callers touch it no more.
    fn release_units(&self, units: usize) {
        let handle = self.handle;
        if self.run.leave(units) == Leave::CompletePause {
            // SAFETY: <= DISPATCH; the pause returned PENDING and the gate picked this call,
            // alone, to complete it.
            unsafe { NdisMPauseComplete(handle) };
        }
    }

    /// Sends one frame into the hub.
    ///
    /// # Safety
    /// `nb` is a `NET_BUFFER` of an NBL the send handler owns; `IRQL <= DISPATCH_LEVEL`.
    unsafe fn transmit(&self, nb: *mut NET_BUFFER) -> Result<(), NDIS_STATUS> {
        // SAFETY: a valid NET_BUFFER per the contract.
        let len = unsafe { (*nb).DataLength } as usize;
        if !hub::frame_len_ok(len) {
            return Err(NDIS_STATUS_INVALID_LENGTH);
        }
        let mut dst: MacAddress = [0; 6];
        // SAFETY: `dst` is 6 writable bytes NDIS may copy into; the NB has at least 6 bytes.
        let header = unsafe { NdisGetDataBuffer(nb, 6, dst.as_mut_ptr().cast(), 1, 0) };
        if header.is_null() {
            return Err(NDIS_STATUS_RESOURCES);
        }
        if header.cast::<u8>() != dst.as_mut_ptr() {
            // SAFETY: NDIS returned 6 contiguous, mapped bytes of the frame.
            unsafe { ptr::copy_nonoverlapping(header.cast::<u8>(), dst.as_mut_ptr(), 6) };
        }
        // SAFETY: the contract covers `nb`; `len` is its data length.
        unsafe { hubport::deliver(self, nb, len, &dst) };
        Ok(())
    }

    /// Copies a frame into a free receive slot and queues the indication DPC; drops it (and
    /// counts it) when every slot is in use. Consumes the caller's delivery unit.
    ///
    /// # Safety
    /// The caller holds a delivery unit of this adapter ([`AdapterRun::begin_delivery`]
    /// returned true); `nb` is a `NET_BUFFER` with at least `len <= MAX_FRAME` data bytes that
    /// stays valid for the call; `IRQL <= DISPATCH_LEVEL`.
    ///
    /// [`AdapterRun::begin_delivery`]: super::state::AdapterRun::begin_delivery
    pub(super) unsafe fn receive_frame(&self, nb: *mut NET_BUFFER, len: usize) {
        let Some(slot) = self.rx.slots.take() else {
            self.counters.receive_no_buffer(1);
            self.release_units(1);
            return;
        };
        let buffer = self.rx.buffer(slot);
        let copied = u32::try_from(len).ok().is_some_and(|len32| {
            // SAFETY: `buffer` is the slot's `MAX_FRAME`-byte buffer, owned by this call
            // (taken above); NDIS copies into it only if the frame is not contiguous.
            let data = unsafe { NdisGetDataBuffer(nb, len32, buffer.cast(), 1, 0) };
            if !data.is_null() && data.cast::<u8>() != buffer {
                // SAFETY: `data` is `len` mapped bytes of the sender's frame; the slot buffer
                // holds `MAX_FRAME >= len` bytes and is a different allocation.
                unsafe { ptr::copy_nonoverlapping(data.cast::<u8>(), buffer, len) };
            }
            !data.is_null()
        });
        if !copied {
            let _ = self.rx.slots.give(slot);
            self.counters.receive_dropped(1);
            self.release_units(1);
            return;
        }
        let nbl = self.rx.nbl(slot);
        // SAFETY: the slot's NBL is owned by this call until published.
        let frame = unsafe { (*nbl).FirstNetBuffer };
        // SAFETY: the NBL's one NET_BUFFER describes the slot buffer, whose first `len` bytes
        // are now the frame.
        unsafe { (*frame).DataLength = u32::try_from(len).unwrap_or(0) };
        // The buffer gets its own unit (released when NDIS returns it) before it is
        // published; this delivery keeps its unit until the DPC is queued, so the adapter
        // cannot be halted under the `queue` call.
        self.run.hold();
        if self.rx.slots.publish(slot).is_ok() {
            self.rx_dpc.queue();
        }
        self.release_units(1);
    }

    /// The indication DPC: one [`rx_indicate::indicate_ready`] pass — indicates every ready
    /// slot while running, drops them otherwise — then completes a pause if the pass released
    /// the last unit.
    fn indicate_ready(&self) {
        let handle = self.handle;
        let (_, leave) = rx_indicate::indicate_ready(
            &self.run,
            &self.rx.slots,
            |dropped| self.counters.receive_dropped(dropped as u64),
            |ready| self.indicate(ready),
        );
        if leave == Leave::CompletePause {
            // SAFETY: <= DISPATCH (a DPC); the pause returned PENDING and the gate picked this
            // pass, alone, to complete it; the adapter is not touched afterwards.
            unsafe { NdisMPauseComplete(handle) };
        }
    }

    /// Chains the NBLs of `ready` (drained slots, owned by the caller) and indicates them in
    /// one call.
    fn indicate(&self, ready: SlotSet) {
        let mut head: *mut NET_BUFFER_LIST = null_mut();
        let mut count: u32 = 0;
        for slot in ready {
            let nbl = self.rx.nbl(slot);
            // SAFETY: drained slots are owned by this DPC until indicated; the NBL is the
            // ring's, valid and not referenced by anyone else.
            let nbl = unsafe { &mut *nbl };
            nbl.Next = head;
            nbl.SourceHandle = self.handle;
            nbl.Status = NDIS_STATUS_SUCCESS;
            head = nbl;
            count += 1;
        }
        self.counters.received(u64::from(count));
        let flags = if current_irql() == Irql::Dispatch {
            NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL
        } else {
            0
        };
        // SAFETY: <= DISPATCH (a DPC), stated truthfully in `flags`; `head` chains `count`
        // NBLs of this adapter, each holding a unit until NDIS returns it.
        unsafe {
            NdisMIndicateReceiveNetBufferLists(
                self.handle,
                head,
                NDIS_DEFAULT_PORT_NUMBER,
                count,
                flags,
            );
        }
    }
}

/// The indication DPC's work: the adapter it indicates for.
///
/// # Invariants
/// The DPC is queued only by a delivery holding a unit of the adapter, and halt flushes DPCs
/// (`KeFlushQueuedDpcs`) before freeing it, so the pointer is live whenever `run` runs.
pub(super) struct RxIndication(pub(super) ptr::NonNull<Adapter>);

// SAFETY: `Adapter` is shared between processors by design; the pointer is only dereferenced
// under the invariant above.
unsafe impl Send for RxIndication {}
// SAFETY: see `Send`.
unsafe impl Sync for RxIndication {}

impl crate::platform::DeferredWork for RxIndication {
    fn run(&self) {
        // SAFETY: live per the type invariant.
        unsafe { self.0.as_ref() }.indicate_ready();
    }
}

/// `MiniportSendNetBufferLists`: delivers every frame to the hub and completes the whole chain
/// before returning.
pub(super) unsafe extern "system" fn send_net_buffer_lists(
    context: NDIS_HANDLE,
    net_buffer_lists: *mut NET_BUFFER_LIST,
    _port: NDIS_PORT_NUMBER,
    send_flags: u32,
) {
    // SAFETY: NDIS passes the live context registered in initialize.
    let adapter = unsafe { Adapter::from_context(context) };
    let accepted = adapter.run.begin_send();
    let (mut sent, mut discarded) = (0, 0);
    let mut nbl = net_buffer_lists;
    while !nbl.is_null() {
        // SAFETY: the chain NDIS handed us is ours until completed; `nbl` is a non-null
        // element of it.
        let current = unsafe { &mut *nbl };
        let mut status = if accepted {
            NDIS_STATUS_SUCCESS
        } else {
            NDIS_STATUS_PAUSED
        };
        let mut nb = current.FirstNetBuffer;
        while !nb.is_null() {
            let result = if accepted {
                // SAFETY: the NBL's buffer chain is valid while we own the NBL; <= DISPATCH.
                unsafe { adapter.transmit(nb) }
            } else {
                Err(NDIS_STATUS_PAUSED)
            };
            match result {
                Ok(()) => sent += 1,
                Err(failure) => {
                    discarded += 1;
                    if status == NDIS_STATUS_SUCCESS {
                        status = failure;
                    }
                }
            }
            // SAFETY: as above.
            nb = unsafe { (*nb).Next };
        }
        current.Status = status;
        nbl = current.Next;
    }
    adapter.counters.sent(sent);
    adapter.counters.discarded(discarded);
    let complete_flags = if send_flags & NDIS_SEND_FLAGS_DISPATCH_LEVEL == 0 {
        0
    } else {
        NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL
    };
    if !net_buffer_lists.is_null() {
        // SAFETY: <= DISPATCH (send path); returns the whole chain NDIS gave us, each NBL
        // with its status set; the flag tells NDIS the current IRQL truthfully. Every copy of
        // its frames was made above, so nothing refers to them any more.
        unsafe {
            NdisMSendNetBufferListsComplete(adapter.handle, net_buffer_lists, complete_flags);
        }
    }
    adapter.release_units(1);
}

/// `MiniportReturnNetBufferLists`: NDIS gives back indicated receive NBLs; their slots become
/// free and their units are released (which may complete a pause).
pub(super) unsafe extern "system" fn return_net_buffer_lists(
    context: NDIS_HANDLE,
    net_buffer_lists: *mut NET_BUFFER_LIST,
    _return_flags: u32,
) {
    // SAFETY: NDIS passes the live context registered in initialize.
    let adapter = unsafe { Adapter::from_context(context) };
    let mut returned = 0;
    let mut nbl = net_buffer_lists;
    while !nbl.is_null() {
        // SAFETY: NDIS returns a chain of NBLs this adapter indicated; they are ours again.
        let next = unsafe { (*nbl).Next };
        if let Some(slot) = adapter.rx.slot_of(nbl) {
            // SAFETY: as above; unlink before the slot can be reused.
            unsafe { (*nbl).Next = null_mut() };
            if adapter.rx.slots.give(slot).is_ok() {
                returned += 1;
            }
        }
        nbl = next;
    }
    adapter.release_units(returned);
}

/// `MiniportCancelSend`: sends are completed before the send handler returns, so no queued
/// NBL can match a cancel ID.
pub(super) unsafe extern "system" fn cancel_send(_context: NDIS_HANDLE, _cancel_id: *mut c_void) {}
