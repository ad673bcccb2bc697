//! The composite action executed as the runner executes it: `action.yml` parsed, every step's `if:`
//! and `env:` evaluated against the inputs (defaults from `action.yml`), fresh `GITHUB_OUTPUT`,
//! `GITHUB_ENV`, `GITHUB_PATH` and `GITHUB_STEP_SUMMARY` files per step, `GITHUB_ACTION_PATH` = this
//! checkout, `run:` through `bash --noprofile --norc -eo pipefail`, env and path changes carried to
//! the next step, the action's outputs evaluated from the steps' outputs at the end.
//!
//! Then the modes end to end: a real crate from the local sparse registry built in `build` mode
//! (the bootstrap handed this cratemill through `CRATEMILL_BOOTSTRAP_EXE`), published in `publish`
//! mode to the loopback registry and read back, reported in `report` mode, and a plan in `matrix`
//! mode. The expression forms evaluated are exactly those action.yml uses: `inputs.X`,
//! `steps.ID.outputs.X`, `github.X`, string literals, `==`, `||`.

mod support;

#[path = "support/crates_io_api.rs"]
mod crates_io_api;
#[path = "support/github_api.rs"]
mod github_api;
#[path = "support/registry.rs"]
mod registry;
#[path = "support/report_results.rs"]
mod report_results;
#[path = "support/sigstore.rs"]
mod sigstore;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml::Value;
use sha2::{Digest, Sha256};
use support::sparse_registry::{SparseRegistry, TestCrate};

const MIT: &str = include_str!("fixtures/LICENSE-MIT");

/// The expression contexts of one action invocation.
struct Contexts {
    inputs: BTreeMap<String, String>,
    github: BTreeMap<String, String>,
    steps: BTreeMap<String, BTreeMap<String, String>>,
}

mod expr {
    //! A tiny evaluator for the GitHub expression forms action.yml uses.
    use super::Contexts;

    #[derive(Debug, Clone, PartialEq)]
    enum Tok {
        Ident(String),
        Str(String),
        Eq,
        Ne,
        Or,
        And,
    }

    fn lex(s: &str) -> Vec<Tok> {
        let b = s.as_bytes();
        let (mut i, mut out) = (0, Vec::new());
        while i < b.len() {
            match b[i] {
                b' ' => i += 1,
                b'\'' => {
                    let end = s[i + 1..].find('\'').expect("closed string") + i + 1;
                    out.push(Tok::Str(s[i + 1..end].to_string()));
                    i = end + 1;
                }
                b'=' | b'!' | b'|' | b'&' => {
                    let op = match &s[i..(i + 2).min(s.len())] {
                        "==" => Tok::Eq,
                        "!=" => Tok::Ne,
                        "||" => Tok::Or,
                        "&&" => Tok::And,
                        other => panic!("operator `{other}` not supported by this test"),
                    };
                    out.push(op);
                    i += 2;
                }
                c if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.' => {
                    let start = i;
                    while i < b.len() && (b[i].is_ascii_alphanumeric() || b"_-.".contains(&b[i])) {
                        i += 1;
                    }
                    out.push(Tok::Ident(s[start..i].to_string()));
                }
                c => panic!("expression form not supported by this test: `{}` in `{s}`", c as char),
            }
        }
        out
    }

    fn lookup(ctx: &Contexts, path: &str) -> String {
        let parts: Vec<&str> = path.split('.').collect();
        let got = match parts.as_slice() {
            ["inputs", name] => ctx.inputs.get(*name),
            ["github", rest @ ..] => ctx.github.get(&rest.join(".")),
            ["steps", id, "outputs", name] => ctx.steps.get(*id).and_then(|o| o.get(*name)),
            _ => panic!("context `{path}` not supported by this test"),
        };
        got.cloned().unwrap_or_default()
    }

    /// Evaluate one expression (without `${{ }}`) to a string; "" is false, like null.
    pub fn eval(ctx: &Contexts, s: &str) -> String {
        let toks = lex(s);
        let mut pos = 0;
        let v = or(ctx, &toks, &mut pos);
        assert_eq!(pos, toks.len(), "trailing tokens in `{s}`");
        v
    }

    fn or(ctx: &Contexts, t: &[Tok], p: &mut usize) -> String {
        let mut v = and(ctx, t, p);
        while t.get(*p) == Some(&Tok::Or) {
            *p += 1;
            let r = and(ctx, t, p);
            if v.is_empty() {
                v = r;
            }
        }
        v
    }

    fn and(ctx: &Contexts, t: &[Tok], p: &mut usize) -> String {
        let mut v = cmp(ctx, t, p);
        while t.get(*p) == Some(&Tok::And) {
            *p += 1;
            let r = cmp(ctx, t, p);
            if !v.is_empty() {
                v = r;
            }
        }
        v
    }

    fn cmp(ctx: &Contexts, t: &[Tok], p: &mut usize) -> String {
        let l = primary(ctx, t, p);
        let op = t.get(*p).cloned();
        if !matches!(op, Some(Tok::Eq) | Some(Tok::Ne)) {
            return l;
        }
        *p += 1;
        let r = primary(ctx, t, p);
        // GitHub compares strings case-insensitively.
        let equal = l.eq_ignore_ascii_case(&r);
        let truth = if op == Some(Tok::Eq) { equal } else { !equal };
        if truth {
            "true".into()
        } else {
            String::new()
        }
    }

    fn primary(ctx: &Contexts, t: &[Tok], p: &mut usize) -> String {
        let tok = t.get(*p).cloned().expect("an operand");
        *p += 1;
        match tok {
            Tok::Str(s) => s,
            Tok::Ident(path) => lookup(ctx, &path),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// Replace every `${{ expr }}` in a string.
    pub fn interpolate(ctx: &Contexts, s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").expect("closed expression") + start;
            out.push_str(&eval(ctx, rest[start + 3..end].trim()));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    /// An `if:` value: with or without `${{ }}`.
    pub fn condition(ctx: &Contexts, s: &str) -> bool {
        let s = s.trim();
        let inner = s.strip_prefix("${{").and_then(|r| r.strip_suffix("}}")).unwrap_or(s);
        !eval(ctx, inner.trim()).is_empty()
    }
}

/// Parse the runner's `name=value` / `name<<DELIM` file format.
fn parse_runner_file(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((k, delim)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.insert(k.to_string(), value.join("\n"));
        } else if let Some((k, v)) = line.split_once('=') {
            out.insert(k.to_string(), v.to_string());
        }
    }
    out
}

/// What one invocation of the action did.
struct Invocation {
    /// The step that failed and its exit code, if one did.
    failed: Option<(String, i32)>,
    outputs: BTreeMap<String, String>,
    log: String,
    summary: String,
}

/// Run the action's steps like the runner: `with` are the inputs, `env` the job's environment.
fn run_action(workspace: &Path, with: &[(&str, &str)], env: &[(&str, &str)]) -> Invocation {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let action: Value = serde_yaml::from_str(&std::fs::read_to_string(root.join("action.yml")).unwrap()).unwrap();
    let mut ctx = Contexts { inputs: BTreeMap::new(), github: BTreeMap::new(), steps: BTreeMap::new() };
    let test_var = |name: &str| env.iter().find(|(k, _)| *k == name).map_or("", |kv| kv.1).to_string();
    ctx.github.insert("token".into(), test_var("TEST_GITHUB_TOKEN"));
    ctx.github.insert("event.repository.visibility".into(), test_var("TEST_VISIBILITY"));
    for (name, spec) in action["inputs"].as_mapping().unwrap() {
        let name = name.as_str().unwrap().to_string();
        let given = with.iter().find(|(k, _)| *k == name).map(|kv| kv.1.to_string());
        let default = spec["default"].as_str().map(|d| expr::interpolate(&ctx, d)).unwrap_or_default();
        ctx.inputs.insert(name, given.unwrap_or(default));
    }
    for (k, _) in with {
        assert!(ctx.inputs.contains_key(*k), "action.yml has no input `{k}`");
    }
    let files = tempfile::tempdir().unwrap();
    let (mut carried_env, mut carried_path) = (BTreeMap::<String, String>::new(), Vec::<String>::new());
    let (mut log, mut summary, mut failed) = (String::new(), String::new(), None);
    for (n, step) in action["runs"]["steps"].as_sequence().unwrap().iter().enumerate() {
        let id = step["id"].as_str().unwrap().to_string();
        if failed.is_some() || !step["if"].as_str().is_none_or(|c| expr::condition(&ctx, c)) {
            continue;
        }
        assert_eq!(step["shell"].as_str(), Some("bash"));
        let dir = files.path().join(format!("step{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        let names = ["GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY"];
        for f in names {
            std::fs::write(dir.join(f), "").unwrap();
        }
        let script = dir.join("script.sh");
        std::fs::write(&script, step["run"].as_str().unwrap()).unwrap();
        let base_path =
            env.iter().find(|(k, _)| *k == "TEST_PATH").map_or(std::env::var("PATH").unwrap(), |kv| kv.1.into());
        let path = carried_path.iter().rev().cloned().chain([base_path]).collect::<Vec<_>>().join(":");
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail"]).arg(&script).current_dir(workspace);
        for k in ["GITHUB_TOKEN", "GH_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ACTIONS_RUNTIME_TOKEN"] {
            cmd.env_remove(k);
        }
        cmd.env_remove("CRATEMILL_REGISTRY_TOKEN").env_remove("CRATEMILL_INDEX_URL");
        for (k, v) in env.iter().filter(|(k, _)| !k.starts_with("TEST_")) {
            cmd.env(k, v);
        }
        cmd.envs(&carried_env).env("PATH", path).env("GITHUB_ACTIONS", "true").env("GITHUB_ACTION_PATH", &root);
        for f in names {
            cmd.env(f, dir.join(f));
        }
        for (k, v) in step["env"].as_mapping().into_iter().flatten() {
            cmd.env(k.as_str().unwrap(), expr::interpolate(&ctx, v.as_str().unwrap()));
        }
        let out = cmd.output().unwrap();
        log.push_str(&format!(
            "--- step {id}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        ctx.steps.insert(id.clone(), parse_runner_file(&read("GITHUB_OUTPUT")));
        carried_env.extend(parse_runner_file(&read("GITHUB_ENV")));
        carried_path.extend(read("GITHUB_PATH").lines().filter(|l| !l.is_empty()).map(str::to_string));
        summary.push_str(&read("GITHUB_STEP_SUMMARY"));
        if !out.status.success() {
            failed = Some((id, out.status.code().unwrap_or(-1)));
        }
    }
    let mut outputs = BTreeMap::new();
    for (name, spec) in action["outputs"].as_mapping().unwrap() {
        let v = expr::interpolate(&ctx, spec["value"].as_str().unwrap());
        if !v.is_empty() {
            outputs.insert(name.as_str().unwrap().to_string(), v);
        }
    }
    Invocation { failed, outputs, log, summary }
}

/// A `'static` name for the job environment (tests only: a handful of names).
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn bin_crate(name: &str, version: &str) -> TestCrate {
    TestCrate::binary(name, version).file("LICENSE-MIT", MIT)
}

fn job_env(reg: &SparseRegistry) -> Vec<(&'static str, String)> {
    vec![
        ("CRATEMILL_BOOTSTRAP_EXE", env!("CARGO_BIN_EXE_cratemill").to_string()),
        ("CRATEMILL_INDEX_URL", reg.index_url()),
    ]
}

fn strs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn build_publish_attest_report_through_the_action() {
    let reg = SparseRegistry::start(vec![bin_crate("hello", "1.0.0")]);
    let ws = tempfile::tempdir().unwrap();
    let env = job_env(&reg);

    // build: the crate's code runs here; no token anywhere in this job.
    let b = run_action(ws.path(), &[("mode", "build"), ("crate", "hello"), ("path", "out/hello")], &strs(&env));
    assert!(b.failed.is_none(), "build failed: {:?}\n{}", b.failed, b.log);
    assert_eq!(b.outputs["status"], "built", "{:?}", b.outputs);
    assert_eq!(b.outputs["version"], "1.0.0");
    assert_eq!(b.outputs["executables"], "hello");
    assert!(!b.outputs.contains_key("failure-class"));
    let pkg = PathBuf::from(&b.outputs["package-dir"]);
    let pkg = if pkg.is_absolute() { pkg } else { ws.path().join(pkg) };
    assert_eq!(pkg, ws.path().join("out/hello"));
    assert!(ws.path().join(&b.outputs["result-path"]).is_file());
    let run = Command::new(pkg.join("bin/hello")).output().unwrap();
    assert!(run.status.success());
    assert!(b.summary.contains("hello"), "the step summary reached the runner's file");

    // publish: a fresh job would download `out/` as an artifact; the token comes in as an input.
    // A second, tampered package (a byte of its executable changed after CHECKSUMS) sorts first:
    // publish refuses it, says so, goes on with `hello`, and fails the step at the end.
    let broken = ws.path().join("out/broken");
    copy_dir(&pkg, &broken);
    let exe = broken.join("bin/hello");
    let mut bytes = std::fs::read(&exe).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&exe, bytes).unwrap();
    let reg_oci = registry::Registry::start();
    let dest = format!("{}/mirror", reg_oci.host());
    let mut penv = env.clone();
    penv.push(("GITHUB_ACTOR", registry::USER.to_string()));
    // A license policy the package breaks (hello is MIT): refused before anything is pushed.
    let denied = run_action(
        ws.path(),
        &[
            ("mode", "publish"),
            ("path", "out/hello"),
            ("registry", &dest),
            ("insecure-http", "true"),
            ("deny-license", "GPL-3.0-only, MIT"),
            ("token", registry::PASSWORD),
        ],
        &strs(&penv),
    );
    assert_eq!(denied.failed.as_ref().map(|f| f.0.as_str()), Some("publish"), "{}", denied.log);
    assert!(denied.log.contains("MIT") && denied.log.contains("deny"), "{}", denied.log);
    assert!(registry::inspect_raw(&format!("{dest}/hello:1.0.0-x86_64-unknown-linux-gnu")).is_err(), "nothing pushed");
    let p = run_action(
        ws.path(),
        &[
            ("mode", "publish"),
            ("path", "out"),
            ("registry", &dest),
            ("insecure-http", "true"),
            ("token", registry::PASSWORD),
        ],
        &strs(&penv),
    );
    assert_eq!(p.failed.as_ref().map(|f| f.0.as_str()), Some("publish"), "the bad package fails the step: {}", p.log);
    assert!(p.log.contains("publishing out/broken failed") && p.log.contains("the other packages go on"), "{}", p.log);
    assert!(p.log.contains("1 package(s) published, 1 failed"), "{}", p.log);
    assert!(
        p.summary.contains("| `broken` | **failed**") && p.summary.contains("| `hello` | published |"),
        "{}",
        p.summary
    );
    assert!(!broken.join("publish.json").exists() && pkg.join("publish.json").is_file());
    let image = &p.outputs["image"];
    assert_eq!(image, &format!("{dest}/hello:1.0.0-x86_64-unknown-linux-gnu"));
    let manifest = registry::inspect_raw(image).expect("the image reads back");
    assert_eq!(p.outputs["digest"], format!("sha256:{}", hex::encode(Sha256::digest(&manifest))));
    assert!(p.outputs["srcbuild-image"].contains("-srcbuild-"));
    assert!(registry::inspect_raw(&p.outputs["srcbuild-image"]).is_ok());
    assert!(p.log.contains(&format!("::add-mask::{}", registry::PASSWORD)), "the token is masked in the log");

    // attest: signed with the key from the `signing-key` input, the bundle attached to the image
    // (the fallback tag: this registry has no referrers API) where `install --verify` finds it.
    // The unpublished package is skipped, not attested.
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = sigstore::keypair(keys.path(), "mirror");
    let pem = std::fs::read_to_string(&key).unwrap();
    let mut aenv = penv.clone();
    aenv.extend(sigstore::runner_env().into_iter().map(|(k, v)| (leak(k), v)));
    let a = run_action(
        ws.path(),
        &[
            ("mode", "attest"),
            ("path", "out"),
            ("sign", "key"),
            ("signing-key", &pem),
            ("insecure-http", "true"),
            ("token", registry::PASSWORD),
        ],
        &strs(&aenv),
    );
    assert!(a.failed.is_none(), "attest failed: {:?}\n{}", a.failed, a.log);
    assert!(a.log.contains("skipping out/broken: not published"), "{}", a.log);
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.path().join("cratemill-attest/attest.json")).unwrap()).unwrap();
    let entry = &record["attestations"][0];
    assert_eq!(entry["packages"].as_array().unwrap().len(), 1, "{record}");
    assert_eq!(entry["attached"].as_array().unwrap().len(), 1, "{record}");
    assert!(ws.path().join("cratemill-attest").join(entry["bundle"].as_str().unwrap()).is_file());
    let digest_hex = p.outputs["digest"].trim_start_matches("sha256:").to_string();
    let fallback = format!("{dest}/hello:sha256-{digest_hex}");
    assert!(registry::inspect_raw(&fallback).is_ok(), "skopeo reads the fallback tag {fallback}");
    let leftover = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().starts_with("cratemill-signing-key-"));
    assert!(!leftover, "the key file is removed when the step ends");
    let bin = ws.path().join("installed");
    let host = reg_oci.host();
    let install = sigstore::cratemill(
        &[
            "install",
            "hello@1.0.0",
            "--from",
            &format!("{host}/mirror"),
            "--insecure-http",
            "--dir",
            bin.to_str().unwrap(),
            "--target",
            "x86_64-unknown-linux-gnu",
            "--verify",
            "require",
            "--key",
            public.to_str().unwrap(),
        ],
        &[
            ("CRATEMILL_REGISTRY_USER".into(), registry::USER.into()),
            ("CRATEMILL_REGISTRY_TOKEN".into(), registry::PASSWORD.into()),
        ],
    );
    assert!(install.status.success(), "install --verify require: {}", sigstore::stderr(&install));
    assert!(bin.join("hello").is_file());
    std::fs::remove_dir_all(&broken).unwrap();

    // report: the outcomes into a new built index, also pushed to the registry (push-index).
    let pushed_to = format!("{dest}/cratemill-built-index:main");
    let r = run_action(
        ws.path(),
        &[
            ("mode", "report"),
            ("path", "out"),
            ("built-index", "index/built.json"),
            ("push-index", &pushed_to),
            ("insecure-http", "true"),
            ("token", registry::PASSWORD),
        ],
        &strs(&penv),
    );
    assert!(r.failed.is_none(), "report failed: {:?}\n{}", r.failed, r.log);
    assert_eq!((r.outputs["jobs"].as_str(), r.outputs["published"].as_str()), ("1", "1"), "{:?}", r.outputs);
    let index: cratemill::schema::plan::BuiltIndex =
        cratemill::schema::read(&ws.path().join("index/built.json")).unwrap();
    assert_eq!(index.entries.len(), 1);
    assert_eq!(index.entries[0].digest.as_deref(), Some(p.outputs["digest"].as_str()));
    assert!(r.outputs["index-reference"].starts_with(&format!("{pushed_to}@sha256:")), "{:?}", r.outputs);
    assert!(registry::inspect_raw(&pushed_to).is_ok(), "skopeo reads the pushed index");
    assert!(r.log.contains(&format!("::add-mask::{}", registry::PASSWORD)), "the token is masked");
}

#[test]
fn build_refuses_a_job_that_holds_a_token() {
    let reg = SparseRegistry::start(vec![bin_crate("hello", "1.0.0")]);
    let ws = tempfile::tempdir().unwrap();
    let base = job_env(&reg);
    for var in ["GITHUB_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "CRATEMILL_REGISTRY_TOKEN"] {
        let mut env = strs(&base);
        env.push((var, "sekret-value"));
        let b = run_action(ws.path(), &[("mode", "build"), ("crate", "hello"), ("path", "out/hello")], &env);
        assert_eq!(b.failed, Some(("build".to_string(), 2)), "{}", b.log);
        let line = b.log.lines().find(|l| l.starts_with("error: ")).expect("an error line");
        assert!(line.contains(var) && line.contains("permissions: {}") && line.contains("trusted: true"), "{line}");
        assert!(!ws.path().join("out").exists(), "nothing was built");
        assert!(b.outputs.is_empty());
    }
    // Told the job is trusted, it goes on (to the registry's answer: no such crate).
    let mut env = strs(&base);
    env.push(("GITHUB_TOKEN", "sekret-value"));
    let b = run_action(ws.path(), &[("mode", "build"), ("crate", "nope"), ("trusted", "true")], &env);
    assert_eq!(b.failed, Some(("build".to_string(), 2)), "{}", b.log);
    assert!(!b.log.contains("untrusted build scripts"), "{}", b.log);
}

#[test]
fn bad_inputs_stop_before_anything_runs() {
    let reg = SparseRegistry::start(vec![]);
    let ws = tempfile::tempdir().unwrap();
    let env = job_env(&reg);
    for (with, needle) in [
        (vec![("mode", "bild")], "input `mode` is `bild`"),
        (vec![("mode", "build")], "needs the input `crate`"),
        (vec![("mode", "build"), ("crate", "$(touch x)")], "input `crate`"),
        (vec![("mode", "build"), ("crate", "hello"), ("features", "a;rm -rf /")], "input `features`"),
        (vec![("mode", "matrix"), ("chunk-size", "1000")], "input `chunk-size` is `1000`"),
        (vec![("mode", "publish"), ("layout", "flat")], "input `layout`"),
    ] {
        let inv = run_action(ws.path(), &with, &strs(&env));
        assert_eq!(inv.failed, Some(("validate".to_string(), 2)), "{with:?}: {}", inv.log);
        let line = inv.log.lines().find(|l| l.starts_with("error: ")).expect("an error line");
        assert!(line.contains(needle), "{with:?}: {line}");
        assert!(inv.log.contains("::error title=cratemill::"), "an annotation too");
    }
    assert!(std::fs::read_dir(ws.path()).unwrap().next().is_none(), "nothing written");
}

#[test]
fn matrix_mode_plans_and_outputs_the_chunks() {
    let reg = SparseRegistry::start(vec![]);
    let ws = tempfile::tempdir().unwrap();
    let dump = ws.path().join("dump.tar.gz");
    cratemill::dump::synth::write(&cratemill::dump::synth::Spec::default(), &dump).unwrap();
    let env = job_env(&reg);
    let m = run_action(
        ws.path(),
        &[
            ("mode", "matrix"),
            ("dump", "dump.tar.gz"),
            ("since", "2025-01-01"),
            ("targets", "x86_64-unknown-linux-musl"),
            ("chunk-size", "5"),
            ("path", "plan"),
            ("built-index", "plan/built.json"),
        ],
        &strs(&env),
    );
    assert!(m.failed.is_none(), "{:?}\n{}", m.failed, m.log);
    assert!(m.log.contains("no built index at plan/built.json"), "a first run is announced: {}", m.log);
    let chunks: Vec<String> = serde_json::from_str(&m.outputs["chunks"]).unwrap();
    assert!(!chunks.is_empty());
    let plan: cratemill::schema::plan::Plan = cratemill::schema::read(&ws.path().join(&m.outputs["plan"])).unwrap();
    assert_eq!(m.outputs["jobs"], plan.jobs.len().to_string());
    assert_eq!(m.outputs["runs"], plan.runs.len().to_string());
    for id in &chunks {
        assert!(ws.path().join(format!("plan/chunks/{id}.json")).is_file());
    }
}

/// A stand-in cratemill that records each invocation's arguments (one line each, in `calls`) and
/// succeeds; enough to see what the action asks of cratemill without building anything.
struct FakeCratemill {
    dir: tempfile::TempDir,
}

impl FakeCratemill {
    fn new() -> FakeCratemill {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("cratemill");
        let script = format!(
            "#!/bin/bash\n[[ \"$1\" == --version ]] && {{ echo 'cratemill 0.0.0'; exit 0; }}\n[[ \"$2\" == --help ]] && exit 0\necho \"$*\" >> {}\n",
            dir.path().join("calls").display()
        );
        std::fs::write(&exe, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        FakeCratemill { dir }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![("CRATEMILL_BOOTSTRAP_EXE", self.dir.path().join("cratemill").display().to_string())]
    }

    /// The recorded invocations, and forget them.
    fn take(&self) -> Vec<String> {
        let file = self.dir.path().join("calls");
        let calls = std::fs::read_to_string(&file).unwrap_or_default();
        let _ = std::fs::remove_file(&file);
        calls.lines().map(str::to_string).collect()
    }
}

/// A published package folder (the files attest mode looks for; a fake cratemill reads none).
fn published_package(ws: &Path, name: &str) {
    let dir = ws.join("packages").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["result.json", "CHECKSUMS", "publish.json"] {
        std::fs::write(dir.join(f), "{}").unwrap();
    }
}

#[test]
fn signing_is_decided_up_front_from_the_repository_visibility() {
    let fake = FakeCratemill::new();
    let ws = tempfile::tempdir().unwrap();
    published_package(ws.path(), "hello-1.0.0-x86_64-unknown-linux-musl");
    let with_vis = |vis: &'static str| {
        let mut e = fake.env();
        e.push(("TEST_VISIBILITY", vis.to_string()));
        e
    };
    // A private repository with keyless signing and no instance chosen: refused in the validate
    // step, before the plan, before any push, with the three ways out.
    for mode in [
        vec![("mode", "matrix"), ("sign", "keyless")],
        vec![("mode", "publish"), ("sign", "keyless")],
        vec![("mode", "attest")],
    ] {
        let mut with = mode.clone();
        with.push(("path", "packages"));
        let inv = run_action(ws.path(), &with, &strs(&with_vis("private")));
        assert_eq!(inv.failed, Some(("validate".to_string(), 2)), "{with:?}: {}", inv.log);
        let line = inv.log.lines().find(|l| l.starts_with("error: ")).unwrap();
        for needle in
            ["Enterprise Cloud", "`sigstore-instance: github`", "`sigstore-instance: public-good`", "`sign: none`"]
        {
            assert!(line.contains(needle), "{needle}: {line}");
        }
        assert!(fake.take().is_empty(), "cratemill never ran");
    }
    let inv = run_action(ws.path(), &[("mode", "attest"), ("path", "packages")], &strs(&fake.env()));
    assert_eq!(inv.failed, Some(("validate".to_string(), 2)));
    assert!(inv.log.contains("visibility is unknown"), "{}", inv.log);
    let inv = run_action(ws.path(), &[("mode", "attest"), ("path", "packages"), ("sign", "key")], &strs(&fake.env()));
    assert_eq!(inv.failed, Some(("validate".to_string(), 2)));
    assert!(inv.log.contains("needs the input `signing-key`"), "{}", inv.log);

    // What each decision asks of cratemill: the instance, and the attestations API only where
    // GitHub keeps attestations (a public repository, or GitHub's instance on Enterprise Cloud).
    for (vis, with, expect) in [
        ("public", vec![], "--instance public-good --attach --github-api packages/"),
        ("private", vec![("sigstore-instance", "github")], "--instance github --attach --github-api packages/"),
        ("private", vec![("sigstore-instance", "public-good")], "--instance public-good --attach packages/"),
        ("public", vec![("github-api", "false")], "--instance public-good --attach packages/"),
        ("internal", vec![("sign", "none")], "--sign none --batch --out cratemill-attest packages/"),
    ] {
        let mut w = vec![("mode", "attest"), ("path", "packages")];
        w.extend(with.iter().copied());
        let inv = run_action(ws.path(), &w, &strs(&with_vis(vis)));
        assert!(inv.failed.is_none(), "{w:?}: {}", inv.log);
        let calls = fake.take();
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert!(calls[0].starts_with("attest --sign "), "{calls:?}");
        assert!(calls[0].contains(expect), "{w:?} {vis}: {} lacks {expect}", calls[0]);
    }
    // Told this organisation has Enterprise Cloud, a private repository plans.
    let inv = run_action(
        ws.path(),
        &[("mode", "matrix"), ("sign", "keyless"), ("sigstore-instance", "github"), ("dump", "d.tar.gz")],
        &strs(&with_vis("private")),
    );
    assert!(inv.failed.is_none(), "{}", inv.log);
    assert!(fake.take()[0].starts_with("matrix --dump d.tar.gz"));
}

#[test]
fn the_default_backend_is_zigbuild_for_musl_and_cross_only_on_request() {
    let fake = FakeCratemill::new();
    let ws = tempfile::tempdir().unwrap();
    for (with, expect) in [
        (vec![("target", "aarch64-unknown-linux-musl")], "--backend zigbuild"),
        (vec![], "--backend cargo"),
        (vec![("target", "x86_64-unknown-linux-gnu")], "--backend cargo"),
        (vec![("target", "x86_64-unknown-linux-musl"), ("backend", "cross")], "--backend cross"),
    ] {
        let mut w = vec![("mode", "build"), ("crate", "hello")];
        w.extend(with.iter().copied());
        let inv = run_action(ws.path(), &w, &strs(&fake.env()));
        assert!(inv.failed.is_none(), "{w:?}: {}", inv.log);
        let calls = fake.take();
        assert!(calls[0].starts_with("build hello ") && calls[0].contains(expect), "{w:?}: {calls:?}");
    }
}

#[test]
fn hosted_runners_install_tools_side_by_side_refreshing_apt_first() {
    let fake = FakeCratemill::new();
    let ws = tempfile::tempdir().unwrap();
    // A PATH of /usr/bin without bwrap, qemu, sudo and cargo-auditable, plus recording `sudo`,
    // `rustup` and `cargo` (whose `install --root R` leaves an R/bin/cargo-auditable).
    let bin = tempfile::tempdir().unwrap();
    let recorded = ["sudo", "rustup", "cargo"];
    for e in std::fs::read_dir("/usr/bin").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name == "bwrap"
            || name.starts_with("qemu-")
            || name.starts_with("cargo")
            || recorded.contains(&name.as_str())
        {
            continue;
        }
        std::os::unix::fs::symlink(e.path(), bin.path().join(&name)).unwrap();
    }
    let log = bin.path().join("sudo.log");
    let tools = tempfile::tempdir().unwrap();
    for tool in recorded {
        let mut script = format!("#!/bin/bash\necho \"{tool} $*\" >> {}\n", log.display());
        // rustup and the apt update each wait (10 s at most) until the other has started: run one
        // after the other, as before, the first gives up and the job fails.
        let waits = match tool {
            "rustup" => Some("sudo"),
            "sudo" => Some("rustup"),
            _ => None,
        };
        if let Some(other) = waits {
            let dir = bin.path().display();
            script.push_str(&format!(
                "if [[ $* != *sysctl* && $* != *install* ]]; then touch {dir}/{tool}.started\n\
                 for _ in $(seq 100); do [[ -e {dir}/{other}.started ]] && break; sleep 0.1; done\n\
                 [[ -e {dir}/{other}.started ]] || {{ echo '{tool}: {other} did not run beside me' >&2; exit 1; }}; fi\n"
            ));
        }
        if tool == "cargo" {
            script.push_str(
                "while (($#)); do [[ $1 == --root ]] && root=$2; shift; done\n\
                 mkdir -p \"$root/bin\" && printf '#!/bin/sh\\n' > \"$root/bin/cargo-auditable\" && chmod +x \"$root/bin/cargo-auditable\"\n",
            );
        }
        std::fs::write(bin.path().join(tool), script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(bin.path().join(tool), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut env = fake.env();
    env.push(("TEST_PATH", bin.path().display().to_string()));
    env.push(("RUNNER_ENVIRONMENT", "github-hosted".to_string()));
    env.push(("RUNNER_TOOL_CACHE", tools.path().display().to_string()));
    let w = [("mode", "build"), ("crate", "hello"), ("target", "aarch64-unknown-linux-musl"), ("backend", "cargo")];
    let inv = run_action(ws.path(), &w, &strs(&env));
    assert!(inv.failed.is_none(), "{}", inv.log);
    let mut calls: Vec<String> =
        std::fs::read_to_string(&log).unwrap().lines().filter(|l| !l.contains("sysctl")).map(str::to_string).collect();
    // The tools install side by side (docs/benchmarks.md, "Job start to first compile"): in any
    // order, but apt's indexes are refreshed before its one install.
    let update = calls.iter().position(|c| c == "sudo apt-get update -qq");
    let install = calls.iter().position(|c| c.starts_with("sudo apt-get install"));
    assert!(update.is_some() && update < install, "{calls:?}");
    calls.sort();
    // cargo-auditable (the dependency list, `--auditable on`), pinned as cratemill pins it, into the tool cache.
    let version = cratemill::builder::backend::CARGO_AUDITABLE_VERSION;
    let root = tools.path().join("cargo-auditable").join(version).join(std::env::consts::ARCH);
    let auditable =
        format!("cargo install --locked --quiet cargo-auditable --version {version} --root {}", root.display());
    assert!(root.with_extension("complete").exists(), "the tool cache entry is marked complete");
    // This checkout's dist/sha256sums.txt lists no cargo-auditable asset (no release yet): the
    // build is the fallback, and the job says what it costs.
    assert!(inv.log.contains(&format!("no verified cargo-auditable {version} asset")), "{}", inv.log);
    assert_eq!(
        calls,
        [
            auditable.as_str(),
            "rustup target add aarch64-unknown-linux-musl",
            "sudo apt-get install -y -qq --no-install-recommends bubblewrap qemu-user-static",
            "sudo apt-get update -qq",
        ]
    );
    assert_eq!(fake.take().len(), 1, "then cratemill builds");
    // A second job on the same runner finds it in the tool cache: nothing is built again.
    std::fs::remove_file(&log).unwrap();
    let inv = run_action(ws.path(), &w, &strs(&env));
    assert!(inv.failed.is_none(), "{}", inv.log);
    let again = std::fs::read_to_string(&log).unwrap();
    assert!(!again.contains("cargo install"), "{again}");
    assert_eq!(fake.take().len(), 1);
}

#[test]
fn input_values_cannot_start_a_workflow_command() {
    let fake = FakeCratemill::new();
    let ws = tempfile::tempdir().unwrap();
    for value in ["1.0\n::add-mask::x", "1.0\r::stop-commands::t", "1.0%0A::warning::w"] {
        let inv =
            run_action(ws.path(), &[("mode", "build"), ("crate", "hello"), ("version", value)], &strs(&fake.env()));
        assert_eq!(inv.failed, Some(("validate".to_string(), 2)), "{}", inv.log);
        // The runner splits lines at LF and at CR: no line but the one annotation is a command.
        let commands: Vec<&str> = inv.log.split(['\n', '\r']).filter(|l| l.starts_with("::")).collect();
        assert_eq!(commands.len(), 1, "{commands:?}");
        assert!(commands[0].starts_with("::error title=cratemill::input `version` is `1.0%"), "{commands:?}");
        let escaped = value.replace('%', "%25").replace('\n', "%0A").replace('\r', "%0D");
        assert!(commands[0].contains(&escaped), "{commands:?}");
    }
}

#[test]
fn report_opens_issues_when_asked_and_an_empty_run_leaves_the_index_alone() {
    let reg = SparseRegistry::start(vec![]);
    let ws = tempfile::tempdir().unwrap();
    let mut env = job_env(&reg);

    // A run cancelled before any chunk reported: no result.json. Not an error; nothing written.
    std::fs::create_dir_all(ws.path().join("results")).unwrap();
    let r = run_action(
        ws.path(),
        &[("mode", "report"), ("path", "results"), ("built-index", "plan/built.json")],
        &strs(&env),
    );
    assert!(r.failed.is_none(), "{}", r.log);
    assert!(r.log.contains("::notice title=cratemill::no result.json at or below results"), "{}", r.log);
    assert!(r.outputs.is_empty() && !ws.path().join("plan").exists(), "{:?}", r.outputs);

    // A crate's own compile error, on a GitHub repository: one issue, and the outputs say so.
    let api = github_api::GithubApi::start("github_pat_test", &[("example/broken", github_api::Repo::Open)]);
    let folder = report_results::failed(
        &ws.path().join("results"),
        &report_results::job("broken", "1.0.0", report_results::X86),
        cratemill::schema::result::FailureClass::CompileError,
    );
    let file = folder.join("result.json");
    let mut result: cratemill::schema::result::BuildResult = cratemill::schema::read(&file).unwrap();
    result.package = Some(cratemill::schema::result::PackageMeta {
        repository: Some("https://github.com/example/broken".into()),
        ..Default::default()
    });
    cratemill::schema::write(&file, &result).unwrap();
    env.push(("GITHUB_API_URL", api.url.clone()));
    // crates.io confirms the crate's repository (`report --open-issues` files only there).
    let crates_io = crates_io_api::CratesIoApi::start("example", &[]);
    env.push(("CRATEMILL_CRATES_IO_API", crates_io.url.clone()));
    let without = run_action(
        ws.path(),
        &[("mode", "report"), ("path", "results"), ("built-index", "plan/built.json"), ("open-issues", "true")],
        &strs(&env),
    );
    assert_eq!(without.failed, Some(("plan".to_string(), 2)), "{}", without.log);
    assert!(without.log.contains("open-issues needs a token in `github-token`"), "{}", without.log);
    let r = run_action(
        ws.path(),
        &[
            ("mode", "report"),
            ("path", "results"),
            ("built-index", "plan/built.json"),
            ("open-issues", "true"),
            ("github-token", "github_pat_test"),
        ],
        &strs(&env),
    );
    assert!(r.failed.is_none(), "{}", r.log);
    assert_eq!(api.issues().len(), 1, "{:?}", api.requests());
    assert_eq!(r.outputs.get("issues-opened").map(String::as_str), Some("1"), "{:?}", r.outputs);
    assert!(ws.path().join(&r.outputs["issues"]).is_file());
    assert!(r.log.contains("::add-mask::github_pat_test"), "the token is masked");
}

#[test]
fn a_build_refused_before_it_starts_leaves_a_result_for_the_upload_and_the_report() {
    // The fleet uploads `out/` with if-no-files-found: error, and the report counts result.json
    // files: a refusal that left nothing made the job vanish from both.
    let reg = SparseRegistry::start(vec![bin_crate("hello", "1.0.0")]);
    let ws = tempfile::tempdir().unwrap();
    let env = job_env(&reg);
    let b = run_action(
        ws.path(),
        &[
            ("mode", "build"),
            ("crate", "hello"),
            ("version", "1.0.0"),
            ("target", "x86_64-unknown-linux-gnu"),
            ("backend", "zigbuild"),
            ("path", "out/hello-1.0.0-x86_64-unknown-linux-gnu"),
        ],
        &strs(&env),
    );
    assert_eq!(b.failed, Some(("build".to_string(), 2)), "{}", b.log);
    let result: cratemill::schema::result::BuildResult =
        cratemill::schema::read(&ws.path().join("out/hello-1.0.0-x86_64-unknown-linux-gnu/result.json")).unwrap();
    let failure = result.failure.expect("a failure");
    assert!(failure.message.contains("cannot make static glibc executables"), "{}", failure.message);
    let r =
        run_action(ws.path(), &[("mode", "report"), ("path", "out"), ("built-index", "index/built.json")], &strs(&env));
    assert!(r.failed.is_none(), "{}", r.log);
    assert_eq!((r.outputs["jobs"].as_str(), r.outputs["failed"].as_str()), ("1", "1"), "{:?}", r.outputs);

    // Never into a folder that holds something else.
    let foreign = ws.path().join("mine");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("precious.txt"), "keep").unwrap();
    let b = run_action(
        ws.path(),
        &[
            ("mode", "build"),
            ("crate", "hello"),
            ("version", "1.0.0"),
            ("target", "x86_64-unknown-linux-gnu"),
            ("backend", "zigbuild"),
            ("path", "mine"),
        ],
        &strs(&env),
    );
    assert_eq!(b.failed, Some(("build".to_string(), 2)), "{}", b.log);
    assert!(!foreign.join("result.json").exists());
}

/// A hosted runner's image can trail the newest Rust release. A build that fails as `rust-version`
/// there (its result.json says so) makes the step update rustup's stable toolchain and build once
/// more, only when the update brought a newer rustc; other failures, and an update that brings
/// nothing newer, stand as they are.
#[test]
fn a_rust_version_failure_on_a_hosted_runner_updates_stable_and_builds_again() {
    use std::os::unix::fs::PermissionsExt;
    let exec = |p: &Path, text: String| {
        std::fs::write(p, text).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    for (class, newer, builds, updates) in
        [("rust-version", true, 2, true), ("rust-version", false, 1, true), ("compile-error", true, 1, false)]
    {
        let ws = tempfile::tempdir().unwrap();
        let bin = tempfile::tempdir().unwrap();
        let state = bin.path().join("state");
        std::fs::create_dir(&state).unwrap();
        let skip = ["bwrap", "sudo", "rustup", "rustc", "cargo"];
        for e in std::fs::read_dir("/usr/bin").unwrap().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if !skip.contains(&name.as_str()) && !name.starts_with("qemu-") && !name.starts_with("cargo") {
                std::os::unix::fs::symlink(e.path(), bin.path().join(&name)).unwrap();
            }
        }
        let (log, st) = (bin.path().join("calls.log"), state.display());
        exec(&bin.path().join("sudo"), "#!/bin/sh\nexit 0\n".into());
        exec(
            &bin.path().join("cargo"),
            "#!/bin/bash\nwhile (($#)); do [[ $1 == --root ]] && root=$2; shift; done\nmkdir -p \"$root/bin\" && printf '#!/bin/sh\\n' > \"$root/bin/cargo-auditable\" && chmod +x \"$root/bin/cargo-auditable\"\n".into(),
        );
        let bump = if newer { format!("touch {st}/updated") } else { "true".to_string() };
        exec(
            &bin.path().join("rustup"),
            format!("#!/bin/bash\necho \"rustup $*\" >> {}\n[[ $1 == update ]] && {bump}\nexit 0\n", log.display()),
        );
        exec(
            &bin.path().join("rustc"),
            format!("#!/bin/sh\nif [ -e {st}/updated ]; then echo 'rustc 1.99.0 (test)'; else echo 'rustc 1.80.0 (test)'; fi\n"),
        );
        // The first build fails with CLASS in its result.json; a second one builds.
        let fake = bin.path().join("fake-cratemill");
        exec(
            &fake,
            format!(
                "#!/bin/bash\n[[ $1 == --version ]] && {{ echo 'cratemill 0.0.0'; exit 0; }}\necho \"cratemill $1\" >> {log}\n\
                 while (($#)); do [[ $1 == --out ]] && out=$2; shift; done\n\
                 [[ -e {st}/built-once ]] && exit 0\ntouch {st}/built-once\nmkdir -p \"$out\"\n\
                 printf '{{\"status\":\"failed\",\"failure\":{{\"class\":\"{class}\"}}}}' > \"$out/result.json\"\nexit 1\n",
                log = log.display()
            ),
        );
        let env = [
            ("CRATEMILL_BOOTSTRAP_EXE", fake.display().to_string()),
            ("TEST_PATH", bin.path().display().to_string()),
            ("RUNNER_ENVIRONMENT", "github-hosted".to_string()),
            ("RUNNER_TOOL_CACHE", ws.path().join("tools").display().to_string()),
        ];
        let out = ws.path().join("out").display().to_string();
        let w = [("mode", "build"), ("crate", "hello"), ("backend", "cargo"), ("path", out.as_str())];
        let inv = run_action(ws.path(), &w, &strs(&env));
        let calls = std::fs::read_to_string(&log).unwrap();
        let ran = calls.lines().filter(|l| *l == "cratemill build").count();
        assert_eq!(ran, builds, "{class} newer={newer}: {calls}\n{}", inv.log);
        assert_eq!(calls.contains("rustup update stable --no-self-update"), updates, "{calls}");
        if builds == 2 {
            assert!(inv.failed.is_none(), "{}", inv.log);
            assert!(inv.log.contains("building again with rustc 1.99.0"), "{}", inv.log);
        } else {
            assert_eq!(inv.failed.as_ref().map(|f| f.1), Some(1), "the build's own exit code: {}", inv.log);
        }
        if updates && !newer {
            assert!(inv.log.contains("stable is already the newest"), "{}", inv.log);
        }
    }
}
