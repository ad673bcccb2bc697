//! Keyless signing the way `actions/attest-build-provenance` signs: an ephemeral P-256 key, a
//! Fulcio v2 certificate for the workflow's OIDC identity, a DSSE envelope over the statement, then
//! a Rekor `dsse` v0.0.1 entry (public repositories, public-good instance) or an RFC 3161 timestamp
//! from a TSA (private repositories, GitHub's instance). Bundle v0.3 with the leaf certificate only.
//!
//! I/O edge. The protocol is `sigstore-sign`'s (Fulcio and Rekor clients, bundle builder), which
//! sends its requests through the reqwest client of [`crate::net::Client`] (our timeouts, user agent
//! and TLS); the retry loop is the network layer's ([`crate::net::Client::run`]), with
//! [`Safety::NotIdempotent`]: a try that failed is retried only when the service cannot have acted
//! on it (408, 429, 503, or no connection). The only hand-written request is the TSA's JSON form
//! (`{artifactHash, hashAlgorithm}`), which GitHub's client uses and `sigstore-tsa` (DER requests
//! only) does not speak; it is a [`crate::net::Client::post_json`]. See docs/network.md.

use base64::Engine;
use sha2::Digest;
use sigstore_sign::bundle::BundleV03;
use sigstore_sign::crypto::KeyPair;
use sigstore_sign::fulcio::FulcioClient;
use sigstore_sign::oidc::IdentityToken;
use sigstore_sign::types::{Bundle, TimestampToken};
use sigstore_sign::{SigningContext, SigningServices};

use std::time::Duration;

use super::claims::Claims;
use super::statement::Statement;
use crate::error::{environment, failed, usage};
use crate::net::policy::retry_status;
use crate::net::{Cause, Client, HttpFailure, Safety, Settings, Transient, TryFailure};

pub const PUBLIC_GOOD_FULCIO: &str = "https://fulcio.sigstore.dev";
pub const PUBLIC_GOOD_REKOR: &str = "https://rekor.sigstore.dev";
pub const GITHUB_FULCIO: &str = "https://fulcio.githubapp.com";
pub const GITHUB_TSA: &str = "https://timestamp.githubapp.com/api/v1/timestamp";

/// Which Sigstore instance signs (`--instance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Instance {
    /// public-good for public repositories, github otherwise (the token's repository_visibility).
    Auto,
    /// Sigstore's public-good Fulcio and Rekor: the signature is logged publicly.
    PublicGood,
    /// GitHub's Fulcio and timestamp authority: nothing is logged publicly.
    Github,
}

impl Instance {
    /// Decide `auto` from the claims, as `actions/attest` does.
    pub fn resolve(self, claims: &Claims) -> Instance {
        match self {
            Instance::Auto if claims.is_public() => Instance::PublicGood,
            Instance::Auto => Instance::Github,
            other => other,
        }
    }

    /// The resolved instance as attest.json records it (`None` for an unresolved `auto`).
    pub fn signed(self) -> Option<crate::schema::attest::SignedInstance> {
        use crate::schema::attest::SignedInstance;
        match self {
            Instance::Auto => None,
            Instance::PublicGood => Some(SignedInstance::PublicGood),
            Instance::Github => Some(SignedInstance::Github),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Instance::Auto => "auto",
            Instance::PublicGood => "public-good",
            Instance::Github => "github",
        }
    }
}

/// Service URLs (flags, else environment, else the instance's real endpoints).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Endpoints {
    /// Fulcio base URL [default: the instance's].
    #[arg(long, value_name = "URL", env = "CRATEMILL_FULCIO_URL")]
    pub fulcio_url: Option<String>,
    /// Rekor base URL, public-good only [default: https://rekor.sigstore.dev].
    #[arg(long, value_name = "URL", env = "CRATEMILL_REKOR_URL")]
    pub rekor_url: Option<String>,
    /// Timestamp authority URL (`.../api/v1/timestamp`), github instance only [default: GitHub's].
    #[arg(long, value_name = "URL", env = "CRATEMILL_TSA_URL")]
    pub tsa_url: Option<String>,
}

/// The URLs one signing uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Urls {
    pub fulcio: String,
    /// Set for public-good: the entry goes to Rekor.
    pub rekor: Option<String>,
    /// Set for github: the signature gets a timestamp.
    pub tsa: Option<String>,
}

impl Endpoints {
    pub fn resolve(&self, instance: Instance) -> Urls {
        let pick =
            |v: &Option<String>, d: &str| v.clone().unwrap_or_else(|| d.to_string()).trim_end_matches('/').to_string();
        match instance {
            Instance::Github => Urls {
                fulcio: pick(&self.fulcio_url, GITHUB_FULCIO),
                rekor: None,
                tsa: Some(pick(&self.tsa_url, GITHUB_TSA)),
            },
            _ => Urls {
                fulcio: pick(&self.fulcio_url, PUBLIC_GOOD_FULCIO),
                rekor: Some(pick(&self.rekor_url, PUBLIC_GOOD_REKOR)),
                tsa: None,
            },
        }
    }
}

/// Connect and silence limits of the Sigstore requests, and the longest one may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest timestamp response read (a token is a few KiB).
const TSA_LIMIT: u64 = 1 << 20;

/// The network-layer client of the Sigstore requests (its reqwest client is also handed to
/// `sigstore-sign`).
pub fn client() -> anyhow::Result<Client> {
    Client::with_settings(&Settings {
        connect_timeout: CONNECT_TIMEOUT,
        idle_timeout: IDLE_TIMEOUT,
        request_timeout: Some(REQUEST_TIMEOUT),
        ..Settings::default()
    })
}

/// Sign `stmt` keyless. Each try starts over with a new key and certificate, so a retry never
/// mixes pieces of two attempts; the network layer's policy bounds the tries, and the error names
/// the service and the request.
pub async fn sign(stmt: &Statement, token: &str, instance: Instance, urls: &Urls) -> anyhow::Result<Bundle> {
    let identity = IdentityToken::from_jwt(token).map_err(|e| usage(format!("the OIDC token cannot be read: {e}")))?;
    let client = client()?;
    let what = format!("keyless signing ({})", instance.name());
    match (&urls.rekor, &urls.tsa) {
        (Some(rekor), _) => {
            let payload = stmt.to_bytes();
            let services = SigningServices::new(urls.fulcio.clone(), rekor.clone());
            let context = SigningContext::new(services).with_http_client(client.http().clone());
            client
                .run(&what, || async {
                    let signer = context.signer(identity.clone());
                    signer.sign_raw_statement(&payload).await.map_err(|e| attempt_of(&what, urls, e))
                })
                .await
        }
        (None, Some(tsa)) => sign_with_timestamp(&what, stmt, &identity, &urls.fulcio, tsa, &client).await,
        (None, None) => Err(usage("keyless signing needs a Rekor or a timestamp authority URL")),
    }
}

/// The private-repository shape: certificate + DSSE + RFC 3161 timestamp, no log entry. The
/// certificate and the timestamp are two operations of the network layer, one after the other.
async fn sign_with_timestamp(
    what: &str,
    stmt: &Statement,
    identity: &IdentityToken,
    fulcio_url: &str,
    tsa_url: &str,
    client: &Client,
) -> anyhow::Result<Bundle> {
    let fulcio = FulcioClient::builder(fulcio_url)
        .with_http_client(client.http().clone())
        .build()
        .map_err(|e| usage(format!("--fulcio-url {fulcio_url}: {e}")))?;
    let urls = Urls { fulcio: fulcio_url.to_string(), rekor: None, tsa: Some(tsa_url.to_string()) };
    let (key, cert) = client
        .run(what, || async {
            let key = KeyPair::generate_ecdsa_p256().map_err(|e| TryFailure::Fatal(e.into()))?;
            let cert = fulcio
                .create_signing_certificate(identity, &key)
                .await
                .map_err(|e| attempt_of(what, &urls, sigstore_sign::Error::Fulcio(e)))?;
            Ok((key, cert))
        })
        .await?;
    let envelope = super::sign::envelope(&key, stmt)?;
    let digest = sha2::Sha256::digest(envelope.signature.sig.as_bytes());
    let body = serde_json::json!({
        "artifactHash": base64::engine::general_purpose::STANDARD.encode(digest),
        "hashAlgorithm": "sha256",
    });
    let stamping = format!("{what}: timestamping the signature");
    let answer = client.post_json(&stamping, tsa_url, &body, TSA_LIMIT).await?;
    if !answer.status.is_success() {
        return Err(environment(format!("{}: {}", answer.unexpected(&stamping), brief(&answer.text()))));
    }
    let token = TimestampToken::from_bytes(&answer.bytes);
    Ok(BundleV03::with_certificate_and_dsse(cert.leaf_certificate().clone(), envelope)
        .with_rfc3161_timestamp(token)
        .into_bundle())
}

/// A service's answer, on one line, at most 200 characters.
fn brief(s: &str) -> String {
    crate::error::cut(&crate::error::squash(s), 200)
}

/// A `sigstore-sign` failure as the outcome of one try. Statuses are judged as for a creating POST
/// ([`Safety::NotIdempotent`]: 408, 429, 503 are retried); Fulcio refusing the token (400-403) is
/// said in words. The library reports transport failures as text only, so a refused connection
/// cannot be told from a time-out after sending: neither is retried (the request may have been
/// acted on).
fn attempt_of(what: &str, urls: &Urls, e: sigstore_sign::Error) -> TryFailure {
    use sigstore_sign::{fulcio, rekor, Error};
    let fulcio_request = format!("POST {}/api/v2/signingCert", urls.fulcio);
    let rekor_request = format!("POST {}/api/v1/log/entries", urls.rekor.as_deref().unwrap_or_default());
    let (request, cause, message) = match &e {
        Error::Fulcio(fulcio::Error::Status { status: 400..=403, .. }) => {
            return TryFailure::Fatal(failed(format!(
                "Fulcio refused the OIDC token (is it a GitHub Actions token with audience sigstore, still valid?): {e}"
            )))
        }
        Error::Fulcio(fulcio::Error::Status { status, message }) => (fulcio_request, Cause::Status(*status), message),
        Error::Rekor(rekor::Error::Status { status, message }) => (rekor_request, Cause::Status(*status), message),
        Error::Fulcio(fulcio::Error::Http(text)) => (fulcio_request, Cause::Other(text.clone()), text),
        Error::Rekor(rekor::Error::Http(text)) => (rekor_request, Cause::Other(text.clone()), text),
        _ => return TryFailure::Fatal(failed(format!("{what}: {e}"))),
    };
    if let Cause::Status(status) = cause {
        if retry_status(status, Safety::NotIdempotent) {
            return TryFailure::Retry(Transient { request, cause, retry_after: None });
        }
    }
    let failure = HttpFailure { what: what.to_string(), request: Some(request), cause, attempts: 1, gave_up: None };
    let text = match failure.cause {
        Cause::Status(_) => format!("{failure}: {}", brief(message)),
        _ => failure.to_string(),
    };
    TryFailure::Fatal(environment(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{exit_of, Exit};
    use sigstore_sign::{fulcio, rekor, Error};

    fn urls() -> Urls {
        Urls { fulcio: "https://f.example".into(), rekor: Some("https://r.example".into()), tsa: None }
    }

    fn status(e: Error) -> TryFailure {
        attempt_of("keyless signing (public-good)", &urls(), e)
    }

    #[test]
    fn library_failures_follow_the_creating_post_rules() {
        let e = Error::Fulcio(fulcio::Error::Status { status: 503, message: "busy".into() });
        match status(e) {
            TryFailure::Retry(t) => {
                assert_eq!(t.request, "POST https://f.example/api/v2/signingCert");
                assert_eq!(t.cause, Cause::Status(503));
            }
            other => panic!("{other:?}"),
        }
        let e = Error::Rekor(rekor::Error::Status { status: 429, message: String::new() });
        assert!(matches!(status(e), TryFailure::Retry(t) if t.request == "POST https://r.example/api/v1/log/entries"));
        // A 500 may have been acted on: final, exit 3, one line with the server's words.
        let TryFailure::Fatal(e) =
            status(Error::Rekor(rekor::Error::Status { status: 500, message: "boom\nx".into() }))
        else {
            panic!("500 is final for a POST")
        };
        assert_eq!(exit_of(&e), Exit::Internal);
        assert_eq!(
            e.to_string(),
            "keyless signing (public-good): POST https://r.example/api/v1/log/entries answered HTTP 500 Internal Server Error: boom x"
        );
        let TryFailure::Fatal(e) = status(Error::Fulcio(fulcio::Error::Status { status: 401, message: "no".into() }))
        else {
            panic!("a refused token is final")
        };
        assert_eq!(exit_of(&e), Exit::Failed);
        assert!(e.to_string().contains("Fulcio refused the OIDC token"), "{e}");
        // Transport text cannot say whether the request was sent: not retried.
        let TryFailure::Fatal(e) = status(Error::Fulcio(fulcio::Error::Http("error sending request".into()))) else {
            panic!("transport text is final")
        };
        assert_eq!(exit_of(&e), Exit::Internal);
        assert!(e.to_string().contains("POST https://f.example/api/v2/signingCert failed (error sending request)"));
    }
}
