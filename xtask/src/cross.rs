//! `cargo xtask build-sys`: the Linux cross build of `softndk.sys` (no WDK).
//!
//! Builds the `softndk` cdylib for `x86_64-pc-windows-msvc` with `--no-default-features
//! --features kernel`, `-Zbuild-std=core,alloc` (Debian's rustc with its matching std sources,
//! `RUSTC_BOOTSTRAP=1`), `panic=abort` and `lld-link` as a native-subsystem driver, into its own
//! target directory (`target/kernel`) so host builds are not invalidated. The linker's map
//! file is kept next to the image (`softndk.map`); `check-sys` uses it to find `DriverEntry`.
//! The output `softndk.dll` is copied to `softndk.sys` and given a valid PE checksum.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::pe_checksum;
use crate::toolchain::{self, Toolchain};

/// The Windows target triple.
pub const TARGET: &str = "x86_64-pc-windows-msvc";

/// Where the kernel build's artifacts go, relative to the workspace root.
pub const KERNEL_TARGET_DIR: &str = "target/kernel";

/// The workspace root (parent of the `xtask` package).
#[must_use]
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The directory holding `softndk.sys` for a profile.
#[must_use]
pub fn output_dir(root: &Path, release: bool) -> PathBuf {
    root.join(KERNEL_TARGET_DIR)
        .join(TARGET)
        .join(if release { "release" } else { "debug" })
}

/// Linker arguments that make the cdylib a kernel-mode driver image.
#[must_use]
pub fn driver_link_args(map: &Path) -> Vec<String> {
    [
        "/DRIVER",
        "/SUBSYSTEM:NATIVE,10.0",
        "/ENTRY:DriverEntry",
        "/NODEFAULTLIB",
        "/NXCOMPAT",
        "/DYNAMICBASE",
        "/HIGHENTROPYVA",
        "/OPT:REF",
        "/OPT:ICF",
        "/MANIFEST:NO",
        "/Brepro",
        // Control Flow Guard: the function table and flags that fill the load-config
        // directory (`src/kernel_rt/guard.rs`); sets DllCharacteristics GUARD_CF.
        "/guard:cf",
    ]
    .into_iter()
    .map(String::from)
    .chain([format!("/MAP:{}", map.display())])
    .collect()
}

/// Codegen flags of every crate in the kernel build: Control Flow Guard.
///
/// They reach `core`, `alloc` and `compiler_builtins` too (through `-Zbuild-std`): CFG checks
/// on every indirect call and `.gfids` tables naming every address-taken function.
pub const CODEGEN_FLAGS: [&str; 1] = ["-C control-flow-guard=checks"];

/// Rust flags of the kernel build: CFG codegen, the driver link arguments, and warnings as
/// errors so the Windows-only code (which host clippy never sees) stays warning-free.
fn rustflags(map: &Path) -> String {
    CODEGEN_FLAGS
        .iter()
        .map(|flag| (*flag).to_string())
        .chain(
            driver_link_args(map)
                .iter()
                .map(|arg| format!("-C link-arg={arg}")),
        )
        .chain([String::from("-D warnings")])
        .collect::<Vec<_>>()
        .join(" ")
}

/// What the kernel-target cargo run does.
enum Job<'a> {
    /// `cargo build`: the image.
    Build,
    /// `cargo clippy` through Debian's `cargo-clippy` (its `clippy-driver` matches Debian's
    /// `rustc`), warnings denied.
    Clippy(&'a Path),
}

fn cargo_command(
    toolchain: &Toolchain,
    root: &Path,
    release: bool,
    map: &Path,
    job: &Job<'_>,
) -> Command {
    let mut cmd = match job {
        Job::Build => {
            let mut cmd = Command::new(&toolchain.cargo);
            cmd.arg("build");
            cmd
        }
        Job::Clippy(cargo_clippy) => {
            let mut cmd = Command::new(cargo_clippy);
            // `cargo-clippy` runs `$CARGO check` with its sibling `clippy-driver`.
            cmd.arg("clippy").env("CARGO", &toolchain.cargo);
            cmd
        }
    };
    cmd.current_dir(root)
        .args(["--package", "softndk", "--lib"])
        .args(["--no-default-features", "--features", "kernel"])
        .args(["--target", TARGET, "--target-dir", KERNEL_TARGET_DIR])
        .args([
            "-Zbuild-std=core,alloc",
            "-Zbuild-std-features=compiler-builtins-mem",
        ]);
    if release {
        cmd.arg("--release");
    } else {
        // Unoptimised compiler_builtins references the C runtime's `fma`/`fmaf`, which a
        // driver does not link; optimised, those paths fold away. Only the debug image (the
        // one with the kernel platform's debug assertions) needs this.
        cmd.args([
            "--config",
            "profile.dev.package.compiler_builtins.opt-level=3",
        ]);
    }
    if matches!(job, Job::Clippy(_)) {
        cmd.args(["--", "-D", "warnings"]);
    }
    // Host-side variables from the invoking (rustup) cargo must not leak into this build.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTUP_TOOLCHAIN",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("RUSTC", &toolchain.rustc)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_PROFILE_RELEASE_PANIC", "abort")
        .env("CARGO_PROFILE_DEV_PANIC", "abort")
        .env(
            "CARGO_TARGET_X86_64_PC_WINDOWS_MSVC_LINKER",
            &toolchain.lld_link,
        )
        .env(
            "CARGO_TARGET_X86_64_PC_WINDOWS_MSVC_RUSTFLAGS",
            rustflags(map),
        );
    cmd
}

/// Builds `softndk.sys`; returns its path.
///
/// # Errors
/// A missing toolchain that could not be installed, a failed build, or a failed copy.
pub fn build_sys(release: bool) -> Result<PathBuf, String> {
    let toolchain = toolchain::ensure()?;
    let root = workspace_root();
    let out = output_dir(&root, release);
    std::fs::create_dir_all(&out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    let map = out.join("softndk.map");
    let started = Instant::now();
    let status = cargo_command(&toolchain, &root, release, &map, &Job::Build)
        .status()
        .map_err(|e| format!("running {}: {e}", toolchain.cargo.display()))?;
    if !status.success() {
        return Err(format!("cross build failed ({status})"));
    }
    let dll = out.join("softndk.dll");
    let sys = out.join("softndk.sys");
    let mut image = std::fs::read(&dll).map_err(|e| format!("reading {}: {e}", dll.display()))?;
    pe_checksum::update(&mut image)?;
    std::fs::write(&sys, &image).map_err(|e| format!("writing {}: {e}", sys.display()))?;
    eprintln!(
        "xtask: built {} ({} bytes) in {:.1} s",
        sys.display(),
        image.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(sys)
}

/// Runs clippy (warnings denied) on the kernel build: the Windows-only code host clippy never
/// sees (`platform::kernel`, `sys::ffi`, `kernel_rt`, the miniport trampolines).
///
/// # Errors
/// A missing toolchain or clippy that could not be installed, or clippy findings.
pub fn clippy_sys(release: bool) -> Result<(), String> {
    let toolchain = toolchain::ensure()?;
    let cargo_clippy = toolchain::ensure_clippy()?;
    let root = workspace_root();
    let out = output_dir(&root, release);
    std::fs::create_dir_all(&out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    let map = out.join("softndk.map");
    let status = cargo_command(
        &toolchain,
        &root,
        release,
        &map,
        &Job::Clippy(&cargo_clippy),
    )
    .status()
    .map_err(|e| format!("running {}: {e}", cargo_clippy.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("clippy on the kernel build failed ({status})"))
    }
}
