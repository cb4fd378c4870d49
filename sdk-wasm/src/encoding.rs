//! Small encoders and parsers for the signing hot path: fixed-size outputs on the stack, no `core::fmt`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Length of a base64 (padded) HMAC-SHA256 tag.
pub(crate) const B64_TAG_LEN: usize = 44;
/// Length of a hex HMAC-SHA256 tag.
pub(crate) const HEX_TAG_LEN: usize = 64;
/// Longest timestamp accepted: 18 digits cannot overflow an `i64`.
const MAX_TIMESTAMP_DIGITS: usize = 18;

/// Lowercase hex of a 32-byte tag, as Amigo's scheme sends it.
pub(crate) fn hex_tag(tag: &[u8; 32]) -> [u8; HEX_TAG_LEN] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; HEX_TAG_LEN];
    for (pair, byte) in out.chunks_exact_mut(2).zip(tag) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0f)];
    }
    out
}

/// Padded standard base64 of a 32-byte tag, as Standard Webhooks sends it.
pub(crate) fn base64_tag(tag: &[u8; 32]) -> [u8; B64_TAG_LEN] {
    let mut out = [0u8; B64_TAG_LEN];
    // 32 bytes always encode to exactly 44 characters, so the slice is never too small.
    let written = STANDARD.encode_slice(tag, &mut out).unwrap_or(0);
    debug_assert_eq!(written, B64_TAG_LEN);
    out
}

/// Decimal digits of `value` (which may be negative), right-aligned in a stack buffer.
pub(crate) struct Decimal {
    buf: [u8; 20],
    start: usize,
}

impl Decimal {
    pub(crate) fn new(value: i64) -> Self {
        let mut buf = [0u8; 20];
        let mut start = buf.len();
        let mut rest = value.unsigned_abs();
        loop {
            start -= 1;
            buf[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        if value < 0 {
            start -= 1;
            buf[start] = b'-';
        }
        Decimal { buf, start }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits and '-' were written.
        core::str::from_utf8(self.as_bytes()).unwrap_or("0")
    }
}

/// Parses a timestamp header: ASCII digits only (no sign, no spaces), at most 18 of them.
pub(crate) fn parse_timestamp(text: &[u8]) -> Option<i64> {
    if text.is_empty() || text.len() > MAX_TIMESTAMP_DIGITS {
        return None;
    }
    let mut value: i64 = 0;
    for &c in text {
        if !c.is_ascii_digit() {
            return None;
        }
        value = value * 10 + i64::from(c - b'0');
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase_and_ordered() {
        let mut tag = [0u8; 32];
        tag[0] = 0xab;
        tag[31] = 0x0f;
        let hex = hex_tag(&tag);
        assert_eq!(&hex[..4], b"ab00");
        assert_eq!(&hex[60..], b"000f");
    }

    #[test]
    fn decimal_formats_edges() {
        assert_eq!(Decimal::new(0).as_str(), "0");
        assert_eq!(Decimal::new(1_614_265_330_000).as_str(), "1614265330000");
        assert_eq!(Decimal::new(-42).as_str(), "-42");
        assert_eq!(Decimal::new(i64::MIN).as_str(), "-9223372036854775808");
        assert_eq!(Decimal::new(i64::MAX).as_str(), "9223372036854775807");
    }

    #[test]
    fn timestamps_are_digits_only() {
        assert_eq!(parse_timestamp(b"1614265330"), Some(1_614_265_330));
        assert_eq!(parse_timestamp(b"0"), Some(0));
        for bad in [
            &b""[..],
            b"-1",
            b"+1",
            b" 1",
            b"1 ",
            b"1.5",
            b"1e9",
            b"0x10",
            b"1234567890123456789",
        ] {
            assert_eq!(
                parse_timestamp(bad),
                None,
                "{:?}",
                core::str::from_utf8(bad)
            );
        }
    }
}
