//! The adapter run state (`spec/ndis-miniport.md` §2.4) as an explicit state machine, and
//! the gate that lets a pause finish exactly once while sends and receives race with it.
//!
//! The gate counts *units* of outstanding data-path work: a send between entering the send
//! handler and completing its NBLs; a frame another adapter is copying into this adapter
//! (a delivery); a receive buffer from then until NDIS returns it (filled, waiting for the
//! indication DPC, or indicated); and an indication pass of the DPC from before it checks the
//! state until its `NdisMIndicateReceiveNetBufferLists` call has returned
//! (`super::rx_indicate`). A pause completes when the count is zero, without timers or
//! polling: whoever removes the last unit while Pausing reports the pause complete.
//!
//! Owns: which NDIS-driven transitions are legal, whether data-path work may start, and who
//! (the pause handler or the party leaving last) reports the pause as complete.
//! Must never: wait, sleep or spin — sends call it at `DISPATCH_LEVEL`.
#![deny(unsafe_code)]

use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// Where an adapter is in its NDIS life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RunState {
    /// Inside `MiniportInitializeEx`.
    Initializing = 0,
    /// Initialized or paused: no sends, no receive indications.
    Paused = 1,
    /// Inside `MiniportRestart`.
    Restarting = 2,
    /// Sends and receives flow.
    Running = 3,
    /// `MiniportPause` ran; in-flight sends are draining.
    Pausing = 4,
    /// Inside `MiniportHaltEx`; the adapter is being freed.
    Halting = 5,
}

/// An event that moves the run state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// `MiniportInitializeEx` is about to return success.
    InitializeComplete,
    /// `MiniportRestart` was called.
    RestartBegin,
    /// The restart finished.
    RestartComplete,
    /// The restart failed; NDIS considers the adapter paused.
    RestartFailed,
    /// `MiniportPause` was called.
    PauseBegin,
    /// Every in-flight send has completed.
    PauseComplete,
    /// `MiniportHaltEx` was called.
    HaltBegin,
}

/// A transition that is not legal from the current state (an NDIS contract violation or a
/// driver bug); the state is left unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidTransition {
    /// State the adapter was in.
    pub from: RunState,
    /// Transition that was refused.
    pub transition: Transition,
}

impl RunState {
    /// The state after `transition`, or why it is refused.
    ///
    /// # Errors
    /// [`InvalidTransition`] when NDIS's state diagram has no such edge.
    pub const fn next(self, transition: Transition) -> Result<Self, InvalidTransition> {
        match (self, transition) {
            (Self::Initializing, Transition::InitializeComplete)
            | (Self::Restarting, Transition::RestartFailed)
            | (Self::Pausing, Transition::PauseComplete) => Ok(Self::Paused),
            (Self::Paused, Transition::RestartBegin) => Ok(Self::Restarting),
            (Self::Restarting, Transition::RestartComplete) => Ok(Self::Running),
            (Self::Running, Transition::PauseBegin) => Ok(Self::Pausing),
            (Self::Paused, Transition::HaltBegin) => Ok(Self::Halting),
            (from, transition) => Err(InvalidTransition { from, transition }),
        }
    }

    const fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Initializing,
            1 => Self::Paused,
            2 => Self::Restarting,
            3 => Self::Running,
            4 => Self::Pausing,
            _ => Self::Halting,
        }
    }
}

/// What `MiniportPause` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PauseOutcome {
    /// No send was in flight: return `NDIS_STATUS_SUCCESS`.
    Completed,
    /// Sends are in flight: return `NDIS_STATUS_PENDING`; the last one to finish gets
    /// [`Leave::CompletePause`] and calls `NdisMPauseComplete`.
    Pending,
}

/// What a party leaving the gate must do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leave {
    /// Nothing.
    Nothing,
    /// The units just released were the last a pending pause waited for: call
    /// `NdisMPauseComplete`, and touch the adapter no more (halt may follow at once).
    CompletePause,
}

/// Run state plus the count of outstanding data-path units, shared by every handler of one
/// adapter.
///
/// # Invariants
/// `in_flight` counts units: sends between [`AdapterRun::begin_send`] and
/// [`AdapterRun::end_send`], and deliveries from [`AdapterRun::begin_delivery`] until their
/// receive buffer is released with [`AdapterRun::leave`]. The `Pausing -> Paused` edge is taken
/// exactly once, by whichever of the pause handler and the last leaver wins the
/// compare-exchange; that party alone reports completion.
#[derive(Debug)]
pub struct AdapterRun {
    state: AtomicU8,
    in_flight: AtomicUsize,
}

impl Default for AdapterRun {
    fn default() -> Self {
        Self::new()
    }
}

impl AdapterRun {
    /// A new adapter, [`RunState::Initializing`], nothing in flight.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            state: AtomicU8::new(RunState::Initializing as u8),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// Current state.
    #[must_use]
    pub fn state(&self) -> RunState {
        RunState::from_u8(self.state.load(Ordering::SeqCst))
    }

    /// Applies a transition atomically.
    ///
    /// # Errors
    /// [`InvalidTransition`] when the current state has no such edge; nothing changes.
    pub fn apply(&self, transition: Transition) -> Result<RunState, InvalidTransition> {
        let mut current = self.state();
        loop {
            let next = current.next(transition)?;
            match self.state.compare_exchange(
                current as u8,
                next as u8,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return Ok(next),
                Err(seen) => current = RunState::from_u8(seen),
            }
        }
    }

    /// `MiniportPause`: stop accepting sends and deliveries and say whether the pause is
    /// already complete.
    ///
    /// # Errors
    /// [`InvalidTransition`] unless the adapter is running.
    pub fn pause(&self) -> Result<PauseOutcome, InvalidTransition> {
        self.apply(Transition::PauseBegin)?;
        // SeqCst pairs with `enter`: either that party sees `Pausing` and refuses, or this
        // load sees its increment and leaves completion to its `leave`.
        if self.in_flight.load(Ordering::SeqCst) == 0 && self.finish_pause() {
            Ok(PauseOutcome::Completed)
        } else {
            Ok(PauseOutcome::Pending)
        }
    }

    /// Enters a send. Returns true when the adapter is running and the send may be carried
    /// out; false when it must be completed with `NDIS_STATUS_PAUSED`. Either way the caller
    /// must call [`Self::end_send`] after completing the NBLs.
    #[must_use]
    pub fn begin_send(&self) -> bool {
        self.enter()
    }

    /// Leaves a send entered with [`Self::begin_send`].
    #[must_use]
    pub fn end_send(&self) -> Leave {
        self.leave(1)
    }

    /// Takes one unit for a frame another adapter is about to copy into this one. True when
    /// the adapter is running and the frame may be delivered; the unit then stays until the
    /// frame's receive buffer is released (dropped, or returned by NDIS) with
    /// [`Self::leave`]. False when the frame must be dropped; the caller must still
    /// [`Self::leave`] the unit (at once).
    #[must_use]
    pub fn begin_delivery(&self) -> bool {
        self.enter()
    }

    /// Enters an indication pass of the receive DPC (`super::rx_indicate`). True when the
    /// adapter is running and the ready frames may be indicated; false when they must be
    /// dropped. Either way the pass holds a unit until [`Self::end_indication`], i.e. across
    /// the NDIS indication call, so a pause cannot complete while that call is in progress.
    #[must_use]
    pub fn begin_indication(&self) -> bool {
        self.enter()
    }

    /// Leaves an indication pass entered with [`Self::begin_indication`].
    #[must_use]
    pub fn end_indication(&self) -> Leave {
        self.leave(1)
    }

    /// Adds one unit while the caller already holds one (so the count cannot reach zero
    /// meanwhile): a delivery that obtained a receive buffer gives the buffer its own unit
    /// before it publishes it, and keeps its delivery unit until it has queued the indication.
    pub fn hold(&self) {
        let before = self.in_flight.fetch_add(1, Ordering::SeqCst);
        debug_assert!(before > 0, "hold without a unit held");
    }

    /// Releases `units` units (a finished send, dropped frames, returned receive buffers).
    #[must_use]
    pub fn leave(&self, units: usize) -> Leave {
        if units == 0 {
            return Leave::Nothing;
        }
        let before = self.in_flight.fetch_sub(units, Ordering::SeqCst);
        debug_assert!(before >= units, "leave without enter");
        if before == units && self.state() == RunState::Pausing && self.finish_pause() {
            Leave::CompletePause
        } else {
            Leave::Nothing
        }
    }

    /// Units outstanding now (sends, deliveries and receive buffers not yet returned).
    #[must_use]
    pub fn units_in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    fn enter(&self) -> bool {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.state() == RunState::Running
    }

    fn finish_pause(&self) -> bool {
        self.apply(Transition::PauseComplete).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_STATES: [RunState; 6] = [
        RunState::Initializing,
        RunState::Paused,
        RunState::Restarting,
        RunState::Running,
        RunState::Pausing,
        RunState::Halting,
    ];
    const ALL_TRANSITIONS: [Transition; 7] = [
        Transition::InitializeComplete,
        Transition::RestartBegin,
        Transition::RestartComplete,
        Transition::RestartFailed,
        Transition::PauseBegin,
        Transition::PauseComplete,
        Transition::HaltBegin,
    ];

    #[test]
    fn exactly_the_ndis_edges_are_legal() {
        let legal = [
            (
                RunState::Initializing,
                Transition::InitializeComplete,
                RunState::Paused,
            ),
            (
                RunState::Paused,
                Transition::RestartBegin,
                RunState::Restarting,
            ),
            (
                RunState::Restarting,
                Transition::RestartComplete,
                RunState::Running,
            ),
            (
                RunState::Restarting,
                Transition::RestartFailed,
                RunState::Paused,
            ),
            (RunState::Running, Transition::PauseBegin, RunState::Pausing),
            (
                RunState::Pausing,
                Transition::PauseComplete,
                RunState::Paused,
            ),
            (RunState::Paused, Transition::HaltBegin, RunState::Halting),
        ];
        for from in ALL_STATES {
            for transition in ALL_TRANSITIONS {
                let expected = legal
                    .iter()
                    .find(|(f, t, _)| *f == from && *t == transition)
                    .map(|(_, _, to)| *to);
                match expected {
                    Some(to) => assert_eq!(from.next(transition), Ok(to)),
                    None => assert_eq!(
                        from.next(transition),
                        Err(InvalidTransition { from, transition })
                    ),
                }
            }
        }
    }

    #[test]
    fn state_survives_the_atomic_encoding() {
        for state in ALL_STATES {
            assert_eq!(RunState::from_u8(state as u8), state);
        }
    }

    fn running() -> AdapterRun {
        let run = AdapterRun::new();
        run.apply(Transition::InitializeComplete).unwrap();
        run.apply(Transition::RestartBegin).unwrap();
        run.apply(Transition::RestartComplete).unwrap();
        run
    }

    #[test]
    fn sends_are_refused_unless_running() {
        let run = AdapterRun::new();
        assert!(!run.begin_send(), "initializing adapter refuses sends");
        assert_eq!(run.end_send(), Leave::Nothing);
        let run = running();
        assert!(run.begin_send());
        assert_eq!(run.end_send(), Leave::Nothing);
        assert_eq!(run.pause(), Ok(PauseOutcome::Completed));
        assert_eq!(run.state(), RunState::Paused);
        assert!(!run.begin_send(), "paused adapter refuses sends");
        assert_eq!(run.end_send(), Leave::Nothing);
        assert_eq!(run.units_in_flight(), 0);
    }

    #[test]
    fn pause_with_sends_in_flight_is_completed_by_the_last_send() {
        let run = running();
        assert!(run.begin_send());
        assert!(run.begin_send());
        assert_eq!(run.pause(), Ok(PauseOutcome::Pending));
        assert_eq!(run.state(), RunState::Pausing);
        assert!(
            !run.begin_send(),
            "a send arriving while pausing is refused"
        );
        assert_eq!(run.end_send(), Leave::Nothing);
        assert_eq!(run.end_send(), Leave::Nothing);
        assert_eq!(run.state(), RunState::Pausing);
        assert_eq!(run.end_send(), Leave::CompletePause);
        assert_eq!(run.state(), RunState::Paused);
    }

    #[test]
    fn pause_waits_for_deliveries_and_returned_receive_buffers() {
        let run = running();
        // Two frames delivered and indicated: their units stay until NDIS returns them.
        assert!(run.begin_delivery());
        assert!(run.begin_delivery());
        // Each delivery hands a unit to its receive buffer, then leaves its own.
        run.hold();
        run.hold();
        assert_eq!(run.leave(2), Leave::Nothing);
        assert!(run.begin_send());
        assert_eq!(run.pause(), Ok(PauseOutcome::Pending));
        assert!(!run.begin_delivery(), "no delivery while pausing");
        assert_eq!(
            run.leave(1),
            Leave::Nothing,
            "the refused delivery leaves at once"
        );
        assert_eq!(run.end_send(), Leave::Nothing);
        assert_eq!(
            run.leave(0),
            Leave::Nothing,
            "an empty return changes nothing"
        );
        assert_eq!(run.units_in_flight(), 2);
        assert_eq!(
            run.leave(2),
            Leave::CompletePause,
            "both returned in one call"
        );
        assert_eq!(run.state(), RunState::Paused);
        assert!(!run.begin_delivery(), "paused adapters receive nothing");
        assert_eq!(run.leave(1), Leave::Nothing);
    }

    #[test]
    fn pause_is_refused_when_not_running_and_changes_nothing() {
        let run = AdapterRun::new();
        assert_eq!(
            run.pause(),
            Err(InvalidTransition {
                from: RunState::Initializing,
                transition: Transition::PauseBegin
            })
        );
        assert_eq!(run.state(), RunState::Initializing);
    }

    #[test]
    fn full_lifecycle_ends_in_halting() {
        let run = running();
        assert_eq!(run.pause(), Ok(PauseOutcome::Completed));
        assert_eq!(
            run.apply(Transition::RestartBegin),
            Ok(RunState::Restarting)
        );
        assert_eq!(run.apply(Transition::RestartFailed), Ok(RunState::Paused));
        assert_eq!(run.apply(Transition::HaltBegin), Ok(RunState::Halting));
        assert!(run.apply(Transition::RestartBegin).is_err());
    }

    #[test]
    fn racing_pause_and_sends_complete_the_pause_exactly_once() {
        use std::sync::Arc;
        for _ in 0..200 {
            let run = Arc::new(running());
            let spawn_sender = || {
                let run = Arc::clone(&run);
                std::thread::spawn(move || {
                    let mut completions = 0;
                    for i in 0..50 {
                        // Alternate sends with two-frame deliveries returned together.
                        let leave = if i % 2 == 0 {
                            let _accepted = run.begin_send();
                            run.end_send()
                        } else {
                            let _first = run.begin_delivery();
                            let _second = run.begin_delivery();
                            run.leave(2)
                        };
                        if leave == Leave::CompletePause {
                            completions += 1;
                        }
                    }
                    completions
                })
            };
            // Both senders run while the pause happens.
            let senders = [spawn_sender(), spawn_sender()];
            let by_pause = usize::from(run.pause() == Ok(PauseOutcome::Completed));
            let by_sends: usize = senders.into_iter().map(|s| s.join().unwrap()).sum();
            assert_eq!(by_pause + by_sends, 1, "pause completed exactly once");
            assert_eq!(run.state(), RunState::Paused);
        }
    }
}
