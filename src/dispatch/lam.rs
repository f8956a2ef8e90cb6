//! `NdkBuildLAM` and `NdkReleaseLAM` (slots of `NDK_ADAPTER_DISPATCH`).
//!
//! `NdkBuildLAM` completes inline (never `STATUS_PENDING`, so a NULL `RequestCompletion` is
//! tolerated, spec §0 #10). It maps the MDL chain first (validating it), then checks the
//! consumer's buffer: too small (or a NULL `pNdkLAM`) answers `STATUS_BUFFER_TOO_SMALL` with the
//! required size (`abi::lam_size_for_pages`), and the mapping is undone. `AdapterContext`
//! carries the LAM's slot name; `NdkReleaseLAM` reads only that field.
#![allow(unsafe_code)]

use core::ffi::c_void;
use core::mem::offset_of;
use core::ptr;

use crate::abi::{
    MDL, NDK_ADAPTER, NDK_FN_REQUEST_COMPLETION, NDK_LOGICAL_ADDRESS, NDK_LOGICAL_ADDRESS_MAPPING,
    NTSTATUS, STATUS_BUFFER_TOO_SMALL, STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
    lam_size_for_pages,
};
use crate::engine::PAGE_SIZE;
use crate::verbs::Adapter;
use crate::verbs::lam::pages_for;

use super::handle::borrow;
use super::mdl::region_from_mdl;
use super::read_size;

/// `NdkBuildLAM`.
pub static BUILD_LAM: crate::abi::NDK_FN_BUILD_LAM = build_lam;
/// `NdkReleaseLAM`.
pub static RELEASE_LAM: crate::abi::NDK_FN_RELEASE_LAM = release_lam;

/// `NdkBuildLAM`. Mandatory: adapter, MDL, `pLAMSize`, `pFBO`; `Length` > 0 and at most
/// `MaxRegistrationSize` (`STATUS_INVALID_PARAMETER`).
unsafe extern "system" fn build_lam(
    adapter: *mut NDK_ADAPTER,
    mdl: *mut MDL,
    length: usize,
    _completion: Option<NDK_FN_REQUEST_COMPLETION>,
    _context: *mut c_void,
    lam: *mut NDK_LOGICAL_ADDRESS_MAPPING,
    size: *mut u32,
    fbo: *mut u32,
) -> NTSTATUS {
    // SAFETY: NDK contract: `adapter` is an open adapter (or NULL), `size` NULL or read/write.
    let (Some(adapter), Some(have)) = (unsafe { borrow::<Adapter>(adapter) }, unsafe {
        read_size(size)
    }) else {
        return STATUS_INVALID_PARAMETER;
    };
    if fbo.is_null() || length == 0 || length > adapter.limits().max_registration_size {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: the consumer's MDL chain describes locked memory that stays valid until the LAM is
    // released (NdkBuildLAM contract; the MDL virtual address is used as an index only).
    let (region, base_va) = match unsafe { region_from_mdl(mdl, length) } {
        Ok(r) => r,
        Err(s) => return s,
    };
    #[allow(clippy::cast_possible_truncation)] // < PAGE_SIZE
    let first_offset = (base_va % PAGE_SIZE) as u32;
    let Some(need) = pages_for(first_offset, length as u64).and_then(lam_size_for_pages) else {
        return STATUS_INVALID_PARAMETER;
    };
    if lam.is_null() || have < need {
        // SAFETY: non-null (read above) and writable per the contract.
        unsafe { size.write_unaligned(need) };
        return STATUS_BUFFER_TOO_SMALL;
    }
    let built = match adapter.build_lam(region, base_va) {
        Ok(b) => b,
        Err(s) => return s,
    };
    let field = |offset: usize| lam.cast::<u8>().wrapping_add(offset);
    // Every field is written unaligned (the consumer's buffer need not be aligned).
    #[allow(clippy::cast_ptr_alignment)]
    let context_field =
        field(offset_of!(NDK_LOGICAL_ADDRESS_MAPPING, AdapterContext)).cast::<*mut c_void>();
    // SAFETY: `lam` is non-null and writable for `have` ≥ `need` bytes, which hold the header
    // and `built.pages` entries (`lam_size_for_pages`); `AdapterContext` is inside the header;
    // unaligned write.
    unsafe { context_field.write_unaligned(ptr::without_provenance_mut(built.context())) };
    // SAFETY: as above, for `AdapterPageCount`.
    unsafe {
        field(offset_of!(NDK_LOGICAL_ADDRESS_MAPPING, AdapterPageCount))
            .cast::<u32>()
            .write_unaligned(built.pages);
    }
    // Written unaligned: the consumer's buffer need not be 8-byte aligned.
    #[allow(clippy::cast_ptr_alignment)]
    let array = field(crate::abi::LAM_HEADER_SIZE).cast::<NDK_LOGICAL_ADDRESS>();
    for n in 0..built.pages {
        #[allow(clippy::cast_possible_wrap)] // logical addresses keep bit 63 clear
        let address = built.page(n) as NDK_LOGICAL_ADDRESS;
        // SAFETY: entry `n` < `built.pages` lies inside the `need` bytes checked above.
        unsafe { array.wrapping_add(n as usize).write_unaligned(address) };
    }
    // SAFETY: checked non-null; writable per the contract.
    unsafe { size.write_unaligned(need) };
    // SAFETY: as above.
    unsafe { fbo.write_unaligned(built.fbo) };
    STATUS_SUCCESS
}

/// `NdkReleaseLAM`: `VOID`; a NULL adapter or LAM, or a LAM this adapter did not build (or
/// already released), is ignored.
unsafe extern "system" fn release_lam(
    adapter: *mut NDK_ADAPTER,
    lam: *mut NDK_LOGICAL_ADDRESS_MAPPING,
) {
    // SAFETY: NDK contract for the adapter pointer.
    let Some(adapter) = (unsafe { borrow::<Adapter>(adapter) }) else {
        return;
    };
    if lam.is_null() {
        return;
    }
    // Read unaligned: the consumer's buffer need not be aligned.
    #[allow(clippy::cast_ptr_alignment)]
    let field = lam
        .cast::<u8>()
        .wrapping_add(offset_of!(NDK_LOGICAL_ADDRESS_MAPPING, AdapterContext))
        .cast::<*mut c_void>();
    // SAFETY: a LAM built by NdkBuildLAM, readable per the contract; only the provider-private
    // `AdapterContext` is read (unaligned).
    let context = unsafe { field.read_unaligned() };
    let _ = adapter.release_lam(context.addr());
}
