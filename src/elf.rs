//! ELF inspection: is a file an executable, for which architecture, and is it static? Decided from
//! the ELF itself (no `PT_INTERP`, no `DT_NEEDED`), never from `file` or names. The builder checks
//! what a build produced with it, and `publish` re-derives the same facts from the bytes it pushes.
//! Also the dependency list cargo-auditable embeds ([`dependency_list`]: the `.dep-v0` section,
//! zlib-compressed JSON), decoded within a cap since its bytes are the build's. Pure: works on bytes.

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

/// The section cargo-auditable writes its dependency list into.
pub const DEP_LIST_SECTION: &str = ".dep-v0";

/// The most a dependency list may inflate to: cargo-auditable's own readers stop at 8 MiB, and a
/// list of 400 packages is about 30 KiB of JSON.
pub const DEP_LIST_MAX_JSON: u64 = 8 << 20;

/// The dependency list an executable carries, as far as cratemill records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepListFacts {
    /// Bytes of the `.dep-v0` section (zlib-compressed JSON).
    pub section_bytes: u64,
    /// Entries of its `packages` array: the crate itself and every package of its build graph.
    pub packages: u64,
}

/// The `.dep-v0` section of `bytes`, decoded: `Ok(None)` when the file has no such section (or is
/// not ELF), an error when the section is there and is not a readable list (outside the file,
/// not zlib, over [`DEP_LIST_MAX_JSON`] inflated, or JSON without a `packages` array).
pub fn dependency_list(bytes: &[u8]) -> anyhow::Result<Option<DepListFacts>> {
    if bytes.len() < 4 || &bytes[..4] != b"\x7fELF" {
        return Ok(None);
    }
    let elf = Elf::parse(bytes).map_err(|e| anyhow::anyhow!("malformed ELF: {e}"))?;
    let Some(sh) = elf.section_headers.iter().find(|sh| elf.shdr_strtab.get_at(sh.sh_name) == Some(DEP_LIST_SECTION))
    else {
        return Ok(None);
    };
    let section = usize::try_from(sh.sh_offset)
        .ok()
        .zip(usize::try_from(sh.sh_size).ok())
        .and_then(|(start, len)| bytes.get(start..start.checked_add(len)?))
        .ok_or_else(|| anyhow::anyhow!("{DEP_LIST_SECTION} lies outside the file"))?;
    let mut json = Vec::new();
    let mut capped = std::io::Read::take(flate2::read::ZlibDecoder::new(section), DEP_LIST_MAX_JSON + 1);
    let inflated = std::io::copy(&mut capped, &mut json)
        .map_err(|e| anyhow::anyhow!("{DEP_LIST_SECTION} is not zlib data: {e}"))?;
    if inflated > DEP_LIST_MAX_JSON {
        anyhow::bail!("{DEP_LIST_SECTION} inflates to more than {DEP_LIST_MAX_JSON} bytes");
    }
    #[derive(serde::Deserialize)]
    struct List {
        packages: Vec<serde::de::IgnoredAny>,
    }
    let list: List = serde_json::from_slice(&json)
        .map_err(|e| anyhow::anyhow!("{DEP_LIST_SECTION} is not a dependency list: {e}"))?;
    Ok(Some(DepListFacts { section_bytes: section.len() as u64, packages: list.packages.len() as u64 }))
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

    #[test]
    fn a_file_without_a_dependency_list_has_none() {
        assert_eq!(dependency_list(b"#!/bin/sh\n").unwrap(), None);
        let sh = std::fs::read("/bin/sh").unwrap();
        assert_eq!(dependency_list(&sh).unwrap(), None, "Debian's /bin/sh is not built by cargo auditable");
    }

    /// An ELF file whose one section is `name` holding `data` (a 64-bit little-endian relocatable object).
    fn elf_with_section(name: &str, data: &[u8]) -> Vec<u8> {
        let strtab = [b"\0".as_slice(), name.as_bytes(), b"\0.shstrtab\0"].concat();
        let data_at = 64;
        let strtab_at = data_at + data.len();
        let shoff = strtab_at + strtab.len();
        let mut f = vec![0u8; 64];
        f[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
        f[16..18].copy_from_slice(&1u16.to_le_bytes()); // ET_REL
        f[18..20].copy_from_slice(&62u16.to_le_bytes());
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[40..48].copy_from_slice(&(shoff as u64).to_le_bytes());
        f[52..54].copy_from_slice(&64u16.to_le_bytes());
        f[58..60].copy_from_slice(&64u16.to_le_bytes());
        f[60..62].copy_from_slice(&3u16.to_le_bytes());
        f[62..64].copy_from_slice(&2u16.to_le_bytes());
        f.extend_from_slice(data);
        f.extend_from_slice(&strtab);
        let header = |name: u32, kind: u32, offset: usize, size: usize| {
            let mut h = vec![0u8; 64];
            h[..4].copy_from_slice(&name.to_le_bytes());
            h[4..8].copy_from_slice(&kind.to_le_bytes());
            h[24..32].copy_from_slice(&(offset as u64).to_le_bytes());
            h[32..40].copy_from_slice(&(size as u64).to_le_bytes());
            h
        };
        f.extend(header(0, 0, 0, 0));
        f.extend(header(1, 1, data_at, data.len()));
        f.extend(header(name.len() as u32 + 2, 3, strtab_at, strtab.len()));
        f
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut z, data).unwrap();
        z.finish().unwrap()
    }

    #[test]
    fn the_dependency_list_is_decoded_within_its_cap() {
        let list = br#"{"packages":[{"name":"a","version":"1.0.0","source":"local","root":true},{"name":"b","version":"2.0.0","source":"crates.io"}],"format":1}"#;
        let z = zlib(list);
        let facts = dependency_list(&elf_with_section(DEP_LIST_SECTION, &z)).unwrap().unwrap();
        assert_eq!(facts, DepListFacts { section_bytes: z.len() as u64, packages: 2 });
        assert_eq!(dependency_list(&elf_with_section(".dep-v1", &z)).unwrap(), None, "another section");
        let err = dependency_list(&elf_with_section(DEP_LIST_SECTION, b"not zlib")).unwrap_err();
        assert!(err.to_string().contains("not zlib"), "{err}");
        let err = dependency_list(&elf_with_section(DEP_LIST_SECTION, &zlib(b"{}"))).unwrap_err();
        assert!(err.to_string().contains("not a dependency list"), "{err}");
        // A zlib bomb: 9 MiB of spaces in about 9 KiB stops at the cap.
        let bomb = zlib(&vec![b' '; 9 << 20]);
        assert!(bomb.len() < 64 << 10);
        let err = dependency_list(&elf_with_section(DEP_LIST_SECTION, &bomb)).unwrap_err();
        assert!(err.to_string().contains("inflates to more than"), "{err}");
    }
}
