//! Attaching a bundle to a pushed image as an OCI 1.1 referrer, and finding it again.
//!
//! The referrer is what sigstore-js pushes: an image manifest with `artifactType` = the bundle media
//! type, the empty config, one layer = the bundle, `subject` = the image manifest, annotations
//! `dev.sigstore.bundle.content=dsse-envelope` and `dev.sigstore.bundle.predicateType`. Registries
//! without a referrers API (GHCR, CNCF distribution 2.8: no `OCI-Subject` header on the PUT) get the
//! fallback too: an image index tagged `sha256-<hex of the subject digest>` listing every referrer.
//! Several jobs may attach to one image at once. Each first tags its own referrer manifest
//! `sha256-<hex>.<16 hex of the referrer>` ([`referrer_tag`]), which no other job writes; then the
//! index is updated by merge: read it, add every referrer tag's entry, write it with `If-Match`
//! when the registry gave an ETag, read it back, and merge again if another job's write replaced
//! ours (bounded). Readers ([`attached_bundles`]) take the index and the referrer tags together,
//! so an entry lost from the index by two unguarded writes is still found.
//!
//! [`manifest`], [`merge_index`], [`fallback_tag`], [`referrer_tag`] and [`bundle_layer`] are the pure core; the rest is I/O through
//! `crate::oci`'s registry client.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::sign::BUNDLE_MEDIA_TYPE;
use crate::error::failed;
use crate::oci::http::{unexpected, RegistryFailure};
use crate::oci::manifest::IMAGE_INDEX_MEDIA_TYPE as INDEX_MEDIA_TYPE;
use crate::oci::manifest::{sha256_digest, Blob, BlobSource, EMPTY_DIGEST, EMPTY_MEDIA_TYPE, MANIFEST_MEDIA_TYPE};
use crate::oci::{upload, RegistryClient};

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
/// with pull access only: anonymously when the client has no credentials. Without a referrers API
/// the fallback index is read and so is every referrer's own tag ([`referrer_tag`]): two jobs
/// writing the index at once can drop an entry from it, never from the tags. I/O.
pub async fn attached_bundles(
    puller: &crate::oci::RegistryClient,
    digest: &str,
) -> anyhow::Result<Vec<sigstore_verify::types::Bundle>> {
    let Some(found) = puller.referrers(digest, &fallback_tag(digest)).await? else { return Ok(Vec::new()) };
    let mut manifests: Vec<crate::oci::pull::Pulled> = Vec::new();
    if !found.api {
        let tags = puller.tags().await?.unwrap_or_default();
        for t in referrer_tags(&tags, digest).into_iter().take(MAX_BUNDLES) {
            manifests.extend(puller.manifest(t).await?);
        }
    }
    for r in bundle_referrers(&found.index)? {
        if manifests.len() >= MAX_BUNDLES || manifests.iter().any(|m| m.digest == r) {
            continue;
        }
        let Some(m) = puller.manifest(&r).await? else { continue };
        if m.digest != r {
            return Err(failed(format!("registry {} served referrer {r} with digest {}", puller.host, m.digest)));
        }
        manifests.push(m);
    }
    let mut bundles = Vec::new();
    for m in &manifests {
        let Some(layer) = bundle_layer(&m.bytes, digest) else { continue };
        let mut bytes = Vec::new();
        puller.blob_to(&layer.0, layer.1, &mut bytes).await?;
        bundles.push(super::verify::parse_bundle(&bytes)?);
    }
    Ok(bundles)
}

/// The bundle layer (digest, size capped at [`BUNDLE_LIMIT`]) of a referrer manifest of
/// `subject`; `None` for anything else (another subject, another artifact type, not JSON). Pure.
pub fn bundle_layer(manifest: &[u8], subject: &str) -> Option<(String, u64)> {
    let v: Value = serde_json::from_slice(manifest).ok()?;
    if v["artifactType"] != BUNDLE_MEDIA_TYPE || v["subject"]["digest"] != subject {
        return None;
    }
    let layer = &v["layers"][0];
    let size = layer["size"].as_u64().unwrap_or(BUNDLE_LIMIT).min(BUNDLE_LIMIT);
    Some((layer["digest"].as_str()?.to_string(), size))
}

/// The tag one referrer manifest is also kept under on a registry without a referrers API:
/// `sha256-<subject hex>.<first 16 hex of the referrer's digest>` (88 characters, within the
/// 128 a tag may have). Each job writes only its own, so no job can drop another's. Pure.
pub fn referrer_tag(subject: &str, referrer: &str) -> String {
    let hex = referrer.split_once(':').map_or(referrer, |(_, h)| h);
    format!("{}.{}", fallback_tag(subject), &hex[..hex.len().min(16)])
}

/// The referrer tags of `subject` among a repository's tags. Pure.
pub fn referrer_tags<'a>(tags: &'a [String], subject: &str) -> Vec<&'a str> {
    let prefix = format!("{}.", fallback_tag(subject));
    tags.iter().filter(|t| t.starts_with(&prefix)).map(String::as_str).collect()
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

/// The index entry (descriptor) of our own referrer manifest.
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

/// Add `entries` to a fallback index (or a new one), keeping every other entry; `None` when all
/// are already listed.
pub fn merge_index(existing: Option<&[u8]>, entries: &[Value]) -> anyhow::Result<Option<Vec<u8>>> {
    let mut index: Value = match existing {
        Some(b) => serde_json::from_slice(b).map_err(|e| failed(format!("the fallback index is not JSON: {e}")))?,
        None => json!({ "schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": [] }),
    };
    let list = index["manifests"]
        .as_array_mut()
        .ok_or_else(|| failed("the fallback index has no `manifests` list: it is not an OCI image index"))?;
    let before = list.len();
    for entry in entries {
        if !list.iter().any(|m| m["digest"] == entry["digest"]) {
            list.push(entry.clone());
        }
    }
    if list.len() == before {
        return Ok(None);
    }
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
    // Our own tag first: the record no other job's write can drop.
    put(c, &referrer_tag(&subject.digest, &digest), MANIFEST_MEDIA_TYPE, &manifest, None).await?;
    let tag = fallback_tag(&subject.digest);
    update_index(c, &tag, &subject.digest, &descriptor(&manifest)).await?;
    Ok(Attached { digest, referrers_api, fallback_tag: Some(tag) })
}

/// Merge our entry, and every other referrer tag's, into the fallback index `tag`.
///
/// Without a working If-Match two jobs can both read the index before either writes, and the
/// later write drops the earlier entry. An ETag proves nothing: distribution 2.8 sends one and
/// ignores If-Match on the PUT, so the settled looks are made whatever the registry sent. Every
/// round merges the entries of all referrer tags of the subject (no job overwrites another's
/// tag), and a job that sees its entry looks again after a settle delay longer than another
/// job's read-to-write gap. A drop that still slips through costs the index an entry, not the attestation: `verify` and
/// `install` read the referrer tags too, and the next attach to the image puts it back.
async fn update_index(c: &RegistryClient, tag: &str, subject: &str, own: &Value) -> anyhow::Result<()> {
    let mut siblings = std::collections::BTreeMap::new();
    // How many settled looks found every entry in a row; two end it.
    let mut seen = 0u32;
    let mut gap = std::time::Duration::ZERO;
    for _ in 0..INDEX_ROUNDS {
        let read_at = std::time::Instant::now();
        let current = get(c, tag, INDEX_MEDIA_TYPE).await?;
        let mut entries = vec![own.clone()];
        entries.extend(sibling_entries(c, subject, &mut siblings).await?);
        let Some(merged) = merge_index(current.as_ref().map(|(b, _)| b.as_slice()), &entries)? else {
            if seen >= 2 {
                return Ok(());
            }
            seen += 1;
            tokio::time::sleep(settle_delay(gap, fastrand::u64(0..300))).await;
            continue;
        };
        seen = 0;
        let etag = current.and_then(|(_, e)| e);
        match put(c, tag, INDEX_MEDIA_TYPE, &merged, etag.as_deref()).await {
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

/// The index entries of every referrer tag of `subject` in the repository: each tag is read once
/// (`known` keeps what was read, `None` for a tag that is no bundle referrer of `subject`). I/O.
async fn sibling_entries(
    c: &RegistryClient,
    subject: &str,
    known: &mut std::collections::BTreeMap<String, Option<Value>>,
) -> anyhow::Result<Vec<Value>> {
    let tags = list_tags(c).await?;
    for t in referrer_tags(&tags, subject).into_iter().take(MAX_BUNDLES) {
        if known.contains_key(t) {
            continue;
        }
        let entry = get(c, t, MANIFEST_MEDIA_TYPE)
            .await?
            .and_then(|(bytes, _)| bundle_layer(&bytes, subject).map(|_| descriptor(&bytes)));
        known.insert(t.to_string(), entry);
    }
    Ok(known.values().flatten().cloned().collect())
}

/// Every tag of the client's repository (following `Link` pages, at most
/// [`crate::oci::pull::TAG_PAGES`]); empty when the repository has none. I/O.
async fn list_tags(c: &RegistryClient) -> anyhow::Result<Vec<String>> {
    use crate::oci::pull::{next_tags_page, parse_tag_list, TAG_PAGE, TAG_PAGES};
    let mut all = Vec::new();
    let mut rest = format!("tags/list?n={TAG_PAGE}");
    for _ in 0..TAG_PAGES {
        let what = "GET tags/list";
        let page = c
            .retrying(what, || async {
                let url = c.repo_url(&rest);
                let resp = c.send(what, |h| h.get(url.clone())).await?;
                match resp.status() {
                    StatusCode::NOT_FOUND => Ok(None),
                    s if s.is_success() => {
                        let link = resp.headers().get(reqwest::header::LINK).and_then(|v| v.to_str().ok());
                        let link = link.map(str::to_string);
                        let bytes =
                            resp.bytes().await.map_err(|e| RegistryFailure::Fatal(failed(format!("{what}: {e}"))))?;
                        Ok(Some((bytes, link)))
                    }
                    _ => Err(RegistryFailure::Fatal(unexpected(&c.host, what, resp).await)),
                }
            })
            .await?;
        let Some((bytes, link)) = page else { break };
        all.extend(parse_tag_list(&c.host, &bytes)?);
        match next_tags_page(link.as_deref()) {
            Some(last) => rest = format!("tags/list?n={TAG_PAGE}&last={last}"),
            None => break,
        }
    }
    Ok(all)
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
            return Err(RegistryFailure::Fatal(failed(format!("{what}: 412 precondition failed"))));
        }
        if !resp.status().is_success() {
            return Err(RegistryFailure::Fatal(unexpected(&c.host, &what, resp).await));
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
                    RegistryFailure::Transient(crate::net::Transient {
                        request: what.clone(),
                        cause: crate::net::Cause::Broken(format!("reading manifest {reference}: {e}")),
                        retry_after: None,
                    })
                })?;
                Ok(Some((bytes.to_vec(), etag)))
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(RegistryFailure::Fatal(unexpected(&c.host, &what, resp).await)),
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
        let first = merge_index(None, std::slice::from_ref(&one)).unwrap().unwrap();
        let both = merge_index(Some(&first), &[two.clone(), one.clone()]).unwrap().unwrap();
        assert_eq!(index_digests(&both), vec![one["digest"].as_str().unwrap(), two["digest"].as_str().unwrap()]);
        assert_eq!(
            merge_index(Some(&both), std::slice::from_ref(&one)).unwrap(),
            None,
            "already listed: nothing to write"
        );
        let m: Value = serde_json::from_slice(&manifest(b"{}", &s, "p")).unwrap();
        assert_eq!(m["subject"]["digest"], s.digest.as_str());
        assert_eq!(m["annotations"]["dev.sigstore.bundle.content"], "dsse-envelope");
        assert_eq!(m["config"]["mediaType"], EMPTY_MEDIA_TYPE);
    }

    #[test]
    fn each_referrer_has_its_own_tag_under_the_subjects_prefix() {
        let subject = format!("sha256:{}", "a".repeat(64));
        let s = Subject { media_type: MANIFEST_MEDIA_TYPE.into(), digest: subject.clone(), size: 9 };
        let m = manifest(b"{}", &s, "p");
        let own = referrer_tag(&subject, &sha256_digest(&m));
        assert_eq!(own.len(), 88);
        assert!(own.starts_with(&format!("sha256-{}.", "a".repeat(64))), "{own}");
        let tags: Vec<String> = vec![
            own.clone(),
            fallback_tag(&subject),
            format!("sha256-{}.0123456789abcdef", "b".repeat(64)),
            "0.16.0-x86_64-unknown-linux-musl".into(),
        ];
        assert_eq!(referrer_tags(&tags, &subject), vec![own.as_str()]);
        assert_eq!(bundle_layer(&m, &subject), Some((sha256_digest(b"{}"), 2)));
        assert_eq!(bundle_layer(&m, &format!("sha256:{}", "b".repeat(64))), None, "another subject");
        assert_eq!(bundle_layer(b"not json", &subject), None);
    }
}
