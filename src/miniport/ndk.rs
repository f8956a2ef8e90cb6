//! The NDK entry points NDIS calls on a consumer's behalf: `OpenNDKAdapterHandler` and
//! `CloseNDKAdapterHandler` (`PASSIVE_LEVEL`, `spec/ndis-miniport.md` §1.3).
//!
//! Trampolines only: check NDIS's pointers, read the requested version, draw the instance's
//! token secret, and hand over to [`super::ndk_adapters`] (which opens through
//! `dispatch::open_adapter`, counts the instance in the adapter's `NdkInstances`, and closes
//! through `dispatch::close_adapter`). Must never: hand out an `NDK_ADAPTER` it has not
//! registered, or hold logic of its own.
#![allow(unsafe_code)]

use crate::abi::{NDIS_OPEN_NDK_ADAPTER_PARAMETERS, NDK_ADAPTER, NDK_VERSION};
use crate::platform::prelude::*;
use crate::sys::ffi::KeQueryPerformanceCounter;
use crate::sys::{NDIS_HANDLE, NDIS_STATUS, NDIS_STATUS_INVALID_PARAMETER, NDIS_STATUS_SUCCESS};

use super::adapter::Adapter;
use super::driver_fabric;
use super::ndk_adapters;
use super::ndk_config::{self, NdkAdapterState};

/// The per-open state of a new instance of `adapter`: a token secret from the performance
/// counter, the interrupt time, the adapter's address and its open number
/// ([`ndk_config::token_secret`]), and the driver-wide fabric bound to the adapter's id with
/// its current addresses.
fn open_state(adapter: &Adapter) -> NdkAdapterState {
    // SAFETY: callable at any IRQL; a null frequency pointer asks for the counter only.
    let counter = unsafe { KeQueryPerformanceCounter(core::ptr::null_mut()) };
    NdkAdapterState {
        token_secret: ndk_config::token_secret(
            counter.cast_unsigned(),
            adapter.platform.now().as_nanos(),
            core::ptr::from_ref(adapter).addr(),
            adapter.ndk_instances.next_open_number(),
        ),
        fabric: Some(adapter.fabric_port.fabric().clone()),
        addresses: adapter.fabric_port.addresses(),
        misuse: adapter.verifier,
        pend: adapter.pend_requests,
    }
}

/// `OpenNDKAdapterHandler`: NDIS passes the adapter context it was given in the
/// registration attributes. Returns `INVALID_PARAMETER` for NULL pointers,
/// `ADAPTER_NOT_READY` while NDK is off or being disabled, `BAD_VERSION` (provider
/// negotiation), `RESOURCES`, or `SUCCESS` with a new instance in `*adapter_out`.
pub(super) unsafe extern "system" fn open_ndk_adapter(
    adapter_context: NDIS_HANDLE,
    parameters: *mut NDIS_OPEN_NDK_ADAPTER_PARAMETERS,
    adapter_out: *mut *mut NDK_ADAPTER,
) -> NDIS_STATUS {
    if parameters.is_null() || adapter_out.is_null() {
        return NDIS_STATUS_INVALID_PARAMETER;
    }
    // A 6.30 miniport is handed only `Version` (the 6.50 fields may be absent): read that
    // field alone, never the whole structure.
    let version = parameters.cast::<NDK_VERSION>();
    // SAFETY: non-null per the check above; `Version` is the first field, which NDIS passes
    // valid for the call in every NDIS version.
    let requested = unsafe { version.read() };
    // SAFETY: NDIS passes the context registered in initialize, live until halt (which waits
    // for every NDK instance to close).
    let adapter = unsafe { Adapter::from_context(adapter_context) };
    let state = open_state(adapter);
    match ndk_adapters::open(
        &adapter.ndk,
        &adapter.ndk_instances,
        &adapter.platform,
        &state,
        requested,
    ) {
        Ok(instance) => {
            // The fabric's timeout timer runs while any instance is open.
            driver_fabric::instance_opened();
            // SAFETY: non-null per the check above; NDIS's out-parameter for this call.
            unsafe { adapter_out.write(instance) };
            NDIS_STATUS_SUCCESS
        }
        Err(status) => status,
    }
}

/// `CloseNDKAdapterHandler`: closes an `NDK_ADAPTER` that open returned, blocking until every
/// object descended from it is closed and every callback has returned; the adapter's
/// instance count drops afterwards. Pointers it never handed out are ignored.
pub(super) unsafe extern "system" fn close_ndk_adapter(
    adapter_context: NDIS_HANDLE,
    instance: *mut NDK_ADAPTER,
) {
    // SAFETY: NDIS passes the live context registered in initialize (halt waits for this
    // close to finish before freeing it).
    let adapter = unsafe { Adapter::from_context(adapter_context) };
    // SAFETY: NDIS hands back an instance this adapter's open returned, for the last time;
    // anything else is not registered and is ignored.
    if unsafe { ndk_adapters::close(&adapter.ndk_instances, instance) } {
        driver_fabric::instance_closed();
    }
}
