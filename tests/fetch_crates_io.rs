//! The real thing: resolve, download, verify and unpack a small crate from crates.io
//! (index.crates.io + static.crates.io). Needs network access to crates.io, which CI has.

#[path = "support/online.rs"]
mod online;

use cratemill::crates_io::{select_version, unpack, CrateSpec, Index, UnpackLimits, CRATES_IO_INDEX};

#[tokio::test]
async fn crates_io_fetches_itoa() {
    if !online::crates_io_or_skip("crates_io_fetches_itoa") {
        return;
    }
    let spec = CrateSpec::parse("itoa@1.0.11").unwrap();
    let index = Index::open(CRATES_IO_INDEX).await.expect("crates.io index reachable");
    assert_eq!(index.url(), CRATES_IO_INDEX);
    let versions = index.versions(&spec.name).await.unwrap();
    assert!(versions.len() >= 30, "itoa has dozens of versions, got {}", versions.len());

    let newest = select_version(&versions, None, false).unwrap();
    assert!(!newest.yanked);
    let newest_v = semver::Version::parse(&newest.vers).unwrap();
    assert!(newest_v >= semver::Version::new(1, 0, 11) && newest_v.pre.is_empty(), "{}", newest.vers);

    let v = select_version(&versions, spec.version.as_deref(), false).unwrap();
    assert_eq!(v.vers, "1.0.11");
    // Published checksum of itoa 1.0.11 (immutable on crates.io).
    assert_eq!(v.cksum, "49f1f14873335454500d59611f1cf4a4b0f786f9ac11f4312a78e4cf2566695b");
    // crates.io's config.json says `dl = https://static.crates.io/crates`; a network that mirrors
    // index.crates.io may point `dl` elsewhere, which is exactly what must be honoured.
    let url = index.download_url(v);
    assert!(url.starts_with("https://") && url.contains("itoa"), "{url}");

    let work = tempfile::tempdir().unwrap();
    let got = index.download(v, work.path()).await.unwrap();
    assert_eq!(got.sha256, v.cksum);
    assert!(got.size > 5_000 && got.size < 100_000, "size {}", got.size);

    let root = unpack(&got.path, work.path(), &v.name, &v.vers, &UnpackLimits::default()).unwrap();
    assert_eq!(root, work.path().join("itoa-1.0.11"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("name = \"itoa\"") && manifest.contains("version = \"1.0.11\""), "{manifest}");
    assert!(root.join("src/lib.rs").is_file());
    assert!(root.join("Cargo.toml.orig").is_file());
}
