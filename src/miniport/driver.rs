//! Driver-wide entry points: `DriverEntry`, `MiniportSetOptions`, `MiniportDriverUnload`.
//!
//! Owns the NDIS driver handle. Must never: hold adapter state (that lives in `adapter`).
#![allow(unsafe_code)]

use core::ffi::c_void;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, Ordering};

use crate::abi::{
    NDIS_NDK_PROVIDER_CHARACTERISTICS, NDIS_NDK_PROVIDER_CHARACTERISTICS_REVISION_1,
    NDIS_OBJECT_TYPE_NDK_PROVIDER_CHARACTERISTICS,
    NDIS_SIZEOF_NDK_PROVIDER_CHARACTERISTICS_REVISION_1,
};
use crate::sys::ffi::{
    NdisMDeregisterMiniportDriver, NdisMRegisterMiniportDriver, NdisSetOptionalHandlers,
};
use crate::sys::ndis::{
    NDIS_MINIPORT_DRIVER_CHARACTERISTICS, NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
    NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS,
    NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
};
use crate::sys::{
    DRIVER_OBJECT, NDIS_HANDLE, NDIS_OBJECT_HEADER, NDIS_STATUS, NDIS_STATUS_SUCCESS, NTSTATUS,
    STATUS_INSUFFICIENT_RESOURCES, UNICODE_STRING, object_header,
};

use super::config::{DRIVER_MAJOR, DRIVER_MINOR, NDIS_VERSION};
use super::{adapter, control, datapath, driver_fabric, ndk};

/// The handle `NdisMRegisterMiniportDriver` returned; null before registration and after
/// unload.
static DRIVER_HANDLE: AtomicPtr<c_void> = AtomicPtr::new(null_mut());

fn version_byte(part: u32) -> u8 {
    u8::try_from(part).unwrap_or(u8::MAX)
}

fn characteristics() -> NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
    NDIS_MINIPORT_DRIVER_CHARACTERISTICS {
        Header: object_header(
            NDIS_OBJECT_TYPE_MINIPORT_DRIVER_CHARACTERISTICS,
            NDIS_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
            NDIS_SIZEOF_MINIPORT_DRIVER_CHARACTERISTICS_REVISION_2,
        ),
        MajorNdisVersion: NDIS_VERSION.0,
        MinorNdisVersion: NDIS_VERSION.1,
        MajorDriverVersion: version_byte(DRIVER_MAJOR),
        MinorDriverVersion: version_byte(DRIVER_MINOR),
        Flags: 0,
        SetOptionsHandler: Some(set_options),
        InitializeHandlerEx: Some(adapter::initialize),
        HaltHandlerEx: Some(adapter::halt),
        UnloadHandler: Some(unload),
        PauseHandler: Some(adapter::pause),
        RestartHandler: Some(adapter::restart),
        OidRequestHandler: Some(control::oid_request),
        SendNetBufferListsHandler: Some(datapath::send_net_buffer_lists),
        ReturnNetBufferListsHandler: Some(datapath::return_net_buffer_lists),
        CancelSendHandler: Some(datapath::cancel_send),
        // A virtual adapter has nothing that can hang; NDIS's defaults apply.
        CheckForHangHandlerEx: None,
        ResetHandlerEx: None,
        DevicePnPEventNotifyHandler: Some(adapter::device_pnp_event_notify),
        ShutdownHandlerEx: Some(adapter::shutdown),
        CancelOidRequestHandler: Some(control::cancel_oid_request),
        DirectOidRequestHandler: Some(control::direct_oid_request),
        CancelDirectOidRequestHandler: Some(control::cancel_oid_request),
    }
}

/// `DriverEntry`: called once by the I/O manager at `PASSIVE_LEVEL` when the image loads.
/// Registers the miniport (NDIS calls [`set_options`] from inside the registration), then
/// creates the driver-wide fabric and its timer (`driver_fabric`). Returns the registration
/// status, or `STATUS_INSUFFICIENT_RESOURCES` when the fabric cannot be created; on failure
/// nothing is left registered.
///
/// # Safety
/// Called only by the kernel loader, with the driver object and registry path it owns.
// SAFETY: `DriverEntry` is the image's entry point (`/ENTRY:DriverEntry`); no other item in
// the image or its imports carries that name.
#[unsafe(export_name = "DriverEntry")]
pub unsafe extern "system" fn driver_entry(
    driver_object: *mut DRIVER_OBJECT,
    registry_path: *mut UNICODE_STRING,
) -> NTSTATUS {
    let mut characteristics = characteristics();
    let mut handle: NDIS_HANDLE = null_mut();
    // SAFETY: PASSIVE_LEVEL (DriverEntry); `driver_object` and `registry_path` are the
    // loader's; `characteristics` and `handle` are live locals NDIS reads/writes only for the
    // duration of the call (it copies the characteristics).
    let status = unsafe {
        NdisMRegisterMiniportDriver(
            driver_object,
            registry_path,
            null_mut(),
            &raw mut characteristics,
            &raw mut handle,
        )
    };
    if status != NDIS_STATUS_SUCCESS {
        return status;
    }
    // The fabric every adapter joins, and its timeout timer (which needs the driver handle).
    // SAFETY: PASSIVE; `handle` was just returned by the registration; called once.
    if unsafe { driver_fabric::create(handle) }.is_err() {
        // SAFETY: PASSIVE; a successful registration, deregistered once (never published).
        unsafe { NdisMDeregisterMiniportDriver(handle) };
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    DRIVER_HANDLE.store(handle, Ordering::Release);
    status
}

/// `MiniportSetOptions` (PASSIVE, inside `NdisMRegisterMiniportDriver`): registers the NDK
/// provider characteristics, which is what makes this miniport an NDK provider.
unsafe extern "system" fn set_options(
    driver_handle: NDIS_HANDLE,
    _driver_context: NDIS_HANDLE,
) -> NDIS_STATUS {
    let mut provider = NDIS_NDK_PROVIDER_CHARACTERISTICS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_NDK_PROVIDER_CHARACTERISTICS,
            NDIS_NDK_PROVIDER_CHARACTERISTICS_REVISION_1,
            NDIS_SIZEOF_NDK_PROVIDER_CHARACTERISTICS_REVISION_1,
        ),
        Flags: 0,
        OpenNDKAdapterHandler: ndk::open_ndk_adapter,
        CloseNDKAdapterHandler: ndk::close_ndk_adapter,
    };
    // SAFETY: PASSIVE_LEVEL; `driver_handle` is the handle NDIS passed to this handler;
    // `provider` is a live, fully initialised handler set that NDIS copies before returning.
    unsafe { NdisSetOptionalHandlers(driver_handle, (&raw mut provider).cast()) }
}

/// `MiniportDriverUnload` (PASSIVE): every adapter is already halted; free the fabric and its
/// timer, then deregister.
unsafe extern "system" fn unload(_driver_object: *mut DRIVER_OBJECT) {
    let handle = DRIVER_HANDLE.swap(null_mut(), Ordering::AcqRel);
    if !handle.is_null() {
        // SAFETY: PASSIVE; every adapter has halted (NDIS calls unload after the last halt),
        // and the swap makes this the only call.
        unsafe { driver_fabric::destroy() };
        // SAFETY: PASSIVE_LEVEL; `handle` came from a successful registration and the swap
        // guarantees it is deregistered once.
        unsafe { NdisMDeregisterMiniportDriver(handle) };
    }
}
