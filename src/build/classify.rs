//! Failure classification: from a build log and how the build process ended, decide *why* a build
//! failed, pick the log lines that show it, and write a one-line summary.
//!
//! Pure logic, no I/O: [`classify`] takes the captured log (lines may carry cratemill's `[+12.345s] `
//! timestamp prefix, which is stripped before matching and never kept in the evidence) and an
//! [`ExitInfo`], and returns a [`Classification`]. Every pattern below was checked against real
//! cargo/rustc/linker/build-script output (see `tests/fixtures/logs/`).
//!
//! # Precedence
//!
//! A failing build often prints several kinds of error (a `-sys` build script that did not find a
//! library also says "failed to run custom build command"; a linker that did not find `-lssl` also
//! says "linking with `cc` failed"). The rules are tried in this order; the first that matches wins:
//!
//! | # | rule                | class                    | matches (abridged)                                                                                      |
//! |---|---------------------|--------------------------|---------------------------------------------------------------------------------------------------------|
//! | 1 | timeout             | `timeout`                | `ExitInfo.timed_out` (the log is cut off, so nothing in it can be trusted more)                         |
//! | 2 | out of resources    | `out-of-resources`       | `No space left on device`, `memory allocation of N bytes failed`, `LLVM ERROR: out of memory`, rustc's `tried to allocate more memory than available`, `Cannot allocate memory`, a process killed by SIGKILL (`signal: 9`, `Killed`), the linker dying of SIGBUS (its mmapped output hit a full disk), exit signal 9 |
//! | 3 | target not installed| `unknown`                | `the `T` target may not be installed`: the builder's toolchain lacks the target; not the crate's fault, so no crate class, and `unknown` is retried |
//! | 4 | checksum            | `checksum-mismatch`      | `checksum for `x` changed between lock files`, `failed to verify the checksum of`                        |
//! | 5 | fetch               | `fetch-failed`           | cargo's own top-level errors: `failed to download`, `failed to get `x` as a dependency`, `no matching package named`, `failed to select a version`, `failed to load source`, `--locked was passed` (sets `lock_outdated`), missing features (sets `feature_problem`) |
//! | 6 | toolchain too old   | `rust-version`           | `rustc X is not supported by the following package`, `requires rustc X or newer`, `this version of Cargo is older than the `2027` edition`, `requires a nightly version of Cargo` |
//! | 7 | unsupported target  | `unsupported-target`     | an error or build-script panic saying a target/arch/platform/OS is unsupported (`compile_error!`), `could not find `aarch64` in `arch``, an item configured out by `#[cfg(target_os/target_arch/...)]`, inline asm of another architecture |
//! | 8 | missing system library | `missing-system-library` | pkg-config's `The system library `x` required by crate `y` was not found` / `Package x was not found in the pkg-config search path`, openssl-sys `Could not find directory of OpenSSL installation`, linker `cannot find -lx` / `unable to find library -lx`, `could not find native static library`, a missing C header in a build script, cmake `Could not find a package` / `Could NOT find`, libclang not found, a missing build tool (`is `cmake` not installed?`, `linker `x` not found`, a build script that could not spawn a program) |
//! | 9 | unstable on stable  | `rust-version`           | `error[E0554]` (`#![feature]` on stable), `error[E0658]` (unstable feature): the crate needs a nightly or newer toolchain |
//! |10 | link error          | `link-error`             | `linking with `cc` failed`, `undefined reference`, `undefined symbol`, `relocation R_…`, `multiple definition` |
//! |11 | build script        | `build-script-failed`    | `failed to run custom build command for `x`` with no more specific cause above                           |
//! |12 | compile error       | `compile-error`          | `error[E…]`, `error: could not compile`, rustc internal compiler errors                                  |
//! |13 | no executables      | `no-executables`         | `no bin target named`, `no packages found with binaries`, `target filter `bins` specified, but no targets matched`, `there is nothing to install` |
//! |14 | fallback            | `unknown`                | nothing matched: the evidence is the last 20 lines that mention "error"                                 |
//!
//! Decisions worth knowing:
//! - Missing build *tools* (cmake, libclang, protoc, a cross linker) count as `missing-system-library`:
//!   like a missing library, the fix is to install something in the builder, not to change the crate.
//! - `#![feature]` on stable (E0554) and unstable features (E0658) count as `rust-version`: the crate
//!   builds with another toolchain (nightly or newer), and that is what the report should say.
//! - "target may not be installed" is the builder's environment, not the crate: class `unknown`
//!   (retried later) with a summary that says so, ahead of the compile errors it causes.
//! - Feature problems ("does not contain this feature", "does not have that feature") are `fetch-failed`
//!   (cargo could not resolve the requested feature set) and set `feature_problem`, so the build retries
//!   with default features; an outdated lock under `--locked` is `fetch-failed` with `lock_outdated`.
//! - An error that only says "not supported" without naming a target, arch, platform or OS is not
//!   `unsupported-target`; a plain unresolved module (`#[cfg]`-gated away without rustc pointing at the
//!   `cfg`) cannot be told from a typo and stays `compile-error`.

use crate::schema::result::FailureClass;

/// At most this many evidence lines are kept (the first ones, in log order: the root cause is early).
pub const MAX_EVIDENCE: usize = 30;
/// The `unknown` and `timeout` classes keep this many lines from the end of the log.
const TAIL_EVIDENCE: usize = 20;
/// Longer log lines (linker command lines run to kilobytes) are cut in the evidence.
const MAX_LINE_CHARS: usize = 400;
/// The summary is one line of at most this many characters.
const MAX_SUMMARY_CHARS: usize = 240;

/// How the build process ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExitInfo {
    /// The exit code, when the process exited normally.
    pub code: Option<i32>,
    /// The signal that killed the process, if any.
    pub signal: Option<i32>,
    /// cratemill killed the build because it exceeded `--timeout`.
    pub timed_out: bool,
}

impl ExitInfo {
    pub fn code(code: i32) -> ExitInfo {
        ExitInfo { code: Some(code), signal: None, timed_out: false }
    }

    pub fn signal(signal: i32) -> ExitInfo {
        ExitInfo { code: None, signal: Some(signal), timed_out: false }
    }

    /// Killed by cratemill at the time limit (it sends SIGKILL).
    pub fn timed_out() -> ExitInfo {
        ExitInfo { code: None, signal: Some(9), timed_out: true }
    }

    /// From a finished child process.
    pub fn from_status(status: std::process::ExitStatus, timed_out: bool) -> ExitInfo {
        use std::os::unix::process::ExitStatusExt;
        ExitInfo { code: status.code(), signal: status.signal(), timed_out }
    }
}

/// Why a build failed, with the log lines that show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    pub class: FailureClass,
    /// The log lines that show the failure, in log order, without timestamps, at most [`MAX_EVIDENCE`].
    pub evidence: Vec<String>,
    /// One line, e.g. `openssl-sys: could not find system library 'openssl' (pkg-config)`.
    pub summary: String,
    /// `--locked` was passed and the shipped `Cargo.lock` needs updating: retry without `--locked`.
    pub lock_outdated: bool,
    /// A requested feature does not exist: retry with default features.
    pub feature_problem: bool,
}

/// The precedence table of the module doc, in order.
const RULES: &[(&str, Rule)] = &[
    ("timeout", timeout),
    ("out of resources", out_of_resources),
    ("target not installed", target_not_installed),
    ("checksum", checksum),
    ("fetch", fetch),
    ("toolchain too old", toolchain_too_old),
    ("unsupported target", unsupported_target),
    ("missing system library", missing_system_library),
    ("unstable on stable", unstable_on_stable),
    ("link error", link_error),
    ("build script", build_script),
    ("compile error", compile_error),
    ("no executables", no_executables),
];

/// A rule: the class, summary and evidence line numbers when it matches.
type Rule = fn(&Log, ExitInfo) -> Option<Hit>;

/// What a rule found.
#[derive(Debug)]
struct Hit {
    class: FailureClass,
    summary: String,
    lines: Vec<usize>,
}

impl Hit {
    fn new(class: FailureClass, summary: impl Into<String>, lines: Vec<usize>) -> Option<Hit> {
        Some(Hit { class, summary: summary.into(), lines })
    }
}

/// Classify a build log. See the module doc for the precedence of the rules.
pub fn classify(log: &str, exit: ExitInfo) -> Classification {
    let log = Log::new(log);
    let lock_outdated = log.any(is_lock_outdated);
    let feature_problem = log.any(is_feature_problem);
    let hit = RULES.iter().find_map(|(_, rule)| rule(&log, exit)).unwrap_or_else(|| unknown(&log, exit));
    let mut lines = hit.lines;
    lines.sort_unstable();
    lines.dedup();
    lines.truncate(MAX_EVIDENCE);
    Classification {
        class: hit.class,
        evidence: lines.into_iter().map(|i| cut(&log.lines[i], MAX_LINE_CHARS)).collect(),
        summary: cut(&one_line(&hit.summary), MAX_SUMMARY_CHARS),
        lock_outdated,
        feature_problem,
    }
}

/// Strip cratemill's `[+<secs>s] ` timestamp prefix from a log line, if it has one.
pub fn strip_timestamp(line: &str) -> &str {
    let Some(rest) = line.strip_prefix("[+") else { return line };
    let Some(end) = rest.find("s] ") else { return line };
    let secs = &rest[..end];
    if !secs.is_empty() && secs.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        &rest[end + 3..]
    } else {
        line
    }
}

/// The log, one cleaned line per entry: timestamp prefix and ANSI colour codes removed, right-trimmed.
struct Log {
    lines: Vec<String>,
}

impl Log {
    fn new(text: &str) -> Log {
        Log { lines: text.lines().map(|l| strip_ansi(strip_timestamp(l)).trim_end().to_string()).collect() }
    }

    fn find(&self, pred: impl Fn(&str) -> bool) -> Vec<usize> {
        self.lines.iter().enumerate().filter(|(_, l)| pred(l)).map(|(i, _)| i).collect()
    }

    fn first(&self, pred: impl Fn(&str) -> bool) -> Option<usize> {
        self.lines.iter().position(|l| pred(l))
    }

    fn any(&self, pred: impl Fn(&str) -> bool) -> bool {
        self.lines.iter().any(|l| pred(l))
    }

    /// Lines `from..` up to the next top-level `error`/`warning` line (at most `max` lines).
    fn block(&self, from: usize, max: usize) -> Vec<usize> {
        let mut out = vec![from];
        for (i, l) in self.lines.iter().enumerate().skip(from + 1).take(max.saturating_sub(1)) {
            if l.starts_with("error") || l.starts_with("warning") {
                break;
            }
            if !l.trim().is_empty() {
                out.push(i);
            }
        }
        out
    }

    /// The message of each `thread 'main' panicked at ...:` line: the first non-empty line after it.
    fn panic_messages(&self) -> Vec<usize> {
        self.find(|l| l.contains("panicked at"))
            .into_iter()
            .filter_map(|i| (i + 1..(i + 4).min(self.lines.len())).find(|&j| !self.lines[j].trim().is_empty()))
            .collect()
    }

    /// The crate a line belongs to: `warning: NAME@VER: ...` lines name it; otherwise the nearest
    /// build-script failure before (then after) the line, then the first `could not compile `x``.
    fn crate_for(&self, idx: usize) -> String {
        if let Some(rest) = self.lines[idx].strip_prefix("warning: ") {
            if let Some((pkg, _)) = rest.split_once(": ") {
                if let Some((name, _)) = pkg.split_once('@') {
                    return name.to_string();
                }
            }
        }
        let scripts = self.find(|l| l.starts_with(BUILD_SCRIPT_FAILED));
        let script = scripts.iter().rev().find(|&&i| i <= idx).or_else(|| scripts.first());
        if let Some(&i) = script {
            return crate_in_backticks(&self.lines[i]);
        }
        match self.first(|l| l.starts_with(COULD_NOT_COMPILE)) {
            Some(i) => crate_in_backticks(&self.lines[i]),
            None => "build".to_string(),
        }
    }
}

const BUILD_SCRIPT_FAILED: &str = "error: failed to run custom build command for `";
const COULD_NOT_COMPILE: &str = "error: could not compile `";

fn timeout(log: &Log, exit: ExitInfo) -> Option<Hit> {
    if !exit.timed_out {
        return None;
    }
    let last = log.lines.iter().rev().find(|l| l.trim_start().starts_with("Compiling ")).map(|l| l.trim());
    let summary = match last {
        Some(step) => format!("build exceeded the time limit (last step: {step})"),
        None => "build exceeded the time limit".to_string(),
    };
    Hit::new(FailureClass::Timeout, summary, tail(log, TAIL_EVIDENCE, |l| !l.trim().is_empty()))
}

fn out_of_resources(log: &Log, exit: ExitInfo) -> Option<Hit> {
    const PATTERNS: &[(&str, &str)] = &[
        ("No space left on device", "out of disk space"),
        ("Disk quota exceeded", "out of disk space"),
        ("LLVM ERROR: out of memory", "out of memory"),
        ("tried to allocate more memory than available to compiler", "out of memory"),
        ("Cannot allocate memory", "out of memory"),
        ("out of memory allocating", "out of memory"),
        ("could not allocate", "out of memory"),
        ("signal: 9, SIGKILL", "rustc or a build script was killed by SIGKILL (usually the out-of-memory killer)"),
        ("Killed signal terminated program", "a compiler was killed (usually the out-of-memory killer)"),
        ("terminated with signal 7 [Bus error]", "the linker died of SIGBUS (its output file hit a full disk)"),
    ];
    // The crate whose step failed, and cargo's lines saying which step it was.
    let hit = |lines: Vec<usize>, what: &str| {
        let first = lines[0];
        let anchors = log.find(|l| l.starts_with(BUILD_SCRIPT_FAILED) || l.starts_with(COULD_NOT_COMPILE));
        let line = log.lines[first].trim().trim_start_matches("= note: ");
        let summary = if anchors.is_empty() {
            format!("{what}: {line}")
        } else if line.contains("process didn't exit successfully") {
            format!("{}: {what}", log.crate_for(first))
        } else {
            format!("{}: {what}: {line}", log.crate_for(first))
        };
        Hit::new(FailureClass::OutOfResources, summary, lines.into_iter().chain(anchors).collect())
    };
    for &(pat, what) in PATTERNS {
        let lines = log.find(|l| l.contains(pat));
        if !lines.is_empty() {
            return hit(lines, what);
        }
    }
    let lines = log.find(|l| is_alloc_failure(l) || is_killed_notice(l));
    if let Some(&first) = lines.first() {
        let what = if is_alloc_failure(&log.lines[first]) { "out of memory" } else { "a process was killed" };
        return hit(lines, what);
    }
    if exit.signal == Some(9) {
        let summary = "the build was killed by SIGKILL (usually the out-of-memory killer)";
        return Hit::new(FailureClass::OutOfResources, summary, tail(log, TAIL_EVIDENCE, |l| !l.trim().is_empty()));
    }
    None
}

/// Rust's allocation-failure message: `memory allocation of 35184372088832 bytes failed`.
fn is_alloc_failure(line: &str) -> bool {
    line.split_once("memory allocation of ")
        .and_then(|(_, rest)| rest.split_once(" bytes failed"))
        .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A shell's job notice for a SIGKILLed process: `Killed` alone, or `... 1234 Killed   cargo build`.
fn is_killed_notice(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.iter().position(|w| *w == "Killed") {
        Some(0) => true,
        Some(i) => words[i - 1].bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

fn target_not_installed(log: &Log, _: ExitInfo) -> Option<Hit> {
    let i = log.first(|l| l.contains("target may not be installed"))?;
    let target = between(&log.lines[i], "`", "`").unwrap_or("this");
    let summary = format!(
        "the `{target}` target is not installed for this toolchain (builder environment, not the crate: `rustup target add {target}`)"
    );
    let mut lines = log.find(|l| l.contains("target may not be installed") || l.starts_with("error[E0463]"));
    lines.extend(log.find(|l| l.contains("rustup target add")));
    Hit::new(FailureClass::Unknown, summary, lines)
}

fn checksum(log: &Log, _: ExitInfo) -> Option<Hit> {
    let i = log.first(|l| {
        l.starts_with("error:")
            && (l.contains("changed between lock files")
                || l.contains("failed to verify the checksum of")
                || l.contains("listed checksum of"))
    })?;
    let mut lines = log.block(i, 12);
    lines.extend(log.find(|l| l.starts_with("unable to verify that")));
    Hit::new(FailureClass::ChecksumMismatch, strip_error(&log.lines[i]), lines)
}

fn is_lock_outdated(line: &str) -> bool {
    line.starts_with("error:") && (line.contains("--locked was passed") || line.contains("--frozen was passed"))
}

fn is_feature_problem(line: &str) -> bool {
    const PATTERNS: &[&str] = &[
        "does not contain this feature",
        "does not contain these features",
        "contains these features",
        "contains this feature",
        "does not have the feature `",
        "does not have that feature",
        "which is neither a dependency nor another feature",
    ];
    PATTERNS.iter().any(|p| line.contains(p))
}

fn fetch(log: &Log, _: ExitInfo) -> Option<Hit> {
    const CARGO_ERRORS: &[&str] = &[
        "error: failed to download",
        "error: failed to get `",
        "error: no matching package named",
        "error: no matching package found",
        "error: failed to select a version",
        "error: failed to load source for dependency",
        "error: failed to update registry",
        "error: failed to fetch",
        "error: failed to query replaced source",
        "error: attempting to make an HTTP request, but --offline was specified",
    ];
    let i = log
        .first(|l| is_lock_outdated(l) || CARGO_ERRORS.iter().any(|p| l.starts_with(p)))
        .or_else(|| log.first(is_feature_problem))?;
    let mut lines = log.block(i, 25);
    lines.extend(log.find(is_feature_problem));
    // The innermost cause of a `Caused by:` chain says what went wrong on the network.
    let cause = lines.iter().rev().map(|&j| log.lines[j].trim()).find(|l| !l.is_empty() && *l != "Caused by:");
    let head = strip_error(&log.lines[i]);
    let summary = match cause {
        Some(c) if log.lines[i..].iter().take(25).any(|l| l == "Caused by:") && c != head => format!("{head}: {c}"),
        _ => head.to_string(),
    };
    Hit::new(FailureClass::FetchFailed, summary, lines)
}

fn toolchain_too_old(log: &Log, _: ExitInfo) -> Option<Hit> {
    if let Some(i) = log.first(|l| l.contains("is not supported by the following package")) {
        let lines = log.block(i, 8);
        let needs: Vec<&str> = lines.iter().skip(1).map(|&j| log.lines[j].trim()).collect();
        let summary = format!("{}: {}", strip_error(&log.lines[i]).trim_end_matches(':'), needs.join("; "));
        return Hit::new(FailureClass::RustVersion, summary, lines);
    }
    const PATTERNS: &[&str] = &[
        "or newer, while the currently active rustc version is",
        "this version of Cargo is older than the",
        "requires a nightly version of Cargo",
    ];
    let lines = log.find(|l| PATTERNS.iter().any(|p| l.contains(p)));
    let &first = lines.first()?;
    let mut all = log.find(|l| l.starts_with("error:") && l.contains("manifest"));
    all.extend(&lines);
    Hit::new(FailureClass::RustVersion, strip_error(log.lines[first].trim()), all)
}

fn unsupported_target(log: &Log, _: ExitInfo) -> Option<Hit> {
    // An error message or build-script panic that names a platform and says it is unsupported.
    let panics = log.panic_messages();
    for (i, line) in log.lines.iter().enumerate() {
        let message = if let Some(m) = line.strip_prefix("error: ") {
            m
        } else if panics.contains(&i) {
            line.trim()
        } else {
            continue;
        };
        let from_macro = log.lines[i + 1..].iter().take(6).any(|l| l.contains("compile_error!"));
        if says_unsupported(message, from_macro) && names_platform(message) {
            let mut lines = log.block(i, 8);
            lines.push(i);
            let krate = log.crate_for(i);
            return Hit::new(FailureClass::UnsupportedTarget, format!("{krate}: {message}"), lines);
        }
    }
    // `use std::arch::aarch64::...` built for another architecture.
    if let Some(i) = log.first(|l| l.contains("in `arch`") && l.contains("could not find `")) {
        let arch = between(&log.lines[i], "could not find `", "`").unwrap_or("?").to_string();
        let start = log.lines[..i].iter().rposition(|l| l.starts_with("error")).unwrap_or(i);
        let mut lines: Vec<usize> = (start..=i).filter(|&j| !log.lines[j].trim().is_empty()).collect();
        lines.extend(log.find(|l| l.starts_with(COULD_NOT_COMPILE)));
        let summary = format!("{}: uses `std::arch::{arch}`, code for another architecture", log.crate_for(i));
        return Hit::new(FailureClass::UnsupportedTarget, summary, lines);
    }
    // rustc points at an item configured out by a target `cfg`.
    for i in log.find(|l| l.contains("found an item that was configured out")) {
        let window = (i + 1..(i + 8).min(log.lines.len())).collect::<Vec<_>>();
        if let Some(&g) = window.iter().find(|&&j| is_target_cfg(&log.lines[j])) {
            let start = log.lines[..i].iter().rposition(|l| l.starts_with("error")).unwrap_or(i);
            let mut lines: Vec<usize> = (start..=i).filter(|&j| !log.lines[j].trim().is_empty()).collect();
            lines.extend(window.iter().filter(|&&j| !log.lines[j].trim().is_empty()));
            let cfg = log.lines[g].split('|').nth(1).unwrap_or("").trim();
            let summary =
                format!("{}: {} is only compiled for {cfg}", log.crate_for(i), strip_error(&log.lines[start]));
            return Hit::new(FailureClass::UnsupportedTarget, summary, lines);
        }
    }
    // Inline assembly written for another architecture.
    if log.any(|l| l.contains("<inline asm>")) {
        const ASM: &[&str] =
            &["invalid instruction mnemonic", "invalid register", "unknown register", "invalid operand"];
        if let Some(i) = log.first(|l| l.starts_with("error") && ASM.iter().any(|p| l.contains(p))) {
            let lines = log.block(i, 14);
            let summary = format!(
                "{}: inline assembly for another architecture: {}",
                log.crate_for(i),
                strip_error(&log.lines[i])
            );
            return Hit::new(FailureClass::UnsupportedTarget, summary, lines);
        }
    }
    None
}

fn says_unsupported(message: &str, from_macro: bool) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("unsupported")
        || m.contains("not supported")
        || m.contains("not yet supported")
        || (from_macro && (m.contains("only supports") || m.contains("only works on") || m.contains("requires")))
}

fn names_platform(message: &str) -> bool {
    if message.contains("(os error") {
        return false;
    }
    const WORDS: &[&str] = &[
        "target",
        "platform",
        "arch",
        "architecture",
        "os",
        "operating",
        "windows",
        "macos",
        "linux",
        "unix",
        "wasm",
        "wasm32",
        "x86",
        "x86_64",
        "aarch64",
        "arm",
        "riscv",
        "riscv64",
        "loongarch64",
        "musl",
        "endian",
        "32-bit",
        "64-bit",
        "pointer",
    ];
    message
        .to_ascii_lowercase()
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .any(|w| WORDS.contains(&w) || w.starts_with("target_"))
}

fn is_target_cfg(line: &str) -> bool {
    line.contains("cfg(")
        && [
            "target_os",
            "target_arch",
            "target_family",
            "target_env",
            "target_pointer_width",
            "target_vendor",
            "windows",
            "unix",
        ]
        .iter()
        .any(|k| line.contains(k))
}

fn missing_system_library(log: &Log, _: ExitInfo) -> Option<Hit> {
    let script_failed = log.any(|l| l.starts_with(BUILD_SCRIPT_FAILED));
    let anchors = log.find(|l| l.starts_with(BUILD_SCRIPT_FAILED) || l.starts_with(COULD_NOT_COMPILE));
    let hit = |i: usize, what: String, extra: Vec<usize>| {
        let mut lines = anchors.clone();
        lines.push(i);
        lines.extend(extra);
        Hit::new(FailureClass::MissingSystemLibrary, what, lines)
    };

    if let Some(i) = log.first(|l| l.contains("The system library `") && l.contains("` was not found")) {
        let lib = between(&log.lines[i], "The system library `", "`").unwrap_or("?");
        let krate =
            between(&log.lines[i], "required by crate `", "`").map(str::to_string).unwrap_or_else(|| log.crate_for(i));
        let pc = log.find(|l| {
            l.contains("was not found in the pkg-config search path")
                || l.contains("pkg-config exited")
                || l.contains("Could not find directory of OpenSSL installation")
        });
        return hit(i, format!("{krate}: could not find system library '{lib}' (pkg-config)"), pc);
    }
    if let Some(i) = log.first(|l| l.contains("was not found in the pkg-config search path")) {
        let lib = between(&log.lines[i], "Package ", " was not found").unwrap_or("?");
        return hit(i, format!("{}: could not find system library '{lib}' (pkg-config)", log.crate_for(i)), vec![]);
    }
    if let Some(i) = log.first(|l| l.contains("pkg-config has not been configured to support cross-compilation")) {
        return hit(
            i,
            format!("{}: pkg-config is not set up to cross-compile for this target", log.crate_for(i)),
            vec![],
        );
    }
    if let Some(i) = log.first(|l| l.contains("Could not find directory of OpenSSL installation")) {
        let summary = format!(
            "{}: could not find an OpenSSL installation (libssl-dev, or a `vendored` feature)",
            log.crate_for(i)
        );
        return hit(i, summary, log.find(|l| l.contains("$TARGET =")));
    }
    let linker = log.find(|l| l.contains("cannot find -l") || l.contains("unable to find library -l"));
    if let Some(&i) = linker.first() {
        let lib = library_flag(&log.lines[i]);
        let summary = format!("{}: the linker could not find library {lib}", log.crate_for(i));
        return hit(i, summary, log.find(|l| l.starts_with("error: linking with")));
    }
    if let Some(i) = log.first(|l| l.contains("could not find native static library `")) {
        let lib = between(&log.lines[i], "library `", "`").unwrap_or("?");
        return hit(i, format!("{}: could not find native static library '{lib}'", log.crate_for(i)), vec![]);
    }
    if script_failed {
        if let Some((i, header)) = log.lines.iter().enumerate().find_map(|(i, l)| missing_header(l).map(|h| (i, h))) {
            return hit(i, format!("{}: C/C++ header '{header}' not found", log.crate_for(i)), vec![]);
        }
    }
    if let Some(i) = log.first(|l| l.contains("Could not find a package configuration file provided by")) {
        let pkg = between(&log.lines[i], "provided by \"", "\"").unwrap_or("?");
        let error = log.find(|l| l.contains("CMake Error"));
        return hit(i, format!("{}: cmake could not find package '{pkg}'", log.crate_for(i)), error);
    }
    if let Some(i) =
        log.first(|l| l.contains("Could NOT find ") || l.contains("The following required packages were not found"))
    {
        let error = log.find(|l| l.contains("CMake Error"));
        return hit(i, format!("{}: cmake: {}", log.crate_for(i), log.lines[i].trim()), error);
    }
    if let Some(i) = log.first(|l| l.contains("Unable to find libclang") || l.contains("matching: ['libclang.so'")) {
        return hit(i, format!("{}: libclang not found (needed by bindgen/clang-sys)", log.crate_for(i)), vec![]);
    }
    if let Some(i) = log.first(|l| l.contains(" not installed?")) {
        let tool = between(&log.lines[i], "is `", "`").unwrap_or("a build tool");
        let cause = log.lines[..i].iter().rposition(|l| l.contains("failed to execute")).into_iter().collect();
        return hit(i, format!("{}: build tool '{tool}' not found ({})", log.crate_for(i), log.lines[i].trim()), cause);
    }
    if let Some(i) = log.first(|l| l.starts_with("error: linker `") && l.contains("` not found")) {
        let linker = between(&log.lines[i], "linker `", "`").unwrap_or("?");
        return hit(i, format!("{}: linker '{linker}' not found", log.crate_for(i)), log.block(i, 4));
    }
    if let Some(i) = log.first(|l| l.contains("Could not find `protoc`")) {
        return hit(i, format!("{}: build tool 'protoc' not found", log.crate_for(i)), vec![]);
    }
    if script_failed {
        let spawn = |l: &str| {
            let l = l.to_ascii_lowercase();
            (l.contains("kind: notfound") || l.contains("no such file or directory"))
                && [
                    "failed to run",
                    "failed to execute",
                    "failed to spawn",
                    "could not run",
                    "could not execute",
                    "unable to run",
                ]
                .iter()
                .any(|p| l.contains(p))
        };
        if let Some(i) = log.first(spawn) {
            return hit(
                i,
                format!("{}: build script could not run a program: {}", log.crate_for(i), log.lines[i].trim()),
                vec![],
            );
        }
    }
    None
}

/// `... -lssl ...` → `-lssl`.
fn library_flag(line: &str) -> &str {
    let start = ["find -l", "library -l"].iter().find_map(|p| line.find(p).map(|at| at + p.len() - 2)).unwrap_or(0);
    line[start..].split(|c: char| c.is_whitespace() || c == ':').next().unwrap_or("-l?")
}

/// gcc `fatal error: foo.h: No such file or directory` / clang `fatal error: 'foo.h' file not found`.
fn missing_header(line: &str) -> Option<&str> {
    let (_, rest) = line.split_once("fatal error: ")?;
    let name = rest
        .strip_suffix(": No such file or directory")
        .or_else(|| rest.strip_suffix(" file not found").map(|n| n.trim_matches('\'')))?;
    let is_header = [".h", ".hh", ".hpp", ".hxx", ".inc"].iter().any(|e| name.ends_with(e)) || !name.contains('.');
    is_header.then_some(name)
}

fn unstable_on_stable(log: &Log, _: ExitInfo) -> Option<Hit> {
    let lines = log.find(|l| l.starts_with("error[E0554]") || l.starts_with("error[E0658]"));
    let &i = lines.first()?;
    let needs = if log.lines[i].starts_with("error[E0554]") {
        "needs a nightly toolchain"
    } else {
        "needs a newer or nightly toolchain"
    };
    let summary = format!("{}: {needs}: {}", crate_of_error(log, i), log.lines[i]);
    let mut all = lines.clone();
    all.extend(lines.iter().filter_map(|&j| location_after(log, j)));
    Hit::new(FailureClass::RustVersion, summary, all)
}

fn link_error(log: &Log, _: ExitInfo) -> Option<Hit> {
    const SPECIFIC: &[&str] = &[
        "undefined reference to",
        "undefined symbol:",
        "relocation R_",
        "multiple definition of",
        "duplicate symbol",
        "can not be used when making",
    ];
    let head = log.first(|l| l.starts_with("error: linking with `"));
    let specific = log.find(|l| SPECIFIC.iter().any(|p| l.contains(p)));
    let first = head.or(specific.first().copied())?;
    let mut lines = vec![first];
    lines.extend(&specific);
    lines.extend(log.find(|l| {
        l.contains("ld returned") || l.contains("native libraries may need") || l.starts_with(COULD_NOT_COMPILE)
    }));
    let what = match specific.first() {
        Some(&s) => {
            let l = &log.lines[s];
            let at = SPECIFIC.iter().filter_map(|p| l.find(p)).min().unwrap_or(0);
            l[at..].to_string()
        }
        None => strip_error(&log.lines[first]).to_string(),
    };
    Hit::new(FailureClass::LinkError, format!("{}: link failed: {what}", crate_of_error(log, first)), lines)
}

fn build_script(log: &Log, _: ExitInfo) -> Option<Hit> {
    let i = log.first(|l| l.starts_with(BUILD_SCRIPT_FAILED))?;
    let krate = crate_in_backticks(&log.lines[i]);
    let section_end =
        log.lines[i + 1..].iter().position(|l| l.starts_with("error")).map_or(log.lines.len(), |p| i + 1 + p);
    let section = i..section_end;
    let panic_msg = log.panic_messages().into_iter().find(|j| section.contains(j));
    let cc_msg = section.clone().find(|&j| log.lines[j].contains("error occurred"));
    let warnings = log.find(|l| l.starts_with(&format!("warning: {krate}@")) && l.contains("error"));
    let status = section.clone().find(|&j| log.lines[j].contains("process didn't exit successfully"));
    let reason = panic_msg.or(warnings.first().copied()).or(cc_msg).or(status);
    let mut lines = vec![i];
    lines.extend(&warnings);
    lines.extend(status);
    lines.extend(panic_msg.and_then(|j| log.lines[..j].iter().rposition(|l| l.contains("panicked at"))));
    lines.extend(reason);
    let summary = match reason {
        Some(r) => {
            let line = log.lines[r].trim();
            let line = line.strip_prefix("warning: ").and_then(|l| l.split_once(": ")).map_or(line, |(_, m)| m);
            format!("{krate}: build script failed: {line}")
        }
        None => format!("{krate}: build script failed"),
    };
    Hit::new(FailureClass::BuildScriptFailed, summary, lines)
}

fn compile_error(log: &Log, _: ExitInfo) -> Option<Hit> {
    let is_error = |l: &str| {
        (l.starts_with("error[E") || l.starts_with("error: "))
            && !l.starts_with(COULD_NOT_COMPILE)
            && !l.starts_with("error: aborting")
            && !l.contains("warnings emitted")
    };
    // Cargo ends every rustc failure with `could not compile`; other top-level `error:` lines alone
    // are cargo's own (manifest, resolver) and fall through to `unknown`.
    let done = log.find(|l| l.starts_with(COULD_NOT_COMPILE));
    let errors = if done.is_empty() { log.find(|l| l.starts_with("error[E")) } else { log.find(is_error) };
    if errors.is_empty() && done.is_empty() {
        return None;
    }
    let ice = log.first(|l| l.contains("internal compiler error") || l.contains("thread 'rustc' panicked"));
    let mut lines = errors.clone();
    lines.extend(errors.iter().filter_map(|&j| location_after(log, j)));
    lines.extend(&done);
    lines.extend(ice);
    let first = ice.or(errors.first().copied()).or(done.first().copied())?;
    let krate = crate_of_error(log, first);
    let summary = match (ice, errors.len()) {
        (Some(j), _) => format!("{krate}: rustc crashed: {}", log.lines[j].trim()),
        (None, 0) => strip_error(&log.lines[first]).to_string(),
        (None, 1) => format!("{krate}: {}", log.lines[first]),
        (None, n) => format!("{krate}: {} (and {} more errors)", log.lines[first], n - 1),
    };
    Hit::new(FailureClass::CompileError, summary, lines)
}

fn no_executables(log: &Log, _: ExitInfo) -> Option<Hit> {
    const PATTERNS: &[&str] = &[
        "no bin target named",
        "no packages found with binaries",
        "there is nothing to install in",
        "a bin target must be available",
        "specified, but no targets matched",
    ];
    let lines = log.find(|l| PATTERNS.iter().any(|p| l.contains(p)));
    let &i = lines.first()?;
    let summary = format!("the crate has no binary targets ({})", strip_error(log.lines[i].trim()));
    Hit::new(FailureClass::NoExecutables, summary, lines)
}

fn unknown(log: &Log, exit: ExitInfo) -> Hit {
    let mut lines = tail(log, TAIL_EVIDENCE, |l| l.to_ascii_lowercase().contains("error"));
    if lines.is_empty() {
        lines = tail(log, TAIL_EVIDENCE, |l| !l.trim().is_empty());
    }
    let how = match (exit.code, exit.signal) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(s)) => format!("signal {s}"),
        (None, None) => "no exit status".to_string(),
    };
    let summary = match lines.last() {
        Some(&i) => format!("unrecognised failure ({how}): {}", log.lines[i].trim()),
        None => format!("unrecognised failure ({how}), empty log"),
    };
    Hit { class: FailureClass::Unknown, summary, lines }
}

/// The line numbers of the last `n` lines that satisfy `pred`, in log order.
fn tail(log: &Log, n: usize, pred: impl Fn(&str) -> bool) -> Vec<usize> {
    let mut lines = log.find(pred);
    let skip = lines.len().saturating_sub(n);
    lines.drain(..skip);
    lines
}

/// rustc's ` --> src/main.rs:2:18` line right after an error header.
fn location_after(log: &Log, i: usize) -> Option<usize> {
    log.lines.get(i + 1).filter(|l| l.trim_start().starts_with("-->")).map(|_| i + 1)
}

/// The crate whose compilation reported the error at line `i`: the next `could not compile` line.
fn crate_of_error(log: &Log, i: usize) -> String {
    match log.lines[i..].iter().find(|l| l.starts_with(COULD_NOT_COMPILE)) {
        Some(l) => crate_in_backticks(l),
        None => log.crate_for(i),
    }
}

/// `error: could not compile `ce` (bin "ce")` → `ce`; `... for `alsa-sys v0.3.1`` → `alsa-sys`.
fn crate_in_backticks(line: &str) -> String {
    between(line, "`", "`").and_then(|s| s.split_whitespace().next()).unwrap_or("?").to_string()
}

/// The text between the first `open` and the next `close` after it.
fn between<'a>(line: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let (_, rest) = line.split_once(open)?;
    rest.split_once(close).map(|(inner, _)| inner)
}

fn strip_error(line: &str) -> &str {
    line.strip_prefix("error: ").unwrap_or(line)
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `s` cut to at most `max` characters (on a char boundary), marked with `…` when cut.
fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

/// Remove ANSI CSI sequences (`ESC [ ... final-byte`), as cargo prints with `--color always`.
fn strip_ansi(line: &str) -> String {
    if !line.contains('\x1b') {
        return line.to_string();
    }
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if ('\x40'..='\x7e').contains(&c) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_prefix_is_stripped_only_when_well_formed() {
        assert_eq!(strip_timestamp("[+12.345s] error: x"), "error: x");
        assert_eq!(strip_timestamp("[+0s] a"), "a");
        assert_eq!(strip_timestamp("[+x.1s] a"), "[+x.1s] a");
        assert_eq!(strip_timestamp("[+1.0s]a"), "[+1.0s]a");
        assert_eq!(strip_timestamp("  Compiling x"), "  Compiling x");
    }

    #[test]
    fn ansi_colours_are_removed() {
        assert_eq!(strip_ansi("\x1b[1m\x1b[91merror[E0308]\x1b[0m: mismatched"), "error[E0308]: mismatched");
    }

    #[test]
    fn helpers_extract_names() {
        assert_eq!(crate_in_backticks("error: failed to run custom build command for `alsa-sys v0.3.1`"), "alsa-sys");
        assert_eq!(library_flag("= note: /usr/bin/ld.bfd: cannot find -lssl: No such file or directory"), "-lssl");
        assert_eq!(library_flag("= note: rust-lld: error: unable to find library -lz"), "-lz");
        assert_eq!(missing_header("x.c:1:10: fatal error: sndfile.h: No such file or directory"), Some("sndfile.h"));
        assert_eq!(missing_header("x.c:1:10: fatal error: 'zlib.h' file not found"), Some("zlib.h"));
        assert_eq!(missing_header("cc1: fatal error: src/x.c: No such file or directory"), None);
        assert!(is_alloc_failure("  memory allocation of 35184372088832 bytes failed"));
        assert!(!is_alloc_failure("memory allocation of many bytes failed"));
        assert!(is_killed_notice("bash: line 1: 14912 Killed                  timeout -s KILL 2 cargo build"));
        assert!(is_killed_notice("Killed"));
        assert!(!is_killed_notice("error: the process was Killed by the user"));
    }

    #[test]
    fn long_lines_are_cut_and_summary_is_one_line() {
        let long = format!("error: linking with `cc` failed: exit status: 1\n  = note: {}\n", "\"-lfoo\" ".repeat(200));
        let c = classify(&long, ExitInfo::code(101));
        assert!(c.evidence.iter().all(|l| l.chars().count() <= MAX_LINE_CHARS + 1), "{:?}", c.evidence);
        assert!(!c.summary.contains('\n'));
    }

    #[test]
    fn timeout_wins_over_everything_in_the_log() {
        let log = "[+1.0s]    Compiling foo v1.0.0\n[+2.0s] error[E0308]: mismatched types\n";
        let c = classify(log, ExitInfo::timed_out());
        assert_eq!(c.class, FailureClass::Timeout);
        assert_eq!(c.summary, "build exceeded the time limit (last step: Compiling foo v1.0.0)");
        assert!(c.evidence.iter().all(|l| !l.starts_with("[+")));
    }

    #[test]
    fn sigkill_without_log_evidence_is_out_of_resources() {
        let c = classify("   Compiling big v1.0.0\n", ExitInfo::signal(9));
        assert_eq!(c.class, FailureClass::OutOfResources);
        let c = classify("   Compiling big v1.0.0\n", ExitInfo::signal(11));
        assert_eq!(c.class, FailureClass::Unknown);
        assert!(c.summary.contains("signal 11"), "{}", c.summary);
    }

    #[test]
    fn empty_log_is_unknown_with_a_summary() {
        let c = classify("", ExitInfo::code(101));
        assert_eq!(c.class, FailureClass::Unknown);
        assert_eq!(c.summary, "unrecognised failure (exit code 101), empty log");
        assert!(c.evidence.is_empty());
    }

    #[test]
    fn os_errors_saying_not_supported_are_not_unsupported_targets() {
        // Synthesized in cargo's shape: a build script hitting EOPNOTSUPP on a filesystem.
        let log = "error: failed to run custom build command for `fs-sys v1.0.0`\n\nCaused by:\n  process didn't exit successfully: `build-script-build` (exit status: 101)\n  --- stderr\n  thread 'main' panicked at build.rs:3:5:\n  hard link failed: Operation not supported (os error 95)\n";
        let c = classify(log, ExitInfo::code(101));
        assert_eq!(c.class, FailureClass::BuildScriptFailed, "{}", c.summary);
        assert_eq!(c.summary, "fs-sys: build script failed: hard link failed: Operation not supported (os error 95)");
    }

    #[test]
    fn rules_are_in_documented_order() {
        let names: Vec<&str> = RULES.iter().map(|(n, _)| *n).collect();
        let doc = include_str!("classify.rs");
        let mut last = 0;
        for name in names {
            let at =
                doc.find(&format!("| {name}")).unwrap_or_else(|| panic!("rule `{name}` missing from the doc table"));
            assert!(at > last, "rule `{name}` is out of order in the doc table");
            last = at;
        }
    }
}
