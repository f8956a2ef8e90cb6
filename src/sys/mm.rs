//! Memory-manager layouts and constants (`wdm.h`): the fields of an `MDL` and the arguments of
//! `MmGetSystemAddressForMdlSafe`, which the kernel platform uses to map registered memory.
//!
//! `crate::abi::MDL` is the opaque pointee NDKPI signatures use; this module's [`MDL`] is the
//! field view of the same object (x64 layout), which only the kernel platform reads, through a
//! pointer cast.

use core::ffi::c_void;
use core::mem::{offset_of, size_of};

/// `MDL` (x64 0x30 bytes; the page-frame array follows it in memory).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MDL {
    /// Next MDL of a chain, or null.
    pub Next: *mut Self,
    /// Size of this MDL including its page array.
    pub Size: i16,
    /// `MDL_*` flags.
    pub MdlFlags: i16,
    /// Owning process (user-space MDLs).
    pub Process: *mut c_void,
    /// System address of the mapping, valid when `MDL_MAPPED_TO_SYSTEM_VA` or
    /// `MDL_SOURCE_IS_NONPAGED_POOL` is set (already includes `ByteOffset`).
    pub MappedSystemVa: *mut c_void,
    /// Page-aligned virtual address of the buffer.
    pub StartVa: *mut c_void,
    /// Bytes described (`MmGetMdlByteCount`).
    pub ByteCount: u32,
    /// Offset of the buffer in its first page (`MmGetMdlByteOffset`).
    pub ByteOffset: u32,
}

/// `MDL_MAPPED_TO_SYSTEM_VA`.
pub const MDL_MAPPED_TO_SYSTEM_VA: i16 = 0x0001;
/// `MDL_SOURCE_IS_NONPAGED_POOL`.
pub const MDL_SOURCE_IS_NONPAGED_POOL: i16 = 0x0004;

/// `MM_PAGE_PRIORITY::NormalPagePriority`.
pub const NORMAL_PAGE_PRIORITY: u32 = 16;
/// `MdlMappingNoExecute`: OR-ed into the priority, maps the pages non-executable.
pub const MDL_MAPPING_NO_EXECUTE: u32 = 0x4000_0000;
/// `MEMORY_CACHING_TYPE::MmCached`.
pub const MM_CACHED: u32 = 1;

/// Whether `MmGetSystemAddressForMdlSafe` would return `MappedSystemVa` without mapping
/// (the macro's test).
#[must_use]
pub const fn has_system_mapping(mdl_flags: i16) -> bool {
    mdl_flags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL) != 0
}

const _: () = {
    assert!(size_of::<MDL>() == 0x30);
    assert!(offset_of!(MDL, Size) == 0x08);
    assert!(offset_of!(MDL, MdlFlags) == 0x0A);
    assert!(offset_of!(MDL, Process) == 0x10);
    assert!(offset_of!(MDL, MappedSystemVa) == 0x18);
    assert!(offset_of!(MDL, StartVa) == 0x20);
    assert!(offset_of!(MDL, ByteCount) == 0x28);
    assert!(offset_of!(MDL, ByteOffset) == 0x2C);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_or_nonpaged_mdls_need_no_mapping_call() {
        assert!(has_system_mapping(MDL_MAPPED_TO_SYSTEM_VA));
        assert!(has_system_mapping(MDL_SOURCE_IS_NONPAGED_POOL | 0x0002));
        assert!(
            !has_system_mapping(0x0002),
            "MDL_PAGES_LOCKED alone is not mapped"
        );
        assert!(!has_system_mapping(0));
    }
}
