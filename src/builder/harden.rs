//! Manifest hardening: what a crate's own files may not decide about its build. Removing the root
//! `.cargo/` is not enough: the manifest itself can switch on unstable cargo features and give the
//! build its own rustflags (`cargo-features = ["profile-rustflags"]` plus `[profile.release]
//! rustflags = ["-C", "linker=/tmp/evil.sh"]` runs any program as the linker), redirect
//! dependencies (`[patch]`, `[replace]`, path dependencies outside the crate), or compile and embed
//! host files (`build = "../../x.rs"`, `include_str!("/etc/...")`, `#[path = "/..."]`).
//!
//! Stripped (and recorded as a `prepare` step): `cargo-features`, every profile's `rustflags` and
//! `codegen-backend` (also under `build-override` and `package.<spec>`), `[patch]`, `[replace]`,
//! `package.workspace`, the `path` of a dependency that leaves the crate but also names a registry
//! `version` (cargo then resolves it from the registry). Refused (`unsafe-archive`): a path
//! dependency leaving the crate with no registry fallback, a target or build-script path leaving
//! it, and include macros or `#[path]` attributes reading outside it.
//!
//! Pure: [`harden_manifest`] edits a parsed manifest, [`source_reads`] scans source text; the
//! prepare step (`super::prepare`) does the file I/O.

use std::path::{Component, Path, PathBuf};

/// The dependency tables of a manifest (cargo accepts both spellings of the dashed ones).
const DEP_TABLES: &[&str] =
    &["dependencies", "dev-dependencies", "dev_dependencies", "build-dependencies", "build_dependencies"];

/// Keys of a profile that let a crate choose flags or code for the compiler.
const PROFILE_KEYS: &[&str] = &["rustflags", "codegen-backend"];

/// Target tables whose `path` names a file to compile.
const TARGET_TABLES: &[&str] = &["lib", "bin", "example", "test", "bench"];

/// Why a crate cannot be built safely at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A path dependency outside the crate root and no registry version to fall back to.
    PathDependencyOutside { manifest: String, dep: String, path: String },
    /// A target's source or the build script lives outside the crate root.
    TargetOutside { manifest: String, key: String, path: String },
    /// Source code reads a file outside the crate at compile time.
    SourceReadOutside { file: String, line: usize, path: String },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::target::printable as p;
        match self {
            Refusal::PathDependencyOutside { manifest, dep, path } => write!(
                f,
                "{}: dependency `{}` has path `{}` outside the crate and no registry version: refusing to build host files",
                p(manifest),
                p(dep),
                p(path)
            ),
            Refusal::TargetOutside { manifest, key, path } => write!(
                f,
                "{}: `{}` points at `{}` outside the crate: refusing to build host files",
                p(manifest),
                p(key),
                p(path)
            ),
            Refusal::SourceReadOutside { file, line, path } => write!(
                f,
                "{}:{line} reads `{}` outside the crate at compile time: refusing to embed host files",
                p(file),
                p(path)
            ),
        }
    }
}

/// Does `rel` (a path written in a file inside folder `dir`, both relative to the crate root) leave
/// the crate root? Absolute paths always do. Lexical: the unpacker already refused links leaving the crate.
pub fn leaves_root(dir: &Path, rel: &str) -> bool {
    let rel = Path::new(rel);
    if rel.is_absolute() {
        return true;
    }
    let mut depth: i64 = 0;
    for c in dir.join(rel).components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::ParentDir => depth -= 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return true,
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

/// Harden one parsed manifest found at `manifest` (relative to the crate root, e.g. `Cargo.toml` or
/// `sub/Cargo.toml`). Returns the steps taken, in order; edits `doc` in place.
pub fn harden_manifest(doc: &mut toml::Table, manifest: &str) -> Result<Vec<String>, Refusal> {
    let dir = Path::new(manifest).parent().map(Path::to_path_buf).unwrap_or_default();
    let mut steps = Vec::new();
    if let Some(v) = doc.remove("cargo-features") {
        steps.push(format!("{manifest}: stripped cargo-features {v}"));
    }
    for table in ["patch", "replace"] {
        if doc.remove(table).is_some() {
            steps.push(format!("{manifest}: stripped [{table}]"));
        }
    }
    if let Some(pkg) = doc.get_mut("package").and_then(|p| p.as_table_mut()) {
        if let Some(v) = pkg.remove("workspace") {
            steps.push(format!("{manifest}: stripped package.workspace {v}"));
        }
        if let Some(build) = pkg.get("build").and_then(|b| b.as_str()) {
            if leaves_root(&dir, build) {
                let (key, path) = ("package.build".into(), build.into());
                return Err(Refusal::TargetOutside { manifest: manifest.into(), key, path });
            }
        }
    }
    if let Some(profiles) = doc.get_mut("profile").and_then(|p| p.as_table_mut()) {
        for (name, profile) in profiles.iter_mut() {
            strip_profile(profile, &format!("profile.{name}"), manifest, &mut steps);
        }
    }
    check_targets(doc, &dir, manifest)?;
    for (key, deps) in dep_tables(doc) {
        harden_deps(deps, &key, &dir, manifest, &mut steps)?;
    }
    Ok(steps)
}

/// Strip the flag-choosing keys of one profile, its `build-override` and its `package.<spec>` overrides.
fn strip_profile(profile: &mut toml::Value, at: &str, manifest: &str, steps: &mut Vec<String>) {
    let Some(table) = profile.as_table_mut() else { return };
    for key in PROFILE_KEYS {
        if table.remove(*key).is_some() {
            steps.push(format!("{manifest}: stripped {at}.{key}"));
        }
    }
    if let Some(inner) = table.get_mut("build-override") {
        strip_profile(inner, &format!("{at}.build-override"), manifest, steps);
    }
    if let Some(packages) = table.get_mut("package").and_then(|p| p.as_table_mut()) {
        for (spec, inner) in packages.iter_mut() {
            strip_profile(inner, &format!("{at}.package.{spec}"), manifest, steps);
        }
    }
}

fn check_targets(doc: &toml::Table, dir: &Path, manifest: &str) -> Result<(), Refusal> {
    for kind in TARGET_TABLES {
        let tables: Vec<&toml::Table> = match doc.get(*kind) {
            Some(toml::Value::Table(t)) => vec![t],
            Some(toml::Value::Array(a)) => a.iter().filter_map(|v| v.as_table()).collect(),
            _ => continue,
        };
        for t in tables {
            if let Some(path) = t.get("path").and_then(|p| p.as_str()) {
                if leaves_root(dir, path) {
                    let key = format!("{kind}.path");
                    return Err(Refusal::TargetOutside { manifest: manifest.into(), key, path: path.into() });
                }
            }
        }
    }
    Ok(())
}

/// Every dependency table of the manifest with its dotted name: top level, `target.<cfg>.*`, `workspace.*`.
fn dep_tables(doc: &mut toml::Table) -> Vec<(String, &mut toml::Table)> {
    let mut out = Vec::new();
    let (mut top, mut rest): (Vec<_>, Vec<_>) = (Vec::new(), Vec::new());
    for (key, value) in doc.iter_mut() {
        let toml::Value::Table(t) = value else { continue };
        if DEP_TABLES.contains(&key.as_str()) {
            top.push((key.clone(), t));
        } else if key == "target" || key == "workspace" {
            rest.push((key.clone(), t));
        }
    }
    out.extend(top);
    for (key, table) in rest {
        if key == "workspace" {
            if let Some(toml::Value::Table(t)) = table.get_mut("dependencies") {
                out.push(("workspace.dependencies".into(), t));
            }
            continue;
        }
        for (cfg, platform) in table.iter_mut() {
            let Some(platform) = platform.as_table_mut() else { continue };
            for (k, t) in platform.iter_mut() {
                if let (true, toml::Value::Table(t)) = (DEP_TABLES.contains(&k.as_str()), t) {
                    out.push((format!("target.{cfg}.{k}"), t));
                }
            }
        }
    }
    out
}

fn harden_deps(
    deps: &mut toml::Table,
    table: &str,
    dir: &Path,
    manifest: &str,
    steps: &mut Vec<String>,
) -> Result<(), Refusal> {
    for (name, dep) in deps.iter_mut() {
        let Some(spec) = dep.as_table_mut() else { continue };
        let Some(path) = spec.get("path").and_then(|p| p.as_str()).map(str::to_string) else { continue };
        if !leaves_root(dir, &path) {
            continue;
        }
        if spec.contains_key("version") {
            spec.remove("path");
            steps.push(format!(
                "{manifest}: [{table}] {name}: path {path:?} leaves the crate: removed, resolved from the registry"
            ));
        } else {
            let dep = name.clone();
            return Err(Refusal::PathDependencyOutside { manifest: manifest.into(), dep, path });
        }
    }
    Ok(())
}

/// The macros and attribute that read a file at compile time, with the text that opens their path.
/// The macros that read a file at compile time; `#[path = "..."]` is the attribute that does.
const READER_MACROS: &[&str] = &["include_str", "include_bytes", "include"];

/// Paths read at compile time by `source` (file `file`, relative to the crate root) that leave the
/// crate: `(line number, path)`. Seen: every spelling rustc accepts for a string literal argument
/// (blanks or line breaks before `!` and the delimiter, `(`, `[` or `{`, escapes such as `\x2f` and
/// `\u{2f}`, raw strings). A path built with `concat!`/`env!` is the build sandbox's to contain.
pub fn source_reads(file: &str, source: &str) -> Vec<(usize, String)> {
    let dir: PathBuf = Path::new(file).parent().map(Path::to_path_buf).unwrap_or_default();
    let mut out = Vec::new();
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    for (at, _) in source.match_indices(['i', 'p']) {
        if source[..at].chars().next_back().is_some_and(ident) {
            continue;
        }
        let word_len = source[at..].find(|c: char| !ident(c)).unwrap_or(source.len() - at);
        let (word, rest) = (&source[at..at + word_len], &source[at + word_len..]);
        let literal = if READER_MACROS.contains(&word) {
            macro_argument(rest)
        } else if word == "path" && attribute_before(&source[..at]) {
            rest.trim_start().strip_prefix('=').and_then(literal_at)
        } else {
            None
        };
        if let Some(path) = literal.filter(|p| leaves_root(&dir, p)) {
            out.push((source[..at].matches('\n').count() + 1, path));
        }
    }
    out
}

/// `! ( "literal"` with any blanks and any of the three delimiters: the literal, decoded.
fn macro_argument(rest: &str) -> Option<String> {
    let rest = rest.trim_start().strip_prefix('!')?.trim_start();
    let rest = rest.strip_prefix(['(', '[', '{'])?;
    literal_at(rest)
}

/// Is the text before `path` the opening of an attribute (`#[`, `#![`, with blanks)?
fn attribute_before(before: &str) -> bool {
    let b = before.trim_end();
    let Some(b) = b.strip_suffix('[') else { return false };
    let b = b.trim_end();
    let b = b.strip_suffix('!').map(str::trim_end).unwrap_or(b);
    b.ends_with('#')
}

/// The string literal (`"..."` with escapes decoded, `r"..."`, `r#"..."#`) at the start of `text`
/// after blanks; `None` when there is none.
fn literal_at(text: &str) -> Option<String> {
    let t = text.trim_start();
    if let Some(raw) = t.strip_prefix('r') {
        let hashes = raw.len() - raw.trim_start_matches('#').len();
        let body = raw[hashes..].strip_prefix('"')?;
        let end = body.find(&format!("\"{}", "#".repeat(hashes)))?;
        return Some(body[..end].to_string());
    }
    let mut chars = t.strip_prefix('"')?.chars().peekable();
    let mut out = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                '0' => out.push('\0'),
                'x' => {
                    let hex: String = chars.by_ref().take(2).collect();
                    out.push(char::from(u8::from_str_radix(&hex, 16).ok()?));
                }
                'u' => {
                    let mut hex = String::new();
                    for c in chars.by_ref() {
                        if c == '}' {
                            break;
                        }
                        if c != '{' && c != '_' {
                            hex.push(c);
                        }
                    }
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                '\n' => while chars.next_if(|c| c.is_whitespace()).is_some() {},
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn harden(text: &str) -> (toml::Table, Result<Vec<String>, Refusal>) {
        let mut doc: toml::Table = text.parse().unwrap();
        let r = harden_manifest(&mut doc, "Cargo.toml");
        (doc, r)
    }

    #[test]
    fn flag_and_source_overrides_are_stripped_and_recorded() {
        let (doc, steps) = harden(
            r#"cargo-features = ["profile-rustflags"]
[package]
name = "x"
version = "1.0.0"
workspace = "../.."
[profile.release]
rustflags = ["-C", "linker=/tmp/evil.sh"]
[profile.release.build-override]
rustflags = ["-Cevil"]
[profile.release.package.foo]
rustflags = ["-Cevil"]
codegen-backend = "/tmp/evil.so"
[patch.crates-io]
serde = { path = "/tmp/serde" }
[replace]
"foo:1.0.0" = { path = "/tmp/foo" }
"#,
        );
        let steps = steps.unwrap();
        assert_eq!(steps.len(), 8, "{steps:?}");
        let text = toml::to_string(&doc).unwrap();
        for gone in ["cargo-features", "rustflags", "codegen-backend", "patch", "replace", "workspace"] {
            assert!(!text.contains(gone), "{gone} survived: {text}");
        }
        assert!(steps.iter().any(|s| s == "Cargo.toml: stripped profile.release.package.foo.codegen-backend"));
    }

    #[test]
    fn path_dependencies_leaving_the_crate() {
        let (doc, steps) = harden(
            "[package]\nname='x'\n[dependencies]\ninner = { path = 'inner' }\nfar = { path = '../far', version = '1' }\n\
             [target.'cfg(unix)'.build-dependencies]\nalso = { path = '/opt/also', version = '2' }\n",
        );
        assert_eq!(steps.unwrap().len(), 2);
        let text = toml::to_string(&doc).unwrap();
        assert!(text.contains("path = \"inner\"") && !text.contains("../far") && !text.contains("/opt/also"), "{text}");
        let (_, r) = harden("[package]\nname='x'\n[build-dependencies]\nhost = { path = '../../../../etc' }\n");
        assert!(matches!(r, Err(Refusal::PathDependencyOutside { ref dep, .. }) if dep == "host"), "{r:?}");
        let (_, r) = harden("[package]\nname='x'\nbuild='../../evil.rs'\n");
        assert!(matches!(r, Err(Refusal::TargetOutside { .. })), "{r:?}");
        let (_, r) = harden("[package]\nname='x'\n[[bin]]\nname='x'\npath='/etc/x.rs'\n");
        assert!(matches!(r, Err(Refusal::TargetOutside { .. })), "{r:?}");
    }

    #[test]
    fn nested_manifests_are_judged_from_their_own_folder() {
        let mut doc: toml::Table = "[dependencies]\nsib = { path = '../sib' }\n".parse().unwrap();
        assert!(harden_manifest(&mut doc, "crates/a/Cargo.toml").unwrap().is_empty());
        let mut doc: toml::Table = "[dependencies]\nup = { path = '../../../up' }\n".parse().unwrap();
        assert!(harden_manifest(&mut doc, "crates/a/Cargo.toml").is_err());
    }

    #[test]
    fn compile_time_reads_outside_the_crate() {
        let src =
            "const A: &str = include_str!(\"/etc/hostname\");\nconst B: &[u8] = include_bytes!( r#\"../../../x\"# );\n\
                   const C: &str = include_str!(\"data.txt\");\n#[path = \"/tmp/m.rs\"]\nmod m;\n";
        assert_eq!(
            source_reads("src/main.rs", src),
            [(1, "/etc/hostname".to_string()), (2, "../../../x".to_string()), (4, "/tmp/m.rs".to_string())]
        );
        assert!(source_reads("src/main.rs", "include_str!(\"../README.md\")").is_empty());
    }

    #[test]
    fn compile_time_reads_in_any_spelling_rustc_accepts() {
        let src = "const A: &str = include_str!(\"\\x2fetc\\x2fhostname\");\n\
                   const B: &str = include_str! (\"/etc/passwd\");\n\
                   const C: &[u8] = include_bytes!\n  [\"\\u{2f}etc/shadow\"];\n\
                   const D: &str = include_str!{r##\"../../x\"##};\n\
                   # [ path = \"/tmp/m.rs\" ]\nmod m;\n\
                   const E: &str = include_str!(\"/e\\\n      tc/group\");\n\
                   const OK: &str = my_include_str!(\"/not/read\"); fn classpath() {}\n";
        assert_eq!(
            source_reads("src/main.rs", src),
            [
                (1, "/etc/hostname".to_string()),
                (2, "/etc/passwd".to_string()),
                (3, "/etc/shadow".to_string()),
                (5, "../../x".to_string()),
                (6, "/tmp/m.rs".to_string()),
                (8, "/etc/group".to_string()),
            ]
        );
    }

    #[test]
    fn leaving_the_root() {
        assert!(!leaves_root(Path::new(""), "src/../src/main.rs"));
        assert!(leaves_root(Path::new(""), ".."));
        assert!(leaves_root(Path::new("a"), "../../b"));
        assert!(!leaves_root(Path::new("a/b"), "../c"));
        assert!(leaves_root(Path::new(""), "/x"));
    }
}
