//! The Control Flow Guard rules against mutations of the synthetic image.

use super::*;
use crate::pe_guard::{map_rva, names_path};

fn cfg_broken(edit: impl FnOnce(&mut Vec<u8>)) -> Vec<Rule> {
    rules(&mutated(edit), Some(MAP))
}

#[test]
fn guard_cf_bit_and_load_config_are_required() {
    assert_eq!(
        cfg_broken(|i| put(i, DLL_CHARACTERISTICS, &0x160_u16.to_le_bytes())),
        [Rule::ControlFlowGuard]
    );
    assert_eq!(
        cfg_broken(|i| put(i, LOAD_CONFIG_DIR, &[0; 8])),
        [Rule::ControlFlowGuard],
        "no load-config directory"
    );
    assert_eq!(
        cfg_broken(|i| put(i, RDATA_RAW, &256_u32.to_le_bytes())),
        [Rule::ControlFlowGuard],
        "Size field"
    );
}

#[test]
fn guard_flags_need_instrumented_and_table_present() {
    for flags in [0_u32, 0x100, 0x400] {
        assert_eq!(
            cfg_broken(|i| put(i, GUARD_FLAGS, &flags.to_le_bytes())),
            [Rule::ControlFlowGuard],
            "GuardFlags {flags:#x}"
        );
    }
}

#[test]
fn the_function_table_must_be_non_empty_sorted_and_in_code() {
    assert_eq!(
        cfg_broken(|i| put(i, TABLE_COUNT, &0_u64.to_le_bytes())),
        [Rule::ControlFlowGuard]
    );
    let unsorted = cfg_broken(|i| {
        put(i, TABLE, &0x1010_u32.to_le_bytes());
        put(i, TABLE + 4, &0x1000_u32.to_le_bytes());
    });
    assert_eq!(unsorted, [Rule::ControlFlowGuard]);
    assert_eq!(
        cfg_broken(|i| put(i, TABLE + 4, &0x3000_u32.to_le_bytes())),
        [Rule::ControlFlowGuard],
        "a target in data"
    );
    assert_eq!(
        cfg_broken(|i| put(i, TABLE_COUNT, &0x1000_u64.to_le_bytes())),
        [Rule::ControlFlowGuard],
        "a table running past the section"
    );
}

#[test]
fn the_entry_point_must_be_a_guard_target() {
    let report = check(
        &mutated(|i| put(i, TABLE, &0x1008_u32.to_le_bytes())),
        Some(MAP),
        &Declared::new(),
        GUARDED,
    );
    let details: Vec<&str> = report
        .violations
        .iter()
        .map(|v| v.detail.as_str())
        .collect();
    assert!(
        details.iter().any(|d| d.contains("entry point")),
        "{report}"
    );
    assert!(
        details.iter().any(|d| d.contains("code pointer at 0x3158")),
        "the relocated pointer to the entry is no target either: {report}"
    );
}

#[test]
fn every_code_pointer_in_data_must_be_a_guard_target() {
    assert_eq!(
        cfg_broken(|i| put(i, CODE_POINTER, &(BASE + 0x1020).to_le_bytes())),
        [Rule::ControlFlowGuard]
    );
    assert!(
        cfg_broken(|i| put(i, CODE_POINTER, &(BASE + 0x3000).to_le_bytes())).is_empty(),
        "a pointer into data is not a call target"
    );
}

#[test]
fn required_handlers_must_be_in_the_map_and_guard_targets() {
    let moved = MAP.replace("0000000180001010", "0000000180001030");
    assert_eq!(rules(&synthetic(), Some(&moved)), [Rule::ControlFlowGuard]);
    let renamed = MAP.replace("11set_options", "11set_optionz");
    assert_eq!(
        rules(&synthetic(), Some(&renamed)),
        [Rule::ControlFlowGuard]
    );
    assert_eq!(
        rules(&synthetic(), None),
        [Rule::EntryPoint],
        "without a map only the entry rule reports"
    );
}

#[test]
fn guard_slots_must_be_read_only_data_pointing_into_code() {
    assert_eq!(
        cfg_broken(|i| put(i, RDATA_RAW + 112, &(BASE + 0x1000).to_le_bytes())),
        [Rule::ControlFlowGuard],
        "slot in code"
    );
    assert_eq!(
        cfg_broken(|i| put(i, RDATA_RAW + 120, &0_u64.to_le_bytes())),
        [Rule::ControlFlowGuard],
        "no dispatch slot"
    );
    assert_eq!(
        cfg_broken(|i| put(i, RDATA_RAW + 0x148, &(BASE + 0x3000).to_le_bytes())),
        [Rule::ControlFlowGuard],
        "dispatch slot pointing at data"
    );
}

#[test]
fn map_symbols_match_module_paths_exactly() {
    let path: &[&str] = &["miniport", "driver", "set_options"];
    assert!(names_path(
        "_RNvNtNtCs1a_7softndk8miniport6driver11set_options",
        path
    ));
    assert!(names_path(
        "_RNvNtNtCs1a_7softndk8miniport6driver11set_options.llvm.123",
        path
    ));
    assert!(names_path(
        "_ZN7softndk8miniport6driver11set_options17h0123456789abcdefE",
        path
    ));
    assert!(!names_path(
        "_RNvNtNtCs1a_7softndk8miniport6driver12set_options2",
        path
    ));
    assert!(!names_path(
        "_RNvNtNtCs1a_7softndk8dispatch6driver11set_options",
        path
    ));
    assert_eq!(map_rva(MAP, path), Some(0x1010));
    assert_eq!(map_rva(MAP, &["miniport", "driver", "unload"]), None);
}
