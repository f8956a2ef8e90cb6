//! Build script. On a Windows host with the `wdk` feature it
//! 1. configures the WDK driver build through `wdk-build` (driver model from
//!    `[package.metadata.wdk.driver-model]`: WDM, whose linker setup includes
//!    `/ENTRY:DriverEntry`), and adds `/guard:cf` (Control Flow Guard; `wdk-build` does not);
//! 2. bindgens `ndis.h`/`ndkpi.h` for the types in `build/layout_gen.rs`'s `CHECKS` and writes
//!    `const` assertions comparing their sizes, alignments and field offsets with the
//!    handwritten `abi`/`sys` definitions (`src/sys/wdk_layout.rs` includes both), so a
//!    mismatch fails the build.
//!
//! Everywhere else — host builds and the Linux cross build, which gets its linker arguments
//! from `cargo xtask build-sys` — it does nothing. The WDK branch has never run (no Windows
//! host here); see `docs/build.md`.

#[cfg(all(windows, feature = "wdk"))]
#[path = "build/layout_gen.rs"]
mod layout_gen;

#[cfg(all(windows, feature = "wdk"))]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use wdk_build::BuilderExt;

    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=build/layout_gen.rs");
    wdk_build::configure_wdk_binary_build()?;
    println!("cargo::rustc-cdylib-link-arg=/guard:cf");

    let config = wdk_build::Config::from_env_auto()?;
    let mut builder = bindgen::Builder::wdk_default(&config)?
        // NDIS 6.30 miniport view of ndis.h; ndkpi.h needs it included first.
        .header_contents(
            "softndk-layout.h",
            "#define NDIS630_MINIPORT 1\n#include <ndis.h>\n#include <ndkpi.h>\n",
        )
        .layout_tests(false);
    for name in layout_gen::allowlist(layout_gen::CHECKS) {
        builder = builder.allowlist_type(name);
    }
    let bindings = builder.generate()?.to_string();
    let checks = layout_gen::generate(layout_gen::CHECKS, &bindings)?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("wdk_layout_bindings.rs"), bindings)?;
    std::fs::write(out.join("wdk_layout_checks.rs"), checks)?;
    Ok(())
}

#[cfg(not(all(windows, feature = "wdk")))]
fn main() {
    println!("cargo::rerun-if-changed=build.rs");
}
