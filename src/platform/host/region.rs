//! Host registered memory: byte ranges a consumer described by pointer and length (what an NDK
//! consumer describes with an MDL), memory the region owns (tests), or a composite of byte
//! ranges of other regions ([`Region::try_concat`], a fast registration over pages of several
//! LAMs).
//!
//! This is the only host module with `unsafe`: the constructors over consumer memory, the free
//! of owned memory, and the `SegmentedMemory` promise on which the shared copy code in
//! `platform/copy.rs` performs its raw copies into and out of consumer memory. Soundness rests on the constructor contract ([`Region::from_raw_parts`]): the memory stays
//! valid and is not accessed through Rust references while the region exists, and accesses to
//! overlapping bytes are not made concurrently — the NDK rule that registered memory belongs to
//! the provider for the registration's lifetime and that overlapping in-flight operations are
//! the consumer's error. Every access is bounds-checked before any pointer is formed, and the
//! copies use raw pointers only (no `&[u8]` over consumer memory), so the provider core's view
//! is entirely safe.
#![allow(unsafe_code)]

use std::boxed::Box;
use std::ptr::{self, NonNull};
use std::vec::Vec;

use super::AllocToken;
use crate::platform::copy::{self, SegmentedMemory};
use crate::platform::{ConcatError, PVec, RegionError, RegionOps, RegionPart};

/// One contiguous range.
#[derive(Clone, Copy, Debug)]
struct Segment {
    ptr: NonNull<u8>,
    len: usize,
}

/// Registered memory: one or more contiguous segments seen as one byte range.
///
/// # Invariants
///
/// Every segment's `ptr` is valid for reads and writes of `len` bytes for as long as the
/// `Region` exists, and no Rust reference to those bytes exists meanwhile (established by the
/// constructors: by the caller's contract for borrowed memory, by ownership for owned memory,
/// and for a composite by the parts it holds in `parts`, whose segments its own are sub-ranges
/// of). `lens[i] == segments[i].len` and `len` is their sum (no overflow).
#[derive(Debug)]
pub struct Region {
    segments: Box<[Segment]>,
    lens: Box<[usize]>,
    len: usize,
    owned: bool,
    /// A composite's parts (kept alive as long as the composite) and the admission of its
    /// tables; `None` for every other region.
    parts: Option<(PVec<RegionPart>, AllocToken)>,
}

#[expect(
    clippy::non_send_fields_in_send_ty,
    reason = "the segment pointers are what the SAFETY argument below is about"
)]
// SAFETY: a `Region` is a description of memory plus, when owned, the memory itself; moving it
// to another thread moves nothing thread-bound. Concurrent use from several threads is sound
// under the constructor contract (no concurrent accesses to overlapping bytes), which is the
// NDK rule for registered memory; all accesses go through raw-pointer copies.
unsafe impl Send for Region {}
// SAFETY: see `Send`; `&Region` methods only perform bounds-checked raw copies.
unsafe impl Sync for Region {}

impl Region {
    fn build(segments: Vec<Segment>, owned: bool) -> Option<Self> {
        let lens: Box<[usize]> = segments.iter().map(|s| s.len).collect();
        let len = lens
            .iter()
            .try_fold(0_usize, |acc, &l| acc.checked_add(l))?;
        Some(Self {
            segments: segments.into_boxed_slice(),
            lens,
            len,
            owned,
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

    /// A region over consumer memory `[ptr, ptr + len)`; `None` if `ptr` is null and `len > 0`.
    ///
    /// # Safety
    ///
    /// For as long as the returned region exists: `ptr` is valid for reads and writes of
    /// `len` bytes; the memory is not accessed through Rust references, and not accessed by
    /// anything else concurrently with a region access to the same bytes (the NDK contract for
    /// registered memory, which the consumer, here the caller, upholds).
    #[must_use]
    pub unsafe fn from_raw_parts(ptr: *mut u8, len: usize) -> Option<Self> {
        Self::build(std::vec![Self::segment(ptr, len)?], false)
    }

    /// A region over several consumer ranges (an MDL chain), in order.
    /// `None` if a pointer is null with a non-zero length or the total overflows.
    ///
    /// # Safety
    ///
    /// As for [`Region::from_raw_parts`], for every `(ptr, len)` pair.
    #[must_use]
    pub unsafe fn from_raw_segments(segments: &[(*mut u8, usize)]) -> Option<Self> {
        let segments = segments
            .iter()
            .map(|&(ptr, len)| Self::segment(ptr, len))
            .collect::<Option<Vec<_>>>()?;
        Self::build(segments, false)
    }

    /// A composite region: the bytes of `parts` one after the other (byte 0 is byte
    /// `parts[0].offset` of `parts[0].region`). It holds `parts` (and with them every part's
    /// region) for as long as it exists, so it never outlives the memory descriptions it points
    /// into; `token` is the platform's admission of its tables, kept as long too. Parts of zero
    /// bytes add nothing; no parts make an empty region.
    ///
    /// # Errors
    ///
    /// [`ConcatError::Range`] if a part's range is not inside its region or the total length
    /// overflows `usize`. (The host allocates its tables with `std`; [`ConcatError::NoMemory`]
    /// is the kernel's.)
    pub fn try_concat(parts: PVec<RegionPart>, token: AllocToken) -> Result<Self, ConcatError> {
        let (count, total) =
            copy::concat_shape(parts.iter().map(|p| (&*p.region, p.offset, p.len)))?;
        let mut segments = Vec::with_capacity(count);
        for part in parts.iter() {
            for (index, skip, len) in copy::sub_ranges(&part.region.lens, part.offset, part.len) {
                let base = part.region.segments[index].ptr;
                // SAFETY: `sub_ranges` yields `skip + len <= segment length` with `len > 0`, so
                // `skip` is inside the part's segment, one allocation by the part's invariant,
                // and the offset pointer stays in it (hence non-null, and `skip <= isize::MAX`).
                let ptr = unsafe { base.add(skip) };
                segments.push(Segment { ptr, len });
            }
        }
        // Invariant: every segment is a sub-range of a segment of a part, which is valid while
        // the part's region exists (its own invariant); `parts` holds every part's region for
        // as long as this one exists, and the parts' constructor contracts (no references, no
        // concurrent overlapping accesses) cover the same bytes here.
        let mut region = Self::build(segments, false).ok_or(RegionError::Overflow {
            offset: total,
            len: 0,
        })?;
        region.parts = Some((parts, token));
        Ok(region)
    }

    /// A region owning zeroed memory, one segment per entry of `lens` (tests).
    ///
    /// # Panics
    ///
    /// If the lengths' sum overflows `usize`.
    #[must_use]
    pub fn zeroed_segments(lens: &[usize]) -> Self {
        let segments = lens
            .iter()
            .map(|&len| {
                let raw = Box::into_raw(std::vec![0_u8; len].into_boxed_slice());
                Segment {
                    // Box pointers are never null (dangling but non-null when empty).
                    ptr: NonNull::new(raw.cast::<u8>()).unwrap_or(NonNull::dangling()),
                    len,
                }
            })
            .collect();
        Self::build(segments, true).expect("segment lengths overflow usize")
    }

    /// A region owning `len` zeroed bytes in one segment (tests).
    #[must_use]
    pub fn zeroed(len: usize) -> Self {
        Self::zeroed_segments(&[len])
    }

    /// A region owning a copy of `bytes` (tests).
    ///
    /// # Panics
    ///
    /// Never: the region is sized to `bytes`.
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let region = Self::zeroed(bytes.len());
        region
            .write(0, bytes)
            .expect("a region sized to the bytes holds them");
        region
    }

    /// Reads the whole region into a vector (tests).
    ///
    /// # Panics
    ///
    /// Never: the whole region is in bounds.
    #[must_use]
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = std::vec![0; self.len];
        self.read(0, &mut out)
            .expect("the whole region is in bounds");
        out
    }

    /// Segment lengths, in order.
    #[must_use]
    pub fn segment_lens(&self) -> &[usize] {
        &self.lens
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        for seg in &*self.segments {
            let raw = ptr::slice_from_raw_parts_mut(seg.ptr.as_ptr(), seg.len);
            // SAFETY: owned segments come from `Box::into_raw` of a `Box<[u8]>` of exactly
            // `seg.len` bytes in `zeroed_segments`, are freed only here, once, and no access is
            // in progress (`&mut self`).
            drop(unsafe { Box::from_raw(raw) });
        }
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

// SAFETY: the `Region` invariants are exactly the trait's contract: every segment's `ptr` is valid
// for reads and writes of its `len` bytes while the region exists (constructor contract or
// ownership), `lens` mirrors the segments and never changes, `len` is their sum, and no
// reference to the bytes exists; non-concurrent access to overlapping bytes is the
// constructor contract.
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

#[cfg(test)]
mod tests {
    //! The one-segment fast path of the shared copy (`copy::copy_between`, `read`, `write`)
    //! against the general segment walk: same results, same errors, `memmove` overlap.
    use super::*;
    use crate::platform::PlatformOps;
    use std::sync::Arc;

    fn pattern(len: usize, salt: u8) -> Vec<u8> {
        (0..len)
            .map(|i| u8::try_from(i % 251).unwrap_or(0) ^ salt)
            .collect()
    }

    #[test]
    fn overlapping_moves_inside_one_segment_are_memmoves() {
        // Both directions, short (one `memcpy`-sized call) and past `ALIAS_CHUNK`.
        for (dst_off, src_off, len) in [(1, 0, 64), (0, 1, 64), (8, 0, 5000), (0, 8, 5000)] {
            let region = Region::zeroed(6000);
            let init = pattern(6000, 1);
            region.write(0, &init).unwrap();
            Region::copy_between(&region, dst_off, &region, src_off, len).unwrap();
            let mut expect = init;
            expect.copy_within(src_off..src_off + len, dst_off);
            assert_eq!(
                region.to_vec(),
                expect,
                "dst {dst_off} src {src_off} len {len}"
            );
        }
    }

    #[test]
    fn ranges_inside_and_across_the_first_segment_copy_the_same_bytes() {
        // One segment vs the same bytes split so the range is inside the first segment, ends
        // exactly at its end, or crosses it.
        let src = Region::from_bytes(&pattern(300, 7));
        for split in [[300, 0, 0], [200, 100, 0], [100, 100, 100], [0, 150, 150]] {
            let dst = Region::zeroed_segments(&split);
            for (offset, len) in [(0, 100), (100, 100), (150, 100), (0, 300), (299, 1)] {
                Region::copy_between(&dst, offset, &src, offset, len).unwrap();
                let mut got = std::vec![0; len];
                dst.read(offset, &mut got).unwrap();
                assert_eq!(
                    got,
                    pattern(300, 7)[offset..offset + len],
                    "{split:?} {offset}"
                );
            }
        }
    }

    #[test]
    fn fast_path_refuses_what_the_checks_refuse() {
        let region = Region::from_bytes(&pattern(100, 3));
        let other = Region::zeroed(100);
        assert_eq!(
            Region::copy_between(&other, 60, &region, 0, 41),
            Err(RegionError::OutOfBounds {
                offset: 60,
                len: 41,
                region_len: 100
            })
        );
        // Destination checked first; a source overrun alone is reported for the source.
        assert_eq!(
            Region::copy_between(&other, 0, &region, 90, 20),
            Err(RegionError::OutOfBounds {
                offset: 90,
                len: 20,
                region_len: 100
            })
        );
        assert_eq!(
            Region::copy_between(&other, usize::MAX, &region, 0, 1),
            Err(RegionError::Overflow {
                offset: usize::MAX,
                len: 1
            })
        );
        assert_eq!(other.to_vec(), std::vec![0; 100], "nothing copied");
        assert!(other.write(99, &[1, 2]).is_err());
        let mut buf = [0xAB_u8; 2];
        assert!(region.read(usize::MAX, &mut buf).is_err());
        assert_eq!(buf, [0xAB; 2]);
        // A region without segments has no first segment and holds only empty ranges.
        // SAFETY: no segments, so nothing is ever dereferenced.
        let empty = unsafe { Region::from_raw_segments(&[]) }.unwrap();
        assert!(empty.write(0, &[]).is_ok());
        assert!(empty.write(0, &[1]).is_err());
    }

    fn parts(
        host: &super::super::Host,
        parts: &[(&Arc<Region>, usize, usize)],
    ) -> PVec<RegionPart> {
        let mut v = host.try_vec_with_capacity(parts.len()).unwrap();
        for &(region, offset, len) in parts {
            let part = RegionPart {
                region: Arc::clone(region),
                offset,
                len,
            };
            v.push(part).unwrap();
        }
        v
    }

    fn admitted(host: &super::super::Host) -> AllocToken {
        host.alloc_gate(std::panic::Location::caller()).unwrap()
    }

    #[test]
    fn a_composite_is_its_parts_in_order_and_keeps_them_alive() {
        let host = super::super::Host::deterministic();
        let a = Arc::new(Region::from_bytes(&pattern(300, 1)));
        let b = Arc::new(Region::zeroed_segments(&[100, 0, 100]));
        b.write(0, &pattern(200, 2)).unwrap();
        // Crosses b's segment boundary; an empty part adds nothing.
        let list = parts(
            &host,
            &[(&a, 250, 50), (&a, 0, 0), (&b, 50, 100), (&a, 0, 10)],
        );
        let c = Region::try_concat(list, admitted(&host)).unwrap();
        assert_eq!(c.len(), 160);
        assert_eq!(
            c.segment_lens(),
            [50, 50, 50, 10],
            "one segment per part piece"
        );
        let mut expect = pattern(300, 1)[250..].to_vec();
        expect.extend_from_slice(&pattern(200, 2)[50..150]);
        expect.extend_from_slice(&pattern(300, 1)[..10]);
        drop((a, b));
        assert_eq!(c.to_vec(), expect, "the parts outlive their other holders");
        // Writes land in the parts' bytes; the composite copies like any region.
        c.write(45, &[0xEE; 10]).unwrap();
        let mut got = [0; 12];
        c.read(44, &mut got).unwrap();
        assert_eq!(got[1..11], [0xEE; 10]);
        assert!(c.write(155, &[0; 6]).is_err(), "bounds are the composite's");
        assert_eq!(
            host.alloc_stats().live,
            2,
            "the parts list and the tables' admission"
        );
        drop(c);
        assert_eq!(host.alloc_stats().live, 0);
    }

    #[test]
    fn concat_refuses_ranges_outside_a_part_and_overflowing_totals() {
        let host = super::super::Host::deterministic();
        let a = Arc::new(Region::zeroed(100));
        let empty = Region::try_concat(parts(&host, &[]), admitted(&host)).unwrap();
        assert!(empty.is_empty());
        assert_eq!(empty.segment_lens(), [] as [usize; 0]);
        assert_eq!(
            Region::try_concat(parts(&host, &[(&a, 60, 41)]), admitted(&host)).err(),
            Some(ConcatError::Range(RegionError::OutOfBounds {
                offset: 60,
                len: 41,
                region_len: 100
            }))
        );
        assert_eq!(
            Region::try_concat(parts(&host, &[(&a, usize::MAX, 1)]), admitted(&host)).err(),
            Some(ConcatError::Range(RegionError::Overflow {
                offset: usize::MAX,
                len: 1
            }))
        );
        // SAFETY: the region is never read or written (only its length is used), so the
        // dangling pointer is never dereferenced.
        let huge = Arc::new(
            unsafe { Region::from_raw_parts(NonNull::dangling().as_ptr(), usize::MAX) }.unwrap(),
        );
        assert_eq!(
            Region::try_concat(
                parts(&host, &[(&huge, 0, usize::MAX), (&huge, 0, 1)]),
                admitted(&host)
            )
            .err(),
            Some(ConcatError::Range(RegionError::Overflow {
                offset: usize::MAX,
                len: 1
            }))
        );
        drop(empty);
        assert_eq!(
            host.alloc_stats().live,
            0,
            "refused lists and admissions are released"
        );
    }
}
