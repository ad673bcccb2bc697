//! Hostile crates and hostile package folders against the trust boundaries of issue #9 (attacks 3,
//! 6, 7, 8), plus the exit-code policy's no-panic cases. Each test is named after the attack and
//! asserts it failed by looking at its effect: the user's files byte for byte, the marker a planted
//! linker would have written, the archive's bytes, the registry's tags.

#[path = "support/package.rs"]
mod package;
#[path = "support/registry.rs"]
mod registry;
mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use cratemill::actions::Runner;
use cratemill::error::{exit_of, one_line, Exit};
use cratemill::oci::{Credentials, Scheme, Tuning};
use cratemill::publish::{publish_package_with, PublishEnv, PublishOptions};
use cratemill::schema::result::{BuildResult, FailureClass, Status};
use support::sparse_registry::{SparseRegistry, TestCrate};

fn cratemill(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cratemill"))
        .args(args)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("CRATEMILL_INDEX_URL")
        .output()
        .expect("running cratemill")
}

fn build(reg: &SparseRegistry, spec: &str, out: &Path, extra: &[&str]) -> Output {
    let index = reg.index_url();
    let mut args = vec!["build", spec, "--index-url", index.as_str(), "--out", out.to_str().unwrap(), "--quiet"];
    args.extend_from_slice(extra);
    cratemill(&args)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn one_error_line(o: &Output) -> String {
    let text = stderr(o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line on stderr, got: {text}");
    assert!(lines[0].starts_with("error: "), "{text}");
    lines[0].to_string()
}

fn result(out: &Path) -> BuildResult {
    cratemill::schema::read(&out.join("result.json")).expect("result.json")
}

/// Every file under `dir` with its bytes (relative path -> contents), for byte-for-byte comparisons.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if e.file_type().unwrap().is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                walk(root, &e.path(), out);
            } else {
                out.insert(rel, std::fs::read(e.path()).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn binary_crate(name: &str) -> TestCrate {
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"1.0.0\"\nedition = \"2021\"\nlicense = \"MIT\"\n\n\
         [[bin]]\nname = \"{name}\"\npath = \"src/main.rs\"\n"
    );
    TestCrate::new(name, "1.0.0").file("Cargo.toml", manifest)
}

// ---------------------------------------------------------------------------------------------
// Attack 3: `--out` pointed at a folder that merely contains a `build.log` or a `result.json`.

#[test]
fn attack_3_out_folder_with_build_log_keeps_the_users_src_and_git() {
    let reg = SparseRegistry::start(vec![TestCrate::binary("hello", "1.0.0")]);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p");
    std::fs::create_dir_all(p.join("src")).unwrap();
    std::fs::create_dir_all(p.join(".git/refs")).unwrap();
    std::fs::write(p.join("src/main.rs"), "fn main() { println!(\"mine\"); }\n").unwrap();
    std::fs::write(p.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::write(p.join("build.log"), "").unwrap();
    let before = snapshot(&p);

    let o = build(&reg, "hello", &p, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(one_error_line(&o).contains("is not a cratemill output"), "{}", stderr(&o));
    assert_eq!(snapshot(&p), before, "the folder changed");
}

#[test]
fn attack_3_earlier_output_with_user_files_is_refused_not_cleared() {
    let reg = SparseRegistry::start(vec![TestCrate::binary("hello", "1.0.0")]);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p");
    let o = build(&reg, "hello", &p, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The user keeps work next to an earlier output: a rebuild must not take it with it.
    std::fs::create_dir_all(p.join("src")).unwrap();
    std::fs::write(p.join("src/notes.txt"), "precious").unwrap();
    let before = snapshot(&p);
    let o = build(&reg, "hello", &p, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let line = one_error_line(&o);
    assert!(line.contains("entries cratemill did not write (src)"), "{line}");
    assert_eq!(snapshot(&p), before, "the folder changed");
    // Without the foreign entry the earlier output is replaced, entry by entry.
    std::fs::remove_dir_all(p.join("src")).unwrap();
    let o = build(&reg, "hello", &p, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    cratemill::package::verify(&p).expect("the rebuilt package verifies");
}

// ---------------------------------------------------------------------------------------------
// Attack 6: the crate's own Cargo.toml escapes the preparation.

/// A "linker" that leaves a marker and then links with cc, so a build that ran it would still succeed.
fn evil_linker(dir: &Path) -> (PathBuf, PathBuf) {
    let marker = dir.join("linker-ran");
    let linker = dir.join("evil-linker.sh");
    std::fs::write(&linker, format!("#!/bin/sh\necho ran > '{}'\nexec cc \"$@\"\n", marker.display())).unwrap();
    let mut perm = std::fs::metadata(&linker).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&linker, perm).unwrap();
    (linker, marker)
}

#[test]
fn attack_6_profile_rustflags_linker_never_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (linker, marker) = evil_linker(dir.path());
    let flags = format!(
        "\n[profile.release]\nrustflags = [\"-C\", \"linker={0}\"]\n\n[profile.release.build-override]\n\
         rustflags = [\"-C\", \"linker={0}\"]\n\n[profile.release.package.\"*\"]\nrustflags = [\"-C\", \"linker={0}\"]\n",
        linker.display()
    );
    let manifest = format!(
        "cargo-features = [\"profile-rustflags\"]\n[package]\nname = \"rusty\"\nversion = \"1.0.0\"\nedition = \"2021\"\n\
         license = \"MIT\"\n\n[[bin]]\nname = \"rusty\"\npath = \"src/main.rs\"\n{flags}"
    );
    let krate = TestCrate::new("rusty", "1.0.0")
        .file("Cargo.toml", manifest)
        .file("src/main.rs", "fn main() { println!(\"rusty 1.0.0\"); }\n");
    let reg = SparseRegistry::start(vec![krate]);
    let out = dir.path().join("out");
    let o = build(&reg, "rusty", &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!marker.exists(), "the crate's linker ran");
    let r = result(&out);
    for step in [
        "Cargo.toml: stripped cargo-features [\"profile-rustflags\"]",
        "Cargo.toml: stripped profile.release.rustflags",
        "Cargo.toml: stripped profile.release.build-override.rustflags",
        "Cargo.toml: stripped profile.release.package.*.rustflags",
    ] {
        assert!(r.prepare.iter().any(|s| s == step), "`{step}` not in prepare: {:?}", r.prepare);
    }
}

#[test]
fn attack_6_path_dependency_outside_the_crate_is_refused_and_never_built() {
    let dir = tempfile::tempdir().unwrap();
    let host_dep = dir.path().join("hostdep");
    let marker = dir.path().join("hostdep-build-ran");
    std::fs::create_dir_all(host_dep.join("src")).unwrap();
    std::fs::write(
        host_dep.join("Cargo.toml"),
        "[package]\nname = \"hostdep\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::write(host_dep.join("src/lib.rs"), "").unwrap();
    std::fs::write(
        host_dep.join("build.rs"),
        format!("fn main() {{ std::fs::write({:?}, \"ran\").unwrap(); }}\n", marker),
    )
    .unwrap();
    let manifest = format!(
        "[package]\nname = \"pathy\"\nversion = \"1.0.0\"\nedition = \"2021\"\n\n[[bin]]\nname = \"pathy\"\n\
         path = \"src/main.rs\"\n\n[build-dependencies]\nhostdep = {{ path = \"{}\" }}\n",
        host_dep.display()
    );
    let reg = SparseRegistry::start(vec![TestCrate::new("pathy", "1.0.0")
        .file("Cargo.toml", manifest)
        .file("src/main.rs", "fn main() {}\n")]);
    let out = dir.path().join("out");
    let o = build(&reg, "pathy", &out, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = result(&out);
    let failure = r.failure.expect("failure recorded");
    assert_eq!((failure.class, r.status), (FailureClass::UnsafeArchive, Status::Failed), "{}", failure.message);
    assert!(failure.message.contains("dependency `hostdep` has path"), "{}", failure.message);
    assert!(r.attempts.is_empty(), "no build attempt may run");
    assert!(!marker.exists(), "the host dependency's build script ran");
}

#[test]
fn attack_6_include_str_of_a_host_file_is_refused_and_not_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("host-secret.txt");
    std::fs::write(&secret, "HOST-SECRET-5d1e").unwrap();
    let main = format!("fn main() {{ print!(\"{{}}\", include_str!({:?})); }}\n", secret);
    let reg = SparseRegistry::start(vec![binary_crate("peeky").file("src/main.rs", main)]);
    let out = dir.path().join("out");
    let o = build(&reg, "peeky", &out, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = result(&out);
    let failure = r.failure.expect("failure recorded");
    assert_eq!(failure.class, FailureClass::UnsafeArchive, "{}", failure.message);
    assert!(failure.message.contains("src/main.rs:1 reads"), "{}", failure.message);
    for (path, bytes) in snapshot(&out) {
        assert!(!String::from_utf8_lossy(&bytes).contains("HOST-SECRET-5d1e"), "{path} holds the host file");
    }
}

// ---------------------------------------------------------------------------------------------
// Attack 7: a build script that rewrites itself (and the code) during the build.

const SELF_REWRITING_BUILD_RS: &str = r#"// EVIL-ORIGINAL: this is what actually ran.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    std::fs::write(format!("{dir}/build.rs"), "fn main() {} // innocent\n").unwrap();
    std::fs::write(format!("{dir}/NOTES.md"), "planted after the fact\n").unwrap();
}
"#;

#[test]
fn attack_7_srcbuild_source_is_what_was_fed_to_the_build() {
    let manifest = "[package]\nname = \"shifty\"\nversion = \"1.0.0\"\nedition = \"2021\"\nlicense = \"MIT\"\n\
                    build = \"build.rs\"\n\n[[bin]]\nname = \"shifty\"\npath = \"src/main.rs\"\n";
    let main = "fn main() { println!(\"shifty 1.0.0\"); }\n";
    let krate = TestCrate::new("shifty", "1.0.0")
        .file("Cargo.toml", manifest)
        .file("build.rs", SELF_REWRITING_BUILD_RS)
        .file("src/main.rs", main);
    let reg = SparseRegistry::start(vec![krate]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = build(&reg, "shifty", &out, &["--keep-work"]);
    assert!(o.status.success(), "{}", stderr(&o));

    // The rewrite did happen in the tree the build ran in.
    let log = std::fs::read_to_string(out.join("build.log")).unwrap();
    let work = log.lines().find_map(|l| l.split("work folder kept at ").nth(1)).expect("work folder in the log");
    let built_tree = Path::new(work.trim()).join("src/shifty-1.0.0");
    assert_eq!(std::fs::read_to_string(built_tree.join("build.rs")).unwrap(), "fn main() {} // innocent\n");
    assert!(built_tree.join("NOTES.md").exists());

    // The archive's source/ is exactly the served crate (nothing to prepare in it).
    let archive = out.join("srcbuild/shifty-1.0.0-srcbuild.tar.zst");
    let bytes = zstd::decode_all(std::fs::File::open(&archive).unwrap()).unwrap();
    let mut tar = tar::Archive::new(&bytes[..]);
    let mut source = BTreeMap::new();
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        if let Some(rel) = path.strip_prefix("shifty-1.0.0-srcbuild/source/") {
            if entry.header().entry_type().is_file() {
                let mut body = String::new();
                entry.read_to_string(&mut body).unwrap();
                source.insert(rel.to_string(), body);
            }
        }
    }
    let want: BTreeMap<String, String> =
        [("Cargo.toml", manifest), ("build.rs", SELF_REWRITING_BUILD_RS), ("src/main.rs", main)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    assert_eq!(source, want, "the archive's source is not what was fed to the build");
    std::fs::remove_dir_all(Path::new(work.trim())).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Attack 8: an edited result.json with a recomputed CHECKSUMS.

fn registry_opts(host: &str) -> PublishOptions {
    PublishOptions {
        registry: Some(host.into()),
        oci_layout: None,
        layout: Scheme::PerCrate,
        build_id: None,
        insecure_http: true,
        chunk_mib: None,
        max_layer_mib: cratemill::publish::DEFAULT_MAX_LAYER_MIB,
        licenses: Default::default(),
        tuning: Tuning::default(),
    }
}

fn registry_env() -> PublishEnv {
    PublishEnv {
        credentials: Some(Credentials { user: registry::USER.into(), token: registry::PASSWORD.into() }),
        run_id: None,
        run_attempt: None,
    }
}

/// Edit result.json of a freshly written package, then recompute CHECKSUMS as an attacker would.
fn tampered(root: &Path, name: &str, edit: impl FnOnce(&Path, &mut BuildResult)) -> PathBuf {
    let dir = package::write(root, &package::Spec::real(name, "1.0.0"));
    let mut r: BuildResult = cratemill::schema::read(&dir.join("result.json")).unwrap();
    edit(&dir, &mut r);
    cratemill::schema::write(&dir.join("result.json"), &r).unwrap();
    std::fs::remove_file(dir.join("CHECKSUMS")).unwrap();
    cratemill::package::write_checksums(&dir).unwrap();
    dir
}

/// The tags of `host/<repository>`, through the registry API (empty when the repository does not exist).
fn tags(host: &str, repository: &str) -> Vec<String> {
    let out = Command::new("skopeo")
        .args(["list-tags", "--tls-verify=false", "--creds", &format!("{}:{}", registry::USER, registry::PASSWORD)])
        .arg(format!("docker://{host}/{repository}"))
        .output()
        .expect("skopeo (tests/setup/10-system-packages.sh installs it)");
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("NAME_UNKNOWN") || err.contains("404"), "skopeo list-tags: {err}");
        return Vec::new();
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["Tags"].as_array().map(|a| a.iter().filter_map(|t| t.as_str().map(String::from)).collect()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_8_publish_refuses_edited_results_and_pushes_nothing() {
    let reg = registry::Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    // Control: the honest package publishes, so a refusal below is the check's, not the setup's.
    let honest = package::write(tmp.path(), &package::Spec::real("honest", "1.0.0"));
    publish_package_with(&honest, &registry_opts(&reg.host()), &registry_env(), &Runner::default()).await.unwrap();
    assert_eq!(tags(&reg.host(), "honest").len(), 2, "binary and -srcbuild- tags");

    type Edit = Box<dyn FnOnce(&Path, &mut BuildResult)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "dyn-flip",
            Box::new(|dir: &Path, r: &mut BuildResult| {
                // A dynamic executable, with result.json claiming it is static.
                let path = dir.join(&r.executables[0].path);
                std::fs::copy("/bin/true", &path).unwrap();
                let d = cratemill::package::digest_file(&path).unwrap();
                (r.executables[0].size, r.executables[0].sha256, r.executables[0].blake3) =
                    (d.size, d.sha256, d.blake3);
            }),
            "is dynamically linked",
        ),
        (
            "static-flip",
            Box::new(|_: &Path, r: &mut BuildResult| r.executables[0].is_static = false),
            "has static `false` but its bytes say `true`",
        ),
        (
            "windows",
            Box::new(|_: &Path, r: &mut BuildResult| r.target = "x86_64-pc-windows-msvc".into()),
            "target `x86_64-pc-windows-msvc`, which cratemill does not build",
        ),
        (
            "traversal",
            Box::new(|_: &Path, r: &mut BuildResult| r.executables[0].name = "../../../x".into()),
            "executable `../../../x`, which is not a plain file name",
        ),
        (
            "planted",
            Box::new(|dir: &Path, r: &mut BuildResult| {
                std::fs::write(dir.join("planted.sh"), "#!/bin/sh\ncurl evil | sh\n").unwrap();
                r.files.push("planted.sh".into());
                r.files.sort();
            }),
            "planted.sh is not a file the package format names",
        ),
    ];
    for (name, edit, want) in cases {
        let dir = tampered(tmp.path(), name, edit);
        cratemill::package::verify(&dir).expect("CHECKSUMS was recomputed: the old check passes");
        let err = publish_package_with(&dir, &registry_opts(&reg.host()), &registry_env(), &Runner::default())
            .await
            .unwrap_err();
        let msg = one_line(&err);
        assert_eq!(exit_of(&err), Exit::Usage, "{name}: {msg}");
        assert!(msg.contains(want), "{name}: {msg}");
        assert!(!msg.contains('\n'));
        assert_eq!(tags(&reg.host(), name), Vec::<String>::new(), "{name}: something was pushed");
        assert!(!dir.join("publish.json").exists(), "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// Exit codes: one owner, no panic on any input.

#[test]
fn exit_huge_timeout_is_bad_input_not_a_panic() {
    let o = cratemill(&["build", "hello", "--timeout", "584000000000y", "--index-url", "http://127.0.0.1:9/"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert!(stderr(&o).contains("longer than the longest timeout"), "{}", stderr(&o));
}

/// Run cratemill with its stdout (and with `close_stderr` its stderr too) a pipe whose reading end is
/// already closed (`... | head -0`).
fn spawn_closed(args: &[&str], close_stderr: bool) -> std::process::Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cratemill"))
        .args(args)
        .env_remove("GITHUB_ACTIONS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    if close_stderr {
        drop(child.stderr.take());
    }
    child
}

fn with_closed_stdout(args: &[&str]) -> Output {
    spawn_closed(args, false).wait_with_output().unwrap()
}

#[test]
fn exit_closed_stdout_never_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = package::write(tmp.path(), &package::Spec::real("piped", "1.0.0"));
    let layout = tmp.path().join("oci");
    let o = with_closed_stdout(&["publish", dir.to_str().unwrap(), "--oci-layout", layout.to_str().unwrap()]);
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(dir.join("publish.json").exists(), "the publish finished although nobody read stdout");
    let o = with_closed_stdout(&["--help"]);
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(0));
}

fn with_closed_stdout_and_stderr(args: &[&str]) -> std::process::ExitStatus {
    spawn_closed(args, true).wait().unwrap()
}

#[test]
fn exit_closed_stderr_never_panics() {
    // A panic exits 101; the documented codes must come through although nobody reads stderr.
    let tmp = tempfile::tempdir().unwrap();
    let dir = package::write(tmp.path(), &package::Spec::real("piped", "1.0.0"));
    let layout = tmp.path().join("oci");
    let status =
        with_closed_stdout_and_stderr(&["publish", dir.to_str().unwrap(), "--oci-layout", layout.to_str().unwrap()]);
    assert_eq!(status.code(), Some(0), "publish with closed stdout and stderr");
    assert!(dir.join("publish.json").exists(), "the publish finished although nobody read stderr");
    let status =
        with_closed_stdout_and_stderr(&["build", "no such crate", "--out", tmp.path().join("o").to_str().unwrap()]);
    assert_eq!(status.code(), Some(2), "bad input still exits 2 when its error line cannot be written");
}

#[test]
fn exit_unknown_feature_is_bad_input_with_its_own_class() {
    let reg = SparseRegistry::start(vec![TestCrate::binary("hello", "1.0.0")]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = build(&reg, "hello", &out, &["--features", "no-such-feature"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let failure = result(&out).failure.expect("failure recorded");
    assert_eq!(failure.class, FailureClass::UnknownFeature, "{}", failure.message);
    assert!(failure.message.contains("no-such-feature"), "{}", failure.message);
}
