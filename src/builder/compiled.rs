//! Which packages a build compiled into its executables: `cargo metadata`'s resolution (for the
//! target, `--filter-platform`, and the features of the attempt that built) walked from the crate
//! along normal dependencies only, so a package that only a build script or another platform uses
//! is not listed; proc macros and what they use are, as `cargo tree -e normal` lists them. The
//! metadata's resolution over-approximates cargo's feature resolver (a weak `dep?/std` feature
//! shows `dep` as a dependency: rustix -> errno for hexyl), so only the packages `cargo tree`
//! names for the same target and features are kept; the metadata gives their sources and licenses.
//!
//! Pure: the documents come in as bytes and lines (cargo wrote them after crate code ran, so they
//! are read with a cap and trusted for nothing but this list), packages come out.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::failed;
use crate::schema::result::PackageRole;

/// The largest metadata document read (a crate with 1,000 dependencies writes about 10 MiB).
pub const METADATA_CAP: usize = 64 << 20;

/// What cargo said about the build: `cargo metadata`'s document and `cargo tree`'s lines.
#[derive(Debug, Clone, Default)]
pub struct Described {
    pub metadata: Vec<u8>,
    pub tree: Vec<String>,
}

/// `NAME vVERSION` of each `cargo tree --prefix none --format {p}` line. Pure.
pub fn tree_packages(lines: &[String]) -> BTreeSet<(String, String)> {
    lines
        .iter()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let name = words.next()?;
            let version = words.next()?.strip_prefix('v')?;
            Some((name.to_string(), version.to_string()))
        })
        .collect()
}

/// One compiled package, as the metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    pub name: String,
    pub version: String,
    pub role: PackageRole,
    /// `crates.io`, another registry's index URL, `git+URL`, or `path`.
    pub source: String,
    pub license: Option<String>,
    pub license_file: Option<String>,
    /// The folder its manifest is in (its unpacked source).
    pub root: PathBuf,
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    resolve: Option<Resolve>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    version: String,
    id: String,
    source: Option<String>,
    license: Option<String>,
    license_file: Option<String>,
    manifest_path: PathBuf,
    targets: Vec<Target>,
}

#[derive(Deserialize)]
struct Target {
    kind: Vec<String>,
}

#[derive(Deserialize)]
struct Resolve {
    nodes: Vec<Node>,
    root: Option<String>,
}

#[derive(Deserialize)]
struct Node {
    id: String,
    deps: Vec<NodeDep>,
}

#[derive(Deserialize)]
struct NodeDep {
    pkg: String,
    dep_kinds: Vec<DepKind>,
}

#[derive(Deserialize)]
struct DepKind {
    kind: Option<String>,
}

/// The packages compiled for the crate whose manifest is `root_manifest`: the crate first, then
/// by name and version. An error when the document is not cargo metadata or has no resolution.
pub fn compiled(described: &Described, root_manifest: &Path) -> anyhow::Result<Vec<Compiled>> {
    let in_tree = tree_packages(&described.tree);
    let mut all = walk(&described.metadata, root_manifest)?;
    all.retain(|c| c.role == PackageRole::Root || in_tree.contains(&(c.name.clone(), c.version.clone())));
    Ok(all)
}

/// The metadata's resolution walked along normal edges from the root. Pure.
fn walk(metadata: &[u8], root_manifest: &Path) -> anyhow::Result<Vec<Compiled>> {
    let m: Metadata = serde_json::from_slice(metadata)
        .map_err(|e| failed(format!("`cargo metadata` wrote no metadata document: {e}")))?;
    let resolve = m.resolve.ok_or_else(|| failed("`cargo metadata` wrote no resolution (`resolve` is null)"))?;
    let by_id: BTreeMap<&str, &Package> = m.packages.iter().map(|p| (p.id.as_str(), p)).collect();
    let root = match &resolve.root {
        Some(id) => id.clone(),
        None => m
            .packages
            .iter()
            .find(|p| p.manifest_path == root_manifest)
            .map(|p| p.id.clone())
            .ok_or_else(|| failed(format!("`cargo metadata` does not list {}", root_manifest.display())))?,
    };
    let nodes: BTreeMap<&str, &Node> = resolve.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let mut seen: BTreeSet<&str> = BTreeSet::from([root.as_str()]);
    let mut queue = VecDeque::from([root.as_str()]);
    while let Some(id) = queue.pop_front() {
        let Some(node) = nodes.get(id) else { continue };
        for dep in &node.deps {
            let normal = dep.dep_kinds.iter().any(|k| k.kind.is_none());
            if normal && seen.insert(dep.pkg.as_str()) {
                queue.push_back(dep.pkg.as_str());
            }
        }
    }
    let mut out = Vec::new();
    for id in seen {
        let p = by_id.get(id).ok_or_else(|| failed(format!("`cargo metadata` resolves {id} but does not list it")))?;
        out.push(describe(p, id == root));
    }
    out.sort_by(|a, b| {
        (a.role != PackageRole::Root, &a.name, &a.version).cmp(&(b.role != PackageRole::Root, &b.name, &b.version))
    });
    Ok(out)
}

fn describe(p: &Package, is_root: bool) -> Compiled {
    let role = if is_root {
        PackageRole::Root
    } else if p.targets.iter().any(|t| t.kind.iter().any(|k| k == "proc-macro")) {
        PackageRole::ProcMacro
    } else {
        PackageRole::Library
    };
    Compiled {
        name: p.name.clone(),
        version: p.version.clone(),
        role,
        source: source_label(p.source.as_deref()),
        license: p.license.clone(),
        license_file: p.license_file.clone(),
        root: p.manifest_path.parent().map(Path::to_path_buf).unwrap_or_default(),
    }
}

/// crates.io's index, in either protocol.
const CRATES_IO: [&str; 2] =
    ["registry+https://github.com/rust-lang/crates.io-index", "sparse+https://index.crates.io/"];

/// A metadata `source` as the list says it. Pure.
pub fn source_label(source: Option<&str>) -> String {
    match source {
        None => "path".to_string(),
        Some(s) if CRATES_IO.contains(&s) => "crates.io".to_string(),
        Some(s) => s.strip_prefix("registry+").or_else(|| s.strip_prefix("sparse+")).unwrap_or(s).to_string(),
    }
}

/// Where cargo keeps the downloaded `.crate` of a registry package unpacked at `root`
/// (`<CARGO_HOME>/registry/src/<index>/<name>-<version>` -> `registry/cache/<index>/<name>-<version>.crate`);
/// `None` for a package that is not in a registry's source folder. Pure.
pub fn cached_crate(root: &Path) -> Option<PathBuf> {
    let dir = root.file_name()?.to_str()?;
    let index = root.parent()?;
    let src = index.parent()?;
    if src.file_name()? != "src" || src.parent()?.file_name()? != "registry" {
        return None;
    }
    Some(src.parent()?.join("cache").join(index.file_name()?).join(format!("{dir}.crate")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn package(name: &str, kind: &str, source: Option<&str>) -> serde_json::Value {
        json!({
            "name": name, "version": "1.0.0", "id": format!("{name} 1.0.0"), "source": source,
            "license": "MIT", "license_file": null,
            "manifest_path": format!("/h/registry/src/index.crates.io-1949cf8c6b5b557f/{name}-1.0.0/Cargo.toml"),
            "targets": [{ "kind": [kind] }],
        })
    }

    fn dep(name: &str, kinds: &[Option<&str>]) -> serde_json::Value {
        let kinds: Vec<_> = kinds.iter().map(|k| json!({ "kind": k, "target": null })).collect();
        json!({ "name": name, "pkg": format!("{name} 1.0.0"), "dep_kinds": kinds })
    }

    #[test]
    fn only_normal_edges_from_the_root_are_followed() {
        let io = Some("registry+https://github.com/rust-lang/crates.io-index");
        let doc = json!({
            "packages": [
                package("app", "bin", None), package("lib", "lib", io), package("derive", "proc-macro", io),
                package("syn", "lib", io), package("cc", "lib", io), package("tester", "lib", io),
                package("both", "lib", io), package("unreached", "lib", io),
            ],
            "resolve": { "root": "app 1.0.0", "nodes": [
                { "id": "app 1.0.0", "deps": [dep("lib", &[None]), dep("derive", &[None]), dep("cc", &[Some("build")]),
                  dep("tester", &[Some("dev")]), dep("both", &[Some("build"), None])] },
                { "id": "derive 1.0.0", "deps": [dep("syn", &[None])] },
                { "id": "cc 1.0.0", "deps": [dep("unreached", &[None])] },
                { "id": "lib 1.0.0", "deps": [] }, { "id": "syn 1.0.0", "deps": [] },
                { "id": "both 1.0.0", "deps": [] }, { "id": "tester 1.0.0", "deps": [] },
                { "id": "unreached 1.0.0", "deps": [] },
            ]},
        });
        let everything: Vec<String> = [
            "app v1.0.0 (/x)",
            "both v1.0.0",
            "derive v1.0.0 (proc-macro)",
            "lib v1.0.0",
            "syn v1.0.0",
            "tester v1.0.0",
        ]
        .map(String::from)
        .to_vec();
        let described = Described { metadata: doc.to_string().into_bytes(), tree: everything };
        let got = compiled(&described, Path::new("/x/Cargo.toml")).unwrap();
        let names: Vec<(&str, PackageRole)> = got.iter().map(|c| (c.name.as_str(), c.role)).collect();
        assert_eq!(
            names,
            [
                ("app", PackageRole::Root),
                ("both", PackageRole::Library),
                ("derive", PackageRole::ProcMacro),
                ("lib", PackageRole::Library),
                ("syn", PackageRole::Library),
            ]
        );
        assert_eq!(got[0].source, "path");
        assert_eq!(got[1].source, "crates.io");
        // cargo tree leaves `lib` out (a weak feature the metadata took for an edge): so does the list.
        let narrower = Described {
            tree: described.tree.iter().filter(|l| !l.starts_with("lib ")).cloned().collect(),
            ..described
        };
        let names: Vec<String> = compiled(&narrower, Path::new("/x")).unwrap().into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["app", "both", "derive", "syn"]);
        assert!(walk(b"{}", Path::new("/x")).unwrap_err().to_string().contains("no metadata document"));
        let no_resolve = json!({ "packages": [], "resolve": null }).to_string();
        assert!(walk(no_resolve.as_bytes(), Path::new("/x")).unwrap_err().to_string().contains("no resolution"));
    }

    #[test]
    fn sources_and_cached_crates() {
        assert_eq!(source_label(Some("sparse+https://index.crates.io/")), "crates.io");
        assert_eq!(source_label(Some("sparse+http://127.0.0.1:9/index/")), "http://127.0.0.1:9/index/");
        assert_eq!(source_label(Some("git+https://g/x?rev=1#abc")), "git+https://g/x?rev=1#abc");
        assert_eq!(
            cached_crate(Path::new("/h/registry/src/index.crates.io-1949cf8c6b5b557f/hexyl-0.16.0")),
            Some(PathBuf::from("/h/registry/cache/index.crates.io-1949cf8c6b5b557f/hexyl-0.16.0.crate"))
        );
        assert_eq!(cached_crate(Path::new("/w/src/hexyl-0.16.0")), None);
    }
}
