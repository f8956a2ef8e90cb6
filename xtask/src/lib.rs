//! `SoftNDK` build tasks as a library, so the image checks are unit- and integration-tested.
//!
//! - [`cross`]: the Linux cross build of `softndk.sys` (`cargo xtask build-sys`).
//! - [`layout_gen`]: the WDK layout-comparison generator `build.rs` runs on a Windows WDK
//!   build (`build/layout_gen.rs`; compiled and unit-tested here, where no WDK exists).
//! - [`pe_check`]: the driver-image rules (`cargo xtask check-sys`).
//! - [`pe_guard`]: the Control Flow Guard rules of `check-sys`.
//! - [`pe_checksum`]: PE checksum computation.
//! - [`sys_decls`]: the kernel imports declared in `src/sys`.
//! - [`toolchain`]: finding/installing the Debian cross toolchain.

pub mod cross;
#[path = "../../build/layout_gen.rs"]
pub mod layout_gen;
pub mod pe_check;
pub mod pe_checksum;
pub mod pe_guard;
pub mod sys_decls;
pub mod toolchain;

#[cfg(test)]
#[path = "layout_gen_tests.rs"]
mod layout_gen_tests;
