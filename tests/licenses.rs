//! What a redistributor owes (issue #21): every package compiled into a build's executables, with
//! its license, in the notice, the machine-readable list and the CycloneDX SBOM of the package.
//! A crate from a local sparse registry depends on one package without a license file, one with
//! an expression that is no SPDX expression, one only its build script uses and one only Windows
//! uses: the first two are listed and flagged, the build still succeeds, the last two are not
//! listed, and the list equals what `cargo tree -e normal --target T` says for the same build.

#[path = "support/hostile.rs"]
mod hostile;
#[path = "support/licenses.rs"]
mod licenses;
mod support;

use cratemill::schema::result::{LicenseProblem, PackageRole};
use hostile::{build, built, Work};
use support::sparse_registry::{SparseRegistry, TestCrate};

/// The host's target: a musl build here needs `-Zbuild-std`, whose std dependencies (cfg-if, libc)
/// come from crates.io, which this local registry stands in for (tests/musl_targets.rs lists
/// hexyl's packages for the musl targets against real crates.io).
const TARGET: &str = "x86_64-unknown-linux-gnu";
const MIT_TEXT: &str = "MIT License\n\nCopyright (c) 2026 The licapp authors\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\nof this software and associated documentation files (the \"Software\"), to deal\nin the Software without restriction, including without limitation the rights\nto use, copy, modify, merge, publish, distribute, sublicense, and/or sell\ncopies of the Software, and to permit persons to whom the Software is\nfurnished to do so, subject to the following conditions:\n\nThe above copyright notice and this permission notice shall be included in all\ncopies or substantial portions of the Software.\n\nTHE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR\nIMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,\nFITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE\nAUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER\nLIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,\nOUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE\nSOFTWARE.\n";

/// A library `name` 1.0.0 with `license` (none: no `license` key) and, when given, a LICENSE file.
fn library(name: &str, license: Option<&str>, file: Option<&str>) -> TestCrate {
    let license = license.map(|l| format!("license = \"{l}\"\n")).unwrap_or_default();
    let manifest = format!("[package]\nname = \"{name}\"\nversion = \"1.0.0\"\nedition = \"2021\"\n{license}");
    let c =
        TestCrate::new(name, "1.0.0").file("Cargo.toml", manifest).file("src/lib.rs", "pub fn one() -> u32 { 1 }\n");
    match file {
        Some(text) => c.file("LICENSE", text),
        None => c,
    }
}

fn registry() -> SparseRegistry {
    let manifest = "[package]\nname = \"licapp\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"MIT\"\n\n\
        [dependencies]\nnolicfile = \"1\"\nbadexpr = \"1\"\n\n[build-dependencies]\nbuildonly = \"1\"\n\n\
        [target.'cfg(windows)'.dependencies]\nwinonly = \"1\"\n";
    let main = "fn main() { println!(\"licapp 0.1.0 {}\", nolicfile::one() + badexpr::one()); }\n";
    let app = TestCrate::new("licapp", "0.1.0")
        .file("Cargo.toml", manifest)
        .file("build.rs", "fn main() {}\n")
        .file("src/main.rs", main)
        .file("LICENSE", MIT_TEXT)
        .dep_of("nolicfile", "^1", "normal", None)
        .dep_of("badexpr", "^1", "normal", None)
        .dep_of("buildonly", "^1", "build", None)
        .dep_of("winonly", "^1", "normal", Some("cfg(windows)"));
    SparseRegistry::start(vec![
        app,
        library("nolicfile", Some("MIT"), None),
        library("badexpr", Some("MIT and some other words"), Some(MIT_TEXT)),
        library("buildonly", Some("MIT"), Some(MIT_TEXT)),
        library("winonly", Some("MIT"), Some(MIT_TEXT)),
    ])
}

#[test]
fn every_compiled_package_is_listed_with_its_license_and_flagged_ones_still_build() {
    let reg = registry();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = build(&reg, "licapp", &out, &["--target", TARGET], &[]);
    if !o.status.success() {
        eprintln!("{}", std::fs::read_to_string(out.join("build.log")).unwrap_or_default());
    }
    let r = built(&o, &out);
    let third = r.third_party.clone().expect("result.json has third_party");
    let listed = licenses::listed(&third);
    let work = Work::of(&out);
    let manifest = work.0.join("src/licapp-0.1.0/Cargo.toml");
    let oracle = licenses::cargo_tree(&manifest, TARGET, "default", &work.0.join("cargo-home"));
    assert_eq!(listed, oracle, "the list is what cargo tree -e normal --target {TARGET} says");
    let names: Vec<&str> = third.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["licapp", "badexpr", "nolicfile"], "no build-only, no Windows-only package");
    assert_eq!(third.packages[0].role, PackageRole::Root);

    let get = |name: &str| third.packages.iter().find(|p| p.name == name).unwrap();
    let no_file = get("nolicfile");
    assert_eq!(no_file.problems, [LicenseProblem::NoLicenseFile]);
    assert!(no_file.texts.len() == 1 && no_file.texts[0].reference && no_file.texts[0].spdx.as_deref() == Some("MIT"));
    assert_eq!(get("badexpr").problems, [LicenseProblem::InvalidExpression]);
    assert!(get("licapp").problems.is_empty(), "{:?}", get("licapp").problems);
    // Each registry package's checksum is its .crate's, as the index lists it.
    assert_eq!(get("nolicfile").checksum, Some(library("nolicfile", Some("MIT"), None).cksum()));
    assert_eq!(
        get("badexpr").checksum,
        Some(library("badexpr", Some("MIT and some other words"), Some(MIT_TEXT)).cksum())
    );

    let notice = std::fs::read_to_string(out.join(&third.notice)).unwrap();
    for needle in
        ["licapp 0.1.0", "nolicfile 1.0.0", "badexpr 1.0.0", "SPDX reference text of MIT", "not an SPDX expression"]
    {
        assert!(notice.contains(needle), "the notice lacks `{needle}`:\n{notice}");
    }
    assert!(!notice.contains("buildonly") && !notice.contains("winonly"), "{notice}");
    assert!(notice.contains("Copyright (c) 2026 The licapp authors"), "the crates' own texts are in it");

    let sbom_path = out.join(&third.sbom);
    assert_eq!(licenses::cyclonedx_errors(&sbom_path), None, "the SBOM validates against CycloneDX 1.6");
    let sbom: serde_json::Value = serde_json::from_slice(&std::fs::read(&sbom_path).unwrap()).unwrap();
    assert_eq!(licenses::in_sbom(&sbom), listed, "the SBOM's packages are the notice's");
    let exe = &r.executables[0];
    assert!(sbom["components"].as_array().unwrap().iter().any(|c| c["hashes"][0]["content"] == exe.sha256.as_str()));

    // The three files are package files: in result.json's list, covered by CHECKSUMS.
    let checksums = std::fs::read_to_string(out.join("CHECKSUMS")).unwrap();
    for f in [&third.notice, &third.list, &third.sbom] {
        assert!(r.files.contains(f) && checksums.contains(f.as_str()), "{f}");
    }
}

#[test]
fn the_validator_catches_a_broken_sbom() {
    // The detector above can fail: the same validator refuses a hash algorithm CycloneDX does not name.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.cdx.json");
    let doc = serde_json::json!({
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "components": [{ "type": "library", "name": "x", "hashes": [{ "alg": "SHA256", "content": "00" }] }],
    });
    std::fs::write(&bad, doc.to_string()).unwrap();
    assert!(licenses::cyclonedx_errors(&bad).is_some_and(|e| e.contains("SHA256")));
}
