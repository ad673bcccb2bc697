//! Write a db-dump-format `.tar.gz` holding real crates.io data for a few crates and their
//! dependency closure, read from the sparse index (for measuring `cratemill matrix` risk hints
//! against real builds, docs/benchmarks.md, Risk hints):
//!
//! `risk_dump_from_index <OUT.tar.gz> <CACHE_DIR> <CRATE>...`
//!
//! Each root crate's candidate is its highest non-yanked stable version (what `matrix` picks). Each
//! dependency requirement is resolved to the highest non-yanked version matching it, and the walk
//! follows normal dependencies that apply to Linux: non-optional ones, plus optional ones the
//! dependent's `default` feature turns on (so a risk rule may look at them). At most [`MAX_DEPTH`]
//! deep and [`MAX_CRATES`] crates. Index answers are fetched one at a time and cached in CACHE_DIR.
//!
//! Rows written: crates, versions (features JSON, links, checksum; `bin_names` = the crate name for
//! roots only), categories + crates_categories (roots in `command-line-utilities`), default_versions,
//! and every dependency row of each written version whose crate is in the dump (all kinds).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use cratemill::crates_io::{Index, IndexDep, IndexVersion};
use cratemill::dump::synth::{Tables, Version};

const MAX_DEPTH: usize = 16;
const MAX_CRATES: usize = 1500;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out, cache, roots @ ..] = args.as_slice() else {
        anyhow::bail!("usage: risk_dump_from_index <OUT.tar.gz> <CACHE_DIR> <CRATE>...");
    };
    anyhow::ensure!(!roots.is_empty(), "usage: risk_dump_from_index <OUT.tar.gz> <CACHE_DIR> <CRATE>...");
    std::fs::create_dir_all(cache).with_context(|| format!("creating {cache}"))?;
    let index = Index::open("sparse+https://index.crates.io/").await?;
    let mut fetcher = Fetcher { index, cache: PathBuf::from(cache), memo: HashMap::new(), fetched: 0 };

    // (crate name, version) -> depth; BFS so the depth bound is the shortest path.
    let mut chosen: BTreeMap<String, Vec<IndexVersion>> = BTreeMap::new();
    let mut queue: VecDeque<(String, Option<String>, usize)> = roots.iter().map(|r| (r.clone(), None, 0)).collect();
    while let Some((name, req, depth)) = queue.pop_front() {
        if chosen.len() >= MAX_CRATES {
            eprintln!("stopping at {MAX_CRATES} crates");
            break;
        }
        let versions = fetcher.versions(&name).await?;
        let Some(v) = resolve(&versions, req.as_deref()) else {
            eprintln!("warning: no version of {name} matches {}", req.as_deref().unwrap_or("*"));
            continue;
        };
        let entry = chosen.entry(name.clone()).or_default();
        if entry.iter().any(|e| e.vers == v.vers) {
            continue;
        }
        entry.push(v.clone());
        if depth >= MAX_DEPTH {
            continue;
        }
        let on_by_default = default_enabled(&v);
        for d in &v.deps {
            let normal = d.kind.as_deref().is_none_or(|k| k == "normal");
            let linux = cratemill::plan::graph::applies_to_linux(d.target.as_deref().unwrap_or("").as_bytes());
            if normal && linux && (!d.optional || on_by_default.contains(&d.name)) {
                queue.push_back((real_name(d).to_string(), Some(d.req.clone()), depth + 1));
            }
        }
    }
    eprintln!("{} crates, {} index files fetched (rest from cache)", chosen.len(), fetcher.fetched);
    write_dump(Path::new(out), roots, &chosen)
}

/// The crate a dependency row points at (the real name when renamed).
fn real_name(d: &IndexDep) -> &str {
    d.package.as_deref().unwrap_or(&d.name)
}

/// The highest non-yanked version matching `req` (stable preferred); with no `req`, the candidate.
fn resolve(versions: &[IndexVersion], req: Option<&str>) -> Option<IndexVersion> {
    let req = match req {
        Some(r) => Some(semver::VersionReq::parse(r).ok()?),
        None => None,
    };
    versions
        .iter()
        .filter(|v| !v.yanked)
        .filter_map(|v| semver::Version::parse(&v.vers).ok().map(|p| (p, v)))
        .filter(|(p, _)| req.as_ref().is_none_or(|r| r.matches(p)))
        .max_by(|(a, _), (b, _)| (a.pre.is_empty(), a).cmp(&(b.pre.is_empty(), b)))
        .map(|(_, v)| v.clone())
}

/// Names of optional dependencies the `default` feature turns on, transitively through features.
fn default_enabled(v: &IndexVersion) -> Vec<String> {
    let mut on = Vec::new();
    let mut seen = Vec::new();
    let mut todo = vec!["default".to_string()];
    while let Some(f) = todo.pop() {
        if seen.contains(&f) {
            continue;
        }
        seen.push(f.clone());
        if let Some(dep) = f.strip_prefix("dep:") {
            on.push(dep.to_string());
            continue;
        }
        if let Some((dep, _)) = f.split_once('/') {
            if !dep.ends_with('?') {
                on.push(dep.to_string());
            }
            continue;
        }
        match v.features.get(&f) {
            Some(list) => todo.extend(list.iter().cloned()),
            // A bare name that is not a feature is an optional dependency's implicit feature.
            None => on.push(f),
        }
    }
    on
}

struct Fetcher {
    index: Index,
    cache: PathBuf,
    memo: HashMap<String, Vec<IndexVersion>>,
    fetched: usize,
}

impl Fetcher {
    async fn versions(&mut self, name: &str) -> anyhow::Result<Vec<IndexVersion>> {
        if let Some(v) = self.memo.get(name) {
            return Ok(v.clone());
        }
        let file = self.cache.join(format!("{name}.json"));
        let versions = match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes).context("reading a cached index file")?,
            Err(_) => {
                let v = self.index.versions(name).await?;
                self.fetched += 1;
                std::fs::write(&file, serde_json::to_vec(&v)?)?;
                v
            }
        };
        self.memo.insert(name.to_string(), versions.clone());
        Ok(versions)
    }
}

/// A postgres array literal `{a,b}` (names here never need quoting).
fn pg_set<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| {
            let s = s.as_ref();
            if s.chars().all(|c| c.is_ascii_alphanumeric() || "_-:/".contains(c)) {
                s.to_string()
            } else {
                format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
            }
        })
        .collect();
    format!("{{{}}}", quoted.join(","))
}

fn write_dump(out: &Path, roots: &[String], chosen: &BTreeMap<String, Vec<IndexVersion>>) -> anyhow::Result<()> {
    const CLI: u32 = 1;
    const CREATED: i64 = 1_767_225_600; // 2026-01-01
    const AT: &str = "2026-01-01 00:00:00+00";
    let dir = tempfile::tempdir()?;
    let mut t = Tables::create(dir.path(), false)?;
    t.category(CLI, "Command line utilities", "command-line-utilities")?;
    let crate_ids: HashMap<&str, u32> = chosen.keys().enumerate().map(|(i, n)| (n.as_str(), i as u32 + 1)).collect();
    for (name, id) in chosen.keys().map(|n| (n, crate_ids[n.as_str()])) {
        t.krate(id, name, CREATED, "real data from the crates.io sparse index")?;
        if roots.contains(name) {
            t.crate_category(id, CLI)?;
        }
    }
    let (mut version_id, mut dep_id) = (0u32, 0u64);
    for (name, versions) in chosen {
        let crate_id = crate_ids[name.as_str()];
        for v in versions {
            version_id += 1;
            let bins = if roots.contains(name) { pg_set(&[name]) } else { String::new() };
            let features = serde_json::to_string(&v.features)?;
            let checksum = format!("\\x{}", v.cksum);
            t.version(&Version {
                id: version_id,
                crate_id,
                num: &v.vers,
                created_at: AT,
                yanked: "f",
                checksum: &checksum,
                links: v.links.as_deref().unwrap_or(""),
                has_lib: !roots.contains(name),
                bin_names: &bins,
                features: &features,
                description: "",
            })?;
            for d in &v.deps {
                let Some(&to) = crate_ids.get(real_name(d)) else { continue };
                dep_id += 1;
                let kind = match d.kind.as_deref() {
                    Some("build") => 1,
                    Some("dev") => 2,
                    _ => 0,
                };
                let renamed = if d.package.is_some() { d.name.as_str() } else { "" };
                let b = |on: bool| if on { "t" } else { "f" };
                // Written raw: the synthetic writer always says default_features and no rename.
                t.raw(
                    "dependencies.csv",
                    &[
                        &dep_id.to_string(),
                        &version_id.to_string(),
                        &to.to_string(),
                        &d.req,
                        b(d.optional),
                        b(d.default_features),
                        &pg_set(&d.features),
                        d.target.as_deref().unwrap_or(""),
                        &kind.to_string(),
                        renamed,
                    ],
                )?;
            }
        }
        t.default_version(crate_id, version_id, versions.len() as u32)?;
    }
    let files = t.finish()?;
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let gz = flate2::write::GzEncoder::new(std::io::BufWriter::new(file), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for name in cratemill::dump::synth::REAL_ORDER {
        let (_, path) = files.iter().find(|(n, _)| n == name).context("missing table")?;
        tar.append_path_with_name(path, format!("{}/data/{name}", cratemill::dump::synth::DUMP_FOLDER))?;
    }
    tar.into_inner()?.finish()?.flush()?;
    eprintln!("wrote {}: {} crates, {version_id} versions, {dep_id} dependency rows", out.display(), chosen.len());
    Ok(())
}
