//! From job outcomes to the built index: which (crate, version, target) are published, which
//! failed and why. Pure logic: the files are read and written in [`super`].

use std::collections::BTreeMap;

use crate::schema::plan::{BuiltEntry, BuiltIndex};
use crate::schema::publish::{PublishRecord, ReferenceKind};
use crate::schema::result::{BuildResult, FailureClass, Status};

/// One job's outcome: its `result.json` and, when it was published, its `publish.json`.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub result: BuildResult,
    pub publish: Option<PublishRecord>,
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

type Key = (String, String, String);

/// Merge `outcomes` into `previous` (a job's newest outcome wins; jobs not seen again keep their
/// entry). A built job counts as built only once published: built but not published, it is left
/// out so that the next plan builds it again.
pub fn merge(previous: Option<BuiltIndex>, outcomes: Vec<Outcome>) -> (BuiltIndex, Tally) {
    let mut tally = Tally::default();
    // The newest outcome per job (by `finished_at`, RFC 3339 UTC, so text order is time order).
    let mut newest: BTreeMap<Key, Outcome> = BTreeMap::new();
    for outcome in outcomes {
        let r = &outcome.result;
        let key = (r.crate_name.clone(), r.version.clone(), r.target.clone());
        match newest.get(&key) {
            Some(kept) if kept.result.finished_at >= r.finished_at => tally.superseded += 1,
            Some(_) => {
                tally.superseded += 1;
                newest.insert(key, outcome);
            }
            None => {
                newest.insert(key, outcome);
            }
        }
    }
    let mut entries: BTreeMap<Key, BuiltEntry> = previous
        .map(|p| p.entries)
        .unwrap_or_default()
        .into_iter()
        .map(|e| ((e.crate_name.clone(), e.version.clone(), e.target.clone()), e))
        .collect();
    for (key, outcome) in newest {
        let r = &outcome.result;
        let counts = tally.per_target.entry(r.target.clone()).or_default();
        let entry = match (r.status, &outcome.publish) {
            (Status::Built, Some(publish)) => {
                counts.published += 1;
                let binary = publish.references.iter().find(|p| p.kind == ReferenceKind::Binary);
                Some(BuiltEntry {
                    crate_name: r.crate_name.clone(),
                    version: r.version.clone(),
                    target: r.target.clone(),
                    status: Status::Built,
                    failure_class: None,
                    reference: binary.map(|b| b.reference.clone()),
                    digest: binary.map(|b| b.digest.clone()),
                })
            }
            (Status::Built, None) => {
                counts.unpublished += 1;
                None
            }
            (Status::Failed, _) => {
                counts.failed += 1;
                let class = r.failure.as_ref().map_or(FailureClass::Unknown, |f| f.class);
                let message = r.failure.as_ref().map_or("", |f| f.message.as_str());
                let example =
                    format!("{}@{} ({}): {}", r.crate_name, r.version, r.target, message.lines().next().unwrap_or(""));
                tally.classes.entry(class).or_insert((0, example)).0 += 1;
                Some(BuiltEntry {
                    crate_name: r.crate_name.clone(),
                    version: r.version.clone(),
                    target: r.target.clone(),
                    status: Status::Failed,
                    failure_class: Some(class),
                    reference: None,
                    digest: None,
                })
            }
        };
        match entry {
            Some(e) => {
                entries.insert(key, e);
            }
            // Built again but not published: whatever the index said before no longer holds.
            None => {
                entries.remove(&key);
            }
        }
    }
    (BuiltIndex::new(entries.into_values().collect()), tally)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::publish::PushedReference;
    use crate::schema::result::Failure;

    fn result(name: &str, target: &str, status: Status, class: Option<FailureClass>, finished: &str) -> BuildResult {
        let mut r = BuildResult::new(name, "1.0.0", target, crate::schema::Backend::Cargo);
        r.status = status;
        r.finished_at = finished.into();
        r.failure = class.map(|class| Failure {
            class,
            phase: crate::schema::Phase::Build,
            message: "it broke\nmore".into(),
            evidence: vec![],
        });
        r
    }

    fn published(r: &BuildResult) -> PublishRecord {
        let mut p = PublishRecord::new(&r.crate_name, &r.version, &r.target, "ghcr.io/acme");
        p.references.push(PushedReference {
            reference: format!("ghcr.io/acme/{}:1.0.0-{}", r.crate_name, r.target),
            digest: "sha256:ab".into(),
            kind: ReferenceKind::Binary,
            artifact_type: String::new(),
            unchanged: false,
            blobs_uploaded: 0,
            blobs_present: 0,
            layers: vec![],
        });
        p
    }

    #[test]
    fn newest_outcome_wins_and_unpublished_builds_are_left_out() {
        let t = "x86_64-unknown-linux-musl";
        let ok = result("ok", t, Status::Built, None, "2026-11-01T00:00:00Z");
        let outcomes = vec![
            Outcome { publish: Some(published(&ok)), result: ok },
            Outcome { result: result("local", t, Status::Built, None, "2026-11-01T00:00:00Z"), publish: None },
            Outcome {
                result: result("flaky", t, Status::Failed, Some(FailureClass::Timeout), "2026-11-01T00:00:00Z"),
                publish: None,
            },
            Outcome {
                result: result("flaky", t, Status::Failed, Some(FailureClass::CompileError), "2026-11-02T00:00:00Z"),
                publish: None,
            },
        ];
        let previous = BuiltIndex::new(vec![
            BuiltEntry {
                crate_name: "old".into(),
                version: "0.1.0".into(),
                target: t.into(),
                status: Status::Built,
                failure_class: None,
                reference: Some("r".into()),
                digest: None,
            },
            BuiltEntry {
                crate_name: "local".into(),
                version: "1.0.0".into(),
                target: t.into(),
                status: Status::Failed,
                failure_class: Some(FailureClass::Timeout),
                reference: None,
                digest: None,
            },
        ]);
        let (index, tally) = merge(Some(previous), outcomes);
        let got: Vec<(&str, Status, Option<FailureClass>)> =
            index.entries.iter().map(|e| (e.crate_name.as_str(), e.status, e.failure_class)).collect();
        assert_eq!(
            got,
            [
                ("flaky", Status::Failed, Some(FailureClass::CompileError)),
                ("ok", Status::Built, None),
                ("old", Status::Built, None)
            ]
        );
        assert_eq!(index.entries[1].reference.as_deref(), Some("ghcr.io/acme/ok:1.0.0-x86_64-unknown-linux-musl"));
        assert_eq!(tally.per_target[t], TargetTally { published: 1, unpublished: 1, failed: 1 });
        assert_eq!(tally.superseded, 1);
        assert_eq!(
            tally.classes[&FailureClass::CompileError],
            (1, "flaky@1.0.0 (x86_64-unknown-linux-musl): it broke".to_string())
        );
    }
}
