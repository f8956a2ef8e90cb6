//! Fuzz harnesses for SoftNDK (issue 7). Each module decodes an arbitrary byte string into
//! calls and checks the documented answers; the `fuzz_targets` are thin libFuzzer wrappers, and
//! `tests/random_fuzz_replay.rs` in the main workspace includes the same modules to replay the
//! committed corpus on stable Rust.
#![allow(unsafe_code)]

pub mod cm;
pub mod dispatch;
pub mod oid;
pub mod pick;
