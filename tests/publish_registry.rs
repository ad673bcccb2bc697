//! `cratemill publish` against a real registry (docker-registry with basic auth on 127.0.0.1),
//! read back with skopeo: every blob digest matches the package's files.

#[path = "support/package.rs"]
mod package;
#[path = "support/registry.rs"]
mod registry;

use std::time::Duration;

use cratemill::actions::Runner;
use cratemill::error::{exit_of, one_line, Exit};
use cratemill::net::RetryPolicy;
use cratemill::oci::{Credentials, Scheme, Tuning};
use cratemill::publish::{publish_package_with, PublishEnv, PublishOptions};
use cratemill::schema::publish::{PublishRecord, ReferenceKind};
use registry::{assert_layers_match, copy_to_dir, inspect_raw, Registry, PASSWORD, USER};

fn tuning() -> Tuning {
    Tuning {
        chunk_size: Some(256 * 1024),
        concurrency: 2,
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(30),
        retry: RetryPolicy {
            attempts: 5,
            max_failures: 50,
            max_elapsed: Duration::from_secs(60),
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            max_retry_after: Duration::from_secs(3),
        },
        seed: Some(7),
    }
}

fn opts(registry: &str, scheme: Scheme) -> PublishOptions {
    PublishOptions {
        registry: Some(registry.into()),
        oci_layout: None,
        layout: scheme,
        build_id: None,
        insecure_http: true,
        chunk_mib: None,
        max_layer_mib: cratemill::publish::DEFAULT_MAX_LAYER_MIB,
        licenses: Default::default(),
        tuning: tuning(),
    }
}

fn env_with(user: &str, token: &str) -> PublishEnv {
    PublishEnv {
        credentials: Some(Credentials { user: user.into(), token: token.into() }),
        run_id: None,
        run_attempt: None,
    }
}

fn good_env() -> PublishEnv {
    env_with(USER, PASSWORD)
}

fn sha256(bytes: &[u8]) -> String {
    cratemill::oci::manifest::sha256_digest(bytes)
}

fn reference(rec: &PublishRecord, kind: ReferenceKind) -> &cratemill::schema::publish::PushedReference {
    rec.references.iter().find(|r| r.kind == kind).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_binary_and_srcbuild_and_skopeo_reads_back_every_blob() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = package::write(tmp.path(), &package::Spec::real("hello-tool", "1.2.3+build.7"));
    let files = package::file_digests(&dir);
    let rec = publish_package_with(&dir, &opts(&reg.host(), Scheme::PerCrate), &good_env(), &Runner::default())
        .await
        .unwrap();

    assert_eq!(rec.references.len(), 2);
    assert_eq!(rec.references[0].kind, ReferenceKind::Srcbuild, "the source archive is pushed first");
    let bin = reference(&rec, ReferenceKind::Binary);
    let src = reference(&rec, ReferenceKind::Srcbuild);
    assert_eq!(bin.reference, format!("{}/hello-tool:1.2.3_build.7-x86_64-unknown-linux-musl", reg.host()));
    let src_sha = &files["srcbuild/hello-tool-1.2.3+build.7-srcbuild.tar.zst"];
    assert_eq!(
        src.reference,
        format!("{}/hello-tool:1.2.3_build.7-x86_64-unknown-linux-musl-srcbuild-local-{}", reg.host(), &src_sha[..12])
    );

    // The binary: skopeo sees the digest we recorded, and every blob it copies is a package file.
    let raw = inspect_raw(&bin.reference).unwrap();
    assert_eq!(sha256(&raw), bin.digest);
    let copied = copy_to_dir(&format!("docker://{}", bin.reference), &tmp.path().join("bin-copy"));
    assert_eq!(assert_layers_match(&raw, &copied, &files), 5, "exe, license, build.log, result.json, CHECKSUMS");
    let m: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(m["artifactType"], "application/vnd.cratemill.package.v1");
    assert_eq!(m["config"]["mediaType"], "application/vnd.oci.empty.v1+json");
    let ann = &m["annotations"];
    assert_eq!(ann["org.opencontainers.image.version"], "1.2.3+build.7");
    assert_eq!(ann["org.opencontainers.image.source"], "https://github.com/example/hello-tool");
    assert_eq!(ann["org.opencontainers.image.licenses"], "MIT");
    assert_eq!(ann["io.cratemill.srcbuild"], src.reference.as_str());
    assert_eq!(ann["io.cratemill.srcbuild.digest"], src.digest.as_str());
    assert_eq!(ann["io.cratemill.srcbuild.tag"], src.reference.rsplit_once(':').unwrap().1);
    assert_eq!(ann["io.cratemill.executable.hello_tool.sha256"], files["bin/hello_tool"].as_str());
    assert_eq!(m["layers"][0]["annotations"]["org.opencontainers.image.title"], "bin/hello_tool");

    // The source archive.
    let raw = inspect_raw(&src.reference).unwrap();
    assert_eq!(sha256(&raw), src.digest);
    let copied = copy_to_dir(&format!("docker://{}", src.reference), &tmp.path().join("src-copy"));
    assert_eq!(assert_layers_match(&raw, &copied, &files), 1);

    // publish.json is the record, and re-publishing is a no-op that succeeds.
    let on_disk: PublishRecord = cratemill::schema::read(&dir.join("publish.json")).unwrap();
    assert_eq!(on_disk, rec);
    let again = publish_package_with(&dir, &opts(&reg.host(), Scheme::PerCrate), &good_env(), &Runner::default())
        .await
        .unwrap();
    assert!(again.references.iter().all(|r| r.unchanged && r.blobs_uploaded == 0), "{again:?}");
    assert_eq!(
        again.references.iter().map(|r| &r.digest).collect::<Vec<_>>(),
        rec.references.iter().map(|r| &r.digest).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_gets_one_executable_with_one_manifest_get_and_one_blob_get() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = package::write(tmp.path(), &package::Spec::real("getme", "0.1.0"));
    publish_package_with(&dir, &opts(&reg.host(), Scheme::PerCrate), &good_env(), &Runner::default()).await.unwrap();

    let http = reqwest::Client::new();
    let base = format!("http://{}/v2/getme", reg.host());
    let manifest: serde_json::Value = http
        .get(format!("{base}/manifests/0.1.0-{}", package::TARGET))
        .basic_auth(USER, Some(PASSWORD))
        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let layer = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["annotations"]["org.opencontainers.image.title"] == "bin/getme")
        .unwrap();
    let blob = http
        .get(format!("{base}/blobs/{}", layer["digest"].as_str().unwrap()))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&blob[..], &std::fs::read(dir.join("bin/getme")).unwrap()[..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_chunk_executable_round_trips() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = package::write(tmp.path(), &package::Spec::sized("bigtool", "2.0.0", 3 * 1024 * 1024 + 123, 11));
    let files = package::file_digests(&dir);
    let rec = publish_package_with(&dir, &opts(&reg.host(), Scheme::PerCrate), &good_env(), &Runner::default())
        .await
        .unwrap();
    let bin = reference(&rec, ReferenceKind::Binary);
    let raw = inspect_raw(&bin.reference).unwrap();
    let copied = copy_to_dir(&format!("docker://{}", bin.reference), &tmp.path().join("copy"));
    assert_layers_match(&raw, &copied, &files);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_layout_puts_every_crate_in_one_repository() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut refs = Vec::new();
    for name in ["alpha_tool", "beta"] {
        let dir = package::write(tmp.path(), &package::Spec::real(name, "1.0.0"));
        let rec = publish_package_with(
            &dir,
            &opts(&format!("{}/team/mirror", reg.host()), Scheme::Single),
            &good_env(),
            &Runner::default(),
        )
        .await
        .unwrap();
        assert_eq!(rec.layout, cratemill::schema::Layout::Single);
        refs.push(reference(&rec, ReferenceKind::Binary).reference.clone());
    }
    assert_eq!(refs[0], format!("{}/team/mirror:alpha-tool-1.0.0-x86_64-unknown-linux-musl", reg.host()));
    assert_eq!(refs[1], format!("{}/team/mirror:beta-1.0.0-x86_64-unknown-linux-musl", reg.host()));
    for r in &refs {
        inspect_raw(r).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_name_packages_write_and_leave_no_tag() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = package::write(tmp.path(), &package::Spec::real("denied", "1.0.0"));
    let err = publish_package_with(
        &dir,
        &opts(&reg.host(), Scheme::PerCrate),
        &env_with(USER, "wrong-token-value"),
        &Runner::default(),
    )
    .await
    .unwrap_err();
    let msg = one_line(&err);
    assert_eq!(exit_of(&err), Exit::Usage, "{msg}");
    assert!(msg.contains("packages: write"), "{msg}");
    assert!(!msg.contains("wrong-token-value"), "the token must never be printed: {msg}");
    assert!(inspect_raw(&format!("{}/denied:1.0.0-{}", reg.host(), package::TARGET)).is_err());
    assert!(!dir.join("publish.json").exists());

    let err =
        publish_package_with(&dir, &opts(&reg.host(), Scheme::PerCrate), &PublishEnv::default(), &Runner::default())
            .await
            .unwrap_err();
    assert!(one_line(&err).contains("requires credentials and none are set"), "{}", one_line(&err));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_registry_fails_after_bounded_retries() {
    let port = registry::free_port();
    let tmp = tempfile::tempdir().unwrap();
    let dir = package::write(tmp.path(), &package::Spec::real("lonely", "1.0.0"));
    let err = publish_package_with(
        &dir,
        &opts(&format!("127.0.0.1:{port}"), Scheme::PerCrate),
        &good_env(),
        &Runner::default(),
    )
    .await
    .unwrap_err();
    let msg = one_line(&err);
    assert_eq!(exit_of(&err), Exit::Internal, "a network failure is an environment failure: {msg}");
    assert!(msg.contains("cannot connect") && msg.ends_with("after 5 attempts"), "{msg}");
    assert!(
        msg.contains(&format!(
            "authenticating on registry 127.0.0.1:{port}: GET http://127.0.0.1:{port}/v2/ cannot connect"
        )),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_packages_are_refused_before_anything_is_pushed() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();

    let tampered = package::write(tmp.path(), &package::Spec::real("tampered", "1.0.0"));
    std::fs::write(tampered.join("bin/tampered"), b"not what was built").unwrap();
    let err = publish_package_with(&tampered, &opts(&reg.host(), Scheme::PerCrate), &good_env(), &Runner::default())
        .await
        .unwrap_err();
    assert_eq!(exit_of(&err), Exit::Usage);
    assert!(one_line(&err).contains("does not match its checksum"), "{}", one_line(&err));

    let missing = package::write(tmp.path(), &package::Spec::real("missing", "1.0.0"));
    std::fs::remove_file(missing.join("build.log")).unwrap();
    let err = publish_package_with(&missing, &opts(&reg.host(), Scheme::PerCrate), &good_env(), &Runner::default())
        .await
        .unwrap_err();
    assert!(one_line(&err).contains("build.log is listed in CHECKSUMS but missing"), "{}", one_line(&err));

    let mut spec = package::Spec::real("nosrc", "1.0.0");
    spec.srcbuild = None;
    let nosrc = package::write(tmp.path(), &spec);
    let err = publish_package_with(&nosrc, &opts(&reg.host(), Scheme::PerCrate), &good_env(), &Runner::default())
        .await
        .unwrap_err();
    assert_eq!(exit_of(&err), Exit::Usage);
    assert!(
        one_line(&err).contains("has no source archive srcbuild/nosrc-1.0.0-srcbuild.tar.zst"),
        "{}",
        one_line(&err)
    );

    for name in ["tampered", "missing", "nosrc"] {
        assert!(
            inspect_raw(&format!("{}/{name}:1.0.0-{}", reg.host(), package::TARGET)).is_err(),
            "{name} must not be pushed"
        );
    }

    for bad in ["https://example.com/x", "ghcr.io", "example.com/Bad Name"] {
        let err = publish_package_with(&nosrc, &opts(bad, Scheme::PerCrate), &good_env(), &Runner::default())
            .await
            .unwrap_err();
        assert_eq!(exit_of(&err), Exit::Usage, "{bad}");
        assert!(one_line(&err).starts_with(&format!("invalid registry `{bad}`")), "{}", one_line(&err));
    }
}

#[test]
fn cli_reads_credentials_from_env_masks_them_and_writes_outputs() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = package::write(tmp.path(), &package::Spec::real("clitool", "3.1.4"));
    let outputs = tmp.path().join("outputs");
    let summary = tmp.path().join("summary.md");
    let run = |user: &str, token: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_cratemill"))
            .args(["publish", dir.to_str().unwrap(), "--registry", &reg.host(), "--insecure-http"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", &outputs)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_RUN_ID", "777")
            .env("GITHUB_RUN_ATTEMPT", "3")
            .env("CRATEMILL_REGISTRY_USER", user)
            .env("CRATEMILL_REGISTRY_TOKEN", token)
            .output()
            .unwrap()
    };

    let out = run(USER, PASSWORD);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.starts_with(&format!("::add-mask::{PASSWORD}\n")), "the token is masked before use: {stdout}");
    assert_eq!(
        stdout.matches(PASSWORD).count() + stderr.matches(PASSWORD).count(),
        1,
        "the token appears only in the mask command"
    );
    let outputs = std::fs::read_to_string(&outputs).unwrap();
    let image = format!("image={}/clitool:3.1.4-{}\n", reg.host(), package::TARGET);
    assert!(outputs.contains(&image), "{outputs}");
    assert!(
        outputs.contains(&format!("srcbuild-image={}/clitool:3.1.4-{}-srcbuild-777-3\n", reg.host(), package::TARGET)),
        "{outputs}"
    );
    let rec: PublishRecord = cratemill::schema::read(&dir.join("publish.json")).unwrap();
    assert!(outputs.contains(&format!("digest={}\n", reference(&rec, ReferenceKind::Binary).digest)), "{outputs}");
    assert_eq!(rec.build_id, "777-3");
    assert!(std::fs::read_to_string(&summary).unwrap().contains("| binary |"));

    let out = run(USER, "wrong-but-secret");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("packages: write") && !stderr.contains("wrong-but-secret"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one error line: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn republishing_restores_a_blob_the_registry_lost() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = package::write(tmp.path(), &package::Spec::real("healme", "1.0.0"));
    let files = package::file_digests(&dir);
    publish_package_with(&dir, &opts(&reg.host(), Scheme::PerCrate), &good_env(), &Runner::default()).await.unwrap();
    let exe = format!("sha256:{}", files["bin/healme"]);
    let resp = reqwest::Client::new()
        .delete(format!("http://{}/v2/healme/blobs/{exe}", reg.host()))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202, "the test registry deletes blobs");

    let rec = publish_package_with(&dir, &opts(&reg.host(), Scheme::PerCrate), &good_env(), &Runner::default())
        .await
        .unwrap();
    let bin = reference(&rec, ReferenceKind::Binary);
    assert!(!bin.unchanged && bin.blobs_uploaded == 1, "{bin:?}");
    assert!(reference(&rec, ReferenceKind::Srcbuild).unchanged);
    let raw = inspect_raw(&bin.reference).unwrap();
    let copied = copy_to_dir(&format!("docker://{}", bin.reference), &tmp.path().join("copy"));
    assert_layers_match(&raw, &copied, &files);
}

/// Published versions are immutable: a second, different package for the same crate, version and
/// target is refused as a conflict (exit 2, naming both digests and the fix) before anything is
/// pushed, and the tag still points at the first package. The same package again is a no-op.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_version_is_never_replaced() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let (a_root, b_root) = (tmp.path().join("a"), tmp.path().join("b"));
    let first = package::write(&a_root, &package::Spec::sized("fixed", "1.0.0", 4096, 1));
    let other = package::write(&b_root, &package::Spec::sized("fixed", "1.0.0", 4096, 2));
    let o = opts(&reg.host(), Scheme::PerCrate);
    let rec = publish_package_with(&first, &o, &good_env(), &Runner::default()).await.unwrap();
    let bin = reference(&rec, ReferenceKind::Binary).clone();

    let err = publish_package_with(&other, &o, &good_env(), &Runner::default()).await.unwrap_err();
    assert_eq!(exit_of(&err), Exit::Usage);
    let m = one_line(&err);
    assert!(m.contains("published versions are immutable") && m.contains(&bin.digest), "{m}");
    assert_eq!(sha256(&inspect_raw(&bin.reference).unwrap()), bin.digest, "the tag did not move");
    assert!(!other.join("publish.json").exists(), "no record for a refused package");

    let again = publish_package_with(&first, &o, &good_env(), &Runner::default()).await.unwrap();
    assert!(again.references.iter().all(|r| r.unchanged), "{again:?}");
}
