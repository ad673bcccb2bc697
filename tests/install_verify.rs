//! `cratemill install --verify` against a real registry (docker-registry on 127.0.0.1, no referrers
//! API: attestations are found through the `sha256-<hex>` fallback tag): publish a package, attach a
//! key-signed attestation with `cratemill attest --attach`, then install with `--verify require`
//! (written, identical bytes, the referrer lookup counted), and refuse, writing nothing, an image
//! signed by another key, an unattested image under `require`, and `require` with no signer named.

#[path = "support/package.rs"]
mod package;
#[path = "support/registry.rs"]
mod registry;
#[path = "support/sigstore.rs"]
mod sigstore;

use std::path::Path;

use sigstore::{cratemill, stderr};

const T: &str = package::TARGET;

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn creds() -> Vec<(String, String)> {
    vec![
        ("CRATEMILL_REGISTRY_USER".to_string(), registry::USER.to_string()),
        ("CRATEMILL_REGISTRY_TOKEN".to_string(), registry::PASSWORD.to_string()),
    ]
}

/// The runner variables a key-signing attest job reads (its claims).
fn attest_env() -> Vec<(String, String)> {
    let mut env = sigstore::runner_env();
    env.extend(creds());
    env
}

fn publish(reg: &registry::Registry, root: &Path, name: &str, version: &str) -> std::path::PathBuf {
    let dir = package::write(root, &package::Spec::real(name, version));
    let o = cratemill(&["publish", arg(&dir), "--registry", &reg.host(), "--insecure-http"], &creds());
    assert!(o.status.success(), "{}", stderr(&o));
    dir
}

/// `cratemill install SPEC --from REG --dir DIR --target T --insecure-http EXTRA...`.
fn install(reg: &registry::Registry, spec: &str, dir: &Path, extra: &[&str]) -> std::process::Output {
    let host = reg.host();
    let mut list = vec!["install", spec, "--from", &host, "--insecure-http", "--dir", arg(dir), "--target", T];
    list.extend(extra);
    cratemill(&list, &creds())
}

#[test]
fn install_verifies_the_attached_attestation_and_refuses_what_does_not_verify() {
    let reg = registry::Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let pkg = publish(&reg, tmp.path(), "hexyl", "0.16.0");
    let (key, public) = sigstore::keypair(tmp.path(), "mirror");
    let (_, stranger) = sigstore::keypair(tmp.path(), "stranger");
    let bin = tmp.path().join("bin");

    // No signer named: refused before any request.
    let o = install(&reg, "hexyl@0.16.0", &bin, &["--verify", "require"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--verify require needs to know whose signature"), "{}", stderr(&o));
    // Not attested yet: require refuses (exit 1), auto installs and says so.
    let o = install(&reg, "hexyl@0.16.0", &bin, &["--verify", "require", "--key", arg(&public)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("has no attestation attached") && stderr(&o).contains("nothing installed"));
    assert!(!bin.exists(), "nothing written");
    let auto = tmp.path().join("auto");
    let o = install(&reg, "hexyl@0.16.0", &auto, &["--key", arg(&public)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("has no attestation attached: installed with the digest checks only"));
    // manifest + referrers API (404 here) + fallback tag (404) + blob.
    assert!(stderr(&o).contains("4 HTTP request(s)"), "{}", stderr(&o));

    let out = tmp.path().join("attest");
    let o = cratemill(
        &["attest", arg(&pkg), "--sign", "key", "--key", arg(&key), "--attach", "--insecure-http", "--out", arg(&out)],
        &attest_env(),
    );
    assert!(o.status.success(), "{}", stderr(&o));

    // Attested and signed by the key given: installed, the same bytes.
    let o = install(&reg, "hexyl@0.16.0", &bin, &["--verify", "require", "--key", arg(&public)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let said = stderr(&o);
    assert!(said.contains("verified: ") && said.contains("signed by key "), "{said}");
    // manifest + referrers API + fallback index + tag list + referrer manifest (by its own tag) +
    // bundle + executable.
    assert!(said.contains("7 HTTP request(s)"), "{said}");
    assert_eq!(registry::sha256_hex(&bin.join("hexyl")), registry::sha256_hex(&pkg.join("bin/hexyl")));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), bin.join("hexyl").display().to_string());

    // Another signer: refused under auto and require alike, exit 1, nothing written.
    for policy in ["auto", "require"] {
        let other = tmp.path().join(format!("other-{policy}"));
        let o = install(&reg, "hexyl@0.16.0", &other, &["--verify", policy, "--key", arg(&stranger)]);
        assert_eq!(o.status.code(), Some(1), "{policy}: {}", stderr(&o));
        assert!(stderr(&o).contains("is not attested by any attached bundle"), "{}", stderr(&o));
        assert!(stderr(&o).contains("signature check failed"), "{}", stderr(&o));
        assert!(!other.exists(), "{policy}: nothing written");
    }
    // Attested, but no signer named under auto: it cannot be checked, so it is not installed.
    let none = tmp.path().join("none");
    let o = install(&reg, "hexyl@0.16.0", &none, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no signer was named") && stderr(&o).contains("--verify off"), "{}", stderr(&o));
    assert!(!none.exists());
    // off: no referrer lookup at all.
    let off = tmp.path().join("off");
    let o = install(&reg, "hexyl@0.16.0", &off, &["--verify", "off"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("2 HTTP request(s)"), "{}", stderr(&o));

    // Another version of the crate that was never attested: require refuses it.
    publish(&reg, &tmp.path().join("v2"), "hexyl", "0.17.0");
    let v2 = tmp.path().join("v2-bin");
    let o = install(&reg, "hexyl@0.17.0", &v2, &["--verify", "require", "--key", arg(&public)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!v2.exists());
}

/// The statement inside a bundle, edited after signing (the signature no longer covers it).
fn tamper(bundle: &serde_json::Value) -> serde_json::Value {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = b64.decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap()).unwrap();
    let mut stmt: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    stmt["predicate"]["buildDefinition"]["externalParameters"]["evil"] = "yes".into();
    let mut out = bundle.clone();
    out["dsseEnvelope"]["payload"] = b64.encode(stmt.to_string()).into();
    out
}

#[test]
fn a_tampered_attestation_is_refused_and_nothing_is_written() {
    let reg = registry::Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let pkg = publish(&reg, tmp.path(), "hexyl", "0.16.0");
    let (key, public) = sigstore::keypair(tmp.path(), "mirror");
    let out = tmp.path().join("attest");
    let o = cratemill(&["attest", arg(&pkg), "--sign", "key", "--key", arg(&key), "--out", arg(&out)], &attest_env());
    assert!(o.status.success(), "{}", stderr(&o));
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(format!("hexyl-0.16.0-{T}.sigstore.json"))).unwrap()).unwrap();
    let forged = serde_json::to_vec(&tamper(&bundle)).unwrap();

    // Attach the altered bundle to the image, as a registry attacker could.
    let image = format!("{}/hexyl:0.16.0-{T}", reg.host());
    let manifest = registry::inspect_raw(&image).unwrap();
    let subject = cratemill::provenance::referrer::Subject {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        digest: cratemill::oci::manifest::sha256_digest(&manifest),
        size: manifest.len() as u64,
    };
    let predicate = "https://slsa.dev/provenance/v1";
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let creds = cratemill::oci::Credentials { user: registry::USER.into(), token: registry::PASSWORD.into() };
        let c = cratemill::oci::RegistryClient::connect(&reg.host(), "hexyl", true, Some(creds), Default::default())
            .await
            .unwrap();
        cratemill::provenance::referrer::attach(&c, &subject, &forged, predicate).await.unwrap();
    });

    let bin = tmp.path().join("bin");
    for policy in ["auto", "require"] {
        let o = install(&reg, "hexyl@0.16.0", &bin, &["--verify", policy, "--key", arg(&public)]);
        assert_eq!(o.status.code(), Some(1), "{policy}: {}", stderr(&o));
        assert!(stderr(&o).contains("signature check failed"), "{}", stderr(&o));
        assert!(stderr(&o).contains("nothing installed"), "{}", stderr(&o));
        assert!(!bin.exists(), "{policy}: nothing written");
    }
}
