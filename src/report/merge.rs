//! From job outcomes to the built index: which (crate, version, target) are published, which
//! failed and why, and every published executable. Pure logic: the files are read in [`super::load`]
//! and written in [`super`].

use std::collections::BTreeMap;

use crate::schema::plan::{BuiltEntry, BuiltIndex, ExecutableEntry};
use crate::schema::publish::{PublishRecord, PushedReference, ReferenceKind};
use crate::schema::report::{FailureEntry, FIRST_LINES};
use crate::schema::result::{BuildResult, FailureClass, Status};
use crate::schema::JobKey;

/// One job's outcome: its `result.json` and, when it was published, its `publish.json`.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub result: BuildResult,
    pub publish: Option<PublishRecord>,
    /// The `build.log` next to the result file, when there is one (as a path given to `report`).
    pub log: Option<String>,
    /// What the license inventory needs of its `third_party` list (the list itself is dropped
    /// when read); `None` for a result without one.
    pub licenses: Option<super::licenses::Facts>,
}

impl Outcome {
    pub fn key(&self) -> JobKey {
        JobKey::new(&self.result.crate_name, &self.result.version, &self.result.target)
    }

    fn binary(&self) -> Option<&PushedReference> {
        self.publish.as_ref()?.references.iter().find(|p| p.kind == ReferenceKind::Binary)
    }
}

/// What the new outcomes amount to (the previous index is not counted here).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tally {
    /// Per target: (published, built but not published, failed).
    pub per_target: BTreeMap<String, TargetTally>,
    /// Per failure class: count and one example (`crate@version (target): message`).
    pub classes: BTreeMap<FailureClass, (u64, String)>,
    /// Outcomes replaced by a later outcome of the same job.
    pub superseded: u64,
}

impl Tally {
    /// All targets together.
    pub fn total(&self) -> TargetTally {
        self.per_target.values().fold(TargetTally::default(), |a, t| TargetTally {
            published: a.published + t.published,
            unpublished: a.unpublished + t.unpublished,
            failed: a.failed + t.failed,
        })
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct TargetTally {
    pub published: u64,
    pub unpublished: u64,
    pub failed: u64,
}

impl TargetTally {
    pub fn jobs(&self) -> u64 {
        self.published + self.unpublished + self.failed
    }
}

/// The merge's products.
#[derive(Debug)]
pub struct Merged {
    pub index: BuiltIndex,
    pub tally: Tally,
    /// The failed jobs of this run, for `failures.json`.
    pub failures: Vec<FailureEntry>,
    /// The newest outcome of each job of this run, sorted by job.
    pub newest: Vec<Outcome>,
}

/// The newest outcome per job (by `finished_at`, RFC 3339 UTC, so text order is time order; on a
/// tie the one read first stays). Returns them sorted by job, and how many were superseded.
pub fn newest(outcomes: Vec<Outcome>) -> (Vec<Outcome>, u64) {
    let mut superseded = 0;
    let mut newest: BTreeMap<JobKey, Outcome> = BTreeMap::new();
    for outcome in outcomes {
        let key = outcome.key();
        match newest.get(&key) {
            Some(kept) => {
                superseded += 1;
                if kept.result.finished_at < outcome.result.finished_at {
                    newest.insert(key, outcome);
                }
            }
            None => {
                newest.insert(key, outcome);
            }
        }
    }
    (newest.into_values().collect(), superseded)
}

/// Merge `outcomes` into `previous` (a job's newest outcome wins; jobs not seen again keep their
/// entries). A built job counts as built only once published: built but not published, it is left
/// out so that the next plan builds it again.
pub fn merge(previous: Option<BuiltIndex>, outcomes: Vec<Outcome>) -> Merged {
    let (newest, superseded) = newest(outcomes);
    let mut tally = Tally { superseded, ..Tally::default() };
    let (mut entries, mut executables): (BTreeMap<JobKey, BuiltEntry>, BTreeMap<(JobKey, String), ExecutableEntry>) =
        match previous {
            Some(p) => (
                p.entries.into_iter().map(|e| (JobKey::new(&e.crate_name, &e.version, &e.target), e)).collect(),
                p.executables
                    .into_iter()
                    .map(|x| ((JobKey::new(&x.crate_name, &x.version, &x.target), x.name.clone()), x))
                    .collect(),
            ),
            None => (BTreeMap::new(), BTreeMap::new()),
        };
    let mut failures = Vec::new();
    for outcome in &newest {
        let key = outcome.key();
        // Whatever the index said about this job before no longer holds.
        let stale: Vec<(JobKey, String)> = executables
            .range((key.clone(), String::new())..)
            .map(|(k, _)| k)
            .take_while(|(k, _)| *k == key)
            .cloned()
            .collect();
        for k in stale {
            executables.remove(&k);
        }
        let counts = tally.per_target.entry(key.target.clone()).or_default();
        let entry = match (outcome.result.status, outcome.binary()) {
            (Status::Built, Some(binary)) => {
                counts.published += 1;
                for x in executable_entries(outcome, binary) {
                    executables.insert((key.clone(), x.name.clone()), x);
                }
                Some(entry(&key, Status::Built, None, Some(binary)))
            }
            (Status::Built, None) => {
                counts.unpublished += 1;
                None
            }
            (Status::Failed, _) => {
                counts.failed += 1;
                let failure = failure_entry(outcome);
                let example = format!("{key}: {}", failure.first_lines.first().map_or("", String::as_str));
                tally.classes.entry(failure.class).or_insert((0, example)).0 += 1;
                let mut e = entry(&key, Status::Failed, Some(failure.class), None);
                (e.failed_runs, e.failed_at) = failed_runs(entries.get(&key), &outcome.result.finished_at);
                failures.push(failure);
                Some(e)
            }
        };
        match entry {
            Some(e) => entries.insert(key, e),
            None => entries.remove(&key),
        };
    }
    let mut index = BuiltIndex::new(entries.into_values().collect());
    index.executables = executables.into_values().collect();
    Merged { index, tally, failures, newest }
}

/// A failure's run count: one more than the previous entry's when that was a failure too, unless it
/// is the same result merged again (its `finished_at` already counted). Pure.
fn failed_runs(previous: Option<&BuiltEntry>, finished_at: &str) -> (u32, Option<String>) {
    let at = Some(finished_at.to_string());
    match previous.filter(|p| p.status == Status::Failed) {
        // An index written before the count: its failure is one run.
        Some(p) if p.failed_at == at => (p.failed_runs.max(1), at),
        Some(p) => (p.failed_runs.max(1) + 1, at),
        None => (1, at),
    }
}

fn entry(key: &JobKey, status: Status, class: Option<FailureClass>, binary: Option<&PushedReference>) -> BuiltEntry {
    BuiltEntry {
        crate_name: key.crate_name.clone(),
        version: key.version.clone(),
        target: key.target.clone(),
        status,
        failure_class: class,
        reference: binary.map(|b| b.reference.clone()),
        digest: binary.map(|b| b.digest.clone()),
        failed_runs: 0,
        failed_at: None,
    }
}

/// One index entry per executable of a published job, with its layer from the publish record.
fn executable_entries(outcome: &Outcome, binary: &PushedReference) -> Vec<ExecutableEntry> {
    let r = &outcome.result;
    let attestation = outcome
        .publish
        .iter()
        .flat_map(|p| &p.references)
        .find(|p| p.kind == ReferenceKind::Attestation)
        .map(|a| format!("{}@{}", a.reference, a.digest));
    r.executables
        .iter()
        .map(|x| {
            let layer = binary.layers.iter().find(|l| l.title == x.path);
            ExecutableEntry {
                crate_name: r.crate_name.clone(),
                version: r.version.clone(),
                target: r.target.clone(),
                name: x.name.clone(),
                reference: binary.reference.clone(),
                manifest_digest: binary.digest.clone(),
                layer_digest: layer.map(|l| l.digest.clone()),
                size: x.size,
                sha256: x.sha256.clone(),
                licenses: r.licenses.declared.clone(),
                attestation: attestation.clone(),
                built_at: r.finished_at.clone(),
            }
        })
        .collect()
}

fn failure_entry(outcome: &Outcome) -> FailureEntry {
    let r = &outcome.result;
    let (class, phase, first_lines) = match &r.failure {
        Some(f) => {
            let lines = f.message.lines().chain(f.evidence.iter().map(String::as_str));
            let lines = lines.filter(|l| !l.trim().is_empty()).take(FIRST_LINES).map(str::to_string).collect();
            (f.class, Some(f.phase), lines)
        }
        None => (FailureClass::Unknown, None, vec!["result.json records no failure".to_string()]),
    };
    FailureEntry {
        crate_name: r.crate_name.clone(),
        version: r.version.clone(),
        target: r.target.clone(),
        class,
        phase,
        first_lines,
        log: outcome.log.clone(),
        repository: r.package.as_ref().and_then(|p| p.repository.clone()),
        finished_at: r.finished_at.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::publish::PushedLayer;
    use crate::schema::result::fixtures::executable;
    use crate::schema::result::{Executable, Failure};

    const T: &str = "x86_64-unknown-linux-musl";

    fn outcome(name: &str, failed: Option<FailureClass>, exes: &[&str], publish: bool, finished: &str) -> Outcome {
        let mut r = BuildResult::new(name, "1.0.0", T, crate::schema::Backend::Cargo);
        r.finished_at = finished.into();
        r.status = if failed.is_some() { Status::Failed } else { Status::Built };
        r.failure = failed.map(|class| Failure {
            class,
            phase: crate::schema::Phase::Build,
            message: "it broke\nmore".into(),
            evidence: vec!["".into(), "error: the evidence".into()],
        });
        for x in exes {
            r.executables.push(Executable { sha256: format!("{x}-sha"), ..executable(x) });
        }
        let publish = publish.then(|| {
            let mut p = PublishRecord::new(name, "1.0.0", T, "ghcr.io/acme");
            p.references.push(PushedReference {
                reference: format!("ghcr.io/acme/{name}:1.0.0-{T}"),
                digest: "sha256:ab".into(),
                kind: ReferenceKind::Binary,
                artifact_type: String::new(),
                unchanged: false,
                blobs_uploaded: 0,
                blobs_present: 0,
                layers: exes
                    .iter()
                    .map(|x| PushedLayer {
                        title: format!("bin/{x}"),
                        media_type: String::new(),
                        digest: format!("sha256:{x}"),
                        size: 1,
                    })
                    .collect(),
            });
            p
        });
        Outcome { result: r, publish, log: None, licenses: None }
    }

    #[test]
    fn newest_wins_unpublished_builds_leave_and_executables_are_keyed_by_name() {
        let first = merge(
            None,
            vec![
                outcome("tools", None, &["a", "b"], true, "2026-11-01T00:00:00Z"),
                outcome("other", None, &["a"], true, "2026-11-01T00:00:00Z"),
                outcome("local", None, &["l"], true, "2026-11-01T00:00:00Z"),
            ],
        );
        assert_eq!(first.index.executables.len(), 4, "two `a` executables of two crates both stay");
        let second = merge(
            Some(first.index),
            vec![
                outcome("local", None, &["l"], false, "2026-11-02T00:00:00Z"),
                outcome("flaky", Some(FailureClass::Timeout), &[], false, "2026-11-02T00:00:00Z"),
                outcome("flaky", Some(FailureClass::CompileError), &[], false, "2026-11-03T00:00:00Z"),
            ],
        );
        let got: Vec<(&str, Status)> = second.index.entries.iter().map(|e| (e.crate_name.as_str(), e.status)).collect();
        assert_eq!(got, [("flaky", Status::Failed), ("other", Status::Built), ("tools", Status::Built)]);
        let exes: Vec<(&str, &str, Option<&str>)> = second
            .index
            .executables
            .iter()
            .map(|x| (x.crate_name.as_str(), x.name.as_str(), x.layer_digest.as_deref()))
            .collect();
        assert_eq!(
            exes,
            [("other", "a", Some("sha256:a")), ("tools", "a", Some("sha256:a")), ("tools", "b", Some("sha256:b"))]
        );
        assert_eq!(second.tally.superseded, 1);
        assert_eq!(second.tally.per_target[T], TargetTally { published: 0, unpublished: 1, failed: 1 });
        assert_eq!(second.failures.len(), 1);
        assert_eq!(second.failures[0].class, FailureClass::CompileError);
        assert_eq!(second.failures[0].first_lines, ["it broke", "more", "error: the evidence"], "blank lines dropped");
        assert_eq!(second.tally.classes[&FailureClass::CompileError].1, format!("flaky@1.0.0 ({T}): it broke"));
    }

    #[test]
    fn failed_runs_count_consecutive_failures_once_each_and_a_build_resets_them() {
        let runs = |index: &BuiltIndex| index.entries.iter().find(|e| e.crate_name == "oomy").map(|e| e.failed_runs);
        let fail = |at: &str| outcome("oomy", Some(FailureClass::Oom), &[], false, at);
        let first = merge(None, vec![fail("2026-11-01T00:00:00Z")]);
        assert_eq!(runs(&first.index), Some(1));
        let second = merge(Some(first.index), vec![fail("2026-11-02T00:00:00Z")]);
        assert_eq!(runs(&second.index), Some(2));
        let again = merge(Some(second.index), vec![fail("2026-11-02T00:00:00Z")]);
        assert_eq!(runs(&again.index), Some(2), "the same result merged again counts once");
        let built = merge(Some(again.index), vec![outcome("oomy", None, &["o"], true, "2026-11-03T00:00:00Z")]);
        assert_eq!(runs(&built.index), Some(0));
        let after = merge(Some(built.index), vec![fail("2026-11-04T00:00:00Z")]);
        assert_eq!(runs(&after.index), Some(1), "a build in between starts the count again");
    }
}
