//! GitHub's REST API through octocrab, on the one retry policy of [`super::policy`]: the
//! attestations API (`attest --github-api`) and upstream issues (`report --open-issues`) both call
//! [`Github`]. octocrab makes the requests (its client, auth header, `GITHUB_API_URL` base with a
//! path for GitHub Enterprise Server); cratemill decides what is retried and how long to wait.
//!
//! Rate limits, as GitHub documents them: a primary limit answered with 403 or 429 and
//! `x-ratelimit-remaining: 0` (wait until `x-ratelimit-reset`), and secondary limits answered with
//! 403 or 429 and `retry-after` (wait that long), or without it "at least one minute". Content-creating
//! requests (a POST that makes an issue or stores an attestation) are also paced at most 80 a minute
//! per process ([`MIN_INTERVAL`]), and search requests 30 a minute ([`SEARCH_INTERVAL`], the search
//! API's own limit), so that the limits are not hit in the first place. A
//! rate-limited request was not acted on, so even a creating POST is retried after the wait.
//!
//! I/O edge: the decisions ([`rate_limit_wait`], [`cause_of`]) are pure and tested below.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use http::header::HeaderMap;
use http::{Method, Uri};
use octocrab::Octocrab;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::failure::{Cause, HttpFailure};
use super::policy::{parse_retry_after, retry_status, retry_transport, GiveUp, RetryPolicy, Safety, Tracker};
use crate::error::{environment, usage};

/// The public API; `GITHUB_API_URL` overrides it (GitHub Enterprise Server, tests).
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// 60 s / 80 content-creating requests.
pub const MIN_INTERVAL: Duration = Duration::from_millis(750);
/// 60 s / 30 search requests (the search API's own limit for an authenticated client).
pub const SEARCH_INTERVAL: Duration = Duration::from_secs(2);
/// Largest answer read.
const BODY_LIMIT: usize = 8 << 20;
/// GitHub's advice for a secondary limit that names no wait: at least a minute.
const SECONDARY_DEFAULT_WAIT: Duration = Duration::from_secs(60);

/// What kind of request: decides pacing and whether a failure after sending may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// GET: retried on every transient failure.
    Read,
    /// A POST that creates something: paced, and retried only when GitHub cannot have acted on it.
    Create,
    /// A GET of the search API (`/search/...`): paced [`SEARCH_INTERVAL`] apart, retried like a read.
    Search,
}

/// An answer, read whole, for the caller to judge.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
    /// `METHOD url`, for error lines.
    pub request: String,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as `T`; an error naming `what` when GitHub sent something else.
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> anyhow::Result<T> {
        serde_json::from_str(&self.body)
            .map_err(|e| environment(format!("{what}: GitHub's answer is not the expected JSON: {e}")))
    }

    /// GitHub's `message`, when the body carries one.
    pub fn message(&self) -> String {
        let from_json =
            serde_json::from_str::<Value>(&self.body).ok().and_then(|v| v["message"].as_str().map(str::to_string));
        let text = from_json.unwrap_or_else(|| self.body.chars().take(200).collect());
        text.replace(['\n', '\r'], " ")
    }

    /// The error for a final status the caller did not expect (exit 3), with GitHub's message.
    pub fn unexpected(&self, what: &str) -> anyhow::Error {
        let failure = HttpFailure {
            what: what.to_string(),
            request: Some(self.request.clone()),
            cause: Cause::Status(self.status),
            attempts: 1,
            gave_up: None,
        };
        environment(format!("{failure}: {}", self.message()))
    }
}

/// Spaces requests of one kind `interval` apart within one process (default: content-creating
/// requests, [`MIN_INTERVAL`]).
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    last: Mutex<Option<Instant>>,
}

impl Default for Pacer {
    fn default() -> Pacer {
        Pacer::new(MIN_INTERVAL)
    }
}

impl Pacer {
    pub fn new(interval: Duration) -> Pacer {
        Pacer { interval, last: Mutex::new(None) }
    }

    /// Wait for this request's slot (at most one interval) and take it.
    pub async fn wait(&self) {
        let slot = {
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let slot = last.map_or(now, |l| (l + self.interval).max(now));
            *last = Some(slot);
            slot
        };
        tokio::time::sleep_until(tokio::time::Instant::from_std(slot)).await;
    }
}

/// A GitHub API client for one token.
#[derive(Debug)]
pub struct Github {
    crab: Octocrab,
    /// The API root, without a trailing `/`.
    pub api_url: String,
    retry: RetryPolicy,
    pacer: Pacer,
    search_pacer: Pacer,
    requests: AtomicU64,
}

impl Github {
    /// A client for `api_url` (`GITHUB_API_URL`, e.g. `https://api.github.com`) authenticating with
    /// `token`, with connect and idle timeouts. Call it inside the tokio runtime (octocrab's
    /// client spawns its worker there).
    pub fn new(api_url: &str, token: &str) -> anyhow::Result<Github> {
        let api_url = api_url.trim().trim_end_matches('/').to_string();
        let base: Uri = api_url
            .parse()
            .map_err(|e| usage(format!("GITHUB_API_URL `{api_url}` is not a URL: {e} (e.g. {DEFAULT_API_URL})")))?;
        if !matches!(base.scheme_str(), Some("https" | "http")) || base.host().is_none() {
            return Err(usage(format!("GITHUB_API_URL `{api_url}` is not an http(s) URL (e.g. {DEFAULT_API_URL})")));
        }
        let crab = Octocrab::builder()
            .base_uri(base)
            .map_err(|e| usage(format!("GITHUB_API_URL `{api_url}`: {e}")))?
            .personal_token(token.to_string())
            .set_connect_timeout(Some(Duration::from_secs(15)))
            .set_read_timeout(Some(Duration::from_secs(60)))
            .set_write_timeout(Some(Duration::from_secs(60)))
            .build()
            .map_err(|e| environment(format!("cannot set up the GitHub client: {e}")))?;
        Ok(Github {
            crab,
            api_url,
            retry: RetryPolicy::default(),
            pacer: Pacer::default(),
            search_pacer: Pacer::new(SEARCH_INTERVAL),
            requests: AtomicU64::new(0),
        })
    }

    /// The same client with another retry policy (tests use [`RetryPolicy::immediate`]).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Github {
        self.retry = retry;
        self
    }

    /// HTTP requests sent so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// `GET route` (`/repos/o/r/issues?...`, relative to the API root), retried; any final status
    /// is returned.
    pub async fn get(&self, what: &str, route: &str) -> anyhow::Result<Answer> {
        self.send(what, Method::GET, route, None, Call::Read).await
    }

    /// `GET route` of the search API (`/search/issues?q=...`): paced, retried; any final status is
    /// returned.
    pub async fn search(&self, what: &str, route: &str) -> anyhow::Result<Answer> {
        self.send(what, Method::GET, route, None, Call::Search).await
    }

    /// `POST route` with a JSON body that creates something: paced, retried where safe.
    pub async fn create(&self, what: &str, route: &str, body: &Value) -> anyhow::Result<Answer> {
        self.send(what, Method::POST, route, Some(body), Call::Create).await
    }

    async fn send(
        &self,
        what: &str,
        method: Method,
        route: &str,
        body: Option<&Value>,
        call: Call,
    ) -> anyhow::Result<Answer> {
        let request = format!("{method} {}{route}", self.api_url);
        let safety = if call == Call::Create { Safety::NotIdempotent } else { Safety::Idempotent };
        let started = Instant::now();
        let mut tracker = Tracker::new(self.retry, fastrand::Rng::new());
        loop {
            match call {
                Call::Create => self.pacer.wait().await,
                Call::Search => self.search_pacer.wait().await,
                Call::Read => {}
            }
            let (cause, wait) = match self.once(&method, route, body, &request).await {
                Ok(answer) => match rate_limit_wait(answer.status, &answer.headers, &answer.body, SystemTime::now()) {
                    Some(wait) => (Cause::Status(answer.status), Some(wait)),
                    None if retry_status(answer.status, safety) => {
                        let after = header(&answer.headers, "retry-after")
                            .and_then(|v| parse_retry_after(v, SystemTime::now()));
                        (Cause::Status(answer.status), after)
                    }
                    None => return Ok(answer),
                },
                Err(cause) => match cause.transport_fault() {
                    Some(fault) if retry_transport(fault, safety) => (cause, None),
                    _ => {
                        return Err(HttpFailure {
                            what: what.into(),
                            request: Some(request),
                            cause,
                            attempts: tracker.failures() + 1,
                            gave_up: None,
                        }
                        .into_error())
                    }
                },
            };
            match tracker.failure(wait, started.elapsed(), None) {
                Ok(delay) => tokio::time::sleep(delay).await,
                Err(gave_up) => return Err(give_up(what, request, cause, tracker.failures(), gave_up)),
            }
        }
    }

    /// One request, its answer read whole; a transport failure as its [`Cause`].
    async fn once(&self, method: &Method, route: &str, body: Option<&Value>, request: &str) -> Result<Answer, Cause> {
        let uri: Uri = route.parse().map_err(|e| Cause::Other(format!("bad route {route}: {e}")))?;
        let builder = http::Request::builder()
            .method(method.clone())
            .uri(uri)
            .header(http::header::ACCEPT, "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28");
        let req = self.crab.build_request(builder, body).map_err(|e| Cause::Other(e.to_string()))?;
        self.requests.fetch_add(1, Ordering::Relaxed);
        let resp = self.crab.execute(req).await.map_err(|e| cause_of(&e.to_string()))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = http_body_util::BodyExt::collect(http_body_util::Limited::new(resp.into_body(), BODY_LIMIT))
            .await
            .map_err(|e| Cause::Broken(e.to_string()))?
            .to_bytes();
        Ok(Answer { status, headers, body: String::from_utf8_lossy(&body).into_owned(), request: request.to_string() })
    }
}

fn give_up(what: &str, request: String, cause: Cause, failures: u32, gave_up: GiveUp) -> anyhow::Error {
    HttpFailure { what: what.into(), request: Some(request), cause, attempts: failures, gave_up: Some(gave_up) }
        .into_error()
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// How long to wait when an answer is a rate limit, `None` when it is not one. Pure.
/// - `retry-after` on a 403 or 429: that long (a secondary limit);
/// - `x-ratelimit-remaining: 0`: until `x-ratelimit-reset` (epoch seconds), at least 1 s;
/// - a 403 or 429 whose message says "rate limit" with neither header: one minute.
pub fn rate_limit_wait(status: u16, headers: &HeaderMap, body: &str, now: SystemTime) -> Option<Duration> {
    if status != 403 && status != 429 {
        return None;
    }
    if let Some(wait) = header(headers, "retry-after").and_then(|v| parse_retry_after(v, now)) {
        return Some(wait);
    }
    if header(headers, "x-ratelimit-remaining").map(str::trim) == Some("0") {
        let reset = header(headers, "x-ratelimit-reset").and_then(|v| v.trim().parse::<u64>().ok());
        let now_s = now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        return Some(Duration::from_secs(reset.map_or(60, |r| r.saturating_sub(now_s)).max(1)));
    }
    (status == 429 || body.to_ascii_lowercase().contains("rate limit")).then_some(SECONDARY_DEFAULT_WAIT)
}

/// A transport failure from octocrab's client (its error text) as a [`Cause`]. Pure.
pub fn cause_of(text: &str) -> Cause {
    let lower = text.to_ascii_lowercase();
    if lower.contains("connection closed") || lower.contains("reset") || lower.contains("broken pipe") {
        Cause::Broken(text.to_string())
    } else if lower.contains("timed out") || lower.contains("timeout") {
        Cause::Timeout(text.to_string())
    } else if lower.contains("connect") || lower.contains("dns") || lower.contains("refused") {
        Cause::Connect(text.to_string())
    } else {
        Cause::Broken(text.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn rate_limits_are_recognised_and_waited_for() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(rate_limit_wait(403, &headers(&[("retry-after", "7")]), "", now), Some(Duration::from_secs(7)));
        assert_eq!(rate_limit_wait(429, &headers(&[("retry-after", "2")]), "", now), Some(Duration::from_secs(2)));
        let primary = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1030")]);
        assert_eq!(rate_limit_wait(403, &primary, "", now), Some(Duration::from_secs(30)));
        let past = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "10")]);
        assert_eq!(rate_limit_wait(403, &past, "", now), Some(Duration::from_secs(1)));
        let secondary = r#"{"message":"You have exceeded a secondary rate limit"}"#;
        assert_eq!(rate_limit_wait(403, &HeaderMap::new(), secondary, now), Some(SECONDARY_DEFAULT_WAIT));
        // A plain 403 (no permission) is not a rate limit: it is final.
        let denied = r#"{"message":"Resource not accessible by integration"}"#;
        assert_eq!(rate_limit_wait(403, &HeaderMap::new(), denied, now), None);
        assert_eq!(rate_limit_wait(404, &headers(&[("retry-after", "7")]), "", now), None);
        let remaining = headers(&[("x-ratelimit-remaining", "12")]);
        assert_eq!(rate_limit_wait(403, &remaining, denied, now), None);
    }

    #[test]
    fn transport_failures_are_classified() {
        assert!(matches!(cause_of("Service Error: client error (Connect): tcp connect error"), Cause::Connect(_)));
        assert!(matches!(cause_of("Service Error: request timed out"), Cause::Timeout(_)));
        assert!(matches!(cause_of("Hyper Error: connection closed before message completed"), Cause::Broken(_)));
    }

    #[tokio::test]
    async fn the_pacer_spaces_requests() {
        let pacer = Pacer::default();
        let t = Instant::now();
        for _ in 0..3 {
            pacer.wait().await;
        }
        assert!(t.elapsed() >= MIN_INTERVAL * 2, "{:?}", t.elapsed());
    }

    #[tokio::test]
    async fn api_urls_are_checked() {
        assert!(Github::new("not a url", "t").is_err());
        assert!(Github::new("ftp://example.com", "t").is_err());
        let g = Github::new("https://ghe.example.com/api/v3/", "t").unwrap();
        assert_eq!(g.api_url, "https://ghe.example.com/api/v3");
    }
}
