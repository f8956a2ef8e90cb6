//! What the random-sequence suites (`random_ops`, `random_cm`) share around their own models:
//! the strategy of the matrix cells a random sequence runs on and the environment knobs that
//! size the runs.
//!
//! Must never: know a suite's operations or model (each suite owns them).
#![allow(dead_code)]

use proptest::prelude::*;
use softndk::platform::Irql;

use crate::conformance_common::{Cell, Delivery};

/// A random cell: inline, FIFO or seeded-reordered delivery (never threaded), PASSIVE or
/// DISPATCH, creates inline.
pub fn cell() -> impl Strategy<Value = Cell> {
    let delivery = prop_oneof![
        Just(Delivery::Inline),
        Just(Delivery::Fifo),
        any::<u64>().prop_map(Delivery::Seeded),
    ];
    (delivery, any::<bool>()).prop_map(|(delivery, dispatch)| Cell {
        delivery,
        irql: if dispatch {
            Irql::Dispatch
        } else {
            Irql::Passive
        },
        pend: false,
    })
}

/// The environment variable `name` as a number, else `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
