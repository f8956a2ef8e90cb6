//! Build script. On a Windows host with the `wdk` feature it configures the WDK driver build
//! through `wdk-build` (driver model from `[package.metadata.wdk.driver-model]`: WDM, whose
//! linker setup includes `/ENTRY:DriverEntry`). Everywhere else — host builds and the Linux
//! cross build, which gets its linker arguments from `cargo xtask build-sys` — it does nothing.

#[cfg(all(windows, feature = "wdk"))]
fn main() -> Result<(), wdk_build::ConfigError> {
    println!("cargo::rerun-if-changed=build.rs");
    wdk_build::configure_wdk_binary_build()
}

#[cfg(not(all(windows, feature = "wdk")))]
fn main() {
    println!("cargo::rerun-if-changed=build.rs");
}
