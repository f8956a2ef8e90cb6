//! Fallible, accounted heap containers: what `ExAllocatePool2` gives a driver, in safe Rust.
//!
//! Every container holds the platform's allocation token next to its memory, so the platform
//! sees the allocation end when the container drops (the host counts live allocations to find
//! leaks). Allocation goes through `Vec::try_reserve_exact`, the stable fallible allocation
//! path of `alloc`, so a refused allocation is an [`AllocError`], never an abort. None of these
//! containers ever grows after construction, so no later operation can allocate.
//!
//! Must never allocate infallibly: no `Box::new`, no `Vec::push` past capacity.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::ops::{Deref, DerefMut};

use super::AllocError;

/// Reserves exactly `capacity` elements or reports the failure.
fn try_vec<T>(capacity: usize) -> Result<Vec<T>, AllocError> {
    let mut vec = Vec::new();
    vec.try_reserve_exact(capacity).map_err(|_| AllocError)?;
    Ok(vec)
}

/// Moves `value` into a fresh one-element heap array (stable Rust's only fallible `Box`).
pub(super) fn try_box_array<T>(value: T) -> Result<Box<[T; 1]>, AllocError> {
    let mut vec = try_vec(1)?;
    vec.push(value);
    // `into_boxed_slice` does not reallocate: `try_reserve_exact(1)` on an empty vector asks
    // the allocator for exactly one element. The conversion cannot fail (length 1).
    vec.into_boxed_slice().try_into().map_err(|_| AllocError)
}

/// Moves `value` into a new `Arc`, reporting out-of-memory instead of aborting.
///
/// Kernel builds use `Arc::try_new` (`allocator_api`, enabled for the kernel build only; the
/// kernel toolchains already build `core`/`alloc` from source with `RUSTC_BOOTSTRAP=1`).
#[cfg(all(target_os = "windows", feature = "kernel"))]
pub(super) fn try_arc<T>(value: T) -> Result<crate::sync::Arc<T>, AllocError> {
    crate::sync::Arc::try_new(value).map_err(|_| AllocError)
}

/// Moves `value` into a new `Arc`. Host builds run on stable Rust, which has no fallible `Arc`
/// constructor: a real out-of-memory aborts the process. Injected failures are decided before
/// this is called (`PlatformOps::try_arc`).
#[cfg(not(all(target_os = "windows", feature = "kernel")))]
#[allow(clippy::unnecessary_wraps)] // same signature as the kernel's fallible version
pub(super) fn try_arc<T>(value: T) -> Result<crate::sync::Arc<T>, AllocError> {
    Ok(crate::sync::Arc::new(value))
}

/// One `T` on the heap, like `Box<T>`, allocated fallibly and accounted by the platform.
///
/// Stored as a `Box<[T; 1]>` because stable Rust has no fallible `Box::try_new`; the
/// one-element array has `T`'s layout and is reached through `Deref`.
pub struct PoolBox<T, A> {
    value: Box<[T; 1]>,
    _token: A,
}

impl<T, A> PoolBox<T, A> {
    /// Moves `value` to the heap; `token` is the platform's admission of this allocation.
    ///
    /// # Errors
    ///
    /// [`AllocError`] if the memory is not available.
    pub fn try_new(value: T, token: A) -> Result<Self, AllocError> {
        Ok(Self {
            value: try_box_array(value)?,
            _token: token,
        })
    }

    /// Moves the value back out, freeing the allocation.
    #[must_use]
    pub fn into_inner(this: Self) -> T {
        let [value] = *this.value;
        value
    }
}

impl<T, A> Deref for PoolBox<T, A> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value[0]
    }
}

impl<T, A> DerefMut for PoolBox<T, A> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value[0]
    }
}

impl<T: fmt::Debug, A> fmt::Debug for PoolBox<T, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A vector with a capacity fixed at construction; `push` past it fails instead of growing.
pub struct PoolVec<T, A> {
    vec: Vec<T>,
    _token: A,
}

impl<T, A> PoolVec<T, A> {
    /// An empty vector with room for `capacity` elements.
    ///
    /// # Errors
    ///
    /// [`AllocError`] if the memory is not available.
    pub fn try_with_capacity(capacity: usize, token: A) -> Result<Self, AllocError> {
        Ok(Self {
            vec: try_vec(capacity)?,
            _token: token,
        })
    }

    /// Appends `value`, or hands it back if the vector is full.
    ///
    /// # Errors
    ///
    /// `Err(value)` when `len() == capacity()`.
    pub fn push(&mut self, value: T) -> Result<(), T> {
        if self.vec.len() == self.vec.capacity() {
            return Err(value);
        }
        self.vec.push(value);
        Ok(())
    }

    /// Removes and returns the last element.
    pub fn pop(&mut self) -> Option<T> {
        self.vec.pop()
    }

    /// Removes element `index` by moving the last element into its place.
    ///
    /// # Panics
    ///
    /// If `index >= len()`, like `Vec::swap_remove`.
    pub fn swap_remove(&mut self, index: usize) -> T {
        self.vec.swap_remove(index)
    }

    /// Keeps the elements for which `keep` returns `true`, in order.
    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.vec.retain(keep);
    }

    /// Shortens the vector to `len` elements (no effect if already shorter).
    pub fn truncate(&mut self, len: usize) {
        self.vec.truncate(len);
    }

    /// Removes every element; the capacity stays.
    pub fn clear(&mut self) {
        self.vec.clear();
    }

    /// The fixed capacity.
    #[must_use]
    pub const fn capacity(&self) -> usize {
        self.vec.capacity()
    }

    /// Whether `push` would fail.
    #[must_use]
    pub const fn is_full(&self) -> bool {
        self.vec.len() == self.vec.capacity()
    }
}

impl<T, A> Deref for PoolVec<T, A> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.vec
    }
}

impl<T, A> DerefMut for PoolVec<T, A> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.vec
    }
}

impl<T: fmt::Debug, A> fmt::Debug for PoolVec<T, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.vec, f)
    }
}

/// A heap slice of fixed length (rings, tables), allocated fallibly and accounted.
pub struct PoolSlice<T, A> {
    slice: Box<[T]>,
    _token: A,
}

impl<T, A> PoolSlice<T, A> {
    /// A slice of `len` elements where element `i` is `init(i)`.
    ///
    /// # Errors
    ///
    /// [`AllocError`] if the memory is not available.
    pub fn try_from_fn(
        len: usize,
        mut init: impl FnMut(usize) -> T,
        token: A,
    ) -> Result<Self, AllocError> {
        let mut vec = try_vec(len)?;
        vec.extend((0..len).map(&mut init));
        // Exactly `len` elements were reserved and pushed, so this does not reallocate.
        Ok(Self {
            slice: vec.into_boxed_slice(),
            _token: token,
        })
    }
}

impl<T, A> Deref for PoolSlice<T, A> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.slice
    }
}

impl<T, A> DerefMut for PoolSlice<T, A> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.slice
    }
}

impl<T: fmt::Debug, A> fmt::Debug for PoolSlice<T, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.slice, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::rc::Rc;

    #[test]
    fn box_round_trips_and_drops_value_once() {
        let counter = Rc::new(());
        let b = PoolBox::try_new(Rc::clone(&counter), ()).unwrap();
        assert_eq!(Rc::strong_count(&counter), 2);
        drop(b);
        assert_eq!(Rc::strong_count(&counter), 1);
        let mut b = PoolBox::try_new(41_u32, ()).unwrap();
        *b += 1;
        assert_eq!(PoolBox::into_inner(b), 42);
    }

    #[test]
    fn box_of_zero_sized_type_works() {
        let b = PoolBox::try_new((), ()).unwrap();
        assert_eq!(*b, ());
    }

    #[test]
    fn huge_vec_reports_alloc_error_instead_of_aborting() {
        assert_eq!(
            PoolVec::<u64, ()>::try_with_capacity(usize::MAX / 4, ()).err(),
            Some(AllocError)
        );
        assert!(PoolSlice::<u64, ()>::try_from_fn(usize::MAX / 4, |_| 0, ()).is_err());
    }

    #[test]
    fn vec_never_grows_past_capacity() {
        let mut v = PoolVec::try_with_capacity(3, ()).unwrap();
        let cap = v.capacity();
        assert!(cap >= 3);
        for i in 0..cap {
            v.push(i).unwrap();
        }
        assert!(v.is_full());
        assert_eq!(v.push(99), Err(99));
        assert_eq!(v.capacity(), cap);
        assert_eq!(v.swap_remove(0), 0);
        v.retain(|&x| x != 1);
        assert!(!v.contains(&1));
        v.truncate(1);
        assert_eq!(v.len(), 1);
        // [0, 1, .., cap-1] -> swap_remove(0) -> [cap-1, 1, ..] -> retain -> truncate -> [cap-1]
        assert_eq!(v.pop(), Some(cap - 1));
    }

    #[test]
    fn slice_is_initialised_by_index() {
        let mut s = PoolSlice::try_from_fn(5, |i| i * 10, ()).unwrap();
        assert_eq!(&*s, &[0, 10, 20, 30, 40]);
        s[4] = 7;
        assert_eq!(s[4], 7);
    }
}
