//! `cratemill report --open-issues` through the binary against a GitHub REST stand-in on
//! 127.0.0.1 (`support/github_api.rs`): one issue per failing crate version with every failed
//! target listed, none again on a second run (the search finds the marker), skips counted by
//! reason (not on GitHub, class not reported, no repository, repository not found, issues
//! disabled), `--dry-run` sends no POST, a secondary rate limit (403 + Retry-After: 1) is waited
//! for and retried, a missing, bad or under-privileged token is one exit-2 line, and under Actions
//! the step outputs `issues` and `issues-opened` name issues.json and the count opened.

#[path = "support/crates_io_api.rs"]
mod crates_io_api;
#[path = "support/github_api.rs"]
mod github_api;
#[path = "support/report_results.rs"]
mod report_results;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use cratemill::schema::report::{IssueList, IssueOutcome};
use cratemill::schema::result::{BuildResult, FailureClass, PackageMeta};
use github_api::{GithubApi, Repo};
use report_results::{failed, job, s, ARM, X86};

const TOKEN: &str = "github_pat_test";

/// A failed job whose result records `repository`.
fn failing(dir: &Path, name: &str, target: &str, class: FailureClass, repository: Option<&str>) -> PathBuf {
    let folder = failed(dir, &job(name, "1.0.0", target), class);
    let file = folder.join("result.json");
    let mut r: BuildResult = cratemill::schema::read(&file).unwrap();
    r.package = Some(PackageMeta { repository: repository.map(str::to_string), ..PackageMeta::default() });
    cratemill::schema::write(&file, &r).unwrap();
    folder
}

/// `cratemill report RESULTS --out OUT --open-issues EXTRA...` with the stand-in's URL and `token`.
fn report(results: &Path, out: &Path, api: &str, token: Option<&str>, extra: &[&str]) -> Output {
    command(results, out, api, token, extra).output().unwrap()
}

/// [`report`] as a step of a GitHub Actions job: the lines it wrote to `$GITHUB_OUTPUT`.
fn report_step(results: &Path, out: &Path, api: &str, extra: &[&str]) -> Vec<String> {
    let runner = tempfile::tempdir().unwrap();
    let (outputs, summary) = (runner.path().join("output"), runner.path().join("summary"));
    let o = command(results, out, api, Some(TOKEN), extra)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    std::fs::read_to_string(&outputs).unwrap().lines().map(str::to_string).collect()
}

fn command(results: &Path, out: &Path, api: &str, token: Option<&str>, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cratemill"));
    c.args(["report", s(results), "--out", s(&out.join("index.json")), "--open-issues"]).args(extra);
    for k in ["GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_TOKEN", "CRATEMILL_TEST_TOKEN"] {
        c.env_remove(k);
    }
    c.env("GITHUB_API_URL", api);
    // crates.io lists every crate's repository as example/<crate>, as the results do.
    c.env("CRATEMILL_CRATES_IO_API", crates_io_api::CratesIoApi::start("example", &[]).url);
    if let Some(t) = token {
        c.env("GITHUB_TOKEN", t);
    }
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn issues_json(out: &Path) -> IssueList {
    cratemill::schema::read(&out.join("issues.json")).unwrap()
}

fn outcome_of(list: &IssueList, name: &str) -> IssueOutcome {
    list.issues.iter().find(|e| e.crate_name == name).unwrap_or_else(|| panic!("{name} not recorded")).outcome
}

/// The fleet: a crate failing on two targets (its own compile error and build script), and one
/// crate for each reason to skip.
fn fleet(dir: &Path) -> PathBuf {
    let results = dir.join("results");
    let gh = |n: &str| format!("https://github.com/example/{n}");
    failing(
        &results,
        "broken-tool",
        X86,
        FailureClass::CompileError,
        Some("https://www.github.com/example/broken-tool.git"),
    );
    failing(&results, "broken-tool", ARM, FailureClass::BuildScriptFailed, Some(&gh("broken-tool")));
    failing(&results, "elsewhere", X86, FailureClass::CompileError, Some("https://gitlab.com/example/elsewhere"));
    failing(&results, "slow-tool", X86, FailureClass::Timeout, Some(&gh("slow-tool")));
    failing(&results, "no-repo", X86, FailureClass::CompileError, None);
    failing(&results, "gone", X86, FailureClass::CompileError, Some(&gh("gone")));
    failing(&results, "quiet", X86, FailureClass::BuildScriptFailed, Some(&format!("{}/tree/main/cli", gh("quiet"))));
    results
}

fn stand_in() -> GithubApi {
    GithubApi::start(
        TOKEN,
        &[
            ("example/broken-tool", Repo::Open),
            ("example/slow-tool", Repo::Open),
            ("example/quiet", Repo::IssuesDisabled),
        ],
    )
}

#[test]
fn one_issue_per_crate_version_and_never_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let results = fleet(tmp.path());
    let api = stand_in();
    let out = tmp.path().join("out");

    let o = report(&results, &out, &api.url, Some(TOKEN), &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let issues = api.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    let issue = &issues[0];
    assert_eq!(issue.repo, "example/broken-tool");
    assert_eq!(
        issue.title,
        format!("cratemill: broken-tool 1.0.0 fails to build for {ARM}, {X86} (build-script-failed, compile-error)")
    );
    assert!(issue.body.starts_with("<!-- cratemill:broken-tool@1.0.0 -->"), "{}", issue.body);
    assert!(
        issue.body.contains("error: evidence for compile-error")
            && issue.body.contains("error: evidence for build-script-failed")
    );
    let posts = api.posts();
    assert_eq!(posts.len(), 2, "broken-tool, and quiet (410): {posts:?}");
    assert!(posts.iter().all(|p| p.authorization == format!("Bearer {TOKEN}")));
    let searches: Vec<String> = api.requests().iter().filter(|r| r.method == "GET").filter_map(|r| r.query()).collect();
    assert!(
        searches.contains(&"repo:example/broken-tool in:body \"cratemill:broken-tool@1.0.0\"".to_string()),
        "{searches:?}"
    );
    assert_eq!(searches.len(), 3, "only GitHub repositories with a reported class are searched: {searches:?}");
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains("issues: opened 1, already reported 0, skipped 5 (class not reported upstream 1, no repository 1, not on GitHub 1, repository not found 1, issues disabled 1)"),
        "{stderr}"
    );
    assert_eq!(text(&o.stdout).trim(), "opened https://github.com/example/broken-tool/issues/1");
    let list = issues_json(&out);
    assert!(!list.dry_run);
    assert_eq!(outcome_of(&list, "broken-tool"), IssueOutcome::Opened);
    assert_eq!(list.issues.iter().find(|e| e.crate_name == "broken-tool").unwrap().number, Some(1));
    assert_eq!(outcome_of(&list, "elsewhere"), IssueOutcome::NotOnGithub);
    assert_eq!(outcome_of(&list, "slow-tool"), IssueOutcome::ClassNotReported);
    assert_eq!(outcome_of(&list, "no-repo"), IssueOutcome::NoRepository);
    assert_eq!(outcome_of(&list, "gone"), IssueOutcome::RepositoryNotFound);
    assert_eq!(outcome_of(&list, "quiet"), IssueOutcome::IssuesDisabled);

    // The next run finds the issue and opens nothing.
    let o = report(&results, &out, &api.url, Some(TOKEN), &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(api.issues().len(), 1);
    let posts = api.posts();
    assert_eq!(posts.len(), 3, "only quiet is tried again (issues disabled): {posts:?}");
    assert!(posts[2].target.starts_with("/repos/example/quiet/issues"));
    assert!(text(&o.stderr).contains("issues: opened 0, already reported 1,"), "{}", text(&o.stderr));
    let list = issues_json(&out);
    let entry = list.issues.iter().find(|e| e.crate_name == "broken-tool").unwrap();
    assert_eq!(
        (entry.outcome, entry.url.as_deref()),
        (IssueOutcome::AlreadyReported, Some("https://github.com/example/broken-tool/issues/1"))
    );
}

#[test]
fn step_outputs_name_issues_json_and_how_many_were_opened() {
    let tmp = tempfile::tempdir().unwrap();
    let results = fleet(tmp.path());
    let api = stand_in();
    let out = tmp.path().join("out");
    let issues = out.join("issues.json");
    let dry = report_step(&results, &out, &api.url, &["--dry-run"]);
    assert!(dry.contains(&format!("issues={}", s(&issues))), "{dry:?}");
    assert!(dry.contains(&"issues-opened=0".to_string()), "a dry run opens none: {dry:?}");
    assert!(api.issues().is_empty());
    assert!(issues_json(&out).dry_run, "the output names the file just written");

    let custom = tmp.path().join("elsewhere.json");
    let real = report_step(&results, &out, &api.url, &["--issues", s(&custom)]);
    assert!(real.contains(&format!("issues={}", s(&custom))), "{real:?}");
    assert!(real.contains(&"issues-opened=1".to_string()), "{real:?}");
    assert_eq!(api.issues().len(), 1);
    let list: IssueList = cratemill::schema::read(&custom).unwrap();
    assert_eq!(outcome_of(&list, "broken-tool"), IssueOutcome::Opened);
    // The report's own outputs are still there.
    assert!(real.iter().any(|l| l.starts_with("built-index=")), "{real:?}");
}

#[test]
fn dry_run_posts_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let results = fleet(tmp.path());
    let api = stand_in();
    let out = tmp.path().join("out");
    let o = report(&results, &out, &api.url, Some(TOKEN), &["--dry-run"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(api.posts().is_empty(), "{:?}", api.posts());
    assert!(api.issues().is_empty());
    let stdout = text(&o.stdout);
    assert!(
        stdout.contains("would open in example/broken-tool: cratemill: broken-tool 1.0.0 fails to build for"),
        "{stdout}"
    );
    assert!(stdout.contains("would open in example/quiet"), "{stdout}");
    assert!(text(&o.stderr).contains("issues (dry run, nothing created): would open 2,"), "{}", text(&o.stderr));
    let list = issues_json(&out);
    assert!(list.dry_run);
    assert_eq!(outcome_of(&list, "broken-tool"), IssueOutcome::WouldOpen);
}

#[test]
fn a_secondary_rate_limit_is_waited_for_and_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    failing(&results, "broken-tool", X86, FailureClass::CompileError, Some("https://github.com/example/broken-tool"));
    let api = stand_in();
    api.fault(
        "POST",
        403,
        "retry-after: 1\r\n",
        r#"{"message":"You have exceeded a secondary rate limit and have been temporarily blocked from content creation. Please retry your request again later.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits","status":"403"}"#,
    );
    let out = tmp.path().join("out");
    let started = Instant::now();
    let o = report(&results, &out, &api.url, Some(TOKEN), &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After: 1 was waited for");
    assert_eq!(api.posts().len(), 2, "the limited POST and its retry");
    assert_eq!(api.issues().len(), 1, "created once");
    assert_eq!(outcome_of(&issues_json(&out), "broken-tool"), IssueOutcome::Opened);
}

#[test]
fn a_missing_bad_or_unprivileged_token_is_one_exit_2_line() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    failing(&results, "broken-tool", X86, FailureClass::CompileError, Some("https://github.com/example/broken-tool"));
    let api = stand_in();
    let out = tmp.path().join("out");

    let o = report(&results, &out, &api.url, None, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("--open-issues needs a GitHub token: set GITHUB_TOKEN"), "{}", text(&o.stderr));
    assert!(!out.join("index.json").exists(), "checked before anything is written");
    assert!(api.requests().is_empty());

    let o = report(&results, &out, &api.url, Some("wrong"), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let stderr = text(&o.stderr);
    assert!(stderr.contains("GitHub refused the token in GITHUB_TOKEN (401: Bad credentials)"), "{stderr}");
    assert_eq!(stderr.lines().filter(|l| l.starts_with("error")).count(), 1, "{stderr}");

    api.fault("POST", 403, "", r#"{"message":"Resource not accessible by personal access token","status":"403"}"#);
    let o = report(&results, &out, &api.url, Some(TOKEN), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let stderr = text(&o.stderr);
    assert!(stderr.contains("Issues: write") && stderr.contains("personal access token"), "{stderr}");
    assert_eq!(api.posts().len(), 1, "a refusal that is not a rate limit is not retried");
    assert!(api.issues().is_empty());
}
