//! NDIS PnP event structures for `NdisMNetPnPEvent` (`ndis.h`/`netpnp.h`).
//!
//! `NdisMNetPnPEvent` announces NDK enable/disable (`spec/ndis-miniport.md` §1.8) from an NDIS
//! I/O work item, whose routine type is here too.

use core::ffi::c_void;
use core::mem::{offset_of, size_of};

use super::{NDIS_HANDLE, NDIS_OBJECT_HEADER, NDIS_PORT_NUMBER};

/// `NetEventNDKEnable`.
pub const NET_EVENT_NDK_ENABLE: u32 = 13;
/// `NetEventNDKDisable`.
pub const NET_EVENT_NDK_DISABLE: u32 = 14;
/// `NET_PNP_EVENT_NOTIFICATION_REVISION_1`.
pub const NET_PNP_EVENT_NOTIFICATION_REVISION_1: u8 = 1;
/// `NDIS_SIZEOF_NET_PNP_EVENT_NOTIFICATION_REVISION_1` (through `Flags`).
pub const NDIS_SIZEOF_NET_PNP_EVENT_NOTIFICATION_REVISION_1: usize = 0xA4;

/// `NET_PNP_EVENT` (x64 0x98).
#[repr(C)]
pub struct NET_PNP_EVENT {
    /// `NET_PNP_EVENT_CODE`.
    pub NetEvent: u32,
    /// Event-specific buffer (NULL for the NDK events of an NDIS 6.30 miniport).
    pub Buffer: *mut c_void,
    /// Its length (0 with a NULL buffer).
    pub BufferLength: u32,
    /// NDIS's.
    pub NdisReserved: [usize; 4],
    /// The transport's.
    pub TransportReserved: [usize; 4],
    /// TDI's.
    pub TdiReserved: [usize; 4],
    /// The TDI client's.
    pub TdiClientReserved: [usize; 4],
}

/// `NET_PNP_EVENT_NOTIFICATION` (x64 `sizeof` 0xB0; revision 1 is 0xA4 bytes, revision 2 adds
/// `SwitchId`/`VPortId`).
#[repr(C)]
pub struct NET_PNP_EVENT_NOTIFICATION {
    /// `NDIS_OBJECT_TYPE_DEFAULT`, revision 1, size 0xA4.
    pub Header: NDIS_OBJECT_HEADER,
    /// Port (0: the default port).
    pub PortNumber: NDIS_PORT_NUMBER,
    /// The event.
    pub NetPnPEvent: NET_PNP_EVENT,
    /// `NET_EVENT_FLAGS_*` (0).
    pub Flags: u32,
    /// NIC switch (revision 2).
    pub SwitchId: u32,
    /// vPort (revision 2).
    pub VPortId: u32,
}

#[allow(
    clippy::items_after_statements,
    reason = "one alias per asserted struct, beside its assertions"
)]
const _: () = {
    type E = NET_PNP_EVENT;
    assert!(size_of::<E>() == 0x98);
    assert!(offset_of!(E, Buffer) == 0x08);
    assert!(offset_of!(E, BufferLength) == 0x10);
    assert!(offset_of!(E, NdisReserved) == 0x18);
    assert!(offset_of!(E, TransportReserved) == 0x38);
    assert!(offset_of!(E, TdiReserved) == 0x58);
    assert!(offset_of!(E, TdiClientReserved) == 0x78);
    type N = NET_PNP_EVENT_NOTIFICATION;
    assert!(size_of::<N>() == 0xB0);
    assert!(offset_of!(N, PortNumber) == 0x04);
    assert!(offset_of!(N, NetPnPEvent) == 0x08);
    assert!(offset_of!(N, Flags) == 0xA0);
    assert!(offset_of!(N, SwitchId) == 0xA4);
    assert!(offset_of!(N, VPortId) == 0xA8);
    assert!(offset_of!(N, Flags) + 4 == NDIS_SIZEOF_NET_PNP_EVENT_NOTIFICATION_REVISION_1);
};

/// `NDIS_IO_WORKITEM_ROUTINE`: runs at `PASSIVE_LEVEL` on a system worker thread.
pub type NDIS_IO_WORKITEM_ROUTINE =
    unsafe extern "system" fn(WorkItemContext: *mut c_void, NdisIoWorkItemHandle: NDIS_HANDLE);
