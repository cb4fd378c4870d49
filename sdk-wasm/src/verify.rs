//! Verifying a received webhook: picks the scheme from the headers, checks the timestamp window, then the signatures.

#[cfg(feature = "ed25519")]
use crate::asymmetric::PublicKey;
use crate::encoding::{B64_TAG_LEN, HEX_TAG_LEN, base64_tag, hex_tag, parse_timestamp};
use crate::header;
use crate::secret::{PUBLIC_KEY_PREFIX, SecretError, SecretKey};
use crate::sha256::HmacKey;
use crate::sign::{amigo_tag, standard_tag};
use core::fmt;

/// How far a webhook's timestamp may be from the receiver's clock, in either direction.
pub const DEFAULT_TOLERANCE_SECONDS: u32 = 5 * 60;

/// The header set a webhook was verified with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `webhook-id`, `webhook-timestamp` (s), `webhook-signature` (`v1,<base64>`).
    StandardWebhooks,
    /// `x-amigo-request-timestamp` (ms), `x-amigo-request-signature` (hex).
    Amigo,
}

/// The check that failed. Each variant is one thing a receiver can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    /// A header the scheme needs is absent (its lowercase name).
    MissingHeader(&'static str),
    /// The timestamp header is not a plain decimal number.
    MalformedTimestamp,
    /// The timestamp is further in the past than the tolerance: a replay or a stale retry.
    TimestampTooOld,
    /// The timestamp is further in the future than the tolerance: a clock skew or a forgery.
    TimestampTooNew,
    /// No signature in the header matches the body with any of the secrets.
    NoMatchingSignature,
    /// One of the receiver's own secrets is malformed.
    MalformedSecret(SecretError),
}

impl VerifyError {
    /// A stable, machine-readable name of the failed check (the npm package's `error.code`).
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::MissingHeader(_) => "missing_header",
            VerifyError::MalformedTimestamp => "malformed_timestamp",
            VerifyError::TimestampTooOld => "timestamp_too_old",
            VerifyError::TimestampTooNew => "timestamp_too_new",
            VerifyError::NoMatchingSignature => "no_matching_signature",
            VerifyError::MalformedSecret(_) => "malformed_secret",
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::MissingHeader(name) => write!(f, "missing header {name}"),
            VerifyError::MalformedTimestamp => {
                f.write_str("timestamp header is not a decimal number")
            }
            VerifyError::TimestampTooOld => f.write_str("timestamp is older than the tolerance"),
            VerifyError::TimestampTooNew => f.write_str("timestamp is newer than the tolerance"),
            VerifyError::NoMatchingSignature => f.write_str("no signature matches the body"),
            VerifyError::MalformedSecret(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for VerifyError {}

impl From<SecretError> for VerifyError {
    fn from(e: SecretError) -> Self {
        VerifyError::MalformedSecret(e)
    }
}

/// Received headers, looked up by lowercase name whatever case they arrived in.
///
/// [`Verifier::verify`] asks only for the names it needs, in a fixed order (the Standard Webhooks
/// names, then Amigo's only when none of those is present), and may ask for one name twice.
pub trait Headers {
    /// The value of the header `name` (given in lowercase), if present.
    fn header(&self, name: &str) -> Option<&str>;
}

impl<K: AsRef<str>, V: AsRef<str>> Headers for [(K, V)] {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

impl<K: AsRef<str>, V: AsRef<str>, const N: usize> Headers for [(K, V); N] {
    fn header(&self, name: &str) -> Option<&str> {
        self.as_slice().header(name)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Headers for Vec<(K, V)> {
    fn header(&self, name: &str) -> Option<&str> {
        self.as_slice().header(name)
    }
}

/// What verified a webhook: the header set, the kind of signature, and which of the keys.
///
/// Deduplicate on `webhook-id` only when `scheme` is [`Scheme::StandardWebhooks`]: Amigo's scheme
/// does not sign the delivery's id, so its `x-amigo-idempotent-key` could have been changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The header set whose signature matched.
    pub scheme: Scheme,
    /// Whether a `v1a` (ed25519) signature matched a `whpk_` public key, rather than an HMAC.
    pub asymmetric: bool,
    /// The position, in the list the verifier was built from, of the key that matched.
    pub key_index: usize,
}

/// One key a receiver holds: a shared secret (both schemes) or, with the `ed25519` feature, a
/// public key (Standard Webhooks `v1a` signatures only).
#[derive(Clone, Copy)]
pub(crate) enum ReceiverKey {
    Secret(SecretKey),
    #[cfg(feature = "ed25519")]
    Public(PublicKey),
}

impl ReceiverKey {
    /// A `whpk_` public key or a `whsec_` secret, told apart by the prefix.
    pub(crate) fn parse(text: &str) -> Result<Self, SecretError> {
        if text.starts_with(PUBLIC_KEY_PREFIX) {
            #[cfg(feature = "ed25519")]
            return PublicKey::parse(text).map(ReceiverKey::Public);
            #[cfg(not(feature = "ed25519"))]
            return Err(SecretError::PublicKeyUnsupported);
        }
        SecretKey::parse(text).map(ReceiverKey::Secret)
    }

    fn standard(&self) -> StandardKey {
        match self {
            ReceiverKey::Secret(key) => StandardKey::Hmac(key.standard),
            #[cfg(feature = "ed25519")]
            ReceiverKey::Public(key) => StandardKey::Public(*key),
        }
    }

    fn amigo(&self) -> Option<HmacKey> {
        match self {
            ReceiverKey::Secret(key) => Some(key.amigo),
            #[cfg(feature = "ed25519")]
            ReceiverKey::Public(_) => None,
        }
    }
}

/// A key as the Standard Webhooks check uses it: an HMAC key state for `v1` entries, or a
/// public key for `v1a` entries.
#[derive(Clone, Copy)]
pub(crate) enum StandardKey {
    Hmac(HmacKey),
    #[cfg(feature = "ed25519")]
    Public(PublicKey),
}

impl StandardKey {
    /// Whether one of the space-separated entries of `signature` is this key's signature.
    fn matches(&self, id: &[u8], timestamp: &[u8], body: &[u8], signature: &[u8]) -> bool {
        let entries = signature.split(|&c| c == b' ');
        match self {
            StandardKey::Hmac(key) => {
                let expected = base64_tag(&standard_tag(key, id, timestamp, body));
                entries
                    .filter_map(|entry| entry.strip_prefix(b"v1,"))
                    .any(|candidate| tag_eq::<B64_TAG_LEN>(candidate, &expected))
            }
            #[cfg(feature = "ed25519")]
            StandardKey::Public(key) => entries
                .filter_map(|entry| entry.strip_prefix(b"v1a,"))
                .any(|candidate| key.verifies(id, timestamp, body, candidate)),
        }
    }

    fn asymmetric(&self) -> bool {
        !matches!(self, StandardKey::Hmac(_))
    }
}

/// Verifies webhooks for one destination: its secrets or public keys (several while the sender
/// rotates) and a timestamp tolerance. Build it once; each secret's HMAC key state and each
/// public key's point are computed here, not per call.
#[derive(Clone)]
pub struct Verifier {
    keys: Vec<ReceiverKey>,
    tolerance_ms: i64,
}

impl Verifier {
    /// A verifier accepting any of `keys` (`whsec_` secrets, and `whpk_` public keys with the
    /// `ed25519` feature), newest first, with the default 5-minute tolerance.
    pub fn new<S: AsRef<str>>(keys: &[S]) -> Result<Self, SecretError> {
        if keys.is_empty() {
            return Err(SecretError::NoSecret);
        }
        Ok(Verifier {
            keys: keys
                .iter()
                .map(|k| ReceiverKey::parse(k.as_ref()))
                .collect::<Result<_, _>>()?,
            tolerance_ms: i64::from(DEFAULT_TOLERANCE_SECONDS) * 1000,
        })
    }

    /// Changes how far, in seconds and in either direction, a timestamp may be from `now`.
    pub fn with_tolerance_seconds(mut self, seconds: u32) -> Self {
        self.tolerance_ms = i64::from(seconds) * 1000;
        self
    }

    /// Verifies a webhook given its headers and raw body, at `now_ms` (Unix milliseconds), and
    /// tells what verified it.
    ///
    /// Standard Webhooks headers are used when present (their signature also covers the message
    /// id); otherwise Amigo's. The clock is a parameter so that this core stays pure: callers pass
    /// their runtime's time, tests pass a fixed one.
    pub fn verify<H: Headers + ?Sized>(
        &self,
        headers: &H,
        body: &[u8],
        now_ms: i64,
    ) -> Result<Verified, VerifyError> {
        let get = |name: &'static str| {
            headers
                .header(name)
                .map(str::as_bytes)
                .ok_or(VerifyError::MissingHeader(name))
        };
        let standard_present = [
            header::WEBHOOK_SIGNATURE,
            header::WEBHOOK_ID,
            header::WEBHOOK_TIMESTAMP,
        ]
        .iter()
        .any(|name| headers.header(name).is_some());
        let amigo_present = || {
            [header::AMIGO_SIGNATURE, header::AMIGO_TIMESTAMP]
                .iter()
                .any(|name| headers.header(name).is_some())
        };

        if standard_present || !amigo_present() {
            let id = get(header::WEBHOOK_ID)?;
            let timestamp = get(header::WEBHOOK_TIMESTAMP)?;
            let signature = get(header::WEBHOOK_SIGNATURE)?;
            self.verify_standard(id, timestamp, signature, body, now_ms)
        } else {
            let timestamp = get(header::AMIGO_TIMESTAMP)?;
            let signature = get(header::AMIGO_SIGNATURE)?;
            self.verify_amigo(timestamp, signature, body, now_ms)
        }
    }

    /// Verifies Standard Webhooks header values (`webhook-id`, `webhook-timestamp` in seconds,
    /// `webhook-signature`). Entries of unknown versions are skipped, not failed.
    pub fn verify_standard(
        &self,
        id: &[u8],
        timestamp: &[u8],
        signature: &[u8],
        body: &[u8],
        now_ms: i64,
    ) -> Result<Verified, VerifyError> {
        let keys = self.keys.iter().map(ReceiverKey::standard);
        verify_standard_with(
            keys,
            self.tolerance_ms,
            id,
            timestamp,
            signature,
            body,
            now_ms,
        )
    }

    /// Verifies Amigo header values (`x-amigo-request-timestamp` in milliseconds,
    /// `x-amigo-request-signature`: comma-separated lowercase hex, newest first). Public keys
    /// take no part: Amigo's scheme is HMAC only.
    pub fn verify_amigo(
        &self,
        timestamp: &[u8],
        signature: &[u8],
        body: &[u8],
        now_ms: i64,
    ) -> Result<Verified, VerifyError> {
        let keys = self.keys.iter().map(ReceiverKey::amigo);
        verify_amigo_with(keys, self.tolerance_ms, timestamp, signature, body, now_ms)
    }
}

/// [`Verifier::verify_standard`] over keys kept elsewhere (the npm package keeps them in
/// JavaScript and passes them in with each call); `key_index` counts them in the order given.
pub(crate) fn verify_standard_with(
    keys: impl IntoIterator<Item = StandardKey>,
    tolerance_ms: i64,
    id: &[u8],
    timestamp: &[u8],
    signature: &[u8],
    body: &[u8],
    now_ms: i64,
) -> Result<Verified, VerifyError> {
    let sent_s = parse_timestamp(timestamp).ok_or(VerifyError::MalformedTimestamp)?;
    check_window(
        tolerance_ms,
        sent_s.saturating_mul(1000),
        now_ms.div_euclid(1000).saturating_mul(1000),
    )?;
    for (key_index, key) in keys.into_iter().enumerate() {
        if key.matches(id, timestamp, body, signature) {
            return Ok(Verified {
                scheme: Scheme::StandardWebhooks,
                asymmetric: key.asymmetric(),
                key_index,
            });
        }
    }
    Err(VerifyError::NoMatchingSignature)
}

/// [`Verifier::verify_amigo`] over Amigo keys kept elsewhere; `None` stands for a key that has no
/// Amigo form (a public key), so that `key_index` counts every key.
pub(crate) fn verify_amigo_with(
    keys: impl IntoIterator<Item = Option<HmacKey>>,
    tolerance_ms: i64,
    timestamp: &[u8],
    signature: &[u8],
    body: &[u8],
    now_ms: i64,
) -> Result<Verified, VerifyError> {
    let sent_ms = parse_timestamp(timestamp).ok_or(VerifyError::MalformedTimestamp)?;
    check_window(tolerance_ms, sent_ms, now_ms)?;
    let matches = |key: &HmacKey| {
        let expected = hex_tag(&amigo_tag(key, timestamp, body));
        signature
            .split(|&c| c == b',')
            .any(|candidate| tag_eq::<HEX_TAG_LEN>(candidate.trim_ascii(), &expected))
    };
    keys.into_iter()
        .position(|key| key.is_some_and(|key| matches(&key)))
        .map(|key_index| Verified {
            scheme: Scheme::Amigo,
            asymmetric: false,
            key_index,
        })
        .ok_or(VerifyError::NoMatchingSignature)
}

fn check_window(tolerance_ms: i64, sent_ms: i64, now_ms: i64) -> Result<(), VerifyError> {
    if now_ms.saturating_sub(sent_ms) > tolerance_ms {
        Err(VerifyError::TimestampTooOld)
    } else if sent_ms.saturating_sub(now_ms) > tolerance_ms {
        Err(VerifyError::TimestampTooNew)
    } else {
        Ok(())
    }
}

/// Compares a received tag with the expected one: length first (not secret), then every byte,
/// without an early exit (`black_box` keeps the optimizer from adding one).
fn tag_eq<const N: usize>(candidate: &[u8], expected: &[u8; N]) -> bool {
    if candidate.len() != N {
        return false;
    }
    let diff = candidate
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| core::hint::black_box(acc | (a ^ b)));
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::sign_webhook;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: &str = "1614265330";
    const BODY: &str = r#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    const NOW_MS: i64 = 1_614_265_330_000;

    fn standard(signature: &str, ts: &str) -> Vec<(&'static str, String)> {
        vec![
            ("webhook-id", ID.to_owned()),
            ("webhook-timestamp", ts.to_owned()),
            ("webhook-signature", signature.to_owned()),
        ]
    }

    fn verifier() -> Verifier {
        Verifier::new(&[SECRET]).expect("valid secret")
    }

    fn by_standard(key_index: usize) -> Verified {
        Verified {
            scheme: Scheme::StandardWebhooks,
            asymmetric: false,
            key_index,
        }
    }

    fn by_amigo(key_index: usize) -> Verified {
        Verified {
            scheme: Scheme::Amigo,
            asymmetric: false,
            key_index,
        }
    }

    #[test]
    fn standard_webhooks_vectors_verify() {
        assert_eq!(
            verifier().verify(&standard(SIG, TS), BODY.as_bytes(), NOW_MS),
            Ok(by_standard(0))
        );
        let second = Verifier::new(&["whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"]).expect("valid");
        let headers = [
            ("webhook-id", "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk"),
            ("webhook-timestamp", "1649367553"),
            (
                "webhook-signature",
                "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
            ),
        ];
        let body = br#"{"email":"test@example.com","username":"test_user"}"#;
        assert_eq!(
            second.verify(&headers, body, 1_649_367_553_000),
            Ok(by_standard(0))
        );
    }

    #[test]
    fn header_names_match_in_any_case() {
        let headers = [
            ("Webhook-Id", ID),
            ("WEBHOOK-TIMESTAMP", TS),
            ("webhook-Signature", SIG),
        ];
        assert!(verifier().verify(&headers, BODY.as_bytes(), NOW_MS).is_ok());
    }

    #[test]
    fn amigo_vector_verifies() {
        // Computed with Python's hmac (see sign.rs).
        let headers = [
            ("X-Amigo-Request-Timestamp", "1614265330123"),
            (
                "X-Amigo-Request-Signature",
                "2575962817f7d247c96debda2c18feb5a554d8e7bb8200e17d85554fbde6b4fe",
            ),
        ];
        assert_eq!(
            verifier().verify(&headers, BODY.as_bytes(), 1_614_265_330_123),
            Ok(by_amigo(0))
        );
        let tampered = [
            headers[0],
            (
                "x-amigo-request-signature",
                "2575962817f7d247c96debda2c18feb5a554d8e7bb8200e17d85554fbde6b4ff",
            ),
        ];
        assert_eq!(
            verifier().verify(&tampered, BODY.as_bytes(), 1_614_265_330_123),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn malformed_signatures_do_not_match() {
        let truncated = &SIG[..SIG.len() - 4];
        let cases = [
            "v1,",
            "v1",
            "",
            " ",
            truncated,
            "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ];
        for sig in cases {
            assert_eq!(
                verifier().verify(&standard(sig, TS), BODY.as_bytes(), NOW_MS),
                Err(VerifyError::NoMatchingSignature),
                "{sig:?}"
            );
        }
    }

    #[test]
    fn wrong_and_unknown_entries_are_skipped_when_one_matches() {
        let mixed = format!(
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,abc v1a,{} {SIG} v1,",
            &SIG[3..]
        );
        assert!(
            verifier()
                .verify(&standard(&mixed, TS), BODY.as_bytes(), NOW_MS)
                .is_ok()
        );
    }

    #[test]
    fn timestamps_outside_tolerance_fail_both_ways() {
        let v = verifier();
        assert_eq!(
            v.verify(&standard(SIG, TS), BODY.as_bytes(), NOW_MS + 301_000),
            Err(VerifyError::TimestampTooOld)
        );
        assert_eq!(
            v.verify(&standard(SIG, TS), BODY.as_bytes(), NOW_MS - 301_000),
            Err(VerifyError::TimestampTooNew)
        );
        assert!(
            v.verify(&standard(SIG, TS), BODY.as_bytes(), NOW_MS + 300_999)
                .is_ok()
        );
        assert!(
            v.verify(&standard(SIG, TS), BODY.as_bytes(), NOW_MS - 300_000)
                .is_ok()
        );
        let strict = verifier().with_tolerance_seconds(10);
        assert_eq!(
            strict.verify(&standard(SIG, TS), BODY.as_bytes(), NOW_MS + 11_000),
            Err(VerifyError::TimestampTooOld)
        );
    }

    #[test]
    fn amigo_timestamps_outside_tolerance_fail_both_ways() {
        let signed = sign_webhook(&[SECRET], ID, NOW_MS, BODY.as_bytes()).expect("valid");
        let headers: Vec<(&str, &str)> = signed
            .iter()
            .filter(|(n, _)| n.starts_with("x-amigo"))
            .collect();
        let v = verifier();
        assert_eq!(
            v.verify(&headers, BODY.as_bytes(), NOW_MS + 301_000),
            Err(VerifyError::TimestampTooOld)
        );
        assert_eq!(
            v.verify(&headers, BODY.as_bytes(), NOW_MS - 301_000),
            Err(VerifyError::TimestampTooNew)
        );
        assert_eq!(
            v.verify(&headers, BODY.as_bytes(), NOW_MS + 300_000),
            Ok(by_amigo(0))
        );
    }

    #[test]
    fn malformed_timestamps_are_named() {
        for ts in ["", "abc", "-1614265330", "1614265330.0", " 1614265330"] {
            assert_eq!(
                verifier().verify(&standard(SIG, ts), BODY.as_bytes(), NOW_MS),
                Err(VerifyError::MalformedTimestamp),
                "{ts:?}"
            );
        }
    }

    #[test]
    fn wrong_secret_and_tampered_body_fail() {
        let other = Verifier::new(&["whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"]).expect("valid");
        assert_eq!(
            other.verify(&standard(SIG, TS), BODY.as_bytes(), NOW_MS),
            Err(VerifyError::NoMatchingSignature)
        );
        assert_eq!(
            verifier().verify(&standard(SIG, TS), br#"{"test": 2432232315}"#, NOW_MS),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn any_of_several_secrets_verifies_and_is_named() {
        let v = Verifier::new(&["whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", SECRET]).expect("valid");
        assert_eq!(
            v.verify(&standard(SIG, TS), BODY.as_bytes(), NOW_MS),
            Ok(by_standard(1))
        );
        let amigo = [
            ("x-amigo-request-timestamp", "1614265330123"),
            ("x-amigo-request-signature", AMIGO_SIG),
        ];
        assert_eq!(
            v.verify(&amigo, BODY.as_bytes(), 1_614_265_330_123),
            Ok(by_amigo(1))
        );
        assert_eq!(
            Verifier::new::<&str>(&[]).err(),
            Some(SecretError::NoSecret)
        );
    }

    const AMIGO_SIG: &str = "2575962817f7d247c96debda2c18feb5a554d8e7bb8200e17d85554fbde6b4fe";

    #[test]
    fn missing_headers_are_named() {
        let no_id = [("webhook-timestamp", TS), ("webhook-signature", SIG)];
        assert_eq!(
            verifier().verify(&no_id, BODY.as_bytes(), NOW_MS),
            Err(VerifyError::MissingHeader("webhook-id"))
        );
        let none: [(&str, &str); 0] = [];
        assert_eq!(
            verifier().verify(&none, BODY.as_bytes(), NOW_MS),
            Err(VerifyError::MissingHeader("webhook-id"))
        );
        let amigo_no_sig = [("x-amigo-request-timestamp", "1614265330123")];
        assert_eq!(
            verifier().verify(&amigo_no_sig, BODY.as_bytes(), NOW_MS),
            Err(VerifyError::MissingHeader("x-amigo-request-signature"))
        );
    }

    #[test]
    fn malformed_receiver_secret_is_an_error() {
        assert_eq!(
            Verifier::new(&["whsec_***"])
                .err()
                .map(VerifyError::from)
                .map(|e| e.code()),
            Some("malformed_secret")
        );
    }

    #[test]
    fn a_chosen_tolerance_admits_what_lies_within_it() {
        let strict = verifier().with_tolerance_seconds(10);
        for now in [NOW_MS + 10_000, NOW_MS - 10_000, NOW_MS + 9_000] {
            assert!(
                strict
                    .verify(&standard(SIG, TS), BODY.as_bytes(), now)
                    .is_ok(),
                "{now}"
            );
        }
        assert_eq!(
            strict.verify(&standard(SIG, TS), BODY.as_bytes(), NOW_MS - 11_000),
            Err(VerifyError::TimestampTooNew)
        );
    }

    #[test]
    fn every_error_says_which_check_failed() {
        let messages = [
            (
                VerifyError::MissingHeader("webhook-id"),
                "missing header webhook-id",
            ),
            (
                VerifyError::MalformedTimestamp,
                "timestamp header is not a decimal number",
            ),
            (
                VerifyError::TimestampTooOld,
                "timestamp is older than the tolerance",
            ),
            (
                VerifyError::TimestampTooNew,
                "timestamp is newer than the tolerance",
            ),
            (
                VerifyError::NoMatchingSignature,
                "no signature matches the body",
            ),
            (
                VerifyError::MalformedSecret(SecretError::EmptyKey),
                "secret holds no key bytes after whsec_",
            ),
        ];
        for (e, message) in messages {
            assert_eq!(e.to_string(), message);
        }
    }
}

#[cfg(all(test, feature = "ed25519"))]
mod asymmetric_tests {
    use super::*;
    use crate::asymmetric::SigningKey;
    use crate::sign::{sign_webhook, sign_webhook_ed25519};

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    // The Standard Webhooks `v1a` vector.
    const PUBLIC_KEY: &str = "whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=";
    const V1A: &str = "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==";
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const NOW_MS: i64 = 1_614_265_330_000;

    fn headers(signature: &str) -> [(&'static str, String); 3] {
        [
            ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek".to_owned()),
            ("webhook-timestamp", "1614265330".to_owned()),
            ("webhook-signature", signature.to_owned()),
        ]
    }

    fn asymmetric(key_index: usize) -> Verified {
        Verified {
            scheme: Scheme::StandardWebhooks,
            asymmetric: true,
            key_index,
        }
    }

    #[test]
    fn the_v1a_vector_verifies_with_its_public_key_and_names_it() {
        let public = SigningKey::parse("whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=")
            .expect("valid")
            .public_key()
            .encode();
        assert_eq!(public, PUBLIC_KEY);
        let v = Verifier::new(&[PUBLIC_KEY]).expect("valid");
        assert_eq!(v.verify(&headers(V1A), BODY, NOW_MS), Ok(asymmetric(0)));
        // Beside a secret and another key, in any order: the index is the key's place in the list.
        let other = SigningKey::from_seed(&[9; 32]).public_key().encode();
        let mixed = Verifier::new(&[SECRET, other.as_str(), PUBLIC_KEY]).expect("valid");
        assert_eq!(mixed.verify(&headers(V1A), BODY, NOW_MS), Ok(asymmetric(2)));
        let both = format!("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= {V1A}");
        assert_eq!(
            mixed.verify(&headers(&both), BODY, NOW_MS),
            Ok(Verified {
                scheme: Scheme::StandardWebhooks,
                asymmetric: false,
                key_index: 0
            })
        );
        let keys_first = Verifier::new(&[PUBLIC_KEY, SECRET]).expect("valid");
        assert_eq!(
            keys_first.verify(&headers(&both), BODY, NOW_MS),
            Ok(asymmetric(0))
        );
    }

    #[test]
    fn a_v1a_signature_fails_on_any_change_and_is_never_read_as_v1() {
        let v = Verifier::new(&[PUBLIC_KEY]).expect("valid");
        let fail = Err(VerifyError::NoMatchingSignature);
        assert_eq!(
            v.verify(&headers(V1A), br#"{"test": 2432232315}"#, NOW_MS),
            fail
        );
        assert_eq!(
            v.verify(&headers(&V1A.replacen("v1a", "v1", 1)), BODY, NOW_MS),
            fail
        );
        assert_eq!(
            v.verify(&headers(&V1A.replacen("v1a", "v2a", 1)), BODY, NOW_MS),
            fail
        );
        assert_eq!(v.verify(&headers("v1a,"), BODY, NOW_MS), fail);
        assert_eq!(
            v.verify(&headers(V1A), BODY, NOW_MS + 301_000),
            Err(VerifyError::TimestampTooOld)
        );
        // A secret does not verify a v1a entry either.
        let secret = Verifier::new(&[SECRET]).expect("valid");
        assert_eq!(secret.verify(&headers(V1A), BODY, NOW_MS), fail);
    }

    #[test]
    fn public_keys_take_no_part_in_amigos_scheme() {
        let signed = sign_webhook(&[SECRET], "msg_1", NOW_MS, BODY).expect("valid");
        let amigo: Vec<(&str, &str)> = signed
            .iter()
            .filter(|(n, _)| n.starts_with("x-amigo-"))
            .collect();
        let only_public = Verifier::new(&[PUBLIC_KEY]).expect("valid");
        assert_eq!(
            only_public.verify(&amigo, BODY, NOW_MS),
            Err(VerifyError::NoMatchingSignature)
        );
        let both = Verifier::new(&[PUBLIC_KEY, SECRET]).expect("valid");
        assert_eq!(
            both.verify(&amigo, BODY, NOW_MS),
            Ok(Verified {
                scheme: Scheme::Amigo,
                asymmetric: false,
                key_index: 1
            })
        );
    }

    #[test]
    fn an_ed25519_destinations_headers_verify_with_each_key_during_dual_signing() {
        let old = SigningKey::from_seed(&[1; 32]);
        let new = SigningKey::from_seed(&[2; 32]);
        let signed =
            sign_webhook_ed25519(&[SECRET], &[&new, &old], "msg_2", NOW_MS, BODY).expect("valid");
        let entries: Vec<&str> = signed
            .get("webhook-signature")
            .unwrap_or_default()
            .split(' ')
            .collect();
        assert_eq!(entries.len(), 2);
        assert!(
            entries
                .iter()
                .all(|e| e.starts_with("v1a,") && e.len() == 4 + 88)
        );
        let standard: Vec<(&str, &str)> = signed
            .iter()
            .filter(|(n, _)| n.starts_with("webhook-"))
            .collect();
        for (key, index) in [(&old, 1), (&new, 0)] {
            let v = Verifier::new(&[key.public_key().encode()]).expect("valid");
            assert_eq!(
                v.verify(&standard, BODY, NOW_MS),
                Ok(asymmetric(0)),
                "{index}"
            );
        }
        // Amigo's header set stays HMAC with the destination's secret.
        assert_eq!(
            signed.get("x-amigo-request-signature"),
            sign_webhook(&[SECRET], "msg_2", NOW_MS, BODY)
                .expect("valid")
                .get("x-amigo-request-signature")
        );
        assert_eq!(
            sign_webhook_ed25519(&[SECRET], &[], "m", 0, b"").err(),
            Some(SecretError::NoSecret)
        );
    }

    #[test]
    fn malformed_public_keys_are_refused() {
        for key in [
            "whpk_",
            "whpk_QUJD",
            "whpk_AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            assert!(Verifier::new(&[key]).is_err(), "{key}");
        }
    }
}

#[cfg(all(test, not(feature = "ed25519")))]
mod without_ed25519 {
    use super::*;

    #[test]
    fn public_keys_are_refused_with_the_reason() {
        assert_eq!(
            Verifier::new(&["whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g="]).err(),
            Some(SecretError::PublicKeyUnsupported)
        );
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod properties {
    use super::*;
    use crate::sign::sign_webhook;
    use proptest::prelude::*;

    fn by(scheme: Scheme) -> Verified {
        Verified {
            scheme,
            asymmetric: false,
            key_index: 0,
        }
    }

    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

    fn signed(body: &[u8], ts_ms: i64) -> Vec<(&'static str, String)> {
        sign_webhook(&[SECRET], "msg_prop", ts_ms, body)
            .expect("valid secret")
            .iter()
            .map(|(n, v)| (n, v.to_owned()))
            .collect()
    }

    fn only(headers: &[(&'static str, String)], prefix: &str) -> Vec<(&'static str, String)> {
        headers
            .iter()
            .filter(|(n, _)| n.starts_with(prefix))
            .cloned()
            .collect()
    }

    proptest! {
        #[test]
        fn sign_then_verify_round_trips(body in proptest::collection::vec(any::<u8>(), 0..2048),
                                        ts_ms in 0i64..4_000_000_000_000) {
            let v = Verifier::new(&[SECRET]).expect("valid");
            let headers = signed(&body, ts_ms);
            prop_assert_eq!(v.verify(&only(&headers, "webhook-"), &body, ts_ms), Ok(by(Scheme::StandardWebhooks)));
            prop_assert_eq!(v.verify(&only(&headers, "x-amigo-"), &body, ts_ms), Ok(by(Scheme::Amigo)));
        }

        #[test]
        fn any_single_byte_change_fails(body in proptest::collection::vec(any::<u8>(), 1..2048),
                                        index in any::<prop::sample::Index>(),
                                        flip in 1u8..=255) {
            let v = Verifier::new(&[SECRET]).expect("valid");
            let ts_ms = 1_700_000_000_000;
            let headers = signed(&body, ts_ms);
            let mut tampered = body.clone();
            let i = index.index(tampered.len());
            tampered[i] ^= flip;
            prop_assert_eq!(v.verify(&only(&headers, "webhook-"), &tampered, ts_ms), Err(VerifyError::NoMatchingSignature));
            prop_assert_eq!(v.verify(&only(&headers, "x-amigo-"), &tampered, ts_ms), Err(VerifyError::NoMatchingSignature));
        }
    }
}
