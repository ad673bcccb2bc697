//! Selection, risk hints, incremental skips and bad dumps, checked against hand-computed answers on
//! the synthetic fixtures (see `cratemill::dump::synth::fixtures`).

use std::io::Write;
use std::path::Path;

use cratemill::dump::synth::{self, fixtures, Spec};
use cratemill::error::{exit_of, one_line, Exit};
use cratemill::plan::{self, Built, Collector, Options};
use cratemill::schema::plan::{BuiltEntry, BuiltIndex, Plan};
use cratemill::schema::result::{FailureClass, Status};

const X86: &str = "x86_64-unknown-linux-musl";
const ARM: &str = "aarch64-unknown-linux-musl";

fn options(targets: &[&str]) -> Options {
    Options {
        dump: "test".into(),
        since: 1_735_689_600, // 2025-01-01
        targets: targets.iter().map(|t| t.to_string()).collect(),
        chunk_size: 256,
        retry_failed: false,
        skip_risky: false,
        max_jobs: None,
        group_targets: false,
    }
}

fn plan_of(path: &Path, built: &Built, options: &Options) -> anyhow::Result<Plan> {
    let mut collector = Collector::new();
    let report = cratemill::dump::read_file(path, &mut collector)?;
    Ok(plan::make(collector.finish(), &report, built, options))
}

fn dump(dir: &Path, spec: &Spec) -> std::path::PathBuf {
    let path = dir.join("dump.tar.gz");
    synth::write(spec, &path).unwrap();
    path
}

#[test]
fn fixtures_select_exactly_the_hand_computed_crates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dump(dir.path(), &Spec { garbage: true, ..Default::default() });
    let plan = plan_of(&path, &Built::default(), &options(&[X86])).unwrap();

    let got: Vec<(String, String, Vec<String>)> =
        plan.jobs.iter().map(|j| (j.crate_name.clone(), j.version.clone(), j.bin_names.clone())).collect();
    let want: Vec<(String, String, Vec<String>)> = fixtures::SELECTED
        .iter()
        .map(|(c, v, b)| (c.to_string(), v.to_string(), b.iter().map(|s| s.to_string()).collect()))
        .collect();
    assert_eq!(got, want);

    // Checksums come from the candidate's row.
    let yanked_top = plan.jobs.iter().find(|j| j.crate_name == "yanked-top").unwrap();
    assert_eq!(yanked_top.checksum, fixtures::checksum_hex(101));
    let pre = plan.jobs.iter().find(|j| j.crate_name == "pre-only").unwrap();
    assert_eq!(pre.checksum, fixtures::checksum_hex(302));

    let risky: Vec<&str> = plan.jobs.iter().filter(|j| j.risk.is_some()).map(|j| j.crate_name.as_str()).collect();
    assert_eq!(risky, fixtures::RISKY);
    let reason = plan.jobs.iter().find(|j| j.crate_name == "indirect-ssl").unwrap().risk.clone().unwrap();
    assert!(reason.contains("openssl-sys") && reason.contains("indirect-ssl -> http-lib -> openssl-sys"), "{reason}");

    let f = &plan.funnel;
    assert_eq!(
        (f.crates, f.with_candidate, f.with_binaries, f.cli_category, f.binaries_or_cli, f.selected, f.risky, f.jobs),
        (fixtures::CRATES, 16, 11, 2, 12, 11, 2, 11)
    );

    // Garbage rows were skipped and counted, never used (each would have won selection).
    let warnings: Vec<(String, String, u64)> =
        plan.warnings.iter().map(|w| (w.table.clone(), w.reason.clone(), w.rows)).collect();
    for reason in ["bad created_at", "bad yanked", "bad checksum", "bad semver in num", "wrong number of fields"] {
        assert!(warnings.contains(&("versions.csv".into(), reason.into(), 1)), "{reason}: {warnings:?}");
    }
    assert_eq!(warnings.len(), 5, "{warnings:?}");
}

#[test]
fn table_order_inside_the_tar_does_not_matter() {
    let dir = tempfile::tempdir().unwrap();
    let real = dump(dir.path(), &Spec { crates: 300, ..Default::default() });
    let mut order = synth::REAL_ORDER.to_vec();
    order.reverse();
    let reversed_path = dir.path().join("reversed.tar.gz");
    synth::write(&Spec { crates: 300, order, ..Default::default() }, &reversed_path).unwrap();
    let a = plan_of(&real, &Built::default(), &options(&[X86, ARM])).unwrap();
    let b = plan_of(&reversed_path, &Built::default(), &options(&[X86, ARM])).unwrap();
    assert!(a.funnel.jobs > 50, "{:?}", a.funnel);
    assert_eq!(a.jobs, b.jobs);
    assert_eq!(a.funnel, b.funnel);
}

#[test]
fn the_db_dump_crate_reads_our_synthetic_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dump(dir.path(), &Spec { crates: 50, extra_column: false, ..Default::default() });
    let (mut versions, mut deps) = (0, 0);
    db_dump::Loader::new().versions(|_| versions += 1).dependencies(|_| deps += 1).load(&path).unwrap();
    assert!(versions > 50 && deps > 50, "{versions} {deps}");
}

#[test]
fn incremental_plans_skip_built_and_permanent_failures() {
    let dir = tempfile::tempdir().unwrap();
    let path = dump(dir.path(), &Spec::default());
    let opts = options(&[X86, ARM]);
    let first = plan_of(&path, &Built::default(), &opts).unwrap();
    assert_eq!(first.funnel.jobs, 22);

    let entry = |j: &cratemill::schema::plan::Job, status, class| BuiltEntry {
        crate_name: j.crate_name.clone(),
        version: j.version.clone(),
        target: j.target.clone(),
        status,
        failure_class: class,
        reference: None,
        digest: None,
        failed_runs: 1,
        failed_at: None,
    };
    let all_built = BuiltIndex::new(first.jobs.iter().map(|j| entry(j, Status::Built, None)).collect());
    let second = plan_of(&path, &Built::new(&all_built), &opts).unwrap();
    assert_eq!(second.funnel.jobs, 0);
    assert_eq!(second.funnel.skipped_built, 22);
    assert!(second.runs.is_empty());

    // needs-ssl failed for good on x86, timed out on arm; an older version of bin-only was built.
    let mut entries = Vec::new();
    for j in &first.jobs {
        match (j.crate_name.as_str(), j.target.as_str()) {
            ("needs-ssl", X86) => entries.push(entry(j, Status::Failed, Some(FailureClass::MissingSystemLibrary))),
            ("needs-ssl", _) => entries.push(entry(j, Status::Failed, Some(FailureClass::Timeout))),
            ("bin-only", _) => entries.push(BuiltEntry { version: "0.2.0".into(), ..entry(j, Status::Built, None) }),
            _ => {}
        }
    }
    let index = BuiltIndex::new(entries);
    let third = plan_of(&path, &Built::new(&index), &opts).unwrap();
    assert_eq!((third.funnel.jobs, third.funnel.skipped_failed, third.funnel.skipped_built), (21, 1, 0));
    assert!(!third.jobs.iter().any(|j| j.crate_name == "needs-ssl" && j.target == X86));
    let retry = plan_of(&path, &Built::new(&index), &Options { retry_failed: true, ..opts.clone() }).unwrap();
    assert_eq!(retry.funnel.jobs, 22);

    let no_risky = plan_of(&path, &Built::default(), &Options { skip_risky: true, ..opts.clone() }).unwrap();
    assert_eq!((no_risky.funnel.jobs, no_risky.funnel.skipped_risky), (18, 4));
    let capped = plan_of(&path, &Built::default(), &Options { max_jobs: Some(5), ..opts }).unwrap();
    assert_eq!((capped.funnel.jobs, capped.funnel.deferred), (5, 17));
}

#[test]
fn chunk_and_run_limits_hold_on_a_large_dump() {
    let dir = tempfile::tempdir().unwrap();
    let path = dump(dir.path(), &Spec { crates: 3_000, ..Default::default() });
    for chunk_size in [1usize, 7, 256] {
        let opts = Options { chunk_size, since: 0, ..options(cratemill::target::DEFAULT_MIRROR_TARGETS) };
        let plan = plan_of(&path, &Built::default(), &opts).unwrap();
        assert!(plan.funnel.jobs > 1_000, "{:?}", plan.funnel);
        let per_run = (50_000 / chunk_size).min(256);
        let mut seen = 0u64;
        for run in &plan.runs {
            assert!(run.chunks.len() <= per_run && run.chunks.len() <= 256);
            assert!(run.jobs <= 50_000);
            for c in &run.chunks {
                assert!(c.jobs as usize <= chunk_size && c.jobs > 0);
                assert!(plan.jobs[seen as usize..(seen + c.jobs as u64) as usize].iter().all(|j| j.chunk == c.id));
                seen += c.jobs as u64;
            }
        }
        assert_eq!(seen, plan.funnel.jobs);
        if chunk_size == 1 {
            assert!(plan.runs.len() > 4, "split into runs: {}", plan.runs.len());
        }
    }
}

fn targz(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (name, bytes) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, *bytes).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

fn error_of(bytes: &[u8]) -> anyhow::Error {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.tar.gz");
    std::fs::File::create(&path).unwrap().write_all(bytes).unwrap();
    let err = plan_of(&path, &Built::default(), &options(&[X86])).unwrap_err();
    assert_eq!(exit_of(&err), Exit::Usage, "{err:#}");
    err
}

#[test]
fn bad_dumps_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(dump(dir.path(), &Spec { crates: 200, ..Default::default() })).unwrap();

    let truncated = one_line(&error_of(&good[..good.len() / 2]));
    assert!(truncated.contains("not a readable gzip tar archive"), "{truncated}");

    let mut corrupt = good.clone();
    for b in &mut corrupt[good.len() / 3..good.len() / 3 + 64] {
        *b ^= 0x5a;
    }
    let corrupt = one_line(&error_of(&corrupt));
    assert!(corrupt.contains("not a readable gzip tar archive"), "{corrupt}");

    let not_gzip = one_line(&error_of(b"this is not a dump at all, just text"));
    assert!(not_gzip.contains("not a readable gzip tar archive"), "{not_gzip}");

    let missing = dump(dir.path(), &Spec { omit: Some("dependencies.csv"), ..Default::default() });
    let err = one_line(&plan_of(&missing, &Built::default(), &options(&[X86])).unwrap_err());
    assert!(err.contains("the dump has no data/dependencies.csv table"), "{err}");

    let no_column = targz(&[
        ("d/data/categories.csv", b"id,slug\n1,command-line-utilities\n"),
        ("d/data/crates.csv", b"id,name\n1,a\n"),
        ("d/data/crates_categories.csv", b"crate_id,category_id\n1,1\n"),
        (
            "d/data/versions.csv",
            b"id,crate_id,num,created_at,yanked,tar_sha256\n1,1,1.0.0,2025-01-01 00:00:00+00,f,\\x00\n",
        ),
        ("d/data/dependencies.csv", b"version_id,crate_id,optional,kind,features\n"),
    ]);
    let err = one_line(&error_of(&no_column));
    assert!(err.contains("dump table versions.csv has no `bin_names` column"), "{err}");

    let open_quote = targz(&[
        ("d/data/categories.csv", b"id,slug\n1,command-line-utilities\n"),
        ("d/data/crates.csv", b"id,name\n1,a\n2,\"b\n3,c\n"),
    ]);
    let err = one_line(&error_of(&open_quote));
    assert!(err.contains("dump table crates.csv is not valid CSV: record 3 has an unterminated quoted field"), "{err}");
}

/// `--group-targets` (issue #11): one job per crate carrying the targets still to build, the same
/// (crate, target) pairs as the ungrouped plan, chunked and capped by grouped jobs.
#[test]
fn grouped_targets_make_one_job_per_crate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dump(dir.path(), &Spec { crates: 300, ..Default::default() });
    let flat_opts = Options { chunk_size: 7, ..options(&[X86, ARM]) };
    let flat = plan_of(&path, &Built::default(), &flat_opts).unwrap();
    // One pair is built already: it leaves its crate's group, the crate keeps the other target.
    let done = &flat.jobs[0];
    let built = Built::new(&BuiltIndex::new(vec![BuiltEntry {
        crate_name: done.crate_name.clone(),
        version: done.version.clone(),
        target: done.target.clone(),
        status: Status::Built,
        failure_class: None,
        reference: None,
        digest: None,
        failed_runs: 0,
        failed_at: None,
    }]));
    let grouped_opts = Options { group_targets: true, ..flat_opts.clone() };
    let grouped = plan_of(&path, &built, &grouped_opts).unwrap();

    let mut want: Vec<(String, Vec<String>)> = Vec::new();
    for j in &flat.jobs[1..] {
        match want.last_mut() {
            Some((name, targets)) if *name == j.crate_name => targets.push(j.target.clone()),
            _ => want.push((j.crate_name.clone(), vec![j.target.clone()])),
        }
    }
    let got: Vec<(String, Vec<String>)> =
        grouped.jobs.iter().map(|j| (j.crate_name.clone(), j.targets.clone())).collect();
    assert_eq!(got, want);
    assert!(grouped.jobs.iter().all(|j| j.target.is_empty()));
    assert_eq!(grouped.jobs[0].targets, [ARM], "the built pair left the group");
    let f = &grouped.funnel;
    assert_eq!((f.jobs as usize, f.possible_jobs, f.skipped_built), (grouped.jobs.len(), flat.funnel.possible_jobs, 1));
    assert_eq!(f.per_target.values().map(|t| t.jobs).sum::<u64>(), flat.funnel.jobs - 1);
    // A grouped job is one matrix entry: chunks hold at most 7 of them.
    assert_eq!(grouped.runs.iter().map(|r| r.chunks.len()).sum::<usize>(), grouped.jobs.len().div_ceil(7));
    assert!(grouped.runs.iter().flat_map(|r| &r.chunks).all(|c| c.jobs <= 7));
    // The wire format: `targets` in grouped jobs, no `target`; `target` only in ungrouped ones.
    let json = serde_json::to_value(&grouped.jobs[1]).unwrap();
    assert!(json.get("target").is_none() && json["targets"] == serde_json::json!([X86, ARM]), "{json}");
    assert!(serde_json::to_value(&flat.jobs[0]).unwrap().get("targets").is_none());

    // --max-jobs counts grouped jobs; the pairs of the rest are deferred.
    let capped = plan_of(&path, &Built::default(), &Options { max_jobs: Some(3), ..grouped_opts }).unwrap();
    assert_eq!(capped.jobs.len(), 3);
    assert_eq!(capped.funnel.deferred, flat.funnel.jobs - 6);
}

/// `matrix` writes plan.json and the chunks one job at a time from the compact plan: what it writes
/// is exactly the materialized plan, grouped or not.
#[test]
fn streamed_plan_files_equal_the_materialized_plan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dump(dir.path(), &Spec { crates: 300, ..Default::default() });
    for group_targets in [false, true] {
        let opts = Options { chunk_size: 9, group_targets, ..options(&[X86, ARM]) };
        let mut collector = Collector::new();
        let report = cratemill::dump::read_file(&path, &mut collector).unwrap();
        let planned = plan::plan(collector.finish(), &report, &Built::default(), &opts);
        let out = dir.path().join(format!("out-{group_targets}"));
        cratemill::matrix::output::write(&out, &planned).unwrap();
        let written: Plan = cratemill::schema::read(&out.join("plan.json")).unwrap();
        let mut from_chunks = Vec::new();
        for chunk in written.runs.iter().flat_map(|r| &r.chunks) {
            let c: cratemill::schema::plan::Chunk =
                cratemill::schema::read(&out.join(format!("chunks/{}.json", chunk.id))).unwrap();
            assert!(c.jobs.iter().all(|j| j.chunk == chunk.id) && c.jobs.len() == chunk.jobs as usize);
            from_chunks.extend(c.jobs);
        }
        let whole = planned.into_plan();
        assert!(whole.jobs.len() > 40, "{}", whole.jobs.len());
        assert_eq!(written, whole);
        assert_eq!(from_chunks, whole.jobs);
    }
}
