//! The fleet under a real Actions runner: nektos/act 0.2.89 (tests/setup/45-act.sh) runs
//! `mirror.yml` from a `workflow_dispatch` of a caller, through plan, the chunk matrix,
//! build-chunk, publish-chunk (publish, attest) and report, on this host (`-P
//! ubuntu-latest=-self-hosted`, no Docker), with act's own artifact server. Around it: a generated
//! crates.io dump, a local sparse registry serving real tiny crates (one fails to compile), and a
//! loopback OCI registry standing in for GHCR. Effects are asserted from outside: images and the
//! attached attestations read back with skopeo, every bundle (keyless, from the Sigstore stand-ins)
//! verified by `cratemill install --verify require` and independently by sigstore-js, the built
//! index listing exactly the
//! built jobs, the failing crate not stopping the others, a second run building nothing
//! (incremental), and a forged artifact of a compromised build job not published. A second test
//! runs the action's bootstrap under act against a loopback release server: the verified asset
//! runs, a tampered one is refused. A third runs publish-chunk.yml alone on a chunk with one
//! tampered package: the other is published and attested, the job fails at the end.
//!
//! Where act lacks a GitHub feature, the harness substitutes the documented equivalent, all in
//! [`repository_as_act_sees_it`] and [`act`] (docs/fleet.md, "Under a real runner"):
//! - `uses: $/...` (nektos/act#6189) becomes `cratemill/cratemill@e2e`, mapped by
//!   `--local-repository` to a copy of this repository (GitHub resolves `$/` to the same commit);
//! - act gives every step `ACTIONS_RUNTIME_TOKEN`, GitHub only JavaScript and container actions:
//!   the copy's build step clears it (the action's refusal to build beside a token stays);
//! - actions/upload-artifact and download-artifact are the stand-ins of tests/fleet_act/ on npm
//!   `@actions/artifact` (what they reproduce is said in their action.yml);
//! - no REST API, no dispatch: `continue: false`, and the previous index as `previous-index`;
//! - no OIDC token service: the project's Sigstore stand-ins (token service, Fulcio, Rekor) through
//!   `--env`, which reaches every step, so the copy's build step clears the token request variables
//!   (GitHub gives them only to jobs with `id-token: write`);
//! - no attestations API: a loopback GitHub REST stand-in (tests/support/github_api.rs) through
//!   `--env GITHUB_API_URL` and the `GITHUB_TOKEN` secret (`github.token`), which stores what
//!   `github-api: auto` posts and is checked against the bundles attached to the images;
//! - the compromised build job: one extra step in the copy's build job that uploads an artifact for
//!   a crate that is not in the plan and a folder named for a neighbour (any build job holds the
//!   runtime token on GitHub).

mod support;

#[path = "support/github_api.rs"]
mod github_api;
#[path = "support/registry.rs"]
mod registry;
#[path = "support/sigstore.rs"]
mod sigstore;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use sha2::Digest;

use support::sparse_registry::{SparseRegistry, TestCrate};

const MIT: &str = include_str!("fixtures/LICENSE-MIT");
const TARGET: &str = "x86_64-unknown-linux-gnu";
const UPLOAD: &str = "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02";
const DOWNLOAD: &str = "actions/download-artifact@634f93cb2916e3fdff6788551b99b062d0335ce0";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn act_dir() -> PathBuf {
    let dir = PathBuf::from(std::env::var("CRATEMILL_TEST_ACT").unwrap_or_else(|_| "/opt/cratemill-test/act".into()));
    assert!(
        dir.join("act").is_file() && dir.join("node_modules/@actions/artifact").is_dir(),
        "act or npm @actions/artifact is missing from {}: run `bash tests/setup/45-act.sh`",
        dir.display()
    );
    dir
}

/// This repository as act must see it (the substitutions listed in the module comment).
fn repository_as_act_sees_it(dst: &Path, victim: (&str, &str)) {
    for dir in ["dist", ".github/workflows"] {
        std::fs::create_dir_all(dst.join(dir)).unwrap();
    }
    for file in ["Cargo.toml", "dist/run.sh", "dist/bootstrap.sh", "dist/sha256sums.txt"] {
        std::fs::copy(root().join(file), dst.join(file)).unwrap();
    }
    let self_ref = |text: &str| {
        let mut out = String::new();
        for line in text.lines() {
            let line = if let Some((head, file)) = line.split_once("uses: $/.github/workflows/") {
                format!("{head}uses: cratemill/cratemill/.github/workflows/{file}@e2e")
            } else {
                line.replace("uses: $/.", "uses: cratemill/cratemill@e2e")
            };
            out.push_str(&line);
            out.push('\n');
        }
        out
    };
    for e in std::fs::read_dir(root().join("workflows-templates")).unwrap() {
        let path = e.unwrap().path();
        let mut text = self_ref(&std::fs::read_to_string(&path).unwrap());
        if path.ends_with("build-chunk.yml") {
            text = compromised(&text, victim);
        }
        std::fs::write(dst.join(".github/workflows").join(path.file_name().unwrap()), text).unwrap();
    }
    let action = std::fs::read_to_string(root().join("action.yml")).unwrap();
    let marker = "    - id: build\n      if: inputs.mode == 'build'\n      shell: bash\n      env:\n";
    assert!(action.contains(marker), "action.yml's build step moved: update the harness");
    // act also gives every step of a composite action its inputs as INPUT_* (GitHub gives them
    // to JavaScript actions): the registry token and the key would reach the build step.
    let cleared = format!(
        "{marker}        ACTIONS_RUNTIME_TOKEN: \"\" # act only: GitHub gives it to JavaScript actions\n        INPUT_TOKEN: \"\" # act only\n        INPUT_GITHUB_TOKEN: \"\" # act only\n        INPUT_SIGNING_KEY: \"\" # act only\n        ACTIONS_ID_TOKEN_REQUEST_TOKEN: \"\" # the harness's --env reaches every step\n        ACTIONS_ID_TOKEN_REQUEST_URL: \"\" # the same\n"
    );
    std::fs::write(dst.join("action.yml"), action.replace(marker, &cleared)).unwrap();
}

/// The build job of build-chunk.yml with a step a compromised job could run: it uploads an
/// artifact holding a package of a crate the plan does not have and a forged package folder named
/// for a neighbour's job (`victim`: crate and version), which `merge-multiple` let
/// replace the neighbour's own.
fn compromised(text: &str, victim: (&str, &str)) -> String {
    let anchor = "      - name: Hand the package on\n";
    assert!(text.contains(anchor), "build-chunk.yml's upload step moved: update the harness");
    let (vcrate, vversion) = victim;
    let package = |dir: &str, krate: &str, version: &str| {
        format!(
            "          mkdir -p forged/{dir}/bin && echo forged > forged/{dir}/bin/{krate} && echo sums > forged/{dir}/CHECKSUMS\n          echo '{{\"crate\":\"{krate}\",\"version\":\"{version}\",\"target\":\"{TARGET}\"}}' > forged/{dir}/result.json\n"
        )
    };
    let forged = format!(
        "      - name: Forge (test only)\n        if: always()\n        run: |\n{}{}      - uses: {UPLOAD}\n        if: always()\n        with:\n          name: cratemill-pkg-${{{{ inputs.chunk }}}}-evil-6.6.6-{TARGET}-${{{{ matrix.crate }}}}\n          path: forged/\n",
        package(&format!("evil-6.6.6-{TARGET}"), "evil", "6.6.6"),
        package(&format!("{vcrate}-{vversion}-{TARGET}"), vcrate, vversion),
    );
    text.replace(anchor, &format!("{forged}{anchor}"))
}

/// The two artifact stand-ins, each beside the npm modules.
fn artifact_actions(dst: &Path) -> (PathBuf, PathBuf) {
    let modules = act_dir().join("node_modules");
    let mut out = Vec::new();
    for name in ["upload-artifact", "download-artifact"] {
        let dir = dst.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for file in ["action.yml", "index.mjs"] {
            std::fs::copy(root().join("tests/fleet_act").join(name).join(file), dir.join(file)).unwrap();
        }
        std::os::unix::fs::symlink(&modules, dir.join("node_modules")).unwrap();
        out.push(dir);
    }
    (out[0].clone(), out[1].clone())
}

/// The caller an organisation copies (example-caller.yml's shape), with this test's inputs.
/// `previous`: the built index of an earlier run; `None` is a first run (the real first run finds
/// no index artifact; act has no REST API to look).
fn caller(workspace: &Path, dump: &Path, registry: &str, previous: Option<&Path>) {
    let (incremental, previous) = match previous {
        Some(p) => ("true", p.display().to_string()),
        None => ("false", String::new()),
    };
    let text = format!(
        "name: e2e\non: workflow_dispatch\npermissions: {{}}\njobs:\n  mirror:\n    permissions:\n      actions: write\n      packages: write\n      id-token: write\n      attestations: write\n    uses: cratemill/cratemill/.github/workflows/mirror.yml@e2e\n    with:\n      dump: {}\n      since: \"2000-01-01\"\n      targets: {TARGET}\n      chunk-size: 2\n      registry: {registry}\n      insecure-http: true\n      backend: cargo\n      sign: keyless\n      github-api: auto\n      previous-index: \"{previous}\"\n      incremental: {incremental}\n      continue: false\n    secrets:\n      registry-token: ${{{{ secrets.REGISTRY_TOKEN }}}}\n",
        dump.display()
    );
    workspace_with(workspace, &text);
}

/// A caller's repository in `workspace` holding `workflow` as .github/workflows/caller.yml, and
/// the event act runs it for (act takes GITHUB_SHA and GITHUB_REF from the repository).
fn workspace_with(workspace: &Path, text: &str) {
    std::fs::create_dir_all(workspace.join(".github/workflows")).unwrap();
    std::fs::write(workspace.join(".github/workflows/caller.yml"), text).unwrap();
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .args(["-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid"])
            .args(args)
            .current_dir(workspace)
            .output()
            .unwrap();
        assert!(ok.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&ok.stderr));
    };
    git(&["init", "-q", "-b", "main"]);
    // act takes `github.repository` from the origin remote (nektos/act without one).
    git(&["remote", "add", "origin", "https://github.com/cratemill/mirror.git"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "caller"]);
    std::fs::write(
        workspace.join("event.json"),
        r#"{"repository": {"visibility": "public", "default_branch": "main", "full_name": "cratemill/mirror"}}"#,
    )
    .unwrap();
}

struct Run {
    ok: bool,
    log: String,
    artifacts: PathBuf,
}

/// One `act workflow_dispatch` of the caller in `workspace`, with its own artifact store.
fn act(
    workspace: &Path,
    repo: &Path,
    actions: &(PathBuf, PathBuf),
    env: &[(&str, String)],
    secrets: &[(&str, String)],
) -> Run {
    let artifacts = workspace.join("artifacts");
    let mut cmd = Command::new(act_dir().join("act"));
    cmd.current_dir(workspace)
        .args(["workflow_dispatch", "-W", ".github/workflows/caller.yml", "-P", "ubuntu-latest=-self-hosted"])
        .args(["--eventpath", "event.json", "--actor", registry::USER, "--artifact-server-path"])
        .arg(&artifacts)
        // Its own port: act's default (34567) is shared by every act on the machine.
        .args(["--artifact-server-port", &registry::free_port().to_string()])
        .arg("--local-repository")
        .arg(format!("cratemill/cratemill@e2e={}", repo.display()))
        .arg("--local-repository")
        .arg(format!("{UPLOAD}={}", actions.0.display()))
        .arg("--local-repository")
        .arg(format!("{DOWNLOAD}={}", actions.1.display()));
    for (k, v) in env {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    for (k, v) in secrets {
        cmd.arg("-s").arg(format!("{k}={v}"));
    }
    for k in [
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "ACTIONS_RUNTIME_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "CRATEMILL_REGISTRY_TOKEN",
    ] {
        cmd.env_remove(k);
    }
    let out = cmd.output().unwrap();
    let log = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    Run { ok: out.status.success(), log, artifacts }
}

/// The files of artifact `name` in a run's store, unpacked into `dst`.
fn unpack(run: &Run, name: &str, dst: &Path) -> bool {
    let Some(zip) =
        walk(&run.artifacts).into_iter().find(|p| p.file_name().is_some_and(|f| f == format!("{name}.zip").as_str()))
    else {
        return false;
    };
    std::fs::create_dir_all(dst).unwrap();
    Command::new("unzip").arg("-o").arg("-q").arg(&zip).arg("-d").arg(dst).status().unwrap().success()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    rd.flatten().flat_map(|e| if e.path().is_dir() { walk(&e.path()) } else { vec![e.path()] }).collect()
}

/// The names of every artifact a run stored.
fn artifact_names(run: &Run) -> Vec<String> {
    let mut v: Vec<String> = walk(&run.artifacts)
        .iter()
        .filter_map(|p| p.file_name()?.to_str()?.strip_suffix(".zip").map(str::to_string))
        .collect();
    v.sort();
    v
}

/// The plan `cratemill matrix` makes of the dump, as the workflow's plan job will.
fn planned(dump: &Path, dir: &Path) -> Vec<(String, String)> {
    let out = sigstore::cratemill(
        &[
            "matrix",
            "--dump",
            dump.to_str().unwrap(),
            "--since",
            "2000-01-01",
            "--targets",
            TARGET,
            "--out",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", sigstore::stderr(&out));
    let plan: cratemill::schema::plan::Plan = cratemill::schema::read(&dir.join("plan.json")).unwrap();
    plan.jobs.iter().map(|j| (j.crate_name.clone(), j.version.clone())).collect()
}

#[test]
fn the_mirror_runs_under_act_end_to_end() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let dump = t.join("dump.tar.gz");
    let spec = cratemill::dump::synth::Spec { crates: 40, fixtures: false, ..Default::default() };
    cratemill::dump::synth::write(&spec, &dump).unwrap();
    let jobs = planned(&dump, &t.join("local-plan"));
    assert!(jobs.len() >= 3, "the dump plans at least 3 crates: {jobs:?}");
    eprintln!("planned: {jobs:?}");
    // Real tiny crates for every planned job; the first does not compile.
    let (bad, _) = jobs[0].clone();
    let crates = jobs
        .iter()
        .map(|(name, version)| {
            let c = TestCrate::binary(name, version).file("LICENSE-MIT", MIT);
            if *name == bad {
                // Its build script also forges workflow commands (issue #19): a CR starts a new
                // line for the runner, where `::add-mask::` would hide the sentinel printed next.
                c.file("src/main.rs", "fn main() { this does not compile }\n").file("build.rs", forging_build_rs())
            } else {
                c
            }
        })
        .collect();
    let index = SparseRegistry::start(crates);
    let oci = registry::Registry::start();
    let dest = format!("{}/mirror", oci.host());
    let repo = t.join("cratemill");
    repository_as_act_sees_it(&repo, (&jobs[1].0, &jobs[1].1));
    let actions = artifact_actions(t);
    // The Sigstore stand-ins for a public repository's workflow (the event says public too, so
    // the action signs with the public-good instance: Fulcio and Rekor).
    let sigstore = sigstore::StandIn::start(&sigstore::claims("public"), None);
    let mut env: Vec<(&str, String)> = vec![
        ("CRATEMILL_BOOTSTRAP_EXE", env!("CARGO_BIN_EXE_cratemill").to_string()),
        ("CRATEMILL_INDEX_URL", index.index_url()),
    ];
    let services = sigstore.job_env();
    for (k, v) in &services {
        env.push((k.as_str(), v.clone()));
    }
    // GitHub's attestations API, where `github-api: auto` stores the bundles of a public
    // repository's keyless signing (the token is the job's `github.token`).
    let api = github_api::GithubApi::start("ghs_act_job_token", &[("cratemill/mirror", github_api::Repo::Open)]);
    env.push(("GITHUB_API_URL", api.url.clone()));
    let secrets = vec![("REGISTRY_TOKEN", registry::PASSWORD.to_string()), ("GITHUB_TOKEN", api.token.clone())];
    let san = "https://github.com/cratemill/mirror/.github/workflows/mirror.yml@refs/heads/main";

    // Run 1: everything planned.
    let ws1 = t.join("run1");
    caller(&ws1, &dump, &dest, None);
    let run = act(&ws1, &repo, &actions, &env, &secrets);
    let first_run = started.elapsed();
    assert!(run.ok, "act failed:\n{}", run.log);

    // The built index: exactly the planned jobs, the bad one failed, the others built and published.
    let index_dir = t.join("index1");
    assert!(unpack(&run, "cratemill-built-index", &index_dir), "no built index: {:?}", artifact_names(&run));
    let built: cratemill::schema::plan::BuiltIndex = cratemill::schema::read(&index_dir.join("built.json")).unwrap();
    let mut listed: Vec<(String, String, String)> = built
        .entries
        .iter()
        .map(|e| (e.crate_name.clone(), e.version.clone(), serde_json::to_string(&e.status).unwrap()))
        .collect();
    listed.sort();
    let mut expected: Vec<(String, String, String)> = jobs
        .iter()
        .map(|(n, v)| {
            (n.clone(), v.clone(), if *n == bad { "\"failed\"".to_string() } else { "\"built\"".to_string() })
        })
        .collect();
    expected.sort();
    assert_eq!(listed, expected, "{}", run.log);

    // Every good crate's image reads back, its attestation is attached (fallback tag) and verifies,
    // and the same bundle was stored with the attestations API.
    // `attest --batch` signs one bundle per chunk, attached to each of the chunk's images.
    let stored = api.attestations();
    let mut attached: Vec<serde_json::Value> = Vec::new();
    for (name, version) in jobs.iter().filter(|(n, _)| *n != bad) {
        let image = format!("{dest}/{name}:{version}-{TARGET}");
        let manifest = registry::inspect_raw(&image).unwrap_or_else(|e| panic!("{image}: {e}\n{}", run.log));
        let digest = hex::encode(sha2::Sha256::digest(&manifest));
        let referrers = registry::inspect_raw(&format!("{dest}/{name}:sha256-{digest}")).expect("the fallback tag");
        let index: serde_json::Value = serde_json::from_slice(&referrers).unwrap();
        let referrer = index["manifests"][0]["digest"].as_str().unwrap().to_string();
        let copied =
            registry::copy_to_dir(&format!("docker://{dest}/{name}@{referrer}"), &t.join(format!("ref-{name}")));
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(copied.join("manifest.json")).unwrap()).unwrap();
        let layer = m["layers"][0]["digest"].as_str().unwrap().trim_start_matches("sha256:").to_string();
        let bundle_file = copied.join(layer);
        let bundle: serde_json::Value = serde_json::from_slice(&std::fs::read(&bundle_file).unwrap()).unwrap();
        assert!(
            bundle["verificationMaterial"]["tlogEntries"].as_array().is_some_and(|e| e.len() == 1),
            "public-good: a Rekor entry"
        );
        assert!(
            stored.iter().any(|(repo, b)| repo == "cratemill/mirror" && *b == bundle),
            "the bundle attached to {name} was stored with the attestations API"
        );
        if !attached.contains(&bundle) {
            attached.push(bundle.clone());
        }
        let bin = t.join(format!("installed-{name}"));
        let o = sigstore::cratemill(
            &[
                "install",
                &format!("{name}@{version}"),
                "--from",
                &dest,
                "--insecure-http",
                "--dir",
                bin.to_str().unwrap(),
                "--target",
                TARGET,
                "--verify",
                "require",
                "--repo",
                "cratemill/mirror",
                "--trusted-root",
                sigstore.trusted_root().to_str().unwrap(),
            ],
            &[
                ("CRATEMILL_REGISTRY_USER".into(), registry::USER.into()),
                ("CRATEMILL_REGISTRY_TOKEN".into(), registry::PASSWORD.into()),
            ],
        );
        assert!(o.status.success(), "install --verify require {name}: {}", sigstore::stderr(&o));
        let out = Command::new(bin.join(name)).arg("--version").output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("{name} {version}"));
        // An independent client: sigstore-js, over the executable as installed.
        let js = sigstore::js_verify(&sigstore.trusted_root(), &bundle_file, &bin.join(name), Some(san));
        assert_eq!(js, Ok(format!("ok {san}")), "sigstore-js: the bundle of {name}");
    }
    assert_eq!(stored.len(), attached.len(), "each attached bundle stored once, nothing else stored");
    assert!(
        registry::inspect_raw(&format!("{dest}/{bad}:{}-{TARGET}", jobs[0].1)).is_err(),
        "the failed crate is not published"
    );
    // The compromised build jobs' forgeries were uploaded, and none was published.
    assert!(artifact_names(&run).iter().any(|a| a.contains("-evil-6.6.6-")), "{:?}", artifact_names(&run));
    assert!(
        registry::inspect_raw(&format!("{dest}/evil:6.6.6-{TARGET}")).is_err(),
        "the forged crate is not published"
    );
    assert!(run.log.contains("is not a job of chunk"), "the forgery is reported");
    // The workflow commands the failing crate's build script printed were not executed: the
    // sentinel it tried to mask is still in the log (act masks with `***`, see the control test).
    assert!(run.log.contains(&format!("{SENTINEL} shown")), "the forged ::add-mask:: ran:\n{}", run.log);

    // Run 2, from the index run 1 left: nothing to build.
    let ws2 = t.join("run2");
    caller(&ws2, &dump, &dest, Some(&index_dir.join("built.json")));
    let second = act(&ws2, &repo, &actions, &env, &secrets);
    assert!(second.ok, "act failed:\n{}", second.log);
    assert!(second.log.contains("planned 0 jobs"), "{}", second.log);
    assert!(!artifact_names(&second).iter().any(|a| a.starts_with("cratemill-pkg-")), "{:?}", artifact_names(&second));
    eprintln!(
        "fleet under act: run 1 {:.0} s, run 2 {:.0} s, {} jobs",
        first_run.as_secs_f64(),
        (started.elapsed() - first_run).as_secs_f64(),
        jobs.len()
    );
}

/// What the failing crate's build script tries to make the runner mask.
const SENTINEL: &str = "cratemill-forged-mask-sentinel";

/// A build script that prints forged workflow commands through cargo's warnings: each behind a CR
/// (the runner splits lines there, so the command would start a line), then the sentinel.
fn forging_build_rs() -> String {
    format!(
        "fn main() {{\n\
         println!(\"cargo:warning=x\\r::add-mask::{SENTINEL}\");\n\
         println!(\"cargo:warning=x\\r::error title=forged-error-title::forged\");\n\
         println!(\"cargo:warning={SENTINEL} shown\");\n\
         }}\n"
    )
}

/// The control for the mirror test's forged-command check: under act, a step that prints
/// `::add-mask::` with the sentinel really masks it afterwards, so the check can fail.
#[test]
fn act_executes_add_mask_so_the_forged_command_check_can_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let wf = tmp.path().join(".github/workflows");
    std::fs::create_dir_all(&wf).unwrap();
    let text = format!(
        "on: workflow_dispatch\njobs:\n  control:\n    runs-on: ubuntu-latest\n    steps:\n      - run: |\n          echo '::add-mask::{SENTINEL}'\n          echo '{SENTINEL} shown'\n"
    );
    std::fs::write(wf.join("control.yml"), text).unwrap();
    let out = Command::new(act_dir().join("act"))
        .current_dir(tmp.path())
        .args(["workflow_dispatch", "-W", ".github/workflows/control.yml", "-P", "ubuntu-latest=-self-hosted"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("*** shown") && !log.contains(&format!("{SENTINEL} shown")), "act did not mask:\n{log}");
}

/// The action's bootstrap under act, with a loopback server standing in for GitHub releases
/// (`CRATEMILL_DIST_BASE_URL`: act puts the action in its own cache folder, not at
/// `_actions/OWNER/REPO/REF`): the release asset is downloaded, checked against the action's
/// dist/sha256sums.txt and run; a tampered asset is refused and never runs. (The fallback to a
/// source build is `tests/dist_bootstrap.rs`'s: under act it would compile cratemill.)
#[test]
fn the_action_bootstraps_a_verified_release_under_act() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let repo = t.join("cratemill");
    repository_as_act_sees_it(&repo, ("none", "0.0.0"));
    let actions = artifact_actions(t);
    let version = std::fs::read_to_string(repo.join("Cargo.toml"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("version = \"").and_then(|v| v.strip_suffix('"')).map(str::to_string))
        .unwrap();
    let asset = format!("cratemill-{version}-x86_64-unknown-linux-musl");
    let release = SparseRegistry::start(vec![]);
    let fake = b"#!/bin/sh\necho fake-cratemill-release \"$@\"\n".to_vec();
    release.set_route(&format!("/v{version}/{asset}"), fake.clone());
    let workflow = "name: bootstrap\non: workflow_dispatch\npermissions: {}\njobs:\n  report:\n    runs-on: ubuntu-latest\n    permissions: {}\n    steps:\n      - run: mkdir -p results/x && echo '{}' > results/x/result.json\n      - uses: cratemill/cratemill@e2e\n        with:\n          mode: report\n          path: results\n";
    let env = vec![
        ("CRATEMILL_DIST_BASE_URL", format!("{}/v{version}", release.base_url())),
        ("RUNNER_TOOL_CACHE", t.join("tool-cache").display().to_string()),
    ];
    for (case, sum) in [
        ("verified", hex::encode(sha2::Sha256::digest(&fake))),
        ("tampered", hex::encode(sha2::Sha256::digest(b"the real one"))),
    ] {
        std::fs::write(repo.join("dist/sha256sums.txt"), format!("# test\n{sum}  {asset}\n")).unwrap();
        let ws = t.join(case);
        workspace_with(&ws, workflow);
        let run = act(&ws, &repo, &actions, &env, &[]);
        if case == "verified" {
            assert!(run.ok, "{}", run.log);
            assert!(run.log.contains(&format!("downloading {}/v{version}/{asset}", release.base_url())), "{}", run.log);
            assert!(
                run.log.contains("fake-cratemill-release report results"),
                "the downloaded binary ran: {}",
                run.log
            );
        } else {
            assert!(!run.ok, "{}", run.log);
            assert!(run.log.contains("refusing to run it"), "{}", run.log);
            assert!(!run.log.contains("fake-cratemill-release report"), "the tampered binary never ran");
        }
    }
    assert!(release.hits(&format!("/v{version}/{asset}")) >= 2);
}

/// Failure isolation one level down (act aborts a caller when a job of a called workflow fails, so
/// the whole mirror cannot show it): publish-chunk.yml alone, on a chunk of two real packages of
/// which one was tampered with after its build. The good one is published and attested (keyless),
/// the bad one is refused and reported, and the job fails at the end.
#[test]
fn one_bad_package_does_not_stop_its_chunk_under_act() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let index = SparseRegistry::start(vec![
        TestCrate::binary("good", "1.0.0").file("LICENSE-MIT", MIT),
        TestCrate::binary("bad", "1.0.0").file("LICENSE-MIT", MIT),
    ]);
    let packages = t.join("packages");
    for name in ["bad", "good"] {
        let out = packages.join(format!("{name}-1.0.0-{TARGET}"));
        let o = sigstore::cratemill(
            &[
                "build",
                &format!("{name}@1.0.0"),
                "--target",
                TARGET,
                "--backend",
                "cargo",
                "--out",
                out.to_str().unwrap(),
            ],
            &[("CRATEMILL_INDEX_URL".into(), index.index_url())],
        );
        assert!(o.status.success(), "{}", sigstore::stderr(&o));
    }
    let exe = packages.join(format!("bad-1.0.0-{TARGET}/bin/bad"));
    let mut bytes = std::fs::read(&exe).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&exe, bytes).unwrap();
    let plan = serde_json::json!({"jobs": [
        {"crate": "bad", "version": "1.0.0", "target": TARGET},
        {"crate": "good", "version": "1.0.0", "target": TARGET},
    ]});
    std::fs::create_dir_all(t.join("plan/chunks")).unwrap();
    std::fs::write(t.join("plan/chunks/0001.json"), plan.to_string()).unwrap();
    let repo = t.join("cratemill");
    repository_as_act_sees_it(&repo, ("none", "0.0.0"));
    let actions = artifact_actions(t);
    let oci = registry::Registry::start();
    let dest = format!("{}/mirror", oci.host());
    let stage = |name: &str| {
        format!(
            "      - run: mkdir -p {name} && cp -r {}/{name}-1.0.0-{TARGET} {name}/\n      - uses: {UPLOAD}\n        with:\n          name: cratemill-pkg-0001-{name}-1.0.0-{TARGET}\n          path: {name}/\n",
            packages.display()
        )
    };
    let workflow = format!(
        "name: chunk\non: workflow_dispatch\npermissions: {{}}\njobs:\n  stage:\n    runs-on: ubuntu-latest\n    permissions: {{}}\n    steps:\n      - run: cp -r {} plan\n      - uses: {UPLOAD}\n        with:\n          name: cratemill-plan\n          path: plan/\n{}{}  publish:\n    needs: stage\n    permissions:\n      packages: write\n      id-token: write\n      attestations: write\n    uses: cratemill/cratemill/.github/workflows/publish-chunk.yml@e2e\n    with:\n      chunk: \"0001\"\n      registry: {dest}\n      insecure-http: true\n      github-api: \"false\"\n    secrets:\n      registry-token: ${{{{ secrets.REGISTRY_TOKEN }}}}\n",
        t.join("plan").display(),
        stage("bad"),
        stage("good"),
    );
    let ws = t.join("run");
    workspace_with(&ws, &workflow);
    let sigstore = sigstore::StandIn::start(&sigstore::claims("public"), None);
    let services = sigstore.job_env();
    let env: Vec<(&str, String)> =
        std::iter::once(("CRATEMILL_BOOTSTRAP_EXE", env!("CARGO_BIN_EXE_cratemill").to_string()))
            .chain(services.iter().map(|(k, v)| (k.as_str(), v.clone())))
            .collect();
    let run = act(&ws, &repo, &actions, &env, &[("REGISTRY_TOKEN", registry::PASSWORD.to_string())]);
    assert!(!run.ok, "the chunk's publish job fails at the end: {}", run.log);
    assert!(run.log.contains(&format!("publishing packages/bad-1.0.0-{TARGET} failed")), "{}", run.log);
    assert!(run.log.contains("1 package(s) published, 1 failed"), "{}", run.log);
    let manifest =
        registry::inspect_raw(&format!("{dest}/good:1.0.0-{TARGET}")).expect("the good package is published");
    let digest = hex::encode(sha2::Sha256::digest(&manifest));
    assert!(registry::inspect_raw(&format!("{dest}/good:sha256-{digest}")).is_ok(), "and attested: {}", run.log);
    assert!(registry::inspect_raw(&format!("{dest}/bad:1.0.0-{TARGET}")).is_err(), "the tampered one is not published");
    assert!(artifact_names(&run).iter().any(|a| a == "cratemill-results-0001"), "{:?}", artifact_names(&run));
}
