//! Registered-memory access: bounds checks that touch nothing, and single-copy correctness for
//! every 4 KiB alias distance, segmentation and overlap.

use proptest::prelude::*;
use softndk::platform::prelude::*;
use softndk::platform::{ALIAS_CHUNK, Region, RegionError};

fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from(i % 251).unwrap().wrapping_mul(7) ^ salt)
        .collect()
}

#[test]
fn out_of_range_and_overflowing_accesses_fail_and_touch_nothing() {
    let region = Region::from_bytes(&pattern(100, 1));
    let before = region.to_vec();
    let mut buf = [0xEE_u8; 16];

    assert_eq!(
        region.read(90, &mut buf),
        Err(RegionError::OutOfBounds {
            offset: 90,
            len: 16,
            region_len: 100
        })
    );
    assert_eq!(buf, [0xEE; 16], "failed read wrote nothing");
    assert!(region.write(85, &buf).is_err());
    assert!(region.write(101, &[]).is_err(), "empty range past the end");
    assert_eq!(region.write(100, &[]), Ok(()), "empty range at the end");
    assert_eq!(
        region.read(usize::MAX, &mut buf),
        Err(RegionError::Overflow {
            offset: usize::MAX,
            len: 16
        })
    );

    let other = Region::zeroed(50);
    assert!(Region::copy_between(&other, 0, &region, 60, 50).is_err());
    assert!(Region::copy_between(&other, 1, &region, 0, 50).is_err());
    assert!(Region::copy_between(&other, usize::MAX, &region, 0, 2).is_err());
    assert!(Region::copy_between(&other, 0, &region, usize::MAX - 1, 2).is_err());
    assert_eq!(region.to_vec(), before);
    assert_eq!(other.to_vec(), vec![0; 50]);
}

#[test]
fn raw_regions_see_consumer_memory() {
    let mut consumer = vec![0_u8; 64];
    {
        // SAFETY: `consumer` outlives the region and is not touched while it exists.
        let region = unsafe { Region::from_raw_parts(consumer.as_mut_ptr(), consumer.len()) }
            .expect("non-null");
        region.write(8, b"ndk").unwrap();
        assert_eq!(region.len(), 64);
    }
    assert_eq!(&consumer[8..11], b"ndk");
    // SAFETY: a null pointer is refused before anything is dereferenced.
    assert!(unsafe { Region::from_raw_parts(std::ptr::null_mut(), 1) }.is_none());
    // SAFETY: zero length never dereferences.
    let empty = unsafe { Region::from_raw_parts(std::ptr::null_mut(), 0) }.unwrap();
    assert!(empty.is_empty());
}

#[test]
fn multi_segment_regions_read_and_write_across_boundaries() {
    let mut a = vec![0_u8; 5];
    let mut b = vec![0_u8; 0];
    let mut c = vec![0_u8; 7];
    {
        let segs = [
            (a.as_mut_ptr(), a.len()),
            (b.as_mut_ptr(), b.len()),
            (c.as_mut_ptr(), c.len()),
        ];
        // SAFETY: the three vectors outlive the region and are untouched while it exists.
        let region = unsafe { Region::from_raw_segments(&segs) }.unwrap();
        assert_eq!(region.len(), 12);
        region.write(3, &[1, 2, 3, 4]).unwrap();
        let mut out = [0; 6];
        region.read(2, &mut out).unwrap();
        assert_eq!(out, [0, 1, 2, 3, 4, 0]);
    }
    assert_eq!(a, [0, 0, 0, 1, 2]);
    assert_eq!(c, [3, 4, 0, 0, 0, 0, 0]);
}

#[test]
fn every_alias_distance_copies_exactly() {
    // One big source, destinations at every 8-byte distance mod 4096, length > ALIAS_CHUNK so
    // the chunked path is exercised where it applies.
    let len = ALIAS_CHUNK * 3 + 17;
    let src = Region::from_bytes(&pattern(len + 4096, 9));
    let dst = Region::zeroed(len + 8192);
    let reference = src.to_vec();
    for distance in (0..4096).step_by(8) {
        let src_off = 64;
        Region::copy_between(&dst, distance + 4096, &src, src_off, len).unwrap();
        let got = dst.to_vec();
        assert_eq!(
            &got[distance + 4096..distance + 4096 + len],
            &reference[src_off..src_off + len],
            "distance {distance}"
        );
    }
}

#[test]
fn overlapping_copy_within_one_region_is_a_memmove() {
    for (dst_off, src_off) in [(10, 0), (0, 10), (3000, 100), (100, 3000), (1, 0)] {
        let len = 5000;
        let region = Region::zeroed_segments(&[1000, 2500, 7000]);
        let init = pattern(region.len(), 3);
        region.write(0, &init).unwrap();
        Region::copy_between(&region, dst_off, &region, src_off, len).unwrap();
        let mut expect = init.clone();
        expect.copy_within(src_off..src_off + len, dst_off);
        assert_eq!(region.to_vec(), expect, "dst {dst_off} src {src_off}");
    }
}

/// Segment lengths summing to at least `min`.
fn segments(min: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0_usize..3000, 1..5).prop_map(move |mut v| {
        let sum: usize = v.iter().sum();
        if sum < min {
            v.push(min - sum);
        }
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn copy_between_matches_a_reference_model(
        len in 0_usize..9000,
        dst_off in 0_usize..4200,
        src_off in 0_usize..4200,
        dst_segs in segments(13500),
        src_segs in segments(13500),
    ) {
        let dst = Region::zeroed_segments(&dst_segs);
        let src = Region::zeroed_segments(&src_segs);
        let src_init = pattern(src.len(), 5);
        let dst_init = pattern(dst.len(), 6);
        src.write(0, &src_init).unwrap();
        dst.write(0, &dst_init).unwrap();
        Region::copy_between(&dst, dst_off, &src, src_off, len).unwrap();
        let mut expect = dst_init;
        expect[dst_off..dst_off + len].copy_from_slice(&src_init[src_off..src_off + len]);
        prop_assert_eq!(dst.to_vec(), expect);
        prop_assert_eq!(src.to_vec(), src_init, "source untouched");
    }

    #[test]
    fn same_region_copy_matches_copy_within(
        len in 0_usize..6000,
        dst_off in 0_usize..6000,
        src_off in 0_usize..6000,
        segs in segments(12000),
    ) {
        let region = Region::zeroed_segments(&segs);
        let init = pattern(region.len(), 8);
        region.write(0, &init).unwrap();
        Region::copy_between(&region, dst_off, &region, src_off, len).unwrap();
        let mut expect = init;
        expect.copy_within(src_off..src_off + len, dst_off);
        prop_assert_eq!(region.to_vec(), expect);
    }

    #[test]
    fn bounds_errors_touch_nothing(
        offset in prop_oneof![0_usize..300, (usize::MAX - 300)..=usize::MAX],
        len in prop_oneof![0_usize..300, (usize::MAX - 300)..=usize::MAX],
    ) {
        let region = Region::from_bytes(&pattern(200, 2));
        let fits = offset.checked_add(len).is_some_and(|end| end <= 200);
        let other = Region::from_bytes(&pattern(200, 4));
        let result = Region::copy_between(&other, offset, &region, 0, len);
        prop_assert_eq!(result.is_ok(), fits);
        if result.is_err() {
            prop_assert_eq!(other.to_vec(), pattern(200, 4));
            let expected = RegionError::check(offset, len, 200).unwrap_err();
            prop_assert_eq!(result.unwrap_err(), expected);
        }
        if len <= 300 {
            let mut buf = vec![0xAB; len];
            let read = region.read(offset, &mut buf);
            prop_assert_eq!(read.is_ok(), fits);
            if read.is_err() {
                prop_assert!(buf.iter().all(|&b| b == 0xAB));
            }
        }
    }
}
