//! The in-toto Statement v1: subjects and predicate. Pure decision core: from the packages' file
//! digests to statements of at most [`MAX_SUBJECTS`] subjects each.
//!
//! Subjects are every published file of a package (executables, licenses, build log, source archive,
//! `result.json`, `CHECKSUMS`), named `<crate>-<version>-<target>/<path in the package>`, so one
//! statement can cover a whole chunk and `verify` can map an image's layers back to them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::usage;

pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// GitHub's limit for one attestation.
pub const MAX_SUBJECTS: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    pub name: String,
    pub digest: SubjectDigest,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectDigest {
    pub sha256: String,
}

impl Subject {
    pub fn new(name: impl Into<String>, sha256: impl Into<String>) -> Subject {
        Subject { name: name.into(), digest: SubjectDigest { sha256: sha256.into() } }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub statement_type: String,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: Value,
}

impl Statement {
    pub fn new(subject: Vec<Subject>, predicate_type: &str, predicate: Value) -> Statement {
        Statement { statement_type: STATEMENT_V1.into(), subject, predicate_type: predicate_type.into(), predicate }
    }

    /// The exact bytes that are signed (compact JSON).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a statement always serialises")
    }
}

/// Group packages (each a list of subjects) into batches of at most `max` subjects, in order,
/// never splitting a package and never dropping one. A package with more than `max` files is an
/// error: it cannot be attested in one statement.
pub fn batches(packages: &[Vec<Subject>], max: usize) -> anyhow::Result<Vec<Vec<usize>>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut count = 0usize;
    for (i, subjects) in packages.iter().enumerate() {
        if subjects.len() > max {
            return Err(usage(format!(
                "package {} has {} files, more than the {max} subjects one attestation may hold: split its executables over several packages",
                i + 1,
                subjects.len()
            )));
        }
        if out.is_empty() || count + subjects.len() > max {
            out.push(Vec::new());
            count = 0;
        }
        out.last_mut().expect("pushed above").push(i);
        count += subjects.len();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(n: usize) -> Vec<Subject> {
        (0..n).map(|i| Subject::new(format!("f{i}"), "0".repeat(64))).collect()
    }

    #[test]
    fn batches_split_never_truncate() {
        let packages: Vec<_> = (0..300).map(|_| pkg(7)).collect();
        let b = batches(&packages, MAX_SUBJECTS).unwrap();
        assert_eq!(b.len(), 3, "2100 subjects need three statements");
        assert_eq!(b.iter().map(Vec::len).sum::<usize>(), 300);
        for batch in &b {
            assert!(batch.iter().map(|&i| packages[i].len()).sum::<usize>() <= MAX_SUBJECTS);
        }
        let flat: Vec<usize> = b.concat();
        assert_eq!(flat, (0..300).collect::<Vec<_>>());
        assert!(batches(&[pkg(1025)], MAX_SUBJECTS).unwrap_err().to_string().contains("1025 files"));
        assert_eq!(batches(&[pkg(1024)], MAX_SUBJECTS).unwrap().len(), 1);
    }
}
