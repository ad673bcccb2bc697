//! The GitHub Actions runner contract: `$GITHUB_OUTPUT`, `$GITHUB_STEP_SUMMARY`, and workflow commands
//! (`::add-mask::`, `::group::`, `::error::`).
//!
//! Everything is a no-op outside Actions (`GITHUB_ACTIONS` unset), so phases call it unconditionally.
//! Formatting is pure and tested; the only I/O is appending to the runner's files and printing.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

/// The step summary is capped by the runner (1 MiB); stay well under it.
pub const SUMMARY_LIMIT: usize = 512 * 1024;

/// Where the runner wants outputs and the summary; `None` fields outside Actions.
#[derive(Debug, Clone, Default)]
pub struct Runner {
    pub actions: bool,
    pub output_file: Option<PathBuf>,
    pub summary_file: Option<PathBuf>,
}

impl Runner {
    pub fn from_env() -> Runner {
        let actions = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
        let path = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        Runner {
            actions,
            output_file: if actions { path("GITHUB_OUTPUT") } else { None },
            summary_file: if actions { path("GITHUB_STEP_SUMMARY") } else { None },
        }
    }

    /// Append step outputs (multi-line safe) to `$GITHUB_OUTPUT`.
    pub fn set_outputs(&self, outputs: &[(&str, String)]) -> anyhow::Result<()> {
        let Some(file) = &self.output_file else { return Ok(()) };
        let text: String = outputs.iter().map(|(k, v)| format_output(k, v)).collect();
        append(file, &text).context("writing $GITHUB_OUTPUT")
    }

    /// Append Markdown to the step summary, truncated to stay under the runner's cap.
    pub fn append_summary(&self, markdown: &str) -> anyhow::Result<()> {
        let Some(file) = &self.summary_file else { return Ok(()) };
        let existing = std::fs::metadata(file).map(|m| m.len() as usize).unwrap_or(0);
        let room = SUMMARY_LIMIT.saturating_sub(existing);
        append(file, truncate_utf8(markdown, room)).context("writing $GITHUB_STEP_SUMMARY")
    }

    /// Ask the runner to mask a secret in all later log lines. Printed before the secret is used.
    pub fn mask(&self, secret: &str) {
        if self.actions && !secret.is_empty() {
            for line in secret.lines().filter(|l| !l.trim().is_empty()) {
                crate::console::line(&format!("::add-mask::{}", escape_data(line)));
            }
        }
    }

    pub fn group_start(&self, title: &str) {
        if self.actions {
            crate::console::line(&format!("::group::{}", escape_data(title)));
        }
    }

    pub fn group_end(&self) {
        if self.actions {
            crate::console::line("::endgroup::");
        }
    }

    /// An error annotation on the run's summary page.
    pub fn error(&self, title: &str, message: &str) {
        if self.actions {
            crate::console::line(&format!("::error title={}::{}", escape_property(title), escape_data(message)));
        }
    }
}

fn append(file: &PathBuf, text: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(file)?;
    f.write_all(text.as_bytes())
}

/// One output in the runner's heredoc syntax, with a delimiter that cannot occur in the value.
pub fn format_output(name: &str, value: &str) -> String {
    if !value.contains('\n') && !value.contains('\r') {
        return format!("{name}={value}\n");
    }
    let mut n = 0u32;
    let delimiter = loop {
        let d = format!("ghadelimiter_cratemill_{n}");
        if !value.contains(&d) {
            break d;
        }
        n += 1;
    };
    format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
}

/// Escape the message part of a workflow command.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escape a property value of a workflow command.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The longest prefix of `s` that fits in `max` bytes without splitting a character.
pub fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Escape a value for a Markdown table cell.
pub fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_multi_line_outputs() {
        assert_eq!(format_output("status", "built"), "status=built\n");
        let multi = format_output("executables", "a\nb");
        assert_eq!(multi, "executables<<ghadelimiter_cratemill_0\na\nb\nghadelimiter_cratemill_0\n");
    }

    #[test]
    fn delimiter_never_collides_with_value() {
        let value = "x\nghadelimiter_cratemill_0\ny";
        assert!(format_output("o", value).starts_with("o<<ghadelimiter_cratemill_1\n"));
    }

    #[test]
    fn command_escaping() {
        assert_eq!(escape_data("50%\nnext"), "50%25%0Anext");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_utf8("héllo", 2), "h");
        assert_eq!(truncate_utf8("abc", 10), "abc");
    }

    #[test]
    fn runner_files_are_written_under_actions_only() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let runner = Runner { actions: true, output_file: Some(out.clone()), summary_file: None };
        runner.set_outputs(&[("status", "built".into()), ("list", "a\nb".into())]).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.starts_with("status=built\nlist<<"));
        Runner::default().set_outputs(&[("x", "y".into())]).unwrap();
    }
}
