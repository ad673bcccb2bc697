//! The CSV writers of a synthetic dump: one file per table, the real column names (as the `db-dump`
//! crate 0.10 expects them), optionally one unknown column at the end.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::Stats;
use crate::dump::encoding::timestamp;

type W = csv::Writer<BufWriter<File>>;

/// One CSV writer per table.
pub struct Tables {
    pub stats: Stats,
    extra: bool,
    files: Vec<(&'static str, PathBuf, W)>,
}

const CRATES: &[&str] = &[
    "id",
    "name",
    "updated_at",
    "created_at",
    "description",
    "homepage",
    "documentation",
    "readme",
    "repository",
    "max_upload_size",
    "max_features",
    "trustpub_only",
];
const VERSIONS: &[&str] = &[
    "id",
    "crate_id",
    "num",
    "num_no_build",
    "updated_at",
    "created_at",
    "downloads",
    "features",
    "yanked",
    "license",
    "crate_size",
    "published_by",
    "tar_sha256",
    "links",
    "rust_version",
    "has_lib",
    "bin_names",
    "edition",
    "description",
    "homepage",
    "documentation",
    "repository",
    "categories",
    "keywords",
];
const CATEGORIES: &[&str] = &["id", "category", "slug", "description", "crates_cnt", "created_at", "path"];
const CRATES_CATEGORIES: &[&str] = &["crate_id", "category_id"];
const DEFAULT_VERSIONS: &[&str] = &["crate_id", "version_id", "num_versions"];
const DEPENDENCIES: &[&str] = &[
    "id",
    "version_id",
    "crate_id",
    "req",
    "optional",
    "default_features",
    "features",
    "target",
    "kind",
    "explicit_name",
];

const ALL: &[(&str, &[&str])] = &[
    ("crates.csv", CRATES),
    ("versions.csv", VERSIONS),
    ("categories.csv", CATEGORIES),
    ("crates_categories.csv", CRATES_CATEGORIES),
    ("default_versions.csv", DEFAULT_VERSIONS),
    ("dependencies.csv", DEPENDENCIES),
];

/// A version row, the fields a test may want to control; the rest are filled realistically.
pub struct Version<'a> {
    pub id: u32,
    pub crate_id: u32,
    pub num: &'a str,
    pub created_at: &'a str,
    pub yanked: &'a str,
    pub checksum: &'a str,
    pub links: &'a str,
    pub has_lib: bool,
    pub bin_names: &'a str,
    pub features: &'a str,
    pub description: &'a str,
}

/// A dependency row.
pub struct Dependency<'a> {
    pub id: u64,
    pub version_id: u32,
    pub crate_id: u32,
    pub req: &'a str,
    pub optional: bool,
    pub features: &'a str,
    pub target: &'a str,
    pub kind: u8,
}

impl Tables {
    pub fn create(dir: &Path, extra: bool) -> anyhow::Result<Tables> {
        let mut files = Vec::new();
        for (name, columns) in ALL {
            let path = dir.join(name);
            let mut w = csv::WriterBuilder::new()
                .flexible(true)
                .from_writer(BufWriter::with_capacity(1 << 20, File::create(&path)?));
            let mut header: Vec<&str> = columns.to_vec();
            if extra {
                header.push("shiny_new_column");
            }
            w.write_record(&header)?;
            files.push((*name, path, w));
        }
        Ok(Tables { stats: Stats::default(), extra, files })
    }

    fn row(&mut self, table: &str, fields: &[&str]) -> anyhow::Result<()> {
        let extra = self.extra;
        let w = &mut self.files.iter_mut().find(|(n, _, _)| *n == table).expect("known table").2;
        for f in fields {
            w.write_field(f)?;
        }
        if extra {
            w.write_field("surprise, \"new\" data")?;
        }
        w.write_record(None::<&[u8]>)?;
        Ok(())
    }

    /// A row with arbitrary fields (garbage rows for tests), without the extra column.
    pub fn raw(&mut self, table: &str, fields: &[&str]) -> anyhow::Result<()> {
        let w = &mut self.files.iter_mut().find(|(n, _, _)| *n == table).expect("known table").2;
        w.write_record(fields)?;
        Ok(())
    }

    pub fn category(&mut self, id: u32, name: &str, slug: &str) -> anyhow::Result<()> {
        let id = id.to_string();
        self.row(
            "categories.csv",
            &[&id, name, slug, &format!("Crates for {name}."), "0", "2017-01-17 19:13:05.112025+00", slug],
        )
    }

    pub fn krate(&mut self, id: u32, name: &str, created: i64, description: &str) -> anyhow::Result<()> {
        self.stats.crates += 1;
        let (id, at) = (id.to_string(), timestamp::format(created));
        let repo = format!("https://github.com/example/{name}");
        self.row("crates.csv", &[&id, name, &at, &at, description, "", "", "", &repo, "", "", "f"])
    }

    pub fn crate_category(&mut self, crate_id: u32, category_id: u32) -> anyhow::Result<()> {
        self.row("crates_categories.csv", &[&crate_id.to_string(), &category_id.to_string()])
    }

    pub fn version(&mut self, v: &Version) -> anyhow::Result<()> {
        self.stats.versions += 1;
        let (id, crate_id) = (v.id.to_string(), v.crate_id.to_string());
        let size = (v.id % 97_000 + 3_000).to_string();
        let downloads = (v.id % 12_345).to_string();
        let publisher = (v.id % 50_000 + 1).to_string();
        let has_lib = if v.has_lib { "t" } else { "f" };
        self.row(
            "versions.csv",
            &[
                &id,
                &crate_id,
                v.num,
                v.num,
                v.created_at,
                v.created_at,
                &downloads,
                v.features,
                v.yanked,
                "MIT OR Apache-2.0",
                &size,
                &publisher,
                v.checksum,
                v.links,
                "1.70",
                has_lib,
                v.bin_names,
                "2021",
                v.description,
                "",
                "",
                "https://github.com/example/repository",
                "{}",
                "{cli,tool}",
            ],
        )
    }

    pub fn default_version(&mut self, crate_id: u32, version_id: u32, count: u32) -> anyhow::Result<()> {
        self.row("default_versions.csv", &[&crate_id.to_string(), &version_id.to_string(), &count.to_string()])
    }

    pub fn dependency(&mut self, d: &Dependency) -> anyhow::Result<()> {
        self.stats.dependencies += 1;
        let optional = if d.optional { "t" } else { "f" };
        self.row(
            "dependencies.csv",
            &[
                &d.id.to_string(),
                &d.version_id.to_string(),
                &d.crate_id.to_string(),
                d.req,
                optional,
                "t",
                d.features,
                d.target,
                &d.kind.to_string(),
                "",
            ],
        )
    }

    /// Flush every table; returns (file name, path).
    pub fn finish(self) -> anyhow::Result<Vec<(&'static str, PathBuf)>> {
        let mut out = Vec::new();
        for (name, path, mut w) in self.files {
            w.flush()?;
            out.push((name, path));
        }
        Ok(out)
    }
}
