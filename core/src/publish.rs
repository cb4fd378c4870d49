//! Publishing rules an organization's object applies to every event before it
//! fans out: the publish quota, idempotency keys, and the routing table that
//! says which destinations take an event type.

use crate::error::ApiError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long a publish's idempotency key is remembered.
pub const IDEMPOTENCY_WINDOW_MS: i64 = 24 * 3600 * 1000;

/// How long an organization's object trusts its routing table before it reads
/// the destinations again. Every destination change also tells the object at
/// once; this bounds how stale the table can be if that notice is lost.
pub const ROUTING_TTL_MS: i64 = 5_000;

/// A token bucket: `rate` publishes a second on average, bursts of `2 × rate`.
/// Held in memory by the organization's object; an object that was evicted
/// starts full, which is what an idle organization's bucket would be anyway.
#[derive(Debug, Clone, PartialEq)]
pub struct Quota {
    tokens: f64,
    updated_ms: i64,
}

impl Quota {
    /// A full bucket at `now_ms`.
    pub fn new(rate_per_second: u32, now_ms: i64) -> Quota {
        Quota {
            tokens: burst(rate_per_second),
            updated_ms: now_ms,
        }
    }

    /// Takes one publish from the bucket, or answers how many whole seconds
    /// until one is available: at any rate of one a second or more, a token
    /// is back within a second. A rate of 0 lifts the quota.
    pub fn admit(&mut self, rate_per_second: u32, now_ms: i64) -> Result<(), u64> {
        if rate_per_second == 0 {
            return Ok(());
        }
        let rate = f64::from(rate_per_second);
        let elapsed_s = (now_ms - self.updated_ms).max(0) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed_s * rate).min(burst(rate_per_second));
        self.updated_ms = self.updated_ms.max(now_ms);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        Err(1)
    }
}

fn burst(rate_per_second: u32) -> f64 {
    2.0 * f64::from(rate_per_second)
}

/// The 429 of an exhausted quota.
pub fn quota_exceeded(retry_after_seconds: u64) -> ApiError {
    ApiError::RateLimited {
        retry_after_seconds,
    }
}

/// Idempotency keys that start with this are edgehook's own (its scheduled
/// job and its operational events): a tenant's publish may not use them, so
/// no tenant can spend a key before edgehook does.
pub const SYSTEM_KEY_PREFIX: &str = "edgehook:";

/// Refuses a tenant's idempotency key in edgehook's own namespace (422).
pub fn check_tenant_key(key: &str) -> Result<(), ApiError> {
    if key
        .get(..SYSTEM_KEY_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(SYSTEM_KEY_PREFIX))
    {
        return Err(ApiError::invalid(
            &["header", "Idempotency-Key"],
            format!(
                "Idempotency keys starting with {SYSTEM_KEY_PREFIX:?} are reserved for edgehook's own events"
            ),
            "value_error",
        ));
    }
    Ok(())
}

/// The idempotency key of one of edgehook's own events: its type and what
/// makes it unique (a key id, a destination and streak, a delivery and round).
pub fn system_key(event_type: &str, unique: &str) -> String {
    format!("{SYSTEM_KEY_PREFIX}{event_type}:{unique}")
}

/// Bytes kept of a SHA-256 to name an idempotency key or a body: 128 bits, so
/// that two different keys (or bodies) of a day never share one.
pub const DIGEST_BYTES: usize = 16;

/// What the organization's object keeps to know an idempotency key again: a
/// digest of it, whatever the key's length.
pub fn key_digest(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes())[..DIGEST_BYTES].to_vec()
}

/// What identifies a published body for idempotency: a digest of its bytes.
pub fn fingerprint(body: &[u8]) -> Vec<u8> {
    Sha256::digest(body)[..DIGEST_BYTES].to_vec()
}

/// A repeat of an idempotency key is answered like the first publish only if
/// it carries the same body; another body is a client error.
pub fn check_repeat(key: &str, same_body: bool) -> Result<(), ApiError> {
    if same_body {
        Ok(())
    } else {
        Err(ApiError::Conflict(format!(
            "the Idempotency-Key {key:?} was already used for another body in the last 24 h; \
             use a new key for a different event"
        )))
    }
}

/// Everything an organization's object keeps per idempotency key, whatever
/// the event's fan-out: the key's and the body's digests, the event's id and
/// time (each delivery id derives from them, [`crate::ids::delivery_id`]),
/// and whether the publish answered. A repeat of a finished publish answers
/// again from the destinations that hold its deliveries.
pub const KEY_SCHEMA: &str = "\
CREATE TABLE IF NOT EXISTS idempotency_keys (
  key          BLOB PRIMARY KEY,
  fingerprint  BLOB NOT NULL,
  event        BLOB NOT NULL,
  created_at   INTEGER NOT NULL,
  answered     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys(created_at);
DROP TABLE IF EXISTS idempotency;";

/// One destination in an organization's routing table: a destination that
/// is not deleted (paused ones too) and the event types it accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub destination_id: String,
    pub accepted_types: Vec<String>,
}

/// Every destination that takes an event of `event_type`, paused ones too
/// (they keep it as skipped), in table order.
pub fn takers<'a>(routes: &'a [Route], event_type: &str) -> Vec<&'a str> {
    routes
        .iter()
        .filter(|r| r.accepted_types.iter().any(|t| t == event_type))
        .map(|r| r.destination_id.as_str())
        .collect()
}

/// Whether a routing table read at `loaded_ms` may still be used at `now_ms`.
pub fn routing_is_fresh(loaded_ms: i64, now_ms: i64) -> bool {
    now_ms >= loaded_ms && now_ms - loaded_ms < ROUTING_TTL_MS
}

/// Most deliveries one handoff to a destination's object carries.
pub const HANDOFF_MAX_DELIVERIES: usize = 100;

/// Most body bytes one handoff carries; a publish's body is at most 256 KiB,
/// so the first waiting delivery always fits.
pub const HANDOFF_MAX_BYTES: usize = 1024 * 1024;

/// How many of the deliveries waiting for a destination (their body sizes,
/// oldest first) the next handoff to its object carries: the first, then as
/// many more as keep within both limits, in order.
pub fn handoff_batch(body_sizes: impl IntoIterator<Item = usize>) -> usize {
    let (mut taken, mut bytes) = (0, 0);
    for size in body_sizes {
        if taken == HANDOFF_MAX_DELIVERIES || (taken > 0 && bytes + size > HANDOFF_MAX_BYTES) {
            break;
        }
        taken += 1;
        bytes += size;
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handoff_carries_the_waiting_deliveries_in_order_within_its_limits() {
        assert_eq!(handoff_batch([]), 0);
        assert_eq!(handoff_batch([300]), 1);
        // The first always goes, however large; the next waits if it would overflow.
        assert_eq!(handoff_batch([HANDOFF_MAX_BYTES + 1, 1]), 1);
        assert_eq!(handoff_batch([HANDOFF_MAX_BYTES - 1, 1, 1]), 2);
        assert_eq!(handoff_batch([HANDOFF_MAX_BYTES - 1, 2]), 1);
        // Order is kept: a small one behind a too-large one waits too.
        assert_eq!(handoff_batch([600_000, 600_000, 10]), 1);
        assert_eq!(handoff_batch(vec![316; 150]), HANDOFF_MAX_DELIVERIES);
        assert_eq!(
            handoff_batch(vec![316; HANDOFF_MAX_DELIVERIES - 1]),
            HANDOFF_MAX_DELIVERIES - 1
        );
        assert_eq!(handoff_batch(vec![0; 150]), HANDOFF_MAX_DELIVERIES);
    }

    #[test]
    fn quota_allows_a_burst_of_twice_the_rate_then_the_rate() {
        let mut q = Quota::new(10, 0);
        for i in 0..20 {
            assert_eq!(q.admit(10, 0), Ok(()), "publish {i} of the burst");
        }
        assert_eq!(q.admit(10, 0), Err(1));
        // 100 ms later one token has come back, and only one.
        assert_eq!(q.admit(10, 100), Ok(()));
        assert_eq!(q.admit(10, 100), Err(1));
        // A long pause refills to the burst, never beyond it.
        let mut taken = 0;
        while q.admit(10, 60_000).is_ok() {
            taken += 1;
        }
        assert_eq!(taken, 20);
    }

    #[test]
    fn edgehooks_own_keys_are_reserved() {
        assert_eq!(
            system_key("api-key-expiration-soon", "k1"),
            "edgehook:api-key-expiration-soon:k1"
        );
        for reserved in [
            "edgehook:x",
            "EdgeHook:api-key-expiration-soon:k1",
            "edgehook:",
        ] {
            let e = check_tenant_key(reserved).unwrap_err();
            assert_eq!(e.to_http().status, 422, "{reserved}");
        }
        for ok in [
            "api-key-expiration-soon:k1",
            "edgehook",
            "my-edgehook:x",
            "é",
        ] {
            assert!(check_tenant_key(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn the_idempotency_window_is_a_day() {
        assert_eq!(IDEMPOTENCY_WINDOW_MS, 86_400_000);
        assert_eq!(ROUTING_TTL_MS, 5_000);
    }

    #[test]
    fn quota_retry_after_covers_the_wait() {
        let mut q = Quota::new(1, 0);
        assert!(q.admit(1, 0).is_ok() && q.admit(1, 0).is_ok());
        assert_eq!(q.admit(1, 0), Err(1));
        assert_eq!(q.admit(1, 1_000), Ok(()));
        // A clock that steps back never adds tokens.
        assert_eq!(q.admit(1, 500), Err(1));
    }

    #[test]
    fn a_rate_of_zero_lifts_the_quota() {
        let mut q = Quota::new(0, 0);
        for _ in 0..10_000 {
            assert_eq!(q.admit(0, 0), Ok(()));
        }
        assert_eq!(
            quota_exceeded(3).to_http().retry_after_seconds,
            Some(3),
            "the 429 says when to come back"
        );
    }

    #[test]
    fn idempotency_compares_bodies() {
        let a = fingerprint(br#"{"type":"x"}"#);
        assert_eq!(a.len(), 16);
        assert_eq!(a, fingerprint(br#"{"type":"x"}"#));
        assert_ne!(a, fingerprint(br#"{"type": "x"}"#), "byte for byte");
        assert!(check_repeat("k", true).is_ok());
        let e = check_repeat("k1", false).unwrap_err();
        let h = e.to_http();
        assert_eq!(h.status, 409);
        assert!(h.body["detail"].as_str().unwrap().contains("another body"));
    }

    #[test]
    fn routing_picks_the_destinations_that_accept_the_type() {
        let routes = vec![
            Route {
                destination_id: "a".into(),
                accepted_types: vec!["t1".into(), "t2".into()],
            },
            Route {
                destination_id: "b".into(),
                accepted_types: vec!["t2".into()],
            },
            Route {
                destination_id: "paused".into(),
                accepted_types: vec!["t1".into(), "t2".into()],
            },
        ];
        assert_eq!(takers(&routes, "t2"), vec!["a", "b", "paused"]);
        assert_eq!(takers(&routes, "t1"), vec!["a", "paused"]);
        assert!(takers(&routes, "t3").is_empty());
        assert_eq!(key_digest("k").len(), DIGEST_BYTES);
        assert_ne!(key_digest("k"), key_digest("k2"));
        assert_eq!(
            key_digest(&"k".repeat(10_000)).len(),
            16,
            "whatever the key's length"
        );
        assert!(routing_is_fresh(1_000, 1_000 + ROUTING_TTL_MS - 1));
        assert!(!routing_is_fresh(1_000, 1_000 + ROUTING_TTL_MS));
        assert!(!routing_is_fresh(1_000, 999));
    }
}
