//! The HTTP client cratemill uses for registries (user agent, timeouts) and a GET that retries
//! transient failures. The caller decides what a final non-success status means.

use std::time::Duration;

use super::retry::{retryable_error, retryable_status, RetryPolicy};

/// Sent with every request so registry operators can tell who is calling.
pub const USER_AGENT: &str =
    concat!("cratemill/", env!("CARGO_PKG_VERSION"), " (+https://github.com/cratemill/cratemill)");

/// Whole-request limit for small documents (index files, `config.json`).
pub const SMALL_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

pub fn client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(15))
        .read_timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| anyhow::anyhow!("cannot set up the HTTP client: {e}"))
}

/// How a GET ended after retries.
pub enum Got {
    /// A response whose status is final: success, or an error status not worth retrying, or the
    /// last retryable one.
    Response(reqwest::Response),
    /// No response at all: the last transport error.
    Unreachable(reqwest::Error),
}

/// GETs `url`, retrying retryable statuses and transport errors per `policy`.
pub async fn get_with_retry(client: &reqwest::Client, url: &str, policy: RetryPolicy) -> Got {
    let attempts = policy.attempts.max(1);
    let mut attempt = 1;
    loop {
        let result = client.get(url).timeout(SMALL_REQUEST_TIMEOUT).send().await;
        let retry = match &result {
            Ok(resp) => retryable_status(resp.status()),
            Err(e) => retryable_error(e),
        };
        if !retry || attempt >= attempts {
            return match result {
                Ok(resp) => Got::Response(resp),
                Err(e) => Got::Unreachable(e),
            };
        }
        tokio::time::sleep(policy.delay(attempt)).await;
        attempt += 1;
    }
}

/// A transport error with its causes on one line (reqwest's Display alone hides the root cause).
pub fn describe(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
        source = cause.source();
    }
    text.replace(['\n', '\r'], " ")
}
