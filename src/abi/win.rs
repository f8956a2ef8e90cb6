//! Windows base types that appear in NDKPI signatures: `BOOLEAN`, `GUID`, `GROUP_AFFINITY`,
//! an opaque `MDL`, and the Winsock address structures.
//!
//! Only layout lives here. Nothing in this file dereferences an MDL or validates an address: the
//! dispatch layer and the platform do that.

use core::marker::{PhantomData, PhantomPinned};

/// `BOOLEAN` (`UCHAR`): 0 = FALSE, any other value = TRUE.
///
/// Kept as `u8`, not `bool`: a consumer may pass any byte, and a Rust `bool` must be 0 or 1.
pub type BOOLEAN = u8;
/// `FALSE` as a `BOOLEAN`.
pub const FALSE: BOOLEAN = 0;
/// `TRUE` as a `BOOLEAN`.
pub const TRUE: BOOLEAN = 1;

/// `KAFFINITY` (`ULONG_PTR`): a processor bit mask within one group.
pub type KAFFINITY = usize;

/// `NDIS_HANDLE` (`PVOID`): an opaque NDIS context pointer.
pub type NDIS_HANDLE = *mut core::ffi::c_void;

/// `GUID`: 16 bytes, `{ ULONG Data1; USHORT Data2; USHORT Data3; UCHAR Data4[8]; }`.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct GUID {
    /// First 32 bits.
    pub Data1: u32,
    /// Next 16 bits.
    pub Data2: u16,
    /// Next 16 bits.
    pub Data3: u16,
    /// Last 64 bits as bytes.
    pub Data4: [u8; 8],
}

/// `GROUP_AFFINITY`: a processor group and a mask of processors inside it (16 bytes on x64).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct GROUP_AFFINITY {
    /// Processors within `Group`.
    pub Mask: KAFFINITY,
    /// Processor group number.
    pub Group: u16,
    /// Reserved, zero.
    pub Reserved: [u16; 3],
}

/// `MDL`: memory descriptor list, opaque here (only ever handled by pointer).
///
/// The kernel platform reads MDL fields through its own definition; the ABI layer only needs a
/// distinct pointee type. Not constructible, `!Send`, `!Sync`, `!Unpin`.
#[repr(C)]
pub struct MDL {
    _opaque: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// `ADDRESS_FAMILY` (`USHORT`).
pub type ADDRESS_FAMILY = u16;
/// `AF_INET`: IPv4.
pub const AF_INET: ADDRESS_FAMILY = 2;
/// `AF_INET6`: IPv6 (Windows value).
pub const AF_INET6: ADDRESS_FAMILY = 23;

/// `SOCKADDR`: the generic address header (16 bytes); NDKPI passes it with a byte length.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct SOCKADDR {
    /// `AF_*` family.
    pub sa_family: ADDRESS_FAMILY,
    /// Family-specific bytes.
    pub sa_data: [u8; 14],
}

/// `IN_ADDR`: an IPv4 address in network byte order (4-byte aligned, like the C union).
#[repr(C, align(4))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct IN_ADDR {
    /// Address bytes, most significant first.
    pub s_addr: [u8; 4],
}

/// `IN6_ADDR`: an IPv6 address in network byte order (2-byte aligned, like the C union).
#[repr(C, align(2))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct IN6_ADDR {
    /// Address bytes, most significant first.
    pub s6_addr: [u8; 16],
}

/// `SOCKADDR_IN`: IPv4 address + `NetworkDirect` port (16 bytes).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct SOCKADDR_IN {
    /// `AF_INET`.
    pub sin_family: ADDRESS_FAMILY,
    /// Port in network byte order.
    pub sin_port: u16,
    /// IPv4 address.
    pub sin_addr: IN_ADDR,
    /// Zero padding.
    pub sin_zero: [u8; 8],
}

/// `SOCKADDR_IN6`: IPv6 address + `NetworkDirect` port (28 bytes).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct SOCKADDR_IN6 {
    /// `AF_INET6`.
    pub sin6_family: ADDRESS_FAMILY,
    /// Port in network byte order.
    pub sin6_port: u16,
    /// Flow information.
    pub sin6_flowinfo: u32,
    /// IPv6 address.
    pub sin6_addr: IN6_ADDR,
    /// Scope (interface) id; the C union's `sin6_scope_struct` arm has the same 4 bytes.
    pub sin6_scope_id: u32,
}

/// `SOCKADDR_STORAGE`: a buffer large and aligned enough for any address (128 bytes).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SOCKADDR_STORAGE {
    /// `AF_*` family.
    pub ss_family: ADDRESS_FAMILY,
    /// Padding up to the 8-byte aligned member.
    pub ss_pad1: [u8; 6],
    /// Forces 8-byte alignment.
    pub ss_align: i64,
    /// Rest of the storage.
    pub ss_pad2: [u8; 112],
}

impl Default for SOCKADDR_STORAGE {
    fn default() -> Self {
        Self {
            ss_family: 0,
            ss_pad1: [0; 6],
            ss_align: 0,
            ss_pad2: [0; 112],
        }
    }
}

/// Byte size of a `SOCKADDR_IN` (what `AddressLength` must be at least for `AF_INET`).
pub const SOCKADDR_IN_SIZE: u32 = 16;
/// Byte size of a `SOCKADDR_IN6` (what `AddressLength` must be at least for `AF_INET6`).
pub const SOCKADDR_IN6_SIZE: u32 = 28;

/// The `SOCKADDR_*` size required for `family`, or `None` for a family NDK does not use.
#[must_use]
pub const fn sockaddr_size_for_family(family: ADDRESS_FAMILY) -> Option<u32> {
    match family {
        AF_INET => Some(SOCKADDR_IN_SIZE),
        AF_INET6 => Some(SOCKADDR_IN6_SIZE),
        _ => None,
    }
}

// Layout pins. These types have the same layout on every Windows target except where pointer
// sized (`GROUP_AFFINITY`).
const _: () = {
    use core::mem::offset_of;
    assert!(size_of::<GUID>() == 16);
    assert!(offset_of!(GUID, Data2) == 4);
    assert!(offset_of!(GUID, Data3) == 6);
    assert!(offset_of!(GUID, Data4) == 8);
    assert!(size_of::<SOCKADDR>() == 16);
    assert!(offset_of!(SOCKADDR, sa_data) == 2);
    assert!(size_of::<SOCKADDR_IN>() == SOCKADDR_IN_SIZE as usize);
    assert!(offset_of!(SOCKADDR_IN, sin_port) == 2);
    assert!(offset_of!(SOCKADDR_IN, sin_addr) == 4);
    assert!(offset_of!(SOCKADDR_IN, sin_zero) == 8);
    assert!(align_of::<SOCKADDR_IN>() == 4);
    assert!(size_of::<SOCKADDR_IN6>() == SOCKADDR_IN6_SIZE as usize);
    assert!(offset_of!(SOCKADDR_IN6, sin6_port) == 2);
    assert!(offset_of!(SOCKADDR_IN6, sin6_flowinfo) == 4);
    assert!(offset_of!(SOCKADDR_IN6, sin6_addr) == 8);
    assert!(offset_of!(SOCKADDR_IN6, sin6_scope_id) == 24);
    assert!(size_of::<SOCKADDR_STORAGE>() == 128);
    assert!(align_of::<SOCKADDR_STORAGE>() == 8);
    assert!(offset_of!(SOCKADDR_STORAGE, ss_align) == 8);
    assert!(size_of::<MDL>() == 0);
};

#[cfg(target_pointer_width = "64")]
const _: () = {
    use core::mem::offset_of;
    assert!(size_of::<GROUP_AFFINITY>() == 16);
    assert!(offset_of!(GROUP_AFFINITY, Group) == 8);
    assert!(offset_of!(GROUP_AFFINITY, Reserved) == 10);
};
