//! The reusable workflows keep the trust split and the pinning rules: the build jobs hold no
//! permission, no token and no checkout; only publish jobs get write permissions; every job says
//! its permissions; third-party actions are pinned by full commit SHA with the version named;
//! every checkout drops its credentials; the copies GitHub calls are the templates.

use std::path::{Path, PathBuf};

use serde_yaml::Value;

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
            let allowed = ["publish", "chunk", "mirror", "next", "plan"].contains(&name.as_str());
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
