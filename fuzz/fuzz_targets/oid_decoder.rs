//! Arbitrary OID requests against `miniport::oid` (see `softndk_fuzz::oid`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| softndk_fuzz::oid::run(data));
