//! The worker's settings (wrangler `vars`), their defaults and their checks.
//! Parsed from plain strings so the rules are tested here, not in the runtime.

/// Everything the worker reads from its environment besides bindings and secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Seconds to wait before each retry (`EDGEHOOK_RETRY_SCHEDULE_SECONDS`).
    pub retry_schedule_seconds: Vec<f64>,
    pub dual_signing_seconds: i64,
    pub rotation_cooldown_seconds: i64,
    /// Dev only: admit `http://127.0.0.1:PORT` destinations.
    pub allow_loopback_destinations: bool,
    /// Requests a minute per user and endpoint; 0 lifts the limit (benchmarks).
    pub rate_limit_per_minute: u32,
    /// The stricter limit of sign-in and delivery queries.
    pub rate_limit_slow_per_minute: u32,
    pub token_ttl_seconds: i64,
    /// How long deliveries and their attempts are kept.
    pub delivery_retention_seconds: i64,
    /// How far ahead the scheduled job warns of expiring API keys.
    pub key_expiry_warning_seconds: i64,
    /// Publishes a second per organization (bursts of twice that); 0 lifts it.
    pub publish_per_second: u32,
    /// Attempts in flight at once per destination (`EDGEHOOK_MAX_IN_FLIGHT`).
    pub max_in_flight: u32,
    /// Wall time a delivery run starts attempts for before it yields to its
    /// alarm (`EDGEHOOK_RUN_BUDGET_SECONDS`).
    pub run_budget_seconds: i64,
    /// How long a destination's deliveries may only fail before it is
    /// disabled (`EDGEHOOK_DISABLE_AFTER_SECONDS`)...
    pub disable_after_seconds: i64,
    /// ...with at least this many deliveries exhausted (`EDGEHOOK_DISABLE_AFTER_FAILURES`).
    pub disable_after_failures: i64,
    /// Delivery queries and details a minute of all portal sessions one user
    /// minted, together; 0 lifts it.
    pub portal_rate_limit_per_minute: u32,
    /// Live portal sessions an organization may hold at once.
    pub portal_max_sessions: u32,
    /// The origin a portal session's `url` starts with (`EDGEHOOK_PUBLIC_URL`);
    /// unset, the origin the minting request reached.
    pub public_url: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            retry_schedule_seconds: vec![5.0, 10.0, 20.0, 20.0, 20.0],
            dual_signing_seconds: 1800,
            rotation_cooldown_seconds: 3600,
            allow_loopback_destinations: false,
            rate_limit_per_minute: 20,
            rate_limit_slow_per_minute: 5,
            token_ttl_seconds: 3600,
            delivery_retention_seconds: 30 * 86_400,
            key_expiry_warning_seconds: 7 * 86_400,
            publish_per_second: 100,
            max_in_flight: crate::pipeline::DEFAULT_MAX_IN_FLIGHT,
            run_budget_seconds: crate::pipeline::DEFAULT_RUN_BUDGET_SECONDS,
            disable_after_seconds: crate::destination_health::DEFAULT_DISABLE_AFTER_SECONDS,
            disable_after_failures: crate::destination_health::DEFAULT_DISABLE_AFTER_FAILURES,
            portal_rate_limit_per_minute: 120,
            portal_max_sessions: 1000,
            public_url: None,
        }
    }
}

impl Settings {
    /// When a failing destination is disabled, in the health ladder's terms.
    pub fn ladder(&self) -> crate::destination_health::Ladder {
        crate::destination_health::Ladder {
            disable_after_ms: self.disable_after_seconds * 1000,
            disable_after_failures: self.disable_after_failures,
        }
    }

    /// Reads settings through `var` (absent or empty means the default). A value
    /// that does not parse is an error naming the setting: a misconfigured
    /// worker should fail loudly, not run with a surprise.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
        let d = Settings::default();
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        fn num<T: std::str::FromStr>(
            name: &str,
            v: Option<String>,
            default: T,
        ) -> Result<T, String> {
            match v {
                None => Ok(default),
                Some(s) => s
                    .parse()
                    .map_err(|_| format!("{name}={s:?} is not a valid number")),
            }
        }
        let retry_schedule_seconds = match get("EDGEHOOK_RETRY_SCHEDULE_SECONDS") {
            None => d.retry_schedule_seconds,
            Some(s) => parse_schedule(&s)?,
        };
        let allow_loopback_destinations =
            match get("EDGEHOOK_ALLOW_LOOPBACK_DESTINATIONS").as_deref() {
                None | Some("false") | Some("0") => false,
                Some("true") | Some("1") => true,
                Some(other) => {
                    return Err(format!(
                        "EDGEHOOK_ALLOW_LOOPBACK_DESTINATIONS={other:?} must be true or false"
                    ));
                }
            };
        let max_in_flight = num(
            "EDGEHOOK_MAX_IN_FLIGHT",
            get("EDGEHOOK_MAX_IN_FLIGHT"),
            d.max_in_flight,
        )?;
        if max_in_flight < 1 {
            return Err("EDGEHOOK_MAX_IN_FLIGHT must be at least 1".into());
        }
        let run_budget_seconds = num(
            "EDGEHOOK_RUN_BUDGET_SECONDS",
            get("EDGEHOOK_RUN_BUDGET_SECONDS"),
            d.run_budget_seconds,
        )?;
        if !(1..=MAX_RUN_BUDGET_SECONDS).contains(&run_budget_seconds) {
            return Err(format!(
                "EDGEHOOK_RUN_BUDGET_SECONDS must be between 1 and {MAX_RUN_BUDGET_SECONDS}"
            ));
        }
        let disable_after_seconds = num(
            "EDGEHOOK_DISABLE_AFTER_SECONDS",
            get("EDGEHOOK_DISABLE_AFTER_SECONDS"),
            d.disable_after_seconds,
        )?;
        let disable_after_failures = num(
            "EDGEHOOK_DISABLE_AFTER_FAILURES",
            get("EDGEHOOK_DISABLE_AFTER_FAILURES"),
            d.disable_after_failures,
        )?;
        if disable_after_seconds < 1 || disable_after_failures < 1 {
            return Err(
                "EDGEHOOK_DISABLE_AFTER_SECONDS and EDGEHOOK_DISABLE_AFTER_FAILURES must be at least 1"
                    .into(),
            );
        }
        let portal_max_sessions = num(
            "EDGEHOOK_PORTAL_MAX_SESSIONS",
            get("EDGEHOOK_PORTAL_MAX_SESSIONS"),
            d.portal_max_sessions,
        )?;
        if portal_max_sessions == 0 {
            return Err("EDGEHOOK_PORTAL_MAX_SESSIONS must be at least 1".into());
        }
        let public_url = match get("EDGEHOOK_PUBLIC_URL") {
            None => None,
            Some(s) => Some(crate::portal::origin::parse_origin(&s, true).ok_or_else(|| {
                format!(
                    "EDGEHOOK_PUBLIC_URL={s:?} must be the worker's origin: https://host[:port] \
                     (http on loopback for local runs), without a path"
                )
            })?),
        };
        Ok(Settings {
            disable_after_seconds,
            disable_after_failures,
            max_in_flight,
            run_budget_seconds,
            retry_schedule_seconds,
            dual_signing_seconds: num(
                "EDGEHOOK_DUAL_SIGNING_SECONDS",
                get("EDGEHOOK_DUAL_SIGNING_SECONDS"),
                d.dual_signing_seconds,
            )?,
            rotation_cooldown_seconds: num(
                "EDGEHOOK_ROTATION_COOLDOWN_SECONDS",
                get("EDGEHOOK_ROTATION_COOLDOWN_SECONDS"),
                d.rotation_cooldown_seconds,
            )?,
            allow_loopback_destinations,
            rate_limit_per_minute: num(
                "EDGEHOOK_RATE_LIMIT_PER_MINUTE",
                get("EDGEHOOK_RATE_LIMIT_PER_MINUTE"),
                d.rate_limit_per_minute,
            )?,
            rate_limit_slow_per_minute: num(
                "EDGEHOOK_RATE_LIMIT_SLOW_PER_MINUTE",
                get("EDGEHOOK_RATE_LIMIT_SLOW_PER_MINUTE"),
                d.rate_limit_slow_per_minute,
            )?,
            token_ttl_seconds: num(
                "EDGEHOOK_TOKEN_TTL_SECONDS",
                get("EDGEHOOK_TOKEN_TTL_SECONDS"),
                d.token_ttl_seconds,
            )?,
            delivery_retention_seconds: num(
                "EDGEHOOK_DELIVERY_RETENTION_SECONDS",
                get("EDGEHOOK_DELIVERY_RETENTION_SECONDS"),
                d.delivery_retention_seconds,
            )?,
            key_expiry_warning_seconds: num(
                "EDGEHOOK_KEY_EXPIRY_WARNING_SECONDS",
                get("EDGEHOOK_KEY_EXPIRY_WARNING_SECONDS"),
                d.key_expiry_warning_seconds,
            )?,
            publish_per_second: num(
                "EDGEHOOK_PUBLISH_PER_SECOND",
                get("EDGEHOOK_PUBLISH_PER_SECOND"),
                d.publish_per_second,
            )?,
            portal_rate_limit_per_minute: num(
                "EDGEHOOK_PORTAL_RATE_LIMIT_PER_MINUTE",
                get("EDGEHOOK_PORTAL_RATE_LIMIT_PER_MINUTE"),
                d.portal_rate_limit_per_minute,
            )?,
            portal_max_sessions,
            public_url,
        })
    }
}

/// The longest run budget: a run also waits for its last attempts (up to the
/// longest timeout, 30 s) and an alarm handler has 15 minutes of wall time.
pub const MAX_RUN_BUDGET_SECONDS: i64 = 600;

/// Parses `5,10,20` into seconds; fractions are allowed for fast tests.
pub fn parse_schedule(s: &str) -> Result<Vec<f64>, String> {
    s.split(',')
        .map(|p| match p.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && (0.0..=86_400.0).contains(&v) => Ok(v),
            _ => Err(format!("EDGEHOOK_RETRY_SCHEDULE_SECONDS: {p:?} is not a number of seconds between 0 and 86400")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Settings, String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_vars(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_follow_the_seed() {
        let s = from(&[]).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.retry_schedule_seconds, vec![5.0, 10.0, 20.0, 20.0, 20.0]);
        assert_eq!(
            (s.dual_signing_seconds, s.rotation_cooldown_seconds),
            (1800, 3600)
        );
    }

    #[test]
    fn the_ladder_is_the_two_disable_settings() {
        let s = from(&[
            ("EDGEHOOK_DISABLE_AFTER_SECONDS", "7"),
            ("EDGEHOOK_DISABLE_AFTER_FAILURES", "3"),
        ])
        .unwrap();
        let l = s.ladder();
        assert_eq!((l.disable_after_ms, l.disable_after_failures), (7_000, 3));
    }

    #[test]
    fn overrides_and_errors() {
        let s = from(&[
            ("EDGEHOOK_RETRY_SCHEDULE_SECONDS", "0.5, 1,2"),
            ("EDGEHOOK_ALLOW_LOOPBACK_DESTINATIONS", "true"),
            ("EDGEHOOK_RATE_LIMIT_PER_MINUTE", "0"),
            ("EDGEHOOK_PUBLISH_PER_SECOND", "0"),
        ])
        .unwrap();
        assert_eq!(s.publish_per_second, 0);
        assert_eq!(from(&[]).unwrap().publish_per_second, 100);
        assert!(from(&[("EDGEHOOK_PUBLISH_PER_SECOND", "-1")]).is_err());
        assert_eq!(s.retry_schedule_seconds, vec![0.5, 1.0, 2.0]);
        assert!(s.allow_loopback_destinations);
        assert_eq!(s.rate_limit_per_minute, 0);
        assert!(from(&[("EDGEHOOK_RETRY_SCHEDULE_SECONDS", "5,x")]).is_err());
        assert!(from(&[("EDGEHOOK_ALLOW_LOOPBACK_DESTINATIONS", "yes")]).is_err());
        assert!(from(&[("EDGEHOOK_DUAL_SIGNING_SECONDS", "-")]).is_err());
    }

    #[test]
    fn the_delivery_pipeline_settings() {
        let d = from(&[]).unwrap();
        assert_eq!((d.max_in_flight, d.run_budget_seconds), (6, 30));
        let s = from(&[
            ("EDGEHOOK_MAX_IN_FLIGHT", "2"),
            ("EDGEHOOK_RUN_BUDGET_SECONDS", "600"),
        ])
        .unwrap();
        assert_eq!((s.max_in_flight, s.run_budget_seconds), (2, 600));
        assert_eq!(
            from(&[("EDGEHOOK_MAX_IN_FLIGHT", "1")])
                .unwrap()
                .max_in_flight,
            1
        );
        assert_eq!(
            from(&[("EDGEHOOK_RUN_BUDGET_SECONDS", "1")])
                .unwrap()
                .run_budget_seconds,
            1
        );
        for (name, bad) in [
            ("EDGEHOOK_MAX_IN_FLIGHT", "0"),
            ("EDGEHOOK_MAX_IN_FLIGHT", "-1"),
            ("EDGEHOOK_MAX_IN_FLIGHT", "six"),
            ("EDGEHOOK_RUN_BUDGET_SECONDS", "0"),
            ("EDGEHOOK_RUN_BUDGET_SECONDS", "601"),
        ] {
            let e = from(&[(name, bad)]).unwrap_err();
            assert!(e.contains(name), "{e}");
        }
    }

    #[test]
    fn the_health_ladder_settings() {
        let d = from(&[]).unwrap();
        assert_eq!(
            (d.disable_after_seconds, d.disable_after_failures),
            (432_000, 10)
        );
        let s = from(&[
            ("EDGEHOOK_DISABLE_AFTER_SECONDS", "20"),
            ("EDGEHOOK_DISABLE_AFTER_FAILURES", "1"),
        ])
        .unwrap();
        assert_eq!((s.disable_after_seconds, s.disable_after_failures), (20, 1));
        let least = from(&[("EDGEHOOK_DISABLE_AFTER_SECONDS", "1")]).unwrap();
        assert_eq!(least.disable_after_seconds, 1);
        for (name, bad) in [
            ("EDGEHOOK_DISABLE_AFTER_SECONDS", "0"),
            ("EDGEHOOK_DISABLE_AFTER_FAILURES", "0"),
            ("EDGEHOOK_DISABLE_AFTER_FAILURES", "x"),
        ] {
            assert!(
                from(&[(name, bad)]).unwrap_err().contains(name),
                "{name}={bad}"
            );
        }
    }

    #[test]
    fn portal_settings() {
        let d = from(&[]).unwrap();
        assert_eq!(
            (
                d.portal_rate_limit_per_minute,
                d.portal_max_sessions,
                d.public_url
            ),
            (120, 1000, None)
        );
        let s = from(&[
            ("EDGEHOOK_PORTAL_RATE_LIMIT_PER_MINUTE", "0"),
            ("EDGEHOOK_PORTAL_MAX_SESSIONS", "3"),
            ("EDGEHOOK_PUBLIC_URL", "https://Hooks.Example.com/"),
        ])
        .unwrap();
        assert_eq!(
            (s.portal_rate_limit_per_minute, s.portal_max_sessions),
            (0, 3)
        );
        assert_eq!(s.public_url.as_deref(), Some("https://hooks.example.com"));
        assert_eq!(
            from(&[("EDGEHOOK_PUBLIC_URL", "http://127.0.0.1:8787")])
                .unwrap()
                .public_url
                .as_deref(),
            Some("http://127.0.0.1:8787")
        );
        assert_eq!(
            from(&[("EDGEHOOK_PUBLIC_URL", " ")]).unwrap().public_url,
            None
        );
        for (name, bad) in [
            ("EDGEHOOK_PORTAL_MAX_SESSIONS", "0"),
            ("EDGEHOOK_PORTAL_MAX_SESSIONS", "-1"),
            ("EDGEHOOK_PORTAL_RATE_LIMIT_PER_MINUTE", "many"),
            ("EDGEHOOK_PUBLIC_URL", "https://hooks.example.com/base"),
            ("EDGEHOOK_PUBLIC_URL", "http://hooks.example.com"),
            ("EDGEHOOK_PUBLIC_URL", "hooks.example.com"),
        ] {
            assert!(from(&[(name, bad)]).is_err(), "{name}={bad}");
        }
    }

    #[test]
    fn schedule_waits_are_finite_and_at_most_a_day() {
        assert_eq!(parse_schedule("0, 86400").unwrap(), vec![0.0, 86_400.0]);
        for bad in ["-1", "86400.5", "inf", "NaN", "5,-0.1", ""] {
            assert!(parse_schedule(bad).is_err(), "{bad:?}");
        }
    }
}
