//! The `correlated` shape: crates whose sizes are drawn *jointly*, as on crates.io, instead of
//! independently and uniformly as in [`super::random`]. Pure generation into [`Tables`]; the
//! caller owns the files.
//!
//! What is assumed, and why (the real dump cannot be downloaded here, so these are the facts we
//! have, not a fit):
//!
//! - **Size.** ~150,000 crates and ~1.83 million versions (an independent schema-exact dump of that
//!   size peaked at 156 MiB in issue #22): a mean of ~12 versions a crate.
//! - **Heavy tails.** Most crates have a handful of releases and some have hundreds ("many crates
//!   have less than 6 releases ... some have more than 100", Kato's *Visualizing crates.io*, from the
//!   index); a few auto-published families have thousands. Versions per crate are log-normal around
//!   one latent *activity* per crate: median 4, ~25% with one version, ~1.5% over 100, capped at
//!   5,000. Dependencies and features of a crate's newest version are log-normal too (capped at
//!   400 and 2,000: application crates with hundreds of dependencies, `web-sys`/`windows` with
//!   thousands of features), and zero for a good share of crates ("a lot of crates have literally
//!   zero dependencies", same source).
//! - **Correlation.** The same activity drives all three: a crate with many releases also has more
//!   dependencies and more features (Kato's releases-vs-dependencies heatmap; popular crates grow
//!   feature tables). Older crates are more active: the activity rises with the crate's age.
//! - **Growth.** crates.io grew roughly exponentially: crate `i` (ids follow creation) is created at
//!   the fraction `ln(1 + (e^g - 1) i/n) / g` of 2015-05 .. 2026-05, `g` = 1.5 (a third of the crates
//!   existed by the end of 2020).
//! - **Over a crate's life** its dependency list and feature table grow: version `k` of `n` has
//!   `0.3 + 0.7 (k+1)/n` of the newest version's dependencies and features.
//! - **Optional dependencies** are the ones features name (`"x": ["dep:x", "x/std"]`), up to half
//!   the feature count; `default` turns on every fourth feature (at most 64), so a popular crate's
//!   candidate has many default-on optional dependencies.
//! - **Row order.** Version ids follow publication time across all crates, and `versions.csv` and
//!   `dependencies.csv` are written in id order, as the real tables are: the versions of one crate
//!   are spread over the whole table, interleaved with everyone else's, and each newer version
//!   replaces the crate's candidate while the table streams by.
//!
//! Unchanged from [`super::random`]: names, whom a crate depends on (mostly the oldest 2,000 crates),
//! `-sys` crates, the share of crates with binaries ([`Shape::bin_percent`]), categories, yanked
//! and pre-release shares. Deterministic for a seed (on one platform: `exp` and `ln` are libm's).

use super::fixtures::{checksum, CLI_CATEGORY};
use super::random::{dependency_index, is_sys, name, Rng, Shape, FIRST_CRATE_ID, FIRST_VERSION_ID, SYS_LINKS, WORDS};
use super::tables::{Dependency, Tables, Version};
use crate::dump::encoding::{set, timestamp};

/// crates.io's growth rate over the dump's span (see the module comment).
const GROWTH: f64 = 1.5;
/// How much older crates are more active (activity = normal draw + this x (age - 1/2)).
const AGE_WEIGHT: f64 = 1.0;
/// Versions a crate: exp(MU + SIGMA x activity).
const VERSIONS_MU: f64 = 1.55;
const VERSIONS_SIGMA: f64 = 1.45;
const MAX_VERSIONS: f64 = 5_000.0;
/// Dependency rows of the newest version: exp(MU + A x activity + E x own noise) - 1.
const DEPS_MU: f64 = 1.55;
const DEPS_A: f64 = 0.55;
const DEPS_E: f64 = 0.7;
const MAX_DEPS: f64 = 400.0;
/// Features of the newest version, the same way.
const FEATURES_MU: f64 = 0.45;
const FEATURES_A: f64 = 1.0;
const FEATURES_E: f64 = 1.0;
const MAX_FEATURES: f64 = 2_000.0;
/// `default` turns on at most this many features.
const MAX_DEFAULT: usize = 64;

/// One crate's draws (pass one, in crate order).
#[derive(Debug, Clone)]
pub struct Profile {
    /// The latent activity (a standard normal plus the age term).
    pub activity: f64,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds: its newest version.
    pub last: i64,
    pub versions: u32,
    /// Dependency rows of its newest version.
    pub deps: u32,
    /// Features of its newest version.
    pub features: u32,
    pub has_bins: bool,
    pub has_lib: bool,
    /// Seeds the per-version draws.
    seed: u64,
}

fn unit(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A standard normal draw (Irwin-Hall: twelve uniforms, no libm, tails cut at 6 sigma).
fn normal(rng: &mut Rng) -> f64 {
    (0..12).map(|_| unit(rng)).sum::<f64>() - 6.0
}

fn span() -> (i64, i64) {
    let day = |d: &[u8]| timestamp::parse_date(d).expect("valid date") * 86_400;
    (day(b"2015-05-15"), day(b"2026-05-31"))
}

/// `exp(x) - 1` rounded down, within 0..=max.
fn count(x: f64, max: f64) -> u32 {
    (x.exp() - 1.0).clamp(0.0, max) as u32
}

/// Every crate's draws, in crate order.
pub fn profiles(count_of: usize, seed: u64, bin_percent: u64) -> Vec<Profile> {
    let mut rng = Rng::new(seed ^ 0xC0AA_E1A7_ED00_0001);
    let (start, end) = span();
    (0..count_of)
        .map(|i| {
            let share = (i as f64 + unit(&mut rng)) / count_of.max(1) as f64;
            let t = (1.0 + (GROWTH.exp() - 1.0) * share).ln() / GROWTH;
            let created = start + ((end - start) as f64 * t) as i64;
            let activity = normal(&mut rng) + AGE_WEIGHT * (0.5 - t);
            let versions = (VERSIONS_MU + VERSIONS_SIGMA * activity).exp().round().clamp(1.0, MAX_VERSIONS) as u32;
            let deps = count(DEPS_MU + DEPS_A * activity + DEPS_E * normal(&mut rng), MAX_DEPS);
            let features = count(FEATURES_MU + FEATURES_A * activity + FEATURES_E * normal(&mut rng), MAX_FEATURES);
            // Active crates are still maintained: their last release is recent.
            let maintained = unit(&mut rng) < 1.0 / (1.0 + (0.3 - 1.2 * activity).exp());
            let u = unit(&mut rng);
            let last = match (versions, maintained) {
                (1, _) => created,
                (_, true) => end - ((end - created) as f64 * u / 8.0) as i64,
                (_, false) => created + ((end - created) as f64 * u) as i64,
            };
            let has_bins = !is_sys(i) && rng.chance(bin_percent);
            let has_lib = !has_bins || rng.chance(60);
            Profile { activity, created, last, versions, deps, features, has_bins, has_lib, seed: rng.next_u64() }
        })
        .collect()
}

impl Profile {
    /// The draws of version `k` (the first one is its publication time's jitter).
    fn rng(&self, k: u32) -> Rng {
        Rng::new(self.seed ^ u64::from(k).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// When version `k` was published: the `k`-th of `versions` slots between created and last.
    fn published(&self, k: u32, rng: &mut Rng) -> i64 {
        let slot = (self.last - self.created) as f64 / f64::from(self.versions);
        self.created + (slot * (f64::from(k) + unit(rng))) as i64
    }

    /// Share of the newest version's dependencies and features that version `k` has.
    fn grown(&self, k: u32, of: u32) -> usize {
        let progress = f64::from(k + 1) / f64::from(self.versions);
        (f64::from(of) * (0.3 + 0.7 * progress)).round() as usize
    }
}

/// Write `count` crates of the correlated model (see the module comment).
pub fn write(t: &mut Tables, count: usize, seed: u64, shape: &Shape) -> anyhow::Result<()> {
    let profiles = profiles(count, seed, shape.bin_percent);
    let mut rng = Rng::new(seed);
    for (i, p) in profiles.iter().enumerate() {
        let crate_id = FIRST_CRATE_ID + i as u32;
        t.krate(crate_id, &name(i), p.created, &description(&mut rng, i, shape))?;
        if !is_sys(i) && rng.chance(4) {
            t.crate_category(crate_id, CLI_CATEGORY)?;
        }
        if rng.chance(30) {
            t.crate_category(crate_id, 1)?;
        }
    }
    // Every version, in publication order: that order gives the ids.
    let mut order: Vec<(i64, u32, u32)> = Vec::new();
    for (i, p) in profiles.iter().enumerate() {
        order.extend((0..p.versions).map(|k| (p.published(k, &mut p.rng(k)), i as u32, k)));
    }
    order.sort_unstable();
    let mut newest = vec![0u32; count];
    let mut dep_id = 1_000_000u64;
    for (n, &(at, i, k)) in order.iter().enumerate() {
        let id = FIRST_VERSION_ID + n as u32;
        let p = &profiles[i as usize];
        if k + 1 == p.versions {
            newest[i as usize] = id;
        }
        write_version(t, VersionAt { id, at, crate_index: i as usize, k }, p, shape, &mut dep_id)?;
    }
    for (i, p) in profiles.iter().enumerate() {
        t.default_version(FIRST_CRATE_ID + i as u32, newest[i], p.versions)?;
    }
    Ok(())
}

fn description(rng: &mut Rng, i: usize, shape: &Shape) -> String {
    let mut text = format!(
        "{} {} library for {} and {}: a longer sentence describing what the crate does, as most crates do.",
        WORDS[rng.below(40) as usize],
        WORDS[rng.below(40) as usize],
        WORDS[rng.below(40) as usize],
        WORDS[rng.below(40) as usize],
    );
    if shape.huge_description_every > 0 && i % shape.huge_description_every == 0 {
        text += &"a very long description, ".repeat((1 << 20) / 25);
    }
    text
}

/// Which version a row is.
struct VersionAt {
    id: u32,
    at: i64,
    crate_index: usize,
    k: u32,
}

/// One version row and its dependency rows.
fn write_version(t: &mut Tables, v: VersionAt, p: &Profile, shape: &Shape, dep_id: &mut u64) -> anyhow::Result<()> {
    let VersionAt { id, at, crate_index: i, k } = v;
    let mut rng = p.rng(k);
    p.published(k, &mut rng); // the draw that placed it
    let crate_name = name(i);
    let sys = is_sys(i);
    let deps = dependencies(&mut rng, i, p.grown(k, p.deps));
    let features = p.grown(k, p.features);
    let optional = (features / 2).min(deps.len());
    let features_json = if sys {
        r#"{"default":[],"vendored":["dep:openssl-src"],"bundled":[],"static":[]}"#.to_string()
    } else {
        features_json(features, &deps[..optional], &mut rng)
    };
    let num = {
        let (major, minor, patch) = (k / 10, k % 10, rng.below(4));
        if rng.chance(8) {
            format!("{major}.{minor}.{patch}-alpha.{k}")
        } else {
            format!("{major}.{minor}.{patch}")
        }
    };
    let bins_recorded = timestamp::parse_date(b"2022-06-01").expect("valid date") * 86_400;
    let bins = match (p.has_bins && at >= bins_recorded, rng.chance(10)) {
        (false, _) => String::new(),
        (true, true) => set::format(&[&crate_name, &format!("{crate_name}-helper")]),
        (true, false) => set::format(&[&crate_name]),
    };
    let created_at = format!("{}.{:06}+00", timestamp::format(at).trim_end_matches("+00"), rng.below(1_000_000));
    let description = if k + 1 == p.versions { description(&mut rng, i, shape) } else { String::new() };
    t.version(&Version {
        id,
        crate_id: FIRST_CRATE_ID + i as u32,
        num: &num,
        created_at: &created_at,
        yanked: if rng.chance(3) { "t" } else { "f" },
        checksum: &checksum(id),
        links: if sys { SYS_LINKS[(i / 300) % SYS_LINKS.len()] } else { "" },
        has_lib: p.has_lib,
        bin_names: &bins,
        features: &features_json,
        description: &description,
    })?;
    for (d, &to) in deps.iter().enumerate() {
        let optional = d < optional;
        let kind = match (optional, rng.below(100)) {
            (true, _) | (false, 0..=71) => 0,
            (false, 72..=93) => 2,
            _ => 1,
        };
        let features = match rng.below(100) {
            0..=2 => "{vendored}",
            3..=22 => "{std,derive}",
            _ => "{}",
        };
        let target = match rng.below(100) {
            0..=4 => "cfg(windows)",
            5..=6 => "cfg(unix)",
            _ => "",
        };
        let req = format!("^{}.{}", rng.below(3), rng.below(20));
        let row = Dependency {
            id: *dep_id,
            version_id: id,
            crate_id: FIRST_CRATE_ID + to,
            req: &req,
            optional,
            features,
            target,
            kind,
        };
        t.dependency(&row)?;
        *dep_id += 1;
    }
    Ok(())
}

/// `count` draws of whom crate `i` depends on, each crate once (a manifest names a crate once), in
/// a shuffled order.
fn dependencies(rng: &mut Rng, i: usize, count: usize) -> Vec<u32> {
    if i == 0 {
        return Vec::new();
    }
    let mut deps: Vec<u32> = (0..count).map(|_| dependency_index(rng, i) as u32).collect();
    deps.sort_unstable();
    deps.dedup();
    for k in (1..deps.len()).rev() {
        deps.swap(k, rng.below(k as u64 + 1) as usize);
    }
    deps
}

/// A features table of `count` features: the first `optional.len()` each turn on one optional
/// dependency (`"x": ["dep:x", "x/std"]`), the others name up to two earlier features; `default`
/// turns on every fourth (at most [`MAX_DEFAULT`]).
fn features_json(count: usize, optional: &[u32], rng: &mut Rng) -> String {
    if count == 0 {
        return "{}".to_string();
    }
    let feature = |j: usize| -> String {
        match optional.get(j) {
            Some(&to) => name(to as usize),
            None => format!("{}-{j}", WORDS[j % WORDS.len()]),
        }
    };
    let default: Vec<String> = (0..count).step_by(4).take(MAX_DEFAULT).map(|j| format!("\"{}\"", feature(j))).collect();
    let mut json = format!("{{\"default\":[{}]", default.join(","));
    for j in 0..count {
        let name = feature(j);
        let entries = match optional.get(j) {
            Some(_) => format!("\"dep:{name}\",\"{name}/std\""),
            None if j == 0 => String::new(),
            None => (0..rng.below(3))
                .map(|_| format!("\"{}\"", feature(rng.below(j as u64) as usize)))
                .collect::<Vec<_>>()
                .join(","),
        };
        json.push_str(&format!(",\"{name}\":[{entries}]"));
    }
    json.push('}');
    json
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::synth::{self, Spec};
    use crate::dump::tables::{categories, crates, crates_categories, dependencies, versions};

    fn spec(crates: usize, seed: u64) -> Spec {
        let shape = Shape::named("correlated").expect("a named shape");
        Spec { crates, seed, fixtures: false, extra_column: false, shape, ..Default::default() }
    }

    /// Every file of a dump, by path (the tar headers carry the temporary files' times).
    fn tables(path: &std::path::Path) -> Vec<(String, Vec<u8>)> {
        let gz = flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap());
        let mut tar = tar::Archive::new(gz);
        let entries = tar.entries().unwrap().map(|e| {
            let mut e = e.unwrap();
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut bytes).unwrap();
            (e.path().unwrap().display().to_string(), bytes)
        });
        entries.collect()
    }

    #[test]
    fn deterministic_for_a_seed() {
        let dir = tempfile::tempdir().unwrap();
        let write = |seed, file: &str| {
            let path = dir.path().join(file);
            synth::write(&spec(2_000, seed), &path).unwrap();
            tables(&path)
        };
        let (a, b, other) = (write(7, "a.tar.gz"), write(7, "b.tar.gz"), write(8, "c.tar.gz"));
        assert_eq!(a.len(), 8, "metadata, README and six tables");
        assert!(a == b, "the same seed wrote different tables");
        assert!(a != other, "another seed wrote the same tables");
    }

    /// What the dump reader hands over, in dump order.
    #[derive(Default)]
    struct Rows {
        crates: u64,
        /// (version id, crate id, created at)
        versions: Vec<(u32, u32, i64)>,
        dependencies: u64,
    }

    impl crate::dump::Sink for Rows {
        fn crate_row(&mut self, _: crates::Row<'_>) {
            self.crates += 1;
        }
        fn version_row(&mut self, row: versions::Row<'_>) {
            self.versions.push((row.id, row.crate_id, row.created_at));
        }
        fn category_row(&mut self, _: categories::Row<'_>) {}
        fn crate_category_row(&mut self, _: crates_categories::Row) {}
        fn dependency_row(&mut self, _: dependencies::Row<'_>) {
            self.dependencies += 1;
        }
    }

    /// Schema-exact: our reader takes every row (no warning), and so does the `db-dump` crate, which
    /// rejects any column it does not know. Rows come in publication order, crates interleaved.
    #[test]
    fn the_readers_read_every_row_in_publication_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dump.tar.gz");
        let stats = synth::write(&spec(3_000, 1), &path).unwrap();
        let mut rows = Rows::default();
        let report = crate::dump::read_file(&path, &mut rows).unwrap();
        assert_eq!(report.warnings.total(), 0, "{:?}", report.warnings);
        assert_eq!(
            (rows.crates, rows.versions.len() as u64, rows.dependencies),
            (stats.crates, stats.versions, stats.dependencies)
        );
        assert!(stats.versions > 20_000 && stats.dependencies > 100_000, "{stats:?}");
        assert!(rows.versions.windows(2).all(|w| w[0].0 < w[1].0 && w[0].2 <= w[1].2), "ids follow publication time");
        let switches = rows.versions.windows(2).filter(|w| w[0].1 != w[1].1).count();
        assert!(switches > rows.versions.len() / 2, "versions of one crate are spread out: {switches}");
        let (mut versions, mut deps) = (0u64, 0u64);
        db_dump::Loader::new().versions(|_| versions += 1).dependencies(|_| deps += 1).load(&path).unwrap();
        assert_eq!((versions, deps), (stats.versions, stats.dependencies));
    }

    /// Mean of `f` over the profiles, for the crates whose versions rank in `from..to` (shares).
    fn mean_by_versions(ps: &[Profile], from: f64, to: f64, f: impl Fn(&Profile) -> u32) -> f64 {
        let mut sorted: Vec<&Profile> = ps.iter().collect();
        sorted.sort_by_key(|p| p.versions);
        let part = &sorted[(from * ps.len() as f64) as usize..(to * ps.len() as f64) as usize];
        part.iter().map(|p| f64::from(f(p))).sum::<f64>() / part.len() as f64
    }

    /// At crates.io's size: ~1.8 M versions, heavy-tailed (a quarter with one version, a few
    /// thousand over 100), and the crates with the most versions also have the most dependencies
    /// and features.
    #[test]
    fn sizes_are_heavy_tailed_and_correlated() {
        let ps = profiles(150_000, 1, 15);
        let versions: u64 = ps.iter().map(|p| u64::from(p.versions)).sum();
        assert!((1_700_000..1_950_000).contains(&versions), "{versions}");
        let ones = ps.iter().filter(|p| p.versions == 1).count();
        assert!((25_000..55_000).contains(&ones), "{ones}");
        let over_100 = ps.iter().filter(|p| p.versions > 100).count();
        assert!((1_000..5_000).contains(&over_100), "{over_100}");
        assert!(ps.iter().any(|p| p.versions > 1_000), "no crate with over 1,000 versions");
        for (what, f) in [("dependencies", (|p: &Profile| p.deps) as fn(&Profile) -> u32), ("features", |p| p.features)]
        {
            let (low, top) = (mean_by_versions(&ps, 0.0, 0.5, f), mean_by_versions(&ps, 0.9, 1.0, f));
            assert!(top > 2.5 * low, "{what}: top decile by versions {top:.1}, bottom half {low:.1}");
        }
        let max_deps = ps.iter().map(|p| p.deps).max().unwrap();
        let max_features = ps.iter().map(|p| p.features).max().unwrap();
        assert!(max_deps >= 100 && max_features >= 300, "{max_deps} {max_features}");
    }
}
