//! The driver-wide connection fabric and the NDIS timer that drives its timeouts.
//!
//! `DriverEntry` creates both ([`create`]) after registering the miniport; a failure makes
//! `DriverEntry` fail with `STATUS_INSUFFICIENT_RESOURCES`. Every adapter attaches to the fabric
//! in initialize (`fabric_port::FabricPort`); unload frees both ([`destroy`]) after every
//! adapter has halted.
//!
//! The timer (`NdisAllocateTimerObject`, periodic [`TICK_PERIOD_MS`]) calls `Fabric::tick`, which
//! queues the fabric's timeout scan as its own DPC. It runs only while an `NDK_ADAPTER` is open
//! on any adapter: the open and close handlers report to [`instance_opened`] /
//! [`instance_closed`], which keep a [`TickSchedule`] under a spin lock and arm
//! (`NdisSetTimerObject`) or cancel (`NdisCancelTimerObject`) under that same lock, so racing
//! opens and closes never leave the timer in the wrong state.
//!
//! No race with a running timer function at unload: the function reads only the shared object
//! it was given as context, and [`destroy`] cancels the timer (no new expiry can be queued),
//! then waits with `KeFlushQueuedDpcs` (an NDIS timer function runs as a DPC, so a call that
//! fired before the cancel has returned once the flush does), then frees the timer object,
//! drops the fabric, and flushes again for the fabric's own expiry DPC. A cancel in
//! [`instance_closed`] needs no wait: the fabric outlives it, and a late tick only queues a scan.
//!
//! Must never: tick without a fabric, or free the timer object while it is queued or running.
#![allow(unsafe_code)]

use core::ffi::c_void;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, Ordering};

use crate::cm::ndk::NdkFabric;
use crate::fabric::{Fabric, FabricConfig};
use crate::platform::prelude::*;
use crate::platform::{LockLevel, Platform, SpinLock};
use crate::sync::Arc;
use crate::sys::ffi::{
    NdisAllocateTimerObject, NdisCancelTimerObject, NdisFreeTimerObject, NdisSetTimerObject,
};
use crate::sys::ndis::{
    NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS, NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1,
    NDIS_TIMER_CHARACTERISTICS, NDIS_TIMER_CHARACTERISTICS_REVISION_1,
};
use crate::sys::{NDIS_HANDLE, NDIS_OBJECT_HEADER, NDIS_STATUS_SUCCESS};

use super::tick::{TICK_PERIOD_MS, TickSchedule, TimerAction};

/// Pool tag of the timer object (`SNdT`).
const TIMER_TAG: u32 = u32::from_le_bytes(*b"SNdT");

/// Level of the schedule lock: taken alone, from the NDK open/close handlers.
const SCHEDULE_LOCK_LEVEL: LockLevel = LockLevel::new(3);

/// The fabric and its timer.
struct Shared {
    fabric: NdkFabric,
    timer: NDIS_HANDLE,
}

// SAFETY: `timer` is an NDIS handle NDIS allows to be used from any processor; the fabric is
// `Send + Sync`.
unsafe impl Send for Shared {}
// SAFETY: as above; `Shared` is only read after creation.
unsafe impl Sync for Shared {}

/// The shared object from `Arc::into_raw`; null before [`create`] and after [`destroy`].
static SHARED: AtomicPtr<Shared> = AtomicPtr::new(null_mut());

/// Open `NDK_ADAPTER`s of the whole driver; the timer is armed exactly while non-zero.
static SCHEDULE: SpinLock<TickSchedule> =
    SpinLock::new_static(SCHEDULE_LOCK_LEVEL, TickSchedule::new());

fn shared() -> Option<&'static Shared> {
    let raw = SHARED.load(Ordering::Acquire);
    // SAFETY: non-null only between `create` and `destroy`; every caller (adapter handlers)
    // runs between DriverEntry's success and unload, which NDIS guarantees.
    (!raw.is_null()).then(|| unsafe { &*raw })
}

/// The driver-wide fabric (`None` only outside DriverEntry..unload).
pub(super) fn fabric() -> Option<&'static NdkFabric> {
    shared().map(|s| &s.fabric)
}

/// `NDIS_TIMER_FUNCTION` (DISPATCH): one timeout scan, queued as the fabric's own DPC.
unsafe extern "system" fn on_timer(
    _system1: *mut c_void,
    context: *mut c_void,
    _system2: *mut c_void,
    _system3: *mut c_void,
) {
    // SAFETY: the context is the `Shared` set in `create`; `destroy` cancels the timer and
    // flushes DPCs before freeing it, so it is live while this runs.
    let shared = unsafe { &*context.cast::<Shared>() };
    let _queued = shared.fabric.tick();
}

/// Creates the fabric and the timer. PASSIVE, in `DriverEntry` after registration.
///
/// # Errors
/// `Err(())` when the fabric, its work item or the timer cannot be allocated; nothing is left.
///
/// # Safety
/// `driver_handle` is the handle `NdisMRegisterMiniportDriver` returned; called once.
pub(super) unsafe fn create(driver_handle: NDIS_HANDLE) -> Result<(), ()> {
    let platform = Platform::new();
    let fabric = Fabric::new(platform.clone(), FabricConfig::default()).map_err(|_| ())?;
    let shared = platform
        .try_arc(Shared {
            fabric,
            timer: null_mut(),
        })
        .map_err(|_| ())?;
    let raw = Arc::into_raw(shared).cast_mut();
    let mut characteristics = NDIS_TIMER_CHARACTERISTICS {
        Header: NDIS_OBJECT_HEADER::new(
            NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS,
            NDIS_TIMER_CHARACTERISTICS_REVISION_1,
            NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1,
        ),
        AllocationTag: TIMER_TAG,
        TimerFunction: on_timer,
        FunctionContext: raw.cast(),
    };
    let mut timer: NDIS_HANDLE = null_mut();
    // SAFETY: PASSIVE; the driver handle per the contract; both pointers are live locals NDIS
    // reads/writes only during the call.
    let status =
        unsafe { NdisAllocateTimerObject(driver_handle, &raw mut characteristics, &raw mut timer) };
    if status != NDIS_STATUS_SUCCESS {
        // SAFETY: `raw` came from `Arc::into_raw` above and was never published.
        drop(unsafe { Arc::from_raw(raw) });
        return Err(());
    }
    // SAFETY: not yet published, so this is the only access.
    unsafe { (*raw).timer = timer };
    SHARED.store(raw, Ordering::Release);
    Ok(())
}

/// An `NDK_ADAPTER` opened (open handler, after success): arms the timer for the first one.
pub(super) fn instance_opened() {
    let Some(shared) = shared() else { return };
    let mut schedule = SCHEDULE.lock();
    if schedule.opened() == TimerAction::Arm {
        let period_ms = i32::try_from(TICK_PERIOD_MS).unwrap_or(i32::MAX);
        // Relative due time in 100 ns units (negative = relative).
        let due = -i64::from(period_ms) * 10_000;
        // SAFETY: the timer is allocated (`create`) and not freed before `destroy`;
        // DISPATCH (under the lock) is allowed.
        let _was_queued = unsafe {
            NdisSetTimerObject(
                shared.timer,
                due,
                period_ms,
                core::ptr::from_ref(shared).cast_mut().cast(),
            )
        };
    }
    drop(schedule);
}

/// An `NDK_ADAPTER` closed (close handler, after the close): cancels the timer after the last.
pub(super) fn instance_closed() {
    let Some(shared) = shared() else { return };
    let mut schedule = SCHEDULE.lock();
    if schedule.closed() == TimerAction::Cancel {
        // SAFETY: as in `instance_opened`. A timer function already running finishes on its
        // own; it only queues a scan on the fabric, which outlives it.
        let _was_queued = unsafe { NdisCancelTimerObject(shared.timer) };
    }
    drop(schedule);
}

/// Frees the timer and the fabric. PASSIVE, in unload, after every adapter halted.
///
/// # Safety
/// Called once, after every adapter's halt (so nothing uses the fabric any more).
pub(super) unsafe fn destroy() {
    let raw = SHARED.swap(null_mut(), Ordering::AcqRel);
    if raw.is_null() {
        return;
    }
    let platform = Platform::new();
    // SAFETY: `raw` is the live shared object (only this call frees it).
    let timer = unsafe { (*raw).timer };
    // SAFETY: an allocated timer; PASSIVE.
    let _was_queued = unsafe { NdisCancelTimerObject(timer) };
    // A timer function that fired before the cancel runs as a DPC: wait for it.
    platform.flush();
    // SAFETY: cancelled and not running (flushed above); freed once.
    unsafe { NdisFreeTimerObject(timer) };
    // SAFETY: `raw` came from `Arc::into_raw` in `create`; the timer no longer refers to it.
    drop(unsafe { Arc::from_raw(raw) });
    // The fabric's expiry DPC (queued by a last tick) holds only a `Weak`; let it finish
    // before the image goes.
    platform.flush();
}
