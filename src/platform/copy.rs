//! How a single copy between registered regions is cut into `memcpy` calls.
//!
//! Two concerns, both pure arithmetic so every platform shares them:
//!
//! * **Segments.** A region is one or more segments (an MDL chain on the kernel). A copy is
//!   cut into [`Piece`]s that never cross a segment boundary on either side.
//! * **4 KiB aliasing.** On this CPU family `memcpy` (glibc's `rep movsb` path) collapses when
//!   `(dst - src) mod 4096` is small: measured 2.6–3.5 GB/s instead of ≈100 GB/s for 4–64 KiB
//!   at a distance of 8 bytes, and 2–4× slower up to ≈128 bytes (`docs/platform.md`). Copying
//!   such a piece in [`ALIAS_CHUNK`]-byte calls keeps `memcpy` on its vector loop, which does
//!   not suffer from it. From [`ALIAS_CEILING`] (1 MiB) up glibc no longer uses `rep movsb`
//!   and the whole copy is one call. [`alias_safe_chunk`] decides.
//!
//! It also holds the one segment-walking copy both platforms' `Region`s use
//! ([`SegmentedMemory`] and [`read`]/[`write`]/[`copy_between`]): bounds checks, the
//! `memmove` windows for overlapping moves inside one region, and the chunked raw copy. Ranges
//! inside a region's first segment (every range of a one-segment region, the usual
//! registration) skip the segment walk: containment in that segment is their bounds check, and
//! copies of at most [`ALIAS_CHUNK`] bytes are one `memcpy` call with no distance arithmetic
//! (`alias_safe_chunk` would return their length anyway). The
//! only `unsafe` here is that raw copy, justified by the `unsafe trait`'s contract that each
//! implementor (the host and kernel `Region`) proves once.
//!
//! Must never copy a byte twice, allocate, or touch memory outside a checked range.

/// The aliasing period: loads and stores whose addresses agree in the low 12 bits collide.
pub const PAGE_SIZE: usize = 4096;

/// Distances `(dst - src) mod 4096` below this are copied in [`ALIAS_CHUNK`] pieces
/// (glibc's own guard uses 256 bytes for the same reason).
pub const ALIAS_WINDOW: usize = 256;

/// Largest single `memcpy` call when the distance is inside [`ALIAS_WINDOW`]: small enough that
/// glibc stays on its vector loop instead of `rep movsb` (measured best of 512/1024/2048).
pub const ALIAS_CHUNK: usize = 2048;

/// Copies of at least this many bytes are never chunked: glibc stops using `rep movsb` at the
/// L2 size on AMD (`rep_movsb_stop_threshold`, 1 MiB here) and its vector loop has no cliff,
/// while 2 KiB calls would cost ≈15% of the bandwidth (measured 47.7 GB/s whole vs 39.8 GB/s
/// chunked at 1 MiB, distance 8; the cliff is 2.7 GB/s at 1 MiB − 4 KiB; `docs/benchmarks.md`).
pub const ALIAS_CEILING: usize = 1 << 20;

/// Largest number of bytes one `memcpy` call should move from `src_addr` to `dst_addr` when
/// `len` bytes remain.
///
/// That is `len` itself unless the addresses alias within a page and `len` is in the
/// `rep movsb` range (`ALIAS_CHUNK < len < ALIAS_CEILING`).
#[must_use]
pub const fn alias_safe_chunk(dst_addr: usize, src_addr: usize, len: usize) -> usize {
    let distance = dst_addr.wrapping_sub(src_addr) % PAGE_SIZE;
    if distance < ALIAS_WINDOW && len > ALIAS_CHUNK && len < ALIAS_CEILING {
        ALIAS_CHUNK
    } else {
        len
    }
}

/// One contiguous part of a segmented copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    /// Destination segment index.
    pub dst_segment: usize,
    /// Offset inside that destination segment.
    pub dst_offset: usize,
    /// Source segment index.
    pub src_segment: usize,
    /// Offset inside that source segment.
    pub src_offset: usize,
    /// Bytes in this piece (never zero).
    pub len: usize,
}

/// Position inside a segmented region.
#[derive(Clone, Copy, Debug)]
struct Cursor<'a> {
    /// Length of every segment.
    segments: &'a [usize],
    index: usize,
    offset: usize,
}

impl<'a> Cursor<'a> {
    /// The cursor at logical `offset`; past the end if `offset` is not inside the region.
    fn at(segments: &'a [usize], mut offset: usize) -> Self {
        let mut index = 0;
        while let Some(&len) = segments.get(index) {
            if offset < len {
                break;
            }
            offset -= len;
            index += 1;
        }
        Self {
            segments,
            index,
            offset,
        }
    }

    /// Bytes left in the current segment (zero when past the end).
    fn room(&self) -> usize {
        self.segments
            .get(self.index)
            .map_or(0, |len| len - self.offset)
    }

    fn advance(&mut self, n: usize) {
        self.offset += n;
        // Skip exhausted and zero-length segments.
        while self
            .segments
            .get(self.index)
            .is_some_and(|&len| self.offset >= len)
        {
            self.offset -= self.segments[self.index];
            self.index += 1;
        }
    }
}

/// Iterator over the [`Piece`]s of a copy between two segmented regions.
///
/// Built by [`pieces`]. Stops early (never panics) if a range runs past its region, so callers
/// must bounds-check first; the sum of `len` over the pieces is then exactly the copy length.
#[derive(Clone, Debug)]
pub struct Pieces<'a> {
    dst: Cursor<'a>,
    src: Cursor<'a>,
    remaining: usize,
}

/// Cuts a copy of `len` bytes from logical `src_offset` in a region whose segment lengths are
/// `src_segments` to `dst_offset` in `dst_segments` into segment-contiguous pieces.
#[must_use]
pub fn pieces<'a>(
    dst_segments: &'a [usize],
    dst_offset: usize,
    src_segments: &'a [usize],
    src_offset: usize,
    len: usize,
) -> Pieces<'a> {
    Pieces {
        dst: Cursor::at(dst_segments, dst_offset),
        src: Cursor::at(src_segments, src_offset),
        remaining: len,
    }
}

impl Iterator for Pieces<'_> {
    type Item = Piece;

    fn next(&mut self) -> Option<Piece> {
        let len = self.remaining.min(self.dst.room()).min(self.src.room());
        if len == 0 {
            return None;
        }
        let piece = Piece {
            dst_segment: self.dst.index,
            dst_offset: self.dst.offset,
            src_segment: self.src.index,
            src_offset: self.src.offset,
            len,
        };
        self.dst.advance(len);
        self.src.advance(len);
        self.remaining -= len;
        Some(piece)
    }
}

#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
pub(super) use segmented::{SegmentedMemory, concat_shape, copy_between, read, sub_ranges, write};

/// The shared `Region` copy; compiled only where a `Region` implementation uses it.
#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
mod segmented {
    use core::ptr;

    use super::{ALIAS_CEILING, ALIAS_CHUNK, alias_safe_chunk, pieces};
    use crate::platform::RegionError;

    /// Memory seen as consecutive segments: what the shared copy needs of a `Region`.
    ///
    /// # Safety
    ///
    /// Implementors guarantee, for as long as `&self` is borrowed: `segment_lens()` never changes
    /// and its sum fits `usize`; for every `i < segment_lens().len()`, `segment_base(i)` is valid
    /// for reads and writes of `segment_lens()[i]` bytes (any pointer when that is 0); no Rust
    /// reference covers those bytes; and no access to them from elsewhere runs concurrently with
    /// a copy touching the same bytes (the NDK contract for registered memory).
    #[allow(unsafe_code)]
    pub(in crate::platform) unsafe trait SegmentedMemory {
        /// Segment lengths, in order.
        fn segment_lens(&self) -> &[usize];
        /// Total length (the sum of [`Self::segment_lens`]).
        fn total_len(&self) -> usize;
        /// Start of segment `index` (no dereference happens here).
        fn segment_base(&self, index: usize) -> *mut u8;
    }

    /// The segment-contiguous ranges `(segment, offset inside it, bytes)` holding bytes
    /// `[offset, offset + len)` of a region whose segment lengths are `segments`, in order and
    /// never empty: what a composite region (`Region::try_concat`) takes of each part. Stops
    /// early if the range runs past the region, so callers bounds-check first.
    pub(in crate::platform) fn sub_ranges(
        segments: &[usize],
        offset: usize,
        len: usize,
    ) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        super::pieces(segments, offset, segments, offset, len)
            .map(|p| (p.src_segment, p.src_offset, p.len))
    }

    /// The checked shape of a composite region (`Region::try_concat`) over `parts`, each
    /// `(region, offset, len)`: `(segments, total)`, how many segments the composite needs (the
    /// parts' [`sub_ranges`]) and its length. The platform then builds those segments itself
    /// (its pointer arithmetic is the `unsafe` part and stays with its segment invariant).
    ///
    /// # Errors
    ///
    /// [`RegionError`] for the first part whose range is not inside its region;
    /// [`RegionError::Overflow`] with the running total as `offset` if the total overflows.
    pub(in crate::platform) fn concat_shape<'a, M: SegmentedMemory + 'a>(
        parts: impl IntoIterator<Item = (&'a M, usize, usize)>,
    ) -> Result<(usize, usize), RegionError> {
        let mut count = 0_usize;
        let mut total = 0_usize;
        for (region, offset, len) in parts {
            RegionError::check(offset, len, region.total_len())?;
            total = total
                .checked_add(len)
                .ok_or(RegionError::Overflow { offset: total, len })?;
            count += sub_ranges(region.segment_lens(), offset, len).count();
        }
        Ok((count, total))
    }

    fn addr<M: SegmentedMemory + ?Sized>(memory: &M, index: usize, offset: usize) -> *mut u8 {
        memory.segment_base(index).wrapping_add(offset)
    }

    /// Start of `[offset, offset + len)` in `memory` if that range lies inside its first
    /// segment (always so for an in-bounds range of a one-segment region), else `None`.
    #[inline]
    fn in_first_segment<M: SegmentedMemory + ?Sized>(
        memory: &M,
        offset: usize,
        len: usize,
    ) -> Option<*mut u8> {
        let &first = memory.segment_lens().first()?;
        let end = offset.checked_add(len)?;
        (end <= first).then(|| addr(memory, 0, offset))
    }

    /// Copies `len` bytes between two raw ranges, in alias-safe chunks, `memmove` if they overlap.
    ///
    /// Callers guarantee (by the [`SegmentedMemory`] contract, a slice they borrow, and their
    /// bounds checks) that `src` is valid for reads and `dst` for writes of `len` bytes and that
    /// no reference covers either range.
    #[allow(unsafe_code)]
    #[inline]
    fn copy_raw(dst: *mut u8, src: *const u8, len: usize) {
        let (d, s) = (dst as usize, src as usize);
        if d < s.wrapping_add(len) && s < d.wrapping_add(len) {
            // SAFETY: `src` is valid for reads and `dst` for writes of `len` bytes (caller);
            // `ptr::copy` permits overlap; u8 needs no alignment.
            unsafe { ptr::copy(src, dst, len) };
        } else if len <= ALIAS_CHUNK || len >= ALIAS_CEILING {
            // `alias_safe_chunk` returns `len` for these lengths whatever the distance, so the
            // whole copy is one call; short copies skip the distance arithmetic entirely.
            // SAFETY: as above, and the ranges do not overlap (checked above).
            unsafe { ptr::copy_nonoverlapping(src, dst, len) };
        } else {
            copy_chunked(dst, src, len);
        }
    }

    /// The `rep movsb`-range part of [`copy_raw`]: non-overlapping ranges (checked by the
    /// caller, with the same validity guarantee), copied in [`alias_safe_chunk`] calls.
    #[allow(unsafe_code)]
    #[inline(never)]
    fn copy_chunked(dst: *mut u8, src: *const u8, len: usize) {
        let (d, s) = (dst as usize, src as usize);
        let mut done = 0;
        while done < len {
            let n = alias_safe_chunk(d + done, s + done, len - done);
            // SAFETY: `done + n <= len`, so both chunks lie inside the ranges the caller vouched
            // for (readable resp. writable); they do not overlap (checked by `copy_raw`).
            unsafe { ptr::copy_nonoverlapping(src.wrapping_add(done), dst.wrapping_add(done), n) };
            done += n;
        }
    }

    /// Copies `dst.len()` bytes at `offset` out of `memory`.
    ///
    /// # Errors
    ///
    /// [`RegionError`] if the range is not inside `memory`; `dst` is then untouched.
    pub(in crate::platform) fn read<M: SegmentedMemory + ?Sized>(
        memory: &M,
        offset: usize,
        dst: &mut [u8],
    ) -> Result<(), RegionError> {
        if let Some(from) = in_first_segment(memory, offset, dst.len()) {
            copy_raw(dst.as_mut_ptr(), from, dst.len());
            return Ok(());
        }
        RegionError::check(offset, dst.len(), memory.total_len())?;
        let out = [dst.len()];
        for p in pieces(&out, 0, memory.segment_lens(), offset, dst.len()) {
            let target = dst[p.dst_offset..p.dst_offset + p.len].as_mut_ptr();
            copy_raw(target, addr(memory, p.src_segment, p.src_offset), p.len);
        }
        Ok(())
    }

    /// Copies `src` into `memory` at `offset`.
    ///
    /// # Errors
    ///
    /// [`RegionError`] if the range is not inside `memory`; it is then untouched.
    pub(in crate::platform) fn write<M: SegmentedMemory + ?Sized>(
        memory: &M,
        offset: usize,
        src: &[u8],
    ) -> Result<(), RegionError> {
        if let Some(to) = in_first_segment(memory, offset, src.len()) {
            copy_raw(to, src.as_ptr(), src.len());
            return Ok(());
        }
        RegionError::check(offset, src.len(), memory.total_len())?;
        let input = [src.len()];
        for p in pieces(memory.segment_lens(), offset, &input, 0, src.len()) {
            let source = src[p.src_offset..p.src_offset + p.len].as_ptr();
            copy_raw(addr(memory, p.dst_segment, p.dst_offset), source, p.len);
        }
        Ok(())
    }

    /// `RegionOps::copy_between`: `len` bytes from `src` at `src_offset` to `dst` at
    /// `dst_offset`; `memmove` semantics when both are the same memory.
    ///
    /// # Errors
    ///
    /// [`RegionError`] for whichever side is out of range (destination checked first); nothing
    /// is copied then.
    pub(in crate::platform) fn copy_between<M: SegmentedMemory>(
        dst: &M,
        dst_offset: usize,
        src: &M,
        src_offset: usize,
        len: usize,
    ) -> Result<(), RegionError> {
        // Fast path: both ranges inside their region's first segment (every in-bounds range of
        // a one-segment region, the usual registration). That containment is the bounds check
        // (the first segment is part of the region), and one contiguous range per side is
        // exactly what `copy_raw` needs, overlap included: a same-region move inside one
        // segment is a contiguous `memmove`.
        if let (Some(to), Some(from)) = (
            in_first_segment(dst, dst_offset, len),
            in_first_segment(src, src_offset, len),
        ) {
            copy_raw(to, from, len);
            return Ok(());
        }
        copy_segmented(dst, dst_offset, src, src_offset, len)
    }

    /// [`copy_between`] when a range leaves its region's first segment (or is out of bounds).
    #[inline(never)]
    fn copy_segmented<M: SegmentedMemory>(
        dst: &M,
        dst_offset: usize,
        src: &M,
        src_offset: usize,
        len: usize,
    ) -> Result<(), RegionError> {
        RegionError::check(dst_offset, len, dst.total_len())?;
        RegionError::check(src_offset, len, src.total_len())?;
        if ptr::eq(dst, src) && dst_offset > src_offset && src_offset + len > dst_offset {
            // Overlapping move towards higher offsets across possibly several segments: copy
            // windows of `distance` bytes from the end, so no window reads bytes an earlier
            // window wrote (memmove semantics).
            let distance = dst_offset - src_offset;
            let mut end = len;
            while end > 0 {
                let n = distance.min(end);
                end -= n;
                copy_pieces(dst, dst_offset + end, src, src_offset + end, n);
            }
        } else {
            copy_pieces(dst, dst_offset, src, src_offset, len);
        }
        Ok(())
    }

    /// Copies an in-bounds range piece by piece, front to back.
    fn copy_pieces<M: SegmentedMemory>(
        dst: &M,
        dst_offset: usize,
        src: &M,
        src_offset: usize,
        len: usize,
    ) {
        for p in pieces(
            dst.segment_lens(),
            dst_offset,
            src.segment_lens(),
            src_offset,
            len,
        ) {
            copy_raw(
                addr(dst, p.dst_segment, p.dst_offset),
                addr(src, p.src_segment, p.src_offset),
                p.len,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn aliasing_distances_are_chunked_others_are_not() {
        let base = 0x10_0000;
        assert_eq!(alias_safe_chunk(base + 8, base, 65536), ALIAS_CHUNK);
        assert_eq!(alias_safe_chunk(base + 4096 + 8, base, 65536), ALIAS_CHUNK);
        assert_eq!(alias_safe_chunk(base, base, 65536), ALIAS_CHUNK);
        assert_eq!(
            alias_safe_chunk(base + ALIAS_WINDOW, base, 65536),
            65536,
            "distance at the window edge is not aliasing"
        );
        assert_eq!(alias_safe_chunk(base + 2112, base, 65536), 65536);
        // dst below src: the distance wraps to a large residue, not small.
        assert_eq!(alias_safe_chunk(base, base + 8, 65536), 65536);
        // Short copies never take the slow path.
        assert_eq!(alias_safe_chunk(base + 8, base, ALIAS_CHUNK), ALIAS_CHUNK);
        assert_eq!(alias_safe_chunk(base + 8, base, 100), 100);
    }

    #[test]
    fn copies_past_the_ceiling_are_not_chunked() {
        let base = 0x10_0000;
        assert_eq!(
            alias_safe_chunk(base + 8, base, ALIAS_CEILING - 1),
            ALIAS_CHUNK
        );
        assert_eq!(
            alias_safe_chunk(base + 8, base, ALIAS_CEILING),
            ALIAS_CEILING
        );
        assert_eq!(alias_safe_chunk(base, base, 4 << 20), 4 << 20);
    }

    #[test]
    fn pieces_respect_both_segmentations() {
        let dst = [3, 5, 4];
        let src = [6, 6];
        let got: Vec<Piece> = pieces(&dst, 1, &src, 2, 10).collect();
        let expect = [
            (0, 1, 0, 2, 2),
            (1, 0, 0, 4, 2),
            (1, 2, 1, 0, 3),
            (2, 0, 1, 3, 3),
        ];
        let got: Vec<_> = got
            .iter()
            .map(|p| {
                (
                    p.dst_segment,
                    p.dst_offset,
                    p.src_segment,
                    p.src_offset,
                    p.len,
                )
            })
            .collect();
        assert_eq!(got, expect);
    }

    /// (segment, offset) of every logical byte of a segmentation.
    fn byte_map(segments: &[usize]) -> Vec<(usize, usize)> {
        segments
            .iter()
            .enumerate()
            .flat_map(|(i, &len)| (0..len).map(move |o| (i, o)))
            .collect()
    }

    #[test]
    fn pieces_map_every_byte_to_its_segment_for_many_layouts() {
        let layouts: [&[usize]; 7] = [
            &[7],
            &[0, 7],
            &[3, 0, 4],
            &[1, 1, 1, 1, 1, 1, 1],
            &[2, 5, 0],
            &[0, 0, 7, 0],
            &[4, 3],
        ];
        for dst in layouts {
            for src in layouts {
                let (dmap, smap) = (byte_map(dst), byte_map(src));
                for dst_offset in 0..=7 {
                    for src_offset in 0..=7 {
                        for len in 0..=7 {
                            let mut at = 0;
                            for p in pieces(dst, dst_offset, src, src_offset, len) {
                                assert!(p.len > 0);
                                for k in 0..p.len {
                                    assert_eq!(
                                        dmap[dst_offset + at + k],
                                        (p.dst_segment, p.dst_offset + k)
                                    );
                                    assert_eq!(
                                        smap[src_offset + at + k],
                                        (p.src_segment, p.src_offset + k)
                                    );
                                }
                                at += p.len;
                            }
                            let expect = len.min(7 - dst_offset).min(7 - src_offset);
                            assert_eq!(
                                at, expect,
                                "{dst:?} {src:?} {dst_offset} {src_offset} {len}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn zero_length_segments_are_skipped_and_overruns_stop() {
        let dst = [0, 4, 0, 4];
        let src = [8];
        let total: usize = pieces(&dst, 0, &src, 0, 8).map(|p| p.len).sum();
        assert_eq!(total, 8);
        assert!(pieces(&dst, 0, &src, 0, 8).all(|p| p.dst_segment == 1 || p.dst_segment == 3));
        // Past the end: stops instead of panicking.
        let total: usize = pieces(&dst, 6, &src, 0, 8).map(|p| p.len).sum();
        assert_eq!(total, 2);
        assert_eq!(pieces(&dst, 8, &src, 0, 1).count(), 0);
    }
}
