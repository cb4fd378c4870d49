//! Identifiers: 24 lowercase hex characters, the pattern the seed API requires.
//! The first 4 bytes are the creation second, so ids sort by creation time.

/// Builds an id from the creation time and 8 random bytes.
pub fn new_id(unix_seconds: i64, random: &[u8; 8]) -> String {
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&(unix_seconds as u32).to_be_bytes());
    bytes[4..].copy_from_slice(random);
    hex(&bytes)
}

/// The id of an event's delivery to one destination: the event's creation
/// second, then 8 bytes of a digest of the event's and the destination's ids.
/// A publish retried with the same idempotency key makes the same ids without
/// storing them, and two destinations of one event never share one.
pub fn delivery_id(unix_seconds: i64, event_id: &str, destination_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"edgehook delivery\0")
        .chain_update(event_id.as_bytes())
        .chain_update(b"\0")
        .chain_update(destination_id.as_bytes())
        .finalize();
    let mut random = [0u8; 8];
    random.copy_from_slice(&digest[..8]);
    new_id(unix_seconds, &random)
}

/// True when `s` matches `^[a-f0-9]{24}$`.
pub fn is_valid_id(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// True for an operator-chosen organization or user id: 1–64 characters of
/// letters, digits, `_` and `-`, starting with a letter or digit.
pub fn is_valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_the_seed_pattern_and_sort_by_time() {
        let a = new_id(1_700_000_000, &[0xff; 8]);
        let b = new_id(1_700_000_001, &[0x00; 8]);
        assert!(is_valid_id(&a) && is_valid_id(&b));
        assert!(a < b);
    }

    #[test]
    fn delivery_ids_derive_from_the_event_and_the_destination() {
        let a = delivery_id(1_700_000_000, "e1", "d1");
        assert!(is_valid_id(&a));
        assert_eq!(a, delivery_id(1_700_000_000, "e1", "d1"));
        assert_eq!(
            &a[..8],
            &new_id(1_700_000_000, &[0; 8])[..8],
            "sorts by time"
        );
        assert_ne!(a, delivery_id(1_700_000_000, "e1", "d2"));
        assert_ne!(a, delivery_id(1_700_000_000, "e2", "d1"));
        assert_ne!(
            delivery_id(1, "e1", "d1")[8..],
            delivery_id(1, "e", "1d1")[8..]
        );
        assert_eq!(&a[8..], "d32d87379a381340");
    }

    #[test]
    fn rejects_anything_else() {
        for bad in [
            "",
            "abc",
            "ABCDEFABCDEFABCDEFABCDEF",
            "0123456789abcdef0123456g",
            "0123456789abcdef01234567a",
        ] {
            assert!(!is_valid_id(bad), "{bad}");
        }
        assert!(is_valid_id("0123456789abcdef01234567"));
    }

    #[test]
    fn operator_names() {
        assert!(
            is_valid_name("acme") && is_valid_name("org_1-a") && is_valid_name(&"a".repeat(64))
        );
        for bad in ["", "_x", "a b", "a/b", "é", &"a".repeat(65)] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }
}
