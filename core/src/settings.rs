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
            portal_rate_limit_per_minute: 120,
            portal_max_sessions: 1000,
            public_url: None,
        }
    }
}

impl Settings {
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
