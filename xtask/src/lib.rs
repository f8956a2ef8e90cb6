//! `SoftNDK` build tasks as a library, so the image checks are unit- and integration-tested.
//!
//! - [`cross`]: the Linux cross build of `softndk.sys` (`cargo xtask build-sys`).
//! - [`pe_check`]: the driver-image rules (`cargo xtask check-sys`).
//! - [`pe_checksum`]: PE checksum computation.
//! - [`sys_decls`]: the kernel imports declared in `src/sys`.
//! - [`toolchain`]: finding/installing the Debian cross toolchain.

pub mod cross;
pub mod pe_check;
pub mod pe_checksum;
pub mod sys_decls;
pub mod toolchain;
