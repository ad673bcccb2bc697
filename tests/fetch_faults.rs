//! The network layer against a misbehaving mirror: a fault proxy on 127.0.0.1 in front of a local
//! sparse registry. `Retry-After` in both forms is waited for (and one too long is refused at
//! once), redirects are followed with the checksum still checked (and loops bounded), a body that
//! stalls half way hits the idle timeout and is fetched again, an endless index file is cut off
//! at the cap, and a deadline ends everything on time. Each test reads its effect off the proxy's
//! log or the files left behind.

#[path = "support/fault_proxy.rs"]
mod fault_proxy;
mod support;

use std::time::{Duration, Instant};

use cratemill::crates_io::{select_version, Index};
use cratemill::error::{class_of, exit_of, one_line, Exit};
use cratemill::net::{Client, RetryPolicy, Settings};
use cratemill::schema::result::FailureClass;
use fault_proxy::{http_date, Action, FaultConfig, FaultProxy, Rule};
use support::sparse_registry::{SparseRegistry, TestCrate};

fn quick() -> Settings {
    let retry = RetryPolicy {
        attempts: 4,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(5),
        ..RetryPolicy::default()
    };
    Settings { idle_timeout: Duration::from_millis(400), retry, ..Settings::default() }
}

fn rule(path: &str, times: u32, action: Action) -> Rule {
    Rule { path: path.into(), times, action }
}

/// A registry with `hello` 0.9.0 and 1.0.0, behind a proxy playing `rules`; `config.json` sends
/// downloads through the proxy too.
async fn mirror(rules: Vec<Rule>) -> (SparseRegistry, FaultProxy) {
    let reg = SparseRegistry::start(vec![TestCrate::binary("hello", "0.9.0"), TestCrate::binary("hello", "1.0.0")]);
    let port = reg.base_url().rsplit(':').next().unwrap().parse().unwrap();
    let proxy = FaultProxy::start(port, FaultConfig { rules, ..FaultConfig::none() }).await;
    let config = serde_json::json!({ "dl": format!("http://{}/dl", proxy.host()) });
    reg.set_route("/index/config.json", config.to_string());
    (reg, proxy)
}

fn index_url(proxy: &FaultProxy) -> String {
    format!("sparse+http://{}/index/", proxy.host())
}

const HELLO: &str = "/index/he/ll/hello";

fn files_in(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

#[tokio::test]
async fn retry_after_in_seconds_and_as_an_http_date_is_waited_for() {
    let rules = vec![
        rule(HELLO, 1, Action::Status { code: 429, retry_after: Some("1".into()) }),
        // Written now, served after the first wait (~1 s): it then lies 2-3 s ahead.
        rule(HELLO, 1, Action::Status { code: 503, retry_after: Some(http_date(4)) }),
    ];
    let (_reg, proxy) = mirror(rules).await;
    let index = Index::open_with(&index_url(&proxy), Client::with_settings(&quick()).unwrap()).await.unwrap();
    assert_eq!(index.versions("hello").await.unwrap().len(), 2);
    let at: Vec<Instant> = proxy.log().iter().filter(|s| s.path == HELLO).map(|s| s.at).collect();
    assert_eq!(at.len(), 3, "429, 503, then the answer");
    let (first, second) = (at[1] - at[0], at[2] - at[1]);
    assert!(first >= Duration::from_millis(990), "waited {first:?} after Retry-After: 1 (backoff alone is 5 ms)");
    assert!(second >= Duration::from_millis(1500), "waited {second:?} after a Retry-After date 2-3 s ahead");
}

#[tokio::test]
async fn a_retry_after_longer_than_cratemill_waits_fails_at_once() {
    let (_reg, proxy) =
        mirror(vec![rule(HELLO, 5, Action::Status { code: 429, retry_after: Some("3600".into()) })]).await;
    let index = Index::open_with(&index_url(&proxy), Client::with_settings(&quick()).unwrap()).await.unwrap();
    let started = Instant::now();
    let err = index.versions("hello").await.unwrap_err();
    let msg = one_line(&err);
    assert!(started.elapsed() < Duration::from_secs(2), "it did not sit out the hour");
    assert_eq!(exit_of(&err), Exit::Internal, "{msg}");
    assert!(msg.contains("answered HTTP 429 Too Many Requests") && msg.contains("asked to wait 3600s"), "{msg}");
    assert_eq!(proxy.hits(HELLO), 1);
}

#[tokio::test]
async fn a_download_behind_a_redirect_is_followed_and_still_verified() {
    let dl_new = SparseRegistry::download_path("hello", "1.0.0");
    let dl_old = SparseRegistry::download_path("hello", "0.9.0");
    let (reg, proxy) = mirror(vec![]).await;
    // Like a CDN: the mirror sends the client to another origin (here, the registry itself).
    let cdn = FaultProxy::start(
        proxy.port,
        FaultConfig {
            rules: vec![
                rule(&dl_new, 1, Action::Redirect { code: 302, location: format!("{}{dl_new}", reg.base_url()) }),
                // A redirect to other bytes: the index checksum still decides.
                rule(&dl_new, 1, Action::Redirect { code: 307, location: format!("{}{dl_old}", reg.base_url()) }),
                // A loop: bounded, not retried.
                rule(&dl_new, 20, Action::Redirect { code: 301, location: dl_new.clone() }),
            ],
            ..FaultConfig::none()
        },
    )
    .await;
    reg.set_route("/index/config.json", serde_json::json!({ "dl": format!("http://{}/dl", cdn.host()) }).to_string());
    let index = Index::open_with(&index_url(&proxy), Client::with_settings(&quick()).unwrap()).await.unwrap();
    let versions = index.versions("hello").await.unwrap();
    let v = select_version(&versions, Some("1.0.0"), false).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let got = index.download(v, dir.path()).await.unwrap();
    assert_eq!(got.sha256, v.cksum);
    assert_eq!(std::fs::read(&got.path).unwrap(), TestCrate::binary("hello", "1.0.0").crate_bytes());
    assert_eq!(reg.hits(&dl_new), 1, "the bytes came from the redirect target");

    let dir = tempfile::tempdir().unwrap();
    let err = index.download(v, dir.path()).await.unwrap_err();
    assert_eq!((exit_of(&err), class_of(&err)), (Exit::Failed, Some(FailureClass::ChecksumMismatch)), "{err}");
    assert!(files_in(dir.path()).is_empty(), "the mismatching file was deleted: {:?}", files_in(dir.path()));

    let err = index.download(v, dir.path()).await.unwrap_err();
    let msg = one_line(&err);
    assert_eq!(exit_of(&err), Exit::Internal, "{msg}");
    assert!(msg.contains("redirect not followed") && msg.contains("more than 5 redirects"), "{msg}");
    assert_eq!(cdn.hits(&dl_new), 2 + 6, "one request and five hops, not retried");
    assert!(files_in(dir.path()).is_empty());
}

#[tokio::test]
async fn a_body_that_stalls_half_way_hits_the_idle_timeout_and_is_fetched_again() {
    let dl = SparseRegistry::download_path("hello", "1.0.0");
    let stall = Action::Stall { stall: Duration::from_secs(20) };
    let (_reg, proxy) = mirror(vec![rule(HELLO, 1, stall.clone()), rule(&dl, 2, stall)]).await;
    let started = Instant::now();
    let index = Index::open_with(&index_url(&proxy), Client::with_settings(&quick()).unwrap()).await.unwrap();
    let versions = index.versions("hello").await.unwrap();
    let v = select_version(&versions, Some("1.0.0"), false).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let got = index.download(v, dir.path()).await.unwrap();
    assert_eq!(got.sha256, v.cksum);
    assert!(started.elapsed() < Duration::from_secs(10), "three stalls of 20 s took {:?}", started.elapsed());
    assert_eq!((proxy.hits(HELLO), proxy.hits(&dl)), (2, 3));
    assert_eq!(files_in(dir.path()), ["hello-1.0.0.crate"], "no partial file left");
}

#[tokio::test]
async fn an_endless_index_file_is_cut_off_at_the_cap() {
    let (_reg, proxy) = mirror(vec![rule(HELLO, 5, Action::Flood { bytes: 4 << 30 })]).await;
    let index = Index::open_with(&index_url(&proxy), Client::with_settings(&quick()).unwrap())
        .await
        .unwrap()
        .with_max_index_bytes(1 << 20);
    let err = index.versions("hello").await.unwrap_err();
    let msg = one_line(&err);
    assert_eq!(exit_of(&err), Exit::Internal, "{msg}");
    assert!(msg.contains("sent more than the 1048576-byte limit"), "{msg}");
    assert_eq!(proxy.hits(HELLO), 1, "a cap is not retried");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = proxy.flood_sent();
    assert!(sent < 64 << 20, "the client kept reading: {sent} bytes went out");
    assert_eq!(cratemill::crates_io::DEFAULT_MAX_INDEX_BYTES, 32 << 20);
}

#[tokio::test]
async fn a_deadline_ends_a_stalled_download_and_a_long_retry_after() {
    let dl = SparseRegistry::download_path("hello", "1.0.0");
    let rules = vec![
        rule(&dl, 1, Action::Stall { stall: Duration::from_secs(20) }),
        rule(HELLO, 1, Action::Status { code: 503, retry_after: Some("4".into()) }),
    ];
    let (_reg, proxy) = mirror(rules).await;
    // An idle timeout longer than the deadline: the deadline must be what stops the wait.
    let settings = Settings { idle_timeout: Duration::from_secs(30), ..quick() };
    let client = Client::with_settings(&settings).unwrap();
    let index = Index::open_with(&index_url(&proxy), client.clone()).await.unwrap();
    let versions = index.versions("hello").await.unwrap();
    let v = select_version(&versions, Some("1.0.0"), false).unwrap().clone();

    let deadline = Instant::now() + Duration::from_secs(1);
    let index = Index::open_with(&index_url(&proxy), client.with_deadline(Some(deadline))).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = index.download(&v, dir.path()).await.unwrap_err();
    let late = Instant::now().saturating_duration_since(deadline);
    assert!(late < Duration::from_millis(500), "stopped {late:?} after the deadline");
    // A deadline is the job's `timeout` class, which the exit policy maps to 1 like any build timeout.
    assert_eq!((exit_of(&err), class_of(&err)), (Exit::Failed, Some(FailureClass::Timeout)));
    assert!(one_line(&err).contains("did not finish before the --timeout deadline"), "{}", one_line(&err));
    assert!(files_in(dir.path()).is_empty(), "no partial file left: {:?}", files_in(dir.path()));

    // Past the deadline, a Retry-After of 4 s is not waited for.
    let started = Instant::now();
    let err = index.versions("hello").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1), "waited {:?}", started.elapsed());
    assert!(one_line(&err).contains("--timeout"), "{}", one_line(&err));
}

#[tokio::test]
async fn a_post_is_retried_only_where_the_server_cannot_have_acted() {
    let api = "/api/v2/signingCert";
    let rules = vec![
        rule(api, 1, Action::Status { code: 503, retry_after: Some("0".into()) }),
        rule(api, 1, Action::Status { code: 429, retry_after: None }),
        rule(api, 1, Action::Status { code: 500, retry_after: None }),
        rule(api, 5, Action::Status { code: 502, retry_after: None }),
    ];
    let (_reg, proxy) = mirror(rules).await;
    let client = Client::with_settings(&quick()).unwrap();
    let url = format!("http://{}{api}", proxy.host());
    let body = client.post_json("requesting a certificate", &url, &serde_json::json!({"a": 1}), 1024).await.unwrap();
    assert_eq!(body.status, 500, "a 500 to a POST is final: the server may have acted");
    assert_eq!(proxy.hits(api), 3, "503 and 429 were retried");
    let seen: Vec<_> = proxy.log().iter().map(|s| s.method.clone()).collect();
    assert!(seen.iter().all(|m| m == "POST"), "{seen:?}");
    // The same status to a GET is retried until the policy stops it.
    let err = client.get("reading", &url, 1024).await.unwrap_err();
    assert!(one_line(&err).ends_with("answered HTTP 502 Bad Gateway after 4 attempts"), "{}", one_line(&err));
    assert_eq!(proxy.hits(api), 3 + 4);
}
