//! OCI: the reference scheme, artifact manifests and their annotations (pure), and the two ways to
//! store them: a registry (HTTP push with retries and resumable chunked uploads) or a local OCI
//! image layout folder. Layers: `reference`, `annotations`, `manifest` are pure; `auth` (the one
//! token exchange, for pull and push scopes), `http` (the one registry client), `upload`, `push`
//! and `pull` (for install and verify) talk to a registry through [`crate::net`] (its timeouts,
//! retry policy and failure text); `layout` writes files.

pub mod annotations;
pub mod auth;
pub mod http;
pub mod layout;
pub mod manifest;
pub mod pull;
pub mod push;
pub mod reference;
pub mod upload;

pub use auth::Credentials;
pub use http::{RegistryClient, Tuning};
pub use manifest::Artifact;
pub use push::Pushed;
pub use reference::{ImageRef, Repository, Scheme};
