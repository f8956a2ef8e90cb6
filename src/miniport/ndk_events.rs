//! NDK state announcements (kernel half): the NDIS I/O work item that calls
//! `NdisMNetPnPEvent(NetEventNDKEnable/NetEventNDKDisable)` at PASSIVE, outside any OID
//! request, for what [`super::ndk_state`] says must be announced.
//!
//! Owns the adapter's work item (allocated in initialize, freed with the adapter after halt has
//! waited for the worker to be idle). Must never: call `NdisMNetPnPEvent` from the OID handler,
//! queue the work item while it is pending (the state machine queues at most one worker), or
//! touch the adapter after the worker's last `next_announcement` returned `None`.
#![allow(unsafe_code)]

use core::ffi::c_void;
use core::ptr::null_mut;

use crate::sys::ffi::{
    NdisAllocateIoWorkItem, NdisFreeIoWorkItem, NdisMNetPnPEvent, NdisQueueIoWorkItem,
};
use crate::sys::ndis::NDIS_OBJECT_TYPE_DEFAULT;
use crate::sys::pnp::{
    NDIS_SIZEOF_NET_PNP_EVENT_NOTIFICATION_REVISION_1, NET_EVENT_NDK_DISABLE, NET_EVENT_NDK_ENABLE,
    NET_PNP_EVENT, NET_PNP_EVENT_NOTIFICATION, NET_PNP_EVENT_NOTIFICATION_REVISION_1,
};
use crate::sys::{NDIS_HANDLE, NDIS_STATUS, NDIS_STATUS_SUCCESS, object_header, status};

use super::adapter::Adapter;
use super::ndk_state::AnnounceResult;

/// `STATUS_INVALID_DEVICE_STATE`: NDIS's NDK flag already has the announced value.
const STATUS_INVALID_DEVICE_STATE: NDIS_STATUS = status(0xC000_0184);

/// The adapter's NDIS I/O work item.
///
/// # Invariants
/// `0` is a work item from `NdisAllocateIoWorkItem`, freed only by `drop`, which runs after
/// halt waited for the worker (`NdkAnnouncer::wait_idle`), so it is never queued then.
pub(super) struct IoWorkItem(NDIS_HANDLE);

// SAFETY: an NDIS handle, not tied to a thread; NDIS synchronises its use.
unsafe impl Send for IoWorkItem {}
// SAFETY: see `Send`; `&IoWorkItem` only queues it, which the state machine serialises.
unsafe impl Sync for IoWorkItem {}

impl IoWorkItem {
    /// A work item for adapter `handle`; `None` if NDIS cannot allocate one.
    ///
    /// # Safety
    /// `handle` is the miniport adapter handle; `IRQL <= DISPATCH_LEVEL`.
    pub(super) unsafe fn try_new(handle: NDIS_HANDLE) -> Option<Self> {
        // SAFETY: per this function's contract.
        let item = unsafe { NdisAllocateIoWorkItem(handle) };
        (!item.is_null()).then_some(Self(item))
    }
}

impl Drop for IoWorkItem {
    fn drop(&mut self) {
        // SAFETY: a work item from NdisAllocateIoWorkItem that is not queued (invariant).
        unsafe { NdisFreeIoWorkItem(self.0) };
    }
}

/// Queues the announcement worker for `adapter`; call only when
/// `NdkAnnouncer::request` returned true (so no worker is pending).
pub(super) fn queue_worker(adapter: &Adapter) {
    let context = core::ptr::from_ref(adapter).cast_mut().cast::<c_void>();
    // SAFETY: <= DISPATCH; the item is not queued (the state machine had no pending worker);
    // the adapter outlives the worker because halt waits for it to be idle before freeing.
    unsafe { NdisQueueIoWorkItem(adapter.ndk_work.0, announce, context) };
}

fn classify(result: NDIS_STATUS) -> AnnounceResult {
    if result == NDIS_STATUS_SUCCESS {
        AnnounceResult::Done
    } else if result == STATUS_INVALID_DEVICE_STATE {
        AnnounceResult::AlreadyInState
    } else {
        AnnounceResult::Failed
    }
}

/// `NdisMNetPnPEvent` with an NDK event: no buffer (an NDIS 6.30 miniport's rule, spec §1.8).
///
/// # Safety
/// PASSIVE, not inside an OID request; `handle` is the miniport adapter handle.
unsafe fn announce_one(handle: NDIS_HANDLE, enable: bool) -> NDIS_STATUS {
    let mut notification = NET_PNP_EVENT_NOTIFICATION {
        Header: object_header(
            NDIS_OBJECT_TYPE_DEFAULT,
            NET_PNP_EVENT_NOTIFICATION_REVISION_1,
            NDIS_SIZEOF_NET_PNP_EVENT_NOTIFICATION_REVISION_1,
        ),
        PortNumber: 0,
        NetPnPEvent: NET_PNP_EVENT {
            NetEvent: if enable {
                NET_EVENT_NDK_ENABLE
            } else {
                NET_EVENT_NDK_DISABLE
            },
            Buffer: null_mut(),
            BufferLength: 0,
            NdisReserved: [0; 4],
            TransportReserved: [0; 4],
            TdiReserved: [0; 4],
            TdiClientReserved: [0; 4],
        },
        Flags: 0,
        SwitchId: 0,
        VPortId: 0,
    };
    // SAFETY: per this function's contract; `notification` is a live local for the call
    // (a disable blocks here until every NDK_ADAPTER is closed, which needs nothing of ours).
    unsafe { NdisMNetPnPEvent(handle, &raw mut notification) }
}

/// The work item routine (PASSIVE): announce until NDIS's view equals the desired state.
unsafe extern "system" fn announce(context: *mut c_void, _item: NDIS_HANDLE) {
    // SAFETY: `queue_worker` passed the adapter, which halt keeps alive until the worker is
    // idle, i.e. until `next_announcement` below has returned `None`.
    let adapter = unsafe { &*context.cast_const().cast::<Adapter>() };
    while let Some(enable) = adapter.ndk.next_announcement() {
        // SAFETY: a work item runs at PASSIVE, outside any OID request.
        let result = unsafe { announce_one(adapter.handle, enable) };
        adapter.ndk.announced(enable, classify(result));
    }
}
