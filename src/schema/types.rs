//! Closed sets and keys shared by several documents. Data only: each enum serialises to the same
//! kebab-case string the documents have always carried, so the wire format does not change.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A concrete build backend: the tool that ran (or would have run) the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    Cargo,
    Cross,
    Zigbuild,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Cargo => "cargo",
            Backend::Cross => "cross",
            Backend::Zigbuild => "zigbuild",
        }
    }
}

/// The phase of a build job, as recorded in a failure (`failure.phase`) and in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Work folder, toolchain and backend detection.
    Setup,
    /// Version resolution from the sparse index.
    Resolve,
    /// Download, checksum and safe unpack of the `.crate` (and, later, its dependencies).
    Fetch,
    /// Manifest reading and hardening, vendoring features, the build environment.
    Prepare,
    /// The build attempts.
    Build,
    /// ELF inspection and smoke runs of what the build produced.
    Inspect,
    /// License detection.
    License,
    /// Package assembly: source archive, checksums, result.json.
    Package,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Resolve => "resolve",
            Phase::Fetch => "fetch",
            Phase::Prepare => "prepare",
            Phase::Build => "build",
            Phase::Inspect => "inspect",
            Phase::License => "license",
            Phase::Package => "package",
        }
    }
}

/// The Rust release channel a toolchain belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    Stable,
    Nightly,
}

impl Channel {
    pub fn name(self) -> &'static str {
        match self {
            Channel::Stable => "stable",
            Channel::Nightly => "nightly",
        }
    }
}

/// How published packages are spread over repositories (`publish --layout`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Hash, clap::ValueEnum, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// One repository per crate: `<registry>/<crate>:<version>-<target>`.
    #[default]
    PerCrate,
    /// One repository for the whole mirror: `<registry>:<crate>-<version>-<target>`.
    Single,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::PerCrate => "per-crate",
            Layout::Single => "single",
        }
    }
}

macro_rules! display_as_name {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    )*};
}
display_as_name!(Backend, Phase, Channel, Layout);

/// The key of one build job everywhere it appears (plan, chunks, results, the built index):
/// one crate version for one target.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
pub struct JobKey {
    #[serde(rename = "crate")]
    pub crate_name: String,
    pub version: String,
    pub target: String,
}

impl JobKey {
    pub fn new(crate_name: &str, version: &str, target: &str) -> JobKey {
        JobKey { crate_name: crate_name.to_string(), version: version.to_string(), target: target.to_string() }
    }
}

impl fmt::Display for JobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{} ({})", self.crate_name, self.version, self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_serialise_as_their_names() {
        // Every variant, from each enum's JSON Schema.
        crate::schema::assert_names_match_serde::<Backend>(|b| b.name());
        crate::schema::assert_names_match_serde::<Phase>(|p| p.name());
        crate::schema::assert_names_match_serde::<Channel>(|c| c.name());
        crate::schema::assert_names_match_serde::<Layout>(|l| l.name());
    }
}
