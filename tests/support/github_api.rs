//! A GitHub REST stand-in on 127.0.0.1 for `report --open-issues` and `attest --github-api`: `GET
//! /search/issues`, `POST /repos/{owner}/{repo}/issues` and `POST /repos/{owner}/{repo}/attestations`
//! (201 with the stored attestation's `id`, as GitHub answers) with the shapes GitHub answers (search: `total_count`,
//! `incomplete_results`, `items` with `number`, `html_url`, `title`, `body`, `state`; create: 201
//! with `id`, `number`, `html_url`, ...; 401 `Bad credentials`; 404 `Not Found`; 410 issues
//! disabled; 422 for a search in a repository that does not exist; a secondary rate limit as 403
//! with `retry-after`). It keeps the issues it created, so a second run's search finds them, and
//! records every request. One connection at a time (`Connection: close`), a bounded number of
//! connections, each read with a timeout.
#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The most connections one stand-in serves.
const MAX_CONNECTIONS: usize = 500;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub authorization: String,
    pub body: serde_json::Value,
}

impl Request {
    /// The decoded `q` of a search.
    pub fn query(&self) -> Option<String> {
        let (_, query) = self.target.split_once('?')?;
        url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "q").map(|(_, v)| v.into_owned())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repo {
    /// Issues on.
    Open,
    /// Issues turned off: creating answers 410.
    IssuesDisabled,
}

#[derive(Debug, Clone)]
pub struct Issue {
    pub repo: String,
    pub number: u64,
    pub title: String,
    pub body: String,
}

#[derive(Default)]
struct State {
    repos: BTreeMap<String, Repo>,
    issues: Vec<Issue>,
    /// (repository, the posted `bundle`) of every stored attestation, in order.
    attestations: Vec<(String, serde_json::Value)>,
    requests: Vec<Request>,
    /// Answers to give before the real one, per method ("GET"/"POST"): (status, extra headers, body).
    faults: BTreeMap<String, VecDeque<(u16, String, String)>>,
}

pub struct GithubApi {
    pub url: String,
    pub token: String,
    state: Arc<Mutex<State>>,
}

impl GithubApi {
    /// Serve these repositories (`owner/name`); requests must carry `Bearer <token>`.
    pub fn start(token: &str, repos: &[(&str, Repo)]) -> GithubApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            repos: repos.iter().map(|(r, k)| (r.to_string(), *k)).collect(),
            ..State::default()
        }));
        let shared = state.clone();
        let expected = format!("Bearer {token}");
        std::thread::spawn(move || {
            for conn in listener.incoming().take(MAX_CONNECTIONS) {
                let Ok(conn) = conn else { continue };
                let _ = serve(conn, &shared, &expected);
            }
        });
        GithubApi { url, token: token.to_string(), state }
    }

    /// Answer the next `method` request with `status`, `headers` (`Name: value\r\n` lines) and `body`
    /// instead of the real answer.
    pub fn fault(&self, method: &str, status: u16, headers: &str, body: &str) {
        let mut s = self.state.lock().unwrap();
        s.faults.entry(method.to_string()).or_default().push_back((status, headers.into(), body.into()));
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn posts(&self) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.method == "POST").collect()
    }

    pub fn issues(&self) -> Vec<Issue> {
        self.state.lock().unwrap().issues.clone()
    }

    /// (repository, bundle) of every attestation stored, in order.
    pub fn attestations(&self) -> Vec<(String, serde_json::Value)> {
        self.state.lock().unwrap().attestations.clone()
    }
}

fn serve(conn: TcpStream, state: &Mutex<State>, expected: &str) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let (mut len, mut authorization) = (0usize, String::new());
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse().unwrap_or(0),
                "authorization" => authorization = v.trim().to_string(),
                _ => {}
            }
        }
    }
    let mut buf = vec![0u8; len.min(1 << 20)];
    reader.read_exact(&mut buf)?;
    let body = serde_json::from_slice(&buf).unwrap_or(serde_json::Value::Null);
    let request =
        Request { method: method.clone(), target: target.clone(), authorization: authorization.clone(), body };
    let (status, headers, answer) = {
        let mut s = state.lock().unwrap();
        s.requests.push(request.clone());
        match s.faults.get_mut(&method).and_then(VecDeque::pop_front) {
            Some(fault) => fault,
            None if authorization != expected => (401, String::new(), message("Bad credentials")),
            None => route(&mut s, &request),
        }
    };
    let mut conn = conn;
    write!(
        conn,
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nx-github-api-version-selected: 2022-11-28\r\nConnection: close\r\n{headers}\r\n{answer}",
        reason(status),
        answer.len()
    )?;
    conn.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        422 => "Unprocessable Entity",
        _ => "Other",
    }
}

fn message(text: &str) -> String {
    serde_json::json!({ "message": text, "documentation_url": "https://docs.github.com/rest", "status": "0" })
        .to_string()
}

fn route(s: &mut State, r: &Request) -> (u16, String, String) {
    let path = r.target.split('?').next().unwrap_or("");
    if r.method == "GET" && path == "/search/issues" {
        return search(s, &r.query().unwrap_or_default());
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if r.method == "POST" && parts.len() == 4 && parts[0] == "repos" && parts[3] == "issues" {
        return create(s, &format!("{}/{}", parts[1], parts[2]), &r.body);
    }
    if r.method == "POST" && parts.len() == 4 && parts[0] == "repos" && parts[3] == "attestations" {
        return store(s, &format!("{}/{}", parts[1], parts[2]), &r.body);
    }
    (404, String::new(), message("Not Found"))
}

/// `POST /repos/O/R/attestations` with `{"bundle": ...}`: 201 `{"id": N}`; 404 for a repository
/// this stand-in does not serve, 422 without a bundle.
fn store(s: &mut State, repo: &str, body: &serde_json::Value) -> (u16, String, String) {
    if !s.repos.contains_key(repo) {
        return (404, String::new(), message("Not Found"));
    }
    let Some(bundle) = body.get("bundle").filter(|b| b.is_object()) else {
        return (422, String::new(), message("Invalid request.\n\n\"bundle\" wasn't supplied."));
    };
    s.attestations.push((repo.to_string(), bundle.clone()));
    (201, String::new(), serde_json::json!({ "id": 1000 + s.attestations.len() }).to_string())
}

/// `repo:O/R in:body "phrase"`: the repository's issues whose body contains the phrase.
fn search(s: &State, q: &str) -> (u16, String, String) {
    let repo = q.split_whitespace().find_map(|w| w.strip_prefix("repo:")).unwrap_or("");
    let phrase = q.split('"').nth(1).unwrap_or("");
    if !s.repos.contains_key(repo) {
        let body = serde_json::json!({
            "message": "Validation Failed",
            "errors": [{"message": "The listed users and repositories cannot be searched either because the resources do not exist or you do not have permission to view them.", "resource": "Search", "field": "q", "code": "invalid"}],
            "documentation_url": "https://docs.github.com/v3/search/",
            "status": "422"
        });
        return (422, String::new(), body.to_string());
    }
    let items: Vec<serde_json::Value> =
        s.issues.iter().filter(|i| i.repo == repo && i.body.contains(phrase)).map(issue_json).collect();
    let body = serde_json::json!({ "total_count": items.len(), "incomplete_results": false, "items": items });
    (200, String::new(), body.to_string())
}

fn create(s: &mut State, repo: &str, body: &serde_json::Value) -> (u16, String, String) {
    match s.repos.get(repo) {
        None => return (404, String::new(), message("Not Found")),
        Some(Repo::IssuesDisabled) => return (410, String::new(), message("Issues are disabled for this repo")),
        Some(Repo::Open) => {}
    }
    let (Some(title), Some(text)) = (body["title"].as_str(), body["body"].as_str()) else {
        return (422, String::new(), message("Validation Failed"));
    };
    let number = s.issues.iter().filter(|i| i.repo == repo).count() as u64 + 1;
    let issue = Issue { repo: repo.into(), number, title: title.into(), body: text.into() };
    let answer = issue_json(&issue);
    s.issues.push(issue);
    (201, format!("Location: https://api.github.com/repos/{repo}/issues/{number}\r\n"), answer.to_string())
}

fn issue_json(i: &Issue) -> serde_json::Value {
    serde_json::json!({
        "id": 1000 + i.number,
        "node_id": format!("I_kw{}", i.number),
        "url": format!("https://api.github.com/repos/{}/issues/{}", i.repo, i.number),
        "repository_url": format!("https://api.github.com/repos/{}", i.repo),
        "html_url": format!("https://github.com/{}/issues/{}", i.repo, i.number),
        "number": i.number,
        "state": "open",
        "title": i.title,
        "body": i.body,
        "user": { "login": "cratemill-bot", "id": 1, "type": "User" },
        "labels": [],
        "comments": 0,
        "created_at": "2026-12-01T00:00:00Z",
        "updated_at": "2026-12-01T00:00:00Z",
        "author_association": "NONE"
    })
}
