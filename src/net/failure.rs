//! The one description of a failed HTTP exchange: what was being fetched, the request (URL
//! without credentials or signed query values), what went wrong, how many tries it took, and why
//! cratemill stopped trying; and the one exit-code rule for network failures. Pure, except for
//! reading a `reqwest::Error`'s kind and causes.

use std::fmt;

use super::policy::{GiveUp, TransportFault};
use crate::error::{Exit, Fail};
use crate::schema::result::FailureClass;

/// What went wrong on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// The server answered with this status (the last answer, when it was retried).
    Status(u16),
    /// No connection: refused, DNS, TLS handshake, connect timeout.
    Connect(String),
    /// Connected, then silent for longer than the idle timeout (or the request timeout).
    Timeout(String),
    /// The connection broke while the request or the answer was on the wire.
    Broken(String),
    /// The answer was larger than the limit for what was being fetched.
    TooLarge { limit: u64 },
    /// A redirect that is not followed: too many hops, or from https to plain http.
    Redirect(String),
    /// The caller's deadline (`--timeout`) passed while waiting.
    Deadline,
    /// Anything else reqwest reports (a bad URL, a body that cannot be built).
    Other(String),
}

impl Cause {
    /// Reads a reqwest error: its kind and its causes on one line.
    pub fn of(err: &reqwest::Error) -> Cause {
        let text = describe(err);
        if err.is_redirect() {
            Cause::Redirect(text)
        } else if err.is_connect() {
            Cause::Connect(text)
        } else if err.is_timeout() {
            Cause::Timeout(text)
        } else if err.is_body() || err.is_decode() || err.is_request() {
            Cause::Broken(text)
        } else {
            Cause::Other(text)
        }
    }

    /// Reads an error met while reading an answer's body: a read that stops mid-answer is a
    /// broken transfer, whatever reqwest calls it.
    pub fn of_body(err: &reqwest::Error) -> Cause {
        match Cause::of(err) {
            Cause::Other(text) => Cause::Broken(text),
            cause => cause,
        }
    }

    /// How this cause counts for the retry policy; `None`: never retried.
    pub fn transport_fault(&self) -> Option<TransportFault> {
        match self {
            Cause::Connect(_) => Some(TransportFault::Connect),
            Cause::Timeout(_) => Some(TransportFault::Timeout),
            Cause::Broken(_) => Some(TransportFault::Broken),
            _ => None,
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Status(s) => match reqwest::StatusCode::from_u16(*s).ok().and_then(|c| c.canonical_reason()) {
                Some(reason) => write!(f, "answered HTTP {s} {reason}"),
                None => write!(f, "answered HTTP {s}"),
            },
            Cause::Connect(e) => write!(f, "cannot connect ({e})"),
            Cause::Timeout(e) => write!(f, "timed out ({e})"),
            Cause::Broken(e) => write!(f, "broke off mid-transfer ({e})"),
            Cause::TooLarge { limit } => write!(f, "sent more than the {limit}-byte limit"),
            Cause::Redirect(e) => write!(f, "redirect not followed ({e})"),
            Cause::Deadline => write!(f, "did not finish before the --timeout deadline"),
            Cause::Other(e) => write!(f, "failed ({e})"),
        }
    }
}

/// A failed HTTP exchange, described once for every caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpFailure {
    /// What cratemill was doing: "resolving `hello` in sparse+https://index.crates.io/".
    pub what: String,
    /// `GET https://host/path`, credentials removed; `None` when no request was made yet.
    pub request: Option<String>,
    pub cause: Cause,
    /// Failed tries, the last one included.
    pub attempts: u32,
    /// Why retrying stopped, when it was retried at all.
    pub gave_up: Option<GiveUp>,
}

impl HttpFailure {
    /// The HTTP status of the last answer, if the failure was one.
    pub fn status(&self) -> Option<u16> {
        match self.cause {
            Cause::Status(s) => Some(s),
            _ => None,
        }
    }

    /// The one exit-code rule: a network failure is an environment failure (3). A caller that
    /// knows better (a 404 for a crate the user named is bad input, 2) decides before building an
    /// `HttpFailure`.
    pub fn exit(&self) -> Exit {
        Exit::Internal
    }

    /// As the error every phase returns, carrying [`HttpFailure::exit`]. No failure class (the
    /// phase knows it: `fetch-failed` for a build), except `timeout` when the deadline passed.
    pub fn into_error(self) -> anyhow::Error {
        let class = (self.cause == Cause::Deadline).then_some(FailureClass::Timeout);
        anyhow::Error::new(Fail { exit: self.exit(), class, message: self.to_string() })
    }
}

impl fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.what)?;
        if let Some(request) = &self.request {
            write!(f, "{request} ")?;
        }
        write!(f, "{}", self.cause)?;
        if let Some(why) = self.gave_up {
            write!(f, " {}", why.describe(self.attempts))?;
        }
        Ok(())
    }
}

/// `METHOD url` for error lines, the URL without credentials.
pub fn request_line(method: &reqwest::Method, url: &url::Url) -> String {
    format!("{method} {}", redact(url))
}

/// A URL fit for a log: no user or password, and the values of query parameters that look like
/// secrets (signed CDN URLs carry them) replaced by `***`.
pub fn redact(url: &url::Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let key = k.to_ascii_lowercase();
                let secret =
                    ["sig", "token", "key", "auth", "cred", "secret", "password"].iter().any(|s| key.contains(s));
                (k.into_owned(), if secret { "***".to_string() } else { v.into_owned() })
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

/// A reqwest error's causes on one line. reqwest's own top line repeats the URL (which the
/// failure names already, without credentials), so the causes under it are enough when there are
/// any.
pub fn describe(err: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let c = cause.to_string();
        if !parts.iter().any(|p| p.contains(&c)) {
            parts.push(c);
        }
        source = cause.source();
    }
    let text = if parts.is_empty() {
        let mut top = err.to_string();
        if let Some(url) = err.url() {
            top = top.replace(url.as_str(), &redact(url));
        }
        top
    } else {
        parts.join(": ")
    };
    text.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{exit_of, one_line};

    #[test]
    fn urls_lose_credentials_and_signatures() {
        let u = url::Url::parse("https://user:pw@cdn.example/f.crate?X-Amz-Signature=abc&part=2&token=t").unwrap();
        assert_eq!(redact(&u), "https://cdn.example/f.crate?X-Amz-Signature=***&part=2&token=***");
        let plain = url::Url::parse("http://127.0.0.1:5000/v2/").unwrap();
        assert_eq!(request_line(&reqwest::Method::HEAD, &plain), "HEAD http://127.0.0.1:5000/v2/");
    }

    #[test]
    fn a_failure_is_one_line_with_exit_3() {
        let f = HttpFailure {
            what: "resolving `hello` in sparse+http://h/".into(),
            request: Some("GET http://h/he/ll/hello".into()),
            cause: Cause::Status(503),
            attempts: 4,
            gave_up: Some(GiveUp::Attempts),
        };
        assert_eq!(f.status(), Some(503));
        let e = f.into_error();
        assert_eq!(exit_of(&e), Exit::Internal);
        assert_eq!(
            one_line(&e),
            "resolving `hello` in sparse+http://h/: GET http://h/he/ll/hello answered HTTP 503 Service Unavailable after 4 attempts"
        );
        let f = HttpFailure {
            what: "downloading the dump".into(),
            request: None,
            cause: Cause::TooLarge { limit: 10 },
            attempts: 1,
            gave_up: None,
        };
        assert_eq!(f.to_string(), "downloading the dump: sent more than the 10-byte limit");
        assert_eq!(Cause::Status(599).to_string(), "answered HTTP 599");
    }
}
