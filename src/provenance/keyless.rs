//! Keyless signing the way `actions/attest-build-provenance` signs: an ephemeral P-256 key, a
//! Fulcio v2 certificate for the workflow's OIDC identity, a DSSE envelope over the statement, then
//! a Rekor `dsse` v0.0.1 entry (public repositories, public-good instance) or an RFC 3161 timestamp
//! from a TSA (private repositories, GitHub's instance). Bundle v0.3 with the leaf certificate only.
//!
//! I/O edge. The protocol is `sigstore-sign`'s (Fulcio and Rekor clients, bundle builder); the only
//! hand-written request is the TSA's JSON form (`{artifactHash, hashAlgorithm}`), which GitHub's
//! client uses and `sigstore-tsa` (DER requests only) does not speak.

use base64::Engine;
use sha2::Digest;
use sigstore_sign::bundle::BundleV03;
use sigstore_sign::crypto::KeyPair;
use sigstore_sign::fulcio::FulcioClient;
use sigstore_sign::oidc::IdentityToken;
use sigstore_sign::types::{Bundle, TimestampToken};
use sigstore_sign::{SigningContext, SigningServices};

use super::claims::Claims;
use super::http::{self, TryError};
use super::statement::Statement;
use crate::error::{failed, usage};

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

/// Sign `stmt` keyless. Each try starts over with a new key and certificate, so a retry never
/// mixes pieces of two attempts; after [`http::ATTEMPTS`] tries the error names the service.
pub async fn sign(stmt: &Statement, token: &str, instance: Instance, urls: &Urls) -> anyhow::Result<Bundle> {
    let identity = IdentityToken::from_jwt(token).map_err(|e| usage(format!("the OIDC token cannot be read: {e}")))?;
    let client = http::client()?;
    let payload = stmt.to_bytes();
    let what = format!("keyless signing ({})", instance.name());
    http::with_retries(&what, || async {
        match &urls.rekor {
            Some(rekor) => {
                let services = SigningServices::new(urls.fulcio.clone(), rekor.clone());
                let signer = SigningContext::new(services).with_http_client(client.clone()).signer(identity.clone());
                signer.sign_raw_statement(&payload).await.map_err(classify)
            }
            None => {
                let tsa = urls.tsa.as_deref().expect("github instance has a TSA");
                sign_with_timestamp(stmt, &identity, &urls.fulcio, tsa, &client).await
            }
        }
    })
    .await
}

/// The private-repository shape: certificate + DSSE + RFC 3161 timestamp, no log entry.
async fn sign_with_timestamp(
    stmt: &Statement,
    identity: &IdentityToken,
    fulcio_url: &str,
    tsa_url: &str,
    client: &reqwest::Client,
) -> Result<Bundle, TryError> {
    let key = KeyPair::generate_ecdsa_p256().map_err(|e| TryError::fatal(e.into()))?;
    let fulcio = FulcioClient::builder(fulcio_url).with_http_client(client.clone()).build().map_err(fulcio_err)?;
    let cert = fulcio.create_signing_certificate(identity, &key).await.map_err(fulcio_err)?;
    let envelope = super::sign::envelope(&key, stmt).map_err(TryError::fatal)?;
    let digest = sha2::Sha256::digest(envelope.signature.sig.as_bytes());
    let body = serde_json::json!({
        "artifactHash": base64::engine::general_purpose::STANDARD.encode(digest),
        "hashAlgorithm": "sha256",
    });
    let resp = client.post(tsa_url).json(&body).send().await.map_err(http::transport)?;
    let status = resp.status().as_u16();
    if !resp.status().is_success() {
        let after = http::retry_after(&resp);
        let text = resp.text().await.unwrap_or_default();
        let error = failed(format!("the timestamp authority {tsa_url} answered HTTP {status}: {}", one_line(&text)));
        return Err(TryError { retry: http::retryable_status(status), after, error });
    }
    let der = resp.bytes().await.map_err(http::transport)?;
    let token = TimestampToken::from_bytes(&der);
    Ok(BundleV03::with_certificate_and_dsse(cert.leaf_certificate().clone(), envelope)
        .with_rfc3161_timestamp(token)
        .into_bundle())
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(200).collect()
}

fn fulcio_err(e: sigstore_sign::fulcio::Error) -> TryError {
    classify(sigstore_sign::Error::Fulcio(e))
}

/// Retry transport trouble and 408/429/5xx; anything else (a refused token, a bad request) is final.
fn classify(e: sigstore_sign::Error) -> TryError {
    use sigstore_sign::{fulcio, rekor, Error};
    let retry = match &e {
        Error::Fulcio(fulcio::Error::Http(_)) | Error::Rekor(rekor::Error::Http(_)) => true,
        Error::Fulcio(fulcio::Error::Status { status, .. }) | Error::Rekor(rekor::Error::Status { status, .. }) => {
            http::retryable_status(*status)
        }
        _ => false,
    };
    let refused = matches!(&e, Error::Fulcio(fulcio::Error::Status { status: 400..=403, .. }));
    let error = if refused {
        failed(format!(
            "Fulcio refused the OIDC token (is it a GitHub Actions token with audience sigstore, still valid?): {e}"
        ))
    } else {
        failed(e.to_string())
    };
    TryError { retry, after: None, error }
}
