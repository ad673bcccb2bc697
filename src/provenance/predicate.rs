//! The SLSA v1 provenance predicate. Pure decision core: claims and build results in, JSON out.
//!
//! [`github`] builds exactly what `@actions/attest`'s `buildSLSAProvenancePredicate` builds from the
//! same token claims (every field, every value; the tests compare them with the library itself).
//! [`add_packages`] then adds what only cratemill knows, without changing any GitHub field: more
//! `resolvedDependencies` (the `.crate`, every package compiled into it with its `.crate` digest,
//! the `Cargo.lock` used, the toolchain),
//! `internalParameters.cratemill` and `runDetails.byproducts` (the build logs).

use serde_json::{json, Map, Value};

use super::claims::Claims;
use crate::schema::result::{BuildResult, PackageRole};

pub const SLSA_PREDICATE_V1: &str = "https://slsa.dev/provenance/v1";
pub const GITHUB_BUILD_TYPE: &str = "https://actions.github.io/buildtypes/workflow/v1";

/// GitHub's predicate. `server_url` is `GITHUB_SERVER_URL` (`https://github.com`).
pub fn github(claims: &Claims, server_url: &str) -> Value {
    let prefix = format!("{}/", claims.repository);
    let path = claims.workflow_ref.replacen(&prefix, "", 1);
    let path = path.split('@').next().unwrap_or_default();
    json!({
        "buildDefinition": {
            "buildType": GITHUB_BUILD_TYPE,
            "externalParameters": {
                "workflow": {
                    "ref": claims.git_ref,
                    "repository": format!("{server_url}/{}", claims.repository),
                    "path": path,
                }
            },
            "internalParameters": {
                "github": {
                    "event_name": claims.event_name,
                    "repository_id": claims.repository_id,
                    "repository_owner_id": claims.repository_owner_id,
                    "runner_environment": claims.runner_environment,
                }
            },
            "resolvedDependencies": [{
                "uri": format!("git+{server_url}/{}@{}", claims.repository, claims.git_ref),
                "digest": { "gitCommit": claims.sha },
            }],
        },
        "runDetails": {
            "builder": { "id": format!("{server_url}/{}", claims.job_workflow_ref) },
            "metadata": {
                "invocationId": format!(
                    "{server_url}/{}/actions/runs/{}/attempts/{}",
                    claims.repository, claims.run_id, claims.run_attempt
                ),
            },
        },
    })
}

/// What cratemill knows about one package beyond its `result.json`.
#[derive(Debug, Clone, Default)]
pub struct PackageFacts {
    /// sha256 of the `Cargo.lock` the build used (from the `-srcbuild-` archive), when there was one.
    pub cargo_lock_sha256: Option<String>,
    /// sha256 of `build.log`.
    pub build_log_sha256: Option<String>,
}

/// Add cratemill's build facts for `packages` to a GitHub predicate, appending only.
pub fn add_packages(predicate: &mut Value, packages: &[(&BuildResult, PackageFacts)]) {
    let mut deps = Vec::new();
    let mut byproducts = Vec::new();
    let mut described = Vec::new();
    for (result, facts) in packages {
        let id = package_id(result);
        deps.extend(dependencies(result, facts, &id));
        if let Some(sha) = &facts.build_log_sha256 {
            byproducts.push(json!({ "name": format!("{id}/build.log"), "digest": { "sha256": sha },
                "mediaType": "text/plain; charset=utf-8" }));
        }
        described.push(internal(result));
    }
    let def = &mut predicate["buildDefinition"];
    if let Some(list) = def["resolvedDependencies"].as_array_mut() {
        list.extend(deps);
    }
    def["internalParameters"]["cratemill"] = json!({ "version": env!("CARGO_PKG_VERSION"), "packages": described });
    predicate["runDetails"]["byproducts"] = Value::Array(byproducts);
}

/// `<crate>-<version>-<target>`: the prefix of a package's subjects and byproducts.
pub fn package_id(result: &BuildResult) -> String {
    format!("{}-{}-{}", result.crate_name, result.version, result.target)
}

fn dependencies(result: &BuildResult, facts: &PackageFacts, id: &str) -> Vec<Value> {
    let mut deps = Vec::new();
    if let Some(src) = &result.source {
        deps.push(json!({
            "uri": format!("pkg:cargo/{}@{}", result.crate_name, result.version),
            "name": format!("{}-{}.crate", result.crate_name, result.version),
            "downloadLocation": src.download_url,
            "digest": { "sha256": src.crate_sha256 },
            "annotations": { "index": src.index_url, "package": id },
        }));
    }
    for p in result.third_party.iter().flat_map(|t| &t.packages).filter(|p| p.role != PackageRole::Root) {
        let mut dep = json!({
            "uri": p.purl(),
            "name": format!("{}-{}.crate", p.name, p.version),
            "annotations": { "package": id, "role": p.role, "source": p.source },
        });
        if let Some(sum) = &p.checksum {
            dep["digest"] = json!({ "sha256": sum });
        }
        deps.push(dep);
    }
    if let Some(lock) = &facts.cargo_lock_sha256 {
        deps.push(json!({ "name": "Cargo.lock", "digest": { "sha256": lock }, "annotations": { "package": id } }));
    }
    if let Some(tc) = &result.toolchain {
        let version = tc.rustc.split_whitespace().nth(1).unwrap_or("unknown");
        let mut ann = Map::new();
        ann.insert("rustc".into(), json!(tc.rustc));
        ann.insert("cargo".into(), json!(tc.cargo));
        ann.insert("channel".into(), json!(tc.channel));
        if let Some(tool) = &tc.backend_tool {
            ann.insert("backend_tool".into(), json!(tool));
        }
        ann.insert("package".into(), json!(id));
        deps.push(json!({ "uri": format!("pkg:generic/rust@{version}"), "name": "rust-toolchain",
            "annotations": ann }));
    }
    deps
}

fn internal(result: &BuildResult) -> Value {
    let attempt = result.attempts.iter().find(|a| a.produced_binaries);
    json!({
        "crate": result.crate_name,
        "version": result.version,
        "target": result.target,
        "backend": result.backend,
        "features": result.features_used,
        "rustflags": result.rustflags,
        "build_env": result.build_env,
        "prepare": result.prepare,
        "locked": attempt.map(|a| a.locked),
        "command": attempt.map(|a| a.command.clone()),
        "started_at": result.started_at,
        "finished_at": result.finished_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Backend;

    fn claims() -> Claims {
        super::super::claims::from_env(|k| {
            Some(match k {
                "GITHUB_WORKFLOW_REF" => "o/r/.github/workflows/build.yml@refs/heads/main".into(),
                "GITHUB_REPOSITORY" => "o/r".into(),
                "GITHUB_REF" => "refs/heads/main".into(),
                _ => format!("v-{k}"),
            })
        })
        .unwrap()
    }

    #[test]
    fn github_fields_survive_additions() {
        let base = github(&claims(), "https://github.com");
        assert_eq!(base["buildDefinition"]["externalParameters"]["workflow"]["path"], ".github/workflows/build.yml");
        let mut full = base.clone();
        let r = BuildResult::new("hexyl", "0.16.0", "x86_64-unknown-linux-musl", Backend::Zigbuild);
        add_packages(&mut full, &[(&r, PackageFacts { build_log_sha256: Some("b".repeat(64)), ..Default::default() })]);
        assert_eq!(full["buildDefinition"]["externalParameters"], base["buildDefinition"]["externalParameters"]);
        assert_eq!(
            full["buildDefinition"]["resolvedDependencies"][0],
            base["buildDefinition"]["resolvedDependencies"][0]
        );
        assert_eq!(
            full["buildDefinition"]["internalParameters"]["github"],
            base["buildDefinition"]["internalParameters"]["github"]
        );
        assert_eq!(full["runDetails"]["builder"], base["runDetails"]["builder"]);
        assert_eq!(full["runDetails"]["metadata"], base["runDetails"]["metadata"]);
        assert_eq!(full["buildDefinition"]["internalParameters"]["cratemill"]["packages"][0]["backend"], "zigbuild");
        assert_eq!(full["runDetails"]["byproducts"][0]["name"], "hexyl-0.16.0-x86_64-unknown-linux-musl/build.log");
    }

    #[test]
    fn every_compiled_package_is_a_resolved_dependency_with_its_crate_digest() {
        use crate::schema::result::{CompiledPackage, PackageRole, ThirdParty};
        let package = |name: &str, role, checksum: Option<&str>, source: &str| CompiledPackage {
            name: name.into(),
            version: "1.0.0".into(),
            role,
            source: source.into(),
            checksum: checksum.map(String::from),
            license: Some("MIT".into()),
            texts: Vec::new(),
            problems: Vec::new(),
        };
        let mut r = BuildResult::new("hexyl", "0.16.0", "x86_64-unknown-linux-musl", Backend::Zigbuild);
        r.third_party = Some(ThirdParty {
            packages: vec![
                package("hexyl", PackageRole::Root, Some("aa"), "crates.io"),
                package("clap", PackageRole::Library, Some("bb"), "crates.io"),
                package("clap_derive", PackageRole::ProcMacro, Some("cc"), "crates.io"),
                package("local", PackageRole::Library, None, "git+https://g/x#1"),
            ],
            notice: "licenses/THIRD-PARTY-NOTICES.txt".into(),
            list: "licenses/third-party.json".into(),
            sbom: "sbom.cdx.json".into(),
        });
        let mut p = github(&claims(), "https://github.com");
        add_packages(&mut p, &[(&r, PackageFacts::default())]);
        let deps = p["buildDefinition"]["resolvedDependencies"].as_array().unwrap();
        let find = |uri: &str| deps.iter().find(|d| d["uri"] == uri).cloned();
        assert_eq!(find("pkg:cargo/clap@1.0.0").unwrap()["digest"]["sha256"], "bb");
        assert_eq!(find("pkg:cargo/clap_derive@1.0.0").unwrap()["annotations"]["role"], "proc-macro");
        let git = find("pkg:cargo/local@1.0.0?vcs_url=git%2Bhttps%3A%2F%2Fg%2Fx%231").unwrap();
        assert!(git.get("digest").is_none(), "no digest is invented: {git}");
        assert_eq!(
            deps.iter().filter(|d| d["uri"] == "pkg:cargo/hexyl@1.0.0").count(),
            0,
            "the root is the .crate entry"
        );
    }
}
