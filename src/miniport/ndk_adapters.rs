//! The work of `OpenNDKAdapterHandler` and `CloseNDKAdapterHandler` (`spec/ndis-miniport.md`
//! §1.3), once the kernel trampolines in `ndk` have checked NDIS's arguments.
//!
//! Open an
//! `NDK_ADAPTER` with the provider ([`crate::dispatch::open_adapter`]) and register it in the
//! adapter's [`NdkInstances`]; close it ([`crate::dispatch::close_adapter`], blocking) and
//! unregister it. Compiled for the host too, so tests drive exactly what the handlers run.
//!
//! Must never: hand out an instance it has not registered (halt could not wait for it), close
//! an instance twice or one the provider did not hand out, or run at `DISPATCH_LEVEL`.
#![allow(unsafe_code)]

use crate::abi::{
    NDIS_STATUS, NDIS_STATUS_ADAPTER_NOT_READY, NDIS_STATUS_RESOURCES, NDK_ADAPTER, NDK_VERSION,
};
use crate::dispatch::{self, handle};
use crate::platform::Platform;
use crate::sync::Arc;
use crate::verbs;

use super::instances::NdkInstances;
use super::ndk_config::{self, NdkAdapterState};
use super::ndk_state::NdkAnnouncer;

/// Opens an `NDK_ADAPTER` at `requested` for a consumer of the adapter whose NDK state is
/// `ndk` and whose instances are `instances`, with the per-open `state`. PASSIVE.
///
/// # Errors
/// `NDIS_STATUS_ADAPTER_NOT_READY` while NDK is off or a disable is being announced;
/// `NDIS_STATUS_BAD_VERSION` from the provider's version negotiation
/// (`abi::negotiate_version`); `NDIS_STATUS_RESOURCES` when memory is short (nothing is left
/// open then).
pub fn open(
    ndk: &NdkAnnouncer,
    instances: &NdkInstances,
    platform: &Platform,
    state: &NdkAdapterState,
    requested: NDK_VERSION,
) -> Result<*mut NDK_ADAPTER, NDIS_STATUS> {
    if !ndk.accepts_opens() {
        // NDK off, or a disable is being announced: refuse as NDIS itself would.
        return Err(NDIS_STATUS_ADAPTER_NOT_READY);
    }
    let raw = dispatch::open_adapter(
        &ndk_config::ndk_adapter_config(state),
        platform.clone(),
        requested,
    )?;
    // SAFETY: `raw` was just returned by `open_adapter` and nobody else has it yet, so it is a
    // live adapter object that cannot be closed during this borrow.
    let borrowed = unsafe { handle::borrow::<verbs::Adapter>(raw) };
    let registered = borrowed.is_some_and(|adapter| instances.opened(Arc::clone(&adapter)).is_ok());
    if !registered {
        // SAFETY: `raw` came from `open_adapter`, is closed once here and never handed out. A
        // fresh adapter has no descendants, so the blocking close returns at once.
        unsafe { dispatch::close_adapter(raw) };
        return Err(NDIS_STATUS_RESOURCES);
    }
    Ok(raw)
}

/// Closes an `NDK_ADAPTER` that [`open`] returned.
///
/// Blocks until every descendant is closed and
/// every callback has returned, then unregisters it (halt may proceed once none is left). A
/// pointer that is not a registered instance, or one already closing, is ignored. Returns
/// whether this call closed an instance. PASSIVE.
///
/// # Safety
/// `adapter` is NULL, or a pointer [`open`] returned for `instances` that NDIS hands back for
/// the last time (NDIS's close contract), or one `instances` does not know.
#[allow(
    clippy::must_use_candidate,
    reason = "the close is the point; the answer only matters to the driver's timer"
)]
pub unsafe fn close(instances: &NdkInstances, adapter: *mut NDK_ADAPTER) -> bool {
    if !instances.begin_close(adapter) {
        return false;
    }
    // SAFETY: a registered instance (so `open_adapter` returned it) whose close begins here
    // exactly once (`begin_close` returned true for this caller only).
    unsafe { dispatch::close_adapter(adapter) };
    let unregistered = instances.closed(adapter);
    debug_assert!(unregistered.is_ok(), "begin_close marked it");
    true
}
