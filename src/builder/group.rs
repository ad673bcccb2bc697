//! One cargo invocation for several targets. When every target of `cratemill build CRATE --target A
//! --target B ...` settles on the same backend (cargo or zigbuild), toolchain and std, the first
//! target's job (the leader) builds all of them with one `cargo build --target A --target B ...`
//! before its own attempt ladder. The targets' dependency compiles and their serial tails (each
//! executable's fat-LTO link, one codegen unit) then overlap on the machine's cores, and the host
//! artifacts (build scripts, proc-macros) are compiled once.
//!
//! The grouped build's units go to the invocation's target folder, passed as cargo's `build-dir`, so
//! a target built alone afterwards reuses them; its final artifacts go to a fresh `target-dir` in the
//! leader's work folder, so only this crate's executables are there (a shared cache folder holds
//! other crates'). When the grouped build succeeds, each job takes its target's executables from it
//! and records the grouped command as its one attempt; when it fails, nothing is taken from it and
//! every target runs its own attempt ladder, exactly as if built alone (reusing the units the
//! grouped build finished).
//!
//! Pure: [`GroupKey`] and [`can_group`] (which targets go together), [`command`] and [`env`] (the
//! grouped command and its environment). I/O edge: [`keep`] copies each target's executables out of
//! the leader's work folder into the invocation's own folder, which no sandbox sees.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::schema::result::{StdOrigin, Toolchain};
use crate::schema::{Backend, Channel};
use crate::target::{Linker, Target};

use super::backend::Lock;
use super::collect;
use super::process::CommandLine;

/// What must be equal for targets to share one cargo invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupKey {
    pub backend: Backend,
    pub toolchain: Option<String>,
    pub channel: Channel,
    pub rustc: String,
    pub std: Option<StdOrigin>,
    pub sandboxed: bool,
}

impl GroupKey {
    pub fn new(backend: Backend, tc: &Toolchain, sandboxed: bool) -> GroupKey {
        GroupKey {
            backend,
            toolchain: tc.name.clone(),
            channel: tc.channel,
            rustc: tc.rustc.clone(),
            std: tc.std,
            sandboxed,
        }
    }
}

/// Whether the jobs with these keys build in one cargo invocation: several of them, all alike, and a
/// backend that takes several `--target`s (cross runs one target per container). Pure.
pub fn can_group(keys: &[GroupKey]) -> bool {
    keys.len() > 1 && keys[0].backend != Backend::Cross && keys.windows(2).all(|w| w[0] == w[1])
}

/// The leader's first-attempt command with the other targets added after its own `--target`. Pure.
pub fn command(alone: &CommandLine, others: &[&str]) -> CommandLine {
    let mut args = alone.args.clone();
    let at = args.iter().position(|a| a == "--target").map_or(args.len(), |i| (i + 2).min(args.len()));
    let extra = others.iter().flat_map(|t| ["--target".to_string(), (*t).to_string()]);
    args.splice(at..at, extra);
    CommandLine { program: alone.program.clone(), args }
}

/// The grouped build's environment: the leader's, plus each other target's RUSTFLAGS (cargo reads
/// them per target), with the units in `build_dir` and the executables in `target_dir`. Pure.
pub fn env(
    leader: &BTreeMap<String, String>,
    others: &[&Target],
    linker: Linker,
    dirs: (&Path, &Path),
) -> BTreeMap<String, String> {
    let mut env = leader.clone();
    for t in others {
        env.insert(t.rustflags_env_name(), t.rustflags_for(linker).join(" "));
    }
    env.insert("CARGO_BUILD_BUILD_DIR".into(), dirs.0.display().to_string());
    env.insert("CARGO_TARGET_DIR".into(), dirs.1.display().to_string());
    env
}

/// The grouped build as the jobs of the invocation see it.
#[derive(Debug, Clone)]
pub struct GroupOutcome {
    /// The leader's target triple (its build log holds the grouped build's output as it ran).
    pub leader: &'static str,
    pub command: CommandLine,
    pub features: String,
    /// The features and lock it built with (a member lists its compiled packages with them).
    pub rung: super::attempts::Rung,
    pub lock: Lock,
    pub duration: Duration,
    /// The grouped build's output, replayed into every other target's build log.
    pub lines: Vec<String>,
    /// Each target's executables, copied out of the build (empty when the build failed).
    pub dirs: BTreeMap<&'static str, PathBuf>,
}

impl GroupOutcome {
    /// The folder with `triple`'s executables, when the grouped build made them.
    pub fn dir_for(&self, triple: &str) -> Option<&Path> {
        self.dirs.get(triple).map(PathBuf::as_path)
    }
}

/// Copy each target's executables from `target_dir/<triple>/release` into `into/<triple>/`. A
/// target with none (or whose folder is not a plain folder: the build could have left a link)
/// is left out, so its job builds it alone. Runs after the build's processes are gone.
pub fn keep(
    target_dir: &Path,
    targets: &[&'static Target],
    into: &Path,
) -> anyhow::Result<BTreeMap<&'static str, PathBuf>> {
    let mut dirs = BTreeMap::new();
    for t in targets {
        let release = target_dir.join(t.triple).join("release");
        let plain = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_dir());
        if !plain(target_dir) || !plain(&target_dir.join(t.triple)) || !plain(&release) {
            continue;
        }
        let (produced, _) = collect::collect(target_dir, &release, t)?;
        if produced.is_empty() {
            continue;
        }
        let dest = into.join(t.triple);
        std::fs::create_dir_all(&dest)?;
        for p in &produced {
            crate::untrusted::copy_file(
                &p.path,
                &dest.join(&p.name),
                crate::untrusted::EXECUTABLE_CAP,
                crate::untrusted::deadline(),
            )?;
        }
        dirs.insert(t.triple, dest);
    }
    Ok(dirs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(backend: Backend, std: Option<StdOrigin>) -> GroupKey {
        GroupKey {
            backend,
            toolchain: Some("debian-web".into()),
            channel: Channel::Stable,
            rustc: "rustc 1.96.0".into(),
            std,
            sandboxed: true,
        }
    }

    #[test]
    fn only_alike_targets_on_a_multi_target_backend_group() {
        let built = key(Backend::Zigbuild, Some(StdOrigin::BuiltFromSource));
        assert!(can_group(&[built.clone(), built.clone()]));
        assert!(!can_group(std::slice::from_ref(&built)), "one target is not a group");
        let prebuilt = key(Backend::Zigbuild, Some(StdOrigin::Prebuilt));
        assert!(!can_group(&[built.clone(), prebuilt]), "a std built from source for one target only");
        assert!(!can_group(&[built.clone(), key(Backend::Cargo, Some(StdOrigin::BuiltFromSource))]));
        let cross = key(Backend::Cross, None);
        assert!(!can_group(&[cross.clone(), cross]), "cross runs one target per container");
    }

    #[test]
    fn other_targets_follow_the_leaders() {
        let alone = CommandLine {
            program: "cargo".into(),
            args: ["zigbuild", "--release", "--target", "a-musl", "--manifest-path", "M", "--offline"]
                .map(String::from)
                .to_vec(),
        };
        let grouped = command(&alone, &["b-musl", "c-musl"]);
        assert_eq!(
            grouped.args,
            [
                "zigbuild",
                "--release",
                "--target",
                "a-musl",
                "--target",
                "b-musl",
                "--target",
                "c-musl",
                "--manifest-path",
                "M",
                "--offline"
            ]
        );
    }

    #[test]
    fn each_target_gets_its_rustflags_and_the_folders_are_split() {
        let leader = BTreeMap::from([("CARGO_TARGET_DIR".to_string(), "/shared".to_string())]);
        let arm = Target::parse("aarch64-unknown-linux-musl").unwrap();
        let env = env(&leader, &[arm], Linker::Zig, (Path::new("/shared"), Path::new("/work/grouped")));
        assert_eq!(env["CARGO_BUILD_BUILD_DIR"], "/shared");
        assert_eq!(env["CARGO_TARGET_DIR"], "/work/grouped");
        assert_eq!(env[&arm.rustflags_env_name()], arm.rustflags_for(Linker::Zig).join(" "));
    }

    #[test]
    fn keep_copies_executables_and_skips_linked_folders() {
        let dir = tempfile::tempdir().unwrap();
        let host = Target::host();
        let release = dir.path().join("t").join(host.triple).join("release");
        std::fs::create_dir_all(&release).unwrap();
        std::fs::copy("/bin/true", release.join("tool")).unwrap();
        std::fs::write(release.join("tool.d"), "deps").unwrap();
        let into = dir.path().join("kept");
        let kept = keep(&dir.path().join("t"), &[host], &into).unwrap();
        assert_eq!(kept.get(host.triple), Some(&into.join(host.triple)));
        assert!(into.join(host.triple).join("tool").is_file() && !into.join(host.triple).join("tool.d").exists());

        // A target folder the build replaced by a link to elsewhere is not read.
        let elsewhere = dir.path().join("elsewhere").join(host.triple);
        std::fs::create_dir_all(elsewhere.join("release")).unwrap();
        std::fs::copy("/bin/true", elsewhere.join("release").join("secret")).unwrap();
        let linked = dir.path().join("linked");
        std::fs::create_dir_all(&linked).unwrap();
        std::os::unix::fs::symlink(&elsewhere, linked.join(host.triple)).unwrap();
        let kept = keep(&linked, &[host], &dir.path().join("kept2")).unwrap();
        assert!(kept.is_empty(), "{kept:?}");
    }
}
