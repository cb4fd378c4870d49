//! Standard Webhooks' asymmetric signatures (`v1a`, ed25519): `whsk_` signing keys, `whpk_` public keys, key pairs from caller-supplied random bytes, signing and verifying.
//!
//! A `v1a` signature is ed25519 over the same content as a `v1` HMAC: `{id}.{timestamp}.{body}`.
//! The content is handed to ed25519 in parts, so neither side copies the body. Public keys are
//! checked once when parsed: a key that is not a point of the curve, or one of small order (which
//! would let anyone forge signatures that it "verifies"), is refused.

use crate::encoding::{B64_SIGNATURE_LEN, base64_signature, base64_tag, decode_base64_exact};
use crate::secret::{PUBLIC_KEY_PREFIX, SIGNING_KEY_PREFIX, SecretError};
use ed25519_dalek::ed25519::signature::{MultipartSigner, MultipartVerifier};

/// The version tag of an ed25519 entry in `webhook-signature`.
pub const V1A: &str = "v1a";

/// Bytes of a public key, of a signing key's seed, and of a signature.
const KEY_BYTES: usize = 32;
const SIGNATURE_BYTES: usize = 64;

/// An ed25519 public key that verifies `v1a` signatures: safe to store and show anywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl PublicKey {
    /// Parses `whpk_` + base64 of 32 bytes, refusing anything that is not a usable key.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        Self::from_bytes(&decode_key(PUBLIC_KEY_PREFIX, text)?)
    }

    /// A key from its 32 raw bytes (the npm package keeps them between calls).
    pub fn from_bytes(bytes: &[u8; KEY_BYTES]) -> Result<Self, SecretError> {
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| SecretError::InvalidKey)?;
        if key.is_weak() {
            return Err(SecretError::InvalidKey);
        }
        Ok(PublicKey(key))
    }

    /// The 32 raw bytes.
    pub fn to_bytes(&self) -> [u8; KEY_BYTES] {
        self.0.to_bytes()
    }

    /// The `whpk_` form, as a destination shows it and receivers configure it.
    pub fn encode(&self) -> String {
        encode_key(PUBLIC_KEY_PREFIX, &self.to_bytes())
    }

    /// Whether `signature` (the base64 after `v1a,`) signs `{id}.{timestamp}.{body}` with this key.
    pub(crate) fn verifies(
        &self,
        id: &[u8],
        timestamp: &[u8],
        body: &[u8],
        signature: &[u8],
    ) -> bool {
        let Some(bytes) = decode_base64_exact::<SIGNATURE_BYTES>(signature) else {
            return false;
        };
        let signature = ed25519_dalek::Signature::from_bytes(&bytes);
        self.0
            .multipart_verify(&[id, b".", timestamp, b".", body], &signature)
            .is_ok()
    }
}

/// An ed25519 signing key: held only by the sender (the destination's object).
#[derive(Clone)]
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// The key pair whose seed is `random`: the caller draws the 32 bytes from its CSPRNG (the
    /// worker uses getrandom), which keeps this crate free of randomness.
    pub fn from_seed(random: &[u8; KEY_BYTES]) -> Self {
        SigningKey(ed25519_dalek::SigningKey::from_bytes(random))
    }

    /// Parses `whsk_` + base64 of the 32-byte seed.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        Ok(Self::from_seed(&decode_key(SIGNING_KEY_PREFIX, text)?))
    }

    /// The `whsk_` form, to be stored by the sender only.
    pub fn encode(&self) -> String {
        encode_key(SIGNING_KEY_PREFIX, &self.0.to_bytes())
    }

    /// The public key receivers verify with.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The `v1a,<base64>` entry for one message.
    pub fn sign(&self, id: &[u8], timestamp: &[u8], body: &[u8]) -> String {
        let signature = self.signature(id, timestamp, body);
        let mut entry = String::with_capacity(V1A.len() + 1 + B64_SIGNATURE_LEN);
        entry.push_str(V1A);
        entry.push(',');
        entry.extend(base64_signature(&signature).map(char::from));
        entry
    }

    /// The raw signature of `{id}.{timestamp}.{body}`.
    pub(crate) fn signature(&self, id: &[u8], timestamp: &[u8], body: &[u8]) -> [u8; 64] {
        // Signing with a well-formed key over in-memory parts cannot fail.
        self.0
            .try_multipart_sign(&[id, b".", timestamp, b".", body])
            .map(|s| s.to_bytes())
            .unwrap_or([0; SIGNATURE_BYTES])
    }
}

/// A new key pair from 32 random bytes: `(whsk_…, whpk_…)`.
pub fn key_pair_from_bytes(random: &[u8; KEY_BYTES]) -> (String, String) {
    let key = SigningKey::from_seed(random);
    (key.encode(), key.public_key().encode())
}

/// The 32 bytes of a key's text form: `prefix` + padded base64.
fn decode_key(prefix: &str, text: &str) -> Result<[u8; KEY_BYTES], SecretError> {
    let encoded = text
        .strip_prefix(prefix)
        .ok_or(SecretError::MissingPrefix)?;
    decode_base64_exact::<KEY_BYTES>(encoded.as_bytes()).ok_or(SecretError::InvalidKeyLength)
}

fn encode_key(prefix: &str, bytes: &[u8; KEY_BYTES]) -> String {
    let mut out = String::with_capacity(prefix.len() + 44);
    out.push_str(prefix);
    out.extend(base64_tag(bytes).map(char::from));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // The Standard Webhooks `v1a` test vector (its reference libraries' tests).
    const SEED: &str = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
    const ID: &[u8] = b"msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: &[u8] = b"1614265330";
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==";

    #[test]
    fn the_standard_webhooks_vector_is_reproduced_and_verifies() {
        let key = SigningKey::parse(SEED).expect("valid");
        assert_eq!(key.sign(ID, TS, BODY), SIGNATURE);
        assert_eq!(key.encode(), SEED);
        let public = PublicKey::parse(&key.public_key().encode()).expect("valid");
        assert!(public.verifies(ID, TS, BODY, &SIGNATURE.as_bytes()[4..]));
    }

    #[test]
    fn any_change_to_the_content_or_signature_fails() {
        let public = SigningKey::parse(SEED).expect("valid").public_key();
        let sig = &SIGNATURE.as_bytes()[4..];
        assert!(!public.verifies(b"msg_p5jXN8AQM9LWM0D4loKWxJeK", TS, BODY, sig));
        assert!(!public.verifies(ID, b"1614265331", BODY, sig));
        assert!(!public.verifies(ID, TS, br#"{"test": 2432232315}"#, sig));
        // The dots between the parts are signed: moving one is a different message.
        assert!(!public.verifies(b"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330", b"", BODY, sig));
        let mut tampered = sig.to_vec();
        tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
        assert!(!public.verifies(ID, TS, BODY, &tampered));
        for bad in [&b""[..], b"tQ9V2XOq", &sig[..sig.len() - 4], b"not base64!"] {
            assert!(!public.verifies(ID, TS, BODY, bad));
        }
        let other = SigningKey::from_seed(&[7; 32]).public_key();
        assert!(!other.verifies(ID, TS, BODY, sig));
    }

    #[test]
    fn a_key_pair_comes_from_the_given_bytes() {
        let (signing, public) = key_pair_from_bytes(&[42; 32]);
        assert_eq!(signing, "whsk_KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=");
        assert!(public.starts_with("whpk_") && public.len() == 5 + 44);
        assert_eq!(key_pair_from_bytes(&[42; 32]).1, public);
        assert_ne!(key_pair_from_bytes(&[43; 32]).1, public);
        let key = SigningKey::parse(&signing).expect("valid");
        assert_eq!(key.public_key().encode(), public);
        let entry = key.sign(b"m", b"1", b"{}");
        let parsed = PublicKey::parse(&public).expect("valid");
        assert!(parsed.verifies(b"m", b"1", b"{}", &entry.as_bytes()[4..]));
        assert_eq!(PublicKey::from_bytes(&parsed.to_bytes()), Ok(parsed));
    }

    #[test]
    fn malformed_and_unusable_keys_are_refused() {
        let cases = [
            (
                "VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=",
                SecretError::MissingPrefix,
            ),
            (
                "whsec_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=",
                SecretError::MissingPrefix,
            ),
            ("whpk_", SecretError::InvalidKeyLength),
            ("whpk_QUJD", SecretError::InvalidKeyLength),
            (
                "whpk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk",
                SecretError::InvalidKeyLength,
            ),
            // The identity point: of small order, so it would verify forged signatures.
            (
                "whpk_AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                SecretError::InvalidKey,
            ),
            // y = 2 is not on the curve.
            (
                "whpk_AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                SecretError::InvalidKey,
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(PublicKey::parse(text).err(), Some(expected), "{text}");
        }
        assert_eq!(
            SigningKey::parse("whpk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=").err(),
            Some(SecretError::MissingPrefix)
        );
        assert_eq!(
            SigningKey::parse("whsk_QUJD").err(),
            Some(SecretError::InvalidKeyLength)
        );
    }
}
