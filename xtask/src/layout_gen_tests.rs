//! The WDK layout-comparison generator against a fake bindgen output.

use crate::layout_gen::{CHECKS, LayoutCheck, allowlist, generate};

const BINDINGS: &str = "\
#[repr(C)]
#[derive(Debug, Default, Copy, Clone)]
pub struct _NDK_SGE {
    pub __bindgen_anon_1: _NDK_SGE__bindgen_ty_1,
    pub Length: ULONG,
    pub MemoryRegionToken: ULONG,
}
pub type NDK_SGE = _NDK_SGE;
#[repr(C)]
pub struct NDK_VERSION {
    pub Major: USHORT,
    pub Minor: USHORT,
}
";

const SGE: LayoutCheck = LayoutCheck {
    ours: "crate::abi::NDK_SGE",
    wdk: "NDK_SGE",
    fields: &["Length", "MemoryRegionToken"],
};

#[test]
fn emits_size_alignment_and_offset_assertions_through_aliases() {
    let source = generate(&[SGE], BINDINGS).unwrap();
    let asserts: Vec<&str> = source
        .lines()
        .filter(|l| l.starts_with("const _"))
        .collect();
    assert_eq!(asserts.len(), 4, "{source}");
    assert!(asserts[0].contains(
        "core::mem::size_of::<crate::abi::NDK_SGE>() == core::mem::size_of::<wdk::NDK_SGE>()"
    ));
    assert!(asserts[1].contains("align_of::<crate::abi::NDK_SGE>()"));
    assert!(asserts[2].contains(
        "offset_of!(crate::abi::NDK_SGE, Length) == core::mem::offset_of!(wdk::NDK_SGE, Length)"
    ));
    assert!(asserts[3].contains("MemoryRegionToken"));
}

#[test]
fn a_struct_without_alias_is_found_directly() {
    let version = LayoutCheck {
        ours: "crate::abi::NDK_VERSION",
        wdk: "NDK_VERSION",
        fields: &["Major", "Minor"],
    };
    assert!(generate(&[version], BINDINGS).is_ok());
}

#[test]
fn missing_types_and_fields_are_all_reported() {
    let wrong = [
        LayoutCheck {
            ours: "crate::abi::NDK_SGE",
            wdk: "NDK_SGE",
            fields: &["Address", "Length"],
        },
        LayoutCheck {
            ours: "crate::abi::NDK_RESULT",
            wdk: "NDK_RESULT",
            fields: &["Status"],
        },
    ];
    let error = generate(&wrong, BINDINGS).unwrap_err();
    assert!(error.contains("field NDK_SGE.Address"), "{error}");
    assert!(error.contains("type NDK_RESULT"), "{error}");
    assert!(!error.contains("NDK_SGE.Length"), "{error}");
}

#[test]
fn the_real_check_list_is_consistent() {
    let names = allowlist(CHECKS);
    assert_eq!(names.len(), CHECKS.len());
    for check in CHECKS {
        assert!(check.ours.starts_with("crate::abi::") || check.ours.starts_with("crate::sys::"));
        assert!(
            check.ours.ends_with(check.wdk),
            "{} vs {}",
            check.ours,
            check.wdk
        );
        assert!(!check.fields.is_empty());
    }
}
