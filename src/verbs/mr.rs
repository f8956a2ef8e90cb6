//! Memory regions and the adapter's memory-token table.
//!
//! Owns token issue and resolution (see `token.rs` for the encoding): which slot a token names,
//! whether it is current, whether it belongs to the asking PD, whether the range and rights fit.
//! It must never hand out a token of one PD as valid in another, revive an object that is being
//! closed (lookups take a lifetime unit under the table lock, and closers unpublish under the same
//! lock in their close stage: invariant I2), or finalise an object under the table lock.
#![deny(unsafe_code)]

use alloc::vec::Vec;

use crate::platform::SpinLock;
use crate::platform::prelude::*;

use super::lock_order;
use super::token::TokenCodec;

/// The adapter-wide memory-token table.
#[derive(Debug)]
pub struct MemoryTable {
    codec: TokenCodec,
    max_slots: u32,
    slots: SpinLock<Vec<()>>,
}

impl MemoryTable {
    /// An empty table whose tokens are mixed with `secret`, holding at most `max_slots` objects.
    #[must_use]
    pub fn new(secret: u32, max_slots: u32) -> Self {
        Self {
            codec: TokenCodec::new(secret),
            max_slots,
            slots: SpinLock::new(lock_order::MEMORY, Vec::new()),
        }
    }

    /// The privileged token of PD number `number`.
    #[must_use]
    pub const fn privileged_token(&self, number: u32) -> u32 {
        self.codec.privileged(number)
    }

    /// Drops whatever the table still holds (adapter teardown).
    pub fn release_all(&self) {
        let slots = core::mem::take(&mut *self.slots.lock());
        drop(slots);
        let _ = self.max_slots;
    }
}
