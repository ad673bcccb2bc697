//! The one network layer: every HTTP request cratemill makes (sparse index, `.crate` downloads,
//! the db-dump, the OCI registry, and the Sigstore / GitHub calls) goes through a [`Client`], so
//! there is one set of timeouts, one user agent, one retry policy, one way to describe a failure
//! and one exit-code rule. Shaped like cargo-binstall's `remote.rs`: a client wrapper that owns
//! the retry loop, callers that only judge final answers. See `docs/network.md`.
//!
//! Layers, one-way: [`policy`] (pure: what to retry, how long to wait, when to stop) and
//! [`failure`] (pure: how a failure reads, which exit code it maps to) below [`client`] (the I/O
//! edge: reqwest with rustls, the loop that sleeps and honours the deadline).
//!
//! # API
//! ```ignore
//! let client = net::Client::new()?                        // Settings::default(): 15 s connect,
//!     .with_deadline(Some(started + timeout));            // 60 s idle, 5 redirects, 5 tries
//! // A small document: retried, read whole, never past the limit; any final status is returned.
//! let body = client.get("resolving `hello`", &url, 1 << 20).await?;
//! if body.status == 404 { /* the caller decides: unknown crate -> exit 2 */ }
//! // A POST that creates something: retried only when the server cannot have acted on it.
//! let body = client.post_json("requesting a certificate", &fulcio_url, &request, 1 << 20).await?;
//! // Anything else (streams, uploads): one try per closure call, the loop is the client's.
//! client.run("downloading x", || async {
//!     let resp = client.attempt("downloading x", client.http().get(&url), Safety::Idempotent).await?;
//!     // ... Err(TryFailure::Retry(Transient { .. })) to try again, Err(TryFailure::Fatal(e)) to stop
//! }).await?;
//! ```
//! Errors are `anyhow::Error`s carrying exit code 3 ([`HttpFailure::exit`]) and one line:
//! `what: METHOD url cause after N attempts`, the URL without credentials.

pub mod client;
pub mod failure;
pub mod github;
pub mod policy;

pub use client::{Body, Client, Retries, Settings, Transient, TryFailure, USER_AGENT};
pub use failure::{Cause, HttpFailure};
pub use policy::{RetryPolicy, Safety};
