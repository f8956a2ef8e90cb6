//! The seam between an NDK `MDL*` and a platform [`Region`].
//!
//! On the host, consumers describe memory with [`HostMdl`], a `#[repr(C)]` chain of
//! `{ next, va, byte_count }` that plays the role of a kernel MDL chain: what the consumer
//! wrapper passes where the ABI says `MDL*`. In the kernel build (not compiled here) this file
//! is replaced by one that reads real MDLs (`MmGetMdlVirtualAddress`, `MmGetMdlByteCount`,
//! `Next`) and maps them with `MmGetSystemAddressForMdlSafe` into the kernel platform's
//! `Region`; the rest of the dispatch layer does not change.
//!
//! Must never: keep the MDL pointer, or accept a chain that is not virtually contiguous.
#![allow(unsafe_code)]

use alloc::vec::Vec;

use crate::abi::{MDL, NTSTATUS, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_PARAMETER};
use crate::platform::Region;

/// The host's MDL: one virtually contiguous piece of consumer memory, chained.
#[repr(C)]
#[derive(Debug)]
pub struct HostMdl {
    /// The next piece, or NULL.
    pub next: *mut Self,
    /// First byte of this piece (the MDL's virtual address).
    pub va: *mut u8,
    /// Bytes in this piece.
    pub byte_count: usize,
}

/// Longest MDL chain accepted (bounds the walk over consumer memory).
pub const MAX_CHAIN: usize = 64;

/// The first `length` bytes described by `mdl` as a region, with the chain's starting virtual
/// address (the registration's base address, used only as an index).
///
/// # Errors
///
/// `STATUS_INVALID_PARAMETER` for a NULL MDL, a zero length, a chain shorter than `length`,
/// longer than [`MAX_CHAIN`], or not virtually contiguous; `STATUS_INSUFFICIENT_RESOURCES` if the
/// description cannot be allocated.
///
/// # Safety
///
/// `mdl` is NULL or a [`HostMdl`] chain whose pieces are valid for reads and writes for as long
/// as the region lives, and not accessed through references meanwhile (the NDK contract for
/// registered memory: the consumer keeps it locked and leaves it to the provider).
pub unsafe fn region_from_mdl(mdl: *mut MDL, length: usize) -> Result<(Region, u64), NTSTATUS> {
    let mut at = mdl.cast::<HostMdl>();
    if at.is_null() || length == 0 {
        return Err(STATUS_INVALID_PARAMETER);
    }
    let mut pieces: Vec<(*mut u8, usize)> = Vec::new();
    let mut left = length;
    let mut base = None;
    let mut expected: Option<usize> = None;
    while left > 0 {
        if at.is_null() || pieces.len() == MAX_CHAIN {
            return Err(STATUS_INVALID_PARAMETER);
        }
        // SAFETY: a live `HostMdl` of the consumer's chain (caller's contract).
        let piece = unsafe { at.read() };
        if expected.is_some_and(|e| e != piece.va.addr()) {
            return Err(STATUS_INVALID_PARAMETER);
        }
        let take = piece.byte_count.min(left);
        expected = piece.va.addr().checked_add(piece.byte_count);
        base.get_or_insert_with(|| piece.va.addr() as u64);
        if take > 0 {
            pieces
                .try_reserve(1)
                .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
            pieces.push((piece.va, take));
        }
        left -= take;
        at = piece.next;
    }
    // SAFETY: every piece is valid for reads and writes while registered and left to the
    // provider (caller's contract), and lies inside its `HostMdl` piece.
    let region = unsafe { Region::from_raw_segments(&pieces) }.ok_or(STATUS_INVALID_PARAMETER)?;
    Ok((region, base.unwrap_or(0)))
}
