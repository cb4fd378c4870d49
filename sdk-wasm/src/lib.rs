//! edgehook's one signing and verification core, shared by the worker (which signs) and the npm package (which verifies).
//!
//! Layout:
//! - [`secret`]: the `whsec_` secrets, their parsing into HMAC key states, and their generation.
//! - [`asymmetric`] (feature `ed25519`): Standard Webhooks' `v1a` signatures, `whsk_` signing keys
//!   and `whpk_` public keys, and key pairs from caller-supplied random bytes.
//! - [`sign`]: the headers of one delivery attempt, in both schemes (Amigo and Standard Webhooks).
//! - [`verify`]: checks a received webhook against one or several secrets or public keys, with a
//!   timestamp tolerance, and tells which scheme and key verified it.
//! - `sha256` (private): SHA-256 and HMAC-SHA256 with precomputed key states, allocation-free.
//! - `encoding` (private): hex, base64, decimal and timestamp helpers that need no allocation and
//!   no `core::fmt`.
//! - `bindings` (feature `bindings`, on by default, wasm32 only): the wasm-bindgen exports used by
//!   the npm package's JavaScript wrapper. The worker depends on this crate with
//!   `default-features = false`, so none of them end up in its wasm.
//!
//! Everything outside `bindings` is plain Rust: no clock, no randomness, no JavaScript types, so it
//! is unit-tested on the host and behaves the same on wasm32.

#[cfg(feature = "ed25519")]
pub mod asymmetric;
mod encoding;
pub mod secret;
mod sha256;
pub mod sign;
pub mod verify;

#[cfg(all(feature = "bindings", target_arch = "wasm32"))]
mod bindings;

#[cfg(all(test, feature = "bindings", target_arch = "wasm32"))]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod wasm_tests;

#[cfg(feature = "ed25519")]
pub use asymmetric::{PublicKey, SigningKey, key_pair_from_bytes};
pub use secret::{
    PUBLIC_KEY_PREFIX, SECRET_PREFIX, SIGNING_KEY_PREFIX, SecretError, secret_from_bytes,
};
pub use sign::{SignedHeaders, sign_webhook};
pub use verify::{DEFAULT_TOLERANCE_SECONDS, Headers, Scheme, Verified, Verifier, VerifyError};

/// Header names of both schemes, lowercase, as sent and as looked up (case-insensitively).
pub mod header {
    /// Amigo: the delivery's id, the same on every retry.
    pub const AMIGO_IDEMPOTENT_KEY: &str = "x-amigo-idempotent-key";
    /// Amigo: Unix time of the attempt in milliseconds.
    pub const AMIGO_TIMESTAMP: &str = "x-amigo-request-timestamp";
    /// Amigo: lowercase hex HMAC-SHA256 signatures, comma-separated, newest secret first.
    pub const AMIGO_SIGNATURE: &str = "x-amigo-request-signature";
    /// Standard Webhooks: the message id, part of the signed content.
    pub const WEBHOOK_ID: &str = "webhook-id";
    /// Standard Webhooks: Unix time of the attempt in seconds.
    pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
    /// Standard Webhooks: space-separated `v1,<base64>` signatures.
    pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
}
