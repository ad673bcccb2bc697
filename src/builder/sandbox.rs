//! The build sandbox: crate build scripts, proc-macros and the executables they make are hostile
//! code, so cratemill runs them inside bubblewrap (`bwrap`, Debian package `bubblewrap`).
//!
//! Inside: a new PID namespace (no view of cratemill or any other process; everything in it dies
//! when the command ends), a user namespace of its own in which the command is `nobody` with no
//! capability even when cratemill is root, no network (unless the policy is the dependency fetch,
//! which runs no crate code), a new `/proc`, a minimal `/dev`, a private, size-capped `/tmp` and
//! `$HOME` (tmpfs), the job's cgroup limits when it has one ([`super::limits`]), `/usr`, a few files
//! of `/etc`, the toolchain and the fetched registry cache read-only, and exactly one writable tree:
//! the job's own work folder (plus, when a backend asks for it, one cache folder). Nothing else of the
//! host is mounted, so the output folder, the user's home, `$CARGO_HOME/config.toml` and the secrets
//! are simply not there.
//!
//! [`bwrap_args`] is the pure decision core (a [`Policy`] in, an argument list out). The policies
//! cratemill uses are named: [`Policy::build`], [`Policy::fetch`], [`Policy::smoke`] and
//! [`Policy::probe`]. [`Bwrap::probe`] and [`Policy::host_system`] (which the named policies use)
//! are the I/O edge (they look at this machine).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::limits::{self, Cgroup, Requested, SandboxLimits, HOME_BYTES, SANDBOX_UID, TMP_BYTES};
/// The PATH search (`process`), as the sandbox's callers have always named it.
pub use super::process::find_on_path;
use super::process::{CommandLine, Env, Output, Process};

/// The `--sandbox` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SandboxChoice {
    /// bwrap when it works here; otherwise refuse with the fix (never silently unsandboxed).
    Auto,
    /// bwrap, and refuse when it does not work.
    Bwrap,
    /// No sandbox: build scripts run with the user's rights. Only for machines that are themselves disposable.
    None,
}

/// The sandbox a job records in result.json.
pub use crate::schema::result::Sandbox;

/// One mount of the sandbox's file system, applied in order (a later mount covers an earlier one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// The host path, read-only, at the same path; skipped when it does not exist.
    ReadOnly(PathBuf),
    /// The host path, writable, at the same path.
    Writable(PathBuf),
    /// A fresh empty tmpfs.
    Tmpfs(PathBuf),
    /// A symbolic link `link -> target` (merged-/usr systems: `/bin -> usr/bin`).
    Symlink { link: PathBuf, target: PathBuf },
}

/// What a sandboxed command may see and do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `/usr`, the top-level links, the few `/etc` files a compiler needs (see [`Policy::host_system`]).
    pub system: Vec<Mount>,
    /// Extra read-only trees: the toolchain (rustup home, sysroot, cargo's folder), zig, qemu...
    pub read_only: Vec<PathBuf>,
    /// The one writable tree (the job's work folder, or a smoke run's scratch folder).
    pub writable: PathBuf,
    /// One extra writable cache folder a backend may ask for (e.g. a shared per-target std cache).
    pub cache: Option<PathBuf>,
    /// Folders inside `writable` made read-only again (the fetched registry cache).
    pub read_only_within: Vec<PathBuf>,
    /// Folders inside a `read_only_within` one made writable again, last: the job's own unpacked
    /// registry sources, so a build script that writes into its own source builds as under
    /// `cargo install` (the folder is this job's alone; the `.crate` files, the index and the
    /// config around it stay read-only).
    pub writable_within: Vec<PathBuf>,
    /// A private, empty home (tmpfs) at this path; `$HOME` should point here.
    pub home: Option<PathBuf>,
    /// The command's working folder.
    pub cwd: PathBuf,
    /// Share the host's network (only the dependency fetch, which runs no crate code).
    pub network: bool,
}

/// Host `/etc` entries a toolchain needs: the dynamic loader's cache and the `cc` alternatives.
const ETC_FOR_BUILDS: &[&str] =
    &["/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime"];
/// Host `/etc` entries name resolution and TLS need (the fetch only).
const ETC_FOR_NETWORK: &[&str] =
    &["/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/ssl", "/etc/ca-certificates"];
/// Top-level folders that are links into `/usr` on merged-/usr systems, or real folders elsewhere.
const TOP_LEVEL: &[&str] = &["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

impl Policy {
    /// The host's system mounts: `/usr`, the top-level links or folders, and the `/etc` entries a
    /// build (and with `network`, a fetch) needs. I/O: looks at which of them exist and what they are.
    pub fn host_system(network: bool) -> Vec<Mount> {
        let mut mounts = vec![Mount::ReadOnly(PathBuf::from("/usr"))];
        for top in TOP_LEVEL {
            let path = Path::new(top);
            match std::fs::read_link(path) {
                Ok(target) => mounts.push(Mount::Symlink { link: path.to_path_buf(), target }),
                Err(_) if path.is_dir() => mounts.push(Mount::ReadOnly(path.to_path_buf())),
                Err(_) => {}
            }
        }
        let etc = ETC_FOR_BUILDS.iter().chain(if network { ETC_FOR_NETWORK } else { &[] });
        mounts.extend(etc.map(|p| Mount::ReadOnly(PathBuf::from(p))).filter(|m| match m {
            Mount::ReadOnly(p) => p.exists(),
            _ => true,
        }));
        mounts
    }
}

/// The folders of one build job that its sandboxed fetch and build see ([`Policy::fetch`],
/// [`Policy::build`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFolders {
    /// The toolchain and the backend's own tools, read-only.
    pub tools: Vec<PathBuf>,
    /// The job's work folder: the one writable tree.
    pub work: PathBuf,
    /// The job's `CARGO_HOME`: inside `work`, or the one the invocation's jobs share.
    pub cargo_home: PathBuf,
    /// `cargo_home` is the invocation's shared one (outside `work`).
    pub shared_home: bool,
    /// The invocation's shared target folder (a multi-target or cached build), if any.
    pub shared_target: Option<PathBuf>,
    pub cwd: PathBuf,
}

/// Where cargo unpacks the registry's crates under `cargo_home` (made by the job before the build,
/// so that the writable bind has a folder to cover). Pure.
pub fn registry_sources(cargo_home: &Path) -> PathBuf {
    cargo_home.join("registry").join("src")
}

impl Policy {
    /// A build attempt: no network; the work folder writable, and the shared target folder if any;
    /// the fetched registry cache (`CARGO_HOME`) read-only, wherever it is, except the job's own
    /// unpacked sources.
    pub fn build(job: &JobFolders) -> Policy {
        let mut read_only = job.tools.clone();
        if job.shared_home {
            read_only.push(job.cargo_home.clone());
        }
        Policy {
            system: Policy::host_system(false),
            read_only,
            writable: job.work.clone(),
            cache: job.shared_target.clone(),
            read_only_within: if job.shared_home { Vec::new() } else { vec![job.cargo_home.clone()] },
            writable_within: if job.shared_home { Vec::new() } else { vec![registry_sources(&job.cargo_home)] },
            home: private_home(),
            cwd: job.cwd.clone(),
            network: false,
        }
    }

    /// The dependency fetch (cargo runs no crate code here): the network, the work folder writable,
    /// and the shared `CARGO_HOME` it fills (else the shared target folder) writable too.
    pub fn fetch(job: &JobFolders) -> Policy {
        Policy {
            system: Policy::host_system(true),
            read_only: job.tools.clone(),
            writable: job.work.clone(),
            cache: if job.shared_home { Some(job.cargo_home.clone()) } else { job.shared_target.clone() },
            read_only_within: Vec::new(),
            writable_within: Vec::new(),
            home: private_home(),
            cwd: job.cwd.clone(),
            network: true,
        }
    }

    /// A smoke run of a built executable: `read_only` (the folders of the executable's copy and of
    /// its emulator), one scratch folder writable and the working folder, no network, no home.
    pub fn smoke(read_only: Vec<PathBuf>, scratch: &Path) -> Policy {
        Policy {
            system: Policy::host_system(false),
            read_only,
            writable: scratch.to_path_buf(),
            cache: None,
            read_only_within: Vec::new(),
            writable_within: Vec::new(),
            home: None,
            cwd: scratch.to_path_buf(),
            network: false,
        }
    }

    /// The check that bwrap works here: the system and the temporary folder, nothing else.
    pub fn probe() -> Policy {
        Policy {
            system: Policy::host_system(false),
            read_only: Vec::new(),
            writable: std::env::temp_dir(),
            cache: None,
            read_only_within: Vec::new(),
            writable_within: Vec::new(),
            home: None,
            cwd: PathBuf::from("/"),
            network: false,
        }
    }
}

/// `$HOME`, when a private tmpfs can cover it ([`private_home_ok`]). I/O: reads the environment.
fn private_home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from).filter(|h| private_home_ok(h))
}

/// The bwrap arguments for `policy`, up to (not including) the command. Pure.
pub fn bwrap_args(policy: &Policy) -> Vec<String> {
    let mut args: Vec<String> = ["--unshare-all", "--die-with-parent", "--new-session"].map(String::from).to_vec();
    if policy.network {
        args.push("--share-net".into());
    }
    // Unprivileged even for root: a user namespace of its own in which the command is `nobody`, no
    // capability (a root-started bwrap keeps them all otherwise, and could remount a read-only bind
    // writable), and no nested user namespace to win them back.
    let uid = SANDBOX_UID.to_string();
    args.extend(
        ["--unshare-user", "--uid", &uid, "--gid", &uid, "--cap-drop", "ALL", "--disable-userns"].map(String::from),
    );
    args.extend(
        ["--proc", "/proc", "--dev", "/dev", "--size", &TMP_BYTES.to_string(), "--tmpfs", "/tmp"].map(String::from),
    );
    let mut mounts = policy.system.clone();
    if let Some(home) = &policy.home {
        mounts.push(Mount::Tmpfs(home.clone()));
    }
    mounts.extend(policy.read_only.iter().cloned().map(Mount::ReadOnly));
    mounts.push(Mount::Writable(policy.writable.clone()));
    mounts.extend(policy.cache.iter().cloned().map(Mount::Writable));
    mounts.extend(policy.read_only_within.iter().cloned().map(Mount::ReadOnly));
    mounts.extend(policy.writable_within.iter().cloned().map(Mount::Writable));
    for mount in &mounts {
        let (flag, paths): (&str, Vec<&Path>) = match mount {
            // `-try`: a toolchain folder that is not there is not the sandbox's problem to report.
            Mount::ReadOnly(p) => ("--ro-bind-try", vec![p, p]),
            Mount::Writable(p) => ("--bind", vec![p, p]),
            Mount::Tmpfs(p) => {
                args.extend(["--size".to_string(), HOME_BYTES.to_string()]);
                ("--tmpfs", vec![p])
            }
            Mount::Symlink { link, target } => ("--symlink", vec![target, link]),
        };
        args.push(flag.into());
        args.extend(paths.iter().map(|p| p.display().to_string()));
    }
    args.extend(["--chdir".to_string(), policy.cwd.display().to_string()]);
    args
}

/// bwrap exits with `128 + N` when the command was killed by signal `N` (the shell's convention);
/// turn that back into a signal, as a direct child's status would say. Pure.
pub fn unwrap_status(exit_code: Option<i32>, signal: Option<i32>) -> (Option<i32>, Option<i32>) {
    match (exit_code, signal) {
        (Some(code), None) if (129..=128 + 64).contains(&code) => (None, Some(code - 128)),
        other => other,
    }
}

/// How long the check that bwrap works may take.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A bwrap that was checked to work on this machine, with the job's cgroup when one could be made.
#[derive(Debug, Clone)]
pub struct Bwrap {
    pub program: PathBuf,
    /// The job's cgroup (process and memory limits), shared by every sandboxed command of the job and
    /// removed when the last clone drops.
    cgroup: Option<Arc<Cgroup>>,
    /// What bounds the sandbox, for result.json.
    pub limits: SandboxLimits,
}

impl Bwrap {
    /// `command` run inside the sandbox `policy` describes, inside the job's cgroup if it has one
    /// (a host `/bin/sh` joins it and then executes bwrap, so every sandboxed process is counted).
    pub fn wrap(&self, policy: &Policy, command: &CommandLine) -> CommandLine {
        let mut args = bwrap_args(policy);
        args.push("--".into());
        args.push(command.program.clone());
        args.extend(command.args.iter().cloned());
        let program = self.program.display().to_string();
        let Some(cgroup) = &self.cgroup else { return CommandLine { program, args } };
        let mut joined = vec!["-c".to_string(), limits::JOIN_SCRIPT.to_string(), "sh".to_string()];
        joined.extend(cgroup.procs_files().iter().map(|f| f.display().to_string()));
        joined.push("--".into());
        joined.push(program);
        joined.extend(args);
        CommandLine { program: "/bin/sh".into(), args: joined }
    }

    /// This bwrap with a cgroup of its own for `requested` when the machine allows one; the reason is
    /// kept for result.json when it does not. I/O.
    pub fn with_limits(mut self, requested: &Requested) -> Bwrap {
        match Cgroup::create(requested) {
            Ok(cgroup) => {
                self.limits.cgroup = Some(cgroup.applied());
                self.limits.cgroup_unavailable = None;
                self.cgroup = Some(Arc::new(cgroup));
            }
            Err(why) => {
                self.limits.cgroup = None;
                self.limits.cgroup_unavailable = Some(why);
                self.cgroup = None;
            }
        }
        self
    }

    /// Find bwrap on `PATH` and check it can make the namespaces a build needs. I/O.
    pub async fn probe() -> anyhow::Result<Bwrap> {
        let program = find_on_path("bwrap").ok_or_else(|| {
            anyhow::anyhow!(
                "the build sandbox needs bubblewrap, which is not installed: run `sudo apt-get install bubblewrap` \
                 (or pass --sandbox none on a disposable machine)",
            )
        })?;
        let limits = SandboxLimits {
            uid: SANDBOX_UID,
            tmp_bytes: TMP_BYTES,
            home_bytes: HOME_BYTES,
            cgroup: None,
            cgroup_unavailable: Some("no limits were asked for".into()),
        };
        let bwrap = Bwrap { program, cgroup: None, limits };
        let probe = bwrap.wrap(&Policy::probe(), &CommandLine::new("/usr/bin/true", [""; 0]));
        let no_env = std::collections::BTreeMap::new();
        let out = Process::new(&probe)
            .env(Env::Exactly(&no_env))
            .timeout(PROBE_TIMEOUT)
            .run(Output::Capture { cap: 64 * 1024 })
            .await?;
        if out.success() {
            return Ok(bwrap);
        }
        let said = out.stderr.first().map(|l| l.trim().to_string()).unwrap_or_default();
        Err(anyhow::anyhow!("{}", unusable_message(&said, apparmor_restricts_userns())))
    }
}

/// The one-line error for a bwrap that is installed but cannot make namespaces. Pure.
pub fn unusable_message(bwrap_said: &str, apparmor_restricted: bool) -> String {
    let fix = if bwrap_said.contains("Unknown option") {
        "this bubblewrap is too old for the sandbox's flags (`--disable-userns`, tmpfs `--size`): \
         install bubblewrap 0.8 or later (Debian 12, Ubuntu 24.04)"
    } else if apparmor_restricted {
        "unprivileged user namespaces are restricted by AppArmor (kernel.apparmor_restrict_unprivileged_userns=1, \
         Ubuntu 24.04's default): run `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` \
         (on a GitHub runner, as a step before cratemill)"
    } else {
        "unprivileged user namespaces may be disabled (`sudo sysctl -w kernel.unprivileged_userns_clone=1`, \
         `user.max_user_namespaces`) or blocked by a container's seccomp profile"
    };
    format!("the build sandbox (bwrap) does not work here ({bwrap_said}): {fix}; or pass --sandbox none on a disposable machine")
}

/// Does this kernel restrict unprivileged user namespaces through AppArmor? I/O.
fn apparmor_restricts_userns() -> bool {
    std::fs::read_to_string("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").is_ok_and(|s| s.trim() == "1")
}

/// Can `home` be covered by a private tmpfs? Not the root, not a system folder, not relative. Pure.
pub fn private_home_ok(home: &Path) -> bool {
    let system = ["/usr", "/etc", "/proc", "/dev", "/tmp"].iter().chain(TOP_LEVEL);
    home.is_absolute() && home.parent().is_some() && !system.into_iter().any(|s| home.starts_with(s))
}

/// The sandbox the flag asks for: `Some(bwrap)` when it works, with the job's cgroup for `limits`
/// when one can be made; `None` only for `--sandbox none`.
pub async fn resolve(choice: SandboxChoice, limits: &Requested) -> anyhow::Result<Option<Bwrap>> {
    match choice {
        SandboxChoice::None => Ok(None),
        SandboxChoice::Auto | SandboxChoice::Bwrap => Ok(Some(Bwrap::probe().await?.with_limits(limits))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            system: vec![
                Mount::ReadOnly("/usr".into()),
                Mount::Symlink { link: "/bin".into(), target: "usr/bin".into() },
            ],
            read_only: vec!["/opt/rustup".into()],
            writable: "/tmp/cratemill-work-x".into(),
            cache: None,
            read_only_within: vec!["/tmp/cratemill-work-x/cargo-home".into()],
            writable_within: Vec::new(),
            home: Some("/home/u".into()),
            cwd: "/tmp/cratemill-work-x/src".into(),
            network: false,
        }
    }

    #[test]
    fn namespaces_then_mounts_in_order() {
        let args = bwrap_args(&policy()).join(" ");
        assert_eq!(
            args,
            "--unshare-all --die-with-parent --new-session \
             --unshare-user --uid 65534 --gid 65534 --cap-drop ALL --disable-userns \
             --proc /proc --dev /dev --size 1073741824 --tmpfs /tmp \
             --ro-bind-try /usr /usr --symlink usr/bin /bin --size 1073741824 --tmpfs /home/u \
             --ro-bind-try /opt/rustup /opt/rustup \
             --bind /tmp/cratemill-work-x /tmp/cratemill-work-x \
             --ro-bind-try /tmp/cratemill-work-x/cargo-home /tmp/cratemill-work-x/cargo-home \
             --chdir /tmp/cratemill-work-x/src"
        );
        assert!(!args.contains("--share-net"), "no network by default");
    }

    #[test]
    fn exactly_one_writable_tree_plus_the_optional_cache() {
        let mut p = policy();
        let count = |p: &Policy| bwrap_args(p).iter().filter(|a| *a == "--bind").count();
        assert_eq!(count(&p), 1);
        p.cache = Some("/var/cache/std".into());
        assert_eq!(count(&p), 2);
        p.network = true;
        assert!(bwrap_args(&p).contains(&"--share-net".to_string()));
    }

    fn folders(shared: bool) -> JobFolders {
        JobFolders {
            tools: vec!["/opt/rustup".into()],
            work: "/tmp/w".into(),
            cargo_home: if shared { "/tmp/shared/cargo-home".into() } else { "/tmp/w/cargo-home".into() },
            shared_home: shared,
            shared_target: shared.then(|| "/tmp/shared/target".into()),
            cwd: "/tmp/w/src".into(),
        }
    }

    #[test]
    fn named_policies_open_only_what_their_step_needs() {
        // A build: no network; the registry cache read-only wherever it is; the shared target writable.
        let own = Policy::build(&folders(false));
        assert!(!own.network && own.cache.is_none());
        assert_eq!(own.read_only_within, [PathBuf::from("/tmp/w/cargo-home")]);
        let shared = Policy::build(&folders(true));
        assert!(shared.read_only.contains(&"/tmp/shared/cargo-home".into()) && shared.read_only_within.is_empty());
        assert_eq!(shared.cache, Some("/tmp/shared/target".into()));
        // The fetch: the network, and the shared registry cache it fills writable.
        let fetch = Policy::fetch(&folders(true));
        assert!(fetch.network && fetch.read_only_within.is_empty());
        assert_eq!(fetch.cache, Some("/tmp/shared/cargo-home".into()));
        assert_eq!((fetch.writable.as_path(), fetch.cwd.as_path()), (Path::new("/tmp/w"), Path::new("/tmp/w/src")));
        assert!(!Policy::fetch(&folders(false)).read_only.contains(&"/tmp/w/cargo-home".into()));
        // A smoke run: its scratch folder only, no home, no network; the probe: nothing of the job.
        let smoke = Policy::smoke(vec!["/tmp/copy".into()], Path::new("/tmp/scratch"));
        assert!(!smoke.network && smoke.home.is_none() && smoke.cache.is_none());
        assert_eq!(
            (smoke.writable.as_path(), smoke.cwd.as_path()),
            (Path::new("/tmp/scratch"), Path::new("/tmp/scratch"))
        );
        let probe = Policy::probe();
        assert!(!probe.network && probe.read_only.is_empty() && probe.home.is_none());
    }

    #[test]
    fn signals_come_back_from_exit_codes() {
        assert_eq!(unwrap_status(Some(134), None), (None, Some(6)));
        assert_eq!(unwrap_status(Some(1), None), (Some(1), None));
        assert_eq!(unwrap_status(None, Some(9)), (None, Some(9)));
    }

    #[test]
    fn unusable_message_names_the_fix() {
        let m = unusable_message("setting up uid map: Permission denied", true);
        assert!(m.contains("apparmor_restrict_unprivileged_userns=0") && m.contains("--sandbox none"), "{m}");
        assert!(!m.contains('\n'));
        assert!(unusable_message("x", false).contains("unprivileged_userns_clone"));
        let old = unusable_message("bwrap: Unknown option --disable-userns", false);
        assert!(old.contains("bubblewrap 0.8 or later") && old.contains("--sandbox none"), "{old}");
    }

    #[tokio::test]
    async fn probe_works_here_and_the_sandbox_hides_the_host() {
        let bwrap = Bwrap::probe().await.expect("bwrap works (tests/setup/20-bubblewrap.sh installs it)");
        let dir = tempfile::tempdir().unwrap();
        let mut p = policy();
        p.system = Policy::host_system(false);
        p.read_only.clear();
        p.read_only_within.clear();
        p.writable = dir.path().to_path_buf();
        p.cwd = dir.path().to_path_buf();
        p.home = None;
        let script = "ls /proc | grep -c '^[0-9]' > n; test -e /etc/shadow && echo shadow >> n; touch /usr/x 2>/dev/null && echo usr >> n; true";
        let cmd = bwrap.wrap(&p, &CommandLine { program: "/bin/sh".into(), args: vec!["-c".into(), script.into()] });
        let status = std::process::Command::new(&cmd.program).args(&cmd.args).env_clear().status().unwrap();
        assert!(status.success());
        let seen = std::fs::read_to_string(dir.path().join("n")).unwrap();
        // bwrap's own init, sh, ls, grep: a handful of processes, none of the host's.
        let n: u32 = seen.lines().next().unwrap().parse().unwrap();
        assert!(n <= 5, "the sandbox sees {n} processes: {seen}");
        assert_eq!(seen.lines().count(), 1, "{seen}");
    }
}
