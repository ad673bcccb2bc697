//! `--dump <URL>`: download, conditional GET with cached validators (200 then 304), retries on 5xx,
//! clear errors for 404 and unreachable URLs. Against a scripted HTTP server on 127.0.0.1.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cratemill::dump::fetch::{fetch, Options, Outcome};
use cratemill::error::{exit_of, one_line, Exit};
use cratemill::net::RetryPolicy;

/// One scripted response: status, extra headers, body.
type Reply = (u16, Vec<(&'static str, String)>, Vec<u8>);
/// Request headers seen, one list per request.
type Seen = Arc<Mutex<Vec<Vec<String>>>>;

/// Serve `replies` in order, one per connection, then stop. Returns the base URL and the request
/// headers seen (lower-cased), one list per request.
fn serve(replies: Vec<Reply>) -> (String, Seen, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/db-dump.tar.gz", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let handle = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        for (status, headers, body) in replies {
            let stream = loop {
                match listener.accept() {
                    Ok((s, _)) => break s,
                    Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                    Err(_) => return,
                }
            };
            log.lock().unwrap().push(answer(stream, status, &headers, &body));
        }
    });
    (url, seen, handle)
}

fn answer(mut stream: TcpStream, status: u16, headers: &[(&str, String)], body: &[u8]) -> Vec<String> {
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request = Vec::new();
    for _ in 0..100 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        request.push(line.trim_end().to_ascii_lowercase());
    }
    let mut head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    if headers.iter().any(|(k, _)| *k == "x-stall") {
        // Half the body, then silence on an open connection (on its own thread, so the next
        // request is served meanwhile).
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(b"\r\n");
        let _ = stream.write_all(&body[..body.len() / 2]);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(10));
            drop(stream);
        });
        return request;
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    request
}

fn options(dir: &std::path::Path) -> Options {
    let mut o = Options::new(dir.to_path_buf());
    o.net.retry = RetryPolicy {
        attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        ..RetryPolicy::default()
    };
    o
}

#[tokio::test]
async fn downloads_then_revalidates_with_304() {
    let dir = tempfile::tempdir().unwrap();
    let body = b"pretend this is a gzip tar".repeat(1000);
    let etag = "\"v1-abc\"".to_string();
    let (url, seen, server) = serve(vec![
        (200, vec![("ETag", etag.clone()), ("Last-Modified", "Mon, 23 Nov 2026 02:00:00 GMT".into())], body.clone()),
        (304, vec![("ETag", etag.clone())], Vec::new()),
    ]);
    let (path, outcome) = fetch(&url, &options(dir.path())).await.unwrap();
    assert_eq!(outcome, Outcome::Downloaded);
    assert_eq!(std::fs::read(&path).unwrap(), body);
    let (again, outcome) = fetch(&url, &options(dir.path())).await.unwrap();
    assert_eq!((again, outcome), (path.clone(), Outcome::NotModified));
    assert_eq!(std::fs::read(&path).unwrap(), body);
    server.join().unwrap();
    let seen = seen.lock().unwrap();
    assert!(!seen[0].iter().any(|h| h.starts_with("if-none-match")), "{:?}", seen[0]);
    let agent =
        format!("user-agent: cratemill/{} (+https://github.com/cratemill/cratemill)", env!("CARGO_PKG_VERSION"));
    assert!(seen[0].contains(&agent), "{:?}", seen[0]);
    assert!(seen[1].contains(&"if-none-match: \"v1-abc\"".to_string()), "{:?}", seen[1]);
    assert!(seen[1].contains(&"if-modified-since: mon, 23 nov 2026 02:00:00 gmt".to_string()), "{:?}", seen[1]);
}

#[tokio::test]
async fn retries_server_errors_then_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let (url, seen, server) =
        serve(vec![(503, vec![], b"busy".to_vec()), (502, vec![], Vec::new()), (200, vec![], b"dump".to_vec())]);
    let (path, outcome) = fetch(&url, &options(dir.path())).await.unwrap();
    assert_eq!(outcome, Outcome::Downloaded);
    assert_eq!(std::fs::read(path).unwrap(), b"dump");
    server.join().unwrap();
    assert_eq!(seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn gives_up_after_the_last_server_error_and_on_404() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _, server) = serve(vec![(500, vec![], Vec::new()), (500, vec![], Vec::new()), (500, vec![], Vec::new())]);
    let err = fetch(&url, &options(dir.path())).await.unwrap_err();
    server.join().unwrap();
    assert_eq!(exit_of(&err), Exit::Internal, "a server that keeps failing is an environment failure");
    assert!(one_line(&err).ends_with("answered HTTP 500 Internal Server Error after 3 attempts"), "{}", one_line(&err));

    let (url, seen, server) = serve(vec![(404, vec![], Vec::new())]);
    let err = fetch(&url, &options(dir.path())).await.unwrap_err();
    server.join().unwrap();
    assert_eq!(seen.lock().unwrap().len(), 1, "a 404 is not retried");
    assert_eq!(exit_of(&err), Exit::Usage, "a 404 means the URL is wrong");
    assert!(one_line(&err).contains("404"), "{}", one_line(&err));
}

#[tokio::test]
async fn unreachable_url_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/db-dump.tar.gz");
    let mut o = options(dir.path());
    o.net.retry.attempts = 2;
    let err = fetch(&url, &o).await.unwrap_err();
    let text = one_line(&err);
    assert_eq!(exit_of(&err), Exit::Internal);
    assert!(text.starts_with(&format!("downloading the dump {url}: GET {url} cannot connect (")), "{text}");
    assert!(text.ends_with("after 2 attempts"), "{text}");
    assert!(fetch("ftp://example.invalid/x", &options(dir.path())).await.is_err());
}

#[tokio::test]
async fn a_dump_that_stalls_half_way_is_fetched_again() {
    let dir = tempfile::tempdir().unwrap();
    let body = b"0123456789abcdef".repeat(64 * 1024);
    let (url, seen, server) =
        serve(vec![(200, vec![("x-stall", String::new())], body.clone()), (200, vec![], body.clone())]);
    let mut o = options(dir.path());
    o.net.idle_timeout = Duration::from_millis(300);
    let started = Instant::now();
    let (path, outcome) = fetch(&url, &o).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "the stall of 10 s was waited out: {:?}", started.elapsed());
    server.join().unwrap();
    assert_eq!(outcome, Outcome::Downloaded);
    assert_eq!(seen.lock().unwrap().len(), 2);
    assert_eq!(std::fs::read(&path).unwrap(), body);
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(left, [path], "no partial download left in the cache");
}

#[test]
fn the_cli_exits_2_for_a_wrong_dump_url_and_3_for_a_server_that_will_not_serve() {
    let dir = tempfile::tempdir().unwrap();
    let run = |url: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_cratemill"))
            .args(["matrix", "--dump", url, "--targets", "x86_64-unknown-linux-musl", "--out"])
            .arg(dir.path().join("out"))
            .env("CRATEMILL_CACHE_DIR", dir.path().join("cache"))
            .env_remove("GITHUB_ACTIONS")
            .output()
            .unwrap()
    };
    let (url, _, server) = serve(vec![(404, vec![], Vec::new())]);
    let out = run(&url);
    server.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: cannot download the dump: ") && stderr.lines().count() == 1, "{stderr}");

    let (url, seen, server) = serve(vec![(429, vec![("Retry-After", "3600".into())], Vec::new())]);
    let out = run(&url);
    server.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert!(stderr.starts_with(&format!("error: downloading the dump {url}: GET {url} answered HTTP 429")), "{stderr}");
    assert!(stderr.contains("asked to wait 3600s") && stderr.lines().count() == 1, "{stderr}");
    assert!(!dir.path().join("out").exists(), "no plan written");
}

#[test]
fn matrix_takes_a_url() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("d.tar.gz");
    cratemill::dump::synth::write(&cratemill::dump::synth::Spec::default(), &dump).unwrap();
    let (url, _, server) = serve(vec![(200, vec![("ETag", "\"x\"".into())], std::fs::read(&dump).unwrap())]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cratemill"))
        .args(["matrix", "--dump", &url, "--since", "2025-01-01", "--targets", "x86_64-unknown-linux-musl", "--out"])
        .arg(dir.path().join("out"))
        .env("CRATEMILL_CACHE_DIR", dir.path().join("cache"))
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    server.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("planned 11 jobs"), "{stderr}");
}
