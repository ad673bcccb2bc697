//! Pushing one artifact to a registry so that a tag never points at an incomplete manifest:
//! blobs first (HEAD each, upload only what is missing), then the manifest by digest, then read it
//! and every blob back, and only then the tag, read back once more. A tag that already points at
//! the same digest makes the push a no-op. A published version's tag is never moved
//! ([`TagRule::Keep`]): a tag that points at another digest is a conflict, refused before any
//! blob is uploaded; only a moving tag by design (the built index) is replaced ([`TagRule::Move`]).

use futures_util::{StreamExt, TryStreamExt};
use reqwest::StatusCode;

use super::http::{unexpected, RegistryClient, RegistryFailure};
use super::manifest::{sha256_digest, Artifact, Blob, MANIFEST_MEDIA_TYPE};
use super::upload;
use crate::error::environment;
use crate::net::{failure::request_line, Cause, Transient};

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// Manifest digest.
    pub digest: String,
    pub blobs_uploaded: usize,
    pub blobs_present: usize,
    /// The tag already pointed at this digest: nothing was written.
    pub unchanged: bool,
    /// The digest the tag pointed at before, when it was replaced.
    pub replaced: Option<String>,
}

/// What a push may do to a tag that already points at another manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagRule {
    /// A published version: the tag stays where it is, and the push is refused as a conflict.
    Keep,
    /// A tag that follows the newest artifact (the built index): replaced.
    Move,
}

/// Refuse to move `tag` under [`TagRule::Keep`] when it points at `before`, not at `digest`. Pure.
pub fn check_tag(rule: TagRule, reference: &str, before: Option<&str>, digest: &str) -> anyhow::Result<()> {
    match (rule, before) {
        (TagRule::Keep, Some(old)) if old != digest => Err(crate::error::usage(format!(
            "{reference} is already published as {old}, and published versions are immutable: this package is {digest}; \
             publish it under its own --build-id, or delete the tag in the registry first if the published one is wrong"
        ))),
        _ => Ok(()),
    }
}

/// Push `artifact` to the client's repository under `tag`, moving an existing tag only as `rule`
/// allows.
pub async fn push(c: &RegistryClient, tag: &str, artifact: &Artifact, rule: TagRule) -> anyhow::Result<Pushed> {
    let before = manifest_digest(c, tag).await?;
    check_tag(rule, &format!("{}/{}:{tag}", c.host, c.repository), before.as_deref(), &artifact.digest)?;
    if before.as_deref() == Some(artifact.digest.as_str()) && missing_blob(c, artifact).await?.is_none() {
        return Ok(Pushed {
            digest: artifact.digest.clone(),
            blobs_uploaded: 0,
            blobs_present: artifact.blobs.len(),
            unchanged: true,
            replaced: None,
        });
    }
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<_> = artifact.blobs.iter().filter(|b| seen.insert(b.digest.clone())).collect();
    let jobs: Vec<_> = unique.iter().map(|blob| upload_if_missing(c, blob)).collect();
    let outcomes: Vec<bool> =
        futures_util::stream::iter(jobs).buffered(c.tuning.concurrency.max(1)).try_collect().await?;
    let uploaded = outcomes.iter().filter(|u| **u).count();

    put_manifest(c, &artifact.digest, artifact).await?;
    match get_manifest(c, &artifact.digest).await? {
        Some(bytes) if sha256_digest(&bytes) == artifact.digest => {}
        Some(bytes) => {
            return Err(environment(format!(
                "registry {} returned manifest {} with digest {}",
                c.host,
                artifact.digest,
                sha256_digest(&bytes)
            )))
        }
        None => {
            return Err(environment(format!(
                "registry {} accepted manifest {} but does not return it",
                c.host, artifact.digest
            )))
        }
    }
    if let Some(blob) = missing_blob(c, artifact).await? {
        return Err(environment(format!(
            "registry {} does not have blob {blob} of manifest {} after the push",
            c.host, artifact.digest
        )));
    }
    put_manifest(c, tag, artifact).await?;
    match manifest_digest(c, tag).await? {
        Some(d) if d == artifact.digest => {}
        other => {
            return Err(environment(format!(
                "after tagging, {}/{}:{tag} points at {} instead of {}",
                c.host,
                c.repository,
                other.as_deref().unwrap_or("nothing"),
                artifact.digest
            )))
        }
    }
    let replaced = before.filter(|d| d != &artifact.digest);
    Ok(Pushed {
        digest: artifact.digest.clone(),
        blobs_uploaded: uploaded,
        blobs_present: unique.len() - uploaded,
        unchanged: false,
        replaced,
    })
}

/// Upload a blob unless the repository has it; `true` when it was uploaded.
async fn upload_if_missing(c: &RegistryClient, blob: &Blob) -> anyhow::Result<bool> {
    if upload::exists(c, blob).await? {
        return Ok(false);
    }
    upload::upload(c, blob).await?;
    Ok(true)
}

/// The first blob of the artifact the repository lacks (or holds with another size), if any.
async fn missing_blob(c: &RegistryClient, artifact: &Artifact) -> anyhow::Result<Option<String>> {
    for blob in &artifact.blobs {
        if !upload::exists(c, blob).await? {
            return Ok(Some(blob.digest.clone()));
        }
    }
    Ok(None)
}

/// PUT the manifest under a tag or its digest.
async fn put_manifest(c: &RegistryClient, reference: &str, artifact: &Artifact) -> anyhow::Result<()> {
    let what = format!("PUT manifest {reference}");
    let body = bytes::Bytes::from(artifact.manifest.clone());
    c.retrying(&what, || async {
        let url = c.repo_url(&format!("manifests/{reference}"));
        let resp = c
            .send(&what, |h| {
                h.put(url.clone()).header(reqwest::header::CONTENT_TYPE, MANIFEST_MEDIA_TYPE).body(body.clone())
            })
            .await?;
        if resp.status() != StatusCode::CREATED && !resp.status().is_success() {
            return Err(RegistryFailure::Fatal(unexpected(&c.host, &what, resp).await));
        }
        match resp.headers().get("docker-content-digest").and_then(|v| v.to_str().ok()) {
            Some(d) if d != artifact.digest => Err(RegistryFailure::Fatal(environment(format!(
                "registry {} stored manifest as {d}, expected {}",
                c.host, artifact.digest
            )))),
            _ => Ok(()),
        }
    })
    .await
}

/// GET a manifest's bytes by tag or digest; `None` when it does not exist.
pub async fn get_manifest(c: &RegistryClient, reference: &str) -> anyhow::Result<Option<Vec<u8>>> {
    let what = format!("GET manifest {reference}");
    c.retrying(&what, || async {
        let url = c.repo_url(&format!("manifests/{reference}"));
        let resp = c.send(&what, |h| h.get(url.clone()).header(reqwest::header::ACCEPT, MANIFEST_MEDIA_TYPE)).await?;
        match resp.status() {
            StatusCode::OK => {
                let request = request_line(&reqwest::Method::GET, resp.url());
                resp.bytes().await.map(|b| Some(b.to_vec())).map_err(|e| {
                    RegistryFailure::Transient(Transient { request, cause: Cause::of_body(&e), retry_after: None })
                })
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(RegistryFailure::Fatal(unexpected(&c.host, &what, resp).await)),
        }
    })
    .await
}

/// The digest of the manifest a tag points at, computed from the bytes returned.
pub async fn manifest_digest(c: &RegistryClient, reference: &str) -> anyhow::Result<Option<String>> {
    Ok(get_manifest(c, reference).await?.map(|b| sha256_digest(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_tag_never_moves_and_the_index_tag_does() {
        let r = "reg/x:1.0.0-t";
        assert!(check_tag(TagRule::Keep, r, None, "sha256:a").is_ok(), "a new tag");
        assert!(check_tag(TagRule::Keep, r, Some("sha256:a"), "sha256:a").is_ok(), "the same bytes again");
        let e = check_tag(TagRule::Keep, r, Some("sha256:a"), "sha256:b").unwrap_err();
        assert_eq!(crate::error::exit_of(&e), crate::error::Exit::Usage);
        let m = crate::error::one_line(&e);
        assert!(m.contains("immutable") && m.contains("sha256:a") && m.contains("--build-id"), "{m}");
        assert!(check_tag(TagRule::Move, r, Some("sha256:a"), "sha256:b").is_ok());
    }
}
