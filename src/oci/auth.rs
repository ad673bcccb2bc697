//! Registry authentication, one way for pulling and pushing: the [`Credentials`] of the
//! environment, the [`Scope`] a client asks for, the [`Auth`] a request carries, a 401's Bearer [`Challenge`] (pure), and the token exchange of the
//! distribution spec, [`exchange`]: one GET of the challenge's realm for
//! `repository:<name>:pull` or `:pull,push`, with Basic credentials or none (an anonymous pull).
//! It is cratemill's only token exchange. It goes through [`crate::net`]: the caller's client
//! (its connect, idle and whole-request timeouts), its failure text, and one try per call, so the
//! caller's retry loop (the network layer's policy) bounds it like every other request. I/O in
//! [`exchange`] only.

use reqwest::{RequestBuilder, StatusCode};

use crate::error::environment;
use crate::net::{self, Safety, TryFailure};

/// Largest token answer read.
pub const TOKEN_LIMIT: u64 = 1 << 20;

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

/// What a client may do in its repository, and so the token it asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Read manifests, blobs, tags and referrers (install, verify): anonymous when there are no
    /// credentials, so a public image needs none.
    Pull,
    /// Also write (publish, attest, the index push): credentials are required.
    Push,
}

impl Scope {
    /// The actions of the token scope `repository:<name>:<actions>`.
    pub fn actions(self) -> &'static str {
        match self {
            Scope::Pull => "pull",
            Scope::Push => "pull,push",
        }
    }
}

/// The credentials requests carry.
#[derive(Clone)]
pub enum Auth {
    None,
    Basic(Credentials),
    Bearer(String),
}

impl Auth {
    /// `req` with this authorization.
    pub fn apply(&self, req: RequestBuilder) -> RequestBuilder {
        match self {
            Auth::None => req,
            Auth::Basic(c) => req.basic_auth(&c.user, Some(&c.token)),
            Auth::Bearer(t) => req.bearer_auth(t),
        }
    }
}

/// A `WWW-Authenticate: Bearer realm="...",service="..."` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub service: Option<String>,
}

/// `Bearer realm="...",service="..."` -> its realm and service. `None` for other schemes or
/// without a realm. Pure.
pub fn parse_challenge(value: &str) -> Option<Challenge> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut realm = None;
    let mut service = None;
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        let v = v.trim().trim_matches('"').to_string();
        match k.trim().to_ascii_lowercase().as_str() {
            "realm" => realm = Some(v),
            "service" => service = Some(v),
            _ => {}
        }
    }
    Some(Challenge { realm: realm?, service })
}

/// The token request's URL: the realm with `service` and `scope`. Pure.
pub fn token_url(challenge: &Challenge, repository: &str, scope: Scope) -> Result<url::Url, String> {
    let mut url =
        url::Url::parse(&challenge.realm).map_err(|e| format!("a bad token realm `{}`: {e}", challenge.realm))?;
    {
        let mut q = url.query_pairs_mut();
        if let Some(s) = &challenge.service {
            q.append_pair("service", s);
        }
        q.append_pair("scope", &format!("repository:{repository}:{}", scope.actions()));
    }
    Ok(url)
}

/// How a token exchange ended, when it got an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exchange {
    Token(String),
    /// The token service said no (401, 403, ...): the credentials lack the scope. `reason` is its
    /// answer's text, trimmed and shortened.
    Refused {
        status: StatusCode,
        reason: String,
    },
}

/// One try of the token exchange for `scope` on `repository` of registry `host`, over `net`.
/// Transport failures and retried statuses come back as the network layer's [`TryFailure`]s; a
/// realm that is no URL or an answer that is no token are fatal.
pub async fn exchange(
    net: &net::Client,
    host: &str,
    challenge: &Challenge,
    (repository, scope): (&str, Scope),
    creds: Option<&Credentials>,
) -> Result<Exchange, TryFailure> {
    let url = token_url(challenge, repository, scope)
        .map_err(|why| TryFailure::Fatal(environment(format!("registry {host} sent {why}"))))?;
    let what = format!("asking {} for a {} token for `{repository}`", challenge.realm, scope.actions());
    let req = net.http().get(url);
    let req = match creds {
        Some(c) => req.basic_auth(&c.user, Some(&c.token)),
        None => req,
    };
    let body = net.fetch_once(&what, Safety::Idempotent, TOKEN_LIMIT, req).await?;
    if !body.status.is_success() {
        let text = body.text();
        let reason = crate::actions::truncate_utf8(text.trim(), 300).replace(['\n', '\r'], " ");
        return Ok(Exchange::Refused { status: body.status, reason });
    }
    #[derive(serde::Deserialize)]
    struct Token {
        token: Option<String>,
        access_token: Option<String>,
    }
    let realm = &challenge.realm;
    let t: Token = serde_json::from_slice(&body.bytes).map_err(|e| {
        TryFailure::Fatal(environment(format!("token answer from {realm} is not a token document: {e}")))
    })?;
    t.token
        .or(t.access_token)
        .filter(|t| !t.is_empty())
        .map(Exchange::Token)
        .ok_or_else(|| TryFailure::Fatal(environment(format!("token answer from {realm} has no token"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_are_parsed() {
        assert_eq!(
            parse_challenge(r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull""#),
            Some(Challenge { realm: "https://ghcr.io/token".into(), service: Some("ghcr.io".into()) })
        );
        assert_eq!(parse_challenge(r#"Basic realm="registry""#), None);
        assert_eq!(parse_challenge(r#"Bearer service="x""#), None);
        assert_eq!(parse_challenge(""), None);
    }

    #[test]
    fn one_token_url_for_both_scopes() {
        let c = Challenge { realm: "https://r.example/token?x=1".into(), service: Some("r.example".into()) };
        assert_eq!(
            token_url(&c, "acme/rg", Scope::Pull).unwrap().as_str(),
            "https://r.example/token?x=1&service=r.example&scope=repository%3Aacme%2Frg%3Apull"
        );
        assert_eq!(
            token_url(&c, "acme/rg", Scope::Push).unwrap().as_str(),
            "https://r.example/token?x=1&service=r.example&scope=repository%3Aacme%2Frg%3Apull%2Cpush"
        );
        let bad = Challenge { realm: "/token".into(), service: None };
        assert!(token_url(&bad, "a", Scope::Pull).unwrap_err().contains("bad token realm"));
    }
}
