//! Generated crates with crates.io-like proportions and row sizes: ~12 versions per crate (1.8M
//! versions for 150,000 crates), ~8 dependencies per version, features JSON and descriptions of
//! realistic length, a few yanked and pre-release versions, binaries on ~15% of crates (recorded only
//! on versions after mid-2022, like the real `bin_names`), ~4% in `command-line-utilities`, and a
//! few `-sys` crates with `links`. Deterministic for a given seed.
//!
//! A [`Shape`] moves the proportions that drive `matrix`'s memory (more versions per crate, in
//! ascending order so each one is the candidate for a while; long dependency lists and large
//! features JSON on the newest version; a high share of crates with binaries; huge descriptions)
//! while keeping the dump near today's crates.io size. [`Shape::default`] is the dump above, row for
//! row.

use super::fixtures::{checksum, CLI_CATEGORY};
use super::tables::{Dependency, Tables, Version};
use crate::dump::encoding::{set, timestamp};

/// First crate id of generated crates (fixtures use small ids).
pub const FIRST_CRATE_ID: u32 = 1_000;
/// First version id of generated versions.
pub const FIRST_VERSION_ID: u32 = 100_000;

/// The proportions of a generated dump (see the module comment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// Versions per crate: 1 to this many.
    pub max_versions: u64,
    /// Versions in ascending order in the table (each one beats the candidate so far) instead of
    /// shuffled.
    pub ascending: bool,
    /// Dependency rows per version: 0 to this many minus one.
    pub max_deps: u64,
    /// Extra dependency rows on each crate's newest version (its candidate, mostly).
    pub newest_deps: u64,
    /// Extra features on each crate's newest version, all on by default, each turning on one of its
    /// optional dependencies (`"fN": ["dep:x", "x/std"]`).
    pub newest_features: usize,
    /// Percent of crates with binaries.
    pub bin_percent: u64,
    /// Every this many crates (0: none), a crate and its newest version get a 1 MiB description.
    pub huge_description_every: usize,
    /// Draw versions, dependencies and features jointly and write rows in publication order
    /// ([`super::correlated`]); of the fields above only `bin_percent` and
    /// `huge_description_every` then apply.
    pub correlated: bool,
}

impl Default for Shape {
    fn default() -> Shape {
        Shape {
            max_versions: 23,
            ascending: false,
            max_deps: 17,
            newest_deps: 0,
            newest_features: 0,
            bin_percent: 15,
            huge_description_every: 0,
            correlated: false,
        }
    }
}

impl Shape {
    /// The named shapes of `benches/matrix.sh`, each near today's crates.io size at 150,000 crates.
    pub const NAMES: &'static [&'static str] = &[
        "default",
        "many-versions",
        "long-deps",
        "big-features",
        "all-binaries",
        "huge-descriptions",
        "worst",
        "correlated",
    ];

    pub fn named(name: &str) -> Option<Shape> {
        let d = Shape::default();
        Some(match name {
            "default" => d,
            // ~12 versions a crate as before, but each one a new candidate as the table streams by.
            "many-versions" => Shape { ascending: true, ..d },
            // The same ~14 M dependency rows, most of them on candidates: 64 extra on the newest.
            "long-deps" => Shape { max_deps: 5, newest_deps: 64, ..d },
            // 48 default-on features, each with an optional dependency, on every candidate.
            "big-features" => Shape { newest_features: 48, ..d },
            // Every crate has binaries: the share of candidates that are selected is ~4x the default.
            "all-binaries" => Shape { bin_percent: 100, ..d },
            "huge-descriptions" => Shape { huge_description_every: 1_000, ..d },
            "worst" => Shape {
                ascending: true,
                max_deps: 5,
                newest_deps: 64,
                newest_features: 48,
                bin_percent: 100,
                huge_description_every: 1_000,
                ..d
            },
            // Sizes drawn jointly and heavy-tailed, rows in publication order: closest to the real dump.
            "correlated" => Shape { correlated: true, ..d },
            _ => return None,
        })
    }
}

/// splitmix64: small, fast, good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(1000) < percent * 10
    }
}

pub(super) const WORDS: &[&str] = &[
    "async", "tokio", "serde", "json", "cli", "fast", "tiny", "http", "rust", "parse", "term", "git", "file", "log",
    "time", "num", "hash", "web", "db", "sql", "net", "io", "fmt", "test", "macro", "derive", "core", "util", "image",
    "audio", "crypto", "zip", "tar", "grep", "find", "watch", "sync", "cache", "config", "env",
];

pub(super) const SYS_LINKS: &[&str] = &["openssl", "sqlite3", "z", "ring_core_0_17_8_", "git2", "pq", "zstd"];

/// The name of generated crate `i` (unique: the index is part of it).
pub fn name(i: usize) -> String {
    let a = WORDS[i % WORDS.len()];
    let b = WORDS[(i / WORDS.len()) % WORDS.len()];
    if is_sys(i) {
        format!("{a}{i}-sys")
    } else {
        format!("{a}-{b}{i}")
    }
}

/// Crates below this index are the "core" everyone depends on (serde, syn, ...): never native.
const CORE: usize = 2_000;

pub(super) fn is_sys(i: usize) -> bool {
    i >= CORE && i % 300 == 7
}

/// Whom generated crate `i` depends on: mostly core crates, sometimes any older crate, rarely a
/// `-sys` crate, like the real graph (so the risk hint flags a minority, not everything).
pub(super) fn dependency_index(rng: &mut Rng, i: usize) -> u64 {
    let i = i as u64;
    if i <= CORE as u64 || rng.chance(93) {
        rng.below(i.min(CORE as u64))
    } else if rng.chance(90) {
        rng.below(i)
    } else {
        // The generated `-sys` crates below i are FIRST_SYS, FIRST_SYS + 300, ...
        const FIRST_SYS: u64 = CORE as u64 + (307 - CORE as u64 % 300) % 300;
        match i.checked_sub(FIRST_SYS + 1) {
            Some(span) => FIRST_SYS + 300 * rng.below(span / 300 + 1),
            None => rng.below(i),
        }
    }
}

/// Write `count` generated crates of the given shape.
// One loop of seeded draws whose order fixes every generated dump; a split would scatter that order.
#[allow(clippy::too_many_lines)]
pub fn write(t: &mut Tables, count: usize, seed: u64, shape: &Shape) -> anyhow::Result<()> {
    let mut rng = Rng::new(seed);
    let start = timestamp::parse_date(b"2015-05-15").expect("valid date") * 86_400;
    let end = timestamp::parse_date(b"2026-05-31").expect("valid date") * 86_400;
    let bins_recorded = timestamp::parse_date(b"2022-06-01").expect("valid date") * 86_400;
    let mut version_id = FIRST_VERSION_ID;
    let mut dep_id = 1_000_000u64;
    let mut order: Vec<u32> = Vec::new();
    for i in 0..count {
        let crate_id = FIRST_CRATE_ID + i as u32;
        let name = name(i);
        let sys = is_sys(i);
        let links = if sys { SYS_LINKS[(i / 300) % SYS_LINKS.len()] } else { "" };
        let has_bins = !sys && rng.chance(shape.bin_percent);
        let has_lib = !has_bins || rng.chance(60);
        let created = start + rng.below((end - start) as u64) as i64;
        let description = format!(
            "{} {} library for {} and {}: {}",
            WORDS[rng.below(40) as usize],
            WORDS[rng.below(40) as usize],
            WORDS[rng.below(40) as usize],
            WORDS[rng.below(40) as usize],
            "a longer sentence describing what the crate does, as most crates do."
        );
        let huge = shape.huge_description_every > 0 && i % shape.huge_description_every == 0;
        let long = if huge {
            description.clone() + &"a very long description, ".repeat((1 << 20) / 25)
        } else {
            String::new()
        };
        t.krate(crate_id, &name, created, if huge { &long } else { &description })?;
        if !sys && rng.chance(4) {
            t.crate_category(crate_id, CLI_CATEGORY)?;
        }
        if rng.chance(30) {
            t.crate_category(crate_id, 1)?;
        }
        let n_versions = 1 + rng.below(shape.max_versions) as u32;
        let first_id = version_id;
        version_id += n_versions;
        // Versions in a shuffled order, like the dump's (rows are not sorted by version).
        order.clear();
        order.extend(0..n_versions);
        for k in (1..order.len()).rev().filter(|_| !shape.ascending) {
            order.swap(k, rng.below(k as u64 + 1) as usize);
        }
        // Many crates stop being updated: the last release falls anywhere between creation and now.
        let last = created + rng.below((end - created) as u64 + 1) as i64;
        let last = if rng.chance(50) { end - rng.below(((end - created) / 4) as u64 + 1) as i64 } else { last };
        let step = ((last - created) / n_versions as i64).max(1);
        for &k in &order {
            let id = first_id + k;
            let at = created + k as i64 * step + rng.below(step as u64) as i64;
            let (major, minor, patch) = (k / 10, k % 10, rng.below(4));
            let num = if rng.chance(8) {
                format!("{major}.{minor}.{patch}-alpha.{k}")
            } else {
                format!("{major}.{minor}.{patch}")
            };
            let bins = if has_bins && at >= bins_recorded {
                if rng.chance(10) {
                    set::format(&[&name, &format!("{name}-helper")])
                } else {
                    set::format(&[&name])
                }
            } else {
                String::new()
            };
            let newest = k == n_versions - 1;
            let extra: Vec<u32> = if newest && i > 0 {
                let n = shape.newest_deps.max(shape.newest_features as u64);
                (0..n).map(|_| FIRST_CRATE_ID + dependency_index(&mut rng, i) as u32).collect()
            } else {
                Vec::new()
            };
            let features = if sys {
                r#"{"default":[],"vendored":["dep:openssl-src"],"bundled":[],"static":[]}"#.to_string()
            } else if !extra.is_empty() && shape.newest_features > 0 {
                big_features(&extra[..shape.newest_features.min(extra.len())])
            } else {
                format!(
                    r#"{{"default":["std"],"std":[],"serde":["dep:serde","{}/serde"],"full":["std","serde","async"],"async":["dep:tokio"]}}"#,
                    WORDS[k as usize % 40]
                )
            };
            let sum = checksum(id);
            let created_at =
                format!("{}.{:06}+00", timestamp::format(at).trim_end_matches("+00"), rng.below(1_000_000));
            t.version(&Version {
                id,
                crate_id,
                num: &num,
                created_at: &created_at,
                yanked: if rng.chance(3) { "t" } else { "f" },
                checksum: &sum,
                links,
                has_lib,
                bin_names: &bins,
                features: &features,
                description: if newest && huge { &long } else { &description },
            })?;
            let n_deps = if i == 0 { 0 } else { rng.below(shape.max_deps) };
            let random = (0..n_deps).map(|_| None);
            let named = extra.iter().enumerate().map(|(n, &to)| Some((to, n < shape.newest_features)));
            for fixed in random.chain(named) {
                let to = match fixed {
                    Some((to, _)) => to,
                    None => FIRST_CRATE_ID + dependency_index(&mut rng, i) as u32,
                };
                let kind = match rng.below(10) {
                    0..=6 => 0,
                    7 => 1,
                    _ => 2,
                };
                let features = if rng.chance(20) {
                    if rng.chance(30) {
                        "{vendored}"
                    } else {
                        "{std,derive}"
                    }
                } else {
                    "{}"
                };
                let target = if rng.chance(5) { "cfg(windows)" } else { "" };
                let req = format!("^{}.{}", rng.below(3), rng.below(20));
                t.dependency(&Dependency {
                    id: dep_id,
                    version_id: id,
                    crate_id: to,
                    req: &req,
                    optional: rng.chance(10) || fixed.is_some_and(|(_, feature)| feature),
                    features,
                    target,
                    kind: kind as u8,
                })?;
                dep_id += 1;
            }
        }
        t.default_version(crate_id, first_id + n_versions - 1, n_versions)?;
    }
    Ok(())
}

/// Features JSON with `std` plus one default-on feature per optional dependency in `deps`.
fn big_features(deps: &[u32]) -> String {
    let names: Vec<String> = deps.iter().map(|&id| name((id - FIRST_CRATE_ID) as usize)).collect();
    let mut json = String::from(r#"{"std":[],"default":["std""#);
    for n in 0..names.len() {
        json.push_str(&format!(r#","f{n}""#));
    }
    json.push(']');
    for (n, dep) in names.iter().enumerate() {
        json.push_str(&format!(r#","f{n}":["dep:{dep}","{dep}/std"]"#));
    }
    json.push('}');
    json
}
