//! Executive/kernel constants and kernel object layouts (`wdm.h`) for pool allocation and for
//! the kernel platform's synchronization objects, which embed these objects in pool memory.
//!
//! Sizes are the x64 values; the opaque objects (`KEVENT`, `KDPC`) only need their size and
//! alignment right, because only ntoskrnl reads their fields.

use core::ffi::c_void;

use super::NTSTATUS;

/// `POOL_FLAG_NON_PAGED` for `ExAllocatePool2`: non-paged, non-executable pool.
pub const POOL_FLAG_NON_PAGED: u64 = 0x0000_0000_0000_0040;

/// `DPFLTR_IHVNETWORK_ID` (`dpfilter.h`): the component ID `DbgPrintEx` filters network
/// drivers' output by; one of the six IDs the WDK reserves for third-party drivers.
pub const DPFLTR_IHVNETWORK_ID: u32 = 80;
/// `DPFLTR_ERROR_LEVEL` (`dpfilter.h`): level 0, which the debugger shows without any filter
/// mask set, as a misuse report should be.
pub const DPFLTR_ERROR_LEVEL: u32 = 0;

/// `KIRQL`: the processor's interrupt request level (x64: the low 4 bits of CR8).
pub type KIRQL = u8;
/// `PASSIVE_LEVEL`.
pub const PASSIVE_LEVEL: KIRQL = 0;
/// `APC_LEVEL`.
pub const APC_LEVEL: KIRQL = 1;
/// `DISPATCH_LEVEL`.
pub const DISPATCH_LEVEL: KIRQL = 2;

/// `KSPIN_LOCK` (x64: a `ULONG_PTR`; `KeInitializeSpinLock` stores 0, so a zero word is an
/// initialised, free lock).
pub type KSPIN_LOCK = usize;

/// `KEVENT`: only its size and alignment matter to Rust (x64: 0x18, the dispatcher header).
#[repr(C, align(8))]
pub struct KEVENT {
    _opaque: [u8; 0x18],
}

impl KEVENT {
    /// Storage for a `KEVENT` that `KeInitializeEvent` has not initialised yet.
    #[must_use]
    pub const fn uninit() -> Self {
        Self { _opaque: [0; 0x18] }
    }
}

/// `KDPC`: only its size and alignment matter to Rust (x64: 0x40).
#[repr(C, align(8))]
pub struct KDPC {
    _opaque: [u8; 0x40],
}

impl KDPC {
    /// Storage for a `KDPC` that `KeInitializeDpc` has not initialised yet.
    #[must_use]
    pub const fn uninit() -> Self {
        Self { _opaque: [0; 0x40] }
    }
}

/// `PKDEFERRED_ROUTINE`: a DPC routine, called at `DISPATCH_LEVEL`.
pub type KDEFERRED_ROUTINE = unsafe extern "system" fn(
    Dpc: *mut KDPC,
    DeferredContext: *mut c_void,
    SystemArgument1: *mut c_void,
    SystemArgument2: *mut c_void,
);

/// `EVENT_TYPE::NotificationEvent`: stays signalled until cleared, wakes every waiter.
pub const NOTIFICATION_EVENT: u32 = 0;
/// `KWAIT_REASON::Executive`.
pub const EXECUTIVE: u32 = 0;
/// `KPROCESSOR_MODE::KernelMode`.
pub const KERNEL_MODE: i8 = 0;
/// `IO_NO_INCREMENT`: the priority boost `KeSetEvent` gives a woken waiter.
pub const IO_NO_INCREMENT: i32 = 0;
pub use crate::abi::FALSE;
/// `STATUS_TIMEOUT`: `KeWaitForSingleObject` timed out (a success code, not an error).
pub const STATUS_TIMEOUT: NTSTATUS = super::status(0x0000_0102);

/// `KUSER_SHARED_DATA.InterruptTime` on x64: the WDK's `KeQueryInterruptTime()` is a macro
/// reading this 64-bit field (100 ns units since boot) at its fixed kernel address.
pub const SHARED_INTERRUPT_TIME: usize = 0xFFFF_F780_0000_0008;

/// `PROCESSOR_NUMBER` (for `KeGetCurrentProcessorNumberEx`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PROCESSOR_NUMBER {
    /// Processor group.
    pub Group: u16,
    /// Processor number inside the group.
    pub Number: u8,
    /// Reserved.
    pub Reserved: u8,
}

const _: () = assert!(core::mem::size_of::<KSPIN_LOCK>() == 8);
const _: () = assert!(core::mem::size_of::<KEVENT>() == 0x18);
const _: () = assert!(core::mem::size_of::<KDPC>() == 0x40);
const _: () = assert!(core::mem::size_of::<PROCESSOR_NUMBER>() == 4);

/// The `Timeout` argument of `KeWaitForSingleObject` for a relative wait of `timeout`.
///
/// Negative 100 ns units, rounded up so a wait never ends early, saturated at the largest
/// representable wait. A zero duration is 0 (poll).
#[must_use]
pub const fn relative_timeout(timeout: core::time::Duration) -> i64 {
    let secs = timeout.as_secs();
    let nanos = timeout.subsec_nanos() as u64;
    let Some(from_secs) = secs.checked_mul(10_000_000) else {
        return i64::MIN + 1;
    };
    let Some(units) = from_secs.checked_add(nanos.div_ceil(100)) else {
        return i64::MIN + 1;
    };
    if units > i64::MAX as u64 {
        return i64::MIN + 1;
    }
    #[allow(
        clippy::cast_possible_wrap,
        reason = "checked against i64::MAX just above"
    )]
    let units = units as i64;
    -units
}

/// Interrupt time (100 ns units) in nanoseconds, saturating (after ~58 000 years of uptime).
#[must_use]
pub const fn interrupt_time_nanos(units_100ns: u64) -> u64 {
    units_100ns.saturating_mul(100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn relative_timeouts_are_negative_and_round_up() {
        assert_eq!(relative_timeout(Duration::ZERO), 0);
        assert_eq!(relative_timeout(Duration::from_nanos(1)), -1);
        assert_eq!(relative_timeout(Duration::from_nanos(100)), -1);
        assert_eq!(relative_timeout(Duration::from_nanos(101)), -2);
        assert_eq!(relative_timeout(Duration::from_millis(5)), -50_000);
        assert_eq!(relative_timeout(Duration::from_secs(2)), -20_000_000);
    }

    #[test]
    fn huge_timeouts_saturate_instead_of_wrapping() {
        assert_eq!(relative_timeout(Duration::MAX), i64::MIN + 1);
        let just_too_big = Duration::from_secs(i64::MAX as u64 / 10_000_000 + 1);
        assert_eq!(relative_timeout(just_too_big), i64::MIN + 1);
        assert!(relative_timeout(Duration::from_secs(1 << 40)) < 0);
    }

    #[test]
    fn interrupt_time_scales_to_nanoseconds() {
        assert_eq!(interrupt_time_nanos(0), 0);
        assert_eq!(interrupt_time_nanos(10_000_000), 1_000_000_000);
        assert_eq!(interrupt_time_nanos(u64::MAX), u64::MAX);
    }
}
