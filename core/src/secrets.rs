//! A destination's signing secrets over time: the current one, and after a
//! rotation the previous one until dual signing stops.

use serde::{Deserialize, Serialize};

/// What a destination's Durable Object stores about its secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretState {
    pub current: String,
    pub generated_at_ms: i64,
    pub previous: Option<String>,
    /// Until when the previous secret still signs (dual signing).
    pub previous_until_ms: Option<i64>,
    pub last_rotated_at_ms: Option<i64>,
}

/// Why a rotation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooSoon {
    pub next_allowed_at_ms: i64,
}

impl SecretState {
    pub fn new(secret: String, now_ms: i64) -> Self {
        SecretState {
            current: secret,
            generated_at_ms: now_ms,
            previous: None,
            previous_until_ms: None,
            last_rotated_at_ms: None,
        }
    }

    /// Replaces the current secret. Refused within `cooldown_s` of the last
    /// rotation; the old secret keeps signing for `dual_signing_s`.
    /// Returns when dual signing stops.
    pub fn rotate(
        &mut self,
        new_secret: String,
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
        self.previous_until_ms = Some(until);
        self.generated_at_ms = now_ms;
        self.last_rotated_at_ms = Some(now_ms);
        Ok(until)
    }

    /// The secrets that sign a webhook sent at `now_ms`, newest first.
    pub fn signing_secrets(&self, now_ms: i64) -> Vec<&str> {
        let mut out = vec![self.current.as_str()];
        if let (Some(prev), Some(until)) = (&self.previous, self.previous_until_ms)
            && now_ms < until
        {
            out.push(prev);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_dual_signs_then_drops_the_old_secret() {
        let mut s = SecretState::new("old".into(), 0);
        assert_eq!(s.signing_secrets(10), vec!["old"]);
        let until = s.rotate("new".into(), 1_000, 3600, 1800).unwrap();
        assert_eq!(until, 1_801_000);
        assert_eq!(s.signing_secrets(1_800_999), vec!["new", "old"]);
        assert_eq!(s.signing_secrets(1_801_000), vec!["new"]);
        assert_eq!(s.generated_at_ms, 1_000);
    }

    #[test]
    fn creation_does_not_start_the_cooldown_but_a_rotation_does() {
        let mut s = SecretState::new("a".into(), 0);
        s.rotate("b".into(), 1, 3600, 1800).unwrap();
        let e = s.rotate("c".into(), 3_600_000, 3600, 1800).unwrap_err();
        assert_eq!(e.next_allowed_at_ms, 3_600_001);
        assert!(s.rotate("c".into(), 3_600_001, 3600, 1800).is_ok());
        assert_eq!(s.current, "c");
        assert_eq!(s.previous.as_deref(), Some("b"));
    }
}
