//! Shared by the hostile-crate tests (`tests/hostile*.rs`): a crate with a hostile build script or
//! binary, one `cratemill build --keep-work` run against a loopback sparse registry, and ways to look
//! at what the attack touched. Include with `#[path = "support/hostile.rs"] mod hostile;` beside
//! `mod support;`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cratemill::schema::result::{BuildResult, Status};

use crate::support::sparse_registry::{SparseRegistry, TestCrate};

/// A crate `name` 0.1.0 with the given `build.rs` (may be empty) and `src/main.rs`.
pub fn hostile_crate(name: &str, build_rs: &str, main_rs: &str) -> TestCrate {
    let manifest =
        format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"MIT\"\n");
    let main =
        if main_rs.is_empty() { format!("fn main() {{ println!(\"{name} 0.1.0\"); }}\n") } else { main_rs.into() };
    let c = TestCrate::new(name, "0.1.0").file("Cargo.toml", manifest).file("src/main.rs", main);
    if build_rs.is_empty() {
        c
    } else {
        c.file("build.rs", build_rs)
    }
}

/// Run `cratemill build NAME --keep-work` against `reg`, output into `out`.
pub fn build(reg: &SparseRegistry, name: &str, out: &Path, extra: &[&str], envs: &[(&str, &str)]) -> Output {
    let index = reg.index_url();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cratemill"));
    cmd.args(["build", name, "--index-url", &index, "--out", out.to_str().unwrap(), "--quiet", "--keep-work"])
        .args(extra)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("CRATEMILL_INDEX_URL");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("running cratemill")
}

pub fn built(o: &Output, out: &Path) -> BuildResult {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pkg = cratemill::package::verify(out).expect("the package verifies");
    assert_eq!(pkg.result.status, Status::Built);
    pkg.result
}

/// The work folder a `--keep-work` build left, from its log; removed when the guard drops.
pub struct Work(pub PathBuf);

impl Work {
    pub fn of(out: &Path) -> Work {
        let log = std::fs::read_to_string(out.join("build.log")).unwrap();
        let dir =
            log.lines().find_map(|l| l.split_once("work folder kept at ")).expect("the log names the work folder");
        Work(PathBuf::from(dir.1.trim()))
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every regular file under `dir` (links are not followed), with its bytes.
pub fn regular_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let (path, kind) = (e.path(), e.file_type().unwrap());
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                let bytes = std::fs::read(&path).unwrap_or_default();
                files.push((path, bytes));
            }
        }
    }
    files
}

/// Every file under `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let has = |bytes: &[u8]| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    regular_files(dir).into_iter().filter(|(_, bytes)| has(bytes)).map(|(path, _)| path).collect()
}

pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A build script that touches 64 MiB blocks up to 2 GiB and reports its progress: a memory bomb.
pub const MEMORY_BOMB_BUILD_RS: &str = r#"
fn main() {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    for i in 1..=32u64 {
        blocks.push(vec![1u8; 64 << 20]);
        eprintln!("allocated {} MiB", i * 64);
    }
    println!("cargo:warning=survived {} MiB", blocks.len() * 64);
}
"#;
