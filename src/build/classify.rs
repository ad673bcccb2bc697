//! TEMPORARY local shim for compile checks (replaced by the real classifier on merge).
use crate::schema::result::FailureClass;
pub struct ExitInfo { pub code: Option<i32>, pub signal: Option<i32>, pub timed_out: bool }
pub struct Classification { pub class: FailureClass, pub evidence: Vec<String>, pub summary: String, pub lock_outdated: bool, pub feature_problem: bool }
pub fn classify(log: &str, exit: ExitInfo) -> Classification {
    let _ = exit;
    Classification { class: FailureClass::Unknown, evidence: log.lines().rev().take(5).map(str::to_string).collect(), summary: "shim".into(), lock_outdated: false, feature_problem: false }
}
