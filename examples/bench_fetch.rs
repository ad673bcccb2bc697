//! Benchmark of the fetch phase against plain tools, run side by side (interleaved) so both see
//! the same machine load: `Index::download` (stream + sha256 + verify) vs `curl -o` followed by
//! `sha256sum`, and `unpack` (all safety checks) vs `tar -xzf`. Prints a Markdown table of medians.
//!
//! cargo run --release --example bench_fetch -- --runs 15 itoa@1.0.11 syn@2.0.87 windows-sys@0.52.0

use std::process::Command;
use std::time::{Duration, Instant};

use cratemill::crates_io::{select_version, unpack, CrateSpec, Index, UnpackLimits, CRATES_IO_INDEX};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn run(cmd: &mut Command) {
    let status = cmd.status().expect("spawning a baseline tool");
    assert!(status.success(), "{cmd:?} failed");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 11;
    if args.first().map(String::as_str) == Some("--runs") {
        runs = args[1].parse()?;
        args.drain(..2);
    }
    let index_url = std::env::var("CRATEMILL_BENCH_INDEX").unwrap_or_else(|_| CRATES_IO_INDEX.to_string());
    let index = Index::open(&index_url).await?;
    println!("| crate | .crate KiB | files | download+verify ms | curl+sha256sum ms | ratio | unpack ms | tar -xzf ms | ratio |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for arg in &args {
        let spec = CrateSpec::parse(arg)?;
        let versions = index.versions(&spec.name).await?;
        let v = select_version(&versions, spec.version.as_deref(), false)?;
        let url = index.download_url(v);
        let (mut dl, mut curl, mut un, mut tar) = (vec![], vec![], vec![], vec![]);
        let mut files = 0;
        let mut size = 0;
        for _ in 0..runs {
            let work = tempfile::tempdir()?;
            let t = Instant::now();
            let got = index.download(v, work.path()).await?;
            dl.push(t.elapsed());
            size = got.size;

            let t = Instant::now();
            let plain = work.path().join("plain.crate");
            run(Command::new("curl").args(["-sSfL", "-o"]).arg(&plain).arg(&url));
            run(Command::new("sha256sum").arg(&plain).stdout(std::process::Stdio::null()));
            curl.push(t.elapsed());

            let dest = work.path().join("ours");
            std::fs::create_dir(&dest)?;
            let t = Instant::now();
            let root = unpack(&got.path, &dest, &v.name, &v.vers, &UnpackLimits::default())?;
            un.push(t.elapsed());
            files = walk(&root);

            let dest = work.path().join("tar");
            std::fs::create_dir(&dest)?;
            let t = Instant::now();
            run(Command::new("tar").arg("-xzf").arg(&got.path).arg("-C").arg(&dest));
            tar.push(t.elapsed());
        }
        let (dl, curl, un, tar) = (median(dl), median(curl), median(un), median(tar));
        println!(
            "| {}@{} | {} | {files} | {} | {} | {:.2} | {} | {} | {:.2} |",
            v.name,
            v.vers,
            size / 1024,
            ms(dl),
            ms(curl),
            dl.as_secs_f64() / curl.as_secs_f64(),
            ms(un),
            ms(tar),
            un.as_secs_f64() / tar.as_secs_f64()
        );
    }
    Ok(())
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| if e.file_type().map(|t| t.is_dir()).unwrap_or(false) { walk(&e.path()) } else { 1 })
                .sum()
        })
        .unwrap_or(0)
}
