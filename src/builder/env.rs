//! The environment a build child process gets: an allow-list, never the caller's secrets.
//!
//! Crate build scripts and proc-macros are untrusted code that runs during the build, so the build
//! gets only the variables it needs to find its tools (`PATH`, `HOME`, toolchain homes, locale, Docker
//! for `cross`) plus the ones cratemill sets itself. Everything else is dropped, including
//! `GITHUB_TOKEN`, `ACTIONS_*` tokens, `CARGO_REGISTRIES_*_TOKEN` and registry credentials. As a second
//! line of defence, an allowed variable whose *value* equals a known secret's value is dropped too.
//! cratemill's own variables for a build are [`BuildVars`]. Pure: takes the parent environment as
//! data and returns the child's ([`current`] reads it).

use std::collections::BTreeMap;
use std::path::Path;

use crate::schema::result::Toolchain;
use crate::schema::Backend;
use crate::target::Target;

use super::{backend, prepare, toolchain};

/// What cratemill's own variables for a build depend on.
pub struct BuildVars<'a> {
    pub target: &'a Target,
    pub backend: Backend,
    /// The target's RUSTFLAGS with the backend's linker.
    pub rustflags: &'a str,
    pub toolchain: &'a Toolchain,
    pub target_dir: &'a Path,
    /// Cargo's build-dir, when it is not the target folder.
    pub build_dir: Option<&'a Path>,
    pub cargo_home: &'a Path,
}

impl BuildVars<'_> {
    /// The variables result.json records (`build_env`): the target's profile and RUSTFLAGS, the
    /// static-linking switches, quiet cargo output, the toolchain's, and what `cross` must pass on.
    pub fn recorded(&self) -> Vec<(String, String)> {
        let target = self.target;
        let mut vars: Vec<(String, String)> =
            target.profile_env().into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        vars.push((target.rustflags_env_name(), self.rustflags.to_string()));
        vars.extend(prepare::build_env());
        vars.push(("CARGO_TERM_COLOR".into(), "never".into()));
        vars.push(("CARGO_TERM_PROGRESS_WHEN".into(), "never".into()));
        vars.push(("CARGO_INCREMENTAL".into(), "0".into()));
        vars.extend(toolchain::build_env(self.toolchain));
        if self.backend == Backend::Cross {
            if let Some(pass) = backend::cross_passthrough(&vars) {
                vars.push(("CROSS_BUILD_ENV_PASSTHROUGH".into(), pass));
            }
        }
        vars
    }

    /// Every variable cratemill sets: the recorded ones and the job's folders. `CARGO_HOME` is
    /// cratemill's own: the registry cache of the fetch and nothing else (no config.toml, no
    /// credentials, no bin/).
    pub fn all(&self) -> Vec<(String, String)> {
        let mut vars = self.recorded();
        vars.push(("CARGO_TARGET_DIR".into(), self.target_dir.display().to_string()));
        if let Some(dir) = self.build_dir {
            vars.push(("CARGO_BUILD_BUILD_DIR".into(), dir.display().to_string()));
        }
        vars.push(("CARGO_HOME".into(), self.cargo_home.display().to_string()));
        vars
    }
}

/// Variables passed through unchanged when present.
const ALLOW: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "TERM",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "RUSTUP_AUTO_INSTALL",
    // C toolchain selection used by cc-rs / cmake; never secret.
    "CC",
    "CXX",
    "AR",
    "CFLAGS",
    "CXXFLAGS",
    "LDFLAGS",
    "PKG_CONFIG_PATH",
    "LIBCLANG_PATH",
    "CMAKE_GENERATOR",
    // cross talks to the container engine.
    "DOCKER_HOST",
    "DOCKER_CERT_PATH",
    "DOCKER_TLS_VERIFY",
    "XDG_RUNTIME_DIR",
    "CROSS_CONTAINER_ENGINE",
    "CROSS_CUSTOM_TOOLCHAIN",
    "CROSS_REMOTE",
    // zig for cargo-zigbuild.
    "CARGO_ZIGBUILD_ZIG_PATH",
    "ZIG_GLOBAL_CACHE_DIR",
    "ZIG_LOCAL_CACHE_DIR",
];

/// Variables whose values are secrets wherever they appear: never passed, and any other variable with
/// the same value is dropped.
const KNOWN_SECRETS: &[&str] = &[
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "ACTIONS_RUNTIME_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_CACHE_URL",
    "ACTIONS_RESULTS_URL",
    "CRATEMILL_REGISTRY_TOKEN",
    "CARGO_REGISTRY_TOKEN",
    "SIGSTORE_ID_TOKEN",
    "COSIGN_PASSWORD",
    "COSIGN_PRIVATE_KEY",
];

/// Variable names that look like credentials; their values are treated as secrets too.
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    KNOWN_SECRETS.contains(&upper.as_str())
        || ["TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "PRIVATE_KEY", "API_KEY", "AUTH"]
            .iter()
            .any(|w| upper.contains(w))
}

/// Build the child environment from the parent's, adding cratemill's own `extra` variables.
/// `extra_secrets` are values the caller knows are secret (inputs marked secret): never passed.
pub fn scrub(
    parent: &BTreeMap<String, String>,
    extra: &[(String, String)],
    extra_secrets: &[String],
) -> BTreeMap<String, String> {
    let mut secret_values: Vec<&str> =
        parent.iter().filter(|(k, v)| looks_secret(k) && v.len() >= 4).map(|(_, v)| v.as_str()).collect();
    secret_values.extend(extra_secrets.iter().map(String::as_str).filter(|v| v.len() >= 4));
    let is_secret_value = |v: &str| secret_values.iter().any(|s| v.contains(s));

    let mut child = BTreeMap::new();
    for name in ALLOW {
        if let Some(value) = parent.get(*name) {
            if !is_secret_value(value) {
                child.insert(name.to_string(), value.clone());
            }
        }
    }
    for (k, v) in extra {
        if !looks_secret(k) && !is_secret_value(v) {
            child.insert(k.clone(), v.clone());
        }
    }
    child
}

/// The current process environment as data (non-UTF-8 variables are skipped: none we pass is).
pub fn current() -> BTreeMap<String, String> {
    std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_vars_record_the_settings_but_not_the_folders() {
        let tc = Toolchain {
            channel: crate::schema::Channel::Stable,
            rustc: "rustc 1.96.0".into(),
            cargo: "cargo 1.96.0".into(),
            backend_tool: None,
            name: None,
            std: Some(crate::schema::result::StdOrigin::BuiltFromSource),
            std_reason: None,
            emulator: None,
        };
        let target = Target::parse("aarch64-unknown-linux-musl").unwrap();
        let vars = BuildVars {
            target,
            backend: Backend::Cross,
            rustflags: "-C target-feature=+crt-static",
            toolchain: &tc,
            target_dir: Path::new("/w/target"),
            build_dir: None,
            cargo_home: Path::new("/w/cargo-home"),
        };
        let recorded: BTreeMap<String, String> = vars.recorded().into_iter().collect();
        assert_eq!(recorded[&target.rustflags_env_name()], "-C target-feature=+crt-static");
        assert_eq!(recorded["RUSTC_BOOTSTRAP"], "1", "a stable toolchain building std");
        assert!(recorded["CROSS_BUILD_ENV_PASSTHROUGH"].contains("OPENSSL_STATIC"));
        assert!(!recorded.contains_key("CARGO_HOME") && !recorded.contains_key("CARGO_TARGET_DIR"));
        let all = vars.all();
        assert_eq!(all.last().unwrap(), &("CARGO_HOME".to_string(), "/w/cargo-home".to_string()));
        assert!(all.contains(&("CARGO_TARGET_DIR".to_string(), "/w/target".to_string())));
    }

    fn parent() -> BTreeMap<String, String> {
        [
            ("PATH", "/usr/bin"),
            ("HOME", "/root"),
            ("GITHUB_TOKEN", "ghs_supersecretvalue"),
            ("ACTIONS_RUNTIME_TOKEN", "eyJ0eXAi.runtime"),
            ("CARGO_REGISTRIES_MY_TOKEN", "reg-secret"),
            ("CRATEMILL_REGISTRY_TOKEN", "pushsecret"),
            ("AWS_SECRET_ACCESS_KEY", "awssecret"),
            ("RANDOM_VAR", "hello"),
            ("CC", "gcc"),
            ("CFLAGS", "-O2 -DTOKEN=ghs_supersecretvalue"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn only_allowed_variables_pass() {
        let child = scrub(&parent(), &[("OPENSSL_STATIC".into(), "1".into())], &[]);
        let names: Vec<&str> = child.keys().map(String::as_str).collect();
        assert_eq!(names, ["CC", "HOME", "OPENSSL_STATIC", "PATH"]);
    }

    #[test]
    fn secret_values_never_pass_even_under_allowed_names() {
        let child = scrub(&parent(), &[], &[]);
        assert!(!child.contains_key("CFLAGS"), "CFLAGS carried the GITHUB_TOKEN value");
        let mut p = parent();
        p.insert("PKG_CONFIG_PATH".into(), "input-marked-secret".into());
        let child = scrub(&p, &[], &["input-marked-secret".into()]);
        assert!(!child.contains_key("PKG_CONFIG_PATH"));
    }

    #[test]
    fn secret_looking_extras_are_refused() {
        let child = scrub(&parent(), &[("MY_API_KEY".into(), "x".into())], &[]);
        assert!(!child.contains_key("MY_API_KEY"));
    }
}
