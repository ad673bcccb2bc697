//! Result folders for `cratemill report` tests: published jobs with executables and layers,
//! failed jobs with evidence and a build.log, run through the binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use cratemill::schema::publish::{PublishRecord, PushedLayer, PushedReference, ReferenceKind};
use cratemill::schema::result::{BuildResult, Executable, Failure, FailureClass, Smoke, SmokeStatus, Status};
use cratemill::schema::{Backend, Phase};

pub const X86: &str = "x86_64-unknown-linux-musl";
pub const ARM: &str = "aarch64-unknown-linux-musl";

pub const ALL_CLASSES: [FailureClass; 16] = [
    FailureClass::MissingSystemLibrary,
    FailureClass::BuildScriptFailed,
    FailureClass::CompileError,
    FailureClass::LinkError,
    FailureClass::UnsupportedTarget,
    FailureClass::NoExecutables,
    FailureClass::Timeout,
    FailureClass::OutOfResources,
    FailureClass::FetchFailed,
    FailureClass::ChecksumMismatch,
    FailureClass::UnsafeArchive,
    FailureClass::RustVersion,
    FailureClass::NotStatic,
    FailureClass::SmokeCrashed,
    FailureClass::NotFound,
    FailureClass::Unknown,
];

pub fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cratemill"))
        .args(args)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

pub struct Job<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub target: &'a str,
    pub finished: &'a str,
    pub build_ms: u64,
}

pub fn job<'a>(name: &'a str, version: &'a str, target: &'a str) -> Job<'a> {
    Job { name, version, target, finished: "2026-11-01T00:00:00Z", build_ms: 60_000 }
}

pub fn base(j: &Job) -> BuildResult {
    let mut r = BuildResult::new(j.name, j.version, j.target, Backend::Zigbuild);
    r.finished_at = j.finished.into();
    r.timings_ms.insert("total".into(), j.build_ms);
    r
}

pub fn folder(dir: &Path, j: &Job) -> PathBuf {
    dir.join(format!("{}-{}-{}-{}", j.name, j.version, j.target, j.finished.replace(':', "")))
}

/// A published job with the given executables (name, size).
pub fn published(dir: &Path, j: &Job, exes: &[(&str, u64)]) -> PathBuf {
    let mut r = base(j);
    r.status = Status::Built;
    r.licenses.declared = Some("MIT".into());
    let mut layers = Vec::new();
    for (i, (name, size)) in exes.iter().enumerate() {
        let sha = format!("{:064x}", i + 1 + size.to_string().len() * 1000);
        r.executables.push(Executable {
            name: name.to_string(),
            path: format!("bin/{name}"),
            size: *size,
            sha256: sha.clone(),
            blake3: String::new(),
            arch: "x86_64".into(),
            is_static: true,
            interpreter: None,
            needed: vec![],
            smoke: Smoke {
                status: SmokeStatus::Passed,
                args: vec!["--version".into()],
                runner: None,
                exit_code: Some(0),
                signal: None,
                first_line: None,
                note: None,
            },
            dependency_list: None,
        });
        layers.push(PushedLayer {
            title: format!("bin/{name}"),
            media_type: "application/vnd.cratemill.executable.v1".into(),
            digest: format!("sha256:{sha}"),
            size: *size,
        });
    }
    let dir = folder(dir, j);
    cratemill::schema::write(&dir.join("result.json"), &r).unwrap();
    let mut p = PublishRecord::new(j.name, j.version, j.target, "ghcr.io/acme");
    p.references.push(PushedReference {
        reference: format!("ghcr.io/acme/{}:{}-{}", j.name, j.version, j.target),
        digest: format!("sha256:{:064x}", 0xabc),
        kind: ReferenceKind::Binary,
        artifact_type: "application/vnd.cratemill.package.v1".into(),
        unchanged: false,
        blobs_uploaded: 1,
        blobs_present: 0,
        layers,
    });
    cratemill::schema::write(&dir.join("publish.json"), &p).unwrap();
    dir
}

/// A published job whose result lists its compiled packages: the crate itself (MIT), then each
/// (name, license expression) of `deps`.
pub fn published_licensed(dir: &Path, j: &Job, exes: &[(&str, u64)], deps: &[(&str, Option<&str>)]) -> PathBuf {
    use cratemill::schema::result::{CompiledPackage, PackageRole, ThirdParty};
    let dir = published(dir, j, exes);
    let mut r: BuildResult = cratemill::schema::read(&dir.join("result.json")).unwrap();
    let package = |name: &str, license: Option<&str>, role| CompiledPackage {
        name: name.into(),
        version: "1.0.0".into(),
        role,
        source: "crates.io".into(),
        checksum: None,
        license: license.map(str::to_string),
        texts: Vec::new(),
        problems: Vec::new(),
    };
    let mut packages = vec![package(j.name, Some("MIT"), PackageRole::Root)];
    packages.extend(deps.iter().map(|(n, l)| package(n, *l, PackageRole::Library)));
    r.third_party = Some(ThirdParty {
        packages,
        notice: "licenses/THIRD-PARTY-NOTICES.txt".into(),
        list: "licenses/third-party.json".into(),
        sbom: "sbom.cdx.json".into(),
    });
    cratemill::schema::write(&dir.join("result.json"), &r).unwrap();
    dir
}

pub fn failed(dir: &Path, j: &Job, class: FailureClass) -> PathBuf {
    let mut r = base(j);
    r.failure = Some(Failure {
        class,
        phase: Phase::Build,
        message: format!("{class}: {} broke", j.name),
        evidence: vec![format!("error: evidence for {class}"), "  second line".into()],
    });
    let dir = folder(dir, j);
    cratemill::schema::write(&dir.join("result.json"), &r).unwrap();
    std::fs::write(dir.join("build.log"), "[0.000] log\n").unwrap();
    dir
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
