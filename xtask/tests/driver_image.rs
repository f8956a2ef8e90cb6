//! Checks the cross-built `softndk.sys` (from `cargo xtask build-sys --release`) against the
//! driver-image rules. Without the image, or with an image older than the driver's sources
//! (the rules follow the sources, so a stale image would fail them for the wrong reason), the
//! test is skipped, unless `SOFTNDK_REQUIRE_SYS=1` (CI sets it right after building), in which
//! case it fails.

use std::path::Path;
use std::time::SystemTime;

use xtask::{cross, pe_check, pe_guard};

/// The newest modification time of a file under `dir`.
fn newest(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let time = if path.is_dir() {
            self::newest(&path)
        } else {
            entry.metadata().and_then(|m| m.modified()).ok()
        };
        newest = newest.max(time);
    }
    newest
}

#[test]
fn built_driver_image_obeys_the_rules() {
    let root = cross::workspace_root();
    let image = cross::output_dir(&root, true).join("softndk.sys");
    if !image.exists() {
        assert!(
            std::env::var("SOFTNDK_REQUIRE_SYS").as_deref() != Ok("1"),
            "SOFTNDK_REQUIRE_SYS=1 but {} is missing",
            image.display()
        );
        println!(
            "skipped: {} not found; build it with cargo xtask build-sys --release",
            image.display()
        );
        return;
    }
    let built = std::fs::metadata(&image).and_then(|m| m.modified()).ok();
    let sources = newest(&root.join("src"));
    if built < sources {
        assert!(
            std::env::var("SOFTNDK_REQUIRE_SYS").as_deref() != Ok("1"),
            "SOFTNDK_REQUIRE_SYS=1 but {} is older than src/",
            image.display()
        );
        println!(
            "skipped: {} is older than src/; rebuild it with cargo xtask build-sys --release",
            image.display()
        );
        return;
    }
    let report = pe_check::check_files(&image, &image.with_extension("map"), &root.join("src/sys"))
        .expect("image and src/sys readable");
    assert!(report.violations.is_empty(), "{report}");
    let imported = |name: &str| report.imports.iter().any(|(_, n)| n == name);
    assert!(
        imported("NdisMRegisterMiniportDriver"),
        "DriverEntry registers the miniport"
    );
    assert!(
        imported("NdisSetOptionalHandlers"),
        "SetOptions registers the NDK handlers"
    );
    assert!(imported("ExAllocatePool2"), "the allocator is linked");
    assert!(
        imported("DbgPrintEx"),
        "the provider verifier prints its reports to the debugger"
    );
    assert!(
        imported("DbgBreakPoint") && imported("KdDebuggerNotPresent"),
        "SoftNdkVerifier = 2 breaks, guarded by the debugger-present variable"
    );
    assert!(
        report.guard_targets >= pe_guard::REQUIRED_TARGETS.len(),
        "CFG: {} guard targets",
        report.guard_targets
    );
}
