//! A real OCI registry for tests: Debian's `docker-registry` (CNCF distribution) on 127.0.0.1 and
//! a free port, with its own config (filesystem storage in a temp dir, htpasswd basic auth with a
//! bcrypt entry from `htpasswd -B`), never the packaged config. Plus `skopeo` read-back helpers.
//! Missing tools fail the test with the apt command to install them.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const USER: &str = "pusher";
pub const PASSWORD: &str = "s3cret-pass-9f1c";

/// Fail with an install hint when a tool is missing.
pub fn require_tool(tool: &str, package: &str) {
    let found = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()));
    assert!(found, "`{tool}` is required by this test: install it with `apt-get install -y {package}`");
}

pub struct Registry {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Registry {
    /// Start a registry with basic auth on a free loopback port and wait until it answers.
    pub fn start() -> Registry {
        require_tool("docker-registry", "docker-registry");
        require_tool("htpasswd", "apache2-utils");
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("htpasswd").args(["-Bbn", USER, PASSWORD]).output().unwrap();
        assert!(out.status.success(), "htpasswd failed: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::write(dir.path().join("htpasswd"), &out.stdout).unwrap();
        let mut reg = Registry { port: 0, dir, child: None };
        for _ in 0..5 {
            reg.port = free_port();
            if reg.spawn() {
                return reg;
            }
        }
        panic!("docker-registry did not start; see {}", reg.log_path().display());
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("registry.log")
    }

    fn spawn(&mut self) -> bool {
        let root = self.dir.path();
        let config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{}\n  secret: cratemill-test-secret\nauth:\n  htpasswd:\n    realm: cratemill-test\n    path: {}\n",
            root.join("data").display(),
            self.port,
            root.join("htpasswd").display()
        );
        let config_path = root.join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting docker-registry");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                eprintln!("docker-registry exited with {status}");
                self.child = None;
                return false;
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.stop();
        false
    }

    /// `127.0.0.1:<port>`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kill the registry (its storage stays).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start it again on the same port with the same storage.
    pub fn restart(&mut self) {
        self.stop();
        assert!(self.spawn(), "docker-registry did not restart on port {}", self.port);
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

fn skopeo(args: &[&str]) -> std::process::Output {
    require_tool("skopeo", "skopeo");
    Command::new("skopeo").args(args).output().expect("running skopeo")
}

fn creds() -> String {
    format!("{USER}:{PASSWORD}")
}

/// `skopeo inspect --raw` of `host/repo:tag`; `Err(stderr)` when it fails.
pub fn inspect_raw(reference: &str) -> Result<Vec<u8>, String> {
    let out =
        skopeo(&["inspect", "--raw", "--tls-verify=false", "--creds", &creds(), &format!("docker://{reference}")]);
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// `skopeo inspect --raw oci:<dir>:<tag>`.
pub fn inspect_layout_raw(oci_ref: &str) -> Result<Vec<u8>, String> {
    let out = skopeo(&["inspect", "--raw", oci_ref]);
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// `skopeo copy <src> dir:<out>` (src is `docker://...` or `oci:...`); returns `out`.
pub fn copy_to_dir(src: &str, out: &Path) -> PathBuf {
    let dest = format!("dir:{}", out.display());
    let mut args = vec!["copy", "--quiet", src, &dest];
    let c = creds();
    if src.starts_with("docker://") {
        args.splice(1..1, ["--src-tls-verify=false", "--src-creds", c.as_str()]);
    }
    let out_ = skopeo(&args);
    assert!(out_.status.success(), "skopeo copy {src} failed: {}", String::from_utf8_lossy(&out_.stderr));
    out.to_path_buf()
}

/// sha256 hex of a file.
pub fn sha256_hex(path: &Path) -> String {
    cratemill::package::digest_file(path).unwrap().sha256
}

/// Check a manifest read back by skopeo against a package: every layer titled with a package path
/// whose sha256 is the layer digest, and every blob skopeo copied hashes to its name.
pub fn assert_layers_match(
    manifest: &[u8],
    copied: &Path,
    package: &std::collections::BTreeMap<String, String>,
) -> usize {
    let m: serde_json::Value = serde_json::from_slice(manifest).unwrap();
    let layers = m["layers"].as_array().unwrap();
    for layer in layers {
        let title = layer["annotations"]["org.opencontainers.image.title"].as_str().unwrap();
        let digest = layer["digest"].as_str().unwrap();
        let hex = digest.strip_prefix("sha256:").unwrap();
        assert_eq!(package.get(title).map(String::as_str), Some(hex), "layer {title} has digest {digest}");
        let blob = copied.join(hex);
        assert!(blob.is_file(), "skopeo did not copy blob {hex} ({title})");
        assert_eq!(sha256_hex(&blob), hex, "copied blob {title} hashes differently");
        assert_eq!(std::fs::metadata(&blob).unwrap().len(), layer["size"].as_u64().unwrap());
    }
    let config = m["config"]["digest"].as_str().unwrap().strip_prefix("sha256:").unwrap();
    assert_eq!(sha256_hex(&copied.join(config)), config);
    layers.len()
}
