//! `cargo xtask`: SoftNDK's build tasks.
fn main() {}
