//! Logical address mappings (`NdkBuildLAM` / `NdkReleaseLAM`) and the logical addresses they
//! hand out.
//!
//! SoftNDK has no DMA: a "logical address" is an opaque per-adapter page handle that the
//! provider resolves back to the host memory the LAM was built over. Owns the encoding of those
//! handles and the adapter-level build/release operations; the LAM entries themselves live in
//! the adapter's memory table (one lock for tokens and LAMs, [`lock_order::MEMORY`]), so a
//! fast-register or a privileged-token SGE resolves its pages under the same lock as tokens.
//!
//! ```text
//! bit 63      0 (NDK_LOGICAL_ADDRESS is signed: addresses stay positive)
//! bit 62      1 (tag: 0 and small integers are never valid logical addresses)
//! bits 47..62 LAM slot index (15 bits)
//! bits 31..47 LAM slot generation (16 bits: a released LAM's addresses go stale)
//! bits 12..31 page number inside the LAM (19 bits: 2 GiB per LAM)
//! bits  0..12 byte offset inside the page
//! ```
//!
//! Page `n` of a LAM covers bytes `[n·PAGE_SIZE − FBO, (n+1)·PAGE_SIZE − FBO)` of the buffer the
//! LAM was built over (`FBO` = the buffer's offset inside its first page), so consecutive pages
//! of one LAM have consecutive logical addresses; bytes before the buffer (first page) or after
//! it (last page) resolve to nothing. LAMs are not lifetime-tracked objects (they have no header
//! and no close): they hold no unit on the adapter, and the adapter's teardown frees whatever
//! the consumer did not release (`spec/ndkpi.md` §5.6 inference).
//!
//! Must never dereference the MDL's virtual address (it is only an index) or let a logical
//! address reach memory outside the LAM's buffer.
//!
//! [`lock_order::MEMORY`]: super::lock_order::MEMORY
#![deny(unsafe_code)]

use crate::abi::NTSTATUS;
use crate::engine::PAGE_SIZE;
use crate::platform::prelude::*;
use crate::platform::{Platform, Region};
use crate::sync::Arc;

use super::Adapter;

const TAG: u64 = 1 << 62;
const INDEX_SHIFT: u32 = 47;
const GENERATION_SHIFT: u32 = 31;
const PAGE_SHIFT: u32 = 12;
const _: () = assert!(1 << PAGE_SHIFT == PAGE_SIZE);

/// Most LAM slots per adapter (15 index bits).
pub const MAX_LAMS: u32 = 1 << 15;
/// Most pages one LAM can describe (19 page bits).
pub const MAX_LAM_PAGES: u32 = 1 << (GENERATION_SHIFT - PAGE_SHIFT);

/// A decoded logical address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Logical {
    /// LAM slot index.
    pub index: u32,
    /// LAM slot generation.
    pub generation: u16,
    /// Page number inside the LAM.
    pub page: u32,
    /// Byte offset inside the page.
    pub offset: u32,
}

impl Logical {
    /// The logical address of `page` of LAM slot `index` at `generation` (offset 0).
    #[must_use]
    pub const fn page_address(index: u32, generation: u16, page: u32) -> u64 {
        TAG | ((index as u64) << INDEX_SHIFT)
            | ((generation as u64) << GENERATION_SHIFT)
            | ((page as u64) << PAGE_SHIFT)
    }

    /// Decodes `address`; `None` if it is not a SoftNDK logical address.
    #[must_use]
    pub const fn decode(address: u64) -> Option<Self> {
        if address & (3 << 62) != TAG {
            return None;
        }
        #[allow(clippy::cast_possible_truncation)] // every field is masked to its width
        Some(Self {
            index: ((address >> INDEX_SHIFT) & (MAX_LAMS as u64 - 1)) as u32,
            generation: (address >> GENERATION_SHIFT) as u16,
            page: ((address >> PAGE_SHIFT) & (MAX_LAM_PAGES as u64 - 1)) as u32,
            offset: (address & (PAGE_SIZE - 1)) as u32,
        })
    }

    /// The byte offset inside the LAM's buffer this address names, given the buffer's offset
    /// in its first page; `None` for bytes before the buffer.
    #[must_use]
    pub const fn buffer_offset(self, fbo: u32) -> Option<u64> {
        (self.page as u64 * PAGE_SIZE + self.offset as u64).checked_sub(fbo as u64)
    }
}

/// One built LAM as the memory table stores it.
#[derive(Debug)]
pub(super) struct LamEntry {
    /// The LAM's admission by the platform's allocation gate, held while it is built, so
    /// LAMs count in the platform's live allocations (and a leak would show).
    pub _accounted: <Platform as PlatformOps>::AllocToken,
    /// The buffer the LAM was built over (its byte 0 is at `fbo` in page 0).
    pub region: Arc<Region>,
    /// Offset of the buffer inside its first page.
    pub fbo: u32,
    /// Pages in the mapping.
    pub pages: u32,
}

impl LamEntry {
    /// The buffer range `[offset, offset + length)` named by logical `address`, if the whole
    /// range lies inside the buffer.
    pub fn range(&self, address: Logical, length: u64) -> Option<u64> {
        let start = address.buffer_offset(self.fbo)?;
        let end = start.checked_add(length)?;
        (address.page < self.pages && end <= self.region.len() as u64).then_some(start)
    }
}

/// What `NdkBuildLAM` hands back: the slot naming the mapping and its geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuiltLam {
    /// LAM slot index.
    pub index: u32,
    /// LAM slot generation.
    pub generation: u16,
    /// Pages in the mapping (`AdapterPageCount`).
    pub pages: u32,
    /// `*pFBO`.
    pub fbo: u32,
}

impl BuiltLam {
    /// The logical address of page `n`.
    #[must_use]
    pub const fn page(&self, n: u32) -> u64 {
        Logical::page_address(self.index, self.generation, n)
    }

    /// The provider-private `AdapterContext` value: the slot index and generation, tagged so it
    /// is never 0 (31 bits, so it fits a pointer on every target).
    #[must_use]
    pub const fn context(&self) -> usize {
        CONTEXT_TAG | ((self.index as usize) << 16) | self.generation as usize
    }
}

const CONTEXT_TAG: usize = 1 << 31;

/// Pages needed for `length` bytes starting `fbo` bytes into the first page.
#[must_use]
pub fn pages_for(fbo: u32, length: u64) -> Option<u32> {
    let span = length.checked_add(u64::from(fbo))?;
    u32::try_from(span.div_ceil(PAGE_SIZE)).ok()
}

impl Adapter {
    /// `NdkBuildLAM` over `region` (the first `Length` bytes of the MDL chain) whose first byte
    /// has virtual address `base_va`: publishes the mapping and returns its geometry. The
    /// caller has already checked the consumer's buffer size against the page count
    /// [`pages_for`] gives for `base_va % PAGE_SIZE` and the length.
    ///
    /// # Errors
    ///
    /// `STATUS_INVALID_PARAMETER` for an empty region or one above `MaxRegistrationSize`;
    /// `STATUS_INSUFFICIENT_RESOURCES` when the LAM table is full or cannot grow.
    pub fn build_lam(&self, region: Region, base_va: u64) -> Result<BuiltLam, NTSTATUS> {
        let length = region.len();
        if length == 0 || length > self.limits().max_registration_size {
            return Err(crate::abi::STATUS_INVALID_PARAMETER);
        }
        #[allow(clippy::cast_possible_truncation)] // < PAGE_SIZE
        let fbo = (base_va % PAGE_SIZE) as u32;
        let pages = pages_for(fbo, length as u64)
            .filter(|&p| p <= MAX_LAM_PAGES)
            .ok_or(crate::abi::STATUS_INVALID_PARAMETER)?;
        let no_memory = |_| crate::abi::STATUS_INSUFFICIENT_RESOURCES;
        let entry = LamEntry {
            _accounted: self
                .platform()
                .alloc_gate(core::panic::Location::caller())
                .map_err(no_memory)?,
            region: self.platform().try_arc(region).map_err(no_memory)?,
            fbo,
            pages,
        };
        let (index, generation) = self.memory().publish_lam(self.platform(), entry)?;
        Ok(BuiltLam {
            index,
            generation,
            pages,
            fbo,
        })
    }

    /// `NdkReleaseLAM` of the mapping whose `AdapterContext` is `context`. Returns whether a
    /// live mapping was released (a stale or foreign context is ignored: the call is `VOID`).
    pub fn release_lam(&self, context: usize) -> bool {
        if context & !(CONTEXT_TAG | 0x7FFF_FFFF) != 0 || context & CONTEXT_TAG == 0 {
            return false;
        }
        #[allow(clippy::cast_possible_truncation)] // masked to 15 and 16 bits
        let (index, generation) = (((context >> 16) & 0x7FFF) as u32, context as u16);
        self.memory().release_lam(index, generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_and_are_tagged() {
        let a = Logical::page_address(0x7FFF, 0xBEEF, MAX_LAM_PAGES - 1) + 17;
        assert_eq!(
            Logical::decode(a),
            Some(Logical {
                index: 0x7FFF,
                generation: 0xBEEF,
                page: MAX_LAM_PAGES - 1,
                offset: 17
            })
        );
        assert!(i64::try_from(a).is_ok(), "stays a positive LARGE_INTEGER");
        assert_eq!(Logical::decode(0), None);
        assert_eq!(Logical::decode(0x1000), None);
        assert_eq!(Logical::decode(u64::MAX), None);
    }

    #[test]
    fn buffer_offsets_account_for_the_first_byte_offset() {
        let first = Logical::decode(Logical::page_address(1, 1, 0) + 100).unwrap();
        assert_eq!(first.buffer_offset(100), Some(0));
        assert_eq!(first.buffer_offset(101), None, "before the buffer");
        let second = Logical::decode(Logical::page_address(1, 1, 1)).unwrap();
        assert_eq!(second.buffer_offset(100), Some(PAGE_SIZE - 100));
        assert_eq!(pages_for(100, PAGE_SIZE - 100), Some(1));
        assert_eq!(pages_for(100, PAGE_SIZE - 99), Some(2));
        assert_eq!(pages_for(0, 1), Some(1));
    }
}
