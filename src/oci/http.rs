//! One registry repository over HTTP: authentication (Basic, or a Bearer token fetched with
//! oci-client's token exchange) and sending one request with the right credentials. Timeouts,
//! retries, `Retry-After` and failure text are the network layer's ([`crate::net`]).
//!
//! Written on reqwest directly rather than oci-client's push methods because those do not expose
//! the HTTP status and `Retry-After` of a failure, cannot resume a chunked upload, and do not retry.

use std::future::Future;
use std::time::Duration;

use reqwest::{RequestBuilder, Response};

use crate::error::{environment, usage};
use crate::net::policy::{classify, StatusClass};
use crate::net::{self, Attempt, Retries, RetryPolicy, Safety, Transient};

/// Registry credentials. `Debug` never shows the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub token: String,
}

/// The user name sent with a token when none is set (GHCR ignores it; a token is what counts).
pub const DEFAULT_USER: &str = "cratemill";

impl Credentials {
    /// The registry credentials of this process's environment ([`Credentials::from_lookup`]). I/O.
    pub fn from_env() -> Option<Credentials> {
        Credentials::from_lookup(|k| std::env::var(k).ok())
    }

    /// `CRATEMILL_REGISTRY_TOKEN`, else `GITHUB_TOKEN`; the user from `CRATEMILL_REGISTRY_USER`, else
    /// `GITHUB_ACTOR`, else [`DEFAULT_USER`]. No token, no credentials. Pure. Every phase that talks
    /// to a registry (publish, attest, verify, install, report's index push) takes them from here.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Option<Credentials> {
        let var = |k: &str| get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let token = var("CRATEMILL_REGISTRY_TOKEN").or_else(|| var("GITHUB_TOKEN"))?;
        let user =
            var("CRATEMILL_REGISTRY_USER").or_else(|| var("GITHUB_ACTOR")).unwrap_or_else(|| DEFAULT_USER.to_string());
        Some(Credentials { user, token })
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials {{ user: {:?}, token: <redacted> }}", self.user)
    }
}

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
pub enum Failure {
    /// Worth another try after a wait (network error, 429, 5xx).
    Transient(Transient),
    /// An upload session the registry no longer knows or refuses to continue: start it over.
    Restart(Transient),
    /// Retrying will not help.
    Fatal(anyhow::Error),
}

impl From<Attempt> for Failure {
    fn from(a: Attempt) -> Failure {
        match a {
            Attempt::Retry(t) => Failure::Transient(t),
            Attempt::Fatal(e) => Failure::Fatal(e),
        }
    }
}

impl Failure {
    /// A lost or refused upload session.
    pub fn restart(request: String, status: u16) -> Failure {
        Failure::Restart(Transient { request, cause: net::Cause::Status(status), retry_after: None })
    }
}

#[derive(Clone)]
enum Auth {
    None,
    Basic(Credentials),
    Bearer(String),
}

/// A client bound to one repository of one registry.
pub struct RegistryClient {
    net: net::Client,
    pub base: url::Url,
    pub host: String,
    pub repository: String,
    insecure: bool,
    creds: Option<Credentials>,
    auth: tokio::sync::Mutex<Auth>,
    pub tuning: Tuning,
}

impl RegistryClient {
    /// Connect: ping `/v2/` and authenticate for push, retrying transient failures.
    pub async fn connect(
        host: &str,
        repository: &str,
        insecure: bool,
        creds: Option<Credentials>,
        tuning: Tuning,
    ) -> anyhow::Result<RegistryClient> {
        let scheme = if insecure { "http" } else { "https" };
        let base = url::Url::parse(&format!("{scheme}://{host}/"))
            .map_err(|e| usage(format!("invalid registry host `{host}`: {e}")))?;
        let net = net::Client::with_settings(&net::Settings {
            connect_timeout: tuning.connect_timeout,
            idle_timeout: tuning.request_timeout,
            request_timeout: Some(tuning.request_timeout),
            retry: tuning.retry,
            seed: tuning.seed,
            ..net::Settings::default()
        })?;
        let client = RegistryClient {
            net,
            base,
            host: host.to_string(),
            repository: repository.to_string(),
            insecure,
            creds,
            auth: tokio::sync::Mutex::new(Auth::None),
            tuning,
        };
        client.retrying("authenticating", || client.authenticate()).await?;
        Ok(client)
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

    /// Ask the registry how to authenticate and get credentials for pushing to the repository.
    async fn authenticate(&self) -> Result<(), Failure> {
        let what = format!("authenticating on registry {}", self.host);
        let resp = self.net.attempt(&what, self.http().get(self.url("v2/")), Safety::Idempotent).await?;
        let status = resp.status();
        let auth = match classify(status.as_u16()) {
            StatusClass::Success => Auth::None,
            StatusClass::Unauthorized => {
                let challenge = resp
                    .headers()
                    .get(reqwest::header::WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let Some(creds) = self.creds.clone() else {
                    return Err(Failure::Fatal(usage(format!(
                        "registry {} requires credentials and none are set: set CRATEMILL_REGISTRY_USER and CRATEMILL_REGISTRY_TOKEN (on ghcr.io, GITHUB_TOKEN with the `packages: write` permission works)",
                        self.host
                    ))));
                };
                if challenge.to_ascii_lowercase().starts_with("bearer") {
                    Auth::Bearer(self.bearer_token(&creds).await?)
                } else {
                    Auth::Basic(creds)
                }
            }
            StatusClass::Transient => {
                return Err(Failure::Transient(Transient::from_status(&reqwest::Method::GET, &resp)))
            }
            _ => {
                return Err(Failure::Fatal(environment(format!(
                    "registry {} answered HTTP {status} to GET /v2/: is it an OCI registry?",
                    self.host
                ))))
            }
        };
        *self.auth.lock().await = auth;
        Ok(())
    }

    /// The token exchange of the distribution spec, done by oci-client.
    async fn bearer_token(&self, creds: &Credentials) -> Result<String, Failure> {
        use oci_client::client::{ClientConfig, ClientProtocol};
        use oci_client::errors::OciDistributionError as E;
        let protocol = if self.insecure { ClientProtocol::Http } else { ClientProtocol::Https };
        let oci = oci_client::Client::new(ClientConfig { protocol, ..Default::default() });
        let reference = oci_client::Reference::with_tag(self.host.clone(), self.repository.clone(), "latest".into());
        let basic = oci_client::secrets::RegistryAuth::Basic(creds.user.clone(), creds.token.clone());
        match oci.auth(&reference, &basic, oci_client::RegistryOperation::Push).await {
            Ok(Some(token)) => Ok(token),
            Ok(None) => Err(self.token_trouble("asked for a token but its challenge changed".into())),
            Err(E::AuthenticationFailure(reason)) => {
                Err(Failure::Fatal(self.denied(401, &format!("token exchange refused: {}", reason.trim()))))
            }
            Err(E::RequestError(e)) => Err(self.token_trouble(net::failure::describe(&e))),
            Err(e) => Err(self.token_trouble(e.to_string())),
        }
    }

    /// A token exchange that failed in a way that may pass.
    fn token_trouble(&self, detail: String) -> Failure {
        Failure::Transient(Transient {
            request: format!("token exchange with {}", self.host),
            cause: net::Cause::Other(detail),
            retry_after: None,
        })
    }

    /// The error for 401/403: what is missing, never the secret.
    pub fn denied(&self, status: u16, detail: &str) -> anyhow::Error {
        let who = match &self.creds {
            Some(c) => format!("user `{}`", c.user),
            None => "anonymous access".to_string(),
        };
        usage(format!(
            "registry {} denied push to `{}` for {who} (HTTP {status}{}): the token needs push access; on ghcr.io that is the `packages: write` permission (`permissions: packages: write` in the workflow job, and Write access for this repository on an existing package); elsewhere check CRATEMILL_REGISTRY_USER and CRATEMILL_REGISTRY_TOKEN",
            self.host,
            self.repository,
            if detail.is_empty() { String::new() } else { format!(", {detail}") }
        ))
    }

    /// Send one request with credentials. 401 triggers one re-authentication; 403 and a second 401
    /// are fatal; 429/5xx and network errors are transient. Other statuses are returned.
    pub async fn send(
        &self,
        what: &str,
        make: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Response, Failure> {
        let mut reauthenticated = false;
        loop {
            let auth = self.auth.lock().await.clone();
            let req = match auth {
                Auth::None => make(self.http()),
                Auth::Basic(c) => make(self.http()).basic_auth(c.user, Some(c.token)),
                Auth::Bearer(t) => make(self.http()).bearer_auth(t),
            };
            let req =
                req.build().map_err(|e| Failure::Fatal(anyhow::anyhow!("{what}: cannot build the request: {e}")))?;
            let method = req.method().clone();
            let what_on = format!("{what} on registry {}", self.host);
            let resp = self.net.execute(&what_on, req, Safety::Idempotent).await?;
            match classify(resp.status().as_u16()) {
                StatusClass::Unauthorized if !reauthenticated => {
                    reauthenticated = true;
                    self.authenticate().await?
                }
                StatusClass::Unauthorized | StatusClass::Denied => {
                    return Err(Failure::Fatal(self.denied(resp.status().as_u16(), &format!("on {what}"))))
                }
                StatusClass::Transient => return Err(Failure::Transient(Transient::from_status(&method, &resp))),
                _ => return Ok(resp),
            }
        }
    }

    /// Run `op` until it succeeds, fails fatally, or the retry policy gives up.
    pub async fn retrying<T, F, Fut>(&self, what: &str, mut op: F) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut retries = self.retries();
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(f) => self.wait(&mut retries, what, f).await?,
            }
        }
    }

    /// Record a failure and sleep for the wait the policy decides, or give up with an error.
    pub async fn wait(&self, retries: &mut Retries<'_>, what: &str, failure: Failure) -> anyhow::Result<()> {
        match failure {
            Failure::Transient(t) | Failure::Restart(t) => {
                retries.wait(&format!("{what} on registry {}", self.host), t).await
            }
            Failure::Fatal(e) => Err(e),
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
