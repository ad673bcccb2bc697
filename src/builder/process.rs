//! Starting processes: the one place cratemill runs a program, modelled on rustwide's `Command`.
//!
//! A [`CommandLine`] (program and arguments, decided by pure code elsewhere: `backend`, `group`,
//! the sandbox's `Bwrap::wrap`) is run by a [`Process`], which says how: the environment (exactly
//! a given one, or inherited for the trusted tool probes), the working folder and a deadline. Every
//! process gets no stdin and its own process group; the whole group is killed at the deadline and
//! whenever the run ends or is dropped, so nothing a build script left behind survives it. Output is
//! read line by line, each line at most [`MAX_LINE_BYTES`] (a longer one is cut and says so: a
//! build script printing hundreds of MiB without a newline cannot fill cratemill's memory), and
//! either streamed into a sink (the build log), captured (bounded), or discarded. Every run ends in
//! one [`Outcome`]. `version_line` and the PATH search ([`find_on_path`]) live here too.
//!
//! Pure: [`CommandLine`], [`Outcome`] and the line bounds ([`keep_line`], the cut in
//! [`next_line`]). I/O edge: [`Process::run`], [`version_line`], [`find_on_path`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, BufReader};

/// A command line: program and arguments. The environment is decided separately (see `env`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub program: String,
    pub args: Vec<String>,
}

impl CommandLine {
    pub fn new<S: Into<String>>(program: impl Into<String>, args: impl IntoIterator<Item = S>) -> CommandLine {
        CommandLine { program: program.into(), args: args.into_iter().map(Into::into).collect() }
    }

    pub fn display(&self) -> Vec<String> {
        std::iter::once(self.program.clone()).chain(self.args.iter().cloned()).collect()
    }
}

/// The longest output line kept; the rest of a longer line is read and dropped, and the kept part
/// ends with [`CUT_NOTE`].
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// What a cut line ends with.
pub const CUT_NOTE: &str = " [cratemill: line cut at 64 KiB]";
/// A streamed run keeps at most this many of its last lines in [`Outcome::lines`] ...
pub const KEEP_LINES: usize = 20_000;
/// ... and at most this many bytes of them.
pub const KEEP_BYTES: usize = 16 << 20;

/// How a process ended, and what it printed: the one outcome type of every process cratemill runs
/// (builds, fetches, smoke runs, probes), and the classifier's input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The exit code, when the process exited normally.
    pub code: Option<i32>,
    /// The signal that killed the process, if any.
    pub signal: Option<i32>,
    /// cratemill killed the process group at the deadline (or after [`Outcome::silent_for`]).
    pub timed_out: bool,
    /// Killed because it printed nothing for this long ([`Process::silence`]).
    pub silent_for: Option<Duration>,
    pub duration: Duration,
    /// Streamed ([`Output::Stream`]): both streams' lines in the order they came, the last
    /// [`KEEP_LINES`] of them, trailing whitespace trimmed. Captured: stdout's lines.
    pub lines: Vec<String>,
    /// Captured ([`Output::Capture`], [`Output::Document`]): stderr's lines; empty otherwise.
    pub stderr: Vec<String>,
    /// [`Output::Document`]: stdout's bytes as they came, at most its `cap`.
    pub document: Vec<u8>,
    /// [`Output::Document`]: stdout had more than `cap` bytes (the rest was read and dropped).
    pub document_cut: bool,
}

impl Outcome {
    /// Exited with `code`.
    pub fn code(code: i32) -> Outcome {
        Outcome { code: Some(code), ..Outcome::default() }
    }

    /// Killed by `signal`.
    pub fn signal(signal: i32) -> Outcome {
        Outcome { signal: Some(signal), ..Outcome::default() }
    }

    /// Killed by cratemill at the time limit (it sends SIGKILL).
    pub fn timed_out() -> Outcome {
        Outcome { signal: Some(9), timed_out: true, ..Outcome::default() }
    }

    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }
}

/// The environment of a process.
#[derive(Debug, Clone, Copy)]
pub enum Env<'a> {
    /// cratemill's own (only for trusted tools: rustc, rustup, docker).
    Inherit,
    /// Exactly these variables and nothing else.
    Exactly(&'a BTreeMap<String, String>),
}

/// Where a process's output goes.
pub enum Output<'a> {
    /// Each line to the sink as it comes (both streams), the last ones kept in [`Outcome::lines`].
    Stream(&'a mut (dyn FnMut(&str) + Send)),
    /// Kept in [`Outcome::lines`] (stdout) and [`Outcome::stderr`], at most `cap` bytes of each
    /// stream; the rest is read and dropped.
    Capture { cap: usize },
    /// stdout kept whole as bytes in [`Outcome::document`] (a JSON document on one line, which
    /// [`Output::Capture`] would cut at [`MAX_LINE_BYTES`]), at most `cap` bytes; stderr's lines as
    /// with `Capture`.
    Document { cap: usize },
    /// Not read at all (stdout and stderr are `/dev/null`).
    Discard,
}

/// How to run one command line: environment, working folder, deadline.
#[derive(Debug, Clone)]
pub struct Process<'a> {
    line: &'a CommandLine,
    env: Env<'a>,
    cwd: Option<&'a Path>,
    deadline: Option<Instant>,
    silence: Option<Duration>,
}

impl<'a> Process<'a> {
    /// `line` with cratemill's environment, in its folder, without a deadline.
    pub fn new(line: &'a CommandLine) -> Process<'a> {
        Process { line, env: Env::Inherit, cwd: None, deadline: None, silence: None }
    }

    pub fn env(self, env: Env<'a>) -> Process<'a> {
        Process { env, ..self }
    }

    pub fn cwd(self, cwd: &'a Path) -> Process<'a> {
        Process { cwd: Some(cwd), ..self }
    }

    pub fn deadline(self, deadline: Instant) -> Process<'a> {
        Process { deadline: Some(deadline), ..self }
    }

    /// Kill the process group when no line has come for `limit` (streamed or captured output; a
    /// [`Output::Document`] reads stdout whole, so only stderr's lines count there).
    pub fn silence(self, limit: Duration) -> Process<'a> {
        Process { silence: Some(limit), ..self }
    }

    /// A deadline `limit` from now.
    pub fn timeout(self, limit: Duration) -> Process<'a> {
        let at = Instant::now().checked_add(limit).unwrap_or_else(Instant::now);
        self.deadline(at)
    }

    /// Run the command to its end or its deadline. Fails only when it cannot be started.
    pub async fn run(self, mut output: Output<'_>) -> std::io::Result<Outcome> {
        let started = Instant::now();
        let piped = !matches!(output, Output::Discard);
        let pipe = || if piped { Stdio::piped() } else { Stdio::null() };
        let mut command = tokio::process::Command::new(&self.line.program);
        command.args(&self.line.args).stdin(Stdio::null()).stdout(pipe()).stderr(pipe());
        command.process_group(0).kill_on_drop(true);
        if let Env::Exactly(vars) = self.env {
            command.env_clear().envs(vars);
        }
        if let Some(dir) = self.cwd {
            command.current_dir(dir);
        }
        let mut child = command.spawn()?;
        // Killed at the deadline, and in any case when the run ends (or its future is dropped).
        let group = child.id().map(Group);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(Stream, String)>(1024);
        let mut document = None;
        if let Some(out) = child.stdout.take() {
            match output {
                Output::Document { cap } => document = Some(tokio::spawn(read_document(out, cap))),
                _ => drop(tokio::spawn(read_lines(out, Stream::Out, tx.clone()))),
            }
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(read_lines(err, Stream::Err, tx.clone()));
        }
        drop(tx);
        let deadline = self.deadline;
        let expired = async move {
            match deadline {
                Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(expired);
        let mut outcome = Outcome::default();
        take_lines(&mut rx, expired.as_mut(), self.silence, &mut output, &mut outcome).await;
        let status = if outcome.timed_out {
            None
        } else {
            tokio::select! {
                status = child.wait() => Some(status?),
                () = &mut expired => None,
            }
        };
        let status = match status {
            Some(status) => status,
            None => {
                outcome.timed_out = true;
                group.as_ref().map(Group::kill);
                child.wait().await?
            }
        };
        drop(group);
        if let Some(reading) = document {
            (outcome.document, outcome.document_cut) = reading.await.unwrap_or_default();
        }
        use std::os::unix::process::ExitStatusExt;
        outcome.code = status.code();
        outcome.signal = status.signal();
        outcome.duration = started.elapsed();
        Ok(outcome)
    }
}

/// Take the lines of `rx` into `outcome` (as `output` says) until both streams end, the deadline
/// passes (`expired`: `timed_out`), or no line has come for `silence` (`timed_out`, `silent_for`).
async fn take_lines<F: std::future::Future<Output = ()>>(
    rx: &mut tokio::sync::mpsc::Receiver<(Stream, String)>,
    mut expired: std::pin::Pin<&mut F>,
    silence: Option<Duration>,
    output: &mut Output<'_>,
    outcome: &mut Outcome,
) {
    let mut kept = Kept::default();
    loop {
        let quiet = async move {
            match silence {
                Some(limit) => tokio::time::sleep(limit).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            line = rx.recv() => match line {
                Some((stream, line)) => kept.take(output, stream, line, outcome),
                None => return,
            },
            () = &mut expired => {
                outcome.timed_out = true;
                return;
            }
            () = quiet => {
                outcome.timed_out = true;
                outcome.silent_for = silence;
                return;
            }
        }
    }
}

/// The one-line error for a command that could not be started.
pub fn not_started(program: &str, e: &std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        anyhow::anyhow!("`{program}` is not installed or not on PATH")
    } else {
        anyhow::anyhow!("starting `{program}`: {e}")
    }
}

/// A process group cratemill started (the child is its leader); killed when dropped.
struct Group(u32);

impl Group {
    fn kill(&self) {
        // SAFETY: kill(2) with a negative pid signals the group; no memory is touched.
        unsafe {
            libc::kill(-(self.0 as i32), libc::SIGKILL);
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // Build scripts may leave daemons behind; nothing of the group survives the run.
        self.kill();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Out,
    Err,
}

/// What a run has kept so far, per [`Output`].
#[derive(Default)]
struct Kept {
    /// Bytes in `Outcome::lines` (streamed), or captured per stream.
    bytes: usize,
    stderr_bytes: usize,
}

impl Kept {
    fn take(&mut self, output: &mut Output<'_>, stream: Stream, line: String, outcome: &mut Outcome) {
        match output {
            Output::Stream(sink) => {
                sink(&line);
                keep_line(&mut outcome.lines, &mut self.bytes, line.trim_end().to_string());
            }
            Output::Capture { cap } | Output::Document { cap } => {
                let (lines, bytes) = match stream {
                    Stream::Out => (&mut outcome.lines, &mut self.bytes),
                    Stream::Err => (&mut outcome.stderr, &mut self.stderr_bytes),
                };
                if *bytes + line.len() < *cap {
                    *bytes += line.len() + 1;
                    lines.push(line);
                }
            }
            Output::Discard => {}
        }
    }
}

/// Add `line` to the kept `lines` (holding `bytes`), dropping the older half whenever they would
/// hold more than [`KEEP_LINES`] lines or [`KEEP_BYTES`] bytes. Pure.
pub fn keep_line(lines: &mut Vec<String>, bytes: &mut usize, line: String) {
    while !lines.is_empty() && (lines.len() >= KEEP_LINES || *bytes + line.len() > KEEP_BYTES) {
        let half = (lines.len() / 2).max(1);
        *bytes -= lines.drain(..half).map(|l| l.len()).sum::<usize>();
    }
    *bytes += line.len();
    lines.push(line);
}

/// All of `stream`, at most `cap` bytes kept; whether more came.
async fn read_document<R: AsyncRead + Unpin>(mut stream: R, cap: usize) -> (Vec<u8>, bool) {
    use tokio::io::AsyncReadExt;
    let (mut kept, mut cut) = (Vec::new(), false);
    let mut buf = vec![0u8; 64 << 10];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = cap.saturating_sub(kept.len());
        cut |= n > room;
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
    (kept, cut)
}

async fn read_lines<R: AsyncRead + Unpin>(stream: R, which: Stream, tx: tokio::sync::mpsc::Sender<(Stream, String)>) {
    let mut reader = BufReader::new(stream);
    while let Ok(Some(line)) = next_line(&mut reader).await {
        if tx.send((which, line)).await.is_err() {
            break;
        }
    }
}

/// The next line without its newline, `None` at the end. At most [`MAX_LINE_BYTES`] of a line are
/// kept (then [`CUT_NOTE`] is added); the rest of it is read and dropped.
pub async fn next_line<R: AsyncBufRead + Unpin>(reader: &mut R) -> std::io::Result<Option<String>> {
    let mut buf: Vec<u8> = Vec::new();
    let (mut cut, mut any) = (false, false);
    loop {
        let chunk = reader.fill_buf().await?;
        if chunk.is_empty() {
            break;
        }
        any = true;
        let newline = chunk.iter().position(|&b| b == b'\n');
        let part = &chunk[..newline.unwrap_or(chunk.len())];
        let room = MAX_LINE_BYTES - buf.len();
        cut |= part.len() > room;
        buf.extend_from_slice(&part[..part.len().min(room)]);
        let used = newline.map_or(chunk.len(), |i| i + 1);
        reader.consume(used);
        if newline.is_some() {
            break;
        }
    }
    if !any {
        return Ok(None);
    }
    let mut line = String::from_utf8_lossy(&buf).into_owned();
    if cut {
        line.push_str(CUT_NOTE);
    }
    Ok(Some(line))
}

/// How long a tool's version query may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(120);

/// Run a trusted tool (cratemill's environment) and return the first line of its output, `None`
/// when it cannot run or fails.
pub async fn version_line(program: &str, args: &[&str]) -> Option<String> {
    let line = CommandLine::new(program, args.iter().copied());
    let out = Process::new(&line).timeout(VERSION_TIMEOUT).run(Output::Capture { cap: MAX_LINE_BYTES }).await.ok()?;
    if !out.success() {
        return None;
    }
    out.lines.first().map(|l| l.trim().to_string()).filter(|l| !l.is_empty())
}

/// The stdout lines of a trusted tool, trimmed, without empty ones; empty when it cannot run.
pub async fn output_lines(program: &str, args: &[&str]) -> Vec<String> {
    let line = CommandLine::new(program, args.iter().copied());
    let Ok(out) = Process::new(&line).timeout(VERSION_TIMEOUT).run(Output::Capture { cap: 1 << 20 }).await else {
        return Vec::new();
    };
    out.lines.iter().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()
}

/// The first file called `name` in the folders of `PATH`. I/O.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    find_in(name, std::env::var_os("PATH").as_deref())
}

/// [`find_on_path`] with the search path given.
pub fn find_in(name: &str, path_var: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path_var?).map(|d| d.join(name)).find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> CommandLine {
        CommandLine::new("/bin/sh", ["-c", script])
    }

    async fn streamed(script: &str, env: &BTreeMap<String, String>, cwd: &Path, deadline: Instant) -> Outcome {
        let mut seen = Vec::new();
        let mut sink = |l: &str| seen.push(l.to_string());
        let line = sh(script);
        let run = Process::new(&line).env(Env::Exactly(env)).cwd(cwd).deadline(deadline);
        let out = run.run(Output::Stream(&mut sink)).await.unwrap();
        assert_eq!(seen.len(), out.lines.len(), "every line went to the sink");
        out
    }

    #[tokio::test]
    async fn captures_both_streams_and_exit_code_with_exactly_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let env = BTreeMap::from([
            ("PATH".to_string(), "/usr/bin:/bin".to_string()),
            ("ONLY".to_string(), "this".to_string()),
        ]);
        let deadline = Instant::now() + Duration::from_secs(30);
        let script = "echo out; echo err >&2; echo \"$ONLY ${HOME:-nohome}\"; pwd; exit 3";
        let r = streamed(script, &env, dir.path(), deadline).await;
        assert_eq!(r.code, Some(3));
        assert!(!r.success());
        let mut lines = r.lines.clone();
        lines.sort();
        let cwd = std::fs::canonicalize(dir.path()).unwrap().display().to_string();
        assert_eq!(lines, [cwd.as_str(), "err", "out", "this nohome"]);
    }

    #[tokio::test]
    async fn a_document_is_kept_whole_up_to_its_cap() {
        let line = sh("head -c 200000 /dev/zero | tr '\\0' x; echo warn >&2");
        let r = Process::new(&line).run(Output::Document { cap: 1 << 20 }).await.unwrap();
        assert_eq!((r.document.len(), r.document_cut, r.stderr.clone()), (200_000, false, vec!["warn".to_string()]));
        assert!(r.lines.is_empty());
        let r = Process::new(&line).run(Output::Document { cap: 1000 }).await.unwrap();
        assert_eq!((r.document.len(), r.document_cut), (1000, true));
    }

    #[tokio::test]
    async fn capture_keeps_the_streams_apart() {
        let line = sh("echo one; echo two >&2; echo three");
        let r = Process::new(&line).run(Output::Capture { cap: 1024 }).await.unwrap();
        assert!(r.success());
        assert_eq!((r.lines, r.stderr), (vec!["one".to_string(), "three".into()], vec!["two".to_string()]));
    }

    #[tokio::test]
    async fn deadline_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let env = BTreeMap::from([("PATH".to_string(), "/usr/bin:/bin".to_string())]);
        let marker = dir.path().join("survivor");
        let script = format!("(sleep 3; touch {}) & sleep 60", marker.display());
        let r = streamed(&script, &env, dir.path(), Instant::now() + Duration::from_millis(500)).await;
        assert!(r.timed_out && !r.success());
        assert_eq!(r.signal, Some(9));
        assert!(r.duration < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert!(!marker.exists(), "a background child of the build survived the kill");
    }

    #[tokio::test]
    async fn a_silent_run_is_killed_and_a_talking_one_is_not() {
        let silent = sh("echo started; sleep 60");
        let run = Process::new(&silent).silence(Duration::from_millis(500)).timeout(Duration::from_secs(30));
        let r = run.run(Output::Capture { cap: 1024 }).await.unwrap();
        assert!(r.timed_out && !r.success(), "{r:?}");
        assert_eq!(r.silent_for, Some(Duration::from_millis(500)));
        assert!(r.duration < Duration::from_secs(10), "{r:?}");
        assert_eq!(r.lines, ["started"]);
        // A line every 200 ms for 1.5 s keeps a 700 ms silence limit away.
        let talking = sh("for i in 1 2 3 4 5 6 7; do echo $i; sleep 0.2; done");
        let run = Process::new(&talking).silence(Duration::from_millis(700)).timeout(Duration::from_secs(30));
        let r = run.run(Output::Capture { cap: 1024 }).await.unwrap();
        assert!(r.success() && r.silent_for.is_none(), "{r:?}");
    }

    #[tokio::test]
    async fn a_dropped_run_kills_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survivor");
        let line = sh(&format!("(sleep 2; touch {}) & sleep 60", marker.display()));
        let run = Process::new(&line).run(Output::Capture { cap: 1024 });
        // The caller gives up on the run (a cancelled job): the future is dropped mid-run.
        assert!(tokio::time::timeout(Duration::from_millis(300), run).await.is_err());
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(!marker.exists(), "a background child of a dropped run survived");
    }

    #[tokio::test]
    async fn a_discarded_run_still_has_a_deadline() {
        let line = sh("sleep 60");
        let r = Process::new(&line).timeout(Duration::from_millis(300)).run(Output::Discard).await.unwrap();
        assert!(r.timed_out && r.duration < Duration::from_secs(10), "{r:?}");
    }

    #[tokio::test]
    async fn long_lines_are_cut_and_the_next_line_survives() {
        let mut text = vec![b'a'; 3 * MAX_LINE_BYTES + 17];
        text.extend_from_slice(b"\nnext\r\nlast");
        let mut reader = BufReader::with_capacity(4096, text.as_slice());
        let first = next_line(&mut reader).await.unwrap().unwrap();
        assert_eq!(first.len(), MAX_LINE_BYTES + CUT_NOTE.len());
        assert!(first.ends_with(CUT_NOTE) && first.starts_with("aaaa"));
        assert_eq!(next_line(&mut reader).await.unwrap().as_deref(), Some("next\r"));
        assert_eq!(next_line(&mut reader).await.unwrap().as_deref(), Some("last"));
        assert_eq!(next_line(&mut reader).await.unwrap(), None);
        let mut exact = BufReader::new(&[b'b'; MAX_LINE_BYTES][..]);
        assert!(!next_line(&mut exact).await.unwrap().unwrap().ends_with(CUT_NOTE), "64 KiB exactly is whole");
    }

    fn peak_rss_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    #[tokio::test]
    async fn hundreds_of_mib_without_a_newline_stay_bounded() {
        let before = peak_rss_kib();
        let dir = tempfile::tempdir().unwrap();
        let env = BTreeMap::from([("PATH".to_string(), "/usr/bin:/bin".to_string())]);
        // 384 MiB of one line, then a normal one.
        let script = "head -c 402653184 /dev/zero; echo; echo done";
        let r = streamed(script, &env, dir.path(), Instant::now() + Duration::from_secs(120)).await;
        assert!(r.success(), "{:?}", (r.code, r.timed_out));
        assert_eq!(r.lines.len(), 2);
        assert!(r.lines[0].ends_with(CUT_NOTE.trim_end()) && r.lines[1] == "done");
        let grew_mib = peak_rss_kib().saturating_sub(before) / 1024;
        assert!(grew_mib < 64, "reading a 384 MiB line raised the peak by {grew_mib} MiB");
    }

    #[test]
    fn kept_lines_are_bounded_in_count_and_bytes() {
        let (mut lines, mut bytes) = (Vec::new(), 0);
        for i in 0..(KEEP_LINES + 10) {
            keep_line(&mut lines, &mut bytes, format!("line {i}"));
        }
        assert!(lines.len() <= KEEP_LINES && lines.last().unwrap() == &format!("line {}", KEEP_LINES + 9));
        assert_eq!(bytes, lines.iter().map(String::len).sum::<usize>());
        let (mut lines, mut bytes) = (Vec::new(), 0);
        for _ in 0..(2 * KEEP_BYTES / MAX_LINE_BYTES) {
            keep_line(&mut lines, &mut bytes, "x".repeat(MAX_LINE_BYTES));
        }
        assert!(bytes <= KEEP_BYTES && bytes == lines.len() * MAX_LINE_BYTES, "{bytes}");
    }

    #[tokio::test]
    async fn a_missing_program_is_none_and_a_real_one_answers() {
        assert_eq!(version_line("definitely-not-a-program-cratemill", &[]).await, None);
        assert_eq!(version_line("/bin/sh", &["-c", "echo; echo second"]).await, None, "an empty first line");
        assert_eq!(version_line("/bin/sh", &["-c", "echo ' v1 '; exit 0"]).await.as_deref(), Some("v1"));
        assert_eq!(version_line("/bin/sh", &["-c", "echo v1; exit 1"]).await, None, "a failing tool");
        let err = Process::new(&CommandLine::new("definitely-not-a-program-cratemill", [""; 0]))
            .run(Output::Discard)
            .await
            .unwrap_err();
        assert!(not_started("x", &err).to_string().contains("not installed"));
    }

    #[test]
    fn path_search_finds_the_first_file() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(b.join("tool")).unwrap(); // a folder is not a match
        std::fs::write(a.join("tool"), "").unwrap();
        let path = std::env::join_paths([&b, &a]).unwrap();
        assert_eq!(find_in("tool", Some(&path)), Some(a.join("tool")));
        assert_eq!(find_in("other", Some(&path)), None);
        assert_eq!(find_in("tool", None), None);
    }
}
