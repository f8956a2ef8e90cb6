//! The NDK entry points NDIS calls on a consumer's behalf: `OpenNDKAdapterHandler` and
//! `CloseNDKAdapterHandler` (`PASSIVE_LEVEL`, `spec/ndis-miniport.md` §1.3).
//!
//! Pending the provider core and the `dispatch` layer, open validates its arguments and
//! the requested NDKPI version and then refuses with `NDIS_STATUS_ADAPTER_NOT_READY`; NDK is
//! reported disabled meanwhile (`config::NDK_PROVIDER_READY`), so NDIS does not even call it.
//! Must never: hand out an `NDK_ADAPTER` it cannot serve.
#![allow(unsafe_code)]
// NDIS entry points are only ever called through pointers; the empty ones gain nothing from
// being `const`.
#![allow(clippy::missing_const_for_fn)]

use crate::abi::{NDIS_OPEN_NDK_ADAPTER_PARAMETERS, NDK_ADAPTER, NDK_VERSION, negotiate_version};

use super::adapter::Adapter;
use super::config;

// Enabling NDK makes NDIS call `open_ndk_adapter`, which must then hand out a provider
// `NDK_ADAPTER` (`dispatch::open_adapter`, counted in `Adapter::ndk_instances`) instead of
// refusing. Remove this guard in the change that wires it.
const _: () = assert!(
    !config::NDK_PROVIDER_READY,
    "wire open_ndk_adapter/close_ndk_adapter to the provider before enabling NDK"
);
use crate::sys::{
    NDIS_HANDLE, NDIS_STATUS, NDIS_STATUS_ADAPTER_NOT_READY, NDIS_STATUS_INVALID_PARAMETER,
};

/// `OpenNDKAdapterHandler`: NDIS passes the adapter context it was given in the
/// registration attributes. Returns `INVALID_PARAMETER`, `BAD_VERSION` (from
/// `abi::negotiate_version`), `ADAPTER_NOT_READY` while NDK is off or being disabled, and
/// (until the provider core is wired in) `ADAPTER_NOT_READY` otherwise too.
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
    if let Err(status) = negotiate_version(requested) {
        return status;
    }
    // SAFETY: NDIS passes the context registered in initialize, live until halt (which waits
    // for every NDK instance to close).
    let adapter = unsafe { Adapter::from_context(adapter_context) };
    if !adapter.ndk.accepts_opens() {
        // NDK off, or a disable is being announced: refuse as NDIS itself would.
        return NDIS_STATUS_ADAPTER_NOT_READY;
    }
    NDIS_STATUS_ADAPTER_NOT_READY
}

/// `CloseNDKAdapterHandler`: closes an `NDK_ADAPTER` that open returned. Open never returns
/// one yet, so there is nothing to close.
pub(super) unsafe extern "system" fn close_ndk_adapter(
    _adapter_context: NDIS_HANDLE,
    _adapter: *mut NDK_ADAPTER,
) {
}
