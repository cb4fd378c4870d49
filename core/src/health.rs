//! Whether a deployment is configured: what `GET /healthz` answers. Each
//! problem names the setting, secret or binding and what is wrong with it,
//! never its value.

use crate::settings::Settings;

/// The secrets the worker cannot run without (wrangler secrets; `.dev.vars` locally).
pub const REQUIRED_SECRETS: [&str; 2] = ["EDGEHOOK_ADMIN_TOKEN", "EDGEHOOK_JWT_SECRET"];

/// The shortest secret accepted: anything shorter is guessable.
pub const MIN_SECRET_CHARS: usize = 16;

/// The settings (wrangler `vars`) [`Settings::from_vars`] reads.
pub const SETTINGS: [&str; 17] = [
    "EDGEHOOK_RETRY_SCHEDULE_SECONDS",
    "EDGEHOOK_DUAL_SIGNING_SECONDS",
    "EDGEHOOK_ROTATION_COOLDOWN_SECONDS",
    "EDGEHOOK_ALLOW_LOOPBACK_DESTINATIONS",
    "EDGEHOOK_RATE_LIMIT_PER_MINUTE",
    "EDGEHOOK_RATE_LIMIT_SLOW_PER_MINUTE",
    "EDGEHOOK_TOKEN_TTL_SECONDS",
    "EDGEHOOK_DELIVERY_RETENTION_SECONDS",
    "EDGEHOOK_KEY_EXPIRY_WARNING_SECONDS",
    "EDGEHOOK_PUBLISH_PER_SECOND",
    "EDGEHOOK_MAX_IN_FLIGHT",
    "EDGEHOOK_RUN_BUDGET_SECONDS",
    "EDGEHOOK_DISABLE_AFTER_SECONDS",
    "EDGEHOOK_DISABLE_AFTER_FAILURES",
    "EDGEHOOK_PORTAL_RATE_LIMIT_PER_MINUTE",
    "EDGEHOOK_PORTAL_MAX_SESSIONS",
    "EDGEHOOK_PUBLIC_URL",
];

/// The bindings of `wrangler.toml` the worker uses.
pub const REQUIRED_BINDINGS: [&str; 5] =
    ["DB", "KV", "DESTINATIONS", "RATE_LIMITER", "ORGANIZATIONS"];

/// Checks a required secret's value (`None` when unset); the error says what
/// is wrong without showing it.
pub fn check_secret(name: &str, value: Option<&str>) -> Result<(), String> {
    match value {
        None | Some("") => Err(format!("{name} is not set")),
        Some(v) if v.chars().count() < MIN_SECRET_CHARS => Err(format!(
            "{name} is shorter than {MIN_SECRET_CHARS} characters"
        )),
        Some(_) => Ok(()),
    }
}

/// Every problem of a deployment, in a stable order: the secrets, then the
/// settings, then the bindings. `read` gives a secret's or a setting's value;
/// `has_binding` tells whether a binding is configured. Empty when healthy.
pub fn problems(
    read: impl Fn(&str) -> Option<String>,
    has_binding: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    for name in REQUIRED_SECRETS {
        if let Err(p) = check_secret(name, read(name).as_deref()) {
            problems.push(p);
        }
    }
    // Each setting is parsed alone, so that every bad one is named (not only
    // the first) and no parse message, which may quote the value, is shown.
    for name in SETTINGS {
        if Settings::from_vars(|n| if n == name { read(n) } else { None }).is_err() {
            problems.push(format!("{name} is not a valid value"));
        }
    }
    for name in REQUIRED_BINDINGS {
        if !has_binding(name) {
            problems.push(format!("binding {name} is missing"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn check(pairs: &[(&str, &str)], bindings: &[&str]) -> Vec<String> {
        let m: HashMap<&str, &str> = pairs.iter().copied().collect();
        problems(
            |k| m.get(k).map(|v| v.to_string()),
            |b| bindings.contains(&b),
        )
    }

    const GOOD: [(&str, &str); 2] = [
        ("EDGEHOOK_ADMIN_TOKEN", "adm_0123456789abcdef"),
        ("EDGEHOOK_JWT_SECRET", "jwt_0123456789abcdef"),
    ];

    #[test]
    fn a_configured_deployment_has_no_problem() {
        assert_eq!(check(&GOOD, &REQUIRED_BINDINGS), Vec::<String>::new());
    }

    #[test]
    fn each_problem_is_named_and_no_value_is_shown() {
        let got = check(
            &[
                ("EDGEHOOK_ADMIN_TOKEN", "short-secret"),
                ("EDGEHOOK_RETRY_SCHEDULE_SECONDS", "5,oops"),
                ("EDGEHOOK_TOKEN_TTL_SECONDS", "an-hour"),
            ],
            &["DB", "KV", "RATE_LIMITER"],
        );
        assert_eq!(
            got,
            vec![
                "EDGEHOOK_ADMIN_TOKEN is shorter than 16 characters",
                "EDGEHOOK_JWT_SECRET is not set",
                "EDGEHOOK_RETRY_SCHEDULE_SECONDS is not a valid value",
                "EDGEHOOK_TOKEN_TTL_SECONDS is not a valid value",
                "binding DESTINATIONS is missing",
                "binding ORGANIZATIONS is missing",
            ]
        );
        let all = got.join("\n");
        for value in ["short-secret", "oops", "an-hour"] {
            assert!(!all.contains(value), "{value} shown");
        }
    }

    #[test]
    fn secrets_need_sixteen_characters() {
        assert!(check_secret("S", Some("0123456789abcdef")).is_ok());
        assert!(check_secret("S", Some("0123456789abcde")).is_err());
        assert_eq!(check_secret("S", Some("")), Err("S is not set".into()));
        assert_eq!(check_secret("S", None), Err("S is not set".into()));
    }

    /// Every setting the list names is one that parsing reads and checks: a
    /// nonsense value of it alone fails.
    #[test]
    fn every_listed_setting_is_checked() {
        for name in SETTINGS {
            let mut pairs = GOOD.to_vec();
            pairs.push((name, "nonsense"));
            assert_eq!(
                check(&pairs, &REQUIRED_BINDINGS),
                vec![format!("{name} is not a valid value")]
            );
        }
    }

    /// The settings and bindings of `wrangler.toml` are the ones checked here,
    /// so a setting added there without a check here fails this test.
    #[test]
    fn the_lists_follow_wrangler_toml() {
        let toml = include_str!("../../wrangler.toml");
        let vars = toml
            .split("\n[vars]\n")
            .nth(1)
            .expect("wrangler.toml has [vars]");
        let vars = vars.split("\n[").next().unwrap_or(vars);
        let mut named: Vec<&str> = vars
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
            .filter(|k| k.starts_with("EDGEHOOK_"))
            .collect();
        named.sort_unstable();
        let mut listed = SETTINGS.to_vec();
        listed.sort_unstable();
        assert_eq!(named, listed);
        for b in REQUIRED_BINDINGS {
            assert!(
                toml.contains(&format!("binding = \"{b}\""))
                    || toml.contains(&format!("name = \"{b}\"")),
                "{b}"
            );
        }
    }
}
