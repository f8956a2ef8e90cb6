//! Adapter lifecycle trampolines: `MiniportInitializeEx`, `MiniportHaltEx`, `MiniportPause`,
//! `MiniportRestart`, `MiniportShutdownEx`, `MiniportDevicePnPEventNotify`.
//!
//! Owns the adapter object NDIS hands back as `MiniportAdapterContext` (pool memory from
//! [`Adapter::try_new`], freed in halt) and the order of the attribute calls.
//! Must never: decide run-state transitions itself (that is [`super::state`]).
#![allow(unsafe_code)]
// NDIS entry points are only ever called through pointers; the empty ones gain nothing from
// being `const`.
#![allow(clippy::missing_const_for_fn)]

use alloc::boxed::Box;
use core::alloc::Layout;
use core::ffi::c_void;
use core::ptr::null_mut;

use crate::abi::{
    NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES, NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES_REVISION_1,
    NDIS_NDK_CAPABILITIES, NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_NDK_ATTRIBUTES,
    NDIS_SIZEOF_MINIPORT_ADAPTER_NDK_ATTRIBUTES_REVISION_1,
};
use crate::sys::ffi::{
    NdisCloseConfiguration, NdisMSetMiniportAttributes, NdisOpenConfigurationEx,
    NdisReadConfiguration,
};
use crate::sys::ndis::{
    IF_TYPE_ETHERNET_CSMACD, MEDIA_CONNECT_STATE_CONNECTED, MEDIA_DUPLEX_STATE_FULL,
    NDIS_CONFIGURATION_OBJECT, NDIS_CONFIGURATION_OBJECT_REVISION_1, NDIS_CONFIGURATION_PARAMETER,
    NDIS_INTERFACE_INTERNAL, NDIS_MAC_OPTION_COPY_LOOKAHEAD_DATA, NDIS_MAC_OPTION_NO_LOOPBACK,
    NDIS_MAC_OPTION_TRANSFERS_NOT_PEND, NDIS_MAX_PHYS_ADDRESS_LENGTH, NDIS_MEDIUM_802_3,
    NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES, NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2,
    NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES,
    NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_2, NDIS_MINIPORT_ATTRIBUTES_NDIS_WDM,
    NDIS_MINIPORT_ATTRIBUTES_NO_PAUSE_ON_SUSPEND, NDIS_MINIPORT_ATTRIBUTES_SURPRISE_REMOVE_OK,
    NDIS_MINIPORT_INIT_PARAMETERS, NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT,
    NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES,
    NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES, NDIS_PARAMETER_INTEGER,
    NDIS_PAUSE_FUNCTIONS_UNSUPPORTED, NDIS_PHYSICAL_MEDIUM_802_3, NDIS_STRING,
    NET_IF_ACCESS_BROADCAST, NET_IF_CONNECTION_DEDICATED, NET_IF_DIRECTION_SENDRECEIVE,
};
use crate::sys::{
    BOOLEAN, NDIS_HANDLE, NDIS_OBJECT_HEADER, NDIS_STATUS, NDIS_STATUS_FAILURE,
    NDIS_STATUS_PENDING, NDIS_STATUS_RESOURCES, NDIS_STATUS_SUCCESS, ascii_utf16, object_header,
};

use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::platform::prelude::*;
use crate::platform::{Dpc, LockLevel, Platform, SpinLock};
use crate::verbs::misuse::MisuseChecks;

use super::config;
use super::counters::AdapterCounters;
use super::datapath::RxIndication;
use super::driver_fabric;
use super::fabric_port::FabricPort;
use super::hub::PortId;
use super::hubport;
use super::instances::NdkInstances;
use super::ndk_config::{self, NdkAdapterState};
use super::ndk_events::IoWorkItem;
use super::ndk_state::NdkAnnouncer;
use super::oid::{self, OidState};
use super::rx_ring::RxRing;
use super::state::{AdapterRun, PauseOutcome, Transition};

/// NDIS copies the list, but it must be a real object to point at.
static SUPPORTED_OID_LIST: [u32; oid::SUPPORTED_OIDS.len()] = oid::SUPPORTED_OIDS;

static NETWORK_DIRECT_KEYWORD: [u16; 14] = ascii_utf16("*NetworkDirect");
static SOFTNDK_VERIFIER_KEYWORD: [u16; config::VERIFIER_KEYWORD.len()] =
    ascii_utf16(config::VERIFIER_KEYWORD);
static SOFTNDK_PEND_REQUESTS_KEYWORD: [u16; config::PEND_REQUESTS_KEYWORD.len()] =
    ascii_utf16(config::PEND_REQUESTS_KEYWORD);

/// One SoftNDK miniport adapter.
///
/// Its fields are shared by handlers NDIS runs concurrently; each is synchronised by itself:
/// `run` and `counters` are atomic, `oid_state` is behind a platform spin lock (regular OIDs are
/// serialized by NDIS, but direct OIDs and the NDK handlers are not serialized with them), and
/// `ndk_instances` counts open `NDK_ADAPTER`s with a platform event halt waits on. `rx` and
/// `rx_dpc` are the receive side of the Ethernet hub (`datapath`), `port` its place in the hub.
pub(super) struct Adapter {
    /// `MiniportAdapterHandle` for NDIS calls about this adapter.
    pub(super) handle: NDIS_HANDLE,
    /// The platform instance the NDK provider objects of this adapter reach the OS through.
    pub(super) platform: Platform,
    /// Run state and the send/pause gate.
    pub(super) run: AdapterRun,
    /// Traffic and NDK counters.
    pub(super) counters: AdapterCounters,
    /// What OIDs read and change. Handlers copy it out and back instead of working under the
    /// lock, so NDIS's information buffers are never touched at `DISPATCH_LEVEL`.
    pub(super) oid_state: SpinLock<OidState>,
    /// Open `NDK_ADAPTER` instances.
    pub(super) ndk_instances: NdkInstances,
    /// Its place on the driver-wide fabric (id, registered addresses); detached on drop.
    pub(super) fabric_port: FabricPort,
    /// NDK on/off and its announcements.
    pub(super) ndk: NdkAnnouncer,
    /// The work item announcements run on.
    pub(super) ndk_work: IoWorkItem,
    /// Receive buffers and their NBLs.
    pub(super) rx: RxRing,
    /// Indicates filled receive buffers (`datapath::RxIndication`).
    pub(super) rx_dpc: Dpc,
    /// Index in the hub's port table, `NO_PORT` while detached.
    port: AtomicUsize,
    /// The provider verifier of every `NDK_ADAPTER` opened on this adapter: the
    /// `SoftNdkVerifier` keyword, read once in initialize (`config::verifier_checks`).
    pub(super) verifier: MisuseChecks,
    /// Whether every `NDK_ADAPTER` opened on this adapter pends its creates and requests: the
    /// `SoftNdkPendRequests` keyword, read once in initialize (`config::pend_requests`).
    pub(super) pend_requests: bool,
}

/// `Adapter::port` while the adapter is not attached to the hub.
const NO_PORT: usize = usize::MAX;

/// Level of the OID-state lock: taken alone, never around another provider lock.
const OID_STATE_LOCK_LEVEL: LockLevel = LockLevel::new(1);

/// The fallible members of an [`Adapter`], made before it is written (each frees itself on
/// drop, so a failure part-way leaves nothing behind).
struct Parts {
    platform: Platform,
    ndk_instances: NdkInstances,
    fabric_port: FabricPort,
    ndk: NdkAnnouncer,
    ndk_work: IoWorkItem,
    rx: RxRing,
    rx_dpc: Dpc,
}

impl Parts {
    /// # Safety
    /// `handle` is the miniport adapter handle, at PASSIVE; `adapter` is where the adapter
    /// will live (the DPC only dereferences it once a delivery queues it, after it is written).
    unsafe fn try_new(handle: NDIS_HANDLE, adapter: *mut Adapter) -> Option<Self> {
        let platform = Platform::new();
        let ndk_instances = NdkInstances::try_new(&platform).ok()?;
        // DriverEntry created the fabric before NDIS could initialize an adapter.
        let fabric_port = FabricPort::attach(driver_fabric::fabric()?);
        // The configuration is read later in initialize (`NdkAnnouncer::configure`).
        let ndk = NdkAnnouncer::try_new(&platform, None, false).ok()?;
        // SAFETY: per this function's contract.
        let ndk_work = unsafe { IoWorkItem::try_new(handle) }?;
        // SAFETY: per this function's contract.
        let rx = unsafe { RxRing::try_new(&platform, handle) }?;
        let rx_dpc = platform
            .new_dpc(RxIndication(NonNull::new(adapter)?))
            .ok()?;
        Some(Self {
            platform,
            ndk_instances,
            fabric_port,
            ndk,
            ndk_work,
            rx,
            rx_dpc,
        })
    }
}

impl Adapter {
    /// Allocates an adapter in pool; `None` when the pool is exhausted (never panics).
    fn try_new(handle: NDIS_HANDLE, mac: [u8; 6]) -> Option<Box<Self>> {
        let layout = Layout::new::<Self>();
        // SAFETY: `Self` is not zero-sized, so `layout` has a non-zero size.
        let raw = unsafe { alloc::alloc::alloc(layout) };
        #[allow(
            clippy::cast_ptr_alignment,
            reason = "the global allocator aligns the block to `layout`, i.e. to `Self`"
        )]
        let raw = raw.cast::<Self>();
        if raw.is_null() {
            return None;
        }
        // SAFETY: PASSIVE inside initialize with the adapter handle NDIS passed (caller).
        let Some(parts) = (unsafe { Parts::try_new(handle, raw) }) else {
            // SAFETY: `raw` came from `alloc` with this layout and holds nothing yet.
            unsafe { alloc::alloc::dealloc(raw.cast(), layout) };
            return None;
        };
        // SAFETY: `raw` is a fresh, suitably aligned allocation for one `Self`.
        unsafe {
            raw.write(Self {
                handle,
                run: AdapterRun::new(),
                counters: AdapterCounters::new(),
                oid_state: SpinLock::new(OID_STATE_LOCK_LEVEL, OidState::new(mac)),
                ndk_instances: parts.ndk_instances,
                fabric_port: parts.fabric_port,
                ndk: parts.ndk,
                ndk_work: parts.ndk_work,
                rx: parts.rx,
                rx_dpc: parts.rx_dpc,
                port: AtomicUsize::new(NO_PORT),
                platform: parts.platform,
                verifier: MisuseChecks::DEFAULT,
                pend_requests: false,
            });
        }
        // SAFETY: `raw` was allocated with the global allocator for `Self`'s layout and now
        // holds an initialised `Self`.
        Some(unsafe { Box::from_raw(raw) })
    }

    /// The adapter behind an `MiniportAdapterContext`.
    ///
    /// # Safety
    /// `context` must be a context registered by [`initialize`] whose adapter has not been
    /// halted; NDIS guarantees this for every handler it calls with that context.
    pub(super) unsafe fn from_context<'a>(context: NDIS_HANDLE) -> &'a Self {
        // SAFETY: per this function's contract, `context` points at a live `Adapter`.
        unsafe { &*context.cast::<Self>() }
    }

    /// The adapter's hub port, if attached.
    pub(super) fn port(&self) -> Option<PortId> {
        let index = self.port.load(Ordering::Acquire);
        (index != NO_PORT).then_some(PortId(index))
    }

    /// Records the hub port (under the hub lock, by `hubport`).
    pub(super) fn set_port(&self, port: Option<PortId>) {
        self.port
            .store(port.map_or(NO_PORT, |p| p.0), Ordering::Release);
    }

    /// A copy of the OID state (the lock is held only for the copy).
    pub(super) fn oid_snapshot(&self) -> OidState {
        self.oid_state.lock().clone()
    }
}

/// Reads the integer keyword `name` of the adapter's registry parameters (absent, unreadable or
/// not convertible: [`config::Keyword::Missing`]; another parameter type:
/// [`config::Keyword::WrongType`]).
///
/// # Safety
/// `PASSIVE_LEVEL`, inside `MiniportInitializeEx`, with `handle` the miniport adapter handle.
unsafe fn read_keyword(handle: NDIS_HANDLE, name: &'static [u16]) -> config::Keyword {
    let mut object = NDIS_CONFIGURATION_OBJECT {
        Header: object_header(
            NDIS_OBJECT_TYPE_CONFIGURATION_OBJECT,
            NDIS_CONFIGURATION_OBJECT_REVISION_1,
            core::mem::size_of::<NDIS_CONFIGURATION_OBJECT>(),
        ),
        NdisHandle: handle,
        Flags: 0,
    };
    let mut configuration: NDIS_HANDLE = null_mut();
    // SAFETY: PASSIVE_LEVEL per the contract; both pointers are live locals.
    let status = unsafe { NdisOpenConfigurationEx(&raw mut object, &raw mut configuration) };
    if status != NDIS_STATUS_SUCCESS {
        return config::Keyword::Missing;
    }
    let mut keyword = NDIS_STRING {
        Length: u16::try_from(name.len() * 2).unwrap_or(0),
        MaximumLength: u16::try_from(name.len() * 2).unwrap_or(0),
        Buffer: name.as_ptr(),
    };
    let mut read_status = NDIS_STATUS_FAILURE;
    let mut parameter: *mut NDIS_CONFIGURATION_PARAMETER = null_mut();
    // SAFETY: PASSIVE_LEVEL; `configuration` is open; every pointer is a live local or the
    // static keyword, which NDIS only reads.
    unsafe {
        NdisReadConfiguration(
            &raw mut read_status,
            &raw mut parameter,
            configuration,
            &raw mut keyword,
            NDIS_PARAMETER_INTEGER,
        );
    }
    let value = if read_status == NDIS_STATUS_SUCCESS && !parameter.is_null() {
        // SAFETY: on success NDIS returns a parameter that lives until the configuration is
        // closed below.
        let parameter = unsafe { &*parameter };
        if parameter.ParameterType == NDIS_PARAMETER_INTEGER {
            config::Keyword::Integer(parameter.IntegerData)
        } else {
            config::Keyword::WrongType
        }
    } else {
        config::Keyword::Missing
    };
    // SAFETY: PASSIVE_LEVEL; closes the handle opened above, after the last use of `parameter`.
    unsafe { NdisCloseConfiguration(configuration) };
    value
}

fn general_attributes(mac: [u8; 6]) -> NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES {
    let mut address = [0_u8; NDIS_MAX_PHYS_ADDRESS_LENGTH];
    address[..6].copy_from_slice(&mac);
    NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES {
        Header: object_header(
            NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES,
            NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES_REVISION_2,
            core::mem::size_of::<NDIS_MINIPORT_ADAPTER_GENERAL_ATTRIBUTES>(),
        ),
        Flags: 0,
        MediaType: NDIS_MEDIUM_802_3,
        PhysicalMediumType: NDIS_PHYSICAL_MEDIUM_802_3,
        MtuSize: config::MTU,
        MaxXmitLinkSpeed: config::LINK_SPEED_BPS,
        XmitLinkSpeed: config::LINK_SPEED_BPS,
        MaxRcvLinkSpeed: config::LINK_SPEED_BPS,
        RcvLinkSpeed: config::LINK_SPEED_BPS,
        MediaConnectState: MEDIA_CONNECT_STATE_CONNECTED,
        MediaDuplexState: MEDIA_DUPLEX_STATE_FULL,
        LookaheadSize: config::MTU,
        PowerManagementCapabilities: null_mut(),
        MacOptions: NDIS_MAC_OPTION_COPY_LOOKAHEAD_DATA
            | NDIS_MAC_OPTION_TRANSFERS_NOT_PEND
            | NDIS_MAC_OPTION_NO_LOOPBACK,
        SupportedPacketFilters: oid::SUPPORTED_PACKET_FILTERS,
        MaxMulticastListSize: u32::try_from(config::MAX_MULTICAST_LIST).unwrap_or(0),
        MacAddressLength: 6,
        PermanentMacAddress: address,
        CurrentMacAddress: address,
        RecvScaleCapabilities: null_mut(),
        AccessType: NET_IF_ACCESS_BROADCAST,
        DirectionType: NET_IF_DIRECTION_SENDRECEIVE,
        ConnectionType: NET_IF_CONNECTION_DEDICATED,
        IfType: IF_TYPE_ETHERNET_CSMACD,
        IfConnectorPresent: 0,
        SupportedStatistics: oid::SUPPORTED_STATISTICS,
        SupportedPauseFunctions: NDIS_PAUSE_FUNCTIONS_UNSUPPORTED,
        DataBackFillSize: 0,
        ContextBackFillSize: 0,
        SupportedOidList: SUPPORTED_OID_LIST.as_ptr(),
        SupportedOidListLength: u32::try_from(core::mem::size_of_val(&SUPPORTED_OID_LIST))
            .unwrap_or(0),
        AutoNegotiationFlags: 0,
        PowerManagementCapabilitiesEx: null_mut(),
    }
}

/// Reports one attribute structure.
///
/// # Safety
/// `PASSIVE_LEVEL` inside `MiniportInitializeEx`; `attributes` points at a live, initialised
/// attribute structure whose header names its type.
unsafe fn set_attributes(handle: NDIS_HANDLE, attributes: *mut c_void) -> NDIS_STATUS {
    // SAFETY: per this function's contract; NDIS copies what it keeps.
    unsafe { NdisMSetMiniportAttributes(handle, attributes) }
}

/// Sets general and NDK attributes after the registration attributes.
///
/// # Safety
/// As [`set_attributes`].
unsafe fn describe_adapter(handle: NDIS_HANDLE, mac: [u8; 6], ndk_enabled: bool) -> NDIS_STATUS {
    let mut general = general_attributes(mac);
    // SAFETY: PASSIVE inside initialize; `general` is a live general-attributes block.
    let status = unsafe { set_attributes(handle, (&raw mut general).cast()) };
    if status != NDIS_STATUS_SUCCESS {
        return status;
    }
    // The same provider configuration every open uses (its token secret does not show in the
    // info or the capabilities), so NDIS's copy matches `NdkQueryAdapterInfo`.
    let provider = ndk_config::ndk_adapter_config(&NdkAdapterState::detached(0));
    let mut info = ndk_config::ndk_adapter_info(&provider);
    let mut capabilities = NDIS_NDK_CAPABILITIES {
        // The C field is a non-const pointer; NDIS only reads (copies) through it.
        NdkInfo: &raw mut info,
        ..ndk_config::ndk_capabilities(&provider)
    };
    let mut ndk = NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_NDK_ATTRIBUTES,
            NDIS_MINIPORT_ADAPTER_NDK_ATTRIBUTES_REVISION_1,
            NDIS_SIZEOF_MINIPORT_ADAPTER_NDK_ATTRIBUTES_REVISION_1,
        ),
        Enabled: BOOLEAN::from(ndk_enabled),
        NdkCapabilities: &raw mut capabilities,
    };
    // SAFETY: PASSIVE inside initialize; `ndk`, `capabilities` and `info` are live locals
    // for the whole call, and NDIS copies all three.
    unsafe { set_attributes(handle, (&raw mut ndk).cast()) }
}

/// `MiniportInitializeEx` (PASSIVE): allocate the adapter, registration attributes first,
/// then configuration, general and NDK attributes. On failure everything is undone (NDIS
/// does not call halt). Success leaves the adapter Paused.
pub(super) unsafe extern "system" fn initialize(
    handle: NDIS_HANDLE,
    _driver_context: NDIS_HANDLE,
    parameters: *mut NDIS_MINIPORT_INIT_PARAMETERS,
) -> NDIS_STATUS {
    let if_index = if parameters.is_null() {
        0
    } else {
        // SAFETY: non-null; NDIS passes init parameters valid for the call.
        unsafe { (*parameters).IfIndex }
    };
    let mac = config::mac_for_interface(if_index);
    let Some(adapter) = Adapter::try_new(handle, mac) else {
        return NDIS_STATUS_RESOURCES;
    };
    let context = Box::into_raw(adapter);
    let mut registration = NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES {
        Header: object_header(
            NDIS_OBJECT_TYPE_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES,
            NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES_REVISION_2,
            core::mem::size_of::<NDIS_MINIPORT_ADAPTER_REGISTRATION_ATTRIBUTES>(),
        ),
        MiniportAdapterContext: context.cast(),
        AttributeFlags: NDIS_MINIPORT_ATTRIBUTES_NDIS_WDM
            | NDIS_MINIPORT_ATTRIBUTES_SURPRISE_REMOVE_OK
            | NDIS_MINIPORT_ATTRIBUTES_NO_PAUSE_ON_SUSPEND,
        CheckForHangTimeInSeconds: 0,
        InterfaceType: NDIS_INTERFACE_INTERNAL,
    };
    // SAFETY: PASSIVE inside initialize; `registration` is a live registration block.
    let mut status = unsafe { set_attributes(handle, (&raw mut registration).cast()) };
    if status == NDIS_STATUS_SUCCESS {
        // SAFETY: PASSIVE inside initialize with the adapter handle NDIS passed.
        let keyword = unsafe { read_keyword(handle, &NETWORK_DIRECT_KEYWORD) }.integer();
        // SAFETY: as above.
        let verifier = unsafe { read_keyword(handle, &SOFTNDK_VERIFIER_KEYWORD) };
        // SAFETY: as above.
        let pend = unsafe { read_keyword(handle, &SOFTNDK_PEND_REQUESTS_KEYWORD) };
        // SAFETY: `context` is the adapter allocated above; NDIS calls none of its handlers
        // with this context before initialize returns and nothing else has been given it yet
        // (the hub attach comes last), so this write is the only access.
        unsafe { (*context).verifier = config::verifier_checks(verifier) };
        // SAFETY: as for the write above.
        unsafe { (*context).pend_requests = config::pend_requests(pend) };
        // SAFETY: `context` is the adapter allocated above, live until freed below or in halt.
        let enabled = unsafe {
            (*context)
                .ndk
                .configure(keyword, config::NDK_PROVIDER_READY)
        };
        // SAFETY: PASSIVE inside initialize, after the registration attributes.
        status = unsafe { describe_adapter(handle, mac, enabled) };
    }
    if status == NDIS_STATUS_SUCCESS {
        // SAFETY: `context` is live; this is the adapter's first transition.
        status = match unsafe { (*context).run.apply(Transition::InitializeComplete) } {
            Ok(_) => NDIS_STATUS_SUCCESS,
            Err(_) => NDIS_STATUS_FAILURE,
        };
    }
    if status == NDIS_STATUS_SUCCESS {
        // Last step: once attached, senders on other adapters can reach this one (paused, so
        // their frames are counted and dropped until restart).
        // SAFETY: `context` is live, and stays so until halt detaches it.
        if hubport::attach(unsafe { &*context }).is_err() {
            status = NDIS_STATUS_RESOURCES;
        }
    }
    if status != NDIS_STATUS_SUCCESS {
        // SAFETY: `context` came from `Box::into_raw` above and NDIS will not use it after
        // a failed initialize.
        drop(unsafe { Box::from_raw(context) });
    }
    status
}

/// `MiniportHaltEx` (PASSIVE): the adapter is paused (every send done, every receive NBL
/// returned); leave the hub, wait for its NDK instances and deferred work to be gone, then
/// free it (the receive ring frees its NBLs, MDLs and pool on drop).
pub(super) unsafe extern "system" fn halt(context: NDIS_HANDLE, _halt_action: u32) {
    // SAFETY: NDIS passes the context registered in initialize, still live.
    let adapter = unsafe { Adapter::from_context(context) };
    // A refused transition means NDIS halted an adapter that was not paused; the adapter
    // is freed regardless because NDIS will not call it again.
    let _ = adapter.run.apply(Transition::HaltBegin);
    // No sender can reach the adapter after this; none holds a unit of it (it is paused).
    hubport::detach(adapter);
    // Consumers close their NDK instances before halt; if one has not, wait rather than free
    // memory it points into (PASSIVE, as halt is).
    adapter.ndk_instances.wait_idle();
    // An NDK announcement worker still pending must finish before the adapter (its context)
    // and its work item are freed.
    adapter.ndk.wait_idle();
    // No deferred work of this driver may still be queued or running with the adapter.
    adapter.platform.flush();
    // SAFETY: `context` is the `Box::into_raw` pointer from initialize; halt is the last call
    // NDIS makes with it, so ownership returns here exactly once.
    drop(unsafe { Box::from_raw(context.cast::<Adapter>()) });
}

/// `MiniportPause` (PASSIVE): stop sends; complete now or when the last in-flight send ends.
pub(super) unsafe extern "system" fn pause(
    context: NDIS_HANDLE,
    _parameters: *mut c_void,
) -> NDIS_STATUS {
    // SAFETY: NDIS passes the live context registered in initialize.
    let adapter = unsafe { Adapter::from_context(context) };
    match adapter.run.pause() {
        Ok(PauseOutcome::Completed) => NDIS_STATUS_SUCCESS,
        Ok(PauseOutcome::Pending) => NDIS_STATUS_PENDING,
        Err(_) => NDIS_STATUS_FAILURE,
    }
}

/// `MiniportRestart` (PASSIVE): nothing to bring up for a software adapter.
pub(super) unsafe extern "system" fn restart(
    context: NDIS_HANDLE,
    _parameters: *mut c_void,
) -> NDIS_STATUS {
    // SAFETY: NDIS passes the live context registered in initialize.
    let adapter = unsafe { Adapter::from_context(context) };
    if adapter.run.apply(Transition::RestartBegin).is_err() {
        return NDIS_STATUS_FAILURE;
    }
    if adapter.run.apply(Transition::RestartComplete).is_ok() {
        NDIS_STATUS_SUCCESS
    } else {
        let _ = adapter.run.apply(Transition::RestartFailed);
        NDIS_STATUS_FAILURE
    }
}

/// `MiniportShutdownEx` (PASSIVE or any IRQL on bug check): a software adapter has no
/// hardware to quiesce, and this handler must not allocate or wait.
pub(super) unsafe extern "system" fn shutdown(_context: NDIS_HANDLE, _action: u32) {}

/// `MiniportDevicePnPEventNotify` (PASSIVE): surprise removal and power-profile changes need
/// no action from a root-enumerated software device.
pub(super) unsafe extern "system" fn device_pnp_event_notify(
    _context: NDIS_HANDLE,
    _event: *mut c_void,
) {
}
