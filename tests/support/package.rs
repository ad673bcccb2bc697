//! Package folders for publish tests, written the way `cratemill build` writes them: files,
//! `result.json` (status built, executables with their digests), a `-srcbuild-` archive, CHECKSUMS.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use cratemill::package::{digest_file, srcbuild_file_name, write_checksums};
use cratemill::schema::result::{
    BuildResult, CompiledPackage, Executable, PackageMeta, PackageRole, Smoke, SmokeStatus, Source, Status, ThirdParty,
};

pub const TARGET: &str = "x86_64-unknown-linux-musl";

/// What to put in a test package.
pub struct Spec {
    pub crate_name: String,
    pub version: String,
    /// Executable name and content.
    pub executables: Vec<(String, Vec<u8>)>,
    pub srcbuild: Option<Vec<u8>>,
}

impl Spec {
    /// A package with one real static x86_64 executable ([`static_elf`]: it runs and exits 0) and a
    /// small source archive.
    pub fn real(crate_name: &str, version: &str) -> Spec {
        let elf = static_elf(0, 0);
        Spec {
            crate_name: crate_name.into(),
            version: version.into(),
            executables: vec![(crate_name.replace('-', "_"), elf)],
            srcbuild: Some(srcbuild_bytes(crate_name)),
        }
    }

    /// A package whose executable is `size` bytes: a static ELF followed by seeded pseudo-random data.
    pub fn sized(crate_name: &str, version: &str, size: usize, seed: u64) -> Spec {
        Spec {
            crate_name: crate_name.into(),
            version: version.into(),
            executables: vec![("tool".into(), static_elf(size, seed))],
            srcbuild: Some(srcbuild_bytes(crate_name)),
        }
    }
}

/// A minimal static x86_64 Linux executable (ELF header, one `PT_LOAD`, `exit(0)`), padded with
/// seeded pseudo-random bytes to `size` bytes (at least the program itself). `publish` inspects the
/// bytes it pushes, so test packages must hold what a static build makes.
pub fn static_elf(size: usize, seed: u64) -> Vec<u8> {
    const CODE: [u8; 9] = [0xb8, 0x3c, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05]; // mov eax,60; xor edi,edi; syscall
    let len = size.max(64 + 56 + CODE.len());
    let mut v = random_bytes(len, seed);
    let base: u64 = 0x40_0000;
    let mut h = Vec::with_capacity(120);
    h.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    h.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    h.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    h.extend_from_slice(&1u32.to_le_bytes());
    h.extend_from_slice(&(base + 120).to_le_bytes()); // entry
    h.extend_from_slice(&64u64.to_le_bytes()); // phoff
    h.extend_from_slice(&0u64.to_le_bytes()); // shoff
    h.extend_from_slice(&0u32.to_le_bytes());
    for x in [64u16, 56, 1, 64, 0, 0] {
        h.extend_from_slice(&x.to_le_bytes());
    }
    h.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    h.extend_from_slice(&5u32.to_le_bytes()); // R+X
    for x in [0u64, base, base, len as u64, len as u64, 0x1000] {
        h.extend_from_slice(&x.to_le_bytes());
    }
    h.extend_from_slice(&CODE);
    v[..h.len()].copy_from_slice(&h);
    v
}

pub fn random_bytes(size: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut v = vec![0u8; size];
    rng.fill(&mut v);
    v
}

fn srcbuild_bytes(crate_name: &str) -> Vec<u8> {
    let mut tar = Vec::new();
    {
        let mut b = tar::Builder::new(&mut tar);
        let body = format!("[package]\nname = \"{crate_name}\"\n");
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_cksum();
        b.append_data(&mut h, "Cargo.toml", body.as_bytes()).unwrap();
        b.finish().unwrap();
    }
    zstd::encode_all(&tar[..], 3).unwrap()
}

/// The third-party notice's path in a package (issue 21's builder writes it).
pub const NOTICE: &str = "licenses/THIRD-PARTY-NOTICES.txt";

/// What a build with license lists adds: the compiled packages and the notice's text.
pub struct Licensed {
    pub packages: Vec<CompiledPackage>,
    pub notice: String,
}

/// A compiled package for [`Licensed`]: a library from crates.io with this license expression.
pub fn compiled(name: &str, version: &str, license: Option<&str>) -> CompiledPackage {
    CompiledPackage {
        name: name.into(),
        version: version.into(),
        role: PackageRole::Library,
        source: "crates.io".into(),
        checksum: Some("d".repeat(64)),
        license: license.map(str::to_string),
        texts: Vec::new(),
        problems: Vec::new(),
    }
}

impl Licensed {
    /// The crate itself (MIT) and `deps`, with a notice naming each.
    pub fn new(spec: &Spec, deps: Vec<CompiledPackage>) -> Licensed {
        let mut packages =
            vec![CompiledPackage { role: PackageRole::Root, ..compiled(&spec.crate_name, &spec.version, Some("MIT")) }];
        packages.extend(deps);
        let mut notice = format!("Third-party notices for {} {}\n", spec.crate_name, spec.version);
        for p in &packages {
            notice.push_str(&format!(
                "\n== {} {} ({}) ==\n",
                p.name,
                p.version,
                p.license.as_deref().unwrap_or("none")
            ));
            notice.push_str("Permission is hereby granted, free of charge, ...\n");
        }
        Licensed { packages, notice }
    }
}

/// Write the package under `root/<crate>-<version>`; returns its folder.
pub fn write(root: &Path, spec: &Spec) -> PathBuf {
    write_with(root, spec, None)
}

/// [`write`], with the license lists of a build that records them (`third_party`, the notice and
/// the machine-readable list in `licenses/`; the SBOM file is left out: the package format does not
/// name it yet).
pub fn write_licensed(root: &Path, spec: &Spec, licensed: &Licensed) -> PathBuf {
    write_with(root, spec, Some(licensed))
}

fn write_with(root: &Path, spec: &Spec, licensed: Option<&Licensed>) -> PathBuf {
    let dir = root.join(format!("{}-{}", spec.crate_name, spec.version));
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::create_dir_all(dir.join("licenses")).unwrap();
    let mut result = BuildResult::new(&spec.crate_name, &spec.version, TARGET, cratemill::schema::Backend::Cargo);
    result.status = Status::Built;
    result.finished_at = "2026-11-23T12:00:00Z".into();
    result.package = Some(PackageMeta {
        description: Some(format!("{} does things", spec.crate_name)),
        license: Some("MIT".into()),
        repository: Some(format!("https://github.com/example/{}", spec.crate_name)),
        ..Default::default()
    });
    result.licenses.declared = Some("MIT".into());
    result.source = Some(Source {
        index_url: "https://index.crates.io/".into(),
        download_url: "https://static.crates.io/x".into(),
        crate_sha256: "c".repeat(64),
        crate_size: 1,
        yanked: false,
    });
    for (name, bytes) in &spec.executables {
        let rel = format!("bin/{name}");
        let path = dir.join(&rel);
        std::fs::write(&path, bytes).unwrap();
        let d = digest_file(&path).unwrap();
        let smoke = Smoke {
            status: SmokeStatus::Passed,
            args: vec!["--version".into()],
            runner: None,
            exit_code: Some(0),
            signal: None,
            first_line: None,
            note: None,
        };
        result.executables.push(Executable {
            name: name.clone(),
            path: rel,
            size: d.size,
            sha256: d.sha256,
            blake3: d.blake3,
            arch: "x86_64".into(),
            is_static: true,
            interpreter: None,
            needed: vec![],
            smoke,
            dependency_list: None,
        });
    }
    std::fs::write(dir.join("licenses/LICENSE-MIT"), "MIT License\n\nPermission is hereby granted...\n").unwrap();
    std::fs::write(dir.join("build.log"), format!("[0.000] building {}\n", spec.crate_name)).unwrap();
    if let Some(l) = licensed {
        std::fs::write(dir.join(NOTICE), &l.notice).unwrap();
        std::fs::write(dir.join("licenses/third-party.json"), serde_json::to_vec_pretty(&l.packages).unwrap()).unwrap();
        result.third_party = Some(ThirdParty {
            packages: l.packages.clone(),
            notice: NOTICE.into(),
            list: "licenses/third-party.json".into(),
            sbom: "sbom.cdx.json".into(),
        });
    }
    if let Some(src) = &spec.srcbuild {
        std::fs::create_dir_all(dir.join("srcbuild")).unwrap();
        std::fs::write(dir.join("srcbuild").join(srcbuild_file_name(&spec.crate_name, &spec.version)), src).unwrap();
    }
    let mut files: Vec<String> = cratemill::package::list_files(&dir).unwrap();
    files.push("result.json".into());
    files.push("CHECKSUMS".into());
    files.sort();
    result.files = files;
    cratemill::schema::write(&dir.join("result.json"), &result).unwrap();
    write_checksums(&dir).unwrap();
    dir
}

/// sha256 (hex) of every file of the package, keyed by package-relative path.
pub fn file_digests(dir: &Path) -> std::collections::BTreeMap<String, String> {
    cratemill::package::list_files(dir)
        .unwrap()
        .into_iter()
        .filter(|p| p != "publish.json")
        .map(|p| {
            let d = digest_file(&dir.join(&p)).unwrap();
            (p, d.sha256)
        })
        .collect()
}
