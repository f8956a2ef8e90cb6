//! [`SetOnce`] on the host: `std::sync::OnceLock` under the platform's name.
//!
//! Owns nothing but the mapping onto the standard library's cell; it must keep the same API as
//! the kernel's (`platform::kernel::once`).

/// A value written at most once and then read without a lock or a reference count (the
/// platform contract; see `docs/platform.md`).
#[derive(Debug, Default)]
pub struct SetOnce<T>(std::sync::OnceLock<T>);

impl<T> SetOnce<T> {
    /// An empty cell.
    #[must_use]
    pub const fn new() -> Self {
        Self(std::sync::OnceLock::new())
    }

    /// The value, once [`SetOnce::set`] has returned `Ok` on any thread (and that write is
    /// visible: `Acquire`/`Release` ordering).
    #[must_use]
    pub fn get(&self) -> Option<&T> {
        self.0.get()
    }

    /// Stores `value` if nothing was stored yet.
    ///
    /// # Errors
    ///
    /// `value`, back, if the cell already holds (or is being given) a value.
    pub fn set(&self, value: T) -> Result<(), T> {
        self.0.set(value)
    }
}
