//! SoftNDK: a software NDK (NetworkDirect Kernel, kernel-mode RDMA) provider.
//!
//! SoftNDK is an NDIS 6.30+ virtual miniport that advertises NDK and implements every NDKPI
//! object in software, over a loopback fabric that joins every SoftNDK adapter on the host.
//! Its `NdkCloseObject` entries drive one per-object lifetime state machine
//! ([`lifetime`]) that drains outstanding requests and in-progress callbacks, then calls the
//! close completion at or below `DISPATCH_LEVEL`, without ever blocking.
//!
//! # Layers
//!
//! Imports point down only (see `docs/architecture.md`):
//!
//! | module | holds | unsafe |
//! |---|---|---|
//! | [`abi`] | the NDKPI C ABI: `#[repr(C)]` objects, dispatch tables, callbacks, constants | data only |
//! | [`lifetime`] | the object lifetime engine, loom-checked | none |
//! | [`platform`] | what the OS provides (locks, deferred work, IRQL, allocation) | kernel impl only |
//!
//! The crate is `no_std` + `alloc`. The `std` feature (default) adds the host platform used by
//! tests, benchmarks and the `softndk` CLI; the `kernel` feature, on the
//! `x86_64-pc-windows-msvc` target, adds the NDIS miniport that becomes `softndk.sys`.
#![no_std]
// Fallible `Arc` allocation (`Arc::try_new`) on the kernel build, whose toolchains build
// `core`/`alloc` from source with `RUSTC_BOOTSTRAP=1` anyway; host builds stay on stable.
#![cfg_attr(all(target_os = "windows", feature = "kernel"), feature(allocator_api))]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod abi;
pub mod cm;
// The consumer-side wrapper over the dispatch tables (tests, verifier, CLI).
#[cfg(feature = "std")]
pub mod consumer;
// The provider proper (objects, dispatch, connections) needs a platform implementation:
// the host's (`std`) or the kernel's.
#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
pub mod dispatch;
pub mod engine;
pub mod fabric;
pub mod lifetime;
pub mod platform;
pub mod sync;
#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
pub mod verbs;
// The miniport's pure halves and the FFI types compile everywhere (host-tested, layouts
// asserted in every build); their NDIS trampolines and imports are Windows-kernel-only.
#[cfg(all(
    target_os = "windows",
    feature = "kernel",
    not(feature = "std"),
    not(test)
))]
mod kernel_rt;
pub mod miniport;
pub mod sys;
#[cfg(feature = "std")]
pub mod verifier;
