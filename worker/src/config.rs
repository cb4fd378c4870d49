//! Settings and secrets from the worker's environment.

use crate::error::Context;
use crate::http::internal;
use edgehook_core::error::ApiError;
use edgehook_core::health::check_secret;
use edgehook_core::settings::Settings;
use std::rc::Rc;
use worker::Env;

/// Reads the settings (wrangler `vars`); a malformed value fails every request
/// loudly rather than running with a surprise. Vars are fixed for an isolate's
/// life, so each isolate parses them once.
pub fn settings(env: &Env) -> Result<Rc<Settings>, ApiError> {
    thread_local! {
        static PARSED: std::cell::OnceCell<Rc<Settings>> = const { std::cell::OnceCell::new() };
    }
    if let Some(s) = PARSED.with(|p| p.get().cloned()) {
        return Ok(s);
    }
    let parsed = Rc::new(
        Settings::from_vars(|name| env.var(name).ok().map(|v| v.to_string()))
            .map_err(ApiError::Internal)?,
    );
    PARSED.with(|p| {
        let _ = p.set(Rc::clone(&parsed));
    });
    Ok(parsed)
}

/// A secret or setting as the environment holds it (a wrangler secret, or a
/// var: `.dev.vars` and `--var` in local runs), if present.
pub fn raw(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|s| s.to_string()))
        .ok()
}

/// A secret that must be set, and long enough (`GET /healthz` names it otherwise).
pub fn secret(env: &Env, name: &str) -> Result<String, ApiError> {
    let value = raw(env, name);
    check_secret(name, value.as_deref()).map_err(|problem| {
        internal(format!(
            "{problem}: add it with `wrangler secret put {name}` (or to .dev.vars locally)"
        ))
    })?;
    value.ok_or_else(|| internal(format!("{name} is not set")))
}

/// The key that signs and verifies edgehook's JWTs.
pub fn jwt_key(env: &Env) -> Result<Vec<u8>, ApiError> {
    secret(env, "EDGEHOOK_JWT_SECRET").map(String::into_bytes)
}

/// Fills a buffer from the platform's CSPRNG.
pub fn random<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).ctx("getrandom: fill random bytes")?;
    Ok(buf)
}

/// Now, as Unix milliseconds.
pub fn now_ms() -> i64 {
    worker::Date::now().as_millis() as i64
}

/// A fault injected for tests at a named step of a change, to show that the
/// step before it leaves a state that is safe to retry. `EDGEHOOK_TEST_FAULTS`
/// (never set in production) lists the steps; each fails once per isolate.
pub fn fault(env: &Env, step: &str) -> Result<(), ApiError> {
    thread_local! {
        static SPENT: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let Ok(listed) = env.var("EDGEHOOK_TEST_FAULTS") else {
        return Ok(());
    };
    let listed = listed.to_string();
    if !listed.split(',').any(|s| s.trim() == step) {
        return Ok(());
    }
    let first = SPENT.with(|spent| {
        let mut spent = spent.borrow_mut();
        let first = !spent.iter().any(|s| s == step);
        if first {
            spent.push(step.to_string());
        }
        first
    });
    if first {
        Err(internal(format!("injected fault at {step}")))
    } else {
        Ok(())
    }
}
