//! `cargo xtask`: `SoftNDK`'s build tasks.
//!
//! - `build-sys [--release]`: cross-build `softndk.sys` for `x86_64-pc-windows-msvc` on Linux.
//! - `check-sys [PATH] [--map MAP]`: check a built image against the driver-image rules
//!   (default: the release image under `target/kernel`).
//! - `clippy-sys [--release]`: clippy with warnings denied on the kernel build (Debian's
//!   `cargo-clippy`, installed on demand like the rest of the cross toolchain).

use std::path::PathBuf;
use std::process::ExitCode;

use xtask::{cross, pe_check};

const USAGE: &str = "usage: cargo xtask build-sys [--release]\n       cargo xtask check-sys [PATH] [--map MAP]\n       cargo xtask clippy-sys [--release]";

fn check_sys(args: &[String]) -> Result<(), String> {
    let mut image = None;
    let mut map = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--map" {
            map = Some(PathBuf::from(args.next().ok_or("--map needs a path")?));
        } else if image.is_none() {
            image = Some(PathBuf::from(arg));
        } else {
            return Err(format!("unexpected argument {arg}\n{USAGE}"));
        }
    }
    let image = image
        .unwrap_or_else(|| cross::output_dir(&cross::workspace_root(), true).join("softndk.sys"));
    let map = map.unwrap_or_else(|| image.with_extension("map"));
    let report = pe_check::check_files(&image, &map, &cross::workspace_root().join("src/sys"))?;
    print!("{report}");
    if report.violations.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} violation(s) in {}",
            report.violations.len(),
            image.display()
        ))
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("build-sys") => {
            let release = match &args[1..] {
                [] => false,
                [flag] if flag == "--release" => true,
                _ => return Err(USAGE.into()),
            };
            let path = cross::build_sys(release)?;
            println!("{}", path.display());
            Ok(())
        }
        Some("check-sys") => check_sys(&args[1..]),
        Some("clippy-sys") => {
            let release = match &args[1..] {
                [] => false,
                [flag] if flag == "--release" => true,
                _ => return Err(USAGE.into()),
            };
            cross::clippy_sys(release)
        }
        _ => Err(USAGE.into()),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
