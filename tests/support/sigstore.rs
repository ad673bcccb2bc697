//! Sigstore test helpers: the Node stand-ins of `sigstore_stand_in.mjs` (token service, OIDC issuer,
//! Fulcio, Rekor, TSA on 127.0.0.1), GitHub's own `@actions/attest` predicate, the sigstore-js
//! verifier, and running the `cratemill` binary in a clean environment. Missing tools fail the test
//! with the setup script that installs them.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};

pub const SETUP: &str = "tests/setup/40-sigstore.sh";
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

pub fn node_dir() -> PathBuf {
    let dir = PathBuf::from(std::env::var("CRATEMILL_TEST_NODE").unwrap_or_else(|_| "/opt/cratemill-test/node".into()));
    for pkg in ["@sigstore/mock", "@sigstore/verify", "@actions/attest"] {
        assert!(
            dir.join("node_modules").join(pkg).is_dir(),
            "npm {pkg} is missing from {}: run `bash {SETUP}`",
            dir.display()
        );
    }
    dir
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/sigstore_stand_in.mjs")
}

fn node() -> Command {
    let mut c = Command::new("node");
    c.env("CRATEMILL_TEST_NODE", node_dir()).arg(script());
    c
}

/// Claims of a GitHub Actions OIDC token for a test repository.
/// The runner variables a key-signing attest job reads: the claims of [`claims`]`("public")` as
/// GitHub Actions sets them in the environment.
pub fn runner_env() -> Vec<(String, String)> {
    let c = claims("public");
    let v = |k: &str| c[k].as_str().unwrap().to_string();
    [
        ("GITHUB_REF", v("ref")),
        ("GITHUB_SHA", v("sha")),
        ("GITHUB_REPOSITORY", v("repository")),
        ("GITHUB_EVENT_NAME", v("event_name")),
        ("GITHUB_WORKFLOW_REF", v("workflow_ref")),
        ("GITHUB_REPOSITORY_ID", v("repository_id")),
        ("GITHUB_REPOSITORY_OWNER_ID", v("repository_owner_id")),
        ("GITHUB_RUN_ID", v("run_id")),
        ("GITHUB_RUN_ATTEMPT", v("run_attempt")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

pub fn claims(visibility: &str) -> serde_json::Value {
    serde_json::json!({
        "iss": GITHUB_ISSUER,
        "sub": "repo:cratemill/mirror:ref:refs/heads/main",
        "ref": "refs/heads/main",
        "sha": "0123456789abcdef0123456789abcdef01234567",
        "repository": "cratemill/mirror",
        "repository_owner": "cratemill",
        "event_name": "workflow_dispatch",
        "job_workflow_ref": "cratemill/mirror/.github/workflows/mirror.yml@refs/heads/main",
        "workflow_ref": "cratemill/mirror/.github/workflows/mirror.yml@refs/heads/main",
        "repository_id": "123456",
        "repository_owner_id": "7890",
        "runner_environment": "github-hosted",
        "run_id": "555",
        "run_attempt": "2",
        "repository_visibility": visibility,
    })
}

/// The local services; stopped when dropped (their stdin closes, and the process is killed).
pub struct StandIn {
    pub url: String,
    pub dir: tempfile::TempDir,
    child: Child,
    _stdin: ChildStdin,
}

impl StandIn {
    /// Start with these token claims; `faults` is written to faults.json (e.g. `{"fulcio": 2}`).
    pub fn start(claims: &serde_json::Value, faults: Option<serde_json::Value>) -> StandIn {
        let dir = tempfile::tempdir().unwrap();
        let claims_file = dir.path().join("claims.json");
        std::fs::write(&claims_file, claims.to_string()).unwrap();
        if let Some(f) = faults {
            std::fs::write(dir.path().join("faults.json"), f.to_string()).unwrap();
        }
        let mut child = node()
            .args(["serve", dir.path().to_str().unwrap(), claims_file.to_str().unwrap()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node is required: install Node.js 20");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("stand-in did not start ({e}): {line:?}"));
        StandIn { url: v["url"].as_str().unwrap().to_string(), dir, child, _stdin: stdin }
    }

    pub fn trusted_root(&self) -> PathBuf {
        self.dir.path().join("trusted_root.json")
    }

    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("requests.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Environment of an Actions job with `id-token: write`, pointed at these services.
    pub fn job_env(&self) -> Vec<(String, String)> {
        vec![
            ("ACTIONS_ID_TOKEN_REQUEST_URL".into(), format!("{}/token?api-version=2.0", self.url)),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN".into(), "runner-token".into()),
            ("CRATEMILL_FULCIO_URL".into(), format!("{}/fulcio", self.url)),
            ("CRATEMILL_REKOR_URL".into(), format!("{}/rekor", self.url)),
            ("CRATEMILL_TSA_URL".into(), format!("{}/tsa/api/v1/timestamp", self.url)),
        ]
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `@actions/attest`'s predicate for these claims, and a token (audience sigstore) with them.
pub fn github_predicate(claims: &serde_json::Value, server_url: &str) -> (serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("claims.json");
    std::fs::write(&f, claims.to_string()).unwrap();
    let out = node().args(["predicate", f.to_str().unwrap(), server_url]).output().unwrap();
    assert!(out.status.success(), "predicate script failed: {}", String::from_utf8_lossy(&out.stderr));
    // @actions/core writes ::debug:: lines to stdout; the answer is the last line.
    let stdout = String::from_utf8(out.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    (v["predicate"].clone(), v["token"].as_str().unwrap().to_string())
}

/// Verify with sigstore-js: `Ok(san)` or `Err(reason)`.
pub fn js_verify(trusted_root: &Path, bundle: &Path, artifact: &Path, san: Option<&str>) -> Result<String, String> {
    let mut c = node();
    c.args(["verify", trusted_root.to_str().unwrap(), bundle.to_str().unwrap(), artifact.to_str().unwrap()]);
    if let Some(s) = san {
        c.arg(s);
    }
    let out = c.output().unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// Run `cratemill` with no GitHub/Actions/Sigstore variables from the outer environment.
pub fn cratemill(args: &[&str], env: &[(String, String)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cratemill"));
    for (k, _) in std::env::vars() {
        if k.starts_with("GITHUB_")
            || k.starts_with("ACTIONS_")
            || k.starts_with("CRATEMILL_")
            || k.starts_with("SIGSTORE_")
        {
            c.env_remove(k);
        }
    }
    c.args(args).envs(env.iter().map(|(k, v)| (k, v))).output().unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// A P-256 PKCS#8 key pair made by openssl: (private PEM path, public PEM path).
pub fn keypair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub"));
    let ok = Command::new("openssl")
        .args(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out"])
        .arg(&key)
        .status()
        .expect("openssl is required: apt-get install -y openssl");
    assert!(ok.success());
    let ok =
        Command::new("openssl").args(["pkey", "-pubout", "-in"]).arg(&key).arg("-out").arg(&public).status().unwrap();
    assert!(ok.success());
    (key, public)
}
