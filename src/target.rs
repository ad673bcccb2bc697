//! Rust target triples cratemill builds for, and the static-linking profile of each.
//!
//! A profile is the data a backend needs to build a static executable for a target: the RUSTFLAGS
//! that only rustc can express (crt-static, linker arguments) and the cargo profile settings that
//! replace the seed's codegen flags (`-C lto`, `-C opt-level`, ... in RUSTFLAGS apply to every crate in
//! the graph and make rustc refuse LTO for crates with other output kinds; cargo's profile applies
//! them per crate with the same result on the final binaries). Pure data, no I/O.

use crate::error::usage;

/// The C library a Linux target links against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Libc {
    Gnu,
    Musl,
}

/// Who links the executable: the target's default linker (cargo, cross), or zig (cargo-zigbuild).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linker {
    Default,
    Zig,
}

/// Byte order of the host, for telling `powerpc64` from `powerpc64le`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    Little,
    Big,
}

/// The C library cratemill was compiled against (`target_env`), as a string for [`host_triple`].
fn host_env() -> &'static str {
    if cfg!(target_env = "musl") {
        "musl"
    } else if cfg!(target_env = "gnu") {
        "gnu"
    } else {
        "unknown"
    }
}

/// The triple of a Linux host from its architecture (`std::env::consts::ARCH`), C library
/// (`target_env`), byte order and, for 32-bit ARM, whether it is ARMv7. `None` when cratemill has no
/// profile for it. Pure.
pub fn host_triple(arch: &str, env: &str, endian: Endian, armv7: bool) -> Option<&'static str> {
    let musl = match env {
        "musl" => true,
        "gnu" => false,
        _ => return None,
    };
    let pick = |m: &'static str, g: &'static str| Some(if musl { m } else { g });
    match (arch, endian) {
        ("x86_64", _) => pick("x86_64-unknown-linux-musl", "x86_64-unknown-linux-gnu"),
        ("aarch64", Endian::Little) => pick("aarch64-unknown-linux-musl", "aarch64-unknown-linux-gnu"),
        ("loongarch64", _) => pick("loongarch64-unknown-linux-musl", "loongarch64-unknown-linux-gnu"),
        ("riscv64", _) => pick("riscv64gc-unknown-linux-musl", "riscv64gc-unknown-linux-gnu"),
        ("x86", _) => pick("i686-unknown-linux-musl", "i686-unknown-linux-gnu"),
        ("arm", Endian::Little) if armv7 => pick("armv7-unknown-linux-musleabihf", "armv7-unknown-linux-gnueabihf"),
        ("arm", Endian::Little) if musl => Some("arm-unknown-linux-musleabihf"),
        ("powerpc64", Endian::Little) => pick("powerpc64le-unknown-linux-musl", "powerpc64le-unknown-linux-gnu"),
        ("s390x", _) => pick("s390x-unknown-linux-musl", "s390x-unknown-linux-gnu"),
        _ => None,
    }
}

/// The lint cap of every build: `--cap-lints=warn` (see [`Target::rustflags_for`]).
pub const CAP_LINTS: &str = "--cap-lints=warn";

/// One supported target: its triple and what an ELF built for it looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub triple: &'static str,
    /// The architecture as used in OCI platforms and qemu binaries (`x86_64`, `aarch64`, ...).
    pub arch: &'static str,
    /// `e_machine` of executables built for this target.
    pub elf_machine: u16,
    /// ELF class: 64 or 32 bit.
    pub elf_bits: u8,
    pub libc: Libc,
    /// The qemu-user binary name (without `-static`) that runs this architecture.
    pub qemu: &'static str,
}

// e_machine values from the ELF specification.
const EM_386: u16 = 3;
const EM_ARM: u16 = 40;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;
const EM_RISCV: u16 = 243;
const EM_LOONGARCH: u16 = 258;
const EM_PPC64: u16 = 21;
const EM_S390: u16 = 22;

macro_rules! target {
    ($triple:literal, $arch:literal, $machine:expr, $bits:literal, $libc:ident, $qemu:literal) => {
        Target { triple: $triple, arch: $arch, elf_machine: $machine, elf_bits: $bits, libc: Libc::$libc, qemu: $qemu }
    };
}

/// Every target cratemill knows how to build and inspect. Linux only: the product is Linux executables.
pub const TARGETS: &[Target] = &[
    target!("x86_64-unknown-linux-musl", "x86_64", EM_X86_64, 64, Musl, "qemu-x86_64"),
    target!("aarch64-unknown-linux-musl", "aarch64", EM_AARCH64, 64, Musl, "qemu-aarch64"),
    target!("loongarch64-unknown-linux-musl", "loongarch64", EM_LOONGARCH, 64, Musl, "qemu-loongarch64"),
    target!("riscv64gc-unknown-linux-musl", "riscv64", EM_RISCV, 64, Musl, "qemu-riscv64"),
    target!("i686-unknown-linux-musl", "i686", EM_386, 32, Musl, "qemu-i386"),
    target!("armv7-unknown-linux-musleabihf", "armv7", EM_ARM, 32, Musl, "qemu-arm"),
    target!("arm-unknown-linux-musleabihf", "arm", EM_ARM, 32, Musl, "qemu-arm"),
    target!("powerpc64le-unknown-linux-musl", "ppc64le", EM_PPC64, 64, Musl, "qemu-ppc64le"),
    target!("s390x-unknown-linux-musl", "s390x", EM_S390, 64, Musl, "qemu-s390x"),
    target!("x86_64-unknown-linux-gnu", "x86_64", EM_X86_64, 64, Gnu, "qemu-x86_64"),
    target!("aarch64-unknown-linux-gnu", "aarch64", EM_AARCH64, 64, Gnu, "qemu-aarch64"),
    target!("loongarch64-unknown-linux-gnu", "loongarch64", EM_LOONGARCH, 64, Gnu, "qemu-loongarch64"),
    target!("riscv64gc-unknown-linux-gnu", "riscv64", EM_RISCV, 64, Gnu, "qemu-riscv64"),
    target!("i686-unknown-linux-gnu", "i686", EM_386, 32, Gnu, "qemu-i386"),
    target!("armv7-unknown-linux-gnueabihf", "armv7", EM_ARM, 32, Gnu, "qemu-arm"),
    target!("powerpc64le-unknown-linux-gnu", "ppc64le", EM_PPC64, 64, Gnu, "qemu-ppc64le"),
    target!("s390x-unknown-linux-gnu", "s390x", EM_S390, 64, Gnu, "qemu-s390x"),
];

/// The four targets of a default mirror (the seed's set).
pub const DEFAULT_MIRROR_TARGETS: &[&str] = &[
    "aarch64-unknown-linux-musl",
    "loongarch64-unknown-linux-musl",
    "riscv64gc-unknown-linux-musl",
    "x86_64-unknown-linux-musl",
];

impl Target {
    /// Look a triple up; an unknown or malformed one is a usage error naming it.
    pub fn parse(triple: &str) -> anyhow::Result<&'static Target> {
        let well_formed = !triple.is_empty()
            && triple.len() <= 64
            && triple
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-' || b == b'.')
            && triple.split('-').count() >= 3;
        if !well_formed {
            return Err(usage(format!(
                "`{}` is not a target triple (expected e.g. x86_64-unknown-linux-musl)",
                printable(triple)
            )));
        }
        TARGETS.iter().find(|t| t.triple == triple).ok_or_else(|| {
            let known: Vec<&str> = TARGETS.iter().map(|t| t.triple).collect();
            usage(format!("unsupported target `{triple}`: cratemill builds Linux executables for {}", known.join(", ")))
        })
    }

    /// The target of the machine cratemill itself was compiled for, or an environment error (exit 3)
    /// naming the architecture and C library when cratemill has no profile for them (it never guesses).
    pub fn detect_host() -> anyhow::Result<&'static Target> {
        let endian = if cfg!(target_endian = "little") { Endian::Little } else { Endian::Big };
        let env = std::env::consts::OS.to_string() + "-" + host_env();
        let linux = std::env::consts::OS == "linux";
        linux
            .then(|| host_triple(std::env::consts::ARCH, host_env(), endian, cfg!(target_feature = "v7")))
            .flatten()
            .and_then(|t| Target::parse(t).ok())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "cratemill has no target profile for this machine ({} {env}): run it on a Linux host of one of {}",
                    std::env::consts::ARCH,
                    TARGETS.iter().map(|t| t.triple).collect::<Vec<_>>().join(", ")
                )
            })
    }

    /// [`Target::detect_host`] for callers on a host cratemill supports (tests, and code reached only
    /// after `detect_host` succeeded). Panics with the detection error elsewhere.
    pub fn host() -> &'static Target {
        Target::detect_host().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Can an executable for this target run on the host without emulation?
    pub fn runs_natively_on(&self, host: &Target) -> bool {
        self.elf_machine == host.elf_machine && self.elf_bits == host.elf_bits
    }

    /// RUSTFLAGS for a static executable with the target's default linker (see [`Target::rustflags_for`]).
    pub fn rustflags(&self) -> Vec<&'static str> {
        self.rustflags_for(Linker::Default)
    }

    /// RUSTFLAGS for a static executable: only what rustc alone can say.
    ///
    /// musl: the seed's flag set minus its codegen flags (moved to [`Target::profile_env`]).
    /// glibc: `+crt-static` without `link-self-contained=yes` (fails to link: undefined `_start`)
    /// and without `default-linker-libraries=yes` (links, but the static-pie segfaults at start).
    ///
    /// With zig as the linker (`cargo-zigbuild`) musl uses `link-self-contained=no`: zig brings its own
    /// musl crt objects, and `=yes` makes rustc name `rcrt1.o`/`crt1.o` files that do not exist
    /// in a std built from source (`failed to open object rcrt1.o`).
    ///
    /// Lints are capped at `warn` ([`CAP_LINTS`]), as `cargo install` caps them for a registry
    /// package and crater for all of crates.io: cratemill builds the unpacked crate as a path
    /// package, where a lint the crate denies (`#![deny(warnings)]`) or a newer compiler denies by
    /// default would otherwise fail the build. Dependencies keep cargo's own `--cap-lints allow`
    /// (rustc takes the first `--cap-lints`, and cargo's comes before RUSTFLAGS).
    pub fn rustflags_for(&self, linker: Linker) -> Vec<&'static str> {
        let mut flags = vec![CAP_LINTS, "-C", "target-feature=+crt-static"];
        if self.libc == Libc::Musl {
            let self_contained = match linker {
                Linker::Default => "link-self-contained=yes",
                Linker::Zig => "link-self-contained=no",
            };
            flags.extend(["-C", "default-linker-libraries=yes", "-C", self_contained]);
        }
        flags.extend([
            "-C",
            "prefer-dynamic=no",
            "-C",
            "link-arg=-Wl,-S",
            "-C",
            "link-arg=-Wl,--build-id=none",
            "-C",
            "link-arg=-Wl,--discard-all",
            "-C",
            "link-arg=-Wl,--strip-all",
        ]);
        flags
    }

    /// The seed's codegen flags as cargo profile settings, so cargo applies them per crate.
    pub fn profile_env(&self) -> Vec<(&'static str, &'static str)> {
        vec![
            ("CARGO_PROFILE_RELEASE_LTO", "fat"),
            ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "3"),
            ("CARGO_PROFILE_RELEASE_DEBUG", "false"),
            ("CARGO_PROFILE_RELEASE_STRIP", "symbols"),
            ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1"),
        ]
    }

    /// `CARGO_TARGET_<TRIPLE>_RUSTFLAGS`: applies to the target's artifacts only, never to build
    /// scripts and proc-macros compiled for the host (they cannot be crt-static on glibc).
    pub fn rustflags_env_name(&self) -> String {
        format!("CARGO_TARGET_{}_RUSTFLAGS", self.triple.to_ascii_uppercase().replace(['-', '.'], "_"))
    }
}

/// A user-supplied string made safe to echo in one line.
pub fn printable(s: &str) -> String {
    s.chars().flat_map(|c| c.escape_debug()).take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_mirror_targets_are_known_musl() {
        for t in DEFAULT_MIRROR_TARGETS {
            assert_eq!(Target::parse(t).unwrap().libc, Libc::Musl);
        }
    }

    #[test]
    fn malformed_and_unknown_triples_are_usage_errors() {
        for bad in
            ["", "x86_64", "x86_64-pc-windows-msvc", "x86_64-unknown-linux-gnu; rm -rf /", "X86_64-UNKNOWN-LINUX-GNU"]
        {
            let err = Target::parse(bad).unwrap_err();
            assert_eq!(crate::error::exit_of(&err), crate::error::Exit::Usage, "{bad}");
        }
    }

    #[test]
    fn glibc_profile_avoids_flags_that_break_static_glibc() {
        let gnu = Target::parse("x86_64-unknown-linux-gnu").unwrap().rustflags().join(" ");
        assert!(gnu.contains("+crt-static"));
        assert!(!gnu.contains("link-self-contained"));
        assert!(!gnu.contains("default-linker-libraries"));
        let musl = Target::parse("aarch64-unknown-linux-musl").unwrap().rustflags().join(" ");
        assert!(musl.contains("link-self-contained=yes") && musl.contains("default-linker-libraries=yes"));
        assert!(!musl.contains("lto"), "LTO belongs in the cargo profile, not RUSTFLAGS");
        assert!(
            gnu.starts_with("--cap-lints=warn ") && musl.starts_with("--cap-lints=warn "),
            "lints capped as for cargo install"
        );
    }

    #[test]
    fn host_triples_cover_every_supported_architecture_or_refuse() {
        let le = Endian::Little;
        assert_eq!(host_triple("x86_64", "gnu", le, false), Some("x86_64-unknown-linux-gnu"));
        assert_eq!(host_triple("riscv64", "musl", le, false), Some("riscv64gc-unknown-linux-musl"));
        assert_eq!(host_triple("loongarch64", "gnu", le, false), Some("loongarch64-unknown-linux-gnu"));
        assert_eq!(host_triple("powerpc64", "gnu", le, false), Some("powerpc64le-unknown-linux-gnu"));
        assert_eq!(host_triple("powerpc64", "gnu", Endian::Big, false), None, "big-endian ppc64 has no profile");
        assert_eq!(host_triple("arm", "gnu", le, true), Some("armv7-unknown-linux-gnueabihf"));
        assert_eq!(host_triple("arm", "gnu", le, false), None, "ARMv6 glibc has no profile");
        assert_eq!(host_triple("x86_64", "unknown", le, false), None, "not glibc or musl");
        assert_eq!(host_triple("mips64", "gnu", le, false), None);
        // Every triple it names is a known target whose architecture is the one asked about.
        for arch in ["x86_64", "aarch64", "loongarch64", "riscv64", "x86", "arm", "powerpc64", "s390x"] {
            for env in ["gnu", "musl"] {
                if let Some(t) = host_triple(arch, env, le, true) {
                    let t = Target::parse(t).unwrap();
                    assert_eq!(t.libc == Libc::Musl, env == "musl", "{arch} {env}");
                }
            }
        }
    }

    #[test]
    fn this_host_is_detected() {
        let host = Target::detect_host().unwrap();
        assert_eq!(host.libc == Libc::Musl, cfg!(target_env = "musl"));
        if cfg!(target_arch = "x86_64") {
            assert_eq!(host.elf_machine, EM_X86_64);
        }
    }

    #[test]
    fn zig_links_musl_without_rusts_self_contained_objects() {
        let t = Target::parse("loongarch64-unknown-linux-musl").unwrap();
        let zig = t.rustflags_for(Linker::Zig).join(" ");
        assert!(zig.contains("link-self-contained=no") && !zig.contains("link-self-contained=yes"), "{zig}");
        assert!(zig.contains("+crt-static"));
    }

    #[test]
    fn rustflags_env_name_is_cargo_spelling() {
        let t = Target::parse("riscv64gc-unknown-linux-musl").unwrap();
        assert_eq!(t.rustflags_env_name(), "CARGO_TARGET_RISCV64GC_UNKNOWN_LINUX_MUSL_RUSTFLAGS");
    }
}
