//! A fault-injecting HTTP/1.1 proxy on 127.0.0.1 in front of a registry. One request per
//! connection (it adds `Connection: close` both ways). For each request, a seeded RNG decides:
//! answer 429 with `Retry-After`, answer 500, drop the connection before forwarding, forward only
//! half of the body and then cut both sides (a connection dropped mid-upload), or forward it.
//! Bounded: at most `max_faults` faults in all and `max_consecutive` in a row, so every retry loop
//! ends. `fail_tag_puts` makes every `PUT .../manifests/<tag>` (not by digest) fail with 500.
//! `bearer` makes it a token-auth front (like GHCR): `/v2/` answers a Bearer challenge, `/token`
//! trades the client's Basic credentials for a token, requests must carry the current token (which
//! rotates every `rotate_every` requests, so clients must re-authenticate), and are forwarded with
//! the registry's own Basic credentials.
//!
//! Scripted faults (`rules`, checked before the random ones) pin one behaviour to a path for the
//! next `times` requests: a status with a `Retry-After` (seconds or HTTP date), a redirect, an
//! answer that stalls half way through its body, or a flood: 200 with no `Content-Length` and
//! endless bytes (an oversized index file), counting what was sent before the client hung up.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
pub struct FaultConfig {
    pub seed: u64,
    pub p_429: f64,
    pub p_500: f64,
    pub p_drop: f64,
    pub p_cut: f64,
    /// `Retry-After` values sent with 429s, picked at random.
    pub retry_after: Vec<&'static str>,
    pub max_faults: u32,
    pub max_consecutive: u32,
    pub fail_tag_puts: bool,
    pub bearer: Option<Bearer>,
    /// Scripted faults, checked in order before the random ones.
    pub rules: Vec<Rule>,
    /// The `/token` endpoint only grants scopes containing this (`push` for publish, `pull` for install).
    pub token_scope: &'static str,
    /// `/token` also grants pull-only scopes to a request without credentials (a public package
    /// on GHCR).
    pub anonymous_pull: bool,
}

/// The next `times` requests whose path (query included) is `path` get `action`.
#[derive(Debug, Clone)]
pub struct Rule {
    pub path: String,
    pub times: u32,
    pub action: Action,
}

#[derive(Debug, Clone)]
pub enum Action {
    /// Answer `code` with an optional `Retry-After` value.
    Status { code: u16, retry_after: Option<String> },
    /// Answer `code` (301, 302, 307, 308) with `Location: location`.
    Redirect { code: u16, location: String },
    /// Forward, send the head and half the body, then go silent for `stall` and close.
    Stall { stall: Duration },
    /// Answer 200 with no length and up to `bytes` of filler, until the client hangs up.
    Flood { bytes: u64 },
}

#[derive(Debug, Clone)]
pub struct Bearer {
    /// The `Authorization` value `/token` accepts.
    pub client_basic: String,
    /// The `Authorization` value sent to the registry.
    pub upstream_basic: String,
    /// Issue a new token (invalidating the old one) after this many authorized requests; 0: never.
    pub rotate_every: u32,
    /// `/token` reads the request, then says nothing for this long and hangs up (a stalled token
    /// service).
    pub token_stall: Option<Duration>,
}

/// One `/token` request: its path (the scope is in the query) and its `User-Agent`.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub path: String,
    pub user_agent: Option<String>,
}

/// A `Retry-After` value in HTTP-date form, `secs` from now.
pub fn http_date(secs: u64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    chrono::DateTime::from_timestamp((now + secs) as i64, 0).unwrap().format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// `Basic <base64(user:password)>`.
pub fn basic(user: &str, password: &str) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}").into_bytes();
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}

impl FaultConfig {
    pub fn none() -> FaultConfig {
        FaultConfig {
            seed: 0,
            p_429: 0.0,
            p_500: 0.0,
            p_drop: 0.0,
            p_cut: 0.0,
            retry_after: vec!["0"],
            max_faults: 0,
            max_consecutive: 0,
            fail_tag_puts: false,
            bearer: None,
            rules: Vec::new(),
            token_scope: "push",
            anonymous_pull: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    TooMany,
    ServerError,
    Drop,
    Cut,
    /// Scripted rule number N.
    Rule(usize),
}

/// One request the proxy saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub method: String,
    pub path: String,
    pub fault: Option<Fault>,
    pub retry_after: Option<&'static str>,
}

struct State {
    rng: fastrand::Rng,
    faults: u32,
    consecutive: u32,
    log: Vec<Seen>,
    token_generation: u32,
    tokens_issued: u32,
    token_requests: Vec<TokenRequest>,
    authorized: u32,
    rule_hits: Vec<u32>,
    flood_sent: u64,
}

pub struct FaultProxy {
    pub port: u16,
    state: Arc<Mutex<State>>,
    handle: tokio::task::JoinHandle<()>,
    pub upstream: Arc<AtomicU32>,
}

impl FaultProxy {
    pub async fn start(upstream_port: u16, config: FaultConfig) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            rng: fastrand::Rng::with_seed(config.seed),
            faults: 0,
            consecutive: 0,
            log: Vec::new(),
            token_generation: 0,
            tokens_issued: 0,
            token_requests: Vec::new(),
            authorized: 0,
            rule_hits: vec![0; config.rules.len()],
            flood_sent: 0,
        }));
        let upstream = Arc::new(AtomicU32::new(upstream_port as u32));
        let (st, up, cfg) = (state.clone(), upstream.clone(), Arc::new(config));
        let handle = tokio::spawn(async move {
            loop {
                let Ok((conn, _)) = listener.accept().await else { break };
                let (st, up, cfg) = (st.clone(), up.clone(), cfg.clone());
                tokio::spawn(async move {
                    let _ = handle(conn, st, up.load(Ordering::SeqCst) as u16, cfg).await;
                });
            }
        });
        FaultProxy { port, state, handle, upstream }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> Vec<Seen> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn tokens_issued(&self) -> u32 {
        self.state.lock().unwrap().tokens_issued
    }

    /// Every `/token` request, granted or not.
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.state.lock().unwrap().token_requests.clone()
    }

    /// Bytes a `Flood` rule got onto the wire before the client hung up.
    pub fn flood_sent(&self) -> u64 {
        self.state.lock().unwrap().flood_sent
    }

    /// Requests for `path` the proxy saw.
    pub fn hits(&self, path: &str) -> usize {
        self.log().iter().filter(|s| s.path == path).count()
    }

    pub fn count(&self, fault: Fault) -> usize {
        self.log().iter().filter(|s| s.fault == Some(fault)).count()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

async fn handle(
    mut client: TcpStream,
    state: Arc<Mutex<State>>,
    upstream_port: u16,
    cfg: Arc<FaultConfig>,
) -> std::io::Result<()> {
    // Read the head (bounded) and the body (Content-Length).
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return Ok(());
        }
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let length: usize = head
        .split("\r\n")
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .map(|(_, v)| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    assert!(
        !head.to_ascii_lowercase().contains("transfer-encoding: chunked"),
        "the fault proxy only handles Content-Length bodies"
    );
    while buf.len() < head_end + length {
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_end..head_end + length].to_vec();

    let mut head = head;
    if let Some(b) = &cfg.bearer {
        let auth = header(&head, "authorization");
        let host = header(&head, "host").unwrap_or_default();
        if path.starts_with("/token") {
            let user_agent = header(&head, "user-agent");
            state.lock().unwrap().token_requests.push(TokenRequest { path: path.clone(), user_agent });
            if let Some(stall) = b.token_stall {
                tokio::time::sleep(stall).await;
                return client.shutdown().await;
            }
            let pull_only = path.contains("pull") && !path.contains("push");
            let ok = (auth.as_deref() == Some(b.client_basic.as_str()) && path.contains(cfg.token_scope))
                || (cfg.anonymous_pull && auth.is_none() && pull_only);
            let resp = {
                let mut s = state.lock().unwrap();
                if ok {
                    s.tokens_issued += 1;
                    let body = format!("{{\"token\":\"tok-{}\"}}", s.token_generation);
                    format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
                } else {
                    "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
                }
            };
            client.write_all(resp.as_bytes()).await?;
            return client.shutdown().await;
        }
        let current = format!("Bearer tok-{}", state.lock().unwrap().token_generation);
        if path == "/v2/" || auth.as_deref() != Some(current.as_str()) {
            let resp = format!("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"http://{host}/token\",service=\"cratemill-test\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            client.write_all(resp.as_bytes()).await?;
            return client.shutdown().await;
        }
        {
            let mut s = state.lock().unwrap();
            s.authorized += 1;
            if b.rotate_every > 0 && s.authorized % b.rotate_every == 0 {
                s.token_generation += 1;
            }
        }
        head = replace_header(&head, "authorization", &b.upstream_basic);
    }
    if let Some(i) = scripted(&state, &cfg, &method, &path) {
        return play(&cfg.rules[i].action, client, &head, &body, upstream_port, &state).await;
    }
    let forced =
        cfg.fail_tag_puts && method == "PUT" && path.contains("/manifests/") && !path.contains("/manifests/sha256:");
    let (fault, retry_after) = {
        let mut s = state.lock().unwrap();
        let mut fault = None;
        let mut retry_after = None;
        if forced {
            fault = Some(Fault::ServerError);
        } else if s.faults < cfg.max_faults && s.consecutive < cfg.max_consecutive {
            let x = s.rng.f64();
            let mut edge = cfg.p_429;
            fault = if x < edge {
                Some(Fault::TooMany)
            } else if x < {
                edge += cfg.p_500;
                edge
            } {
                Some(Fault::ServerError)
            } else if x < {
                edge += cfg.p_drop;
                edge
            } {
                Some(Fault::Drop)
            } else if x < {
                edge += cfg.p_cut;
                edge
            } && !body.is_empty()
            {
                Some(Fault::Cut)
            } else {
                None
            };
            if fault == Some(Fault::TooMany) {
                retry_after = Some(cfg.retry_after[s.rng.usize(..cfg.retry_after.len())]);
            }
        }
        if fault.is_some() && !forced {
            s.faults += 1;
            s.consecutive += 1;
        } else if fault.is_none() {
            s.consecutive = 0;
        }
        s.log.push(Seen { at: Instant::now(), method: method.clone(), path: path.clone(), fault, retry_after });
        (fault, retry_after)
    };

    match fault {
        Some(Fault::TooMany) => {
            let body = r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down, please"}]}"#;
            let resp = format!("HTTP/1.1 429 Too Many Requests\r\nRetry-After: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", retry_after.unwrap(), body.len());
            client.write_all(resp.as_bytes()).await?;
            client.shutdown().await
        }
        Some(Fault::ServerError) => {
            client
                .write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await?;
            client.shutdown().await
        }
        Some(Fault::Drop) => Ok(()),
        Some(Fault::Cut) => {
            let mut up = TcpStream::connect(("127.0.0.1", upstream_port)).await?;
            up.write_all(rewrite_head(&head).as_bytes()).await?;
            up.write_all(&body[..body.len() / 2]).await?;
            Ok(())
        }
        // Rules answer before this point; only the random faults reach here.
        None | Some(Fault::Rule(_)) => {
            let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream_port)).await else {
                return Ok(()); // the registry is down: the client sees a dropped connection
            };
            up.write_all(rewrite_head(&head).as_bytes()).await?;
            up.write_all(&body).await?;
            let mut resp = Vec::new();
            up.read_to_end(&mut resp).await?;
            let Some(end) = find(&resp, b"\r\n\r\n") else { return Ok(()) };
            let resp_head = String::from_utf8_lossy(&resp[..end + 4]).into_owned();
            client.write_all(rewrite_head(&resp_head).as_bytes()).await?;
            client.write_all(&resp[end + 4..]).await?;
            client.shutdown().await
        }
    }
}

/// The first rule for `path` with tries left, counted and logged.
fn scripted(state: &Mutex<State>, cfg: &FaultConfig, method: &str, path: &str) -> Option<usize> {
    let mut s = state.lock().unwrap();
    let i = (0..cfg.rules.len()).find(|&i| cfg.rules[i].path == path && s.rule_hits[i] < cfg.rules[i].times)?;
    s.rule_hits[i] += 1;
    let seen = Seen {
        at: Instant::now(),
        method: method.into(),
        path: path.into(),
        fault: Some(Fault::Rule(i)),
        retry_after: None,
    };
    s.log.push(seen);
    Some(i)
}

async fn play(
    action: &Action,
    mut client: TcpStream,
    head: &str,
    body: &[u8],
    upstream_port: u16,
    state: &Mutex<State>,
) -> std::io::Result<()> {
    let resp = match action {
        Action::Status { code, retry_after } => {
            let ra = retry_after.as_ref().map(|v| format!("Retry-After: {v}\r\n")).unwrap_or_default();
            format!("HTTP/1.1 {code} Scripted\r\n{ra}Content-Length: 0\r\nConnection: close\r\n\r\n")
        }
        Action::Redirect { code, location } => {
            format!("HTTP/1.1 {code} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        }
        Action::Stall { stall } => {
            let mut up = TcpStream::connect(("127.0.0.1", upstream_port)).await?;
            up.write_all(rewrite_head(head).as_bytes()).await?;
            up.write_all(body).await?;
            let mut resp = Vec::new();
            up.read_to_end(&mut resp).await?;
            let end = find(&resp, b"\r\n\r\n").map(|e| e + 4).unwrap_or(resp.len());
            let half = end + (resp.len() - end) / 2;
            client.write_all(&resp[..half]).await?;
            client.flush().await?;
            tokio::time::sleep(*stall).await;
            return Ok(());
        }
        Action::Flood { bytes } => {
            client.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n").await?;
            let line = [b'x'; 64 * 1024];
            let mut sent = 0u64;
            while sent < *bytes {
                if client.write_all(&line).await.is_err() {
                    break;
                }
                sent += line.len() as u64;
                state.lock().unwrap().flood_sent = sent;
            }
            return Ok(());
        }
    };
    client.write_all(resp.as_bytes()).await?;
    client.shutdown().await
}

/// The head with any `Connection` header replaced by `Connection: close`.
fn rewrite_head(head: &str) -> String {
    let mut out = String::new();
    for line in head.trim_end_matches("\r\n").split("\r\n") {
        if line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out
}

fn header(head: &str, name: &str) -> Option<String> {
    head.split("\r\n").find_map(|l| {
        l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_string())
    })
}

fn replace_header(head: &str, name: &str, value: &str) -> String {
    let mut out = String::new();
    for line in head.trim_end_matches("\r\n").split("\r\n") {
        if line.split_once(':').is_some_and(|(k, _)| k.eq_ignore_ascii_case(name)) {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(&format!("{name}: {value}\r\n\r\n"));
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
