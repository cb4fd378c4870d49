//! The lifetime of an API key and of the tokens signed in with it: a key is
//! created with an expiry in the future or none, a token never outlives its
//! key, and a revoked key's tokens stop working within [`KEY_STATUS_TTL_MS`].

use crate::error::ApiError;
use std::collections::HashMap;

/// Refuses a new key whose expiry has already passed (422): such a key could
/// never sign in, and handing it out would only hide the operator's mistake.
pub fn check_new_expiry(expires_at_ms: Option<i64>, now_ms: i64) -> Result<(), ApiError> {
    match expires_at_ms {
        Some(t) if t <= now_ms => Err(ApiError::invalid(
            &["body", "expires_at"],
            "Input should be in the future",
            "datetime_future",
        )),
        _ => Ok(()),
    }
}

/// A token's expiry in Unix seconds: `ttl_s` from now, but never later than the
/// key it was signed in with (rounded down, so the token is never valid for a
/// moment the key is not).
pub fn token_expiry_s(now_ms: i64, ttl_s: i64, key_expires_at_ms: Option<i64>) -> i64 {
    let by_ttl = now_ms.div_euclid(1000).saturating_add(ttl_s);
    match key_expires_at_ms {
        Some(k) => by_ttl.min(k.div_euclid(1000)),
        None => by_ttl,
    }
}

/// How long an isolate trusts what it last read about a key (still there, or
/// revoked): a revocation reaches every isolate within this, and a busy caller
/// costs one lookup per key and isolate in this time.
pub const KEY_STATUS_TTL_MS: i64 = 30_000;

/// Entries an isolate keeps at most; past it, stale entries go first, then all.
const KEY_STATUS_CAPACITY: usize = 10_000;

/// What an isolate last read about keys: key id → (read at, still active).
#[derive(Debug, Default)]
pub struct KeyStatusCache {
    entries: HashMap<String, (i64, bool)>,
}

impl KeyStatusCache {
    /// Whether `key_id` was active when last read, if that was less than
    /// [`KEY_STATUS_TTL_MS`] before `now_ms`.
    pub fn get(&self, key_id: &str, now_ms: i64) -> Option<bool> {
        self.entries
            .get(key_id)
            .filter(|(at, _)| now_ms - at < KEY_STATUS_TTL_MS && *at <= now_ms)
            .map(|(_, active)| *active)
    }

    /// Records what was just read about `key_id`.
    pub fn put(&mut self, key_id: &str, active: bool, now_ms: i64) {
        if self.entries.len() >= KEY_STATUS_CAPACITY && !self.entries.contains_key(key_id) {
            self.entries
                .retain(|_, (at, _)| now_ms - *at < KEY_STATUS_TTL_MS && *at <= now_ms);
            if self.entries.len() >= KEY_STATUS_CAPACITY {
                self.entries.clear();
            }
        }
        self.entries.insert(key_id.to_string(), (now_ms, active));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_must_expire_in_the_future_or_never() {
        assert!(check_new_expiry(None, 1_000).is_ok());
        assert!(check_new_expiry(Some(1_001), 1_000).is_ok());
        for past in [1_000, 999, 0, -5] {
            let h = check_new_expiry(Some(past), 1_000).unwrap_err().to_http();
            assert_eq!(h.status, 422);
            assert_eq!(
                h.body["detail"][0]["loc"],
                serde_json::json!(["body", "expires_at"])
            );
        }
    }

    #[test]
    fn a_token_never_outlives_its_key() {
        let now = 1_900_000_000_500;
        assert_eq!(token_expiry_s(now, 3600, None), 1_900_003_600);
        // The key expires in 10 minutes: so does the token.
        assert_eq!(
            token_expiry_s(now, 3600, Some(now + 600_000)),
            1_900_000_600
        );
        // ...rounded down to the second.
        assert_eq!(
            token_expiry_s(now, 3600, Some(1_900_000_010_999)),
            1_900_000_010
        );
        // The key outlives the TTL: the TTL decides.
        assert_eq!(
            token_expiry_s(now, 3600, Some(now + 7_200_000)),
            1_900_003_600
        );
        assert_eq!(
            token_expiry_s(now, 3600, Some(1_900_003_600_000)),
            1_900_003_600
        );
        assert_eq!(token_expiry_s(now, i64::MAX, None), i64::MAX);
    }

    #[test]
    fn the_cache_forgets_after_its_ttl() {
        let mut c = KeyStatusCache::default();
        assert_eq!(c.get("k", 0), None);
        c.put("k", true, 1_000);
        c.put("revoked", false, 1_000);
        assert_eq!(c.get("k", 1_000), Some(true));
        assert_eq!(c.get("revoked", 1_000 + KEY_STATUS_TTL_MS - 1), Some(false));
        assert_eq!(c.get("k", 1_000 + KEY_STATUS_TTL_MS), None);
        // A clock that went back does not extend trust.
        assert_eq!(c.get("k", 999), None);
        c.put("k", false, 50_000);
        assert_eq!(c.get("k", 50_001), Some(false));
    }

    #[test]
    fn the_cache_stays_bounded() {
        let mut c = KeyStatusCache::default();
        for i in 0..KEY_STATUS_CAPACITY {
            c.put(&format!("old{i}"), true, 0);
        }
        assert_eq!(c.len(), KEY_STATUS_CAPACITY);
        // The old entries are stale by now: they go, the new one stays.
        c.put("new", true, KEY_STATUS_TTL_MS);
        assert_eq!(c.len(), 1);
        assert_eq!(c.get("new", KEY_STATUS_TTL_MS), Some(true));
        // All fresh: the cache starts over rather than grow.
        let mut c = KeyStatusCache::default();
        for i in 0..KEY_STATUS_CAPACITY {
            c.put(&format!("k{i}"), true, 5);
        }
        c.put("one-more", true, 5);
        assert_eq!(c.len(), 1);
        // Refreshing a known key never evicts.
        for i in 0..KEY_STATUS_CAPACITY - 1 {
            c.put(&format!("k{i}"), true, 6);
        }
        c.put("one-more", false, 6);
        assert_eq!(c.len(), KEY_STATUS_CAPACITY);
    }

    #[test]
    fn a_full_cache_drops_what_is_stale_or_from_the_future_and_keeps_the_rest() {
        let mut c = KeyStatusCache::default();
        assert!(c.is_empty());
        let now = 10 * KEY_STATUS_TTL_MS;
        let quarter = KEY_STATUS_CAPACITY / 4;
        for i in 0..quarter {
            c.put(&format!("stale{i}"), true, now - KEY_STATUS_TTL_MS - 1);
            c.put(&format!("edge{i}"), true, now - KEY_STATUS_TTL_MS);
            c.put(&format!("fresh{i}"), true, now - 1);
            c.put(&format!("future{i}"), true, now + 5);
        }
        assert!(!c.is_empty());
        assert_eq!(c.len(), KEY_STATUS_CAPACITY);
        c.put("new", false, now);
        assert_eq!(
            c.len(),
            quarter + 1,
            "only the fresh quarter and the new key stay"
        );
        assert_eq!(c.get("fresh0", now), Some(true));
        assert_eq!(c.get("new", now), Some(false));
        for gone in ["stale0", "edge0", "future0"] {
            assert!(!c.entries.contains_key(gone), "{gone}");
        }
    }
}
