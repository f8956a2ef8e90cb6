//! Lints `inf/softndk.inx` against `spec/ndis-miniport.md` §3 (what `InfVerif` cannot check
//! here, since it ships only with the WDK), and checks that the INF agrees with the driver:
//! service binary `softndk.sys`, the RDMA technology the adapter reports, the provider verifier's
//! keyword the adapter reads.

use std::collections::BTreeMap;

use softndk::miniport::config::{PEND_REQUESTS_KEYWORD, RDMA_TECHNOLOGY_IWARP, VERIFIER_KEYWORD};
use softndk::verbs::misuse::MisuseChecks;

/// Section name (lower case) → its lines, comments and blank lines removed.
type Inf = BTreeMap<String, Vec<String>>;

fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

fn parse(text: &str) -> Inf {
    let mut inf = Inf::new();
    let mut current = String::new();
    for raw in text.lines() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.trim().to_ascii_lowercase();
            inf.entry(current.clone()).or_default();
        } else {
            inf.entry(current.clone())
                .or_default()
                .push(line.to_string());
        }
    }
    inf
}

fn unquote(value: &str) -> &str {
    value.trim().trim_matches('"')
}

/// `key = value` directives of a section (keys lower-cased).
fn directives(inf: &Inf, section: &str) -> Vec<(String, String)> {
    inf.get(&section.to_ascii_lowercase())
        .into_iter()
        .flatten()
        .filter_map(|line| {
            let (key, value) = line.split_once('=')?;
            Some((key.trim().to_ascii_lowercase(), value.trim().to_string()))
        })
        .collect()
}

fn directive(inf: &Inf, section: &str, key: &str) -> Option<String> {
    directives(inf, section)
        .into_iter()
        .find(|(k, _)| k == &key.to_ascii_lowercase())
        .map(|(_, v)| v)
}

fn list(value: &str) -> Vec<String> {
    value.split(',').map(|s| s.trim().to_string()).collect()
}

/// Registry lines (`root, subkey, value, flags, data`) of every section an `AddReg` names.
fn registry(inf: &Inf, install: &str) -> Vec<Vec<String>> {
    directive(inf, install, "AddReg")
        .map(|sections| list(&sections))
        .unwrap_or_default()
        .iter()
        .flat_map(|section| {
            inf.get(&section.to_ascii_lowercase())
                .cloned()
                .unwrap_or_default()
        })
        .map(|line| list(&line))
        .collect()
}

fn reg_value(reg: &[Vec<String>], subkey: &str, value: &str) -> Option<String> {
    reg.iter()
        .find(|fields| {
            fields.len() >= 5
                && fields[1].eq_ignore_ascii_case(subkey)
                && unquote(&fields[2]).eq_ignore_ascii_case(value)
        })
        .map(|fields| unquote(&fields[4]).to_string())
}

fn enum_values(reg: &[Vec<String>], keyword: &str) -> Vec<String> {
    let subkey = format!("Ndi\\Params\\{keyword}\\enum");
    reg.iter()
        .filter(|fields| fields.len() >= 5 && fields[1].eq_ignore_ascii_case(&subkey))
        .map(|fields| unquote(&fields[2]).to_string())
        .collect()
}

fn parse_number(text: &str) -> Option<u32> {
    let text = text.trim();
    text.strip_prefix("0x").map_or_else(
        || text.parse().ok(),
        |hex| u32::from_str_radix(hex, 16).ok(),
    )
}

/// Every rule the INF breaks (empty = clean).
#[allow(
    clippy::too_many_lines,
    reason = "one flat list of INF rules reads best"
)]
fn lint(text: &str) -> Vec<String> {
    let inf = parse(text);
    let mut errors = Vec::new();
    let mut expect = |ok: bool, what: &str| {
        if !ok {
            errors.push(what.to_string());
        }
    };
    let version = |key| directive(&inf, "Version", key).unwrap_or_default();
    expect(
        unquote(&version("Signature")) == "$Windows NT$",
        "Signature",
    );
    expect(version("Class").eq_ignore_ascii_case("Net"), "Class=Net");
    expect(
        version("ClassGuid").eq_ignore_ascii_case("{4d36e972-e325-11ce-bfc1-08002be10318}"),
        "Net ClassGuid",
    );
    expect(version("PnpLockdown") == "1", "PnpLockdown=1");
    expect(!version("CatalogFile").is_empty(), "CatalogFile");
    expect(!version("Provider").is_empty(), "Provider");

    let manufacturer = directives(&inf, "Manufacturer");
    let models = manufacturer
        .first()
        .map(|(_, v)| list(v))
        .unwrap_or_default();
    let Some((base, decorations)) = models.split_first() else {
        errors.push("Manufacturer names no models section".into());
        return errors;
    };
    let mut installs = Vec::new();
    for decoration in decorations {
        let section = format!("{base}.{decoration}");
        let entries = directives(&inf, &section);
        expect(
            !entries.is_empty(),
            "decorated models section exists and lists devices",
        );
        for (_, value) in entries {
            let fields = list(&value);
            let hwid = fields
                .get(1)
                .cloned()
                .unwrap_or_default()
                .to_ascii_lowercase();
            expect(hwid.starts_with("root\\"), "root-enumerated hardware id");
            expect(
                !hwid.starts_with("root\\ms_") && !hwid.starts_with("root\\vms_"),
                "hardware id outside Microsoft's reserved prefixes",
            );
            installs.push(fields[0].clone());
        }
    }
    expect(!installs.is_empty(), "at least one device");
    for install in &installs {
        let get = |key| directive(&inf, install, key).unwrap_or_default();
        let characteristics = parse_number(&get("Characteristics")).unwrap_or(0);
        expect(
            characteristics & 0x1 != 0,
            "Characteristics has NCF_VIRTUAL",
        );
        expect(
            characteristics & 0x6 == 0,
            "not NCF_PHYSICAL/SOFTWARE_ENUMERATED",
        );
        expect(get("*IfType") == "6", "*IfType=6");
        expect(get("*MediaType") == "0", "*MediaType=0");
        expect(get("*PhysicalMediaType") == "14", "*PhysicalMediaType=14");

        let reg = registry(&inf, install);
        expect(!reg.is_empty(), "AddReg sections exist");
        expect(
            reg.iter().all(|f| f[0].eq_ignore_ascii_case("HKR")),
            "registry writes use HKR only",
        );
        expect(
            reg_value(&reg, "Ndi\\Interfaces", "UpperRange").as_deref() == Some("ndis5"),
            "UpperRange=ndis5",
        );
        expect(
            reg_value(&reg, "Ndi\\Interfaces", "LowerRange").as_deref() == Some("ethernet"),
            "LowerRange=ethernet",
        );
        let nd = "Ndi\\Params\\*NetworkDirect";
        expect(
            reg_value(&reg, nd, "Type").as_deref() == Some("enum"),
            "*NetworkDirect enum",
        );
        expect(
            reg_value(&reg, nd, "Default").as_deref() == Some("1"),
            "*NetworkDirect default on",
        );
        expect(
            enum_values(&reg, "*NetworkDirect") == ["0", "1"],
            "*NetworkDirect 0/1",
        );
        let verifier = format!("Ndi\\Params\\{VERIFIER_KEYWORD}");
        expect(
            reg_value(&reg, &verifier, "ParamDesc").is_some(),
            "SoftNdkVerifier offered as an advanced property",
        );
        expect(
            reg_value(&reg, &verifier, "Type").as_deref() == Some("enum"),
            "SoftNdkVerifier enum",
        );
        expect(
            reg_value(&reg, &verifier, "Default").as_deref() == Some("0"),
            "SoftNdkVerifier default off",
        );
        expect(
            enum_values(&reg, VERIFIER_KEYWORD) == ["0", "1", "2"],
            "SoftNdkVerifier 0/1/2",
        );
        expect(
            enum_values(&reg, VERIFIER_KEYWORD).iter().all(|v| {
                MisuseChecks::from_registry(parse_number(v).unwrap_or(u32::MAX)).is_some()
            }),
            "every SoftNdkVerifier choice is a value the driver reads",
        );
        let verifier_enum = format!("{verifier}\\enum");
        expect(
            reg.iter()
                .filter(|f| f.len() >= 5 && f[1].eq_ignore_ascii_case(&verifier_enum))
                .all(|f| {
                    f[4].strip_prefix('%')
                        .and_then(|t| t.strip_suffix('%'))
                        .is_some_and(|token| directive(&inf, "Strings", token).is_some())
                }),
            "every SoftNdkVerifier choice names a defined string",
        );
        let pend = format!("Ndi\\Params\\{PEND_REQUESTS_KEYWORD}");
        expect(
            reg_value(&reg, &pend, "ParamDesc").is_some(),
            "SoftNdkPendRequests offered as an advanced property",
        );
        expect(
            reg_value(&reg, &pend, "Type").as_deref() == Some("enum"),
            "SoftNdkPendRequests enum",
        );
        expect(
            reg_value(&reg, &pend, "Default").as_deref() == Some("0"),
            "SoftNdkPendRequests default off",
        );
        expect(
            enum_values(&reg, PEND_REQUESTS_KEYWORD) == ["0", "1"],
            "SoftNdkPendRequests 0/1",
        );
        let tech = "Ndi\\Params\\*NetworkDirectTechnology";
        let techs = enum_values(&reg, "*NetworkDirectTechnology");
        let default = reg_value(&reg, tech, "Default").unwrap_or_default();
        expect(
            reg_value(&reg, tech, "Type").as_deref() == Some("enum"),
            "technology enum",
        );
        expect(
            !techs.is_empty()
                && techs
                    .iter()
                    .all(|t| matches!(t.as_str(), "1" | "2" | "3" | "4")),
            "technology values are NDK_RDMA_TECHNOLOGY numbers",
        );
        expect(
            default == RDMA_TECHNOLOGY_IWARP.to_string() && techs == [default.clone()],
            "only the technology the driver reports (iWARP)",
        );

        let services = directives(&inf, &format!("{install}.Services"));
        let associated: Vec<_> = services
            .iter()
            .filter(|(k, v)| {
                k == "addservice" && list(v).get(1).and_then(|f| parse_number(f)) == Some(2)
            })
            .collect();
        expect(
            associated.len() == 1,
            "exactly one associated service (flag 2)",
        );
        if let Some((_, value)) = associated.first() {
            let fields = list(value);
            expect(
                reg_value(&reg, "Ndi", "Service")
                    .is_some_and(|s| s.eq_ignore_ascii_case(&fields[0])),
                "Ndi\\Service names the installed service",
            );
            let service = |key| directive(&inf, &fields[2], key).unwrap_or_default();
            expect(service("ServiceType") == "1", "kernel driver service");
            expect(service("StartType") == "3", "demand start");
            expect(service("ErrorControl") == "1", "normal error control");
            expect(
                service("ServiceBinary").eq_ignore_ascii_case("%13%\\softndk.sys"),
                "ServiceBinary runs softndk.sys from the driver store",
            );
        }
        let copy_sections = directive(&inf, install, "CopyFiles").unwrap_or_default();
        let copied: Vec<String> = list(&copy_sections)
            .iter()
            .flat_map(|section| {
                inf.get(&section.to_ascii_lowercase())
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        expect(
            copied
                .iter()
                .any(|line| list(line)[0].eq_ignore_ascii_case("softndk.sys")),
            "CopyFiles copies softndk.sys",
        );
    }
    expect(
        directive(&inf, "DestinationDirs", "DefaultDestDir").as_deref() == Some("13"),
        "DIRID 13",
    );
    expect(
        directive(&inf, "SourceDisksFiles", "softndk.sys").is_some(),
        "softndk.sys on disk",
    );
    errors
}

fn shipped_inf() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/inf/softndk.inx")).unwrap()
}

#[test]
fn shipped_inf_follows_the_rules() {
    let errors = lint(&shipped_inf());
    assert!(errors.is_empty(), "INF lint: {errors:#?}");
}

#[test]
fn lint_catches_broken_infs() {
    let inf = shipped_inf();
    for (from, to, rule) in [
        ("PnpLockdown = 1", "PnpLockdown = 0", "PnpLockdown=1"),
        (
            "Characteristics    = 0x1",
            "Characteristics    = 0x4",
            "Characteristics has NCF_VIRTUAL",
        ),
        ("\"ndis5\"", "\"ndis4\"", "UpperRange=ndis5"),
        (
            "*IfType            = 6",
            "*IfType            = 71",
            "*IfType=6",
        ),
        (
            "Default,   0, \"1\"\nHKR, Ndi\\Params\\*NetworkDirect\\enum",
            "Default,   0, \"0\"\nHKR, Ndi\\Params\\*NetworkDirect\\enum",
            "*NetworkDirect default on",
        ),
        (
            "%13%\\softndk.sys",
            "%12%\\softndk.sys",
            "ServiceBinary runs softndk.sys from the driver store",
        ),
        (
            "root\\SoftNDK",
            "root\\ms_SoftNDK",
            "hardware id outside Microsoft's reserved prefixes",
        ),
        (
            "enum, \"1\",       0, %iWARP%",
            "enum, \"3\",       0, %iWARP%",
            "only the technology the driver reports (iWARP)",
        ),
        (
            "Default,   0, \"0\"\nHKR, Ndi\\Params\\SoftNdkVerifier\\enum",
            "Default,   0, \"1\"\nHKR, Ndi\\Params\\SoftNdkVerifier\\enum",
            "SoftNdkVerifier default off",
        ),
        (
            "SoftNdkVerifier\\enum, \"1\",       0, %Enabled%",
            "SoftNdkVerifier\\enum, \"3\",       0, %Enabled%",
            "SoftNdkVerifier 0/1/2",
        ),
        (
            "SoftNdkVerifier\\enum, \"2\",       0, %EnabledBreak%\n",
            "",
            "SoftNdkVerifier 0/1/2",
        ),
        (
            "SoftNdkVerifier\\enum, \"2\",",
            "SoftNdkVerifier\\enum, \"4\",",
            "every SoftNdkVerifier choice is a value the driver reads",
        ),
        (
            "EnabledBreak            = ",
            "EnabledBrake            = ",
            "every SoftNdkVerifier choice names a defined string",
        ),
        (
            "HKR, Ndi\\Params\\SoftNdkVerifier,      Type,      0, \"enum\"",
            "HKR, Ndi\\Params\\SoftNdkVerifier,      Type,      0, \"dword\"",
            "SoftNdkVerifier enum",
        ),
        (
            "Default,   0, \"0\"\nHKR, Ndi\\Params\\SoftNdkPendRequests\\enum",
            "Default,   0, \"1\"\nHKR, Ndi\\Params\\SoftNdkPendRequests\\enum",
            "SoftNdkPendRequests default off",
        ),
        (
            "SoftNdkPendRequests\\enum, \"1\",       0, %Enabled%",
            "SoftNdkPendRequests\\enum, \"2\",       0, %Enabled%",
            "SoftNdkPendRequests 0/1",
        ),
        (
            "HKR, Ndi\\Params\\SoftNdkPendRequests,      Type,      0, \"enum\"",
            "HKR, Ndi\\Params\\SoftNdkPendRequests,      Type,      0, \"dword\"",
            "SoftNdkPendRequests enum",
        ),
        (
            "HKR, Ndi\\Params\\SoftNdkPendRequests,      ParamDesc",
            "HKR, Ndi\\Params\\SoftNdkPendRequestz,      ParamDesc",
            "SoftNdkPendRequests offered as an advanced property",
        ),
        (
            "HKR, Ndi,            Service",
            "HKLM, Ndi,            Service",
            "registry writes use HKR only",
        ),
    ] {
        assert!(inf.contains(from), "mutation source {from:?} present");
        let errors = lint(&inf.replacen(from, to, 1));
        assert!(
            errors.iter().any(|e| e == rule),
            "{rule:?} not reported for {to:?}: {errors:?}"
        );
    }
}

#[test]
fn comments_respect_quotes() {
    assert_eq!(strip_comment("a = \"x;y\" ; note"), "a = \"x;y\" ");
    assert_eq!(parse_number("0x1"), Some(1));
    assert_eq!(parse_number("14"), Some(14));
}
