//! Storing bundles with the GitHub attestations API: `POST {GITHUB_API_URL}/repos/{owner}/{repo}/attestations`
//! with `{"bundle": <bundle>}`, the call `actions/attest-build-provenance` makes. I/O edge.
//!
//! The request goes through [`crate::net::github::Github`] (octocrab on the one retry policy): a
//! content-creating call, paced at most 80 a minute per process, and a rate-limited answer (403 or
//! 429 with `retry-after`, `x-ratelimit-remaining: 0`, or a secondary-limit message) waited for and
//! retried. What is left here is judging GitHub's final answer: the attestation id, or the missing
//! permission in one line.

use serde::Deserialize;
use serde_json::Value;

use crate::error::usage;
use crate::net::github::{Github, DEFAULT_API_URL};

/// Where and as whom to store.
#[derive(Debug)]
pub struct GithubApi {
    /// `OWNER/NAME` (`GITHUB_REPOSITORY`).
    pub repository: String,
    github: Github,
}

impl GithubApi {
    /// From the runner's environment; errors name the missing variable and the permission. Call it
    /// inside the tokio runtime.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<GithubApi> {
        let var = |k: &str| get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let token = var("GITHUB_TOKEN").ok_or_else(|| {
            usage("--github-api needs GITHUB_TOKEN (pass `env: GITHUB_TOKEN: ${{ github.token }}` with `permissions: attestations: write`)")
        })?;
        let repository =
            var("GITHUB_REPOSITORY").ok_or_else(|| usage("--github-api needs GITHUB_REPOSITORY (OWNER/NAME)"))?;
        if repository.split('/').filter(|p| !p.is_empty()).count() != 2 {
            return Err(usage(format!("GITHUB_REPOSITORY `{repository}` is not OWNER/NAME")));
        }
        let api_url = var("GITHUB_API_URL").unwrap_or_else(|| DEFAULT_API_URL.to_string());
        Ok(GithubApi { repository, github: Github::new(&api_url, &token)? })
    }

    /// The same store with another retry policy (tests).
    pub fn with_retry(mut self, retry: crate::net::RetryPolicy) -> GithubApi {
        self.github = self.github.with_retry(retry);
        self
    }

    /// POST one bundle; returns the attestation id GitHub answers with.
    pub async fn store(&self, bundle_json: &str) -> anyhow::Result<u64> {
        #[derive(Deserialize)]
        struct Created {
            id: u64,
        }
        let bundle: Value = serde_json::from_str(bundle_json)?;
        let body = serde_json::json!({ "bundle": bundle });
        let what = format!("storing the attestation in {}", self.repository);
        let answer = self.github.create(&what, &format!("/repos/{}/attestations", self.repository), &body).await?;
        if answer.is_success() {
            return Ok(answer.json::<Created>(&what)?.id);
        }
        // Rate limits were waited for and retried by `Github`; a 401/403/404 left is the token.
        if matches!(answer.status, 401 | 403 | 404) {
            return Err(usage(format!(
                "GitHub refused to store the attestation (HTTP {}): the token needs `permissions: attestations: write` on {}",
                answer.status, self.repository
            )));
        }
        Err(answer.unexpected(&what))
    }
}
