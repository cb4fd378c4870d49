//! The rules of sign-in with an API key: which key is accepted, and how failed
//! attempts are counted so that nobody but the key's holder can spend a user's
//! sign-in budget.
//!
//! The worker checks the key first. A failure counts against the key id named
//! by the caller and against the caller's network address, each with a limit a
//! minute; only a sign-in whose key was accepted counts against the user's
//! 5 a minute. Every refusal answers the same body, whether the organization,
//! the key id, the user or the key itself was wrong.

use crate::auth::api_key_matches;
use crate::error::ApiError;
use crate::ids::is_valid_id;
use std::net::{IpAddr, Ipv6Addr};

/// Failed sign-ins a minute that one key id may collect before further
/// attempts naming it answer 429.
pub const FAILURES_PER_KEY_ID: u32 = 10;

/// Failed sign-ins a minute that one client address may make before its
/// further attempts answer 429.
pub const FAILURES_PER_ADDRESS: u32 = 30;

/// One failure counter: the rate-limit object that holds it, and its limit a minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureCounter {
    pub limiter: String,
    pub limit: u32,
}

/// The counters a sign-in from `address` naming `key_id` is checked against
/// before its key is, and charged when it fails. A key id that is not an id at
/// all cannot name a stored key, so it has no counter of its own: the address
/// counter alone bounds such attempts.
pub fn failure_counters(address: &str, key_id: &str) -> Vec<FailureCounter> {
    let mut counters = vec![FailureCounter {
        limiter: format!("signin-failures:address:{address}"),
        limit: FAILURES_PER_ADDRESS,
    }];
    if is_valid_id(key_id) {
        counters.push(FailureCounter {
            limiter: format!("signin-failures:key:{key_id}"),
            limit: FAILURES_PER_KEY_ID,
        });
    }
    counters
}

/// The rate-limit object that counts a user's accepted sign-ins.
pub fn user_limiter(org_id: &str, user_id: &str) -> String {
    format!("{org_id}:{user_id}:signin")
}

/// The address failures are counted against, from `CF-Connecting-IP` (set by
/// Cloudflare's edge, and by `wrangler dev` to the connecting address). An IPv6
/// client is counted by its /64, the block one subscriber usually holds, so
/// that walking through its own addresses does not reset the count. A missing
/// or unreadable header shares one bucket.
pub fn client_address(cf_connecting_ip: Option<&str>) -> String {
    let Some(ip) = cf_connecting_ip.and_then(|v| v.trim().parse::<IpAddr>().ok()) else {
        return "unknown".to_string();
    };
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// What sign-in reads of a stored API key.
#[derive(Debug, Clone, Copy)]
pub struct StoredKey<'a> {
    pub org_id: &'a str,
    pub user_id: &'a str,
    pub key_hash: &'a str,
    /// Unix ms; `None` never expires.
    pub expires_at_ms: Option<i64>,
}

/// The answer to every sign-in whose organization, key id, user or key is wrong:
/// one body for all, so a caller learns nothing about which part was.
pub fn invalid_key() -> ApiError {
    ApiError::Unauthorized("invalid API key".into())
}

/// Accepts `key` for `user_id` of `org_id` when `stored` (the key the caller
/// named by id, if it exists) belongs to them, matches, and has not expired.
pub fn check_key(
    stored: Option<StoredKey<'_>>,
    org_id: &str,
    user_id: &str,
    key: &str,
    now_ms: i64,
) -> Result<(), ApiError> {
    let stored = stored.ok_or_else(invalid_key)?;
    if stored.org_id != org_id
        || stored.user_id != user_id
        || !api_key_matches(key, stored.key_hash)
    {
        return Err(invalid_key());
    }
    if stored.expires_at_ms.is_some_and(|t| t <= now_ms) {
        return Err(ApiError::Unauthorized("the API key has expired".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::hash_api_key;

    const KEY_ID: &str = "0123456789abcdef01234567";

    #[test]
    fn failures_count_per_address_and_per_key_id() {
        let c = failure_counters("203.0.113.7", KEY_ID);
        assert_eq!(
            c,
            vec![
                FailureCounter {
                    limiter: "signin-failures:address:203.0.113.7".into(),
                    limit: 30
                },
                FailureCounter {
                    limiter: format!("signin-failures:key:{KEY_ID}"),
                    limit: 10
                },
            ]
        );
        // Names that cannot be a key id leave no counter of their own.
        for junk in ["", "x", "0123456789ABCDEF01234567", &"a".repeat(4000)] {
            let c = failure_counters("203.0.113.7", junk);
            assert_eq!(c.len(), 1, "{junk}");
            assert!(c[0].limiter.starts_with("signin-failures:address:"));
        }
    }

    #[test]
    fn the_user_limiter_is_named_after_the_user() {
        assert_eq!(user_limiter("acme", "ann"), "acme:ann:signin");
        assert_ne!(user_limiter("acme", "ann"), user_limiter("acme", "bob"));
    }

    #[test]
    fn addresses_are_counted_per_ipv4_address_and_per_ipv6_64() {
        assert_eq!(client_address(Some("203.0.113.7")), "203.0.113.7");
        assert_eq!(client_address(Some(" 203.0.113.7 ")), "203.0.113.7");
        assert_eq!(
            client_address(Some("2001:db8:1:2:3:4:5:6")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            client_address(Some("2001:db8:1:2:ffff::1")),
            client_address(Some("2001:db8:1:2::9"))
        );
        assert_ne!(
            client_address(Some("2001:db8:1:2::1")),
            client_address(Some("2001:db8:1:3::1"))
        );
        assert_eq!(client_address(Some("::ffff:203.0.113.7")), "203.0.113.7");
        assert_eq!(client_address(None), "unknown");
        assert_eq!(client_address(Some("")), "unknown");
        assert_eq!(client_address(Some("not-an-address")), "unknown");
    }

    fn stored<'a>(hash: &'a str, expires_at_ms: Option<i64>) -> StoredKey<'a> {
        StoredKey {
            org_id: "acme",
            user_id: "ann",
            key_hash: hash,
            expires_at_ms,
        }
    }

    #[test]
    fn only_the_right_key_of_the_right_user_and_organization_is_accepted() {
        let hash = hash_api_key("ehk_right");
        let k = stored(&hash, None);
        assert!(check_key(Some(k), "acme", "ann", "ehk_right", 1_000).is_ok());
        for (org, user, key) in [
            ("other", "ann", "ehk_right"),
            ("acme", "bob", "ehk_right"),
            ("acme", "ann", "ehk_wrong"),
            ("acme", "ann", ""),
        ] {
            assert_eq!(
                check_key(Some(k), org, user, key, 1_000),
                Err(invalid_key()),
                "{org} {user} {key}"
            );
        }
        // No such key id (or no such organization): the same answer.
        assert_eq!(
            check_key(None, "acme", "ann", "ehk_right", 1_000),
            Err(invalid_key())
        );
        assert_eq!(invalid_key().to_http().status, 401);
    }

    #[test]
    fn an_expired_key_is_refused_from_its_expiry_on() {
        let hash = hash_api_key("ehk_right");
        let k = stored(&hash, Some(5_000));
        assert!(check_key(Some(k), "acme", "ann", "ehk_right", 4_999).is_ok());
        for now in [5_000, 5_001] {
            let e = check_key(Some(k), "acme", "ann", "ehk_right", now).unwrap_err();
            assert_eq!(e.to_http().status, 401);
            assert_ne!(e, invalid_key());
        }
        // A wrong key never learns that the key expired.
        assert_eq!(
            check_key(Some(k), "acme", "ann", "ehk_wrong", 9_000),
            Err(invalid_key())
        );
    }
}
