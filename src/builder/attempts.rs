//! The fallback ladder: which build attempt comes next after a failure. Pure.
//!
//! Order: on a nightly breakage (`nightly-breakage`: the build saw nightly and switched on unstable
//! features it rejects), the same on stable, when stable has the target's std (`cargo install`
//! uses stable); on a failure naming a `-sys` crate of the lock graph that can vendor its library
//! (`missing-system-library`, `build-script-failed`, `link-error`, or `not-static`: executables that
//! need the shared library it can build from source; the ladder finds it with
//! `prepare::plan_addition`), the same with that crate added as a pinned direct dependency with its
//! vendoring feature (cargo unifies the features), without `--locked` (the manifest changed; the
//! pin keeps the locked version); on a failure inside a package of the shipped `Cargo.lock` (or a
//! known blocker of the target in it: `lift::BLOCKERS`), the same with that one package lifted
//! (`cargo update -p NAME@FROM`, run by the ladder before it asks; the lock keeps every other pin),
//! without `--locked`; then the requested features (`--all-features` by default) with the shipped `Cargo.lock`
//! (`--locked`); on "a locked version is not in the index" (`locked-version-unavailable`), the same
//! with the shipped `Cargo.lock` set aside (cargo keeps a lock's pins even without `--locked`, so only
//! a fresh resolution gets past a version the index does not serve); on "lock file needs to be
//! updated", the same without `--locked` (cargo updates the lock);
//! on a compile error inside a registry dependency while the shipped `Cargo.lock` was used (as
//! shipped, or with lifts), the same with the lock set aside (a semver-compatible newer release of the dependency often supports the
//! target the pinned one predates: `libc` 0.2.149 has no loongarch64-musl types, later 0.2.x do);
//! on "feature does not exist", the same without the added vendoring features; after any other
//! failure of `--all-features` (it can switch on unstable or platform-only features), default features.
//!
//! Spurious failures (`FailureClass::is_spurious`: `oom`, `no-space`, `timeout`, `ice`) are retried
//! as they are, at most [`SPURIOUS_RETRIES`] times per job (after `oom` with one job), and not
//! counted in [`MAX_ATTEMPTS`]; then the ladder ends (another rung would hit the same wall).
//! `network-access` is spurious but not retried as is (the sandbox stays offline): the ladder goes
//! on as after a real failure (default features may leave the downloading part out). Real failures
//! are never retried as they were: each next rung changes something.

use crate::schema::result::{FailureClass, LockLift, ManifestAddition};

use super::backend::{Features, Lock};

/// At most this many attempts per job, spurious retries not counted.
pub const MAX_ATTEMPTS: usize = 4;

/// At most this many spurious retries per job (`FailureClass::is_spurious`): the same attempt
/// again, after `oom` with one job.
pub const SPURIOUS_RETRIES: usize = 2;

/// One rung of the ladder: what one attempt asks cargo for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rung {
    pub features: Features,
    pub extra_features: Vec<String>,
    pub lock: Lock,
    pub toolchain: ToolchainPick,
    /// Dependencies added to the crate's manifest, in order (they stay for every later attempt).
    pub additions: Vec<ManifestAddition>,
    /// Packages of the shipped lock lifted alone, in order (the lock keeps them until it is set aside).
    pub lifts: Vec<LockLift>,
    /// Which spurious retry this attempt is (0: none), counted over the job.
    pub retry: usize,
    /// Build with one job (`-j 1`), after an `oom`: fewer compilers at once need less memory.
    pub one_job: bool,
}

/// Which toolchain an attempt runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolchainPick {
    /// The job's settled toolchain (`result.json` `toolchain` before any retry).
    Chosen,
    /// Stable with the target's prebuilt std, after a nightly breakage.
    Stable,
}

/// What an attempt's failure says about the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hints {
    pub class: FailureClass,
    pub lock_outdated: bool,
    pub feature_problem: bool,
    /// The compile error is inside a dependency from the registry, not the crate itself.
    pub dependency_error: bool,
    /// A stable toolchain with the target's prebuilt std is there (asked only after a nightly
    /// breakage; `false` otherwise).
    pub stable_available: bool,
    /// A `-sys` crate the failure names, to add with its vendoring feature (not added before).
    pub vendor: Option<ManifestAddition>,
    /// A package of the shipped lock the ladder lifted alone after this failure (`lift`): the
    /// lock holds it already, the next attempt uses it.
    pub lift: Option<LockLift>,
}

pub fn first(features: Features, extra_features: Vec<String>, has_lock: bool) -> Rung {
    let lock = if has_lock { Lock::Locked } else { Lock::Unlocked };
    Rung {
        features,
        extra_features,
        lock,
        toolchain: ToolchainPick::Chosen,
        additions: Vec::new(),
        lifts: Vec::new(),
        retry: 0,
        one_job: false,
    }
}

/// The next attempt after `last` failed with `hints`, or `None` to give up.
pub fn next(last: &Rung, hints: &Hints, tried: &[Rung]) -> Option<Rung> {
    let retries = tried.iter().filter(|r| r.retry > 0).count();
    if tried.len() - retries >= MAX_ATTEMPTS {
        return None;
    }
    if hints.class.is_spurious() {
        if hints.class == FailureClass::NetworkAccess {
            // The sandbox stays offline: the same attempt would reach for the network again.
        } else if retries < SPURIOUS_RETRIES {
            let one_job = last.one_job || hints.class == FailureClass::Oom;
            return Some(Rung { retry: retries + 1, one_job, ..last.clone() });
        } else {
            return None;
        }
    }
    let mut candidate = real_next(last, hints)?;
    candidate.retry = 0;
    (!tried.contains(&candidate)).then_some(candidate)
}

/// The next attempt after a real failure (or `network-access`), before the checks of [`next`].
fn real_next(last: &Rung, hints: &Hints) -> Option<Rung> {
    let nightly_broke = hints.class == FailureClass::NightlyBreakage && hints.stable_available;
    let candidate = if nightly_broke && last.toolchain == ToolchainPick::Chosen {
        Rung { toolchain: ToolchainPick::Stable, ..last.clone() }
    } else if let Some(addition) = &hints.vendor {
        let mut additions = last.additions.clone();
        additions.push(addition.clone());
        let lock = if last.lock == Lock::Locked { Lock::Unlocked } else { last.lock };
        Rung { additions, lock, ..last.clone() }
    } else if let Some(lift) = &hints.lift {
        let mut lifts = last.lifts.clone();
        lifts.push(lift.clone());
        let lock = if last.lock == Lock::Locked { Lock::Unlocked } else { last.lock };
        Rung { lifts, lock, ..last.clone() }
    } else if hints.class == FailureClass::LockedVersionUnavailable && last.lock != Lock::Fresh {
        Rung { lock: Lock::Fresh, ..last.clone() }
    } else if hints.lock_outdated && last.lock == Lock::Locked {
        Rung { lock: Lock::Unlocked, ..last.clone() }
    } else if hints.dependency_error
        && (last.lock == Lock::Locked || !last.lifts.is_empty() && last.lock != Lock::Fresh)
    {
        Rung { lock: Lock::Fresh, ..last.clone() }
    } else if hints.feature_problem && !last.extra_features.is_empty() {
        Rung { extra_features: Vec::new(), ..last.clone() }
    } else if last.features == Features::All {
        Rung { features: Features::Default, ..last.clone() }
    } else {
        return None;
    };
    Some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hints(class: FailureClass) -> Hints {
        Hints {
            class,
            lock_outdated: false,
            feature_problem: false,
            dependency_error: false,
            stable_available: false,
            vendor: None,
            lift: None,
        }
    }

    #[test]
    fn a_dependency_that_does_not_compile_gets_a_fresh_resolution_once() {
        let p1 = first(Features::All, vec![], true);
        let o = Hints { dependency_error: true, ..hints(FailureClass::CompileError) };
        let p2 = next(&p1, &o, std::slice::from_ref(&p1)).unwrap();
        assert_eq!(p2, Rung { lock: Lock::Fresh, ..p1.clone() });
        // Still failing after the fresh resolution: default features, keeping the fresh lock.
        let p3 = next(&p2, &o, &[p1.clone(), p2.clone()]).unwrap();
        assert_eq!(p3, Rung { features: Features::Default, ..p2 });
        // Without a shipped lock the resolution is fresh already: nothing to set aside.
        let unlocked = first(Features::All, vec![], false);
        let p = next(&unlocked, &o, std::slice::from_ref(&unlocked)).unwrap();
        assert_eq!(p, Rung { features: Features::Default, ..unlocked });
    }

    #[test]
    fn all_features_then_default() {
        let p1 = first(Features::All, vec![], true);
        let p2 = next(&p1, &hints(FailureClass::CompileError), std::slice::from_ref(&p1)).unwrap();
        assert_eq!(p2, Rung { features: Features::Default, ..p1.clone() });
        assert_eq!(next(&p2, &hints(FailureClass::CompileError), &[p1, p2.clone()]), None);
    }

    #[test]
    fn outdated_lock_is_dropped_first() {
        let p1 = first(Features::All, vec!["openssl/vendored".into()], true);
        let o = Hints { lock_outdated: true, ..hints(FailureClass::FetchFailed) };
        let p2 = next(&p1, &o, std::slice::from_ref(&p1)).unwrap();
        assert!(p2.lock == Lock::Unlocked && p2.features == Features::All);
        let o = Hints { feature_problem: true, ..hints(FailureClass::CompileError) };
        let p3 = next(&p2, &o, &[p1, p2.clone()]).unwrap();
        assert!(p3.extra_features.is_empty() && p3.features == Features::All);
    }

    #[test]
    fn a_locked_version_the_index_lacks_gets_a_fresh_resolution() {
        let p1 = first(Features::All, vec![], true);
        let o = Hints { lock_outdated: true, ..hints(FailureClass::LockedVersionUnavailable) };
        let p2 = next(&p1, &o, std::slice::from_ref(&p1)).unwrap();
        assert_eq!(p2, Rung { lock: Lock::Fresh, ..p1.clone() });
        // Still failing that way after a fresh resolution: the ladder goes on to default features.
        let p3 = next(&p2, &o, &[p1, p2.clone()]).unwrap();
        assert_eq!(p3, Rung { features: Features::Default, ..p2 });
    }

    #[test]
    fn a_nightly_breakage_is_retried_on_stable_once_when_stable_can_build() {
        let p1 = first(Features::All, vec![], true);
        let broke = Hints { stable_available: true, ..hints(FailureClass::NightlyBreakage) };
        let p2 = next(&p1, &broke, std::slice::from_ref(&p1)).unwrap();
        assert_eq!(p2, Rung { toolchain: ToolchainPick::Stable, ..p1.clone() });
        // Still failing so on stable (it cannot: the errors need unstable features): the usual ladder.
        let p3 = next(&p2, &broke, &[p1.clone(), p2.clone()]).unwrap();
        assert_eq!(p3, Rung { features: Features::Default, ..p2 });
        // No stable toolchain with the target's std: the usual ladder on the chosen one.
        let p = next(&p1, &hints(FailureClass::NightlyBreakage), std::slice::from_ref(&p1)).unwrap();
        assert_eq!(p, Rung { features: Features::Default, ..p1 });
    }

    #[test]
    fn a_sys_crate_of_the_lock_graph_is_added_with_its_vendoring_feature_without_locked() {
        let p1 = first(Features::All, vec![], true);
        let add = ManifestAddition {
            package: "fakeffi-sys".into(),
            version: "1.0.0".into(),
            features: vec!["vendored".into()],
            reason: String::new(),
        };
        let o = Hints { vendor: Some(add.clone()), ..hints(FailureClass::MissingSystemLibrary) };
        let p2 = next(&p1, &o, std::slice::from_ref(&p1)).unwrap();
        assert_eq!(p2, Rung { additions: vec![add], lock: Lock::Unlocked, ..p1.clone() });
        // Nothing more to vendor: the usual ladder, keeping the addition.
        let p3 = next(&p2, &hints(FailureClass::MissingSystemLibrary), &[p1, p2.clone()]).unwrap();
        assert_eq!(p3, Rung { features: Features::Default, ..p2 });
    }

    #[test]
    fn a_lifted_package_is_the_next_attempt_and_a_fresh_resolution_comes_after() {
        let p1 = first(Features::All, vec![], true);
        let lift = LockLift {
            package: "libc".into(),
            from: "0.2.149".into(),
            to: "0.2.155".into(),
            precise: true,
            changed: vec!["libc".into()],
            reason: String::new(),
        };
        let o = Hints { lift: Some(lift.clone()), dependency_error: true, ..hints(FailureClass::CompileError) };
        let p2 = next(&p1, &o, std::slice::from_ref(&p1)).unwrap();
        assert_eq!(p2, Rung { lifts: vec![lift], lock: Lock::Unlocked, ..p1.clone() });
        // Still failing inside a dependency, nothing more to lift: the lock is set aside.
        let o = Hints { dependency_error: true, ..hints(FailureClass::CompileError) };
        let p3 = next(&p2, &o, &[p1, p2.clone()]).unwrap();
        assert_eq!(p3, Rung { lock: Lock::Fresh, ..p2 });
    }

    #[test]
    fn spurious_failures_are_retried_as_they_are_a_bounded_number_of_times() {
        let p1 = first(Features::All, vec![], false);
        let oom = hints(FailureClass::Oom);
        let p2 = next(&p1, &oom, std::slice::from_ref(&p1)).unwrap();
        assert_eq!(p2, Rung { retry: 1, one_job: true, ..p1.clone() }, "after oom, with one job");
        let p3 = next(&p2, &hints(FailureClass::Ice), &[p1.clone(), p2.clone()]).unwrap();
        assert_eq!(p3, Rung { retry: 2, ..p2.clone() });
        assert_eq!(next(&p3, &oom, &[p1.clone(), p2.clone(), p3.clone()]), None, "{SPURIOUS_RETRIES} retries per job");
        // A real failure after a retry: the usual ladder, the retries not counted as attempts.
        let p4 = next(&p3, &hints(FailureClass::CompileError), &[p1.clone(), p2, p3.clone()]).unwrap();
        assert_eq!(p4, Rung { features: Features::Default, retry: 0, ..p3 });
        // The same for a timeout while the job has time left (the ladder checks its deadline).
        let p = next(&p1, &hints(FailureClass::Timeout), std::slice::from_ref(&p1)).unwrap();
        assert_eq!(p, Rung { retry: 1, ..p1.clone() });
        // network-access: not retried as is; the ladder goes on (default features).
        let p = next(&p1, &hints(FailureClass::NetworkAccess), std::slice::from_ref(&p1)).unwrap();
        assert_eq!(p, Rung { features: Features::Default, ..p1.clone() });
    }

    #[test]
    fn explicit_features_get_one_attempt() {
        let p1 = first(Features::List(vec!["cli".into()]), vec![], false);
        assert_eq!(next(&p1, &hints(FailureClass::CompileError), std::slice::from_ref(&p1)), None);
    }
}
