//! The flags of `cratemill matrix`, and their validation (all of it up front, before any I/O).

use std::path::PathBuf;

use crate::dump::encoding::timestamp;
use crate::error::usage;
use crate::plan::Options;
use crate::target::{printable, Target, DEFAULT_MIRROR_TARGETS};

#[derive(Debug, clap::Args)]
pub struct MatrixArgs {
    /// Path or http(s) URL of the crates.io db-dump (e.g. https://static.crates.io/db-dump.tar.gz).
    #[arg(long, value_name = "PATH|URL")]
    pub dump: String,
    /// Select crates whose candidate version was created on or after this date (YYYY-MM-DD, UTC).
    /// Default: January 1 of the previous year.
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Comma-separated target triples. Default: the four default mirror targets.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub targets: Vec<String>,
    /// Jobs per chunk (one matrix): 1..=256.
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub chunk_size: usize,
    /// The built index (`cratemill report`): skip what is already built or failed for good.
    #[arg(long, value_name = "INDEX")]
    pub built: Option<PathBuf>,
    /// Plan again versions that failed with a non-transient class.
    #[arg(long)]
    pub retry_failed: bool,
    /// Leave out jobs the risk hint flags (native libraries without vendoring).
    #[arg(long)]
    pub skip_risky: bool,
    /// Plan at most this many jobs; the rest wait for a later plan.
    #[arg(long, value_name = "N")]
    pub max_jobs: Option<u64>,
    /// One job per crate carrying the list of its targets (`targets`), instead of one job per
    /// (crate, target): for fleets where runner start-up and shared host artifacts dominate. A
    /// grouped job counts as one matrix entry.
    #[arg(long)]
    pub group_targets: bool,
    /// Where to write plan.json and chunks/.
    #[arg(long, default_value = "plan", value_name = "DIR")]
    pub out: PathBuf,
    /// Where a downloaded dump and its HTTP validators are cached.
    #[arg(long, env = "CRATEMILL_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// Validated settings.
pub struct Settings {
    pub plan: Options,
    pub cache_dir: PathBuf,
}

impl MatrixArgs {
    pub fn validate(&self) -> anyhow::Result<Settings> {
        if self.dump.trim().is_empty() {
            return Err(usage("--dump is empty"));
        }
        let today = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64 / 86_400)
            .unwrap_or(0);
        let since = match &self.since {
            Some(text) => parse_since(text)?,
            None => default_since(today),
        };
        let mut targets = Vec::new();
        let given: Vec<&str> = if self.targets.is_empty() {
            DEFAULT_MIRROR_TARGETS.to_vec()
        } else {
            self.targets.iter().map(|t| t.trim()).collect()
        };
        for t in given {
            let target = Target::parse(t).map_err(|e| usage(format!("--targets: {e}")))?;
            if !targets.iter().any(|x: &String| x == target.triple) {
                targets.push(target.triple.to_string());
            }
        }
        if !(1..=crate::plan::chunk::MAX_MATRIX).contains(&self.chunk_size) {
            return Err(usage(format!(
                "--chunk-size {} is out of range: a matrix holds 1 to 256 jobs",
                self.chunk_size
            )));
        }
        if self.max_jobs == Some(0) {
            return Err(usage("--max-jobs 0 would plan nothing"));
        }
        let cache_dir = self.cache_dir.clone().unwrap_or_else(default_cache_dir);
        Ok(Settings {
            plan: Options {
                dump: self.dump.clone(),
                since,
                targets,
                chunk_size: self.chunk_size,
                retry_failed: self.retry_failed,
                skip_risky: self.skip_risky,
                max_jobs: self.max_jobs,
                group_targets: self.group_targets,
            },
            cache_dir,
        })
    }
}

/// `--since`: `YYYY-MM-DD` (or an RFC 3339 timestamp), to Unix seconds.
pub fn parse_since(text: &str) -> anyhow::Result<i64> {
    if let Some(days) = timestamp::parse_date(text.trim().as_bytes()) {
        return Ok(days * 86_400);
    }
    humantime::parse_rfc3339_weak(text.trim())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .ok_or_else(|| usage(format!("--since `{}` is not a date (expected YYYY-MM-DD)", printable(text))))
}

/// January 1 of the year before `today` (days since the epoch), in Unix seconds.
pub fn default_since(today: i64) -> i64 {
    let year = timestamp::year_of(today) - 1;
    timestamp::parse_date(format!("{year:04}-01-01").as_bytes()).unwrap_or(0) * 86_400
}

fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("cratemill")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_forms_and_default() {
        assert_eq!(parse_since("2025-01-01").unwrap(), 1_735_689_600);
        assert_eq!(parse_since("2025-01-01T00:00:00Z").unwrap(), 1_735_689_600);
        let err = parse_since("last tuesday").unwrap_err();
        assert_eq!(crate::error::exit_of(&err), crate::error::Exit::Usage);
        let today = timestamp::parse_date(b"2026-11-23").unwrap();
        assert_eq!(timestamp::format_date(default_since(today) / 86_400), "2025-01-01");
    }
}
