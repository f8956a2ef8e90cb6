//! Functions imported from `ntoskrnl.exe` and `ndis.sys` (Windows kernel build only).
//!
//! Linked with `raw-dylib` and `+verbatim` so no import library (and no WDK) is needed: the
//! DLL names are taken literally, which keeps `ndis.sys` from becoming `ndis.sys.dll`.
//! Every function declared here is called somewhere; `cargo xtask check-sys` reads these
//! blocks to learn which imports the image may contain, so a name missing here fails the
//! image check and an unused one is dead weight to remove.
//!
//! Callers prove each function's documented contract (IRQL, pointer validity) at the call.

use core::ffi::c_void;

use super::ndis::{
    NDIS_CONFIGURATION_OBJECT, NDIS_CONFIGURATION_PARAMETER, NDIS_MINIPORT_DRIVER_CHARACTERISTICS,
    NDIS_STRING, NET_BUFFER_LIST,
};
use super::{DRIVER_OBJECT, NDIS_HANDLE, NDIS_STATUS, UNICODE_STRING};

#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    /// Allocates pool (zeroed unless `POOL_FLAG_UNINITIALIZED`); `IRQL <= DISPATCH_LEVEL`
    /// for non-paged pool. Null on failure.
    pub fn ExAllocatePool2(Flags: u64, NumberOfBytes: usize, Tag: u32) -> *mut c_void;
    /// Frees a block `ExAllocatePool2` returned with the same tag; `IRQL <= DISPATCH_LEVEL`.
    pub fn ExFreePoolWithTag(P: *mut c_void, Tag: u32);
    /// Stops the system with a bug check; any IRQL; never returns.
    pub fn KeBugCheckEx(
        BugCheckCode: u32,
        BugCheckParameter1: usize,
        BugCheckParameter2: usize,
        BugCheckParameter3: usize,
        BugCheckParameter4: usize,
    ) -> !;
}

#[link(name = "ndis.sys", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    /// Registers the miniport driver; PASSIVE, from `DriverEntry`.
    pub fn NdisMRegisterMiniportDriver(
        DriverObject: *mut DRIVER_OBJECT,
        RegistryPath: *mut UNICODE_STRING,
        MiniportDriverContext: NDIS_HANDLE,
        MiniportDriverCharacteristics: *mut NDIS_MINIPORT_DRIVER_CHARACTERISTICS,
        NdisMiniportDriverHandle: *mut NDIS_HANDLE,
    ) -> NDIS_STATUS;
    /// Undoes `NdisMRegisterMiniportDriver`; PASSIVE, from the unload handler.
    pub fn NdisMDeregisterMiniportDriver(NdisMiniportDriverHandle: NDIS_HANDLE);
    /// Registers an optional handler set (NDK provider characteristics); PASSIVE, from
    /// `MiniportSetOptions`.
    pub fn NdisSetOptionalHandlers(
        NdisHandle: NDIS_HANDLE,
        OptionalHandlers: *mut c_void,
    ) -> NDIS_STATUS;
    /// Reports one attribute structure; PASSIVE, from `MiniportInitializeEx`.
    pub fn NdisMSetMiniportAttributes(
        NdisMiniportHandle: NDIS_HANDLE,
        MiniportAttributes: *mut c_void,
    ) -> NDIS_STATUS;
    /// Returns sent NBLs to NDIS; `IRQL <= DISPATCH_LEVEL`.
    pub fn NdisMSendNetBufferListsComplete(
        MiniportAdapterHandle: NDIS_HANDLE,
        NetBufferList: *mut NET_BUFFER_LIST,
        SendCompleteFlags: u32,
    );
    /// Completes a pause that returned `NDIS_STATUS_PENDING`; `IRQL <= DISPATCH_LEVEL`.
    pub fn NdisMPauseComplete(MiniportAdapterHandle: NDIS_HANDLE);
    /// Opens the adapter's registry configuration; PASSIVE.
    pub fn NdisOpenConfigurationEx(
        ConfigObject: *mut NDIS_CONFIGURATION_OBJECT,
        ConfigurationHandle: *mut NDIS_HANDLE,
    ) -> NDIS_STATUS;
    /// Reads one keyword; the returned parameter lives until the configuration is closed.
    /// PASSIVE.
    pub fn NdisReadConfiguration(
        Status: *mut NDIS_STATUS,
        ParameterValue: *mut *mut NDIS_CONFIGURATION_PARAMETER,
        ConfigurationHandle: NDIS_HANDLE,
        Keyword: *mut NDIS_STRING,
        ParameterType: u32,
    );
    /// Closes a configuration handle; PASSIVE.
    pub fn NdisCloseConfiguration(ConfigurationHandle: NDIS_HANDLE);
}
