//! `cratemill report` over a fleet's result files through the binary: every failure class,
//! multi-executable crates (two crates with the same executable name), a partial run merged with
//! the previous index, duplicates, corrupt files and other schema versions, and the outputs
//! `index.json`, `failures.json`, `report.md` and the `--html` site.

#[path = "support/report_results.rs"]
mod results;

use std::path::Path;

use cratemill::schema::plan::BuiltIndex;
use cratemill::schema::report::FailureList;
use cratemill::schema::result::{FailureClass, Status};
use results::{base, failed, job, published, run, s, Job, ALL_CLASSES, ARM, X86};

#[test]
fn every_failure_class_and_multi_executable_crates() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    for (i, class) in ALL_CLASSES.iter().enumerate() {
        let name = format!("broken-{i:02}");
        failed(&results, &Job { build_ms: 1000 * i as u64, ..job(&name, "0.1.0", ARM) }, *class);
    }
    // Two crates that both ship an executable called `fmt`; one has three executables on two targets.
    published(
        &results,
        &Job { build_ms: 3_000_000, ..job("toolbox", "2.0.0", X86) },
        &[("fmt", 9_000_000), ("lint", 10), ("run", 20)],
    );
    published(&results, &job("toolbox", "2.0.0", ARM), &[("fmt", 8_000_000), ("lint", 10), ("run", 20)]);
    published(&results, &job("fmtonly", "1.0.0", X86), &[("fmt", 5_000)]);
    let out = tmp.path().join("state/index.json");
    let site = tmp.path().join("site");
    let (code, stderr) = run(&["report", s(&results), "--out", s(&out), "--html", s(&site)]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("read 19 outcome(s) (0 unreadable); 3 published, 0 built but not published, 16 failed"),
        "{stderr}"
    );

    let index: BuiltIndex = cratemill::schema::read(&out).unwrap();
    assert_eq!(index.entries.len(), 19);
    let exes: Vec<(&str, &str, &str)> =
        index.executables.iter().map(|x| (x.crate_name.as_str(), x.target.as_str(), x.name.as_str())).collect();
    assert_eq!(
        exes,
        [
            ("fmtonly", X86, "fmt"),
            ("toolbox", ARM, "fmt"),
            ("toolbox", ARM, "lint"),
            ("toolbox", ARM, "run"),
            ("toolbox", X86, "fmt"),
            ("toolbox", X86, "lint"),
            ("toolbox", X86, "run")
        ],
        "keyed by crate and executable: two `fmt` never overwrite each other"
    );
    let fmt =
        index.executables.iter().find(|x| x.crate_name == "toolbox" && x.target == X86 && x.name == "fmt").unwrap();
    assert_eq!(
        (fmt.size, fmt.layer_digest.as_deref(), fmt.licenses.as_deref()),
        (9_000_000, Some(&*format!("sha256:{}", fmt.sha256)), Some("MIT"))
    );

    let failures: FailureList = cratemill::schema::read(&out.with_file_name("failures.json")).unwrap();
    assert_eq!(failures.failures.len(), 16);
    for (f, class) in failures.failures.iter().zip(ALL_CLASSES) {
        assert_eq!(f.class, class);
        assert_eq!(f.first_lines[0], format!("{class}: {} broke", f.crate_name));
        assert_eq!(f.first_lines[1], format!("error: evidence for {class}"));
        assert!(f.log.as_deref().is_some_and(|l| l.ends_with("/build.log") && Path::new(l).is_file()), "{f:?}");
    }

    let md = std::fs::read_to_string(out.with_file_name("report.md")).unwrap();
    for class in ALL_CLASSES {
        assert!(md.contains(&format!("| `{class}` | 1 |")), "{class} missing: {md}");
        assert!(md.contains(&format!("{class}: ")), "an example for {class}: {md}");
    }
    assert!(md.contains("2 published crate(s) with 4 executable(s): 2.00 per crate."), "{md}");
    assert!(md.contains("| 1 | 1 |\n| 2 | 0 |\n| 3 | 1 |"), "{md}");
    assert!(md.contains("| `aarch64-unknown-linux-musl` | 17 | 1 | 0 | 16 | 5.9% |"), "{md}");
    let slow = md.find("### Slowest builds (19)").unwrap();
    assert!(
        md[slow..].find("toolbox@2.0.0 (x86_64-unknown-linux-musl) | 3000.0 s").unwrap()
            < md[slow..].find("broken-15").unwrap(),
        "{md}"
    );
    let big = md.find("### Biggest executables (7)").unwrap();
    assert!(md[big..].contains("| toolbox@2.0.0 (x86_64-unknown-linux-musl) | `fmt` | 8.6 MiB |"), "{md}");
    assert!(!md.contains("Newly built"), "no previous index: no 'newly' lists");

    let page = std::fs::read_to_string(site.join("index.html")).unwrap();
    for id in ["chart-funnel", "chart-targets", "chart-classes", "chart-times"] {
        assert!(page.contains(&format!("<svg id=\"{id}\"")), "{id}");
    }
    assert!(page.contains("cratemill install toolbox@2.0.0 --from ghcr.io/acme"), "install command");
    assert!(
        !page.contains("<script src") && !page.contains("http://") && !page.contains("<link"),
        "nothing external is loaded"
    );
    assert_eq!(std::fs::read(site.join("index.json")).unwrap(), std::fs::read(&out).unwrap());
}

#[test]
fn partial_run_merges_with_previous_index_and_duplicates_count_once() {
    let tmp = tempfile::tempdir().unwrap();
    let run1 = tmp.path().join("run1");
    published(&run1, &job("alpha", "1.0.0", X86), &[("alpha", 100), ("alpha-helper", 50)]);
    failed(&run1, &job("beta", "1.0.0", X86), FailureClass::CompileError);
    published(&run1, &job("gamma", "3.0.0", X86), &[("gamma", 100)]);
    let index = tmp.path().join("index.json");
    let (code, stderr) = run(&["report", s(&run1), "--previous", s(&index), "--out", s(&index)]);
    assert_eq!(code, 2, "a missing --previous is an error: {stderr}");
    assert!(stderr.contains("--previous-optional") && !index.exists(), "{stderr}");
    let (code, stderr) = run(&["report", s(&run1), "--previous", s(&index), "--previous-optional", "--out", s(&index)]);
    assert_eq!(code, 0, "{stderr}");

    // The next, partial run: beta fixed, delta fails (an older outcome of delta says timeout; the
    // newer says link-error), one file named three times, one corrupt file, one from a newer schema.
    let run2 = tmp.path().join("run2");
    let beta =
        published(&run2, &Job { finished: "2026-11-02T00:00:00Z", ..job("beta", "1.0.0", X86) }, &[("beta", 10)]);
    failed(&run2, &Job { finished: "2026-11-02T00:00:00Z", ..job("delta", "0.9.0", X86) }, FailureClass::Timeout);
    failed(&run2, &Job { finished: "2026-11-03T00:00:00Z", ..job("delta", "0.9.0", X86) }, FailureClass::LinkError);
    let corrupt = run2.join("corrupt");
    std::fs::create_dir_all(&corrupt).unwrap();
    std::fs::write(corrupt.join("result.json"), "{\"schema_version\": 1, \"kind\": \"cratemill.build-res").unwrap();
    let future = run2.join("future");
    std::fs::create_dir_all(&future).unwrap();
    let mut v2 = serde_json::to_value(base(&job("zeta", "1.0.0", X86))).unwrap();
    v2["schema_version"] = 2.into();
    std::fs::write(future.join("result.json"), v2.to_string()).unwrap();
    let beta_file = beta.join("result.json");
    let args = ["report", s(&run2), s(&beta_file), s(&beta_file), "--previous", s(&index), "--out", s(&index)];
    let (code, stderr) = run(&args);
    assert_eq!(code, 0, "one bad file does not abort: {stderr}");
    assert!(stderr.contains("warning: skipped") && stderr.contains("corrupt/result.json"), "{stderr}");
    assert!(stderr.contains("future/result.json: ") && stderr.contains("schema_version 2 is newer"), "{stderr}");
    assert!(
        stderr.contains("read 3 outcome(s) (2 unreadable); 1 published, 0 built but not published, 1 failed"),
        "{stderr}"
    );

    let merged: BuiltIndex = cratemill::schema::read(&index).unwrap();
    let got: Vec<(&str, Status, Option<FailureClass>)> =
        merged.entries.iter().map(|e| (e.crate_name.as_str(), e.status, e.failure_class)).collect();
    assert_eq!(
        got,
        [
            ("alpha", Status::Built, None),
            ("beta", Status::Built, None),
            ("delta", Status::Failed, Some(FailureClass::LinkError)),
            ("gamma", Status::Built, None)
        ],
        "the partial run kept what was built before; the newest outcome of delta won"
    );
    let names: Vec<&str> = merged.executables.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["alpha", "alpha-helper", "beta", "gamma"]);

    let md = std::fs::read_to_string(tmp.path().join("report.md")).unwrap();
    for row in [
        "| result files | 5 |",
        "| unreadable (skipped) | 2 |",
        "| same file named twice (counted once) | 2 |",
        "| read | 3 |",
        "| older outcomes of the same job (newest wins) | 1 |",
        "| jobs | 2 |",
    ] {
        assert!(md.contains(row), "{row}: {md}");
    }
    assert!(md.contains("### Newly built since the previous index (1)\n\n| job |\n| --- |\n| beta@1.0.0 (x86_64-unknown-linux-musl) |"), "{md}");
    assert!(
        md.contains("### Newly failing since the previous index (1)")
            && md.contains("| delta@0.9.0 (x86_64-unknown-linux-musl) | `link-error` |"),
        "{md}"
    );
    assert!(
        md.contains("### Unreadable result files (2)")
            && md.contains("schema_version 2 is newer than this cratemill understands"),
        "{md}"
    );

    // --strict refuses the same inputs and writes nothing.
    let strict_out = tmp.path().join("strict/index.json");
    let (code, stderr) = run(&["report", s(&run2), "--previous", s(&index), "--out", s(&strict_out), "--strict"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(!strict_out.exists() && !tmp.path().join("strict").exists());
}
