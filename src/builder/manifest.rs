//! Reading the crate's normalised `Cargo.toml` for what the index does not carry: the `[package]`
//! metadata (license, description, links for annotations) and whether it declares binaries.

use std::path::Path;

use anyhow::Context;

use crate::schema::result::PackageMeta;

/// Parse `[package]` of a manifest. Unknown keys and odd types are ignored, never fatal.
pub fn read_meta(manifest: &Path) -> anyhow::Result<PackageMeta> {
    let text = std::fs::read_to_string(manifest).with_context(|| format!("reading {}", manifest.display()))?;
    parse_meta(&text).with_context(|| format!("parsing {}", manifest.display()))
}

pub fn parse_meta(text: &str) -> anyhow::Result<PackageMeta> {
    let doc: toml::Table = text.parse()?;
    let package = doc.get("package").and_then(|p| p.as_table()).context("no [package] table")?;
    let s = |key: &str| package.get(key).and_then(|v| v.as_str()).map(str::to_string);
    Ok(PackageMeta {
        description: s("description").map(|d| d.split_whitespace().collect::<Vec<_>>().join(" ")),
        license: s("license"),
        license_file: s("license-file"),
        homepage: s("homepage"),
        repository: s("repository"),
        documentation: s("documentation"),
        rust_version: s("rust-version"),
        edition: s("edition"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_package_fields() {
        let meta = parse_meta("[package]\nname='x'\nversion='1.0.0'\nlicense='MIT'\ndescription='''A\n  tool'''\nrepository='https://e.x/r'\n[dependencies]\n").unwrap();
        assert_eq!(meta.license.as_deref(), Some("MIT"));
        assert_eq!(meta.description.as_deref(), Some("A tool"));
        assert_eq!(meta.repository.as_deref(), Some("https://e.x/r"));
        assert!(parse_meta("[dependencies]\n").is_err());
    }
}

/// Does the crate declare or auto-discover any binary target? `false` means library only.
/// Reads the normalised manifest (`[[bin]]`, `autobins`) and the conventional paths.
pub fn declares_binaries(root: &Path) -> anyhow::Result<bool> {
    let text = std::fs::read_to_string(root.join("Cargo.toml")).context("reading Cargo.toml")?;
    let doc: toml::Table = text.parse().context("parsing Cargo.toml")?;
    if doc.get("bin").and_then(|b| b.as_array()).is_some_and(|a| !a.is_empty()) {
        return Ok(true);
    }
    let autobins = doc.get("package").and_then(|p| p.get("autobins")).and_then(|v| v.as_bool()).unwrap_or(true);
    Ok(autobins && (root.join("src/main.rs").is_file() || root.join("src/bin").is_dir()))
}

#[cfg(test)]
mod bin_tests {
    use super::*;

    #[test]
    fn library_only_crates_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("src/lib.rs"), "").unwrap();
        std::fs::write(root.join("Cargo.toml"), "[package]\nname='x'\nversion='1.0.0'\n").unwrap();
        assert!(!declares_binaries(root).unwrap());
        std::fs::write(root.join("src/main.rs"), "fn main(){}").unwrap();
        assert!(declares_binaries(root).unwrap());
        std::fs::write(root.join("Cargo.toml"), "[package]\nname='x'\nversion='1.0.0'\nautobins=false\n").unwrap();
        assert!(!declares_binaries(root).unwrap());
        std::fs::write(
            root.join("Cargo.toml"),
            "[package]\nname='x'\nversion='1.0.0'\nautobins=false\n[[bin]]\nname='x'\npath='src/main.rs'\n",
        )
        .unwrap();
        assert!(declares_binaries(root).unwrap());
    }
}
