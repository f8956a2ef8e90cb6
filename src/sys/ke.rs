//! Executive/kernel constants and opaque object sizes (`wdm.h`), for pool allocation and for
//! the kernel platform's synchronization objects, which embed these objects in pool memory.

/// `POOL_FLAG_NON_PAGED` for `ExAllocatePool2`: non-paged, non-executable pool.
pub const POOL_FLAG_NON_PAGED: u64 = 0x0000_0000_0000_0040;

/// `KSPIN_LOCK` (x64: a `ULONG_PTR`).
pub type KSPIN_LOCK = usize;

/// `KEVENT`: only its size and alignment matter to Rust (x64: 0x18, the dispatcher header).
#[repr(C, align(8))]
pub struct KEVENT {
    _opaque: [u8; 0x18],
}

/// `KDPC`: only its size and alignment matter to Rust (x64: 0x40).
#[repr(C, align(8))]
pub struct KDPC {
    _opaque: [u8; 0x40],
}

const _: () = assert!(core::mem::size_of::<KSPIN_LOCK>() == 8);
const _: () = assert!(core::mem::size_of::<KEVENT>() == 0x18);
const _: () = assert!(core::mem::size_of::<KDPC>() == 0x40);
