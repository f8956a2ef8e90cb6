//! One pass of the receive-indication DPC, as pure logic over the adapter's run gate
//! ([`AdapterRun`]) and receive slots ([`RxSlots`]); `datapath` supplies the NDIS call.
//!
//! The pass takes its own unit of the gate *before* it looks at the run state, and keeps it
//! until the indication call has returned. Together with `MiniportPause` (which moves the
//! state to Pausing and then counts units, both sequentially consistent) this gives:
//! - once the pause has moved the state, no pass is admitted: its ready frames are dropped;
//! - a pass admitted just before holds a unit, so the pause returns `PENDING`; it completes
//!   only after that pass's NDIS call has returned *and* NDIS has returned every NBL it
//!   indicated — even when a protocol returns them inside the call (the pass's own unit keeps
//!   the count above zero until the call is over);
//! - whoever releases the last unit (a send, a return, or this pass) completes the pause,
//!   exactly once; nothing polls.
//!
//! Owns: the order take-unit → check state → drain → indicate or drop → release.
//! Must never: call NDIS itself, wait, or touch the adapter after a [`Leave::CompletePause`]
//! (halt may follow at once) — counters are updated through the callbacks, before the
//! release.
#![deny(unsafe_code)]

use super::hub::{RxSlots, SlotSet};
use super::state::{AdapterRun, Leave};

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassOutcome {
    /// Frames handed to the `indicate` callback (each keeps its unit until NDIS returns it).
    pub indicated: usize,
    /// Frames dropped because the adapter was not running (their slots are free again).
    pub dropped: usize,
}

/// Runs one indication pass.
///
/// `indicate` gets the ready slots (non-empty, ascending) when the adapter is running; it makes
/// the `NdisMIndicateReceiveNetBufferLists` call. `on_drop` gets the number of frames dropped
/// because it is not (for the discard counters). Each is called at most once, before the
/// pass releases its unit. The returned [`Leave`] is that release: on
/// [`Leave::CompletePause`] the caller calls `NdisMPauseComplete` and touches the adapter no
/// more.
pub fn indicate_ready(
    run: &AdapterRun,
    slots: &RxSlots,
    on_drop: impl FnOnce(usize),
    indicate: impl FnOnce(SlotSet),
) -> (PassOutcome, Leave) {
    let admitted = run.begin_indication();
    let ready = slots.drain();
    let count = ready.len();
    if count == 0 {
        return (PassOutcome::default(), run.end_indication());
    }
    if admitted {
        indicate(ready);
        let outcome = PassOutcome {
            indicated: count,
            dropped: 0,
        };
        return (outcome, run.end_indication());
    }
    for slot in ready {
        // Drained slots are owned by this pass; giving one back cannot fail.
        let _ = slots.give(slot);
    }
    on_drop(count);
    let outcome = PassOutcome {
        indicated: 0,
        dropped: count,
    };
    // The dropped frames' units and the pass's own, in one release.
    (outcome, run.leave(count + 1))
}

#[cfg(all(test, feature = "std"))]
#[path = "rx_indicate_tests.rs"]
mod tests;
