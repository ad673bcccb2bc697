//! Storing bundles with the GitHub attestations API: `POST {GITHUB_API_URL}/repos/{owner}/{repo}/attestations`
//! with `{"bundle": <bundle>}`, the call `actions/attest-build-provenance` makes. I/O edge.
//!
//! Pacing: GitHub allows 80 content-creating requests a minute; [`Pacer`] spaces the posts of one
//! process at least [`MIN_INTERVAL`] apart, and a 429 (or a 403 secondary-rate-limit answer) waits
//! for its `Retry-After` within the bounded retries of [`super::http`]. The request is plain reqwest
//! (rustls) rather than octocrab, which would add its own HTTP stack to compile; the shape is the
//! same.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::http::{self, TryError};
use crate::error::{failed, usage};

/// 60 s / 80 requests.
pub const MIN_INTERVAL: Duration = Duration::from_millis(750);

/// Where and as whom to store.
#[derive(Debug, Clone)]
pub struct GithubApi {
    /// `GITHUB_API_URL` (`https://api.github.com`).
    pub api_url: String,
    /// `OWNER/NAME` (`GITHUB_REPOSITORY`).
    pub repository: String,
    pub token: String,
}

impl GithubApi {
    /// From the runner's environment; errors name the missing variable and the permission.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<GithubApi> {
        let var = |k: &str| get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let token = var("GITHUB_TOKEN").ok_or_else(|| {
            usage("--github-api needs GITHUB_TOKEN (pass `env: GITHUB_TOKEN: ${{ github.token }}` with `permissions: attestations: write`)")
        })?;
        let repository =
            var("GITHUB_REPOSITORY").ok_or_else(|| usage("--github-api needs GITHUB_REPOSITORY (OWNER/NAME)"))?;
        let api_url = var("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".to_string());
        Ok(GithubApi { api_url: api_url.trim_end_matches('/').to_string(), repository, token })
    }
}

/// Spaces requests [`MIN_INTERVAL`] apart.
#[derive(Debug, Default)]
pub struct Pacer {
    last: std::sync::Mutex<Option<Instant>>,
}

impl Pacer {
    pub async fn wait(&self) {
        let last = *self.last.lock().expect("pacer lock");
        if let Some(last) = last {
            let next = last + MIN_INTERVAL;
            let now = Instant::now();
            if next > now {
                tokio::time::sleep(next - now).await;
            }
        }
        *self.last.lock().expect("pacer lock") = Some(Instant::now());
    }
}

/// POST one bundle; returns the attestation id GitHub answers with.
pub async fn store(api: &GithubApi, bundle_json: &str, pacer: &Pacer) -> anyhow::Result<u64> {
    let bundle: Value = serde_json::from_str(bundle_json)?;
    let body = serde_json::json!({ "bundle": bundle });
    let url = format!("{}/repos/{}/attestations", api.api_url, api.repository);
    let client = http::client()?;
    http::with_retries(&format!("POST {url}"), || async {
        pacer.wait().await;
        let resp = client
            .post(&url)
            .bearer_auth(&api.token)
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .json(&body)
            .send()
            .await
            .map_err(http::transport)?;
        let status = resp.status().as_u16();
        let after = http::retry_after(&resp);
        if (200..300).contains(&status) {
            let v: Value = resp.json().await.map_err(|e| TryError::fatal(failed(format!("GitHub's answer is not JSON: {e}"))))?;
            return Ok(v["id"].as_u64().unwrap_or_default());
        }
        let text = resp.text().await.unwrap_or_default();
        let rate_limited = status == 429 || (status == 403 && after.is_some());
        if status == 401 || (status == 403 && !rate_limited) || status == 404 {
            return Err(TryError::fatal(usage(format!(
                "GitHub refused to store the attestation (HTTP {status}): the token needs `permissions: attestations: write` on {}",
                api.repository
            ))));
        }
        let error = failed(format!("GitHub answered HTTP {status}: {}", text.chars().take(200).collect::<String>()));
        Err(TryError { retry: rate_limited || http::retryable_status(status), after, error })
    })
    .await
}
