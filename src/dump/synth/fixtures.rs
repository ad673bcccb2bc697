//! Hand-written crates, one per selection edge case, with fixed ids and dates so tests can state the
//! expected plan by hand. With `--since 2025-01-01` the selected crates are exactly [`SELECTED`].
//!
//! | crate | case | expected |
//! | --- | --- | --- |
//! | `yanked-top` | highest version yanked | 1.0.0 |
//! | `all-yanked` | every version yanked | out |
//! | `pre-only` | only pre-releases | 0.1.0-beta.2 |
//! | `stable-beats-pre` | a newer pre-release than the stable | 1.0.0 |
//! | `bin-only` | binary without a library | 0.3.0 |
//! | `cli-lib` | library in `command-line-utilities`, no bin_names | 2.1.0, no bins |
//! | `multi-bin` | three binaries, unicode names | 3.0.0 |
//! | `old-tool` | candidate older than `--since` | out |
//! | `plain-lib` | library, no binary, not CLI | out |
//! | `quoted-desc` | description with quotes, commas, newline, unicode | 0.9.0 |
//! | `openssl-sys` | `links = "openssl"`, offers `vendored` | out (library) |
//! | `needs-ssl` | depends on openssl-sys without vendoring | 1.2.0, risky |
//! | `vendors-ssl` | depends on openssl-sys with `vendored` | 1.0.0, not risky |
//! | `indirect-ssl` | reaches openssl-sys through `http-lib` | 0.5.0, risky |
//! | `http-lib` | library depending on openssl-sys | out |
//! | `ring-like` | `links` to a bundled C library, no vendoring feature | out (library) |
//! | `uses-ring` | depends on `ring-like` | 1.0.0, not risky |
//!
//! With `garbage`, `yanked-top` also gets rows that would win if they parsed (bad date, bad boolean,
//! bad checksum) and `plain-lib` a bad semver and a short row: each must be skipped and counted.
//!
//! With `hostile_names` ([`write_hostile`]), three crates whose names break crates.io's rules
//! ([`HOSTILE_CRATES`]) and a crate `evil-bins` whose newer versions carry unsafe or malformed
//! `bin_names` ([`HOSTILE_BIN_NAMES`]): every such row must be skipped and counted, and `evil-bins`
//! planned at its one clean version, 1.0.0.

use super::tables::{Dependency, Tables, Version};

/// (crate, version, bin names) selected with `--since 2025-01-01`, sorted by name.
pub const SELECTED: &[(&str, &str, &[&str])] = &[
    ("bin-only", "0.3.0", &["bin-only"]),
    ("cli-lib", "2.1.0", &[]),
    ("indirect-ssl", "0.5.0", &["indirect-ssl"]),
    ("multi-bin", "3.0.0", &["tool-a", "tool_b", "ünï"]),
    ("needs-ssl", "1.2.0", &["needs-ssl"]),
    ("pre-only", "0.1.0-beta.2", &["pre"]),
    ("quoted-desc", "0.9.0", &["qd"]),
    ("stable-beats-pre", "1.0.0", &["sbp"]),
    ("uses-ring", "1.0.0", &["uses-ring"]),
    ("vendors-ssl", "1.0.0", &["vendors-ssl"]),
    ("yanked-top", "1.0.0", &["yt"]),
];

/// Fixture crates flagged risky.
pub const RISKY: &[&str] = &["indirect-ssl", "needs-ssl"];

/// Number of fixture crates (rows of crates.csv).
pub const CRATES: u64 = 17;

/// The CLI category's id.
pub const CLI_CATEGORY: u32 = 3;

/// Crate names that break crates.io's rules, with the reason their row is skipped.
pub const HOSTILE_CRATES: &[(&str, &str)] = &[
    ("$(touch x)", "crate name not starting with an ASCII letter"),
    ("pwn/../../x", "crate name with a character other than ASCII letters, digits, - and _"),
    ("a-very-long-crate-name-that-goes-on-and-on-past-the-sixty-four-limit", "crate name longer than 64 characters"),
];

/// `bin_names` values of `evil-bins` 2.x, with the reason their row is skipped.
pub const HOSTILE_BIN_NAMES: &[(&str, &str)] = &[
    (r#"{"../../x"}"#, "bin name with a path separator"),
    (r#"{evil-bins,"$(touch x)"}"#, "bin name with a shell metacharacter, space or control character"),
    (r#"{"open}"#, "malformed bin_names set"),
    ("{..}", "bin name starting with `.` or `-` (`..`, hidden file, option)"),
];

/// The `\x`-hex checksum the generator gives a version id.
pub fn checksum(version_id: u32) -> String {
    use sha2::Digest;
    format!("\\x{}", hex::encode(sha2::Sha256::digest(version_id.to_le_bytes())))
}

/// The checksum as plain hex, as it appears in a plan.
pub fn checksum_hex(version_id: u32) -> String {
    checksum(version_id)[2..].to_string()
}

struct V {
    id: u32,
    num: &'static str,
    at: &'static str,
    yanked: bool,
    bins: &'static [&'static str],
}

const fn v(id: u32, num: &'static str, at: &'static str, yanked: bool, bins: &'static [&'static str]) -> V {
    V { id, num, at, yanked, bins }
}

struct C {
    id: u32,
    name: &'static str,
    description: &'static str,
    cli: bool,
    has_lib: bool,
    links: &'static str,
    features: &'static str,
    versions: &'static [V],
    /// (dependency crate id, features set)
    deps: &'static [(u32, &'static str)],
}

const FIXTURES: &[C] = &[
    C {
        id: 1,
        name: "yanked-top",
        description: "",
        cli: false,
        has_lib: true,
        links: "",
        features: "{}",
        deps: &[],
        versions: &[
            v(101, "1.0.0", "2025-03-01 10:00:00.5+00", false, &["yt"]),
            v(102, "1.1.0", "2025-04-01 10:00:00+00", true, &["yt"]),
        ],
    },
    C {
        id: 2,
        name: "all-yanked",
        description: "",
        cli: false,
        has_lib: true,
        links: "",
        features: "{}",
        deps: &[],
        versions: &[
            v(201, "0.1.0", "2025-03-01 10:00:00+00", true, &["ay"]),
            v(202, "0.2.0", "2025-04-01 10:00:00+00", true, &["ay"]),
        ],
    },
    C {
        id: 3,
        name: "pre-only",
        description: "",
        cli: false,
        has_lib: true,
        links: "",
        features: "{}",
        deps: &[],
        versions: &[
            v(302, "0.1.0-beta.2", "2025-05-01 00:00:00+00", false, &["pre"]),
            v(301, "0.1.0-alpha.1", "2025-04-01 00:00:00+00", false, &["pre"]),
        ],
    },
    C {
        id: 4,
        name: "stable-beats-pre",
        description: "",
        cli: false,
        has_lib: true,
        links: "",
        features: "{}",
        deps: &[],
        versions: &[
            v(402, "2.0.0-rc.1", "2025-06-01 00:00:00+00", false, &["sbp"]),
            v(401, "1.0.0", "2025-02-01 00:00:00+00", false, &["sbp"]),
        ],
    },
    C {
        id: 5,
        name: "bin-only",
        description: "",
        cli: false,
        has_lib: false,
        links: "",
        features: "{}",
        deps: &[],
        versions: &[v(501, "0.3.0", "2025-07-01 00:00:00.123456+00", false, &["bin-only"])],
    },
    C {
        id: 6,
        name: "cli-lib",
        description: "",
        cli: true,
        has_lib: true,
        links: "",
        features: "{}",
        deps: &[],
        versions: &[
            v(601, "2.1.0", "2025-08-01 00:00:00+00", false, &[]),
            v(600, "2.0.0", "2024-08-01 00:00:00+00", false, &[]),
        ],
    },
    C {
        id: 7,
        name: "multi-bin",
        description: "",
        cli: false,
        has_lib: false,
        links: "",
        features: "{}",
        deps: &[],
        versions: &[v(701, "3.0.0", "2025-09-01 00:00:00+00", false, &["tool-a", "tool_b", "ünï"])],
    },
    C {
        id: 8,
        name: "old-tool",
        description: "",
        cli: true,
        has_lib: false,
        links: "",
        features: "{}",
        deps: &[],
        versions: &[v(801, "1.0.0", "2023-05-01 00:00:00+00", false, &["old-tool"])],
    },
    C {
        id: 9,
        name: "plain-lib",
        description: "",
        cli: false,
        has_lib: true,
        links: "",
        features: "{}",
        deps: &[],
        versions: &[v(901, "1.0.0", "2025-05-01 00:00:00+00", false, &[])],
    },
    C {
        id: 10,
        name: "quoted-desc",
        description: "A \"quoted\", comma-laden\ndescription — ünïcödé 🦀",
        cli: false,
        has_lib: true,
        links: "",
        features: "{}",
        deps: &[],
        versions: &[v(1001, "0.9.0", "2025-10-01 00:00:00+00", false, &["qd"])],
    },
    C {
        id: 11,
        name: "openssl-sys",
        description: "FFI bindings to OpenSSL",
        cli: false,
        has_lib: true,
        links: "openssl",
        features: r#"{"vendored":["openssl-src"],"unstable_boringssl":[]}"#,
        deps: &[],
        versions: &[v(1101, "0.9.100", "2025-01-05 00:00:00+00", false, &[])],
    },
    C {
        id: 12,
        name: "needs-ssl",
        description: "",
        cli: false,
        has_lib: false,
        links: "",
        features: "{}",
        deps: &[(11, "{}")],
        versions: &[v(1201, "1.2.0", "2025-03-03 00:00:00+00", false, &["needs-ssl"])],
    },
    C {
        id: 13,
        name: "vendors-ssl",
        description: "",
        cli: false,
        has_lib: false,
        links: "",
        features: "{}",
        deps: &[(11, "{vendored}")],
        versions: &[v(1301, "1.0.0", "2025-03-03 00:00:00+00", false, &["vendors-ssl"])],
    },
    C {
        id: 14,
        name: "indirect-ssl",
        description: "",
        cli: false,
        has_lib: false,
        links: "",
        features: "{}",
        deps: &[(15, "{}")],
        versions: &[v(1401, "0.5.0", "2025-03-03 00:00:00+00", false, &["indirect-ssl"])],
    },
    C {
        id: 15,
        name: "http-lib",
        description: "",
        cli: false,
        has_lib: true,
        links: "",
        features: "{}",
        deps: &[(11, "{}")],
        versions: &[v(1501, "0.2.0", "2025-03-03 00:00:00+00", false, &[])],
    },
    C {
        id: 16,
        name: "ring-like",
        description: "",
        cli: false,
        has_lib: true,
        links: "ring_core_0_17_8_",
        features: r#"{"std":[]}"#,
        deps: &[],
        versions: &[v(1601, "0.17.8", "2025-03-03 00:00:00+00", false, &[])],
    },
    C {
        id: 17,
        name: "uses-ring",
        description: "",
        cli: false,
        has_lib: false,
        links: "",
        features: "{}",
        deps: &[(16, "{std}")],
        versions: &[v(1701, "1.0.0", "2025-03-03 00:00:00+00", false, &["uses-ring"])],
    },
];

/// Write the fixtures (and, with `garbage`, rows that must be skipped).
pub fn write(t: &mut Tables, garbage: bool) -> anyhow::Result<()> {
    t.category(1, "Development tools", "development-tools")?;
    t.category(CLI_CATEGORY, "Command line utilities", "command-line-utilities")?;
    let mut dep_id = 1u64;
    for c in FIXTURES {
        t.krate(c.id, c.name, 1_700_000_000, c.description)?;
        if c.cli {
            t.crate_category(c.id, CLI_CATEGORY)?;
        }
        t.crate_category(c.id, 1)?;
        for ver in c.versions {
            let (sum, bins) = (checksum(ver.id), crate::dump::encoding::set::format(ver.bins));
            let bins = if ver.bins.is_empty() && ver.id % 2 == 0 { String::new() } else { bins };
            t.version(&Version {
                id: ver.id,
                crate_id: c.id,
                num: ver.num,
                created_at: ver.at,
                yanked: if ver.yanked { "t" } else { "f" },
                checksum: &sum,
                links: c.links,
                has_lib: c.has_lib,
                bin_names: &bins,
                features: c.features,
                description: c.description,
            })?;
            for (to, features) in c.deps {
                t.dependency(&Dependency {
                    id: dep_id,
                    version_id: ver.id,
                    crate_id: *to,
                    req: "^0.9",
                    optional: false,
                    features,
                    target: "",
                    kind: 0,
                })?;
                dep_id += 1;
            }
        }
        t.default_version(c.id, c.versions[0].id, c.versions.len() as u32)?;
    }
    if garbage {
        let good = checksum(109);
        let bad_rows: [(u32, &str, &str, &str, &str); 3] = [
            (103, "9.0.0", "not a date", "f", &good),
            (104, "8.0.0", "2025-03-01 00:00:00+00", "maybe", &good),
            (105, "7.0.0", "2025-03-01 00:00:00+00", "f", "\\xnothex"),
        ];
        for (id, num, at, yanked, sum) in bad_rows {
            t.version(&Version {
                id,
                crate_id: 1,
                num,
                created_at: at,
                yanked,
                checksum: sum,
                links: "",
                has_lib: true,
                bin_names: "{yt}",
                features: "{}",
                description: "",
            })?;
        }
        t.version(&Version {
            id: 902,
            crate_id: 9,
            num: "1.0",
            created_at: "2025-05-01 00:00:00+00",
            yanked: "f",
            checksum: &good,
            links: "",
            has_lib: true,
            bin_names: "{pl}",
            features: "{}",
            description: "",
        })?;
        t.raw("versions.csv", &["903", "9", "5.0.0"])?;
    }
    Ok(())
}

/// Write the hostile-name rows (see the module comment).
pub fn write_hostile(t: &mut Tables) -> anyhow::Result<()> {
    let clean = |id: u32, crate_id: u32, num: &'static str, bin_names: &'static str| Version {
        id,
        crate_id,
        num,
        created_at: "2025-06-01 00:00:00+00",
        yanked: "f",
        checksum: "",
        links: "",
        has_lib: false,
        bin_names,
        features: "{}",
        description: "",
    };
    for (i, (name, _)) in HOSTILE_CRATES.iter().enumerate() {
        let id = 50 + i as u32;
        t.krate(id, name, 1_700_000_000, "")?;
        let sum = checksum(id * 100);
        t.version(&Version { checksum: &sum, ..clean(id * 100, id, "1.0.0", "{x}") })?;
    }
    let id = 60;
    t.krate(id, "evil-bins", 1_700_000_000, "")?;
    let sum = checksum(6000);
    t.version(&Version { checksum: &sum, ..clean(6000, id, "1.0.0", "{evil-bins}") })?;
    const NUMS: [&str; 4] = ["2.0.0", "2.1.0", "2.2.0", "2.3.0"];
    for (k, ((bins, _), num)) in HOSTILE_BIN_NAMES.iter().zip(NUMS).enumerate() {
        let vid = 6001 + k as u32;
        let sum = checksum(vid);
        t.version(&Version { checksum: &sum, ..clean(vid, id, num, bins) })?;
    }
    Ok(())
}
