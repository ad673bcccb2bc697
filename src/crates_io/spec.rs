//! `CRATE[@VERSION]` as given on the command line: validated once, before anything reaches the
//! network, a file name or a shell.

use anyhow::Result;

use crate::error::usage;

/// Longest crate name crates.io accepts.
const MAX_NAME_LEN: usize = 64;

/// Characters that mean something to a shell; named in the error so the user sees why.
const SHELL_METACHARACTERS: &[char] = &[
    ';', '&', '|', '$', '`', '<', '>', '(', ')', '{', '}', '[', ']', '*', '?', '!', '~', '\'', '"', '\\', '#', ' ',
    '\t', '\n', '\r', '=', '%', '^', ',',
];

/// A crate name and, optionally, the exact version asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrateSpec {
    pub name: String,
    /// An exact semver version (a leading `=` is accepted and dropped); `None` = the newest.
    pub version: Option<String>,
}

impl CrateSpec {
    /// Parses `name` or `name@1.2.3` (also `name@=1.2.3`). Errors are usage errors (exit 2).
    pub fn parse(s: &str) -> Result<CrateSpec> {
        let (name, version) = match s.split_once('@') {
            None => (s, None),
            Some((name, version)) => (name, Some(version)),
        };
        validate_name(name).map_err(|why| usage(format!("invalid crate spec `{}`: {why}", s.escape_debug())))?;
        let version = match version {
            None => None,
            Some(v) => Some(
                parse_exact_version(v)
                    .map_err(|why| usage(format!("invalid crate spec `{}`: {why}", s.escape_debug())))?,
            ),
        };
        Ok(CrateSpec { name: name.to_string(), version })
    }
}

impl std::fmt::Display for CrateSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{}@{v}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// crates.io's rules: ASCII letters, digits, `-` and `_`, starting with a letter, at most 64 chars.
pub(crate) fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the crate name is empty".into());
    }
    if let Some(c) = name.chars().find(|c| SHELL_METACHARACTERS.contains(c) || c.is_control()) {
        return Err(format!(
            "the crate name contains the shell metacharacter {:?}; crate names use only ASCII letters, digits, `-` and `_`",
            c
        ));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
        return Err(format!(
            "the crate name contains {:?}; crate names use only ASCII letters, digits, `-` and `_`",
            c
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err("a crate name must start with an ASCII letter".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "the crate name is {} characters long; crates.io allows at most {MAX_NAME_LEN}",
            name.len()
        ));
    }
    Ok(())
}

/// An exact version: `1.2.3`, `=1.2.3`, `1.0.0-rc.1`; ranges like `^1` or `1.2` are refused.
pub(crate) fn parse_exact_version(v: &str) -> Result<String, String> {
    let v = v.strip_prefix('=').unwrap_or(v).trim();
    if v.is_empty() {
        return Err("the version after `@` is empty".into());
    }
    match semver::Version::parse(v) {
        Ok(parsed) => Ok(parsed.to_string()),
        Err(e) => Err(format!("`{}` is not an exact semver version like 1.2.3 ({e})", v.escape_debug())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{exit_of, Exit};

    #[test]
    fn name_only_and_name_at_version() {
        assert_eq!(CrateSpec::parse("ripgrep").unwrap(), CrateSpec { name: "ripgrep".into(), version: None });
        let spec = CrateSpec::parse("itoa@1.0.11").unwrap();
        assert_eq!(spec.version.as_deref(), Some("1.0.11"));
        assert_eq!(CrateSpec::parse("a_b-c@=0.1.0-rc.1").unwrap().version.as_deref(), Some("0.1.0-rc.1"));
        assert_eq!(spec.to_string(), "itoa@1.0.11");
    }

    #[test]
    fn bad_names_are_usage_errors_that_say_why() {
        for (input, why) in [
            ("", "empty"),
            ("9lives", "start with an ASCII letter"),
            ("-x", "start with an ASCII letter"),
            ("foo;rm -rf /", "shell metacharacter ';'"),
            ("foo$(id)", "shell metacharacter '$'"),
            ("a`b`", "shell metacharacter '`'"),
            ("foo bar", "shell metacharacter ' '"),
            ("foo/bar", "contains '/'"),
            ("caf\u{e9}", "contains '\u{e9}'"),
            ("foo\nbar", "shell metacharacter '\\n'"),
        ] {
            let err = CrateSpec::parse(input).unwrap_err();
            assert_eq!(exit_of(&err), Exit::Usage, "{input:?}");
            let msg = err.to_string();
            assert!(msg.contains(why), "{input:?}: {msg}");
            assert!(!msg.contains('\n'), "one line: {msg:?}");
        }
        let long = "a".repeat(65);
        assert!(CrateSpec::parse(&long).unwrap_err().to_string().contains("at most 64"));
        assert!(CrateSpec::parse(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn bad_versions_are_usage_errors() {
        for input in ["foo@", "foo@1.2", "foo@^1.2.3", "foo@latest", "foo@1.2.3@4", "@1.2.3"] {
            let err = CrateSpec::parse(input).unwrap_err();
            assert_eq!(exit_of(&err), Exit::Usage, "{input}");
        }
        assert!(CrateSpec::parse("foo@1.2").unwrap_err().to_string().contains("not an exact semver version"));
    }
}
