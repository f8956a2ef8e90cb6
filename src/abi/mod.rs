//! The NDKPI C ABI in Rust (filled in by the ABI work; see issue "The NDKPI ABI").
