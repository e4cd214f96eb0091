//! Connection credentials sealed at rest with `FLOWPILOT_SECRET_KEY` (32 bytes, base64):
//! ChaCha20-Poly1305 from `ring` (already in the tree under rustls, docs/decisions.md), a
//! random nonce per seal, and a versioned text format the store can keep in a TEXT column:
//!
//! `v1.` base64( nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes) )
//!
//! The plaintext is the credentials' JSON with their `kind`, so what opens is the same variant
//! that was sealed. The version is also bound as associated data: a blob cannot be passed off
//! as another version's.

use std::fmt;

use base64::Engine;
use domain::psa::Credentials;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

pub const KEY_ENV: &str = "FLOWPILOT_SECRET_KEY";
const KEY_LEN: usize = 32;
const VERSION: &str = "v1";
const AAD: &[u8] = b"flowpilot psa credentials v1";
const TEXT_AAD: &[u8] = b"flowpilot webhook secret v1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("{KEY_ENV} is not set: FlowPilot refuses to store PSA credentials without a key to encrypt them (generate one with `openssl rand -base64 32`)")]
    MissingKey,
    #[error("{KEY_ENV} is not valid base64")]
    KeyNotBase64,
    #[error("{KEY_ENV} must decode to {KEY_LEN} bytes, not {0}")]
    KeyWrongLength(usize),
    #[error("sealed credentials in an unknown format (expected `{VERSION}.`)")]
    UnknownFormat,
    /// Wrong key, or the stored value was changed: the two cannot be told apart, by design.
    #[error("the credentials could not be decrypted: {KEY_ENV} is not the key they were sealed with, or the stored value was altered")]
    Undecryptable,
    #[error("the decrypted credentials are not readable: {0}")]
    Corrupt(String),
    #[error("the system random generator failed")]
    Random,
}

/// The key credentials are sealed with. `Debug` never shows it.
pub struct SecretKey {
    key: LessSafeKey,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl SecretKey {
    /// The key from `FLOWPILOT_SECRET_KEY`'s value: unset or blank is [`SecretError::MissingKey`].
    pub fn from_env_value(value: Option<&str>) -> Result<SecretKey, SecretError> {
        Self::from_base64(value.unwrap_or(""))
    }

    pub fn from_base64(encoded: &str) -> Result<SecretKey, SecretError> {
        let encoded = encoded.trim();
        if encoded.is_empty() {
            return Err(SecretError::MissingKey);
        }
        // Keys made by `openssl rand -base64` are standard; URL-safe ones are accepted too.
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(encoded))
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(encoded))
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded))
            .map_err(|_| SecretError::KeyNotBase64)?;
        if bytes.len() != KEY_LEN {
            return Err(SecretError::KeyWrongLength(bytes.len()));
        }
        let key = UnboundKey::new(&CHACHA20_POLY1305, &bytes)
            .map_err(|_| SecretError::KeyWrongLength(bytes.len()))?;
        Ok(SecretKey {
            key: LessSafeKey::new(key),
        })
    }

    /// Encrypts `credentials` under a fresh random nonce.
    pub fn seal(&self, credentials: &Credentials) -> Result<String, SecretError> {
        let plaintext =
            serde_json::to_vec(credentials).map_err(|e| SecretError::Corrupt(e.to_string()))?;
        self.seal_bytes(AAD, plaintext)
    }

    pub fn open(&self, sealed: &str) -> Result<Credentials, SecretError> {
        let plaintext = self.open_bytes(AAD, sealed)?;
        serde_json::from_slice(&plaintext).map_err(|e| SecretError::Corrupt(e.to_string()))
    }

    /// Encrypts a webhook's signing secret. Its own associated data: a sealed secret cannot
    /// be passed off as credentials, nor the other way round.
    pub fn seal_text(&self, text: &str) -> Result<String, SecretError> {
        self.seal_bytes(TEXT_AAD, text.as_bytes().to_vec())
    }

    pub fn open_text(&self, sealed: &str) -> Result<String, SecretError> {
        String::from_utf8(self.open_bytes(TEXT_AAD, sealed)?)
            .map_err(|e| SecretError::Corrupt(e.to_string()))
    }

    fn seal_bytes(
        &self,
        aad: &'static [u8],
        mut plaintext: Vec<u8>,
    ) -> Result<String, SecretError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SecretError::Random)?;
        let result = self.key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut plaintext,
        );
        if result.is_err() {
            return Err(SecretError::Corrupt(
                "the credentials are too long to seal".into(),
            ));
        }
        let mut blob = Vec::with_capacity(NONCE_LEN + plaintext.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&plaintext);
        Ok(format!(
            "{VERSION}.{}",
            base64::engine::general_purpose::STANDARD.encode(blob)
        ))
    }

    fn open_bytes(&self, aad: &'static [u8], sealed: &str) -> Result<Vec<u8>, SecretError> {
        let body = sealed
            .trim()
            .strip_prefix(VERSION)
            .and_then(|rest| rest.strip_prefix('.'))
            .ok_or(SecretError::UnknownFormat)?;
        let mut blob = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| SecretError::Undecryptable)?;
        if blob.len() < NONCE_LEN + CHACHA20_POLY1305.tag_len() {
            return Err(SecretError::Undecryptable);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&blob[..NONCE_LEN]);
        let plaintext = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut blob[NONCE_LEN..],
            )
            .map_err(|_| SecretError::Undecryptable)?;
        Ok(plaintext.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::psa::{ConnectWiseCredentials, HaloCredentials};

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 ASCII bytes
    const OTHER: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

    fn credentials() -> Credentials {
        Credentials::ConnectWise(ConnectWiseCredentials {
            company_id: "acme".into(),
            public_key: "pub".into(),
            private_key: "very-private".into(),
            client_id: "client".into(),
        })
    }

    #[test]
    fn round_trip_with_a_fresh_nonce_each_time() {
        let key = SecretKey::from_base64(KEY).unwrap();
        let first = key.seal(&credentials()).unwrap();
        let second = key.seal(&credentials()).unwrap();
        assert!(first.starts_with("v1."));
        assert_ne!(first, second, "the nonce is random per seal");
        assert!(!first.contains("very-private"));
        assert_eq!(key.open(&first).unwrap(), credentials());
        assert_eq!(key.open(&second).unwrap(), credentials());
        let halo = Credentials::Halo(HaloCredentials {
            client_id: "c".into(),
            client_secret: "s".into(),
            tenant: Some("t".into()),
        });
        assert_eq!(key.open(&key.seal(&halo).unwrap()).unwrap(), halo);
    }

    #[test]
    fn the_wrong_key_opens_nothing() {
        let sealed = SecretKey::from_base64(KEY)
            .unwrap()
            .seal(&credentials())
            .unwrap();
        let other = SecretKey::from_base64(OTHER).unwrap();
        assert_eq!(other.open(&sealed), Err(SecretError::Undecryptable));
    }

    #[test]
    fn tampering_is_detected() {
        let key = SecretKey::from_base64(KEY).unwrap();
        let sealed = key.seal(&credentials()).unwrap();
        let mut blob = base64::engine::general_purpose::STANDARD
            .decode(&sealed[3..])
            .unwrap();
        for at in [0, NONCE_LEN + 2, blob.len() - 1] {
            blob[at] ^= 0x01;
            let tampered = format!(
                "v1.{}",
                base64::engine::general_purpose::STANDARD.encode(&blob)
            );
            assert_eq!(
                key.open(&tampered),
                Err(SecretError::Undecryptable),
                "byte {at}"
            );
            blob[at] ^= 0x01;
        }
        assert_eq!(
            key.open(&format!("v2.{}", &sealed[3..])),
            Err(SecretError::UnknownFormat)
        );
        assert_eq!(key.open("v1.AAAA"), Err(SecretError::Undecryptable));
        assert_eq!(key.open("v1.!!"), Err(SecretError::Undecryptable));
    }

    #[test]
    fn a_sealed_text_opens_as_text_only() {
        let key = SecretKey::from_base64(KEY).unwrap();
        let sealed = key.seal_text("whsec-123").unwrap();
        assert!(!sealed.contains("whsec"));
        assert_eq!(key.open_text(&sealed).unwrap(), "whsec-123");
        assert_eq!(key.open(&sealed), Err(SecretError::Undecryptable));
        let credentials = key.seal(&credentials()).unwrap();
        assert_eq!(key.open_text(&credentials), Err(SecretError::Undecryptable));
    }

    #[test]
    fn keys_are_checked_with_clear_errors() {
        assert_eq!(
            SecretKey::from_env_value(None).unwrap_err(),
            SecretError::MissingKey
        );
        assert_eq!(
            SecretKey::from_base64("  ").unwrap_err(),
            SecretError::MissingKey
        );
        assert_eq!(
            SecretKey::from_base64("not base64!").unwrap_err(),
            SecretError::KeyNotBase64
        );
        assert_eq!(
            SecretKey::from_base64("c2hvcnQ=").unwrap_err(),
            SecretError::KeyWrongLength(5)
        );
        let message = SecretError::MissingKey.to_string();
        assert!(message.contains("FLOWPILOT_SECRET_KEY") && message.contains("refuses"));
        let key = SecretKey::from_base64(KEY).unwrap();
        assert_eq!(format!("{key:?}"), "SecretKey(<redacted>)");
    }
}
