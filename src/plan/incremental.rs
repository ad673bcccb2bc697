//! Incremental plans: skip (crate, version, target) that the built index says are published,
//! same-version failures of a non-transient class, and jobs that failed [`GIVE_UP_AFTER`] report
//! runs in a row whatever their class (as cargo-quickinstall gives up after 5 failures), unless
//! `--retry-failed`.

use std::collections::HashMap;

use crate::schema::plan::BuiltIndex;
use crate::schema::result::{FailureClass, Status};

/// A job that failed this many report runs in a row is not planned again (unless `--retry-failed`),
/// even when its class is transient: the spurious classes are retried a bounded number of times.
pub const GIVE_UP_AFTER: u32 = 5;

/// Why a job is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    Built,
    Failed(FailureClass),
    /// It failed [`GIVE_UP_AFTER`] (or more) runs in a row.
    GaveUp(u32),
}

/// The built index as a lookup table.
#[derive(Debug, Default)]
pub struct Built {
    /// (crate, version, target) -> built, or the failure class (`None`: unknown, retried) and how
    /// many runs in a row it failed.
    entries: HashMap<(String, String, String), Result<(), Failed>>,
}

/// A failed job: its class (`None`: unknown, retried) and how many runs in a row it failed.
type Failed = (Option<FailureClass>, u32);

impl Built {
    pub fn new(index: &BuiltIndex) -> Built {
        let mut entries = HashMap::new();
        for e in &index.entries {
            let key = (e.crate_name.clone(), e.version.clone(), e.target.clone());
            let outcome = match e.status {
                Status::Built => Ok(()),
                Status::Failed => Err((e.failure_class, e.failed_runs)),
            };
            // A success anywhere in the index wins over failures of the same job; of failures, the
            // longest run.
            let slot = entries.entry(key).or_insert(outcome);
            match (outcome, *slot) {
                (Ok(()), _) => *slot = Ok(()),
                (Err((_, runs)), Err((_, had))) if runs > had => *slot = outcome,
                _ => {}
            }
        }
        Built { entries }
    }

    /// Should this job be left out?
    pub fn skip(&self, krate: &str, version: &str, target: &str, retry_failed: bool) -> Option<Skip> {
        match self.entries.get(&(krate.to_string(), version.to_string(), target.to_string()))? {
            Ok(()) => Some(Skip::Built),
            Err(_) if retry_failed => None,
            Err((Some(class), _)) if !class.is_transient() => Some(Skip::Failed(*class)),
            Err((_, runs)) if *runs >= GIVE_UP_AFTER => Some(Skip::GaveUp(*runs)),
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::plan::BuiltEntry;

    fn entry(version: &str, status: Status, class: Option<FailureClass>) -> BuiltEntry {
        BuiltEntry {
            crate_name: "rg".into(),
            version: version.into(),
            target: "t".into(),
            status,
            failure_class: class,
            reference: None,
            digest: None,
            failed_runs: 1,
            failed_at: None,
        }
    }

    #[test]
    fn built_failed_transient_and_other_versions() {
        let built = Built::new(&BuiltIndex::new(vec![
            entry("1.0.0", Status::Built, None),
            entry("2.0.0", Status::Failed, Some(FailureClass::LinkError)),
            entry("3.0.0", Status::Failed, Some(FailureClass::Timeout)),
            entry("4.0.0", Status::Failed, None),
            entry("5.0.0", Status::Failed, Some(FailureClass::CompileError)),
            entry("5.0.0", Status::Built, None),
        ]));
        assert_eq!(built.skip("rg", "1.0.0", "t", false), Some(Skip::Built));
        assert_eq!(built.skip("rg", "1.0.0", "other", false), None);
        assert_eq!(built.skip("rg", "2.0.0", "t", false), Some(Skip::Failed(FailureClass::LinkError)));
        assert_eq!(built.skip("rg", "2.0.0", "t", true), None);
        assert_eq!(built.skip("rg", "3.0.0", "t", false), None, "transient failures are retried");
        assert_eq!(built.skip("rg", "4.0.0", "t", false), None, "unclassified failures are retried");
        assert_eq!(built.skip("rg", "5.0.0", "t", false), Some(Skip::Built));
        assert_eq!(built.skip("rg", "6.0.0", "t", false), None, "a new version is planned");
    }

    #[test]
    fn a_job_that_keeps_failing_is_given_up_after_five_runs() {
        let runs = |version: &str, class: Option<FailureClass>, n: u32| BuiltEntry {
            failed_runs: n,
            ..entry(version, Status::Failed, class)
        };
        let built = Built::new(&BuiltIndex::new(vec![
            runs("1.0.0", Some(FailureClass::Oom), GIVE_UP_AFTER - 1),
            runs("2.0.0", Some(FailureClass::Oom), GIVE_UP_AFTER),
            runs("3.0.0", None, GIVE_UP_AFTER + 2),
            runs("4.0.0", Some(FailureClass::CompileError), GIVE_UP_AFTER),
        ]));
        assert_eq!(built.skip("rg", "1.0.0", "t", false), None, "a spurious failure is retried");
        assert_eq!(built.skip("rg", "2.0.0", "t", false), Some(Skip::GaveUp(GIVE_UP_AFTER)));
        assert_eq!(built.skip("rg", "3.0.0", "t", false), Some(Skip::GaveUp(GIVE_UP_AFTER + 2)));
        assert_eq!(built.skip("rg", "4.0.0", "t", false), Some(Skip::Failed(FailureClass::CompileError)));
        assert_eq!(built.skip("rg", "2.0.0", "t", true), None, "--retry-failed plans it anyway");
    }
}
