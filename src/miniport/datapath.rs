//! Ethernet data-path trampolines: `MiniportSendNetBufferLists`,
//! `MiniportReturnNetBufferLists`, `MiniportCancelSend` (all <= `DISPATCH_LEVEL`).
//!
//! First step of the data path: every NBL is completed at once — `NDIS_STATUS_SUCCESS`
//! while running (the frames go nowhere until the hub between adapters lands),
//! `NDIS_STATUS_PAUSED` otherwise. Nothing is queued, so cancel finds nothing, and no
//! receive is indicated, so no NBL comes back.
//! Must never: wait or allocate on this path.
#![allow(unsafe_code)]
// NDIS entry points are only ever called through pointers; the empty ones gain nothing from
// being `const`.
#![allow(clippy::missing_const_for_fn)]

use core::ffi::c_void;

use crate::sys::ffi::{NdisMPauseComplete, NdisMSendNetBufferListsComplete};
use crate::sys::ndis::{
    NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL, NDIS_SEND_FLAGS_DISPATCH_LEVEL, NET_BUFFER,
    NET_BUFFER_LIST,
};
use crate::sys::{NDIS_HANDLE, NDIS_PORT_NUMBER, NDIS_STATUS_PAUSED, NDIS_STATUS_SUCCESS};

use super::adapter::Adapter;
use super::state::SendEnd;

/// Counts the `NET_BUFFER`s (frames) of one NBL.
///
/// # Safety
/// `first` heads a valid `NET_BUFFER` chain owned by the caller for the duration.
unsafe fn frames_in(mut first: *mut NET_BUFFER) -> u64 {
    let mut frames = 0;
    while !first.is_null() {
        frames += 1;
        // SAFETY: non-null element of a valid chain per the contract.
        first = unsafe { (*first).Next };
    }
    frames
}

/// `MiniportSendNetBufferLists`: completes the whole chain before returning.
pub(super) unsafe extern "system" fn send_net_buffer_lists(
    context: NDIS_HANDLE,
    net_buffer_lists: *mut NET_BUFFER_LIST,
    _port: NDIS_PORT_NUMBER,
    send_flags: u32,
) {
    // SAFETY: NDIS passes the live context registered in initialize.
    let adapter = unsafe { Adapter::from_context(context) };
    let accepted = adapter.run.begin_send();
    let status = if accepted {
        NDIS_STATUS_SUCCESS
    } else {
        NDIS_STATUS_PAUSED
    };
    let mut frames = 0;
    let mut nbl = net_buffer_lists;
    while !nbl.is_null() {
        // SAFETY: the chain NDIS handed us is ours until completed; `nbl` is a non-null
        // element of it.
        let current = unsafe { &mut *nbl };
        current.Status = status;
        // SAFETY: the NBL's buffer chain is valid while we own the NBL.
        frames += unsafe { frames_in(current.FirstNetBuffer) };
        nbl = current.Next;
    }
    if accepted {
        adapter.counters.sent(frames);
    } else {
        adapter.counters.discarded(frames);
    }
    let complete_flags = if send_flags & NDIS_SEND_FLAGS_DISPATCH_LEVEL == 0 {
        0
    } else {
        NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL
    };
    if !net_buffer_lists.is_null() {
        // SAFETY: <= DISPATCH (send path); returns the whole chain NDIS gave us, each NBL
        // with its status set; the flag tells NDIS the current IRQL truthfully.
        unsafe {
            NdisMSendNetBufferListsComplete(adapter.handle, net_buffer_lists, complete_flags);
        }
    }
    if adapter.run.end_send() == SendEnd::CompletePause {
        // SAFETY: <= DISPATCH; the pause handler returned (or will return) PENDING and the
        // gate picked this send, alone, to complete it.
        unsafe { NdisMPauseComplete(adapter.handle) };
    }
}

/// `MiniportReturnNetBufferLists`: this adapter never indicates receives, so NDIS never
/// returns an NBL; nothing to recycle.
pub(super) unsafe extern "system" fn return_net_buffer_lists(
    _context: NDIS_HANDLE,
    _net_buffer_lists: *mut NET_BUFFER_LIST,
    _return_flags: u32,
) {
}

/// `MiniportCancelSend`: sends are completed before the send handler returns, so no queued
/// NBL can match a cancel ID.
pub(super) unsafe extern "system" fn cancel_send(_context: NDIS_HANDLE, _cancel_id: *mut c_void) {}
