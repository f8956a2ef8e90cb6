//! Arbitrary connection-manager sequences on two adapters of one fabric (see
//! `softndk_fuzz::cm`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    softndk_fuzz::cm::run(data);
});
