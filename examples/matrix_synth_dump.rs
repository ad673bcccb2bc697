//! Write a synthetic crates.io db-dump (benchmarks):
//! `matrix_synth_dump <OUT.tar.gz> <CRATES> [SEED] [SHAPE]`, SHAPE one of
//! `cratemill::dump::synth::random::Shape::NAMES` (default: `default`).
//! No unknown column, so the `db-dump` crate can load it as a baseline.

use cratemill::dump::synth::random::Shape;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage =
        || anyhow::anyhow!("usage: matrix_synth_dump <OUT.tar.gz> <CRATES> [SEED] [{}]", Shape::NAMES.join("|"));
    let [out, crates, rest @ ..] = args.as_slice() else { return Err(usage()) };
    let shape_name = rest.get(1).map_or("default", String::as_str);
    let shape = Shape::named(shape_name).ok_or_else(usage)?;
    let spec = cratemill::dump::synth::Spec {
        crates: crates.parse()?,
        seed: rest.first().map(|s| s.parse()).transpose()?.unwrap_or(1),
        extra_column: false,
        shape,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let stats = cratemill::dump::synth::write(&spec, std::path::Path::new(out))?;
    eprintln!(
        "wrote {out} (shape {shape_name}): {} crates, {} versions, {} dependencies in {:.1}s",
        stats.crates,
        stats.versions,
        stats.dependencies,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
