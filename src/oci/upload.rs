//! Blobs on a registry: HEAD to see whether one is there, and the chunked upload of the OCI
//! distribution spec (POST, PATCH chunks of at most `chunk_size`, PUT `?digest=`) that resumes from
//! the offset the registry reports after a dropped chunk, and starts the session over when the
//! registry has lost it.

use bytes::Bytes;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::http::{unexpected, RegistryClient, RegistryFailure};
use super::manifest::{Blob, BlobSource};
use crate::error::environment;
use crate::net::failure::redact;

/// Is the blob in the repository (with the expected size)?
pub async fn exists(c: &RegistryClient, blob: &Blob) -> anyhow::Result<bool> {
    let what = format!("HEAD blob {}", blob.digest);
    c.retrying(&what, || async {
        let url = c.repo_url(&format!("blobs/{}", blob.digest));
        let resp = c.send(&what, |h| h.head(url.clone())).await?;
        match resp.status() {
            s if s.is_success() => match resp
                .headers()
                .get(reqwest::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
            {
                Some(n) if n != blob.size => Err(RegistryFailure::Fatal(environment(format!(
                    "registry {} holds blob {} with {n} bytes, expected {}",
                    c.host, blob.digest, blob.size
                )))),
                _ => Ok(true),
            },
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(RegistryFailure::Fatal(unexpected(&c.host, &what, resp).await)),
        }
    })
    .await
}

/// Upload one blob, resuming or restarting as needed, within the retry policy.
pub async fn upload(c: &RegistryClient, blob: &Blob) -> anyhow::Result<()> {
    let what = format!("uploading blob {} ({} bytes)", blob.digest, blob.size);
    let mut retries = c.retries();
    'session: loop {
        let mut location = match start(c).await {
            Ok(l) => {
                retries.progress();
                l
            }
            Err(RegistryFailure::Fatal(e)) => return Err(e),
            Err(f) => {
                c.wait(&mut retries, &what, f).await?;
                continue 'session;
            }
        };
        let chunk = c.chunk_size() as u64;
        let mut offset = 0u64;
        // Everything but the last chunk goes in PATCHes; the last one rides on the closing PUT.
        while blob.size - offset > chunk {
            let data = read_range(&blob.source, offset, chunk).await?;
            match patch(c, &location, offset, data).await {
                Ok((next_location, next_offset)) => {
                    location = next_location;
                    offset = next_offset;
                    retries.progress();
                }
                Err(RegistryFailure::Fatal(e)) => return Err(e),
                Err(f @ RegistryFailure::Restart(_)) => {
                    c.wait(&mut retries, &what, f).await?;
                    continue 'session;
                }
                Err(f) => {
                    c.wait(&mut retries, &what, f).await?;
                    match status(c, &location).await {
                        Ok((l, o)) if o <= blob.size => (location, offset) = (l, o),
                        Ok(_) | Err(RegistryFailure::Restart(_)) | Err(RegistryFailure::Transient { .. }) => {
                            continue 'session
                        }
                        Err(RegistryFailure::Fatal(e)) => return Err(e),
                    }
                }
            }
        }
        let last = read_range(&blob.source, offset, blob.size - offset).await?;
        match finish(c, &location, &blob.digest, last).await {
            Ok(()) => return Ok(()),
            Err(RegistryFailure::Fatal(e)) => return Err(e),
            Err(f) => {
                c.wait(&mut retries, &what, f).await?;
                // The PUT may have landed and only its answer got lost.
                if exists(c, blob).await? {
                    return Ok(());
                }
                continue 'session;
            }
        }
    }
}

/// POST an upload session; its URL.
async fn start(c: &RegistryClient) -> Result<url::Url, RegistryFailure> {
    let url = c.repo_url("blobs/uploads/");
    let resp =
        c.send("POST blobs/uploads/", |h| h.post(url.clone()).header(reqwest::header::CONTENT_LENGTH, 0)).await?;
    if resp.status() != StatusCode::ACCEPTED {
        return Err(RegistryFailure::Fatal(unexpected(&c.host, "POST blobs/uploads/", resp).await));
    }
    location(c, &resp)
}

/// PATCH one chunk at `offset`; the next upload URL and offset.
async fn patch(
    c: &RegistryClient,
    at: &url::Url,
    offset: u64,
    data: Bytes,
) -> Result<(url::Url, u64), RegistryFailure> {
    let len = data.len() as u64;
    let body = data;
    let range = format!("{offset}-{}", offset + len - 1);
    let resp = c
        .send("PATCH chunk", |h| {
            h.patch(at.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .header(reqwest::header::CONTENT_RANGE, range.clone())
                .body(body.clone())
        })
        .await?;
    match resp.status() {
        StatusCode::ACCEPTED | StatusCode::NO_CONTENT | StatusCode::CREATED => {
            let next = range_end(&resp).map(|e| e + 1).unwrap_or(offset + len);
            Ok((location(c, &resp)?, next))
        }
        StatusCode::NOT_FOUND | StatusCode::RANGE_NOT_SATISFIABLE | StatusCode::BAD_REQUEST => {
            Err(RegistryFailure::restart(format!("PATCH {} (offset {offset})", redact(at)), resp.status().as_u16()))
        }
        _ => Err(RegistryFailure::Fatal(unexpected(&c.host, "PATCH chunk", resp).await)),
    }
}

/// GET the upload's status after a failed chunk: where to continue.
async fn status(c: &RegistryClient, at: &url::Url) -> Result<(url::Url, u64), RegistryFailure> {
    let resp = c.send("GET upload status", |h| h.get(at.clone())).await?;
    match resp.status() {
        StatusCode::NO_CONTENT | StatusCode::OK => {
            // `0-0` is what distribution says for both 0 and 1 bytes: restart from 0 then.
            let next = range_end(&resp).map(|e| if e == 0 { 0 } else { e + 1 }).unwrap_or(0);
            Ok((location(c, &resp).unwrap_or_else(|_| at.clone()), next))
        }
        StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST => {
            Err(RegistryFailure::restart(format!("GET {} (upload status)", redact(at)), resp.status().as_u16()))
        }
        _ => Err(RegistryFailure::Fatal(unexpected(&c.host, "GET upload status", resp).await)),
    }
}

/// The closing PUT `?digest=`, carrying the last bytes.
async fn finish(c: &RegistryClient, at: &url::Url, digest: &str, last: Bytes) -> Result<(), RegistryFailure> {
    let mut url = at.clone();
    url.query_pairs_mut().append_pair("digest", digest);
    let resp = c
        .send("PUT blob", |h| {
            h.put(url.clone()).header(reqwest::header::CONTENT_TYPE, "application/octet-stream").body(last.clone())
        })
        .await?;
    match resp.status() {
        StatusCode::CREATED | StatusCode::NO_CONTENT | StatusCode::OK | StatusCode::ACCEPTED => Ok(()),
        StatusCode::NOT_FOUND | StatusCode::RANGE_NOT_SATISFIABLE | StatusCode::BAD_REQUEST => {
            Err(RegistryFailure::restart(format!("PUT {} (closing {digest})", redact(at)), resp.status().as_u16()))
        }
        _ => Err(RegistryFailure::Fatal(unexpected(&c.host, "PUT blob", resp).await)),
    }
}

fn location(c: &RegistryClient, resp: &reqwest::Response) -> Result<url::Url, RegistryFailure> {
    let value = resp.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok());
    let Some(value) = value else {
        return Err(RegistryFailure::Fatal(environment(format!(
            "registry {} gave no Location for the upload",
            c.host
        ))));
    };
    c.base.join(value).map_err(|e| {
        RegistryFailure::Fatal(environment(format!("registry {} gave a bad upload Location `{value}`: {e}", c.host)))
    })
}

/// The end of a `Range: 0-<end>` header.
fn range_end(resp: &reqwest::Response) -> Option<u64> {
    let v = resp.headers().get(reqwest::header::RANGE)?.to_str().ok()?;
    parse_range_end(v)
}

pub fn parse_range_end(v: &str) -> Option<u64> {
    let v = v.trim().trim_start_matches("bytes=");
    let (_, end) = v.split_once('-')?;
    end.trim().parse().ok()
}

async fn read_range(source: &BlobSource, offset: u64, len: u64) -> anyhow::Result<Bytes> {
    match source {
        BlobSource::Bytes(b) => Ok(Bytes::copy_from_slice(&b[offset as usize..(offset + len) as usize])),
        BlobSource::File(path) => {
            // A package file: opened as untrusted (regular, no link), like every read of the folder.
            let (f, _) = crate::untrusted::open_regular(path, u64::MAX)?;
            let mut f = tokio::fs::File::from_std(f);
            f.seek(std::io::SeekFrom::Start(offset)).await?;
            let mut buf = vec![0u8; len as usize];
            f.read_exact(&mut buf).await.map_err(|e| anyhow::anyhow!("reading {} at {offset}: {e}", path.display()))?;
            Ok(Bytes::from(buf))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_headers() {
        assert_eq!(parse_range_end("0-4194303"), Some(4194303));
        assert_eq!(parse_range_end("bytes=0-9"), Some(9));
        assert_eq!(parse_range_end("junk"), None);
    }
}
