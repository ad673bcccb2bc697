//! ELF inspection: is a file an executable, for which architecture, and is it static? Decided from
//! the ELF itself (no `PT_INTERP`, no `DT_NEEDED`), never from `file` or names. The builder checks
//! what a build produced with it, and `publish` re-derives the same facts from the bytes it pushes.
//! Pure: works on bytes.

use goblin::elf::{header, program_header, Elf};

/// What kind of ELF object a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfKind {
    /// `ET_EXEC`: a position-dependent executable.
    Executable,
    /// `ET_DYN` marked as a PIE (`DF_1_PIE`) or with an interpreter: a position-independent executable.
    PieExecutable,
    /// `ET_DYN` without PIE marks: a shared library.
    SharedObject,
    /// Relocatable objects, core files, others.
    Other,
}

/// The facts cratemill records about one ELF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfFacts {
    pub kind: ElfKind,
    pub machine: u16,
    pub bits: u8,
    pub interpreter: Option<String>,
    pub needed: Vec<String>,
}

impl ElfFacts {
    pub fn is_executable(&self) -> bool {
        matches!(self.kind, ElfKind::Executable | ElfKind::PieExecutable)
    }

    /// Static: nothing for the dynamic loader to do.
    pub fn is_static(&self) -> bool {
        self.interpreter.is_none() && self.needed.is_empty()
    }
}

const DF_1_PIE: u64 = 0x0800_0000;

/// Inspect bytes; `Ok(None)` when they are not ELF at all, an error when they claim to be and are broken.
pub fn inspect(bytes: &[u8]) -> anyhow::Result<Option<ElfFacts>> {
    if bytes.len() < 4 || &bytes[..4] != b"\x7fELF" {
        return Ok(None);
    }
    let elf = Elf::parse(bytes).map_err(|e| anyhow::anyhow!("malformed ELF: {e}"))?;
    let has_interp = elf.program_headers.iter().any(|ph| ph.p_type == program_header::PT_INTERP);
    let pie_flag = elf.dynamic.as_ref().is_some_and(|d| d.info.flags_1 & DF_1_PIE != 0);
    let kind = match elf.header.e_type {
        header::ET_EXEC => ElfKind::Executable,
        header::ET_DYN if pie_flag || has_interp => ElfKind::PieExecutable,
        header::ET_DYN => ElfKind::SharedObject,
        _ => ElfKind::Other,
    };
    Ok(Some(ElfFacts {
        kind,
        machine: elf.header.e_machine,
        bits: if elf.is_64 { 64 } else { 32 },
        interpreter: elf.interpreter.map(str::to_string),
        needed: elf.libraries.iter().map(|s| s.to_string()).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_elf_is_none() {
        assert_eq!(inspect(b"#!/bin/sh\necho hi\n").unwrap(), None);
        assert_eq!(inspect(b"").unwrap(), None);
    }

    #[test]
    fn truncated_elf_is_an_error() {
        assert!(inspect(b"\x7fELF\x02\x01\x01").is_err());
    }

    #[test]
    fn system_binary_is_dynamic() {
        // /bin/sh on any glibc distribution is a dynamically linked PIE.
        let bytes = std::fs::read("/bin/sh").unwrap();
        let facts = inspect(&bytes).unwrap().unwrap();
        assert!(facts.is_executable());
        assert!(!facts.is_static());
        assert!(facts.interpreter.unwrap().contains("ld-linux"));
        assert!(facts.needed.iter().any(|n| n.starts_with("libc.so")));
    }
}
