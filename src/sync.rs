//! Atomics facade: `core` atomics normally, loom's under `--cfg loom`.
//!
//! Owns the choice of synchronisation primitives for the whole crate. Every module imports its
//! atomics from here (never from `core::sync::atomic` directly) so that a
//! `RUSTFLAGS="--cfg loom"` build puts every atomic the lifetime engine and the provider core use
//! under loom's model checker.
//!
//! [`Arc`] is deliberately `alloc::sync::Arc` in **both** builds:
//! * loom's `Arc` cannot be unsize-coerced (`Arc<T>` to `Arc<dyn Trait>`), which the lifetime
//!   engine needs for heterogeneous antecedent links, and it has no `from_raw`, which the
//!   dispatch layer needs to turn an NDK object pointer back into its owner;
//! * `Arc` only manages memory. What loom has to see is the lifetime word, the completion slot and
//!   the lookup locks, and those are loom types here. Loom runs one model thread at a time, so a
//!   std `Arc` inside a model is simply correct, not hidden from a check that matters.
//!
//! This module must never contain `unsafe` code or anything that blocks.
#![deny(unsafe_code)]

pub use alloc::sync::Arc;

#[cfg(not(loom))]
pub use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence};
#[cfg(loom)]
pub use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence};

/// The processor's spin-wait hint (loom's, which yields to other model threads, under loom).
#[cfg(not(loom))]
pub use core::hint::spin_loop;
#[cfg(loom)]
pub use loom::hint::spin_loop;
