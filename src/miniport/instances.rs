//! The open `NDK_ADAPTER` instances of one miniport adapter, their statistics, and the wait for
//! none to be left.
//!
//! `OpenNDKAdapterHandler` registers each instance it opened ([`NdkInstances::opened`]),
//! `CloseNDKAdapterHandler` marks it closing ([`NdkInstances::begin_close`]), closes it and then
//! unregisters it ([`NdkInstances::closed`]); `MiniportHaltEx` (PASSIVE) waits until none is
//! left before freeing the adapter the instances point into. NDIS expects consumers to have
//! closed every instance before halt; this turns a consumer that has not into a wait rather
//! than a use-after-free.
//!
//! The registry also answers `OID_NDK_STATISTICS`: the sum of every open instance's provider
//! statistics plus what closed instances counted ([`NdkInstances::stats`]), so the counters
//! never go backwards when a consumer closes. Each entry holds an `Arc` of the provider's
//! adapter object, which keeps its memory (and its counters) readable until it is unregistered,
//! after its close has finished. (The list OIDs come from the fabric: `fabric_port`.) The list lives under a platform spin lock and the "no
//! instance" state is a platform notification event, so the same code runs on the host
//! (tested) and the kernel.
//!
//! Must never: block anywhere but [`NdkInstances::wait_idle`] (PASSIVE), or drop a provider
//! adapter under its lock.
#![deny(unsafe_code)]

use alloc::vec::Vec;

use crate::abi::NDK_ADAPTER;
use crate::platform::prelude::*;
use crate::platform::{AllocError, Event, LockLevel, Platform, SpinLock};
use crate::sync::{Arc, AtomicU64, Ordering};
use crate::verbs::{self, StatsSnapshot};

/// Level of the instance-registry lock: taken alone, from the open/close handlers and OIDs.
const INSTANCES_LOCK_LEVEL: LockLevel = LockLevel::new(1);

/// One open instance.
struct Entry {
    adapter: Arc<verbs::Adapter>,
    /// Its close has begun (a second close of the same pointer is ignored).
    closing: bool,
}

struct Registry {
    open: Vec<Entry>,
    /// The statistics of instances that have closed.
    retired: StatsSnapshot,
}

impl Registry {
    fn position(&self, ndk: *mut NDK_ADAPTER) -> Option<usize> {
        self.open
            .iter()
            .position(|e| core::ptr::eq(e.adapter.ndk(), ndk))
    }
}

/// The open `NDK_ADAPTER` instances of one adapter.
///
/// # Invariants
/// `idle` is signalled only while `registry.open` is empty: the open that makes it non-empty
/// resets it under the lock, and the close that empties it signals it (under the lock, after
/// releasing the provider object). [`Self::wait_idle`] re-checks the list, so the short
/// window between the two steps of a close is never mistaken for idle.
pub struct NdkInstances {
    registry: SpinLock<Registry>,
    idle: Event,
    /// Opens so far (mixed into each instance's token secret).
    opens: AtomicU64,
}

impl core::fmt::Debug for NdkInstances {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NdkInstances")
            .field("open", &self.open_count())
            .finish_non_exhaustive()
    }
}

/// An instance the registry does not know, or one already closing: a driver or NDIS bug,
/// refused without change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownInstance;

impl NdkInstances {
    /// No instance open.
    ///
    /// # Errors
    /// [`AllocError`] if the platform event cannot be allocated.
    pub fn try_new(platform: &Platform) -> Result<Self, AllocError> {
        let idle = platform.try_new_event()?;
        idle.signal();
        Ok(Self {
            registry: SpinLock::new(
                INSTANCES_LOCK_LEVEL,
                Registry {
                    open: Vec::new(),
                    retired: StatsSnapshot::default(),
                },
            ),
            idle,
            opens: AtomicU64::new(0),
        })
    }

    /// A fresh number for the next open (never repeats on one adapter).
    pub fn next_open_number(&self) -> u64 {
        self.opens.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers an instance just opened (from `OpenNDKAdapterHandler`, before returning it).
    ///
    /// # Errors
    /// [`AllocError`] if the list cannot grow; nothing is registered and the caller must close
    /// the instance and refuse the open.
    pub fn opened(&self, adapter: Arc<verbs::Adapter>) -> Result<(), AllocError> {
        let mut registry = self.registry.lock();
        // Non-paged pool may be allocated at DISPATCH_LEVEL; the list grows rarely (one
        // entry per concurrently open instance).
        if registry.open.try_reserve(1).is_err() {
            drop(registry);
            return Err(AllocError);
        }
        if registry.open.is_empty() {
            self.idle.reset();
        }
        registry.open.push(Entry {
            adapter,
            closing: false,
        });
        drop(registry);
        Ok(())
    }

    /// Marks `ndk` closing before `CloseNDKAdapterHandler` closes it. True when it is a
    /// registered instance not already closing: only then may the caller close it.
    pub fn begin_close(&self, ndk: *mut NDK_ADAPTER) -> bool {
        let mut registry = self.registry.lock();
        let Some(at) = registry.position(ndk) else {
            return false;
        };
        let entry = &mut registry.open[at];
        let first = !entry.closing;
        entry.closing = true;
        drop(registry);
        first
    }

    /// Unregisters `ndk` after its close has finished: its statistics are kept, its `Arc` is
    /// released (outside the lock), and halt may proceed if it was the last one.
    ///
    /// # Errors
    /// [`UnknownInstance`] if `ndk` is not registered or [`Self::begin_close`] was not called.
    pub fn closed(&self, ndk: *mut NDK_ADAPTER) -> Result<(), UnknownInstance> {
        let mut registry = self.registry.lock();
        let Some(at) = registry
            .position(ndk)
            .filter(|&at| registry.open[at].closing)
        else {
            return Err(UnknownInstance);
        };
        let entry = registry.open.swap_remove(at);
        registry.retired = registry.retired.plus(entry.adapter.stats().retired());
        let last = registry.open.is_empty();
        drop(registry);
        // The provider object is freed here, outside the lock and before halt can proceed.
        drop(entry);
        if last {
            // Signalled under the lock, so a racing `opened` cannot reset before this signal
            // lands; `wait_idle` takes the lock again before it returns, so halt cannot free
            // the lock while this release is still running.
            let registry = self.registry.lock();
            if registry.open.is_empty() {
                self.idle.signal();
            }
            drop(registry);
        }
        Ok(())
    }

    /// Instances open (or closing) now.
    #[must_use]
    pub fn open_count(&self) -> usize {
        self.registry.lock().open.len()
    }

    /// `OID_NDK_STATISTICS`: closed instances' counts plus every open instance's current
    /// ones. Any IRQL up to `DISPATCH_LEVEL`; no allocation.
    #[must_use]
    pub fn stats(&self) -> StatsSnapshot {
        let registry = self.registry.lock();
        let total = registry
            .open
            .iter()
            .fold(registry.retired, |sum, e| sum.plus(e.adapter.stats()));
        drop(registry);
        total
    }

    /// Blocks until no instance is open. PASSIVE only (`MiniportHaltEx`).
    ///
    /// After the event, takes the lock once more: the closer that signalled did so under the
    /// lock, so acquiring it proves that closer has released it and will not touch this
    /// object again (halt frees it next).
    pub fn wait_idle(&self) {
        loop {
            self.idle.wait();
            if self.registry.lock().open.is_empty() {
                return;
            }
        }
    }
}
