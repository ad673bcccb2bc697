//! The I/O edge of the network layer: the HTTP client every part of cratemill uses (connect and
//! idle timeouts, user agent, bounded redirects that never downgrade https, rustls), one try of a
//! request mapped to "done / retry / stop", and the retry loop that sleeps what
//! [`super::policy`] decides and stops at the caller's deadline.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use reqwest::{Method, RequestBuilder, Response, StatusCode};

use super::failure::{request_line, Cause, HttpFailure};
use super::policy::{parse_retry_after, retry_status, retry_transport, RetryPolicy, Safety, Tracker};

/// Sent with every request so operators can tell who is calling.
pub const USER_AGENT: &str =
    concat!("cratemill/", env!("CARGO_PKG_VERSION"), " (+https://github.com/cratemill/cratemill)");

/// How the client connects, waits and follows redirects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Longest wait for a TCP + TLS connection.
    pub connect_timeout: Duration,
    /// Longest silence while connected (between two reads of the answer).
    pub idle_timeout: Duration,
    /// Whole-request limit, when one applies to every request of this client (a registry chunk).
    pub request_timeout: Option<Duration>,
    /// Redirect hops followed per request; https to http is never followed.
    pub max_redirects: usize,
    pub retry: RetryPolicy,
    /// Seed of the jitter; `None` seeds from the clock.
    pub seed: Option<u64>,
    /// Say on stderr what failed and how long cratemill waits before the next try (long
    /// downloads, where silence would look like a hang).
    pub announce_retries: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            connect_timeout: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(60),
            request_timeout: None,
            max_redirects: 5,
            retry: RetryPolicy::default(),
            seed: None,
            announce_retries: false,
        }
    }
}

/// Whether to follow redirect number `hop` (1-based) from scheme `from` to scheme `to`.
pub fn redirect_verdict(hop: usize, max: usize, from: &str, to: &str) -> Result<(), String> {
    if hop > max {
        return Err(format!("more than {max} redirects"));
    }
    if from == "https" && to != "https" {
        return Err(format!("a redirect from https to {to} is not followed"));
    }
    Ok(())
}

/// A shared client: cheap to clone; clones share the connection pool and the jitter stream.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    retry: RetryPolicy,
    deadline: Option<tokio::time::Instant>,
    seed: Arc<AtomicU64>,
    announce_retries: bool,
}

/// One failed try that may be retried: the request, what went wrong, and the server's wish.
#[derive(Debug, Clone)]
pub struct Transient {
    pub request: String,
    pub cause: Cause,
    pub retry_after: Option<Duration>,
}

impl Transient {
    /// From an answer whose status is retried; reads `Retry-After`.
    pub fn from_status(method: &Method, resp: &Response) -> Transient {
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        Transient {
            request: request_line(method, resp.url()),
            cause: Cause::Status(resp.status().as_u16()),
            retry_after,
        }
    }
}

/// How one try ended when it did not succeed.
#[derive(Debug)]
pub enum TryFailure {
    /// Worth another try after a wait.
    Retry(Transient),
    /// Retrying will not help.
    Fatal(anyhow::Error),
}

impl TryFailure {
    /// A failure that is never retried, described like every other network failure.
    pub fn fatal(what: &str, request: String, cause: Cause) -> TryFailure {
        TryFailure::Fatal(
            HttpFailure { what: what.to_string(), request: Some(request), cause, attempts: 1, gave_up: None }
                .into_error(),
        )
    }

    /// A transport failure as a try's outcome: retried when the policy says so for `safety`.
    pub fn from_transport(what: &str, request: String, cause: Cause, safety: Safety) -> TryFailure {
        match cause.transport_fault() {
            Some(fault) if retry_transport(fault, safety) => {
                TryFailure::Retry(Transient { request, cause, retry_after: None })
            }
            _ => TryFailure::fatal(what, request, cause),
        }
    }

    /// An answer whose status is retried (per `safety`) as a retry; any other as `Ok`.
    pub fn check_status(method: &Method, resp: Response, safety: Safety) -> Result<Response, TryFailure> {
        if retry_status(resp.status().as_u16(), safety) {
            Err(TryFailure::Retry(Transient::from_status(method, &resp)))
        } else {
            Ok(resp)
        }
    }
}

/// A whole answer read into memory (bounded by the caller's limit).
#[derive(Debug, Clone)]
pub struct Body {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Bytes,
    /// `METHOD url` of the request, for error lines.
    pub request: String,
}

impl Body {
    /// The error for a final status the caller did not expect (exit 3, like every network
    /// failure).
    pub fn unexpected(&self, what: &str) -> anyhow::Error {
        HttpFailure {
            what: what.to_string(),
            request: Some(self.request.clone()),
            cause: Cause::Status(self.status.as_u16()),
            attempts: 1,
            gave_up: None,
        }
        .into_error()
    }

    /// The body as UTF-8 text (lossy: error bodies are only shown).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

impl Client {
    /// A client with the default [`Settings`].
    pub fn new() -> anyhow::Result<Client> {
        Client::with_settings(&Settings::default())
    }

    pub fn with_settings(s: &Settings) -> anyhow::Result<Client> {
        let max = s.max_redirects;
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            let from = attempt.previous().last().map(|u| u.scheme().to_string()).unwrap_or_default();
            match redirect_verdict(attempt.previous().len(), max, &from, attempt.url().scheme()) {
                Ok(()) => attempt.follow(),
                Err(why) => attempt.error(why),
            }
        });
        let mut builder = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(s.connect_timeout)
            .read_timeout(s.idle_timeout)
            .redirect(redirects);
        if let Some(t) = s.request_timeout {
            builder = builder.timeout(t);
        }
        let http = builder.build().map_err(|e| anyhow::anyhow!("cannot set up the HTTP client: {e}"))?;
        let seed = s.seed.unwrap_or_else(|| {
            SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
        });
        Ok(Client {
            http,
            retry: s.retry,
            deadline: None,
            seed: Arc::new(AtomicU64::new(seed)),
            announce_retries: s.announce_retries,
        })
    }

    /// The same client, bounded by `deadline`: no try starts or keeps running after it, and no
    /// wait reaches past it. `None` removes the bound.
    pub fn with_deadline(mut self, deadline: Option<Instant>) -> Client {
        self.deadline = deadline.map(tokio::time::Instant::from_std);
        self
    }

    /// The same client with another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Client {
        self.retry = retry;
        self
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// The underlying reqwest client, to build requests for [`Client::attempt`].
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The retry state of one new operation.
    pub fn retries(&self) -> Retries<'_> {
        let seed = self.seed.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        Retries {
            client: self,
            tracker: Tracker::new(self.retry, fastrand::Rng::with_seed(seed)),
            started: Instant::now(),
        }
    }

    fn remaining(&self) -> Option<Duration> {
        self.deadline.map(|d| d.saturating_duration_since(tokio::time::Instant::now()))
    }

    /// Sends one request. Transport failures become [`TryFailure::Retry`] or [`TryFailure::Fatal`]
    /// by the policy for `safety`; every answer, whatever its status, is returned.
    pub async fn attempt(&self, what: &str, req: RequestBuilder, safety: Safety) -> Result<Response, TryFailure> {
        self.execute(what, build(what, req)?, safety).await
    }

    /// [`Client::attempt`] for a request already built.
    pub async fn execute(&self, what: &str, req: reqwest::Request, safety: Safety) -> Result<Response, TryFailure> {
        let request = request_line(req.method(), req.url());
        self.http.execute(req).await.map_err(|e| TryFailure::from_transport(what, request, Cause::of(&e), safety))
    }

    /// Runs `op` until it succeeds, fails fatally, or the policy or the deadline stops it.
    pub async fn run<T, F, Fut>(&self, what: &str, mut op: F) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, TryFailure>>,
    {
        let mut retries = self.retries();
        loop {
            let outcome = match self.deadline {
                Some(at) => match tokio::time::timeout_at(at, op()).await {
                    Ok(outcome) => outcome,
                    Err(_) => return Err(retries.past_deadline(what)),
                },
                None => op().await,
            };
            match outcome {
                Ok(v) => return Ok(v),
                Err(TryFailure::Fatal(e)) => return Err(e),
                Err(TryFailure::Retry(t)) => retries.wait(what, t).await?,
            }
        }
    }

    /// A request with retries, its answer read whole. Retried statuses are retried; any other
    /// status is returned for the caller to judge. An answer longer than `limit` bytes is an
    /// error, and is never read past the limit.
    pub async fn fetch(
        &self,
        what: &str,
        safety: Safety,
        limit: u64,
        make: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> anyhow::Result<Body> {
        self.run(what, || self.fetch_once(what, safety, limit, make(&self.http))).await
    }

    /// One try of [`Client::fetch`], for a caller whose own loop retries (a registry's token
    /// exchange inside its request loop): a retried status or transport failure is an
    /// [`TryFailure::Retry`], any other status is returned, the answer read whole up to `limit`.
    pub async fn fetch_once(
        &self,
        what: &str,
        safety: Safety,
        limit: u64,
        req: RequestBuilder,
    ) -> Result<Body, TryFailure> {
        let req = build(what, req)?;
        let method = req.method().clone();
        let resp = TryFailure::check_status(&method, self.execute(what, req, safety).await?, safety)?;
        read_capped(what, &method, resp, limit, safety).await
    }

    /// `GET url`, retried, read whole (at most `limit` bytes).
    pub async fn get(&self, what: &str, url: &str, limit: u64) -> anyhow::Result<Body> {
        self.fetch(what, Safety::Idempotent, limit, |h| h.get(url)).await
    }

    /// `POST url` with a JSON body; retried only where that is safe for a POST (see
    /// [`Safety::NotIdempotent`]); the answer read whole (at most `limit` bytes).
    pub async fn post_json<B: serde::Serialize + ?Sized>(
        &self,
        what: &str,
        url: &str,
        body: &B,
        limit: u64,
    ) -> anyhow::Result<Body> {
        let json = serde_json::to_vec(body).map_err(|e| anyhow::anyhow!("{what}: cannot encode the request: {e}"))?;
        let json = Bytes::from(json);
        self.fetch(what, Safety::NotIdempotent, limit, |h| {
            h.post(url).header(reqwest::header::CONTENT_TYPE, "application/json").body(json.clone())
        })
        .await
    }
}

fn build(what: &str, req: RequestBuilder) -> Result<reqwest::Request, TryFailure> {
    req.build().map_err(|e| TryFailure::Fatal(anyhow::anyhow!("{what}: cannot build the request: {e}")))
}

/// Reads an answer into memory, refusing to go past `limit` bytes.
async fn read_capped(
    what: &str,
    method: &Method,
    mut resp: Response,
    limit: u64,
    safety: Safety,
) -> Result<Body, TryFailure> {
    let request = request_line(method, resp.url());
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(TryFailure::fatal(what, request, Cause::TooLarge { limit }));
    }
    let mut buf = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(piece)) => {
                if buf.len() as u64 + piece.len() as u64 > limit {
                    return Err(TryFailure::fatal(what, request, Cause::TooLarge { limit }));
                }
                buf.extend_from_slice(&piece);
            }
            Ok(None) => break,
            Err(e) => {
                return Err(TryFailure::from_transport(what, request, Cause::of_body(&e), safety));
            }
        }
    }
    Ok(Body { status: resp.status(), headers: resp.headers().clone(), bytes: Bytes::from(buf), request })
}

/// The retry state of one operation: its failures so far and when it started.
pub struct Retries<'c> {
    client: &'c Client,
    tracker: Tracker,
    started: Instant,
}

impl Retries<'_> {
    /// Something moved forward (a chunk accepted): the run of failures is over.
    pub fn progress(&mut self) {
        self.tracker.progress();
    }

    /// Records a failed try and sleeps the wait the policy decides, or returns the error that
    /// ends the operation.
    pub async fn wait(&mut self, what: &str, failed: Transient) -> anyhow::Result<()> {
        match self.tracker.failure(failed.retry_after, self.started.elapsed(), self.client.remaining()) {
            Ok(delay) => {
                if self.client.announce_retries {
                    crate::note!(
                        "{what}: {} {}; retrying in {:.1}s (attempt {} of at most {})",
                        failed.request,
                        failed.cause,
                        delay.as_secs_f64(),
                        self.tracker.failures() + 1,
                        self.client.retry.attempts.max(1)
                    );
                }
                tokio::time::sleep(delay).await;
                Ok(())
            }
            Err(why) => Err(HttpFailure {
                what: what.to_string(),
                request: Some(failed.request),
                cause: failed.cause,
                attempts: self.tracker.failures(),
                gave_up: Some(why),
            }
            .into_error()),
        }
    }

    fn past_deadline(&self, what: &str) -> anyhow::Error {
        HttpFailure {
            what: what.to_string(),
            request: None,
            cause: Cause::Deadline,
            attempts: self.tracker.failures() + 1,
            gave_up: None,
        }
        .into_error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_are_bounded_and_never_downgrade() {
        assert!(redirect_verdict(1, 5, "https", "https").is_ok());
        assert!(redirect_verdict(5, 5, "http", "https").is_ok());
        assert!(redirect_verdict(3, 5, "http", "http").is_ok());
        assert_eq!(redirect_verdict(6, 5, "https", "https").unwrap_err(), "more than 5 redirects");
        assert!(redirect_verdict(1, 5, "https", "http").unwrap_err().contains("https to http"));
    }

    #[tokio::test]
    async fn a_far_deadline_does_not_panic_and_a_past_one_stops_at_once() {
        let far = Instant::now().checked_add(Duration::from_secs(200 * 365 * 86400));
        let client = Client::new().unwrap().with_deadline(far);
        assert_eq!(client.run("x", || async { Ok::<_, TryFailure>(1) }).await.unwrap(), 1);
        let client = client.with_deadline(Some(Instant::now()));
        let err = client.run("x", std::future::pending::<Result<(), TryFailure>>).await.unwrap_err();
        assert_eq!(crate::error::class_of(&err), Some(crate::schema::result::FailureClass::Timeout));
    }

    #[test]
    fn the_user_agent_names_cratemill_and_its_version() {
        assert!(USER_AGENT.starts_with(&format!("cratemill/{} ", env!("CARGO_PKG_VERSION"))));
    }
}
