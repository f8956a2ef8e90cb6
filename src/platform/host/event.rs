//! Host notification event (`KEVENT`, `NotificationEvent`): mutex + condition variable.
//!
//! On a deterministic platform a waiter cannot be woken by a DPC worker (there is none), so
//! `wait` pumps the platform's deferred-work queue itself, and reports a wait that could never
//! end — nothing signalled and nothing left to run — as a panic instead of hanging the test.

use core::time::Duration;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Instant;

use super::cpu;
use super::sched::Scheduler;
use crate::platform::{EventOps, Irql};

/// Message of the panic raised when a deterministic wait can never finish.
pub const WAIT_WOULD_HANG: &str =
    "platform: Event::wait would block forever (deterministic platform has no pending work)";

/// A manual-reset event.
pub struct Event {
    signaled: Mutex<bool>,
    cond: Condvar,
    /// Deterministic platforms: the queue to run while waiting.
    pump: Option<Arc<Scheduler>>,
}

impl core::fmt::Debug for Event {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Event")
            .field("signaled", &self.is_signaled())
            .finish_non_exhaustive()
    }
}

impl Event {
    pub(super) fn new(sched: &Arc<Scheduler>) -> Self {
        Self {
            signaled: Mutex::new(false),
            cond: Condvar::new(),
            pump: sched.is_deterministic().then(|| Arc::clone(sched)),
        }
    }

    /// Deterministic wait: run queued work until signalled; `false` if the queue ran dry.
    fn pump_until_signaled(&self, sched: &Scheduler) -> bool {
        loop {
            if self.is_signaled() {
                return true;
            }
            if !sched.run_one() {
                return false;
            }
        }
    }
}

impl EventOps for Event {
    fn signal(&self) {
        debug_assert!(cpu::current_irql() <= Irql::Dispatch);
        *self.signaled.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.cond.notify_all();
    }

    fn reset(&self) {
        *self.signaled.lock().unwrap_or_else(PoisonError::into_inner) = false;
    }

    fn is_signaled(&self) -> bool {
        *self.signaled.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait(&self) {
        cpu::assert_can_block();
        if let Some(sched) = &self.pump {
            assert!(self.pump_until_signaled(sched), "{WAIT_WOULD_HANG}");
            return;
        }
        let mut signaled = self.signaled.lock().unwrap_or_else(PoisonError::into_inner);
        while !*signaled {
            signaled = self
                .cond
                .wait(signaled)
                .unwrap_or_else(PoisonError::into_inner);
        }
        drop(signaled);
    }

    fn wait_timeout(&self, timeout: Duration) -> bool {
        cpu::assert_can_block();
        if let Some(sched) = &self.pump {
            return self.pump_until_signaled(sched);
        }
        let deadline = Instant::now().checked_add(timeout);
        let mut signaled = self.signaled.lock().unwrap_or_else(PoisonError::into_inner);
        while !*signaled {
            let left = deadline.map_or(Duration::MAX, |d| {
                d.saturating_duration_since(Instant::now())
            });
            if left.is_zero() {
                return false;
            }
            signaled = self
                .cond
                .wait_timeout(signaled, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        drop(signaled);
        true
    }
}
