//! What a package owes for the packages compiled into it (docs/licenses.md): each one's licensing
//! judged ([`assess`]), and the three files written from them: the human-readable notice
//! (`licenses/THIRD-PARTY-NOTICES.txt`), the machine-readable list (`licenses/third-party.json`)
//! and a CycloneDX 1.6 SBOM (`sbom.cdx.json`).
//!
//! Pure: texts come in as bytes already read (by `license`, the I/O edge), documents come out.
//! Nothing here depends on the time, so the same build writes the same bytes.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::schema::result::{CompiledPackage, Executable, LicenseProblem, LicenseText, PackageRole};

/// The notice's path in the package.
pub const NOTICE: &str = crate::package::NOTICE_FILE;
/// The list's path in the package.
pub const LIST: &str = "licenses/third-party.json";
/// The SBOM's path in the package.
pub const SBOM: &str = crate::package::SBOM_FILE;

/// The notice's rule between packages.
const RULE: &str = "================================================================================";

/// What was found for one package: its license files as read (path in its source, bytes), the
/// askalono id and score of each, and whether some could not be read.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub files: Vec<(String, Vec<u8>, Option<String>, f32)>,
    pub unreadable: bool,
}

/// A package's license expression as crates.io takes it (`/` for `OR` too): its canonical SPDX
/// form, or `None` when it is no SPDX expression. Pure.
pub fn canonical(expression: &str) -> Option<String> {
    spdx::Expression::parse_mode(expression, spdx::ParseMode::LAX).ok()?;
    match spdx::Expression::canonicalize(expression) {
        Ok(Some(c)) => Some(c),
        Ok(None) => Some(expression.to_string()),
        Err(_) => None,
    }
}

/// The SPDX reference texts for an expression: every license and exception it names, once, in
/// order (`LicenseRef-` and `AdditionRef-` have none). Pure.
pub fn reference_texts(expression: &str) -> Vec<(String, &'static str)> {
    let Ok(e) = spdx::Expression::parse_mode(expression, spdx::ParseMode::LAX) else { return Vec::new() };
    let mut out: Vec<(String, &'static str)> = Vec::new();
    for r in e.requirements() {
        let license = r.req.license.id().map(|id| (id.name.to_string(), id.text()));
        let addition = match &r.req.addition {
            Some(spdx::AdditionItem::Spdx(x)) => Some((x.name.to_string(), x.text())),
            _ => None,
        };
        for (name, text) in license.into_iter().chain(addition) {
            if !out.iter().any(|(n, _)| *n == name) {
                out.push((name, text));
            }
        }
    }
    out
}

/// One package's record and the texts its notice section prints. Pure.
pub fn assess(
    package: &super::compiled::Compiled,
    checksum: Option<String>,
    found: &Found,
) -> (CompiledPackage, Vec<(LicenseText, String)>) {
    let mut problems = Vec::new();
    let expression = package.license.as_deref().map(str::trim).filter(|e| !e.is_empty());
    let canonical = expression.and_then(canonical);
    if expression.is_none() && package.license_file.is_none() {
        problems.push(LicenseProblem::NoLicense);
    }
    if expression.is_some() && canonical.is_none() {
        problems.push(LicenseProblem::InvalidExpression);
    }
    if found.unreadable {
        problems.push(LicenseProblem::UnreadableLicenseFile);
    }
    let mut texts: Vec<(LicenseText, String)> = found
        .files
        .iter()
        .map(|(file, bytes, spdx, confidence)| {
            let text = String::from_utf8_lossy(bytes).into_owned();
            let record = LicenseText {
                file: Some(file.clone()),
                spdx: spdx.clone(),
                confidence: *confidence,
                reference: false,
                sha256: hex::encode(Sha256::digest(text.as_bytes())),
            };
            (record, text)
        })
        .collect();
    if texts.is_empty() {
        problems.push(LicenseProblem::NoLicenseFile);
        for (id, text) in canonical.as_deref().map(reference_texts).unwrap_or_default() {
            let record = LicenseText {
                file: None,
                spdx: Some(id),
                confidence: 1.0,
                reference: true,
                sha256: hex::encode(Sha256::digest(text.as_bytes())),
            };
            texts.push((record, text.to_string()));
        }
    }
    problems.sort();
    problems.dedup();
    let record = CompiledPackage {
        name: package.name.clone(),
        version: package.version.clone(),
        role: package.role,
        source: package.source.clone(),
        checksum,
        license: package.license.clone(),
        texts: texts.iter().map(|(r, _)| r.clone()).collect(),
        problems,
    };
    (record, texts)
}

/// What the three documents are about.
pub struct Subject<'a> {
    pub crate_name: &'a str,
    pub version: &'a str,
    pub target: &'a str,
}

/// The human-readable notice: every package, its license expression and each of its texts; a text
/// identical to one printed before is named, not repeated. Pure.
pub fn notice(subject: &Subject, packages: &[(CompiledPackage, Vec<(LicenseText, String)>)]) -> String {
    let mut out = format!(
        "Third-party notices for {} {} ({})\n\nThe executables of this package contain code from the {} packages below \
         (the crate itself first). Each package's license texts follow its name; a text identical to one already \
         given is named, not repeated.\n",
        subject.crate_name,
        subject.version,
        subject.target,
        packages.len()
    );
    let mut printed: BTreeMap<&str, String> = BTreeMap::new();
    for (p, texts) in packages {
        out.push_str(&format!("\n{RULE}\n{} {} ({})\n", p.name, p.version, p.source));
        out.push_str(&format!("License: {}\n", p.license.as_deref().unwrap_or("(none declared)")));
        for problem in &p.problems {
            out.push_str(&format!("Note: {}\n", problem_line(*problem)));
        }
        for (record, text) in texts {
            let title = match (&record.file, &record.spdx) {
                (Some(f), Some(id)) => format!("{f} ({id})"),
                (Some(f), None) => f.clone(),
                (None, id) => format!("SPDX reference text of {}", id.as_deref().unwrap_or("?")),
            };
            let who = format!("{} {}", p.name, p.version);
            match printed.get(record.sha256.as_str()) {
                Some(first) => out.push_str(&format!("\n--- {title}: identical to the text given for {first}\n")),
                None => {
                    out.push_str(&format!("\n--- {title}\n\n{}\n", text.trim_end()));
                    printed.insert(&record.sha256, who);
                }
            }
        }
    }
    out.push_str(&toolchain_section(subject.target, &printed));
    out
}

/// What every executable links from the toolchain rather than from a package: Rust's standard
/// library, and on a `*-musl` target musl libc itself (static). Their names, expressions and the
/// copyright line the notice gives with the reference texts. Pure.
pub fn toolchain_parts(target: &str) -> Vec<(&'static str, &'static str, &'static str)> {
    let mut parts = vec![(
        "the Rust standard library (std, core, alloc and what they use)",
        "MIT OR Apache-2.0",
        "Copyright (c) The Rust Project Developers",
    )];
    if target.ends_with("-musl") {
        parts.push(("musl libc (linked statically)", "MIT", "Copyright (c) 2005-2020 Rich Felker, et al."));
    }
    parts
}

/// The notice's last section: the toolchain's parts, their texts named when already given. Pure.
fn toolchain_section(target: &str, printed: &BTreeMap<&str, String>) -> String {
    let mut out = format!("\n{RULE}\nLinked from the toolchain, not from a package\n");
    for (what, expression, copyright) in toolchain_parts(target) {
        out.push_str(&format!("\n{what}\nLicense: {expression}\n{copyright}\n"));
        for (id, text) in reference_texts(expression) {
            let sha = hex::encode(Sha256::digest(text.as_bytes()));
            match printed.get(sha.as_str()) {
                Some(first) => out.push_str(&format!("--- {id}: identical to the text given for {first}\n")),
                None => out.push_str(&format!("--- SPDX reference text of {id}\n\n{}\n", text.trim_end())),
            }
        }
    }
    out
}

/// One line for a problem, as the notice and the report say it. Pure.
pub fn problem_line(p: LicenseProblem) -> &'static str {
    match p {
        LicenseProblem::NoLicense => "the package declares no license and no license file",
        LicenseProblem::InvalidExpression => "its license is not an SPDX expression",
        LicenseProblem::NoLicenseFile => "the package ships no license file: the SPDX reference texts are given",
        LicenseProblem::UnreadableLicenseFile => "a license file of the package could not be read",
    }
}

/// The machine-readable list: the same records as result.json's `third_party.packages`. Pure.
pub fn list(subject: &Subject, packages: &[CompiledPackage]) -> Vec<u8> {
    let doc = json!({
        "crate": subject.crate_name,
        "version": subject.version,
        "target": subject.target,
        "packages": packages,
    });
    let mut bytes = serde_json::to_vec_pretty(&doc).expect("JSON");
    bytes.push(b'\n');
    bytes
}

/// A component's `licenses`: the canonical expression, or the text as written when it is none.
fn cdx_licenses(p: &CompiledPackage) -> Value {
    match p.license.as_deref().map(|l| (l, canonical(l))) {
        Some((_, Some(c))) => json!([{ "expression": c }]),
        Some((raw, None)) => json!([{ "license": { "name": raw } }]),
        None => json!([]),
    }
}

fn component(p: &CompiledPackage) -> Value {
    let mut c = json!({
        "type": if p.role == PackageRole::Root { "application" } else { "library" },
        "bom-ref": p.purl(),
        "name": p.name,
        "version": p.version,
        "purl": p.purl(),
        "licenses": cdx_licenses(p),
    });
    if let Some(sum) = &p.checksum {
        c["hashes"] = json!([{ "alg": "SHA-256", "content": sum }]);
    }
    if p.role == PackageRole::ProcMacro {
        c["properties"] = json!([{ "name": "cratemill:role", "value": "proc-macro" }]);
    }
    c
}

/// The CycloneDX 1.6 SBOM: the crate as the subject, every other compiled package as a library,
/// the executables as files with their digests. Its serial number is derived from its content. Pure.
pub fn sbom(packages: &[CompiledPackage], executables: &[Executable]) -> Vec<u8> {
    let root = packages.iter().find(|p| p.role == PackageRole::Root);
    let mut components: Vec<Value> = packages.iter().filter(|p| p.role != PackageRole::Root).map(component).collect();
    for e in executables {
        components.push(json!({
            "type": "file",
            "bom-ref": format!("file:{}", e.path),
            "name": e.path,
            "hashes": [{ "alg": "SHA-256", "content": e.sha256 }],
        }));
    }
    let mut doc = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {
            "tools": { "components": [{ "type": "application", "name": "cratemill", "version": env!("CARGO_PKG_VERSION") }] },
        },
        "components": components,
    });
    if let Some(r) = root {
        doc["metadata"]["component"] = component(r);
    }
    let digest = Sha256::digest(serde_json::to_vec(&doc).expect("JSON"));
    let h = hex::encode(&digest[..16]);
    let serial = format!("urn:uuid:{}-{}-5{}-8{}-{}", &h[..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32]);
    let mut out = json!({ "bomFormat": "CycloneDX", "specVersion": "1.6", "serialNumber": serial });
    for (k, v) in doc.as_object().expect("object") {
        out[k] = v.clone();
    }
    let mut bytes = serde_json::to_vec_pretty(&out).expect("JSON");
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::compiled::Compiled;

    fn pkg(name: &str, license: Option<&str>, file: Option<&str>) -> Compiled {
        Compiled {
            name: name.into(),
            version: "1.0.0".into(),
            role: PackageRole::Library,
            source: "crates.io".into(),
            license: license.map(String::from),
            license_file: file.map(String::from),
            root: "/r".into(),
        }
    }

    #[test]
    fn expressions_are_judged_and_missing_texts_come_from_spdx() {
        assert_eq!(canonical("MIT/Apache-2.0").as_deref(), Some("MIT OR Apache-2.0"));
        assert_eq!(canonical("MIT OR Apache-2.0").as_deref(), Some("MIT OR Apache-2.0"));
        assert_eq!(canonical("Apache-2.0 WITH LLVM-exception").as_deref(), Some("Apache-2.0 WITH LLVM-exception"));
        assert_eq!(canonical("MIT and some words"), None);
        let ids: Vec<String> =
            reference_texts("MIT OR Apache-2.0 WITH LLVM-exception OR MIT").into_iter().map(|(n, _)| n).collect();
        assert_eq!(ids, ["MIT", "Apache-2.0", "LLVM-exception"]);

        let (r, texts) = assess(&pkg("a", Some("MIT"), None), None, &Found::default());
        assert_eq!(r.problems, [LicenseProblem::NoLicenseFile]);
        assert!(texts[0].0.reference && texts[0].1.contains("Permission is hereby granted"));
        let (r, texts) = assess(&pkg("b", Some("MIT and words"), None), None, &Found::default());
        assert_eq!(r.problems, [LicenseProblem::InvalidExpression, LicenseProblem::NoLicenseFile]);
        assert!(texts.is_empty());
        let (r, _) = assess(&pkg("c", None, None), None, &Found::default());
        assert!(r.problems.contains(&LicenseProblem::NoLicense));
        let found =
            Found { files: vec![("LICENSE".into(), b"text".to_vec(), Some("MIT".into()), 0.9)], unreadable: false };
        let (r, texts) = assess(&pkg("d", Some("MIT"), None), Some("ab".into()), &found);
        assert!(r.problems.is_empty() && texts.len() == 1 && !texts[0].0.reference);
    }

    #[test]
    fn identical_texts_are_printed_once_and_the_sbom_is_stable() {
        let found = Found { files: vec![("LICENSE".into(), b"same".to_vec(), None, 0.1)], unreadable: false };
        let one = assess(&pkg("one", Some("MIT"), None), Some("aa".into()), &found);
        let two = assess(&pkg("two", Some("MIT"), None), None, &found);
        let s = Subject { crate_name: "app", version: "1.0.0", target: "x86_64-unknown-linux-musl" };
        let text = notice(&s, &[one.clone(), two.clone()]);
        assert_eq!(text.matches("\nsame\n").count(), 1, "{text}");
        assert!(text.contains("identical to the text given for one 1.0.0"), "{text}");
        assert!(text.contains("musl libc (linked statically)\nLicense: MIT"), "{text}");
        let gnu = Subject { target: "x86_64-unknown-linux-gnu", ..s };
        assert!(!notice(&gnu, &[]).contains("musl"), "no musl on a gnu target");
        let records = [one.0, two.0];
        let a = sbom(&records, &[]);
        assert_eq!(a, sbom(&records, &[]), "the same input gives the same bytes");
        let v: Value = serde_json::from_slice(&a).unwrap();
        assert_eq!(v["components"][0]["purl"], "pkg:cargo/one@1.0.0");
        assert_eq!(v["components"][0]["hashes"][0]["content"], "aa");
        assert!(v["serialNumber"].as_str().unwrap().starts_with("urn:uuid:"));
        let mut git = records[0].clone();
        git.source = "git+https://g/x#abc".into();
        assert_eq!(git.purl(), "pkg:cargo/one@1.0.0?vcs_url=git%2Bhttps%3A%2F%2Fg%2Fx%23abc");
    }
}
