//! Incremental plans: skip (crate, version, target) that the built index says are published, and
//! same-version failures of a non-transient class unless `--retry-failed`.

use std::collections::HashMap;

use crate::schema::plan::BuiltIndex;
use crate::schema::result::{FailureClass, Status};

/// Why a job is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    Built,
    Failed(FailureClass),
}

/// The built index as a lookup table.
#[derive(Debug, Default)]
pub struct Built {
    /// (crate, version, target) -> built, or the failure class (`None`: unknown, retried).
    entries: HashMap<(String, String, String), Result<(), Option<FailureClass>>>,
}

impl Built {
    pub fn new(index: &BuiltIndex) -> Built {
        let mut entries = HashMap::new();
        for e in &index.entries {
            let key = (e.crate_name.clone(), e.version.clone(), e.target.clone());
            let outcome = match e.status {
                Status::Built => Ok(()),
                Status::Failed => Err(e.failure_class),
            };
            // A success anywhere in the index wins over failures of the same job.
            let slot = entries.entry(key).or_insert(outcome);
            if outcome.is_ok() {
                *slot = Ok(());
            }
        }
        Built { entries }
    }

    /// Should this job be left out?
    pub fn skip(&self, krate: &str, version: &str, target: &str, retry_failed: bool) -> Option<Skip> {
        match self.entries.get(&(krate.to_string(), version.to_string(), target.to_string()))? {
            Ok(()) => Some(Skip::Built),
            Err(Some(class)) if !retry_failed && !class.is_transient() => Some(Skip::Failed(*class)),
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
}
