//! A local sparse registry for tests: an HTTP/1.1 server on 127.0.0.1 (random port) serving
//! `config.json`, index files at cargo's prefix paths, and `.crate` downloads built in the test.
//!
//! ```ignore
//! mod support;
//! use support::sparse_registry::{SparseRegistry, TestCrate, Fault};
//!
//! let reg = SparseRegistry::start(vec![
//!     TestCrate::binary("hello", "1.0.0"),                       // Cargo.toml + src/main.rs
//!     TestCrate::new("hello", "1.1.0").file("Cargo.toml", "...").yanked(true),
//!     TestCrate::new("evil", "0.1.0").raw_file("../../escape", "x"),  // path traversal
//!     TestCrate::new("bad", "0.1.0").file("a", "x").tampered(),       // cksum mismatch
//! ]);
//! let index = cratemill::crates_io::Index::open(&reg.index_url()).await?;
//! reg.fail_next(&SparseRegistry::download_path("hello", "1.0.0"), 2, Fault::Status(503));
//! assert_eq!(reg.hits(&SparseRegistry::download_path("hello", "1.0.0")), 3);
//! ```
//!
//! Layout: `config.json` at `/index/config.json` with `dl` = `http://127.0.0.1:PORT/dl` (no
//! markers, so clients append `/{crate}/{version}/download`), index files at
//! `/index/{lowerprefix}/{lowercase name}`, downloads at `/dl/{name}/{version}/download`.
//! Unknown paths get 404; every response has `Content-Length` and `Connection: close`.
//! The server stops when the `SparseRegistry` is dropped.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use sha2::{Digest, Sha256};

/// One tar entry of a [`TestCrate`]. Paths are relative to the top folder `{name}-{version}/`
/// unless the variant says "raw".
#[derive(Debug, Clone)]
enum Entry {
    File {
        path: String,
        contents: Vec<u8>,
        mode: u32,
    },
    /// Written verbatim into the header (may be absolute or contain `..`).
    RawFile {
        path: Vec<u8>,
        contents: Vec<u8>,
    },
    Dir {
        path: String,
    },
    /// `target` is written verbatim.
    Symlink {
        path: String,
        target: Vec<u8>,
    },
    /// `target` is a raw archive path, written verbatim.
    Hardlink {
        path: String,
        target: Vec<u8>,
    },
    CharDevice {
        path: String,
    },
    Fifo {
        path: String,
    },
    /// `size` zero bytes: compresses to almost nothing (a zip bomb in miniature).
    Zeros {
        path: String,
        size: u64,
    },
}

/// A crate version to publish in a [`SparseRegistry`]: its files and its index line.
#[derive(Debug, Clone)]
pub struct TestCrate {
    pub name: String,
    pub version: String,
    entries: Vec<Entry>,
    yanked: bool,
    features: BTreeMap<String, Vec<String>>,
    deps: Vec<serde_json::Value>,
    links: Option<String>,
    rust_version: Option<String>,
    tampered: bool,
    index_name: Option<String>,
}

impl TestCrate {
    /// An empty crate (no files at all; add them with the builder methods).
    pub fn new(name: &str, version: &str) -> TestCrate {
        TestCrate {
            name: name.to_string(),
            version: version.to_string(),
            entries: Vec::new(),
            yanked: false,
            features: BTreeMap::new(),
            deps: Vec::new(),
            links: None,
            rust_version: None,
            tampered: false,
            index_name: None,
        }
    }

    /// A buildable binary crate with no dependencies: `Cargo.toml` (license MIT) and a
    /// `src/main.rs` that prints `{name} {version}` for `--version` and a usage line otherwise.
    pub fn binary(name: &str, version: &str) -> TestCrate {
        let manifest = format!(
            "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\nlicense = \"MIT\"\n\
             description = \"test crate\"\n\n[[bin]]\nname = \"{name}\"\npath = \"src/main.rs\"\n"
        );
        let main = format!(
            "fn main() {{\n    if std::env::args().any(|a| a == \"--version\") {{\n        \
             println!(\"{name} {version}\");\n    }} else {{\n        println!(\"usage: {name} [--version]\");\n    }}\n}}\n"
        );
        TestCrate::new(name, version).file("Cargo.toml", manifest).file("src/main.rs", main)
    }

    /// The top folder every entry lives in: `{name}-{version}`.
    pub fn top(&self) -> String {
        format!("{}-{}", self.name, self.version)
    }

    /// A regular file (mode 0644) at `path` under the top folder.
    pub fn file(self, path: &str, contents: impl AsRef<[u8]>) -> TestCrate {
        self.file_with_mode(path, contents, 0o644)
    }

    /// A regular file with the given mode bits (e.g. `0o4755` to test setuid stripping).
    pub fn file_with_mode(mut self, path: &str, contents: impl AsRef<[u8]>, mode: u32) -> TestCrate {
        self.entries.push(Entry::File { path: path.into(), contents: contents.as_ref().to_vec(), mode });
        self
    }

    /// An explicit directory entry under the top folder.
    pub fn dir(mut self, path: &str) -> TestCrate {
        self.entries.push(Entry::Dir { path: path.into() });
        self
    }

    /// A file whose header path is `raw_path` verbatim: `../../x`, `/etc/x`, `other-top/x`.
    pub fn raw_file(mut self, raw_path: &str, contents: impl AsRef<[u8]>) -> TestCrate {
        self.entries.push(Entry::RawFile { path: raw_path.as_bytes().to_vec(), contents: contents.as_ref().to_vec() });
        self
    }

    /// A symbolic link at `path` (under the top folder) pointing to `target` verbatim.
    pub fn symlink(mut self, path: &str, target: &str) -> TestCrate {
        self.entries.push(Entry::Symlink { path: path.into(), target: target.as_bytes().to_vec() });
        self
    }

    /// A hard link at `path` (under the top folder) to the raw archive path `target`
    /// (e.g. `"{top}/src/main.rs"` or `"/etc/passwd"`).
    pub fn hardlink(mut self, path: &str, target: &str) -> TestCrate {
        self.entries.push(Entry::Hardlink { path: path.into(), target: target.as_bytes().to_vec() });
        self
    }

    /// A character device entry (major 1, minor 3: /dev/null's numbers).
    pub fn char_device(mut self, path: &str) -> TestCrate {
        self.entries.push(Entry::CharDevice { path: path.into() });
        self
    }

    /// A FIFO entry.
    pub fn fifo(mut self, path: &str) -> TestCrate {
        self.entries.push(Entry::Fifo { path: path.into() });
        self
    }

    /// A file of `size` zero bytes (cheap to build, tiny compressed: for size caps).
    pub fn zeros(mut self, path: &str, size: u64) -> TestCrate {
        self.entries.push(Entry::Zeros { path: path.into(), size });
        self
    }

    pub fn yanked(mut self, yanked: bool) -> TestCrate {
        self.yanked = yanked;
        self
    }

    /// Adds feature `name` enabling `enables` to the index line.
    pub fn feature(mut self, name: &str, enables: &[&str]) -> TestCrate {
        self.features.insert(name.into(), enables.iter().map(|s| s.to_string()).collect());
        self
    }

    /// Adds a dependency of `kind` (`normal`, `build`, `dev`), for `target` (a `cfg(...)`) or every
    /// platform, to the index line (not to any Cargo.toml).
    pub fn dep_of(mut self, name: &str, req: &str, kind: &str, target: Option<&str>) -> TestCrate {
        self.deps.push(serde_json::json!({
            "name": name, "req": req, "features": [], "optional": false,
            "default_features": true, "target": target, "kind": kind
        }));
        self
    }

    /// Adds a normal dependency `name = req` to the index line (not to any Cargo.toml).
    pub fn dep(mut self, name: &str, req: &str) -> TestCrate {
        self.deps.push(serde_json::json!({
            "name": name, "req": req, "features": [], "optional": false,
            "default_features": true, "target": null, "kind": "normal"
        }));
        self
    }

    pub fn links(mut self, links: &str) -> TestCrate {
        self.links = Some(links.into());
        self
    }

    pub fn rust_version(mut self, v: &str) -> TestCrate {
        self.rust_version = Some(v.into());
        self
    }

    /// Serves a `.crate` whose bytes differ from the checksum in the index.
    pub fn tampered(mut self) -> TestCrate {
        self.tampered = true;
        self
    }

    /// Writes `name` into the index line instead of the real name (to test index validation).
    pub fn index_name(mut self, name: &str) -> TestCrate {
        self.index_name = Some(name.into());
        self
    }

    /// The `.crate` file: a gzip tar of the entries, in the order they were added.
    pub fn crate_bytes(&self) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        let top = self.top();
        let under_top = |p: &str| format!("{top}/{p}").into_bytes();
        for entry in &self.entries {
            let (path, kind, mode, link, size): (Vec<u8>, tar::EntryType, u32, Option<&[u8]>, u64) = match entry {
                Entry::File { path, contents, mode } => {
                    (under_top(path), tar::EntryType::Regular, *mode, None, contents.len() as u64)
                }
                Entry::RawFile { path, contents } => {
                    (path.clone(), tar::EntryType::Regular, 0o644, None, contents.len() as u64)
                }
                Entry::Dir { path } => (under_top(path), tar::EntryType::Directory, 0o755, None, 0),
                Entry::Symlink { path, target } => (under_top(path), tar::EntryType::Symlink, 0o777, Some(target), 0),
                Entry::Hardlink { path, target } => (under_top(path), tar::EntryType::Link, 0o644, Some(target), 0),
                Entry::CharDevice { path } => (under_top(path), tar::EntryType::Char, 0o666, None, 0),
                Entry::Fifo { path } => (under_top(path), tar::EntryType::Fifo, 0o644, None, 0),
                Entry::Zeros { path, size } => (under_top(path), tar::EntryType::Regular, 0o644, None, *size),
            };
            let mut header = tar::Header::new_ustar();
            set_raw(&mut header.as_old_mut().name, &path);
            if let Some(link) = link {
                set_raw(&mut header.as_old_mut().linkname, link);
            }
            header.set_entry_type(kind);
            header.set_mode(mode);
            header.set_size(size);
            header.set_mtime(1_700_000_000);
            header.set_uid(0);
            header.set_gid(0);
            if kind == tar::EntryType::Char {
                header.set_device_major(1).unwrap();
                header.set_device_minor(3).unwrap();
            }
            header.set_cksum();
            let data: Box<dyn Read> = match entry {
                Entry::File { contents, .. } | Entry::RawFile { contents, .. } => Box::new(&contents[..]),
                Entry::Zeros { size, .. } => Box::new(io::repeat(0).take(*size)),
                _ => Box::new(io::empty()),
            };
            tar.append(&header, data).expect("building a test .crate in memory");
        }
        tar.into_inner().and_then(|gz| gz.finish()).expect("finishing a test .crate in memory")
    }

    /// sha256 of [`TestCrate::crate_bytes`], as the index lists it.
    pub fn cksum(&self) -> String {
        hex::encode(Sha256::digest(self.crate_bytes()))
    }

    fn index_line(&self, cksum: &str) -> String {
        serde_json::json!({
            "name": self.index_name.as_deref().unwrap_or(&self.name),
            "vers": self.version,
            "deps": self.deps,
            "cksum": cksum,
            "features": self.features,
            "yanked": self.yanked,
            "links": self.links,
            "rust_version": self.rust_version,
            "v": 2,
        })
        .to_string()
    }
}

/// Copies `bytes` into a fixed-size header field (a test bug if it does not fit).
fn set_raw(slot: &mut [u8], bytes: &[u8]) {
    assert!(bytes.len() <= slot.len(), "test tar path too long: {}", String::from_utf8_lossy(bytes));
    slot.fill(0);
    slot[..bytes.len()].copy_from_slice(bytes);
}

/// cargo's index prefix rules, written independently of cratemill's: `1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd`.
pub fn index_path(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    match n.len() {
        1 => format!("1/{n}"),
        2 => format!("2/{n}"),
        3 => format!("3/{}/{n}", &n[..1]),
        _ => format!("{}/{}/{n}", &n[..2], &n[2..4]),
    }
}

/// What the server does instead of answering normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and a short body.
    Status(u16),
    /// Announce the full Content-Length, send half the body, close the connection.
    Truncate,
}

struct Response {
    content_type: &'static str,
    body: Vec<u8>,
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Response>,
    faults: HashMap<String, (usize, Fault)>,
    requests: Vec<String>,
}

/// A running local sparse registry; stops when dropped.
pub struct SparseRegistry {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SparseRegistry {
    /// Starts serving `crates` (several versions of one name share one index file).
    pub fn start(crates: Vec<TestCrate>) -> SparseRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0 for the test registry");
        let addr = listener.local_addr().expect("local address of the test registry");
        let mut routes = HashMap::new();
        let config = serde_json::json!({ "dl": format!("http://{addr}/dl"), "api": format!("http://{addr}") });
        routes.insert(
            "/index/config.json".to_string(),
            Response { content_type: "application/json", body: config.to_string().into_bytes() },
        );
        let mut index_files: BTreeMap<String, String> = BTreeMap::new();
        for krate in &crates {
            let bytes = krate.crate_bytes();
            let cksum = hex::encode(Sha256::digest(&bytes));
            let served = if krate.tampered {
                let mut b = bytes;
                let last = b.len() - 1;
                b[last] ^= 0xff;
                b
            } else {
                bytes
            };
            let file = index_files.entry(format!("/index/{}", index_path(&krate.name))).or_default();
            file.push_str(&krate.index_line(&cksum));
            file.push('\n');
            routes.insert(
                Self::download_path(&krate.name, &krate.version),
                Response { content_type: "application/gzip", body: served },
            );
        }
        for (path, body) in index_files {
            routes.insert(path, Response { content_type: "text/plain", body: body.into_bytes() });
        }
        let state = Arc::new(Mutex::new(State { routes, ..State::default() }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || serve(listener, state, stop))
        };
        SparseRegistry { addr, state, stop, thread: Some(thread) }
    }

    /// `sparse+http://127.0.0.1:PORT/index/`, for `Index::open` / `--index-url`.
    pub fn index_url(&self) -> String {
        format!("sparse+http://{}/index/", self.addr)
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL path a `.crate` is served at: `/dl/{name}/{version}/download`.
    pub fn download_path(name: &str, version: &str) -> String {
        format!("/dl/{name}/{version}/download")
    }

    /// The URL path of a crate's index file: `/index/{prefix}/{name}`.
    pub fn index_file_path(name: &str) -> String {
        format!("/index/{}", index_path(name))
    }

    /// The next `times` requests for `path` get `fault` instead of the normal answer.
    pub fn fail_next(&self, path: &str, times: usize, fault: Fault) {
        self.state.lock().unwrap().faults.insert(path.to_string(), (times, fault));
    }

    /// Serves `body` at `path` (200), replacing what was there.
    pub fn set_route(&self, path: &str, body: impl Into<Vec<u8>>) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), Response { content_type: "application/octet-stream", body: body.into() });
    }

    /// Every request path received so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    /// How many requests for `path` were received.
    pub fn hits(&self, path: &str) -> usize {
        self.state.lock().unwrap().requests.iter().filter(|p| *p == path).count()
    }

    /// A `sparse+http://127.0.0.1:PORT/` URL where nothing listens (the port was bound and released).
    pub fn unreachable_index_url() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        drop(listener);
        format!("sparse+http://{addr}/")
    }
}

impl Drop for SparseRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(listener: TcpListener, state: Arc<Mutex<State>>, stop: Arc<AtomicBool>) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let state = state.clone();
        std::thread::spawn(move || {
            let _ = handle(stream, &state);
        });
    }
}

/// Reads one request and answers it; the connection is closed afterwards.
fn handle(stream: TcpStream, state: &Mutex<State>) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Headers: read and ignore, bounded.
    for _ in 0..100 {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("").to_string();
    let mut out = stream;
    if method != "GET" {
        return respond(&mut out, 405, "text/plain", b"only GET\n", false);
    }
    let (fault, found) = {
        let mut st = state.lock().unwrap();
        st.requests.push(path.clone());
        let fault = match st.faults.get_mut(&path) {
            Some((n, f)) if *n > 0 => {
                *n -= 1;
                Some(*f)
            }
            _ => None,
        };
        let found = st.routes.get(&path).map(|r| (r.content_type, r.body.clone()));
        (fault, found)
    };
    match (fault, found) {
        (Some(Fault::Status(code)), _) => respond(&mut out, code, "text/plain", b"injected fault\n", false),
        (Some(Fault::Truncate), Some((ct, body))) => respond(&mut out, 200, ct, &body, true),
        (_, Some((ct, body))) => respond(&mut out, 200, ct, &body, false),
        (_, None) => respond(&mut out, 404, "text/plain", b"not found\n", false),
    }
}

fn respond(out: &mut TcpStream, code: u16, content_type: &str, body: &[u8], truncate: bool) -> io::Result<()> {
    let reason = match code {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    out.write_all(head.as_bytes())?;
    let sent = if truncate { &body[..body.len() / 2] } else { body };
    out.write_all(sent)?;
    out.flush()?;
    if truncate {
        out.shutdown(std::net::Shutdown::Both)?;
    }
    Ok(())
}
