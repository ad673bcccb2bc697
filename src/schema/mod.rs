//! The versioned JSON documents the phases exchange. Data only: no I/O beyond reading/writing one
//! document, no logic beyond small derived facts.
//!
//! Every document carries `schema_version` and `kind`, so a reader can refuse a file it does not
//! understand with a clear message instead of misreading it.
//!
//! | document | written by | module |
//! | --- | --- | --- |
//! | `result.json` | `build` | [`result`] |
//! | `publish.json` | `publish` | [`publish`] |
//! | `plan.json`, `chunks/NNNN.json`, built index | `matrix`, `report` | [`plan`] |
//! | `fleet.json` | `fleet` | [`fleet`] |
//! | `attest.json` | `attest` | [`attest`] |
//! | `failures.json` | `report` | [`report`] |
//!
//! The wire format is pinned twice: golden files (`tests/golden/`, `tests/documents_golden.rs`) and
//! JSON Schemas generated from these types ([`json_schemas`]) and published under `docs/schema/`
//! for third-party tools; a test fails when a published schema is not current.

pub mod attest;
pub mod fleet;
pub mod plan;
pub mod publish;
pub mod report;
pub mod result;
pub mod types;

pub use types::{Backend, Channel, JobKey, Layout, Phase};

use std::path::Path;

use anyhow::Context;
use serde::{de::DeserializeOwned, Serialize};

/// The schema version of every document this build of cratemill writes.
pub const SCHEMA_VERSION: u32 = 1;

/// A document with a `kind` tag, so files cannot be mixed up.
pub trait Document: Serialize + DeserializeOwned {
    const KIND: &'static str;
}

/// Write a document as pretty JSON, atomically (temp file + rename): a reader never sees half a file.
pub fn write<T: Document>(path: &Path, doc: &T) -> anyhow::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(doc)?;
    bytes.push(b'\n');
    write_atomic(path, &bytes).with_context(|| format!("writing {}", path.display()))
}

/// Write bytes atomically next to `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Read a document, checking its kind and schema version first. Documents come from package and
/// artifact folders other jobs wrote: read as untrusted files (regular, no link, capped).
pub fn read<T: Document>(path: &Path) -> anyhow::Result<T> {
    read_capped(path, crate::untrusted::DOCUMENT_CAP)
}

/// [`read`] of a document of at most `cap` bytes (a `result.json`, a `publish.json`).
pub fn read_capped<T: Document>(path: &Path, cap: u64) -> anyhow::Result<T> {
    let bytes = crate::untrusted::read_regular(path, cap, crate::untrusted::deadline())
        .with_context(|| format!("reading {}", path.display()))?;
    parse(&bytes).with_context(|| format!("reading {}", path.display()))
}

/// Parse a document from bytes, checking its kind and schema version first.
pub fn parse<T: Document>(bytes: &[u8]) -> anyhow::Result<T> {
    #[derive(serde::Deserialize)]
    struct Header {
        schema_version: Option<u32>,
        kind: Option<String>,
    }
    let header: Header = serde_json::from_slice(bytes).context("not a JSON document")?;
    match header.kind.as_deref() {
        Some(k) if k == T::KIND => {}
        Some(k) => anyhow::bail!("expected a `{}` document, found `{k}`", T::KIND),
        None => anyhow::bail!("expected a `{}` document, found no `kind` field", T::KIND),
    }
    match header.schema_version {
        Some(v) if v <= SCHEMA_VERSION => {}
        Some(v) => anyhow::bail!(
            "schema_version {v} is newer than this cratemill understands ({SCHEMA_VERSION}): upgrade cratemill"
        ),
        None => anyhow::bail!("missing schema_version"),
    }
    Ok(serde_json::from_slice(bytes)?)
}

/// Every document kind: its file stem under `docs/schema/` and its JSON Schema, generated from the types.
pub fn json_schemas() -> Vec<(&'static str, schemars::Schema)> {
    vec![
        ("build-result", schemars::schema_for!(result::BuildResult)),
        ("publish-record", schemars::schema_for!(publish::PublishRecord)),
        ("plan", schemars::schema_for!(plan::Plan)),
        ("chunk", schemars::schema_for!(plan::Chunk)),
        ("chunk-index", schemars::schema_for!(plan::ChunkIndex)),
        ("built-index", schemars::schema_for!(plan::BuiltIndex)),
        ("fleet", schemars::schema_for!(fleet::FleetReport)),
        ("attest-record", schemars::schema_for!(attest::AttestRecord)),
        ("failures", schemars::schema_for!(report::FailureList)),
        ("issues", schemars::schema_for!(report::IssueList)),
    ]
}

/// The current time as RFC 3339 (UTC, seconds).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Test support: every variant of a closed set, taken from its JSON Schema (so a new variant is
/// covered without editing a list), must serialise as the name its hand-written table gives.
#[cfg(test)]
pub(crate) fn assert_names_match_serde<E>(name: impl Fn(&E) -> &'static str)
where
    E: serde::de::DeserializeOwned + serde::Serialize + schemars::JsonSchema,
{
    fn values(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("const", serde_json::Value::String(s)) => out.push(s.clone()),
                        ("enum", serde_json::Value::Array(items)) => {
                            out.extend(items.iter().filter_map(|i| i.as_str().map(String::from)))
                        }
                        _ => values(v, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| values(i, out)),
            _ => {}
        }
    }
    let schema = serde_json::to_value(schemars::schema_for!(E)).unwrap();
    let mut names = Vec::new();
    values(&schema, &mut names);
    assert!(!names.is_empty(), "no variants found in {schema}");
    for n in names {
        let e: E = serde_json::from_value(serde_json::json!(n)).unwrap();
        assert_eq!(name(&e), n, "the name table disagrees with serde");
        assert_eq!(serde_json::to_value(&e).unwrap(), serde_json::json!(n));
    }
}
