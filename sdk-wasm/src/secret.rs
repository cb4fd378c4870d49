//! Webhook secrets: `whsec_` + base64 of random bytes, and the HMAC key states derived from one.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use core::fmt;
use hmac::{Hmac, KeyInit};
use sha2::Sha256;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// Every secret starts with this prefix; the rest is standard, padded base64.
pub const SECRET_PREFIX: &str = "whsec_";

/// Why a secret was refused. A malformed secret is never used as a shorter or different key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretError {
    /// No secret was given at all.
    NoSecret,
    /// The secret does not start with `whsec_`.
    MissingPrefix,
    /// What follows `whsec_` is not valid (canonical, padded) standard base64.
    InvalidBase64,
    /// What follows `whsec_` decodes to zero bytes.
    EmptyKey,
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
    STANDARD.encode_string(bytes, &mut secret);
    secret
}

/// The two HMAC key states of one secret, computed once and cloned for every message.
///
/// An HMAC state already holds the hashed inner and outer key pads, so a clone skips two
/// SHA-256 blocks and the key handling on every signature.
#[derive(Clone)]
pub(crate) struct SecretKey {
    /// Amigo's key: the whole secret string's UTF-8 bytes, prefix included.
    pub(crate) amigo: HmacSha256,
    /// Standard Webhooks' key: the base64-decoded bytes after the prefix.
    pub(crate) standard: HmacSha256,
}

impl SecretKey {
    pub(crate) fn parse(secret: &str) -> Result<Self, SecretError> {
        let encoded = secret
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::InvalidBase64)?;
        if key.is_empty() {
            return Err(SecretError::EmptyKey);
        }
        Ok(SecretKey {
            amigo: hmac_key(secret.as_bytes())?,
            standard: hmac_key(&key)?,
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

fn hmac_key(key: &[u8]) -> Result<HmacSha256, SecretError> {
    // HMAC takes keys of any length; the error branch exists only in the trait's signature.
    <HmacSha256 as KeyInit>::new_from_slice(key).map_err(|_| SecretError::EmptyKey)
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
        let decoded = STANDARD.decode(&secret[6..]).expect("valid base64");
        assert_eq!(decoded, bytes);
        assert!(SecretKey::parse(&secret).is_ok());
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
}
