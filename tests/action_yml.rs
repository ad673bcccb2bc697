//! `action.yml` against the code: it declares exactly the step outputs cratemill writes
//! (`actions::Output`), each taken from the step that runs the subcommand writing it; every input the
//! issue lists exists with a description; inputs reach scripts only through `env:`; the build step
//! never sees the token.

use std::collections::BTreeSet;

use cratemill::actions::{Mode, Output};
use serde_yaml::Value;

fn action() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/action.yml")).expect("action.yml");
    serde_yaml::from_str(&text).expect("action.yml parses")
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_mapping().expect("a mapping").keys().map(|k| k.as_str().expect("string key").to_string()).collect()
}

fn steps(a: &Value) -> Vec<Value> {
    a["runs"]["steps"].as_sequence().expect("runs.steps").clone()
}

fn step(a: &Value, id: &str) -> Value {
    steps(a).into_iter().find(|s| s["id"].as_str() == Some(id)).unwrap_or_else(|| panic!("no step `{id}`"))
}

/// The step of action.yml that runs a mode's subcommand.
fn step_of(mode: Mode) -> &'static str {
    match mode {
        Mode::Build => "build",
        Mode::Publish => "publish",
        Mode::Matrix | Mode::Report => "plan",
    }
}

#[test]
fn outputs_are_exactly_the_cli_outputs_from_the_right_step() {
    let a = action();
    let declared = keys(&a["outputs"]);
    let expected: BTreeSet<String> = Output::ALL.iter().map(|o| o.name().to_string()).collect();
    assert_eq!(declared, expected, "action.yml outputs differ from src/actions.rs Output");
    for o in Output::ALL {
        let ids: BTreeSet<&str> = o.phases().iter().map(|m| step_of(*m)).collect();
        assert_eq!(ids.len(), 1, "{} comes from one step", o.name());
        let id = ids.into_iter().next().unwrap();
        let value = a["outputs"][o.name()]["value"].as_str().unwrap();
        assert_eq!(value, format!("${{{{ steps.{id}.outputs.{} }}}}", o.name()));
        assert!(!a["outputs"][o.name()]["description"].as_str().unwrap_or("").is_empty());
        for m in o.phases() {
            let cond = step(&a, id)["if"].as_str().unwrap().to_string();
            assert!(cond.contains(&format!("inputs.mode == '{}'", m.name())), "{id} runs for {}", m.name());
        }
    }
}

#[test]
fn every_listed_input_is_declared_documented_and_passed_through_env() {
    let a = action();
    let inputs = keys(&a["inputs"]);
    for name in [
        "mode",
        "crate",
        "version",
        "target",
        "backend",
        "features",
        "registry",
        "layout",
        "sign",
        "dump",
        "since",
        "targets",
        "chunk-size",
        "built-index",
        "token",
        "cratemill-version",
        "sigstore-instance",
        "repository-visibility",
        "signing-key",
        "github-api",
        "github-token",
        "open-issues",
        "push-index",
    ] {
        assert!(inputs.contains(name), "input `{name}` missing");
    }
    let mut used = BTreeSet::new();
    for s in steps(&a) {
        let run = s["run"].as_str().expect("every step runs a script");
        assert!(!run.contains("${{"), "an expression inside run: {run}");
        assert_eq!(s["shell"].as_str(), Some("bash"));
        for (k, v) in s["env"].as_mapping().expect("env").iter() {
            let v = v.as_str().unwrap();
            let plain = |n: &&str| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
            if let Some(name) = v.strip_prefix("${{ inputs.").and_then(|r| r.strip_suffix(" }}")).filter(plain) {
                let var = format!("INPUT_{}", name.to_uppercase().replace('-', "_"));
                assert_eq!(k.as_str().unwrap(), var, "input {name} goes to INPUT_ + its name");
                used.insert(name.to_string());
            }
        }
    }
    for name in &inputs {
        assert!(used.contains(name), "input `{name}` never reaches a script");
        assert!(!a["inputs"][name.as_str()]["description"].as_str().unwrap_or("").is_empty());
    }
    assert!(a["branding"]["icon"].is_string() && a["branding"]["color"].is_string());
    assert_eq!(a["runs"]["using"].as_str(), Some("composite"));
}

#[test]
fn the_token_reaches_only_publish_and_attest() {
    let a = action();
    for s in steps(&a) {
        let env = s["env"].as_mapping().unwrap();
        let holds = |input: &str| env.values().any(|v| v.as_str() == Some(&format!("${{{{ inputs.{input} }}}}")));
        let id = s["id"].as_str().unwrap();
        assert_eq!(holds("token"), id == "publish" || id == "attest", "token in step {id}");
        let push = env.values().any(|v| v.as_str() == Some("${{ inputs.push-index != '' && inputs.token || '' }}"));
        assert_eq!(push, id == "plan", "the registry token to the report step only for push-index, in step {id}");
        // The attestations API token and the signing key: the attest step only; the issues token
        // to the report step only when it opens issues.
        assert_eq!(holds("github-token"), id == "attest", "github-token in step {id}");
        let gated = env
            .values()
            .any(|v| v.as_str() == Some("${{ inputs.open-issues != 'false' && inputs.github-token || '' }}"));
        assert_eq!(gated, id == "plan", "the issues token in step {id}");
        assert_eq!(holds("signing-key"), id == "attest", "signing-key in step {id}");
    }
}

#[test]
fn signing_is_decided_in_the_validate_step_from_the_repository() {
    let a = action();
    let env = step(&a, "validate")["env"].clone();
    for var in ["INPUT_SIGN", "INPUT_SIGSTORE_INSTANCE", "INPUT_REPOSITORY_VISIBILITY", "INPUT_SIGNING_KEY_SET"] {
        assert!(env.get(var).is_some(), "the validate step lacks {var}");
    }
    // Whether a key was given, never the key itself.
    assert_eq!(env["INPUT_SIGNING_KEY_SET"].as_str(), Some("${{ inputs.signing-key != '' }}"));
    assert_eq!(
        a["inputs"]["repository-visibility"]["default"].as_str(),
        Some("${{ github.event.repository.visibility }}")
    );
    assert_eq!(a["inputs"]["sigstore-instance"]["default"].as_str(), Some("auto"));
}
