//! Open `NDK_ADAPTER` instances of one miniport adapter, and the wait for none to be left.
//!
//! `OpenNDKAdapterHandler` counts an instance in, `CloseNDKAdapterHandler` counts it out when
//! its close has finished, and `MiniportHaltEx` (PASSIVE) waits until the count is zero before
//! freeing the adapter the instances point into: NDIS expects consumers to have closed every
//! instance before halt, and this turns a consumer that has not into a wait rather than a
//! use-after-free. The count lives under a platform spin lock and the "no instance" state is a
//! platform notification event, so the same code runs on the host (tested) and the kernel.
//!
//! Must never: block anywhere but [`NdkInstances::wait_idle`] (PASSIVE).
#![deny(unsafe_code)]

use crate::platform::prelude::*;
use crate::platform::{AllocError, Event, LockLevel, Platform, SpinLock};

/// Level of the instance-count lock: taken alone, from the open/close handlers.
const INSTANCES_LOCK_LEVEL: LockLevel = LockLevel::new(1);

/// The open-instance count of one adapter.
///
/// # Invariants
/// `idle` is signalled exactly when `open == 0`; both change together under the lock.
#[derive(Debug)]
pub struct NdkInstances {
    open: SpinLock<usize>,
    idle: Event,
}

/// Too many instances, or a close without an open: a driver bug, refused without change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CountError;

impl NdkInstances {
    /// No instance open.
    ///
    /// # Errors
    /// [`AllocError`] if the platform event cannot be allocated.
    pub fn try_new(platform: &Platform) -> Result<Self, AllocError> {
        let idle = platform.try_new_event()?;
        idle.signal();
        Ok(Self {
            open: SpinLock::new(INSTANCES_LOCK_LEVEL, 0),
            idle,
        })
    }

    /// An instance was opened (from `OpenNDKAdapterHandler`, before returning it).
    ///
    /// # Errors
    /// [`CountError`] if the count would overflow.
    pub fn opened(&self) -> Result<(), CountError> {
        let mut open = self.open.lock();
        let next = open.checked_add(1).ok_or(CountError)?;
        if *open == 0 {
            self.idle.reset();
        }
        *open = next;
        drop(open);
        Ok(())
    }

    /// An instance finished closing (from `CloseNDKAdapterHandler`, after its close).
    ///
    /// # Errors
    /// [`CountError`] if no instance was open.
    pub fn closed(&self) -> Result<(), CountError> {
        let mut open = self.open.lock();
        *open = open.checked_sub(1).ok_or(CountError)?;
        if *open == 0 {
            // Under the lock, so a racing `opened` cannot reset before this signal lands.
            self.idle.signal();
        }
        drop(open);
        Ok(())
    }

    /// Instances open now.
    #[must_use]
    pub fn open_count(&self) -> usize {
        *self.open.lock()
    }

    /// Blocks until no instance is open. PASSIVE only (`MiniportHaltEx`).
    pub fn wait_idle(&self) {
        self.idle.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::host::{Host, with_irql};
    use crate::platform::{EventOps, Irql};
    use std::sync::Arc;

    #[test]
    fn idle_tracks_the_count() {
        let p = Host::deterministic();
        let n = NdkInstances::try_new(&p).unwrap();
        assert!(n.idle.is_signaled());
        n.wait_idle();
        n.opened().unwrap();
        n.opened().unwrap();
        assert!(!n.idle.is_signaled());
        assert_eq!(n.open_count(), 2);
        n.closed().unwrap();
        assert!(!n.idle.is_signaled(), "one instance still open");
        n.closed().unwrap();
        assert!(n.idle.is_signaled());
        n.wait_idle();
    }

    #[test]
    fn close_without_open_is_refused_and_changes_nothing() {
        let p = Host::deterministic();
        let n = NdkInstances::try_new(&p).unwrap();
        assert_eq!(n.closed(), Err(CountError));
        assert_eq!(n.open_count(), 0);
        assert!(n.idle.is_signaled());
    }

    #[test]
    fn halt_waits_for_a_close_from_deferred_work() {
        let p = Host::deterministic();
        let n = Arc::new(NdkInstances::try_new(&p).unwrap());
        n.opened().unwrap();
        let closer = Arc::clone(&n);
        // The close arrives later, at DISPATCH, from deferred work; the PASSIVE wait pumps it.
        p.try_defer(move || closer.closed().unwrap()).unwrap();
        n.wait_idle();
        assert_eq!(n.open_count(), 0);
    }

    #[test]
    #[should_panic(expected = "DISPATCH")]
    fn waiting_at_dispatch_is_refused() {
        let p = Host::deterministic();
        let n = NdkInstances::try_new(&p).unwrap();
        with_irql(Irql::Dispatch, || n.wait_idle());
    }
}
