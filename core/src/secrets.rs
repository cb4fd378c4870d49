//! A destination's signing secrets over time: the current one, and after a
//! rotation the previous one until dual signing stops; for a destination that
//! signs with ed25519, its key pairs alongside, rotated with the secret.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a destination's Durable Object stores about its secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretState {
    pub current: String,
    pub generated_at_ms: i64,
    pub previous: Option<String>,
    /// Until when the previous secret still signs (dual signing).
    pub previous_until_ms: Option<i64>,
    pub last_rotated_at_ms: Option<i64>,
    /// The ed25519 key pair of a destination that signs with one (`None`:
    /// HMAC). Absent from states stored before destinations could.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_pair: Option<KeyPair>,
    /// The key pair before the last rotation: it signs beside the current
    /// one while the previous secret does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_key_pair: Option<KeyPair>,
}

/// An ed25519 key pair in its text forms: the `whsk_` signing key, which
/// never leaves the destination's object, and the `whpk_` public key that
/// reads show. Its `Debug` shows the public key only, so a logged state
/// never holds the signing key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPair {
    pub signing_key: String,
    pub public_key: String,
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

/// Why a rotation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooSoon {
    pub next_allowed_at_ms: i64,
}

impl SecretState {
    /// The state of a destination just created: its secret and, when it signs
    /// with ed25519, its key pair.
    pub fn new(secret: String, key_pair: Option<KeyPair>, now_ms: i64) -> Self {
        SecretState {
            current: secret,
            generated_at_ms: now_ms,
            previous: None,
            previous_until_ms: None,
            last_rotated_at_ms: None,
            key_pair,
            previous_key_pair: None,
        }
    }

    /// Whether the destination signs with ed25519, so that a rotation must
    /// bring a new key pair.
    pub fn signs_with_ed25519(&self) -> bool {
        self.key_pair.is_some()
    }

    /// The current public key, for reads; `None` for an HMAC destination.
    pub fn public_key(&self) -> Option<&str> {
        self.key_pair.as_ref().map(|k| k.public_key.as_str())
    }

    /// Replaces the current secret, and the key pair with `new_key_pair`
    /// (`None` for an HMAC destination). Refused within `cooldown_s` of the
    /// last rotation; the old secret and key pair keep signing for
    /// `dual_signing_s`. Returns when dual signing stops.
    pub fn rotate(
        &mut self,
        new_secret: String,
        new_key_pair: Option<KeyPair>,
        now_ms: i64,
        cooldown_s: i64,
        dual_signing_s: i64,
    ) -> Result<i64, TooSoon> {
        if let Some(last) = self.last_rotated_at_ms {
            let next = last + cooldown_s * 1000;
            if now_ms < next {
                return Err(TooSoon {
                    next_allowed_at_ms: next,
                });
            }
        }
        let until = now_ms + dual_signing_s * 1000;
        self.previous = Some(std::mem::replace(&mut self.current, new_secret));
        self.previous_key_pair = std::mem::replace(&mut self.key_pair, new_key_pair);
        self.previous_until_ms = Some(until);
        self.generated_at_ms = now_ms;
        self.last_rotated_at_ms = Some(now_ms);
        Ok(until)
    }

    /// The secrets that sign a webhook sent at `now_ms`, newest first.
    pub fn signing_secrets(&self, now_ms: i64) -> Vec<&str> {
        let mut out = vec![self.current.as_str()];
        if let Some(prev) = self
            .previous
            .as_deref()
            .filter(|_| self.dual_signing(now_ms))
        {
            out.push(prev);
        }
        out
    }

    /// The `whsk_` keys that sign a webhook sent at `now_ms`, newest first:
    /// none for an HMAC destination, two during dual signing.
    pub fn signing_keys(&self, now_ms: i64) -> Vec<&str> {
        let previous = self
            .previous_key_pair
            .as_ref()
            .filter(|_| self.dual_signing(now_ms));
        [self.key_pair.as_ref(), previous]
            .into_iter()
            .flatten()
            .map(|k| k.signing_key.as_str())
            .collect()
    }

    /// Whether what signed before the last rotation still signs at `now_ms`.
    fn dual_signing(&self, now_ms: i64) -> bool {
        self.previous_until_ms.is_some_and(|until| now_ms < until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_dual_signs_then_drops_the_old_secret() {
        let mut s = SecretState::new("old".into(), None, 0);
        assert_eq!(s.signing_secrets(10), vec!["old"]);
        let until = s.rotate("new".into(), None, 1_000, 3600, 1800).unwrap();
        assert_eq!(until, 1_801_000);
        assert_eq!(s.signing_secrets(1_800_999), vec!["new", "old"]);
        assert_eq!(s.signing_secrets(1_801_000), vec!["new"]);
        assert_eq!(s.generated_at_ms, 1_000);
    }

    #[test]
    fn creation_does_not_start_the_cooldown_but_a_rotation_does() {
        let mut s = SecretState::new("a".into(), None, 0);
        s.rotate("b".into(), None, 1, 3600, 1800).unwrap();
        let e = s
            .rotate("c".into(), None, 3_600_000, 3600, 1800)
            .unwrap_err();
        assert_eq!(e.next_allowed_at_ms, 3_600_001);
        assert!(s.rotate("c".into(), None, 3_600_001, 3600, 1800).is_ok());
        assert_eq!(s.current, "c");
        assert_eq!(s.previous.as_deref(), Some("b"));
    }

    fn pair(n: u8) -> KeyPair {
        KeyPair {
            signing_key: format!("whsk_{n}"),
            public_key: format!("whpk_{n}"),
        }
    }

    #[test]
    fn an_hmac_destination_has_no_key_to_sign_or_show() {
        let mut s = SecretState::new("old".into(), None, 0);
        assert!(!s.signs_with_ed25519());
        assert_eq!(s.public_key(), None);
        assert!(s.signing_keys(0).is_empty());
        s.rotate("new".into(), None, 1_000, 3600, 1800).unwrap();
        assert!(s.signing_keys(1_001).is_empty());
        assert_eq!(s.previous_key_pair, None);
    }

    #[test]
    fn key_pairs_rotate_and_dual_sign_with_the_secrets() {
        let mut s = SecretState::new("old".into(), Some(pair(1)), 0);
        assert!(s.signs_with_ed25519());
        assert_eq!(s.public_key(), Some("whpk_1"));
        assert_eq!(s.signing_keys(10), vec!["whsk_1"]);
        let until = s
            .rotate("new".into(), Some(pair(2)), 1_000, 3600, 1800)
            .unwrap();
        assert_eq!(until, 1_801_000);
        assert_eq!(s.public_key(), Some("whpk_2"));
        assert_eq!(s.signing_keys(1_000), vec!["whsk_2", "whsk_1"]);
        assert_eq!(s.signing_keys(1_800_999), vec!["whsk_2", "whsk_1"]);
        assert_eq!(s.signing_secrets(1_800_999), vec!["new", "old"]);
        assert_eq!(s.signing_keys(1_801_000), vec!["whsk_2"]);
        assert_eq!(s.signing_secrets(1_801_000), vec!["new"]);
        // Refused inside the cooldown: nothing changes.
        assert!(
            s.rotate("x".into(), Some(pair(3)), 2_000, 3600, 1800)
                .is_err()
        );
        assert_eq!(s.public_key(), Some("whpk_2"));
        assert_eq!(s.signing_keys(2_000), vec!["whsk_2", "whsk_1"]);
    }

    #[test]
    fn states_stored_before_key_pairs_read_as_hmac_and_hmac_states_store_no_key_fields() {
        let old = r#"{"current":"whsec_a","generated_at_ms":1,"previous":null,"previous_until_ms":null,"last_rotated_at_ms":null}"#;
        let s: SecretState = serde_json::from_str(old).unwrap();
        assert_eq!(s, SecretState::new("whsec_a".into(), None, 1));
        let stored = serde_json::to_value(&s).unwrap();
        assert!(stored.get("key_pair").is_none() && stored.get("previous_key_pair").is_none());
        let mut ed = SecretState::new("whsec_a".into(), Some(pair(1)), 1);
        ed.rotate("whsec_b".into(), Some(pair(2)), 5, 0, 60)
            .unwrap();
        let back: SecretState = serde_json::from_str(&serde_json::to_string(&ed).unwrap()).unwrap();
        assert_eq!(back, ed);
    }

    #[test]
    fn a_key_pair_never_shows_its_signing_key_in_debug() {
        let shown = format!("{:?}", SecretState::new("s".into(), Some(pair(7)), 0));
        assert!(shown.contains("whpk_7"), "{shown}");
        assert!(!shown.contains("whsk_"), "{shown}");
    }
}
