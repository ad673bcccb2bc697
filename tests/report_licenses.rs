//! The report site's license inventory, end to end through the binary: fabricated results whose
//! `third_party` lists name their compiled packages -> `report --html` -> the licenses and how many
//! built packages carry each, the crates with problems, the binaries with copyleft code and the
//! dependency that brings it; a hostile license string is escaped; an older result is said.

#[path = "support/report_results.rs"]
mod results;

use results::{failed, job, published, published_licensed, run, s, ARM, X86};

/// The rows of `<table id="ID">`, each a list of its cells' inner HTML.
fn rows(html: &str, id: &str) -> Vec<Vec<String>> {
    let at = html.find(&format!("<table id=\"{id}\">")).unwrap_or_else(|| panic!("no table {id}"));
    let table = &html[at..at + html[at..].find("</table>").unwrap()];
    let body = table.split("<tbody>").nth(1).unwrap();
    body.split("<tr>")
        .skip(1)
        .map(|row| row.split("<td>").skip(1).map(|cell| cell.split("</td>").next().unwrap().to_string()).collect())
        .collect()
}

#[test]
fn the_site_counts_licenses_and_names_problems_and_copyleft() {
    let tmp = tempfile::tempdir().unwrap();
    let res = tmp.path().join("results");
    let hostile = "<script>alert('lic')</script>";
    published_licensed(
        &res,
        &job("ripgrep", "14.1.1", X86),
        &[("rg", 5_000_000)],
        &[("memchr", Some("Unlicense OR MIT")), ("dual", Some("MIT OR GPL-3.0-only")), ("bare", None)],
    );
    published_licensed(
        &res,
        &job("ripgrep", "14.1.1", ARM),
        &[("rg", 4_800_000)],
        &[("memchr", Some("Unlicense/MIT")), ("bare", None)],
    );
    published_licensed(
        &res,
        &job("gpltool", "1.0.0", X86),
        &[("gt", 1)],
        &[("readline-ish", Some("GPL-3.0+")), ("mpl-dep", Some("MPL-2.0")), ("odd", Some(hostile))],
    );
    published(&res, &job("oldtool", "0.1.0", X86), &[("old", 1)]);
    failed(&res, &job("broken", "0.1.0", X86), cratemill::schema::result::FailureClass::LinkError);
    let site = tmp.path().join("site");
    let (code, stderr) = run(&["report", s(&res), "--out", s(&tmp.path().join("index.json")), "--html", s(&site)]);
    assert_eq!(code, 0, "{stderr}");
    let html = std::fs::read_to_string(site.join("index.html")).unwrap();

    let licenses: Vec<(String, String, String)> =
        rows(&html, "licenses").into_iter().map(|r| (r[0].clone(), r[1].clone(), r[2].clone())).collect();
    let want = [
        ("MIT", "3", ""),
        ("Unlicense", "2", ""),
        ("GPL-3.0-only", "1", "GPL"),
        ("GPL-3.0-or-later", "1", "GPL"),
        ("MPL-2.0", "1", "MPL"),
    ];
    let want: Vec<(String, String, String)> =
        want.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
    assert_eq!(licenses, want, "3 built packages with lists; the failed and the old one are not counted");
    assert!(html.contains("1 built package(s) predate license lists"), "the old result is said");

    let problems = rows(&html, "license-problems");
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(problems[0], ["bare", "1.0.0", "-", "no license", "2"]);
    assert_eq!(
        problems[1],
        [
            "odd",
            "1.0.0",
            "<code>&lt;script&gt;alert(&#39;lic&#39;)&lt;/script&gt;</code>",
            "not an SPDX expression",
            "1"
        ]
    );
    assert!(!html.contains(hostile), "the hostile expression is escaped everywhere");

    let copyleft = rows(&html, "copyleft");
    assert_eq!(
        copyleft,
        [[
            "gpltool@1.0.0 (x86_64-unknown-linux-musl)",
            "GPL, MPL",
            "readline-ish 1.0.0 (<code>GPL-3.0+</code>)<br>mpl-dep 1.0.0 (<code>MPL-2.0</code>)"
        ]],
        "ripgrep's `MIT OR GPL-3.0-only` dependency binds nothing"
    );
    let chart = &html[html.find("<svg id=\"chart-licenses\"").expect("license chart")..];
    assert!(chart.split("</svg>").next().unwrap().contains("<rect class=\"bar\""));
}
