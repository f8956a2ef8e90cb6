//! Finds (and on demand installs) what the Linux cross build of `softndk.sys` needs:
//! Debian's `rustc`/`cargo` with matching std sources (for `-Zbuild-std`) and `lld-link`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian packages that provide the cross toolchain.
pub const PACKAGES: [&str; 4] = ["rustc-web", "cargo-web", "rust-web-src", "lld"];

/// The tools the cross build runs.
#[derive(Clone, Debug)]
pub struct Toolchain {
    /// Debian's `rustc` (its std sources match it exactly, which `-Zbuild-std` requires).
    pub rustc: PathBuf,
    /// Debian's `cargo`.
    pub cargo: PathBuf,
    /// The COFF linker.
    pub lld_link: PathBuf,
}

const RUSTC: &str = "/usr/bin/rustc";
const CARGO: &str = "/usr/bin/cargo";
const STD_SOURCES: &str = "/usr/lib/rustlib/src/rust/library/core/src/lib.rs";
const LLD_LINK: [&str; 4] = [
    "/usr/bin/lld-link",
    "/usr/bin/lld-link-19",
    "/usr/bin/lld-link-16",
    "/usr/bin/lld-link-14",
];

fn find() -> Result<Toolchain, Vec<&'static str>> {
    let mut missing = Vec::new();
    if !Path::new(RUSTC).exists() {
        missing.push("rustc (/usr/bin/rustc)");
    }
    if !Path::new(CARGO).exists() {
        missing.push("cargo (/usr/bin/cargo)");
    }
    if !Path::new(STD_SOURCES).exists() {
        missing.push("std sources (/usr/lib/rustlib/src/rust/library)");
    }
    let lld_link = LLD_LINK.iter().map(PathBuf::from).find(|p| p.exists());
    if lld_link.is_none() {
        missing.push("lld-link");
    }
    match lld_link {
        Some(lld_link) if missing.is_empty() => Ok(Toolchain {
            rustc: RUSTC.into(),
            cargo: CARGO.into(),
            lld_link,
        }),
        _ => Err(missing),
    }
}

/// Debian package with the `cargo-clippy`/`clippy-driver` matching Debian's `rustc`.
pub const CLIPPY_PACKAGE: &str = "rust-web-clippy";
const CARGO_CLIPPY: &str = "/usr/bin/cargo-clippy";

/// Debian's `cargo-clippy` (for `clippy-sys`), installing it first when missing and root.
///
/// # Errors
/// The exact install command, when not root or when apt fails.
pub fn ensure_clippy() -> Result<PathBuf, String> {
    if Path::new(CARGO_CLIPPY).exists() {
        return Ok(CARGO_CLIPPY.into());
    }
    let install = format!("apt-get install -y {CLIPPY_PACKAGE}");
    if !is_root() {
        return Err(format!(
            "missing: {CARGO_CLIPPY}. Install it with:\n    sudo apt-get update && sudo {install}"
        ));
    }
    let args = ["install", "-y", CLIPPY_PACKAGE];
    if (apt_get(&args) || (apt_get(&["update"]) && apt_get(&args)))
        && Path::new(CARGO_CLIPPY).exists()
    {
        Ok(CARGO_CLIPPY.into())
    } else {
        Err(format!("`{install}` failed"))
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

fn apt_get(args: &[&str]) -> bool {
    eprintln!("xtask: running apt-get {}", args.join(" "));
    Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .is_ok_and(|status| status.success())
}

/// The toolchain, installing the Debian packages first when something is missing and this
/// process is root.
///
/// # Errors
/// What is missing and the exact command to install it, when not root or when apt fails.
pub fn ensure() -> Result<Toolchain, String> {
    let missing = match find() {
        Ok(toolchain) => return Ok(toolchain),
        Err(missing) => missing,
    };
    let install = format!("apt-get install -y {}", PACKAGES.join(" "));
    eprintln!("xtask: the cross build needs {}", missing.join(", "));
    if !is_root() {
        return Err(format!(
            "missing: {}. Install them with:\n    sudo apt-get update && sudo {install}",
            missing.join(", ")
        ));
    }
    let mut install_args = vec!["install", "-y"];
    install_args.extend(PACKAGES);
    let installed = apt_get(&install_args) || (apt_get(&["update"]) && apt_get(&install_args));
    if !installed {
        return Err(format!("`{install}` failed"));
    }
    find().map_err(|still| format!("still missing after `{install}`: {}", still.join(", ")))
}
