//! The flags of `cratemill install`.

use std::path::PathBuf;

use super::verify::Policy;
use crate::provenance::TrustArgs;
use crate::schema::Layout;

#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// The crate, optionally with an exact version: `ripgrep` or `ripgrep@14.1.1` (default: the newest in the mirror).
    #[arg(value_name = "CRATE[@VERSION]")]
    pub spec: String,
    /// The mirror: the `--registry` its packages were published to (`ghcr.io/<owner>`, `<host>[:<port>]/<path>`).
    #[arg(long, value_name = "REGISTRY/NAMESPACE")]
    pub from: String,
    /// Install only this executable (default: every executable of the package).
    #[arg(long, value_name = "NAME")]
    pub exe: Option<String>,
    /// The target triple; `auto` is the musl target of this machine's architecture.
    #[arg(long, default_value = "auto", value_name = "TRIPLE")]
    pub target: String,
    /// Where to put the executables. Default: ~/.local/bin.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The mirror's built index (`report`'s index.json: a file, an https:// URL, or oci://REF as
    /// pushed by `report --push-index`): resolves the version and the manifest digest.
    #[arg(long, value_name = "FILE|URL")]
    pub index: Option<String>,
    /// Provenance: `auto` verifies the image's attestation when it has one (a failure refuses) and
    /// says when it has none; `require` refuses to install without a verified attestation; `off`
    /// skips it. Whose signature counts: --repo, --identity or --key.
    #[arg(long, value_enum, default_value_t = Policy::Auto)]
    pub verify: Policy,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// How the mirror spreads packages over repositories (as `publish --layout`).
    #[arg(long, value_enum, default_value_t = Layout::PerCrate)]
    pub layout: Layout,
    /// Print the third-party notice published with the package (`licenses/THIRD-PARTY-NOTICES.txt`:
    /// every compiled crate's license) to stdout instead of installing: nothing is written. The
    /// image is resolved and checked (digests, --verify) as for an install.
    #[arg(long, conflicts_with_all = ["exe", "dir"])]
    pub licenses: bool,
    /// Talk plain HTTP to the registry (a loopback or test registry).
    #[arg(long)]
    pub insecure_http: bool,
}
