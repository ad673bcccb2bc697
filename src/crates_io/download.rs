//! Downloading a `.crate`: streamed to a temporary file in the destination folder while hashed,
//! retried on transient failures by the network layer ([`crate::net`]), redirects followed
//! (bounded, never https to http: a mirror behind a CDN), capped in size, and given its final
//! name only after its sha256 matched the index, wherever the bytes came from. A file that fails
//! verification is deleted.

use std::path::{Path, PathBuf};

use anyhow::Result;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::index::{Index, IndexVersion};
use super::spec::validate_name;
use crate::error::{classified, failed, Exit};
use crate::net::{failure::request_line, Cause, Safety, TryFailure};
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

impl Index {
    /// Like [`Index::download`], but first looks in `shared` (a folder the invocation's other
    /// jobs share): a `{name}-{version}.crate` there whose sha256 matches the index is copied
    /// instead of downloaded (its `url` is the download URL, as if fetched; the log says it was
    /// reused). A miss downloads and leaves a copy in `shared` for the next job. A file there that
    /// does not match is ignored and replaced: the bytes are always verified against the index.
    pub async fn download_shared(
        &self,
        v: &IndexVersion,
        dest_dir: &Path,
        shared: &Path,
    ) -> Result<(Downloaded, bool)> {
        let name = format!("{}-{}.crate", v.name, v.vers);
        validate_name(&v.name).map_err(|why| failed(format!("downloading `{}`: {why}", v.name.escape_debug())))?;
        if let Some(reused) = reuse_verified(&shared.join(&name), &dest_dir.join(&name), &v.cksum)? {
            return Ok((Downloaded { url: self.download_url(v), ..reused }, true));
        }
        let got = self.download(v, dest_dir).await?;
        let part = shared.join(format!(".{name}.part"));
        if std::fs::copy(&got.path, &part).and_then(|_| std::fs::rename(&part, shared.join(&name))).is_err() {
            let _ = std::fs::remove_file(&part); // a cache miss next time, not an error
        }
        Ok((got, false))
    }

    /// Downloads the `.crate` of `v` into `dest_dir` (which must exist) and verifies it against
    /// `v.cksum` before it gets its final name `{name}-{version}.crate`.
    ///
    /// Errors: checksum mismatch -> `ChecksumMismatch` (exit 1, file deleted); larger than the
    /// size cap -> `UnsafeArchive` (exit 1); HTTP errors and transport failures (after retries
    /// where they are retried) -> a network failure (exit 3, `fetch-failed` in a build); the
    /// index's deadline passing -> `timeout`.
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
        self.client.run(&what, || self.download_once(v, &url, dest_dir, &what)).await
    }

    async fn download_once(
        &self,
        v: &IndexVersion,
        url: &str,
        dest_dir: &Path,
        what: &str,
    ) -> Result<Downloaded, TryFailure> {
        let too_large = |max: u64| {
            TryFailure::Fatal(classified(
                Exit::Failed,
                FailureClass::UnsafeArchive,
                format!("{what}: the .crate is larger than the {max}-byte limit"),
            ))
        };
        let safety = Safety::Idempotent;
        let resp = self.client.attempt(what, self.client.http().get(url), safety).await?;
        let mut resp = TryFailure::check_status(&reqwest::Method::GET, resp, safety)?;
        let request = request_line(&reqwest::Method::GET, resp.url());
        if !resp.status().is_success() {
            return Err(TryFailure::fatal(what, request, Cause::Status(resp.status().as_u16())));
        }
        if resp.content_length().is_some_and(|len| len > self.max_crate_bytes) {
            return Err(too_large(self.max_crate_bytes));
        }

        let local =
            |e: std::io::Error| TryFailure::Fatal(anyhow::anyhow!("{what}: writing into {}: {e}", dest_dir.display()));
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{}-{}.", v.name, v.vers))
            .suffix(".crate.part")
            .tempfile_in(dest_dir)
            .map_err(local)?;
        let mut file = tokio::fs::File::from_std(tmp.as_file().try_clone().map_err(local)?);
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => return Err(TryFailure::from_transport(what, request, Cause::of_body(&e), safety)),
            };
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
            return Err(TryFailure::Fatal(classified(
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

/// Copy `from` to `to` when its sha256 is `cksum`; `None` when it is missing or does not match.
fn reuse_verified(from: &Path, to: &Path, cksum: &str) -> Result<Option<Downloaded>> {
    let Ok(bytes) = std::fs::read(from) else { return Ok(None) };
    let sha256 = hex::encode(Sha256::digest(&bytes));
    if !sha256.eq_ignore_ascii_case(cksum) {
        return Ok(None);
    }
    std::fs::write(to, &bytes).map_err(|e| anyhow::anyhow!("writing {}: {e}", to.display()))?;
    Ok(Some(Downloaded { path: to.to_path_buf(), size: bytes.len() as u64, sha256, url: String::new() }))
}
