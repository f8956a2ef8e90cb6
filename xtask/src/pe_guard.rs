//! The Control Flow Guard rules of `cargo xtask check-sys`.
//!
//! NDIS calls the miniport and NDK handlers through CFG-checked indirect calls on machines
//! that enforce kernel CFG, so every address `softndk.sys` hands out must be in its guard
//! function table, and the image must say it is instrumented. [`check`] verifies:
//! - `DllCharacteristics` has `GUARD_CF`;
//! - a load-config directory exists, its `Size` field and data-directory size are
//!   [`LOAD_CONFIG_SIZE`] (what `src/kernel_rt/guard.rs` writes);
//! - `GuardFlags` has `CF_INSTRUMENTED` and `CF_FUNCTION_TABLE_PRESENT`;
//! - the check and dispatch pointer slots lie in read-only data and point into code (the
//!   loader overwrites these two slots when it enforces kernel CFG);
//! - the guard function table is non-empty, strictly ascending and lies entirely in code;
//! - the entry point (`DriverEntry`) is a guard target;
//! - every pointer the image stores in data that points into code (every `DIR64` base
//!   relocation outside executable sections whose target is code: the NDK dispatch tables,
//!   the `DeferredWork` vtables, …) is a guard target, except the two guard slots;
//! - every handler in [`REQUIRED_TARGETS`] (the miniport characteristics that `DriverEntry`
//!   builds on the stack, so no relocation names them, plus a sample of NDK dispatch entries)
//!   is found in the linker map and is a guard target.
//!
//! Must never: accept an image that merely carries the `GUARD_CF` bit without a table.

use goblin::pe::PE;
use goblin::pe::load_config::{IMAGE_GUARD_CF_FUNCTION_TABLE_PRESENT, IMAGE_GUARD_CF_INSTRUMENTED};
use goblin::pe::section_table::SectionTable;

use crate::pe_check::{Rule, Violation};

/// `Size` of the load-config directory `src/kernel_rt/guard.rs` defines (the Windows 11 SDK's
/// `IMAGE_LOAD_CONFIG_DIRECTORY64` up to `GuardMemcpyFunctionPointer`).
pub const LOAD_CONFIG_SIZE: u32 = 320;

/// `IMAGE_DLLCHARACTERISTICS_GUARD_CF`.
pub const GUARD_CF: u16 = 0x4000;

const REQUIRED_FLAGS: u32 = IMAGE_GUARD_CF_INSTRUMENTED | IMAGE_GUARD_CF_FUNCTION_TABLE_PRESENT;
/// `IMAGE_GUARD_CF_FUNCTION_TABLE_SIZE_MASK`: extra bytes per table entry after the RVA.
const TABLE_STRIDE_SHIFT: u32 = 28;
const IMAGE_REL_BASED_DIR64: u8 = 10;
const SCN_MEM_EXECUTE: u32 = 0x2000_0000;
const SCN_MEM_WRITE: u32 = 0x8000_0000;

/// Functions that must be CFG guard targets, by module path under `softndk`.
///
/// The miniport handlers reach NDIS only through code (`DriverEntry` fills the miniport
/// characteristics on its stack), so no relocation names them; as module paths under the `softndk` crate, plus a sample of
/// NDK dispatch-table entries (which the relocation rule covers as well).
pub const REQUIRED_TARGETS: &[&[&str]] = &[
    &["miniport", "driver", "set_options"],
    &["miniport", "driver", "unload"],
    &["miniport", "adapter", "initialize"],
    &["miniport", "adapter", "halt"],
    &["miniport", "adapter", "pause"],
    &["miniport", "adapter", "restart"],
    &["miniport", "adapter", "shutdown"],
    &["miniport", "adapter", "device_pnp_event_notify"],
    &["miniport", "control", "oid_request"],
    &["miniport", "control", "direct_oid_request"],
    &["miniport", "datapath", "send_net_buffer_lists"],
    &["miniport", "datapath", "return_net_buffer_lists"],
    &["miniport", "ndk", "open_ndk_adapter"],
    &["miniport", "ndk", "close_ndk_adapter"],
    &["dispatch", "adapter", "query_adapter_info"],
    &["dispatch", "adapter", "create_cq"],
    &["dispatch", "pd", "create_qp"],
    &["dispatch", "qp", "send"],
    &["dispatch", "connector", "connect"],
    &["dispatch", "lam", "build_lam"],
];

fn violation(detail: impl Into<String>) -> Violation {
    Violation {
        rule: Rule::ControlFlowGuard,
        detail: detail.into(),
    }
}

fn section_of(sections: &[SectionTable], rva: u32) -> Option<&SectionTable> {
    sections.iter().find(|s| {
        rva >= s.virtual_address && rva - s.virtual_address < s.virtual_size.max(s.size_of_raw_data)
    })
}

fn in_code(sections: &[SectionTable], rva: u32) -> bool {
    section_of(sections, rva).is_some_and(|s| s.characteristics & SCN_MEM_EXECUTE != 0)
}

/// `len` bytes of the image at `rva`, if they lie in one section's raw data.
fn bytes_at<'a>(
    image: &'a [u8],
    sections: &[SectionTable],
    rva: u32,
    len: usize,
) -> Option<&'a [u8]> {
    let section = section_of(sections, rva)?;
    let within = usize::try_from(rva - section.virtual_address).ok()?;
    if within + len > usize::try_from(section.size_of_raw_data).ok()? {
        return None;
    }
    let start = usize::try_from(section.pointer_to_raw_data).ok()? + within;
    image.get(start..start + len)
}

fn u64_at(image: &[u8], sections: &[SectionTable], rva: u32) -> Option<u64> {
    let bytes = bytes_at(image, sections, rva, 8)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

/// The RVA of virtual address `va` in an image loaded at `base`.
fn rva_of(va: u64, base: u64) -> Option<u32> {
    u32::try_from(va.checked_sub(base)?).ok()
}

/// The guard function table: sorted RVAs (violations for anything malformed).
fn function_table(
    image: &[u8],
    sections: &[SectionTable],
    table_va: u64,
    count: u64,
    flags: u32,
    base: u64,
    v: &mut Vec<Violation>,
) -> Vec<u32> {
    let stride = 4 + (flags >> TABLE_STRIDE_SHIFT) as usize;
    let (Some(table), Ok(count)) = (rva_of(table_va, base), usize::try_from(count)) else {
        v.push(violation(format!(
            "function table VA {table_va:#x} outside the image"
        )));
        return Vec::new();
    };
    let Some(raw) = count
        .checked_mul(stride)
        .and_then(|len| bytes_at(image, sections, table, len))
    else {
        v.push(violation(format!(
            "function table of {count} entries at {table:#x} not in the file"
        )));
        return Vec::new();
    };
    let targets: Vec<u32> = raw
        .chunks_exact(stride)
        .map(|entry| u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]))
        .collect();
    if targets.is_empty() {
        v.push(violation("guard function table is empty"));
    }
    if targets.windows(2).any(|pair| pair[0] >= pair[1]) {
        v.push(violation("guard function table is not strictly ascending"));
    }
    if let Some(outside) = targets.iter().find(|&&rva| !in_code(sections, rva)) {
        v.push(violation(format!(
            "guard target {outside:#x} is not in code"
        )));
    }
    targets
}

/// The two pointer slots the loader patches: in read-only data, pointing into code.
fn check_slot(
    image: &[u8],
    sections: &[SectionTable],
    name: &str,
    va: u64,
    base: u64,
    v: &mut Vec<Violation>,
) -> Option<u32> {
    let slot = rva_of(va, base).filter(|_| va != 0);
    let section = slot.and_then(|rva| section_of(sections, rva));
    match (slot, section) {
        (Some(rva), Some(s)) if s.characteristics & (SCN_MEM_EXECUTE | SCN_MEM_WRITE) == 0 => {
            let target = u64_at(image, sections, rva).and_then(|t| rva_of(t, base));
            if !target.is_some_and(|t| in_code(sections, t)) {
                v.push(violation(format!(
                    "{name} slot {rva:#x} does not point into code"
                )));
            }
            Some(rva)
        }
        _ => {
            v.push(violation(format!(
                "{name} slot VA {va:#x} is not in read-only data"
            )));
            None
        }
    }
}

/// RVAs of every `DIR64` relocation outside code whose target lies in code, with the target.
fn code_pointers_in_data(pe: &PE<'_>, image: &[u8], base: u64) -> Vec<(u32, u32)> {
    let Some(relocations) = &pe.relocation_data else {
        return Vec::new();
    };
    let sections = &pe.sections;
    let mut found = Vec::new();
    for block in relocations.blocks().flatten() {
        for word in block.words().flatten() {
            let at = block.rva + u32::from(word.offset());
            if word.reloc_type() != IMAGE_REL_BASED_DIR64 || in_code(sections, at) {
                continue;
            }
            if let Some(target) = u64_at(image, sections, at).and_then(|t| rva_of(t, base))
                && in_code(sections, target)
            {
                found.push((at, target));
            }
        }
    }
    found
}

/// Whether a linker-map symbol names `path` under the `softndk` crate.
///
/// The path's length-prefixed identifiers end a v0 symbol (`…8miniport6driver11set_options`) or precede
/// a legacy hash (`…11set_options17h…E`). An LLVM `.llvm.N` suffix is ignored.
#[must_use]
pub fn names_path(symbol: &str, path: &[&str]) -> bool {
    let symbol = symbol.split(".llvm.").next().unwrap_or(symbol);
    let mut needle = String::new();
    for ident in std::iter::once("softndk").chain(path.iter().copied()) {
        needle.push_str(&ident.len().to_string());
        needle.push_str(ident);
    }
    symbol.ends_with(&needle) || symbol.contains(&format!("{needle}17h"))
}

/// The RVA the linker map gives the function at `path` (see [`names_path`]).
#[must_use]
pub fn map_rva(map: &str, path: &[&str]) -> Option<u32> {
    let base = crate::pe_check::preferred_base(map)?;
    map.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let _section_offset = fields.next()?;
        if !names_path(fields.next()?, path) {
            return None;
        }
        rva_of(u64::from_str_radix(fields.next()?, 16).ok()?, base)
    })
}

/// Checks the CFG rules (module docs) and returns how many guard targets the image has.
///
/// `required` lists the functions the map must show as guard targets ([`REQUIRED_TARGETS`]
/// for the real image); without a map that part is skipped (the entry-point rule already
/// reports a missing map).
pub fn check(
    pe: &PE<'_>,
    image: &[u8],
    map: Option<&str>,
    required: &[&[&str]],
    entry: u32,
    v: &mut Vec<Violation>,
) -> usize {
    let Some(optional) = pe.header.optional_header else {
        return 0;
    };
    let base = optional.windows_fields.image_base;
    if optional.windows_fields.dll_characteristics & GUARD_CF == 0 {
        v.push(violation("DllCharacteristics lacks GUARD_CF"));
    }
    let directory_size = optional
        .data_directories
        .get_load_config_table()
        .map(|d| d.size);
    let Some(config) = &pe.load_config_data else {
        v.push(violation("no load-config directory"));
        return 0;
    };
    let config = &config.directory;
    if config.size != LOAD_CONFIG_SIZE || directory_size != Some(LOAD_CONFIG_SIZE) {
        v.push(violation(format!(
            "load config Size {} / directory size {directory_size:?}, expected {LOAD_CONFIG_SIZE}",
            config.size
        )));
    }
    let flags = config.guard_flags.unwrap_or(0);
    if flags & REQUIRED_FLAGS != REQUIRED_FLAGS {
        v.push(violation(format!(
            "GuardFlags {flags:#x} lacks CF_INSTRUMENTED | CF_FUNCTION_TABLE_PRESENT"
        )));
    }
    let sections = &pe.sections;
    let slots: Vec<u32> = [
        (
            "GuardCFCheckFunctionPointer",
            config.guard_cf_check_function_pointer,
        ),
        (
            "GuardCFDispatchFunctionPointer",
            config.guard_cf_dispatch_function_pointer,
        ),
    ]
    .into_iter()
    .filter_map(|(name, va)| check_slot(image, sections, name, va.unwrap_or(0), base, v))
    .collect();
    let targets = function_table(
        image,
        sections,
        config.guard_cf_function_table.unwrap_or(0),
        config.guard_cf_function_count.unwrap_or(0),
        flags,
        base,
        v,
    );
    let is_target = |rva: u32| targets.binary_search(&rva).is_ok();
    if !is_target(entry) {
        v.push(violation(format!(
            "entry point {entry:#x} is not a guard target"
        )));
    }
    for (at, target) in code_pointers_in_data(pe, image, base) {
        if !slots.contains(&at) && !is_target(target) {
            v.push(violation(format!(
                "code pointer at {at:#x} -> {target:#x} is not a guard target"
            )));
        }
    }
    if let Some(map) = map {
        for path in required {
            let name = path.join("::");
            match map_rva(map, path) {
                None => v.push(violation(format!("{name} not found in the linker map"))),
                Some(rva) if !is_target(rva) => {
                    v.push(violation(format!(
                        "{name} at {rva:#x} is not a guard target"
                    )));
                }
                Some(_) => {}
            }
        }
    }
    targets.len()
}
