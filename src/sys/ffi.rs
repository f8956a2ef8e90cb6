//! Functions imported from `ntoskrnl.exe` and `ndis.sys` (Windows kernel build only).
//!
//! Linked with `raw-dylib` and `+verbatim` so no import library (and no WDK) is needed: the
//! DLL names are taken literally, which keeps `ndis.sys` from becoming `ndis.sys.dll`.
//! Every function declared here is called somewhere; `cargo xtask check-sys` reads these
//! blocks to learn which imports the image may contain, so a name missing here fails the
//! image check and an unused one is dead weight to remove.
//!
//! Callers prove each function's documented contract (IRQL, pointer validity) at the call.

use core::ffi::{c_char, c_void};

use super::ke::{KDEFERRED_ROUTINE, KDPC, KEVENT, KIRQL, KSPIN_LOCK, PROCESSOR_NUMBER};
use super::mm::MDL;
use super::nbl::{NET_BUFFER, NET_BUFFER_LIST, NET_BUFFER_LIST_POOL_PARAMETERS};
use super::ndis::{
    NDIS_CONFIGURATION_OBJECT, NDIS_CONFIGURATION_PARAMETER, NDIS_MINIPORT_DRIVER_CHARACTERISTICS,
    NDIS_STRING, NDIS_TIMER_CHARACTERISTICS,
};
use super::pnp::{NDIS_IO_WORKITEM_ROUTINE, NET_PNP_EVENT_NOTIFICATION};
use super::{
    BOOLEAN, DRIVER_OBJECT, NDIS_HANDLE, NDIS_PORT_NUMBER, NDIS_STATUS, NTSTATUS, UNICODE_STRING,
};

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

    // Spin locks (`platform::kernel::lock`). On x64 these are ntoskrnl exports (on x86 they
    // lived in hal.dll); `KeInitializeSpinLock` is an inline store of 0 and not imported.
    /// Raises to `DISPATCH_LEVEL` and acquires; returns the previous IRQL.
    /// `IRQL <= DISPATCH_LEVEL`; the lock must be resident.
    pub fn KeAcquireSpinLockRaiseToDpc(SpinLock: *mut KSPIN_LOCK) -> KIRQL;
    /// Releases and lowers to `NewIrql` (the value the acquisition returned).
    pub fn KeReleaseSpinLock(SpinLock: *mut KSPIN_LOCK, NewIrql: KIRQL);
    /// Acquires only if free; TRUE on success. Caller is at `DISPATCH_LEVEL`.
    pub fn KeTryToAcquireSpinLockAtDpcLevel(SpinLock: *mut KSPIN_LOCK) -> BOOLEAN;

    // DPCs (`platform::kernel::dpc`).
    /// Initialises a DPC object; any IRQL; `Dpc` resident and not queued.
    pub fn KeInitializeDpc(
        Dpc: *mut KDPC,
        DeferredRoutine: KDEFERRED_ROUTINE,
        DeferredContext: *mut c_void,
    );
    /// Queues the DPC on the current processor; FALSE if it was already queued.
    /// `IRQL <= HIGH_LEVEL`.
    pub fn KeInsertQueueDpc(
        Dpc: *mut KDPC,
        SystemArgument1: *mut c_void,
        SystemArgument2: *mut c_void,
    ) -> BOOLEAN;
    /// Removes a queued DPC; TRUE if it was queued (and now will not run). Any IRQL.
    pub fn KeRemoveQueueDpc(Dpc: *mut KDPC) -> BOOLEAN;
    /// Waits until every DPC queued so far on any processor has run; PASSIVE.
    pub fn KeFlushQueuedDpcs();

    // Events (`platform::kernel::event`).
    /// Initialises an event object; any IRQL; `Event` resident.
    pub fn KeInitializeEvent(Event: *mut KEVENT, Type: u32, State: BOOLEAN);
    /// Signals the event; returns its previous state. `IRQL <= DISPATCH_LEVEL` with
    /// `Wait == FALSE`.
    pub fn KeSetEvent(Event: *mut KEVENT, Increment: i32, Wait: BOOLEAN) -> i32;
    /// Clears the event; `IRQL <= DISPATCH_LEVEL`.
    pub fn KeClearEvent(Event: *mut KEVENT);
    /// The event's state (non-zero = signalled); any IRQL.
    pub fn KeReadStateEvent(Event: *mut KEVENT) -> i32;
    /// Waits for the object; `IRQL <= APC_LEVEL` with a non-zero timeout. `Timeout` is in
    /// 100 ns units, negative = relative; null = forever.
    pub fn KeWaitForSingleObject(
        Object: *mut c_void,
        WaitReason: u32,
        WaitMode: i8,
        Alertable: BOOLEAN,
        Timeout: *mut i64,
    ) -> NTSTATUS;

    // Registered memory (`platform::kernel::region`).
    /// What `MmGetSystemAddressForMdlSafe` calls when the MDL has no system mapping yet:
    /// maps locked pages; null on failure (with `BugCheckOnFailure == FALSE`).
    /// `IRQL <= DISPATCH_LEVEL` for `KernelMode`.
    pub fn MmMapLockedPagesSpecifyCache(
        MemoryDescriptorList: *mut MDL,
        AccessMode: i8,
        CacheType: u32,
        RequestedAddress: *mut c_void,
        BugCheckOnFailure: u32,
        Priority: u32,
    ) -> *mut c_void;

    // NDK token secrets (`miniport::ndk`).
    /// The performance counter (ticks since boot) and, if `PerformanceFrequency` is
    /// non-null, its frequency; any IRQL. Exported by ntoskrnl on x64 (by hal on x86).
    pub fn KeQueryPerformanceCounter(PerformanceFrequency: *mut i64) -> i64;

    // Stack probes: the compiler calls `__chkstk` (RAX = frame size) before a frame larger
    // than a page; the unoptimised kernel build has such frames (`Arc` of provider objects
    // built on the stack). Never called from Rust: declared so the linker resolves the
    // compiler's calls to ntoskrnl's probe (which keeps the stack-overflow check) instead of
    // failing. Any IRQL.
    /// The kernel's stack probe. Only the compiler calls it (its convention is not `system`).
    pub fn __chkstk();

    // Breaking into the debugger (`platform::kernel`, the provider verifier's
    // `SoftNdkVerifier` = 2).
    /// Raises a breakpoint exception for the kernel debugger; one nobody handles (no kernel
    /// debugging enabled) is a bug check, so callers first read `KdDebuggerNotPresent`.
    /// The docs give no IRQL limit: a breakpoint is taken at any IRQL.
    pub fn DbgBreakPoint();
    /// `KD_DEBUGGER_NOT_PRESENT`: FALSE only while kernel debugging is enabled and a debugger
    /// is attached (TRUE whenever debugging was not enabled at boot). A data export: the
    /// import slot holds the variable's address (the WDK's `extern PBOOLEAN` plus `*`), which
    /// `raw-dylib` reaches through `__imp_KdDebuggerNotPresent`. Nonpaged; read it volatile,
    /// at any IRQL — ntoskrnl rewrites it as debuggers attach and detach.
    pub static KdDebuggerNotPresent: BOOLEAN;

    // Debug-build lock tracking (`platform::kernel::cpu`).
    /// The current processor's system-wide index (and group/number); any IRQL.
    pub fn KeGetCurrentProcessorNumberEx(ProcNumber: *mut PROCESSOR_NUMBER) -> u32;
}

// C-variadic, so declared with the C calling convention (on x64 the same as `system`).
#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "C" {
    // Debugger log (`platform::kernel`, the provider verifier's reports).
    /// Sends a formatted string to the kernel debugger if `ComponentId`'s filter mask lets
    /// `Level` through; `IRQL <= DIRQL`. Unicode format codes (`%ws`, `%wZ`, …) only at
    /// PASSIVE; at most 512 bytes are transmitted per call. Returns an NTSTATUS value.
    pub fn DbgPrintEx(ComponentId: u32, Level: u32, Format: *const c_char, ...) -> u32;
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

    // Receive path (`miniport::rx_ring`, `miniport::datapath`).
    /// Creates an NBL pool; NULL on failure. `IRQL <= DISPATCH_LEVEL`.
    pub fn NdisAllocateNetBufferListPool(
        NdisHandle: NDIS_HANDLE,
        Parameters: *mut NET_BUFFER_LIST_POOL_PARAMETERS,
    ) -> NDIS_HANDLE;
    /// Frees an NBL pool whose NBLs are all freed; `IRQL <= DISPATCH_LEVEL`.
    pub fn NdisFreeNetBufferListPool(PoolHandle: NDIS_HANDLE);
    /// Allocates an NBL with one `NET_BUFFER` over `MdlChain` (pool created with
    /// `fAllocateNetBuffer` and `DataSize == 0`); NULL on failure. `IRQL <= DISPATCH_LEVEL`.
    pub fn NdisAllocateNetBufferAndNetBufferList(
        PoolHandle: NDIS_HANDLE,
        ContextSize: u16,
        ContextBackFill: u16,
        MdlChain: *mut MDL,
        DataOffset: u32,
        DataLength: usize,
    ) -> *mut NET_BUFFER_LIST;
    /// Frees an NBL (and its `NET_BUFFER`) from `NdisAllocateNetBufferAndNetBufferList`;
    /// `IRQL <= DISPATCH_LEVEL`. Does not free the MDLs.
    pub fn NdisFreeNetBufferList(NetBufferList: *mut NET_BUFFER_LIST);
    /// Allocates and builds an MDL over non-paged memory; NULL on failure.
    /// `IRQL <= DISPATCH_LEVEL`.
    pub fn NdisAllocateMdl(
        NdisHandle: NDIS_HANDLE,
        VirtualAddress: *mut c_void,
        Length: u32,
    ) -> *mut MDL;
    /// Frees an MDL from `NdisAllocateMdl`; `IRQL <= DISPATCH_LEVEL`.
    pub fn NdisFreeMdl(Mdl: *mut MDL);
    /// A pointer to `BytesNeeded` contiguous bytes at the start of the `NET_BUFFER`'s data:
    /// into the buffer itself when contiguous, else copied into `Storage` (which is returned).
    /// NULL if the data is shorter or cannot be mapped. `IRQL <= DISPATCH_LEVEL`.
    pub fn NdisGetDataBuffer(
        NetBuffer: *mut NET_BUFFER,
        BytesNeeded: u32,
        Storage: *mut c_void,
        AlignMultiple: u32,
        AlignOffset: u32,
    ) -> *mut c_void;
    /// Indicates received NBLs; they come back through `MiniportReturnNetBufferLists`.
    /// `IRQL <= DISPATCH_LEVEL`, which `ReceiveFlags` must state truthfully.
    pub fn NdisMIndicateReceiveNetBufferLists(
        MiniportAdapterHandle: NDIS_HANDLE,
        NetBufferList: *mut NET_BUFFER_LIST,
        PortNumber: NDIS_PORT_NUMBER,
        NumberOfNetBufferLists: u32,
        ReceiveFlags: u32,
    );

    // NDK state announcements (`miniport::control`).
    /// Allocates an I/O work item for the adapter; NULL on failure. `IRQL <= DISPATCH_LEVEL`.
    pub fn NdisAllocateIoWorkItem(NdisObjectHandle: NDIS_HANDLE) -> NDIS_HANDLE;
    /// Queues the work item to run `Routine(Context, item)` at PASSIVE; the item must not be
    /// queued already. `IRQL <= DISPATCH_LEVEL`.
    pub fn NdisQueueIoWorkItem(
        NdisIoWorkItemHandle: NDIS_HANDLE,
        Routine: NDIS_IO_WORKITEM_ROUTINE,
        WorkItemContext: *mut c_void,
    );
    /// Frees a work item that is not queued; `IRQL <= DISPATCH_LEVEL`.
    pub fn NdisFreeIoWorkItem(NdisIoWorkItemHandle: NDIS_HANDLE);

    // Timer objects (the driver-wide fabric's periodic timeout scan).
    /// Allocates a timer object for the driver (`NdisHandle` = the driver handle);
    /// `IRQL <= DISPATCH_LEVEL`.
    pub fn NdisAllocateTimerObject(
        NdisHandle: NDIS_HANDLE,
        TimerCharacteristics: *mut NDIS_TIMER_CHARACTERISTICS,
        pTimerObject: *mut NDIS_HANDLE,
    ) -> NDIS_STATUS;
    /// Queues the timer: first after `DueTime` (negative = relative, 100 ns units), then every
    /// `MillisecondsPeriod` ms (0 = once); TRUE if it was already queued (and is re-queued).
    /// `IRQL <= DISPATCH_LEVEL`.
    pub fn NdisSetTimerObject(
        TimerObject: NDIS_HANDLE,
        DueTime: i64,
        MillisecondsPeriod: i32,
        FunctionContext: *mut c_void,
    ) -> BOOLEAN;
    /// Dequeues the timer if queued (TRUE then); does not wait for a running timer function.
    /// `IRQL <= DISPATCH_LEVEL`.
    pub fn NdisCancelTimerObject(TimerObject: NDIS_HANDLE) -> BOOLEAN;
    /// Frees a timer object that is cancelled and whose function is not running;
    /// `IRQL <= DISPATCH_LEVEL`.
    pub fn NdisFreeTimerObject(TimerObject: NDIS_HANDLE);
    /// Announces a PnP event (NDK enable/disable) to NDIS and the drivers above; PASSIVE, never
    /// from inside `MiniportOidRequest`. A disable returns only after every open `NDK_ADAPTER`
    /// has been closed.
    pub fn NdisMNetPnPEvent(
        MiniportAdapterHandle: NDIS_HANDLE,
        NetPnPEventNotification: *mut NET_PNP_EVENT_NOTIFICATION,
    ) -> NDIS_STATUS;
}
