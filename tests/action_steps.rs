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

#[path = "support/registry.rs"]
mod registry;

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
            ["github", name] => ctx.github.get(*name),
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
    ctx.github.insert("token".into(), env.iter().find(|(k, _)| *k == "TEST_GITHUB_TOKEN").map_or("", |kv| kv.1).into());
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
        let base_path = std::env::var("PATH").unwrap();
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
fn build_publish_report_through_the_action() {
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
    let reg_oci = registry::Registry::start();
    let dest = format!("{}/mirror", reg_oci.host());
    let mut penv = env.clone();
    penv.push(("GITHUB_ACTOR", registry::USER.to_string()));
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
    assert!(p.failed.is_none(), "publish failed: {:?}\n{}", p.failed, p.log);
    let image = &p.outputs["image"];
    assert_eq!(image, &format!("{dest}/hello:1.0.0-x86_64-unknown-linux-gnu"));
    let manifest = registry::inspect_raw(image).expect("the image reads back");
    assert_eq!(p.outputs["digest"], format!("sha256:{}", hex::encode(Sha256::digest(&manifest))));
    assert!(p.outputs["srcbuild-image"].contains("-srcbuild-"));
    assert!(registry::inspect_raw(&p.outputs["srcbuild-image"]).is_ok());
    assert!(p.log.contains(&format!("::add-mask::{}", registry::PASSWORD)), "the token is masked in the log");

    // report: the outcomes into a new built index.
    let r =
        run_action(ws.path(), &[("mode", "report"), ("path", "out"), ("built-index", "index/built.json")], &strs(&env));
    assert!(r.failed.is_none(), "report failed: {:?}\n{}", r.failed, r.log);
    assert_eq!((r.outputs["jobs"].as_str(), r.outputs["published"].as_str()), ("1", "1"), "{:?}", r.outputs);
    let index: cratemill::schema::plan::BuiltIndex =
        cratemill::schema::read(&ws.path().join("index/built.json")).unwrap();
    assert_eq!(index.entries.len(), 1);
    assert_eq!(index.entries[0].digest.as_deref(), Some(p.outputs["digest"].as_str()));
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
