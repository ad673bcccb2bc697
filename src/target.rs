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

    /// The target of the machine cratemill itself was compiled for.
    pub fn host() -> &'static Target {
        let triple = if cfg!(all(target_arch = "x86_64", target_env = "musl")) {
            "x86_64-unknown-linux-musl"
        } else if cfg!(all(target_arch = "aarch64", target_env = "musl")) {
            "aarch64-unknown-linux-musl"
        } else if cfg!(target_arch = "aarch64") {
            "aarch64-unknown-linux-gnu"
        } else {
            "x86_64-unknown-linux-gnu"
        };
        Target::parse(triple).expect("host triple is in TARGETS")
    }

    /// Can an executable for this target run on the host without emulation?
    pub fn runs_natively_on(&self, host: &Target) -> bool {
        self.elf_machine == host.elf_machine && self.elf_bits == host.elf_bits
    }

    /// RUSTFLAGS for a static executable: only what rustc alone can say.
    ///
    /// musl: the seed's flag set minus its codegen flags (moved to [`Target::profile_env`]).
    /// glibc: `+crt-static` without `link-self-contained=yes` (fails to link: undefined `_start`)
    /// and without `default-linker-libraries=yes` (links, but the static-pie segfaults at start).
    pub fn rustflags(&self) -> Vec<&'static str> {
        let mut flags = vec!["-C", "target-feature=+crt-static"];
        if self.libc == Libc::Musl {
            flags.extend(["-C", "default-linker-libraries=yes", "-C", "link-self-contained=yes"]);
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
    }

    #[test]
    fn rustflags_env_name_is_cargo_spelling() {
        let t = Target::parse("riscv64gc-unknown-linux-musl").unwrap();
        assert_eq!(t.rustflags_env_name(), "CARGO_TARGET_RISCV64GC_UNKNOWN_LINUX_MUSL_RUSTFLAGS");
    }
}
