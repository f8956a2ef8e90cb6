//! Kernel registered memory: an MDL chain mapped into system space, seen as one byte range.
//!
//! [`Region::from_mdl_chain`] walks the chain by `Next`, takes `MmGetMdlByteCount` bytes of each
//! MDL (fewer from the last, to the registered length) and maps each with
//! `MmGetSystemAddressForMdlSafe(.., NormalPagePriority | MdlMappingNoExecute)`: the MDL's
//! existing system mapping when it has one (`MDL_MAPPED_TO_SYSTEM_VA` or
//! `MDL_SOURCE_IS_NONPAGED_POOL`), else `MmMapLockedPagesSpecifyCache`. A mapping made here
//! belongs to the MDL and is released by its owner's `MmUnlockPages`/`IoFreeMdl`, as for any
//! user of the macro. Mapping happens once, at creation (which may fail); reads, writes and
//! copies are then the shared bounds-checked raw copies of `platform/copy.rs`, which this
//! module enables by implementing its `SegmentedMemory` contract.
//!
//! [`Region::try_concat`] builds a composite from byte ranges of other regions (a fast
//! registration over pages of several LAMs): its segments are sub-ranges of the parts' mapped
//! segments, nothing new is mapped, and it holds the parts' regions as long as it exists.
//!
//! Soundness rests on the constructor contract, which is the NDK contract for registered
//! memory: the pages stay locked and the MDLs unchanged while the region exists, and
//! overlapping accesses are not made concurrently. No Rust reference to the memory is ever
//! formed. Must never: map anything after creation, or touch memory outside a checked range.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ffi::c_void;
use core::ptr::{self, NonNull};

use crate::platform::copy::{self, SegmentedMemory};
use crate::platform::{ConcatError, PVec, RegionError, RegionOps, RegionPart};
use crate::sys::ffi::MmMapLockedPagesSpecifyCache;
use crate::sys::ke::KERNEL_MODE;
use crate::sys::mm::{
    MDL, MDL_MAPPING_NO_EXECUTE, MM_CACHED, NORMAL_PAGE_PRIORITY, has_system_mapping,
};

/// Longest MDL chain accepted (a guard against a cyclic chain of zero-length MDLs).
pub const MAX_MDL_CHAIN: usize = 1 << 16;

/// Why an MDL chain could not become a [`Region`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MdlRegionError {
    /// The first MDL pointer is null.
    Null,
    /// The chain describes fewer bytes than requested, or is longer than [`MAX_MDL_CHAIN`].
    BadChain,
    /// `MmGetSystemAddressForMdlSafe` failed (system PTEs exhausted): retryable.
    MapFailed,
    /// The segment table could not be allocated.
    NoMemory,
}

/// One contiguous, mapped range.
#[derive(Clone, Copy, Debug)]
struct Segment {
    ptr: NonNull<u8>,
    len: usize,
}

/// Registered memory: one or more mapped segments seen as one byte range.
///
/// # Invariants
/// Every segment's `ptr` is valid for reads and writes of `len` bytes for as long as the
/// `Region` exists, and no Rust reference to those bytes exists meanwhile (the constructors'
/// contract; for a composite, the parts it holds in `parts`, whose segments its own are
/// sub-ranges of). `lens[i] == segments[i].len` and `len` is their sum (no overflow).
#[derive(Debug)]
pub struct Region {
    segments: Box<[Segment]>,
    lens: Box<[usize]>,
    len: usize,
    /// A composite's parts, kept alive as long as the composite; `None` for other regions.
    parts: Option<PVec<RegionPart>>,
}

#[expect(
    clippy::non_send_fields_in_send_ty,
    reason = "the segment pointers are what the SAFETY argument below is about"
)]
// SAFETY: a `Region` only describes memory; concurrent use is sound under the constructor
// contract (no concurrent accesses to overlapping bytes), and every access is a raw copy.
unsafe impl Send for Region {}
// SAFETY: see `Send`; `&Region` methods only perform bounds-checked raw copies.
unsafe impl Sync for Region {}

/// `Vec::with_capacity`, fallibly.
fn try_vec<T>(capacity: usize) -> Option<Vec<T>> {
    let mut vec = Vec::new();
    vec.try_reserve_exact(capacity).ok()?;
    Some(vec)
}

/// `MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority | MdlMappingNoExecute)`.
///
/// # Safety
/// `mdl` is a valid MDL describing locked pages; IRQL <= `DISPATCH_LEVEL`.
unsafe fn system_address(mdl: *mut MDL) -> *mut c_void {
    // SAFETY: valid MDL per the contract; a copy of its fixed header is read, no reference kept.
    let header = unsafe { mdl.read() };
    if has_system_mapping(header.MdlFlags) {
        return header.MappedSystemVa;
    }
    // SAFETY: the pages are locked (contract); KernelMode mapping at IRQL <= DISPATCH_LEVEL
    // with BugCheckOnFailure FALSE returns null on failure instead of bug-checking.
    unsafe {
        MmMapLockedPagesSpecifyCache(
            mdl,
            KERNEL_MODE,
            MM_CACHED,
            ptr::null_mut(),
            0,
            NORMAL_PAGE_PRIORITY | MDL_MAPPING_NO_EXECUTE,
        )
    }
}

impl Region {
    fn build(segments: Vec<Segment>) -> Option<Self> {
        let mut lens = try_vec(segments.len())?;
        lens.extend(segments.iter().map(|s| s.len));
        let len = lens
            .iter()
            .try_fold(0_usize, |acc, &l| acc.checked_add(l))?;
        // Exact capacity, so neither conversion reallocates.
        Some(Self {
            segments: segments.into_boxed_slice(),
            lens: lens.into_boxed_slice(),
            len,
            parts: None,
        })
    }

    fn segment(ptr: *mut u8, len: usize) -> Option<Segment> {
        let ptr = if len == 0 {
            NonNull::dangling()
        } else {
            NonNull::new(ptr)?
        };
        Some(Segment { ptr, len })
    }

    /// The first `length` bytes described by the MDL chain starting at `first`, mapped into
    /// system space. IRQL <= `DISPATCH_LEVEL`.
    ///
    /// # Errors
    /// [`MdlRegionError`]; nothing stays mapped by this call beyond what the MDLs own.
    ///
    /// # Safety
    /// `first` is null or heads a valid MDL chain describing locked pages, and for as long as
    /// the region exists the MDLs and pages stay valid and locked, the memory is not accessed
    /// through Rust references, and it is not accessed concurrently with a region access to the
    /// same bytes (the NDK contract for registered memory).
    pub unsafe fn from_mdl_chain(
        first: *mut crate::abi::MDL,
        length: usize,
    ) -> Result<Self, MdlRegionError> {
        let first = first.cast::<MDL>();
        if first.is_null() {
            return Err(MdlRegionError::Null);
        }
        // Count the MDLs needed first, so the table is allocated once.
        let mut count = 0;
        let mut covered = 0_usize;
        let mut mdl = first;
        while covered < length {
            if mdl.is_null() || count == MAX_MDL_CHAIN {
                return Err(MdlRegionError::BadChain);
            }
            // SAFETY: a non-null element of a valid chain (contract); header copied.
            let header = unsafe { mdl.read() };
            let (bytes, next) = (header.ByteCount, header.Next);
            covered = covered.saturating_add(bytes as usize);
            count += 1;
            mdl = next;
        }
        let mut segments = try_vec(count).ok_or(MdlRegionError::NoMemory)?;
        let mut remaining = length;
        let mut mdl = first;
        for _ in 0..count {
            // SAFETY: one of the `count` valid MDLs walked above; header copied.
            let header = unsafe { mdl.read() };
            let (bytes, next) = (header.ByteCount, header.Next);
            let take = remaining.min(bytes as usize);
            // SAFETY: a valid MDL of locked pages (contract); callers are at <= DISPATCH.
            let va = unsafe { system_address(mdl) };
            let segment = Self::segment(va.cast(), take).ok_or(MdlRegionError::MapFailed)?;
            segments.push(segment);
            remaining -= take;
            mdl = next;
        }
        Self::build(segments).ok_or(MdlRegionError::NoMemory)
    }

    /// A region over system-space memory `[ptr, ptr + len)`; `None` if `ptr` is null with
    /// `len > 0`, or the table cannot be allocated.
    ///
    /// # Safety
    /// For as long as the region exists: `ptr` is valid for reads and writes of `len` bytes
    /// (resident if accessed at `DISPATCH_LEVEL`); the memory is not accessed through Rust
    /// references, nor concurrently with a region access to the same bytes.
    #[must_use]
    pub unsafe fn from_raw_parts(ptr: *mut u8, len: usize) -> Option<Self> {
        let mut segments = try_vec(1)?;
        segments.push(Self::segment(ptr, len)?);
        Self::build(segments)
    }

    /// A region over several system-space ranges, in order.
    ///
    /// # Safety
    /// As for [`Region::from_raw_parts`], for every `(ptr, len)` pair.
    #[must_use]
    pub unsafe fn from_raw_segments(ranges: &[(*mut u8, usize)]) -> Option<Self> {
        let mut segments = try_vec(ranges.len())?;
        for &(ptr, len) in ranges {
            segments.push(Self::segment(ptr, len)?);
        }
        Self::build(segments)
    }

    /// A composite region: the bytes of `parts` one after the other (byte 0 is byte
    /// `parts[0].offset` of `parts[0].region`), holding `parts` (and every part's region) for as
    /// long as it exists. Maps nothing; callable at IRQL <= `DISPATCH_LEVEL` (non-paged pool).
    /// `token` is the platform's admission (nothing on the kernel). Parts of zero bytes add
    /// nothing; no parts make an empty region.
    ///
    /// # Errors
    ///
    /// [`ConcatError::Range`] if a part's range is not inside its region or the total length
    /// overflows `usize`; [`ConcatError::NoMemory`] if the tables cannot be allocated.
    pub fn try_concat(parts: PVec<RegionPart>, _token: ()) -> Result<Self, ConcatError> {
        let (count, _) = copy::concat_shape(parts.iter().map(|p| (&*p.region, p.offset, p.len)))?;
        let mut segments = try_vec(count).ok_or(ConcatError::NoMemory)?;
        for part in parts.iter() {
            for (index, skip, len) in copy::sub_ranges(&part.region.lens, part.offset, part.len) {
                let base = part.region.segments[index].ptr;
                // SAFETY: `sub_ranges` yields `skip + len <= segment length` with `len > 0`, so
                // `skip` is inside the part's mapped segment (one mapping, by the part's
                // invariant) and the offset pointer stays in it (hence non-null).
                let ptr = unsafe { base.add(skip) };
                segments.push(Segment { ptr, len });
            }
        }
        // Invariant: every segment is a sub-range of a part's segment, valid while the part's
        // region exists (its invariant); `parts` holds every part's region as long as this one
        // exists, and the parts' constructor contracts cover the same bytes here.
        let mut region = Self::build(segments).ok_or(ConcatError::NoMemory)?;
        region.parts = Some(parts);
        Ok(region)
    }

    /// Segment lengths, in order.
    #[must_use]
    pub fn segment_lens(&self) -> &[usize] {
        &self.lens
    }
}

impl RegionOps for Region {
    fn len(&self) -> usize {
        self.len
    }

    fn read(&self, offset: usize, dst: &mut [u8]) -> Result<(), RegionError> {
        copy::read(self, offset, dst)
    }

    fn write(&self, offset: usize, src: &[u8]) -> Result<(), RegionError> {
        copy::write(self, offset, src)
    }

    fn copy_between(
        dst: &Self,
        dst_offset: usize,
        src: &Self,
        src_offset: usize,
        len: usize,
    ) -> Result<(), RegionError> {
        copy::copy_between(dst, dst_offset, src, src_offset, len)
    }
}

// SAFETY: the `Region` invariants are exactly the trait's contract: every segment's `ptr` is a
// system-space mapping valid for reads and writes of its `len` bytes while the region exists
// (constructor contract: locked pages, unchanged MDLs), `lens` mirrors the segments and never
// changes, `len` is their sum, and no reference to the bytes exists; non-concurrent access to
// overlapping bytes is the constructor contract.
unsafe impl SegmentedMemory for Region {
    fn segment_lens(&self) -> &[usize] {
        &self.lens
    }

    fn total_len(&self) -> usize {
        self.len
    }

    fn segment_base(&self, index: usize) -> *mut u8 {
        self.segments[index].ptr.as_ptr()
    }
}
