//! The seam between an NDK `MDL*` and a platform [`Region`].
//!
//! On the host, consumers describe memory with [`HostMdl`], a `#[repr(C)]` chain of
//! `{ next, va, byte_count }` that plays the role of a kernel MDL chain: what the consumer
//! wrapper passes where the ABI says `MDL*`. On the kernel build the same entry point reads
//! real MDLs (`StartVa + ByteOffset` = `MmGetMdlVirtualAddress`, `ByteCount`, `Next`) and maps
//! them with the kernel platform's `Region::from_mdl_chain` (`MmGetSystemAddressForMdlSafe`);
//! the rest of the dispatch layer does not change. Both check virtual contiguity with the same
//! contiguity rule.
//!
//! Must never: keep the MDL pointer, or accept a chain that is not virtually contiguous.
#![allow(unsafe_code)]

#[cfg(feature = "std")]
use alloc::vec::Vec;

use crate::abi::{MDL, NTSTATUS, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_PARAMETER};
use crate::platform::Region;

/// The `NdkRegisterMr` rule that an MDL chain describe one virtually contiguous buffer: each
/// piece must start where the previous one ended. Also yields the chain's base address.
#[derive(Debug, Default)]
struct Contiguity {
    base: Option<usize>,
    next: Option<usize>,
}

impl Contiguity {
    /// Accepts the next piece `[va, va + len)`.
    fn piece(&mut self, va: usize, len: usize) -> Result<(), NTSTATUS> {
        if self.next.is_some_and(|next| next != va) {
            return Err(STATUS_INVALID_PARAMETER);
        }
        self.base.get_or_insert(va);
        self.next = Some(va.checked_add(len).ok_or(STATUS_INVALID_PARAMETER)?);
        Ok(())
    }

    /// The first piece's address (the registration's base address, an index only).
    fn base(&self) -> u64 {
        self.base.map_or(0, |base| base as u64)
    }
}

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
#[cfg(feature = "std")]
pub unsafe fn region_from_mdl(mdl: *mut MDL, length: usize) -> Result<(Region, u64), NTSTATUS> {
    let mut at = mdl.cast::<HostMdl>();
    if at.is_null() || length == 0 {
        return Err(STATUS_INVALID_PARAMETER);
    }
    let mut pieces: Vec<(*mut u8, usize)> = Vec::new();
    let mut left = length;
    let mut contiguity = Contiguity::default();
    while left > 0 {
        if at.is_null() || pieces.len() == MAX_CHAIN {
            return Err(STATUS_INVALID_PARAMETER);
        }
        // SAFETY: a live `HostMdl` of the consumer's chain (caller's contract).
        let piece = unsafe { at.read() };
        contiguity.piece(piece.va.addr(), piece.byte_count)?;
        let take = piece.byte_count.min(left);
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
    Ok((region, contiguity.base()))
}

/// The first `length` bytes described by the kernel MDL chain `mdl`, mapped into system space,
/// with the chain's starting virtual address (the registration's base address, an index only).
///
/// # Errors
///
/// `STATUS_INVALID_PARAMETER` for a NULL MDL, a zero length, a chain shorter than `length` or
/// longer than the platform's bound, or not virtually contiguous;
/// `STATUS_INSUFFICIENT_RESOURCES` if the description cannot be allocated or a page mapping
/// fails (system PTEs exhausted).
///
/// # Safety
///
/// `mdl` is NULL or heads the consumer's MDL chain describing locked pages that stay valid and
/// locked while the region lives (the NDK contract for registered memory); at or below
/// `DISPATCH_LEVEL`.
#[cfg(not(feature = "std"))]
pub unsafe fn region_from_mdl(mdl: *mut MDL, length: usize) -> Result<(Region, u64), NTSTATUS> {
    use crate::platform::kernel::{MAX_MDL_CHAIN, MdlRegionError};
    use crate::sys::mm::MDL as KernelMdl;

    if mdl.is_null() || length == 0 {
        return Err(STATUS_INVALID_PARAMETER);
    }
    let mut contiguity = Contiguity::default();
    let mut at = mdl.cast::<KernelMdl>();
    let mut covered = 0_usize;
    let mut walked = 0;
    while covered < length {
        if at.is_null() || walked == MAX_MDL_CHAIN {
            return Err(STATUS_INVALID_PARAMETER);
        }
        // SAFETY: a non-null MDL of the consumer's valid chain (caller's contract); the header
        // is copied, nothing is kept.
        let header = unsafe { at.read() };
        let va = header.StartVa.addr() + header.ByteOffset as usize;
        contiguity.piece(va, header.ByteCount as usize)?;
        covered = covered.saturating_add(header.ByteCount as usize);
        walked += 1;
        at = header.Next;
    }
    // SAFETY: the caller's contract is `from_mdl_chain`'s (valid chain of locked pages, left to
    // the provider while registered, at or below DISPATCH_LEVEL).
    let region = unsafe { Region::from_mdl_chain(mdl, length) }.map_err(|error| match error {
        MdlRegionError::Null | MdlRegionError::BadChain => STATUS_INVALID_PARAMETER,
        MdlRegionError::MapFailed | MdlRegionError::NoMemory => STATUS_INSUFFICIENT_RESOURCES,
    })?;
    Ok((region, contiguity.base()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_pieces_give_the_first_address_as_base() {
        let mut check = Contiguity::default();
        assert_eq!(check.piece(0x1000, 0x800), Ok(()));
        assert_eq!(check.piece(0x1800, 0x10), Ok(()));
        assert_eq!(check.base(), 0x1000);
    }

    #[test]
    fn a_gap_or_an_overlap_is_refused() {
        let mut gap = Contiguity::default();
        assert_eq!(gap.piece(0x1000, 0x800), Ok(()));
        assert_eq!(gap.piece(0x1900, 0x10), Err(STATUS_INVALID_PARAMETER));
        let mut overlap = Contiguity::default();
        assert_eq!(overlap.piece(0x1000, 0x800), Ok(()));
        assert_eq!(overlap.piece(0x17ff, 0x10), Err(STATUS_INVALID_PARAMETER));
    }

    #[test]
    fn a_piece_ending_past_the_address_space_is_refused() {
        let mut check = Contiguity::default();
        assert_eq!(
            check.piece(usize::MAX - 4, 8),
            Err(STATUS_INVALID_PARAMETER)
        );
    }
}
