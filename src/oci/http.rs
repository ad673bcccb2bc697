//! The one registry client: one repository of one registry, for pulling or pushing
//! ([`super::auth::Scope`]), its authentication (Basic, or a Bearer token from the one token
//! exchange, [`super::auth::exchange`]) and sending one request with the right credentials.
//! Timeouts, retries, `Retry-After` and failure text are the network layer's ([`crate::net`]):
//! every request, token requests included, goes through its client.
//!
//! Written on reqwest directly rather than oci-client's methods because those do not expose the
//! HTTP status and `Retry-After` of a failure, cannot resume a chunked upload, do not retry, and
//! send through oci-client's own HTTP client, which has none of the network layer's timeouts.
//! oci-client stays for what makes no request: its manifest types and reference grammar.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};

use super::auth::{exchange, parse_challenge, Auth, Challenge, Credentials, Exchange, Scope};
use crate::error::{environment, usage};
use crate::net::policy::{classify, StatusClass};
use crate::net::{self, Retries, RetryPolicy, Safety, Transient, TryFailure};

/// Knobs of the push: chunk size, parallel blob uploads, timeouts and retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tuning {
    /// Bytes per PATCH; `None` picks [`default_chunk_size`] for the host.
    pub chunk_size: Option<usize>,
    /// Blobs uploaded at the same time.
    pub concurrency: usize,
    pub connect_timeout: Duration,
    /// Whole-request timeout (one chunk, one manifest); also the longest silence.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// Seed of the jitter; `None` seeds from the clock.
    pub seed: Option<u64>,
}

/// GHCR refuses upload chunks above 4 MiB.
pub const GHCR_MAX_CHUNK: usize = 4 * 1024 * 1024;
/// Chunk size for other registries: fewer round trips, still resumable, bounded memory.
pub const DEFAULT_CHUNK: usize = 16 * 1024 * 1024;

/// The chunk size for a registry host: 4 MiB on ghcr.io, 16 MiB elsewhere.
pub fn default_chunk_size(host: &str) -> usize {
    if host == super::reference::DEFAULT_REGISTRY_HOST {
        GHCR_MAX_CHUNK
    } else {
        DEFAULT_CHUNK
    }
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            chunk_size: None,
            concurrency: 3,
            connect_timeout: Duration::from_secs(15),
            request_timeout: Duration::from_secs(300),
            // A push is long and registries flake: more tries in a row than a single GET.
            retry: RetryPolicy { attempts: 8, ..RetryPolicy::default() },
            seed: None,
        }
    }
}

/// How one attempt failed.
#[derive(Debug)]
pub enum RegistryFailure {
    /// Worth another try after a wait (network error, 429, 5xx).
    Transient(Transient),
    /// An upload session the registry no longer knows or refuses to continue: start it over.
    Restart(Transient),
    /// Retrying will not help.
    Fatal(anyhow::Error),
}

impl From<TryFailure> for RegistryFailure {
    fn from(a: TryFailure) -> RegistryFailure {
        match a {
            TryFailure::Retry(t) => RegistryFailure::Transient(t),
            TryFailure::Fatal(e) => RegistryFailure::Fatal(e),
        }
    }
}

impl RegistryFailure {
    /// A lost or refused upload session.
    pub fn restart(request: String, status: u16) -> RegistryFailure {
        RegistryFailure::Restart(Transient { request, cause: net::Cause::Status(status), retry_after: None })
    }
}

/// A client bound to one repository of one registry, for pulling or pushing ([`Scope`]): the one
/// registry client. Push operations are in [`super::upload`] and [`super::push`], pull operations
/// in [`super::pull`]; both send through [`RegistryClient::send_once`], which answers a 401 with
/// the one token exchange ([`super::auth::exchange`]) for the client's scope.
pub struct RegistryClient {
    net: net::Client,
    pub base: url::Url,
    pub host: String,
    pub repository: String,
    pub scope: Scope,
    creds: Option<Credentials>,
    auth: tokio::sync::Mutex<Auth>,
    /// Requests sent, token requests included.
    requests: AtomicU64,
    /// The tag list, read once per client (install's version lookup and the referrer tags share it).
    pub(super) tags: tokio::sync::OnceCell<Option<Vec<String>>>,
    /// The push's knobs; the defaults on a pull client (whose timeouts are its `net` client's).
    pub tuning: Tuning,
}

impl RegistryClient {
    /// A push client: ping `/v2/` and authenticate for push (credentials required where the
    /// registry asks for any), retrying transient failures. Every request, the token exchange
    /// included, has `tuning`'s timeouts and retry policy.
    pub async fn connect(
        host: &str,
        repository: &str,
        insecure: bool,
        creds: Option<Credentials>,
        tuning: Tuning,
    ) -> anyhow::Result<RegistryClient> {
        let net = net::Client::with_settings(&net::Settings {
            connect_timeout: tuning.connect_timeout,
            idle_timeout: tuning.request_timeout,
            request_timeout: Some(tuning.request_timeout),
            retry: tuning.retry,
            seed: tuning.seed,
            ..net::Settings::default()
        })?;
        let client = RegistryClient::new((host, repository), insecure, creds, net, (Scope::Push, tuning))?;
        client.retrying("authenticating", || client.authenticate()).await?;
        Ok(client)
    }

    /// A pull client over `net` (its timeouts and retry policy apply to every request); plain HTTP
    /// when `insecure`. Nothing is sent yet: Basic credentials go with the first request, and a
    /// Bearer challenge is answered with a pull token (anonymous without credentials).
    pub fn pull(
        host: &str,
        repository: &str,
        insecure: bool,
        creds: Option<Credentials>,
        net: net::Client,
    ) -> anyhow::Result<RegistryClient> {
        RegistryClient::new((host, repository), insecure, creds, net, (Scope::Pull, Tuning::default()))
    }

    fn new(
        (host, repository): (&str, &str),
        insecure: bool,
        creds: Option<Credentials>,
        net: net::Client,
        (scope, tuning): (Scope, Tuning),
    ) -> anyhow::Result<RegistryClient> {
        let scheme = if insecure { "http" } else { "https" };
        let base = url::Url::parse(&format!("{scheme}://{host}/"))
            .map_err(|e| usage(format!("invalid registry host `{host}`: {e}")))?;
        let auth = match (scope, &creds) {
            (Scope::Pull, Some(c)) => Auth::Basic(c.clone()),
            _ => Auth::None,
        };
        Ok(RegistryClient {
            net,
            base,
            host: host.to_string(),
            repository: repository.to_string(),
            scope,
            creds,
            auth: tokio::sync::Mutex::new(auth),
            requests: AtomicU64::new(0),
            tags: tokio::sync::OnceCell::new(),
            tuning,
        })
    }

    /// The network layer this client sends through.
    pub fn net(&self) -> &net::Client {
        &self.net
    }

    /// Requests this client has sent (token requests included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The retry state of one new operation.
    pub fn retries(&self) -> Retries<'_> {
        self.net.retries()
    }

    pub fn url(&self, path: &str) -> url::Url {
        self.base.join(path).expect("registry paths are valid URLs")
    }

    /// `/v2/<repository>/<rest>`.
    pub fn repo_url(&self, rest: &str) -> url::Url {
        self.url(&format!("v2/{}/{rest}", self.repository))
    }

    /// Bytes per PATCH for this registry.
    pub fn chunk_size(&self) -> usize {
        self.tuning.chunk_size.unwrap_or_else(|| default_chunk_size(&self.host)).max(1)
    }

    pub fn http(&self) -> &reqwest::Client {
        self.net.http()
    }

    /// Ask the registry how to authenticate (`GET /v2/`) and get what the client's scope needs.
    async fn authenticate(&self) -> Result<(), RegistryFailure> {
        let what = format!("authenticating on registry {}", self.host);
        self.requests.fetch_add(1, Ordering::Relaxed);
        let resp = self.net.attempt(&what, self.http().get(self.url("v2/")), Safety::Idempotent).await?;
        let status = resp.status();
        match classify(status.as_u16()) {
            StatusClass::Success => Ok(()),
            StatusClass::Unauthorized => Ok(self.answer(&resp).await?),
            StatusClass::Transient => {
                Err(RegistryFailure::Transient(Transient::from_status(&reqwest::Method::GET, &resp)))
            }
            _ => Err(RegistryFailure::Fatal(environment(format!(
                "registry {} answered HTTP {status} to GET /v2/: is it an OCI registry?",
                self.host
            )))),
        }
    }

    /// A 401: a Bearer challenge gets a token for the client's scope through [`exchange`]; any
    /// other scheme gets the Basic credentials (sent from then on). Without credentials, a push
    /// stops here and a pull asks for an anonymous token.
    async fn answer(&self, resp: &Response) -> Result<(), TryFailure> {
        if self.scope == Scope::Push && self.creds.is_none() {
            return Err(TryFailure::Fatal(usage(format!(
                "registry {} requires credentials and none are set: set CRATEMILL_REGISTRY_USER and CRATEMILL_REGISTRY_TOKEN (on ghcr.io, GITHUB_TOKEN with the `packages: write` permission works)",
                self.host
            ))));
        }
        let header = resp.headers().get(reqwest::header::WWW_AUTHENTICATE).and_then(|v| v.to_str().ok());
        let auth = match (header.and_then(parse_challenge), &self.creds) {
            (Some(challenge), _) => Auth::Bearer(self.token(&challenge).await?),
            (None, Some(c)) => Auth::Basic(c.clone()),
            (None, None) => return Err(TryFailure::Fatal(self.denied(resp.status(), "access", None))),
        };
        *self.auth.lock().await = auth;
        Ok(())
    }

    /// One try of the token exchange for this client's repository and scope.
    pub async fn token(&self, challenge: &Challenge) -> Result<String, TryFailure> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let on = (self.repository.as_str(), self.scope);
        match exchange(&self.net, &self.host, challenge, on, self.creds.as_ref()).await? {
            Exchange::Token(t) => Ok(t),
            Exchange::Refused { status, reason } => {
                let what = format!("a {} token", self.scope.actions());
                Err(TryFailure::Fatal(self.denied(status, &what, Some(&reason))))
            }
        }
    }

    /// Take `token` (fetched ahead, as install does on ghcr.io) for the next requests.
    pub async fn use_token(&self, token: String) {
        *self.auth.lock().await = Auth::Bearer(token);
    }

    /// The error for 401/403 on `what`: what is missing for the client's scope, never the secret.
    /// `refusal` is a token service's answer.
    pub fn denied(&self, status: StatusCode, what: &str, refusal: Option<&str>) -> anyhow::Error {
        match self.scope {
            Scope::Push => {
                let who = match &self.creds {
                    Some(c) => format!("user `{}`", c.user),
                    None => "anonymous access".to_string(),
                };
                let detail = match refusal {
                    Some(r) => format!("token exchange refused: {}", r.trim()),
                    None => format!("on {what}"),
                };
                usage(format!(
                    "registry {} denied push to `{}` for {who} (HTTP {}, {detail}): the token needs push access; on ghcr.io that is the `packages: write` permission (`permissions: packages: write` in the workflow job, and Write access for this repository on an existing package); elsewhere check CRATEMILL_REGISTRY_USER and CRATEMILL_REGISTRY_TOKEN",
                    self.host,
                    self.repository,
                    status.as_u16(),
                ))
            }
            Scope::Pull => {
                let who = if self.creds.is_some() { "with the credentials given" } else { "anonymously" };
                usage(format!(
                    "registry {} refused {what} of `{}` {who} (HTTP {status}): for a private mirror set CRATEMILL_REGISTRY_USER and CRATEMILL_REGISTRY_TOKEN (a token with read access)",
                    self.host, self.repository
                ))
            }
        }
    }

    /// Send one request with the client's credentials: a 401 is answered once ([`Self::answer`])
    /// and the request sent again; 403 and a second 401 are fatal ([`Self::denied`]); 429/5xx and
    /// network errors are [`TryFailure::Retry`]. Other statuses are returned. `what` names the
    /// request in a refusal, `what_on` in a network failure.
    pub async fn send_once(
        &self,
        (what, what_on): (&str, &str),
        make: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Response, TryFailure> {
        let mut answered = false;
        loop {
            let req = self.auth.lock().await.apply(make(self.http()));
            let req =
                req.build().map_err(|e| TryFailure::Fatal(anyhow::anyhow!("{what}: cannot build the request: {e}")))?;
            let method = req.method().clone();
            self.requests.fetch_add(1, Ordering::Relaxed);
            let resp = self.net.execute(what_on, req, Safety::Idempotent).await?;
            match classify(resp.status().as_u16()) {
                StatusClass::Unauthorized if !answered => {
                    answered = true;
                    self.answer(&resp).await?
                }
                StatusClass::Unauthorized | StatusClass::Denied => {
                    return Err(TryFailure::Fatal(self.denied(resp.status(), what, None)))
                }
                StatusClass::Transient => return Err(TryFailure::Retry(Transient::from_status(&method, &resp))),
                _ => return Ok(resp),
            }
        }
    }

    /// [`Self::send_once`] for the push operations' loops ([`Self::retrying`]).
    pub async fn send(
        &self,
        what: &str,
        make: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Response, RegistryFailure> {
        let what_on = format!("{what} on registry {}", self.host);
        Ok(self.send_once((what, &what_on), make).await?)
    }

    /// Run `op` until it succeeds, fails fatally, or the retry policy gives up.
    pub async fn retrying<T, F, Fut>(&self, what: &str, mut op: F) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, RegistryFailure>>,
    {
        let mut retries = self.retries();
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(RegistryFailure::Fatal(e)) => return Err(e),
                Err(f) => self.wait(&mut retries, what, f).await?,
            }
        }
    }

    /// Record a failure and sleep for the wait the policy decides, or give up with an error.
    pub async fn wait(&self, retries: &mut Retries<'_>, what: &str, failure: RegistryFailure) -> anyhow::Result<()> {
        match failure {
            RegistryFailure::Transient(t) | RegistryFailure::Restart(t) => {
                retries.wait(&format!("{what} on registry {}", self.host), t).await
            }
            RegistryFailure::Fatal(e) => Err(e),
        }
    }
}

/// A fatal error for an unexpected status, with the registry's error body (truncated).
pub async fn unexpected(host: &str, what: &str, resp: Response) -> anyhow::Error {
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    let body = crate::actions::truncate_utf8(body.trim(), 300).replace(['\n', '\r'], " ");
    environment(format!("registry {host} answered HTTP {status} to {what}: {body}"))
}
