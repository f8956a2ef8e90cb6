//! Control Flow Guard support for the handwritten (non-WDK) build of `softndk.sys`.
//!
//! Owns the three things a `/guard:cf` image needs that the C runtime (or, for WDK drivers,
//! the WDK's kernel libraries) would otherwise provide:
//! - `__guard_check_icall_fptr` and `__guard_dispatch_icall_fptr`, the pointers through which
//!   every CFG-instrumented indirect call goes (`-C control-flow-guard=checks`: on x64 LLVM
//!   calls through `__guard_dispatch_icall_fptr` with the target in `rax`). They start out
//!   pointing at a no-op check (`ret`) and a plain dispatch (`jmp rax`); the kernel loader
//!   replaces them with its own check/dispatch routines when it enforces kernel CFG;
//! - `_load_config_used`, the `IMAGE_LOAD_CONFIG_DIRECTORY64` the linker points the image's
//!   load-config data directory at. `lld-link` does not fill it: it defines the absolute
//!   symbols `__guard_fids_table`, `__guard_fids_count`, `__guard_flags`, `__guard_iat_*` and
//!   `__guard_longjmp_*`, and this structure refers to them by relocation (the shape `lld`'s
//!   own CFG tests use). An `ADDR32` relocation against `__guard_flags` cannot be written in a
//!   Rust constant, hence assembly.
//!
//! Layout (x64, offsets in bytes): `Size` 0, `SecurityCookie` 88,
//! `GuardCFCheckFunctionPointer` 112, `GuardCFDispatchFunctionPointer` 120,
//! `GuardCFFunctionTable` 128, `GuardCFFunctionCount` 136, `GuardFlags` 144, `CodeIntegrity`
//! 148 (12 bytes), `GuardAddressTakenIatEntryTable`/`Count` 160/168,
//! `GuardLongJumpTargetTable`/`Count` 176/184, and zeros up to [`LOAD_CONFIG_SIZE`] (the
//! structure as far as `GuardMemcpyFunctionPointer`, the Windows 11 SDK's 320 bytes).
//! `cargo xtask check-sys` verifies the result in the built image.
//!
//! Must never: be compiled next to the WDK runtime (`BufferOverflowFastFailK.lib` is expected
//! to provide these symbols there), or point a guard pointer at anything but the two routines
//! below (the loader overwrites exactly these two slots).

/// `Size` of the load-config directory written into the image.
pub const LOAD_CONFIG_SIZE: u32 = 320;

// The no-op routines are local symbols: no `.gfids` entry names them, so they are not valid
// indirect-call targets themselves. The pointer slots live in `.00cfg` (read-only data that
// the loader patches before protecting the image, as in MSVC-built images; lld-link merges
// it into `.rdata`).
core::arch::global_asm!(
    ".section .text,\"xr\"",
    ".p2align 4",
    "softndk_guard_check_icall_nop:",
    "    ret",
    ".p2align 4",
    "softndk_guard_dispatch_icall_nop:",
    "    jmp rax",
    "",
    ".section .00cfg,\"dr\"",
    ".p2align 3",
    ".globl __guard_check_icall_fptr",
    "__guard_check_icall_fptr:",
    "    .quad softndk_guard_check_icall_nop",
    ".globl __guard_dispatch_icall_fptr",
    "__guard_dispatch_icall_fptr:",
    "    .quad softndk_guard_dispatch_icall_nop",
    "",
    ".section .rdata,\"dr\"",
    ".p2align 3",
    ".globl _load_config_used",
    "_load_config_used:",
    "    .long {size}",
    "    .fill 108, 1, 0",
    "    .quad __guard_check_icall_fptr",
    "    .quad __guard_dispatch_icall_fptr",
    "    .quad __guard_fids_table",
    "    .quad __guard_fids_count",
    "    .long __guard_flags",
    "    .fill 12, 1, 0",
    "    .quad __guard_iat_table",
    "    .quad __guard_iat_count",
    "    .quad __guard_longjmp_table",
    "    .quad __guard_longjmp_count",
    "    .fill {tail}, 1, 0",
    size = const LOAD_CONFIG_SIZE,
    tail = const LOAD_CONFIG_SIZE - 192,
);
