//! The build log: every line of every step with its time since the job started, written to the
//! package's `build.log` and echoed to the console (inside `::group::` under GitHub Actions).
//!
//! The build's output is untrusted, so the log is bounded and printed defanged:
//! - `build.log` keeps at most [`MAX_LOG_BYTES`] of it; past that the rest is dropped, one note
//!   says where the log was cut, and [`BuildLog::cut_at`] gives the figure for `result.json`.
//!   cratemill's own notes keep [`NOTE_RESERVE`] more room, so the file never passes
//!   [`MAX_FILE_BYTES`]. Lines arrive already bounded (`untrusted::MAX_LINE`).
//! - on the console, every line goes through `untrusted::printable` (a CR, which the Actions runner
//!   takes for a line break, shows as `\r`; terminal escapes as `\xNN`), and under Actions the
//!   echo runs inside `::stop-commands::<random token>` (one stop state per process,
//!   `github::print_stopped`), resumed (`::<token>::`) only for cratemill's own workflow commands
//!   (groups, the final error annotation).
//!
//! The decisions are pure (`Budget`); the file and the console are the I/O edge.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use crate::actions::Runner;
use crate::untrusted::MIB;

/// The most of the build's output `build.log` keeps.
pub const MAX_LOG_BYTES: u64 = 64 * MIB;
/// Room after the cut for cratemill's own notes (attempt outcomes, packaging, the verdict).
pub const NOTE_RESERVE: u64 = MIB;
/// The largest `build.log` cratemill writes, and so reads back for the `-srcbuild-` archive.
pub const MAX_FILE_BYTES: u64 = MAX_LOG_BYTES + NOTE_RESERVE;

/// Where a line came from: the build (untrusted, dropped past the cap) or cratemill itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Build,
    Cratemill,
}

/// Pure: how much of the log is used, and what to do with the next line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub cap: u64,
    pub written: u64,
    /// Bytes written when the build's output was first dropped.
    pub cut_at: Option<u64>,
}

/// What [`Budget::admit`] decided for one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Write,
    /// The first line over the cap: write the cut note, drop the line.
    CutHere,
    Drop,
}

impl Budget {
    pub fn new(cap: u64) -> Budget {
        Budget { cap, written: 0, cut_at: None }
    }

    /// Decide for a line of `len` bytes (newline included) from `from`, and count it when written.
    pub fn admit(&mut self, len: u64, from: Origin) -> Admit {
        let limit = match from {
            Origin::Build => self.cap,
            Origin::Cratemill => self.cap + NOTE_RESERVE,
        };
        if self.written + len <= limit && !(from == Origin::Build && self.cut_at.is_some()) {
            self.written += len;
            return Admit::Write;
        }
        if from == Origin::Build && self.cut_at.is_none() {
            self.cut_at = Some(self.written);
            return Admit::CutHere;
        }
        Admit::Drop
    }
}

/// How lines reach the console: a closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    Off,
    Plain,
    /// Under GitHub Actions: inside `::stop-commands::`.
    Actions,
}

pub struct BuildLog {
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    start: Instant,
    echo: Echo,
    budget: Budget,
}

impl BuildLog {
    /// Create (truncate) the log file. `echo` copies every line to stderr (stopping workflow
    /// commands when `GITHUB_ACTIONS=true`).
    pub fn create(path: &Path, echo: bool) -> anyhow::Result<BuildLog> {
        let echo = match (echo, Runner::from_env().actions) {
            (false, _) => Echo::Off,
            (true, false) => Echo::Plain,
            (true, true) => Echo::Actions,
        };
        BuildLog::with(path, echo, MAX_LOG_BYTES)
    }

    /// [`BuildLog::create`] with the console mode and the cap given.
    pub fn with(path: &Path, echo: Echo, cap: u64) -> anyhow::Result<BuildLog> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        Ok(BuildLog {
            path: path.to_path_buf(),
            file: std::io::BufWriter::new(file),
            start: Instant::now(),
            echo,
            budget: Budget::new(cap),
        })
    }

    /// Bytes kept when the build's output was cut at the cap; `None` when it all fit.
    pub fn cut_at(&self) -> Option<u64> {
        self.budget.cut_at
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The prefix every line gets: seconds since the job started.
    pub fn stamp(&self) -> String {
        format!("[+{:.3}s]", self.start.elapsed().as_secs_f64())
    }

    /// Write one line of the build's output (trailing newline not included).
    pub fn line(&mut self, text: &str) {
        self.write(text, Origin::Build);
    }

    /// A cratemill note (as opposed to the build's own output).
    pub fn note(&mut self, text: &str) {
        self.write(&format!("cratemill: {text}"), Origin::Cratemill);
    }

    fn write(&mut self, text: &str, from: Origin) {
        let line = format!("{} {}", self.stamp(), text.trim_end_matches(['\n', '\r']));
        match self.budget.admit(line.len() as u64 + 1, from) {
            Admit::Write => {}
            Admit::CutHere => {
                let cap = self.budget.cap;
                let note = format!(
                    "cratemill: build.log cut here: the build's output passed {cap} bytes; the rest of it is not kept"
                );
                self.write(&note, Origin::Cratemill);
                return;
            }
            Admit::Drop => return,
        }
        // A failing log write must not fail the build; the console still has it.
        let _ = writeln!(self.file, "{line}");
        self.echo(&line);
    }

    /// Print one line on the console, defanged (see the module comment).
    fn echo(&mut self, line: &str) {
        match self.echo {
            Echo::Off => {}
            Echo::Plain => crate::note!("{}", crate::untrusted::printable(line)),
            Echo::Actions => crate::actions::print_stopped(&crate::untrusted::printable(line)),
        }
    }

    /// Let the runner act on workflow commands again (before cratemill prints one of its own).
    fn resume(&mut self) {
        if self.echo == Echo::Actions {
            crate::actions::resume_commands();
        }
    }

    /// Start a collapsible section in the Actions log.
    pub fn group(&mut self, runner: &Runner, title: &str) {
        let _ = self.file.flush();
        self.resume();
        runner.group_start(title);
        self.note(title);
    }

    pub fn end_group(&mut self, runner: &Runner) {
        let _ = self.file.flush();
        self.resume();
        runner.group_end();
    }

    /// Write the log to disk; the console takes workflow commands again afterwards.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.resume();
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

    #[test]
    fn the_build_output_is_cut_at_the_cap_and_cratemill_notes_still_fit() {
        let mut b = Budget::new(100);
        assert_eq!(b.admit(60, Origin::Build), Admit::Write);
        assert_eq!(b.admit(60, Origin::Build), Admit::CutHere);
        assert_eq!(b.cut_at, Some(60));
        assert_eq!(b.admit(10, Origin::Build), Admit::Drop, "nothing of the build after the cut");
        assert_eq!(b.admit(60, Origin::Cratemill), Admit::Write, "notes use the reserve");
        assert_eq!(b.admit(NOTE_RESERVE, Origin::Cratemill), Admit::Drop);

        let dir = tempfile::tempdir().unwrap();
        let mut log = BuildLog::with(&dir.path().join("build.log"), Echo::Off, 1000).unwrap();
        for _ in 0..100 {
            log.line(&"x".repeat(100));
        }
        log.note("built");
        log.flush().unwrap();
        let text = std::fs::read_to_string(dir.path().join("build.log")).unwrap();
        assert!(text.len() as u64 <= 1000 + NOTE_RESERVE);
        let cut = log.cut_at().unwrap();
        assert!(cut <= 1000, "{cut}");
        let lines: Vec<&str> = text.lines().map(strip_stamp).collect();
        assert!(lines[lines.len() - 2].starts_with("cratemill: build.log cut here"), "{lines:?}");
        assert_eq!(lines[lines.len() - 1], "cratemill: built");
    }
}
