//! `cratemill publish --deny-license` / `--deny-unlicensed` against a real registry (docker-registry
//! with basic auth on 127.0.0.1): a package whose compiled packages cannot avoid a denied license,
//! or that predates license lists, is refused with one line (exit 2) and the registry holds nothing
//! afterwards (its catalog and the planned tags, read back); an allowed one is pushed, notice included.

#[path = "support/package.rs"]
mod package;
#[path = "support/registry.rs"]
mod registry;

use std::process::Command;

use cratemill::actions::Runner;
use cratemill::error::{exit_of, one_line, Exit};
use cratemill::oci::{Credentials, Scheme};
use cratemill::publish::{publish_package_with, LicenseArgs, PublishEnv, PublishOptions};
use package::{compiled, Licensed, Spec};
use registry::{inspect_raw, Registry, PASSWORD, USER};

fn opts(host: &str, deny: &[&str], unlicensed: bool) -> PublishOptions {
    PublishOptions {
        registry: Some(host.into()),
        oci_layout: None,
        layout: Scheme::PerCrate,
        build_id: Some("9-1".into()),
        insecure_http: true,
        chunk_mib: None,
        max_layer_mib: cratemill::publish::DEFAULT_MAX_LAYER_MIB,
        licenses: LicenseArgs {
            deny_license: deny.iter().map(|d| d.to_string()).collect(),
            deny_unlicensed: unlicensed,
        },
        tuning: Default::default(),
    }
}

fn env() -> PublishEnv {
    PublishEnv { credentials: Some(Credentials { user: USER.into(), token: PASSWORD.into() }), ..Default::default() }
}

/// The registry's repositories (`/v2/_catalog`).
async fn catalog(host: &str) -> Vec<String> {
    let resp = reqwest::Client::new()
        .get(format!("http://{host}/v2/_catalog"))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let body: serde_json::Value = resp.json().await.unwrap();
    body["repositories"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect()
}

fn binary_ref(host: &str, name: &str, version: &str) -> String {
    format!("{host}/{name}:{version}-{}", package::TARGET)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_license_keeps_the_package_out_of_the_registry() {
    let reg = Registry::start();
    let host = reg.host();
    let tmp = tempfile::tempdir().unwrap();

    // A dependency that cannot avoid GPL-3.0-only: refused, nothing pushed (not even the source).
    let spec = Spec::real("gpl-tool", "1.0.0");
    let deps = vec![
        compiled("dual", "2.0.0", Some("MIT OR GPL-3.0-only")),
        compiled("gplonly", "0.3.1", Some("MIT AND GPL-3.0-only")),
    ];
    let dir = package::write_licensed(tmp.path(), &spec, &Licensed::new(&spec, deps));
    let err = publish_package_with(&dir, &opts(&host, &["GPL-3.0-only"], false), &env(), &Runner::default())
        .await
        .unwrap_err();
    assert_eq!(exit_of(&err), Exit::Usage);
    let line = one_line(&err);
    assert!(
        line.starts_with("refusing to publish gpl-tool 1.0.0 (x86_64-unknown-linux-musl): it compiles in gplonly 0.3.1 (licensed `MIT AND GPL-3.0-only`"),
        "{line}"
    );
    assert!(!line.contains("dual"), "MIT OR GPL-3.0-only passes: {line}");
    assert_eq!(catalog(&host).await, Vec::<String>::new(), "nothing pushed");
    assert!(inspect_raw(&binary_ref(&host, "gpl-tool", "1.0.0")).is_err());
    assert!(!dir.join("publish.json").exists());

    // The same deny with an allowed dependency set: pushed, the notice with it.
    let spec = Spec::real("fine-tool", "1.0.0");
    let deps = vec![
        compiled("dual", "2.0.0", Some("MIT OR GPL-3.0-only")),
        compiled("lgpl", "1.1.0", Some("LGPL-2.1-or-later")),
    ];
    let dir = package::write_licensed(tmp.path(), &spec, &Licensed::new(&spec, deps));
    publish_package_with(&dir, &opts(&host, &["GPL-3.0-only OR AGPL-3.0-only"], false), &env(), &Runner::default())
        .await
        .unwrap();
    let raw = inspect_raw(&binary_ref(&host, "fine-tool", "1.0.0")).unwrap();
    let m: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let titles: Vec<&str> = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["annotations"]["org.opencontainers.image.title"].as_str().unwrap())
        .collect();
    assert!(titles.contains(&package::NOTICE), "{titles:?}");
    assert_eq!(catalog(&host).await, ["fine-tool"]);

    // A package from before license lists: refused under a policy, never silently passed.
    let dir = package::write(tmp.path(), &Spec::real("old-tool", "0.9.0"));
    let err = publish_package_with(&dir, &opts(&host, &["GPL-3.0-only"], false), &env(), &Runner::default())
        .await
        .unwrap_err();
    assert_eq!(exit_of(&err), Exit::Usage);
    assert!(one_line(&err).contains("predates third-party license lists"), "{}", one_line(&err));
    assert!(inspect_raw(&binary_ref(&host, "old-tool", "0.9.0")).is_err());
    assert_eq!(catalog(&host).await, ["fine-tool"], "still only the allowed package");
}

/// The binary, as a user runs it: (exit code, stderr).
fn publish_cli(dir: &std::path::Path, host: &str, flags: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cratemill"))
        .arg("publish")
        .arg(dir)
        .args(["--registry", host, "--insecure-http", "--build-id", "9-1"])
        .args(flags)
        .env("CRATEMILL_REGISTRY_USER", USER)
        .env("CRATEMILL_REGISTRY_TOKEN", PASSWORD)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlicensed_dependencies_are_refused_only_with_deny_unlicensed() {
    let reg = Registry::start();
    let host = reg.host();
    let tmp = tempfile::tempdir().unwrap();
    let spec = Spec::real("bare-tool", "1.0.0");
    let deps = vec![compiled("nolicense", "0.1.0", None), compiled("mit", "1.0.0", Some("MIT"))];
    let dir = package::write_licensed(tmp.path(), &spec, &Licensed::new(&spec, deps));

    let (code, stderr) = tokio::task::block_in_place(|| publish_cli(&dir, &host, &["--deny-unlicensed"]));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("it compiles in nolicense 0.1.0 (no license expression)"), "{stderr}");
    assert_eq!(catalog(&host).await, Vec::<String>::new(), "nothing pushed");

    let (code, stderr) = tokio::task::block_in_place(|| publish_cli(&dir, &host, &["--deny-license", "no-such-id"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--deny-license `no-such-id` is not an SPDX license id"), "{stderr}");
    assert_eq!(catalog(&host).await, Vec::<String>::new(), "a bad flag pushes nothing");

    // --deny-license alone cannot judge it: says so, and publishes.
    let (code, stderr) = tokio::task::block_in_place(|| publish_cli(&dir, &host, &["--deny-license", "GPL-3.0-only"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("note: bare-tool 1.0.0 compiles in nolicense 0.1.0 (no license expression): --deny-license GPL-3.0-only cannot judge it"),
        "{stderr}"
    );
    assert!(inspect_raw(&binary_ref(&host, "bare-tool", "1.0.0")).is_ok());
}
