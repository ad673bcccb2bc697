//! The local OCI image layout (the default destination), validated with `skopeo inspect oci:...`
//! and `skopeo copy`.

#[path = "support/package.rs"]
mod package;
#[path = "support/registry.rs"]
mod registry;

use cratemill::actions::Runner;
use cratemill::error::{exit_of, one_line, Exit};
use cratemill::oci::{Scheme, Tuning};
use cratemill::publish::{publish_package_with, PublishEnv, PublishOptions};
use cratemill::schema::publish::{PublishRecord, ReferenceKind};
use registry::{assert_layers_match, copy_to_dir, inspect_layout_raw};

fn layout_opts(dir: Option<&std::path::Path>, scheme: Scheme) -> PublishOptions {
    PublishOptions {
        registry: None,
        oci_layout: dir.map(Into::into),
        layout: scheme,
        build_id: None,
        insecure_http: false,
        chunk_mib: None,
        max_layer_mib: cratemill::publish::DEFAULT_MAX_LAYER_MIB,
        licenses: Default::default(),
        tuning: Tuning::default(),
    }
}

/// Publish `dir` into the image layout at `root` with the default environment.
async fn publish_to_layout(dir: &std::path::Path, root: &std::path::Path, scheme: Scheme) -> PublishRecord {
    publish_package_with(dir, &layout_opts(Some(root), scheme), &PublishEnv::default(), &Runner::default())
        .await
        .unwrap()
}

#[tokio::test]
async fn layout_is_readable_by_skopeo_and_republishing_is_a_no_op() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = package::write(tmp.path(), &package::Spec::sized("laytool", "0.9.0-beta.1+g1", 300 * 1024, 9));
    let files = package::file_digests(&dir);
    let root = tmp.path().join("oci");
    let rec = publish_to_layout(&dir, &root, Scheme::PerCrate).await;
    assert_eq!(rec.destination, format!("oci:{}", root.display()));
    let bin = rec.references.iter().find(|r| r.kind == ReferenceKind::Binary).unwrap();
    assert_eq!(bin.reference, format!("oci:{}/laytool:0.9.0-beta.1_g1-{}", root.display(), package::TARGET));
    for r in &rec.references {
        let raw = inspect_layout_raw(&r.reference).unwrap_or_else(|e| panic!("skopeo inspect {}: {e}", r.reference));
        assert_eq!(cratemill::oci::manifest::sha256_digest(&raw), r.digest);
        let copied = copy_to_dir(&r.reference, &tmp.path().join(format!("copy-{:?}", r.kind)));
        assert_layers_match(&raw, &copied, &files);
    }
    let again = publish_to_layout(&dir, &root, Scheme::PerCrate).await;
    assert!(again.references.iter().all(|r| r.unchanged), "{again:?}");
    assert_eq!(again.references[1].digest, rec.references[1].digest);
}

#[tokio::test]
async fn single_layout_keeps_every_crate_in_one_image_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mirror");
    for name in ["one", "two"] {
        let dir = package::write(tmp.path(), &package::Spec::real(name, "1.0.0"));
        publish_to_layout(&dir, &root, Scheme::Single).await;
    }
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(root.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 4, "binary + srcbuild for each crate");
    for name in ["one", "two"] {
        inspect_layout_raw(&format!("oci:{}:{name}-1.0.0-{}", root.display(), package::TARGET)).unwrap();
    }
}

#[test]
fn cli_default_destination_is_a_layout_in_the_current_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = package::write(tmp.path(), &package::Spec::real("deftool", "1.0.0"));
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cratemill"))
        .arg("publish")
        .arg(&dir)
        .current_dir(&work)
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rec: PublishRecord = cratemill::schema::read(&dir.join("publish.json")).unwrap();
    let bin = rec.references.iter().find(|r| r.kind == ReferenceKind::Binary).unwrap();
    assert_eq!(bin.reference, format!("oci:{}/cratemill-oci/deftool:1.0.0-{}", work.display(), package::TARGET));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("{}@{}", bin.reference, bin.digest)), "{stdout}");
    registry::require_tool("skopeo", "skopeo");
    let raw = std::process::Command::new("skopeo")
        .args(["inspect", "--raw", &bin.reference])
        .current_dir(&work)
        .output()
        .unwrap();
    assert!(raw.status.success(), "{}", String::from_utf8_lossy(&raw.stderr));
    assert_eq!(cratemill::oci::manifest::sha256_digest(&raw.stdout), bin.digest);
    assert!(rec.build_id.starts_with("local-") && rec.build_id.len() == "local-".len() + 12, "{}", rec.build_id);

    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_cratemill"))
        .args(["publish", "--insecure-http"])
        .arg(&dir)
        .current_dir(&work)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--insecure-http needs --registry"));
}

#[tokio::test]
async fn bad_build_id_and_missing_package_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = package::write(tmp.path(), &package::Spec::real("ids", "1.0.0"));
    let mut opts = layout_opts(Some(&tmp.path().join("oci")), Scheme::PerCrate);
    opts.build_id = Some("../escape".into());
    let err = publish_package_with(&dir, &opts, &PublishEnv::default(), &Runner::default()).await.unwrap_err();
    assert_eq!(exit_of(&err), Exit::Usage);
    assert!(one_line(&err).contains("invalid build id `../escape`"), "{}", one_line(&err));

    let err = publish_package_with(
        &tmp.path().join("nope"),
        &layout_opts(None, Scheme::PerCrate),
        &PublishEnv::default(),
        &Runner::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(exit_of(&err), Exit::Usage);
    assert!(one_line(&err).contains("does not exist"), "{}", one_line(&err));

    opts.build_id = Some("ci-42".into());
    let rec = publish_package_with(&dir, &opts, &PublishEnv::default(), &Runner::default()).await.unwrap();
    assert!(rec.references[0].reference.ends_with("-srcbuild-ci-42"), "{}", rec.references[0].reference);
}
