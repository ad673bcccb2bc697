//! Publish trusts only bytes. `CHECKSUMS` is not authenticated: anyone who can edit the package
//! folder can edit `result.json` and recompute it. So before anything is pushed, everything that
//! matters for safety is re-derived from the bytes about to be pushed and compared with what
//! `result.json` claims: the job (crate name and version valid, target supported), the executables
//! (valid names, at `bin/<name>`, ELF executables for the target's machine and class, static), and
//! the file set (every file one the package format names, nothing else). Any disagreement refuses
//! the whole publish (exit 2) with one line naming it; nothing is pushed.
//!
//! [`check`] is the pure decision core (claims + observed facts in, a [`Disagreement`] out);
//! [`check_package`] is the I/O edge that reads and inspects the executables' bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use sha2::Digest;

use crate::elf::{self, ElfFacts};
use crate::package::{
    srcbuild_file_name, VerifiedPackage, BIN_DIR, CHECKSUMS_FILE, LICENSES_DIR, LOG_FILE, RESULT_FILE, SBOM_FILE,
    SRCBUILD_DIR,
};
use crate::schema::result::BuildResult;
use crate::target::{printable, Target};

/// What the bytes of one executable turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// Not an ELF file at all (a script, random bytes).
    NotElf,
    /// Claims to be ELF but does not parse.
    MalformedElf(String),
    Elf(ElfFacts),
}

/// Where `result.json` and the bytes disagree, or what the package format does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disagreement {
    /// The crate name or version cannot be a crates.io crate.
    BadJob(String),
    /// The target is not one cratemill builds (a Windows or macOS triple, garbage).
    UnsupportedTarget(String),
    /// An executable name that is not a plain file name (`../../x`, `a/b`, control characters).
    BadExecutableName(String),
    /// An executable not at `bin/<name>`.
    ExecutablePath { name: String, path: String },
    /// The same executable name twice.
    DuplicateExecutable(String),
    /// A file in the folder that the package format does not name.
    UnnamedFile(String),
    /// `result.json`'s `files` list differs from the files present.
    FileList { listed_only: Vec<String>, present_only: Vec<String> },
    /// The bytes are not a (well-formed) ELF executable.
    NotExecutable { path: String, why: String },
    /// The ELF is for another machine or class than the target.
    WrongArchitecture { path: String, machine: u16, bits: u8, target: String },
    /// The bytes need a dynamic loader or shared libraries.
    Dynamic { path: String, interpreter: Option<String>, needed: Vec<String> },
    /// A recorded fact about an executable does not match its bytes or the target.
    Claim { path: String, field: &'static str, recorded: String, actual: String },
    /// The bytes read for inspection are not the bytes `CHECKSUMS` verified.
    ChangedUnderfoot(String),
}

impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Disagreement::BadJob(why) => write!(f, "result.json names no valid crate: {why}"),
            Disagreement::UnsupportedTarget(t) => {
                write!(f, "result.json names target `{}`, which cratemill does not build", printable(t))
            }
            Disagreement::BadExecutableName(n) => {
                write!(f, "result.json names an executable `{}`, which is not a plain file name", printable(n))
            }
            Disagreement::ExecutablePath { name, path } => write!(
                f,
                "result.json puts executable `{}` at `{}` instead of {BIN_DIR}/{}",
                printable(name),
                printable(path),
                printable(name)
            ),
            Disagreement::DuplicateExecutable(n) => write!(f, "result.json lists executable `{}` twice", printable(n)),
            Disagreement::UnnamedFile(p) => {
                write!(f, "{} is not a file the package format names (docs/package-format.md)", printable(p))
            }
            Disagreement::FileList { listed_only, present_only } => write!(
                f,
                "result.json's `files` disagree with the folder (listed, absent: [{}]; present, unlisted: [{}])",
                listed_only.iter().map(|p| printable(p)).collect::<Vec<_>>().join(", "),
                present_only.iter().map(|p| printable(p)).collect::<Vec<_>>().join(", ")
            ),
            Disagreement::NotExecutable { path, why } => write!(f, "{path} is not an ELF executable: {why}"),
            Disagreement::WrongArchitecture { path, machine, bits, target } => {
                write!(f, "{path} is a {bits}-bit ELF for machine {machine}, not for {target}")
            }
            Disagreement::Dynamic { path, interpreter, needed } => write!(
                f,
                "{path} is dynamically linked (interpreter {}, needs [{}])",
                interpreter.as_deref().map(printable).unwrap_or_else(|| "none".into()),
                needed.iter().map(|n| printable(n)).collect::<Vec<_>>().join(", ")
            ),
            Disagreement::Claim { path, field, recorded, actual } => write!(
                f,
                "result.json says {path} has {field} `{}` but its bytes say `{}`",
                printable(recorded),
                printable(actual)
            ),
            Disagreement::ChangedUnderfoot(p) => write!(f, "{p} changed while it was being checked"),
        }
    }
}

pub use crate::package::valid_file_name;

/// Check `result` against the files present (`present`: package-relative paths, `CHECKSUMS`
/// included) and what the executables' bytes are (`observed`, keyed by path). Pure.
pub fn check(
    result: &BuildResult,
    present: &[String],
    observed: &BTreeMap<String, Observed>,
) -> Result<(), Disagreement> {
    let spec = format!("{}@{}", result.crate_name, result.version);
    crate::crates_io::CrateSpec::parse(&spec).map_err(|e| Disagreement::BadJob(crate::error::one_line(&e)))?;
    let target = Target::parse(&result.target).map_err(|_| Disagreement::UnsupportedTarget(result.target.clone()))?;
    let mut names = BTreeSet::new();
    for exe in &result.executables {
        if !crate::package::valid_executable_name(&exe.name) {
            return Err(Disagreement::BadExecutableName(exe.name.clone()));
        }
        if exe.path != format!("{BIN_DIR}/{}", exe.name) {
            return Err(Disagreement::ExecutablePath { name: exe.name.clone(), path: exe.path.clone() });
        }
        if !names.insert(exe.name.as_str()) {
            return Err(Disagreement::DuplicateExecutable(exe.name.clone()));
        }
    }
    check_files(result, present, &names)?;
    for exe in &result.executables {
        let facts = match observed.get(&exe.path) {
            Some(Observed::Elf(facts)) => facts,
            Some(Observed::NotElf) | None => {
                return Err(Disagreement::NotExecutable { path: exe.path.clone(), why: "no ELF header".into() })
            }
            Some(Observed::MalformedElf(why)) => {
                return Err(Disagreement::NotExecutable { path: exe.path.clone(), why: why.clone() })
            }
        };
        check_executable(&exe.path, facts, target)?;
        check_claims(exe, facts, target)?;
    }
    Ok(())
}

/// Every present file is one the package format names, and `result.files` lists exactly them.
fn check_files(result: &BuildResult, present: &[String], exes: &BTreeSet<&str>) -> Result<(), Disagreement> {
    let srcbuild = format!("{SRCBUILD_DIR}/{}", srcbuild_file_name(&result.crate_name, &result.version));
    for path in present {
        let named = match path.split_once('/') {
            None => [RESULT_FILE, LOG_FILE, CHECKSUMS_FILE, SBOM_FILE].contains(&path.as_str()),
            Some((dir, rest)) if dir == BIN_DIR => exes.contains(rest),
            Some((dir, rest)) if dir == LICENSES_DIR => valid_file_name(rest),
            Some(_) => *path == srcbuild,
        };
        if !named {
            return Err(Disagreement::UnnamedFile(path.clone()));
        }
    }
    let listed: BTreeSet<&String> = result.files.iter().collect();
    let there: BTreeSet<&String> = present.iter().collect();
    if listed != there {
        let listed_only = listed.difference(&there).map(|s| s.to_string()).collect();
        let present_only = there.difference(&listed).map(|s| s.to_string()).collect();
        return Err(Disagreement::FileList { listed_only, present_only });
    }
    Ok(())
}

/// The bytes themselves: an executable for the target, static.
fn check_executable(path: &str, facts: &ElfFacts, target: &Target) -> Result<(), Disagreement> {
    if !facts.is_executable() {
        let why = format!("ELF type {:?}", facts.kind);
        return Err(Disagreement::NotExecutable { path: path.into(), why });
    }
    if facts.machine != target.elf_machine || facts.bits != target.elf_bits {
        return Err(Disagreement::WrongArchitecture {
            path: path.into(),
            machine: facts.machine,
            bits: facts.bits,
            target: target.triple.into(),
        });
    }
    if !facts.is_static() {
        return Err(Disagreement::Dynamic {
            path: path.into(),
            interpreter: facts.interpreter.clone(),
            needed: facts.needed.clone(),
        });
    }
    Ok(())
}

/// What result.json records about the executable agrees with the bytes and the target.
fn check_claims(
    exe: &crate::schema::result::Executable,
    facts: &ElfFacts,
    target: &Target,
) -> Result<(), Disagreement> {
    let claim = |field, recorded: String, actual: String| {
        (recorded != actual).then(|| Disagreement::Claim { path: exe.path.clone(), field, recorded, actual })
    };
    let mismatch = claim("static", exe.is_static.to_string(), facts.is_static().to_string())
        .or_else(|| claim("arch", exe.arch.clone(), target.arch.to_string()))
        .or_else(|| claim("interpreter", format!("{:?}", exe.interpreter), format!("{:?}", facts.interpreter)))
        .or_else(|| claim("needed", exe.needed.join(","), facts.needed.join(",")));
    mismatch.map_or(Ok(()), Err)
}

/// Read and inspect the executables of a verified package, then [`check`] it. A disagreement is a
/// usage error (exit 2) naming the folder and the disagreement.
pub fn check_package(pkg: &VerifiedPackage) -> anyhow::Result<()> {
    let mut observed = BTreeMap::new();
    let refuse = |d: Disagreement| crate::error::usage(format!("refusing to publish {}: {d}", pkg.dir.display()));
    for exe in &pkg.result.executables {
        let Some(file) = pkg.file(&exe.path) else { continue };
        let bytes = crate::untrusted::read_regular(&file.abs, file.digests.size, crate::untrusted::deadline())
            .map_err(|e| crate::error::usage(format!("{e}: refusing to publish")))?;
        if hex::encode(sha2::Sha256::digest(&bytes)) != file.digests.sha256 {
            return Err(refuse(Disagreement::ChangedUnderfoot(exe.path.clone())));
        }
        let seen = match elf::inspect(&bytes) {
            Ok(Some(facts)) => Observed::Elf(facts),
            Ok(None) => Observed::NotElf,
            Err(e) => Observed::MalformedElf(e.to_string()),
        };
        observed.insert(exe.path.clone(), seen);
    }
    let mut present: Vec<String> = pkg.files.iter().map(|f| f.path.clone()).collect();
    present.push(pkg.checksums.path.clone());
    check(&pkg.result, &present, &observed).map_err(refuse)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::ElfKind;
    use crate::schema::result::fixtures::executable;
    use crate::schema::result::Executable;

    fn static_x86_64() -> ElfFacts {
        ElfFacts { kind: ElfKind::Executable, machine: 62, bits: 64, interpreter: None, needed: vec![] }
    }

    fn result() -> BuildResult {
        let mut r = BuildResult::new("tool", "1.0.0", "x86_64-unknown-linux-musl", crate::schema::Backend::Cargo);
        r.executables.push(Executable { name: "tool".into(), path: "bin/tool".into(), ..executable("tool") });
        r.files = present();
        r
    }

    fn present() -> Vec<String> {
        [
            "CHECKSUMS",
            "bin/tool",
            "build.log",
            "licenses/LICENSE",
            "result.json",
            "srcbuild/tool-1.0.0-srcbuild.tar.zst",
        ]
        .map(String::from)
        .to_vec()
    }

    fn seen(facts: ElfFacts) -> BTreeMap<String, Observed> {
        [("bin/tool".to_string(), Observed::Elf(facts))].into()
    }

    #[test]
    fn an_honest_package_passes() {
        assert_eq!(check(&result(), &present(), &seen(static_x86_64())), Ok(()));
    }

    #[test]
    fn edited_claims_are_caught_by_the_bytes() {
        let mut r = result();
        r.executables[0].is_static = false;
        assert!(matches!(
            check(&r, &present(), &seen(static_x86_64())),
            Err(Disagreement::Claim { field: "static", .. })
        ));
        let mut r = result();
        r.target = "x86_64-pc-windows-msvc".into();
        assert!(matches!(check(&r, &present(), &seen(static_x86_64())), Err(Disagreement::UnsupportedTarget(_))));
        let mut r = result();
        r.target = "aarch64-unknown-linux-musl".into();
        assert!(matches!(check(&r, &present(), &seen(static_x86_64())), Err(Disagreement::WrongArchitecture { .. })));
        let dynamic = ElfFacts { interpreter: Some("/lib/ld.so".into()), ..static_x86_64() };
        assert!(matches!(check(&result(), &present(), &seen(dynamic)), Err(Disagreement::Dynamic { .. })));
    }

    #[test]
    fn names_and_files_outside_the_format_are_refused() {
        let mut r = result();
        r.executables[0].name = "../../../x".into();
        r.executables[0].path = "bin/../../../x".into();
        assert!(matches!(check(&r, &present(), &seen(static_x86_64())), Err(Disagreement::BadExecutableName(_))));
        let mut files = present();
        files.push("planted.sh".into());
        let mut r = result();
        r.files = files.clone();
        assert_eq!(check(&r, &files, &seen(static_x86_64())), Err(Disagreement::UnnamedFile("planted.sh".into())));
        let mut files = present();
        files.push("bin/extra".into());
        assert_eq!(
            check(&result(), &files, &seen(static_x86_64())),
            Err(Disagreement::UnnamedFile("bin/extra".into()))
        );
        assert!(matches!(
            check(&result(), &present(), &[("bin/tool".to_string(), Observed::NotElf)].into()),
            Err(Disagreement::NotExecutable { .. })
        ));
    }

    #[test]
    fn file_names() {
        for bad in ["", ".", "..", "a/b", "a\\b", "x\u{7}", "x\n"] {
            assert!(!valid_file_name(bad), "{bad:?}");
        }
        assert!(valid_file_name("rg") && valid_file_name("LICENSE-MIT") && valid_file_name(".hidden"));
    }
}
