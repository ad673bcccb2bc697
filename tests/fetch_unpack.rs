//! Unpacking `.crate` files fetched from a local sparse registry: a good crate lands intact,
//! hostile archives (traversal, links outside, devices, bombs) are refused and leave nothing.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use cratemill::crates_io::{select_version, unpack, Index, UnpackLimits};
use cratemill::error::{class_of, exit_of, Exit};
use cratemill::net::{Client, RetryPolicy};
use cratemill::schema::result::FailureClass;
use support::sparse_registry::{SparseRegistry, TestCrate};

/// Publishes `krate` alone, downloads it (verified) into `work/dl`, unpacks into `work/src`.
async fn fetch_and_unpack(krate: TestCrate, limits: UnpackLimits) -> (tempfile::TempDir, anyhow::Result<PathBuf>) {
    let (name, version) = (krate.name.clone(), krate.version.clone());
    let reg = SparseRegistry::start(vec![krate]);
    let index =
        Index::open_with(&reg.index_url(), Client::new().unwrap().with_retry(RetryPolicy::immediate(1))).await.unwrap();
    let versions = index.versions(&name).await.unwrap();
    let v = select_version(&versions, Some(&version), false).unwrap();
    let work = tempfile::tempdir().unwrap();
    let (dl, src) = (work.path().join("dl"), work.path().join("src"));
    std::fs::create_dir_all(&dl).unwrap();
    std::fs::create_dir_all(&src).unwrap();
    let got = index.download(v, &dl).await.unwrap();
    let result = unpack(&got.path, &src, &v.name, &v.vers, &limits);
    (work, result)
}

/// Asserts `result` is an UnsafeArchive refusal mentioning `why`, and that nothing was left in
/// `src` or written next to it.
fn assert_refused(work: &Path, result: anyhow::Result<PathBuf>, why: &str) {
    let err = result.expect_err("the archive should have been refused");
    assert_eq!((exit_of(&err), class_of(&err)), (Exit::Failed, Some(FailureClass::UnsafeArchive)), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("refused") && msg.contains(why), "expected {why:?} in: {msg}");
    assert!(!msg.contains('\n'));
    let left: Vec<_> = std::fs::read_dir(work.join("src")).unwrap().collect();
    assert!(left.is_empty(), "left behind in src: {left:?}");
    let mut top: Vec<String> =
        std::fs::read_dir(work).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    top.sort();
    assert_eq!(top, ["dl", "src"], "something was written outside src");
}

#[tokio::test]
async fn a_good_crate_unpacks_with_modes_links_and_no_staging_left() {
    let krate = TestCrate::binary("good", "1.0.0")
        .dir("docs")
        .file("docs/README.md", "read me")
        .file_with_mode("tools/run.sh", "#!/bin/sh\n", 0o6755)
        .symlink("README.md", "docs/README.md")
        .symlink("docs/up", "../src")
        .hardlink("COPY.md", "good-1.0.0/docs/README.md");
    let (work, result) = fetch_and_unpack(krate, UnpackLimits::default()).await;
    let root = result.unwrap();
    assert_eq!(root, work.path().join("src/good-1.0.0"));
    assert!(std::fs::read_to_string(root.join("Cargo.toml")).unwrap().contains("name = \"good\""));
    assert_eq!(std::fs::read_to_string(root.join("README.md")).unwrap(), "read me");
    assert_eq!(std::fs::read_to_string(root.join("COPY.md")).unwrap(), "read me");
    assert!(root.join("docs/up/main.rs").is_file());
    let mode = std::fs::metadata(root.join("tools/run.sh")).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o755, "setuid/setgid must be stripped, exec bits kept");
    let entries: Vec<_> = std::fs::read_dir(work.path().join("src")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(entries, ["good-1.0.0"], "no staging folder left");

    // Unpacking again into the same place is refused rather than merged.
    let crate_file = work.path().join("dl/good-1.0.0.crate");
    let err = unpack(&crate_file, &work.path().join("src"), "good", "1.0.0", &UnpackLimits::default()).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
}

#[tokio::test]
async fn path_traversal_is_refused() {
    for (raw, why) in [
        ("trav-1.0.0/../../escaped", "contains `..`"),
        ("../escaped", "contains `..`"),
        ("/tmp/cratemill-escaped-absolute", "absolute path"),
        ("other-1.0.0/file", "outside the top folder `trav-1.0.0/`"),
    ] {
        let krate = TestCrate::binary("trav", "1.0.0").raw_file(raw, "owned");
        let (work, result) = fetch_and_unpack(krate, UnpackLimits::default()).await;
        assert_refused(work.path(), result, why);
    }
    assert!(!Path::new("/tmp/cratemill-escaped-absolute").exists());
}

#[tokio::test]
async fn links_pointing_outside_are_refused() {
    for (krate, why) in [
        (
            TestCrate::binary("lnk", "1.0.0").symlink("etc", "/etc/passwd"),
            "points outside the crate folder, to `/etc/passwd`",
        ),
        (TestCrate::binary("lnk", "1.0.0").symlink("src/up", "../../.."), "points outside the crate folder"),
        (TestCrate::binary("lnk", "1.0.0").hardlink("pw", "/etc/passwd"), "hard link `lnk-1.0.0/pw` points outside"),
        (TestCrate::binary("lnk", "1.0.0").hardlink("pw", "lnk-1.0.0/../../x"), "points outside"),
        // Each link is inside on paper, but the chain resolves above the crate folder.
        (
            TestCrate::binary("lnk", "1.0.0").symlink("sub/z", "..").symlink("y", "sub/z").symlink("x", "y/.."),
            "resolves outside the crate folder",
        ),
        (TestCrate::binary("lnk", "1.0.0").symlink("dangling", "nowhere"), "does not exist in the crate"),
    ] {
        let (work, result) = fetch_and_unpack(krate, UnpackLimits::default()).await;
        assert_refused(work.path(), result, why);
    }
}

#[tokio::test]
async fn a_later_entry_never_writes_through_a_link_from_the_archive() {
    // A link `d -> real` followed by `d/f`: the file must not go through the link.
    let krate = TestCrate::binary("thru", "1.0.0").dir("real").symlink("d", "real").file("d/f", "x");
    let (work, result) = fetch_and_unpack(krate, UnpackLimits::default()).await;
    assert_refused(work.path(), result, "both a link and another entry");
}

#[tokio::test]
async fn a_file_and_a_folder_at_the_same_path_are_refused() {
    let krate = TestCrate::binary("clash", "1.0.0").file("x", "file").file("x/y", "below a file");
    let (work, result) = fetch_and_unpack(krate, UnpackLimits::default()).await;
    assert_refused(work.path(), result, "`clash-1.0.0/x` is both a file and a folder");
    let krate = TestCrate::binary("clash", "1.0.0").file("x", "file").dir("x");
    let (work, result) = fetch_and_unpack(krate, UnpackLimits::default()).await;
    assert_refused(work.path(), result, "`clash-1.0.0/x` is both a file and a folder");
}

#[tokio::test]
async fn device_files_and_fifos_are_refused() {
    let (work, result) =
        fetch_and_unpack(TestCrate::binary("dev", "1.0.0").char_device("null"), UnpackLimits::default()).await;
    assert_refused(work.path(), result, "`dev-1.0.0/null` is a device file");
    let (work, result) =
        fetch_and_unpack(TestCrate::binary("dev", "1.0.0").fifo("pipe"), UnpackLimits::default()).await;
    assert_refused(work.path(), result, "is a FIFO");
}

#[tokio::test]
async fn oversized_archives_are_refused_by_bytes_actually_read() {
    const MIB: u64 = 1 << 20;
    // 8 MiB of zeros compresses to a few KiB: the total cap counts decompressed bytes.
    let bomb = || TestCrate::binary("bomb", "1.0.0").zeros("zeros.bin", 8 * MIB);
    let limits = UnpackLimits { max_total_bytes: 2 * MIB, ..UnpackLimits::default() };
    let (work, result) = fetch_and_unpack(bomb(), limits).await;
    assert_refused(work.path(), result, "expands past the 2097152-byte limit");

    let limits = UnpackLimits { max_file_bytes: MIB, ..UnpackLimits::default() };
    let (work, result) = fetch_and_unpack(bomb(), limits).await;
    assert_refused(work.path(), result, "`bomb-1.0.0/zeros.bin` is larger than the 1048576-byte file limit");

    let many = (0..10).fold(TestCrate::binary("many", "1.0.0"), |k, i| k.file(&format!("f{i}"), "x"));
    let limits = UnpackLimits { max_entries: 5, ..UnpackLimits::default() };
    let (work, result) = fetch_and_unpack(many, limits).await;
    assert_refused(work.path(), result, "more than 5 entries");
}
