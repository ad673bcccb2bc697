//! Signing a statement into a Sigstore bundle v0.3 (`application/vnd.dev.sigstore.bundle.v0.3+json`)
//! with a DSSE envelope (payloadType `application/vnd.in-toto+json`, signature over the PAE).
//! `key` mode is local and pure apart from reading the key; keyless is in [`super::keyless`].
//!
//! Protocol types and crypto come from the Sigstore project's crates (`sigstore-bundle`,
//! `sigstore-crypto`, `sigstore-types`); this module only chooses what goes in.

use std::path::Path;

use sha2::Digest;
use sigstore_sign::bundle::{BundleV03, VerificationMaterialV03};
use sigstore_sign::crypto::KeyPair;
use sigstore_sign::types::bundle::SignatureContent;
use sigstore_sign::types::{Bundle, DerPublicKey, DsseEnvelope, DsseSignature, KeyId, PayloadBytes};

use super::statement::Statement;
use crate::error::usage;

pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

pub use crate::schema::attest::SignMode;

/// A P-256 signing key read from a PEM file.
pub struct SigningKey {
    pair: KeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(P-256)")
    }
}

impl SigningKey {
    /// Read a PKCS#8 `PRIVATE KEY` PEM (P-256). Errors name the fix.
    pub fn from_pem_file(path: &Path) -> anyhow::Result<SigningKey> {
        let text =
            std::fs::read_to_string(path).map_err(|e| usage(format!("cannot read --key {}: {e}", path.display())))?;
        Self::from_pem(&text).map_err(|e| usage(format!("--key {}: {e}", path.display())))
    }

    pub fn from_pem(text: &str) -> Result<SigningKey, String> {
        let block = pem::parse(text).map_err(|e| format!("not a PEM file ({e})"))?;
        match block.tag() {
            "PRIVATE KEY" => {}
            "EC PRIVATE KEY" => {
                return Err("a SEC1 `EC PRIVATE KEY`: convert it to PKCS#8 with `openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.p8`".into())
            }
            "ENCRYPTED PRIVATE KEY" => {
                return Err("the key is encrypted: decrypt it with `openssl pkcs8 -in KEY -out KEY.p8`".into())
            }
            other => return Err(format!("a `{other}` PEM block, not a `PRIVATE KEY`")),
        }
        let pair = KeyPair::from_pkcs8_der(block.contents())
            .map_err(|e| format!("not a P-256 PKCS#8 key ({e}): make one with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`"))?;
        if pair.algorithm() != sigstore_sign::crypto::KeyAlgorithm::EcdsaP256 {
            return Err(format!("a {:?} key: cratemill signs with ECDSA P-256 only", pair.algorithm()));
        }
        Ok(SigningKey { pair })
    }

    pub fn generate() -> anyhow::Result<SigningKey> {
        Ok(SigningKey { pair: KeyPair::generate_ecdsa_p256()? })
    }

    pub fn public_key(&self) -> anyhow::Result<DerPublicKey> {
        Ok(self.pair.public_key_der()?)
    }

    pub(crate) fn pair(&self) -> &KeyPair {
        &self.pair
    }
}

/// The key hint recorded in a key-mode bundle: hex sha256 of the public key (SPKI DER).
pub fn key_hint(public_key: &DerPublicKey) -> String {
    hex::encode(sha2::Sha256::digest(public_key.as_bytes()))
}

/// Sign the statement's bytes as a DSSE envelope.
pub fn envelope(key: &KeyPair, statement: &Statement) -> anyhow::Result<DsseEnvelope> {
    let payload = statement.to_bytes();
    let pae = sigstore_sign::types::dsse::pae(PAYLOAD_TYPE, &payload);
    let sig = key.sign(&pae)?;
    Ok(DsseEnvelope::new(PAYLOAD_TYPE, PayloadBytes::from_bytes(&payload), DsseSignature::new(sig, KeyId::default())))
}

/// `--sign key`: a v0.3 bundle with a public-key hint and the DSSE envelope (no log entry).
pub fn with_key(key: &SigningKey, statement: &Statement) -> anyhow::Result<Bundle> {
    let envelope = envelope(key.pair(), statement)?;
    let hint = key_hint(&key.public_key()?);
    Ok(BundleV03::new(VerificationMaterialV03::PublicKey { hint }, SignatureContent::DsseEnvelope(envelope))
        .into_bundle())
}
