//! Baseline for the matrix benchmark: load the tables `cratemill matrix` reads (crates, versions,
//! categories, crates_categories, dependencies) with dtolnay's `db-dump` crate, keeping nothing but
//! counts. `matrix_dbdump_load <DUMP.tar.gz>`.

fn main() -> db_dump::Result<()> {
    let path = std::env::args().nth(1).expect("usage: matrix_dbdump_load <DUMP.tar.gz>");
    let (mut crates, mut versions, mut categories, mut crates_categories, mut dependencies) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    db_dump::Loader::new()
        .crates(|_| crates += 1)
        .versions(|_| versions += 1)
        .categories(|_| categories += 1)
        .crates_categories(|_| crates_categories += 1)
        .dependencies(|_| dependencies += 1)
        .load(&path)?;
    eprintln!("db-dump: {crates} crates, {versions} versions, {categories} categories, {crates_categories} crates_categories, {dependencies} dependencies");
    Ok(())
}
