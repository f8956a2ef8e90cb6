//! The driver-image rules `cargo xtask check-sys` enforces on a built `softndk.sys`.
//!
//! [`check`] returns every violated rule; an empty list means the image passed. The rules
//! (and why):
//! - machine AMD64, PE32+, subsystem NATIVE — a kernel image for x64;
//! - the entry point is `DriverEntry`: `AddressOfEntryPoint` equals the RVA the linker map
//!   (`/MAP`, written next to the image by `build-sys`) gives `DriverEntry`. The map is the
//!   linker's own record of symbol placement, so this does not depend on exports or a PDB;
//!   the entry must also lie in an executable section;
//! - imports come only from `ntoskrnl.exe`, `ndis.sys`, `hal.dll` (spelled exactly), by name,
//!   and each imported function is one declared in `src/sys` (nothing user-mode, nothing
//!   unexpected);
//! - no section with zero characteristics (lld's `.retplne` pitfall), none both writable and
//!   executable (Code Integrity), none pageable (`PAGE*`: all `SoftNDK` code may run at
//!   `DISPATCH_LEVEL`), and an `INIT` section, if any, is discardable;
//! - the import address table is not in an executable section (HVCI refuses images whose
//!   IAT the loader would have to write inside code);
//! - base relocations present and non-empty and not stripped — the kernel relocates drivers;
//! - `DllCharacteristics` has `NX_COMPAT` and `DYNAMIC_BASE`;
//! - the PE checksum is non-zero and correct;
//! - Control Flow Guard: instrumented, with a load-config directory and a guard function table
//!   that holds every handler the driver hands out (the rules are in [`crate::pe_guard`]).

use std::fmt;
use std::path::Path;

use goblin::pe::PE;

use crate::pe_checksum;
use crate::pe_guard;
use crate::sys_decls::{self, Declared};

/// The kernel modules a `SoftNDK` image may import from.
pub const ALLOWED_DLLS: [&str; 3] = ["ntoskrnl.exe", "ndis.sys", "hal.dll"];

const IMAGE_FILE_MACHINE_AMD64: u16 = 0x8664;
const IMAGE_FILE_RELOCS_STRIPPED: u16 = 0x0001;
const IMAGE_SUBSYSTEM_NATIVE: u16 = 1;
const DYNAMIC_BASE: u16 = 0x0040;
const NX_COMPAT: u16 = 0x0100;
const SCN_MEM_DISCARDABLE: u32 = 0x0200_0000;
const SCN_MEM_EXECUTE: u32 = 0x2000_0000;
const SCN_MEM_WRITE: u32 = 0x8000_0000;

/// Which rule an image broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    /// Not a parsable PE image.
    Parse,
    /// Machine is not AMD64 or the image is not PE32+.
    Machine,
    /// Subsystem is not NATIVE.
    Subsystem,
    /// Entry point is not `DriverEntry` (or cannot be verified).
    EntryPoint,
    /// An import from a module other than [`ALLOWED_DLLS`].
    ImportModule,
    /// An imported function not declared in `src/sys`, or an import by ordinal.
    ImportName,
    /// A section with zero characteristics.
    ZeroCharacteristics,
    /// A section both writable and executable.
    WritableExecutable,
    /// A pageable (`PAGE*`) section.
    Pageable,
    /// An `INIT` section that is not discardable.
    InitNotDiscardable,
    /// The import address table lies in an executable section.
    IatInCode,
    /// Base relocations missing, empty or stripped.
    Relocations,
    /// `NX_COMPAT` or `DYNAMIC_BASE` missing.
    DllCharacteristics,
    /// Checksum zero or wrong.
    Checksum,
    /// Control Flow Guard missing or incomplete ([`crate::pe_guard`]).
    ControlFlowGuard,
}

/// One broken rule with a human explanation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The rule.
    pub rule: Rule,
    /// What exactly is wrong.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.rule, self.detail)
    }
}

/// Facts about a checked image, printed by `check-sys`.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Image size in bytes.
    pub size: usize,
    /// `AddressOfEntryPoint`.
    pub entry: u32,
    /// Sections: name, characteristics, virtual size.
    pub sections: Vec<(String, u32, u32)>,
    /// Imports: module and function.
    pub imports: Vec<(String, String)>,
    /// Entries in the guard function table.
    pub guard_targets: usize,
    /// Everything wrong with it.
    pub violations: Vec<Violation>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "image: {} bytes, entry RVA {:#x}, {} CFG guard targets",
            self.size, self.entry, self.guard_targets
        )?;
        for (name, characteristics, size) in &self.sections {
            writeln!(
                f,
                "  section {name:<8} {characteristics:#010x} {size:#x} bytes"
            )?;
        }
        for (dll, name) in &self.imports {
            writeln!(f, "  import  {dll}!{name}")?;
        }
        if self.violations.is_empty() {
            writeln!(f, "check-sys: OK, all driver-image rules hold")
        } else {
            for violation in &self.violations {
                writeln!(f, "VIOLATION {violation}")?;
            }
            Ok(())
        }
    }
}

/// The preferred load address an `lld-link`/`link.exe` `/MAP` file records.
#[must_use]
pub fn preferred_base(map: &str) -> Option<u64> {
    map.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("Preferred load address is ")?;
        u64::from_str_radix(rest.trim(), 16).ok()
    })
}

/// The RVA of `DriverEntry` in an `lld-link`/`link.exe` `/MAP` file: its `Rva+Base` column
/// minus the preferred load address.
#[must_use]
pub fn driver_entry_rva(map: &str) -> Option<u32> {
    let base = preferred_base(map)?;
    map.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let _section_offset = fields.next()?;
        if fields.next()? != "DriverEntry" {
            return None;
        }
        let address = u64::from_str_radix(fields.next()?, 16).ok()?;
        u32::try_from(address.checked_sub(base)?).ok()
    })
}

fn violation(rule: Rule, detail: impl Into<String>) -> Violation {
    Violation {
        rule,
        detail: detail.into(),
    }
}

fn section_name(raw: [u8; 8]) -> String {
    String::from_utf8_lossy(&raw)
        .trim_end_matches('\0')
        .to_string()
}

/// The import rules for one imported function: module in [`ALLOWED_DLLS`], imported by
/// name (goblin names ordinal imports `ORDINAL n`), and declared for that module in `src/sys`.
#[must_use]
pub fn check_import(dll: &str, name: &str, ordinal: u16, declared: &Declared) -> Option<Violation> {
    if !ALLOWED_DLLS.contains(&dll) {
        Some(violation(Rule::ImportModule, format!("{dll}!{name}")))
    } else if name.starts_with("ORDINAL") {
        Some(violation(
            Rule::ImportName,
            format!("{dll} import by ordinal {ordinal}"),
        ))
    } else if !declared.get(dll).is_some_and(|names| names.contains(name)) {
        Some(violation(
            Rule::ImportName,
            format!("{dll}!{name} is not declared in src/sys"),
        ))
    } else {
        None
    }
}

fn executable_section_holding(pe: &PE<'_>, rva: u32) -> Option<String> {
    pe.sections
        .iter()
        .find(|s| {
            s.characteristics & SCN_MEM_EXECUTE != 0
                && rva >= s.virtual_address
                && rva < s.virtual_address + s.virtual_size.max(s.size_of_raw_data)
        })
        .map(|s| section_name(s.name))
}

fn check_entry(pe: &PE<'_>, entry: u32, map: Option<&str>, v: &mut Vec<Violation>) {
    match map.map(driver_entry_rva) {
        None => v.push(violation(
            Rule::EntryPoint,
            "no linker map to locate DriverEntry",
        )),
        Some(None) => v.push(violation(
            Rule::EntryPoint,
            "DriverEntry not found in the linker map",
        )),
        Some(Some(rva)) if rva != entry => v.push(violation(
            Rule::EntryPoint,
            format!("AddressOfEntryPoint {entry:#x} but DriverEntry is at {rva:#x}"),
        )),
        Some(Some(_)) => {}
    }
    if executable_section_holding(pe, entry).is_none() {
        v.push(violation(
            Rule::EntryPoint,
            format!("entry {entry:#x} is not in an executable section"),
        ));
    }
}

fn check_sections(pe: &PE<'_>, report: &mut Report) {
    for section in &pe.sections {
        let name = section_name(section.name);
        let flags = section.characteristics;
        report
            .sections
            .push((name.clone(), flags, section.virtual_size));
        let v = &mut report.violations;
        if flags == 0 {
            v.push(violation(
                Rule::ZeroCharacteristics,
                format!("section {name}"),
            ));
        }
        if flags & SCN_MEM_WRITE != 0 && flags & SCN_MEM_EXECUTE != 0 {
            v.push(violation(
                Rule::WritableExecutable,
                format!("section {name} ({flags:#x})"),
            ));
        }
        if name.starts_with("PAGE") {
            v.push(violation(Rule::Pageable, format!("section {name}")));
        }
        if name == "INIT" && flags & SCN_MEM_DISCARDABLE == 0 {
            v.push(violation(
                Rule::InitNotDiscardable,
                format!("INIT flags {flags:#x}"),
            ));
        }
    }
}

fn check_headers(pe: &PE<'_>, v: &mut Vec<Violation>) -> Option<u32> {
    let coff = pe.header.coff_header;
    if coff.machine != IMAGE_FILE_MACHINE_AMD64 || !pe.is_64 {
        v.push(violation(
            Rule::Machine,
            format!("machine {:#x}, PE32+ {}", coff.machine, pe.is_64),
        ));
    }
    let Some(optional) = pe.header.optional_header else {
        v.push(violation(Rule::Parse, "no optional header"));
        return None;
    };
    let windows = optional.windows_fields;
    if windows.subsystem != IMAGE_SUBSYSTEM_NATIVE {
        v.push(violation(
            Rule::Subsystem,
            format!("subsystem {}", windows.subsystem),
        ));
    }
    if let Some(iat) = optional.data_directories.get_import_address_table()
        && let Some(name) = executable_section_holding(pe, iat.virtual_address)
    {
        v.push(violation(
            Rule::IatInCode,
            format!("IAT at {:#x} is in {name}", iat.virtual_address),
        ));
    }
    let relocations = optional.data_directories.get_base_relocation_table();
    if coff.characteristics & IMAGE_FILE_RELOCS_STRIPPED != 0
        || relocations.is_none_or(|dir| dir.size == 0)
    {
        v.push(violation(
            Rule::Relocations,
            "base relocation directory missing or empty",
        ));
    }
    for (bit, name) in [(NX_COMPAT, "NX_COMPAT"), (DYNAMIC_BASE, "DYNAMIC_BASE")] {
        if windows.dll_characteristics & bit == 0 {
            v.push(violation(
                Rule::DllCharacteristics,
                format!("{name} not set"),
            ));
        }
    }
    Some(optional.standard_fields.address_of_entry_point)
}

fn check_checksum(image: &[u8], v: &mut Vec<Violation>) {
    match pe_checksum::checksum_offset(image) {
        Some(offset) => {
            let stored = pe_checksum::stored(image).unwrap_or(0);
            let computed = pe_checksum::compute(image, offset);
            if stored == 0 || stored != computed {
                v.push(violation(
                    Rule::Checksum,
                    format!("stored {stored:#x}, computed {computed:#x}"),
                ));
            }
        }
        None => v.push(violation(Rule::Checksum, "no checksum field")),
    }
}

/// Checks `image` against every rule.
///
/// `map` is the linker map text (`None`: the entry point
/// cannot be verified, which is itself a violation); `declared` lists the imports `src/sys`
/// declares; `guard_targets` names the functions (module paths under `softndk`) that must be
/// CFG guard targets ([`pe_guard::REQUIRED_TARGETS`] for the real image).
#[must_use]
pub fn check(
    image: &[u8],
    map: Option<&str>,
    declared: &Declared,
    guard_targets: &[&[&str]],
) -> Report {
    let mut report = Report {
        size: image.len(),
        ..Report::default()
    };
    let pe = match PE::parse(image) {
        Ok(pe) => pe,
        Err(error) => {
            report
                .violations
                .push(violation(Rule::Parse, error.to_string()));
            return report;
        }
    };
    let Some(entry) = check_headers(&pe, &mut report.violations) else {
        return report;
    };
    report.entry = entry;
    check_entry(&pe, entry, map, &mut report.violations);
    check_sections(&pe, &mut report);
    for import in &pe.imports {
        let dll = import.dll.to_string();
        let name = import.name.to_string();
        if let Some(broken) = check_import(&dll, &name, import.ordinal, declared) {
            report.violations.push(broken);
        }
        report.imports.push((dll, name));
    }
    report.guard_targets = pe_guard::check(
        &pe,
        image,
        map,
        guard_targets,
        entry,
        &mut report.violations,
    );
    check_checksum(image, &mut report.violations);
    report
}

/// Reads the image, its map and the `src/sys` declarations, then [`check`]s.
///
/// # Errors
/// When the image or the `src/sys` sources cannot be read (a missing map is a violation).
pub fn check_files(image: &Path, map: &Path, sys_dir: &Path) -> Result<Report, String> {
    let bytes = std::fs::read(image).map_err(|e| format!("reading {}: {e}", image.display()))?;
    let map_text = std::fs::read_to_string(map).ok();
    let declared = sys_decls::read_dir(sys_dir)?;
    Ok(check(
        &bytes,
        map_text.as_deref(),
        &declared,
        pe_guard::REQUIRED_TARGETS,
    ))
}

#[cfg(test)]
#[path = "pe_check_tests.rs"]
mod tests;
