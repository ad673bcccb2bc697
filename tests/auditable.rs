//! Binaries that carry their dependency list (issue #21): `cratemill build` runs the build under
//! `cargo auditable` (`--auditable on`, the default), so every executable has a `.dep-v0` section
//! that `rust-audit-info` and `cargo audit bin` read from the shipped bytes; `--auditable off`
//! builds without it, and a missing cargo-auditable is refused with the fix.
//!
//! Needs what tests/setup/40-cargo-auditable.sh installs (cargo-auditable and rust-audit-info from
//! crates.io). The real crate is in tests/musl_targets.rs: hexyl's four musl executables carry a
//! list rust-audit-info reads, checked against each package's SBOM (one build serves both tests).
//!
//! The section is read here with a small ELF reader of its own ([`section`]), not cratemill's.

#[path = "support/hostile.rs"]
mod hostile;
mod support;

use std::path::Path;
use std::process::{Command, Output};

use cratemill::builder::backend::CARGO_AUDITABLE_VERSION;
use hostile::{build, built, Work};
use support::sparse_registry::{SparseRegistry, TestCrate};

const SETUP: &str = "tests/setup/40-cargo-auditable.sh";

/// The bytes of section `name` of a 64-bit little-endian ELF file, if it has one.
fn section<'a>(elf: &'a [u8], name: &str) -> Option<&'a [u8]> {
    assert_eq!((&elf[..4], elf[4], elf[5]), (&b"\x7fELF"[..], 2, 1), "a 64-bit little-endian ELF file");
    let u16_at = |o: usize| u16::from_le_bytes(elf[o..o + 2].try_into().unwrap()) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap()) as usize;
    let (shoff, shentsize, shnum, shstrndx) = (u64_at(0x28), u16_at(0x3a), u16_at(0x3c), u16_at(0x3e));
    let header = |i: usize| shoff + i * shentsize;
    let strtab = u64_at(header(shstrndx) + 0x18);
    (0..shnum).map(header).find_map(|h| {
        let at = strtab + u32_at(h);
        let end = at + elf[at..].iter().position(|&b| b == 0)?;
        (&elf[at..end] == name.as_bytes()).then(|| &elf[u64_at(h + 0x18)..u64_at(h + 0x18) + u64_at(h + 0x20)])
    })
}

fn rust_audit_info(exe: &Path) -> Output {
    Command::new("rust-audit-info")
        .arg(exe)
        .output()
        .unwrap_or_else(|e| panic!("rust-audit-info does not run ({e}): run `bash {SETUP}`"))
}

/// `(name, version, kind)` of every package the embedded list names, read by rust-audit-info.
fn listed(exe: &Path) -> Vec<(String, String, String)> {
    let o = rust_audit_info(exe);
    assert!(o.status.success(), "rust-audit-info {}: {}", exe.display(), String::from_utf8_lossy(&o.stderr));
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let packages = list["packages"].as_array().expect("a packages array");
    let field = |p: &serde_json::Value, k: &str| p[k].as_str().map(String::from);
    packages
        .iter()
        .map(|p| {
            (field(p, "name").unwrap(), field(p, "version").unwrap(), field(p, "kind").unwrap_or("runtime".into()))
        })
        .collect()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A crate with a dependency from a loopback registry, built three times for the host (cargo
/// backend): twice with the list, once with `--auditable off`. The list is the same bytes in both
/// builds (they ran in different work folders), names no path of the machine, and the build without
/// it has no `.dep-v0` section at all.
#[test]
fn the_list_is_reproducible_and_off_embeds_none() {
    let manifest = "[package]\nname = \"listed\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"MIT\"\n\n\
                    [dependencies]\nhelper = \"1\"\n";
    let app = TestCrate::new("listed", "0.1.0")
        .file("Cargo.toml", manifest)
        .file("src/main.rs", "fn main() { println!(\"listed 0.1.0 {}\", helper::answer()); }\n")
        .dep("helper", "^1");
    let helper = TestCrate::new("helper", "1.2.3")
        .file("Cargo.toml", "[package]\nname = \"helper\"\nversion = \"1.2.3\"\nedition = \"2021\"\n")
        .file("src/lib.rs", "pub fn answer() -> u32 { 42 }\n");
    let reg = SparseRegistry::start(vec![helper, app]);
    let dir = tempfile::tempdir().unwrap();
    let mut sections = Vec::new();
    for run in ["first", "second"] {
        let out = dir.path().join(run);
        let o = build(&reg, "listed", &out, &[], &[]);
        let work = Work::of(&out);
        let r = built(&o, &out);
        let bytes = std::fs::read(out.join("bin/listed")).unwrap();
        let dep = section(&bytes, ".dep-v0").expect("a .dep-v0 section").to_vec();
        let names: Vec<String> =
            listed(&out.join("bin/listed")).into_iter().map(|p| format!("{} {}", p.0, p.1)).collect();
        assert_eq!(names, ["helper 1.2.3", "listed 0.1.0"]);
        assert_eq!(r.executables[0].dependency_list.as_ref().map(|l| l.section_bytes), Some(dep.len() as u64));
        // The JSON inside names no folder of this machine (the work folder, the registry cache).
        let json = rust_audit_info(&out.join("bin/listed")).stdout;
        let text = String::from_utf8(json).unwrap();
        assert!(!text.contains('/') && !text.contains(work.0.to_str().unwrap()), "{text}");
        sections.push(dep);
    }
    assert_eq!(sections[0], sections[1], "the list differs between two builds of the same crate");

    let out = dir.path().join("off");
    let o = build(&reg, "listed", &out, &["--auditable", "off"], &[]);
    let _work = Work::of(&out);
    let r = built(&o, &out);
    let bytes = std::fs::read(out.join("bin/listed")).unwrap();
    assert_eq!(section(&bytes, ".dep-v0"), None, "--auditable off embedded a list");
    assert!(section(&bytes, ".text").is_some(), "the reader finds sections");
    assert!(!rust_audit_info(&out.join("bin/listed")).status.success());
    assert!(r.executables[0].dependency_list.is_none());
    let auditable = r.auditable.unwrap();
    assert!(!auditable.asked && !auditable.embedded, "{auditable:?}");
    assert!(!r.attempts.iter().any(|a| a.command.iter().any(|c| c == "auditable")), "{:?}", r.attempts);
}

/// `--auditable on` without cargo-auditable on PATH: one line naming the fix, exit 3, nothing
/// written. The default, `auto`, builds without the list and says so in result.json.
#[test]
fn a_missing_cargo_auditable_is_refused_with_the_fix() {
    let reg = SparseRegistry::start(vec![TestCrate::binary("hello", "1.0.0")]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // cargo, rustc, rustup and bwrap, each linked alone into a PATH folder of their own.
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for tool in ["cargo", "rustc", "rustup", "bwrap"] {
        let found = cratemill::builder::sandbox::find_on_path(tool).unwrap_or_else(|| panic!("{tool} on PATH"));
        std::os::unix::fs::symlink(found, bin.join(tool)).unwrap();
    }
    let o = build(&reg, "hello", &out, &["--auditable", "on"], &[("PATH", bin.to_str().unwrap())]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let text = stderr(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    let fix = format!("run `cargo install cargo-auditable --locked --version {CARGO_AUDITABLE_VERSION}`");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(&fix) && lines[0].contains("--auditable off"),
        "{text}"
    );
    assert!(!out.exists(), "nothing is written when the tool is missing");
    let auto = dir.path().join("auto");
    // The system's tools too (the linker), after the toolchain: still no cargo-auditable.
    let path = format!("{}:/usr/bin:/bin", bin.display());
    assert!(!Path::new("/usr/bin/cargo-auditable").exists());
    let o = build(&reg, "hello", &auto, &[], &[("PATH", &path)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: cratemill::schema::result::BuildResult = cratemill::schema::read(&auto.join("result.json")).unwrap();
    let said = r.auditable.unwrap();
    assert!(!said.embedded && said.note.as_deref().is_some_and(|n| n.contains("not installed")), "{said:?}");
}

/// The version cratemill names in its fix is the one the test setup and the action install.
#[test]
fn the_setup_and_the_action_install_the_pinned_cargo_auditable() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let setup = std::fs::read_to_string(root.join(SETUP)).unwrap();
    assert!(setup.contains(&format!("cargo-auditable@{CARGO_AUDITABLE_VERSION} ")), "{SETUP}");
    let action = std::fs::read_to_string(root.join("dist/run.sh")).unwrap();
    assert!(action.contains(&format!("CARGO_AUDITABLE_VERSION={CARGO_AUDITABLE_VERSION}\n")), "dist/run.sh");
}
