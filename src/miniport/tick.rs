//! When the driver-wide fabric's periodic timeout scan runs: the pure half of the NDIS timer
//! that calls `Fabric::tick` (the timer itself is in `driver`, Windows kernel only).
//!
//! The timer runs only while at least one `NDK_ADAPTER` is open on any adapter of the driver
//! (no connection can wait on a deadline otherwise), so an idle driver takes no periodic
//! interrupts. [`TickSchedule`] counts the open instances and says when the timer must be
//! armed (first open) or cancelled (last close); the caller keeps it under a spin lock and
//! makes the `NdisSetTimerObject`/`NdisCancelTimerObject` call under the same lock, so arm and
//! cancel are never reordered between racing opens and closes. Must never: call NDIS.
#![deny(unsafe_code)]

/// Period of the timeout scan, in milliseconds. Timeouts are seconds long (`FabricConfig`),
/// so a step ends at most this much after its deadline.
pub const TICK_PERIOD_MS: u32 = 250;

/// What the caller must do with the timer after an open or a close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerAction {
    /// Nothing changes.
    Keep,
    /// Arm the periodic timer (the first instance opened).
    Arm,
    /// Cancel it (the last instance closed).
    Cancel,
}

/// Open `NDK_ADAPTER` instances of the whole driver.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TickSchedule {
    open: usize,
}

impl TickSchedule {
    /// No instance open: the timer is not armed.
    #[must_use]
    pub const fn new() -> Self {
        Self { open: 0 }
    }

    /// An instance opened.
    pub const fn opened(&mut self) -> TimerAction {
        self.open += 1;
        if self.open == 1 {
            TimerAction::Arm
        } else {
            TimerAction::Keep
        }
    }

    /// An instance closed. An unpaired close (a driver bug) changes nothing.
    pub const fn closed(&mut self) -> TimerAction {
        match self.open {
            0 => TimerAction::Keep,
            1 => {
                self.open = 0;
                TimerAction::Cancel
            }
            _ => {
                self.open -= 1;
                TimerAction::Keep
            }
        }
    }

    /// Whether the timer should be armed now.
    #[must_use]
    pub const fn armed(&self) -> bool {
        self.open > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timer_runs_from_the_first_open_to_the_last_close() {
        let mut s = TickSchedule::new();
        assert!(!s.armed());
        assert_eq!(s.opened(), TimerAction::Arm);
        assert_eq!(s.opened(), TimerAction::Keep);
        assert!(s.armed());
        assert_eq!(s.closed(), TimerAction::Keep);
        assert!(s.armed(), "one instance is still open");
        assert_eq!(s.closed(), TimerAction::Cancel);
        assert!(!s.armed());
        assert_eq!(s.opened(), TimerAction::Arm, "re-armed after going idle");
    }

    #[test]
    fn an_unpaired_close_does_not_disturb_the_count() {
        let mut s = TickSchedule::new();
        assert_eq!(s.closed(), TimerAction::Keep);
        assert_eq!(s.opened(), TimerAction::Arm);
        assert_eq!(s.closed(), TimerAction::Cancel);
        assert_eq!(s.closed(), TimerAction::Keep);
        assert!(!s.armed());
    }
}
