//! The wire format of every document kind, pinned.
//!
//! Third-party organisations read `result.json`, `publish.json`, `plan.json`, chunks and the built
//! index from their own tools, so a change to a field name, an enum spelling or the field order is a
//! breaking change that must be deliberate. Two pins:
//!
//! - **Golden files** (`tests/golden/*.json`): each parses as its type through the same reader the
//!   phases use (`schema::parse`, which checks `kind` and `schema_version`), and serialising it again
//!   gives the file back byte for byte. A renamed field, a dropped field, or a new field the file
//!   lacks all fail here.
//! - **Published JSON Schemas** (`docs/schema/*.schema.json`), generated from the types: the test
//!   fails when one is not current. `CRATEMILL_BLESS=1 cargo test --test documents_golden` rewrites
//!   them (and normalises the golden files); review the diff before committing it.
//!   `tests/check/30-document-schemas.sh` validates every golden file against its published schema
//!   with an independent validator (check-jsonschema).

use std::path::{Path, PathBuf};

use cratemill::schema::{self, Document};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn blessing() -> bool {
    std::env::var_os("CRATEMILL_BLESS").is_some_and(|v| v == "1")
}

fn pretty<T: serde::Serialize>(doc: &T) -> String {
    let mut text = serde_json::to_string_pretty(doc).unwrap();
    text.push('\n');
    text
}

/// Parse a golden file as `T`, serialise it again and compare byte for byte.
fn golden<T: Document + std::fmt::Debug>(file: &str) -> T {
    let path = root().join("tests/golden").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: T = schema::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{file} does not parse: {e:#}"));
    let again = pretty(&doc);
    if blessing() {
        std::fs::write(&path, &again).unwrap();
    } else {
        assert_eq!(
            again, text,
            "{file}: the serialised document differs from the golden file (a field was renamed, added or \
             dropped?). If the change is deliberate, run CRATEMILL_BLESS=1 cargo test --test documents_golden"
        );
    }
    doc
}

#[test]
fn build_result_wire_format_is_pinned() {
    let built: schema::result::BuildResult = golden("build-result.json");
    assert_eq!(built.status, schema::result::Status::Built);
    assert_eq!(built.backend, schema::Backend::Zigbuild);
    assert_eq!(built.toolchain.as_ref().map(|t| t.channel), Some(schema::Channel::Nightly));
    assert_eq!(built.key(), schema::JobKey::new("hexyl", "0.17.0", "x86_64-unknown-linux-musl"));
    let failed: schema::result::BuildResult = golden("build-result-failed.json");
    let failure = failed.failure.expect("the failed golden result has a failure");
    assert_eq!(failure.phase, schema::Phase::Build);
    assert_eq!(failure.class, schema::result::FailureClass::MissingSystemLibrary);
}

#[test]
fn publish_record_wire_format_is_pinned() {
    let rec: schema::publish::PublishRecord = golden("publish-record.json");
    assert_eq!(rec.layout, schema::Layout::PerCrate);
    assert_eq!(rec.references.len(), 2);
}

#[test]
fn plan_and_chunk_wire_format_is_pinned() {
    let plan: schema::plan::Plan = golden("plan.json");
    let chunk: schema::plan::Chunk = golden("chunk.json");
    let index: schema::plan::ChunkIndex = golden("chunk-index.json");
    assert_eq!(plan.jobs[0], chunk.jobs[0], "a chunk carries the plan's jobs unchanged");
    assert_eq!(index.runs[0].chunks.iter().map(|c| u64::from(c.jobs)).sum::<u64>(), index.jobs);
}

#[test]
fn built_index_wire_format_is_pinned() {
    let index: schema::plan::BuiltIndex = golden("built-index.json");
    assert_eq!(index.entries[1].failure_class, Some(schema::result::FailureClass::MissingSystemLibrary));
}

#[test]
fn issue_list_wire_format_is_pinned() {
    let list: schema::report::IssueList = golden("issues.json");
    assert_eq!(list.issues[0].outcome, schema::report::IssueOutcome::Opened);
    assert_eq!(list.issues[2].outcome, schema::report::IssueOutcome::NotOnGithub);
}

#[test]
fn a_document_of_another_kind_is_refused() {
    let text = std::fs::read(root().join("tests/golden/plan.json")).unwrap();
    let err = schema::parse::<schema::result::BuildResult>(&text).unwrap_err();
    assert!(format!("{err:#}").contains("expected a `cratemill.build-result` document, found `cratemill.plan`"));
}

fn schema_path(stem: &str) -> PathBuf {
    root().join("docs/schema").join(format!("{stem}.schema.json"))
}

#[test]
fn published_json_schemas_are_current() {
    let mut stale = Vec::new();
    for (stem, generated) in schema::json_schemas() {
        let path = schema_path(stem);
        let text = pretty(&generated);
        if blessing() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "JSON Schemas not current: {stale:?}. Run CRATEMILL_BLESS=1 cargo test --test documents_golden and commit docs/schema/"
    );
}

#[test]
fn every_published_schema_has_a_golden_file() {
    let golden_dir = root().join("tests/golden");
    for (stem, _) in schema::json_schemas() {
        assert!(Path::new(&golden_dir.join(format!("{stem}.json"))).is_file(), "no golden file for {stem}");
    }
}
