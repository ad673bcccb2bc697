//! The GitHub Actions OIDC token claims that provenance is made from. Pure decision core: decoding a
//! token's payload and reading the same facts from the runner's environment are plain functions of
//! their input; fetching the token is in [`super::oidc`].
//!
//! The claims are not trusted here: Fulcio verifies the token before it certifies anything, and
//! `verify` checks the certificate. They are read only so the predicate says what the token says,
//! exactly as `@actions/attest` does.

use base64::Engine;
use serde::Deserialize;

use crate::error::usage;

/// The issuer of GitHub Actions OIDC tokens on github.com.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The audience Fulcio accepts.
pub const SIGSTORE_AUDIENCE: &str = "sigstore";

/// The claims `@actions/attest` requires (its `REQUIRED_CLAIMS`), plus the ones cratemill decides on.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Claims {
    #[serde(default)]
    pub iss: String,
    #[serde(default)]
    pub sub: String,
    #[serde(default, deserialize_with = "audience")]
    pub aud: Vec<String>,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub sha: String,
    pub repository: String,
    pub event_name: String,
    pub job_workflow_ref: String,
    pub workflow_ref: String,
    pub repository_id: String,
    pub repository_owner_id: String,
    pub runner_environment: String,
    pub run_id: String,
    pub run_attempt: String,
    /// `public`, `private` or `internal`; decides `--instance auto`.
    #[serde(default)]
    pub repository_visibility: Option<String>,
}

fn audience<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Aud {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Aud::deserialize(d)? {
        Aud::One(a) => vec![a],
        Aud::Many(v) => v,
    })
}

impl Claims {
    /// Is the repository public (so the public-good instance, with Rekor, applies)?
    pub fn is_public(&self) -> bool {
        self.repository_visibility.as_deref() == Some("public")
    }
}

/// Decode the payload of a JWT (no signature check: see the module comment).
pub fn decode_jwt(token: &str) -> anyhow::Result<Claims> {
    let mut parts = token.trim().split('.');
    let (Some(_), Some(payload), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(usage("the OIDC token is not a JWT (three base64url parts separated by dots)"));
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| usage(format!("the OIDC token's payload is not base64url: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        usage(format!("the OIDC token lacks a claim GitHub Actions tokens carry ({e}): is it a GitHub Actions token?"))
    })
}

/// Check the token was issued for Sigstore (a token for another audience is refused by Fulcio;
/// saying so here is clearer).
pub fn check_audience(claims: &Claims) -> anyhow::Result<()> {
    if claims.aud.iter().any(|a| a == SIGSTORE_AUDIENCE) {
        return Ok(());
    }
    Err(usage(format!(
        "the OIDC token's audience is {:?}, not \"sigstore\": request it with `&audience=sigstore` (SIGSTORE_ID_TOKEN must be minted for Sigstore)",
        claims.aud
    )))
}

/// The same facts from the runner's environment variables, for `--sign key|none` where no token is
/// needed. `job_workflow_ref` has no variable: the workflow's own ref stands in (they differ only in
/// reusable workflows).
pub fn from_env(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Claims> {
    let need = |name: &str| {
        get(name).filter(|v| !v.is_empty()).ok_or_else(|| {
            usage(format!(
                "{name} is not set: provenance describes a GitHub Actions run; run attest in a workflow (or set SIGSTORE_ID_TOKEN)"
            ))
        })
    };
    let workflow_ref = need("GITHUB_WORKFLOW_REF")?;
    Ok(Claims {
        iss: GITHUB_ISSUER.to_string(),
        sub: String::new(),
        aud: Vec::new(),
        git_ref: need("GITHUB_REF")?,
        sha: need("GITHUB_SHA")?,
        repository: need("GITHUB_REPOSITORY")?,
        event_name: need("GITHUB_EVENT_NAME")?,
        job_workflow_ref: workflow_ref.clone(),
        workflow_ref,
        repository_id: need("GITHUB_REPOSITORY_ID")?,
        repository_owner_id: need("GITHUB_REPOSITORY_OWNER_ID")?,
        runner_environment: get("RUNNER_ENVIRONMENT").unwrap_or_else(|| "github-hosted".to_string()),
        run_id: need("GITHUB_RUN_ID")?,
        run_attempt: need("GITHUB_RUN_ATTEMPT")?,
        repository_visibility: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &serde_json::Value) -> String {
        let b = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!("{}.{}.{}", b(br#"{"alg":"RS256"}"#), b(payload.to_string().as_bytes()), b(b"sig"))
    }

    pub(crate) fn sample() -> serde_json::Value {
        serde_json::json!({
            "iss": GITHUB_ISSUER, "sub": "repo:o/r:ref:refs/heads/main", "aud": "sigstore",
            "ref": "refs/heads/main", "sha": "a".repeat(40), "repository": "o/r", "event_name": "push",
            "job_workflow_ref": "o/r/.github/workflows/b.yml@refs/heads/main",
            "workflow_ref": "o/r/.github/workflows/b.yml@refs/heads/main", "repository_id": "1",
            "repository_owner_id": "2", "runner_environment": "github-hosted", "run_id": "3",
            "run_attempt": "1", "repository_visibility": "public"
        })
    }

    #[test]
    fn decodes_and_checks_audience() {
        let c = decode_jwt(&jwt(&sample())).unwrap();
        assert_eq!(c.repository, "o/r");
        assert!(c.is_public());
        check_audience(&c).unwrap();
        let mut other = sample();
        other["aud"] = serde_json::json!(["nobody"]);
        let err = check_audience(&decode_jwt(&jwt(&other)).unwrap()).unwrap_err();
        assert!(err.to_string().contains("not \"sigstore\""), "{err}");
    }

    #[test]
    fn a_token_missing_claims_is_refused_by_name() {
        let mut p = sample();
        p.as_object_mut().unwrap().remove("run_attempt");
        let err = decode_jwt(&jwt(&p)).unwrap_err();
        assert!(err.to_string().contains("run_attempt"), "{err}");
        assert!(decode_jwt("not-a-jwt").is_err());
    }
}
