//! `cratemill fleet` through the binary: the table on stdout, `fleet.json` read back, and bad input
//! as exit 2 with one `error:` line.

use std::path::Path;
use std::process::{Command, Output};

use cratemill::schema::fleet::FleetReport;

const TARGETS: [&str; 4] = [
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-musl",
    "riscv64gc-unknown-linux-musl",
    "loongarch64-unknown-linux-musl",
];

/// A plan.json of `crates` crates x 4 targets, as `cratemill matrix` writes it (the fields fleet reads).
fn write_plan(path: &Path, crates: usize) {
    let jobs: Vec<serde_json::Value> = (0..crates)
        .flat_map(|c| {
            TARGETS.iter().map(move |t| {
                serde_json::json!({"crate": format!("crate-{c:05}"), "version": "1.0.0", "target": t,
                    "checksum": "00", "bin_names": [], "chunk": "0001"})
            })
        })
        .collect();
    let plan = serde_json::json!({"schema_version": 1, "kind": "cratemill.plan", "chunk_size": 256, "jobs": jobs});
    std::fs::write(path, serde_json::to_vec(&plan).unwrap()).unwrap();
}

fn fleet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cratemill")).arg("fleet").args(args).output().unwrap()
}

#[test]
fn simulates_both_shapes_and_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let (plan, out) = (dir.path().join("plan.json"), dir.path().join("fleet.json"));
    write_plan(&plan, 150);
    let o = fleet(&[
        plan.to_str().unwrap(),
        "--concurrency",
        "20,500",
        "--mean-build",
        "3m",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("| per-target | 1 | 3 | 600 |"), "{table}");
    assert!(table.contains("| grouped | 1 | 1 | 150 |"), "{table}");
    let r: FleetReport = cratemill::schema::read(&out).unwrap();
    assert_eq!((r.crates, r.builds, r.parameters.mean_build_secs), (150, 600, 180));
    // 150 crates at 256 per 3 h: 1.76 h.
    assert_eq!(r.baseline.wall_clock_secs, (3 * 3600 * 150_u64).div_ceil(256));
    let per = &r.shapes[0];
    assert_eq!(per.estimates.iter().map(|e| e.concurrency).collect::<Vec<_>>(), [20, 500]);
    // 600 builds of 3.5 min on 20 runners need at least 105 minutes; on 500 two waves.
    assert!(per.estimates[0].wall_clock_secs >= 600 * 210 / 20);
    assert!(per.estimates[1].wall_clock_secs < per.estimates[0].wall_clock_secs);
    assert!(per.limits.iter().all(|l| l.ok), "{:?}", per.limits);
    assert!(r.shapes[1].estimates[0].runner_minutes < per.estimates[0].runner_minutes);
}

/// `--grouped-build-percent`: grouped jobs build their targets in that share of their sum; the
/// per-target shape, one target per job, is unchanged.
#[test]
fn grouped_build_percent_shortens_grouped_jobs_only() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.json");
    write_plan(&plan, 150);
    let report = |percent: &str| -> FleetReport {
        let out = dir.path().join(format!("fleet-{percent}.json"));
        let o = fleet(&[
            plan.to_str().unwrap(),
            "--concurrency",
            "20",
            "--grouped-build-percent",
            percent,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("grouped builds {percent}%")));
        cratemill::schema::read(&out).unwrap()
    };
    let (serial, overlapped) = (report("100"), report("54"));
    assert_eq!(overlapped.parameters.grouped_build_percent, 54);
    let minutes = |r: &FleetReport, shape: usize| r.shapes[shape].estimates[0].runner_minutes;
    assert_eq!(minutes(&serial, 0), minutes(&overlapped, 0), "per-target jobs build one target each");
    // 150 grouped jobs of 30 s + 4 x 2 min: 8 min 30 s each at 100%, 30 s + 4 min 19 s at 54%.
    assert!(
        minutes(&overlapped, 1) < minutes(&serial, 1) * 6 / 10,
        "{} vs {}",
        minutes(&overlapped, 1),
        minutes(&serial, 1)
    );
    assert_eq!(fleet(&[plan.to_str().unwrap(), "--grouped-build-percent", "0"]).status.code(), Some(2));
}

#[test]
fn bad_input_is_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let chunk = dir.path().join("0001.json");
    std::fs::write(&chunk, r#"{"schema_version":1,"kind":"cratemill.chunk","id":"0001","run":1,"jobs":[]}"#).unwrap();
    let missing = dir.path().join("missing.json");
    for args in [
        vec![missing.to_str().unwrap()],
        vec![chunk.to_str().unwrap()],
        vec![chunk.to_str().unwrap(), "--concurrency", "0"],
        vec![chunk.to_str().unwrap(), "--mean-build", "7h"],
    ] {
        let o = fleet(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.starts_with("error: "), "{args:?}: {err}");
    }
    let o = fleet(&[chunk.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cratemill.plan") && err.contains("cratemill matrix"), "{err}");
}
