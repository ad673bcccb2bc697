//! Lifting only what blocks a target: after a failure inside a package of the shipped `Cargo.lock`,
//! `cargo update -p NAME@FROM [--precise V]` moves that one package (cargo's conservative update:
//! its own dependencies only when it cannot move without them) and keeps every other pin, before the
//! ladder sets the whole lock aside. [`BLOCKERS`] is the one table of packages known to block new
//! targets at old versions (docs/build.md, "Lifting a blocking package", mirrors it); any other
//! registry package the failure names is lifted to its newest semver-compatible release.
//!
//! Pure: [`plan`] decides which package to lift from the failure's named packages
//! (`classify::Classification::named`), the lock's registry packages and the target; the ladder
//! runs the command (`backend::update_command`) in the sandbox and records the lift
//! ([`record`], [`step`]).

use crate::schema::result::LockLift;

/// How a [`Blocker`] is lifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fix {
    /// `--precise V`: the first release that supports the target.
    Precise(&'static str),
    /// The newest semver-compatible release (no `--precise`).
    Newest,
    /// No semver-compatible release supports the target: lifting it alone cannot work, so it is
    /// not tried (a fresh resolution may still reach a newer major through newer dependents).
    None,
}

/// A package that fails to build for some targets at old versions. One row of [`BLOCKERS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocker {
    pub package: &'static str,
    /// Versions below this block (every version: `None`).
    pub below: Option<&'static str>,
    /// Targets it blocks: a triple, or the start of one (`riscv64`: every riscv64 triple).
    pub targets: &'static [&'static str],
    pub fix: Fix,
    /// Lifted only when the failure names the package itself: its errors do not surface in its
    /// dependents (the LFS64 symbols fail the link, which names `libc`), so an unnamed old version
    /// is no reason to spend an attempt on it.
    pub only_when_named: bool,
    pub why: &'static str,
}

/// The one table of known blockers.
pub const BLOCKERS: &[Blocker] = &[
    Blocker {
        package: "libc",
        below: Some("0.2.155"),
        targets: &["loongarch64-unknown-linux-musl"],
        fix: Fix::Precise("0.2.155"),
        only_when_named: false,
        why: "no loongarch64-musl definitions before 0.2.155",
    },
    Blocker {
        package: "libc",
        below: Some("0.2.145"),
        targets: &[
            "x86_64-unknown-linux-musl",
            "aarch64-unknown-linux-musl",
            "riscv64gc-unknown-linux-musl",
            "loongarch64-unknown-linux-musl",
        ],
        fix: Fix::Precise("0.2.145"),
        only_when_named: true,
        why: "musl 1.2.4 removed the LFS64 symbols (open64, lseek64, ...), which older libc releases link to on musl; 0.2.145 defines them over the plain ones",
    },
    Blocker {
        package: "openssl-src",
        below: None,
        targets: &["loongarch64", "riscv64"],
        fix: Fix::Newest,
        only_when_named: false,
        why: "older releases of each major (111, 300) cannot configure these targets; the newest of the major can",
    },
    Blocker {
        package: "ring",
        below: Some("0.17.0"),
        targets: &["riscv64", "loongarch64"],
        fix: Fix::None,
        only_when_named: false,
        why: "0.16 has no code for riscv64 or loongarch64 (its build script panics); 0.17 has, but is semver-incompatible",
    },
    Blocker {
        package: "jemalloc-sys",
        below: None,
        targets: &["riscv64gc-unknown-linux-musl"],
        fix: Fix::None,
        only_when_named: false,
        why: "jemalloc's configure does not know `riscv64gc` (no 0.5 release fixes it for musl)",
    },
];

/// A lift to run: the package at its locked version, and `--precise` when the table names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lift {
    pub package: String,
    pub from: String,
    pub precise: Option<String>,
}

impl Lift {
    /// cargo's package spec for it: `NAME@FROM` (the lock may hold other versions of NAME).
    pub fn spec(&self) -> String {
        format!("{}@{}", self.package, self.from)
    }
}

/// Does `row` block `triple` at `version`?
fn blocks(row: &Blocker, triple: &str, version: &str) -> bool {
    let old = match (row.below, semver::Version::parse(version)) {
        (None, _) => true,
        (Some(below), Ok(v)) => semver::Version::parse(below).is_ok_and(|b| v < b),
        (Some(_), Err(_)) => false,
    };
    old && row.targets.iter().any(|t| triple.starts_with(t))
}

/// The package to lift after a failure that named `named` (name, version when known), given the
/// lock's registry packages `locked` and the target `triple`; `done` were lifted already. First a
/// [`BLOCKERS`] row the lock holds at a blocking version, when the failure names it or names any
/// package of the lock (a blocker's errors often surface in its dependents; not for a row
/// [`Blocker::only_when_named`]); then the first named
/// package of the lock, to its newest compatible release. A package whose row says [`Fix::None`] is
/// never lifted. `None`: nothing to lift. Pure.
pub fn plan(
    named: &[(String, Option<String>)],
    locked: &[(String, String)],
    triple: &str,
    done: &[LockLift],
) -> Option<Lift> {
    let lifted =
        |name: &str, version: &str| done.iter().any(|d| d.package == name && (d.from == version || d.to == version));
    let in_lock: Vec<(&str, &str)> = named
        .iter()
        .filter_map(|(name, version)| {
            let mut versions = locked.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str());
            let v = match version {
                Some(v) => versions.find(|l| l == v)?,
                None => match (versions.next(), versions.next()) {
                    (Some(v), None) => v,
                    _ => return None,
                },
            };
            Some((name.as_str(), v))
        })
        .collect();
    if in_lock.is_empty() {
        return None;
    }
    let blocking =
        |name: &str, version: &str| BLOCKERS.iter().find(|r| r.package == name && blocks(r, triple, version));
    let known =
        locked.iter().filter_map(|(name, version)| Some((name.as_str(), version.as_str(), blocking(name, version)?)));
    let is_named = |n: &str| in_lock.iter().any(|(m, _)| *m == n);
    let named_first = known.clone().filter(|(n, _, _)| is_named(n)).chain(known.filter(|(_, _, r)| !r.only_when_named));
    for (name, version, row) in named_first {
        let precise = match row.fix {
            Fix::None => continue,
            Fix::Precise(v) => Some(v.to_string()),
            Fix::Newest => None,
        };
        if !lifted(name, version) {
            return Some(Lift { package: name.to_string(), from: version.to_string(), precise });
        }
    }
    in_lock
        .into_iter()
        .find(|(n, v)| !lifted(n, v) && blocking(n, v).is_none_or(|r| r.fix != Fix::None))
        .map(|(n, v)| Lift { package: n.to_string(), from: v.to_string(), precise: None })
}

/// The record of `lift` after the update: the versions of its package the lock holds now that it
/// did not before (`before`, `after`: the lock's registry packages); `None` when the update moved
/// nothing. Also the packages whose versions changed, for the log. Pure.
pub fn record(
    lift: &Lift,
    before: &[(String, String)],
    after: &[(String, String)],
    reason: &str,
) -> Option<(LockLift, Vec<String>)> {
    let to = after.iter().find(|(n, v)| n == &lift.package && !before.contains(&(n.clone(), v.clone())))?;
    let mut changed: Vec<String> = after
        .iter()
        .filter(|p| !before.contains(p))
        .chain(before.iter().filter(|p| !after.contains(p)))
        .map(|(n, _)| n.clone())
        .collect();
    changed.sort();
    changed.dedup();
    let record = LockLift {
        package: lift.package.clone(),
        from: lift.from.clone(),
        to: to.1.clone(),
        precise: lift.precise.is_some(),
        changed: changed.clone(),
        reason: reason.to_string(),
    };
    Some((record, changed))
}

/// The `prepare` step recorded for `lift` (result.json, so the provenance).
pub fn step(lift: &LockLift) -> String {
    let how = if lift.precise { format!(" --precise {}", lift.to) } else { String::new() };
    format!(
        "Cargo.lock: lifted {} {} -> {} alone (cargo update -p {}@{}{how}); every other pin kept",
        lift.package, lift.from, lift.to, lift.package, lift.from
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locked(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    fn named(pairs: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.map(str::to_string))).collect()
    }

    #[test]
    fn a_known_blocker_is_lifted_precisely_when_any_locked_package_fails() {
        let lock = locked(&[("getrandom", "0.2.10"), ("libc", "0.2.149"), ("serde", "1.0.100")]);
        let failing = named(&[("getrandom", Some("0.2.10"))]);
        let musl = "loongarch64-unknown-linux-musl";
        let lift = plan(&failing, &lock, musl, &[]).unwrap();
        assert_eq!(lift, Lift { package: "libc".into(), from: "0.2.149".into(), precise: Some("0.2.155".into()) });
        assert_eq!(lift.spec(), "libc@0.2.149");
        // Another target: libc blocks nothing there; the failing package itself is lifted.
        let lift = plan(&failing, &lock, "x86_64-unknown-linux-musl", &[]).unwrap();
        assert_eq!(lift, Lift { package: "getrandom".into(), from: "0.2.10".into(), precise: None });
        // A new enough libc blocks nothing.
        let new = locked(&[("getrandom", "0.2.10"), ("libc", "0.2.155")]);
        assert_eq!(plan(&failing, &new, musl, &[]).unwrap().package, "getrandom");
        // Nothing of the lock named (the crate's own error): nothing to lift.
        assert_eq!(plan(&named(&[("app", None)]), &lock, musl, &[]), None);
    }

    #[test]
    fn an_old_libc_is_lifted_for_musl_s_removed_lfs64_symbols() {
        // ayu 0.3.0 locks libc 0.2.66: `undefined symbol: open64` at the link with today's musl.
        let lock = locked(&[("libc", "0.2.66"), ("ansi_term", "0.12.1")]);
        let failing = named(&[("libc", None)]);
        for musl in ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl", "riscv64gc-unknown-linux-musl"] {
            let lift = plan(&failing, &lock, musl, &[]).unwrap();
            assert_eq!(lift, Lift { package: "libc".into(), from: "0.2.66".into(), precise: Some("0.2.145".into()) });
        }
        // loongarch64 needs more: the first row that blocks it names 0.2.155.
        let lift = plan(&failing, &lock, "loongarch64-unknown-linux-musl", &[]).unwrap();
        assert_eq!(lift.precise.as_deref(), Some("0.2.155"));
        // A failure that names another package of the lock (async_kraken_ws: an old wasm-bindgen
        // that today's Rust rejects) lifts that package: the LFS64 row waits until libc is named.
        let lock = locked(&[("libc", "0.2.101"), ("wasm-bindgen", "0.2.74")]);
        let lift = plan(&named(&[("wasm-bindgen", None)]), &lock, "x86_64-unknown-linux-musl", &[]).unwrap();
        assert_eq!(lift, Lift { package: "wasm-bindgen".into(), from: "0.2.74".into(), precise: None });
        let lock = locked(&[("libc", "0.2.66"), ("ansi_term", "0.12.1")]);
        // glibc keeps the LFS64 symbols: libc is lifted only as a named package, to its newest.
        let lift = plan(&failing, &lock, "x86_64-unknown-linux-gnu", &[]).unwrap();
        assert_eq!(lift.precise, None);
    }

    #[test]
    fn a_blocker_without_a_compatible_fix_is_never_lifted_and_each_package_once() {
        let lock = locked(&[("ring", "0.16.20"), ("rustls", "0.20.0")]);
        let failing = named(&[("ring", Some("0.16.20"))]);
        assert_eq!(plan(&failing, &lock, "riscv64gc-unknown-linux-musl", &[]), None);
        // On x86_64 ring 0.16 blocks nothing: it is lifted like any named package.
        let lift = plan(&failing, &lock, "x86_64-unknown-linux-musl", &[]).unwrap();
        assert_eq!(lift.package, "ring");
        let before = locked(&[("ring", "0.16.20"), ("rustls", "0.20.0")]);
        let after = locked(&[("ring", "0.16.21"), ("rustls", "0.20.0")]);
        let (done, changed) = record(&lift, &before, &after, "ring: build script failed").unwrap();
        assert_eq!((done.to.as_str(), changed), ("0.16.21", vec!["ring".to_string()]));
        assert_eq!(
            step(&done),
            "Cargo.lock: lifted ring 0.16.20 -> 0.16.21 alone (cargo update -p ring@0.16.20); every other pin kept"
        );
        assert_eq!(
            plan(&failing, &after, "x86_64-unknown-linux-musl", std::slice::from_ref(&done)),
            None,
            "lifted once"
        );
        assert_eq!(record(&lift, &before, &before, ""), None, "an update that moved nothing is no lift");
    }
}
