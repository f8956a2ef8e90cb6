//! Whether NDK is on for one adapter, and the sequencing of its announcements to NDIS
//! (`spec/ndis-miniport.md` §1.8).
//!
//! `OID_NDK_SET_STATE` completes synchronously and only records what is *desired*; a change is
//! announced with `NdisMNetPnPEvent(NetEventNDKEnable/NetEventNDKDisable)` by an NDIS I/O work
//! item (PASSIVE, never inside the OID handler), because a disable blocks until every open
//! `NDK_ADAPTER` is closed. [`NdkState`] is the pure machine: repeated sets while an
//! announcement is queued or running coalesce into one worker that announces until NDIS's view
//! (`announced`) equals the desired state; an enable while NDIS already thinks NDK is enabled
//! (or a disable while disabled) is never sent (NDIS would refuse it with
//! `STATUS_INVALID_DEVICE_STATE`). [`NdkAnnouncer`] puts it behind a platform spin lock with
//! the event halt waits on until no worker is pending.
//!
//! Must never: block anywhere but [`NdkAnnouncer::wait_idle`] (PASSIVE), or queue a second
//! worker while one is pending (an NDIS I/O work item must not be queued twice).
#![deny(unsafe_code)]

use super::config;

/// What NDIS answered to one announcement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnnounceResult {
    /// `NDIS_STATUS_SUCCESS`: NDIS flipped its flag.
    Done,
    /// `STATUS_INVALID_DEVICE_STATE`: NDIS was already in that state (its flag agrees).
    AlreadyInState,
    /// Any other failure: NDIS's flag did not change.
    Failed,
}

/// The worker's life: at most one is queued or running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Worker {
    Idle,
    Pending,
}

/// NDK on/off for one adapter.
///
/// # Invariants
/// `desired` implies `allowed()`. When `worker` is `Idle`, `desired == announced`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NdkState {
    keyword: Option<u32>,
    provider_ready: bool,
    desired: bool,
    announced: bool,
    worker: Worker,
}

impl NdkState {
    /// The state at initialization: enabled iff `*NetworkDirect` allows it (absent = the INF
    /// default, enabled) and the provider can serve opens; this is what the NDK attributes'
    /// `Enabled` reports, so NDIS's view starts equal to it.
    #[must_use]
    pub const fn new(keyword: Option<u32>, provider_ready: bool) -> Self {
        let enabled = config::ndk_enabled(keyword, provider_ready);
        Self {
            keyword,
            provider_ready,
            desired: enabled,
            announced: enabled,
            worker: Worker::Idle,
        }
    }

    /// Whether NDK may be on at all (`*NetworkDirect` and the provider).
    #[must_use]
    pub const fn allowed(&self) -> bool {
        config::ndk_enabled(self.keyword, self.provider_ready)
    }

    /// `OID_NDK_SET_STATE(enable)`. Returns true when the caller must queue the announcement
    /// worker (a change is needed and none is pending).
    pub const fn request(&mut self, enable: bool) -> bool {
        self.desired = enable && self.allowed();
        if self.desired != self.announced && matches!(self.worker, Worker::Idle) {
            self.worker = Worker::Pending;
            true
        } else {
            false
        }
    }

    /// The worker asks what to announce next: `Some(enable)` (NDIS's view is updated *before*
    /// the call: NDIS flips its flag first and forwards the event, and consumers may open an
    /// adapter while an enable is in flight), or `None`, and the worker is idle again.
    pub const fn next_announcement(&mut self) -> Option<bool> {
        if self.desired == self.announced {
            self.worker = Worker::Idle;
            None
        } else {
            self.announced = self.desired;
            Some(self.desired)
        }
    }

    /// The announcement of `enable` returned `result`. On a failure NDIS's view stays the old
    /// one and the request is dropped (desired follows it), so the worker does not retry in a
    /// loop; the next `OID_NDK_SET_STATE` tries again.
    pub const fn announced(&mut self, enable: bool, result: AnnounceResult) {
        if matches!(result, AnnounceResult::Failed) {
            self.announced = !enable;
            self.desired = !enable;
        }
    }

    /// Whether an `OpenNDKAdapterHandler` may succeed now: NDK is desired *and* NDIS has been
    /// told so (opens racing with a pending disable are refused with
    /// `NDIS_STATUS_ADAPTER_NOT_READY`).
    #[must_use]
    pub const fn accepts_opens(&self) -> bool {
        self.desired && self.announced
    }

    /// NDIS's view of the flag, as far as announcements went.
    #[must_use]
    pub const fn announced_enabled(&self) -> bool {
        self.announced
    }

    /// Whether no worker is queued or running.
    #[must_use]
    pub const fn worker_idle(&self) -> bool {
        matches!(self.worker, Worker::Idle)
    }
}

#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
pub use announcer::NdkAnnouncer;

#[cfg(any(feature = "std", all(target_os = "windows", feature = "kernel")))]
mod announcer {
    use super::{AnnounceResult, NdkState};
    use crate::platform::prelude::*;
    use crate::platform::{AllocError, Event, LockLevel, Platform, SpinLock};

    /// Level of the NDK-state lock: taken alone (OID handler, open handler, worker).
    const NDK_STATE_LOCK_LEVEL: LockLevel = LockLevel::new(1);

    /// [`NdkState`] shared by the OID handler, the open handler and the worker, plus the
    /// event halt waits on.
    ///
    /// # Invariants
    /// `idle` is signalled exactly when the state's worker is idle; both change under the lock.
    #[derive(Debug)]
    pub struct NdkAnnouncer {
        state: SpinLock<NdkState>,
        idle: Event,
    }

    impl NdkAnnouncer {
        /// The adapter's NDK state at initialization ([`NdkState::new`]).
        ///
        /// # Errors
        /// [`AllocError`] if the platform event cannot be allocated.
        pub fn try_new(
            platform: &Platform,
            keyword: Option<u32>,
            provider_ready: bool,
        ) -> Result<Self, AllocError> {
            let idle = platform.try_new_event()?;
            idle.signal();
            Ok(Self {
                state: SpinLock::new(NDK_STATE_LOCK_LEVEL, NdkState::new(keyword, provider_ready)),
                idle,
            })
        }

        /// Sets the configuration read during `MiniportInitializeEx` (before NDIS can send any
        /// OID) and returns whether NDK starts enabled (the attributes' `Enabled`).
        pub fn configure(&self, keyword: Option<u32>, provider_ready: bool) -> bool {
            let state = NdkState::new(keyword, provider_ready);
            *self.state.lock() = state;
            state.announced_enabled()
        }

        /// `OID_NDK_SET_STATE`; true when the caller must queue the worker now.
        pub fn request(&self, enable: bool) -> bool {
            let mut state = self.state.lock();
            let queue = state.request(enable);
            if queue {
                self.idle.reset();
            }
            drop(state);
            queue
        }

        /// The worker's next announcement; `None` ends the worker (and signals idle: after
        /// `None` the worker must not touch the adapter again — halt may free it).
        pub fn next_announcement(&self) -> Option<bool> {
            let mut state = self.state.lock();
            let next = state.next_announcement();
            if next.is_none() {
                self.idle.signal();
            }
            drop(state);
            next
        }

        /// Records NDIS's answer to an announcement.
        pub fn announced(&self, enable: bool, result: AnnounceResult) {
            self.state.lock().announced(enable, result);
        }

        /// Whether an NDK open may succeed now.
        #[must_use]
        pub fn accepts_opens(&self) -> bool {
            self.state.lock().accepts_opens()
        }

        /// A copy of the state (OID answers, tests).
        #[must_use]
        pub fn snapshot(&self) -> NdkState {
            *self.state.lock()
        }

        /// Blocks until no worker is pending. PASSIVE only (`MiniportHaltEx`).
        ///
        /// After the event, takes the lock once more: the worker signals under the lock, so
        /// acquiring it proves the worker has released it and will not touch the adapter
        /// again (halt frees it next). A worker queued meanwhile is waited for as well.
        pub fn wait_idle(&self) {
            loop {
                self.idle.wait();
                if self.state.lock().worker_idle() {
                    return;
                }
            }
        }
    }
}

// The announcer tests need the host platform.
#[cfg(all(test, feature = "std"))]
#[path = "ndk_state_tests.rs"]
mod tests;
