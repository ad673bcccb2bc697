//! Resolving and downloading against a local sparse registry: version choice, unknown crates,
//! checksum verification, retries, unreachable or bogus indexes.

mod support;

use std::path::Path;
use std::time::Duration;

use cratemill::crates_io::{select_version, Index};
use cratemill::error::{class_of, exit_of, Exit};
use cratemill::net::{Client, RetryPolicy};
use cratemill::schema::result::FailureClass;
use support::sparse_registry::{Fault, SparseRegistry, TestCrate};

fn fast_retry() -> Client {
    let retry = RetryPolicy {
        attempts: 4,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        ..RetryPolicy::default()
    };
    Client::new().unwrap().with_retry(retry)
}

fn hello_registry() -> SparseRegistry {
    SparseRegistry::start(vec![
        TestCrate::binary("hello", "0.9.0"),
        TestCrate::binary("hello", "1.0.0").feature("default", &["color"]).feature("color", &[]).dep("itoa", "^1"),
        TestCrate::binary("hello", "1.1.0").yanked(true),
        TestCrate::binary("hello", "1.2.0-rc.1"),
        TestCrate::binary("bad", "0.1.0").tampered(),
        TestCrate::binary("my_tool", "0.2.0"),
    ])
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[tokio::test]
async fn resolves_default_requested_yanked_and_unknown_versions() {
    let reg = hello_registry();
    let index = Index::open_with(&reg.index_url(), fast_retry()).await.unwrap();
    assert_eq!(index.url(), reg.index_url());
    let versions = index.versions("hello").await.unwrap();
    assert_eq!(versions.len(), 4);

    let default = select_version(&versions, None, false).unwrap();
    assert_eq!(default.vers, "1.0.0");
    assert_eq!(default.features["default"], vec!["color".to_string()]);
    assert_eq!(default.deps[0].name, "itoa");
    assert_eq!(select_version(&versions, Some("0.9.0"), false).unwrap().vers, "0.9.0");
    assert_eq!(select_version(&versions, Some("=1.2.0-rc.1"), false).unwrap().vers, "1.2.0-rc.1");

    let yanked = select_version(&versions, Some("1.1.0"), false).unwrap_err();
    assert_eq!((exit_of(&yanked), class_of(&yanked)), (Exit::Usage, Some(FailureClass::NotFound)));
    assert_eq!(yanked.to_string(), "`hello@1.1.0` is yanked; pass --allow-yanked to build it anyway");
    assert!(select_version(&versions, Some("1.1.0"), true).unwrap().yanked);

    let unknown = select_version(&versions, Some("3.0.0"), false).unwrap_err();
    assert_eq!(exit_of(&unknown), Exit::Usage);
    assert_eq!(
        unknown.to_string(),
        "`hello` has no version 3.0.0; newest available: 1.2.0-rc.1, 1.1.0 (yanked), 1.0.0, 0.9.0"
    );

    // Index file names are lower-case; the request may not be.
    assert_eq!(index.versions("Hello").await.unwrap().len(), 4);
    assert!(reg.requests().contains(&"/index/he/ll/hello".to_string()));
}

#[tokio::test]
async fn unknown_crate_is_a_usage_error_naming_it_and_the_index() {
    let reg = hello_registry();
    let index = Index::open_with(&reg.index_url(), fast_retry()).await.unwrap();
    let err = index.versions("nope").await.unwrap_err();
    assert_eq!((exit_of(&err), class_of(&err)), (Exit::Usage, Some(FailureClass::NotFound)));
    assert_eq!(err.to_string(), format!("crate `nope` is not in the index {}", reg.index_url()));
    // Both spellings were asked for before giving up.
    let err = index.versions("no-pe").await.unwrap_err();
    assert_eq!(err.to_string(), format!("crate `no-pe` is not in the index {}", reg.index_url()));
    assert!(reg.requests().contains(&"/index/no/_p/no_pe".to_string()), "{:?}", reg.requests());
    let bad = index.versions("no;pe").await.unwrap_err();
    assert_eq!(exit_of(&bad), Exit::Usage);
    assert!(bad.to_string().contains("shell metacharacter ';'"), "{bad}");
}

#[tokio::test]
async fn dashes_and_underscores_name_the_same_crate() {
    let reg = hello_registry();
    let index = Index::open_with(&reg.index_url(), fast_retry()).await.unwrap();
    let versions = index.versions("my-tool").await.unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!((versions[0].name.as_str(), versions[0].vers.as_str()), ("my_tool", "0.2.0"), "the published spelling");
    assert_eq!(index.versions("My_Tool").await.unwrap()[0].name, "my_tool");
}

#[tokio::test]
async fn downloads_and_verifies_a_crate() {
    let reg = hello_registry();
    let index = Index::open_with(&reg.index_url(), fast_retry()).await.unwrap();
    let versions = index.versions("hello").await.unwrap();
    let v = select_version(&versions, None, false).unwrap();
    let expected = TestCrate::binary("hello", "1.0.0").feature("default", &["color"]).feature("color", &[]);
    assert_eq!(v.cksum, expected.cksum());
    let dir = tempfile::tempdir().unwrap();
    let got = index.download(v, dir.path()).await.unwrap();
    assert_eq!(got.path, dir.path().join("hello-1.0.0.crate"));
    assert_eq!(got.sha256, v.cksum);
    assert_eq!(got.url, format!("{}/dl/hello/1.0.0/download", reg.base_url()));
    let bytes = std::fs::read(&got.path).unwrap();
    assert_eq!(bytes, expected.crate_bytes());
    assert_eq!(got.size, bytes.len() as u64);
    assert_eq!(files_in(dir.path()), ["hello-1.0.0.crate"], "no temporary file left");
}

#[tokio::test]
async fn tampered_crate_is_a_checksum_mismatch_and_leaves_nothing() {
    let reg = hello_registry();
    let index = Index::open_with(&reg.index_url(), fast_retry()).await.unwrap();
    let versions = index.versions("bad").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = index.download(&versions[0], dir.path()).await.unwrap_err();
    assert_eq!((exit_of(&err), class_of(&err)), (Exit::Failed, Some(FailureClass::ChecksumMismatch)));
    let msg = err.to_string();
    assert!(msg.starts_with("downloading `bad@0.1.0` from http://127.0.0.1:"), "{msg}");
    assert!(msg.contains(&format!("checksum mismatch: the index lists sha256 {}", versions[0].cksum)), "{msg}");
    assert!(files_in(dir.path()).is_empty(), "left behind: {:?}", files_in(dir.path()));
    assert_eq!(reg.hits("/dl/bad/0.1.0/download"), 1, "a mismatch is not retried");
}

#[tokio::test]
async fn server_errors_and_cut_transfers_are_retried() {
    let reg = hello_registry();
    let dl = SparseRegistry::download_path("hello", "0.9.0");
    reg.fail_next("/index/config.json", 1, Fault::Status(503));
    reg.fail_next(&SparseRegistry::index_file_path("hello"), 2, Fault::Status(502));
    let index = Index::open_with(&reg.index_url(), fast_retry()).await.unwrap();
    let versions = index.versions("hello").await.unwrap();
    assert_eq!(reg.hits("/index/config.json"), 2);
    assert_eq!(reg.hits("/index/he/ll/hello"), 3);

    let v = select_version(&versions, Some("0.9.0"), false).unwrap();
    reg.fail_next(&dl, 2, Fault::Status(500));
    let dir = tempfile::tempdir().unwrap();
    index.download(v, dir.path()).await.unwrap();
    assert_eq!(reg.hits(&dl), 3);

    let dir = tempfile::tempdir().unwrap();
    reg.fail_next(&dl, 1, Fault::Truncate);
    let got = index.download(v, dir.path()).await.unwrap();
    assert_eq!(reg.hits(&dl), 5);
    assert_eq!(got.sha256, v.cksum);
}

#[tokio::test]
async fn retries_are_bounded_and_end_in_fetch_failed() {
    let reg = hello_registry();
    let index = Index::open_with(&reg.index_url(), fast_retry()).await.unwrap();
    let versions = index.versions("hello").await.unwrap();
    let dl = SparseRegistry::download_path("hello", "1.0.0");
    reg.fail_next(&dl, 100, Fault::Status(503));
    let dir = tempfile::tempdir().unwrap();
    let v = select_version(&versions, None, false).unwrap();
    let err = index.download(v, dir.path()).await.unwrap_err();
    assert_eq!((exit_of(&err), class_of(&err)), (Exit::Internal, None), "a network failure: {err}");
    assert!(err.to_string().ends_with("answered HTTP 503 Service Unavailable after 4 attempts"), "{err}");
    assert_eq!(reg.hits(&dl), 4);
    assert!(files_in(dir.path()).is_empty());

    // The same bound holds for index files.
    reg.fail_next("/index/he/ll/hello", 100, Fault::Status(500));
    let err = index.versions("hello").await.unwrap_err();
    assert_eq!(exit_of(&err), Exit::Internal);
    assert!(err.to_string().contains("answered HTTP 500 Internal Server Error after 4 attempts"), "{err}");
    assert_eq!(reg.hits("/index/he/ll/hello"), 5);

    // A 404 on the download is final, not retried.
    reg.fail_next(&dl, 1, Fault::Status(404));
    let err = index.download(v, dir.path()).await.unwrap_err();
    assert_eq!(exit_of(&err), Exit::Internal);
    assert!(err.to_string().ends_with("answered HTTP 404 Not Found"), "{err}");
    assert_eq!(reg.hits(&dl), 5);
}

#[tokio::test]
async fn oversized_download_is_refused() {
    let reg = hello_registry();
    let index = Index::open_with(&reg.index_url(), fast_retry()).await.unwrap().with_max_crate_bytes(64);
    let versions = index.versions("hello").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = index.download(&versions[0], dir.path()).await.unwrap_err();
    assert_eq!((exit_of(&err), class_of(&err)), (Exit::Failed, Some(FailureClass::UnsafeArchive)));
    assert!(err.to_string().contains("larger than the 64-byte limit"), "{err}");
    assert!(files_in(dir.path()).is_empty());
}

#[tokio::test]
async fn unreachable_index_is_a_clear_fetch_failure() {
    let url = SparseRegistry::unreachable_index_url();
    let client = Client::new().unwrap().with_retry(RetryPolicy::immediate(2));
    let err = Index::open_with(&url, client).await.unwrap_err();
    assert_eq!(exit_of(&err), Exit::Internal, "an unreachable index is an environment failure");
    let msg = err.to_string();
    let config = format!("{}config.json", url.trim_start_matches("sparse+"));
    assert!(msg.starts_with(&format!("opening index {url}: GET {config} cannot connect (")), "{msg}");
    assert!(msg.ends_with(" after 2 attempts"), "{msg}");
    assert!(!msg.contains('\n'));
}

#[tokio::test]
async fn a_url_that_is_not_an_index_is_a_usage_error() {
    let reg = hello_registry();
    let err = Index::open_with(&format!("{}/elsewhere/", reg.base_url()), fast_retry()).await.unwrap_err();
    assert_eq!((exit_of(&err), class_of(&err)), (Exit::Usage, Some(FailureClass::NotFound)));
    assert!(err.to_string().contains("is not a sparse registry index"), "{err}");

    reg.set_route("/bogus/config.json", "<html>hello</html>");
    let err = Index::open_with(&format!("{}/bogus", reg.base_url()), fast_retry()).await.unwrap_err();
    assert_eq!(exit_of(&err), Exit::Usage);
    assert!(err.to_string().contains("config.json is not valid"), "{err}");
}

#[tokio::test]
async fn index_lines_about_another_crate_are_not_trusted() {
    let reg = SparseRegistry::start(vec![TestCrate::binary("sneaky", "1.0.0").index_name("../../etc")]);
    let index = Index::open_with(&reg.index_url(), fast_retry()).await.unwrap();
    let err = index.versions("sneaky").await.unwrap_err();
    assert_eq!(class_of(&err), Some(FailureClass::FetchFailed));
    assert!(err.to_string().contains("names the crate `../../etc`"), "{err}");
}

#[tokio::test]
async fn several_targets_download_the_crate_once_and_reuse_only_verified_bytes() {
    let reg = hello_registry();
    let index = Index::open_with(&reg.index_url(), fast_retry()).await.unwrap();
    let versions = index.versions("hello").await.unwrap();
    let v = select_version(&versions, Some("1.0.0"), false).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (shared, a, b, c) =
        (tmp.path().join("shared"), tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("c"));
    for d in [&shared, &a, &b, &c] {
        std::fs::create_dir_all(d).unwrap();
    }
    let downloads = || reg.requests().iter().filter(|p| p.starts_with("/dl/hello/1.0.0")).count();

    let (first, reused) = index.download_shared(v, &a, &shared).await.unwrap();
    assert!(!reused);
    let (second, reused) = index.download_shared(v, &b, &shared).await.unwrap();
    assert!(reused, "the second target reuses the first one's download");
    assert_eq!(downloads(), 1, "one download for two targets");
    assert_eq!(std::fs::read(&first.path).unwrap(), std::fs::read(&second.path).unwrap());
    assert_eq!((second.sha256.as_str(), second.url.as_str()), (first.sha256.as_str(), first.url.as_str()));

    // A shared copy that no longer matches the index is never used: it is downloaded again.
    let copy = shared.join("hello-1.0.0.crate");
    let mut bytes = std::fs::read(&copy).unwrap();
    bytes[10] ^= 0xff;
    std::fs::write(&copy, &bytes).unwrap();
    let (third, reused) = index.download_shared(v, &c, &shared).await.unwrap();
    assert!(!reused, "a tampered shared copy is not reused");
    assert_eq!(downloads(), 2);
    assert_eq!(std::fs::read(&third.path).unwrap(), std::fs::read(&first.path).unwrap());
    assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(&first.path).unwrap(), "the shared copy was repaired");
}
