//! `report --open-issues`: for each failing crate version whose failure is the crate's own (see
//! [`super::upstream::worth_reporting`]) and whose repository is on GitHub, search the repository
//! for the crate version's marker and open one issue when there is none; `--dry-run` searches
//! but creates nothing. Every request goes through [`crate::net::github::Github`] (octocrab, the
//! one retry policy, rate-limit waits, creating requests paced 80/min, searches 30/min).
//!
//! Why search and not "list the repository's issues by creator": the search finds the marker
//! whoever opened the issue (another token or bot account next month, a maintainer who moved it),
//! open or closed, in one request per crate version; listing by creator is paginated over the
//! whole repository, misses issues opened under another account, and needs `state=all`. Its lag
//! (a new issue is searchable after some seconds) cannot cause a duplicate within one run: each
//! crate version is one candidate, opened at most once.
//!
//! Which repository: the crate's metadata names one, but a hostile crate can name anyone's. An
//! issue is opened only on a repository that crates.io's record of the crate also lists (one
//! `GET {--crates-io-api}/crates/<name>`, paced at one per second as crates.io's crawler policy
//! asks, without the GitHub token), or that `--issues-allow OWNER/REPO` names; anything else is
//! recorded as `repository-unconfirmed` and nothing is sent to GitHub ([`RepoRule::confirms`]).
//!
//! I/O edge; the decisions are in [`super::upstream`].

use std::collections::BTreeMap;

use serde::Deserialize;

use super::upstream::{candidates, Candidate, RepoRule};
use crate::error::usage;
use crate::net::github::{Answer, Github, DEFAULT_API_URL};
use crate::schema::report::{FailureEntry, IssueEntry, IssueList, IssueOutcome};

/// The token and API root, read before anything is written (a missing token is bad input), and
/// the rule for which repositories may get an issue.
#[derive(Debug)]
pub struct Access {
    pub api_url: String,
    token: String,
    token_env: String,
    /// The crates.io API root that confirms a crate's repository.
    pub crates_io_api: String,
    pub rule: RepoRule,
}

impl Access {
    /// `GITHUB_API_URL` (default the public API) and the token from the variable `token_env`.
    pub fn from_env(token_env: &str) -> anyhow::Result<Access> {
        let token = std::env::var(token_env).ok().filter(|t| !t.trim().is_empty()).ok_or_else(|| {
            usage(format!(
                "--open-issues needs a GitHub token: set {token_env} to a personal access token with Issues: write (public_repo for a classic token); a workflow's GITHUB_TOKEN cannot open issues in other owners' repositories"
            ))
        })?;
        let api_url = std::env::var("GITHUB_API_URL").ok().filter(|u| !u.trim().is_empty());
        Ok(Access {
            api_url: api_url.unwrap_or_else(|| DEFAULT_API_URL.to_string()),
            token: token.trim().to_string(),
            token_env: token_env.to_string(),
            crates_io_api: super::upstream::CRATES_IO_API.to_string(),
            rule: RepoRule::default(),
        })
    }

    /// With the crates.io API root and `--issues-allow` list.
    pub fn with_rule(mut self, crates_io_api: &str, allow: &[String]) -> Access {
        self.crates_io_api = crates_io_api.trim_end_matches('/').to_string();
        self.rule = RepoRule { allow: allow.to_vec() };
        self
    }
}

/// The repository URL crates.io lists for `name`; `None` when it lists none or does not know the
/// crate. Pacing: one request per second (crates.io's crawler policy).
async fn crates_io_repository(client: &crate::net::Client, api: &str, name: &str) -> anyhow::Result<Option<String>> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(rename = "crate")]
        krate: Listed,
    }
    #[derive(Deserialize)]
    struct Listed {
        repository: Option<String>,
    }
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Ok(None);
    }
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let what = format!("asking crates.io which repository {name} has");
    let body = client.get(&what, &format!("{api}/crates/{name}"), 1 << 20).await?;
    if body.status == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !body.status.is_success() {
        return Err(body.unexpected(&what));
    }
    let answer: Answer = serde_json::from_slice(&body.bytes).map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
    Ok(answer.krate.repository)
}

#[derive(Deserialize)]
struct SearchAnswer {
    items: Vec<Found>,
}

#[derive(Deserialize)]
struct Found {
    number: u64,
    html_url: String,
    #[serde(default)]
    body: Option<String>,
}

#[derive(Deserialize)]
struct Created {
    number: u64,
    html_url: String,
}

/// Search, then open (or, dry, say what would be opened) one issue per failing crate version.
pub async fn open_issues(access: &Access, failures: &[FailureEntry], dry_run: bool) -> anyhow::Result<IssueList> {
    let github = Github::new(&access.api_url, &access.token)?;
    let crates_io = crate::net::Client::new()?;
    let mut entries = Vec::new();
    for c in candidates(failures) {
        let (targets, classes) = c.named();
        let mut entry = IssueEntry {
            crate_name: c.crate_name.clone(),
            version: c.version.clone(),
            targets,
            classes,
            repository: c.repository.clone(),
            outcome: IssueOutcome::ClassNotReported,
            title: None,
            number: None,
            url: None,
        };
        match c.decide() {
            Err(outcome) => entry.outcome = outcome,
            Ok(repo) => {
                entry.repository = Some(repo.clone());
                let listed = if access.rule.allows(&repo) {
                    None
                } else {
                    crates_io_repository(&crates_io, &access.crates_io_api, &c.crate_name).await?
                };
                match access.rule.confirms(&repo, listed.as_deref()) {
                    Ok(()) => report_one(&github, access, &c, &repo, dry_run, &mut entry).await?,
                    Err(outcome) => entry.outcome = outcome,
                }
            }
        }
        entries.push(entry);
    }
    Ok(IssueList::new(dry_run, entries))
}

/// Search `repo` for the crate version's marker; open the issue when it is not there.
async fn report_one(
    github: &Github,
    access: &Access,
    c: &Candidate,
    repo: &str,
    dry_run: bool,
    entry: &mut IssueEntry,
) -> anyhow::Result<()> {
    let what = format!("searching {repo} for an issue about {}@{}", c.crate_name, c.version);
    let q: String = url::form_urlencoded::byte_serialize(c.search_query(repo).as_bytes()).collect();
    let answer = github.search(&what, &format!("/search/issues?q={q}&per_page=20")).await?;
    match answer.status {
        200 => {}
        // Search answers 422 for a repository that does not exist (or cannot be seen).
        404 | 422 => {
            entry.outcome = IssueOutcome::RepositoryNotFound;
            return Ok(());
        }
        401 | 403 => return Err(refused(access, &answer, repo, "search issues in")),
        _ => return Err(answer.unexpected(&what)),
    }
    let marker = c.marker();
    let found: SearchAnswer = answer.json(&what)?;
    if let Some(f) = found.items.into_iter().find(|f| f.body.as_deref().is_some_and(|b| b.contains(&marker))) {
        entry.outcome = IssueOutcome::AlreadyReported;
        entry.number = Some(f.number);
        entry.url = Some(f.html_url);
        return Ok(());
    }
    let title = c.title();
    entry.title = Some(title.clone());
    if dry_run {
        crate::console::line(&crate::untrusted::printable(&format!("would open in {repo}: {title}")));
        entry.outcome = IssueOutcome::WouldOpen;
        return Ok(());
    }
    let what = format!("opening an issue about {}@{} in {repo}", c.crate_name, c.version);
    let body = serde_json::json!({ "title": title, "body": c.body() });
    let answer = github.create(&what, &format!("/repos/{repo}/issues"), &body).await?;
    entry.outcome = match answer.status {
        201 => {
            let created: Created = answer.json(&what)?;
            crate::console::line(&format!("opened {}", created.html_url));
            entry.number = Some(created.number);
            entry.url = Some(created.html_url);
            IssueOutcome::Opened
        }
        404 => IssueOutcome::RepositoryNotFound,
        410 => IssueOutcome::IssuesDisabled,
        403 if answer.message().to_ascii_lowercase().contains("archived") => IssueOutcome::Archived,
        401 | 403 => return Err(refused(access, &answer, repo, "open issues in")),
        _ => return Err(answer.unexpected(&what)),
    };
    Ok(())
}

/// A 401/403 that is not a rate limit (those were waited for): the token is wrong or lacks the
/// permission. Bad input, one line.
fn refused(access: &Access, answer: &Answer, repo: &str, action: &str) -> anyhow::Error {
    let env = &access.token_env;
    if answer.status == 401 {
        return usage(format!(
            "GitHub refused the token in {env} ({}: {}): set {env} to a valid personal access token",
            answer.status,
            answer.message()
        ));
    }
    usage(format!(
        "the token in {env} may not {action} {repo} ({}: {}): it needs Issues: write on that repository; a workflow's GITHUB_TOKEN cannot write to repositories it does not belong to, so use a personal access token (fine-grained with Issues: write, or classic with public_repo)",
        answer.status,
        answer.message()
    ))
}

/// The summary line: opened N, already reported M, skipped K by reason.
pub fn summary(list: &IssueList) -> String {
    let mut counts: BTreeMap<IssueOutcome, u64> = BTreeMap::new();
    for e in &list.issues {
        *counts.entry(e.outcome).or_default() += 1;
    }
    let n = |o: IssueOutcome| counts.get(&o).copied().unwrap_or(0);
    let skipped: Vec<String> = counts
        .iter()
        .filter(|(o, _)| !matches!(o, IssueOutcome::Opened | IssueOutcome::WouldOpen | IssueOutcome::AlreadyReported))
        .map(|(o, k)| format!("{} {k}", o.as_str()))
        .collect();
    let skipped_total: u64 = counts
        .iter()
        .filter(|(o, _)| !matches!(o, IssueOutcome::Opened | IssueOutcome::WouldOpen | IssueOutcome::AlreadyReported))
        .map(|(_, k)| k)
        .sum();
    let first = if list.dry_run {
        format!("issues (dry run, nothing created): would open {}", n(IssueOutcome::WouldOpen))
    } else {
        format!("issues: opened {}", n(IssueOutcome::Opened))
    };
    let reasons = if skipped.is_empty() { String::new() } else { format!(" ({})", skipped.join(", ")) };
    format!("{first}, already reported {}, skipped {skipped_total}{reasons}", n(IssueOutcome::AlreadyReported))
}

/// How many issues this run created (`--dry-run` creates none): the `issues-opened` output.
pub fn opened(list: &IssueList) -> usize {
    list.issues.iter().filter(|e| e.outcome == IssueOutcome::Opened).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_by_reason() {
        let entry = |outcome| IssueEntry {
            crate_name: "a".into(),
            version: "1".into(),
            targets: vec![],
            classes: vec![],
            repository: None,
            outcome,
            title: None,
            number: None,
            url: None,
        };
        let list = IssueList::new(
            false,
            vec![
                entry(IssueOutcome::Opened),
                entry(IssueOutcome::AlreadyReported),
                entry(IssueOutcome::NotOnGithub),
                entry(IssueOutcome::NotOnGithub),
                entry(IssueOutcome::IssuesDisabled),
            ],
        );
        assert_eq!(
            summary(&list),
            "issues: opened 1, already reported 1, skipped 3 (not on GitHub 2, issues disabled 1)"
        );
    }
}
