//! Arbitrary operation sequences through the NDK dispatch tables (see `softndk_fuzz::dispatch`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| softndk_fuzz::dispatch::run(data));
