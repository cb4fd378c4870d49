//! Webhook secrets: `whsec_` + base64 of random bytes, and the HMAC key states derived from one.

use crate::encoding::{base64_tag, decode_base64};
use crate::sha256::{HmacKey, Sha256};
use core::fmt;

/// Every secret starts with this prefix; the rest is standard, padded base64.
pub const SECRET_PREFIX: &str = "whsec_";
/// Every ed25519 public key starts with this prefix; the rest is the padded base64 of 32 bytes.
pub const PUBLIC_KEY_PREFIX: &str = "whpk_";
/// Every ed25519 signing key starts with this prefix; the rest is the padded base64 of its seed.
pub const SIGNING_KEY_PREFIX: &str = "whsk_";

/// Why a secret was refused. A malformed secret is never used as a shorter or different key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretError {
    /// No secret was given at all.
    NoSecret,
    /// The secret does not start with `whsec_` (nor, for a receiver's key, `whpk_`).
    MissingPrefix,
    /// What follows `whsec_` is not valid (canonical, padded) standard base64.
    InvalidBase64,
    /// What follows `whsec_` decodes to zero bytes.
    EmptyKey,
    /// What follows `whpk_` or `whsk_` is not the valid base64 of 32 bytes.
    InvalidKeyLength,
    /// A `whpk_` public key is not a usable ed25519 key (not on the curve, or of small order).
    InvalidKey,
    /// A `whpk_` public key was given to a build without ed25519 (the npm package's default entry).
    PublicKeyUnsupported,
}

impl SecretError {
    /// A stable, machine-readable name of the failure.
    pub fn code(&self) -> &'static str {
        "malformed_secret"
    }
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SecretError::NoSecret => "no secret given",
            SecretError::MissingPrefix => "secret does not start with whsec_",
            SecretError::InvalidBase64 => "secret is not valid base64 after whsec_",
            SecretError::EmptyKey => "secret holds no key bytes after whsec_",
            SecretError::InvalidKeyLength => "key is not the base64 of 32 bytes after its prefix",
            SecretError::InvalidKey => "public key is not a valid ed25519 key",
            SecretError::PublicKeyUnsupported => {
                "public keys (whpk_) are verified by the ed25519 build"
            }
        })
    }
}

impl std::error::Error for SecretError {}

/// Builds a secret string `"whsec_" + base64(32 bytes)` from caller-supplied random bytes.
///
/// The caller owns the randomness (the worker uses getrandom), which keeps this crate pure.
pub fn secret_from_bytes(bytes: &[u8; 32]) -> String {
    let mut secret = String::with_capacity(SECRET_PREFIX.len() + 44);
    secret.push_str(SECRET_PREFIX);
    secret.extend(base64_tag(bytes).map(char::from));
    secret
}

/// The two HMAC key states of one secret, computed once and cloned for every message.
///
/// An HMAC state already holds the hashed inner and outer key pads, so a clone skips two
/// SHA-256 blocks and the key handling on every signature.
#[derive(Clone, Copy)]
pub(crate) struct SecretKey {
    /// Amigo's key: the whole secret string's UTF-8 bytes, prefix included.
    pub(crate) amigo: HmacKey,
    /// Standard Webhooks' key: the base64-decoded bytes after the prefix.
    pub(crate) standard: HmacKey,
}

impl SecretKey {
    /// Parses one secret without allocating: a decoded key of up to a block (every edgehook
    /// secret: 32 bytes) goes straight into the HMAC key setup; a longer one, which HMAC hashes
    /// first, goes into SHA-256 from its 65th byte on.
    pub(crate) fn parse(secret: &str) -> Result<Self, SecretError> {
        let encoded = secret
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let mut block = [0u8; 64];
        let mut long = Sha256::new();
        let mut len = 0usize;
        decode_base64(encoded.as_bytes(), |byte| {
            if let Some(slot) = block.get_mut(len) {
                *slot = byte;
            } else {
                if len == block.len() {
                    long.update(&block);
                }
                long.update(&[byte]);
            }
            len += 1;
        })
        .ok_or(SecretError::InvalidBase64)?;
        let standard = match len {
            0 => return Err(SecretError::EmptyKey),
            1..=64 => HmacKey::from_block_key(block.get(..len).unwrap_or_default()),
            _ => HmacKey::from_block_key(&long.finalize()),
        };
        Ok(SecretKey {
            amigo: HmacKey::new(secret.as_bytes()),
            standard,
        })
    }
}

/// Parses every secret, newest first, refusing an empty list.
pub(crate) fn parse_all<S: AsRef<str>>(secrets: &[S]) -> Result<Vec<SecretKey>, SecretError> {
    if secrets.is_empty() {
        return Err(SecretError::NoSecret);
    }
    secrets
        .iter()
        .map(|s| SecretKey::parse(s.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secret_round_trips() {
        let bytes: [u8; 32] = core::array::from_fn(|i| (i * 7 + 3) as u8);
        let secret = secret_from_bytes(&bytes);
        assert!(secret.starts_with("whsec_"));
        assert_eq!(secret.len(), 6 + 44);
        let mut decoded = Vec::new();
        decode_base64(&secret.as_bytes()[6..], |b| decoded.push(b)).expect("valid base64");
        assert_eq!(decoded, bytes);
        let key = SecretKey::parse(&secret).expect("valid");
        assert!(key.standard == HmacKey::new(&bytes));
        assert!(key.amigo == HmacKey::new(secret.as_bytes()));
    }

    #[test]
    fn keys_longer_than_a_block_are_hashed_as_hmac_requires() {
        let bytes = [0x42u8; 100];
        let mut secret = String::from(SECRET_PREFIX);
        // 100 bytes of 0x42 in base64 (python3 -c 'import base64; print(base64.b64encode(b"B"*100))').
        secret.push_str(&"QkJC".repeat(33));
        secret.push_str("Qg==");
        let key = SecretKey::parse(&secret).expect("valid");
        assert!(key.standard == HmacKey::new(&bytes));
        // A block's worth is used as it is; one byte more is hashed.
        for (tail, len) in [("Qg==", 64), ("QkI=", 65)] {
            let secret = format!("{SECRET_PREFIX}{}{tail}", "QkJC".repeat(21));
            let key = SecretKey::parse(&secret).expect("valid");
            assert!(key.standard == HmacKey::new(&bytes[..len]), "{len}");
            assert!(key.standard != HmacKey::from_block_key(&bytes[..64]) || len == 64);
        }
    }

    #[test]
    fn malformed_secrets_are_refused() {
        let cases = [
            (
                "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                SecretError::MissingPrefix,
            ),
            (
                "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                SecretError::MissingPrefix,
            ),
            ("whsec_", SecretError::EmptyKey),
            ("whsec_not base64!", SecretError::InvalidBase64),
            // Missing padding and a truncated final group are not silently accepted.
            (
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",
                SecretError::InvalidBase64,
            ),
            ("whsec_QUJD=", SecretError::InvalidBase64),
        ];
        for (secret, expected) in cases {
            assert_eq!(SecretKey::parse(secret).err(), Some(expected), "{secret}");
        }
        assert_eq!(parse_all::<&str>(&[]).err(), Some(SecretError::NoSecret));
    }

    #[test]
    fn every_error_has_the_one_code_and_its_own_message() {
        let messages = [
            (SecretError::NoSecret, "no secret given"),
            (
                SecretError::MissingPrefix,
                "secret does not start with whsec_",
            ),
            (
                SecretError::InvalidBase64,
                "secret is not valid base64 after whsec_",
            ),
            (
                SecretError::EmptyKey,
                "secret holds no key bytes after whsec_",
            ),
        ];
        for (e, message) in messages {
            assert_eq!(e.code(), "malformed_secret");
            assert_eq!(e.to_string(), message);
        }
    }
}
