//! Allocation accounting and fault injection for one host platform instance.
//!
//! Every allocation made through the platform passes [`Accounting::gate`]: it counts the
//! attempt, consults the [`FaultPlan`] and, if admitted, hands out an [`AllocToken`] whose drop
//! ends the allocation. `live` therefore returns to zero when everything allocated through the
//! platform has been freed — the leak check tests run at the end. With no plan installed the
//! gate costs two relaxed atomic adds, one `Arc` clone and one relaxed load.

use core::panic::Location;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::platform::AllocError;

/// Which allocation attempts fail.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FaultPlan {
    /// Nothing fails (the default).
    #[default]
    Off,
    /// Exactly one attempt fails: the `n`-th (0-based) counted from when the plan is set.
    /// Looping `n` over `0..attempts` of a clean run fails every allocation of a scenario once.
    FailNth(u64),
    /// Every attempt from the `n`-th (0-based, counted from when the plan is set) on fails.
    FailFrom(u64),
    /// Every attempt made at this source location fails; `file` matches as a path suffix
    /// (e.g. `"verbs/cq.rs"`), `line` exactly.
    FailAt {
        /// Path suffix of the allocating source file.
        file: &'static str,
        /// Line of the allocating call.
        line: u32,
    },
    /// Each attempt fails with probability `1 / one_in`, drawn from a generator seeded by
    /// `seed` (same seed, same attempt sequence → same failures).
    Random {
        /// Generator seed.
        seed: u64,
        /// Inverse failure probability; 0 and 1 fail everything.
        one_in: u64,
    },
}

/// Counters of one platform instance's allocations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocStats {
    /// Attempts seen by the gate (admitted or refused).
    pub attempts: u64,
    /// Attempts refused by the fault plan.
    pub injected_failures: u64,
    /// Admitted allocations whose token has not been dropped yet.
    pub live: u64,
}

/// `SplitMix64`: tiny, seedable, good enough to pick failures and schedule orders.
#[derive(Clone, Debug)]
pub(super) struct Rng(u64);

impl Rng {
    pub(super) const fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(super) const fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n > 0`).
    pub(super) fn below(&mut self, n: usize) -> usize {
        // The modulo bias is irrelevant for scheduling and fault picking.
        usize::try_from(self.next_u64() % n as u64).unwrap_or(0)
    }
}

struct PlanState {
    plan: FaultPlan,
    /// Attempt counter value when the plan was set.
    base: u64,
    rng: Rng,
}

/// The per-instance allocation gate.
pub(super) struct Accounting {
    attempts: AtomicU64,
    failures: AtomicU64,
    live: AtomicU64,
    plan_active: AtomicBool,
    plan: Mutex<PlanState>,
}

/// Admission of one allocation; dropping it ends that allocation's accounting.
#[derive(Debug)]
pub struct AllocToken {
    accounting: Arc<Accounting>,
}

impl Drop for AllocToken {
    fn drop(&mut self) {
        self.accounting.live.fetch_sub(1, Ordering::Relaxed);
    }
}

impl core::fmt::Debug for Accounting {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Accounting")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Accounting {
    pub(super) const fn new() -> Self {
        Self {
            attempts: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            live: AtomicU64::new(0),
            plan_active: AtomicBool::new(false),
            plan: Mutex::new(PlanState {
                plan: FaultPlan::Off,
                base: 0,
                rng: Rng::new(0),
            }),
        }
    }

    pub(super) fn stats(&self) -> AllocStats {
        AllocStats {
            attempts: self.attempts.load(Ordering::Relaxed),
            injected_failures: self.failures.load(Ordering::Relaxed),
            live: self.live.load(Ordering::Relaxed),
        }
    }

    pub(super) fn set_plan(&self, plan: FaultPlan) {
        *self.plan.lock().unwrap_or_else(PoisonError::into_inner) = PlanState {
            plan,
            base: self.attempts.load(Ordering::Relaxed),
            rng: Rng::new(match plan {
                FaultPlan::Random { seed, .. } => seed,
                _ => 0,
            }),
        };
        self.plan_active
            .store(plan != FaultPlan::Off, Ordering::Relaxed);
    }

    fn should_fail(&self, attempt: u64, site: &Location<'_>) -> bool {
        let mut state = self.plan.lock().unwrap_or_else(PoisonError::into_inner);
        let index = attempt.wrapping_sub(state.base);
        match state.plan {
            FaultPlan::Off => false,
            FaultPlan::FailNth(n) => index == n,
            FaultPlan::FailFrom(n) => index >= n,
            FaultPlan::FailAt { file, line } => site.line() == line && site.file().ends_with(file),
            FaultPlan::Random { one_in, .. } => {
                one_in <= 1 || state.rng.next_u64().is_multiple_of(one_in)
            }
        }
    }

    pub(super) fn gate(
        self: &Arc<Self>,
        site: &'static Location<'static>,
    ) -> Result<AllocToken, AllocError> {
        let attempt = self.attempts.fetch_add(1, Ordering::Relaxed);
        if self.plan_active.load(Ordering::Relaxed) && self.should_fail(attempt, site) {
            self.failures.fetch_add(1, Ordering::Relaxed);
            return Err(AllocError);
        }
        self.live.fetch_add(1, Ordering::Relaxed);
        Ok(AllocToken {
            accounting: Arc::clone(self),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn site() -> &'static Location<'static> {
        Location::caller()
    }

    fn run(acct: &Arc<Accounting>, n: usize) -> Vec<bool> {
        (0..n).map(|_| acct.gate(site()).is_err()).collect()
    }

    #[test]
    fn fail_nth_fails_exactly_one_attempt_relative_to_plan() {
        let acct = Arc::new(Accounting::new());
        let _pre = acct.gate(site()).unwrap();
        acct.set_plan(FaultPlan::FailNth(2));
        assert_eq!(run(&acct, 5), [false, false, true, false, false]);
        assert_eq!(acct.stats().injected_failures, 1);
        assert_eq!(acct.stats().attempts, 6);
    }

    #[test]
    fn fail_from_and_off() {
        let acct = Arc::new(Accounting::new());
        acct.set_plan(FaultPlan::FailFrom(1));
        assert_eq!(run(&acct, 3), [false, true, true]);
        acct.set_plan(FaultPlan::Off);
        assert_eq!(run(&acct, 2), [false, false]);
    }

    #[test]
    fn random_is_reproducible_by_seed() {
        let a = Arc::new(Accounting::new());
        let b = Arc::new(Accounting::new());
        let plan = FaultPlan::Random {
            seed: 42,
            one_in: 3,
        };
        a.set_plan(plan);
        b.set_plan(plan);
        let ra = run(&a, 200);
        assert_eq!(ra, run(&b, 200));
        let fails = ra.iter().filter(|&&f| f).count();
        assert!((20..120).contains(&fails), "{fails} of 200 at 1/3");
        a.set_plan(FaultPlan::Random {
            seed: 43,
            one_in: 3,
        });
        assert_ne!(ra, run(&a, 200), "another seed, another sequence");
    }

    #[test]
    fn fail_at_matches_site_only() {
        let acct = Arc::new(Accounting::new());
        let here = Location::caller();
        acct.set_plan(FaultPlan::FailAt {
            file: "host/faults.rs",
            line: here.line(),
        });
        assert!(acct.gate(here).is_err());
        assert!(acct.gate(site()).is_ok());
    }

    #[test]
    fn live_counts_tokens() {
        let acct = Arc::new(Accounting::new());
        let t1 = acct.gate(site()).unwrap();
        let t2 = acct.gate(site()).unwrap();
        assert_eq!(acct.stats().live, 2);
        drop(t1);
        assert_eq!(acct.stats().live, 1);
        drop(t2);
        assert_eq!(acct.stats().live, 0);
    }
}
