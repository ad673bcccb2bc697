//! Shared helpers for integration tests: `mod support;` in a test file, then
//! `use support::sparse_registry::{SparseRegistry, TestCrate};`.

pub mod sparse_registry;
