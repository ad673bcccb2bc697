//! Getting the workflow's OIDC token for Sigstore. I/O edge: `SIGSTORE_ID_TOKEN` when set, else
//! `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=sigstore` with `Authorization: Bearer
//! $ACTIONS_ID_TOKEN_REQUEST_TOKEN`, which answers `{"value": "<jwt>"}`. The request goes through
//! the network layer ([`crate::net::Client`]: retried as a GET, exit 3 when the service keeps
//! failing); a 401/403 is the missing permission (exit 2).

use serde::Deserialize;

use super::claims::SIGSTORE_AUDIENCE;
use crate::error::{environment, usage};
use crate::net::{Client, Safety};

/// Largest answer read from the token service (a JWT is a few KiB).
const TOKEN_LIMIT: u64 = 1 << 20;

/// The error when the runner offers no token: the one thing to change in the workflow.
pub const NO_TOKEN: &str = "no OIDC token: the job needs `permissions: id-token: write` (add `id-token: write` under the attest job's `permissions:` in the workflow), or set SIGSTORE_ID_TOKEN; for local use, --sign key or --sign none";

/// Whether the environment offers a token (`SIGSTORE_ID_TOKEN`, or the runner's token service
/// variables), without asking for one.
pub fn offered(get: impl Fn(&str) -> Option<String>) -> bool {
    let set = |k: &str| get(k).is_some_and(|v| !v.trim().is_empty());
    set("SIGSTORE_ID_TOKEN") || (set("ACTIONS_ID_TOKEN_REQUEST_URL") && set("ACTIONS_ID_TOKEN_REQUEST_TOKEN"))
}

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
    let what = "getting the OIDC token from ACTIONS_ID_TOKEN_REQUEST_URL";
    let answer =
        Client::new()?.fetch(what, Safety::Idempotent, TOKEN_LIMIT, |h| h.get(&full).bearer_auth(bearer)).await?;
    let status = answer.status.as_u16();
    if status == 401 || status == 403 {
        return Err(usage(format!("the token service refused the request (HTTP {status}): {NO_TOKEN}")));
    }
    if !answer.status.is_success() {
        return Err(answer.unexpected(what));
    }
    let answer: Answer = serde_json::from_slice(&answer.bytes)
        .map_err(|e| environment(format!("{what}: the token service's answer has no `value`: {e}")))?;
    Ok(answer.value)
}
