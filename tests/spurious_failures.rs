//! Spurious failures, as crater tells them from real ones (issue #20), end to end: the real binary,
//! a loopback sparse registry, real cargo builds in the bwrap sandbox. A build script that reaches
//! for the network is `network-access` (and not retried as is); a build that exhausts its memory
//! limit is `oom`, retried with one job a bounded number of times.

#[path = "support/hostile.rs"]
mod hostile;
mod support;

use std::path::Path;

use cratemill::builder::attempts::SPURIOUS_RETRIES;
use cratemill::schema::result::{BuildResult, FailureClass, Status};
use hostile::{build, hostile_crate, Work, MEMORY_BOMB_BUILD_RS};
use support::sparse_registry::SparseRegistry;

fn result_of(out: &Path) -> BuildResult {
    cratemill::schema::read(&out.join("result.json")).expect("result.json")
}

/// A build script that downloads (here: connects to static.crates.io, as `-sys` crates fetching a
/// prebuilt library do) finds no network in the build sandbox: the failure is `network-access`,
/// naming the crate and what the build script saw; the ladder does not repeat it as is (the next
/// attempt changes the features, as after a real failure).
#[test]
fn a_build_script_that_downloads_is_classed_network_access() {
    let build_rs = r#"
fn main() {
    match std::net::TcpStream::connect(("static.crates.io", 443)) {
        Ok(_) => println!("cargo:warning=downloaded"),
        Err(e) => panic!("downloading the prebuilt library failed: {e}"),
    }
}
"#;
    let reg = SparseRegistry::start(vec![hostile_crate("fetcher", build_rs, "")]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = build(&reg, "fetcher", &out, &["--target", "x86_64-unknown-linux-gnu"], &[]);
    let _work = Work::of(&out);
    assert!(!o.status.success());
    let r = result_of(&out);
    assert_eq!(r.status, Status::Failed);
    let failure = r.failure.as_ref().unwrap();
    assert_eq!(failure.class, FailureClass::NetworkAccess, "{}", failure.message);
    assert!(failure.message.starts_with("fetcher: the build tried to reach the network"), "{}", failure.message);
    assert!(failure.evidence.iter().any(|l| l.contains("failed to run custom build command for `fetcher")));
    for a in &r.attempts {
        assert_eq!(a.failure.as_ref().unwrap().class, FailureClass::NetworkAccess, "{a:#?}");
        assert!(!a.spurious_retry, "network-access is not retried as is: {a:#?}");
    }
    assert_eq!(r.attempts.len(), 2, "all features, then default features: {:#?}", r.attempts);
    assert!(FailureClass::NetworkAccess.is_spurious() && FailureClass::NetworkAccess.is_transient());
}

/// A memory bomb under `--max-memory-mib 512`: the job's cgroup kills it and the failure is `oom`
/// (not a random crash); the ladder retries the same attempt with one job, at most
/// `SPURIOUS_RETRIES` times, each attempt recorded as a spurious retry.
#[test]
fn a_build_that_exhausts_its_memory_limit_is_classed_oom_and_retried_a_bounded_number_of_times() {
    let build_rs = MEMORY_BOMB_BUILD_RS;
    let reg = SparseRegistry::start(vec![hostile_crate("hog", build_rs, "")]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let args = ["--target", "x86_64-unknown-linux-gnu", "--max-memory-mib", "512"];
    let o = build(&reg, "hog", &out, &args, &[]);
    let _work = Work::of(&out);
    assert!(!o.status.success());
    let r = result_of(&out);
    let limits = r.sandbox_limits.clone().expect("result.json says which limits applied");
    let Some(cgroup) = limits.cgroup else {
        // Without root there may be no cgroup to bound memory: nothing to classify.
        assert!(unsafe { libc_geteuid() } != 0, "root gets a cgroup: {:?}", limits.cgroup_unavailable);
        return;
    };
    assert_eq!(cgroup.max_memory_bytes, 512 << 20);
    let failure = r.failure.as_ref().unwrap();
    assert_eq!(failure.class, FailureClass::Oom, "{}", failure.message);
    assert!(failure.message.starts_with("hog: "), "{}", failure.message);
    assert_eq!(r.attempts.len(), 1 + SPURIOUS_RETRIES, "{:#?}", r.attempts);
    for (i, a) in r.attempts.iter().enumerate() {
        assert_eq!(a.failure.as_ref().unwrap().class, FailureClass::Oom, "{a:#?}");
        assert_eq!(a.spurious_retry, i > 0, "{a:#?}");
        let jobs = a.command.windows(2).any(|w| w[0] == "--jobs" && w[1] == "1");
        assert_eq!(jobs, i > 0, "the retries run with one job: {:?}", a.command);
    }
    let log = std::fs::read_to_string(out.join("build.log")).unwrap();
    assert!(log.contains("oom is spurious: the same attempt again, with one job (retry 1 of 2)"), "{log}");
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// A build script that hangs without a word (here: sleeps 120 s) under `--silence-timeout 3s`: the
/// attempt is killed after 3 s of silence and classed `timeout`, saying so; as a spurious failure it
/// is retried as is, a bounded number of times, all well inside `--timeout`.
#[test]
fn a_build_that_prints_nothing_for_too_long_is_a_timeout_that_says_so() {
    let build_rs = "fn main() { std::thread::sleep(std::time::Duration::from_secs(120)); }\n";
    let reg = SparseRegistry::start(vec![hostile_crate("mute", build_rs, "")]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let started = std::time::Instant::now();
    let args = ["--target", "x86_64-unknown-linux-gnu", "--silence-timeout", "3s", "--timeout", "10m"];
    let o = build(&reg, "mute", &out, &args, &[]);
    let _work = Work::of(&out);
    assert!(!o.status.success());
    assert!(started.elapsed() < std::time::Duration::from_secs(100), "the silent build ran to its end");
    let r = result_of(&out);
    let failure = r.failure.as_ref().unwrap();
    assert_eq!(failure.class, FailureClass::Timeout, "{}", failure.message);
    assert!(failure.message.starts_with("build printed nothing for 3s and was killed"), "{}", failure.message);
    assert_eq!(r.attempts.len(), 1 + SPURIOUS_RETRIES, "{:#?}", r.attempts);
    assert!(r.attempts.iter().skip(1).all(|a| a.spurious_retry), "{:#?}", r.attempts);
    let log = std::fs::read_to_string(out.join("build.log")).unwrap();
    assert!(log.contains("the build printed nothing for 3s (--silence-timeout): killed it"), "{log}");
}
