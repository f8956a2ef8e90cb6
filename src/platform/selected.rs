//! The platform implementation chosen at compile time, under the names the provider core uses.
//!
//! With the `std` feature that is [`super::host`]; on the Windows target with the `kernel`
//! feature and without `std` it is `platform::kernel` (`softndk.sys`). The `const` block below
//! fails the build if the chosen one breaks the contract.

use super::{Irql, PlatformOps, PoolBox, PoolSlice, PoolVec, RegionOps, SpinLockOps};

#[cfg(feature = "std")]
pub use super::host::{Dpc, Event, Host as Platform, Region, SetOnce, SpinLock, SpinLockGuard};
#[cfg(not(feature = "std"))]
pub use super::kernel::{Dpc, Event, Kernel as Platform, Region, SetOnce, SpinLock, SpinLockGuard};

/// A fallible, accounted `Box` from [`PlatformOps::try_box`].
pub type PBox<T> = PoolBox<T, <Platform as PlatformOps>::AllocToken>;
/// A fixed-capacity vector from [`PlatformOps::try_vec_with_capacity`].
pub type PVec<T> = PoolVec<T, <Platform as PlatformOps>::AllocToken>;
/// A fixed-length slice from [`PlatformOps::try_slice`].
pub type PSlice<T> = PoolSlice<T, <Platform as PlatformOps>::AllocToken>;

/// `len` bytes of `region` from byte `offset`: one piece of a composite region
/// (`Region::try_concat`), which holds `region` so the part outlives every use of the composite.
#[derive(Clone, Debug)]
pub struct RegionPart {
    /// The region the bytes belong to.
    pub region: crate::sync::Arc<Region>,
    /// First byte of the piece inside `region`.
    pub offset: usize,
    /// Bytes in the piece.
    pub len: usize,
}

/// The current IRQL ([`PlatformOps::current_irql`]).
#[must_use]
pub fn current_irql() -> Irql {
    <Platform as PlatformOps>::current_irql()
}

/// Panics if the caller may not block ([`PlatformOps::assert_can_block`]).
pub fn assert_can_block() {
    <Platform as PlatformOps>::assert_can_block();
}

/// Panics if a provider lock is held ([`PlatformOps::assert_no_provider_lock_held`]); call it
/// right before invoking any consumer callback.
pub fn assert_no_provider_lock_held() {
    <Platform as PlatformOps>::assert_no_provider_lock_held();
}

/// The selected implementation must honour the whole contract, and keep the properties the
/// provider core may rely on beyond the traits (cloneable `Dpc`s, movable `Event`s).
const _: () = {
    const fn contract<P, L, R>()
    where
        P: PlatformOps<Dpc = Dpc, Event = Event>,
        L: SpinLockOps<u8>,
        R: RegionOps,
    {
    }
    const fn cloneable<T: Clone>() {}
    contract::<Platform, SpinLock<u8>, Region>();
    cloneable::<Dpc>();
};
