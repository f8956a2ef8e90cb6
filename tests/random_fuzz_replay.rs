//! The fuzz harnesses (`fuzz/src`) on stable Rust: every committed corpus input of each
//! target is replayed, then proptest feeds each harness random byte strings. This runs in
//! every `cargo test`; `scripts/fuzz-ci` runs the libFuzzer targets themselves.
//! `FUZZ_REPLAY_CASES=<n>` sets the number of random inputs per harness (default 512).
#![allow(unsafe_code)]

#[path = "../fuzz/src/cm/mod.rs"]
mod cm;
#[path = "../fuzz/src/dispatch.rs"]
mod dispatch;
#[path = "../fuzz/src/oid.rs"]
mod oid;
#[path = "../fuzz/src/pick.rs"]
mod pick;

use proptest::prelude::*;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_owned();
            Some((name, std::fs::read(&p).ok()?))
        })
        .collect()
}

#[test]
fn dispatch_ops_corpus_replays() {
    let inputs = corpus("dispatch_ops");
    assert!(!inputs.is_empty(), "fuzz/corpus/dispatch_ops is empty");
    for (name, data) in inputs {
        eprintln!("dispatch_ops {name}");
        dispatch::run(&data);
    }
}

#[test]
fn cm_ops_corpus_replays() {
    let inputs = corpus("cm_ops");
    assert!(!inputs.is_empty(), "fuzz/corpus/cm_ops is empty");
    for (name, data) in inputs {
        let stats = cm::run(&data);
        eprintln!("cm_ops {name}: {stats:?}");
        // What each seed was written to reach (a decoder change that breaks a seed shows here).
        let reached = match name.as_str() {
            "seed-established" => {
                stats.established >= 1 && stats.succeeded >= 4 && stats.disconnect_events >= 1
            }
            "seed-timeouts" => stats.connects >= 2 && stats.handed_up >= 2,
            "seed-v6-shared-reject" => stats.connects >= 1 && stats.handed_up >= 1,
            _ => stats.ops >= 1,
        };
        assert!(
            reached,
            "cm_ops {name} no longer reaches its target: {stats:?}"
        );
    }
}

#[test]
fn oid_decoder_corpus_replays() {
    let inputs = corpus("oid_decoder");
    assert!(!inputs.is_empty(), "fuzz/corpus/oid_decoder is empty");
    for (name, data) in inputs {
        eprintln!("oid_decoder {name}");
        oid::run(&data);
    }
}

fn cases() -> u32 {
    std::env::var("FUZZ_REPLAY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn dispatch_ops_random_inputs(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        dispatch::run(&data);
    }

    #[test]
    fn cm_ops_random_inputs(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        cm::run(&data);
    }

    #[test]
    fn oid_decoder_random_inputs(data in proptest::collection::vec(any::<u8>(), 0..64)) {
        oid::run(&data);
    }
}
