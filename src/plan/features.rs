//! What risk hints need from a version's `features` JSON (`{"default":["std"],"tls":["dep:x"]}`):
//! does it offer a vendoring feature, does it turn on a dependency's vendoring feature, and what its
//! `default` feature turns on.
//!
//! The dump has 1.8 million of these and most versions are a crate's best candidate for a while as
//! the table streams by, so [`Scanner`] reads one in a single pass with reused buffers and no
//! allocation per name. A string with a `\` escape, or anything that is not the plain
//! object-of-string-arrays crates.io writes, goes through `serde_json` instead, with the same answers.

use std::collections::HashMap;

/// Is this feature name a vendoring switch?
pub fn is_vendoring_feature(name: &str) -> bool {
    let name = name.rsplit('/').next().unwrap_or(name).trim_end_matches('?');
    name.contains("vendored")
        || name.contains("bundled")
        || name == "static"
        || name.starts_with("static-")
        || name.ends_with("-static")
}

/// A feature name that *offers* vendoring (`vendored...`, `bundled...`, `static`).
fn offers(name: &str) -> bool {
    name.starts_with("vendored") || name.starts_with("bundled") || name == "static"
}

/// A feature entry that turns a dependency's vendoring on (`openssl/vendored`, `x?/bundled`).
fn forwards(entry: &str) -> bool {
    entry.contains("/vendored") || entry.contains("/bundled") || entry.ends_with("/static")
}

/// The facts about one features JSON.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// It defines a vendoring feature (`"vendored": [...]`).
    pub offers_vendoring: bool,
    /// Some feature turns on a dependency's vendoring feature (`"openssl/vendored"`).
    pub forwards_vendoring: bool,
    pub default_on: DefaultOn,
}

/// What a candidate keeps of the names its `default` feature turns on: 32-bit hashes of the
/// dependency names among them (`dep:x`, the `x` of `x/f`, and bare names that are not features,
/// i.e. implicit features of optional dependencies; a collision can only turn an optional
/// dependency on), and whether a vendoring feature is among all of them. Only dependency names are
/// ever asked for, so a large features table costs no more than its optional dependencies.
#[derive(Debug, Clone, Default)]
pub struct DefaultOn {
    hashes: Box<[u32]>,
    pub vendors: bool,
}

impl DefaultOn {
    fn of(expanded: Expanded<'_>) -> DefaultOn {
        let vendors = expanded.on.iter().any(|n| is_vendoring_feature(n));
        let mut hashes: Vec<u32> = expanded.deps.iter().map(|n| hash(n)).collect();
        hashes.sort_unstable();
        hashes.dedup();
        DefaultOn { hashes: hashes.into_boxed_slice(), vendors }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.hashes.binary_search(&hash(name)).is_ok()
    }

    /// Drop the names, keeping [`DefaultOn::vendors`]: once every dependency edge is in (each
    /// optional edge knows whether it is on by default), nothing asks [`DefaultOn::contains`]
    /// again, and the names of every candidate are the largest thing left (~25 MB at 150,000
    /// crates with large default features) while the plan is made.
    pub fn forget_names(&mut self) {
        self.hashes = Box::default();
    }
}

/// FNV-1a, 32 bits.
fn hash(name: &str) -> u32 {
    name.bytes().fold(0x811c_9dc5, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

/// Reads features JSON; keeps its buffers from one call to the next.
#[derive(Debug, Default)]
pub struct Scanner {
    /// Per feature: its name and the range of its entries in `entries`.
    features: Vec<(Span, usize, usize)>,
    entries: Vec<Span>,
}

type Span = (usize, usize);

impl Scanner {
    pub fn facts(&mut self, json: &[u8]) -> Facts {
        if json.len() <= 2 {
            return Facts::default(); // `{}` or nothing
        }
        let Ok(json) = std::str::from_utf8(json) else { return slow_facts(json) };
        if self.split(json.as_bytes()).is_none() {
            return slow_facts(json.as_bytes());
        }
        // Spans start and end next to ASCII quotes, so they are on character boundaries.
        let text = |(s, e): Span| json.get(s..e).unwrap_or("");
        let mut facts = Facts::default();
        for &(name, from, to) in &self.features {
            facts.offers_vendoring |= offers(text(name));
            for &entry in &self.entries[from..to] {
                let entry = text(entry);
                facts.offers_vendoring |= offers(entry);
                facts.forwards_vendoring |= forwards(entry);
            }
        }
        if self.features.iter().any(|&(name, _, _)| text(name) == "default") {
            let lookup = |f: &str| {
                let &(_, from, to) = self.features.iter().find(|&&(name, _, _)| text(name) == f)?;
                Some(self.entries[from..to].iter().map(|&e| text(e)))
            };
            facts.default_on = DefaultOn::of(expand_default(lookup));
        }
        facts
    }

    /// Split `{"name": ["entry", ...], ...}` into spans; `None` for anything else (escapes too).
    fn split(&mut self, json: &[u8]) -> Option<()> {
        self.features.clear();
        self.entries.clear();
        let mut p = Cursor { json, at: 0 };
        p.expect(b'{')?;
        if p.peek() == Some(b'}') {
            p.at += 1;
            return p.end();
        }
        loop {
            let name = p.string()?;
            p.expect(b':')?;
            p.expect(b'[')?;
            let from = self.entries.len();
            if p.peek() == Some(b']') {
                p.at += 1;
            } else {
                loop {
                    self.entries.push(p.string()?);
                    match p.next()? {
                        b',' => {}
                        b']' => break,
                        _ => return None,
                    }
                }
            }
            self.features.push((name, from, self.entries.len()));
            match p.next()? {
                b',' => {}
                b'}' => return p.end(),
                _ => return None,
            }
        }
    }
}

struct Cursor<'j> {
    json: &'j [u8],
    at: usize,
}

impl Cursor<'_> {
    fn skip_space(&mut self) {
        while self.json.get(self.at).is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.json.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn expect(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    /// A string without escapes: the span of its contents.
    fn string(&mut self) -> Option<Span> {
        self.expect(b'"')?;
        let start = self.at;
        let len = memchr::memchr2(b'"', b'\\', &self.json[start..])?;
        if self.json[start + len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        Some((start, start + len))
    }

    fn end(&mut self) -> Option<()> {
        self.skip_space();
        (self.at == self.json.len()).then_some(())
    }
}

/// The same facts through `serde_json` (escaped names), or from plain substring searches when the
/// text is not a features object at all.
fn slow_facts(json: &[u8]) -> Facts {
    let contains = |needle: &[u8]| memchr::memmem::find(json, needle).is_some();
    Facts {
        offers_vendoring: [&b"\"vendored"[..], b"\"bundled", b"\"static\""].into_iter().any(contains),
        forwards_vendoring: [&b"/vendored"[..], b"/bundled", b"/static\""].into_iter().any(contains),
        default_on: match serde_json::from_slice::<HashMap<String, Vec<String>>>(json) {
            Ok(map) => DefaultOn::of(expand_default(|f| map.get(f).map(|l| l.iter().map(String::as_str)))),
            Err(_) => DefaultOn::default(),
        },
    }
}

/// What `default` turns on.
struct Expanded<'m> {
    /// Every name, transitively: features, `dep:x` (as `x`) and `x/f` (as both `x/f` and `x`).
    on: Vec<&'m str>,
    /// The dependency names among them: from `dep:x` and `x/f`, and bare names that are no feature.
    deps: Vec<&'m str>,
}

/// The names `default` turns on, transitively (`x?/f` turns nothing on by itself).
fn expand_default<'m, I: Iterator<Item = &'m str>>(get: impl Fn(&str) -> Option<I>) -> Expanded<'m> {
    let mut deps: Vec<&'m str> = Vec::new();
    let mut on: Vec<&'m str> = Vec::new();
    let mut todo: Vec<&'m str> = Vec::new();
    if let Some(list) = get("default") {
        on.push("default");
        todo.extend(list);
    }
    while let Some(f) = todo.pop() {
        let name = f.strip_prefix("dep:").unwrap_or(f);
        let name = match name.split_once('/') {
            Some((dep, _)) if dep.ends_with('?') => continue,
            Some((dep, _)) => dep,
            None => name,
        };
        if f.contains('/') && !on.contains(&f) {
            on.push(f);
        }
        let feature = !f.starts_with("dep:") && !f.contains('/');
        let list = if feature { get(name) } else { None };
        if list.is_none() && !deps.contains(&name) {
            deps.push(name);
        }
        if on.contains(&name) {
            continue;
        }
        on.push(name);
        if let Some(list) = list {
            todo.extend(list);
        }
    }
    Expanded { on, deps }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(json: &str) -> Vec<String> {
        let map: HashMap<String, Vec<String>> = serde_json::from_str(json).unwrap();
        let mut on: Vec<String> = expand_default(|f| map.get(f).map(|l| l.iter().map(String::as_str)))
            .on
            .into_iter()
            .map(String::from)
            .collect();
        on.sort();
        on
    }

    #[test]
    fn vendoring_names() {
        for yes in [
            "vendored",
            "bundled",
            "static",
            "vendored-openssl",
            "openssl/vendored",
            "static-curl",
            "zlib-static",
            "git2?/vendored-libgit2",
        ] {
            assert!(is_vendoring_feature(yes), "{yes}");
        }
        for no in ["std", "statics", "default", "serde"] {
            assert!(!is_vendoring_feature(no), "{no}");
        }
        let mut s = Scanner::default();
        assert!(s.facts(br#"{"vendored":["openssl-src"]}"#).offers_vendoring);
        assert!(s.facts(br#"{"tls":["openssl/vendored"]}"#).forwards_vendoring);
        assert!(!s.facts(br#"{"default":["std"]}"#).forwards_vendoring);
    }

    #[test]
    fn default_on_follows_features_transitively() {
        let f =
            r#"{"default":["tls","dep:zstd"],"tls":["dep:native-tls-crate","hyper/http2","git2?/https"],"x":["y"]}"#;
        assert_eq!(names(f), ["default", "hyper", "hyper/http2", "native-tls-crate", "tls", "zstd"]);
        let mut s = Scanner::default();
        let kept = s.facts(f.as_bytes()).default_on;
        assert!(kept.contains("native-tls-crate") && kept.contains("zstd") && kept.contains("hyper"));
        assert!(!kept.contains("y") && !kept.contains("git2") && !kept.vendors);
        // Features are expanded, not kept: only dependency names are ever asked for.
        assert!(!kept.contains("tls") && !kept.contains("default") && !kept.contains("hyper/http2"));
        // A bare name that is no feature is an optional dependency's implicit feature.
        assert!(s.facts(br#"{"default":["tls"],"tls":["rustls"]}"#).default_on.contains("rustls"));
        assert!(s.facts(br#"{"default":["tls"],"tls":["openssl/vendored"]}"#).default_on.vendors);
        assert!(
            s.facts(br#"{"default":["a\u0062"],"ab":["dep:z"]}"#).default_on.contains("z"),
            "escaped names parse too"
        );
        assert!(s.facts(br#"{"x":["y"]}"#).default_on.hashes.is_empty());
        assert!(s.facts(b"not json \"default\"").default_on.hashes.is_empty());
    }

    /// The one-pass scanner and the serde_json path agree, on crates.io's spacing and on compact JSON.
    #[test]
    fn scanner_agrees_with_serde() {
        let mut rng = fastrand::Rng::with_seed(11);
        let words = [
            "default",
            "std",
            "tls",
            "dep:zstd",
            "vendored",
            "openssl/vendored",
            "x?/bundled",
            "static",
            "a-static",
            "serde",
            "dep:openssl",
        ];
        let mut s = Scanner::default();
        for _ in 0..500 {
            let mut map: Vec<(String, Vec<String>)> = Vec::new();
            for _ in 0..rng.usize(0..6) {
                let key = rng.choice(&words[..3]).unwrap().to_string() + &rng.u8(..3).to_string();
                let key = if rng.u8(..3) == 0 { "default".to_string() } else { key };
                if map.iter().any(|(k, _)| *k == key) {
                    continue;
                }
                map.push((key, (0..rng.usize(0..4)).map(|_| rng.choice(&words).unwrap().to_string()).collect()));
            }
            let body: Vec<String> = map
                .iter()
                .map(|(k, v)| {
                    format!(
                        "\"{k}\":{}[{}]",
                        if rng.bool() { " " } else { "" },
                        v.iter().map(|e| format!("\"{e}\"")).collect::<Vec<_>>().join(", ")
                    )
                })
                .collect();
            let json = format!("{{{}}}", body.join(", "));
            let fast = s.facts(json.as_bytes());
            assert!(s.split(json.as_bytes()).is_some(), "the fast path reads {json}");
            let slow = slow_facts(json.as_bytes());
            assert_eq!(
                (fast.offers_vendoring, fast.forwards_vendoring, &fast.default_on.hashes, fast.default_on.vendors),
                (slow.offers_vendoring, slow.forwards_vendoring, &slow.default_on.hashes, slow.default_on.vendors),
                "{json}"
            );
        }
    }
}
