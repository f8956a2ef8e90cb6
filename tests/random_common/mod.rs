//! What the random-sequence suites (`random_ops`, `random_cm`) share around their own models:
//! the strategy of the matrix cells a random sequence runs on, the environment knobs that
//! size the runs, and the CQ entries as keyed lists: filing what a poll observed and comparing
//! it with what the model expects.
//!
//! Must never: know a suite's operations or model (each suite owns them).
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use softndk::abi::{NDK_OPERATION_TYPE, NDK_RESULT_EX};
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

/// Which queue of a QP a completion belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Queue {
    /// Sends, RDMA reads and writes.
    Initiator,
    /// Receives.
    Receive,
}

/// One expected or observed CQ entry: (context, status, type, bytes).
pub type Entry = (usize, u32, i32, u32);

/// Key of a CQ entry list: (CQ, QP context, queue).
pub type Key = (usize, usize, Queue);

/// CQ entries per key, in order.
pub type Entries = BTreeMap<Key, Vec<Entry>>;

/// Files `results`, polled from CQ `cq`, under their keys in order.
pub fn record(observed: &mut Entries, cq: usize, results: &[NDK_RESULT_EX]) {
    for r in results {
        let queue = if r.Type == NDK_OPERATION_TYPE::RECEIVE {
            Queue::Receive
        } else {
            Queue::Initiator
        };
        observed
            .entry((cq, r.QPContext.addr(), queue))
            .or_default()
            .push((
                r.RequestContext.addr(),
                r.Status.as_u32(),
                r.Type.0,
                r.BytesTransferred,
            ));
    }
}

/// Compares the `observed` with the `expected` entries of every key `keep` selects: equal when
/// `complete`, else a prefix (more may still arrive).
pub fn compare(
    expected: &Entries,
    observed: &Entries,
    keep: impl Fn(&Key) -> bool,
    complete: bool,
) {
    let keys: BTreeSet<Key> = expected
        .keys()
        .chain(observed.keys())
        .filter(|k| keep(k))
        .copied()
        .collect();
    for key in keys {
        let want = expected.get(&key).map_or(&[][..], Vec::as_slice);
        let got = observed.get(&key).map_or(&[][..], Vec::as_slice);
        if complete {
            assert_eq!(got, want, "CQ {} QP {:#x} {:?}", key.0, key.1, key.2);
        } else {
            assert!(
                want.starts_with(got),
                "CQ {} QP {:#x} {:?}: observed {got:?} is not a prefix of {want:?}",
                key.0,
                key.1,
                key.2
            );
        }
    }
}
