//! Getting the workflow's OIDC token for Sigstore. I/O edge: `SIGSTORE_ID_TOKEN` when set, else
//! `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=sigstore` with `Authorization: Bearer
//! $ACTIONS_ID_TOKEN_REQUEST_TOKEN`, which answers `{"value": "<jwt>"}`.

use serde::Deserialize;

use super::claims::SIGSTORE_AUDIENCE;
use super::http::{self, TryError};
use crate::error::usage;

/// The error when the runner offers no token: the one thing to change in the workflow.
pub const NO_TOKEN: &str = "no OIDC token: the job needs `permissions: id-token: write` (add `id-token: write` under the attest job's `permissions:` in the workflow), or set SIGSTORE_ID_TOKEN; for local use, --sign key or --sign none";

/// The token, from the environment or the runner's token service.
pub async fn token() -> anyhow::Result<String> {
    if let Some(t) = std::env::var("SIGSTORE_ID_TOKEN").ok().filter(|t| !t.trim().is_empty()) {
        return Ok(t.trim().to_string());
    }
    let url = std::env::var("ACTIONS_ID_TOKEN_REQUEST_URL").ok().filter(|v| !v.is_empty());
    let bearer = std::env::var("ACTIONS_ID_TOKEN_REQUEST_TOKEN").ok().filter(|v| !v.is_empty());
    match (url, bearer) {
        (Some(url), Some(bearer)) => request(&url, &bearer).await,
        _ => Err(usage(NO_TOKEN)),
    }
}

/// Ask the Actions token service for a token with audience `sigstore`.
pub async fn request(url: &str, bearer: &str) -> anyhow::Result<String> {
    #[derive(Deserialize)]
    struct Answer {
        value: String,
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    let full = format!("{url}{sep}audience={SIGSTORE_AUDIENCE}");
    let client = http::client()?;
    http::with_retries("getting the OIDC token from ACTIONS_ID_TOKEN_REQUEST_URL", || async {
        let resp = client.get(&full).bearer_auth(bearer).send().await.map_err(http::transport)?;
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            return Err(TryError::fatal(usage(format!(
                "the token service refused the request (HTTP {status}): {NO_TOKEN}"
            ))));
        }
        if !resp.status().is_success() {
            let after = http::retry_after(&resp);
            let e = anyhow::anyhow!("the token service answered HTTP {status}");
            return Err(TryError { retry: http::retryable_status(status), after, error: e });
        }
        let answer: Answer = resp
            .json()
            .await
            .map_err(|e| TryError::fatal(anyhow::anyhow!("the token service's answer has no `value`: {e}")))?;
        Ok(answer.value)
    })
    .await
}
