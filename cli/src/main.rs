//! The `softndk` command-line tool.
fn main() {}
