//! `cratemill matrix` end to end through the binary: files written, Actions outputs and summary, a
//! second incremental run planning nothing, and bad flags as exit 2 with a clear message.

use std::path::Path;
use std::process::Command;

use cratemill::dump::synth::{self, Spec};
use cratemill::schema::plan::{BuiltEntry, BuiltIndex, Chunk, ChunkIndex, Plan};
use cratemill::schema::result::Status;

fn matrix(args: &[&str], env: &[(&str, &Path)]) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cratemill"));
    cmd.arg("matrix")
        .args(args)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("GITHUB_STEP_SUMMARY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn plan_chunks_outputs_and_an_incremental_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump.tar.gz");
    synth::write(&Spec::default(), &dump).unwrap();
    let out = dir.path().join("out");
    let (gh_out, gh_sum) = (dir.path().join("gh-output"), dir.path().join("gh-summary"));
    let args = [
        "--dump",
        dump.to_str().unwrap(),
        "--since",
        "2025-01-01",
        "--targets",
        "x86_64-unknown-linux-musl,aarch64-unknown-linux-musl",
        "--chunk-size",
        "5",
        "--out",
        out.to_str().unwrap(),
    ];
    let env = [
        ("GITHUB_ACTIONS", Path::new("true")),
        ("GITHUB_OUTPUT", gh_out.as_path()),
        ("GITHUB_STEP_SUMMARY", gh_sum.as_path()),
    ];
    let (code, stderr) = matrix(&args, &env);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("planned 22 jobs (11 crates selected of 17"), "{stderr}");

    let plan: Plan = cratemill::schema::read(&out.join("plan.json")).unwrap();
    assert_eq!(plan.jobs.len(), 22);
    assert_eq!(plan.since, "2025-01-01");
    let index: ChunkIndex = cratemill::schema::read(&out.join("chunks/index.json")).unwrap();
    let ids: Vec<&str> = index.runs[0].chunks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["0001", "0002", "0003", "0004", "0005"]);
    let mut from_chunks = Vec::new();
    for id in &ids {
        let chunk: Chunk = cratemill::schema::read(&out.join(format!("chunks/{id}.json"))).unwrap();
        assert!(chunk.jobs.len() <= 5);
        from_chunks.extend(chunk.jobs);
    }
    assert_eq!(from_chunks, plan.jobs);

    let outputs = std::fs::read_to_string(&gh_out).unwrap();
    assert!(outputs.contains("chunks=[\"0001\",\"0002\",\"0003\",\"0004\",\"0005\"]\n"), "{outputs}");
    assert!(outputs.contains("jobs=22\n") && outputs.contains("runs=1\n"), "{outputs}");
    let summary = std::fs::read_to_string(&gh_sum).unwrap();
    assert!(summary.contains("| total crates | 17 |") && summary.contains("| recent (selected) | 11 |"), "{summary}");
    assert!(summary.contains("| `x86_64-unknown-linux-musl` | 11 | 0 | 0 | 0 | 0 | 11 |"), "{summary}");

    // Everything got built: the next tick plans nothing, and no stale chunk is left behind.
    let built = BuiltIndex::new(
        plan.jobs
            .iter()
            .map(|j| BuiltEntry {
                crate_name: j.crate_name.clone(),
                version: j.version.clone(),
                target: j.target.clone(),
                status: Status::Built,
                failure_class: None,
                reference: Some(format!("ghcr.io/m/{}:{}", j.crate_name, j.version)),
                digest: None,
                failed_runs: 0,
                failed_at: None,
            })
            .collect(),
    );
    let built_path = dir.path().join("built.json");
    cratemill::schema::write(&built_path, &built).unwrap();
    let mut again = args.to_vec();
    again.extend(["--built", built_path.to_str().unwrap()]);
    let (code, stderr) = matrix(&again, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("planned 0 jobs") && stderr.contains("22 already built"), "{stderr}");
    let left: Vec<String> = std::fs::read_dir(out.join("chunks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["index.json"]);
}

#[test]
fn bad_flags_and_inputs_exit_2_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump.tar.gz");
    synth::write(&Spec::default(), &dump).unwrap();
    let d = dump.to_str().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    let garbage = dir.path().join("garbage.tar.gz");
    std::fs::write(&garbage, b"\x1f\x8b\x08\x00garbage").unwrap();
    let not_index = dir.path().join("not-index.json");
    std::fs::write(&not_index, br#"{"schema_version":1,"kind":"cratemill.plan"}"#).unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--dump", d, "--out", o, "--targets", "x86_64-pc-windows-msvc"],
            "unsupported target `x86_64-pc-windows-msvc`",
        ),
        (&["--dump", d, "--out", o, "--since", "next week"], "--since `next week` is not a date"),
        (&["--dump", d, "--out", o, "--chunk-size", "300"], "--chunk-size 300 is out of range"),
        (&["--dump", "/nonexistent/dump.tar.gz", "--out", o], "cannot open dump /nonexistent/dump.tar.gz"),
        (&["--dump", garbage.to_str().unwrap(), "--out", o], "not a readable gzip tar archive"),
        (
            &["--dump", d, "--out", o, "--built", not_index.to_str().unwrap()],
            "expected a `cratemill.built-index` document",
        ),
    ];
    for (args, message) in cases {
        let (code, stderr) = matrix(args, &[]);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one-line error: {stderr}");
    }
    assert!(!out.join("plan.json").exists(), "no partial plan on error");
}

/// Issue #9: names from the dump that break crates.io's rules (crate names) or are not safe file
/// names and shell words (bin names) never reach a chunk; their rows are skipped, counted per
/// reason in plan.json and on stderr, and a crate with one clean version is planned at it.
#[test]
fn hostile_names_are_counted_and_never_reach_a_chunk() {
    use synth::fixtures::{HOSTILE_BIN_NAMES, HOSTILE_CRATES};
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump.tar.gz");
    synth::write(&Spec { hostile_names: true, ..Default::default() }, &dump).unwrap();
    let out = dir.path().join("out");
    let args = ["--dump", dump.to_str().unwrap(), "--since", "2025-01-01", "--targets", "x86_64-unknown-linux-musl"];
    let (code, stderr) = matrix(&[&args[..], &["--out", out.to_str().unwrap()]].concat(), &[]);
    assert_eq!(code, 0, "{stderr}");

    let plan: Plan = cratemill::schema::read(&out.join("plan.json")).unwrap();
    let evil = plan.jobs.iter().find(|j| j.crate_name == "evil-bins").expect("evil-bins is planned");
    assert_eq!((evil.version.as_str(), evil.bin_names.as_slice()), ("1.0.0", &["evil-bins".to_string()][..]));
    let mut want: Vec<(&str, &str)> = HOSTILE_CRATES.iter().map(|(_, r)| ("crates.csv", *r)).collect();
    want.extend(HOSTILE_BIN_NAMES.iter().map(|(_, r)| ("versions.csv", *r)));
    for (table, reason) in want {
        let w = plan.warnings.iter().find(|w| w.table == table && w.reason == reason);
        assert_eq!(w.map(|w| w.rows), Some(1), "{table} {reason}: {:?}", plan.warnings);
        assert!(stderr.contains(&format!("of {table} ({reason})")), "{reason}: {stderr}");
    }
    // Nothing of the hostile names is in any chunk: not the crates, not their bin names.
    for entry in std::fs::read_dir(out.join("chunks")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for needle in ["touch", "../", "pwn", "\"..\"", "sixty-four"] {
            assert!(!text.contains(needle), "{needle} in a chunk: {text}");
        }
    }
    assert_eq!(plan.funnel.selected as usize, synth::fixtures::SELECTED.len() + 1);
}
