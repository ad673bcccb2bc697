//! The `report --html` page in a real browser: headless Chromium (Debian's `chromium`, installed by
//! tests/setup/40-chromium.sh) loads it offline (every host unresolvable), runs its script, and
//! must log no console message; the SVG charts (the license inventory's too) and the table must
//! be in the rendered DOM.
//! A page with a deliberate error shows that console errors are seen.

#[path = "support/report_results.rs"]
mod results;

use std::path::Path;
use std::process::Command;

use cratemill::schema::result::FailureClass;
use results::{failed, job, published, published_licensed, run, s, Job, ARM, X86};

/// Load `page` in headless Chromium: (the DOM after scripts ran, console lines).
fn chromium(page: &Path, extra: &[&str]) -> (String, Vec<String>) {
    let found =
        std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("chromium").is_file()));
    assert!(
        found,
        "`chromium` is required by this test: run `bash tests/setup/40-chromium.sh` (apt-get install chromium)"
    );
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("timeout")
        .arg("90")
        .arg("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    let console =
        String::from_utf8_lossy(&out.stderr).lines().filter(|l| l.contains(":CONSOLE")).map(str::to_string).collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

#[test]
fn console_errors_are_seen() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("bad.html");
    std::fs::write(&page, "<!DOCTYPE html><html><body><script>nosuchfn();</script></body></html>").unwrap();
    let (_, console) = chromium(&page, &["--dump-dom"]);
    assert!(console.iter().any(|l| l.contains("nosuchfn is not defined")), "{console:?}");
}

#[test]
fn site_loads_offline_without_console_messages_and_shows_the_charts() {
    let tmp = tempfile::tempdir().unwrap();
    let res = tmp.path().join("results");
    let classes = [FailureClass::MissingSystemLibrary, FailureClass::BuildScriptFailed, FailureClass::LinkError];
    for (i, class) in classes.iter().enumerate() {
        failed(&res, &Job { build_ms: 400_000 * i as u64, ..job(&format!("native-{i}"), "0.3.0", ARM) }, *class);
    }
    published(&res, &Job { build_ms: 95_000, ..job("ripgrep", "14.1.1", X86) }, &[("rg", 5_000_000)]);
    published(&res, &job("ripgrep", "14.1.1", ARM), &[("rg", 4_800_000)]);
    let deps = [("clap", Some("MIT OR Apache-2.0")), ("gpl-dep", Some("GPL-3.0-only")), ("odd", Some("<b>x</b>"))];
    published_licensed(&res, &Job { build_ms: 20_000, ..job("hexyl", "0.17.0", X86) }, &[("hexyl", 900_000)], &deps);
    published(&res, &job("<script>alert(1)</script>", "1.0.0", X86), &[("x", 1)]);
    let out = tmp.path().join("index.json");
    let site = tmp.path().join("site");
    let (code, stderr) = run(&["report", s(&res), "--out", s(&out), "--html", s(&site)]);
    assert_eq!(code, 0, "{stderr}");

    let (dom, console) = chromium(&site.join("index.html"), &["--dump-dom"]);
    assert!(console.is_empty(), "console messages: {console:?}");
    assert!(dom.contains("data-ready=\"1\""), "the page's script ran");
    assert!(dom.contains("<span id=\"count\">6 of 6 crates</span>"), "the search counted the rows");
    for id in ["chart-funnel", "chart-targets", "chart-classes", "chart-times", "chart-licenses"] {
        let at = dom.find(&format!("<svg id=\"{id}\"")).unwrap_or_else(|| panic!("{id} missing"));
        assert!(dom[at..].split("</svg>").next().unwrap().contains("<rect class=\"bar\""), "{id} has bars");
    }
    assert!(dom.contains("cratemill install ripgrep@14.1.1 --from ghcr.io/acme"), "install command");
    assert!(!dom.contains("<script>alert(1)"), "crate names are escaped");
    assert!(dom.contains("<table id=\"copyleft\">") && dom.contains("gpl-dep 1.0.0"), "the copyleft list");
    assert!(!dom.contains("<b>x</b>"), "license strings are escaped");
}
