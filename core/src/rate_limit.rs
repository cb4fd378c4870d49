//! The sliding-window limiter behind "20 requests a minute per user and endpoint",
//! and which budget a call counts against. The rate-limit Durable Object holds
//! one [`Window`] per key, so every decision for a key is made in one place, in
//! order: exact under concurrency.

use crate::auth::Principal;
use crate::routes::{RateClass, Route, RouteSpec};
use crate::settings::Settings;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

pub const WINDOW_MS: i64 = 60_000;

/// The times of the requests admitted in the last window, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    admitted: VecDeque<i64>,
}

impl Window {
    /// Admits a request at `now_ms` if fewer than `limit` were admitted in the
    /// last minute; otherwise returns the whole seconds until one slot frees up.
    /// A `limit` of 0 means unlimited.
    pub fn admit(&mut self, now_ms: i64, limit: u32) -> Result<(), u64> {
        if limit == 0 {
            return Ok(());
        }
        while self
            .admitted
            .front()
            .is_some_and(|&t| t <= now_ms - WINDOW_MS)
        {
            self.admitted.pop_front();
        }
        if self.admitted.len() < limit as usize {
            self.admitted.push_back(now_ms);
            return Ok(());
        }
        let oldest = self.admitted.front().copied().unwrap_or(now_ms);
        let wait_ms = (oldest + WINDOW_MS - now_ms).max(1);
        Err(((wait_ms + 999) / 1000) as u64)
    }

    /// True when nothing in the window can still count: the state may be dropped.
    pub fn is_idle(&self, now_ms: i64) -> bool {
        self.admitted
            .back()
            .is_none_or(|&t| t <= now_ms - WINDOW_MS)
    }

    /// What [`Window::admit`] would answer at `now_ms`, without counting the
    /// request: a check before work whose outcome decides whether it counts.
    pub fn check(&self, now_ms: i64, limit: u32) -> Result<(), u64> {
        self.clone().admit(now_ms, limit)
    }

    /// When the window becomes idle (its newest request leaves it), so its
    /// holder can forget it then; `None` when nothing was admitted.
    pub fn idle_at(&self) -> Option<i64> {
        self.admitted.back().map(|&t| t + WINDOW_MS)
    }
}

/// The limit a route's calls count against under the current settings.
pub fn limit_for(settings: &Settings, class: RateClass) -> u32 {
    match class {
        RateClass::Standard => settings.rate_limit_per_minute,
        RateClass::Slow => settings.rate_limit_slow_per_minute,
        RateClass::None => 0,
    }
}

/// A counted key and its limit a minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub key: String,
    pub limit: u32,
}

/// The budget an authenticated call to `spec` counts against, if any. Calls
/// count per user and endpoint; a portal session's calls count as its minting
/// user's, so sessions never multiply a user's limits, except the delivery
/// query and one delivery, which all sessions of one minting user share in a
/// budget of their own (`EDGEHOOK_PORTAL_RATE_LIMIT_PER_MINUTE`): paging
/// through a log in the portal is not held to the seed's 5 a minute, and an
/// API user's 5 stay exactly as they are.
pub fn budget(
    settings: &Settings,
    spec: &RouteSpec,
    org_id: &str,
    caller: &Principal,
) -> Option<Budget> {
    let user = caller.rate_subject();
    let portal_log = matches!(spec.route, Route::ListDeliveries | Route::GetDelivery);
    let (key, limit) = if caller.minted_by.is_some() && portal_log {
        (
            format!("{org_id}:{user}:portal deliveries"),
            settings.portal_rate_limit_per_minute,
        )
    } else {
        (
            format!("{org_id}:{user}:{} {}", spec.method, spec.path),
            limit_for(settings, spec.rate),
        )
    };
    (limit > 0).then_some(Budget { key, limit })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Actor;
    use crate::routes::match_route;

    fn caller(minter: Option<&str>) -> Principal {
        Principal {
            org_id: "acme".into(),
            user_id: minter.map_or("ann".into(), |_| "portal:s1".into()),
            key_id: "k".into(),
            permissions: vec![],
            minted_by: minter.map(|m| Actor {
                sub: m.into(),
                kid: "k0".into(),
            }),
        }
    }

    fn budget_of(method: &str, path: &str, who: &Principal, s: &Settings) -> Option<Budget> {
        budget(s, &match_route(method, path).unwrap().spec, "acme", who)
    }

    #[test]
    fn sessions_count_as_their_minter() {
        let s = Settings::default();
        let list = "/v1/acme/webhook_destination/";
        let ann = budget_of("GET", list, &caller(None), &s).unwrap();
        assert_eq!(
            ann,
            Budget {
                key: "acme:ann:GET /v1/{organization}/webhook_destination/".into(),
                limit: 20
            }
        );
        // Every session Ann minted spends Ann's budget.
        assert_eq!(budget_of("GET", list, &caller(Some("ann")), &s), Some(ann));
        assert_eq!(
            budget_of("GET", list, &caller(Some("bob")), &s)
                .unwrap()
                .key,
            "acme:bob:GET /v1/{organization}/webhook_destination/"
        );
    }

    #[test]
    fn the_delivery_log_of_sessions_has_its_own_budget() {
        let s = Settings::default();
        let id = "0123456789abcdef01234567";
        let query = format!("/v1/acme/webhook_destination/{id}/delivery");
        let one = format!("{query}/{id}");
        let portal = Budget {
            key: "acme:ann:portal deliveries".into(),
            limit: 120,
        };
        assert_eq!(
            budget_of("GET", &query, &caller(Some("ann")), &s),
            Some(portal.clone())
        );
        assert_eq!(
            budget_of("GET", &one, &caller(Some("ann")), &s),
            Some(portal)
        );
        // The API user keeps the seed's 5 for the query, 20 for one delivery.
        assert_eq!(
            budget_of("GET", &query, &caller(None), &s).unwrap().limit,
            5
        );
        assert_eq!(budget_of("GET", &one, &caller(None), &s).unwrap().limit, 20);
        // A retry through a session is a change: the minter's own budget.
        let retry = format!("{one}/retry");
        assert_eq!(
            budget_of("POST", &retry, &caller(Some("ann")), &s)
                .unwrap()
                .key,
            "acme:ann:POST /v1/{organization}/webhook_destination/{webhook_destination_id}/delivery/{delivery_id}/retry"
        );
    }

    #[test]
    fn zero_lifts_a_budget_and_publishing_has_none() {
        let id = "0123456789abcdef01234567";
        let query = format!("/v1/acme/webhook_destination/{id}/delivery");
        let lifted = Settings {
            portal_rate_limit_per_minute: 0,
            rate_limit_per_minute: 0,
            ..Settings::default()
        };
        assert_eq!(
            budget_of("GET", &query, &caller(Some("ann")), &lifted),
            None
        );
        assert_eq!(
            budget_of(
                "GET",
                "/v1/acme/webhook_destination/",
                &caller(None),
                &lifted
            ),
            None
        );
        assert_eq!(
            budget_of("GET", &query, &caller(None), &lifted)
                .unwrap()
                .limit,
            5
        );
        assert_eq!(
            budget_of(
                "POST",
                "/v1/acme/webhook_event/",
                &caller(None),
                &Settings::default()
            ),
            None
        );
        let s = Settings::default();
        assert_eq!(limit_for(&s, RateClass::Standard), 20);
        assert_eq!(limit_for(&s, RateClass::Slow), 5);
        assert_eq!(limit_for(&s, RateClass::None), 0);
    }

    #[test]
    fn the_21st_request_in_a_minute_is_refused() {
        let mut w = Window::default();
        for i in 0..20 {
            assert!(w.admit(1_000 + i * 100, 20).is_ok());
        }
        let retry = w.admit(5_000, 20).unwrap_err();
        assert_eq!(retry, 56); // the first admitted (t=1000) leaves the window at 61000
    }

    #[test]
    fn slots_free_up_as_the_window_slides() {
        let mut w = Window::default();
        for i in 0..5 {
            w.admit(i * 1_000, 5).unwrap();
        }
        assert!(w.admit(59_999, 5).is_err());
        assert!(w.admit(60_000, 5).is_ok());
        assert!(w.admit(60_001, 5).is_err());
        assert!(!w.is_idle(100_000));
        assert!(w.is_idle(200_000));
    }

    #[test]
    fn a_check_answers_as_admit_would_without_counting() {
        let mut w = Window::default();
        for i in 0..3 {
            assert_eq!(w.check(i, 3), Ok(()));
            w.admit(i, 3).unwrap();
        }
        let before = w.clone();
        assert_eq!(w.check(10, 3), Err(60));
        assert_eq!(w.check(10, 3), w.clone().admit(10, 3));
        assert_eq!(w.check(60_000, 3), Ok(()));
        assert_eq!(w, before);
    }

    #[test]
    fn the_window_is_idle_a_minute_after_its_newest_request() {
        let mut w = Window::default();
        assert_eq!(w.idle_at(), None);
        assert!(w.is_idle(0));
        w.admit(1_000, 5).unwrap();
        w.admit(2_000, 5).unwrap();
        assert_eq!(w.idle_at(), Some(62_000));
        assert!(!w.is_idle(61_999));
        assert!(w.is_idle(62_000));
    }

    #[test]
    fn zero_means_unlimited() {
        let mut w = Window::default();
        for i in 0..1000 {
            assert!(w.admit(i, 0).is_ok());
        }
    }
}
