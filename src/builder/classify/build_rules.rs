//! Rules about compiling and linking: unsupported target, missing system library, unstable features on
//! stable, link errors, build scripts, compile errors.

use super::lines::{
    between, crate_in_backticks, crate_of_error, location_after, registry_package, strip_error, Log,
    BUILD_SCRIPT_FAILED, COULD_NOT_COMPILE,
};
use super::{Hit, Outcome};
use crate::schema::result::FailureClass;

pub(super) fn unsupported_target(log: &Log, _: &Outcome) -> Option<Hit> {
    // An error message or build-script panic that names a platform and says it is unsupported.
    let panics = log.panic_messages();
    for (i, line) in log.lines.iter().enumerate() {
        let message = if let Some(m) = line.strip_prefix("error: ") {
            m
        } else if panics.contains(&i) {
            line.trim()
        } else {
            continue;
        };
        let from_macro = log.lines[i + 1..].iter().take(6).any(|l| l.contains("compile_error!"));
        if says_unsupported(message, from_macro) && names_platform(message) {
            let mut lines = log.block(i, 8);
            lines.push(i);
            let krate = log.crate_for(i);
            return Hit::new(FailureClass::UnsupportedTarget, format!("{krate}: {message}"), lines);
        }
    }
    // `use std::arch::aarch64::...` built for another architecture.
    if let Some(i) = log.first(|l| l.contains("in `arch`") && l.contains("could not find `")) {
        let arch = between(&log.lines[i], "could not find `", "`").unwrap_or("?").to_string();
        let start = log.lines[..i].iter().rposition(|l| l.starts_with("error")).unwrap_or(i);
        let mut lines: Vec<usize> = (start..=i).filter(|&j| !log.lines[j].trim().is_empty()).collect();
        lines.extend(log.find(|l| l.starts_with(COULD_NOT_COMPILE)));
        let summary = format!("{}: uses `std::arch::{arch}`, code for another architecture", log.crate_for(i));
        return Hit::new(FailureClass::UnsupportedTarget, summary, lines);
    }
    // rustc points at an item configured out by a target `cfg`.
    for i in log.find(|l| l.contains("found an item that was configured out")) {
        let window = (i + 1..(i + 8).min(log.lines.len())).collect::<Vec<_>>();
        if let Some(&g) = window.iter().find(|&&j| is_target_cfg(&log.lines[j])) {
            let start = log.lines[..i].iter().rposition(|l| l.starts_with("error")).unwrap_or(i);
            let mut lines: Vec<usize> = (start..=i).filter(|&j| !log.lines[j].trim().is_empty()).collect();
            lines.extend(window.iter().filter(|&&j| !log.lines[j].trim().is_empty()));
            let cfg = log.lines[g].split('|').nth(1).unwrap_or("").trim();
            let summary =
                format!("{}: {} is only compiled for {cfg}", log.crate_for(i), strip_error(&log.lines[start]));
            return Hit::new(FailureClass::UnsupportedTarget, summary, lines);
        }
    }
    // Inline assembly written for another architecture.
    if log.any(|l| l.contains("<inline asm>")) {
        const ASM: &[&str] =
            &["invalid instruction mnemonic", "invalid register", "unknown register", "invalid operand"];
        if let Some(i) = log.first(|l| l.starts_with("error") && ASM.iter().any(|p| l.contains(p))) {
            let lines = log.block(i, 14);
            let summary = format!(
                "{}: inline assembly for another architecture: {}",
                log.crate_for(i),
                strip_error(&log.lines[i])
            );
            return Hit::new(FailureClass::UnsupportedTarget, summary, lines);
        }
    }
    None
}

pub(super) fn says_unsupported(message: &str, from_macro: bool) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("unsupported")
        || m.contains("not supported")
        || m.contains("not yet supported")
        || (from_macro && (m.contains("only supports") || m.contains("only works on") || m.contains("requires")))
}

pub(super) fn names_platform(message: &str) -> bool {
    if message.contains("(os error") {
        return false;
    }
    const WORDS: &[&str] = &[
        "target",
        "platform",
        "arch",
        "architecture",
        "os",
        "operating",
        "windows",
        "macos",
        "linux",
        "unix",
        "wasm",
        "wasm32",
        "x86",
        "x86_64",
        "aarch64",
        "arm",
        "riscv",
        "riscv64",
        "loongarch64",
        "musl",
        "endian",
        "32-bit",
        "64-bit",
        "pointer",
    ];
    message
        .to_ascii_lowercase()
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .any(|w| WORDS.contains(&w) || w.starts_with("target_"))
}

pub(super) fn is_target_cfg(line: &str) -> bool {
    line.contains("cfg(")
        && [
            "target_os",
            "target_arch",
            "target_family",
            "target_env",
            "target_pointer_width",
            "target_vendor",
            "windows",
            "unix",
        ]
        .iter()
        .any(|k| line.contains(k))
}

pub(super) fn missing_system_library(log: &Log, _: &Outcome) -> Option<Hit> {
    let script_failed = log.any(|l| l.starts_with(BUILD_SCRIPT_FAILED));
    let (i, what, extra) = missing_library(log, script_failed).or_else(|| missing_tool(log, script_failed))?;
    let mut lines = log.find(|l| l.starts_with(BUILD_SCRIPT_FAILED) || l.starts_with(COULD_NOT_COMPILE));
    lines.push(i);
    lines.extend(extra);
    Hit::new(FailureClass::MissingSystemLibrary, what, lines)
}

/// What [`missing_system_library`] found: the line, the summary, more evidence lines.
type Missing = Option<(usize, String, Vec<usize>)>;

fn found(i: usize, what: String, extra: Vec<usize>) -> Missing {
    Some((i, what, extra))
}

/// A missing library or header (pkg-config, OpenSSL, the linker's `-l`, a C header).
fn missing_library(log: &Log, script_failed: bool) -> Missing {
    if let Some(i) = log.first(|l| l.contains("The system library `") && l.contains("` was not found")) {
        let lib = between(&log.lines[i], "The system library `", "`").unwrap_or("?");
        let krate =
            between(&log.lines[i], "required by crate `", "`").map(str::to_string).unwrap_or_else(|| log.crate_for(i));
        let pc = log.find(|l| {
            l.contains("was not found in the pkg-config search path")
                || l.contains("pkg-config exited")
                || l.contains("Could not find directory of OpenSSL installation")
        });
        return found(i, format!("{krate}: could not find system library '{lib}' (pkg-config)"), pc);
    }
    if let Some(i) = log.first(|l| l.contains("was not found in the pkg-config search path")) {
        let lib = between(&log.lines[i], "Package ", " was not found").unwrap_or("?");
        return found(i, format!("{}: could not find system library '{lib}' (pkg-config)", log.crate_for(i)), vec![]);
    }
    if let Some(i) = log.first(|l| l.contains("pkg-config has not been configured to support cross-compilation")) {
        return found(
            i,
            format!("{}: pkg-config is not set up to cross-compile for this target", log.crate_for(i)),
            vec![],
        );
    }
    if let Some(i) = log.first(|l| l.contains("Could not find directory of OpenSSL installation")) {
        let summary = format!(
            "{}: could not find an OpenSSL installation (libssl-dev, or a `vendored` feature)",
            log.crate_for(i)
        );
        return found(i, summary, log.find(|l| l.contains("$TARGET =")));
    }
    let linker = log.find(|l| l.contains("cannot find -l") || l.contains("unable to find library -l"));
    if let Some(&i) = linker.first() {
        let lib = library_flag(&log.lines[i]);
        let summary = format!("{}: the linker could not find library {lib}", log.crate_for(i));
        return found(i, summary, log.find(|l| l.starts_with("error: linking with")));
    }
    if let Some(i) = log.first(|l| l.contains("could not find native static library `")) {
        let lib = between(&log.lines[i], "library `", "`").unwrap_or("?");
        return found(i, format!("{}: could not find native static library '{lib}'", log.crate_for(i)), vec![]);
    }
    if script_failed {
        if let Some((i, header)) = log.lines.iter().enumerate().find_map(|(i, l)| missing_header(l).map(|h| (i, h))) {
            return found(i, format!("{}: C/C++ header '{header}' not found", log.crate_for(i)), vec![]);
        }
    }
    None
}

/// A missing build tool (cmake packages, libclang, protoc, a linker, a program a build script runs).
fn missing_tool(log: &Log, script_failed: bool) -> Missing {
    if let Some(i) = log.first(|l| l.contains("Could not find a package configuration file provided by")) {
        let pkg = between(&log.lines[i], "provided by \"", "\"").unwrap_or("?");
        let error = log.find(|l| l.contains("CMake Error"));
        return found(i, format!("{}: cmake could not find package '{pkg}'", log.crate_for(i)), error);
    }
    if let Some(i) =
        log.first(|l| l.contains("Could NOT find ") || l.contains("The following required packages were not found"))
    {
        let error = log.find(|l| l.contains("CMake Error"));
        return found(i, format!("{}: cmake: {}", log.crate_for(i), log.lines[i].trim()), error);
    }
    if let Some(i) = log.first(|l| l.contains("Unable to find libclang") || l.contains("matching: ['libclang.so'")) {
        return found(i, format!("{}: libclang not found (needed by bindgen/clang-sys)", log.crate_for(i)), vec![]);
    }
    if let Some(i) = log.first(|l| l.contains(" not installed?")) {
        let tool = between(&log.lines[i], "is `", "`").unwrap_or("a build tool");
        let cause = log.lines[..i].iter().rposition(|l| l.contains("failed to execute")).into_iter().collect();
        return found(
            i,
            format!("{}: build tool '{tool}' not found ({})", log.crate_for(i), log.lines[i].trim()),
            cause,
        );
    }
    if let Some(i) = log.first(|l| l.starts_with("error: linker `") && l.contains("` not found")) {
        let linker = between(&log.lines[i], "linker `", "`").unwrap_or("?");
        return found(i, format!("{}: linker '{linker}' not found", log.crate_for(i)), log.block(i, 4));
    }
    if let Some(i) = log.first(|l| l.contains("Could not find `protoc`")) {
        return found(i, format!("{}: build tool 'protoc' not found", log.crate_for(i)), vec![]);
    }
    if script_failed {
        let spawn = |l: &str| {
            let l = l.to_ascii_lowercase();
            (l.contains("kind: notfound") || l.contains("no such file or directory"))
                && [
                    "failed to run",
                    "failed to execute",
                    "failed to spawn",
                    "could not run",
                    "could not execute",
                    "unable to run",
                ]
                .iter()
                .any(|p| l.contains(p))
        };
        if let Some(i) = log.first(spawn) {
            return found(
                i,
                format!("{}: build script could not run a program: {}", log.crate_for(i), log.lines[i].trim()),
                vec![],
            );
        }
    }
    None
}

/// `... -lssl ...` → `-lssl`.
pub(super) fn library_flag(line: &str) -> &str {
    let start = ["find -l", "library -l"].iter().find_map(|p| line.find(p).map(|at| at + p.len() - 2)).unwrap_or(0);
    line[start..].split(|c: char| c.is_whitespace() || c == ':').next().unwrap_or("-l?")
}

/// gcc `fatal error: foo.h: No such file or directory` / clang `fatal error: 'foo.h' file not found`.
pub(super) fn missing_header(line: &str) -> Option<&str> {
    let (_, rest) = line.split_once("fatal error: ")?;
    let name = rest
        .strip_suffix(": No such file or directory")
        .or_else(|| rest.strip_suffix(" file not found").map(|n| n.trim_matches('\'')))?;
    let is_header = [".h", ".hh", ".hpp", ".hxx", ".inc"].iter().any(|e| name.ends_with(e)) || !name.contains('.');
    is_header.then_some(name)
}

/// rustc's errors for unstable features a nightly compiler no longer has (they only occur on
/// nightly, or with `RUSTC_BOOTSTRAP`: a stable compiler refuses `#![feature]` first, E0554).
const NIGHTLY_BREAKAGE: &[&str] = &[
    "error[E0635]: unknown feature",
    "error[E0557]: feature has been removed",
    "error: attributes starting with `rustc` are reserved",
];

pub(super) fn nightly_breakage(log: &Log, _: &Outcome) -> Option<Hit> {
    let lines = log.find(|l| NIGHTLY_BREAKAGE.iter().any(|p| l.starts_with(p)));
    let &i = lines.first()?;
    let summary = format!(
        "{}: unstable features switched on for a nightly compiler that rejects them: {}",
        crate_of_error(log, i),
        log.lines[i]
    );
    let mut all = lines.clone();
    all.extend(lines.iter().filter_map(|&j| location_after(log, j)));
    all.extend(log.find(|l| l.starts_with(COULD_NOT_COMPILE)));
    Hit::new(FailureClass::NightlyBreakage, summary, all)
}

pub(super) fn unstable_on_stable(log: &Log, _: &Outcome) -> Option<Hit> {
    let lines = log.find(|l| l.starts_with("error[E0554]") || l.starts_with("error[E0658]"));
    let &i = lines.first()?;
    let needs = if log.lines[i].starts_with("error[E0554]") {
        "needs a nightly toolchain"
    } else {
        "needs a newer or nightly toolchain"
    };
    let summary = format!("{}: {needs}: {}", crate_of_error(log, i), log.lines[i]);
    let mut all = lines.clone();
    all.extend(lines.iter().filter_map(|&j| location_after(log, j)));
    Hit::new(FailureClass::RustVersion, summary, all)
}

pub(super) fn link_error(log: &Log, _: &Outcome) -> Option<Hit> {
    const SPECIFIC: &[&str] = &[
        "undefined reference to",
        "undefined symbol:",
        "relocation R_",
        "multiple definition of",
        "duplicate symbol",
        "can not be used when making",
    ];
    let head = log.first(|l| l.starts_with("error: linking with `"));
    let specific = log.find(|l| SPECIFIC.iter().any(|p| l.contains(p)));
    let first = head.or(specific.first().copied())?;
    let mut lines = vec![first];
    lines.extend(&specific);
    lines.extend(log.find(|l| {
        l.contains("ld returned") || l.contains("native libraries may need") || l.starts_with(COULD_NOT_COMPILE)
    }));
    let what = match specific.first() {
        Some(&s) => {
            let l = &log.lines[s];
            let at = SPECIFIC.iter().filter_map(|p| l.find(p)).min().unwrap_or(0);
            l[at..].to_string()
        }
        None => strip_error(&log.lines[first]).to_string(),
    };
    Hit::new(FailureClass::LinkError, format!("{}: link failed: {what}", crate_of_error(log, first)), lines)
}

pub(super) fn build_script(log: &Log, _: &Outcome) -> Option<Hit> {
    let i = log.first(|l| l.starts_with(BUILD_SCRIPT_FAILED))?;
    let krate = crate_in_backticks(&log.lines[i]);
    let section_end =
        log.lines[i + 1..].iter().position(|l| l.starts_with("error")).map_or(log.lines.len(), |p| i + 1 + p);
    let section = i..section_end;
    let panic_msg = log.panic_messages().into_iter().find(|j| section.contains(j));
    let cc_msg = section.clone().find(|&j| log.lines[j].contains("error occurred"));
    let warnings = log.find(|l| l.starts_with(&format!("warning: {krate}@")) && l.contains("error"));
    let status = section.clone().find(|&j| log.lines[j].contains("process didn't exit successfully"));
    let reason = panic_msg.or(warnings.first().copied()).or(cc_msg).or(status);
    let mut lines = vec![i];
    lines.extend(&warnings);
    lines.extend(status);
    lines.extend(panic_msg.and_then(|j| log.lines[..j].iter().rposition(|l| l.contains("panicked at"))));
    lines.extend(reason);
    let summary = match reason {
        Some(r) => {
            let line = log.lines[r].trim();
            let line = line.strip_prefix("warning: ").and_then(|l| l.split_once(": ")).map_or(line, |(_, m)| m);
            format!("{krate}: build script failed: {line}")
        }
        None => format!("{krate}: build script failed"),
    };
    Hit::new(FailureClass::BuildScriptFailed, summary, lines)
}

pub(super) fn compile_error(log: &Log, _: &Outcome) -> Option<Hit> {
    let is_error = |l: &str| {
        (l.starts_with("error[E") || l.starts_with("error: "))
            && !l.starts_with(COULD_NOT_COMPILE)
            && !l.starts_with("error: aborting")
            && !l.contains("warnings emitted")
    };
    // Cargo ends every rustc failure with `could not compile`; other top-level `error:` lines alone
    // are cargo's own (manifest, resolver) and fall through to `unknown`.
    let done = log.find(|l| l.starts_with(COULD_NOT_COMPILE));
    let errors = if done.is_empty() { log.find(|l| l.starts_with("error[E")) } else { log.find(is_error) };
    if errors.is_empty() && done.is_empty() {
        return None;
    }
    let mut lines = errors.clone();
    lines.extend(errors.iter().filter_map(|&j| location_after(log, j)));
    lines.extend(&done);
    // An error located in a registry package's sources: the dependency failed, not the crate.
    let in_dependency = errors.iter().find_map(|&j| {
        let at = location_after(log, j)?;
        registry_package(&log.lines[at]).map(|(name, version)| (j, format!("{name} {version}")))
    });
    if let Some((j, dependency)) = in_dependency {
        let more = errors.iter().filter(|&&e| e != j && !log.lines[e].starts_with("error: aborting")).count();
        let and = if more == 0 { String::new() } else { format!(" (and {more} more errors)") };
        return Hit::new(
            FailureClass::DependsOn,
            format!("inside dependency {dependency}: {}{and}", log.lines[j]),
            lines,
        );
    }
    let first = errors.first().copied().or(done.first().copied())?;
    let krate = crate_of_error(log, first);
    let summary = match errors.len() {
        0 => strip_error(&log.lines[first]).to_string(),
        1 => format!("{krate}: {}", log.lines[first]),
        n => format!("{krate}: {} (and {} more errors)", log.lines[first], n - 1),
    };
    Hit::new(FailureClass::CompileError, summary, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_flags_and_headers() {
        assert_eq!(library_flag("= note: /usr/bin/ld.bfd: cannot find -lssl: No such file or directory"), "-lssl");
        assert_eq!(library_flag("= note: rust-lld: error: unable to find library -lz"), "-lz");
        assert_eq!(missing_header("x.c:1:10: fatal error: sndfile.h: No such file or directory"), Some("sndfile.h"));
        assert_eq!(missing_header("x.c:1:10: fatal error: 'zlib.h' file not found"), Some("zlib.h"));
        assert_eq!(missing_header("cc1: fatal error: src/x.c: No such file or directory"), None);
    }

    #[test]
    fn platform_words() {
        assert!(names_platform("only supports Windows"));
        assert!(names_platform("unsupported target_arch"));
        assert!(!names_platform("Operation not supported (os error 95)"));
        assert!(!names_platform("this compiler is not supported"));
    }
}
