//! Every HTTP request of attest and verify goes through here (or through a Sigstore client built
//! with [`client`]): one reqwest client (rustls), connect/read timeouts, bounded retries that honour
//! `Retry-After`. I/O edge. Kept in one small file so it can move onto the shared network layer.

use std::future::Future;
use std::time::Duration;

use crate::net::policy::parse_retry_after;

/// Attempts per request (the first and two retries).
pub const ATTEMPTS: u32 = 3;
/// Longest `Retry-After` honoured; a server asking for more is treated as down.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The HTTP client of attest/verify and of the Sigstore clients they use.
pub fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(120))
        .user_agent(concat!("cratemill/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// One failed try: whether to try again, after how long, and what to say if not.
#[derive(Debug)]
pub struct TryError {
    pub retry: bool,
    pub after: Option<Duration>,
    pub error: anyhow::Error,
}

impl TryError {
    pub fn fatal(error: anyhow::Error) -> TryError {
        TryError { retry: false, after: None, error }
    }
    pub fn transient(error: anyhow::Error) -> TryError {
        TryError { retry: true, after: None, error }
    }
}

/// Is this HTTP status worth retrying (rate limit, server trouble)?
pub fn retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

/// `Retry-After` of a response, capped.
pub fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let v = resp.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(v, std::time::SystemTime::now()).map(|d| d.min(MAX_RETRY_AFTER))
}

/// Run `f` up to [`ATTEMPTS`] times while it fails with a retryable error; the last error is returned
/// with `what` and the attempt count.
pub async fn with_retries<T, F, Fut>(what: &str, mut f: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, TryError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if e.retry && attempt < ATTEMPTS => {
                let wait = e.after.unwrap_or(Duration::from_millis(500 * 2u64.pow(attempt - 1)));
                tokio::time::sleep(wait).await;
            }
            Err(e) if e.retry => return Err(e.error.context(format!("{what}: gave up after {attempt} attempts"))),
            Err(e) => return Err(e.error.context(what.to_string())),
        }
    }
}

/// Classify a transport error (connect refused, timeout, reset): always worth another try.
pub fn transport(e: reqwest::Error) -> TryError {
    TryError::transient(anyhow::Error::new(e))
}
