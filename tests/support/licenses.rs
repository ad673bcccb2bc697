//! Independent checks of a package's third-party list (issue #21): `cargo tree`'s packages for the
//! same build, and CycloneDX's own JSON schema through cyclonedx-python-lib
//! (tests/setup/15-python-tools.sh). `#[path = "support/licenses.rs"] mod licenses;` in a test.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use cratemill::schema::result::ThirdParty;

/// `NAME vVERSION` of every package `cargo tree -e normal --target TARGET` lists for `manifest`
/// with `CARGO_HOME=cargo_home`, offline, with the features result.json's `features_used` names
/// (`all`, `default`, or a list; `+extra` appended).
pub fn cargo_tree(manifest: &Path, target: &str, features_used: &str, cargo_home: &Path) -> BTreeSet<String> {
    let mut c = Command::new("cargo");
    c.args(["tree", "-e", "normal", "--target", target, "--prefix", "none", "--format", "{p}", "--offline"]);
    c.arg("--manifest-path").arg(manifest).env("CARGO_HOME", cargo_home);
    let (base, extra) = features_used.split_once('+').unwrap_or((features_used, ""));
    match base {
        "all" => drop(c.arg("--all-features")),
        "default" | "" => {}
        list => drop(c.args(["--features", list])),
    }
    if !extra.is_empty() {
        c.args(["--features", extra]);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "cargo tree: {}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    text.lines().map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" ")).filter(|l| !l.is_empty()).collect()
}

/// `NAME vVERSION` of every package of a third-party list.
pub fn listed(third: &ThirdParty) -> BTreeSet<String> {
    third.packages.iter().map(|p| format!("{} v{}", p.name, p.version)).collect()
}

/// The packages of a CycloneDX SBOM cratemill wrote: the libraries and `metadata.component`.
pub fn in_sbom(sbom: &serde_json::Value) -> BTreeSet<String> {
    sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .chain(std::iter::once(&sbom["metadata"]["component"]))
        .filter(|c| c["type"] == "library" || c["type"] == "application")
        .map(|c| format!("{} v{}", c["name"].as_str().unwrap(), c["version"].as_str().unwrap()))
        .collect()
}

/// CycloneDX 1.6 JSON schema errors of the file at `sbom`, `None` when it is valid.
pub fn cyclonedx_errors(sbom: &Path) -> Option<String> {
    let script = "import sys\nfrom cyclonedx.validation.json import JsonStrictValidator\nfrom cyclonedx.schema import SchemaVersion\n\
        e = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())\nprint(e if e else 'valid')\n";
    let o = Command::new("python3").args(["-c", script]).arg(sbom).output().expect("python3");
    assert!(
        o.status.success(),
        "cyclonedx-python-lib is missing (tests/setup/15-python-tools.sh installs it): {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let said = String::from_utf8_lossy(&o.stdout).trim().to_string();
    (said != "valid").then_some(said)
}
