//! The PE image checksum (`IMAGE_OPTIONAL_HEADER.CheckSum`).
//!
//! `lld-link` does not write it (it has no `/RELEASE`) but drivers should carry it: the 16-bit one's-complement-style sum
//! used by `CheckSumMappedFile`.

/// Offset of the `CheckSum` field, or `None` when `image` is not a PE file.
#[must_use]
pub fn checksum_offset(image: &[u8]) -> Option<usize> {
    if image.get(..2)? != b"MZ" {
        return None;
    }
    let pe = usize::try_from(u32::from_le_bytes(*image.get(0x3C..0x40)?.first_chunk()?)).ok()?;
    if image.get(pe..pe + 4)? != b"PE\0\0" {
        return None;
    }
    // Signature (4) + COFF file header (20) + offset of CheckSum in the optional header (64).
    let offset = pe + 4 + 20 + 64;
    (offset + 4 <= image.len()).then_some(offset)
}

/// Computes the checksum of `image` as if its `CheckSum` field (at `field`) were zero.
#[must_use]
pub fn compute(image: &[u8], field: usize) -> u32 {
    let mut sum: u64 = 0;
    let (words, rest) = image.as_chunks::<2>();
    for (index, word) in words.iter().enumerate() {
        let at = index * 2;
        if at >= field && at < field + 4 {
            continue;
        }
        sum += u64::from(u16::from_le_bytes(*word));
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    if let [last] = rest {
        sum += u64::from(*last);
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    sum = (sum & 0xFFFF) + (sum >> 16);
    let total = sum + image.len() as u64;
    u32::try_from(total & 0xFFFF_FFFF).unwrap_or(u32::MAX)
}

/// The checksum stored in the image.
#[must_use]
pub fn stored(image: &[u8]) -> Option<u32> {
    let offset = checksum_offset(image)?;
    Some(u32::from_le_bytes(
        *image.get(offset..offset + 4)?.first_chunk()?,
    ))
}

/// Writes the correct checksum into `image`.
///
/// # Errors
/// When `image` is not a PE file.
pub fn update(image: &mut [u8]) -> Result<(), String> {
    let offset = checksum_offset(image).ok_or("not a PE image")?;
    let checksum = compute(image, offset);
    image[offset..offset + 4].copy_from_slice(&checksum.to_le_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_pe(len: usize) -> Vec<u8> {
        let mut image = vec![0_u8; len];
        image[..2].copy_from_slice(b"MZ");
        image[0x3C..0x40].copy_from_slice(&0x40_u32.to_le_bytes());
        image[0x40..0x44].copy_from_slice(b"PE\0\0");
        for (i, byte) in image.iter_mut().enumerate().skip(0x100) {
            *byte = u8::try_from(i % 251).unwrap();
        }
        image
    }

    #[test]
    fn checksum_ignores_its_own_field_and_counts_length() {
        let mut image = tiny_pe(0x301);
        let offset = checksum_offset(&image).unwrap();
        assert_eq!(offset, 0x40 + 88);
        let before = compute(&image, offset);
        image[offset..offset + 4].copy_from_slice(&[0xFF; 4]);
        assert_eq!(compute(&image, offset), before, "field excluded");
        update(&mut image).unwrap();
        assert_eq!(stored(&image), Some(before));
        let mut flipped = image.clone();
        flipped[0x200] ^= 1;
        assert_ne!(compute(&flipped, offset), before, "content changes the sum");
        let longer = {
            let mut l = image.clone();
            l.push(0);
            l
        };
        assert_eq!(compute(&longer, offset), before + 1, "length is added");
    }

    #[test]
    fn non_pe_input_is_refused() {
        assert_eq!(checksum_offset(b"ELF"), None);
        assert!(update(&mut [0_u8; 64]).is_err());
    }
}
