//! `cratemill build`: one crate x one target, from crates.io to a package folder of static,
//! smoke-tested executables with licenses, checksums, build log, source archive and result.json.
//!
//! Pipeline (each step its own module): [`output`] (claim the output folder) -> resolve + fetch +
//! verify + unpack (`crates_io`) -> [`prepare`] (with [`harden`]) -> dependency fetch + offline
//! attempts ([`attempts`], [`backend`], [`env`], [`runner`], [`log`], [`classify`]), inside the
//! [`sandbox`] -> [`collect`] + `inspect` + `smoke` (a copy, in the sandbox) -> `license` ->
//! `srcbuild` + `package`. [`job`] runs them in order and always writes result.json; [`multi`] runs
//! one job per `--target`, with alike targets built in one cargo invocation ([`group`]). Chaining into `publish` (`build --publish`) is `crate::commands`' job, so
//! this module never depends on `publish` (which depends on [`inspect`]).

pub mod args;
pub mod attempts;
pub mod backend;
pub mod classify;
pub mod collect;
pub mod emulator;
pub mod env;
pub mod group;
pub mod harden;
pub mod inspect;
pub mod job;
pub mod license;
pub mod limits;
pub mod log;
pub mod manifest;
pub mod multi;
pub mod output;
pub mod prepare;
pub mod runner;
pub mod sandbox;
pub mod scrub;
pub mod smoke;
pub mod srcbuild;
pub mod summary;
pub mod toolchain;

pub use args::BuildArgs;
