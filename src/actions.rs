//! The GitHub Actions runner contract: `$GITHUB_OUTPUT`, `$GITHUB_STEP_SUMMARY`, and workflow commands
//! (`::add-mask::`, `::group::`, `::error::`).
//!
//! Everything is a no-op outside Actions (`GITHUB_ACTIONS` unset), so phases call it unconditionally.
//! Formatting is pure and tested; the only I/O is appending to the runner's files and printing.
//!
//! [`Output`] is the one table of step-output names the phases write: `action.yml` declares exactly
//! these (tested by `tests/action_yml.rs`), so a phase cannot grow an output the action hides.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

/// The step summary is capped by the runner (1 MiB); stay well under it.
pub const SUMMARY_LIMIT: usize = 512 * 1024;

/// Every step output a cratemill phase writes to `$GITHUB_OUTPUT`, and so every output of `action.yml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Output {
    // cratemill build
    Status,
    Version,
    Executables,
    FailureClass,
    ResultPath,
    PackageDir,
    // cratemill publish
    Image,
    Digest,
    SrcbuildImage,
    SrcbuildDigest,
    // cratemill matrix
    Chunks,
    Runs,
    Plan,
    ChunkIndex,
    // cratemill matrix and cratemill report
    Jobs,
    // cratemill report
    BuiltIndex,
    Report,
    Published,
    Failed,
    Failures,
    Unreadable,
    IndexReference,
    // cratemill report --open-issues
    Issues,
    IssuesOpened,
}

/// The subcommands that write step outputs, which are also the `mode`s of `action.yml` that run them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mode {
    Build,
    Publish,
    Matrix,
    Report,
}

impl Mode {
    /// The `mode` input of `action.yml` (and the subcommand's name).
    pub fn name(self) -> &'static str {
        match self {
            Mode::Build => "build",
            Mode::Publish => "publish",
            Mode::Matrix => "matrix",
            Mode::Report => "report",
        }
    }
}

impl Output {
    pub const ALL: [Output; 24] = [
        Output::Status,
        Output::Version,
        Output::Executables,
        Output::FailureClass,
        Output::ResultPath,
        Output::PackageDir,
        Output::Image,
        Output::Digest,
        Output::SrcbuildImage,
        Output::SrcbuildDigest,
        Output::Chunks,
        Output::Runs,
        Output::Plan,
        Output::ChunkIndex,
        Output::Jobs,
        Output::BuiltIndex,
        Output::Report,
        Output::Published,
        Output::Failed,
        Output::Failures,
        Output::Unreadable,
        Output::IndexReference,
        Output::Issues,
        Output::IssuesOpened,
    ];

    /// The name in `$GITHUB_OUTPUT` and in `action.yml`.
    pub fn name(self) -> &'static str {
        match self {
            Output::Status => "status",
            Output::Version => "version",
            Output::Executables => "executables",
            Output::FailureClass => "failure-class",
            Output::ResultPath => "result-path",
            Output::PackageDir => "package-dir",
            Output::Image => "image",
            Output::Digest => "digest",
            Output::SrcbuildImage => "srcbuild-image",
            Output::SrcbuildDigest => "srcbuild-digest",
            Output::Chunks => "chunks",
            Output::Runs => "runs",
            Output::Plan => "plan",
            Output::ChunkIndex => "chunk-index",
            Output::Jobs => "jobs",
            Output::BuiltIndex => "built-index",
            Output::Report => "report",
            Output::Published => "published",
            Output::Failed => "failed",
            Output::Failures => "failures",
            Output::Unreadable => "unreadable",
            Output::IndexReference => "index-reference",
            Output::Issues => "issues",
            Output::IssuesOpened => "issues-opened",
        }
    }

    /// The subcommands (action modes) that write it.
    pub fn phases(self) -> &'static [Mode] {
        match self {
            Output::Status
            | Output::Version
            | Output::Executables
            | Output::FailureClass
            | Output::ResultPath
            | Output::PackageDir => &[Mode::Build],
            Output::Image | Output::Digest | Output::SrcbuildImage | Output::SrcbuildDigest => &[Mode::Publish],
            Output::Chunks | Output::Runs | Output::Plan | Output::ChunkIndex => &[Mode::Matrix],
            Output::Jobs => &[Mode::Matrix, Mode::Report],
            Output::BuiltIndex
            | Output::Report
            | Output::Published
            | Output::Failed
            | Output::Failures
            | Output::Unreadable
            | Output::IndexReference
            | Output::Issues
            | Output::IssuesOpened => &[Mode::Report],
        }
    }
}

impl AsRef<str> for Output {
    fn as_ref(&self) -> &str {
        self.name()
    }
}

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

    /// Append step outputs (multi-line safe) to `$GITHUB_OUTPUT`. Names are [`Output`]s (a `&str`
    /// still works, but an output missing from [`Output`] is one `action.yml` does not pass on).
    pub fn set_outputs<N: AsRef<str>>(&self, outputs: &[(N, String)]) -> anyhow::Result<()> {
        let Some(file) = &self.output_file else { return Ok(()) };
        let text: String = outputs.iter().map(|(k, v)| format_output(k.as_ref(), v)).collect();
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

/// `::stop-commands::<token>` around untrusted console output: while stopped, the runner acts on
/// no workflow command but `::<token>::`, which only cratemill knows (128 random bits per
/// process). Pure apart from drawing the token; [`print_stopped`] and [`resume_commands`] are the
/// process's one instance.
#[derive(Debug, Clone)]
pub struct CommandStop {
    token: String,
    stopped: bool,
}

impl Default for CommandStop {
    fn default() -> Self {
        CommandStop::new()
    }
}

impl CommandStop {
    pub fn new() -> CommandStop {
        CommandStop { token: random_token(), stopped: false }
    }

    /// A stop with a known token (tests).
    pub fn with_token(token: &str) -> CommandStop {
        CommandStop { token: token.to_string(), stopped: false }
    }

    /// The line that stops commands, when they are not stopped yet.
    pub fn stop_line(&mut self) -> Option<String> {
        (!std::mem::replace(&mut self.stopped, true)).then(|| format!("::stop-commands::{}", self.token))
    }

    /// The line that resumes them, when they are stopped.
    pub fn resume_line(&mut self) -> Option<String> {
        std::mem::replace(&mut self.stopped, false).then(|| format!("::{}::", self.token))
    }
}

/// The process's one stop state: every untrusted echo (of any job of the invocation) stops
/// commands first under the same lock, so a resume by one job never lets another's text through.
static STOP: std::sync::Mutex<Option<CommandStop>> = std::sync::Mutex::new(None);

/// Print an untrusted line on stderr with workflow commands stopped (under Actions; the caller
/// has made it [`crate::untrusted::printable`]).
pub fn print_stopped(line: &str) {
    let mut guard = STOP.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(stop) = guard.get_or_insert_with(CommandStop::new).stop_line() {
        crate::note!("{stop}");
    }
    crate::note!("{line}");
}

/// Let the runner act on workflow commands again (before cratemill prints one of its own).
pub fn resume_commands() {
    let mut guard = STOP.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(resume) = guard.as_mut().and_then(CommandStop::resume_line) {
        crate::note!("{resume}");
    }
}

/// 32 hex digits from the kernel's random source (`getrandom(2)`).
fn random_token() -> String {
    let mut bytes = [0u8; 16];
    let mut filled = 0;
    while filled < bytes.len() {
        // SAFETY: writes at most the remaining length into the array.
        let n = unsafe { libc::getrandom(bytes[filled..].as_mut_ptr().cast(), bytes.len() - filled, 0) };
        if n <= 0 {
            // No randomness (a very old kernel): still unguessable enough from the clock and pid
            // for a build script that cannot see cratemill's process.
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            return format!("{:016x}{:08x}{:08x}", t.as_nanos() as u64, std::process::id(), t.subsec_nanos());
        }
        filled += n as usize;
    }
    hex::encode(bytes)
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

/// Escape a value for a Markdown table cell: `|` and line breaks, and HTML (`&`, `<`, `>`), which
/// GitHub renders in a step summary and a report: failure messages carry a crate's output.
pub fn md_cell(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('|', "\\|").replace(['\n', '\r'], " ")
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
    fn markdown_cells_escape_html_and_pipes() {
        assert_eq!(
            md_cell("<img src=x onerror=alert(1)> a|b & c\r\nd"),
            "&lt;img src=x onerror=alert(1)&gt; a\\|b &amp; c  d"
        );
    }

    #[test]
    fn commands_stop_once_and_resume_once_with_an_unguessable_token() {
        let mut stop = CommandStop::with_token("t0k");
        assert_eq!(stop.resume_line(), None, "nothing to resume");
        assert_eq!(stop.stop_line().as_deref(), Some("::stop-commands::t0k"));
        assert_eq!(stop.stop_line(), None, "already stopped");
        assert_eq!(stop.resume_line().as_deref(), Some("::t0k::"));
        let (a, b) = (random_token(), random_token());
        assert!(a.len() == 32 && a != b, "{a} {b}");
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
        runner.set_outputs(&[(Output::Status, "built".into()), (Output::Executables, "a\nb".into())]).unwrap();
        runner.set_outputs(&[("free-form", "x".into())]).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.starts_with("status=built\nexecutables<<"), "{text}");
        assert!(text.ends_with("free-form=x\n"), "{text}");
        Runner::default().set_outputs(&[("x", "y".into())]).unwrap();
    }

    #[test]
    fn output_names_are_unique_and_every_output_has_a_mode() {
        let names: std::collections::BTreeSet<&str> = Output::ALL.iter().map(|o| o.name()).collect();
        assert_eq!(names.len(), Output::ALL.len());
        assert!(Output::ALL.iter().all(|o| !o.phases().is_empty()));
    }
}
