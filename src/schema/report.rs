//! `failures.json`: every failed job of a fleet report with its class, first error lines and log.
//! Data only; written by `cratemill report`.

use serde::{Deserialize, Serialize};

use super::result::FailureClass;
use super::{Document, Phase, SCHEMA_VERSION};

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct FailureList {
    pub schema_version: u32,
    pub kind: String,
    pub generated_at: String,
    pub failures: Vec<FailureEntry>,
}

impl Document for FailureList {
    const KIND: &'static str = "cratemill.failures";
}

impl FailureList {
    pub fn new(failures: Vec<FailureEntry>) -> FailureList {
        FailureList {
            schema_version: SCHEMA_VERSION,
            kind: Self::KIND.into(),
            generated_at: super::now_rfc3339(),
            failures,
        }
    }
}

/// One failed (crate, version, target).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
pub struct FailureEntry {
    #[serde(rename = "crate")]
    pub crate_name: String,
    pub version: String,
    pub target: String,
    pub class: FailureClass,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// The failure message and the first evidence lines (at most [`FIRST_LINES`]).
    pub first_lines: Vec<String>,
    /// Where the build log is: the `build.log` next to the result file, as given to `report`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// The crate's repository URL, when the result recorded one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    pub finished_at: String,
}

/// How many lines of a failure `failures.json` keeps.
pub const FIRST_LINES: usize = 12;
