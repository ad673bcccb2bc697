//! The build log as the rules see it: timestamp prefixes and ANSI colours removed, one entry per line,
//! with the searches and text helpers the classification rules share.

/// Strip cratemill's `[+<secs>s] ` timestamp prefix from a log line, if it has one.
pub use crate::builder::log::strip_stamp as strip_timestamp;

/// The log, one cleaned line per entry: timestamp prefix and ANSI colour codes removed, right-trimmed.
pub(super) struct Log {
    pub(super) lines: Vec<String>,
}

impl Log {
    pub(super) fn new(text: &str) -> Log {
        Log { lines: text.lines().map(|l| strip_ansi(strip_timestamp(l)).trim_end().to_string()).collect() }
    }

    pub(super) fn find(&self, pred: impl Fn(&str) -> bool) -> Vec<usize> {
        self.lines.iter().enumerate().filter(|(_, l)| pred(l)).map(|(i, _)| i).collect()
    }

    pub(super) fn first(&self, pred: impl Fn(&str) -> bool) -> Option<usize> {
        self.lines.iter().position(|l| pred(l))
    }

    pub(super) fn any(&self, pred: impl Fn(&str) -> bool) -> bool {
        self.lines.iter().any(|l| pred(l))
    }

    /// Lines `from..` up to the next top-level `error`/`warning` line (at most `max` lines).
    pub(super) fn block(&self, from: usize, max: usize) -> Vec<usize> {
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
    pub(super) fn panic_messages(&self) -> Vec<usize> {
        self.find(|l| l.contains("panicked at"))
            .into_iter()
            .filter_map(|i| (i + 1..(i + 4).min(self.lines.len())).find(|&j| !self.lines[j].trim().is_empty()))
            .collect()
    }

    /// The crate a line belongs to: `warning: NAME@VER: ...` lines name it; otherwise the nearest
    /// build-script failure before (then after) the line, then the first `could not compile `x``.
    pub(super) fn crate_for(&self, idx: usize) -> String {
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

pub(super) const BUILD_SCRIPT_FAILED: &str = "error: failed to run custom build command for `";
pub(super) const COULD_NOT_COMPILE: &str = "error: could not compile `";

/// The line numbers of the last `n` lines that satisfy `pred`, in log order.
pub(super) fn tail(log: &Log, n: usize, pred: impl Fn(&str) -> bool) -> Vec<usize> {
    let mut lines = log.find(pred);
    let skip = lines.len().saturating_sub(n);
    lines.drain(..skip);
    lines
}

/// rustc's ` --> src/main.rs:2:18` line right after an error header.
pub(super) fn location_after(log: &Log, i: usize) -> Option<usize> {
    log.lines.get(i + 1).filter(|l| l.trim_start().starts_with("-->")).map(|_| i + 1)
}

/// The crate whose compilation reported the error at line `i`: the next `could not compile` line.
pub(super) fn crate_of_error(log: &Log, i: usize) -> String {
    match log.lines[i..].iter().find(|l| l.starts_with(COULD_NOT_COMPILE)) {
        Some(l) => crate_in_backticks(l),
        None => log.crate_for(i),
    }
}

/// `error: could not compile `ce` (bin "ce")` → `ce`; `... for `alsa-sys v0.3.1`` → `alsa-sys`.
pub(super) fn crate_in_backticks(line: &str) -> String {
    between(line, "`", "`").and_then(|s| s.split_whitespace().next()).unwrap_or("?").to_string()
}

/// The packages a failure names, in this order, each once: where rustc's errors are when that is a
/// registry package's source (` --> .../registry/src/<index>/NAME-VERSION/...`, with its version),
/// the package whose build script failed (`custom build command for `NAME vVERSION``), the
/// packages that did not compile (`could not compile `NAME``), and crates an error message names
/// (`cannot find type `c_long` in crate `libc``).
pub(super) fn named_packages(log: &Log) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    let mut add = |name: &str, version: Option<&str>| {
        if !name.is_empty() && !out.iter().any(|(n, _)| n == name) {
            out.push((name.to_string(), version.map(str::to_string)));
        }
    };
    for l in &log.lines {
        if l.trim_start().starts_with("-->") {
            if let Some((name, version)) = registry_package(l) {
                add(name, Some(version));
            }
        }
    }
    for l in log.lines.iter().filter(|l| l.starts_with(BUILD_SCRIPT_FAILED)) {
        let inner = between(l, "`", "`").unwrap_or("");
        let mut words = inner.split_whitespace();
        let name = words.next().unwrap_or("");
        add(name, words.next().and_then(|v| v.strip_prefix('v')));
    }
    for l in log.lines.iter().filter(|l| l.starts_with(COULD_NOT_COMPILE)) {
        add(&crate_in_backticks(l), None);
    }
    for l in log.lines.iter().filter(|l| l.starts_with("error")) {
        for (_, rest) in l.match_indices(" crate `").map(|(at, m)| l.split_at(at + m.len())) {
            add(rest.split('`').next().unwrap_or(""), None);
        }
    }
    // A link that misses one of the LFS64 symbols musl 1.2.4 removed: the `libc` crate declared it.
    if log.lines.iter().any(|l| l.split_once("undefined symbol: ").is_some_and(|(_, sym)| LFS64.contains(&sym.trim())))
    {
        add("libc", None);
    }
    out
}

/// The LFS64 names musl 1.2.4 removed from its library (kept only for dynamic linking), which the
/// `libc` crate linked to on musl before 0.2.145 (`lift::BLOCKERS`).
const LFS64: &[&str] = &[
    "creat64",
    "fallocate64",
    "fgetpos64",
    "fopen64",
    "freopen64",
    "fseeko64",
    "fsetpos64",
    "fstat64",
    "fstatat64",
    "fstatfs64",
    "fstatvfs64",
    "ftello64",
    "ftruncate64",
    "getrlimit64",
    "glob64",
    "globfree64",
    "lockf64",
    "lseek64",
    "lstat64",
    "mmap64",
    "mkostemp64",
    "mkstemp64",
    "open64",
    "openat64",
    "posix_fadvise64",
    "posix_fallocate64",
    "pread64",
    "preadv64",
    "prlimit64",
    "pwrite64",
    "pwritev64",
    "readdir64",
    "readdir64_r",
    "scandir64",
    "sendfile64",
    "setrlimit64",
    "stat64",
    "statfs64",
    "statvfs64",
    "tmpfile64",
    "truncate64",
];

/// `NAME`, `VERSION` of a path inside the registry's unpacked sources: the folder after
/// `/registry/src/<index>/`, split at the `-` after which a version follows (`x25519-dalek-2.0.0`).
pub(super) fn registry_package(line: &str) -> Option<(&str, &str)> {
    let (_, rest) = line.split_once("/registry/src/")?;
    let folder = rest.split('/').nth(1)?;
    folder
        .match_indices('-')
        .map(|(at, _)| (&folder[..at], &folder[at + 1..]))
        .find(|(name, version)| !name.is_empty() && semver::Version::parse(version).is_ok())
}

/// The text between the first `open` and the next `close` after it.
pub(super) fn between<'a>(line: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let (_, rest) = line.split_once(open)?;
    rest.split_once(close).map(|(inner, _)| inner)
}

pub(super) fn strip_error(line: &str) -> &str {
    line.strip_prefix("error: ").unwrap_or(line)
}

/// Remove ANSI CSI sequences (`ESC [ ... final-byte`), as cargo prints with `--color always`.
pub(super) fn strip_ansi(line: &str) -> String {
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
    fn crate_names_come_from_backticks() {
        assert_eq!(crate_in_backticks("error: failed to run custom build command for `alsa-sys v0.3.1`"), "alsa-sys");
        assert_eq!(crate_in_backticks("error: could not compile `ce` (bin \"ce\") due to 1 previous error"), "ce");
    }

    #[test]
    fn packages_are_named_from_registry_paths_build_scripts_and_messages() {
        let at =
            "  --> /w/cargo-home/registry/src/index.crates.io-1949cf8c6b5b557f/x25519-dalek-2.0.0-pre.1/src/lib.rs:3:1";
        assert_eq!(registry_package(at), Some(("x25519-dalek", "2.0.0-pre.1")));
        assert_eq!(registry_package("  --> src/main.rs:1:1"), None);
        let log = Log::new(&format!(
            "error[E0412]: cannot find type `c_long` in crate `libc`\n{at}\n\
             error: failed to run custom build command for `ring v0.16.20`\n\
             error: could not compile `x25519-dalek` (lib) due to 1 previous error\n"
        ));
        let named = named_packages(&log);
        let names: Vec<(&str, Option<&str>)> = named.iter().map(|(n, v)| (n.as_str(), v.as_deref())).collect();
        assert_eq!(names, [("x25519-dalek", Some("2.0.0-pre.1")), ("ring", Some("0.16.20")), ("libc", None)]);
        // ayu 0.3.0's link with today's musl (libc 0.2.66 declared open64): libc is named.
        let link = Log::new(
            "error: linking with `cc` failed: exit status: 1\n  = note: ld.lld: error: undefined symbol: open64\n",
        );
        assert_eq!(named_packages(&link), [("libc".to_string(), None)]);
        let other = Log::new(
            "error: linking with `cc` failed: exit status: 1\n  = note: ld.lld: error: undefined symbol: foo64\n",
        );
        assert_eq!(named_packages(&other), []);
    }
}
