//! Pulling from a registry, for `cratemill install` and `verify`: one manifest, its referrers
//! (attestations) and the blobs asked for, with the one registry client
//! ([`RegistryClient::pull`], pull scope) in as few requests as possible. I/O edge.
//!
//! A pull client pings nothing: Basic credentials are sent with the first request; a Bearer
//! challenge is answered with a pull token for the repository (anonymous when there are no
//! credentials, [`super::auth::exchange`]) and the request is sent once more. On ghcr.io the
//! token endpoint is known, so the token is fetched first: token + manifest + blob.

use std::io::Write;

use futures_util::StreamExt;
use reqwest::{header, Response, StatusCode};
use sha2::{Digest, Sha256};

use super::auth::Challenge;
use super::http::RegistryClient;
use crate::error::{environment, usage};
use crate::net;

/// Manifest media types a cratemill artifact is served with.
const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json";
/// The media type of an image index (the referrers API's answer, the fallback tag's index).
const INDEX_ACCEPT: &str = super::manifest::IMAGE_INDEX_MEDIA_TYPE;

/// A manifest as served: its bytes and the digest of those bytes.
pub struct Pulled {
    pub bytes: Vec<u8>,
    pub digest: String,
}

/// A referrers index as found.
pub struct Referrers {
    pub index: Vec<u8>,
    /// From the referrers API (complete by construction), not the fallback tag's index.
    pub api: bool,
}

/// ghcr.io's token endpoint, known before any challenge.
const GHCR_CHALLENGE: (&str, &str) = ("https://ghcr.io/token", "ghcr.io");

impl RegistryClient {
    /// `rest` under `/v2/<repository>/`, or under `/v2/` when it starts with `/`.
    fn pull_url(&self, rest: &str) -> url::Url {
        match rest.strip_prefix('/') {
            Some(top) => self.url(&format!("v2/{top}")),
            None => self.repo_url(rest),
        }
    }

    /// On ghcr.io, fetch the token before the first request (its endpoint is known): token +
    /// manifest + blob, no 401 round trip.
    pub async fn prepare(&self) -> anyhow::Result<()> {
        if self.host != super::reference::DEFAULT_REGISTRY_HOST {
            return Ok(());
        }
        let challenge = Challenge { realm: GHCR_CHALLENGE.0.into(), service: Some(GHCR_CHALLENGE.1.into()) };
        let what = format!("asking ghcr.io for a {} token for `{}`", self.scope.actions(), self.repository);
        let token = self.net().run(&what, || self.token(&challenge)).await?;
        self.use_token(token).await;
        Ok(())
    }

    /// GET `v2/<repo>/<rest>`: authenticated, retried on transient failures by the net layer's
    /// policy, a 401 answered once per try.
    async fn get(&self, what: &str, rest: &str, accept: Option<&str>) -> anyhow::Result<Response> {
        let what_on = format!("pulling {what} of `{}` from registry {}", self.repository, self.host);
        let url = self.pull_url(rest);
        self.net()
            .run(&what_on, || {
                self.send_once((what, &what_on), |h| {
                    let req = h.get(url.clone());
                    match accept {
                        Some(a) => req.header(header::ACCEPT, a),
                        None => req,
                    }
                })
            })
            .await
    }

    /// The manifest at `reference` (a tag or a digest); `None` when the registry does not have it.
    pub async fn manifest(&self, reference: &str) -> anyhow::Result<Option<Pulled>> {
        self.manifest_as(reference, ACCEPT).await
    }

    /// The referrers of manifest `digest` as an image index: the OCI 1.1 referrers API when the
    /// registry has one, else the index at `fallback_tag` (the referrers tag schema,
    /// `sha256-<hex>`); `None` when there is neither. One request, or two without the API.
    pub async fn referrers(&self, digest: &str, fallback_tag: &str) -> anyhow::Result<Option<Referrers>> {
        let resp = self.get("the referrers", &format!("referrers/{digest}"), Some(INDEX_ACCEPT)).await?;
        let is_index = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with(INDEX_ACCEPT));
        if resp.status().is_success() && is_index {
            let index = body_capped(&self.host, "the referrers", resp).await?;
            return Ok(Some(Referrers { index, api: true }));
        }
        let fallback = self.manifest_as(fallback_tag, INDEX_ACCEPT).await?;
        Ok(fallback.map(|m| Referrers { index: m.bytes, api: false }))
    }

    /// The manifest or index at `reference`, asked for as `accept`.
    async fn manifest_as(&self, reference: &str, accept: &str) -> anyhow::Result<Option<Pulled>> {
        let resp = self.get("the manifest", &format!("manifests/{reference}"), Some(accept)).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = ok(&self.host, "GET manifest", resp).await?;
        let bytes = body_capped(&self.host, "the manifest", resp).await?;
        let digest = super::manifest::sha256_digest(&bytes);
        Ok(Some(Pulled { bytes, digest }))
    }

    /// The repository's tags, every page (at most [`TAG_PAGES`] of them, following `Link`);
    /// `None` when the repository does not exist. Read once; later calls answer from memory.
    pub async fn tags(&self) -> anyhow::Result<Option<Vec<String>>> {
        self.tags.get_or_try_init(|| self.read_tags()).await.cloned()
    }

    async fn read_tags(&self) -> anyhow::Result<Option<Vec<String>>> {
        let mut all = Vec::new();
        let mut rest = format!("tags/list?n={TAG_PAGE}");
        for _ in 0..TAG_PAGES {
            let resp = self.get("the tag list", &rest, None).await?;
            if resp.status() == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            let resp = ok(&self.host, "GET tags/list", resp).await?;
            let link = resp.headers().get(header::LINK).and_then(|v| v.to_str().ok()).map(str::to_string);
            let bytes = body_capped(&self.host, "the tag list", resp).await?;
            all.extend(parse_tag_list(&self.host, &bytes)?);
            match next_tags_page(link.as_deref()) {
                Some(last) => rest = format!("tags/list?n={TAG_PAGE}&last={last}"),
                None => break,
            }
        }
        Ok(Some(all))
    }

    /// The registry's repositories (`/v2/_catalog`), when it offers the list (ghcr.io does not).
    pub async fn catalog(&self) -> Option<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Catalog {
            repositories: Vec<String>,
        }
        let resp = self.get("the catalog", "/_catalog?n=1000", None).await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let bytes = body_capped(&self.host, "the catalog", resp).await.ok()?;
        serde_json::from_slice::<Catalog>(&bytes).ok().map(|c| c.repositories)
    }

    /// Stream blob `digest` into `out`, hashing it; an error (and nothing trusted) when its sha256
    /// is not the digest or it is longer than `size`.
    pub async fn blob_to(&self, digest: &str, size: u64, out: &mut impl Write) -> anyhow::Result<()> {
        let resp = self.get("a blob", &format!("blobs/{digest}"), None).await?;
        let resp = ok(&self.host, "GET blob", resp).await?;
        let mut hasher = Sha256::new();
        let mut stream = resp.bytes_stream();
        let mut got = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                environment(format!("downloading {digest} from {}: {}", self.host, net::failure::describe(&e)))
            })?;
            got += chunk.len() as u64;
            if got > size {
                return Err(usage(format!(
                    "registry {} sent more than the {size} bytes the manifest lists for {digest}: nothing written",
                    self.host
                )));
            }
            hasher.update(&chunk);
            out.write_all(&chunk)?;
        }
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if actual != digest {
            return Err(usage(format!(
                "registry {} sent a layer whose digest does not match: expected {digest}, got {actual}: nothing written (the mirror's copy is corrupt; republish it)",
                self.host
            )));
        }
        Ok(())
    }
}

/// The most of a manifest, index, tag list or catalog cratemill reads: the OCI distribution spec's
/// 4 MiB for manifests (10,000 tags fit too); a mirror that answers more is refused before it can
/// fill memory.
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// A manifest-sized answer read whole, at most [`MAX_MANIFEST_BYTES`].
async fn body_capped(host: &str, what: &str, mut resp: Response) -> anyhow::Result<Vec<u8>> {
    let too_large = || usage(format!("registry {host} sent {what} larger than {MAX_MANIFEST_BYTES} bytes: refused"));
    if resp.content_length().is_some_and(|n| n > MAX_MANIFEST_BYTES) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    while let Some(piece) = resp.chunk().await? {
        if (bytes.len() + piece.len()) as u64 > MAX_MANIFEST_BYTES {
            return Err(too_large());
        }
        bytes.extend_from_slice(&piece);
    }
    Ok(bytes)
}

async fn ok(host: &str, what: &str, resp: Response) -> anyhow::Result<Response> {
    if resp.status().is_success() {
        Ok(resp)
    } else {
        Err(super::http::unexpected(host, what, resp).await)
    }
}

/// Tags asked for per page of `tags/list`.
pub const TAG_PAGE: usize = 1000;
/// Pages of `tags/list` followed at most (a registry that links on for ever is not followed).
pub const TAG_PAGES: usize = 50;

/// The tags of one `tags/list` answer. Pure.
pub fn parse_tag_list(host: &str, bytes: &[u8]) -> anyhow::Result<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct Tags {
        tags: Option<Vec<String>>,
    }
    let tags: Tags = serde_json::from_slice(bytes)
        .map_err(|e| environment(format!("the tag list from {host} is not a tag list: {e}")))?;
    Ok(tags.tags.unwrap_or_default())
}

/// The `last` of the next page from a `Link: </v2/NAME/tags/list?n=N&last=TAG>; rel="next"`
/// header, percent-encoded as given; `None` on the last page. Pure.
pub fn next_tags_page(link: Option<&str>) -> Option<String> {
    let link = link?;
    if !link.contains("rel=\"next\"") {
        return None;
    }
    let target = link.split_once('<')?.1.split_once('>')?.0;
    let query = target.split_once('?')?.1;
    query.split('&').find_map(|kv| kv.strip_prefix("last=")).filter(|v| !v.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_list_pages_follow_the_next_link_only() {
        let next = r#"</v2/o/hexyl/tags/list?n=1000&last=0.16.0-x86_64>; rel="next""#;
        assert_eq!(next_tags_page(Some(next)).as_deref(), Some("0.16.0-x86_64"));
        assert_eq!(next_tags_page(Some(r#"</v2/o/h/tags/list?last=a&n=2>; rel="next""#)).as_deref(), Some("a"));
        assert_eq!(next_tags_page(Some(r#"</v2/o/h/tags/list?n=2&last=a>; rel="prev""#)), None);
        assert_eq!(next_tags_page(Some(r#"</v2/o/h/tags/list?n=2>; rel="next""#)), None);
        assert_eq!(next_tags_page(None), None);
        assert_eq!(parse_tag_list("h", br#"{"name":"o/h","tags":["a","b"]}"#).unwrap(), vec!["a", "b"]);
        assert_eq!(parse_tag_list("h", br#"{"name":"o/h","tags":null}"#).unwrap(), Vec::<String>::new());
        assert!(parse_tag_list("h", b"<html>").unwrap_err().to_string().contains("not a tag list"));
    }
}
