//! Publishing through a fault-injecting proxy in front of a real registry: 429 storms with
//! Retry-After (seconds and HTTP dates), 500s, dropped connections, connections cut mid-upload, a registry that dies and
//! comes back, and a publish that fails half way. Every publish that succeeds ends with the right
//! digests (read back by skopeo straight from the registry); one that fails leaves no tag.

#[path = "support/fault_proxy.rs"]
mod fault_proxy;
#[path = "support/package.rs"]
mod package;
#[path = "support/registry.rs"]
mod registry;

use std::path::Path;
use std::time::Duration;

use cratemill::actions::Runner;
use cratemill::error::{exit_of, one_line, Exit};
use cratemill::net::RetryPolicy;
use cratemill::oci::{Credentials, RegistryClient, Scheme, Tuning};
use cratemill::publish::{publish_package_with, PublishEnv, PublishOptions};
use cratemill::schema::publish::PublishRecord;
use fault_proxy::{basic, http_date, Action, Bearer, Fault, FaultConfig, FaultProxy, Rule};
use registry::{assert_layers_match, copy_to_dir, inspect_raw, Registry, PASSWORD, USER};

fn opts(host: &str, chunk: usize, retry: RetryPolicy) -> PublishOptions {
    let tuning = Tuning {
        chunk_size: Some(chunk),
        concurrency: 1,
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(20),
        retry,
        seed: Some(99),
    };
    PublishOptions {
        registry: Some(host.into()),
        oci_layout: None,
        layout: Scheme::PerCrate,
        build_id: None,
        insecure_http: true,
        chunk_mib: None,
        max_layer_mib: cratemill::publish::DEFAULT_MAX_LAYER_MIB,
        licenses: Default::default(),
        tuning,
    }
}

/// Gives up after `in_a_row` failures in a row without progress.
fn policy(in_a_row: u32, base_ms: u64, max_ms: u64) -> RetryPolicy {
    RetryPolicy {
        attempts: in_a_row,
        max_failures: 200,
        max_elapsed: Duration::from_secs(60),
        base_delay: Duration::from_millis(base_ms),
        max_delay: Duration::from_millis(max_ms),
        max_retry_after: Duration::from_secs(3),
    }
}

fn env() -> PublishEnv {
    PublishEnv {
        credentials: Some(Credentials { user: USER.into(), token: PASSWORD.into() }),
        run_id: None,
        run_attempt: None,
    }
}

/// Read every reference of the record back from the registry itself (not through the proxy) and
/// compare manifest and blob digests with the package.
fn assert_published(rec: &PublishRecord, proxy_host: &str, reg: &Registry, dir: &Path, scratch: &Path) {
    let files = package::file_digests(dir);
    for (i, r) in rec.references.iter().enumerate() {
        let direct = r.reference.replacen(proxy_host, &reg.host(), 1);
        let raw = inspect_raw(&direct).unwrap_or_else(|e| panic!("{direct}: {e}"));
        assert_eq!(cratemill::oci::manifest::sha256_digest(&raw), r.digest, "{direct}");
        let copied = copy_to_dir(&format!("docker://{direct}"), &scratch.join(format!("copy-{}-{i}", rec.crate_name)));
        assert_layers_match(&raw, &copied, &files);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_publish_through_a_faulty_proxy_ends_with_the_right_digests() {
    let reg = Registry::start();
    let config = FaultConfig {
        seed: 2026,
        p_429: 0.08,
        p_500: 0.08,
        p_drop: 0.07,
        p_cut: 0.07,
        retry_after: vec!["0", "1", "0"],
        max_faults: 80,
        max_consecutive: 3,
        ..FaultConfig::none()
    };
    let proxy = FaultProxy::start(reg.port, config).await;
    let tmp = tempfile::tempdir().unwrap();
    let specs = [
        package::Spec::sized("flaky-a", "1.0.0", 1536 * 1024 + 7, 1),
        package::Spec::sized("flaky-b", "0.3.0", 700 * 1024, 2),
        package::Spec::real("flaky-c", "2.1.0"),
    ];
    for spec in &specs {
        let dir = package::write(tmp.path(), spec);
        let rec = publish_package_with(
            &dir,
            &opts(&proxy.host(), 256 * 1024, policy(8, 20, 200)),
            &env(),
            &Runner::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{}: {}", spec.crate_name, one_line(&e)));
        assert_published(&rec, &proxy.host(), &reg, &dir, tmp.path());
    }
    let log = proxy.log();
    for fault in [Fault::TooMany, Fault::ServerError, Fault::Drop, Fault::Cut] {
        assert!(proxy.count(fault) > 0, "the proxy injected no {fault:?} in {} requests", log.len());
    }
    assert!(log.iter().filter(|s| s.method == "PATCH").count() >= 6, "uploads are chunked");
    // Retry-After is honoured: after a 429 asking for 1 s, the next request waits at least that long.
    let mut checked = 0;
    for pair in log.windows(2) {
        if pair[0].fault == Some(Fault::TooMany) && pair[0].retry_after == Some("1") {
            let gap = pair[1].at.duration_since(pair[0].at);
            assert!(gap >= Duration::from_millis(990), "retried {gap:?} after Retry-After: 1");
            checked += 1;
        }
    }
    assert!(checked > 0, "no 429 with Retry-After: 1 was injected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_is_ridden_out() {
    let reg = Registry::start();
    let config = FaultConfig {
        seed: 5,
        p_429: 1.0,
        p_500: 0.0,
        p_drop: 0.0,
        p_cut: 0.0,
        retry_after: vec!["0"],
        max_faults: 40,
        max_consecutive: 3,
        ..FaultConfig::none()
    };
    let proxy = FaultProxy::start(reg.port, config).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = package::write(tmp.path(), &package::Spec::sized("stormy", "1.0.0", 600 * 1024, 3));
    let rec =
        publish_package_with(&dir, &opts(&proxy.host(), 256 * 1024, policy(8, 10, 100)), &env(), &Runner::default())
            .await
            .unwrap();
    assert_eq!(proxy.count(Fault::TooMany), 40);
    assert_published(&rec, &proxy.host(), &reg, &dir, tmp.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_that_dies_mid_upload_and_comes_back() {
    let mut reg = Registry::start();
    let proxy = FaultProxy::start(reg.port, FaultConfig::none()).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = package::write(tmp.path(), &package::Spec::sized("phoenix", "1.0.0", 2 * 1024 * 1024, 4));
    let (d, o) = (dir.clone(), opts(&proxy.host(), 64 * 1024, policy(40, 50, 400)));
    let task = tokio::spawn(async move { publish_package_with(&d, &o, &env(), &Runner::default()).await });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while proxy.log().iter().filter(|s| s.method == "PATCH").count() < 8 {
        assert!(std::time::Instant::now() < deadline, "the upload never got going");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    reg.stop();
    let during = proxy.log().len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(proxy.log().len() > during, "the client kept retrying while the registry was down");
    reg.restart();
    let rec = task.await.unwrap().unwrap_or_else(|e| panic!("{}", one_line(&e)));
    assert_published(&rec, &proxy.host(), &reg, &dir, tmp.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_that_fails_half_way_leaves_no_tag() {
    let reg = Registry::start();
    let config = FaultConfig { fail_tag_puts: true, ..FaultConfig::none() };
    let proxy = FaultProxy::start(reg.port, config).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = package::write(tmp.path(), &package::Spec::real("halfway", "1.0.0"));
    let err =
        publish_package_with(&dir, &opts(&proxy.host(), 256 * 1024, policy(3, 5, 20)), &env(), &Runner::default())
            .await
            .unwrap_err();
    let msg = one_line(&err);
    assert_eq!(exit_of(&err), Exit::Internal, "a network failure is an environment failure: {msg}");
    assert!(
        msg.contains("PUT manifest") && msg.contains("answered HTTP 500") && msg.ends_with("after 3 attempts"),
        "{msg}"
    );
    assert!(!dir.join("publish.json").exists(), "no record of a failed publish");
    // The manifests by digest were pushed, but no tag names them.
    let log = proxy.log();
    let by_digest = log
        .iter()
        .find(|s| s.method == "PUT" && s.path.contains("/manifests/sha256:"))
        .expect("the manifest was pushed by digest first");
    let digest = by_digest.path.rsplit('/').next().unwrap();
    inspect_raw(&format!("{}/halfway@{digest}", reg.host())).unwrap();
    let tags = [format!("{}/halfway:1.0.0-{}", reg.host(), package::TARGET)];
    for t in &tags {
        assert!(inspect_raw(t).is_err(), "{t} must not exist");
    }
    let listed = reqwest::Client::new()
        .get(format!("http://{}/v2/halfway/tags/list", reg.host()))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    let status = listed.status();
    let body = listed.text().await.unwrap();
    assert!(status == 404 || body.contains("\"tags\":null") || body.contains("\"tags\":[]"), "{status} {body}");

    // Once the registry behaves, the same publish completes, uploading only what is missing.
    let rec = publish_package_with(&dir, &opts(&reg.host(), 256 * 1024, policy(3, 5, 20)), &env(), &Runner::default())
        .await
        .unwrap();
    assert_eq!(
        (rec.references[0].blobs_uploaded, rec.references[0].blobs_present),
        (0, 2),
        "the source archive's blobs were already there"
    );
    assert_published(&rec, &reg.host(), &reg, &dir, tmp.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_registry_like_ghcr_with_expiring_tokens() {
    let reg = Registry::start();
    let bearer = Bearer {
        client_basic: basic(USER, PASSWORD),
        upstream_basic: basic(USER, PASSWORD),
        rotate_every: 7,
        token_stall: None,
    };
    let proxy = FaultProxy::start(reg.port, FaultConfig { bearer: Some(bearer), ..FaultConfig::none() }).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = package::write(tmp.path(), &package::Spec::sized("tokened", "1.0.0", 1024 * 1024, 6));
    let rec =
        publish_package_with(&dir, &opts(&proxy.host(), 128 * 1024, policy(4, 5, 50)), &env(), &Runner::default())
            .await
            .unwrap_or_else(|e| panic!("{}", one_line(&e)));
    assert!(
        proxy.tokens_issued() >= 3,
        "tokens expired mid-publish and were renewed ({} issued)",
        proxy.tokens_issued()
    );
    assert_published(&rec, &proxy.host(), &reg, &dir, tmp.path());

    let wrong = PublishEnv {
        credentials: Some(Credentials { user: USER.into(), token: "not-the-token".into() }),
        run_id: None,
        run_attempt: None,
    };
    let dir2 = package::write(tmp.path(), &package::Spec::real("tokened-denied", "1.0.0"));
    let err =
        publish_package_with(&dir2, &opts(&proxy.host(), 128 * 1024, policy(4, 5, 50)), &wrong, &Runner::default())
            .await
            .unwrap_err();
    let msg = one_line(&err);
    assert_eq!(exit_of(&err), Exit::Usage, "{msg}");
    assert!(
        msg.contains("packages: write") && msg.contains("token exchange refused") && !msg.contains("not-the-token"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_retry_after_date_is_waited_for_by_the_one_policy() {
    let reg = Registry::start();
    // Written now, served at once: 2-3 s ahead.
    let busy = Action::Status { code: 503, retry_after: Some(http_date(3)) };
    let rules = vec![Rule { path: "/v2/".into(), times: 1, action: busy }];
    let proxy = FaultProxy::start(reg.port, FaultConfig { rules, ..FaultConfig::none() }).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = package::write(tmp.path(), &package::Spec::real("patient", "1.0.0"));
    let rec =
        publish_package_with(&dir, &opts(&proxy.host(), 256 * 1024, policy(3, 5, 20)), &env(), &Runner::default())
            .await
            .unwrap_or_else(|e| panic!("{}", one_line(&e)));
    let pings: Vec<_> = proxy.log().into_iter().filter(|s| s.path == "/v2/").collect();
    assert!(pings.len() >= 2 && pings[0].fault == Some(Fault::Rule(0)), "{pings:?}");
    let gap = pings[1].at.duration_since(pings[0].at);
    assert!(gap >= Duration::from_millis(1500), "retried {gap:?} after a Retry-After date 2-3 s ahead");
    assert_published(&rec, &proxy.host(), &reg, &dir, tmp.path());
}

/// The binary reference of a publish record, split.
fn binary_image(rec: &PublishRecord) -> (String, String, String) {
    let bin = rec.references.iter().find(|r| r.kind == cratemill::schema::publish::ReferenceKind::Binary).unwrap();
    let image: cratemill::oci::ImageRef = bin.reference.parse().unwrap();
    let (host, name, tag) = image.remote_tagged().unwrap();
    (host.to_string(), name.to_string(), tag.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_and_pull_get_their_tokens_from_the_one_exchange() {
    // A GHCR-like front whose token service grants any scope with pull in it to the right user.
    let reg = Registry::start();
    let bearer = Bearer {
        client_basic: basic(USER, PASSWORD),
        upstream_basic: basic(USER, PASSWORD),
        rotate_every: 0,
        token_stall: None,
    };
    let config = FaultConfig { bearer: Some(bearer), token_scope: "pull", ..FaultConfig::none() };
    let proxy = FaultProxy::start(reg.port, config).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = package::write(tmp.path(), &package::Spec::real("scoped", "1.0.0"));
    let rec =
        publish_package_with(&dir, &opts(&proxy.host(), 256 * 1024, policy(3, 5, 20)), &env(), &Runner::default())
            .await
            .unwrap_or_else(|e| panic!("{}", one_line(&e)));

    // Pull what was pushed, through the same front.
    let (host, name, tag) = binary_image(&rec);
    let creds = Some(Credentials { user: USER.into(), token: PASSWORD.into() });
    let puller = RegistryClient::pull(&host, &name, true, creds, cratemill::net::Client::new().unwrap()).unwrap();
    let manifest = puller.manifest(&tag).await.unwrap().expect("the pushed tag is there");
    let bin = rec.references.iter().find(|r| r.reference.ends_with(&format!(":{tag}"))).unwrap();
    assert_eq!(manifest.digest, bin.digest);
    let parsed: serde_json::Value = serde_json::from_slice(&manifest.bytes).unwrap();
    let layer = &parsed["layers"][0];
    let mut bytes = Vec::new();
    let (digest, size) = (layer["digest"].as_str().unwrap(), layer["size"].as_u64().unwrap());
    puller.blob_to(digest, size, &mut bytes).await.unwrap();
    assert_eq!(bytes.len() as u64, size);

    // Both scopes were asked for, every time by cratemill's own network layer (its user agent).
    let asked = proxy.token_requests();
    let scope = |actions: &str| format!("scope=repository%3A{}%3A{actions}", name.replace('/', "%2F"));
    let push = asked.iter().filter(|t| t.path.contains(&scope("pull%2Cpush"))).count();
    let pull = asked.iter().filter(|t| t.path.contains(&scope("pull")) && !t.path.contains("%2Cpush")).count();
    assert!(push >= 1 && pull == 1, "push {push}, pull {pull}: {asked:?}");
    for t in &asked {
        assert_eq!(t.user_agent.as_deref(), Some(cratemill::net::USER_AGENT), "{t:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_token_service_fails_the_push_within_the_network_timeout() {
    let reg = Registry::start();
    let bearer = Bearer {
        client_basic: basic(USER, PASSWORD),
        upstream_basic: basic(USER, PASSWORD),
        rotate_every: 0,
        token_stall: Some(Duration::from_secs(600)),
    };
    let proxy = FaultProxy::start(reg.port, FaultConfig { bearer: Some(bearer), ..FaultConfig::none() }).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = package::write(tmp.path(), &package::Spec::real("stalled", "1.0.0"));
    let mut options = opts(&proxy.host(), 256 * 1024, policy(2, 5, 20));
    options.tuning.request_timeout = Duration::from_secs(2);
    let started = std::time::Instant::now();
    let (env, runner) = (env(), Runner::default());
    let publish = publish_package_with(&dir, &options, &env, &runner);
    let err = tokio::time::timeout(Duration::from_secs(60), publish)
        .await
        .expect("still waiting after 60 s: the token exchange does not have the network layer's timeouts")
        .unwrap_err();
    let took = started.elapsed();
    let msg = one_line(&err);
    // Two tries of 2 s each (the policy's attempts), plus backoff: far below the 600 s stall.
    assert!(took < Duration::from_secs(15), "{took:?}: {msg}");
    assert_eq!(proxy.token_requests().len(), 2, "one token request per try: {:?}", proxy.token_requests());
    assert!(msg.contains("token") && msg.contains("timed out") && msg.contains("after 2 attempts"), "{msg}");
    assert!(!msg.contains(PASSWORD), "{msg}");
    eprintln!("stalled token service: failed after {took:?}: {msg}");
}
