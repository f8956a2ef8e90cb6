//! NDIS data-path structures (`ndis.h`, `nblapi.h`): `NET_BUFFER_LIST`, `NET_BUFFER`, the
//! NBL pool parameters, and the send/receive/return flags.
//!
//! Layouts are the x64 ones of the PDB-derived dumps of `ndis.sys` (Windows 10; the
//! `MEMORY_ALLOCATION_ALIGNMENT` (16) alignment of the reserved arrays included) and are
//! `const`-asserted below. Both list structures are only ever used through pointers NDIS
//! hands out or allocates; Rust declares the leading fields it reads or writes.

use core::ffi::c_void;
use core::mem::{offset_of, size_of};

use super::mm::MDL;
use super::{NDIS_HANDLE, NDIS_OBJECT_HEADER, NDIS_STATUS};

/// `NDIS_SEND_FLAGS_DISPATCH_LEVEL`: the send handler runs at `DISPATCH_LEVEL`.
pub const NDIS_SEND_FLAGS_DISPATCH_LEVEL: u32 = 0x1;
/// `NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL`: the caller of send-complete is at `DISPATCH_LEVEL`.
pub const NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL: u32 = 0x1;
/// `NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL`: the indicating caller is at `DISPATCH_LEVEL`.
pub const NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL: u32 = 0x1;
/// `NDIS_RECEIVE_FLAGS_RESOURCES`: the NBLs are the miniport's again when the indication
/// returns (not used: every indicated NBL comes back through `MiniportReturnNetBufferLists`).
pub const NDIS_RECEIVE_FLAGS_RESOURCES: u32 = 0x2;
/// `NDIS_DEFAULT_PORT_NUMBER`.
pub const NDIS_DEFAULT_PORT_NUMBER: u32 = 0;

/// `NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1`.
pub const NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1: u8 = 1;
/// `NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1` (through `DataSize`).
pub const NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1: usize = 0x10;
/// `NDIS_PROTOCOL_ID_DEFAULT`.
pub const NDIS_PROTOCOL_ID_DEFAULT: u8 = 0;

/// `NET_BUFFER_LIST_POOL_PARAMETERS` (x64 0x10): what `NdisAllocateNetBufferListPool` reads.
#[repr(C)]
pub struct NET_BUFFER_LIST_POOL_PARAMETERS {
    /// `NDIS_OBJECT_TYPE_DEFAULT`, revision 1, size 0x10.
    pub Header: NDIS_OBJECT_HEADER,
    /// `NDIS_PROTOCOL_ID_*`.
    pub ProtocolId: u8,
    /// TRUE: each NBL comes with one `NET_BUFFER` (`NdisAllocateNetBufferAndNetBufferList`).
    pub fAllocateNetBuffer: u8,
    /// `NET_BUFFER_LIST_CONTEXT` bytes pre-allocated per NBL.
    pub ContextSize: u16,
    /// Pool tag.
    pub PoolTag: u32,
    /// Data bytes NDIS allocates with each NBL (0: the miniport supplies MDLs).
    pub DataSize: u32,
}

/// `NET_BUFFER_LIST` (x64, leading fields through `Status`; the full structure is longer, is
/// 16-byte aligned and ends with `NetBufferListInfo[]` at 0x90).
#[repr(C, align(16))]
pub struct NET_BUFFER_LIST {
    /// Next NBL in the chain.
    pub Next: *mut Self,
    /// First `NET_BUFFER`.
    pub FirstNetBuffer: *mut NET_BUFFER,
    /// `NET_BUFFER_LIST_CONTEXT`.
    pub Context: *mut c_void,
    /// Parent for clones.
    pub ParentNetBufferList: *mut Self,
    /// Pool it came from.
    pub NdisPoolHandle: NDIS_HANDLE,
    /// Padding to the 16-byte-aligned `NdisReserved`.
    _Align0: usize,
    /// NDIS's.
    pub NdisReserved: [usize; 2],
    /// The protocol's.
    pub ProtocolReserved: [usize; 4],
    /// Ours while we own the NBL (receive NBLs: `[0]` is the receive slot).
    pub MiniportReserved: [usize; 2],
    /// Scratch.
    pub Scratch: *mut c_void,
    /// `SourceHandle`: a miniport sets its adapter handle here before indicating.
    pub SourceHandle: NDIS_HANDLE,
    /// `NblFlags`.
    pub NblFlags: u32,
    /// Clone count.
    pub ChildRefCount: i32,
    /// Flags.
    pub Flags: u32,
    /// `NET_BUFFER_LIST_STATUS`: set before completing a send.
    pub Status: NDIS_STATUS,
}

#[allow(
    clippy::items_after_statements,
    reason = "one alias per asserted struct, beside its assertions"
)]
const _: () = {
    type N = NET_BUFFER_LIST;
    assert!(size_of::<N>() == 0x90);
    assert!(offset_of!(N, FirstNetBuffer) == 0x08);
    assert!(offset_of!(N, Context) == 0x10);
    assert!(offset_of!(N, ParentNetBufferList) == 0x18);
    assert!(offset_of!(N, NdisPoolHandle) == 0x20);
    assert!(offset_of!(N, NdisReserved) == 0x30);
    assert!(offset_of!(N, ProtocolReserved) == 0x40);
    assert!(offset_of!(N, MiniportReserved) == 0x60);
    assert!(offset_of!(N, Scratch) == 0x70);
    assert!(offset_of!(N, SourceHandle) == 0x78);
    assert!(offset_of!(N, NblFlags) == 0x80);
    assert!(offset_of!(N, ChildRefCount) == 0x84);
    assert!(offset_of!(N, Flags) == 0x88);
    assert!(offset_of!(N, Status) == 0x8C);
    type P = NET_BUFFER_LIST_POOL_PARAMETERS;
    assert!(size_of::<P>() == NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1);
    assert!(offset_of!(P, ProtocolId) == 4);
    assert!(offset_of!(P, fAllocateNetBuffer) == 5);
    assert!(offset_of!(P, ContextSize) == 6);
    assert!(offset_of!(P, PoolTag) == 8);
    assert!(offset_of!(P, DataSize) == 0xC);
};

/// `NET_BUFFER` (x64 0xB0): one frame of an NBL, described by an MDL chain.
#[repr(C)]
pub struct NET_BUFFER {
    /// Next `NET_BUFFER` of the same NBL.
    pub Next: *mut Self,
    /// MDL holding the first data byte.
    pub CurrentMdl: *mut MDL,
    /// Offset of the first data byte in `CurrentMdl`.
    pub CurrentMdlOffset: u32,
    /// Padding (`NET_BUFFER_DATA_LENGTH` is a `SIZE_T` union).
    _Align0: u32,
    /// `NET_BUFFER_DATA_LENGTH`: the frame's length (the `ULONG` arm of the union).
    pub DataLength: u32,
    /// The union's upper half (`stDataLength`); never read or written here.
    _DataLengthHigh: u32,
    /// First MDL of the chain.
    pub MdlChain: *mut MDL,
    /// Offset of the data from the start of `MdlChain`.
    pub DataOffset: u32,
    /// Padding.
    _Align1: u32,
    /// Checksum bias.
    pub ChecksumBias: u16,
    /// Reserved.
    pub Reserved: u16,
    /// Pool it came from.
    pub NdisPoolHandle: NDIS_HANDLE,
    /// NDIS's.
    pub NdisReserved: [usize; 2],
    /// The protocol's.
    pub ProtocolReserved: [usize; 6],
    /// Ours while we own the NB.
    pub MiniportReserved: [usize; 4],
    /// `DataPhysicalAddress`.
    pub DataPhysicalAddress: u64,
    /// `SharedMemoryInfo` / `ScatterGatherList`.
    pub SharedMemoryInfo: *mut c_void,
}

#[allow(
    clippy::items_after_statements,
    reason = "one alias per asserted struct, beside its assertions"
)]
const _: () = {
    type B = NET_BUFFER;
    assert!(size_of::<B>() == 0xB0);
    assert!(offset_of!(B, CurrentMdl) == 0x08);
    assert!(offset_of!(B, CurrentMdlOffset) == 0x10);
    assert!(offset_of!(B, DataLength) == 0x18);
    assert!(offset_of!(B, MdlChain) == 0x20);
    assert!(offset_of!(B, DataOffset) == 0x28);
    assert!(offset_of!(B, ChecksumBias) == 0x30);
    assert!(offset_of!(B, NdisPoolHandle) == 0x38);
    assert!(offset_of!(B, NdisReserved) == 0x40);
    assert!(offset_of!(B, ProtocolReserved) == 0x50);
    assert!(offset_of!(B, MiniportReserved) == 0x80);
    assert!(offset_of!(B, DataPhysicalAddress) == 0xA0);
    assert!(offset_of!(B, SharedMemoryInfo) == 0xA8);
};
