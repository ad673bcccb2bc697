//! The one rule for files crate code could have touched: after crate code has run, cratemill reads
//! nothing from a package or work folder except through this module. It opens the file without
//! following a link (`O_NOFOLLOW`), without blocking on a FIFO (`O_NONBLOCK`), checks with `fstat`
//! that it is a regular file no larger than the caller's cap, reads at most cap + 1 bytes and stops
//! at the caller's deadline. A link to `/proc/self/environ`, a FIFO, a device or a 3 GiB sparse file
//! is refused in microseconds with one line naming the path and why (docs/security.md, "The one
//! rule for reading untrusted files").
//!
//! Layer 1. The decisions are pure ([`Kind::of_mode`], [`check`], [`printable`]); the I/O edge is
//! `open(2)`, `fstat(2)`, `read(2)` and `lstat(2)` on the path it is given, nothing else.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Component, Path};
use std::time::{Duration, Instant};

pub const KIB: u64 = 1 << 10;
pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;

/// A JSON document (`result.json`, `publish.json`, a plan of every crate, a chunk, an index).
pub const DOCUMENT_CAP: u64 = 256 * MIB;
/// A package's `result.json` (attempts, evidence lines and file lists of one build).
pub const RESULT_CAP: u64 = 16 * MIB;
/// `CHECKSUMS` (two lines of ~100 bytes per file of a package).
pub const CHECKSUMS_CAP: u64 = 4 * MIB;
/// One license file of a crate.
pub const LICENSE_CAP: u64 = 4 * MIB;
/// A `Cargo.lock` a build resolved.
pub const LOCK_CAP: u64 = 16 * MIB;
/// One executable a build produced.
pub const EXECUTABLE_CAP: u64 = GIB;
/// The longest line kept whole from a build's output; a longer one is split into pieces this long.
pub const MAX_LINE: usize = 4 * KIB as usize;
/// How long a read that has no deadline of its own (publish, install) may take.
pub const READ_TIME: Duration = Duration::from_secs(600);

/// What `fstat`/`lstat` says a path is. A closed set: the refusal names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Regular,
    Directory,
    Link,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
}

impl Kind {
    /// Pure: the kind from a file type.
    pub fn of(t: std::fs::FileType) -> Kind {
        if t.is_symlink() {
            Kind::Link
        } else if t.is_dir() {
            Kind::Directory
        } else if t.is_fifo() {
            Kind::Fifo
        } else if t.is_socket() {
            Kind::Socket
        } else if t.is_char_device() {
            Kind::CharDevice
        } else if t.is_block_device() {
            Kind::BlockDevice
        } else {
            Kind::Regular
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Regular => "a regular file",
            Kind::Directory => "a folder",
            Kind::Link => "a symbolic link",
            Kind::Fifo => "a FIFO",
            Kind::Socket => "a socket",
            Kind::CharDevice => "a character device",
            Kind::BlockDevice => "a block device",
        }
    }
}

/// Why a file was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotRegular(Kind),
    TooLarge {
        size: u64,
        cap: u64,
    },
    /// The file held more than `cap` bytes although `fstat` said it did not (a `/proc` or growing file).
    Grew {
        cap: u64,
    },
    /// A folder on the way to it is a link.
    LinkOnTheWay(String),
    /// Its path climbs out of the tree it must be in (`..`).
    Climbs,
    Deadline,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotRegular(kind) => write!(f, "it is {}, not a regular file", kind.name()),
            Refusal::TooLarge { size, cap } => write!(f, "it is {size} bytes, over the {cap}-byte limit"),
            Refusal::Grew { cap } => write!(f, "it holds more than its size says, over the {cap}-byte limit"),
            Refusal::LinkOnTheWay(c) => write!(f, "`{c}` on the way to it is a symbolic link"),
            Refusal::Climbs => write!(f, "its path leaves the folder it must be in"),
            Refusal::Deadline => write!(f, "reading it did not finish before the time limit"),
        }
    }
}

/// Pure: may a file of `kind` and `size` be read under `cap`?
pub fn check(kind: Kind, size: u64, cap: u64) -> Result<(), Refusal> {
    if kind != Kind::Regular {
        return Err(Refusal::NotRegular(kind));
    }
    if size > cap {
        return Err(Refusal::TooLarge { size, cap });
    }
    Ok(())
}

/// The one-line error for a refused path: `InvalidData` (`TimedOut` for the deadline), so that
/// callers treating `NotFound` as "absent" still refuse everything else.
pub fn refused(path: &Path, why: Refusal) -> io::Error {
    let kind = if why == Refusal::Deadline { io::ErrorKind::TimedOut } else { io::ErrorKind::InvalidData };
    io::Error::new(kind, format!("refusing to read {}: {why}", path.display()))
}

/// Open `path` as a regular file of at most `cap` bytes, without following a link or blocking on
/// a FIFO. Returns the file and its size. A missing file is `NotFound`.
pub fn open_regular(path: &Path, cap: u64) -> io::Result<(File, u64)> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            // O_NOFOLLOW on a link: ELOOP.
            Some(libc::ELOOP) => refused(path, Refusal::NotRegular(Kind::Link)),
            _ => io::Error::new(e.kind(), format!("opening {}: {e}", path.display())),
        })?;
    let meta = file.metadata().map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    check(Kind::of(meta.file_type()), meta.len(), cap).map_err(|why| refused(path, why))?;
    Ok((file, meta.len()))
}

/// Read a regular file of at most `cap` bytes (see [`open_regular`]) before `deadline`.
pub fn read_regular(path: &Path, cap: u64, deadline: Instant) -> io::Result<Vec<u8>> {
    let (file, size) = open_regular(path, cap)?;
    let mut out = Vec::with_capacity(size.min(cap) as usize);
    copy_bounded(file, &mut out, path, cap, deadline)?;
    Ok(out)
}

/// [`read_regular`], with a missing file as `None`.
pub fn read_regular_opt(path: &Path, cap: u64, deadline: Instant) -> io::Result<Option<Vec<u8>>> {
    match read_regular(path, cap, deadline) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Copy a regular file of at most `cap` bytes into `to`, streamed; returns the bytes copied.
pub fn copy_regular(path: &Path, to: &mut impl Write, cap: u64, deadline: Instant) -> io::Result<u64> {
    let (file, _) = open_regular(path, cap)?;
    copy_bounded(file, to, path, cap, deadline)
}

/// Copy a regular file of at most `cap` bytes to a new file `to` (never through an existing file or
/// link), keeping its executable bits; returns the bytes copied.
pub fn copy_file(from: &Path, to: &Path, cap: u64, deadline: Instant) -> io::Result<u64> {
    use std::os::unix::fs::PermissionsExt;
    let (file, _) = open_regular(from, cap)?;
    let mode = file.metadata()?.permissions().mode() & 0o755;
    let mut out = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(to)?;
    let n = copy_bounded(file, &mut out, from, cap, deadline)?;
    out.sync_all()?;
    Ok(n)
}

/// Copy at most `cap` bytes from `from`, refusing a `cap + 1`th byte and a passed deadline.
fn copy_bounded(mut from: impl Read, to: &mut impl Write, path: &Path, cap: u64, deadline: Instant) -> io::Result<u64> {
    let mut buf = vec![0u8; 256 * KIB as usize];
    let mut total = 0u64;
    loop {
        if Instant::now() > deadline {
            return Err(refused(path, Refusal::Deadline));
        }
        let want = usize::try_from(cap.saturating_add(1) - total).map_or(buf.len(), |left| buf.len().min(left));
        let n = match from.read(&mut buf[..want]) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io::Error::new(e.kind(), format!("reading {}: {e}", path.display()))),
        };
        total += n as u64;
        if total > cap {
            return Err(refused(path, Refusal::Grew { cap }));
        }
        to.write_all(&buf[..n])?;
    }
}

/// Check that no folder on the way from `root` (trusted: crate code cannot replace it) to `path`
/// is a link; the last component is left to [`open_regular`] (or checked here too when `dir`).
/// A `path` outside `root` is checked from its own last component only.
pub fn check_beneath(root: &Path, path: &Path, dir: bool) -> io::Result<()> {
    let Ok(rel) = path.strip_prefix(root) else {
        return if dir { check_plain_dir(path, path) } else { Ok(()) };
    };
    let parts: Vec<Component> = rel.components().collect();
    let mut at = root.to_path_buf();
    let folders = if dir { parts.len() } else { parts.len().saturating_sub(1) };
    for part in &parts[..folders] {
        let Component::Normal(name) = part else {
            return Err(refused(path, Refusal::Climbs));
        };
        at.push(name);
        check_plain_dir(&at, path)?;
    }
    Ok(())
}

fn check_plain_dir(at: &Path, path: &Path) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(at).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", at.display())))?;
    match Kind::of(meta.file_type()) {
        Kind::Directory => Ok(()),
        Kind::Link => Err(refused(path, Refusal::LinkOnTheWay(at.display().to_string()))),
        other => Err(refused(path, Refusal::NotRegular(other))),
    }
}

/// [`check_beneath`] then [`read_regular_opt`]: a file inside a tree crate code could write.
pub fn read_beneath(root: &Path, path: &Path, cap: u64, deadline: Instant) -> io::Result<Option<Vec<u8>>> {
    match check_beneath(root, path, false) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        other => other?,
    }
    read_regular_opt(path, cap, deadline)
}

/// A folder crate code could write (a job's work folder), whose own path it cannot replace (it is
/// the sandbox's mount point), and the time by which reads from it must end.
#[derive(Debug, Clone)]
pub struct Tree {
    pub root: std::path::PathBuf,
    pub deadline: Instant,
}

impl Tree {
    /// Reads must end by `deadline`, or [`GRACE`] from now if that is later.
    pub fn new(root: &Path, deadline: Instant) -> Tree {
        Tree { root: root.to_path_buf(), deadline: grace(deadline) }
    }

    /// A regular file of at most `cap` bytes under the tree, no link anywhere on the way; `None` when absent.
    pub fn read(&self, path: &Path, cap: u64) -> io::Result<Option<Vec<u8>>> {
        read_beneath(&self.root, path, cap, self.deadline)
    }

    /// A folder under the tree reached without a link.
    pub fn check_dir(&self, path: &Path) -> io::Result<()> {
        check_beneath(&self.root, path, true)
    }
}

/// Read one line of at most `max` bytes into `buf` (appended, newline included when there was one).
/// A longer line comes back in pieces of `max` bytes: memory stays bounded whatever the input.
/// Returns the bytes read; 0 at the end.
pub fn read_line(reader: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
    reader.take(max as u64).read_until(b'\n', buf)
}

/// [`read_line`] for an async reader (a build's output stream).
pub async fn read_line_async<R>(reader: &mut R, buf: &mut Vec<u8>) -> io::Result<usize>
where
    R: tokio::io::AsyncBufRead + Unpin,
{
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    reader.take(MAX_LINE as u64).read_until(b'\n', buf).await
}

/// Pure: untrusted text made safe to print on a console or in a runner log: a CR (which the
/// Actions runner treats as a line break, letting text start a workflow command) becomes `\r`,
/// and other control characters (terminal escape sequences) become `\xNN` / `\u{NN}`. Tabs stay.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c != '\t' && c != '\n' && (c.is_control() || c == '\u{2028}' || c == '\u{2029}');
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            c if unsafe_char(c) && (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The deadline for a read that has none of its own.
pub fn deadline() -> Instant {
    Instant::now() + READ_TIME
}

/// The least time a read after the build gets, even when the build used up the job's time limit:
/// a FIFO or device is refused at once whatever the deadline; this only bounds a slow regular file.
pub const GRACE: Duration = Duration::from_secs(60);

/// `deadline`, or [`GRACE`] from now when that is later (a job's packaging after a build that
/// ended just before its time limit still reads its files).
pub fn grace(deadline: Instant) -> Instant {
    deadline.max(Instant::now() + GRACE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(30)
    }

    #[test]
    fn reads_a_regular_file_and_refuses_links_fifos_devices_and_big_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("ok"), b"hello").unwrap();
        assert_eq!(read_regular(&d.join("ok"), 5, soon()).unwrap(), b"hello");
        let err = read_regular(&d.join("ok"), 4, soon()).unwrap_err();
        assert!(err.to_string().contains("5 bytes, over the 4-byte limit"), "{err}");

        std::os::unix::fs::symlink("/proc/self/environ", d.join("link")).unwrap();
        let err = read_regular(&d.join("link"), MIB, soon()).unwrap_err();
        assert!(err.to_string().ends_with("it is a symbolic link, not a regular file"), "{err}");

        let fifo = std::ffi::CString::new(d.join("fifo").to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let started = Instant::now();
        let err = read_regular(&d.join("fifo"), MIB, soon()).unwrap_err();
        assert!(err.to_string().contains("it is a FIFO"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(1), "a FIFO must not block");

        let err = read_regular(Path::new("/dev/zero"), MIB, soon()).unwrap_err();
        assert!(err.to_string().contains("a character device"), "{err}");

        let sparse = File::create(d.join("sparse")).unwrap();
        sparse.set_len(3 * GIB).unwrap();
        let err = read_regular(&d.join("sparse"), MIB, soon()).unwrap_err();
        assert!(err.to_string().contains("3221225472 bytes, over the 1048576-byte limit"), "{err}");
        assert_eq!(read_regular_opt(&d.join("absent"), MIB, soon()).unwrap(), None);
        assert!(copy_file(&d.join("link"), &d.join("copy"), MIB, soon()).is_err());
        assert!(!d.join("copy").exists());
        assert_eq!(copy_file(&d.join("ok"), &d.join("copy"), MIB, soon()).unwrap(), 5);
        assert!(copy_file(&d.join("ok"), &d.join("copy"), MIB, soon()).is_err(), "never through an existing file");
        assert_eq!(read_regular(&d.join("ok"), u64::MAX, soon()).unwrap(), b"hello", "no cap overflows");
    }

    #[test]
    fn a_file_larger_than_its_size_says_is_cut_at_the_cap() {
        // /proc files say size 0 and hold more.
        let err = read_regular(Path::new("/proc/self/status"), 16, soon()).unwrap_err();
        assert!(err.to_string().contains("holds more than its size says"), "{err}");
        let err = read_regular(Path::new("/proc/self/status"), MIB, Instant::now() - Duration::from_secs(1));
        assert_eq!(err.unwrap_err().kind(), io::ErrorKind::TimedOut);
    }

    #[test]
    fn a_deadline_already_passed_still_leaves_the_grace() {
        let past = Instant::now() - Duration::from_secs(5);
        assert!(grace(past) > Instant::now() + GRACE - Duration::from_secs(1));
        let later = Instant::now() + Duration::from_secs(3600);
        assert_eq!(grace(later), later);
        assert!(Tree::new(Path::new("/"), past).deadline > Instant::now());
    }

    #[test]
    fn a_link_on_the_way_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("real/sub")).unwrap();
        std::fs::write(d.join("real/sub/f"), b"x").unwrap();
        std::os::unix::fs::symlink(d.join("real"), d.join("alias")).unwrap();
        assert_eq!(read_beneath(d, &d.join("real/sub/f"), 1, soon()).unwrap().unwrap(), b"x");
        let err = read_beneath(d, &d.join("alias/sub/f"), 1, soon()).unwrap_err();
        assert!(err.to_string().contains("alias` on the way to it is a symbolic link"), "{err}");
        assert!(check_beneath(d, &d.join("alias"), true).is_err());
        assert!(check_beneath(d, &d.join("real/sub"), true).is_ok());
        assert_eq!(read_beneath(d, &d.join("nothing/f"), 1, soon()).unwrap(), None);
        let err = read_beneath(d, &d.join("real/../../etc/f"), 1, soon()).unwrap_err();
        assert!(err.to_string().ends_with("its path leaves the folder it must be in"), "{err}");
    }

    #[test]
    fn lines_are_bounded() {
        let input = format!("short\n{}\nend", "x".repeat(10));
        let mut reader = io::BufReader::new(input.as_bytes());
        let mut pieces = Vec::new();
        let mut buf = Vec::new();
        while read_line(&mut reader, &mut buf, 4).unwrap() > 0 {
            pieces.push(String::from_utf8(std::mem::take(&mut buf)).unwrap());
        }
        assert_eq!(pieces, ["shor", "t\n", "xxxx", "xxxx", "xx\n", "end"]);
    }

    #[test]
    fn printable_escapes_cr_and_terminal_controls() {
        assert_eq!(printable("plain\ttext"), "plain\ttext");
        assert_eq!(printable("ok\r::error::forged"), "ok\\r::error::forged");
        assert_eq!(printable("\x1b]0;title\x07"), "\\x1b]0;title\\x07");
        assert_eq!(printable("a\u{9b}b\u{2028}"), "a\\x9bb\\u{2028}");
    }
}
