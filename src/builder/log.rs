//! The build log: every line of every step with its time since the job started, written to the
//! package's `build.log` and echoed to the console (inside `::group::` under GitHub Actions).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use crate::github::Runner;

pub struct BuildLog {
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    start: Instant,
    echo: bool,
}

impl BuildLog {
    /// Create (truncate) the log file. `echo` copies every line to stderr.
    pub fn create(path: &Path, echo: bool) -> anyhow::Result<BuildLog> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        Ok(BuildLog { path: path.to_path_buf(), file: std::io::BufWriter::new(file), start: Instant::now(), echo })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The prefix every line gets: seconds since the job started.
    pub fn stamp(&self) -> String {
        format!("[+{:.3}s]", self.start.elapsed().as_secs_f64())
    }

    /// Write one line (trailing newline not included).
    pub fn line(&mut self, text: &str) {
        let line = format!("{} {}", self.stamp(), text.trim_end_matches(['\n', '\r']));
        // A failing log write must not fail the build; the console still has it.
        let _ = writeln!(self.file, "{line}");
        if self.echo {
            crate::note!("{line}");
        }
    }

    /// A cratemill note (as opposed to the build's own output).
    pub fn note(&mut self, text: &str) {
        self.line(&format!("cratemill: {text}"));
    }

    /// Start a collapsible section in the Actions log.
    pub fn group(&mut self, runner: &Runner, title: &str) {
        let _ = self.file.flush();
        runner.group_start(title);
        self.note(title);
    }

    pub fn end_group(&mut self, runner: &Runner) {
        let _ = self.file.flush();
        runner.group_end();
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().sync_all()
    }
}

/// Remove the `[+12.345s] ` prefix of a log line (the one place that knows the stamp's format;
/// the classifier reads logs through it too).
pub fn strip_stamp(line: &str) -> &str {
    let Some(rest) = line.strip_prefix("[+") else { return line };
    let Some(end) = rest.find("s] ") else { return line };
    let secs = &rest[..end];
    if !secs.is_empty() && secs.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        &rest[end + 3..]
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_timestamped() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = BuildLog::create(&dir.path().join("build.log"), false).unwrap();
        log.line("Compiling foo v1.0.0\n");
        log.note("attempt 1");
        log.flush().unwrap();
        let text = std::fs::read_to_string(dir.path().join("build.log")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("[+0.") && lines[0].ends_with("s] Compiling foo v1.0.0"), "{}", lines[0]);
        assert_eq!(strip_stamp(lines[1]), "cratemill: attempt 1");
        assert_eq!(strip_stamp("[+x] y"), "[+x] y");
    }
}
