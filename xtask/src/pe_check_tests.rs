use super::*;

const MAP: &str = "\
 softndk\n\n Preferred load address is 0000000180000000\n\n\
  Address         Publics by Value              Rva+Base               Lib:Object\n\n\
 0001:00000000       DriverEntry                0000000180001000     softndk.o\n\
 0001:00000010       _RNvNtNtCs1a_7softndk8miniport6driver11set_options 0000000180001010     softndk.o\n\
 0001:00000120       helper                     0000000180001120     softndk.o\n";

/// The functions the synthetic image must have as CFG guard targets.
const GUARDED: &[&[&str]] = &[&["miniport", "driver", "set_options"]];

const SECTIONS_AT: usize = 0x40 + 4 + 20 + 240;
const TEXT: usize = SECTIONS_AT;
const RELOC: usize = SECTIONS_AT + 40;
const RDATA: usize = SECTIONS_AT + 80;
const DLL_CHARACTERISTICS: usize = 0x40 + 4 + 20 + 70;
const SUBSYSTEM: usize = 0x40 + 4 + 20 + 68;
const ENTRY: usize = 0x40 + 4 + 20 + 16;
const RELOC_DIR_SIZE: usize = 0x40 + 4 + 20 + 112 + 5 * 8 + 4;
const LOAD_CONFIG_DIR: usize = 0x40 + 4 + 20 + 112 + 10 * 8;
const BASE: u64 = 0x1_8000_0000;
/// File offset of `.rdata` (RVA 0x3000): the load config, then at +0x140 the two guard
/// slots, at +0x150 the guard function table (0x1000, 0x1010), at +0x158 a relocated code
/// pointer to 0x1000 (as a dispatch table entry would be).
const RDATA_RAW: usize = 0x600;
const GUARD_FLAGS: usize = RDATA_RAW + 144;
const TABLE_COUNT: usize = RDATA_RAW + 136;
const TABLE: usize = RDATA_RAW + 0x150;
const CODE_POINTER: usize = RDATA_RAW + 0x158;

fn put(image: &mut [u8], at: usize, bytes: &[u8]) {
    image[at..at + bytes.len()].copy_from_slice(bytes);
}

fn section(image: &mut [u8], at: usize, name: &[u8], rva: u32, raw: u32, flags: u32) {
    let mut name8 = [0_u8; 8];
    name8[..name.len()].copy_from_slice(name);
    put(image, at, &name8);
    put(image, at + 8, &0x200_u32.to_le_bytes());
    put(image, at + 12, &rva.to_le_bytes());
    put(image, at + 16, &0x200_u32.to_le_bytes());
    put(image, at + 20, &raw.to_le_bytes());
    put(image, at + 36, &flags.to_le_bytes());
}

/// A minimal, valid driver-shaped PE32+: `.text` with the entry point, `.reloc` with two
/// blocks, `.rdata` with a CFG load config, no imports, correct checksum.
fn synthetic() -> Vec<u8> {
    let mut image = vec![0_u8; 0x800];
    put(&mut image, 0, b"MZ");
    put(&mut image, 0x3C, &0x40_u32.to_le_bytes());
    put(&mut image, 0x40, b"PE\0\0");
    let coff = 0x44;
    put(&mut image, coff, &0x8664_u16.to_le_bytes());
    put(&mut image, coff + 2, &3_u16.to_le_bytes());
    put(&mut image, coff + 16, &240_u16.to_le_bytes());
    put(&mut image, coff + 18, &0x2022_u16.to_le_bytes());
    let opt = coff + 20;
    put(&mut image, opt, &0x20B_u16.to_le_bytes());
    put(&mut image, opt + 4, &0x200_u32.to_le_bytes());
    put(&mut image, opt + 16, &0x1000_u32.to_le_bytes());
    put(&mut image, opt + 20, &0x1000_u32.to_le_bytes());
    put(&mut image, opt + 24, &0x1_8000_0000_u64.to_le_bytes());
    put(&mut image, opt + 32, &0x1000_u32.to_le_bytes());
    put(&mut image, opt + 36, &0x200_u32.to_le_bytes());
    put(&mut image, opt + 40, &10_u16.to_le_bytes());
    put(&mut image, opt + 48, &10_u16.to_le_bytes());
    put(&mut image, opt + 56, &0x4000_u32.to_le_bytes());
    put(&mut image, opt + 60, &0x200_u32.to_le_bytes());
    put(&mut image, opt + 68, &1_u16.to_le_bytes());
    put(&mut image, opt + 70, &0x4160_u16.to_le_bytes());
    put(&mut image, opt + 108, &16_u32.to_le_bytes());
    put(&mut image, opt + 112 + 5 * 8, &0x2000_u32.to_le_bytes());
    put(&mut image, opt + 112 + 5 * 8 + 4, &0x1C_u32.to_le_bytes());
    put(&mut image, LOAD_CONFIG_DIR, &0x3000_u32.to_le_bytes());
    put(&mut image, LOAD_CONFIG_DIR + 4, &320_u32.to_le_bytes());
    section(&mut image, TEXT, b".text", 0x1000, 0x200, 0x6000_0020);
    section(&mut image, RELOC, b".reloc", 0x2000, 0x400, 0x4200_0040);
    section(&mut image, RDATA, b".rdata", 0x3000, 0x600, 0x4000_0040);
    put(&mut image, 0x200, &[0xC3]);
    put(&mut image, 0x400, &0x1000_u32.to_le_bytes());
    put(&mut image, 0x404, &0xC_u32.to_le_bytes());
    put(&mut image, 0x408, &0xA000_u16.to_le_bytes());
    put(&mut image, 0x40C, &0x3000_u32.to_le_bytes());
    put(&mut image, 0x410, &0x10_u32.to_le_bytes());
    for (i, word) in [0xA140_u16, 0xA148, 0xA158].iter().enumerate() {
        put(&mut image, 0x414 + 2 * i, &word.to_le_bytes());
    }
    put(&mut image, RDATA_RAW, &320_u32.to_le_bytes());
    put(&mut image, RDATA_RAW + 112, &(BASE + 0x3140).to_le_bytes());
    put(&mut image, RDATA_RAW + 120, &(BASE + 0x3148).to_le_bytes());
    put(&mut image, RDATA_RAW + 128, &(BASE + 0x3150).to_le_bytes());
    put(&mut image, TABLE_COUNT, &2_u64.to_le_bytes());
    put(&mut image, GUARD_FLAGS, &0x500_u32.to_le_bytes());
    put(
        &mut image,
        RDATA_RAW + 0x140,
        &(BASE + 0x1001).to_le_bytes(),
    );
    put(
        &mut image,
        RDATA_RAW + 0x148,
        &(BASE + 0x1002).to_le_bytes(),
    );
    put(&mut image, TABLE, &0x1000_u32.to_le_bytes());
    put(&mut image, TABLE + 4, &0x1010_u32.to_le_bytes());
    put(&mut image, CODE_POINTER, &(BASE + 0x1000).to_le_bytes());
    pe_checksum::update(&mut image).unwrap();
    image
}

fn rules(image: &[u8], map: Option<&str>) -> Vec<Rule> {
    let mut rules: Vec<Rule> = check(image, map, &Declared::new(), GUARDED)
        .violations
        .iter()
        .map(|v| v.rule)
        .collect();
    rules.dedup();
    rules
}

fn mutated(edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut image = synthetic();
    edit(&mut image);
    pe_checksum::update(&mut image).unwrap();
    image
}

#[test]
fn the_synthetic_image_passes() {
    let report = check(&synthetic(), Some(MAP), &Declared::new(), GUARDED);
    assert!(report.violations.is_empty(), "{report}");
    assert_eq!(report.entry, 0x1000);
    assert_eq!(report.sections.len(), 3);
    assert_eq!(report.guard_targets, 2);
}

#[test]
fn map_parsing_finds_driver_entry_only() {
    assert_eq!(driver_entry_rva(MAP), Some(0x1000));
    assert_eq!(
        driver_entry_rva("Preferred load address is 0000000180000000\n"),
        None
    );
    assert_eq!(
        driver_entry_rva(" 0001:00000000 DriverEntry 0000000180001000 x.o\n"),
        None,
        "needs the base"
    );
}

#[test]
fn entry_point_must_be_driver_entry() {
    assert_eq!(rules(&synthetic(), None), [Rule::EntryPoint]);
    let elsewhere = MAP.replace("0000000180001000", "0000000180001100");
    assert_eq!(rules(&synthetic(), Some(&elsewhere)), [Rule::EntryPoint]);
    let moved = mutated(|i| put(i, ENTRY, &0x2000_u32.to_le_bytes()));
    let map = MAP.replace("0000000180001000", "0000000180002000");
    assert_eq!(
        rules(&moved, Some(&map)),
        [Rule::EntryPoint, Rule::ControlFlowGuard],
        "entry outside code (and so not a guard target)"
    );
}

#[test]
fn header_mutations_are_caught() {
    let arm = mutated(|i| put(i, 0x44, &0xAA64_u16.to_le_bytes()));
    assert_eq!(rules(&arm, Some(MAP)), [Rule::Machine]);
    let gui = mutated(|i| put(i, SUBSYSTEM, &2_u16.to_le_bytes()));
    assert_eq!(rules(&gui, Some(MAP)), [Rule::Subsystem]);
    let no_nx = mutated(|i| put(i, DLL_CHARACTERISTICS, &0x4060_u16.to_le_bytes()));
    assert_eq!(rules(&no_nx, Some(MAP)), [Rule::DllCharacteristics]);
    let fixed = mutated(|i| put(i, DLL_CHARACTERISTICS, &0x4120_u16.to_le_bytes()));
    assert_eq!(rules(&fixed, Some(MAP)), [Rule::DllCharacteristics]);
    let no_relocs = mutated(|i| put(i, RELOC_DIR_SIZE, &0_u32.to_le_bytes()));
    assert_eq!(rules(&no_relocs, Some(MAP)), [Rule::Relocations]);
    let stripped = mutated(|i| put(i, 0x44 + 18, &0x2023_u16.to_le_bytes()));
    assert_eq!(rules(&stripped, Some(MAP)), [Rule::Relocations]);
}

#[test]
fn section_mutations_are_caught() {
    let zero = mutated(|i| put(i, RELOC + 36, &0_u32.to_le_bytes()));
    assert_eq!(rules(&zero, Some(MAP)), [Rule::ZeroCharacteristics]);
    let wx = mutated(|i| put(i, TEXT + 36, &0xE000_0020_u32.to_le_bytes()));
    assert_eq!(rules(&wx, Some(MAP)), [Rule::WritableExecutable]);
    let paged = mutated(|i| put(i, RELOC, b"PAGE\0\0\0\0"));
    assert_eq!(rules(&paged, Some(MAP)), [Rule::Pageable]);
    let init = mutated(|i| {
        put(i, RELOC, b"INIT\0\0\0\0");
        put(i, RELOC + 36, &0x4000_0040_u32.to_le_bytes());
    });
    assert_eq!(rules(&init, Some(MAP)), [Rule::InitNotDiscardable]);
    let init_ok = mutated(|i| put(i, RELOC, b"INIT\0\0\0\0"));
    assert!(
        rules(&init_ok, Some(MAP)).is_empty(),
        "discardable INIT is fine"
    );
}

#[test]
fn import_address_table_must_not_be_in_code() {
    let iat_dir = 0x40 + 4 + 20 + 112 + 12 * 8;
    let in_text = mutated(|i| {
        put(i, iat_dir, &0x1008_u32.to_le_bytes());
        put(i, iat_dir + 4, &8_u32.to_le_bytes());
    });
    assert_eq!(rules(&in_text, Some(MAP)), [Rule::IatInCode]);
    let in_data = mutated(|i| {
        put(i, iat_dir, &0x2008_u32.to_le_bytes());
        put(i, iat_dir + 4, &4_u32.to_le_bytes());
    });
    assert!(rules(&in_data, Some(MAP)).is_empty());
}

#[test]
fn checksum_must_be_correct_and_non_zero() {
    let mut image = synthetic();
    image[0x300] ^= 0xFF;
    assert_eq!(rules(&image, Some(MAP)), [Rule::Checksum]);
    let offset = pe_checksum::checksum_offset(&image).unwrap();
    put(&mut image, offset, &[0; 4]);
    assert_eq!(rules(&image, Some(MAP)), [Rule::Checksum]);
}

#[test]
fn garbage_is_a_parse_violation() {
    assert_eq!(rules(b"not a PE file at all", Some(MAP)), [Rule::Parse]);
}

#[test]
fn import_rules() {
    let mut declared = Declared::new();
    declared
        .entry("ndis.sys".into())
        .or_default()
        .insert("NdisMPauseComplete".into());
    assert_eq!(
        check_import("ndis.sys", "NdisMPauseComplete", 0, &declared),
        None
    );
    let rule = |dll, name| check_import(dll, name, 0, &declared).map(|v| v.rule);
    assert_eq!(
        rule("kernel32.dll", "ExitProcess"),
        Some(Rule::ImportModule)
    );
    assert_eq!(
        rule("ndis.sys.dll", "NdisMPauseComplete"),
        Some(Rule::ImportModule)
    );
    assert_eq!(
        rule("NDIS.SYS", "NdisMPauseComplete"),
        Some(Rule::ImportModule)
    );
    assert_eq!(
        rule("ndis.sys", "NdisMIndicateStatusEx"),
        Some(Rule::ImportName)
    );
    assert_eq!(
        rule("ntoskrnl.exe", "NdisMPauseComplete"),
        Some(Rule::ImportName),
        "declared per module"
    );
    assert_eq!(
        check_import("hal.dll", "ORDINAL 7", 7, &declared).map(|v| v.rule),
        Some(Rule::ImportName)
    );
}

#[path = "pe_guard_tests.rs"]
mod guard;
