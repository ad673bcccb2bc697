//! Which version of a crate to build: the newest non-yanked stable one by default, or exactly the
//! one asked for, refusing yanked versions unless allowed. Pure: works on the index's list.

use anyhow::Result;
use semver::Version;

use super::index::IndexVersion;
use crate::error::{classified, Exit};
use crate::schema::result::FailureClass;

/// How many versions a "no such version" error lists.
const SHOWN_VERSIONS: usize = 5;

/// Picks a version from `versions` (all versions of one crate).
///
/// - `requested = None`: the highest non-yanked stable version; if there is none, the highest
///   non-yanked pre-release; if every version is yanked, an error (or, with `allow_yanked`, the
///   highest yanked one).
/// - `requested = Some("1.2.3")` (or `"=1.2.3"`): exactly that version. A yanked one needs
///   `allow_yanked`. Unknown: an error that lists the newest available versions.
///
/// Errors are `classified(Usage, NotFound, ..)`.
pub fn select_version<'a>(
    versions: &'a [IndexVersion],
    requested: Option<&str>,
    allow_yanked: bool,
) -> Result<&'a IndexVersion> {
    let name = versions.first().map(|v| v.name.as_str()).unwrap_or("the crate");
    let mut parsed: Vec<(Version, &IndexVersion)> =
        versions.iter().filter_map(|v| Version::parse(&v.vers).ok().map(|p| (p, v))).collect();
    parsed.sort_by(|a, b| b.0.cmp(&a.0));

    match requested {
        Some(req) => {
            let req = req.trim();
            let req = req.strip_prefix('=').unwrap_or(req).trim();
            let wanted = Version::parse(req).ok();
            let found = parsed
                .iter()
                .find(|(p, v)| v.vers == req || wanted.as_ref() == Some(p))
                .map(|(_, v)| *v)
                .or_else(|| versions.iter().find(|v| v.vers == req));
            match found {
                Some(v) if v.yanked && !allow_yanked => {
                    Err(not_found(format!("`{name}@{}` is yanked; pass --allow-yanked to build it anyway", v.vers)))
                }
                Some(v) => Ok(v),
                None => {
                    Err(not_found(format!("`{name}` has no version {req}; newest available: {}", newest_list(&parsed))))
                }
            }
        }
        None => {
            let live = || parsed.iter().filter(|(_, v)| !v.yanked);
            if let Some((_, v)) = live().find(|(p, _)| p.pre.is_empty()) {
                return Ok(v);
            }
            if let Some((_, v)) = live().next() {
                return Ok(v);
            }
            if allow_yanked {
                if let Some((_, v)) = parsed.first() {
                    return Ok(v);
                }
            }
            if parsed.is_empty() {
                return Err(not_found(format!("`{name}` has no version with a valid semver number")));
            }
            Err(not_found(format!(
                "every version of `{name}` is yanked (newest: {}); pass an exact version and --allow-yanked to build one anyway",
                newest_list(&parsed)
            )))
        }
    }
}

fn not_found(message: String) -> anyhow::Error {
    classified(Exit::Usage, FailureClass::NotFound, message)
}

/// `3.0.0, 2.1.0 (yanked), ...` for the newest few versions.
fn newest_list(sorted: &[(Version, &IndexVersion)]) -> String {
    if sorted.is_empty() {
        return "none".into();
    }
    let mut shown: Vec<String> = sorted
        .iter()
        .take(SHOWN_VERSIONS)
        .map(|(_, v)| if v.yanked { format!("{} (yanked)", v.vers) } else { v.vers.clone() })
        .collect();
    if sorted.len() > SHOWN_VERSIONS {
        shown.push(format!("and {} more", sorted.len() - SHOWN_VERSIONS));
    }
    shown.join(", ")
}

/// Is version `a` newer than `b`? Semver order; text order when either does not parse.
pub fn newer(a: &str, b: &str) -> bool {
    match (Version::parse(a), Version::parse(b)) {
        (Ok(a), Ok(b)) => a > b,
        _ => a > b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{class_of, exit_of};

    fn v(vers: &str, yanked: bool) -> IndexVersion {
        IndexVersion {
            name: "foo".into(),
            vers: vers.into(),
            cksum: String::new(),
            yanked,
            features: Default::default(),
            deps: vec![],
            links: None,
            rust_version: None,
        }
    }

    #[test]
    fn default_is_highest_non_yanked_stable_by_semver_not_index_order() {
        let list = [v("0.9.0", false), v("0.10.0", false), v("1.0.0", true), v("1.1.0-rc.1", false), v("0.2.0", false)];
        assert_eq!(select_version(&list, None, false).unwrap().vers, "0.10.0");
        // allow_yanked does not change the default choice while a live version exists.
        assert_eq!(select_version(&list, None, true).unwrap().vers, "0.10.0");
    }

    #[test]
    fn default_falls_back_to_pre_release_then_refuses_all_yanked() {
        let pre = [v("1.0.0-alpha.1", false), v("1.0.0-alpha.2", false), v("0.1.0", true)];
        assert_eq!(select_version(&pre, None, false).unwrap().vers, "1.0.0-alpha.2");
        let dead = [v("0.1.0", true), v("0.2.0", true)];
        let err = select_version(&dead, None, false).unwrap_err();
        assert_eq!(exit_of(&err), Exit::Usage);
        assert_eq!(class_of(&err), Some(FailureClass::NotFound));
        assert!(err.to_string().contains("every version of `foo` is yanked"), "{err}");
        assert_eq!(select_version(&dead, None, true).unwrap().vers, "0.2.0");
    }

    #[test]
    fn requested_exact_with_or_without_equals() {
        let list = [v("1.0.0", false), v("1.2.3", false)];
        assert_eq!(select_version(&list, Some("1.0.0"), false).unwrap().vers, "1.0.0");
        assert_eq!(select_version(&list, Some("=1.2.3"), false).unwrap().vers, "1.2.3");
    }

    #[test]
    fn requested_yanked_needs_allow_yanked() {
        let list = [v("1.0.0", true), v("1.0.1", false)];
        let err = select_version(&list, Some("1.0.0"), false).unwrap_err();
        assert_eq!(class_of(&err), Some(FailureClass::NotFound));
        assert_eq!(err.to_string(), "`foo@1.0.0` is yanked; pass --allow-yanked to build it anyway");
        assert!(select_version(&list, Some("1.0.0"), true).unwrap().yanked);
    }

    #[test]
    fn unknown_version_lists_the_newest_few() {
        let list: Vec<_> = (0..8).map(|i| v(&format!("0.{i}.0"), i == 6)).collect();
        let err = select_version(&list, Some("2.0.0"), false).unwrap_err();
        assert_eq!(exit_of(&err), Exit::Usage);
        assert_eq!(
            err.to_string(),
            "`foo` has no version 2.0.0; newest available: 0.7.0, 0.6.0 (yanked), 0.5.0, 0.4.0, 0.3.0, and 3 more"
        );
    }
}
