//! The processor's IRQL and the debug-build "provider lock held" tracking.
//!
//! IRQL: on x64 the IRQL *is* the task-priority register CR8, and the WDK's
//! `KeGetCurrentIrql()`, `KfRaiseIrql()` and `KzLowerIrql()` are inline functions that read
//! and write CR8 (`__readcr8`/`__writecr8`); ntoskrnl exports no callable `KeGetCurrentIrql` on
//! x64. This module does the same with `asm!`. Lowering CR8 lets any DPC interrupt that became
//! pending while raised fire at once, as with the WDK inline.
//!
//! Lock tracking (debug builds only): one counter per processor of the provider spin locks held
//! on it. A holder is at `DISPATCH_LEVEL`, so it cannot be preempted or migrate between its
//! increment and decrement, and nothing else provider-side runs on that processor meanwhile
//! (the provider never runs above `DISPATCH_LEVEL`); relaxed atomics suffice. Release builds
//! compile none of it: the checks are `NT_ASSERT`-style, and Driver Verifier covers the rest.
//!
//! Must never: lower the IRQL below what the caller entered with, or block.

use core::arch::asm;

use crate::platform::Irql;
use crate::sys::ke::{APC_LEVEL, DISPATCH_LEVEL, KIRQL, PASSIVE_LEVEL};

#[cfg(not(target_arch = "x86_64"))]
compile_error!("the kernel platform reads the IRQL from CR8: x86_64 only");

/// The current processor's IRQL (`KeGetCurrentIrql`).
pub(super) fn raw_irql() -> KIRQL {
    let cr8: u64;
    // SAFETY: reading CR8 is allowed at CPL 0 (the driver always runs there) and has no side
    // effect; it touches no memory and no flags.
    unsafe { asm!("mov {}, cr8", out(reg) cr8, options(nomem, nostack, preserves_flags)) };
    // CR8 holds the IRQL in its low 4 bits; the rest is reserved zero.
    #[allow(clippy::cast_possible_truncation, reason = "masked to 4 bits")]
    let irql = (cr8 & 0xF) as KIRQL;
    irql
}

/// Raises the IRQL to `DISPATCH_LEVEL` if it is lower (`KfRaiseIrql(DISPATCH_LEVEL)`);
/// returns the previous IRQL, to be restored by `KeReleaseSpinLock` or [`lower_irql`].
pub(super) fn raise_to_dispatch() -> KIRQL {
    let old = raw_irql();
    debug_assert!(
        old <= DISPATCH_LEVEL,
        "provider code runs at or below DISPATCH_LEVEL"
    );
    if old < DISPATCH_LEVEL {
        let new = u64::from(DISPATCH_LEVEL);
        // SAFETY: writing CR8 at CPL 0 sets the task priority; raising it only masks
        // interrupts of lower priority (the documented effect of KfRaiseIrql). The caller
        // restores `old` later, on this processor (it cannot migrate at DISPATCH_LEVEL).
        unsafe { asm!("mov cr8, {}", in(reg) new, options(nomem, nostack, preserves_flags)) };
    }
    old
}

/// Lowers the IRQL back to `old` (`KzLowerIrql`), which [`raise_to_dispatch`] returned.
pub(super) fn lower_irql(old: KIRQL) {
    debug_assert!(old <= raw_irql(), "KeLowerIrql must not raise");
    let value = u64::from(old);
    // SAFETY: CPL 0; `old` is the IRQL this processor had before the matching raise, so this
    // restores the caller's state; pending DPC interrupts then fire, as after KzLowerIrql.
    unsafe { asm!("mov cr8, {}", in(reg) value, options(nomem, nostack, preserves_flags)) };
}

/// The contract's [`Irql`] for a raw IRQL. Anything above `DISPATCH_LEVEL` is reported as
/// `Dispatch` (provider code never runs there; debug builds assert it).
pub(super) const fn classify(irql: KIRQL) -> Irql {
    match irql {
        PASSIVE_LEVEL => Irql::Passive,
        APC_LEVEL => Irql::Apc,
        _ => Irql::Dispatch,
    }
}

/// `PlatformOps::current_irql`.
pub(super) fn current_irql() -> Irql {
    let irql = raw_irql();
    debug_assert!(
        irql <= DISPATCH_LEVEL,
        "provider code ran above DISPATCH_LEVEL"
    );
    classify(irql)
}

/// `PlatformOps::assert_can_block` (debug builds): IRQL at most `APC_LEVEL` and no provider
/// spin lock held on this processor. A failure panics, which bug-checks with `'SNDK'`.
pub(super) fn assert_can_block() {
    if cfg!(debug_assertions) {
        assert!(
            raw_irql() <= APC_LEVEL,
            "platform: blocking wait at DISPATCH_LEVEL or above"
        );
        assert_no_provider_lock_held();
    }
}

/// `PlatformOps::assert_no_provider_lock_held` (debug builds).
///
/// Below `DISPATCH_LEVEL` no spin lock can be held (a holder is at `DISPATCH_LEVEL`), and the
/// thread may migrate between reading its processor index and the counter, so only callers
/// at `DISPATCH_LEVEL` are checked against their processor's counter.
pub(super) fn assert_no_provider_lock_held() {
    #[cfg(debug_assertions)]
    if raw_irql() >= DISPATCH_LEVEL {
        assert!(
            held::count() == 0,
            "platform: consumer callback with a provider lock held"
        );
    }
}

/// Debug-build per-processor counters of held provider spin locks.
#[cfg(debug_assertions)]
pub(super) mod held {
    use core::sync::atomic::{AtomicU32, Ordering};

    use crate::sys::ffi::KeGetCurrentProcessorNumberEx;

    /// Processors tracked; Windows supports at most 2048 logical processors. Processors with
    /// a higher index (none today) are simply not checked.
    const TRACKED: usize = 2048;

    static HELD: [AtomicU32; TRACKED] = [const { AtomicU32::new(0) }; TRACKED];

    fn slot() -> Option<&'static AtomicU32> {
        // SAFETY: callable at any IRQL; a null PROCESSOR_NUMBER pointer is allowed and
        // means "index only".
        let index = unsafe { KeGetCurrentProcessorNumberEx(core::ptr::null_mut()) };
        HELD.get(usize::try_from(index).ok()?)
    }

    /// A provider lock was acquired on this processor (caller is at `DISPATCH_LEVEL`).
    pub(in crate::platform::kernel) fn acquired() {
        if let Some(slot) = slot() {
            slot.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A provider lock is about to be released on this processor (still at `DISPATCH_LEVEL`).
    pub(in crate::platform::kernel) fn releasing() {
        if let Some(slot) = slot() {
            let before = slot.fetch_sub(1, Ordering::Relaxed);
            assert!(before > 0, "platform: spin lock released twice");
        }
    }

    /// Provider locks held on this processor; meaningful only at `DISPATCH_LEVEL`, where the
    /// caller cannot migrate between reading its index and the counter.
    pub(in crate::platform::kernel) fn count() -> u32 {
        slot().map_or(0, |slot| slot.load(Ordering::Relaxed))
    }
}
