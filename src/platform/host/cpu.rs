//! The modelled processor state of the current thread: IRQL, held provider locks, and the
//! inline-mode DPC list delivered when the IRQL drops below DISPATCH.
//!
//! A spin lock raises the real kernel's IRQL to DISPATCH, and a processor at DISPATCH neither
//! migrates nor is preempted, so "per thread" here means "per processor" there. This module
//! owns that state and the checks built on it; it never blocks.

use core::cell::{Cell, RefCell};
use std::collections::VecDeque;

use super::sched::Item;
use crate::platform::{Irql, LockLevel};

/// Deepest lock nesting the model tracks; deeper nesting is a provider bug.
const MAX_HELD: usize = 16;

/// Message of the panic raised by [`assert_can_block`]; tests match on it.
pub const BLOCKING_AT_DISPATCH: &str = "platform: blocking wait at DISPATCH_LEVEL";
/// Message of the panic raised by [`assert_no_provider_lock_held`].
pub const CALLBACK_WITH_LOCK_HELD: &str = "platform: consumer callback with a provider lock held";
/// Message of the panic raised on a lock-order violation.
pub const LOCK_ORDER_VIOLATION: &str = "platform: spin lock acquired out of lock order";

struct CpuState {
    irql: Cell<Irql>,
    held: [Cell<u8>; MAX_HELD],
    depth: Cell<usize>,
    /// Inline-mode deferred items waiting for the IRQL to drop below DISPATCH.
    inline: RefCell<VecDeque<Item>>,
    draining: Cell<bool>,
}

std::thread_local! {
    static CPU: CpuState = const {
        CpuState {
            irql: Cell::new(Irql::Passive),
            held: [const { Cell::new(0) }; MAX_HELD],
            depth: Cell::new(0),
            inline: RefCell::new(VecDeque::new()),
            draining: Cell::new(false),
        }
    };
}

/// The current thread's modelled IRQL (threads start at [`Irql::Passive`]; worker threads run
/// at [`Irql::Dispatch`]).
#[must_use]
pub fn current_irql() -> Irql {
    CPU.with(|c| c.irql.get())
}

/// Number of provider spin locks the current thread holds.
#[must_use]
pub fn held_lock_count() -> usize {
    CPU.with(|c| c.depth.get())
}

/// Panics with [`BLOCKING_AT_DISPATCH`] if the current thread may not block.
///
/// # Panics
///
/// At [`Irql::Dispatch`] (which includes holding any provider spin lock).
pub fn assert_can_block() {
    let irql = current_irql();
    assert!(
        irql < Irql::Dispatch && held_lock_count() == 0,
        "{BLOCKING_AT_DISPATCH} (irql {irql:?}, {} provider locks held)",
        held_lock_count()
    );
}

/// Panics with [`CALLBACK_WITH_LOCK_HELD`] if the current thread holds a provider spin lock.
///
/// # Panics
///
/// When a provider lock is held.
pub fn assert_no_provider_lock_held() {
    let held = held_lock_count();
    assert!(held == 0, "{CALLBACK_WITH_LOCK_HELD} ({held} held)");
}

/// Runs `f` with the current thread's IRQL set to `irql`, then restores it.
///
/// This is how tests play a consumer calling the provider at DISPATCH (e.g. from its own DPC or
/// under its own lock). Lowering below DISPATCH on exit delivers pending inline-mode deferred
/// work, like the kernel.
///
/// # Panics
///
/// If a provider lock is held: the consumer never runs inside the provider's locks.
pub fn with_irql<R>(irql: Irql, f: impl FnOnce() -> R) -> R {
    assert_no_provider_lock_held();
    let _restore = IrqlRestore(set_irql(irql));
    f()
}

/// Restores an IRQL on drop (also when unwinding).
struct IrqlRestore(Irql);

impl Drop for IrqlRestore {
    fn drop(&mut self) {
        lower_irql(self.0);
    }
}

/// Sets the IRQL, returning the previous one. Does not deliver inline work.
pub(super) fn set_irql(irql: Irql) -> Irql {
    CPU.with(|c| c.irql.replace(irql))
}

/// Sets the IRQL back to `old` (after a raise) and, if that is below DISPATCH with no lock
/// held, delivers the inline-mode work queued meanwhile.
pub(super) fn lower_irql(old: Irql) {
    set_irql(old);
    if old < Irql::Dispatch && held_lock_count() == 0 {
        drain_inline();
    }
}

/// Records the acquisition of a lock at `level`; returns its slot for [`release_lock`].
///
/// # Panics
///
/// With [`LOCK_ORDER_VIOLATION`] if `check_order` and a held lock's level is not below `level`;
/// when nesting exceeds the model's depth.
pub(super) fn acquire_lock(level: LockLevel, check_order: bool) -> usize {
    CPU.with(|c| {
        let depth = c.depth.get();
        if check_order {
            let highest = c.held[..depth].iter().map(Cell::get).max();
            if let Some(highest) = highest.filter(|&h| h >= level.get()) {
                panic!(
                    "{LOCK_ORDER_VIOLATION}: level {} requested while holding level {highest}",
                    level.get()
                );
            }
        }
        assert!(
            depth < MAX_HELD,
            "platform: more than {MAX_HELD} nested spin locks"
        );
        c.held[depth].set(level.get());
        c.depth.set(depth + 1);
        depth
    })
}

/// Records the release of the lock in `slot`.
///
/// # Panics
///
/// If locks are released out of acquisition order (each guard restores the IRQL it saw, so an
/// out-of-order release would drop the IRQL while a lock is still held), unless unwinding.
pub(super) fn release_lock(slot: usize) {
    CPU.with(|c| {
        let depth = c.depth.get();
        c.depth.set(depth.saturating_sub(1));
        assert!(
            slot + 1 == depth || std::thread::panicking(),
            "platform: spin lock released out of order (slot {slot}, depth {depth})"
        );
    });
}

/// Whether inline work queued now may run before the queueing call returns.
fn can_run_inline_now() -> bool {
    CPU.with(|c| c.irql.get() < Irql::Dispatch && c.depth.get() == 0 && !c.draining.get())
}

/// Appends inline-mode work for this processor and runs it at once if the IRQL allows;
/// otherwise it runs when the IRQL next drops below DISPATCH.
pub(super) fn queue_inline(item: Item) {
    CPU.with(|c| c.inline.borrow_mut().push_back(item));
    if can_run_inline_now() {
        drain_inline();
    }
}

/// Removes the inline item matching `pred` from this thread's list, if present.
pub(super) fn cancel_inline(pred: impl Fn(&Item) -> bool) -> Option<Item> {
    CPU.with(|c| {
        let mut list = c.inline.borrow_mut();
        let pos = list.iter().position(pred)?;
        list.remove(pos)
    })
}

/// Clears the draining flag even if an item panics.
struct DrainingGuard;

impl Drop for DrainingGuard {
    fn drop(&mut self) {
        CPU.with(|c| c.draining.set(false));
    }
}

/// Runs this thread's pending inline items in FIFO order, including items they queue.
fn drain_inline() {
    if CPU.with(|c| c.draining.replace(true)) {
        return;
    }
    let _guard = DrainingGuard;
    while let Some(item) = CPU.with(|c| c.inline.borrow_mut().pop_front()) {
        item.dequeued_inline();
        run_at_dispatch(item);
    }
}

/// Runs one deferred item the way a DPC runs: at DISPATCH, no provider lock held, and checks
/// that it returns the processor in that state.
///
/// # Panics
///
/// If called with a provider lock held, or if the item leaks a lock or changes the IRQL.
pub(super) fn run_at_dispatch(item: Item) {
    assert_no_provider_lock_held();
    let old = set_irql(Irql::Dispatch);
    item.run();
    assert!(
        held_lock_count() == 0,
        "platform: deferred work returned holding a provider lock"
    );
    assert!(
        current_irql() == Irql::Dispatch,
        "platform: deferred work returned at a different IRQL"
    );
    // Items drained by `drain_inline` must not re-enter it; it loops instead.
    set_irql(old);
    if old < Irql::Dispatch && !CPU.with(|c| c.draining.get()) {
        drain_inline();
    }
}

/// Marks the current thread as a DPC worker: it runs at DISPATCH from now on.
pub(super) fn become_worker() {
    set_irql(Irql::Dispatch);
}
