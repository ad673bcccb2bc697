//! The license policy publish enforces (`--deny-license EXPR`, `--deny-unlicensed`), judged on the
//! compiled packages `result.json` lists (`third_party.packages`) before anything is pushed. Like
//! every publish refusal it is exit 2, one line, nothing pushed.
//!
//! [`judge`] is the pure decision core (policy + result in, a [`Verdict`] out, expressions judged
//! by [`crate::license_policy`]); [`check`] is the edge that says what was not judged and turns a
//! refusal into the error. The list is the builder's record: like `result.json` itself it is not
//! authenticated, so this is a policy for the mirror's own builds, not a boundary against a
//! hostile package folder (docs/publishing.md, "License policy").

use crate::license_policy::{self, DenyList};
use crate::schema::result::{BuildResult, CompiledPackage};
use crate::untrusted::printable;

/// The flags (shared by `publish` and `build --publish` through `PublishOptions`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LicenseArgs {
    /// Refuse to publish a package when any compiled package's license expression cannot be
    /// satisfied without EXPR: one SPDX id, or several joined by OR (`GPL-3.0-only OR
    /// AGPL-3.0-only`); repeatable. `MIT OR GPL-3.0-only` passes a deny of GPL-3.0-only (MIT is
    /// picked), `MIT AND GPL-3.0-only` does not. An or-later id (`GPL-2.0-or-later`) denies the
    /// later versions too.
    #[arg(long = "deny-license", value_name = "EXPR")]
    pub deny_license: Vec<String>,
    /// Refuse to publish a package when a compiled package has no license expression, or one that is
    /// not SPDX (without it, --deny-license cannot judge such a package, and says so).
    #[arg(long)]
    pub deny_unlicensed: bool,
}

/// The policy, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub deny: DenyList,
    /// The `--deny-license` values as given, for the messages.
    pub shown: Vec<String>,
    pub deny_unlicensed: bool,
}

impl LicenseArgs {
    /// Parse the flags; a bad value is a usage error (exit 2) naming it.
    pub fn policy(&self) -> anyhow::Result<Policy> {
        let deny =
            DenyList::parse(&self.deny_license).map_err(|e| crate::error::usage(format!("--deny-license {e}")))?;
        Ok(Policy { deny, shown: self.deny_license.clone(), deny_unlicensed: self.deny_unlicensed })
    }
}

impl Policy {
    pub fn is_empty(&self) -> bool {
        self.deny.is_empty() && !self.deny_unlicensed
    }

    fn flag(&self) -> String {
        self.shown.iter().map(|v| format!("--deny-license {v}")).collect::<Vec<_>>().join(" ")
    }
}

/// What the policy found wrong with one compiled package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offence {
    /// Its expression cannot be satisfied without a denied license.
    Denied { expression: String },
    /// No `license` expression (refused under `--deny-unlicensed`, else unjudged).
    NoExpression,
    /// An expression that is not SPDX, with the parser's reason.
    Invalid { expression: String, why: String },
}

/// One compiled package and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub package: String,
    pub version: String,
    pub offence: Offence,
}

/// The policy's decision about one package folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing refused; the compiled packages `--deny-license` could not judge (no or no SPDX
    /// expression, without `--deny-unlicensed`).
    Pass { unjudged: Vec<Found> },
    /// `result.json` has no `third_party` list: written by a cratemill without license lists.
    NoList,
    /// The compiled packages that keep the package from being published, in list order.
    Refused(Vec<Found>),
}

/// Judge `result` under `policy`. Pure.
pub fn judge(policy: &Policy, result: &BuildResult) -> Verdict {
    if policy.is_empty() {
        return Verdict::Pass { unjudged: Vec::new() };
    }
    let Some(third_party) = &result.third_party else { return Verdict::NoList };
    let (mut refused, mut unjudged) = (Vec::new(), Vec::new());
    for package in &third_party.packages {
        let Some(offence) = offence(policy, package) else { continue };
        let found = Found { package: package.name.clone(), version: package.version.clone(), offence };
        match found.offence {
            Offence::Denied { .. } => refused.push(found),
            _ if policy.deny_unlicensed => refused.push(found),
            _ if !policy.deny.is_empty() => unjudged.push(found),
            _ => {}
        }
    }
    if refused.is_empty() {
        Verdict::Pass { unjudged }
    } else {
        Verdict::Refused(refused)
    }
}

fn offence(policy: &Policy, package: &CompiledPackage) -> Option<Offence> {
    let Some(written) = &package.license else { return Some(Offence::NoExpression) };
    match license_policy::parse(written) {
        Ok(expression) if policy.deny.refuses(&expression) => Some(Offence::Denied { expression: written.clone() }),
        Ok(_) => None,
        Err(why) => Some(Offence::Invalid { expression: written.clone(), why }),
    }
}

/// `name version`, printable.
fn who(f: &Found) -> String {
    printable(&format!("{} {}", f.package, f.version)).into_owned()
}

/// `name version (what is wrong)`, printable.
fn describe(policy: &Policy, f: &Found) -> String {
    let why = match &f.offence {
        Offence::Denied { expression } => {
            format!("licensed `{}`, which no choice satisfies without {}", printable(expression), policy.flag())
        }
        Offence::NoExpression => "no license expression".to_string(),
        Offence::Invalid { expression, why } => {
            format!("license `{}`, which is not SPDX: {}", printable(expression), printable(why))
        }
    };
    format!("{} ({why})", who(f))
}

/// The refusal's one line: the package, the first offending dependency, how many more, the fix.
pub fn refusal(policy: &Policy, result: &BuildResult, verdict: &Verdict) -> Option<String> {
    let what = printable(&format!("{} {} ({})", result.crate_name, result.version, result.target)).into_owned();
    match verdict {
        Verdict::Pass { .. } => None,
        Verdict::NoList => Some(format!(
            "refusing to publish {what} under the license policy: its result.json predates third-party license lists (no `third_party`), so its dependencies' licenses are unknown; rebuild it with this cratemill"
        )),
        Verdict::Refused(found) => {
            let more = match found.len() {
                1 => String::new(),
                n => format!(" and {} more such package(s)", n - 1),
            };
            let fix = match found[0].offence {
                Offence::Denied { .. } => "build it without that dependency (other --features) or publish it without that deny",
                Offence::NoExpression | Offence::Invalid { .. } => {
                    "get the dependency's license fixed upstream, or publish without --deny-unlicensed"
                }
            };
            let first = describe(policy, &found[0]);
            Some(format!("refusing to publish {what}: it compiles in {first}{more}; nothing published: {fix}"))
        }
    }
}

/// Enforce `policy` on a verified package's `result.json`: a usage error (exit 2) naming the
/// package and the first offending dependency, or `Ok` after a note per unjudged dependency.
pub fn check(policy: &Policy, result: &BuildResult) -> anyhow::Result<()> {
    let what = printable(&format!("{} {}", result.crate_name, result.version)).into_owned();
    let verdict = judge(policy, result);
    if let Some(line) = refusal(policy, result, &verdict) {
        return Err(crate::error::usage(line));
    }
    if let Verdict::Pass { unjudged } = &verdict {
        for f in unjudged {
            let (found, flag) = (describe(policy, f), policy.flag());
            crate::note!(
                "note: {what} compiles in {found}: {flag} cannot judge it (--deny-unlicensed refuses such packages)"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::result::{LicenseProblem, PackageRole, ThirdParty};

    fn package(name: &str, license: Option<&str>) -> CompiledPackage {
        CompiledPackage {
            name: name.into(),
            version: "1.0.0".into(),
            role: if name == "tool" { PackageRole::Root } else { PackageRole::Library },
            source: "crates.io".into(),
            checksum: None,
            license: license.map(str::to_string),
            texts: Vec::new(),
            problems: if license.is_none() { vec![LicenseProblem::NoLicense] } else { Vec::new() },
        }
    }

    fn result(deps: &[(&str, Option<&str>)]) -> BuildResult {
        let mut r = BuildResult::new("tool", "1.0.0", "x86_64-unknown-linux-musl", crate::schema::Backend::Cargo);
        let mut packages = vec![package("tool", Some("MIT"))];
        packages.extend(deps.iter().map(|(n, l)| package(n, *l)));
        r.third_party = Some(ThirdParty {
            packages,
            notice: "licenses/THIRD-PARTY-NOTICES.txt".into(),
            list: "licenses/third-party.json".into(),
            sbom: "sbom.cdx.json".into(),
        });
        r
    }

    fn policy(deny: &[&str], unlicensed: bool) -> Policy {
        LicenseArgs { deny_license: deny.iter().map(|d| d.to_string()).collect(), deny_unlicensed: unlicensed }
            .policy()
            .unwrap()
    }

    #[test]
    fn a_dependency_that_cannot_avoid_a_denied_license_refuses_the_package() {
        let p = policy(&["GPL-3.0-only"], false);
        assert_eq!(judge(&p, &result(&[("dual", Some("MIT OR GPL-3.0-only"))])), Verdict::Pass { unjudged: vec![] });
        let r = result(&[("dual", Some("MIT OR GPL-3.0-only")), ("gpl", Some("MIT AND GPL-3.0-only"))]);
        let v = judge(&p, &r);
        assert!(matches!(&v, Verdict::Refused(f) if f.len() == 1 && f[0].package == "gpl"), "{v:?}");
        let line = refusal(&p, &r, &v).unwrap();
        assert_eq!(
            line,
            "refusing to publish tool 1.0.0 (x86_64-unknown-linux-musl): it compiles in gpl 1.0.0 (licensed \
             `MIT AND GPL-3.0-only`, which no choice satisfies without --deny-license GPL-3.0-only); \
             nothing published: build it without that dependency (other --features) or publish it without that deny"
        );
        assert_eq!(crate::error::exit_of(&check(&p, &r).unwrap_err()), crate::error::Exit::Usage);
    }

    #[test]
    fn unlicensed_dependencies_are_refused_only_when_asked() {
        let r = result(&[("bare", None), ("odd", Some("<b>my own</b>"))]);
        let v = judge(&policy(&["GPL-3.0-only"], false), &r);
        let Verdict::Pass { unjudged } = &v else { panic!("{v:?}") };
        assert_eq!(unjudged.len(), 2);
        assert!(matches!(&unjudged[1].offence, Offence::Invalid { expression, .. } if expression == "<b>my own</b>"));
        let p = policy(&[], true);
        let v = judge(&p, &r);
        assert!(matches!(&v, Verdict::Refused(f) if f.len() == 2), "{v:?}");
        assert!(refusal(&p, &r, &v)
            .unwrap()
            .contains("bare 1.0.0 (no license expression) and 1 more such package(s);"));
        assert_eq!(judge(&policy(&[], false), &r), Verdict::Pass { unjudged: vec![] }, "no policy, no judgement");
    }

    #[test]
    fn a_result_without_a_list_is_refused_under_a_policy() {
        let mut r = result(&[]);
        r.third_party = None;
        assert_eq!(judge(&policy(&["GPL-3.0-only"], false), &r), Verdict::NoList);
        assert_eq!(judge(&policy(&[], false), &r), Verdict::Pass { unjudged: vec![] });
        let line = refusal(&policy(&[], true), &r, &Verdict::NoList).unwrap();
        assert!(
            line.contains("predates third-party license lists") && line.ends_with("rebuild it with this cratemill")
        );
    }

    #[test]
    fn hostile_names_are_printed_defanged() {
        let r = result(&[("evil\u{1b}]0;x\u{7}", Some("GPL-3.0-only"))]);
        let p = policy(&["GPL-3.0-only"], false);
        let line = refusal(&p, &r, &judge(&p, &r)).unwrap();
        assert!(line.contains("evil\\x1b]0;x\\x07 1.0.0") && !line.contains('\u{1b}'), "{line}");
    }
}
