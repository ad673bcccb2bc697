//! The reusable workflows keep the trust split and the pinning rules: the build jobs hold no
//! permission, no token and no checkout; only publish jobs get write permissions; every job says
//! its permissions; third-party actions are pinned by full commit SHA with the version named;
//! every checkout drops its credentials; the copies GitHub calls are the templates.

use std::path::{Path, PathBuf};

use serde_yaml::Value;

#[path = "support/registry.rs"]
mod registry;
#[path = "support/report_results.rs"]
mod report_results;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    v.sort();
    v
}

fn load(p: &Path) -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(p).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn jobs(w: &Value) -> Vec<(String, Value)> {
    w["jobs"].as_mapping().unwrap().iter().map(|(k, v)| (k.as_str().unwrap().to_string(), v.clone())).collect()
}

fn steps(job: &Value) -> Vec<Value> {
    job["steps"].as_sequence().cloned().unwrap_or_default()
}

#[test]
fn build_jobs_hold_nothing_and_only_publish_jobs_write() {
    let w = load(&root().join("workflows-templates/build-chunk.yml"));
    for (name, job) in jobs(&w) {
        assert_eq!(job["permissions"].as_mapping().map(|m| m.len()), Some(0), "{name}: permissions {{}}");
        for s in steps(&job) {
            let text = serde_yaml::to_string(&s).unwrap();
            assert!(!text.contains("secrets.") && !text.contains("github.token"), "{name}: a token in {text}");
            assert!(!s["uses"].as_str().unwrap_or("").starts_with("actions/checkout"), "{name} checks out code");
        }
    }
    let build = &w["jobs"]["build"];
    assert_eq!(build["strategy"]["fail-fast"].as_bool(), Some(false));
    assert!(steps(build).iter().any(|s| s["with"]["mode"].as_str() == Some("build")));
    assert!(steps(build).iter().any(|s| s["uses"].as_str().unwrap_or("").starts_with("actions/upload-artifact@")));

    let p = load(&root().join("workflows-templates/publish-chunk.yml"));
    let perms = &p["jobs"]["publish"]["permissions"];
    for k in ["packages", "id-token", "attestations"] {
        assert_eq!(perms[k].as_str(), Some("write"), "publish needs {k}: write");
    }
    for path in files("workflows-templates") {
        for (name, job) in jobs(&load(&path)) {
            assert!(job.get("permissions").is_some(), "{}: job {name} does not say its permissions", path.display());
            let writes = serde_yaml::to_string(&job["permissions"]).unwrap().contains("write");
            // report: packages write, to push the built index (index-reference).
            let allowed = ["publish", "chunk", "mirror", "next", "plan", "report"].contains(&name.as_str());
            assert!(!writes || allowed, "{}: job {name} may write", path.display());
        }
    }
}

#[test]
fn actions_are_pinned_and_checkouts_drop_credentials() {
    let mut all = files("workflows-templates");
    all.extend(files(".github/workflows"));
    for path in &all {
        let text = std::fs::read_to_string(path).unwrap();
        for line in text.lines().map(str::trim) {
            let Some(uses) = line.strip_prefix("uses: ").or_else(|| line.strip_prefix("- uses: ")) else { continue };
            let (target, comment) = uses.split_once(" #").unwrap_or((uses, ""));
            if target.starts_with("$/") || target.starts_with("./") || comment.contains("zizmor: ignore[unpinned-uses]")
            {
                continue;
            }
            let sha = target.rsplit_once('@').map(|(_, r)| r).unwrap_or("");
            assert!(sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()), "{}: {line}", path.display());
            assert!(comment.trim().starts_with('v'), "{}: name the version: {line}", path.display());
        }
        for (name, job) in jobs(&load(path)) {
            for s in steps(&job) {
                if s["uses"].as_str().unwrap_or("").starts_with("actions/checkout@") {
                    assert_eq!(s["with"]["persist-credentials"].as_bool(), Some(false), "{}: {name}", path.display());
                }
            }
        }
        let w = load(path);
        let every_job = jobs(&w).iter().all(|(_, j)| j.get("concurrency").is_some() || j.get("uses").is_some());
        assert!(w.get("concurrency").is_some() || every_job, "{}: no concurrency group", path.display());
    }
}

#[test]
fn github_calls_the_templates_themselves() {
    for t in files("workflows-templates") {
        let name = t.file_name().unwrap();
        if name == "example-caller.yml" {
            continue;
        }
        let copy = root().join(".github/workflows").join(name);
        assert_eq!(
            std::fs::read(&t).unwrap(),
            std::fs::read(&copy).unwrap(),
            "{} differs from its template",
            copy.display()
        );
    }
}

/// The inputs and secrets a reusable workflow declares under `on.workflow_call`.
fn declared(w: &Value, what: &str) -> Vec<String> {
    w["on"]["workflow_call"][what]
        .as_mapping()
        .map(|m| m.keys().map(|k| k.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn every_call_passes_every_input_and_secret_the_callee_declares() {
    // A mirror with a `-gnu` target failed every job when mirror.yml did not pass `backend`; the
    // same for the signing, TLS and previous-index inputs: every call passes everything down.
    let mut calls = 0;
    for path in files("workflows-templates") {
        for (name, job) in jobs(&load(&path)) {
            let Some(callee) = job["uses"].as_str().and_then(|u| u.strip_prefix("$/.github/workflows/")) else {
                continue;
            };
            calls += 1;
            let w = load(&root().join("workflows-templates").join(callee));
            for input in declared(&w, "inputs") {
                assert!(
                    job["with"].get(input.as_str()).is_some(),
                    "{}: job {name} does not pass input `{input}` to {callee}",
                    path.display()
                );
            }
            for secret in declared(&w, "secrets") {
                assert!(
                    job["secrets"].get(secret.as_str()).is_some(),
                    "{}: job {name} does not pass secret `{secret}` to {callee}",
                    path.display()
                );
            }
        }
    }
    assert_eq!(calls, 4, "mirror -> plan, chunk; chunk -> build-chunk, publish-chunk");
    let mirror = load(&root().join("workflows-templates/mirror.yml"));
    for input in ["backend", "insecure-http", "previous-index", "sigstore-instance", "github-api", "chain", "max-chain"]
    {
        assert!(declared(&mirror, "inputs").contains(&input.to_string()), "mirror.yml takes `{input}`");
    }
}

/// GitHub's rule: a job condition that calls no status function gets `success() &&` in front,
/// and `success()` is false when any ancestor job failed.
fn runs_after_a_failed_ancestor(condition: &str) -> bool {
    ["always()", "failure()", "cancelled()"].iter().any(|f| condition.contains(f))
}

#[test]
fn next_runs_after_a_failed_chunk_only_with_a_plan_and_a_report() {
    let w = load(&root().join("workflows-templates/mirror.yml"));
    let next = &w["jobs"]["next"];
    let cond = next["if"].as_str().unwrap();
    assert!(runs_after_a_failed_ancestor(cond), "next is skipped whenever a chunk fails: {cond}");
    assert!(!cond.contains("!cancelled()") || cond.contains("always()"));
    for guard in ["needs.plan.result == 'success'", "needs.report.result == 'success'", "inputs.continue != false"] {
        assert!(cond.contains(guard), "next lacks `{guard}`: {cond}");
    }
    let report = w["jobs"]["report"]["if"].as_str().unwrap();
    assert!(runs_after_a_failed_ancestor(report), "the report runs after a failed chunk: {report}");
    // A run cancelled before any chunk reported keeps the previous index (report writes none).
    let keep = steps(&w["jobs"]["report"])
        .into_iter()
        .find(|s| s["name"].as_str() == Some("Keep the built index for the next run"))
        .unwrap();
    assert_eq!(keep["if"].as_str(), Some("steps.report.outputs.built-index != ''"));
}

/// Run the `next` job's dispatch step with a recording `gh` on PATH.
fn dispatch(chain: &str, max_chain: &str) -> (i32, String, bool) {
    let w = load(&root().join("workflows-templates/mirror.yml"));
    let step = &steps(&w["jobs"]["next"])[0];
    let dir = tempfile::tempdir().unwrap();
    let gh = dir.path().join("gh");
    std::fs::write(&gh, format!("#!/bin/bash\necho \"gh $*\" >> {}/calls\n", dir.path().display())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&gh, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = std::process::Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"].as_str().unwrap()])
        .current_dir(dir.path())
        .env("PATH", format!("{}:{}", dir.path().display(), std::env::var("PATH").unwrap()))
        .env("REPO", "o/r")
        .env("WORKFLOW", "o/r/.github/workflows/crate-mirror.yml@refs/heads/main")
        .env("REF", "main")
        .env("RUNS", "3")
        .env("CHAIN", chain)
        .env("MAX_CHAIN", max_chain)
        .output()
        .unwrap();
    let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap_or_default();
    let touched = dir.path().join("pwned").exists();
    (out.status.code().unwrap_or(-1), calls, touched)
}

#[test]
fn next_dispatches_with_the_chain_counted_and_stops_at_max_chain() {
    let (code, calls, _) = dispatch("0", "20");
    assert_eq!(code, 0);
    assert_eq!(calls.trim(), "gh workflow run crate-mirror.yml --repo o/r --ref main -f chain=1");
    let (code, calls, _) = dispatch("18", "20");
    assert_eq!((code, calls.trim()), (0, "gh workflow run crate-mirror.yml --repo o/r --ref main -f chain=19"));
    let (code, calls, _) = dispatch("19", "20");
    assert_eq!((code, calls.as_str()), (0, ""), "the 20th run in a row dispatches no 21st");
    // A chain value is never evaluated as shell arithmetic (which would run `$(...)`).
    let (code, calls, touched) = dispatch("a[$(touch pwned)]", "20");
    assert_eq!((code, calls.as_str(), touched), (2, "", false));
}

#[test]
fn publish_chunk_attests_after_a_failed_publish_and_keeps_the_bundles() {
    let w = load(&root().join("workflows-templates/publish-chunk.yml"));
    let all = steps(&w["jobs"]["publish"]);
    let named =
        |n: &str| all.iter().find(|s| s["name"].as_str() == Some(n)).unwrap_or_else(|| panic!("no step {n}")).clone();
    let attest = named("Attest");
    let cond = attest["if"].as_str().unwrap();
    assert!(cond.contains("!cancelled()"), "attest is skipped when one package failed to publish: {cond}");
    assert_eq!(
        attest["with"]["token"].as_str(),
        Some("${{ secrets.registry-token || github.token }}"),
        "--attach pushes with the registry token"
    );
    assert_eq!(attest["with"]["github-token"].as_str(), Some("${{ github.token }}"));
    let keep = named("Keep the attestation bundles");
    assert!(keep["uses"].as_str().unwrap().starts_with("actions/upload-artifact@"));
    assert_eq!(keep["with"]["path"].as_str(), Some("cratemill-attest/"));
    // Signing is decided before the first push, and in the plan before the first build.
    let publish = named("Publish");
    assert!(publish["with"].get("sign").is_some() && publish["with"].get("sigstore-instance").is_some());
    let plan = load(&root().join("workflows-templates/plan.yml"));
    let plan_step = steps(&plan["jobs"]["plan"]).into_iter().find(|s| s["name"].as_str() == Some("Plan")).unwrap();
    assert!(plan_step["with"].get("sign").is_some() && plan_step["with"].get("sigstore-instance").is_some());
}

/// Write `file` (creating its folder) with `text`.
fn put(root: &Path, file: &str, text: &str) {
    let path = root.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A package folder as a build job leaves it: result.json naming the job, CHECKSUMS, a binary.
fn package(root: &Path, folder: &str, job: (&str, &str, &str), bytes: &str) {
    let (krate, version, target) = job;
    let result = serde_json::json!({"crate": krate, "version": version, "target": target, "status": "built"});
    put(root, &format!("{folder}/result.json"), &result.to_string());
    put(root, &format!("{folder}/CHECKSUMS"), "sums\n");
    put(root, &format!("{folder}/bin/{krate}"), bytes);
}

#[test]
fn publish_takes_only_each_plan_jobs_own_artifact() {
    // Any build job can upload artifacts of any name (ACTIONS_RUNTIME_TOKEN). With merge-multiple
    // one artifact's folder replaced another's, and any folder found was published.
    let w = load(&root().join("workflows-templates/publish-chunk.yml"));
    let step = steps(&w["jobs"]["publish"])
        .into_iter()
        .find(|s| s["name"].as_str() == Some("Bind each package to its plan job"))
        .expect("publish-chunk binds packages to plan jobs");
    for s in steps(&w["jobs"]["publish"]) {
        assert!(s["with"].get("merge-multiple").is_none(), "no merge-multiple download of build artifacts");
    }
    let ws = tempfile::tempdir().unwrap();
    let t = "x86_64-unknown-linux-musl";
    let plan = serde_json::json!({"jobs": [
        {"crate": "alpha", "version": "1.0.0", "target": t},
        {"crate": "beta", "version": "2.0.0", "target": t},
        {"crate": "gamma", "version": "3.0.0", "target": t},
    ]});
    put(ws.path(), "plan/chunks/0007.json", &plan.to_string());
    let a = format!("alpha-1.0.0-{t}");
    let b = format!("beta-2.0.0-{t}");
    let g = format!("gamma-3.0.0-{t}");
    package(ws.path(), &format!("artifacts/cratemill-pkg-0007-{a}/{a}"), ("alpha", "1.0.0", t), "genuine alpha");
    // A publish.json that points attest at another image.
    put(ws.path(), &format!("artifacts/cratemill-pkg-0007-{a}/{a}/publish.json"), "{\"forged\": true}");
    // beta's job (compromised) also ships a folder named for alpha, and an unplanned artifact.
    package(ws.path(), &format!("artifacts/cratemill-pkg-0007-{b}/{b}"), ("beta", "2.0.0", t), "genuine beta");
    package(ws.path(), &format!("artifacts/cratemill-pkg-0007-{b}/{a}"), ("alpha", "1.0.0", t), "forged alpha");
    package(
        ws.path(),
        &format!("artifacts/cratemill-pkg-0007-evil-6.6.6-{t}/evil-6.6.6-{t}"),
        ("evil", "6.6.6", t),
        "x",
    );
    // gamma's artifact holds a result for another job.
    package(ws.path(), &format!("artifacts/cratemill-pkg-0007-{g}/{g}"), ("alpha", "1.0.0", t), "forged alpha");
    let out = ws.path().join("github_output");
    let o = std::process::Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"].as_str().unwrap()])
        .current_dir(ws.path())
        .env("CHUNK", "0007")
        .env("GITHUB_OUTPUT", &out)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{log}");
    let mut published: Vec<String> = std::fs::read_dir(ws.path().join("packages"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    published.sort();
    assert_eq!(published, [a.clone(), b.clone()], "{log}");
    let alpha = std::fs::read_to_string(ws.path().join(format!("packages/{a}/bin/alpha"))).unwrap();
    assert_eq!(alpha, "genuine alpha", "beta's artifact did not replace alpha's package");
    assert!(!ws.path().join(format!("packages/{a}/publish.json")).exists(), "a build never leaves a publish.json");
    assert!(log.contains(&format!("the artifact of {g} holds a result for another job")), "{log}");
    assert!(log.contains(&format!("artifact cratemill-pkg-0007-evil-6.6.6-{t} is not a job of chunk 0007")), "{log}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "built=2\n");
}

#[test]
fn a_rerun_job_replaces_its_own_artifact() {
    // upload-artifact v4 names are unique per run: re-running a job that uploads a fixed name
    // failed with 409 unless the step overwrites.
    let mut uploads = 0;
    for path in files("workflows-templates") {
        for (name, job) in jobs(&load(&path)) {
            for s in steps(&job) {
                if s["uses"].as_str().unwrap_or("").starts_with("actions/upload-artifact@") {
                    uploads += 1;
                    assert_eq!(s["with"]["overwrite"].as_bool(), Some(true), "{}: job {name}", path.display());
                }
            }
        }
    }
    assert_eq!(uploads, 5, "package, plan, attestation bundles, results, built index");
}

#[test]
fn the_plan_takes_the_previous_index_only_from_this_repositorys_default_branch() {
    // On a public repository a fork's pull request can upload an artifact of any name: the newest
    // `cratemill-built-index` may be a poisoned one that makes the plan skip any crate.
    let w = load(&root().join("workflows-templates/plan.yml"));
    let step =
        steps(&w["jobs"]["plan"]).into_iter().find(|s| s["name"].as_str() == Some("Previous built index")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = |kind: &str, head_repo: u64, branch: &str, expired: bool, id: u64| {
        serde_json::json!({"id": id, "name": "cratemill-built-index", "expired": expired, "workflow_run":
            {"id": id * 10, "repository_id": 1, "head_repository_id": head_repo, "head_branch": branch, "kind": kind}})
    };
    let list = serde_json::json!({"total_count": 4, "artifacts": [
        run("fork", 99, "main", false, 11),
        run("branch", 1, "feature", false, 12),
        run("expired", 1, "main", true, 13),
        run("ours", 1, "main", false, 14),
    ]});
    std::fs::write(dir.path().join("list.json"), list.to_string()).unwrap();
    for id in [11, 12, 13, 14] {
        let zip = dir.path().join(format!("{id}.zip"));
        let ok = std::process::Command::new("python3")
            .args(["-c", "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1], 'w'); z.writestr('built.json', sys.argv[2]); z.close()"])
            .arg(&zip)
            .arg(format!("{{\"from\": {id}}}"))
            .status()
            .unwrap();
        assert!(ok.success());
    }
    // `gh api URL [--jq EXPR]`: the listing through jq, or an artifact's zip.
    let gh = format!(
        "#!/bin/bash\nd={}\nif [[ \"$2\" == */zip ]]; then id=\"${{2%/zip}}\"; cat \"$d/${{id##*/}}.zip\"; else jq -r \"$4\" \"$d/list.json\"; fi\n",
        dir.path().display()
    );
    std::fs::write(dir.path().join("gh"), gh).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path().join("gh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let ws = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"].as_str().unwrap()])
        .current_dir(ws.path())
        .env("PATH", format!("{}:{}", dir.path().display(), std::env::var("PATH").unwrap()))
        .env("REPO", "o/r")
        .env("DEFAULT_BRANCH", "main")
        .env("PREVIOUS", "")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(ws.path().join("plan/built.json")).unwrap(), "{\"from\": 14}");

    // A path given as previous-index is taken as is, without the API.
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("given.json"), "{\"from\": \"input\"}").unwrap();
    let out = std::process::Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"].as_str().unwrap()])
        .current_dir(ws.path())
        .env("PATH", "/usr/bin:/bin")
        .env("PREVIOUS", "given.json")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(ws.path().join("plan/built.json")).unwrap(), "{\"from\": \"input\"}");
}

/// Run release.yml's publish step in `dir` (a checkout holding `sums`), with a `gh` whose release
/// download writes `assets` (name, bytes); returns the exit code and the gh calls.
fn publish_release(sums: &str, assets: &[(&str, &[u8])]) -> (i32, String) {
    let w = load(&root().join(".github/workflows/release.yml"));
    let step = steps(&w["jobs"]["publish"]).into_iter().find(|s| s["run"].is_string()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(bin.join("files")).unwrap();
    for (name, bytes) in assets {
        std::fs::write(bin.join("files").join(name), bytes).unwrap();
    }
    let gh = format!(
        "#!/bin/bash\necho \"gh $*\" >> {b}/calls\nif [[ \"$1 $2\" == \"release download\" ]]; then while [[ $# -gt 0 ]]; do [[ \"$1\" == --dir ]] && d=\"$2\"; shift; done; cp {b}/files/* \"$d\"/; fi\n",
        b = bin.display()
    );
    std::fs::write(bin.join("gh"), gh).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bin.join("gh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let ws = dir.path().join("checkout");
    std::fs::create_dir_all(ws.join("dist")).unwrap();
    std::fs::write(ws.join("dist/sha256sums.txt"), sums).unwrap();
    // The tagged commit's run.sh names the cargo-auditable version the release built beside cratemill.
    std::fs::copy(root().join("dist/run.sh"), ws.join("dist/run.sh")).unwrap();
    let out = std::process::Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"].as_str().unwrap()])
        .current_dir(&ws)
        .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()))
        .env("REPO", "o/cratemill")
        .env("VERSION", "1.2.3")
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), std::fs::read_to_string(bin.join("calls")).unwrap_or_default())
}

#[test]
fn a_release_is_built_from_this_source_and_published_only_against_the_tags_own_sums() {
    let text = std::fs::read_to_string(root().join(".github/workflows/release.yml")).unwrap();
    assert!(!text.contains("crate: cratemill"), "crates.io has no cratemill: build this checkout");
    assert!(text.contains("cargo zigbuild --release --locked"), "the source at the dispatched commit, locked");
    let (x86, arm) = (b"x86 binary".as_slice(), b"arm binary".as_slice());
    let x = "cratemill-1.2.3-x86_64-unknown-linux-musl";
    let a = "cratemill-1.2.3-aarch64-unknown-linux-musl";
    // cargo-auditable, built by the same release beside cratemill (dist/build-auditable.sh).
    let v = cratemill::builder::backend::CARGO_AUDITABLE_VERSION;
    let ax = format!("cratemill-1.2.3-cargo-auditable-{v}-x86_64-unknown-linux-musl");
    let aa = format!("cratemill-1.2.3-cargo-auditable-{v}-aarch64-unknown-linux-musl");
    let (tx, ta) = (b"auditable x86".as_slice(), b"auditable arm".as_slice());
    let line =
        |name: &str, bytes: &[u8]| format!("{}  {name}\n", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes)));
    let sums = format!("# sums\n{}{}{}{}", line(x, x86), line(a, arm), line(&ax, tx), line(&aa, ta));
    let all = [(x, x86), (a, arm), (ax.as_str(), tx), (aa.as_str(), ta)];
    let (code, calls) = publish_release(&sums, &all);
    assert_eq!(code, 0, "{calls}");
    assert!(
        calls.lines().last().unwrap().starts_with("gh release edit v1.2.3 --repo o/cratemill --draft=false"),
        "{calls}"
    );
    // A draft asset that is not what the tagged commit's sums say: not published.
    let (code, calls) = publish_release(&sums, &[(x, b"tampered"), (a, arm), (ax.as_str(), tx), (aa.as_str(), ta)]);
    assert_eq!(code, 1, "{calls}");
    assert!(!calls.contains("release edit"), "{calls}");
    // The same for the cargo-auditable the jobs run.
    let (code, calls) = publish_release(&sums, &[(x, x86), (a, arm), (ax.as_str(), tx), (aa.as_str(), b"tampered")]);
    assert_eq!(code, 1, "{calls}");
    assert!(!calls.contains("release edit"), "{calls}");
    // Sums without the cargo-auditable lines: refused, like a missing cratemill line.
    let (code, calls) = publish_release(&format!("# sums\n{}{}", line(x, x86), line(a, arm)), &all);
    assert_eq!(code, 2, "{calls}");
    assert!(!calls.contains("release edit"), "{calls}");
    // A tag on a commit without the version's sums (the sums pull request not merged): refused.
    let (code, calls) = publish_release("# sums\n", &[(x, x86), (a, arm)]);
    assert_eq!(code, 2, "{calls}");
    assert!(!calls.contains("release edit"), "{calls}");
}

/// Run plan.yml's "Previous built index" step in a fresh folder with `env`; (exit code, stderr,
/// the plan/built.json it left).
fn previous_index(env: &[(String, String)]) -> (i32, String, Option<String>) {
    let w = load(&root().join("workflows-templates/plan.yml"));
    let step =
        steps(&w["jobs"]["plan"]).into_iter().find(|s| s["name"].as_str() == Some("Previous built index")).unwrap();
    let ws = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"].as_str().unwrap()])
        .current_dir(ws.path())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let built = std::fs::read_to_string(ws.path().join("plan/built.json")).ok();
    let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), said, built)
}

#[test]
fn the_plan_reads_the_index_the_report_pushed_to_the_registry() {
    // The 90-day artifact was the fleet's only memory; an index in the registry does not expire.
    let reg = registry::Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    report_results::failed(
        &results,
        &report_results::job("tool", "1.0.0", report_results::X86),
        cratemill::schema::result::FailureClass::CompileError,
    );
    let index = dir.path().join("built.json");
    let reference = format!("{}/mirror/cratemill-built-index:main", reg.host());
    // `cratemill report --push-index`, as the report step runs it.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_cratemill"))
        .args(["report", results.to_str().unwrap(), "--out", index.to_str().unwrap()])
        .args(["--push-index", &reference, "--insecure-http"])
        .env("CRATEMILL_REGISTRY_USER", registry::USER)
        .env("CRATEMILL_REGISTRY_TOKEN", registry::PASSWORD)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want = std::fs::read_to_string(&index).unwrap();
    let step_env = |reference: &str, token: &str| {
        vec![
            ("PREVIOUS".to_string(), String::new()),
            ("INDEX_REF".to_string(), reference.to_string()),
            ("INSECURE".to_string(), "true".to_string()),
            ("REGISTRY_USER".to_string(), registry::USER.to_string()),
            ("REGISTRY_TOKEN".to_string(), token.to_string()),
            ("PATH".to_string(), "/usr/bin:/bin".to_string()),
        ]
    };
    let (code, said, built) = previous_index(&step_env(&reference, registry::PASSWORD));
    assert_eq!(code, 0, "{said}");
    assert_eq!(built.as_deref(), Some(want.as_str()), "{said}");
    assert!(want.contains("\"tool\""), "{want}");
    // A first run: nothing at that tag yet.
    let missing = format!("{}/mirror/cratemill-built-index:other", reg.host());
    let (code, said, built) = previous_index(&step_env(&missing, registry::PASSWORD));
    assert_eq!((code, built), (0, None), "{said}");
    assert!(said.contains("no built index at"), "{said}");
    // Wrong credentials are an error, not a first run.
    let (code, said, built) = previous_index(&step_env(&reference, "wrong"));
    assert_eq!((code, built), (3, None), "{said}");
}

#[test]
fn the_report_takes_only_each_plan_jobs_own_result() {
    // A forged result for an unplanned crate (marked built, so later plans skip it), or one that
    // replaces a neighbour's, must not reach the built index.
    let w = load(&root().join("workflows-templates/mirror.yml"));
    let step = steps(&w["jobs"]["report"])
        .into_iter()
        .find(|s| s["name"].as_str() == Some("Bind each result to its plan job"))
        .expect("the report binds results to plan jobs");
    let report = steps(&w["jobs"]["report"]).into_iter().find(|s| s["id"].as_str() == Some("report")).unwrap();
    assert_eq!(report["with"]["path"].as_str(), Some("bound"));
    let ws = tempfile::tempdir().unwrap();
    let t = "x86_64-unknown-linux-musl";
    let job = |c: &str, v: &str| serde_json::json!({"crate": c, "version": v, "target": t});
    put(
        ws.path(),
        "plan/chunks/0001.json",
        &serde_json::json!({"jobs": [job("alpha", "1.0.0"), job("beta", "2.0.0")]}).to_string(),
    );
    put(ws.path(), "plan/chunks/0002.json", &serde_json::json!({"jobs": [job("gamma", "3.0.0")]}).to_string());
    put(ws.path(), "plan/chunks/index.json", "{}");
    let result = |c: &str, v: &str, note: &str| {
        let mut r = job(c, v);
        r["note"] = note.into();
        r.to_string()
    };
    let (a, g) = (format!("alpha-1.0.0-{t}"), format!("gamma-3.0.0-{t}"));
    put(ws.path(), &format!("results/cratemill-results-0001/{a}/result.json"), &result("alpha", "1.0.0", "genuine"));
    put(ws.path(), &format!("results/cratemill-results-0001/{a}/publish.json"), "{\"p\": 1}");
    put(
        ws.path(),
        &format!("results/cratemill-results-0001/evil-6.6.6-{t}/result.json"),
        &result("evil", "6.6.6", "forged"),
    );
    put(ws.path(), &format!("results/cratemill-results-0002/{a}/result.json"), &result("alpha", "1.0.0", "forged"));
    put(ws.path(), &format!("results/cratemill-results-0002/{g}/result.json"), &result("alpha", "1.0.0", "forged"));
    let o = std::process::Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"].as_str().unwrap()])
        .current_dir(ws.path())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{log}");
    let bound: Vec<String> = std::fs::read_dir(ws.path().join("bound"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(bound, std::slice::from_ref(&a), "{log}");
    let got = std::fs::read_to_string(ws.path().join(format!("bound/{a}/result.json"))).unwrap();
    assert!(got.contains("genuine"), "{got}");
    assert!(ws.path().join(format!("bound/{a}/publish.json")).is_file());
    assert!(log.contains(&format!("the result of {g} in chunk 0002 names another job")), "{log}");
}
