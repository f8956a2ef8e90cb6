//! How the engine reaches registered memory.
//!
//! The [`MemorySpace`] (token tables, access checks, memory-registration work requests) and the
//! [`Copier`] (the byte copy) are implemented by the verbs layer; the scatter/gather walk here
//! copies each byte exactly once.
//!
//! The engine never holds a pointer: a resolved range is a [`RegionSlice`] naming a region by an
//! opaque number. Every range of a request is resolved (and so checked) before the first byte
//! is copied; a refused request touches no memory.

use super::types::{Access, AccessError, MemoryHandle, Sge};

/// A checked byte range inside one registered region.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RegionSlice {
    /// The region, in the memory space's own numbering (e.g. an MDL mapping's table index).
    pub region: u64,
    /// Byte offset of the first byte inside the region.
    pub offset: u64,
    /// Number of bytes.
    pub length: u32,
}

impl RegionSlice {
    /// The sub-range `[at, at + length)` of this slice. The caller keeps it inside the slice.
    #[must_use]
    pub const fn sub(self, at: u32, length: u32) -> Self {
        Self {
            region: self.region,
            offset: self.offset + at as u64,
            length,
        }
    }
}

/// `NdkBind`: bind window `mw` to `[virtual_address, virtual_address + length)` of `mr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BindRequest {
    /// The registered region.
    pub mr: MemoryHandle,
    /// The window.
    pub mw: MemoryHandle,
    /// First byte of the window, an address inside the MR.
    pub virtual_address: u64,
    /// Window length in bytes (non-zero).
    pub length: u64,
    /// Rights granted through the window's token ([`Access::from_op_flags`]).
    pub access: Access,
}

/// `NdkFastRegister`: map `pages` (page-size logical pages) onto fast-register MR `mr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FastRegisterRequest<'a> {
    /// The fast-register MR.
    pub mr: MemoryHandle,
    /// Adapter logical page addresses.
    pub pages: &'a [u64],
    /// Offset of the first byte inside the first page (`FBO`).
    pub first_byte_offset: u32,
    /// Region length; at most `pages.len() × PAGE_SIZE − first_byte_offset`.
    pub length: u64,
    /// Address the peer will use for the first byte; `≡ first_byte_offset (mod PAGE_SIZE)`.
    pub base_virtual_address: u64,
    /// Rights granted ([`Access::from_op_flags`]).
    pub access: Access,
}

/// Page size of fast-register page arrays (`PAGE_SIZE` on x64).
pub const PAGE_SIZE: u64 = 4096;

impl FastRegisterRequest<'_> {
    /// The arithmetic rules of ndkpi §2.7 `NdkFastRegister` (the memory space checks the MR).
    ///
    /// # Errors
    ///
    /// [`LayoutError`] when the offset is not inside the first page, the length does not fit the
    /// pages, or the base address is not `first_byte_offset + n × PAGE_SIZE`.
    pub fn check_layout(&self) -> Result<(), LayoutError> {
        let fbo = u64::from(self.first_byte_offset);
        if fbo >= PAGE_SIZE || self.pages.is_empty() {
            return Err(LayoutError);
        }
        let span = (self.pages.len() as u64)
            .checked_mul(PAGE_SIZE)
            .ok_or(LayoutError)?
            - fbo;
        if self.length > span || self.base_virtual_address % PAGE_SIZE != fbo {
            return Err(LayoutError);
        }
        self.base_virtual_address
            .checked_add(self.length)
            .ok_or(LayoutError)?;
        Ok(())
    }
}

/// A fast-register request whose offset, length and base address do not fit its pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LayoutError;

/// The memory of one protection domain as the engine sees it.
///
/// Implemented by the verbs layer over its MR/MW tables. Every method is `&self` because those
/// tables have their own locks (two connected QPs may share one PD, and bind publishes tokens
/// while the peer resolves).
pub trait MemorySpace {
    /// Check a local SGE (token of this PD or its privileged token, range inside the region,
    /// rights `need`) and return the resolved range of exactly `sge.length` bytes.
    ///
    /// # Errors
    ///
    /// Why the access is refused; the engine completes the request with
    /// `Status::LocalProtectionError`.
    fn resolve_local(&self, sge: &Sge, need: Access) -> Result<RegionSlice, AccessError>;

    /// Check a remote access arriving at this PD (token of this PD, still valid, range inside
    /// the region or window, rights `need`) and return the range of exactly `length` bytes.
    ///
    /// # Errors
    ///
    /// Why the access is refused; the requester completes with `Status::RemoteAccessError`.
    fn resolve_remote(
        &self,
        token: u32,
        address: u64,
        length: u32,
        need: Access,
    ) -> Result<RegionSlice, AccessError>;

    /// Validate and apply a bind at post time: the window's token must be usable as soon as
    /// the post returns.
    ///
    /// # Errors
    ///
    /// Why the bind is refused; the post fails with `PostError::Access`.
    fn bind(&self, request: &BindRequest) -> Result<(), AccessError>;

    /// Validate and apply a fast-register at post time (token usable when the post returns).
    ///
    /// # Errors
    ///
    /// Why the registration is refused; the post fails with `PostError::Access`.
    fn fast_register(&self, request: &FastRegisterRequest<'_>) -> Result<(), AccessError>;

    /// `NdkInvalidate` of a fast-registered MR or bound MW, executed in queue order.
    ///
    /// # Errors
    ///
    /// The object is not currently valid; the request completes with `Status::InvalidateError`.
    fn invalidate(&self, target: MemoryHandle) -> Result<(), AccessError>;

    /// Invalidate by token: a peer's send-and-invalidate arriving here, or a read's
    /// `RDMA_READ_LOCAL_INVALIDATE`. Only fast-registered MRs and bound MWs of this PD qualify.
    ///
    /// # Errors
    ///
    /// The token names nothing invalidatable; `Status::InvalidateError`.
    fn invalidate_token(&self, token: u32) -> Result<(), AccessError>;
}

/// The byte copy between resolved ranges, implemented by the verbs layer over the platform's
/// alias-aware copy.
pub trait Copier {
    /// Copy `from.length` bytes from `from` to `to` (equal lengths). The two ranges may be in
    /// the same region and may overlap: the copy must behave like `memmove`.
    fn copy(&mut self, from: RegionSlice, to: RegionSlice);

    /// Copy `from` (inline data held by the engine) into `to` (`to.length == from.len()`).
    fn copy_in(&mut self, from: &[u8], to: RegionSlice);

    /// The current step is over and its completions are about to be delivered: its copies have
    /// ended, and memory it invalidated ([`MemorySpace::invalidate`],
    /// [`MemorySpace::invalidate_token`]) must no longer be touched by anyone once this returns
    /// (the verbs layer waits here for other processors' copies into it).
    fn settle(&mut self);
}

/// Where the bytes of a transfer come from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Source<'a> {
    /// Resolved registered ranges, in gather order.
    Regions(&'a [RegionSlice]),
    /// One resolved range: a one-SGE request, resolved without the scratch list.
    One(RegionSlice),
    /// Inline bytes copied at post time.
    Inline(&'a [u8]),
}

/// Copy `length` bytes from the one range `from` into the one range `to` (a one-SGE write):
/// exactly the call [`scatter_gather`] makes for `Source::One(from)` into `[to]` — a single
/// copy of what both hold, none if that is nothing (the usual request copies all of
/// `length`). Inlined into the step with the ranges in registers; no `Source` is built.
#[inline(always)]
pub(crate) fn copy_one<C: Copier + ?Sized>(
    copier: &mut C,
    from: RegionSlice,
    to: RegionSlice,
    length: u32,
) {
    let n = length.min(from.length).min(to.length);
    if n > 0 {
        copier.copy(from.sub(0, n), to.sub(0, n));
    }
}

/// Copy `length` bytes from `source` to the scatter list `to`, walking both lists once so each
/// byte is copied exactly once, straight from its source range to its destination range.
/// `length` must not exceed either side's total.
#[inline]
pub(crate) fn scatter_gather<C: Copier + ?Sized>(
    copier: &mut C,
    source: Source<'_>,
    to: &[RegionSlice],
    length: u32,
) {
    // The common shape — one range (or the inline bytes) into one range that holds it — is a
    // single copy; the walk below produces exactly the same call for it.
    if let [dst] = to
        && dst.length >= length
        && length > 0
    {
        let single = match source {
            Source::Regions([src]) => *src,
            Source::One(src) => src,
            Source::Inline(bytes) => {
                copier.copy_in(&bytes[..length as usize], dst.sub(0, length));
                return;
            }
            Source::Regions(_) => RegionSlice::default(),
        };
        // A default (empty) range never passes: `length > 0` here.
        if single.length >= length {
            copier.copy(single.sub(0, length), dst.sub(0, length));
            return;
        }
    }
    walk(copier, source, to, length);
}

/// The general scatter/gather walk behind [`scatter_gather`].
fn walk<C: Copier + ?Sized>(copier: &mut C, source: Source<'_>, to: &[RegionSlice], length: u32) {
    let mut remaining = length;
    let mut dst = to.iter().copied();
    let mut dst_cur = RegionSlice::default();
    let mut dst_used = 0u32;
    let mut next_dst = |cur: &mut RegionSlice, used: &mut u32| -> bool {
        if *used < cur.length {
            return true;
        }
        for d in dst.by_ref() {
            if d.length > 0 {
                *cur = d;
                *used = 0;
                return true;
            }
        }
        false
    };
    match source {
        Source::Inline(bytes) => {
            let mut at = 0usize;
            while remaining > 0 && next_dst(&mut dst_cur, &mut dst_used) {
                let n = remaining.min(dst_cur.length - dst_used);
                copier.copy_in(&bytes[at..at + n as usize], dst_cur.sub(dst_used, n));
                at += n as usize;
                dst_used += n;
                remaining -= n;
            }
        }
        Source::Regions(_) | Source::One(_) => {
            let one;
            let from = match source {
                Source::One(range) => {
                    one = range;
                    core::slice::from_ref(&one)
                }
                Source::Regions(from) => from,
                Source::Inline(_) => &[],
            };
            for src in from {
                let mut src_used = 0u32;
                while remaining > 0 && src_used < src.length {
                    if !next_dst(&mut dst_cur, &mut dst_used) {
                        return;
                    }
                    let n = remaining
                        .min(src.length - src_used)
                        .min(dst_cur.length - dst_used);
                    copier.copy(src.sub(src_used, n), dst_cur.sub(dst_used, n));
                    src_used += n;
                    dst_used += n;
                    remaining -= n;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// Records the copies instead of doing them.
    #[derive(Default)]
    struct Log(Vec<(RegionSlice, RegionSlice)>, Vec<(usize, RegionSlice)>);
    impl Copier for Log {
        fn copy(&mut self, from: RegionSlice, to: RegionSlice) {
            assert_eq!(from.length, to.length);
            self.0.push((from, to));
        }
        fn copy_in(&mut self, from: &[u8], to: RegionSlice) {
            assert_eq!(from.len(), to.length as usize);
            self.1.push((from.len(), to));
        }
        fn settle(&mut self) {}
    }

    const fn rs(region: u64, offset: u64, length: u32) -> RegionSlice {
        RegionSlice {
            region,
            offset,
            length,
        }
    }

    #[test]
    fn walks_both_lists_splitting_at_every_boundary() {
        let mut log = Log::default();
        let src = [rs(1, 0, 5), rs(2, 10, 3)];
        let dst = [rs(7, 0, 2), rs(8, 100, 0), rs(9, 50, 10)];
        scatter_gather(&mut log, Source::Regions(&src), &dst, 8);
        assert_eq!(
            log.0,
            [
                (rs(1, 0, 2), rs(7, 0, 2)),
                (rs(1, 2, 3), rs(9, 50, 3)),
                (rs(2, 10, 3), rs(9, 53, 3)),
            ]
        );
        let total: u32 = log.0.iter().map(|c| c.0.length).sum();
        assert_eq!(total, 8, "every byte exactly once");
    }

    #[test]
    fn one_range_fast_path_matches_the_walk() {
        let cases = [
            (rs(1, 8, 64), rs(2, 16, 64), 64),
            (rs(1, 8, 64), rs(2, 16, 100), 40),
            (rs(1, 8, 10), rs(2, 16, 64), 10),
            (rs(1, 8, 64), rs(2, 16, 64), 0),
        ];
        for (src, dst, len) in cases {
            let (mut fast, mut slow) = (Log::default(), Log::default());
            scatter_gather(&mut fast, Source::Regions(&[src]), &[dst], len);
            walk(&mut slow, Source::Regions(&[src]), &[dst], len);
            assert_eq!(fast.0, slow.0, "{src:?} -> {dst:?}, {len} bytes");
            let bytes = [0u8; 64];
            let (mut fast, mut slow) = (Log::default(), Log::default());
            let inline = Source::Inline(&bytes[..len as usize]);
            scatter_gather(&mut fast, inline, &[dst], len);
            walk(&mut slow, inline, &[dst], len);
            assert_eq!(fast.1, slow.1);
        }
        let mut log = Log::default();
        scatter_gather(&mut log, Source::Regions(&[rs(1, 0, 8)]), &[rs(2, 0, 8)], 0);
        assert!(log.0.is_empty(), "nothing to move, no copy call");
    }

    #[test]
    fn one_resolved_range_copies_as_a_list_of_one() {
        let src = rs(1, 8, 10);
        let scatters: [&[RegionSlice]; 4] = [
            &[rs(2, 16, 64)],
            &[rs(2, 16, 4)],
            &[rs(2, 0, 3), rs(3, 5, 0), rs(4, 9, 20)],
            &[],
        ];
        for to in scatters {
            for len in [0, 1, 4, 10] {
                let (mut one, mut list) = (Log::default(), Log::default());
                scatter_gather(&mut one, Source::One(src), to, len);
                scatter_gather(&mut list, Source::Regions(&[src]), to, len);
                assert_eq!(one.0, list.0, "{to:?}, {len} bytes");
            }
        }
        let mut log = Log::default();
        scatter_gather(&mut log, Source::One(src), &[rs(2, 0, 3), rs(4, 9, 20)], 10);
        assert_eq!(
            log.0,
            [(rs(1, 8, 3), rs(2, 0, 3)), (rs(1, 11, 7), rs(4, 9, 7))],
            "split at the destination boundary"
        );
    }

    #[test]
    fn inline_source_scatters() {
        let mut log = Log::default();
        let bytes = [0u8; 6];
        scatter_gather(
            &mut log,
            Source::Inline(&bytes),
            &[rs(1, 4, 4), rs(2, 0, 4)],
            6,
        );
        assert_eq!(log.1, [(4, rs(1, 4, 4)), (2, rs(2, 0, 2))]);
    }

    #[test]
    fn fast_register_layout_rules() {
        let pages = [0x1000, 0x5000];
        let ok = FastRegisterRequest {
            mr: MemoryHandle(1),
            pages: &pages,
            first_byte_offset: 16,
            length: 2 * PAGE_SIZE - 16,
            base_virtual_address: 0x7000_0010,
            access: Access::LOCAL_WRITE,
        };
        assert_eq!(ok.check_layout(), Ok(()));
        assert!(
            FastRegisterRequest {
                length: 2 * PAGE_SIZE - 15,
                ..ok
            }
            .check_layout()
            .is_err()
        );
        assert!(
            FastRegisterRequest {
                base_virtual_address: 0x7000_0000,
                ..ok
            }
            .check_layout()
            .is_err()
        );
        assert!(
            FastRegisterRequest {
                first_byte_offset: 4096,
                ..ok
            }
            .check_layout()
            .is_err()
        );
        assert!(
            FastRegisterRequest { pages: &[], ..ok }
                .check_layout()
                .is_err()
        );
    }
}
