//! `dist/bootstrap.sh`, run as the action runs it: a fake action checkout (its Cargo.toml version and
//! `dist/sha256sums.txt`), a release server on 127.0.0.1 (the test registry's plain HTTP routes), a
//! fresh tool cache. The bootstrap must run only bytes whose sha256 the sums file names, cache them,
//! and fall back to `cargo install --locked --path` of the action (a recording `cargo` on PATH) when
//! no release asset exists.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};
use support::sparse_registry::SparseRegistry;

const VERSION: &str = "9.8.7";
const ASSET: &str = "cratemill-9.8.7-x86_64-unknown-linux-musl";
const FAKE_EXE: &[u8] = b"#!/bin/sh\necho fake-cratemill-release\n";

struct Setup {
    dir: tempfile::TempDir,
    server: SparseRegistry,
}

impl Setup {
    /// An action checkout whose sums file lists `sum` for the asset (none when `None`).
    fn new(sum: Option<String>) -> Setup {
        assert_eq!(std::env::consts::ARCH, "x86_64", "these tests name the x86_64 asset");
        let dir = tempfile::tempdir().unwrap();
        let action = dir.path().join("action");
        std::fs::create_dir_all(action.join("dist")).unwrap();
        std::fs::write(
            action.join("Cargo.toml"),
            format!("[package]\nname = \"cratemill\"\nversion = \"{VERSION}\"\n"),
        )
        .unwrap();
        let mut sums = String::from("# test sums\n");
        if let Some(sum) = sum {
            sums.push_str(&format!("{sum}  {ASSET}\n"));
        }
        std::fs::write(action.join("dist/sha256sums.txt"), sums).unwrap();
        for d in ["cache", "temp", "bin"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        // A `cargo` that records its arguments and installs a marker executable into --root.
        let cargo = dir.path().join("bin/cargo");
        std::fs::write(
            &cargo,
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$CARGO_LOG\"\nwhile [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=$2; shift; done\nmkdir -p \"$root/bin\"\nprintf '#!/bin/sh\\necho built-from-source\\n' > \"$root/bin/cratemill\"\nchmod +x \"$root/bin/cratemill\"\n",
        )
        .unwrap();
        make_executable(&cargo);
        Setup { dir, server: SparseRegistry::start(vec![]) }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn asset_route() -> String {
        format!("/v{VERSION}/{ASSET}")
    }

    /// Add a line to the action's sums file.
    fn add_sum(&self, sum: &str, asset: &str) {
        let file = self.path("action/dist/sha256sums.txt");
        let mut sums = std::fs::read_to_string(&file).unwrap();
        sums.push_str(&format!("{sum}  {asset}\n"));
        std::fs::write(file, sums).unwrap();
    }

    /// Run the bootstrap with fresh runner files; returns the output and the `exe` step output.
    fn run(&self, extra: &[(&str, &str)]) -> (Output, Option<String>) {
        self.run_args(&[], extra)
    }

    fn run_args(&self, args: &[&str], extra: &[(&str, &str)]) -> (Output, Option<String>) {
        let out_file = self.path("github_output");
        std::fs::write(&out_file, "").unwrap();
        std::fs::write(self.path("github_path"), "").unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/dist/bootstrap.sh");
        let path = format!("{}:/usr/bin:/bin", self.path("bin").display());
        let mut cmd = Command::new("bash");
        cmd.arg(script)
            .args(args)
            .env_clear()
            .env("PATH", path)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTION_PATH", self.path("action"))
            .env("RUNNER_TOOL_CACHE", self.path("cache"))
            .env("RUNNER_TEMP", self.path("temp"))
            .env("GITHUB_OUTPUT", &out_file)
            .env("GITHUB_PATH", self.path("github_path"))
            .env("CARGO_LOG", self.path("cargo.log"))
            .env("CRATEMILL_DIST_BASE_URL", format!("{}/v{VERSION}", self.server.base_url()));
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let o = cmd.output().unwrap();
        let outputs = std::fs::read_to_string(&out_file).unwrap();
        let exe = outputs.lines().find_map(|l| l.strip_prefix("exe=")).map(str::to_string);
        (o, exe)
    }

    fn cached(&self) -> PathBuf {
        self.path(&format!("cache/cratemill/{VERSION}/x86_64/cratemill"))
    }
}

fn make_executable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn run_exe(exe: &str) -> String {
    let o = Command::new(exe).output().unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_verified_release_asset_is_cached_and_reused() {
    let s = Setup::new(Some(sha(FAKE_EXE)));
    s.server.set_route(&Setup::asset_route(), FAKE_EXE);
    let (o, exe) = s.run(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let exe = exe.expect("exe output");
    assert_eq!(Path::new(&exe), s.cached());
    assert_eq!(run_exe(&exe), "fake-cratemill-release");
    let path_file = std::fs::read_to_string(s.path("github_path")).unwrap();
    assert_eq!(path_file.trim(), s.cached().parent().unwrap().display().to_string());
    assert_eq!(s.server.hits(&Setup::asset_route()), 1);
    assert!(!s.path("cargo.log").exists(), "no source build when the release matches");

    // Second job on the same runner: from the tool cache, no download.
    let (o, exe2) = s.run(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(exe2.as_deref(), Some(exe.as_str()));
    assert_eq!(s.server.hits(&Setup::asset_route()), 1);

    // A cached copy that no longer matches the sums is replaced by a verified download.
    std::fs::write(s.cached(), b"#!/bin/sh\necho tampered\n").unwrap();
    let (o, exe3) = s.run(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(run_exe(exe3.as_deref().unwrap()), "fake-cratemill-release");
    assert_eq!(s.server.hits(&Setup::asset_route()), 2);
}

#[test]
fn an_asset_whose_checksum_does_not_match_is_rejected() {
    let s = Setup::new(Some(sha(b"the real release")));
    s.server.set_route(&Setup::asset_route(), FAKE_EXE);
    let (o, exe) = s.run(&[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(exe.is_none(), "no executable handed on");
    let err = stderr(&o);
    let line = err.lines().find(|l| l.starts_with("error: ")).expect("an error line");
    assert!(line.contains(&sha(FAKE_EXE)) && line.contains("refusing to run it"), "{line}");
    assert_eq!(s.server.hits(&Setup::asset_route()), 1, "it did download");
    assert!(!s.cached().exists(), "the bad bytes were not cached");
    assert!(!s.path("cargo.log").exists(), "a mismatch is not papered over by a source build");
    let leftovers: Vec<_> = std::fs::read_dir(s.path("temp")).unwrap().collect();
    assert!(leftovers.is_empty(), "download removed: {leftovers:?}");
}

fn assert_source_build(s: &Setup, o: &Output, exe: Option<String>) {
    assert!(o.status.success(), "{}", stderr(o));
    let exe = exe.expect("exe output");
    assert_eq!(run_exe(&exe), "built-from-source");
    let args: Vec<String> = std::fs::read_to_string(s.path("cargo.log")).unwrap().lines().map(str::to_string).collect();
    let action = s.path("action").display().to_string();
    assert_eq!(&args[..4], ["install", "--locked", "--path", action.as_str()], "{args:?}");
}

#[test]
fn no_release_asset_falls_back_to_cargo_install_of_the_action() {
    // The sums name the asset, but the release has none (404).
    let s = Setup::new(Some(sha(FAKE_EXE)));
    let (o, exe) = s.run(&[]);
    assert_source_build(&s, &o, exe);
    assert_eq!(s.server.hits(&Setup::asset_route()), 1);
    assert!(!s.cached().exists());
}

#[test]
fn no_sums_line_builds_from_source_without_downloading() {
    let s = Setup::new(None);
    s.server.set_route(&Setup::asset_route(), FAKE_EXE);
    let (o, exe) = s.run(&[]);
    assert_source_build(&s, &o, exe.clone());
    assert_eq!(s.server.requests().len(), 0, "nothing unverifiable is downloaded");

    // The next step of the job reuses the source build; a changed source builds again.
    std::fs::remove_file(s.path("cargo.log")).unwrap();
    let (o, again) = s.run(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(again, exe);
    assert!(!s.path("cargo.log").exists(), "no second cargo install");
    std::fs::write(s.path("action/Cargo.lock"), "# changed\n").unwrap();
    let (o, rebuilt) = s.run(&[]);
    assert_source_build(&s, &o, rebuilt.clone());
    assert_ne!(rebuilt, exe);
}

#[test]
fn a_pinned_version_without_a_release_is_bad_input() {
    let s = Setup::new(Some(sha(FAKE_EXE)));
    let (o, exe) = s.run(&[("INPUT_CRATEMILL_VERSION", "1.0.0")]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(exe.is_none());
    assert!(stderr(&o).contains("pin `cratemill-version` to a released version"), "{}", stderr(&o));
    let (o, _) = s.run(&[("INPUT_CRATEMILL_VERSION", "latest; rm -rf /")]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn the_override_hands_on_an_existing_executable() {
    let s = Setup::new(None);
    let (o, exe) = s.run(&[("CRATEMILL_BOOTSTRAP_EXE", "/bin/true")]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(exe.as_deref(), Some("/bin/true"));
    let (o, _) = s.run(&[("CRATEMILL_BOOTSTRAP_EXE", "/nonexistent/cratemill")]);
    assert_eq!(o.status.code(), Some(3));
}

#[test]
fn the_release_url_comes_from_the_action_path_when_the_repository_variable_is_empty() {
    // GITHUB_ACTION_REPOSITORY is empty in composite-action `run:` steps (actions/runner#2473);
    // the runner puts the action at `.../_actions/OWNER/REPO/REF`, REF a tag or a pinned SHA.
    let s = Setup::new(Some(sha(FAKE_EXE)));
    let sha_ref = "0123456789abcdef0123456789abcdef01234567";
    let pinned = s.path(&format!("runner/_actions/acme/mill/{sha_ref}"));
    std::fs::create_dir_all(pinned.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(s.path("action"), &pinned).unwrap();
    let pinned = pinned.display().to_string();
    // No network here: a proxy that refuses makes the download fail at once, after it is named.
    let env = [
        ("GITHUB_ACTION_PATH", pinned.as_str()),
        ("GITHUB_ACTION_REPOSITORY", ""),
        ("CRATEMILL_DIST_BASE_URL", ""),
        ("https_proxy", "http://127.0.0.1:9"),
    ];
    let (o, exe) = s.run(&env);
    let url = format!("https://github.com/acme/mill/releases/download/v{VERSION}/{ASSET}");
    assert!(stderr(&o).contains(&format!("downloading {url}")), "{}", stderr(&o));
    assert!(o.status.success() && exe.is_some(), "then the source build: {}", stderr(&o));

    // A local `uses: ./` names no repository: no download is tried.
    let (o, _) = s.run(&[("GITHUB_ACTION_REPOSITORY", ""), ("CRATEMILL_DIST_BASE_URL", "")]);
    assert!(!stderr(&o).contains("downloading"), "{}", stderr(&o));
}

const TOOL_ASSET: &str = "cratemill-9.8.7-cargo-auditable-0.7.7-x86_64-unknown-linux-musl";
const FAKE_TOOL: &[u8] = b"#!/bin/sh\necho fake-cargo-auditable\n";

fn tool_route() -> String {
    format!("/v{VERSION}/{TOOL_ASSET}")
}

#[test]
fn a_helper_tool_comes_verified_from_the_same_release() {
    // cargo-auditable, built by cratemill's release beside cratemill and summed in the same file:
    // downloaded, checked, cached, and its path printed; no step output, no cargo.
    let s = Setup::new(None);
    s.add_sum(&sha(FAKE_TOOL), TOOL_ASSET);
    s.server.set_route(&tool_route(), FAKE_TOOL.to_vec());
    let (o, exe) = s.run_args(&["tool", "cargo-auditable", "0.7.7"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let path = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert_eq!(
        path,
        s.path("cache/cargo-auditable/0.7.7-cratemill-9.8.7/x86_64/cargo-auditable").display().to_string()
    );
    assert_eq!(run_exe(&path), "fake-cargo-auditable");
    assert_eq!(exe, None, "the tool is not the action's `exe` output");
    assert!(!s.path("cargo.log").exists(), "nothing built");
    // A second job on the runner: the cached copy still matches, nothing is downloaded.
    let (o, _) = s.run_args(&["tool", "cargo-auditable", "0.7.7"], &[]);
    assert!(o.status.success() && stderr(&o).contains("tool cache hit"), "{}", stderr(&o));
    assert_eq!(s.server.hits(&tool_route()), 1);
}

#[test]
fn a_tampered_helper_tool_is_refused_and_a_missing_one_is_left_to_the_caller() {
    let s = Setup::new(None);
    s.add_sum(&sha(FAKE_TOOL), TOOL_ASSET);
    s.server.set_route(&tool_route(), b"#!/bin/sh\necho evil\n".to_vec());
    let (o, _) = s.run_args(&["tool", "cargo-auditable", "0.7.7"], &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("refusing to run it"), "{}", stderr(&o));
    assert!(!s.path("cache/cargo-auditable/0.7.7-cratemill-9.8.7/x86_64/cargo-auditable").exists(), "never kept");
    // No sums line for this version: exit 1 (dist/run.sh builds it), nothing fetched.
    let s = Setup::new(None);
    s.server.set_route(&tool_route(), FAKE_TOOL.to_vec());
    let (o, _) = s.run_args(&["tool", "cargo-auditable", "0.7.7"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("dist/sha256sums.txt has no {TOOL_ASSET}")), "{}", stderr(&o));
    assert_eq!(s.server.hits(&tool_route()), 0);
    // Bad arguments are bad input.
    let (o, _) = s.run_args(&["tool", "../x", "0.7.7"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

const WHEEL_ROUTE: &str = "/packages/ab/cd/faketool-1.0.0-py3-none-manylinux_x86_64.whl";

/// A wheel (a zip) holding `faketool-1.0.0.data/scripts/faketool`, a script printing `says`, with
/// its executable bit (as maturin's wheels carry it).
fn fake_wheel(dir: &Path, says: &str) -> Vec<u8> {
    let out = dir.join(format!("wheel-{}.whl", sha(says.as_bytes())));
    let py = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], 'w')\ni = zipfile.ZipInfo('faketool-1.0.0.data/scripts/faketool', (1980, 1, 1, 0, 0, 0))\ni.external_attr = 0o100755 << 16\nz.writestr(i, '#!/bin/sh\\necho ' + sys.argv[2] + '\\n')\nz.writestr('faketool-1.0.0.dist-info/METADATA', 'Name: faketool\\n')\nz.close()\n";
    let o = Command::new("python3").args(["-c", py]).arg(&out).arg(says).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read(out).unwrap()
}

impl Setup {
    /// Pin `faketool` 1.0.0 for x86_64 in the action's dist/wheels.txt with `sum`.
    fn pin_wheel(&self, sum: &str) {
        let line = format!(
            "# test pins\nfaketool 1.0.0 x86_64 {sum} faketool-1.0.0.data/scripts/faketool https://files.pythonhosted.org{WHEEL_ROUTE}\n"
        );
        std::fs::write(self.path("action/dist/wheels.txt"), line).unwrap();
    }

    fn run_wheel(&self, name: &str) -> Output {
        let base = self.server.base_url();
        self.run_args(&["wheel", name], &[("CRATEMILL_WHEEL_BASE_URL", base.as_str())]).0
    }
}

#[test]
fn a_pinned_wheel_is_verified_unpacked_and_reused() {
    let s = Setup::new(None);
    let wheel = fake_wheel(s.dir.path(), "fake-zigbuild");
    s.pin_wheel(&sha(&wheel));
    s.server.set_route(WHEEL_ROUTE, wheel);
    let o = s.run_wheel("faketool");
    assert!(o.status.success(), "{}", stderr(&o));
    let exe = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let want = s.path("cache/faketool/1.0.0/x86_64/faketool-1.0.0.data/scripts/faketool");
    assert_eq!(exe, want.display().to_string());
    assert_eq!(run_exe(&exe), "fake-zigbuild", "unpacked with its executable bit");
    assert!(!s.path("cargo.log").exists(), "no pip, no cargo");
    // A second job on the runner: the unpacked copy is complete for this sha256; nothing downloaded.
    let o = s.run_wheel("faketool");
    assert!(o.status.success() && stderr(&o).contains("tool cache hit: faketool 1.0.0"), "{}", stderr(&o));
    assert_eq!(s.server.hits(WHEEL_ROUTE), 1);
    let leftovers: Vec<_> = std::fs::read_dir(s.path("temp")).unwrap().collect();
    assert!(leftovers.is_empty(), "the downloaded wheel is removed once unpacked: {leftovers:?}");
}

#[test]
fn a_tampered_wheel_is_refused_and_an_unpinned_one_is_left_to_the_caller() {
    let s = Setup::new(None);
    let wheel = fake_wheel(s.dir.path(), "fake-zigbuild");
    s.pin_wheel(&sha(&wheel));
    s.server.set_route(WHEEL_ROUTE, fake_wheel(s.dir.path(), "evil"));
    let o = s.run_wheel("faketool");
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("refusing to run it") && stderr(&o).contains("dist/wheels.txt says"), "{}", stderr(&o));
    assert!(!s.path("cache/faketool").exists(), "nothing unpacked");
    // No line for this name: exit 1 (dist/run.sh then uses pip), nothing fetched.
    let o = s.run_wheel("othertool");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("dist/wheels.txt has no othertool for x86_64"), "{}", stderr(&o));
    // Bad arguments are bad input.
    let (o, _) = s.run_args(&["wheel", "../x"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn the_pinned_zig_and_cargo_zigbuild_wheels_come_from_pypi_and_work_together() {
    // The real pins of dist/wheels.txt against the real PyPI (CI installs its Python tools from
    // PyPI, so it reaches it): each sha256 matches, and cargo-zigbuild finds and drives that zig.
    let s = Setup::new(None);
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/dist/wheels.txt"), s.path("action/dist/wheels.txt")).unwrap();
    let mut dirs = Vec::new();
    for name in ["ziglang", "cargo-zigbuild"] {
        let (o, _) = s.run_args(&["wheel", name], &[]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let exe = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
        dirs.push(exe.parent().unwrap().display().to_string());
    }
    let path = format!("{}:/usr/bin:/bin", dirs.join(":"));
    let o = Command::new("cargo-zigbuild")
        .args(["zig", "cc", "--", "--version"])
        .env_clear()
        .env("PATH", &path)
        .env("HOME", s.path("temp"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("clang version"), "{}", String::from_utf8_lossy(&o.stdout));
    let v = Command::new("cargo-zigbuild").arg("--version").env("PATH", &path).output().unwrap();
    // The versions the test suite runs (tests/setup installs them with pip) are the ones pinned.
    let setup =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/setup/30-musl-targets.sh")).unwrap();
    let pinned = |var: &str| setup.lines().find_map(|l| l.strip_prefix(&format!("{var}="))).unwrap().to_string();
    assert_eq!(
        String::from_utf8_lossy(&v.stdout).trim(),
        format!("cargo-zigbuild {}", pinned("CARGO_ZIGBUILD_VERSION"))
    );
    let z = Command::new("zig").arg("version").env("PATH", &path).env("HOME", s.path("temp")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&z.stdout).trim(), pinned("ZIGLANG_VERSION"));
    // The headers left out (other systems' C libraries) are not ones a Linux build reads: C that
    // includes libc headers compiles for the four musl targets and for glibc.
    let c = s.path("hello.c");
    std::fs::write(
        &c,
        "#include <stdio.h>\n#include <pthread.h>\n#include <sys/mman.h>\nint main(void) { puts(\"hi\"); return 0; }\n",
    )
    .unwrap();
    for target in [
        "x86_64-linux-musl",
        "aarch64-linux-musl",
        "riscv64-linux-musl",
        "loongarch64-linux-musl",
        "x86_64-linux-gnu.2.17",
    ] {
        let o = Command::new("zig")
            .args(["cc", "-target", target, "-c"])
            .arg(&c)
            .arg("-o")
            .arg(s.path(&format!("hello-{target}.o")))
            .env_clear()
            .env("PATH", &path)
            .env("HOME", s.path("temp"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{target}: {}", stderr(&o));
    }
}
