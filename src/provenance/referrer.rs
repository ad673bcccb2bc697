//! Attaching a bundle to a pushed image as an OCI 1.1 referrer, and finding it again.
//!
//! The referrer is what sigstore-js pushes: an image manifest with `artifactType` = the bundle media
//! type, the empty config, one layer = the bundle, `subject` = the image manifest, annotations
//! `dev.sigstore.bundle.content=dsse-envelope` and `dev.sigstore.bundle.predicateType`. Registries
//! without a referrers API (GHCR, CNCF distribution 2.8: no `OCI-Subject` header on the PUT) get the
//! fallback too: an image index tagged `sha256-<hex of the subject digest>` listing every referrer.
//! Several jobs may attach to one image at once, so the index is updated by merge: read it, add our
//! entry, write it with `If-Match` when the registry gave an ETag, read it back, and merge again if
//! another job's write replaced ours (bounded).
//!
//! [`manifest`], [`merge_index`] and [`fallback_tag`] are the pure core; the rest is I/O through
//! `crate::oci`'s registry client.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::sign::BUNDLE_MEDIA_TYPE;
use crate::error::failed;
use crate::oci::http::{unexpected, Failure};
use crate::oci::manifest::{sha256_digest, Blob, BlobSource, EMPTY_DIGEST, EMPTY_MEDIA_TYPE, MANIFEST_MEDIA_TYPE};
use crate::oci::{upload, RegistryClient};

pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// Rounds of read-merge-write before giving up on a contended fallback index.
const INDEX_ROUNDS: u32 = 12;

/// The image a bundle is attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

/// Largest bundle read from a registry.
const BUNDLE_LIMIT: u64 = 16 << 20;
/// At most this many attached bundles are read (a registry that lists more is not trusted to end).
const MAX_BUNDLES: usize = 32;

/// Every bundle attached to manifest `digest` (each referrer manifest, then its one layer), read
/// with pull access only: anonymously when the client has no credentials. I/O.
pub async fn attached_bundles(
    puller: &crate::oci::pull::Puller,
    digest: &str,
) -> anyhow::Result<Vec<sigstore_verify::types::Bundle>> {
    let Some(index) = puller.referrers(digest, &fallback_tag(digest)).await? else { return Ok(Vec::new()) };
    let mut bundles = Vec::new();
    for r in bundle_referrers(&index)?.into_iter().take(MAX_BUNDLES) {
        let Some(m) = puller.manifest(&r).await? else { continue };
        if m.digest != r {
            return Err(failed(format!("registry {} served referrer {r} with digest {}", puller.host, m.digest)));
        }
        let v: serde_json::Value =
            serde_json::from_slice(&m.bytes).map_err(|e| failed(format!("referrer {r} is not JSON: {e}")))?;
        let layer = &v["layers"][0];
        let Some(blob) = layer["digest"].as_str() else { continue };
        let size = layer["size"].as_u64().unwrap_or(BUNDLE_LIMIT).min(BUNDLE_LIMIT);
        let mut bytes = Vec::new();
        puller.blob_to(blob, size, &mut bytes).await?;
        bundles.push(super::verify::parse_bundle(&bytes)?);
    }
    Ok(bundles)
}

/// The fallback tag for a subject digest: `sha256-<hex>`.
pub fn fallback_tag(digest: &str) -> String {
    digest.replacen(':', "-", 1)
}

/// The referrer manifest for a bundle; returns its bytes.
pub fn manifest(bundle: &[u8], subject: &Subject, predicate_type: &str) -> Vec<u8> {
    let m = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": BUNDLE_MEDIA_TYPE,
        "config": { "mediaType": EMPTY_MEDIA_TYPE, "digest": EMPTY_DIGEST, "size": 2 },
        "layers": [{ "mediaType": BUNDLE_MEDIA_TYPE, "digest": sha256_digest(bundle), "size": bundle.len() }],
        "subject": { "mediaType": subject.media_type, "digest": subject.digest, "size": subject.size },
        "annotations": {
            "dev.sigstore.bundle.content": "dsse-envelope",
            "dev.sigstore.bundle.predicateType": predicate_type,
        },
    });
    serde_json::to_vec(&m).expect("JSON")
}

/// The index entry (descriptor) of a referrer manifest.
pub fn descriptor(manifest: &[u8]) -> Value {
    let m: Value = serde_json::from_slice(manifest).expect("our own manifest");
    json!({
        "mediaType": MANIFEST_MEDIA_TYPE,
        "digest": sha256_digest(manifest),
        "size": manifest.len(),
        "artifactType": m["artifactType"],
        "annotations": m["annotations"],
    })
}

/// Add `entry` to a fallback index (or a new one), keeping every other entry; `None` when it is
/// already listed.
pub fn merge_index(existing: Option<&[u8]>, entry: &Value) -> anyhow::Result<Option<Vec<u8>>> {
    let mut index: Value = match existing {
        Some(b) => serde_json::from_slice(b).map_err(|e| failed(format!("the fallback index is not JSON: {e}")))?,
        None => json!({ "schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": [] }),
    };
    let list = index["manifests"]
        .as_array_mut()
        .ok_or_else(|| failed("the fallback index has no `manifests` list: it is not an OCI image index"))?;
    if list.iter().any(|m| m["digest"] == entry["digest"]) {
        return Ok(None);
    }
    list.push(entry.clone());
    Ok(Some(serde_json::to_vec(&index).expect("JSON")))
}

/// Digests listed in an index.
pub fn index_digests(index: &[u8]) -> Vec<String> {
    serde_json::from_slice::<Value>(index)
        .ok()
        .and_then(|v| v["manifests"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m["digest"].as_str().map(str::to_string))
        .collect()
}

/// What [`attach`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    pub digest: String,
    /// The registry has a referrers API (it answered the PUT with `OCI-Subject`).
    pub referrers_api: bool,
    /// The fallback tag that lists it, when one was maintained.
    pub fallback_tag: Option<String>,
}

/// Attach `bundle` to `subject` in the client's repository.
pub async fn attach(
    c: &RegistryClient,
    subject: &Subject,
    bundle: &[u8],
    predicate_type: &str,
) -> anyhow::Result<Attached> {
    let manifest = manifest(bundle, subject, predicate_type);
    let digest = sha256_digest(&manifest);
    for blob in [Blob::empty_config(), bundle_blob(bundle)] {
        if !upload::exists(c, &blob).await? {
            upload::upload(c, &blob).await?;
        }
    }
    let referrers_api = put(c, &digest, MANIFEST_MEDIA_TYPE, &manifest, None).await?;
    if referrers_api {
        return Ok(Attached { digest, referrers_api, fallback_tag: None });
    }
    let tag = fallback_tag(&subject.digest);
    let entry = descriptor(&manifest);
    // Without If-Match (distribution 2.8 gives no ETag) two jobs can both read the index before
    // either writes, and the later write drops the earlier entry. A job that sees its entry therefore
    // looks once more after a settle delay longer than another job's read-to-write gap, and merges
    // again when its entry was dropped. This narrows the race; only If-Match (or a referrers API)
    // closes it, which is why the ETag is used whenever the registry gives one. The delay grows with
    // this job's own read-to-write time: on a loaded machine the other job's gap grows too.
    // How many settled looks found the entry in a row; two end it.
    let mut seen = 0u32;
    let mut gap = std::time::Duration::ZERO;
    for _ in 0..INDEX_ROUNDS {
        let read_at = std::time::Instant::now();
        let current = get(c, &tag, INDEX_MEDIA_TYPE).await?;
        let etag_known = current.as_ref().is_some_and(|(_, e)| e.is_some());
        let Some(merged) = merge_index(current.as_ref().map(|(b, _)| b.as_slice()), &entry)? else {
            if seen >= 2 || etag_known {
                return Ok(Attached { digest, referrers_api, fallback_tag: Some(tag) });
            }
            seen += 1;
            tokio::time::sleep(settle_delay(gap, fastrand::u64(0..300))).await;
            continue;
        };
        seen = 0;
        let etag = current.and_then(|(_, e)| e);
        match put(c, &tag, INDEX_MEDIA_TYPE, &merged, etag.as_deref()).await {
            Ok(_) => gap = gap.max(read_at.elapsed()),
            Err(e) if e.to_string().contains("412") => continue,
            Err(e) => return Err(e),
        }
        // Read back: another job may have written its own merge in between.
    }
    Err(failed(format!(
        "the fallback index {tag} in {} kept changing under {INDEX_ROUNDS} merges: other jobs are attaching; retry",
        c.repository
    )))
}

/// How long a job that sees its entry waits before it looks again: 300 ms, plus four times its
/// own slowest read-to-write time (capped at 5 s), plus `jitter_ms`. Pure.
pub fn settle_delay(gap: std::time::Duration, jitter_ms: u64) -> std::time::Duration {
    let scaled = (gap * 4).min(std::time::Duration::from_secs(5));
    std::time::Duration::from_millis(300 + jitter_ms) + scaled
}

fn bundle_blob(bundle: &[u8]) -> Blob {
    Blob {
        media_type: BUNDLE_MEDIA_TYPE.into(),
        digest: sha256_digest(bundle),
        size: bundle.len() as u64,
        source: BlobSource::Bytes(bundle.to_vec()),
    }
}

/// PUT a manifest or index; returns whether the registry answered with `OCI-Subject`.
async fn put(
    c: &RegistryClient,
    reference: &str,
    media_type: &str,
    body: &[u8],
    if_match: Option<&str>,
) -> anyhow::Result<bool> {
    let what = format!("PUT manifest {reference}");
    let body = bytes::Bytes::copy_from_slice(body);
    c.retrying(&what, || async {
        let url = c.repo_url(&format!("manifests/{reference}"));
        let resp = c
            .send(&what, |h| {
                let r = h.put(url.clone()).header(reqwest::header::CONTENT_TYPE, media_type).body(body.clone());
                match if_match {
                    Some(e) => r.header(reqwest::header::IF_MATCH, e),
                    None => r,
                }
            })
            .await?;
        if resp.status() == StatusCode::PRECONDITION_FAILED {
            return Err(Failure::Fatal(failed(format!("{what}: 412 precondition failed"))));
        }
        if !resp.status().is_success() {
            return Err(Failure::Fatal(unexpected(&c.host, &what, resp).await));
        }
        Ok(resp.headers().contains_key("oci-subject"))
    })
    .await
}

/// GET a manifest or index by tag or digest: its bytes and ETag, `None` when absent.
pub async fn get(
    c: &RegistryClient,
    reference: &str,
    accept: &str,
) -> anyhow::Result<Option<(Vec<u8>, Option<String>)>> {
    let what = format!("GET manifest {reference}");
    c.retrying(&what, || async {
        let url = c.repo_url(&format!("manifests/{reference}"));
        let resp = c.send(&what, |h| h.get(url.clone()).header(reqwest::header::ACCEPT, accept)).await?;
        match resp.status() {
            StatusCode::OK => {
                let etag = resp.headers().get(reqwest::header::ETAG).and_then(|v| v.to_str().ok()).map(str::to_string);
                let bytes = resp.bytes().await.map_err(|e| {
                    Failure::Transient(crate::net::Transient {
                        request: what.clone(),
                        cause: crate::net::Cause::Broken(format!("reading manifest {reference}: {e}")),
                        retry_after: None,
                    })
                })?;
                Ok(Some((bytes.to_vec(), etag)))
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(Failure::Fatal(unexpected(&c.host, &what, resp).await)),
        }
    })
    .await
}

/// The digests of the bundle manifests a referrers index (the API's answer or the fallback tag's
/// index) lists. Pure.
pub fn bundle_referrers(index: &[u8]) -> anyhow::Result<Vec<String>> {
    let v: Value =
        serde_json::from_slice(index).map_err(|e| failed(format!("the referrers index is not JSON: {e}")))?;
    Ok(v["manifests"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|m| m["artifactType"] == BUNDLE_MEDIA_TYPE)
        .filter_map(|m| m["digest"].as_str().map(str::to_string))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settle_delay_grows_with_the_jobs_own_gap_and_is_bounded() {
        let ms = std::time::Duration::from_millis;
        assert_eq!(settle_delay(ms(0), 0), ms(300));
        assert_eq!(settle_delay(ms(200), 100), ms(1200));
        assert_eq!(settle_delay(ms(60_000), 0), ms(5300));
    }

    #[test]
    fn merging_keeps_other_jobs_entries() {
        let s =
            Subject { media_type: MANIFEST_MEDIA_TYPE.into(), digest: format!("sha256:{}", "a".repeat(64)), size: 9 };
        assert_eq!(fallback_tag(&s.digest), format!("sha256-{}", "a".repeat(64)));
        let one = descriptor(&manifest(b"{\"one\":1}", &s, "https://slsa.dev/provenance/v1"));
        let two = descriptor(&manifest(b"{\"two\":2}", &s, "https://slsa.dev/provenance/v1"));
        let first = merge_index(None, &one).unwrap().unwrap();
        let both = merge_index(Some(&first), &two).unwrap().unwrap();
        assert_eq!(index_digests(&both), vec![one["digest"].as_str().unwrap(), two["digest"].as_str().unwrap()]);
        assert_eq!(merge_index(Some(&both), &one).unwrap(), None, "already listed: nothing to write");
        let m: Value = serde_json::from_slice(&manifest(b"{}", &s, "p")).unwrap();
        assert_eq!(m["subject"]["digest"], s.digest.as_str());
        assert_eq!(m["annotations"]["dev.sigstore.bundle.content"], "dsse-envelope");
        assert_eq!(m["config"]["mediaType"], EMPTY_MEDIA_TYPE);
    }
}
