//! The publication rule for objects that other objects reach without owning them.
//!
//! Owns the way a connector is kept in its connection (reached by its peer's steps) and turned
//! into a lifetime unit; the fabric's route table keeps listeners by the same rule with its own
//! table (`fabric::Fabric::route`). The holder
//! keeps the object's `Weak` behind its own lock; the object is *published* from creation (or
//! attachment) until its close stage, which unpublishes it under that same lock while its BASE
//! is still held; a unit is only ever taken under that lock while it is published. So a lookup
//! either runs before the unpublish, when BASE still keeps the count above zero and `try_new`
//! is legal, or after it and finds nothing: no lookup can revive an object whose count reached
//! zero (invariant I2 of `docs/lifetime.md`). The upgraded `Arc` a lookup makes is never the
//! last one while the object is published (BASE owns one until after the unpublish), so
//! dropping it under the lock frees nothing there. `tests/loom_cm.rs` checks the rule with this very type.
//!
//! Must never: be read or written outside the holder's lock, take a unit on an unpublished
//! object, or be left published after the close stage.
#![deny(unsafe_code)]

use alloc::sync::Weak;

use crate::lifetime::{Tracked, Unit};
use crate::sync::Arc;

/// A reference that is published until its object's close stage.
#[derive(Debug)]
pub struct Published<T>(Option<Weak<T>>);

impl<T> Default for Published<T> {
    fn default() -> Self {
        Self::none()
    }
}

impl<T> Published<T> {
    /// Nothing published.
    #[must_use]
    pub const fn none() -> Self {
        Self(None)
    }
}

impl<T: Tracked> Published<T> {
    /// Publishes `obj` (creation or attachment; under the holder's lock).
    pub fn publish(&mut self, obj: &Arc<T>) {
        self.0 = Some(Arc::downgrade(obj));
    }

    /// Unpublishes (the object's close stage, BASE still held, under the holder's lock; or a
    /// holder giving up an object that never became reachable). Returns the `Weak` so that it
    /// can be dropped after the lock.
    pub const fn unpublish(&mut self) -> Option<Weak<T>> {
        self.0.take()
    }

    /// Whether an object is published.
    #[must_use]
    pub const fn is_published(&self) -> bool {
        self.0.is_some()
    }

    /// The published object (under the holder's lock), e.g. to queue its own work or count on
    /// it; no unit.
    #[must_use]
    pub fn get(&self) -> Option<Arc<T>> {
        self.0.as_ref().and_then(Weak::upgrade)
    }

    /// A unit on the published object (under the holder's lock), or `None` if nothing is
    /// published or its close has begun.
    #[must_use]
    pub fn unit(&self) -> Option<Unit<T>> {
        self.get().as_ref().and_then(Unit::try_new)
    }
}
