//! Kernel runtime for the handwritten (non-WDK, Linux cross) build of `softndk.sys`.
//!
//! Owns the three things a `no_std` Rust image needs from its environment when no
//! `wdk-alloc`/`wdk-panic`/`wdk-sys` is linked: the global allocator (non-paged pool through
//! `ExAllocatePool2`, tagged [`POOL_TAG`]), the panic handler (a bug check with
//! [`SOFTNDK_BUGCHECK_CODE`]) and the `_fltused` marker the MSVC toolchain expects from any
//! image that touches floating point.
//!
//! It must never wait, never touch paged memory and never be compiled next to the `wdk`
//! runtime crates (they define the same three items).
#![allow(unsafe_code)]

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;

use crate::sys::ffi::{ExAllocatePool2, ExFreePoolWithTag, KeBugCheckEx};
use crate::sys::ke::POOL_FLAG_NON_PAGED;
use crate::sys::pool::{self, POOL_ALIGNMENT};

/// Pool tag of every SoftNDK allocation: `'kdNS'` in the kernel debugger's byte order, so
/// `!poolused` and Driver Verifier's pool tracking show it as `SNdk`.
pub const POOL_TAG: u32 = u32::from_le_bytes(*b"SNdk");

/// Bug check code raised by a Rust panic in the driver (`'SNDK'`); parameter 1 is the address
/// of the panic's source file name, 2 its length, 3 the line and 4 the column.
pub const SOFTNDK_BUGCHECK_CODE: u32 = u32::from_be_bytes(*b"SNDK");

/// The global allocator: non-paged, tagged pool, usable at `IRQL <= DISPATCH_LEVEL`.
///
/// Alignments up to [`POOL_ALIGNMENT`] come straight from the pool; larger ones over-allocate
/// and keep the pool pointer in the word just below the aligned block (see
/// [`crate::sys::pool`]).
struct NonPagedPool;

// SAFETY: `alloc` returns either null or a block of at least `layout.size()` bytes aligned to
// `layout.align()` that no one else owns (the pool hands out disjoint blocks, and the
// over-aligned path stays inside the block it allocated); `dealloc` receives exactly the
// pointers `alloc` returned with the same layout, so it can recover the pool pointer.
unsafe impl GlobalAlloc for NonPagedPool {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(request) = pool::plan(layout.size(), layout.align()) else {
            return core::ptr::null_mut();
        };
        // SAFETY: ExAllocatePool2 may be called at IRQL <= DISPATCH_LEVEL for non-paged pool;
        // Rust code in this driver only allocates at or below DISPATCH_LEVEL. A failed
        // allocation returns null, which we pass on (GlobalAlloc's failure value).
        let raw = unsafe { ExAllocatePool2(POOL_FLAG_NON_PAGED, request.bytes, POOL_TAG) };
        if raw.is_null() || !request.over_aligned {
            return raw.cast();
        }
        let aligned = pool::aligned_start(raw as usize, layout.align());
        let slot = (aligned - core::mem::size_of::<usize>()) as *mut usize;
        // SAFETY: `plan` reserved `align` extra bytes, so `aligned` lies in
        // (raw, raw + align] and the word below it is inside the allocation; `aligned` is a
        // multiple of `align` >= 32, so `slot` is 8-byte aligned.
        unsafe { slot.write(raw as usize) };
        aligned as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let raw: *mut c_void = if layout.align() > POOL_ALIGNMENT {
            let slot = (ptr as usize - core::mem::size_of::<usize>()) as *const usize;
            // SAFETY: `ptr` came from `alloc` with this layout, which wrote the pool pointer
            // into the word below it.
            (unsafe { slot.read() }) as *mut c_void
        } else {
            ptr.cast()
        };
        // SAFETY: `raw` is the pool block `ExAllocatePool2` returned with `POOL_TAG`; freeing
        // non-paged pool is allowed at IRQL <= DISPATCH_LEVEL.
        unsafe { ExFreePoolWithTag(raw, POOL_TAG) };
    }
}

#[global_allocator]
static ALLOCATOR: NonPagedPool = NonPagedPool;

/// Marks the image as using floating point; MSVC-targeted object code references it.
// SAFETY: `_fltused` is a symbol name no other object in this image defines (the WDK runtime
// crates that also define it are excluded by the `not(feature = "wdk")` gate on this module).
#[unsafe(no_mangle)]
#[used]
#[allow(
    non_upper_case_globals,
    reason = "the MSVC toolchain's exact symbol name"
)]
pub static _fltused: i32 = 0;

/// A panic is a driver bug: stop the machine with a recognisable code instead of unwinding
/// into NDIS.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let (file, line, column) = info.location().map_or(("", 0, 0), |location| {
        (location.file(), location.line(), location.column())
    });
    // SAFETY: KeBugCheckEx may be called at any IRQL and never returns; the parameters are
    // plain integers for the debugger.
    unsafe {
        KeBugCheckEx(
            SOFTNDK_BUGCHECK_CODE,
            file.as_ptr() as usize,
            file.len(),
            line as usize,
            column as usize,
        )
    }
}
