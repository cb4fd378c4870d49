//! Events published by the producer: the checks a body passes before it fans out.

use crate::error::ApiError;
use crate::event_types::{WEBHOOK_TYPES, is_webhook_type};

/// Largest event body accepted (bytes).
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

/// Checks a published body and returns its `type`. The body itself is kept
/// exactly as sent: it is delivered byte for byte, never re-serialized.
pub fn check_event(body: &[u8]) -> Result<String, ApiError> {
    if body.len() > MAX_EVENT_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit_bytes: MAX_EVENT_BYTES,
        });
    }
    if std::str::from_utf8(body).is_err() {
        return Err(ApiError::invalid(
            &["body"],
            "the event must be UTF-8 JSON",
            "json_invalid",
        ));
    }
    let obj = crate::destination::parse_json_object(body)?;
    match obj.get("type") {
        None => Err(ApiError::invalid(
            &["body", "type"],
            "Field required",
            "missing",
        )),
        Some(serde_json::Value::String(t)) if is_webhook_type(t) => Ok(t.clone()),
        Some(_) => Err(ApiError::invalid(
            &["body", "type"],
            format!(
                "Input should be {}",
                WEBHOOK_TYPES.map(|t| format!("'{t}'")).join(", ")
            ),
            "enum",
        )),
    }
}

/// Checks an `Idempotency-Key` header value.
pub fn check_idempotency_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            &["header", "idempotency-key"],
            "1-255 printable ASCII characters",
            "string_pattern_mismatch",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_known_types_only() {
        assert_eq!(
            check_event(br#"{"type":"api-key-expiration-soon","x":1}"#).unwrap(),
            "api-key-expiration-soon"
        );
        for bad in [
            &br#"{"type":"nope"}"#[..],
            br#"{"x":1}"#,
            br#"{"type":3}"#,
            b"[1]",
            b"{",
            b"\xff\xfe",
        ] {
            assert_eq!(
                check_event(bad).unwrap_err().to_http().status,
                422,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn refuses_bodies_over_256_kb() {
        let mut big = br#"{"type":"api-key-expiration-soon","pad":""#.to_vec();
        big.resize(MAX_EVENT_BYTES + 1 - 2, b'a');
        big.extend_from_slice(b"\"}");
        assert_eq!(check_event(&big).unwrap_err().to_http().status, 413);
    }

    #[test]
    fn idempotency_keys() {
        assert!(check_idempotency_key("order-42").is_ok());
        assert!(check_idempotency_key("").is_err());
        assert!(check_idempotency_key("a b").is_err());
        assert!(check_idempotency_key(&"k".repeat(256)).is_err());
    }
}
