//! Resource limits of the build sandbox: a process count and a memory ceiling through a cgroup when
//! this machine lets cratemill make one (as root: cgroup v2 at `/sys/fs/cgroup`, or v1's `pids` and
//! `memory` hierarchies), and size caps for the sandbox's RAM-backed `/tmp` and home.
//!
//! A fork bomb then stops at `--max-processes` (threads count: one rustc uses several) and a memory
//! bomb is killed by the kernel at `--max-memory-mib` (tmpfs pages are charged to the same cgroup),
//! instead of taking the runner with it. Without a cgroup (an unprivileged user, a read-only cgroup
//! file system) the build still runs, bounded by `--timeout` and the runner, and `result.json` says
//! why (`sandbox_limits.cgroup_unavailable`).
//!
//! [`plan`] and [`detect`] are the pure decision core (what the machine offers in, which folders and
//! files to write out); [`Cgroup::create`], [`Cgroup::join_command`]'s caller and `Drop` are the I/O edge.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

pub use crate::schema::result::{CgroupLimits, CgroupVersion, SandboxLimits};

/// The uid (and gid) build scripts run as inside the sandbox's user namespace: `nobody`.
pub const SANDBOX_UID: u32 = 65534;
/// Size of the sandbox's private `/tmp` (a tmpfs, so memory).
pub const TMP_BYTES: u64 = 1 << 30;
/// Size of the sandbox's private home (a tmpfs; zig keeps its global cache there, so a musl
/// build through zigbuild writes its libc and compiler-rt builds there).
pub const HOME_BYTES: u64 = 1 << 30;
/// `--max-processes` default: processes and threads of one build (cargo, rustc's threads, build
/// scripts); a fleet job builds one crate, typically well under 200.
pub const DEFAULT_MAX_PROCESSES: u64 = 1024;

/// What the flags ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requested {
    pub max_processes: u64,
    pub max_memory_bytes: u64,
}

impl Requested {
    /// `--max-memory-mib 0` (the default) means three quarters of this machine's memory. I/O: reads
    /// `/proc/meminfo`.
    pub fn from_flags(max_processes: u64, max_memory_mib: u64) -> Requested {
        let max_memory_bytes = match max_memory_mib {
            0 => default_memory(&std::fs::read_to_string("/proc/meminfo").unwrap_or_default()),
            mib => mib.saturating_mul(1 << 20),
        };
        Requested { max_processes, max_memory_bytes }
    }
}

/// Three quarters of `MemTotal` from `/proc/meminfo` text (4 GiB when it cannot be read). Pure.
pub fn default_memory(meminfo: &str) -> u64 {
    let kib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok());
    kib.map_or(4 << 30, |k| k.saturating_mul(1024) / 4 * 3)
}

/// Where this machine lets cratemill make cgroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    /// The unified hierarchy; children are made under `root` (the root cgroup, which may hold
    /// processes itself, unlike an inner one).
    V2 { root: PathBuf },
    /// Separate `pids` and `memory` hierarchies.
    V1 { pids: PathBuf, memory: PathBuf },
}

/// What the machine shows, gathered by [`Facts::read`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// `/sys/fs/cgroup/cgroup.controllers` (v2), when it exists.
    pub v2_controllers: Option<String>,
    /// `/sys/fs/cgroup/cgroup.subtree_control` (v2).
    pub v2_subtree_control: String,
    /// `/sys/fs/cgroup/pids` and `/sys/fs/cgroup/memory` are v1 hierarchies.
    pub v1_pids: bool,
    pub v1_memory: bool,
    /// cratemill runs as root (only root may make cgroups under the roots used here).
    pub root: bool,
}

const CGROUP_FS: &str = "/sys/fs/cgroup";

impl Facts {
    /// Look at this machine. I/O.
    pub fn read() -> Facts {
        let fs = Path::new(CGROUP_FS);
        let v1 = |name: &str| fs.join(name).join("cgroup.procs").is_file();
        Facts {
            v2_controllers: std::fs::read_to_string(fs.join("cgroup.controllers")).ok(),
            v2_subtree_control: std::fs::read_to_string(fs.join("cgroup.subtree_control")).unwrap_or_default(),
            v1_pids: v1("pids"),
            v1_memory: v1("memory"),
            // SAFETY: geteuid(2) has no preconditions and touches no memory.
            root: unsafe { libc::geteuid() } == 0,
        }
    }
}

/// Which hierarchy to use, or why none. Pure.
pub fn detect(facts: &Facts) -> Result<Hierarchy, String> {
    if !facts.root {
        return Err("cratemill is not root, and only root may make cgroups here".into());
    }
    let has = |list: &str, c: &str| list.split_whitespace().any(|w| w == c);
    if let Some(controllers) = &facts.v2_controllers {
        let both = has(controllers, "pids") && has(controllers, "memory");
        if both && has(&facts.v2_subtree_control, "pids") && has(&facts.v2_subtree_control, "memory") {
            return Ok(Hierarchy::V2 { root: PathBuf::from(CGROUP_FS) });
        }
        return Err(format!(
            "the cgroup v2 root does not delegate pids and memory (controllers: {})",
            controllers.trim()
        ));
    }
    if facts.v1_pids && facts.v1_memory {
        let fs = Path::new(CGROUP_FS);
        return Ok(Hierarchy::V1 { pids: fs.join("pids"), memory: fs.join("memory") });
    }
    Err("this machine has no cgroup pids and memory controllers".into())
}

/// The folders to make and the `(file, value)` writes that set the limits, in order. Pure.
pub fn plan(hierarchy: &Hierarchy, name: &str, req: &Requested) -> (Vec<PathBuf>, Vec<(PathBuf, String)>) {
    match hierarchy {
        Hierarchy::V2 { root } => {
            let dir = root.join(name);
            let writes = vec![
                (dir.join("pids.max"), req.max_processes.to_string()),
                (dir.join("memory.max"), req.max_memory_bytes.to_string()),
                (dir.join("memory.swap.max"), "0".to_string()),
            ];
            (vec![dir], writes)
        }
        Hierarchy::V1 { pids, memory } => {
            let (p, m) = (pids.join(name), memory.join(name));
            let writes = vec![
                (p.join("pids.max"), req.max_processes.to_string()),
                (m.join("memory.limit_in_bytes"), req.max_memory_bytes.to_string()),
            ];
            (vec![p, m], writes)
        }
    }
}

/// The shell program that moves itself into the cgroups whose `cgroup.procs` files are its arguments
/// up to `--`, then executes the rest: `sh -c PROGRAM sh FILE... -- COMMAND...`. Pure.
pub const JOIN_SCRIPT: &str = r#"while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@""#;

/// A cgroup (one folder per hierarchy) that cratemill made for one build job; removed on drop.
#[derive(Debug)]
pub struct Cgroup {
    dirs: Vec<PathBuf>,
    applied: CgroupLimits,
}

static SEQUENCE: AtomicU32 = AtomicU32::new(0);

impl Cgroup {
    /// Make the job's cgroup and set its limits. I/O. `Err` says in one line why there is none.
    pub fn create(req: &Requested) -> Result<Cgroup, String> {
        let hierarchy = detect(&Facts::read())?;
        let name = format!("cratemill-{}-{}", std::process::id(), SEQUENCE.fetch_add(1, Ordering::Relaxed));
        let (dirs, writes) = plan(&hierarchy, &name, req);
        let version = match hierarchy {
            Hierarchy::V2 { .. } => CgroupVersion::V2,
            Hierarchy::V1 { .. } => CgroupVersion::V1,
        };
        let cgroup = Cgroup {
            dirs: Vec::new(),
            applied: CgroupLimits { version, max_processes: req.max_processes, max_memory_bytes: req.max_memory_bytes },
        };
        let mut cgroup = cgroup;
        for dir in dirs {
            std::fs::create_dir(&dir).map_err(|e| format!("cannot make the cgroup {}: {e}", dir.display()))?;
            cgroup.dirs.push(dir);
        }
        for (file, value) in writes {
            // memory.swap.max is absent without swap accounting; every other write must succeed.
            let optional = file.ends_with("memory.swap.max");
            if let Err(e) = std::fs::write(&file, &value) {
                if !optional {
                    return Err(format!("cannot set {} to {value}: {e}", file.display()));
                }
            }
        }
        Ok(cgroup)
    }

    /// What was applied, for result.json.
    pub fn applied(&self) -> CgroupLimits {
        self.applied.clone()
    }

    /// The `cgroup.procs` files a process writes its pid into to join.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }
}

impl Drop for Cgroup {
    /// Remove the folders. Every sandboxed process has ended by now (bwrap's PID namespace dies with
    /// its command); a straggler is killed first so the folder can go.
    fn drop(&mut self) {
        for dir in &self.dirs {
            for _ in 0..50 {
                if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                kill_members(&dir.join("cgroup.procs"));
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
}

/// SIGKILL every process listed in a `cgroup.procs` file. I/O.
fn kill_members(procs: &Path) {
    let text = std::fs::read_to_string(procs).unwrap_or_default();
    for pid in text.lines().filter_map(|l| l.trim().parse::<i32>().ok()).filter(|p| *p > 1) {
        // SAFETY: kill(2) touches no memory; the pid was read from the cgroup cratemill made.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts { root: true, ..Facts::default() }
    }

    #[test]
    fn v2_needs_both_controllers_delegated_at_the_root() {
        let mut f = facts();
        f.v2_controllers = Some("cpuset cpu io memory pids\n".into());
        f.v2_subtree_control = "cpu memory pids\n".into();
        assert_eq!(detect(&f), Ok(Hierarchy::V2 { root: "/sys/fs/cgroup".into() }));
        f.v2_subtree_control = "cpu memory\n".into();
        assert!(detect(&f).unwrap_err().contains("does not delegate"));
    }

    #[test]
    fn v1_needs_pids_and_memory_and_nobody_but_root_gets_a_cgroup() {
        let mut f = facts();
        assert!(detect(&f).unwrap_err().contains("no cgroup"));
        f.v1_pids = true;
        f.v1_memory = true;
        assert!(matches!(detect(&f), Ok(Hierarchy::V1 { .. })));
        f.root = false;
        assert!(detect(&f).unwrap_err().contains("not root"));
    }

    #[test]
    fn plans_write_the_limits_into_the_job_folder() {
        let req = Requested { max_processes: 64, max_memory_bytes: 1 << 30 };
        let (dirs, writes) = plan(&Hierarchy::V1 { pids: "/c/pids".into(), memory: "/c/memory".into() }, "j", &req);
        assert_eq!(dirs, [PathBuf::from("/c/pids/j"), PathBuf::from("/c/memory/j")]);
        assert_eq!(writes[0], (PathBuf::from("/c/pids/j/pids.max"), "64".to_string()));
        assert_eq!(writes[1], (PathBuf::from("/c/memory/j/memory.limit_in_bytes"), "1073741824".to_string()));
        let (dirs, writes) = plan(&Hierarchy::V2 { root: "/c".into() }, "j", &req);
        assert_eq!(dirs, [PathBuf::from("/c/j")]);
        assert_eq!(writes[1], (PathBuf::from("/c/j/memory.max"), "1073741824".to_string()));
    }

    #[test]
    fn default_memory_is_three_quarters_of_the_machine() {
        assert_eq!(default_memory("MemTotal:       4194304 kB\nMemFree: 1 kB\n"), 3 << 30);
        assert_eq!(default_memory(""), 4 << 30);
        assert_eq!(Requested::from_flags(10, 512).max_memory_bytes, 512 << 20);
    }

    #[test]
    fn the_join_script_moves_the_shell_then_runs_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let out = std::process::Command::new("/bin/sh")
            .args(["-c", JOIN_SCRIPT, "sh", a.to_str().unwrap(), b.to_str().unwrap(), "--", "/bin/echo", "ran"])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "ran\n");
        let pid = std::fs::read_to_string(&a).unwrap();
        assert_eq!(pid, std::fs::read_to_string(&b).unwrap());
        assert!(pid.trim().parse::<u32>().is_ok(), "{pid}");
    }
}
