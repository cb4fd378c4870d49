//! Signing one delivery attempt: the Amigo headers and the Standard Webhooks headers, for every current secret.

use crate::encoding::{Decimal, base64_tag, hex_tag};
use crate::header;
use crate::secret::{SecretError, SecretKey, parse_all};
use crate::sha256::HmacKey;

/// The signature headers of one delivery attempt, in both schemes.
///
/// The worker adds all of them to every attempt, so that Amigo's SDKs and any Standard Webhooks
/// library can verify the same request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    idempotent_key: String,
    amigo_timestamp: String,
    amigo_signature: String,
    webhook_id: String,
    webhook_timestamp: String,
    webhook_signature: String,
}

impl SignedHeaders {
    /// Every header as `(lowercase name, value)`, Amigo's first.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            (header::AMIGO_IDEMPOTENT_KEY, self.idempotent_key.as_str()),
            (header::AMIGO_TIMESTAMP, self.amigo_timestamp.as_str()),
            (header::AMIGO_SIGNATURE, self.amigo_signature.as_str()),
            (header::WEBHOOK_ID, self.webhook_id.as_str()),
            (header::WEBHOOK_TIMESTAMP, self.webhook_timestamp.as_str()),
            (header::WEBHOOK_SIGNATURE, self.webhook_signature.as_str()),
        ]
        .into_iter()
    }

    /// The value of one header by its lowercase name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

/// All signature headers for one attempt.
///
/// `secrets` are the destination's signing secrets, newest first: one normally, two during dual
/// signing after a rotation. `timestamp_ms` is the attempt's Unix time in milliseconds; the
/// Standard Webhooks timestamp is the same instant in whole seconds. Errors when a secret is
/// malformed (not `whsec_` + valid base64) or when no secret is given.
pub fn sign_webhook(
    secrets: &[&str],
    msg_id: &str,
    timestamp_ms: i64,
    body: &[u8],
) -> Result<SignedHeaders, SecretError> {
    let keys = parse_all(secrets)?;
    let mut headers = sign_amigo(&keys, msg_id, timestamp_ms, body);
    let mut signature = String::with_capacity(keys.len() * 48);
    for (i, key) in keys.iter().enumerate() {
        if i > 0 {
            signature.push(' ');
        }
        let tag = standard_tag(
            &key.standard,
            msg_id.as_bytes(),
            headers.webhook_timestamp.as_bytes(),
            body,
        );
        signature.push_str("v1,");
        signature.push_str(ascii(&base64_tag(&tag)));
    }
    headers.webhook_signature = signature;
    Ok(headers)
}

/// All signature headers for one attempt of a destination that signs with ed25519: Amigo's
/// header set with the HMAC `secrets` as [`sign_webhook`] does, and `webhook-signature` with one
/// `v1a` entry per signing key, newest first (two during dual signing after a rotation).
#[cfg(feature = "ed25519")]
pub fn sign_webhook_ed25519(
    secrets: &[&str],
    signing_keys: &[&crate::asymmetric::SigningKey],
    msg_id: &str,
    timestamp_ms: i64,
    body: &[u8],
) -> Result<SignedHeaders, SecretError> {
    if signing_keys.is_empty() {
        return Err(SecretError::NoSecret);
    }
    let keys = parse_all(secrets)?;
    let mut headers = sign_amigo(&keys, msg_id, timestamp_ms, body);
    let entries: Vec<String> = signing_keys
        .iter()
        .map(|key| {
            key.sign(
                msg_id.as_bytes(),
                headers.webhook_timestamp.as_bytes(),
                body,
            )
        })
        .collect();
    headers.webhook_signature = entries.join(" ");
    Ok(headers)
}

/// The headers of one attempt with Amigo's signatures filled in and `webhook-signature` empty.
fn sign_amigo(keys: &[SecretKey], msg_id: &str, timestamp_ms: i64, body: &[u8]) -> SignedHeaders {
    let amigo_ts = Decimal::new(timestamp_ms);
    let standard_ts = Decimal::new(timestamp_ms.div_euclid(1000));
    // Amigo's official SDK compares the whole header with one digest, so outside dual
    // signing the header holds exactly one signature.
    let mut amigo_signature = String::with_capacity(keys.len() * 65);
    for (i, key) in keys.iter().enumerate() {
        if i > 0 {
            amigo_signature.push(',');
        }
        let amigo = hex_tag(&amigo_tag(&key.amigo, amigo_ts.as_bytes(), body));
        amigo_signature.push_str(ascii(&amigo));
    }
    SignedHeaders {
        idempotent_key: msg_id.to_owned(),
        amigo_timestamp: amigo_ts.as_str().to_owned(),
        amigo_signature,
        webhook_id: msg_id.to_owned(),
        webhook_timestamp: standard_ts.as_str().to_owned(),
        webhook_signature: String::new(),
    }
}

/// Amigo: HMAC-SHA256 over `v1:{timestamp_ms}:{body}` keyed with the secret string.
pub(crate) fn amigo_tag(key: &HmacKey, timestamp: &[u8], body: &[u8]) -> [u8; 32] {
    let mut mac = key.mac();
    mac.update(b"v1:");
    mac.update(timestamp);
    mac.update(b":");
    mac.update(body);
    mac.finalize()
}

/// Standard Webhooks: HMAC-SHA256 over `{id}.{timestamp_s}.{body}` keyed with the decoded secret.
pub(crate) fn standard_tag(key: &HmacKey, id: &[u8], timestamp: &[u8], body: &[u8]) -> [u8; 32] {
    let mut mac = key.mac();
    mac.update(id);
    mac.update(b".");
    mac.update(timestamp);
    mac.update(b".");
    mac.update(body);
    mac.finalize()
}

/// Hex and base64 tags are ASCII by construction.
fn ascii(bytes: &[u8]) -> &str {
    core::str::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SECRET_2: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

    #[test]
    fn standard_webhooks_vector_is_reproduced() {
        let signed = sign_webhook(
            &[SECRET],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330_000,
            br#"{"test": 2432232314}"#,
        )
        .expect("valid secret");
        assert_eq!(signed.get("webhook-timestamp"), Some("1614265330"));
        assert_eq!(
            signed.get("webhook-signature"),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn amigo_vector_matches_python_hmac() {
        // python3 -c 'import hmac,hashlib; print(hmac.new(
        //   b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        //   b"v1:1614265330123:{\"test\": 2432232314}", hashlib.sha256).hexdigest())'
        let signed = sign_webhook(
            &[SECRET],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330_123,
            br#"{"test": 2432232314}"#,
        )
        .expect("valid secret");
        assert_eq!(
            signed.get("x-amigo-request-timestamp"),
            Some("1614265330123")
        );
        assert_eq!(signed.get("x-amigo-request-signature"), Some(AMIGO_VECTOR));
        assert_eq!(
            signed.get("x-amigo-idempotent-key"),
            Some("msg_p5jXN8AQM9LWM0D4loKWxJek")
        );
        assert_eq!(
            signed.get("webhook-id"),
            Some("msg_p5jXN8AQM9LWM0D4loKWxJek")
        );
    }

    const AMIGO_VECTOR: &str = "2575962817f7d247c96debda2c18feb5a554d8e7bb8200e17d85554fbde6b4fe";

    #[test]
    fn dual_signing_lists_newest_first() {
        let body = b"{}";
        let both =
            sign_webhook(&[SECRET_2, SECRET], "msg_1", 1_700_000_000_000, body).expect("valid");
        let new_only = sign_webhook(&[SECRET_2], "msg_1", 1_700_000_000_000, body).expect("valid");
        let old_only = sign_webhook(&[SECRET], "msg_1", 1_700_000_000_000, body).expect("valid");
        let field = |h: &SignedHeaders, n: &str| h.get(n).map(str::to_owned).unwrap_or_default();
        assert_eq!(
            field(&both, "x-amigo-request-signature"),
            format!(
                "{},{}",
                field(&new_only, "x-amigo-request-signature"),
                field(&old_only, "x-amigo-request-signature")
            )
        );
        assert_eq!(
            field(&both, "webhook-signature"),
            format!(
                "{} {}",
                field(&new_only, "webhook-signature"),
                field(&old_only, "webhook-signature")
            )
        );
        assert_eq!(both.iter().count(), 6);
    }

    #[test]
    fn one_secret_gives_exactly_one_signature_per_scheme() {
        let signed = sign_webhook(&[SECRET], "msg_1", 1_700_000_000_000, b"{}").expect("valid");
        let amigo = signed.get("x-amigo-request-signature").unwrap_or_default();
        assert_eq!(amigo.len(), 64);
        assert!(
            amigo
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        );
        let standard = signed.get("webhook-signature").unwrap_or_default();
        assert!(standard.starts_with("v1,") && !standard.contains(' '));
    }

    #[test]
    fn timestamps_before_1970_round_down_to_seconds() {
        let signed = sign_webhook(&[SECRET], "m", -1, b"").expect("valid");
        assert_eq!(signed.get("webhook-timestamp"), Some("-1"));
        assert_eq!(signed.get("x-amigo-request-timestamp"), Some("-1"));
    }

    #[test]
    fn malformed_secret_is_an_error() {
        assert_eq!(
            sign_webhook(&[SECRET, "whsec_%%%"], "m", 0, b"").err(),
            Some(SecretError::InvalidBase64)
        );
        assert_eq!(
            sign_webhook(&[], "m", 0, b"").err(),
            Some(SecretError::NoSecret)
        );
    }
}
