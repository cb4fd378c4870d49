//! Small encoders and parsers for the signing hot path: fixed-size outputs on the stack, no `core::fmt`, no allocation.

const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

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

/// Padded standard base64 of a 32-byte tag (or secret, or public key), as Standard Webhooks sends it.
pub(crate) fn base64_tag(tag: &[u8; 32]) -> [u8; B64_TAG_LEN] {
    let mut out = [b'='; B64_TAG_LEN];
    encode_base64(tag, &mut out);
    out
}

/// Length of a base64 (padded) ed25519 signature.
#[cfg(feature = "ed25519")]
pub(crate) const B64_SIGNATURE_LEN: usize = 88;

/// Padded standard base64 of a 64-byte ed25519 signature, as a `v1a` entry carries it.
#[cfg(feature = "ed25519")]
pub(crate) fn base64_signature(signature: &[u8; 64]) -> [u8; B64_SIGNATURE_LEN] {
    let mut out = [b'='; B64_SIGNATURE_LEN];
    encode_base64(signature, &mut out);
    out
}

/// Writes the base64 of `bytes` into `out`, which is `4 * ceil(len / 3)` bytes of `'='`.
#[inline(always)]
fn encode_base64(bytes: &[u8], out: &mut [u8]) {
    for (chars, bytes) in out.chunks_mut(4).zip(bytes.chunks(3)) {
        let group = bytes
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        // A group of n bytes gives n + 1 characters; the rest stay '='.
        for (i, c) in chars.iter_mut().take(bytes.len() + 1).enumerate() {
            *c = BASE64_ALPHABET[((group >> (18 - 6 * i)) & 63) as usize];
        }
    }
}

/// Value of one base64 character, or `None` for anything outside the standard alphabet.
fn base64_value(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Decodes strict standard base64 (padded, canonical: unused bits of the last character must be
/// zero), handing each decoded byte to `out`. Returns `None`, having possibly handed out a
/// prefix, when the text is not valid; callers then discard what they received.
pub(crate) fn decode_base64(text: &[u8], mut out: impl FnMut(u8)) -> Option<()> {
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let groups = text.len() / 4;
    for (n, chars) in text.chunks_exact(4).enumerate() {
        let last = n + 1 == groups;
        let padding = if last {
            chars.iter().rev().take_while(|&&c| c == b'=').count()
        } else {
            0
        };
        if padding > 2 {
            return None;
        }
        let mut group = 0u32;
        for &c in chars.iter().take(4 - padding) {
            group = group << 6 | base64_value(c)?;
        }
        group <<= 6 * padding as u32;
        // One '=' leaves 2 bytes (the low 8 bits unused), two leave 1 (the low 16 unused).
        let unused = (1u32 << (8 * padding as u32)) - 1;
        if group & unused != 0 {
            return None;
        }
        for i in 0..3 - padding {
            out((group >> (16 - 8 * i)) as u8);
        }
    }
    Some(())
}

/// Decodes strict base64 that must hold exactly `N` bytes (a key or a signature).
#[cfg(feature = "ed25519")]
pub(crate) fn decode_base64_exact<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    let mut len = 0usize;
    decode_base64(text, |byte| {
        if let Some(slot) = out.get_mut(len) {
            *slot = byte;
        }
        len += 1;
    })?;
    (len == N).then_some(out)
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
        // At most 19 digits and a sign: `start` never drops below zero, so the `get_mut`s are
        // always `Some` (they keep panicking code out of the wasm).
        loop {
            start -= 1;
            if let Some(d) = buf.get_mut(start) {
                *d = b'0' + (rest % 10) as u8;
            }
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        if value < 0 {
            start -= 1;
            if let Some(d) = buf.get_mut(start) {
                *d = b'-';
            }
        }
        Decimal { buf, start }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
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
    fn base64_matches_known_encodings() {
        let tag: [u8; 32] = core::array::from_fn(|i| (i * 37 + 11) as u8);
        let encoded = base64_tag(&tag);
        assert_eq!(
            &encoded[..],
            b"CzBVep/E6Q4zWH2ix+wRNluApcrvFDleg6jN8hc8YYY="
        );
        let mut decoded = Vec::new();
        assert_eq!(decode_base64(&encoded, |b| decoded.push(b)), Some(()));
        assert_eq!(decoded, tag);
    }

    #[test]
    fn base64_decode_is_strict() {
        let decode = |text: &str| {
            let mut out = Vec::new();
            decode_base64(text.as_bytes(), |b| out.push(b)).map(|()| out)
        };
        assert_eq!(decode(""), Some(vec![]));
        assert_eq!(decode("QQ=="), Some(b"A".to_vec()));
        assert_eq!(decode("QUI="), Some(b"AB".to_vec()));
        assert_eq!(decode("QUJD"), Some(b"ABC".to_vec()));
        assert_eq!(decode("QUJDRA=="), Some(b"ABCD".to_vec()));
        for bad in [
            "QQ", "QUI", "QUJD=", "Q===", "====", "QR==", "QUJ=", "QQ==QUJD", "QU=D", "QUJ-",
            "QUJ_", "QUJ ", "QUJ\n",
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
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

    #[test]
    fn eighteen_digits_is_the_longest_timestamp() {
        assert_eq!(
            parse_timestamp(b"999999999999999999"),
            Some(999_999_999_999_999_999)
        );
        assert_eq!(parse_timestamp(b"9999999999999999999"), None);
    }
}
