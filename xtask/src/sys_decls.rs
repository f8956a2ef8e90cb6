//! Reads the kernel imports `SoftNDK` declares in `src/sys`.
//!
//! It parses the `#[link(name = "...", kind = "raw-dylib")]` extern blocks, so the image check can require that the built
//! `softndk.sys` imports nothing else.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// DLL name → function (and data) names declared for it.
pub type Declared = BTreeMap<String, BTreeSet<String>>;

/// Extracts the declarations from one Rust source text.
#[must_use]
pub fn parse(source: &str) -> Declared {
    let mut declared = Declared::new();
    let mut rest = source;
    while let Some(at) = rest.find("#[link(name = \"") {
        rest = &rest[at + "#[link(name = \"".len()..];
        let Some(end) = rest.find('"') else { break };
        let dll = rest[..end].to_string();
        let Some(open) = rest.find('{') else { break };
        let mut depth = 0_usize;
        let mut close = rest.len();
        for (i, c) in rest[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        close = open + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let block = &rest[open..close];
        let names = declared.entry(dll).or_default();
        for line in block.lines() {
            let line = line.trim_start();
            if line.starts_with("//") {
                continue;
            }
            // A function, or a data export (`static NAME: T;`, imported the same way).
            let declared_name = line.split("fn ").nth(1).or_else(|| {
                line.strip_prefix("pub ")
                    .unwrap_or(line)
                    .strip_prefix("static ")
            });
            if let Some(after) = declared_name {
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    names.insert(name);
                }
            }
        }
        rest = &rest[close.min(rest.len())..];
    }
    declared
}

/// Reads every `.rs` file under `dir` and merges their declarations.
///
/// # Errors
/// When a directory or file cannot be read.
pub fn read_dir(dir: &Path) -> Result<Declared, String> {
    let mut declared = Declared::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let found = if path.is_dir() {
            read_dir(&path)?
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?;
            parse(&text)
        } else {
            continue;
        };
        for (dll, names) in found {
            declared.entry(dll).or_default().extend(names);
        }
    }
    Ok(declared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_functions_per_dll_and_skips_comments() {
        let text = r#"
#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    /// Allocates (see fn docs).
    pub fn ExAllocatePool2(Flags: u64) -> *mut c_void;
    // fn NotThis();
    pub fn KeBugCheckEx(
        Code: u32,
    ) -> !;
    /// A data export.
    pub static KdDebuggerNotPresent: BOOLEAN;
}
fn outside() {}
#[link(name = "ndis.sys", kind = "raw-dylib")]
unsafe extern "system" {
    pub fn NdisMPauseComplete(h: NDIS_HANDLE);
}
"#;
        let declared = parse(text);
        assert_eq!(declared.len(), 2);
        let nt: Vec<_> = declared["ntoskrnl.exe"]
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(
            nt,
            ["ExAllocatePool2", "KdDebuggerNotPresent", "KeBugCheckEx"]
        );
        assert!(declared["ndis.sys"].contains("NdisMPauseComplete"));
        assert!(!declared.values().any(|names| names.contains("outside")));
    }

    #[test]
    fn the_real_sys_module_declares_the_kernel_imports() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../src/sys");
        let declared = read_dir(&dir).unwrap();
        assert!(declared["ntoskrnl.exe"].contains("ExAllocatePool2"));
        assert!(
            declared["ntoskrnl.exe"].contains("DbgPrintEx"),
            "the C-variadic block of the same DLL is read too"
        );
        assert!(
            declared["ntoskrnl.exe"].contains("KdDebuggerNotPresent"),
            "data imports are declared too"
        );
        assert!(declared["ndis.sys"].contains("NdisMRegisterMiniportDriver"));
    }
}
