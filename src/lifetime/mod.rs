//! The NDK object lifetime engine: one state machine behind every `NdkCloseObject` and the NDIS
//! close-adapter handler, shared by all NDK object types. See `docs/lifetime.md`.
//!
//! Owns when an object may be torn down and when its close completion runs. It guarantees that
//! a close never fails and never waits; that it finishes inline (`STATUS_SUCCESS`, no
//! completion) only when nothing is outstanding, and otherwise pends (`STATUS_PENDING`) with the
//! completion called exactly once, after every request completion, every event callback and
//! every successor's close completion has returned; that once closing, new callbacks and new
//! work are refused; and that lookups never revive a finalising object. It must never contain
//! `unsafe` code, depend on NDIS, allocate on the close path, or wait anywhere except in
//! [`close_and_wait`] (the adapter's `PASSIVE_LEVEL` close).
//!
//! # Pieces
//!
//! | item | role |
//! |---|---|
//! | [`Lifetime`] | the atomic word: CLOSING, FINAL, COUNT of units |
//! | [`Tracked`], [`Node`], [`Links`] | the generic object: its word, its antecedent links, its teardown |
//! | [`Base`] | the consumer's handle; [`Base::close`] is `NdkCloseObject` |
//! | [`Unit`] | a request, callback, entry guard or link; dropping the last one finalises |
//! | [`Farewell`], [`CompletionSlot`] | the close completion, stored by the closer, called by the finaliser |
//! | [`Table`], [`Key`], [`Directory`], [`Lock`] | generational lookups that respect I2 |
//! | [`Event`], [`Signal`], [`close_and_wait`] | the adapter's blocking close |
//!
//! # Verification
//!
//! Loom models in `tests/loom_lifetime.rs` run with a preemption bound of 2 in CI; run them
//! with bound 3 locally before changing anything here:
//!
//! ```text
//! LOOM_MAX_PREEMPTIONS=3 RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test --release --test loom_lifetime
//! ```
#![deny(unsafe_code)]

mod directory;
mod event;
mod node;
mod slot;
mod table;
mod unit;
mod word;

#[cfg(all(test, not(loom)))]
mod tests;

pub use directory::{Directory, Lock};
pub use event::{Event, Signal, close_and_wait};
pub use node::{Antecedent, Farewell, Links, MAX_LINKS, Node, Tracked};
pub use slot::CompletionSlot;
pub use table::{InsertError, Key, Table};
pub use unit::{Base, Closed, Closing, Unit};
pub use word::{AlreadyClosing, CloseStart, Ended, Lifetime};
