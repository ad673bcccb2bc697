//! `cratemill attest` and `cratemill verify` end to end, through the binary: the predicate against
//! GitHub's own `@actions/attest`, key signing with tamper tests, and keyless signing against local
//! Fulcio/Rekor/TSA/OIDC stand-ins (built from npm `@sigstore/mock`) with every bundle checked by
//! `cratemill verify` AND by sigstore-js (`@sigstore/verify`), for both the public-repository
//! (Rekor) and private-repository (TSA) shapes; bundles attached to a published image in a real
//! registry (docker-registry, no referrers API: the `sha256-<hex>` fallback tag) and found again,
//! from `publish --attest` and from a real build of a crate from a local sparse registry (`build
//! --publish --attest`).

#[path = "support/fault_proxy.rs"]
mod fault_proxy;
#[path = "support/package.rs"]
mod package;
#[path = "support/registry.rs"]
mod registry;
#[path = "support/sigstore.rs"]
mod sigstore;
#[path = "support/sparse_registry.rs"]
mod sparse_registry;

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::Value;
use sigstore::{cratemill, stderr, StandIn};

const ID: &str = "hexyl-0.16.0-x86_64-unknown-linux-musl";

fn pkg(root: &Path, name: &str, version: &str) -> PathBuf {
    package::write(root, &package::Spec::real(name, version))
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The predicate with cratemill's additions taken out again.
fn github_part(predicate: &Value) -> Value {
    let mut p = predicate.clone();
    let def = p["buildDefinition"].as_object_mut().unwrap();
    def["internalParameters"].as_object_mut().unwrap().remove("cratemill");
    def["resolvedDependencies"].as_array_mut().unwrap().truncate(1);
    p["runDetails"].as_object_mut().unwrap().remove("byproducts");
    p
}

#[test]
fn predicate_matches_actions_attest_field_for_field() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = pkg(tmp.path(), "hexyl", "0.16.0");
    let mut claims = sigstore::claims("public");
    // A reusable workflow: job_workflow_ref differs from workflow_ref, as GitHub's action must show.
    claims["job_workflow_ref"] = "cratemill/cratemill/.github/workflows/build.yml@refs/tags/v1".into();
    let (github, token) = sigstore::github_predicate(&claims, "https://github.com");
    let out_dir = tmp.path().join("out");
    let env = vec![("SIGSTORE_ID_TOKEN".to_string(), token), ("GITHUB_SERVER_URL".into(), "https://github.com".into())];
    let o = cratemill(&["attest", arg(&dir), "--sign", "none", "--out", arg(&out_dir)], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("NOT signed"), "{}", stderr(&o));
    assert!(!out_dir.join(format!("{ID}.sigstore.json")).exists(), "--sign none writes no bundle");

    let stmt = read_json(&out_dir.join(format!("{ID}.intoto.json")));
    assert_eq!(stmt["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(stmt["predicateType"], github["type"]);
    let ours = &stmt["predicate"];
    assert_eq!(github_part(ours), github["params"], "GitHub's fields, every value");
    // Field by field too, so a failure names the field.
    for path in [
        "/buildDefinition/buildType",
        "/buildDefinition/externalParameters/workflow",
        "/buildDefinition/internalParameters/github",
        "/buildDefinition/resolvedDependencies/0",
        "/runDetails/builder/id",
        "/runDetails/metadata/invocationId",
    ] {
        assert_eq!(ours.pointer(path), github["params"].pointer(path), "{path}");
    }
    // What only cratemill knows, added beside them.
    let deps = ours["buildDefinition"]["resolvedDependencies"].as_array().unwrap();
    let krate = deps.iter().find(|d| d["uri"] == "pkg:cargo/hexyl@0.16.0").expect("the .crate is a dependency");
    assert_eq!(krate["digest"]["sha256"], "c".repeat(64));
    let cm = &ours["buildDefinition"]["internalParameters"]["cratemill"]["packages"][0];
    assert_eq!(cm["target"], "x86_64-unknown-linux-musl");
    assert_eq!(cm["backend"], "cargo");
    let digests = package::file_digests(&dir);
    assert_eq!(ours["runDetails"]["byproducts"][0]["digest"]["sha256"], digests["build.log"]);

    // Subjects: every published file, by name and sha256.
    let subjects: Vec<(String, String)> = stmt["subject"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap().to_string(), s["digest"]["sha256"].as_str().unwrap().to_string()))
        .collect();
    let expected: Vec<(String, String)> = digests.iter().map(|(p, d)| (format!("{ID}/{p}"), d.clone())).collect();
    let mut sorted = subjects.clone();
    sorted.sort();
    assert_eq!(sorted, expected);
    let record = read_json(&out_dir.join("attest.json"));
    assert_eq!(record["attestations"][0]["signed_with"], "none");
    assert_eq!(record["attestations"][0]["bundle"], Value::Null);
}

#[test]
fn key_signing_verifies_and_every_tamper_is_caught() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = pkg(tmp.path(), "hexyl", "0.16.0");
    let other = pkg(tmp.path(), "bat", "0.24.0");
    let (key, public) = sigstore::keypair(tmp.path(), "k");
    let (_, wrong_public) = sigstore::keypair(tmp.path(), "wrong");
    let env = key_env();
    let out = tmp.path().join("out");
    let o =
        cratemill(&["attest", arg(&dir), arg(&other), "--sign", "key", "--key", arg(&key), "--out", arg(&out)], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    let bundle = out.join(format!("{ID}.sigstore.json"));
    let b = read_json(&bundle);
    assert_eq!(b["mediaType"], "application/vnd.dev.sigstore.bundle.v0.3+json");
    assert_eq!(b["dsseEnvelope"]["payloadType"], "application/vnd.in-toto+json");
    assert!(b["verificationMaterial"]["publicKey"]["hint"].is_string());

    let exe = dir.join("bin/hexyl");
    let verify = |file: &Path, bundle: &Path, key: &Path| {
        cratemill(&["verify", arg(file), "--bundle", arg(bundle), "--key", arg(key)], &[])
    };
    for f in ["bin/hexyl", "build.log", "licenses/LICENSE-MIT", "srcbuild/hexyl-0.16.0-srcbuild.tar.zst", "CHECKSUMS"] {
        let o = verify(&dir.join(f), &bundle, &public);
        assert!(o.status.success(), "{f}: {}", stderr(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("{ID}/{f}")));
    }
    // A wrong key.
    let o = verify(&exe, &bundle, &wrong_public);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("signature check failed"), "{}", stderr(&o));
    // A bundle of another artifact (both packages hold the same /bin/true, so use the log).
    let o = verify(&dir.join("build.log"), &out.join("bat-0.24.0-x86_64-unknown-linux-musl.sigstore.json"), &public);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is not a subject"), "{}", stderr(&o));
    // The file changed after attest: one byte flipped.
    let mut bytes = std::fs::read(&exe).unwrap();
    bytes[100] ^= 1;
    let flipped = tmp.path().join("hexyl-flipped");
    std::fs::write(&flipped, &bytes).unwrap();
    let o = verify(&flipped, &bundle, &public);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("hexyl-flipped does not verify") && stderr(&o).contains("changed after attest"),
        "{}",
        stderr(&o)
    );
    // The payload edited to claim the flipped file (signature kept).
    let flipped_sha = cratemill::package::digest_file(&flipped).unwrap().sha256;
    let edited = edit_payload(&b, |stmt| stmt["subject"][0]["digest"]["sha256"] = flipped_sha.clone().into());
    let edited_path = tmp.path().join("edited.sigstore.json");
    std::fs::write(&edited_path, edited.to_string()).unwrap();
    let o = verify(&flipped, &edited_path, &public);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("signature check failed"), "{}", stderr(&o));
    // The signature swapped for the other bundle's.
    let theirs = read_json(&out.join("bat-0.24.0-x86_64-unknown-linux-musl.sigstore.json"));
    let mut swapped = b.clone();
    swapped["dsseEnvelope"]["signatures"] = theirs["dsseEnvelope"]["signatures"].clone();
    let swapped_path = tmp.path().join("swapped.sigstore.json");
    std::fs::write(&swapped_path, swapped.to_string()).unwrap();
    let o = verify(&exe, &swapped_path, &public);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("signature check failed"), "{}", stderr(&o));
}

fn edit_payload(bundle: &Value, f: impl FnOnce(&mut Value)) -> Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut stmt: Value =
        serde_json::from_slice(&b64.decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap()).unwrap()).unwrap();
    f(&mut stmt);
    let mut out = bundle.clone();
    out["dsseEnvelope"]["payload"] = b64.encode(stmt.to_string()).into();
    out
}

/// Attest one package keyless against the stand-ins; returns (package dir, bundle path, output).
fn keyless(stand: &StandIn, tmp: &Path, extra: &[&str]) -> (PathBuf, PathBuf, std::process::Output) {
    let dir = pkg(tmp, "hexyl", "0.16.0");
    let out = tmp.join("out");
    let mut args = vec!["attest", arg(&dir), "--out", arg(&out)];
    args.extend_from_slice(extra);
    let o = cratemill(&args, &stand.job_env());
    (dir, out.join(format!("{ID}.sigstore.json")), o)
}

#[test]
fn keyless_public_repository_logs_in_rekor_and_both_verifiers_accept_it() {
    let stand = StandIn::start(&sigstore::claims("public"), None);
    let tmp = tempfile::tempdir().unwrap();
    let (dir, bundle, o) = keyless(&stand, tmp.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let b = read_json(&bundle);
    let tlog = b["verificationMaterial"]["tlogEntries"].as_array().unwrap();
    assert_eq!(tlog.len(), 1, "one Rekor entry");
    assert_eq!(tlog[0]["kindVersion"]["kind"], "dsse");
    assert_eq!(tlog[0]["kindVersion"]["version"], "0.0.1");
    assert!(b["verificationMaterial"]["certificate"]["rawBytes"].is_string(), "leaf certificate only");
    let reqs = stand.requests();
    assert!(reqs.contains(&"GET /token".to_string()) && reqs.contains(&"POST /fulcio/api/v2/signingCert".to_string()));
    assert!(reqs.contains(&"POST /rekor/api/v1/log/entries".to_string()));
    assert!(!reqs.iter().any(|r| r.contains("/tsa/")), "public repositories get no TSA timestamp: {reqs:?}");
    let record = read_json(&tmp.path().join("out/attest.json"));
    assert_eq!(record["attestations"][0]["instance"], "public-good");

    let exe = dir.join("bin/hexyl");
    let root = stand.trusted_root();
    let o = cratemill(
        &["verify", arg(&exe), "--bundle", arg(&bundle), "--trusted-root", arg(&root), "--repo", "cratemill/mirror"],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let said = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(said.contains("logged in Rekor") && said.contains("https://github.com/cratemill/mirror/"), "{said}");
    let san = "https://github.com/cratemill/mirror/.github/workflows/mirror.yml@refs/heads/main";
    assert_eq!(sigstore::js_verify(&root, &bundle, &exe, Some(san)), Ok(format!("ok {san}")));

    // Identity policy: another repository, another workflow.
    let o = cratemill(
        &["verify", arg(&exe), "--bundle", arg(&bundle), "--trusted-root", arg(&root), "--repo", "evil/mirror"],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is not evil/mirror"), "{}", stderr(&o));
    let o = cratemill(
        &[
            "verify",
            arg(&exe),
            "--bundle",
            arg(&bundle),
            "--trusted-root",
            arg(&root),
            "--identity",
            "https://github.com/cratemill/mirror/.github/workflows/release.yml@.*",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("does not match --identity"), "{}", stderr(&o));
    // Neither policy flag: refused rather than accepting anyone.
    let o = cratemill(&["verify", arg(&exe), "--bundle", arg(&bundle), "--trusted-root", arg(&root)], &[]);
    assert_eq!(o.status.code(), Some(2));
    // The built-in public-good root does not trust the stand-in's CA.
    let o = cratemill(&["verify", arg(&exe), "--bundle", arg(&bundle), "--repo", "cratemill/mirror"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // Payload edited: both verifiers refuse.
    let edited = edit_payload(&b, |s| {
        s["predicate"]["buildDefinition"]["externalParameters"]["workflow"]["ref"] = "refs/heads/evil".into()
    });
    let edited_path = tmp.path().join("edited.json");
    std::fs::write(&edited_path, edited.to_string()).unwrap();
    let o = cratemill(
        &[
            "verify",
            arg(&exe),
            "--bundle",
            arg(&edited_path),
            "--trusted-root",
            arg(&root),
            "--repo",
            "cratemill/mirror",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(sigstore::js_verify(&root, &edited_path, &exe, None).is_err());
}

#[test]
fn keyless_private_repository_gets_a_timestamp_and_no_log_entry() {
    let stand = StandIn::start(&sigstore::claims("private"), None);
    let tmp = tempfile::tempdir().unwrap();
    let (dir, bundle, o) = keyless(&stand, tmp.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let b = read_json(&bundle);
    assert!(b["verificationMaterial"]["tlogEntries"].as_array().is_none_or(Vec::is_empty), "no Rekor entry");
    let ts = &b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"];
    assert_eq!(ts.as_array().map(Vec::len), Some(1), "{b}");
    assert!(!stand.requests().iter().any(|r| r.contains("/rekor/")), "private repositories log nothing publicly");
    let exe = dir.join("bin/hexyl");
    let root = stand.trusted_root();
    let o = cratemill(
        &["verify", arg(&exe), "--bundle", arg(&bundle), "--trusted-root", arg(&root), "--repo", "cratemill/mirror"],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("1 verified timestamp"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(
        sigstore::js_verify(&root, &bundle, &exe, None).is_ok(),
        "{:?}",
        sigstore::js_verify(&root, &bundle, &exe, None)
    );
}

#[test]
fn keyless_faults_missing_permission_wrong_audience_and_unreachable_services() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = pkg(tmp.path(), "hexyl", "0.16.0");
    let out = tmp.path().join("out");
    // No id-token: write.
    let o = cratemill(&["attest", arg(&dir), "--out", arg(&out)], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("permissions: id-token: write"), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "one line: {}", stderr(&o));
    assert!(!out.exists(), "nothing written");
    // A token for another audience.
    let (_, token) = sigstore::github_predicate(&sigstore::claims("public"), "https://github.com");
    let mut claims = sigstore::claims("public");
    claims["aud"] = "nobody".into();
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
    let mut parts: Vec<&str> = token.split('.').collect();
    parts[1] = &payload;
    let wrong = parts.join(".");
    let o = cratemill(&["attest", arg(&dir), "--out", arg(&out)], &[("SIGSTORE_ID_TOKEN".into(), wrong)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not \"sigstore\""), "{}", stderr(&o));

    // Fulcio fails twice, then works: bounded retries get through.
    let stand = StandIn::start(&sigstore::claims("public"), Some(serde_json::json!({"fulcio": 2})));
    let (_, bundle, o) = keyless(&stand, &tmp.path().join("retry"), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(bundle.is_file());
    assert_eq!(stand.requests().iter().filter(|r| r.contains("/fulcio/")).count(), 3);
    // Fulcio keeps failing: a one-line error, and no bundle presented as signed.
    let stand = StandIn::start(&sigstore::claims("public"), Some(serde_json::json!({"fulcio": 10})));
    let (_, bundle, o) = keyless(&stand, &tmp.path().join("down"), &[]);
    assert_eq!(o.status.code(), Some(3), "an unreachable service is the environment: {}", stderr(&o));
    let said = stderr(&o);
    assert!(said.contains("/fulcio/api/v2/signingCert answered HTTP 503"), "{said}");
    assert!(said.contains("after 5 attempts"), "the network layer's bound: {said}");
    assert_eq!(stderr(&o).lines().count(), 1);
    assert!(!bundle.exists() && !tmp.path().join("down/out/attest.json").exists());
}

#[test]
fn keyless_faults_at_the_token_service_rekor_and_the_tsa_are_retried_by_the_network_layer() {
    let tmp = tempfile::tempdir().unwrap();
    // Private repository: the token service and the TSA answer 503 (Retry-After: 0) first.
    let stand = StandIn::start(&sigstore::claims("private"), Some(serde_json::json!({"token": 1, "tsa": 2})));
    let (_, bundle, o) = keyless(&stand, &tmp.path().join("tsa"), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(bundle.is_file());
    let reqs = stand.requests();
    assert_eq!(reqs.iter().filter(|r| *r == "GET /token").count(), 2, "{reqs:?}");
    assert_eq!(reqs.iter().filter(|r| r.starts_with("POST /tsa/")).count(), 3, "{reqs:?}");
    assert_eq!(reqs.iter().filter(|r| r.contains("/fulcio/")).count(), 1, "the certificate is not asked again");
    // Public repository: Rekor answers 503 once; the try starts over with a new certificate.
    let stand = StandIn::start(&sigstore::claims("public"), Some(serde_json::json!({"rekor": 1})));
    let (_, bundle, o) = keyless(&stand, &tmp.path().join("rekor"), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(bundle.is_file());
    let reqs = stand.requests();
    assert_eq!(reqs.iter().filter(|r| *r == "POST /rekor/api/v1/log/entries").count(), 2, "{reqs:?}");
    assert_eq!(reqs.iter().filter(|r| r.contains("/fulcio/")).count(), 2, "{reqs:?}");
    // Nothing listening where Fulcio should be: one line, exit 3, no bundle.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let stand = StandIn::start(&sigstore::claims("public"), None);
    let fulcio = format!("http://127.0.0.1:{port}");
    let (_, bundle, o) = keyless(&stand, &tmp.path().join("gone"), &["--fulcio-url", &fulcio]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("POST {fulcio}/api/v2/signingCert")), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(!bundle.exists());
}

#[test]
fn batch_puts_a_chunk_in_one_statement() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = ["a", "b", "c"].iter().map(|n| pkg(tmp.path(), n, "1.0.0")).collect();
    let results: Vec<String> = dirs.iter().map(|d| d.join("result.json").to_str().unwrap().to_string()).collect();
    let (_, token) = sigstore::github_predicate(&sigstore::claims("public"), "https://github.com");
    let out = tmp.path().join("out");
    let mut args = vec!["attest", "--batch", "--sign", "none", "--out", arg(&out)];
    args.extend(results.iter().map(String::as_str));
    let o = cratemill(&args, &[("SIGSTORE_ID_TOKEN".into(), token)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stmt = read_json(&out.join("batch-0001.intoto.json"));
    let files: usize = dirs.iter().map(|d| package::file_digests(d).len()).sum();
    assert_eq!(stmt["subject"].as_array().unwrap().len(), files);
    assert_eq!(
        stmt["predicate"]["buildDefinition"]["internalParameters"]["cratemill"]["packages"].as_array().unwrap().len(),
        3
    );
    assert_eq!(read_json(&out.join("attest.json"))["attestations"].as_array().unwrap().len(), 1);
}

/// The referrers fallback index (`sha256-<hex>` tag) of the binary image that `dir` was published as.
fn fallback_index(reg: &registry::Registry, dir: &Path) -> Value {
    let tag = cratemill::provenance::referrer::fallback_tag(&binary_digest(dir));
    let index = registry::inspect_raw(&format!("{}/hexyl:{tag}", reg.host())).unwrap();
    serde_json::from_slice(&index).unwrap()
}

/// The digest of the package's published binary image.
fn binary_digest(dir: &Path) -> String {
    cratemill::schema::read::<cratemill::schema::publish::PublishRecord>(&dir.join("publish.json"))
        .unwrap()
        .references
        .iter()
        .find(|r| r.kind == cratemill::schema::publish::ReferenceKind::Binary)
        .unwrap()
        .digest
        .clone()
}

/// Overwrite the package's fallback index, as another job's unguarded write would.
fn put_index(reg: &registry::Registry, dir: &Path, index: &serde_json::Value) {
    let tag = cratemill::provenance::referrer::fallback_tag(&binary_digest(dir));
    let url = format!("http://{}/v2/hexyl/manifests/{tag}", reg.host());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = rt.block_on(async {
        reqwest::Client::new()
            .put(url)
            .basic_auth(registry::USER, Some(registry::PASSWORD))
            .header("content-type", "application/vnd.oci.image.index.v1+json")
            .body(serde_json::to_vec(index).unwrap())
            .send()
            .await
            .unwrap()
            .status()
    });
    assert!(status.is_success(), "{status}");
}

/// The environment a key-signing job runs with (claims from the runner's variables).
fn key_env() -> Vec<(String, String)> {
    sigstore::runner_env()
}

#[test]
fn two_jobs_attach_to_one_image_through_the_fallback_tag_and_verify_finds_both() {
    let reg = registry::Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = pkg(tmp.path(), "hexyl", "0.16.0");
    let creds = vec![
        ("CRATEMILL_REGISTRY_USER".to_string(), registry::USER.to_string()),
        ("CRATEMILL_REGISTRY_TOKEN".to_string(), registry::PASSWORD.to_string()),
    ];
    let o = cratemill(&["publish", arg(&dir), "--registry", &reg.host(), "--insecure-http"], &creds);
    assert!(o.status.success(), "{}", stderr(&o));
    let image = format!("{}/hexyl:0.16.0-{}", reg.host(), package::TARGET);
    // Before any attach: nothing to find.
    let (_, pub1) = sigstore::keypair(tmp.path(), "one");
    let o = cratemill(&["verify", &image, "--insecure-http", "--key", arg(&pub1)], &creds);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no attestation is attached"), "{}", stderr(&o));

    // Two jobs, two keys, at the same time.
    let mut env = key_env();
    env.extend(creds.clone());
    let jobs: Vec<_> = ["one", "two"]
        .iter()
        .map(|name| {
            let (key, _) = sigstore::keypair(tmp.path(), name);
            let out = tmp.path().join(format!("out-{name}"));
            let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_cratemill"));
            c.args([
                "attest",
                arg(&dir),
                "--sign",
                "key",
                "--key",
                arg(&key),
                "--attach",
                "--insecure-http",
                "--out",
                arg(&out),
            ]);
            c.envs(env.iter().map(|(k, v)| (k, v)))
                .env_remove("GITHUB_TOKEN")
                .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL");
            c.stderr(std::process::Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for j in jobs {
        let o = j.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    // Two unguarded writes may drop one entry from the index (docker-registry gives no ETag); the
    // referrer tags keep both, and verify reads them.
    let index = fallback_index(&reg, &dir);
    let listed = index["manifests"].as_array().unwrap().len();
    assert!((1..=2).contains(&listed), "{index}");
    // Make the lost write certain: the index keeps only its first entry.
    let mut dropped = index.clone();
    dropped["manifests"].as_array_mut().unwrap().truncate(1);
    put_index(&reg, &dir, &dropped);
    assert_eq!(fallback_index(&reg, &dir)["manifests"].as_array().unwrap().len(), 1);
    for name in ["one", "two"] {
        let public = tmp.path().join(format!("{name}.pub"));
        let o = cratemill(&["verify", &image, "--insecure-http", "--key", arg(&public)], &creds);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let said = String::from_utf8_lossy(&o.stdout);
        assert!(said.contains(&format!("{ID}/bin/hexyl")) && said.contains(&format!("{ID}/CHECKSUMS")), "{said}");
    }
    let (_, stranger) = sigstore::keypair(tmp.path(), "stranger");
    let o = cratemill(&["verify", &image, "--insecure-http", "--key", arg(&stranger)], &creds);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is not attested by any attached bundle"), "{}", stderr(&o));
    // A later attach merges every referrer tag: the index lists all three.
    let (three, _) = sigstore::keypair(tmp.path(), "three");
    let out = tmp.path().join("out-three");
    let o = cratemill(
        &[
            "attest",
            arg(&dir),
            "--sign",
            "key",
            "--key",
            arg(&three),
            "--attach",
            "--insecure-http",
            "--out",
            arg(&out),
        ],
        &env,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let index = fallback_index(&reg, &dir);
    assert_eq!(index["manifests"].as_array().unwrap().len(), 3, "every referrer tag merged: {index}");

    // A public image behind a GHCR-like Bearer front verifies with no credentials at all: an
    // anonymous pull token, never a push token.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let front = fault_proxy::FaultConfig {
        bearer: Some(fault_proxy::Bearer {
            client_basic: fault_proxy::basic(registry::USER, registry::PASSWORD),
            upstream_basic: fault_proxy::basic(registry::USER, registry::PASSWORD),
            rotate_every: 0,
            token_stall: None,
        }),
        token_scope: "pull",
        anonymous_pull: true,
        ..fault_proxy::FaultConfig::none()
    };
    let proxy = rt.block_on(fault_proxy::FaultProxy::start(reg.port, front));
    let public_image = format!("{}/hexyl:0.16.0-{}", proxy.host(), package::TARGET);
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_cratemill"));
    c.args(["verify", &public_image, "--insecure-http", "--key", arg(&tmp.path().join("one.pub"))]);
    for k in ["CRATEMILL_REGISTRY_USER", "CRATEMILL_REGISTRY_TOKEN", "GITHUB_TOKEN", "GITHUB_ACTOR"] {
        c.env_remove(k);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "anonymous verify: {}", String::from_utf8_lossy(&o.stderr));
    assert!(rt.block_on(async { proxy.tokens_issued() }) >= 1, "a pull token was asked for");
}

/// A one-thread HTTP server speaking the attestations API's shape: answers each request with the
/// next of `replies` (status, extra header, body) and records (request line, authorization, body).
fn github_api(
    replies: Vec<(u16, &'static str, &'static str)>,
) -> (String, std::sync::mpsc::Receiver<(String, String, Value)>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (status, header, body) in replies {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let (mut len, mut auth) = (0usize, String::new());
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                match k.to_ascii_lowercase().as_str() {
                    "content-length" => len = v.trim().parse().unwrap(),
                    "authorization" => auth = v.trim().to_string(),
                    _ => {}
                }
            }
            let mut buf = vec![0u8; len];
            reader.read_exact(&mut buf).unwrap();
            tx.send((line.trim().to_string(), auth, serde_json::from_slice(&buf).unwrap())).unwrap();
            let mut s = stream;
            write!(s, "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{header}\r\n{body}", body.len()).unwrap();
        }
    });
    (url, rx)
}

#[test]
fn bundles_go_to_the_attestations_api_through_octocrab_with_rate_limits_waited_for() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = pkg(tmp.path(), "hexyl", "0.16.0");
    let (key, _) = sigstore::keypair(tmp.path(), "k");
    let secondary =
        r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#;
    let (url, seen) = github_api(vec![
        (429, "Retry-After: 1\r\n", r#"{"message":"too many requests"}"#),
        (403, "Retry-After: 1\r\n", secondary),
        (201, "", r#"{"id":4242}"#),
    ]);
    let mut env = key_env();
    env.push(("GITHUB_API_URL".into(), url));
    env.push(("GITHUB_TOKEN".into(), "ghs_test".into()));
    let out = tmp.path().join("out");
    let started = std::time::Instant::now();
    let o = cratemill(
        &["attest", arg(&dir), "--sign", "key", "--key", arg(&key), "--github-api", "--out", arg(&out)],
        &env,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(started.elapsed() >= std::time::Duration::from_secs(2), "both Retry-After: 1 were honoured");
    let bundle = read_json(&out.join(format!("{ID}.sigstore.json")));
    for _ in 0..3 {
        let (line, auth, body) = seen.recv().unwrap();
        assert_eq!(line, "POST /repos/cratemill/mirror/attestations HTTP/1.1");
        assert_eq!(auth, "Bearer ghs_test");
        assert_eq!(body, serde_json::json!({ "bundle": bundle }));
    }
    assert!(seen.try_recv().is_err(), "no request after the 201");
    assert_eq!(read_json(&out.join("attest.json"))["attestations"][0]["github_attestation_id"], 4242);
    // Without attestations: write (a plain 403, no rate limit): not retried, one line, exit 2.
    let (url, seen) = github_api(vec![(403, "", r#"{"message":"Resource not accessible by integration"}"#)]);
    let mut env = key_env();
    env.push(("GITHUB_API_URL".into(), url));
    env.push(("GITHUB_TOKEN".into(), "ghs_test".into()));
    let o = cratemill(
        &["attest", arg(&dir), "--sign", "key", "--key", arg(&key), "--github-api", "--out", arg(&out)],
        &env,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).trim(),
        "error: GitHub refused to store the attestation (HTTP 403): the token needs `permissions: attestations: write` on cratemill/mirror"
    );
    assert_eq!(seen.iter().count(), 1, "a plain 403 is final");
    // No token at all.
    let o = cratemill(
        &["attest", arg(&dir), "--sign", "key", "--key", arg(&key), "--github-api", "--out", arg(&out)],
        &key_env(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--github-api needs GITHUB_TOKEN"), "{}", stderr(&o));
}

#[test]
fn publish_attest_signs_and_attaches_what_it_pushed_and_verify_finds_it() {
    let reg = registry::Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = pkg(tmp.path(), "hexyl", "0.16.0");
    let (key, public) = sigstore::keypair(tmp.path(), "k");
    let mut env = key_env();
    env.push(("CRATEMILL_REGISTRY_USER".into(), registry::USER.into()));
    env.push(("CRATEMILL_REGISTRY_TOKEN".into(), registry::PASSWORD.into()));
    let out = tmp.path().join("att");
    let host = reg.host();
    let publish = |extra: &[&str], env: &[(String, String)]| {
        let mut args = vec!["publish", arg(&dir), "--registry", &host, "--insecure-http"];
        args.extend_from_slice(extra);
        cratemill(&args, env)
    };
    // Attest flags without --attest, and a bad attest flag: refused before anything is pushed.
    let o = publish(&["--sign", "key", "--key", arg(&key)], &env);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("add --attest"), "{}", stderr(&o));
    let o = publish(&["--attest", "--sign", "key"], &env);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--sign key needs --key"), "{}", stderr(&o));
    assert!(!dir.join("publish.json").exists(), "nothing published");

    let o = publish(&["--attest", "--sign", "key", "--key", arg(&key), "--out", arg(&out)], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    let said = String::from_utf8_lossy(&o.stdout).to_string();
    let image = format!("{}/hexyl:0.16.0-{}", reg.host(), package::TARGET);
    assert!(said.lines().any(|l| l.starts_with(&format!("{image}@sha256:"))), "{said}");
    let bundle = out.join(format!("{ID}.sigstore.json"));
    assert!(said.lines().any(|l| l == arg(&bundle)), "{said}");
    let record = read_json(&out.join("attest.json"));
    let attached = record["attestations"][0]["attached"].as_array().unwrap();
    assert_eq!(attached.len(), 1, "{record}");
    // The registry holds the referrer: the fallback tag's index names it with the bundle type.
    let index = fallback_index(&reg, &dir);
    let entry = &index["manifests"][0];
    assert_eq!(entry["artifactType"], "application/vnd.dev.sigstore.bundle.v0.3+json", "{index}");
    assert!(attached[0].as_str().unwrap().ends_with(entry["digest"].as_str().unwrap()), "{record} {index}");
    let o = cratemill(&["verify", &image, "--insecure-http", "--key", arg(&public)], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("{ID}/bin/hexyl")));

    // Published, then the attest fails (the attestations API refuses): says so, how to finish, exit 2.
    let (url, _seen) = github_api(vec![(403, "", r#"{"message":"Resource not accessible by integration"}"#)]);
    let mut env = env.clone();
    env.push(("GITHUB_API_URL".into(), url));
    env.push(("GITHUB_TOKEN".into(), "ghs_test".into()));
    let o = publish(&["--attest", "--sign", "key", "--key", arg(&key), "--github-api", "--out", arg(&out)], &env);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("{image}@sha256:")), "the publish is reported");
    let all = stderr(&o);
    let errors: Vec<&str> = all.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one error line (publish's own notes aside): {all}");
    let said = errors[0];
    assert!(said.contains(&format!("the images of {} are published but unattested", arg(&dir))), "{said}");
    assert!(said.contains(&format!("`cratemill attest {} --attach --insecure-http --sign key", arg(&dir))), "{said}");
    assert!(said.contains(&format!("--github-api --out {}`", arg(&out))), "{said}");
    assert!(said.contains("attestations: write"), "{said}");
    // --github-api without GITHUB_TOKEN: refused before the push.
    std::fs::remove_file(dir.join("publish.json")).unwrap();
    let o = publish(&["--attest", "--sign", "key", "--key", arg(&key), "--github-api"], &key_env());
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--github-api needs GITHUB_TOKEN"), "{}", stderr(&o));
    assert!(!dir.join("publish.json").exists(), "nothing published");
}

#[test]
#[cfg_attr(not(all(target_arch = "x86_64", target_env = "gnu")), ignore = "assumes an x86_64-gnu host")]
fn build_publish_attest_builds_pushes_signs_and_verify_finds_it() {
    let crates = sparse_registry::SparseRegistry::start(vec![sparse_registry::TestCrate::binary("hello", "1.0.0")]);
    let reg = registry::Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let (key, public) = sigstore::keypair(tmp.path(), "k");
    let mut env = key_env();
    env.push(("CRATEMILL_REGISTRY_USER".into(), registry::USER.into()));
    env.push(("CRATEMILL_REGISTRY_TOKEN".into(), registry::PASSWORD.into()));
    let (dir, att) = (tmp.path().join("pkg"), tmp.path().join("att"));
    let (index, host) = (crates.index_url(), reg.host());
    let build = |extra: &[&str]| {
        let mut args = vec!["build", "hello", "--index-url", &index, "--out", arg(&dir), "--quiet"];
        args.extend_from_slice(extra);
        cratemill(&args, &env)
    };
    let publish = ["--publish", "--registry", &host, "--insecure-http"];
    // Refused before the build, with one line each: attest flags without --attest, --attest
    // without a publish, a bad attest flag.
    let refused: [(Vec<&str>, &str); 4] = [
        ([&publish[..], &["--sign", "key", "--key", arg(&key)]].concat(), "--sign is an attest flag: add --attest"),
        ([&publish[..], &["--attest-out", arg(&att)]].concat(), "--attest-out is an attest flag: add --attest"),
        (vec!["--attest", "--sign", "key", "--key", arg(&key)], "add --publish"),
        ([&publish[..], &["--attest", "--sign", "key"]].concat(), "--sign key needs --key"),
    ];
    for (extra, says) in refused {
        let o = build(&extra);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert_eq!(stderr(&o).lines().count(), 1, "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{extra:?}: {}", stderr(&o));
        assert!(!dir.exists(), "{extra:?}: nothing built");
    }

    let o =
        build(&[&publish[..], &["--attest", "--sign", "key", "--key", arg(&key), "--attest-out", arg(&att)]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let said = String::from_utf8_lossy(&o.stdout).to_string();
    let image = format!("{host}/hello:1.0.0-x86_64-unknown-linux-gnu");
    assert!(said.lines().any(|l| l.starts_with(&format!("published {image}@sha256:"))), "{said}");
    let id = "hello-1.0.0-x86_64-unknown-linux-gnu";
    let bundle = att.join(format!("{id}.sigstore.json"));
    assert!(said.lines().any(|l| l == arg(&bundle)), "{said}");
    let record = read_json(&att.join("attest.json"));
    assert_eq!(record["attestations"][0]["attached"].as_array().unwrap().len(), 1, "{record}");
    // The attestation covers the executable the build made, and verify finds it on the image.
    let exe = dir.join("bin/hello");
    let o = cratemill(&["verify", arg(&exe), "--bundle", arg(&bundle), "--key", arg(&public)], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = cratemill(&["verify", &image, "--insecure-http", "--key", arg(&public)], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("{id}/bin/hello")), "{}", stderr(&o));
}
