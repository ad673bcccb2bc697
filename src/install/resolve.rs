//! Which image and which layers `cratemill install` fetches: the target, the tag (from the mirror's
//! built index, or the tag scheme of docs/publishing.md and the repository's tag list), the nearest
//! crate name when the mirror lacks one, the executable layers of a manifest, and its
//! third-party notice layer (`--licenses`). Pure logic.

use crate::crates_io::newer;
use crate::error::usage;
use crate::oci::annotations;
use crate::oci::reference::{self, Scheme};
use crate::schema::plan::BuiltIndex;
use crate::target::{Libc, Target, TARGETS};

/// `--target auto`: the musl target of this machine's architecture.
pub fn auto_target(arch: &str) -> anyhow::Result<&'static str> {
    let arch = match arch {
        "riscv64" | "riscv64gc" => "riscv64",
        a => a,
    };
    TARGETS
        .iter()
        .find(|t| t.libc == Libc::Musl && t.arch == arch)
        .map(|t| t.triple)
        .ok_or_else(|| usage(format!("no musl target for this machine's architecture `{arch}`: pass --target TRIPLE")))
}

pub fn target(value: &str) -> anyhow::Result<&'static str> {
    if value == "auto" {
        auto_target(std::env::consts::ARCH)
    } else {
        Ok(Target::parse(value)?.triple)
    }
}

/// The version a binary tag names for `target` (`1.2.3_build-x86_64-...` -> `1.2.3+build`), or
/// `None` for other targets and `-srcbuild-` tags.
pub fn version_of_tag(scheme: Scheme, crate_name: &str, tag: &str, target: &str) -> Option<String> {
    if tag.contains("-srcbuild-") {
        return None;
    }
    let rest = tag.strip_suffix(target)?.strip_suffix('-')?;
    let version = match scheme {
        Scheme::PerCrate => rest,
        Scheme::Single => rest.strip_prefix(&reference::crate_component(crate_name).ok()?)?.strip_prefix('-')?,
    };
    let version = version.replace('_', "+");
    semver::Version::parse(&version).ok().map(|_| version)
}

/// The newest version among `tags` for `target`.
pub fn newest_tagged(scheme: Scheme, crate_name: &str, tags: &[String], target: &str) -> Option<String> {
    tags.iter()
        .filter_map(|t| version_of_tag(scheme, crate_name, t, target))
        .reduce(|a, b| if newer(&b, &a) { b } else { a })
}

/// What the index says about one crate version for one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indexed {
    pub version: String,
    pub manifest_digest: String,
}

/// Why the index cannot name an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// The crate is not in the mirror; the nearest name it has, if any is close.
    NoCrate(Option<String>),
    /// The crate is there, but not this version / target; what it has instead.
    NotBuilt(Vec<String>),
}

/// Look `crate_name[@version]` for `target` up in the index's executables.
pub fn from_index(index: &BuiltIndex, crate_name: &str, version: Option<&str>, target: &str) -> Result<Indexed, Miss> {
    let same = |n: &str| n.replace('_', "-").eq_ignore_ascii_case(&crate_name.replace('_', "-"));
    let of_crate: Vec<_> = index.executables.iter().filter(|x| same(&x.crate_name)).collect();
    if of_crate.is_empty() {
        let names = index.executables.iter().map(|x| x.crate_name.as_str());
        return Err(Miss::NoCrate(nearest(crate_name, names).map(str::to_string)));
    }
    let best = of_crate
        .iter()
        .filter(|x| x.target == target && version.is_none_or(|v| x.version == v))
        .reduce(|a, b| if newer(&b.version, &a.version) { b } else { a });
    match best {
        Some(x) => Ok(Indexed { version: x.version.clone(), manifest_digest: x.manifest_digest.clone() }),
        None => {
            let mut have: Vec<String> =
                of_crate.iter().map(|x| format!("{}@{} ({})", x.crate_name, x.version, x.target)).collect();
            have.dedup();
            Err(Miss::NotBuilt(have))
        }
    }
}

/// The closest name by edit distance, when it is close enough to be a typo (at most 1/3 of the
/// name's length, and at most 3 edits).
pub fn nearest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.len() / 3).clamp(1, 3);
    candidates
        .filter(|c| !c.is_empty())
        .map(|c| (distance(&name.to_ascii_lowercase(), &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// Levenshtein distance over bytes (crate names are ASCII).
fn distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb { prev } else { 1 + prev.min(cur).min(row[j]) };
            prev = cur;
        }
    }
    row[b.len()]
}

/// One executable layer of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExeLayer {
    pub name: String,
    pub digest: String,
    pub size: u64,
}

/// The manifest must be the package of `crate_name` for `target`: its annotations say so.
pub fn check_package(
    manifest: &oci_client::manifest::OciImageManifest,
    crate_name: &str,
    target: &str,
) -> anyhow::Result<()> {
    let notes = manifest.annotations.clone().unwrap_or_default();
    let same = |a: &str, b: &str| a.replace('_', "-").eq_ignore_ascii_case(&b.replace('_', "-"));
    match (notes.get(annotations::CRATE), notes.get(annotations::TARGET)) {
        (Some(c), Some(t)) if same(c, crate_name) && t == target => Ok(()),
        (c, t) => Err(usage(format!(
            "the image is not a cratemill package of {crate_name} for {target} (its annotations say crate {:?}, target {:?}): check --from and --layout",
            c.map(String::as_str).unwrap_or("none"),
            t.map(String::as_str).unwrap_or("none")
        ))),
    }
}

/// The third-party notice's path in a package (docs/package-format.md), the title of its layer.
pub use crate::package::NOTICE_FILE;

/// The largest notice `--licenses` prints (a few hundred license texts are a few MiB).
pub const NOTICE_CAP: u64 = 64 * crate::untrusted::MIB;

/// A layer to fetch: its digest and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub digest: String,
    pub size: u64,
}

/// The layer titled [`NOTICE_FILE`], or `None` (a package published before notices). A notice
/// over [`NOTICE_CAP`] is refused before a byte is fetched.
pub fn notice(manifest: &oci_client::manifest::OciImageManifest) -> anyhow::Result<Option<Blob>> {
    let titled = |l: &&oci_client::manifest::OciDescriptor| {
        l.annotations.as_ref().and_then(|a| a.get(annotations::TITLE)).is_some_and(|t| t == NOTICE_FILE)
    };
    let Some(layer) = manifest.layers.iter().find(titled) else { return Ok(None) };
    let size = layer.size.max(0) as u64;
    if size > NOTICE_CAP {
        return Err(usage(format!(
            "the image's {NOTICE_FILE} is {size} bytes, over the {NOTICE_CAP}-byte limit of a notice: refused"
        )));
    }
    Ok(Some(Blob { digest: layer.digest.clone(), size }))
}

/// The executable layers to fetch: `exe` alone, or all of them. The manifest must be the package
/// of `crate_name` for `target` ([`check_package`]), and each executable's sha256 annotation must
/// be its layer digest.
pub fn executables(
    manifest: &oci_client::manifest::OciImageManifest,
    crate_name: &str,
    target: &str,
    exe: Option<&str>,
) -> anyhow::Result<Vec<ExeLayer>> {
    check_package(manifest, crate_name, target)?;
    let notes = manifest.annotations.clone().unwrap_or_default();
    let mut found = Vec::new();
    for layer in &manifest.layers {
        let Some(name) = layer.annotations.as_ref().and_then(|a| a.get(annotations::EXECUTABLE)) else { continue };
        if let Some(want) = notes.get(&annotations::executable_sha256_key(name)) {
            if layer.digest != format!("sha256:{want}") {
                return Err(usage(format!(
                    "the manifest's layer for `{name}` ({}) is not the executable its annotation names (sha256:{want}): the image is inconsistent; nothing written",
                    layer.digest
                )));
            }
        }
        found.push(ExeLayer { name: name.clone(), digest: layer.digest.clone(), size: layer.size.max(0) as u64 });
    }
    for x in &found {
        if !crate::package::valid_executable_name(&x.name) {
            return Err(usage(format!(
                "the image names an executable `{}` that is not a plain file name: refused",
                crate::untrusted::printable(&x.name)
            )));
        }
    }
    match exe {
        None if found.is_empty() => Err(usage(format!("the image of {crate_name} for {target} has no executables"))),
        None => Ok(found),
        Some(want) => {
            let names: Vec<&str> = found.iter().map(|x| x.name.as_str()).collect();
            match found.iter().find(|x| x.name == want) {
                Some(x) => Ok(vec![x.clone()]),
                None => Err(usage(format!("{crate_name} has no executable `{want}`; it has: {}", names.join(", ")))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_to_versions() {
        let t = "x86_64-unknown-linux-musl";
        let tags: Vec<String> = [
            "1.2.0-x86_64-unknown-linux-musl",
            "1.10.0-aarch64-unknown-linux-musl",
            "1.9.0_build.1-x86_64-unknown-linux-musl",
            "2.0.0-x86_64-unknown-linux-musl-srcbuild-1-1",
            "latest",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(newest_tagged(Scheme::PerCrate, "rg", &tags, t).as_deref(), Some("1.9.0+build.1"));
        assert_eq!(
            version_of_tag(Scheme::Single, "foo_bar", "foo-bar-0.1.0-x86_64-unknown-linux-musl", t).as_deref(),
            Some("0.1.0")
        );
        assert_eq!(auto_target("x86_64").unwrap(), "x86_64-unknown-linux-musl");
        assert_eq!(auto_target("riscv64").unwrap(), "riscv64gc-unknown-linux-musl");
    }

    #[test]
    fn the_notice_layer_is_found_by_title_and_capped() {
        let manifest = |size: u64, title: &str| -> oci_client::manifest::OciImageManifest {
            serde_json::from_value(serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:44", "size": 2},
                "layers": [
                    {"mediaType": "text/plain", "digest": "sha256:aa", "size": 9,
                     "annotations": {"org.opencontainers.image.title": "licenses/LICENSE-MIT"}},
                    {"mediaType": "text/plain", "digest": "sha256:bb", "size": size,
                     "annotations": {"org.opencontainers.image.title": title}}
                ]
            }))
            .unwrap()
        };
        assert_eq!(notice(&manifest(10, NOTICE_FILE)).unwrap(), Some(Blob { digest: "sha256:bb".into(), size: 10 }));
        assert_eq!(notice(&manifest(10, "licenses/OTHER")).unwrap(), None, "an older package has none");
        let err = notice(&manifest(NOTICE_CAP + 1, NOTICE_FILE)).unwrap_err();
        assert!(err.to_string().contains("over the"), "{err}");
    }

    #[test]
    fn nearest_names() {
        let names = ["ripgrep", "ripgrep-all", "hexyl", "bat"];
        assert_eq!(nearest("ripgerp", names.iter().copied()), Some("ripgrep"));
        assert_eq!(nearest("hexil", names.iter().copied()), Some("hexyl"));
        assert_eq!(nearest("zzzzzzz", names.iter().copied()), None);
    }
}
