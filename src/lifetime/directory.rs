//! A locked, generational directory of tracked objects: publish, look up and take a unit,
//! unpublish during close.
//!
//! Owns invariant I2: a lookup takes its unit *under the directory's lock*, and a closer
//! unpublishes *under the same lock* while it still holds BASE. So a lookup either misses or
//! finds an object whose BASE is still held; it can never revive an object being finalised.
//! [`Directory::unpublish`] demands a [`Closing`] proof, which only exists inside
//! [`Base::close`](super::Base::close)'s stage, so the order cannot be got wrong.
//!
//! Never calls consumer code or finalises while holding the lock, never waits beyond the lock
//! itself (a spin lock at `DISPATCH_LEVEL` in the kernel).
#![deny(unsafe_code)]

use core::fmt;

use super::node::{Tracked, finalize};
use super::table::{InsertError, Key, Table};
use super::unit::{Closing, Unit};
use super::word::Ended;
use crate::sync::Arc;

/// A mutual-exclusion lock around a value, provided by the platform (kernel spin lock, host
/// mutex, loom mutex).
///
/// Implementations must be short and must not be held across consumer calls; the directory only
/// runs table operations and one `try_begin` inside.
pub trait Lock<T> {
    /// A lock around `value`.
    fn new(value: T) -> Self;
    /// Runs `f` with exclusive access.
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R;
}

#[cfg(any(test, feature = "std"))]
impl<T> Lock<T> for std::sync::Mutex<T> {
    fn new(value: T) -> Self {
        Self::new(value)
    }
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        // A panic under the lock cannot leave the table torn (its methods do not unwind midway).
        f(&mut self
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

#[cfg(loom)]
impl<T> Lock<T> for loom::sync::Mutex<T> {
    fn new(value: T) -> Self {
        Self::new(value)
    }
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

/// Tracked objects findable by [`Key`] (memory tokens, QP numbers, ports).
///
/// Entries hold an `Arc` (memory only, no unit): the object's units are owned by its handles.
///
/// # Example
///
/// ```
/// use std::sync::Mutex;
/// use softndk::lifetime::{Base, Closed, Directory, Links, Node, Tracked};
///
/// struct Mr {
///     node: Node,
/// }
/// impl Tracked for Mr {
///     type Farewell = ();
///     fn node(&self) -> &Node {
///         &self.node
///     }
///     fn finalize(&self) {}
/// }
///
/// let tokens: Directory<Mr, Mutex<_>> = Directory::new();
/// let mr = Base::new(Mr { node: Node::new(Links::new()) });
/// let token = tokens.publish(mr.arc()).unwrap();
/// let inbound = tokens.lookup(token).unwrap(); // e.g. an RDMA write targets the MR
/// assert_eq!(mr.close(|c| assert!(tokens.unpublish(token, c))), Ok(Closed::Pending));
/// assert!(tokens.lookup(token).is_none()); // closing: no new access
/// drop(inbound); // the in-flight access ends; the MR finalises
/// ```
pub struct Directory<T: Tracked, L: Lock<Table<Arc<T>>>> {
    table: L,
    _objects: core::marker::PhantomData<fn() -> T>,
}

impl<T: Tracked, L: Lock<Table<Arc<T>>>> fmt::Debug for Directory<T, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Directory").finish_non_exhaustive()
    }
}

impl<T: Tracked, L: Lock<Table<Arc<T>>>> Default for Directory<T, L> {
    fn default() -> Self {
        Self::new()
    }
}

enum Found<T: Tracked> {
    Hit(Unit<T>),
    Miss,
    Finalize(Arc<T>),
}

impl<T: Tracked, L: Lock<Table<Arc<T>>>> Directory<T, L> {
    /// An empty directory.
    #[must_use]
    pub fn new() -> Self {
        Self::with_table(Table::new())
    }

    /// A directory over `table` (e.g. [`Table::with_max_slots`] for 24-bit QP numbers).
    #[must_use]
    pub fn with_table(table: Table<Arc<T>>) -> Self {
        Self {
            table: L::new(table),
            _objects: core::marker::PhantomData,
        }
    }

    /// Publishes a fully built object (I3) and returns its key.
    ///
    /// # Errors
    ///
    /// [`InsertError`] (out of memory or out of slots); the object is not published.
    pub fn publish(&self, obj: &Arc<T>) -> Result<Key, InsertError<()>> {
        self.table
            .with(|t| t.insert(Arc::clone(obj)))
            .map_err(|e| match e {
                InsertError::OutOfMemory(_) => InsertError::OutOfMemory(()),
                InsertError::Full(_) => InsertError::Full(()),
            })
    }

    /// Finds the object named by `key` and takes a unit on it, under the lock.
    ///
    /// `None` if the key is stale or unknown, or the object is closing.
    #[must_use]
    pub fn lookup(&self, key: Key) -> Option<Unit<T>> {
        let found = self.table.with(|t| {
            t.get(key)
                .map_or(Found::Miss, |obj| match obj.node().lifetime().try_begin() {
                    // The unit was taken by `try_begin`; hand it over together with an `Arc`.
                    Ok(()) => Found::Hit(Unit::from_counted_arc(Arc::clone(obj))),
                    Err(Ended::Alive) => Found::Miss,
                    // Impossible under I2; finalise outside the lock rather than under it.
                    Err(Ended::Finalize) => Found::Finalize(Arc::clone(obj)),
                })
        });
        match found {
            Found::Hit(unit) => Some(unit),
            Found::Miss => None,
            Found::Finalize(obj) => {
                finalize(obj, true);
                None
            }
        }
    }

    /// Unpublishes the closing object `closing` under `key`; call it from the close stage.
    ///
    /// Returns whether `key` named this very object (a key naming another object is left alone).
    pub fn unpublish(&self, key: Key, closing: &Closing<'_, T>) -> bool {
        let removed = self.table.with(|t| match t.get(key) {
            Some(obj) if Arc::ptr_eq(obj, closing.arc()) => t.remove(key),
            _ => None,
        });
        // The table's `Arc` is dropped here, outside the lock; BASE is still held by the closer,
        // so this never frees the object.
        removed.is_some()
    }

    /// Number of published objects.
    #[must_use]
    pub fn len(&self) -> usize {
        self.table.with(|t| t.len())
    }

    /// Whether no object is published.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
