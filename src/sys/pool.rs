//! Pure arithmetic behind the kernel allocator.
//!
//! How many pool bytes a Rust [`Layout`] needs and where the aligned block starts. Host-tested; the allocator itself lives in
//! `kernel_rt` and only calls these.
//!
//! [`Layout`]: core::alloc::Layout

/// Alignment every x64 pool block already has (the pool header is 16 bytes).
pub const POOL_ALIGNMENT: usize = 16;

/// What to ask the pool for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolRequest {
    /// Bytes to pass to `ExAllocatePool2`.
    pub bytes: usize,
    /// True when the block must be aligned by hand ([`aligned_start`]) and its pool pointer
    /// stored in the word just below the aligned start.
    pub over_aligned: bool,
}

/// Plans an allocation of `size` bytes at `align` (a power of two). `None` if the padded
/// size overflows.
#[must_use]
pub const fn plan(size: usize, align: usize) -> Option<PoolRequest> {
    let size = if size == 0 { 1 } else { size };
    if align <= POOL_ALIGNMENT {
        return Some(PoolRequest {
            bytes: size,
            over_aligned: false,
        });
    }
    // `align` extra bytes leave room both to round up and for the back-pointer word.
    match size.checked_add(align) {
        Some(bytes) => Some(PoolRequest {
            bytes,
            over_aligned: true,
        }),
        None => None,
    }
}

/// First `align`-aligned address strictly above `raw` with a pointer-sized word free below it.
/// `raw` is a pool address (16-aligned); `align` is a power of two above [`POOL_ALIGNMENT`].
#[must_use]
pub const fn aligned_start(raw: usize, align: usize) -> usize {
    (raw + core::mem::size_of::<usize>() + align - 1) & !(align - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_alignments_use_the_pool_directly() {
        assert_eq!(
            plan(24, 8),
            Some(PoolRequest {
                bytes: 24,
                over_aligned: false
            })
        );
        assert_eq!(plan(0, 1).map(|r| r.bytes), Some(1));
        assert!(!plan(100, 16).unwrap().over_aligned);
    }

    #[test]
    fn over_aligned_blocks_fit_inside_the_request() {
        for align in [32_usize, 64, 4096] {
            for raw in (0x1000_usize..0x1000 + 2 * align).step_by(POOL_ALIGNMENT) {
                let size = 40;
                let request = plan(size, align).unwrap();
                assert!(request.over_aligned);
                let start = aligned_start(raw, align);
                assert_eq!(start % align, 0);
                assert!(
                    start >= raw + core::mem::size_of::<usize>(),
                    "room for back pointer"
                );
                assert!(
                    start + size <= raw + request.bytes,
                    "block inside allocation"
                );
            }
        }
    }

    #[test]
    fn overflowing_sizes_are_refused() {
        assert_eq!(plan(usize::MAX - 8, 64), None);
    }
}
