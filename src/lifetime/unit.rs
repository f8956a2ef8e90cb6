//! RAII handles on a tracked object: [`Base`] (the consumer's handle, consumed by close) and
//! [`Unit`] (a pending request, an in-progress callback, an entry guard, a successor link, an
//! engine reference).
//!
//! Owns the rule that every `Arc` of a tracked object held outside a lookup table is one of
//! these handles and therefore one unit, and that dropping the last one finalises. Dropping a
//! handle never waits.
#![deny(unsafe_code)]

use core::fmt;
use core::ops::Deref;

use super::node::{Tracked, finalize};
use super::word::{AlreadyClosing, Ended};
use crate::sync::Arc;

/// Unwraps a handle's object. Handles hold `Some` from construction until the method that
/// consumes them (`drop`, `close`, `into_arc`, `into_counted_arc`) moves it out, and nothing runs
/// on a handle after that, so `None` here is unreachable.
#[track_caller]
const fn held<O>(obj: Option<O>) -> O {
    obj.expect("handle used after it gave up its object")
}

/// One unit on a tracked object, released when dropped.
///
/// Use one per pending asynchronous request (drop it after the consumer's completion callback
/// has returned), one around every event callback (take it with [`Unit::try_new`], which
/// refuses once the object is closing, so the callback is suppressed), one around a provider
/// entry point that may complete inline, and one per successor link ([`Links::push`]).
///
/// [`Links::push`]: super::Links::push
pub struct Unit<T: Tracked> {
    /// `None` only transiently, while being moved out in `drop` or `into_counted_arc`.
    obj: Option<Arc<T>>,
}

impl<T: Tracked> fmt::Debug for Unit<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unit").finish_non_exhaustive()
    }
}

impl<T: Tracked> Unit<T> {
    /// Takes a unit on `obj` unless it is closing (`None`: suppress the callback, fail the
    /// request, e.g. with `STATUS_CANCELLED`).
    ///
    /// The caller must itself hold a unit of `obj`, or be inside the lookup lock of a
    /// [`Directory`](super::Directory) (invariants I1/I2). Should those be broken and the refusal
    /// turn out to be the last unit, this call finalises the object before returning `None`.
    #[must_use]
    pub fn try_new(obj: &Arc<T>) -> Option<Self> {
        match obj.node().lifetime().try_begin() {
            Ok(()) => Some(Self {
                obj: Some(Arc::clone(obj)),
            }),
            Err(Ended::Alive) => None,
            Err(Ended::Finalize) => {
                finalize(Arc::clone(obj), true);
                None
            }
        }
    }

    /// The object's `Arc`.
    #[must_use]
    pub const fn arc(&self) -> &Arc<T> {
        held(self.obj.as_ref())
    }

    /// Turns the unit into a bare `Arc` that still accounts for the unit (for [`Links`]).
    ///
    /// [`Links`]: super::Links
    pub(super) fn into_counted_arc(mut self) -> Arc<T> {
        self.obj
            .take()
            .expect("unit holds its object until dropped")
    }

    pub(super) const fn from_counted_arc(obj: Arc<T>) -> Self {
        Self { obj: Some(obj) }
    }
}

impl<T: Tracked> Clone for Unit<T> {
    /// Another unit on the same object; never refused, even while closing (the caller holds one).
    fn clone(&self) -> Self {
        let obj = self.arc();
        obj.node().lifetime().begin_held();
        Self::from_counted_arc(Arc::clone(obj))
    }
}

impl<T: Tracked> Deref for Unit<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.arc()
    }
}

impl<T: Tracked> Drop for Unit<T> {
    fn drop(&mut self) {
        if let Some(obj) = self.obj.take()
            && obj.node().lifetime().end() == Ended::Finalize
        {
            finalize(obj, true);
        }
    }
}

/// How [`Base::close`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "map to STATUS_SUCCESS / STATUS_PENDING"]
pub enum Closed {
    /// Nothing was outstanding; the object was finalised inside the close and its farewell was
    /// dropped, not completed. NDK: return `STATUS_SUCCESS`; no callback follows.
    Finished,
    /// Units remain; the last one to go finalises and calls [`Farewell::complete`] exactly once.
    /// NDK: return `STATUS_PENDING`. (That may already have happened on another thread before
    /// `close` returns.)
    ///
    /// [`Farewell::complete`]: super::Farewell::complete
    Pending,
}

/// The view a closer gets between setting CLOSING and dropping BASE.
///
/// Existence of a `Closing` proves the object is closing and BASE is still held, which is
/// exactly when it must be unpublished ([`Directory::unpublish`](super::Directory::unpublish)
/// takes one), its completion stored, and its cancellation started.
pub struct Closing<'a, T: Tracked> {
    obj: &'a Arc<T>,
}

impl<T: Tracked> fmt::Debug for Closing<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Closing").finish_non_exhaustive()
    }
}

impl<T: Tracked> Closing<'_, T> {
    /// The object's `Arc`.
    #[must_use]
    pub const fn arc(&self) -> &Arc<T> {
        self.obj
    }
}

impl<T: Tracked> Deref for Closing<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.obj
    }
}

/// The consumer's handle on a tracked object: BASE. Only [`Base::close`] (or dropping it, which
/// closes without staging) gives it up.
///
/// The dispatch layer turns it into the NDK object pointer with [`Base::into_arc`] +
/// `Arc::into_raw`, and back with `Arc::from_raw` + [`Base::from_arc`] in `NdkCloseObject`.
pub struct Base<T: Tracked> {
    /// `None` only after `into_arc`/`close` moved it out.
    obj: Option<Arc<T>>,
}

impl<T: Tracked> fmt::Debug for Base<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Base").finish_non_exhaustive()
    }
}

impl<T: Tracked> Base<T> {
    /// Wraps a freshly built object (its node holds exactly BASE).
    ///
    /// Allocates the `Arc`; everything after creation (units, close, finalisation) does not.
    pub fn new(obj: T) -> Self {
        debug_assert_eq!(obj.node().lifetime().units(), 1, "Base::new on a used node");
        Self {
            obj: Some(Arc::new(obj)),
        }
    }

    /// Gives up the handle as its `Arc` (e.g. to become the NDK object pointer) without closing.
    /// The `Arc` still accounts for BASE: turn it back with [`Base::from_arc`] to close.
    #[must_use]
    pub fn into_arc(mut self) -> Arc<T> {
        held(self.obj.take())
    }

    /// Takes back a handle given up with [`Base::into_arc`]. Any other `Arc` would make the
    /// object's count wrong (safe, but it would never finalise or finalise too early).
    #[must_use]
    pub const fn from_arc(obj: Arc<T>) -> Self {
        Self { obj: Some(obj) }
    }

    /// The object's `Arc`.
    #[must_use]
    pub const fn arc(&self) -> &Arc<T> {
        held(self.obj.as_ref())
    }

    /// A new unit (never refused: the object cannot be closing while its base exists).
    #[must_use]
    pub fn unit(&self) -> Unit<T> {
        let obj = self.arc();
        obj.node().lifetime().begin_held();
        Unit::from_counted_arc(Arc::clone(obj))
    }

    /// Closes the object: `NdkCloseObject`. Never fails for a first close, never waits.
    ///
    /// Sets CLOSING (from now on [`Unit::try_new`] refuses: callbacks are suppressed and new
    /// asynchronous work fails), runs `stage` while BASE is still held, then drops BASE. In
    /// `stage`: store the close completion for the farewell, unpublish the object from every
    /// lookup, and start cancelling pending work (without calling the consumer inline).
    ///
    /// # Errors
    ///
    /// [`AlreadyClosing`] if this object was already closing (only possible by re-adopting an
    /// `Arc` twice with [`Base::from_arc`], i.e. a consumer closing twice). Nothing is changed;
    /// `stage` is not run.
    pub fn close(mut self, stage: impl FnOnce(&Closing<'_, T>)) -> Result<Closed, AlreadyClosing> {
        let obj = held(self.obj.take());
        let lifetime = obj.node().lifetime();
        lifetime.begin_close()?;
        stage(&Closing { obj: &obj });
        Ok(match lifetime.drop_base() {
            Ended::Finalize => {
                finalize(obj, false);
                Closed::Finished
            }
            Ended::Alive => Closed::Pending,
        })
    }
}

impl<T: Tracked> Deref for Base<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.arc()
    }
}

impl<T: Tracked> Drop for Base<T> {
    /// A handle dropped without `close` (e.g. creation failed after the object was built) closes
    /// with nothing staged; if work is outstanding, its farewell still completes later.
    fn drop(&mut self) {
        if self.obj.is_some() {
            let base = Self {
                obj: self.obj.take(),
            };
            // A second close cannot happen here: this handle still held BASE.
            let _ = base.close(|_| {});
        }
    }
}
