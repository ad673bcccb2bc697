//! One invocation, several targets: what `cratemill build CRATE --target A --target B ...` decides
//! for each of its jobs ([`JobPlan`]). Each target gets its own package folder (with its own
//! result.json, exactly as if built alone); alike targets are built in one cargo invocation, led
//! by the first job ([`GroupRole`], `group`).
//!
//! What the targets share: one cargo target folder, so the host-side artifacts (build scripts,
//! proc-macros), compiled once, serve every target; one `CARGO_HOME` with the fetched registry (it
//! must stay at one path, or the build scripts' `rerun-if-changed` paths into it look changed and
//! every host artifact is rebuilt per target); the verified `.crate`, downloaded once; and, with
//! `--cache-dir` (`cache`), a target folder and `CARGO_HOME` that survive between crates on one
//! machine. Pure: [`plan_targets`], [`out_for`], [`worst`], [`JobPlan::target_dir_or`] (which
//! writes its decision to the build log it is given).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{usage, Exit};
use crate::target::Target;

use super::group::GroupOutcome;
use super::log::BuildLog;

/// A job's part in building alike targets in one cargo invocation (`group`).
#[derive(Debug, Clone, Default)]
pub enum GroupRole {
    /// It builds its target alone.
    #[default]
    Alone,
    /// It builds its own target and these others in one cargo invocation, before its own ladder.
    Leader(Vec<&'static Target>),
    /// It takes its executables from the leader's grouped build, when that made them.
    Member(Arc<GroupOutcome>),
}

/// What the invocation decided for one job.
#[derive(Debug, Clone)]
pub struct JobPlan {
    pub target: &'static Target,
    /// The package folder (`None`: `cratemill-out/<crate>-<version>-<target>`).
    pub out: Option<PathBuf>,
    /// A cargo target folder shared with other jobs (`None`: a private one in the work folder).
    pub shared_target_dir: Option<PathBuf>,
    /// A folder where the invocation's jobs leave the verified `.crate` for each other, so that
    /// several targets download it once (`None`: a single target).
    pub shared_downloads: Option<PathBuf>,
    /// A `CARGO_HOME` shared by the jobs of a shared target folder (`None`: the job's own). Its
    /// registry sources must stay at one path: a build script's `rerun-if-changed` paths name
    /// them, and a path that moved makes cargo rebuild every host artifact for each target.
    pub shared_cargo_home: Option<PathBuf>,
    pub role: GroupRole,
}

impl JobPlan {
    /// A job for `target` alone, sharing nothing.
    pub fn alone(target: &'static Target) -> JobPlan {
        JobPlan {
            target,
            out: None,
            shared_target_dir: None,
            shared_downloads: None,
            shared_cargo_home: None,
            role: GroupRole::Alone,
        }
    }

    /// A leader's other targets (empty for any other role).
    pub fn group_others(&self) -> &[&'static Target] {
        match &self.role {
            GroupRole::Leader(others) => others,
            GroupRole::Alone | GroupRole::Member(_) => &[],
        }
    }

    /// The job's target folder and, when it is not the shared one, cargo's `build-dir` for its
    /// units. The shared folder is the target folder only with `--artifact-dir` (unstable flags),
    /// which takes the executables out of it; otherwise they would be collected from
    /// `<target>/<triple>/release`, where another crate's could be. Then the target folder is
    /// private and the shared one is the build-dir (cargo 1.91 and later; older cargo ignores it
    /// and keeps everything in the private folder).
    pub fn target_dir_or(&self, private: &Path, artifact_dir: bool, log: &mut BuildLog) -> (PathBuf, Option<PathBuf>) {
        match &self.shared_target_dir {
            Some(dir) if artifact_dir => {
                log.note(&format!("shared target folder {}", dir.display()));
                (dir.clone(), None)
            }
            Some(dir) => {
                log.note(&format!(
                    "shared build folder {} (cargo's build-dir; the executables go to a private target folder)",
                    dir.display()
                ));
                (private.to_path_buf(), Some(dir.clone()))
            }
            None => (private.to_path_buf(), None),
        }
    }
}

/// The `--target` values, checked and de-duplicated in order; none given: the host's. Pure but
/// for detecting the host.
pub fn plan_targets(values: &[String]) -> anyhow::Result<Vec<&'static Target>> {
    let mut out: Vec<&'static Target> = Vec::new();
    for v in values {
        let t = Target::parse(v)?;
        if out.iter().any(|o| o.triple == t.triple) {
            return Err(usage(format!("--target {} is given twice", t.triple)));
        }
        out.push(t);
    }
    if out.is_empty() {
        out.push(Target::detect_host()?);
    }
    Ok(out)
}

/// The package folder of one target: `--out` itself for one target, `--out/<triple>` for several. Pure.
pub fn out_for(out: Option<&Path>, triple: &str, several: bool) -> Option<PathBuf> {
    match out {
        Some(o) if several => Some(o.join(triple)),
        o => o.map(Path::to_path_buf),
    }
}

/// The exit code of the whole invocation: the most severe of its jobs'. Pure.
pub fn worst(exits: &[Exit]) -> Exit {
    let rank = |e: &Exit| match e {
        Exit::Ok => 0,
        Exit::Failed => 1,
        Exit::Usage => 2,
        Exit::Internal => 3,
    };
    exits.iter().copied().max_by_key(rank).unwrap_or(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_checked_and_unique() {
        assert_eq!(plan_targets(&[]).unwrap(), vec![Target::host()]);
        let two = ["aarch64-unknown-linux-musl".to_string(), "riscv64gc-unknown-linux-musl".to_string()];
        let planned = plan_targets(&two).unwrap();
        assert_eq!(planned.iter().map(|t| t.triple).collect::<Vec<_>>(), two);
        let twice = [two[0].clone(), two[0].clone()];
        assert_eq!(crate::error::exit_of(&plan_targets(&twice).unwrap_err()), Exit::Usage);
        assert!(plan_targets(&["x86_64-pc-windows-msvc".to_string()]).is_err());
    }

    #[test]
    fn several_targets_get_a_folder_each_under_out() {
        let out = Path::new("/o");
        assert_eq!(out_for(Some(out), "a-b-c", true), Some(PathBuf::from("/o/a-b-c")));
        assert_eq!(out_for(Some(out), "a-b-c", false), Some(PathBuf::from("/o")));
        assert_eq!(out_for(None, "a-b-c", true), None);
    }

    #[test]
    fn worst_exit_wins() {
        assert_eq!(worst(&[Exit::Ok, Exit::Failed, Exit::Ok]), Exit::Failed);
        assert_eq!(worst(&[Exit::Internal, Exit::Failed]), Exit::Internal);
        assert_eq!(worst(&[]), Exit::Ok);
    }

    #[test]
    fn only_a_leader_has_other_targets() {
        let arm = Target::parse("aarch64-unknown-linux-musl").unwrap();
        let mut plan = JobPlan::alone(Target::host());
        assert!(plan.group_others().is_empty());
        plan.role = GroupRole::Leader(vec![arm]);
        assert_eq!(plan.group_others().len(), 1);
    }
}
