//! The kernel platform (`softndk.sys`): the platform contract on ntoskrnl.
//!
//! | contract | kernel | IRQL |
//! |---|---|---|
//! | `current_irql` | CR8 (the WDK's inline `KeGetCurrentIrql`) | any |
//! | `SpinLock::lock` / guard drop | `KeAcquireSpinLockRaiseToDpc` / `KeReleaseSpinLock(old)` | <= DISPATCH |
//! | `SpinLock::try_lock` | raise to DISPATCH (CR8) + `KeTryToAcquireSpinLockAtDpcLevel` | <= DISPATCH |
//! | `new_dpc` / `Dpc::queue` / `cancel` | pool `KDPC`: `KeInitializeDpc` / `KeInsertQueueDpc` / `KeRemoveQueueDpc` | <= DISPATCH |
//! | `try_defer` | one-shot pool `KDPC` + closure | <= DISPATCH |
//! | `Event` | pool-block `KEVENT`: `KeInitializeEvent`, `KeSetEvent`, `KeClearEvent`, `KeReadStateEvent`, `KeWaitForSingleObject` | wait: <= APC |
//! | allocation | global allocator = `ExAllocatePool2(POOL_FLAG_NON_PAGED, .., 'SNdk')`; `try_*` never abort | <= DISPATCH |
//! | `Region` | MDL chain + `MmGetSystemAddressForMdlSafe` | <= DISPATCH |
//! | `now` | `KeQueryInterruptTime` (shared user data) × 100 | any |
//! | `debug_print` | `DbgPrintEx(DPFLTR_IHVNETWORK_ID, DPFLTR_ERROR_LEVEL, "%s\n", line)` | <= DIRQL |
//! | `debug_break` | `DbgBreakPoint()` only if `KD_DEBUGGER_NOT_PRESENT` (the `KdDebuggerNotPresent` data export) reads FALSE | any |
//! | `assert_*` | debug builds: IRQL checks and a per-processor held-lock count; panic = bug check | any |
//!
//! Owns every `unsafe` touch of ntoskrnl's synchronisation, DPC and memory-manager objects and
//! of its debugger log; everything above it is safe code. Must never: block at `DISPATCH_LEVEL`, allocate on a path
//! the contract says cannot fail (`Dpc::queue`, `Event` operations), or be compiled into host builds.
#![allow(unsafe_code)]

mod cpu;
mod dpc;
mod event;
mod lock;
mod once;
mod region;

use core::panic::Location;

pub use dpc::Dpc;
pub use event::Event;
pub use lock::{SpinLock, SpinLockGuard};
pub use once::SetOnce;
pub use region::{MAX_MDL_CHAIN, MdlRegionError, Region};

use super::{AllocError, DebugLine, DeferredWork, Irql, PlatformOps, Timestamp};
use crate::sys::ffi::{DbgBreakPoint, DbgPrintEx, KdDebuggerNotPresent, KeFlushQueuedDpcs};
use crate::sys::ke::{
    DPFLTR_ERROR_LEVEL, DPFLTR_IHVNETWORK_ID, SHARED_INTERRUPT_TIME, interrupt_time_nanos,
};

/// The kernel platform instance.
///
/// Stateless: the kernel's DPC queues, pool and clock are global, so every adapter's copy is
/// the same. `Clone` but deliberately not `Copy`: the provider core is written against
/// platforms that are cloned (the host's carries state).
#[derive(Clone, Debug, Default)]
pub struct Kernel;

impl Kernel {
    /// The platform.
    #[must_use]
    pub const fn new() -> Self {
        Self
    }

    /// Waits until every DPC queued so far (on any processor) has run: `KeFlushQueuedDpcs`.
    /// Call at PASSIVE before freeing anything deferred work may still touch, and before the
    /// image unloads.
    pub fn flush(&self) {
        cpu::assert_can_block();
        // SAFETY: PASSIVE_LEVEL (asserted in debug builds; the caller's contract).
        unsafe { KeFlushQueuedDpcs() };
    }
}

/// `KeQueryInterruptTime()`: 100 ns units since boot, read as the WDK's x64 macro does.
fn interrupt_time() -> u64 {
    let field = SHARED_INTERRUPT_TIME as *const u64;
    // SAFETY: KUSER_SHARED_DATA is mapped read-only at this fixed address in every kernel
    // address space at every IRQL; the field is 8-byte aligned, and an aligned 64-bit load is
    // atomic on x64, which is what makes the WDK macro correct too.
    unsafe { field.read_volatile() }
}

impl PlatformOps for Kernel {
    type Dpc = Dpc;
    type Event = Event;
    type AllocToken = ();

    fn current_irql() -> Irql {
        cpu::current_irql()
    }

    fn assert_can_block() {
        cpu::assert_can_block();
    }

    fn assert_no_provider_lock_held() {
        cpu::assert_no_provider_lock_held();
    }

    fn now(&self) -> Timestamp {
        Timestamp::from_nanos(interrupt_time_nanos(interrupt_time()))
    }

    /// `DbgPrintEx` with the line as the argument of a fixed `"%s\n"`: a `%` in the text is
    /// printed, not interpreted, and the 256-byte line stays under the 512 bytes one call
    /// transmits. Nothing is allocated; the debugger drops the line if its filter says so.
    fn debug_print(&self, line: &DebugLine) {
        // SAFETY: the format is a static NUL-terminated string with exactly one conversion,
        // `%s`, matched by one argument: `line.as_c_str()`, a NUL-terminated buffer that lives
        // on the caller's stack for the whole call (`DebugLine`'s invariant: one terminator,
        // no interior NUL). No Unicode conversion is used, so the call is allowed at every
        // IRQL up to DIRQL, and the provider calls it at most at DISPATCH_LEVEL; the component
        // ID is one reserved for third-party drivers.
        unsafe {
            DbgPrintEx(
                DPFLTR_IHVNETWORK_ID,
                DPFLTR_ERROR_LEVEL,
                c"%s\n".as_ptr(),
                line.as_c_str().as_ptr(),
            )
        };
    }

    /// Breaks only while a kernel debugger is attached: an unhandled breakpoint bug-checks the
    /// machine, so the break is guarded by `KD_DEBUGGER_NOT_PRESENT`, read from the
    /// `KdDebuggerNotPresent` export (a byte load: any IRQL, no lock, nothing to wait for).
    ///
    /// Not `KdRefreshDebuggerNotPresent()`: its documentation states no IRQL, and it enters the
    /// debugger (freezing every processor) to ask the transport, while reports are made at
    /// `DISPATCH_LEVEL`. The variable may be stale right after a debugger attaches or
    /// detaches; stale "present" only happens with kernel debugging enabled at boot, where
    /// the kernel debugger handles the breakpoint (waiting for a debugger) instead of
    /// bug-checking; with debugging not enabled it is always TRUE (documented), so this
    /// never breaks there. The `DbgPrintEx` of the same report, just before, already went
    /// through the debugger transport, which refreshes the value as a side effect.
    fn debug_break(&self) {
        // SAFETY: `KdDebuggerNotPresent` is ntoskrnl's exported BOOLEAN, resident for the
        // system's lifetime in nonpaged kernel data and imported by address (`raw-dylib`
        // statics go through the import slot), so the pointer is valid and aligned; the
        // kernel changes it behind our back, hence a volatile one-byte read, never a
        // reference held across time.
        let not_present = unsafe { core::ptr::read_volatile(&raw const KdDebuggerNotPresent) };
        if not_present == 0 {
            // SAFETY: a debugger is attached (checked just above), so the breakpoint
            // exception is taken by the kernel debugger and execution resumes here when the
            // developer continues; `DbgBreakPoint` has no parameters, touches no caller
            // memory and, per the contract of `debug_break`, is called with no provider lock
            // held.
            unsafe { DbgBreakPoint() };
        }
    }

    /// Always admits: the kernel has no fault plan of its own (Driver Verifier's low-resources
    /// simulation makes real allocations fail instead).
    fn alloc_gate(&self, _site: &'static Location<'static>) -> Result<(), AllocError> {
        Ok(())
    }

    fn new_dpc<W: DeferredWork>(&self, work: W) -> Result<Dpc, AllocError> {
        Dpc::new(work)
    }

    fn try_defer<F: FnOnce() + Send + 'static>(&self, f: F) -> Result<(), AllocError> {
        dpc::defer(f)
    }

    fn try_new_event(&self) -> Result<Event, AllocError> {
        Event::new()
    }
}
