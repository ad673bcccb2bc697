//! The rules of docs/architecture.md, checked against the source (issue #22): no import cycle between
//! modules, no import that runs up the layer table or from one phase into another, and a build job
//! file that stays a coordinator (`builder/job.rs`: under 500 lines, at most 12 sibling modules).
//!
//! How it reads `src/`: every file is a module (`builder/job.rs` is `builder::job`, `mod.rs` its
//! folder's); every `crate::...` and `super::...` path outside the file's `#[cfg(test)]` part is an
//! import of the longest module its prefix names (`use` trees with `{...}` included; comments and
//! string literals skipped). An import of an ancestor (an item it re-exports) or a descendant is not
//! an arrow between modules; any other is an arrow between the two siblings under their common
//! parent (`builder::job` -> `publish::trust` is `builder` -> `publish`). Cycles are looked for among
//! the siblings of every folder; the layer table applies to the top-level modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// docs/architecture.md's layer table. A module may import modules of lower layers, and of its own
/// layer, except that phases (layer [`PHASES`]) talk to each other only through documents.
const LAYERS: &[(&str, u8)] = &[
    ("schema", 1),
    ("target", 1),
    ("error", 1),
    ("elf", 1),
    ("console", 1),
    ("untrusted", 1),
    ("license_policy", 1),
    ("net", 2),
    ("dump", 3),
    ("plan", 3),
    ("crates_io", 3),
    ("oci", 3),
    ("package", 3),
    ("actions", 3),
    ("matrix", 4),
    ("builder", 4),
    ("publish", 4),
    ("provenance", 4),
    ("report", 4),
    ("install", 4),
    ("fleet", 4),
    ("commands", 5),
    ("cli", 5),
];

/// The phases' layer.
const PHASES: u8 = 4;

/// Phase-to-phase imports the architecture names: `install` checks attestations with `provenance`.
const PHASE_IMPORTS: &[(&str, &str)] = &[("install", "provenance")];

/// Imports that break the table today, each with the part of issue #22 that removes it. None is
/// left (the last, `install` -> `report`, went when reference parsing and the built index's media
/// type moved to `oci` and version order to `crates_io`). One that is gone must be taken off this
/// list, so it cannot come back unnoticed.
const KNOWN_BREAKS: &[(&str, &str, &str)] = &[];

/// The build job's file and its bounds (issue #22: it was a hub of 1,064 lines using 20 siblings).
const JOB: &str = "builder::job";
const JOB_MAX_LINES: usize = 500;
const JOB_MAX_SIBLINGS: usize = 12;

/// Every module under `src/` (by path, `builder::job`) and its source text.
fn read_modules(src: &Path) -> BTreeMap<String, String> {
    let mut modules = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if parts.last().map(String::as_str) == Some("mod") {
                parts.pop();
            }
            // The crate root and the binary are not modules of the tree.
            if parts == ["lib"] || parts == ["main"] {
                continue;
            }
            modules.insert(parts.join("::"), std::fs::read_to_string(&path).unwrap());
        }
    }
    modules
}

/// The source without comments, string and char literals, and without its `#[cfg(test)]` part.
fn code_of(source: &str) -> String {
    let source = source.split("#[cfg(test)]").next().unwrap_or_default();
    let b = source.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'r' if b.get(i + 1) == Some(&b'#') || (b.get(i + 1) == Some(&b'"') && !ident_byte(b, i)) => {
                // A raw string r"..." or r#"..."#: skip to its closing quote and hashes.
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                if b.get(i + 1 + hashes) != Some(&b'"') {
                    out.push('r');
                    i += 1;
                    continue;
                }
                let close = format!("\"{}", "#".repeat(hashes));
                i += 2 + hashes;
                i = source[i..].find(&close).map_or(b.len(), |at| i + at + close.len());
                out.push_str("\"\"");
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            b'\'' if b.get(i + 1) == Some(&b'\\') || b.get(i + 2) == Some(&b'\'') => {
                // A char literal ('x', '\n', '\''); a lifetime ('a) is left alone.
                i += 2;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            }
            c => {
                out.push(c as char);
                i += 1;
            }
        }
    }
    out
}

fn ident_byte(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

/// A small reader of `use` trees and paths.
struct Paths<'a> {
    b: &'a [u8],
    i: usize,
}

impl Paths<'_> {
    fn skip_space(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, s: &str) -> bool {
        self.skip_space();
        if self.b[self.i..].starts_with(s.as_bytes()) {
            self.i += s.len();
            true
        } else {
            false
        }
    }

    fn ident(&mut self) -> Option<String> {
        self.skip_space();
        let start = self.i;
        while self.i < self.b.len() && (self.b[self.i].is_ascii_alphanumeric() || self.b[self.i] == b'_') {
            self.i += 1;
        }
        if self.i < self.b.len() && self.b[self.i] == b'*' && start == self.i {
            self.i += 1;
            return Some("*".into());
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.b[start..self.i]).into_owned())
    }

    /// After a path's first segment: `::seg`, `::{tree, ...}`, repeated; every full path into `out`.
    fn rest(&mut self, mut path: Vec<String>, out: &mut Vec<Vec<String>>) {
        while self.eat("::") {
            if self.eat("{") {
                loop {
                    if self.eat("}") {
                        return;
                    }
                    match self.ident() {
                        Some(seg) => {
                            let mut sub = path.clone();
                            step(&mut sub, &seg);
                            self.rest(sub, out);
                            if self.eat("as") {
                                self.ident();
                            }
                        }
                        None => return,
                    }
                    if !self.eat(",") {
                        self.eat("}");
                        return;
                    }
                }
            }
            match self.ident() {
                Some(seg) => step(&mut path, &seg),
                None => break,
            }
        }
        out.push(path);
    }
}

/// Add one segment to a path (`super` goes up, `self` and `*` stay).
fn step(path: &mut Vec<String>, seg: &str) {
    match seg {
        "super" => {
            path.pop();
        }
        "self" | "*" => {}
        s => path.push(s.to_string()),
    }
}

/// The module paths that `module`'s code names through `crate::` and `super::`.
fn named_paths(module: &str, code: &str) -> Vec<Vec<String>> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let here: Vec<String> = module.split("::").map(str::to_string).collect();
    for keyword in ["crate", "super"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(keyword).map(|a| a + from) {
            from = at + keyword.len();
            let after = b.get(from).copied().unwrap_or(b' ');
            if ident_byte(b, at) || after.is_ascii_alphanumeric() || after == b'_' {
                continue;
            }
            let base = if keyword == "crate" { Vec::new() } else { here[..here.len() - 1].to_vec() };
            let mut reader = Paths { b, i: from };
            reader.rest(base, &mut out);
        }
    }
    out
}

/// Arrows between modules: `(from, to)` for every import of another module that is neither an
/// ancestor nor a descendant.
fn imports(modules: &BTreeMap<String, String>) -> BTreeSet<(String, String)> {
    let mut arrows = BTreeSet::new();
    for (module, source) in modules {
        for path in named_paths(module, &code_of(source)) {
            let target = (1..=path.len()).rev().map(|n| path[..n].join("::")).find(|m| modules.contains_key(m));
            let Some(target) = target else { continue };
            let related = |a: &str, b: &str| a == b || a.starts_with(&format!("{b}::"));
            if !related(module, &target) && !related(&target, module) {
                arrows.insert((module.clone(), target));
            }
        }
    }
    arrows
}

/// An arrow as one between siblings: `(parent, from, to)`, `parent` empty at the top.
fn as_siblings(from: &str, to: &str) -> (String, String, String) {
    let (a, b): (Vec<&str>, Vec<&str>) = (from.split("::").collect(), to.split("::").collect());
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    (a[..common].join("::"), a[common].to_string(), b[common].to_string())
}

/// Every cycle among siblings, as `parent: a -> b -> a`.
fn cycles(arrows: &BTreeSet<(String, String)>) -> Vec<String> {
    let mut by_parent: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (from, to) in arrows {
        let (parent, a, b) = as_siblings(from, to);
        by_parent.entry(parent).or_default().entry(a).or_default().insert(b);
    }
    let mut found = Vec::new();
    for (parent, graph) in &by_parent {
        let mut seen = BTreeSet::new();
        for start in graph.keys() {
            if let Some(cycle) = cycle_from(graph, start, &mut vec![start.clone()], &mut seen) {
                let parent = if parent.is_empty() { "crate" } else { parent };
                found.push(format!("{parent}: {}", cycle.join(" -> ")));
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

fn cycle_from(
    graph: &BTreeMap<String, BTreeSet<String>>,
    node: &str,
    trail: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    for next in graph.get(node).into_iter().flatten() {
        if let Some(at) = trail.iter().position(|t| t == next) {
            // Written from its smallest module, so that one cycle found from two starts reads alike.
            let mut cycle = trail[at..].to_vec();
            let first = cycle.iter().enumerate().min_by_key(|(_, m)| *m).map_or(0, |(i, _)| i);
            cycle.rotate_left(first);
            cycle.push(cycle[0].clone());
            return Some(cycle);
        }
        if done.contains(next) {
            continue;
        }
        trail.push(next.clone());
        let found = cycle_from(graph, next, trail, done);
        trail.pop();
        if found.is_some() {
            return found;
        }
    }
    done.insert(node.to_string());
    None
}

/// Top-level arrows that break the layer table (known breaks included), as `from -> to: why`.
fn layer_breaks(arrows: &BTreeSet<(String, String)>) -> Vec<(String, String, String)> {
    let layer = |m: &str| LAYERS.iter().find(|(name, _)| *name == m).map(|(_, l)| *l);
    let mut breaks = BTreeSet::new();
    for (from, to) in arrows {
        let (parent, a, b) = as_siblings(from, to);
        if !parent.is_empty() {
            continue;
        }
        let why = match (layer(&a), layer(&b)) {
            (None, _) => format!("{a} is not in the layer table: add it (and to docs/architecture.md)"),
            (_, None) => format!("{b} is not in the layer table: add it (and to docs/architecture.md)"),
            (Some(la), Some(lb)) if lb > la => format!("layer {la} imports layer {lb} (an arrow up)"),
            (Some(la), Some(lb))
                if la == PHASES && lb == PHASES && !PHASE_IMPORTS.contains(&(a.as_str(), b.as_str())) =>
            {
                "one phase imports another (phases talk through documents)".to_string()
            }
            _ => continue,
        };
        breaks.insert((a, b, why));
    }
    breaks.into_iter().collect()
}

fn src() -> BTreeMap<String, String> {
    read_modules(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

#[test]
fn no_import_cycles_between_modules() {
    let found = cycles(&imports(&src()));
    assert!(found.is_empty(), "import cycles (docs/architecture.md, \"Rules the tree keeps\"):\n{}", found.join("\n"));
}

#[test]
fn imports_follow_the_layer_table() {
    let breaks = layer_breaks(&imports(&src()));
    let new: Vec<String> = breaks
        .iter()
        .filter(|(a, b, _)| !KNOWN_BREAKS.iter().any(|(x, y, _)| x == a && y == b))
        .map(|(a, b, why)| format!("{a} -> {b}: {why}"))
        .collect();
    assert!(new.is_empty(), "imports that break docs/architecture.md's layer table:\n{}", new.join("\n"));
    let gone: Vec<String> = KNOWN_BREAKS
        .iter()
        .filter(|(x, y, _)| !breaks.iter().any(|(a, b, _)| x == a && y == b))
        .map(|(x, y, fix)| format!("{x} -> {y} ({fix})"))
        .collect();
    assert!(gone.is_empty(), "fixed: take these off KNOWN_BREAKS in tests/architecture.rs:\n{}", gone.join("\n"));
}

#[test]
fn the_layer_table_names_what_the_document_names() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md")).unwrap();
    let unnamed: Vec<&str> = LAYERS
        .iter()
        .map(|(m, _)| *m)
        .filter(|m| !doc.contains(&format!("`{m}`")) && !doc.contains(&format!("{m}.rs")))
        .collect();
    assert!(
        unnamed.is_empty(),
        "docs/architecture.md does not describe {unnamed:?}: add them to its picture and table"
    );
    let modules = src();
    let top: BTreeSet<&str> = modules.keys().map(|m| m.split("::").next().unwrap()).collect();
    let missing: Vec<&&str> = top.iter().filter(|m| !LAYERS.iter().any(|(name, _)| name == *m)).collect();
    assert!(missing.is_empty(), "modules missing from the layer table: {missing:?}");
}

#[test]
fn the_build_job_is_a_coordinator_not_a_hub() {
    let modules = src();
    let lines = modules[JOB].lines().count();
    assert!(lines < JOB_MAX_LINES, "src/builder/job.rs has {lines} lines (under {JOB_MAX_LINES}): move a phase out");
    let siblings: BTreeSet<String> = imports(&modules)
        .iter()
        .filter(|(from, _)| from == JOB)
        .map(|(from, to)| as_siblings(from, to))
        .filter(|(parent, _, _)| parent == "builder")
        .map(|(_, _, to)| to)
        .collect();
    assert!(
        siblings.len() <= JOB_MAX_SIBLINGS,
        "src/builder/job.rs uses {} builder modules (at most {JOB_MAX_SIBLINGS}): {siblings:?}",
        siblings.len()
    );
}

/// The checks fire on a bad import: fed synthetic sources, they find the cycle, the arrow up and
/// the phase-to-phase import.
#[test]
fn a_deliberate_bad_import_is_caught() {
    let modules: BTreeMap<String, String> = [
        ("schema", "use crate::builder::job::Job; // an arrow up\n"),
        ("builder", "pub mod job;\npub use job::Job;\n"),
        (
            "builder::job",
            "use super::{multi::{self, PerJob}, args};\nuse crate::schema;\nuse crate::publish::PublishOptions as P;\n",
        ),
        ("builder::multi", "fn f() { super::job::run(); let s = \"crate::report::x\"; }\n"),
        (
            "builder::args",
            "use super::super::target::Target;\n#[cfg(test)]\nmod tests { use crate::builder::multi; }\n",
        ),
        ("target", ""),
        ("publish", ""),
        ("report", ""),
    ]
    .into_iter()
    .map(|(m, s)| (m.to_string(), s.to_string()))
    .collect();
    let arrows = imports(&modules);
    let has = |a: &str, b: &str| arrows.contains(&(a.to_string(), b.to_string()));
    assert!(has("builder::job", "builder::multi") && has("builder::multi", "builder::job"));
    assert!(has("builder::job", "builder::args") && has("builder::args", "target"));
    assert!(!has("builder::multi", "report"), "a path in a string literal is not an import");
    assert!(!has("builder::args", "builder::multi"), "test code is not counted");
    assert!(!has("builder", "builder::job"), "a parent's own children are not arrows");
    assert_eq!(cycles(&arrows), ["builder: job -> multi -> job", "crate: builder -> schema -> builder"]);
    let breaks: Vec<(String, String)> = layer_breaks(&arrows).into_iter().map(|(a, b, _)| (a, b)).collect();
    assert!(breaks.contains(&("schema".into(), "builder".into())), "the arrow up: {breaks:?}");
    assert!(breaks.contains(&("builder".into(), "publish".into())), "phase to phase: {breaks:?}");
    assert!(!breaks.contains(&("builder".into(), "target".into())), "an arrow down is fine: {breaks:?}");
}
