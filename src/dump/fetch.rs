//! `--dump <URL>`: download the dump into a cache folder, streaming, with progress on stderr, retries
//! with backoff on network errors and 5xx, and a conditional GET (cached `ETag` / `Last-Modified`) so
//! an unchanged dump is not fetched twice.
//!
//! Cache layout: `<cache>/<hash of URL>-<file name>` and, next to it, `<same>.http.json` with the
//! validators. A download goes to a temporary file and is renamed into place only when complete.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use crate::error::usage;

/// The crates.io dump.
pub const DEFAULT_URL: &str = "https://static.crates.io/db-dump.tar.gz";

/// How to fetch.
#[derive(Debug, Clone)]
pub struct Options {
    pub cache_dir: PathBuf,
    /// Tries in total (at least 1).
    pub attempts: u32,
    /// Wait before the second try; doubles each time.
    pub backoff: Duration,
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
    let client = reqwest::Client::builder()
        .user_agent(concat!("cratemill/", env!("CARGO_PKG_VERSION"), " (+https://github.com/cratemill/cratemill)"))
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(120))
        .build()
        .context("building the HTTP client")?;
    let attempts = options.attempts.max(1);
    let mut last_error = String::new();
    for attempt in 0..attempts {
        if attempt > 0 {
            let wait = options.backoff * 2u32.saturating_pow(attempt - 1);
            eprintln!("dump download: {last_error}; retrying in {} ms ({}/{attempts})", wait.as_millis(), attempt + 1);
            tokio::time::sleep(wait).await;
        }
        let mut request = client.get(url);
        if let Some(v) = &cached {
            if let Some(etag) = &v.etag {
                request = request.header(reqwest::header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &v.last_modified {
                request = request.header(reqwest::header::IF_MODIFIED_SINCE, lm);
            }
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                last_error = format!("cannot reach {url}: {}", error_text(&e));
                continue;
            }
        };
        let status = response.status();
        if status == reqwest::StatusCode::NOT_MODIFIED && cached.is_some() {
            eprintln!("dump download: not modified since the cached copy ({})", path.display());
            return Ok((path, Outcome::NotModified));
        }
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            last_error = format!("{url} answered {status}");
            continue;
        }
        if !status.is_success() {
            return Err(usage(format!("cannot download the dump: {url} answered {status}")));
        }
        let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let validators = Validators {
            url: url.to_string(),
            etag: header(reqwest::header::ETAG),
            last_modified: header(reqwest::header::LAST_MODIFIED),
        };
        match download(response, &path).await {
            Ok(()) => {
                let _ = std::fs::remove_file(&meta_path);
                if validators.etag.is_some() || validators.last_modified.is_some() {
                    crate::schema::write_atomic(&meta_path, &serde_json::to_vec(&validators)?)
                        .context("writing the dump cache validators")?;
                }
                return Ok((path, Outcome::Downloaded));
            }
            Err(e) => last_error = format!("download of {url} broke off: {e:#}"),
        }
    }
    Err(usage(format!("cannot download the dump after {attempts} attempts: {last_error}")))
}

/// Stream the body into a temporary file next to `path`, then rename it into place.
async fn download(response: reqwest::Response, path: &Path) -> anyhow::Result<()> {
    let total = response.content_length();
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    let mut file = tokio::fs::File::from_std(tmp.reopen()?);
    let mut body = response.bytes_stream();
    let (mut done, mut shown) = (0u64, 0u64);
    let started = std::time::Instant::now();
    while let Some(piece) = body.next().await {
        let piece = piece.map_err(|e| anyhow::anyhow!(error_text(&e)))?;
        file.write_all(&piece).await?;
        done += piece.len() as u64;
        if done - shown >= 64 << 20 {
            shown = done;
            progress(done, total, started);
        }
    }
    file.flush().await?;
    file.sync_all().await?;
    if let Some(total) = total.filter(|t| *t != done) {
        anyhow::bail!("got {done} of {total} bytes");
    }
    progress(done, total, started);
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn progress(done: u64, total: Option<u64>, started: std::time::Instant) {
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    let rate = mib(done) / started.elapsed().as_secs_f64().max(0.001);
    match total {
        Some(t) => eprintln!("dump download: {:.1} / {:.1} MiB ({rate:.1} MiB/s)", mib(done), mib(t)),
        None => eprintln!("dump download: {:.1} MiB ({rate:.1} MiB/s)", mib(done)),
    }
}

/// A reqwest error with its causes, on one line.
fn error_text(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
