//! Downloading a `.crate`: streamed to a temporary file in the destination folder while hashed,
//! retried on transient failures, capped in size, and given its final name only after its sha256
//! matched the index. A file that fails verification is deleted.

use std::path::{Path, PathBuf};

use anyhow::Result;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::http;
use super::index::{Index, IndexVersion};
use super::retry::{retryable_error, retryable_status};
use super::spec::validate_name;
use crate::error::{classified, failed, Exit};
use crate::schema::result::FailureClass;

/// A verified `.crate` on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// `dest_dir/{name}-{version}.crate`
    pub path: PathBuf,
    pub size: u64,
    /// sha256 of the file, lower-case hex (equal to the index `cksum`).
    pub sha256: String,
    /// Where it was downloaded from.
    pub url: String,
}

/// Why one attempt failed: worth another try, or final.
enum AttemptError {
    Retry(String),
    Final(anyhow::Error),
}

impl Index {
    /// Downloads the `.crate` of `v` into `dest_dir` (which must exist) and verifies it against
    /// `v.cksum` before it gets its final name `{name}-{version}.crate`.
    ///
    /// Errors: checksum mismatch -> `ChecksumMismatch` (exit 1, file deleted); larger than the
    /// size cap -> `UnsafeArchive` (exit 1); HTTP errors and transport failures after retries ->
    /// `FetchFailed` (exit 1).
    pub async fn download(&self, v: &IndexVersion, dest_dir: &Path) -> Result<Downloaded> {
        // Name and version become file names: never trust a hand-made `IndexVersion`.
        validate_name(&v.name).map_err(|why| failed(format!("downloading `{}`: {why}", v.name.escape_debug())))?;
        if semver::Version::parse(&v.vers).is_err() {
            return Err(failed(format!(
                "downloading `{}`: `{}` is not a valid version",
                v.name,
                v.vers.escape_debug()
            )));
        }
        let url = self.download_url(v);
        let what = format!("downloading `{}@{}` from {url}", v.name, v.vers);
        let attempts = self.retry.attempts.max(1);
        let mut attempt = 1;
        loop {
            match self.download_once(v, &url, dest_dir, &what).await {
                Ok(done) => return Ok(done),
                Err(AttemptError::Final(e)) => return Err(e),
                Err(AttemptError::Retry(why)) if attempt >= attempts => {
                    return Err(classified(
                        Exit::Failed,
                        FailureClass::FetchFailed,
                        format!("{what}: failed after {attempts} attempts: {why}"),
                    ));
                }
                Err(AttemptError::Retry(_)) => {
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                    attempt += 1;
                }
            }
        }
    }

    async fn download_once(
        &self,
        v: &IndexVersion,
        url: &str,
        dest_dir: &Path,
        what: &str,
    ) -> Result<Downloaded, AttemptError> {
        let fetch_failed = |msg: String| classified(Exit::Failed, FailureClass::FetchFailed, format!("{what}: {msg}"));
        let too_large = |max: u64| {
            AttemptError::Final(classified(
                Exit::Failed,
                FailureClass::UnsafeArchive,
                format!("{what}: the .crate is larger than the {max}-byte limit"),
            ))
        };
        let resp = match self.client.get(url).send().await {
            Ok(resp) => resp,
            Err(e) if retryable_error(&e) => return Err(AttemptError::Retry(http::describe(&e))),
            Err(e) => return Err(AttemptError::Final(fetch_failed(http::describe(&e)))),
        };
        let status = resp.status();
        if retryable_status(status) {
            return Err(AttemptError::Retry(format!("the server answered {status}")));
        }
        if !status.is_success() {
            return Err(AttemptError::Final(fetch_failed(format!("the server answered {status}"))));
        }
        if resp.content_length().is_some_and(|len| len > self.max_crate_bytes) {
            return Err(too_large(self.max_crate_bytes));
        }

        let local = |e: std::io::Error| {
            AttemptError::Final(anyhow::anyhow!("{what}: writing into {}: {e}", dest_dir.display()))
        };
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{}-{}.", v.name, v.vers))
            .suffix(".crate.part")
            .tempfile_in(dest_dir)
            .map_err(local)?;
        let mut file = tokio::fs::File::from_std(tmp.as_file().try_clone().map_err(local)?);
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk =
                chunk.map_err(|e| AttemptError::Retry(format!("the transfer broke off: {}", http::describe(&e))))?;
            size += chunk.len() as u64;
            if size > self.max_crate_bytes {
                return Err(too_large(self.max_crate_bytes));
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(local)?;
        }
        file.flush().await.map_err(local)?;
        file.sync_all().await.map_err(local)?;
        drop(file);

        let sha256 = hex::encode(hasher.finalize());
        if !sha256.eq_ignore_ascii_case(&v.cksum) {
            // `tmp` is deleted when dropped.
            return Err(AttemptError::Final(classified(
                Exit::Failed,
                FailureClass::ChecksumMismatch,
                format!(
                    "{what}: checksum mismatch: the index lists sha256 {} but the download ({size} bytes) has {sha256}; the file was deleted",
                    v.cksum
                ),
            )));
        }
        let path = dest_dir.join(format!("{}-{}.crate", v.name, v.vers));
        tmp.persist(&path).map_err(|e| local(e.error))?;
        Ok(Downloaded { path, size, sha256, url: url.to_string() })
    }
}
