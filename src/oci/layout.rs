//! The local OCI image layout writer (`oci-layout`, `index.json`, `blobs/sha256/<hex>`), readable by
//! `skopeo`, `oras` and `crane`. Same rule as a registry push: blobs first (written to a temp file,
//! hashed, renamed), the manifest blob next, and only then the `index.json` entry naming the tag,
//! replaced atomically under an exclusive lock on the layout folder.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{json, Value};
use sha2::Digest;

use super::annotations::REF_NAME;
use super::manifest::{Artifact, Blob, BlobSource, MANIFEST_MEDIA_TYPE};
use super::push::Pushed;
use crate::error::failed;

const LAYOUT_FILE: &str = "oci-layout";
const INDEX_FILE: &str = "index.json";

/// Write `artifact` into the image layout at `dir` under `tag` (creating the layout if needed).
pub fn write(dir: &Path, tag: &str, artifact: &Artifact) -> anyhow::Result<Pushed> {
    init(dir)?;
    let _lock = lock(dir)?;
    let before = tagged_digest(&read_index(dir)?, tag);
    let mut uploaded = 0;
    let mut present = 0;
    for blob in &artifact.blobs {
        if put_blob(dir, blob)? {
            uploaded += 1;
        } else {
            present += 1;
        }
    }
    let manifest_blob = Blob {
        media_type: MANIFEST_MEDIA_TYPE.into(),
        digest: artifact.digest.clone(),
        size: artifact.manifest.len() as u64,
        source: BlobSource::Bytes(artifact.manifest.clone()),
    };
    put_blob(dir, &manifest_blob)?;
    if before.as_deref() == Some(artifact.digest.as_str()) && uploaded == 0 {
        return Ok(Pushed {
            digest: artifact.digest.clone(),
            blobs_uploaded: 0,
            blobs_present: present,
            unchanged: true,
            replaced: None,
        });
    }
    let mut index = read_index(dir)?;
    let manifests =
        index.get_mut("manifests").and_then(Value::as_array_mut).context("index.json has no manifests array")?;
    manifests
        .retain(|m| m.pointer("/annotations/org.opencontainers.image.ref.name").and_then(Value::as_str) != Some(tag));
    manifests.push(json!({
        "mediaType": MANIFEST_MEDIA_TYPE,
        "digest": artifact.digest,
        "size": artifact.manifest.len(),
        "artifactType": artifact.artifact_type,
        "annotations": { REF_NAME: tag },
    }));
    let mut bytes = serde_json::to_vec(&index)?;
    bytes.push(b'\n');
    crate::schema::write_atomic(&dir.join(INDEX_FILE), &bytes)
        .with_context(|| format!("writing {}/{INDEX_FILE}", dir.display()))?;
    if tagged_digest(&read_index(dir)?, tag).as_deref() != Some(artifact.digest.as_str()) {
        return Err(failed(format!("{}/{INDEX_FILE} does not name {tag} after writing it", dir.display())));
    }
    Ok(Pushed {
        digest: artifact.digest.clone(),
        blobs_uploaded: uploaded,
        blobs_present: present,
        unchanged: false,
        replaced: before.filter(|d| d != &artifact.digest),
    })
}

/// The digest `tag` names in an index, if any.
pub fn tagged_digest(index: &Value, tag: &str) -> Option<String> {
    index
        .get("manifests")?
        .as_array()?
        .iter()
        .rev()
        .find(|m| m.pointer("/annotations/org.opencontainers.image.ref.name").and_then(Value::as_str) == Some(tag))
        .and_then(|m| m.get("digest")?.as_str().map(String::from))
}

fn init(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("blobs/sha256"))
        .with_context(|| format!("creating OCI layout {}", dir.display()))?;
    let layout = dir.join(LAYOUT_FILE);
    match std::fs::read(&layout) {
        Ok(bytes) => {
            let v: Value = serde_json::from_slice(&bytes)
                .map_err(|_| failed(format!("{} is not an OCI image layout file", layout.display())))?;
            if v.get("imageLayoutVersion").and_then(Value::as_str) != Some("1.0.0") {
                return Err(failed(format!("{} has an unsupported imageLayoutVersion", layout.display())));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::schema::write_atomic(&layout, b"{\"imageLayoutVersion\":\"1.0.0\"}\n")?
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", layout.display())),
    }
    Ok(())
}

fn read_index(dir: &Path) -> anyhow::Result<Value> {
    let path = dir.join(INDEX_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| format!("{} is not valid JSON", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(json!({ "schemaVersion": 2, "mediaType": super::manifest::IMAGE_INDEX_MEDIA_TYPE, "manifests": [] }))
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// An exclusive `flock` on the layout folder, released on drop.
fn lock(dir: &Path) -> anyhow::Result<File> {
    use std::os::fd::AsRawFd;
    let f = File::open(dir).with_context(|| format!("opening {}", dir.display()))?;
    // SAFETY: flock on a descriptor we own; it is released when `f` is closed.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("locking {}", dir.display()));
    }
    Ok(f)
}

fn blob_path(dir: &Path, blob: &Blob) -> anyhow::Result<PathBuf> {
    let hex = blob.hex();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(failed(format!("malformed digest {}", blob.digest)));
    }
    Ok(dir.join("blobs/sha256").join(hex))
}

/// Store a blob unless an intact copy is there; `true` when it was written.
fn put_blob(dir: &Path, blob: &Blob) -> anyhow::Result<bool> {
    let path = blob_path(dir, blob)?;
    if path.exists() {
        let (size, hex) = hash_reader(File::open(&path)?, None)?;
        if size == blob.size && hex == blob.hex() {
            return Ok(false);
        }
    }
    let mut tmp = tempfile::NamedTempFile::new_in(path.parent().expect("blob paths have a parent"))?;
    let (size, hex) = match &blob.source {
        BlobSource::Bytes(b) => hash_reader(&b[..], Some(tmp.as_file_mut()))?,
        BlobSource::File(src) => hash_reader(
            crate::untrusted::open_regular(src, u64::MAX).with_context(|| format!("opening {}", src.display()))?.0,
            Some(tmp.as_file_mut()),
        )?,
    };
    if size != blob.size || hex != blob.hex() {
        return Err(failed(format!(
            "blob {} changed while being written ({size} bytes, sha256:{hex}): refusing to store it",
            blob.digest
        )));
    }
    tmp.as_file().sync_all()?;
    tmp.persist(&path).map_err(|e| e.error).with_context(|| format!("storing {}", path.display()))?;
    Ok(true)
}

/// Hash everything from `r`, copying it to `out` when given.
fn hash_reader(mut r: impl Read, mut out: Option<&mut File>) -> anyhow::Result<(u64, String)> {
    let mut sha = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        if let Some(o) = out.as_deref_mut() {
            o.write_all(&buf[..n])?;
        }
        size += n as u64;
    }
    Ok((size, hex::encode(sha.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::manifest::{artifact, FileLayer, PACKAGE_ARTIFACT_TYPE};

    fn sample(dir: &Path, content: &[u8]) -> Artifact {
        let file = dir.join("exe");
        std::fs::write(&file, content).unwrap();
        let layer = FileLayer {
            path: "bin/exe".into(),
            abs: file,
            sha256: hex::encode(sha2::Sha256::digest(content)),
            size: content.len() as u64,
            media_type: "x/y".into(),
            executable: None,
        };
        artifact(PACKAGE_ARTIFACT_TYPE, &[layer], Default::default())
    }

    #[test]
    fn write_then_rewrite_is_a_no_op_and_retag_replaces() {
        let tmp = tempfile::tempdir().unwrap();
        let lay = tmp.path().join("lay");
        let a = sample(tmp.path(), b"one");
        let first = write(&lay, "t", &a).unwrap();
        assert!(!first.unchanged);
        assert_eq!(first.blobs_uploaded, 2);
        let again = write(&lay, "t", &a).unwrap();
        assert!(again.unchanged, "{again:?}");
        let b = sample(tmp.path(), b"two");
        let replaced = write(&lay, "t", &b).unwrap();
        assert_eq!(replaced.replaced.as_deref(), Some(a.digest.as_str()));
        let index = read_index(&lay).unwrap();
        assert_eq!(index["manifests"].as_array().unwrap().len(), 1);
        assert_eq!(tagged_digest(&index, "t").unwrap(), b.digest);
    }

    #[test]
    fn a_changed_source_file_is_refused_and_leaves_no_tag() {
        let tmp = tempfile::tempdir().unwrap();
        let a = sample(tmp.path(), b"one");
        std::fs::write(tmp.path().join("exe"), b"tampered").unwrap();
        let lay = tmp.path().join("lay");
        let err = write(&lay, "t", &a).unwrap_err();
        assert!(err.to_string().contains("changed while being written"), "{err}");
        assert_eq!(tagged_digest(&read_index(&lay).unwrap(), "t"), None);
    }
}
