//! `cargo xtask`: SoftNDK build tasks.
use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("xtask: no tasks yet");
    ExitCode::from(2)
}
