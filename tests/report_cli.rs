//! `cratemill report` end to end through the binary, closing the incremental loop: plan, job
//! outcomes, report -> built index, and the next plan skips what is published or failed for good.

use std::path::{Path, PathBuf};
use std::process::Command;

use cratemill::dump::synth::{self, Spec};
use cratemill::schema::plan::{BuiltIndex, Job, Plan};
use cratemill::schema::publish::{PublishRecord, PushedReference, ReferenceKind};
use cratemill::schema::result::{BuildResult, Failure, FailureClass, Status};

fn run(args: &[&str], env: &[(&str, &Path)]) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cratemill"));
    cmd.args(args).env_remove("GITHUB_ACTIONS").env_remove("GITHUB_OUTPUT").env_remove("GITHUB_STEP_SUMMARY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Write one job's folder: result.json, and publish.json when it was published.
fn outcome(dir: &Path, job: &Job, failure: Option<FailureClass>, publish: bool, finished: &str) -> PathBuf {
    let folder = dir.join(format!("{}-{}-{}", job.crate_name, job.version, job.target));
    let mut r = BuildResult::new(&job.crate_name, &job.version, &job.target, cratemill::schema::Backend::Cross);
    r.finished_at = finished.into();
    r.status = if failure.is_some() { Status::Failed } else { Status::Built };
    r.failure = failure.map(|class| Failure {
        class,
        phase: cratemill::schema::Phase::Build,
        message: format!("{class} in {}", job.crate_name),
        evidence: vec![],
    });
    cratemill::schema::write(&folder.join("result.json"), &r).unwrap();
    if publish {
        let mut p = PublishRecord::new(&job.crate_name, &job.version, &job.target, "ghcr.io/acme");
        p.references.push(PushedReference {
            reference: format!("ghcr.io/acme/{}:{}-{}", job.crate_name, job.version, job.target),
            digest: format!("sha256:{:064x}", 7),
            kind: ReferenceKind::Binary,
            artifact_type: String::new(),
            unchanged: false,
            blobs_uploaded: 1,
            blobs_present: 0,
            layers: vec![],
        });
        cratemill::schema::write(&folder.join("publish.json"), &p).unwrap();
    }
    folder
}

#[test]
fn report_feeds_the_next_plan() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump.tar.gz");
    synth::write(&Spec::default(), &dump).unwrap();
    let plan_dir = dir.path().join("plan");
    let plan_args = [
        "matrix",
        "--dump",
        dump.to_str().unwrap(),
        "--since",
        "2025-01-01",
        "--targets",
        "x86_64-unknown-linux-musl,aarch64-unknown-linux-musl",
        "--out",
        plan_dir.to_str().unwrap(),
    ];
    assert_eq!(run(&plan_args, &[]).0, 0);
    let plan: Plan = cratemill::schema::read(&plan_dir.join("plan.json")).unwrap();
    assert_eq!(plan.jobs.len(), 22);

    // The fleet ran every job: one compile error (permanent), one timeout (transient), one built
    // but not published, the rest published.
    let results = dir.path().join("results");
    for (i, job) in plan.jobs.iter().enumerate() {
        match i {
            0 => outcome(&results, job, Some(FailureClass::CompileError), false, "2026-11-01T00:00:00Z"),
            1 => outcome(&results, job, Some(FailureClass::Timeout), false, "2026-11-01T00:00:00Z"),
            2 => outcome(&results, job, None, false, "2026-11-01T00:00:00Z"),
            _ => outcome(&results, job, None, true, "2026-11-01T00:00:00Z"),
        };
    }
    let state = dir.path().join("state");
    let built = state.join("built.json");
    let (gh_out, gh_sum) = (dir.path().join("gh-output"), dir.path().join("gh-summary"));
    let env = [
        ("GITHUB_ACTIONS", Path::new("true")),
        ("GITHUB_OUTPUT", gh_out.as_path()),
        ("GITHUB_STEP_SUMMARY", gh_sum.as_path()),
    ];
    let (code, stderr) = run(
        &[
            "report",
            results.to_str().unwrap(),
            "--previous",
            built.to_str().unwrap(),
            "--previous-optional",
            "--out",
            built.to_str().unwrap(),
        ],
        &env,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("read 22 outcome(s) (0 unreadable); 19 published, 1 built but not published, 2 failed"),
        "{stderr}"
    );
    let index: BuiltIndex = cratemill::schema::read(&built).unwrap();
    assert_eq!(index.entries.len(), 21, "the unpublished build is not in the index");
    let failed: Vec<_> = index.entries.iter().filter(|e| e.status == Status::Failed).map(|e| e.failure_class).collect();
    assert_eq!(failed.len(), 2);
    let report = std::fs::read_to_string(state.join("report.md")).unwrap();
    assert!(report.contains("22 job outcome(s): **19 published**, 1 built but not published (planned again), 2 failed; success rate 90.9%"), "{report}");
    assert!(
        report.contains("| `compile-error` | 1 | no (`--retry-failed`) |")
            && report.contains("| `timeout` | 1 | yes |"),
        "{report}"
    );
    assert_eq!(std::fs::read_to_string(&gh_sum).unwrap(), report);
    let outputs = std::fs::read_to_string(&gh_out).unwrap();
    assert!(
        outputs.contains("published=19\n") && outputs.contains("failed=2\n") && outputs.contains("jobs=22\n"),
        "{outputs}"
    );

    // The next tick plans the timeout and the unpublished build again, nothing else.
    let mut again = plan_args.to_vec();
    again.extend(["--built", built.to_str().unwrap()]);
    let (code, stderr) = run(&again, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("planned 2 jobs") && stderr.contains("19 already built, 1 failed before"), "{stderr}");
    let replan: Plan = cratemill::schema::read(&plan_dir.join("plan.json")).unwrap();
    let mut replanned: Vec<&Job> = replan.jobs.iter().collect();
    replanned.sort_by_key(|j| (&j.crate_name, &j.target));
    let mut want = [&plan.jobs[1], &plan.jobs[2]];
    want.sort_by_key(|j| (&j.crate_name, &j.target));
    assert_eq!(
        replanned.iter().map(|j| (&j.crate_name, &j.target)).collect::<Vec<_>>(),
        want.iter().map(|j| (&j.crate_name, &j.target)).collect::<Vec<_>>()
    );

    // Both get built and published later: merged into the previous index, the next plan is empty.
    let later = dir.path().join("later");
    outcome(&later, &plan.jobs[1], None, true, "2026-11-02T00:00:00Z");
    outcome(&later, &plan.jobs[2], None, true, "2026-11-02T00:00:00Z");
    let (code, stderr) = run(
        &["report", later.to_str().unwrap(), "--previous", built.to_str().unwrap(), "--out", built.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, stderr) = run(&again, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("planned 0 jobs") && stderr.contains("21 already built, 1 failed before"), "{stderr}");
}

#[test]
fn bad_outcomes_exit_2_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("built.json");
    let o = out.to_str().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (code, stderr) = run(&["report", empty.to_str().unwrap(), "--out", o], &[]);
    assert_eq!((code, stderr.trim()), (2, format!("error: no result.json found in {}", empty.display()).as_str()));

    let job = Job {
        crate_name: "tool".into(),
        version: "1.0.0".into(),
        target: "x86_64-unknown-linux-musl".into(),
        targets: vec![],
        checksum: String::new(),
        bin_names: vec![],
        risk: None,
        chunk: "0001".into(),
    };
    let good = outcome(&dir.path().join("r"), &job, None, true, "2026-11-01T00:00:00Z");
    let broken = dir.path().join("r/broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("result.json"), "{\"kind\": \"cratemill.build-result\", \"schema_version\": 1").unwrap();
    let (code, stderr) = run(&["report", dir.path().join("r").to_str().unwrap(), "--out", o, "--strict"], &[]);
    assert_eq!(code, 2, "{stderr}");
    let last = stderr.trim().lines().last().unwrap();
    assert!(
        last.starts_with("error: 1 of 2 result file(s) could not be read (first: ")
            && last.contains("broken/result.json")
            && last.contains("drop --strict"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing written");

    // publish.json of another job next to a result.json.
    std::fs::remove_dir_all(&broken).unwrap();
    let other = Job { crate_name: "other".into(), ..job.clone() };
    let other_dir = outcome(&dir.path().join("o"), &other, None, true, "2026-11-01T00:00:00Z");
    std::fs::copy(other_dir.join("publish.json"), good.join("publish.json")).unwrap();
    let (code, stderr) = run(&["report", good.join("result.json").to_str().unwrap(), "--out", o], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("is about other@1.0.0") && stderr.contains("nothing written"), "{stderr}");
    assert!(!out.exists(), "nothing written");
    let (code, stderr) = run(&["report", "/nonexistent/results", "--out", o], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("/nonexistent/results"), "{stderr}");
}
