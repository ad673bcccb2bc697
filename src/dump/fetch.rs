//! `--dump <URL>`: download the dump into a cache folder, streaming, with progress on stderr, and a
//! conditional GET (cached `ETag` / `Last-Modified`) so an unchanged dump is not fetched twice.
//! Timeouts, retries (network errors, 408, 429, 5xx, honouring `Retry-After`), redirects and the
//! exit code of a network failure (3) are the network layer's ([`crate::net`]); a 4xx answer means
//! the URL is wrong (exit 2).
//!
//! Cache layout: `<cache>/<hash of URL>-<file name>` and, next to it, `<same>.http.json` with the
//! validators. A download goes to a temporary file and is renamed into place only when complete.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use crate::error::usage;
use crate::net::{self, failure::request_line, Cause, Safety, TryFailure};

/// The crates.io dump.
pub const DEFAULT_URL: &str = "https://static.crates.io/db-dump.tar.gz";

/// How to fetch.
#[derive(Debug, Clone)]
pub struct Options {
    pub cache_dir: PathBuf,
    /// Timeouts and retry policy of the download.
    pub net: net::Settings,
}

impl Options {
    /// The defaults for a dump of crates.io's size: 30 s to connect, 120 s of silence at most,
    /// 4 tries in a row, backoff from 2 s.
    pub fn new(cache_dir: PathBuf) -> Options {
        let retry = net::RetryPolicy { attempts: 4, base_delay: Duration::from_secs(2), ..net::RetryPolicy::default() };
        let net = net::Settings {
            connect_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(120),
            retry,
            announce_retries: true,
            ..net::Settings::default()
        };
        Options { cache_dir, net }
    }
}

/// How the dump was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Downloaded,
    /// The server said 304: the cached copy is current.
    NotModified,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Validators {
    url: String,
    etag: Option<String>,
    last_modified: Option<String>,
}

/// Is this `--dump` value a URL?
pub fn is_url(dump: &str) -> bool {
    dump.starts_with("https://") || dump.starts_with("http://")
}

/// The cache file for a URL.
pub fn cache_path(cache_dir: &Path, url: &str) -> PathBuf {
    let name = url.rsplit('/').next().filter(|n| !n.is_empty() && n.len() < 100).unwrap_or("dump.tar.gz");
    let name: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' { c } else { '_' })
        .collect();
    cache_dir.join(format!("{}-{name}", &blake3::hash(url.as_bytes()).to_hex()[..16]))
}

/// Download `url` (or confirm the cached copy), returning the local file.
pub async fn fetch(url: &str, options: &Options) -> anyhow::Result<(PathBuf, Outcome)> {
    let parsed = url::Url::parse(url).map_err(|e| usage(format!("`{url}` is not a valid dump URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(usage(format!("`{url}` is not an http(s) URL")));
    }
    std::fs::create_dir_all(&options.cache_dir)
        .with_context(|| format!("creating cache folder {}", options.cache_dir.display()))?;
    let path = cache_path(&options.cache_dir, url);
    let meta_path = path.with_extension("http.json");
    let cached: Option<Validators> = if path.is_file() {
        std::fs::read(&meta_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .filter(|v: &Validators| v.url == url)
    } else {
        None
    };
    let client = net::Client::with_settings(&options.net)?;
    let what = format!("downloading the dump {url}");
    let got = client.run(&what, || attempt(&client, &what, url, cached.as_ref(), &path)).await?;
    if got == Outcome::NotModified {
        crate::note!("dump download: not modified since the cached copy ({})", path.display());
    }
    Ok((path, got))
}

/// One try: a conditional GET, then the body streamed into the cache.
async fn attempt(
    client: &net::Client,
    what: &str,
    url: &str,
    cached: Option<&Validators>,
    path: &Path,
) -> Result<Outcome, TryFailure> {
    let mut request = client.http().get(url);
    if let Some(v) = cached {
        if let Some(etag) = &v.etag {
            request = request.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &v.last_modified {
            request = request.header(reqwest::header::IF_MODIFIED_SINCE, lm);
        }
    }
    let safety = Safety::Idempotent;
    let response = client.attempt(what, request, safety).await?;
    let response = TryFailure::check_status(&reqwest::Method::GET, response, safety)?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_MODIFIED && cached.is_some() {
        return Ok(Outcome::NotModified);
    }
    if status.is_client_error() {
        return Err(TryFailure::Fatal(usage(format!("cannot download the dump: {url} answered {status}"))));
    }
    let request_text = request_line(&reqwest::Method::GET, response.url());
    if !status.is_success() {
        return Err(TryFailure::fatal(what, request_text, Cause::Status(status.as_u16())));
    }
    let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let validators = Validators {
        url: url.to_string(),
        etag: header(reqwest::header::ETAG),
        last_modified: header(reqwest::header::LAST_MODIFIED),
    };
    let local = |e: anyhow::Error| TryFailure::Fatal(e.context(format!("writing the dump into {}", path.display())));
    match download(response, path).await {
        Ok(()) => {}
        Err(Streamed::Local(e)) => return Err(local(e)),
        Err(Streamed::Net(cause)) => return Err(TryFailure::from_transport(what, request_text, cause, safety)),
    }
    let meta_path = path.with_extension("http.json");
    let _ = std::fs::remove_file(&meta_path);
    if validators.etag.is_some() || validators.last_modified.is_some() {
        let bytes = serde_json::to_vec(&validators).map_err(|e| local(e.into()))?;
        crate::schema::write_atomic(&meta_path, &bytes)
            .map_err(|e| local(anyhow::Error::from(e).context("writing the dump cache validators")))?;
    }
    Ok(Outcome::Downloaded)
}

/// Why streaming stopped: the network (retried) or the local disk (not).
enum Streamed {
    Net(Cause),
    Local(anyhow::Error),
}

/// Stream the body into a temporary file next to `path`, then rename it into place.
async fn download(mut response: reqwest::Response, path: &Path) -> Result<(), Streamed> {
    let total = response.content_length();
    let dir = path.parent().unwrap_or(Path::new("."));
    let local = |e: std::io::Error| Streamed::Local(e.into());
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(local)?;
    let mut file = tokio::fs::File::from_std(tmp.reopen().map_err(local)?);
    let (mut done, mut shown) = (0u64, 0u64);
    let started = std::time::Instant::now();
    loop {
        let piece = match response.chunk().await {
            Ok(Some(piece)) => piece,
            Ok(None) => break,
            Err(e) => return Err(Streamed::Net(Cause::of_body(&e))),
        };
        file.write_all(&piece).await.map_err(local)?;
        done += piece.len() as u64;
        if done - shown >= 64 << 20 {
            shown = done;
            progress(done, total, started);
        }
    }
    file.flush().await.map_err(local)?;
    file.sync_all().await.map_err(local)?;
    if let Some(total) = total.filter(|t| *t != done) {
        return Err(Streamed::Net(Cause::Broken(format!("got {done} of {total} bytes"))));
    }
    progress(done, total, started);
    tmp.persist(path).map_err(|e| local(e.error))?;
    Ok(())
}

fn progress(done: u64, total: Option<u64>, started: std::time::Instant) {
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    let rate = mib(done) / started.elapsed().as_secs_f64().max(0.001);
    match total {
        Some(t) => crate::note!("dump download: {:.1} / {:.1} MiB ({rate:.1} MiB/s)", mib(done), mib(t)),
        None => crate::note!("dump download: {:.1} MiB ({rate:.1} MiB/s)", mib(done)),
    }
}
