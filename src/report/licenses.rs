//! The license inventory of the report site (docs/report.md, "Licenses"): across the built
//! packages of the run, which licenses their compiled packages' expressions name and how many
//! built packages (binaries) carry each; the compiled crates with licensing problems; and the
//! built packages that contain copyleft code (GPL, AGPL, LGPL, MPL) no license choice avoids, with
//! the dependency that brings it. Pure: [`facts`] condenses one result's `third_party` list when
//! it is read (the lists themselves are not kept: 40,000 results of 300 packages each would not
//! fit), [`inventory`] adds them up; expressions are judged by [`crate::license_policy`].

use std::collections::{BTreeMap, BTreeSet};

use crate::license_policy::{self, Copyleft};
use crate::schema::result::{LicenseProblem, ThirdParty};
use crate::schema::JobKey;

/// A compiled package with a licensing problem, as its result lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Flagged {
    pub name: String,
    pub version: String,
    /// Its `license` expression as written (absent: none).
    pub license: Option<String>,
    pub problems: Vec<LicenseProblem>,
}

/// A compiled package whose expression binds a copyleft license.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Binding {
    pub name: String,
    pub version: String,
    pub expression: String,
    pub families: BTreeSet<Copyleft>,
}

/// What the inventory needs of one built package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Every license its compiled packages' expressions name ([`license_policy::name`]).
    pub licenses: BTreeSet<String>,
    /// Its compiled packages with problems (recorded, or an expression that does not parse).
    pub flagged: Vec<Flagged>,
    /// Its compiled packages that bind a copyleft license.
    pub copyleft: Vec<Binding>,
}

/// Condense one `third_party` list.
pub fn facts(list: &ThirdParty) -> Facts {
    let mut f = Facts::default();
    for p in &list.packages {
        let mut problems = p.problems.clone();
        match p.license.as_deref().map(license_policy::parse) {
            Some(Ok(expression)) => {
                f.licenses.extend(license_policy::names(&expression));
                let families = license_policy::binding_copyleft(&expression);
                if !families.is_empty() {
                    let expression = p.license.clone().unwrap_or_default();
                    f.copyleft.push(Binding { name: p.name.clone(), version: p.version.clone(), expression, families });
                }
            }
            Some(Err(_)) => problems.push(LicenseProblem::InvalidExpression),
            None => problems.push(LicenseProblem::NoLicense),
        }
        problems.sort();
        problems.dedup();
        if !problems.is_empty() {
            let (name, version, license) = (p.name.clone(), p.version.clone(), p.license.clone());
            f.flagged.push(Flagged { name, version, license, problems });
        }
    }
    f
}

/// One license and how many built packages carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseRow {
    pub license: String,
    pub binaries: u64,
    pub copyleft: Option<Copyleft>,
}

/// One problem crate and how many built packages compile it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProblemRow {
    pub crate_: Flagged,
    pub binaries: u64,
}

/// One built package with copyleft code and the dependencies that bring it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyleftRow {
    pub job: JobKey,
    pub families: BTreeSet<Copyleft>,
    pub by: Vec<Binding>,
}

/// The inventory across the built packages of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// Built packages with a license list (counted below).
    pub listed: u64,
    /// Built packages whose result predates license lists (not counted below).
    pub unlisted: Vec<JobKey>,
    /// Most carried first, then by name.
    pub licenses: Vec<LicenseRow>,
    /// By crate name and version.
    pub problems: Vec<ProblemRow>,
    /// By job.
    pub copyleft: Vec<CopyleftRow>,
}

/// Add up the built packages' facts (`None`: the result had no `third_party` list).
pub fn inventory<'a>(built: impl IntoIterator<Item = (JobKey, Option<&'a Facts>)>) -> Inventory {
    let mut inv = Inventory::default();
    let mut licenses: BTreeMap<&str, u64> = BTreeMap::new();
    let mut problems: BTreeMap<&Flagged, u64> = BTreeMap::new();
    for (job, facts) in built {
        let Some(f) = facts else {
            inv.unlisted.push(job);
            continue;
        };
        inv.listed += 1;
        for l in &f.licenses {
            *licenses.entry(l).or_default() += 1;
        }
        for p in &f.flagged {
            *problems.entry(p).or_default() += 1;
        }
        if !f.copyleft.is_empty() {
            let families = f.copyleft.iter().flat_map(|b| b.families.iter().copied()).collect();
            inv.copyleft.push(CopyleftRow { job, families, by: f.copyleft.clone() });
        }
    }
    inv.licenses = licenses
        .into_iter()
        .map(|(l, n)| LicenseRow { license: l.to_string(), binaries: n, copyleft: Copyleft::of(l) })
        .collect();
    inv.licenses.sort_by(|a, b| b.binaries.cmp(&a.binaries).then_with(|| a.license.cmp(&b.license)));
    inv.problems = problems.into_iter().map(|(p, n)| ProblemRow { crate_: p.clone(), binaries: n }).collect();
    inv.copyleft.sort_by(|a, b| a.job.cmp(&b.job));
    inv
}

/// How a problem reads in the report.
pub fn problem_text(p: LicenseProblem) -> &'static str {
    match p {
        LicenseProblem::NoLicense => "no license",
        LicenseProblem::InvalidExpression => "not an SPDX expression",
        LicenseProblem::NoLicenseFile => "no license file (SPDX reference text used)",
        LicenseProblem::UnreadableLicenseFile => "license file unreadable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::result::{CompiledPackage, PackageRole};

    fn list(packages: &[(&str, Option<&str>, &[LicenseProblem])]) -> ThirdParty {
        ThirdParty {
            packages: packages
                .iter()
                .map(|(name, license, problems)| CompiledPackage {
                    name: name.to_string(),
                    version: "1.0.0".into(),
                    role: PackageRole::Library,
                    source: "crates.io".into(),
                    checksum: None,
                    license: license.map(str::to_string),
                    texts: Vec::new(),
                    problems: problems.to_vec(),
                })
                .collect(),
            notice: String::new(),
            list: String::new(),
            sbom: String::new(),
        }
    }

    #[test]
    fn counts_problems_and_copyleft_across_packages() {
        let a = facts(&list(&[
            ("a", Some("MIT OR Apache-2.0"), &[]),
            ("dual", Some("MIT OR GPL-3.0-only"), &[]),
            ("bare", None, &[LicenseProblem::NoLicense]),
        ]));
        let b = facts(&list(&[
            ("b", Some("MIT"), &[]),
            ("gpl", Some("GPL-3.0+"), &[]),
            ("bare", None, &[]),
            ("nofile", Some("Zlib"), &[LicenseProblem::NoLicenseFile]),
        ]));
        let job = |n: &str| JobKey::new(n, "1.0.0", "x86_64-unknown-linux-musl");
        let inv = inventory([(job("a"), Some(&a)), (job("b"), Some(&b)), (job("old"), None)]);
        assert_eq!((inv.listed, inv.unlisted.len()), (2, 1));
        let rows: Vec<(&str, u64)> = inv.licenses.iter().map(|r| (r.license.as_str(), r.binaries)).collect();
        assert_eq!(rows, [("MIT", 2), ("Apache-2.0", 1), ("GPL-3.0-only", 1), ("GPL-3.0-or-later", 1), ("Zlib", 1)]);
        let problems: Vec<(&str, u64)> = inv.problems.iter().map(|p| (p.crate_.name.as_str(), p.binaries)).collect();
        assert_eq!(problems, [("bare", 2), ("nofile", 1)], "a missing expression is a problem even unrecorded");
        assert_eq!(inv.copyleft.len(), 1, "MIT OR GPL-3.0-only binds nothing: {:?}", inv.copyleft);
        assert_eq!(inv.copyleft[0].job, job("b"));
        assert_eq!(inv.copyleft[0].by[0].name, "gpl");
        assert_eq!(inv.copyleft[0].families, [Copyleft::Gpl].into());
    }

    #[test]
    fn an_unparsable_expression_is_flagged_not_counted() {
        let f = facts(&list(&[("odd", Some("<script>alert(1)</script>"), &[])]));
        assert!(f.licenses.is_empty());
        assert_eq!(f.flagged[0].problems, [LicenseProblem::InvalidExpression]);
    }
}
