//! What `report --open-issues` would tell upstream: which failure classes are worth an issue,
//! which repository URLs are on GitHub, one candidate per failing crate version (all its failed
//! targets together), and the issue's title, body and de-duplication marker. Pure logic: the
//! GitHub calls are in [`super::issues`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::schema::report::{FailureEntry, IssueOutcome};
use crate::schema::result::FailureClass;

/// The crates.io API root (`--crates-io-api`).
pub const CRATES_IO_API: &str = "https://crates.io/api/v1";

/// Which repositories may get an issue, beyond the crate's own claim: `--issues-allow`, and the
/// repository crates.io lists for each crate (looked up by [`super::issues`]).
#[derive(Debug, Clone, Default)]
pub struct RepoRule {
    /// `OWNER/REPO`, compared without regard to case.
    pub allow: Vec<String>,
}

impl RepoRule {
    /// Pure: may an issue about a crate that names `repo` (`OWNER/REPO`) be opened there, given
    /// the repository URL crates.io lists for the crate (`None`: none, or the lookup failed)?
    /// Only when `--issues-allow` names it, or crates.io lists the same GitHub repository.
    pub fn confirms(&self, repo: &str, crates_io: Option<&str>) -> Result<(), IssueOutcome> {
        let same = |other: &str| other.eq_ignore_ascii_case(repo);
        if self.allow.iter().any(|a| same(a.trim())) {
            return Ok(());
        }
        match crates_io.and_then(github_repo) {
            Some(listed) if same(&listed) => Ok(()),
            _ => Err(IssueOutcome::RepositoryUnconfirmed),
        }
    }

    /// Is `repo` on the allow-list (so no crates.io lookup is needed)?
    pub fn allows(&self, repo: &str) -> bool {
        self.allow.iter().any(|a| a.trim().eq_ignore_ascii_case(repo))
    }
}

/// At most this many characters of one evidence line go into an issue.
const LINE_CAP: usize = 300;

/// Is a failure of this class the crate's to fix (and so worth an upstream issue)? The table in
/// docs/report.md mirrors this match; every class is decided here (no wildcard), so a new class
/// needs a decision.
pub fn worth_reporting(class: FailureClass) -> bool {
    match class {
        // The crate's own code or build script fails: upstream can act on it.
        // A dependency that no longer compiles, after the ladder lifted it and resolved fresh: the
        // crate can move off it (reported as `compile-error` was before `depends-on`).
        FailureClass::BuildScriptFailed | FailureClass::CompileError | FailureClass::DependsOn => true,
        // Our environment, infrastructure or choices: upstream cannot fix these.
        FailureClass::MissingSystemLibrary
        | FailureClass::LinkError
        | FailureClass::UnsupportedTarget
        | FailureClass::NoExecutables
        | FailureClass::Timeout
        | FailureClass::OutOfResources
        | FailureClass::FetchFailed
        | FailureClass::ChecksumMismatch
        | FailureClass::UnsafeArchive
        | FailureClass::RustVersion
        | FailureClass::NotStatic
        | FailureClass::SmokeCrashed
        | FailureClass::NotFound
        | FailureClass::Unknown
        | FailureClass::UnknownFeature
        | FailureClass::LockedVersionUnavailable
        | FailureClass::NightlyBreakage
        | FailureClass::Oom
        | FailureClass::NoSpace
        | FailureClass::NetworkAccess
        | FailureClass::Ice
        | FailureClass::Broken => false,
    }
}

/// `OWNER/REPO` when `url` is a GitHub repository (`https://github.com/OWNER/REPO`, also with
/// `http`, `www.`, `git+`, a `.git` suffix, a trailing slash or a subpath like `/tree/main/x`).
pub fn github_repo(url: &str) -> Option<String> {
    let url = url.trim();
    let url = url.strip_prefix("git+").unwrap_or(url);
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/')?;
    let host = host.to_ascii_lowercase();
    if host != "github.com" && host != "www.github.com" {
        return None;
    }
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let mut parts = path.split('/').filter(|p| !p.is_empty());
    let owner = parts.next()?;
    let repo = parts.next()?;
    let repo = repo.strip_suffix(".git").unwrap_or(repo);
    let owner_ok = owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') && !owner.starts_with('-');
    let repo_ok = !repo.is_empty()
        && repo != "."
        && repo != ".."
        && repo.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    (owner_ok && repo_ok).then(|| format!("{owner}/{repo}"))
}

/// One failing crate version, all of its failed targets together.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub crate_name: String,
    pub version: String,
    /// The repository URL as recorded (the first failed target's result that had one).
    pub repository: Option<String>,
    /// Every failed target, sorted.
    pub failures: Vec<FailureEntry>,
}

impl Candidate {
    /// The failures worth reporting upstream.
    pub fn reported(&self) -> Vec<&FailureEntry> {
        self.failures.iter().filter(|f| worth_reporting(f.class)).collect()
    }

    /// What to do before asking GitHub anything: `Err(outcome)` when it is skipped, else the
    /// `OWNER/REPO` to report to.
    pub fn decide(&self) -> Result<String, IssueOutcome> {
        if self.reported().is_empty() {
            return Err(IssueOutcome::ClassNotReported);
        }
        let url = self.repository.as_deref().ok_or(IssueOutcome::NoRepository)?;
        github_repo(url).ok_or(IssueOutcome::NotOnGithub)
    }

    /// The hidden line that identifies this crate version's issue: searched for before creating.
    pub fn marker(&self) -> String {
        format!("<!-- cratemill:{}@{} -->", self.crate_name, self.version)
    }

    /// The search query finding an issue with this crate version's marker in `repo`.
    pub fn search_query(&self, repo: &str) -> String {
        format!("repo:{repo} in:body \"cratemill:{}@{}\"", self.crate_name, self.version)
    }

    /// The targets and classes the issue names (the reported ones; all when none is).
    pub fn named(&self) -> (Vec<String>, Vec<FailureClass>) {
        let reported = self.reported();
        let list: Vec<&FailureEntry> = if reported.is_empty() { self.failures.iter().collect() } else { reported };
        let targets = list.iter().map(|f| f.target.clone()).collect();
        let mut classes: Vec<FailureClass> = list.iter().map(|f| f.class).collect();
        classes.sort();
        classes.dedup();
        (targets, classes)
    }

    pub fn title(&self) -> String {
        let (targets, classes) = self.named();
        let classes: Vec<&str> = classes.iter().map(|c| c.as_str()).collect();
        format!(
            "cratemill: {} {} fails to build for {} ({})",
            self.crate_name,
            self.version,
            targets.join(", "),
            classes.join(", ")
        )
    }

    /// The issue body: the marker, a table of every failed target, and the first error lines of
    /// each reported failure.
    pub fn body(&self) -> String {
        let mut b = format!(
            "{}\n[cratemill](https://github.com/cratemill/cratemill) builds crates.io crates into static Linux (musl) executables. `{}` {} did not build:\n\n| target | failure class | phase |\n| --- | --- | --- |\n",
            self.marker(),
            self.crate_name,
            self.version
        );
        for f in &self.failures {
            let phase = f.phase.map_or("-", |p| p.name());
            let _ = writeln!(b, "| `{}` | {} | {phase} |", f.target, f.class);
        }
        for f in self.reported() {
            let _ = write!(b, "\n**{}** on `{}`, first lines:\n\n```text\n", f.class, f.target);
            for line in &f.first_lines {
                let line: String = line.replace("```", "'''").chars().take(LINE_CAP).collect();
                let _ = writeln!(b, "{line}");
            }
            b.push_str("```\n");
            if let Some(log) = f.log.as_deref().filter(|l| l.starts_with("https://")) {
                let _ = writeln!(b, "\nFull build log: {log}");
            }
        }
        b.push_str("\nThis issue is opened once per crate version by `cratemill report --open-issues`; it will not be opened again for this version.\n");
        b
    }
}

/// Failing crate versions, one candidate each, sorted by crate and version.
pub fn candidates(failures: &[FailureEntry]) -> Vec<Candidate> {
    let mut by_version: BTreeMap<(&str, &str), Vec<&FailureEntry>> = BTreeMap::new();
    for f in failures {
        by_version.entry((f.crate_name.as_str(), f.version.as_str())).or_default().push(f);
    }
    by_version
        .into_iter()
        .map(|((name, version), mut list)| {
            list.sort_by(|a, b| a.target.cmp(&b.target));
            list.dedup_by(|a, b| a.target == b.target);
            Candidate {
                crate_name: name.to_string(),
                version: version.to_string(),
                repository: list.iter().find_map(|f| f.repository.clone()),
                failures: list.into_iter().cloned().collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issue_goes_only_where_crates_io_agrees_or_the_allow_list_says() {
        let rule = RepoRule { allow: vec!["Org/Mirror-Target".into()] };
        assert_eq!(rule.confirms("o/a", Some("https://github.com/O/a.git")), Ok(()));
        assert_eq!(
            rule.confirms("o/a", Some("https://github.com/victim/other")),
            Err(IssueOutcome::RepositoryUnconfirmed)
        );
        assert_eq!(rule.confirms("o/a", Some("https://gitlab.com/o/a")), Err(IssueOutcome::RepositoryUnconfirmed));
        assert_eq!(rule.confirms("o/a", None), Err(IssueOutcome::RepositoryUnconfirmed));
        assert_eq!(rule.confirms("org/mirror-target", None), Ok(()));
        assert!(rule.allows("ORG/mirror-target") && !rule.allows("o/a"));
    }

    fn failure(name: &str, target: &str, class: FailureClass, repo: Option<&str>) -> FailureEntry {
        FailureEntry {
            crate_name: name.into(),
            version: "1.0.0".into(),
            target: target.into(),
            class,
            phase: Some(crate::schema::Phase::Build),
            first_lines: vec!["error[E0425]: cannot find value `x`".into(), "```nested fence".into()],
            log: Some("results/x/build.log".into()),
            repository: repo.map(str::to_string),
            finished_at: "2026-12-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn github_urls_are_normalised_and_others_refused() {
        for url in [
            "https://github.com/BurntSushi/ripgrep",
            "https://github.com/BurntSushi/ripgrep/",
            "https://github.com/BurntSushi/ripgrep.git",
            "http://www.github.com/BurntSushi/ripgrep",
            "git+https://github.com/BurntSushi/ripgrep.git",
            "https://GitHub.com/BurntSushi/ripgrep/tree/master/crates/core",
            " https://github.com/BurntSushi/ripgrep#readme ",
        ] {
            assert_eq!(github_repo(url).as_deref(), Some("BurntSushi/ripgrep"), "{url}");
        }
        for url in [
            "https://gitlab.com/a/b",
            "https://github.com/only-owner",
            "https://github.com/",
            "ssh://git@github.com/a/b",
            "https://github.com.evil.example/a/b",
            "https://github.com/a/b%20c",
            "github.com/a/b",
        ] {
            assert_eq!(github_repo(url), None, "{url}");
        }
    }

    #[test]
    fn one_candidate_per_crate_version_with_every_target() {
        let x86 = "x86_64-unknown-linux-musl";
        let arm = "aarch64-unknown-linux-musl";
        let list = [
            failure("a", x86, FailureClass::CompileError, Some("https://github.com/o/a")),
            failure("a", arm, FailureClass::Timeout, None),
            failure("b", x86, FailureClass::FetchFailed, Some("https://github.com/o/b")),
            failure("c", x86, FailureClass::BuildScriptFailed, Some("https://sr.ht/~o/c")),
            failure("d", x86, FailureClass::CompileError, None),
        ];
        let c = candidates(&list);
        assert_eq!(c.len(), 4);
        assert_eq!(c[0].failures.len(), 2);
        assert_eq!(c[0].decide(), Ok("o/a".to_string()));
        assert_eq!(c[0].title(), format!("cratemill: a 1.0.0 fails to build for {x86} (compile-error)"));
        let body = c[0].body();
        assert!(body.starts_with("<!-- cratemill:a@1.0.0 -->\n"), "{body}");
        assert!(body.contains(&format!("| `{arm}` | timeout | build |")), "every target listed: {body}");
        assert!(body.contains("error[E0425]") && !body.contains("```nested"), "fences cannot break out: {body}");
        assert!(!body.contains("results/x/build.log"), "a local log path means nothing upstream");
        assert_eq!(c[0].search_query("o/a"), "repo:o/a in:body \"cratemill:a@1.0.0\"");
        assert_eq!(c[1].decide(), Err(IssueOutcome::ClassNotReported));
        assert_eq!(c[2].decide(), Err(IssueOutcome::NotOnGithub));
        assert_eq!(c[3].decide(), Err(IssueOutcome::NoRepository));
    }

    #[test]
    fn only_the_crates_own_failures_are_reported() {
        assert!(worth_reporting(FailureClass::CompileError));
        assert!(worth_reporting(FailureClass::BuildScriptFailed));
        for c in [FailureClass::Timeout, FailureClass::FetchFailed, FailureClass::OutOfResources, FailureClass::Unknown]
        {
            assert!(!worth_reporting(c), "{c}");
        }
    }
}
