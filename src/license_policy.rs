//! SPDX license expressions judged, for the publish policy (`publish --deny-license`) and the
//! report's license inventory (`report --html`): which licenses an expression names, whether a
//! redistributor can satisfy it without a set of licenses, and the copyleft families. Pure.
//!
//! Expressions are parsed as crates.io writes them ([`spdx::ParseMode::LAX`]: `/` for `OR`,
//! deprecated and imprecise ids). Each license requirement stands for the concrete SPDX licenses
//! a redistributor may pick for it ([`choices`]): a deprecated GNU id is its `-only` form
//! (`GPL-3.0` is `GPL-3.0-only`); an or-later requirement (`GPL-2.0-or-later`, `GPL-2.0+`,
//! `Apache-2.0+`) is every version from its own on that the SPDX list has today (`GPL-2.0-only`,
//! `GPL-3.0-only`); a `WITH` exception does not change the license it is added to. An expression
//! is satisfiable without a set of licenses when [`spdx::Expression::evaluate`] holds with every
//! requirement that has a choice outside the set: `MIT OR GPL-3.0-only` without `GPL-3.0-only`
//! holds (MIT), `MIT AND GPL-3.0-only` does not.

use std::collections::BTreeSet;

use spdx::{Expression, LicenseItem, LicenseReq, Licensee, ParseMode};

/// A copyleft family the report names (docs/report.md, "Licenses").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Copyleft {
    /// GNU GPL, any version, `-only` or `-or-later`.
    Gpl,
    /// GNU Affero GPL.
    Agpl,
    /// GNU Lesser (or Library) GPL.
    Lgpl,
    /// Mozilla Public License.
    Mpl,
}

impl Copyleft {
    pub const ALL: [Copyleft; 4] = [Copyleft::Gpl, Copyleft::Agpl, Copyleft::Lgpl, Copyleft::Mpl];

    pub fn name(self) -> &'static str {
        match self {
            Copyleft::Gpl => "GPL",
            Copyleft::Agpl => "AGPL",
            Copyleft::Lgpl => "LGPL",
            Copyleft::Mpl => "MPL",
        }
    }

    /// The family of a concrete license name (`GPL-3.0-only`, `MPL-2.0`), if it is one of these.
    pub fn of(license: &str) -> Option<Copyleft> {
        Copyleft::ALL.into_iter().find(|c| license.strip_prefix(c.name()).is_some_and(|rest| rest.starts_with('-')))
    }
}

/// Parse an expression as crates.io takes it.
pub fn parse(expression: &str) -> Result<Expression, String> {
    Expression::parse_mode(expression, ParseMode::LAX).map_err(|e| crate::error::squash(&e.to_string()))
}

/// The license of a requirement as the inventory names it: the current id (a deprecated GNU id
/// as its `-only` form), `+` kept (`Apache-2.0+`), `LicenseRef-...` as written, no exception.
pub fn name(req: &LicenseReq) -> String {
    match &req.license {
        LicenseItem::Spdx { id, or_later } => {
            format!("{}{}", current(id.name), if *or_later { "+" } else { "" })
        }
        other => other.to_string(),
    }
}

/// Every license an expression names ([`name`]), sorted.
pub fn names(expression: &Expression) -> BTreeSet<String> {
    expression.requirements().map(|r| name(&r.req)).collect()
}

/// A deprecated id's current form: `GPL-2.0` -> `GPL-2.0-only`,
/// `GPL-2.0-with-classpath-exception` -> `GPL-2.0-only`; others as they are.
fn current(id: &'static str) -> String {
    let base = id.split_once("-with-").map_or(id, |(b, _)| b);
    let Some(found) = spdx::license_id(base) else { return id.to_string() };
    if !found.is_deprecated() {
        return found.name.to_string();
    }
    match spdx::license_id(&format!("{base}-only")) {
        Some(only) => only.name.to_string(),
        None => id.to_string(),
    }
}

/// The concrete licenses a redistributor may pick to satisfy `req` (see the module comment).
pub fn choices(req: &LicenseReq) -> BTreeSet<String> {
    let LicenseItem::Spdx { id, or_later } = &req.license else {
        return [req.license.to_string()].into();
    };
    let own = current(id.name);
    let (base, later) = match own.strip_suffix("-or-later") {
        Some(base) => (format!("{base}-only"), true),
        None => (own.clone(), *or_later),
    };
    let Some(base_id) = spdx::license_id(&base).filter(|_| later) else { return [own].into() };
    let wanted = LicenseReq { license: LicenseItem::Spdx { id: base_id, or_later: true }, addition: None };
    let mut all: BTreeSet<String> = spdx::identifiers::LICENSES
        .iter()
        .filter_map(|l| spdx::license_id(l.name))
        .filter(|l| !l.is_deprecated())
        .filter(|l| Licensee::new(LicenseItem::Spdx { id: *l, or_later: false }, None).satisfies(&wanted))
        .map(|l| l.name.to_string())
        .collect();
    all.insert(base);
    all
}

/// Can `expression` be satisfied by picking no license `excluded` says yes to?
pub fn satisfiable_without(expression: &Expression, excluded: impl Fn(&str) -> bool) -> bool {
    expression.evaluate(|req| choices(req).iter().any(|c| !excluded(c)))
}

/// The copyleft families `expression` binds a redistributor to: empty when some choice avoids
/// every copyleft license (`MIT OR GPL-3.0-only`), else every family it names.
pub fn binding_copyleft(expression: &Expression) -> BTreeSet<Copyleft> {
    if satisfiable_without(expression, |l| Copyleft::of(l).is_some()) {
        return BTreeSet::new();
    }
    expression.requirements().flat_map(|r| choices(&r.req)).filter_map(|l| Copyleft::of(&l)).collect()
}

/// The licenses a deny list excludes: each value one license or several joined by `OR`
/// (`GPL-3.0-only OR AGPL-3.0-only`), or-later forms meaning every later version too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DenyList {
    /// The concrete licenses excluded ([`choices`] of each value's licenses).
    pub licenses: BTreeSet<String>,
}

impl DenyList {
    /// Parse the values of `--deny-license`; `Err` names the value and why.
    pub fn parse(values: &[String]) -> Result<DenyList, String> {
        let mut licenses = BTreeSet::new();
        for value in values {
            let expression = parse(value).map_err(|e| format!("`{value}` is not an SPDX license id: {e}"))?;
            let only_or = expression.iter().all(|node| match node {
                spdx::expression::ExprNode::Req(r) => r.req.addition.is_none(),
                spdx::expression::ExprNode::Op(op) => *op == spdx::expression::Operator::Or,
            });
            if !only_or {
                return Err(format!(
                    "`{value}` is not a list of licenses: give ids, joined by OR if several (AND and WITH make no deny list)"
                ));
            }
            for req in expression.requirements() {
                licenses.extend(choices(&req.req));
            }
        }
        Ok(DenyList { licenses })
    }

    pub fn is_empty(&self) -> bool {
        self.licenses.is_empty()
    }

    /// Does the list exclude this concrete license?
    pub fn denies(&self, license: &str) -> bool {
        self.licenses.contains(license)
    }

    /// Is `expression` refused: no choice of licenses avoids the list?
    pub fn refuses(&self, expression: &Expression) -> bool {
        !self.is_empty() && !satisfiable_without(expression, |l| self.denies(l))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deny(values: &[&str]) -> DenyList {
        DenyList::parse(&values.iter().map(|v| v.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn refused(list: &DenyList, expression: &str) -> bool {
        list.refuses(&parse(expression).unwrap())
    }

    #[test]
    fn a_denied_license_refuses_only_what_cannot_avoid_it() {
        let gpl3 = deny(&["GPL-3.0-only"]);
        assert!(!refused(&gpl3, "MIT OR GPL-3.0-only"), "the redistributor picks MIT");
        assert!(!refused(&gpl3, "MIT/Apache-2.0"));
        assert!(refused(&gpl3, "GPL-3.0-only"));
        assert!(refused(&gpl3, "MIT AND GPL-3.0-only"));
        assert!(refused(&gpl3, "GPL-3.0"), "the deprecated id is GPL-3.0-only");
        assert!(refused(&gpl3, "GPL-3.0+"), "no later GPL exists to pick");
        assert!(refused(&gpl3, "GPL-3.0-or-later"));
        assert!(refused(&gpl3, "GPL-3.0-only WITH Classpath-exception-2.0"), "an exception keeps the license");
        assert!(!refused(&gpl3, "GPL-2.0-or-later"), "GPL-2.0-only can be picked");
        assert!(refused(&deny(&["GPL-2.0-only", "GPL-3.0-only"]), "GPL-2.0-or-later"));
        assert!(refused(&deny(&["GPL-2.0-or-later"]), "GPL-3.0-only"), "or-later denies the later versions");
        assert!(!refused(&deny(&["GPL-2.0-or-later"]), "LGPL-2.1-only"), "another family");
        let either = deny(&["GPL-3.0-only OR AGPL-3.0-only"]);
        assert!(refused(&either, "AGPL-3.0") && refused(&either, "GPL-3.0-only"));
        assert!(!refused(&either, "MIT"));
        assert!(refused(&deny(&["LicenseRef-Proprietary"]), "MIT AND LicenseRef-Proprietary"));
        assert!(!refused(&DenyList::default(), "GPL-3.0-only"), "an empty list refuses nothing");
    }

    #[test]
    fn deny_values_are_license_lists() {
        let parse = |v: &str| DenyList::parse(&[v.to_string()]);
        assert!(parse("MIT AND GPL-3.0-only").unwrap_err().contains("not a list of licenses"));
        assert!(parse("GPL-2.0-only WITH Classpath-exception-2.0").unwrap_err().contains("not a list of licenses"));
        assert!(parse("no-such-license").unwrap_err().contains("`no-such-license` is not an SPDX license id"));
    }

    #[test]
    fn names_and_copyleft() {
        let e = parse("(MIT OR Apache-2.0+) AND GPL-2.0 AND LGPL-2.1+ AND LicenseRef-x").unwrap();
        let n: Vec<String> = names(&e).into_iter().collect();
        assert_eq!(n, ["Apache-2.0+", "GPL-2.0-only", "LGPL-2.1-or-later", "LicenseRef-x", "MIT"]);
        assert_eq!(Copyleft::of("AGPL-3.0-only"), Some(Copyleft::Agpl));
        assert_eq!(Copyleft::of("GPL-2.0-or-later"), Some(Copyleft::Gpl));
        assert_eq!(Copyleft::of("MPL-2.0-no-copyleft-exception"), Some(Copyleft::Mpl));
        assert_eq!(Copyleft::of("LGPLLR"), None);
        assert_eq!(Copyleft::of("MIT"), None);
        let binding = |x: &str| binding_copyleft(&parse(x).unwrap()).into_iter().collect::<Vec<_>>();
        assert_eq!(binding("MIT OR GPL-3.0-only"), []);
        assert_eq!(binding("MIT AND MPL-2.0"), [Copyleft::Mpl]);
        assert_eq!(binding("GPL-3.0-or-later OR LGPL-2.1"), [Copyleft::Gpl, Copyleft::Lgpl]);
        assert_eq!(binding("Apache-2.0 WITH LLVM-exception"), []);
    }
}
