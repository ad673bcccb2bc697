//! Names from the dump are data from strangers: a crate or binary name ends up in chunk files, job
//! names, shell commands and file paths downstream. This module checks them against crates.io's
//! rules (crate names) and against what is safe as a file name and a shell word (binary names).
//! A name that fails makes its row skipped and counted under the returned reason. Pure functions.

use super::encoding::set;

/// crates.io's limit on crate names, and the limit cratemill puts on binary names.
pub const MAX_NAME_CHARS: usize = 64;

/// crates.io's rule: ASCII letters, digits, `-` and `_`, starting with a letter, at most 64 chars.
pub fn check_crate_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("bad name");
    }
    if name.len() > MAX_NAME_CHARS {
        return Err("crate name longer than 64 characters");
    }
    if !name.as_bytes()[0].is_ascii_alphabetic() {
        return Err("crate name not starting with an ASCII letter");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err("crate name with a character other than ASCII letters, digits, - and _");
    }
    Ok(())
}

/// One binary name: letters and digits of any script, `-`, `_`, `.` and `+`; not empty, not
/// starting with `.` or `-` (`..`, hidden files, options), no path separator, no shell
/// metacharacter, whitespace or control character, at most 64 characters.
pub fn check_bin_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("bin name empty");
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err("bin name longer than 64 characters");
    }
    if name.contains(['/', '\\']) {
        return Err("bin name with a path separator");
    }
    if name.starts_with(['.', '-']) {
        return Err("bin name starting with `.` or `-` (`..`, hidden file, option)");
    }
    if !name.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '+')) {
        return Err("bin name with a shell metacharacter, space or control character");
    }
    Ok(())
}

/// A raw `bin_names` field (`{a,b}`, or empty): a well-formed set of valid names.
pub fn check_bin_names(field: &str) -> Result<(), &'static str> {
    let Some(inner) = field.strip_prefix('{').and_then(|f| f.strip_suffix('}')) else {
        return if field.is_empty() { Ok(()) } else { Err("bad bin_names") };
    };
    if inner.is_empty() {
        return Ok(());
    }
    if !inner.contains(['"', '{', '}']) {
        // Unquoted elements (the common case): no allocation.
        return inner.split(',').try_for_each(check_bin_name);
    }
    let names = set::parse(field).ok_or("malformed bin_names set")?;
    names.iter().try_for_each(|n| check_bin_name(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_names_follow_crates_io() {
        for ok in ["a", "ripgrep", "fd-find", "du_dust", "x2", &"a".repeat(64)] {
            assert_eq!(check_crate_name(ok), Ok(()), "{ok}");
        }
        let bad = [
            ("", "bad name"),
            (&*"a".repeat(65), "crate name longer than 64 characters"),
            ("9lives", "crate name not starting with an ASCII letter"),
            ("-x", "crate name not starting with an ASCII letter"),
            ("$(touch x)", "crate name not starting with an ASCII letter"),
            ("a/../../x", "crate name with a character other than ASCII letters, digits, - and _"),
            ("ünï", "crate name not starting with an ASCII letter"),
            ("a b", "crate name with a character other than ASCII letters, digits, - and _"),
        ];
        for (name, reason) in bad {
            assert_eq!(check_crate_name(name), Err(reason), "{name}");
        }
    }

    #[test]
    fn bin_names_are_safe_file_names_and_shell_words() {
        for ok in ["rg", "tool-a", "ünï", "g++", "x.y", "cargo_x"] {
            assert_eq!(check_bin_name(ok), Ok(()), "{ok}");
        }
        for (name, reason) in [
            ("../../x", "bin name with a path separator"),
            ("a\\b", "bin name with a path separator"),
            ("..", "bin name starting with `.` or `-` (`..`, hidden file, option)"),
            ("-rf", "bin name starting with `.` or `-` (`..`, hidden file, option)"),
            ("$(touch x)", "bin name with a shell metacharacter, space or control character"),
            ("a;b", "bin name with a shell metacharacter, space or control character"),
            ("a\nb", "bin name with a shell metacharacter, space or control character"),
            ("`id`", "bin name with a shell metacharacter, space or control character"),
            ("", "bin name empty"),
        ] {
            assert_eq!(check_bin_name(name), Err(reason), "{name:?}");
        }
        assert_eq!(check_bin_name(&"b".repeat(65)), Err("bin name longer than 64 characters"));
    }

    #[test]
    fn bin_name_sets() {
        assert_eq!(check_bin_names(""), Ok(()));
        assert_eq!(check_bin_names("{}"), Ok(()));
        assert_eq!(check_bin_names("{rg,fd}"), Ok(()));
        assert_eq!(check_bin_names(r#"{"rg",ünï}"#), Ok(()));
        assert_eq!(check_bin_names("rg"), Err("bad bin_names"));
        assert_eq!(check_bin_names(r#"{"open}"#), Err("malformed bin_names set"));
        assert_eq!(
            check_bin_names(r#"{"$(touch x)"}"#),
            Err("bin name with a shell metacharacter, space or control character")
        );
        assert_eq!(check_bin_names("{rg,../../x}"), Err("bin name with a path separator"));
        assert_eq!(check_bin_names("{rg,}"), Err("bin name empty"));
    }
}
