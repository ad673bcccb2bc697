//! Write a synthetic crates.io db-dump (benchmarks): `matrix_synth_dump <OUT.tar.gz> <CRATES> [SEED]`.
//! No unknown column, so the `db-dump` crate can load it as a baseline.

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out, crates, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: matrix_synth_dump <OUT.tar.gz> <CRATES> [SEED]");
    };
    let spec = cratemill::dump::synth::Spec {
        crates: crates.parse()?,
        seed: rest.first().map(|s| s.parse()).transpose()?.unwrap_or(1),
        extra_column: false,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let stats = cratemill::dump::synth::write(&spec, std::path::Path::new(out))?;
    eprintln!(
        "wrote {out}: {} crates, {} versions, {} dependencies in {:.1}s",
        stats.crates,
        stats.versions,
        stats.dependencies,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
