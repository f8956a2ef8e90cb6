//! OID trampolines: `MiniportOidRequest`, `MiniportDirectOidRequest` and their cancel
//! handlers. Turn an `NDIS_OID_REQUEST` into a call of [`super::oid`] and write the byte
//! counts back. Every request completes synchronously; none is ever pended, so cancels find
//! nothing to cancel.
#![allow(unsafe_code)]
// NDIS entry points are only ever called through pointers; the empty ones gain nothing from
// being `const`.
#![allow(clippy::missing_const_for_fn)]

use core::ffi::c_void;

use crate::sys::ndis::{NDIS_OID_REQUEST, NDIS_OID_REQUEST_QUERY_SET, request_type};
use crate::sys::{
    NDIS_HANDLE, NDIS_STATUS, NDIS_STATUS_INVALID_PARAMETER, NDIS_STATUS_NOT_SUPPORTED,
    NDIS_STATUS_RESOURCES, NDIS_STATUS_SUCCESS,
};

use crate::platform::prelude::*;

use super::adapter::Adapter;
use super::counters::CounterSnapshot;
use super::ndk_lists::NdkLists;
use super::oid::{self, OidOutcome};
use super::{hubport, ndk_events};
use crate::sys::oid::{
    OID_GEN_NETWORK_LAYER_ADDRESSES, OID_NDK_CONNECTIONS, OID_NDK_LOCAL_ENDPOINTS,
};

/// The caller's information buffer as a byte slice (empty when NULL or zero-length).
///
/// # Safety
/// When non-null, `buffer` must be valid for reads and writes of `length` bytes for `'a`
/// and not otherwise accessed meanwhile; NDIS guarantees this for an OID request's buffer
/// until the request completes.
unsafe fn information_buffer<'a>(buffer: *mut c_void, length: u32) -> &'a mut [u8] {
    if buffer.is_null() || length == 0 {
        return &mut [];
    }
    let length = usize::try_from(length).unwrap_or(0);
    // SAFETY: per this function's contract.
    unsafe { core::slice::from_raw_parts_mut(buffer.cast::<u8>(), length) }
}

/// The adapter's Ethernet counters and the NDK counters of its open and closed instances
/// (lock-free reads plus one short spin-lock hold; any IRQL up to DISPATCH).
fn counters(adapter: &Adapter) -> CounterSnapshot {
    adapter
        .counters
        .snapshot()
        .with_ndk(&adapter.ndk_instances.stats())
}

const fn record(data: &mut NDIS_OID_REQUEST_QUERY_SET, outcome: OidOutcome) -> NDIS_STATUS {
    data.BytesWrittenOrRead = outcome.bytes_done;
    data.BytesNeeded = outcome.bytes_needed;
    outcome.status
}

/// `MiniportOidRequest` (PASSIVE, serialized per adapter by NDIS).
pub(super) unsafe extern "system" fn oid_request(
    context: NDIS_HANDLE,
    request: *mut NDIS_OID_REQUEST,
) -> NDIS_STATUS {
    if request.is_null() {
        return NDIS_STATUS_INVALID_PARAMETER;
    }
    // SAFETY: NDIS passes the live context registered in initialize.
    let adapter = unsafe { Adapter::from_context(context) };
    // SAFETY: non-null; NDIS owns the request and lends it to us until we return.
    let request = unsafe { &mut *request };
    let kind = request.RequestType;
    // SAFETY: for query and set requests NDIS fills the QUERY/SET arm of the union; other
    // request types are refused below before this view is used.
    let data = unsafe { &mut request.DATA.QUERY_SET };
    // SAFETY: NDIS guarantees the request's buffer for its length until completion.
    let buffer =
        unsafe { information_buffer(data.InformationBuffer, data.InformationBufferLength) };
    let outcome = match kind {
        request_type::QUERY_INFORMATION | request_type::QUERY_STATISTICS => {
            let state = adapter.oid_snapshot();
            let counters = counters(adapter);
            if matches!(data.Oid, OID_NDK_CONNECTIONS | OID_NDK_LOCAL_ENDPOINTS) {
                adapter
                    .fabric_port
                    .with_lists(|lists| oid::query(data.Oid, buffer, &state, &counters, lists))
                    .unwrap_or_else(|_| OidOutcome::status(NDIS_STATUS_RESOURCES))
            } else {
                oid::query(data.Oid, buffer, &state, &counters, &NdkLists::EMPTY)
            }
        }
        request_type::SET_INFORMATION => {
            // Regular OIDs are serialized by NDIS, so no other set can change the state
            // between the copy and the write-back; readers see the old or the new state.
            let mut state = adapter.oid_snapshot();
            let outcome = oid::set(data.Oid, buffer, &mut state);
            let addresses = state.addresses;
            *adapter.oid_state.lock() = state;
            // The hub filters on the packet filter, MAC and multicast list just set.
            hubport::update_filter(adapter);
            // The adapter's addresses go to the fabric (PASSIVE here; no OID lock held). Open
            // NDK instances share the adapter's fabric id, so one update reaches all of them.
            if data.Oid == OID_GEN_NETWORK_LAYER_ADDRESSES && outcome.status == NDIS_STATUS_SUCCESS
            {
                let _registered = adapter.fabric_port.sync(&addresses);
            }
            // OID_NDK_SET_STATE completes now; a needed announcement runs on the work item
            // (NdisMNetPnPEvent must never be called from inside this handler).
            if let Some(enable) = outcome.ndk_request
                && adapter.ndk.request(enable)
            {
                ndk_events::queue_worker(adapter);
            }
            outcome
        }
        _ => return NDIS_STATUS_NOT_SUPPORTED,
    };
    record(data, outcome)
}

/// `MiniportDirectOidRequest` (<= DISPATCH, concurrent with everything): only
/// `OID_NDK_STATISTICS` queries, answered from counter snapshots (the provider's statistics
/// summed over the adapter's instances under the instance-registry spin lock).
pub(super) unsafe extern "system" fn direct_oid_request(
    context: NDIS_HANDLE,
    request: *mut NDIS_OID_REQUEST,
) -> NDIS_STATUS {
    if request.is_null() {
        return NDIS_STATUS_INVALID_PARAMETER;
    }
    // SAFETY: NDIS passes the live context registered in initialize.
    let adapter = unsafe { Adapter::from_context(context) };
    // SAFETY: non-null; NDIS lends the request until we return.
    let request = unsafe { &mut *request };
    if request.RequestType != request_type::QUERY_INFORMATION {
        return NDIS_STATUS_NOT_SUPPORTED;
    }
    // SAFETY: a query request: NDIS filled the QUERY arm of the union.
    let data = unsafe { &mut request.DATA.QUERY_SET };
    // SAFETY: NDIS guarantees the request's buffer for its length until completion.
    let buffer =
        unsafe { information_buffer(data.InformationBuffer, data.InformationBufferLength) };
    let outcome = oid::direct_query(data.Oid, buffer, &counters(adapter));
    record(data, outcome)
}

/// `MiniportCancelOidRequest` / `MiniportCancelDirectOidRequest` (<= DISPATCH): no request
/// is ever pended, so there is nothing to cancel.
pub(super) unsafe extern "system" fn cancel_oid_request(
    _context: NDIS_HANDLE,
    _request_id: *mut c_void,
) {
}
