//! The kernel runtime of `softndk.sys`: global allocator, panic handler, `_fltused`, and the
//! Control Flow Guard load-config directory.
//!
//! Two interchangeable implementations, chosen by the build path: [`handwritten`] (the Linux
//! cross build, no WDK: non-paged tagged pool, bug check on panic) and `wdk_runtime` (a
//! Windows build with the WDK: `wdk-alloc`, `wdk-panic`, and `wdk-sys`, which defines
//! `_fltused`). Exactly one is compiled, so no symbol is defined twice. The handwritten build
//! also defines the CFG load-config directory and guard pointers ([`guard`]); on the WDK
//! build the WDK's kernel libraries are expected to provide them.
//! Must never: be compiled into host builds (std provides all three there).

#[cfg(not(feature = "wdk"))]
pub mod guard;
#[cfg(not(feature = "wdk"))]
pub mod handwritten;
#[cfg(feature = "wdk")]
mod wdk_runtime;
