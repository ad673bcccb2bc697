//! Hostile crates against `cratemill build` (issue #9, attacks 1, 2, 4, 5 and 9): each test serves a
//! small crate whose build script or binary attacks the builder, runs the real `cratemill build`
//! (sandbox `auto`, so bwrap), and asserts the attack failed by looking at what it tried to touch.
//! The network test also runs the same crate with `--sandbox none` and sees the attack succeed, so
//! the assertion is shown to be able to fail.

#[path = "support/hostile.rs"]
mod hostile;
mod support;

use std::path::PathBuf;
use std::time::Duration;

use cratemill::schema::result::{Sandbox, SmokeStatus};
use hostile::{build, built, files_containing, hostile_crate, sha256, Work};
use support::sparse_registry::SparseRegistry;

/// Attack 1: a build script walks `/proc` up to the cratemill process and reads every `environ`.
#[test]
fn attack_1_token_leak_through_proc_environ() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let build_rs = r#"
use std::path::Path;
fn main() {
    let mut pids = Vec::new();
    let mut pid = std::process::id();
    // Up through every parent, then every process /proc shows.
    while pid > 1 && !pids.contains(&pid) {
        pids.push(pid);
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        pid = stat.rsplit(')').next().and_then(|r| r.split_whitespace().nth(1)).and_then(|p| p.parse().ok()).unwrap_or(0);
    }
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() { pids.push(p); }
    }
    let mut loot = String::new();
    for p in pids {
        for f in ["environ", "cmdline"] {
            if let Ok(b) = std::fs::read(format!("/proc/{p}/{f}")) {
                loot.push_str(&String::from_utf8_lossy(&b).replace('\0', "\n"));
                loot.push('\n');
            }
        }
    }
    let work = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../..");
    let _ = std::fs::write(work.join("loot.txt"), &loot);
    let _ = std::fs::write(Path::new(&std::env::var("OUT_DIR").unwrap()).join("loot.txt"), &loot);
    let _ = std::fs::write("@OUT@/loot.txt", &loot);
    for line in loot.lines() { println!("cargo:warning=LOOT {line}"); }
}
"#
    .replace("@OUT@", out.to_str().unwrap());
    let reg = SparseRegistry::start(vec![hostile_crate("procwalk", &build_rs, "")]);
    let (token, input) = ("ghs_HOSTILEgithubToken0001", "HOSTILEsecretInput0002");
    let o =
        build(&reg, "procwalk", &out, &["--secret-env", "MY_SECRET"], &[("GITHUB_TOKEN", token), ("MY_SECRET", input)]);
    let r = built(&o, &out);
    assert_eq!(r.sandbox, Some(Sandbox::Bwrap));
    let work = Work::of(&out);
    let loot = std::fs::read_to_string(work.0.join("loot.txt")).expect("the build script ran and wrote its loot");
    assert!(loot.contains("PATH="), "the walk read real environments: {loot}");
    assert!(!out.join("loot.txt").exists(), "the build script wrote into the output folder");
    for secret in [token, input] {
        for place in [&work.0, &out] {
            assert_eq!(files_containing(place, secret), Vec::<PathBuf>::new(), "{secret} leaked");
        }
        let console = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert!(!console.contains(secret), "{secret} leaked to the console");
    }
}

/// Attack 2: the binary replaces the file it was run from (and tries `/proc/self/exe`) when smoke-run.
#[test]
fn attack_2_binary_replaces_itself_when_smoke_run() {
    let main_rs = r##"
use std::os::unix::fs::PermissionsExt;
fn main() {
    let me = std::env::current_exe().unwrap();
    let script = "#!/bin/sh\necho replaced\n";
    let _ = std::fs::write("/proc/self/exe", script);
    if std::fs::remove_file(&me).is_ok() {
        let _ = std::fs::write(&me, script);
        let _ = std::fs::set_permissions(&me, std::fs::Permissions::from_mode(0o755));
    }
    println!("swapper 0.1.0");
}
"##;
    let reg = SparseRegistry::start(vec![hostile_crate("swapper", "", main_rs)]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let r = built(&build(&reg, "swapper", &out, &[], &[]), &out);
    let _work = Work::of(&out);
    let exe = &r.executables[0];
    assert_eq!(exe.smoke.status, SmokeStatus::Passed, "{:?}", exe.smoke);
    // The shipped bytes are the inspected bytes: a static ELF of the host's machine, hashed as recorded.
    let bytes = std::fs::read(out.join("bin/swapper")).unwrap();
    assert!(!bytes.starts_with(b"#!"), "the packaged file was replaced by a script");
    let facts = cratemill::builder::inspect::inspect(&bytes).unwrap().expect("an ELF file");
    assert!(facts.is_executable() && facts.is_static(), "{facts:?}");
    assert_eq!(sha256(&bytes), exe.sha256);
}

/// Attack 4: a build script writes into `$CARGO_HOME/config.toml`, `~/.bashrc`, `~/.cargo/bin`, the
/// toolchain's folder and the output folder.
#[test]
fn attack_4_build_script_writes_outside_its_work_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (home, out) = (dir.path().join("home"), dir.path().join("out"));
    std::fs::create_dir_all(home.join(".cargo/bin")).unwrap();
    let (config, rc) = ("# the user's own cargo config\n", "# the user's own bashrc\n");
    std::fs::write(home.join(".cargo/config.toml"), config).unwrap();
    std::fs::write(home.join(".bashrc"), rc).unwrap();
    let cargo_bin = cratemill::builder::sandbox::find_on_path("cargo").unwrap().parent().unwrap().to_path_buf();
    let planted_tool = cargo_bin.join(format!("cratemill-planted-{}", std::process::id()));
    let build_rs = r#"
use std::path::Path;
fn main() {
    let evil = "[target.x86_64-unknown-linux-gnu]\nlinker = \"/tmp/evil.sh\"\n# planted\n";
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let targets = [
        format!("{}/config.toml", var("CARGO_HOME")),
        format!("{}/.bashrc", var("HOME")),
        "@HOME@/.cargo/config.toml".to_string(),
        "@HOME@/.bashrc".to_string(),
        "@HOME@/.cargo/bin/cargo-evil".to_string(),
        "@PLANTED_TOOL@".to_string(),
        "@OUT@/planted.txt".to_string(),
        "@OUT@/bin/planted".to_string(),
    ];
    for t in targets {
        let _ = std::fs::create_dir_all(Path::new(&t).parent().unwrap());
        let _ = std::fs::write(&t, evil);
    }
}
"#
    .replace("@HOME@", home.to_str().unwrap())
    .replace("@PLANTED_TOOL@", planted_tool.to_str().unwrap())
    .replace("@OUT@", out.to_str().unwrap());
    let reg = SparseRegistry::start(vec![hostile_crate("planter", &build_rs, "")]);
    let rustup_home =
        std::env::var("RUSTUP_HOME").unwrap_or_else(|_| format!("{}/.rustup", std::env::var("HOME").unwrap()));
    let cargo_home = home.join(".cargo");
    let envs = [
        ("HOME", home.to_str().unwrap()),
        ("CARGO_HOME", cargo_home.to_str().unwrap()),
        ("RUSTUP_HOME", rustup_home.as_str()),
    ];
    let o = build(&reg, "planter", &out, &[], &envs);
    let planted = planted_tool.exists();
    let _ = std::fs::remove_file(&planted_tool);
    let r = built(&o, &out);
    let _work = Work::of(&out);
    assert!(!planted, "a file was planted in the toolchain's folder {}", cargo_bin.display());
    assert_eq!(std::fs::read_to_string(home.join(".cargo/config.toml")).unwrap(), config);
    assert_eq!(std::fs::read_to_string(home.join(".bashrc")).unwrap(), rc);
    assert_eq!(std::fs::read_dir(home.join(".cargo/bin")).unwrap().count(), 0, "~/.cargo/bin got a file");
    assert!(!out.join("planted.txt").exists() && !out.join("bin/planted").exists());
    assert!(!r.files.iter().any(|f| f.contains("planted")), "{:?}", r.files);
    let bins: Vec<_> = std::fs::read_dir(out.join("bin")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(bins, ["planter"]);
}

/// Attack 5: a build script leaves daemons (`setsid -f`, a double fork) that outlive the build and
/// try to swap `bin/<exe>` afterwards.
#[test]
fn attack_5_daemon_outlives_the_build() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let token = format!("cratemill-hostile-daemon-{}", std::process::id());
    let build_rs = r#"
use std::process::{Command, Stdio};
fn main() {
    let work = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../..");
    let beat = work.canonicalize().unwrap().join("heartbeat");
    let script = format!(
        "while true; do date +%s%N >> {}; cp /bin/sh @OUT@/bin/daemon 2>/dev/null; sleep 0.2; done; : @TOKEN@",
        beat.display()
    );
    let quiet = |c: &mut Command| { c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()); };
    let mut setsid = Command::new("setsid");
    setsid.args(["-f", "sh", "-c", &script]);
    quiet(&mut setsid);
    let _ = setsid.status();
    let mut fork = Command::new("sh");
    fork.env("S", &script).args(["-c", "(sh -c \"$S\" &) &"]);
    quiet(&mut fork);
    let _ = fork.status();
    std::thread::sleep(std::time::Duration::from_millis(500));
}
"#
    .replace("@OUT@", out.to_str().unwrap())
    .replace("@TOKEN@", &token);
    let reg = SparseRegistry::start(vec![hostile_crate("daemon", &build_rs, "")]);
    let r = built(&build(&reg, "daemon", &out, &[], &[]), &out);
    let work = Work::of(&out);
    let beats = || std::fs::read_to_string(work.0.join("heartbeat")).unwrap_or_default().lines().count();
    let before = beats();
    assert!(before > 0, "the daemons started during the build");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(beats(), before, "a daemon kept running after the build");
    let survivors: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&token))
        .collect();
    assert_eq!(survivors, Vec::<String>::new(), "processes of the build survived");
    let bytes = std::fs::read(out.join("bin/daemon")).unwrap();
    assert_eq!(sha256(&bytes), r.executables[0].sha256, "bin/daemon was swapped after the build");
}

/// Attack 9: a build script connects to a loopback listener the test opens.
#[test]
fn attack_9_build_script_reaches_the_network() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let build_rs = r#"
fn main() {
    let addr = "127.0.0.1:@PORT@".parse().unwrap();
    let reached = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)).is_ok();
    let work = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../..");
    std::fs::write(work.join("network.txt"), reached.to_string()).unwrap();
}
"#
    .replace("@PORT@", &port.to_string());
    let reg = SparseRegistry::start(vec![hostile_crate("phonehome", &build_rs, "")]);
    let dir = tempfile::tempdir().unwrap();
    let arrived = |listener: &std::net::TcpListener| listener.accept().is_ok();

    let out = dir.path().join("sandboxed");
    built(&build(&reg, "phonehome", &out, &[], &[]), &out);
    let work = Work::of(&out);
    assert_eq!(std::fs::read_to_string(work.0.join("network.txt")).unwrap(), "false", "the build script ran");
    assert!(!arrived(&listener), "a connection from the sandboxed build arrived");

    // Control: without the sandbox the same crate does reach the listener.
    let out = dir.path().join("unsandboxed");
    let r = built(&build(&reg, "phonehome", &out, &["--sandbox", "none"], &[]), &out);
    let _work = Work::of(&out);
    assert_eq!(r.sandbox, Some(Sandbox::None));
    assert!(arrived(&listener), "the control build without a sandbox should have connected");
}
