//! What the trust work adds to a build, side by side (interleaved) with its baseline on the same
//! `.crate` files: `unpack` alone (what the build did before) vs `unpack` + `prepare` (manifest
//! hardening: every `Cargo.toml` parsed, every `.rs` scanned for compile-time host reads) and
//! `srcbuild::pristine` (the second unpack + prepare that re-derives the archive's `source/`).
//! Prints a Markdown table of medians.
//!
//! cargo run --release --example bench_trust -- --runs 11 sd-1.0.0.crate ripgrep-14.1.1.crate cargo-0.84.0.crate

use std::path::Path;
use std::time::{Duration, Instant};

use cratemill::builder::{prepare, srcbuild};
use cratemill::crates_io::{unpack, UnpackLimits};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// `name-version.crate` -> (name, version).
fn job(path: &Path) -> (String, String) {
    let stem =
        path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".crate")).expect("NAME-VERSION.crate");
    let (name, version) = stem.rsplit_once('-').expect("NAME-VERSION.crate");
    (name.to_string(), version.to_string())
}

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 11;
    if args.first().map(String::as_str) == Some("--runs") {
        runs = args[1].parse()?;
        args.drain(..2);
    }
    println!(
        "| crate | .crate bytes | unpack (baseline) | unpack + prepare | pristine re-derivation | added per build |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for arg in &args {
        let file = Path::new(arg);
        let (name, version) = job(file);
        let sha = cratemill::package::digest_file(file)?.sha256;
        let (mut base, mut prep, mut pristine) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let dir = tempfile::tempdir()?;
            std::fs::create_dir_all(dir.path().join("a"))?;
            std::fs::create_dir_all(dir.path().join("b"))?;
            let t = Instant::now();
            unpack(file, &dir.path().join("a"), &name, &version, &UnpackLimits::default())?;
            base.push(t.elapsed());

            let t = Instant::now();
            let root = unpack(file, &dir.path().join("b"), &name, &version, &UnpackLimits::default())?;
            let steps = prepare::prepare(&root)?.steps;
            prep.push(t.elapsed());

            let t = Instant::now();
            let _pristine = srcbuild::pristine(file, &sha, (&name, &version), &steps, &[])?;
            pristine.push(t.elapsed());
        }
        let (b, p, r) = (median(base), median(prep), median(pristine));
        let added = p.saturating_sub(b) + r;
        println!(
            "| {name} {version} | {} | {} ms | {} ms | {} ms | {} ms |",
            std::fs::metadata(file)?.len(),
            ms(b),
            ms(p),
            ms(r),
            ms(added)
        );
    }
    Ok(())
}
