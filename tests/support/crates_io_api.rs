//! A crates.io API stand-in on 127.0.0.1 for `report --open-issues`: `GET /api/v1/crates/{name}`
//! answers `{"crate": {"name": ..., "repository": ...}}` with `https://github.com/{owner}/{name}`,
//! or the repository given for that crate (`None`: 404). It records the paths asked for and the
//! `Authorization` headers seen (none may carry the GitHub token).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

pub struct CratesIoApi {
    /// The API root to pass as `--crates-io-api` (`.../api/v1`).
    pub url: String,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl CratesIoApi {
    /// Every crate's repository is `https://github.com/{owner}/{name}` except those in `listed`.
    pub fn start(owner: &str, listed: &[(&str, Option<&str>)]) -> CratesIoApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/api/v1", listener.local_addr().unwrap());
        let listed: BTreeMap<String, Option<String>> =
            listed.iter().map(|(k, v)| (k.to_string(), v.map(str::to_string))).collect();
        let owner = owner.to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().take(200).flatten() {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                let mut auth = String::new();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                    if h.to_ascii_lowercase().starts_with("authorization:") {
                        auth = h.trim().to_string();
                    }
                }
                log.lock().unwrap().push((path.clone(), auth));
                let name = path.strip_prefix("/api/v1/crates/").unwrap_or("").to_string();
                let repo = match listed.get(&name) {
                    Some(r) => r.clone(),
                    None => Some(format!("https://github.com/{owner}/{name}")),
                };
                let (status, body) = match repo {
                    Some(r) if !name.is_empty() => {
                        (200, serde_json::json!({"crate": {"name": name, "repository": r}}).to_string())
                    }
                    _ => (404, serde_json::json!({"errors": [{"detail": "Not Found"}]}).to_string()),
                };
                let mut conn = conn;
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        CratesIoApi { url, seen }
    }

    /// (path, `Authorization` header line or empty) of every request.
    pub fn seen(&self) -> Vec<(String, String)> {
        self.seen.lock().unwrap().clone()
    }
}
