//! `cratemill install` against a real registry (docker-registry with basic auth on 127.0.0.1):
//! publish a package, install its executables (they run), count the HTTP requests (direct with
//! Basic auth, and through a GHCR-like Bearer token front), resolve through the report's index,
//! name the nearest crate, refuse `--verify require` for an unattested image, and write nothing when a layer's bytes do not
//! match its digest (a loopback server that serves a tampered blob). `--licenses` prints the
//! published third-party notice byte for byte, or says in one line that an older image has none.

#[path = "support/fault_proxy.rs"]
mod fault_proxy;
#[path = "support/package.rs"]
mod package;
#[path = "support/registry.rs"]
mod registry;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use cratemill::actions::Runner;
use cratemill::publish::{publish_package_with, PublishEnv, PublishOptions};
use cratemill::schema::Layout;
use fault_proxy::{basic, Bearer, FaultConfig, FaultProxy};
use registry::{sha256_hex, Registry, PASSWORD, USER};

const T: &str = "x86_64-unknown-linux-musl";

/// Run the binary off the async runtime: (exit code, stdout, stderr).
async fn install(args: Vec<String>, creds: bool) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cratemill"));
        cmd.arg("install").args(&args).env_remove("GITHUB_TOKEN").env_remove("GITHUB_ACTOR");
        if creds {
            cmd.env("CRATEMILL_REGISTRY_USER", USER).env("CRATEMILL_REGISTRY_TOKEN", PASSWORD);
        } else {
            cmd.env_remove("CRATEMILL_REGISTRY_USER").env_remove("CRATEMILL_REGISTRY_TOKEN");
        }
        let out = cmd.output().unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
    })
    .await
    .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Publish `hello-tool` 1.2.3 with two real static executables (publish refuses dynamic ones).
async fn publish(host: &str, root: &Path) -> std::path::PathBuf {
    publish_with(host, root, None).await
}

/// [`publish`], with license lists and a third-party notice when `licensed` is given.
async fn publish_with(
    host: &str,
    root: &Path,
    licensed: Option<&[cratemill::schema::result::CompiledPackage]>,
) -> std::path::PathBuf {
    let spec = package::Spec {
        crate_name: "hello-tool".into(),
        version: "1.2.3".into(),
        executables: vec![
            ("hello".into(), package::static_elf(0, 0)),
            ("hello-echo".into(), package::static_elf(8192, 7)),
        ],
        srcbuild: package::Spec::real("hello-tool", "1.2.3").srcbuild,
    };
    let dir = match licensed {
        Some(deps) => package::write_licensed(root, &spec, &package::Licensed::new(&spec, deps.to_vec())),
        None => package::write(root, &spec),
    };
    let opts = PublishOptions {
        registry: Some(host.into()),
        oci_layout: None,
        layout: Layout::PerCrate,
        build_id: Some("7-1".into()),
        insecure_http: true,
        chunk_mib: None,
        max_layer_mib: cratemill::publish::DEFAULT_MAX_LAYER_MIB,
        licenses: Default::default(),
        tuning: Default::default(),
    };
    let env = PublishEnv {
        credentials: Some(cratemill::oci::Credentials { user: USER.into(), token: PASSWORD.into() }),
        run_id: None,
        run_attempt: None,
    };
    publish_package_with(&dir, &opts, &env, &Runner::default()).await.unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installs_from_the_loopback_registry_with_few_requests() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let pkg = publish(&reg.host(), tmp.path()).await;
    let bin = tmp.path().join("bin");
    let d = bin.to_str().unwrap().to_string();

    // Direct, Basic credentials sent up front: the tag list (no version given), manifest, the
    // referrer lookup (no referrers API: 404, then the fallback tag: 404), 2 blobs.
    let (code, stdout, stderr) =
        install(args(&["hello-tool", "--from", &reg.host(), "--insecure-http", "--dir", &d, "--target", T]), true)
            .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("6 HTTP request(s)"), "{stderr}");
    assert!(stderr.contains("note: ") && stderr.contains("has no attestation attached"), "auto says so: {stderr}");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    for name in ["hello", "hello-echo"] {
        let path = bin.join(name);
        assert_eq!(sha256_hex(&path), sha256_hex(&pkg.join("bin").join(name)), "{name} is the published file");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o755);
    }
    assert!(Command::new(bin.join("hello-echo")).arg("installed-and-runs").status().unwrap().success());
    assert!(Command::new(bin.join("hello")).status().unwrap().success());
    let leftovers: Vec<_> = std::fs::read_dir(&bin).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 2, "no temp files left: {leftovers:?}");

    // One executable of an exact version, through a GHCR-like Bearer front: manifest (401
    // challenge), token, manifest, referrers, fallback tag, blob.
    let config = FaultConfig {
        bearer: Some(Bearer {
            client_basic: basic(USER, PASSWORD),
            upstream_basic: basic(USER, PASSWORD),
            rotate_every: 0,
            token_stall: None,
        }),
        token_scope: "pull",
        ..FaultConfig::none()
    };
    let proxy = FaultProxy::start(reg.port, config).await;
    let one = tmp.path().join("one");
    let list = [
        "hello-tool@1.2.3",
        "--from",
        &proxy.host(),
        "--insecure-http",
        "--exe",
        "hello",
        "--target",
        T,
        "--dir",
        one.to_str().unwrap(),
    ];
    let (code, _, stderr) = install(args(&list), true).await;
    assert_eq!(code, 0, "{stderr}");
    let seen: Vec<String> =
        proxy.log().iter().map(|s| format!("{} {}", s.method, s.path.split('?').next().unwrap())).collect();
    // The proxy logs what it forwards (not its own 401 and token answers).
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(
        seen[0].ends_with("/manifests/1.2.3-x86_64-unknown-linux-musl")
            && seen[1].contains("/referrers/sha256:")
            && seen[2].contains("/manifests/sha256-")
            && seen[3].contains("/blobs/sha256:"),
        "{seen:?}"
    );
    assert_eq!(proxy.tokens_issued(), 1, "one pull token");
    assert!(stderr.contains("6 HTTP request(s)"), "{stderr}");
    assert_eq!(std::fs::read_dir(&one).unwrap().count(), 1, "only the executable asked for");

    // Through the report's index: the manifest by digest, then the blob.
    let index = tmp.path().join("index.json");
    let pushed = format!("{}/mirror/index:latest", reg.host());
    let report = Command::new(env!("CARGO_BIN_EXE_cratemill"))
        .args([
            "report",
            pkg.to_str().unwrap(),
            "--out",
            index.to_str().unwrap(),
            "--push-index",
            &pushed,
            "--insecure-http",
        ])
        .env("CRATEMILL_REGISTRY_USER", USER)
        .env("CRATEMILL_REGISTRY_TOKEN", PASSWORD)
        .output()
        .unwrap();
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));
    // The pushed index, read back by skopeo: one layer whose bytes are index.json.
    let raw: serde_json::Value = serde_json::from_slice(&registry::inspect_raw(&pushed).unwrap()).unwrap();
    assert_eq!(raw["artifactType"], "application/vnd.cratemill.built-index.v1");
    let index_sha = sha256_hex(&index);
    assert_eq!(raw["layers"][0]["digest"], format!("sha256:{index_sha}"));
    let via = tmp.path().join("via-index");
    let list = [
        "hello-tool",
        "--from",
        &reg.host(),
        "--insecure-http",
        "--index",
        index.to_str().unwrap(),
        "--exe",
        "hello-echo",
        "--target",
        T,
        "--dir",
        via.to_str().unwrap(),
    ];
    let (code, _, stderr) = install(args(&list), true).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("4 HTTP request(s)"), "{stderr}");
    assert_eq!(sha256_hex(&via.join("hello-echo")), sha256_hex(&pkg.join("bin/hello-echo")));

    // The same index over HTTP, from a server that is busy at first: fetched through the network
    // layer, which retries the 503 like any other request.
    let port = busy_once_server(std::fs::read(&index).unwrap());
    let via_http = tmp.path().join("via-http");
    let url = format!("http://127.0.0.1:{port}/index.json");
    let list = [
        "hello-tool",
        "--from",
        &reg.host(),
        "--insecure-http",
        "--index",
        &url,
        "--exe",
        "hello-echo",
        "--target",
        T,
        "--dir",
        via_http.to_str().unwrap(),
    ];
    let (code, _, stderr) = install(args(&list), true).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(sha256_hex(&via_http.join("hello-echo")), sha256_hex(&pkg.join("bin/hello-echo")));

    // The index from the registry itself.
    let from_oci = tmp.path().join("via-oci");
    let oci_index = format!("oci://{pushed}");
    let list = [
        "hello-tool",
        "--from",
        &reg.host(),
        "--insecure-http",
        "--index",
        &oci_index,
        "--target",
        T,
        "--dir",
        from_oci.to_str().unwrap(),
    ];
    let (code, _, stderr) = install(args(&list), true).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(sha256_hex(&from_oci.join("hello")), sha256_hex(&pkg.join("bin/hello")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_names_the_problem_and_writes_nothing() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    publish(&reg.host(), tmp.path()).await;
    let dir = tmp.path().join("bin");
    let d = dir.to_str().unwrap().to_string();
    let base = |spec: &str| args(&[spec, "--from", &reg.host(), "--insecure-http", "--dir", &d, "--target", T]);

    let (code, _, stderr) = install(base("helo-tool"), true).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("has no crate `helo-tool`: did you mean `hello-tool`?"), "{stderr}");
    let (code, _, stderr) = install(base("hello-tool@9.9.9"), true).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no hello-tool@9.9.9 for x86_64-unknown-linux-musl; versions it has: 1.2.3"), "{stderr}");
    let mut exe = base("hello-tool");
    exe.extend(args(&["--exe", "nope"]));
    let (code, _, stderr) = install(exe, true).await;
    assert!(code == 2 && stderr.contains("has no executable `nope`; it has: hello, hello-echo"), "{stderr}");
    let mut require = base("hello-tool");
    require.extend(args(&["--verify", "require", "--repo", "acme/mirror"]));
    let (code, _, stderr) = install(require, true).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("has no attestation attached") && stderr.contains("nothing installed"), "{stderr}");
    let (code, _, stderr) = install(base("hello-tool"), false).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("CRATEMILL_REGISTRY_TOKEN"), "names the fix: {stderr}");
    let (code, _, stderr) = install(base("bad;name"), true).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(!dir.exists(), "nothing written by any of these");
}

/// A file server that answers 503 (`Retry-After: 0`) to its first request and `body` to the next.
fn busy_once_server(body: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (i, conn) in listener.incoming().take(4).enumerate() {
            let mut conn = conn.unwrap();
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                    break;
                }
            }
            let (status, body): (&str, &[u8]) =
                if i == 0 { ("503 Service Unavailable", b"") } else { ("200 OK", &body) };
            let head = format!(
                "HTTP/1.1 {status}\r\nRetry-After: 0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            conn.write_all(head.as_bytes()).unwrap();
            conn.write_all(body).unwrap();
        }
    });
    port
}

/// A registry that serves one manifest and, for its layer, other bytes than the digest says (no
/// attestations: the referrer lookup gets 404s).
fn tampering_server(manifest: Vec<u8>, blob: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(8) {
            let mut conn = conn.unwrap();
            let mut line = String::new();
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            reader.read_line(&mut line).unwrap();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                    break;
                }
            }
            // Like a registry without the referrers API and no attestation: 404 for those.
            let (status, body): (&str, &[u8]) = if line.contains("/referrers/") || line.contains("/manifests/sha256-") {
                ("404 Not Found", b"")
            } else if line.contains("/manifests/") {
                ("200 OK", &manifest)
            } else {
                ("200 OK", &blob)
            };
            let head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            conn.write_all(head.as_bytes()).unwrap();
            conn.write_all(body).unwrap();
            let _ = conn.read(&mut [0; 1]);
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_whose_digest_does_not_match_writes_nothing() {
    let good = std::fs::read("/bin/true").unwrap();
    let digest = format!("sha256:{}", cratemill::oci::manifest::sha256_digest(&good).trim_start_matches("sha256:"));
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2},
        "layers": [{"mediaType": "application/vnd.cratemill.executable.v1", "digest": digest, "size": good.len(),
                    "annotations": {"io.cratemill.executable": "evil", "org.opencontainers.image.title": "bin/evil"}}],
        "annotations": {"io.cratemill.crate": "evil", "io.cratemill.target": T}
    });
    let mut bad = good.clone();
    bad[100] ^= 0xff;
    let port = tampering_server(serde_json::to_vec(&manifest).unwrap(), bad);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let list = [
        "evil@1.0.0",
        "--from",
        &format!("127.0.0.1:{port}/mirror"),
        "--insecure-http",
        "--dir",
        dir.to_str().unwrap(),
        "--target",
        T,
    ];
    let (code, _, stderr) = install(args(&list), false).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("a layer whose digest does not match") && stderr.contains("nothing written"), "{stderr}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "no file, not even a temp file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn licenses_prints_the_published_notice_and_installs_nothing() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let run = |home: &Path, extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cratemill"));
        cmd.args([
            "install",
            "hello-tool@1.2.3",
            "--from",
            &reg.host(),
            "--insecure-http",
            "--target",
            T,
            "--licenses",
        ])
        .args(extra)
        .env("HOME", home)
        .env("CRATEMILL_REGISTRY_USER", USER)
        .env("CRATEMILL_REGISTRY_TOKEN", PASSWORD);
        tokio::task::block_in_place(|| cmd.output().unwrap())
    };

    // An image from before notices: one line saying so, exit 2.
    let old_home = tmp.path().join("old-home");
    let old_root = tmp.path().join("old");
    publish(&reg.host(), &old_root).await;
    let out = run(&old_home, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("has no licenses/THIRD-PARTY-NOTICES.txt layer: it was published before"), "{stderr}");

    // Republished with a notice (other bytes: a new version's worth of tag, so another registry).
    let reg2 = Registry::start();
    let deps = [
        package::compiled("dual", "2.0.0", Some("MIT OR Apache-2.0")),
        package::compiled("zlib-ish", "0.1.0", Some("Zlib")),
    ];
    let pkg = publish_with(&reg2.host(), &tmp.path().join("new"), Some(&deps)).await;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cratemill"));
    cmd.args(["install", "hello-tool@1.2.3", "--from", &reg2.host(), "--insecure-http", "--target", T, "--licenses"])
        .env("HOME", &old_home)
        .env("CRATEMILL_REGISTRY_USER", USER)
        .env("CRATEMILL_REGISTRY_TOKEN", PASSWORD);
    let out = tokio::task::block_in_place(|| cmd.output().unwrap());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let published = std::fs::read(pkg.join(package::NOTICE)).unwrap();
    assert!(String::from_utf8_lossy(&published).contains("== zlib-ish 0.1.0 (Zlib) =="));
    assert_eq!(out.stdout, published, "stdout is the published notice, byte for byte");
    assert!(stderr.contains("the third-party notice of"), "{stderr}");
    assert!(!old_home.join(".local").exists(), "nothing installed");

    // Not with the install flags it replaces.
    let out = run(&old_home, &["--exe", "hello"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}
