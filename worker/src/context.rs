//! What every `/v1` call goes through before its handler: maintenance mode,
//! authentication, the organization check, the permission, the rate limit.

use crate::{config, http, rate_limiter, store};
use edgehook_core::auth::{authenticate, parse_authorization};
use edgehook_core::error::ApiError;
use edgehook_core::routes::{Matched, RateClass};
use edgehook_core::settings::Settings;
use worker::{Env, Request};

/// An authenticated, authorized call to an organization's resources.
pub struct Caller {
    pub org_id: String,
    pub settings: Settings,
}

/// 503 with `Retry-After` while the operator's maintenance switch is on.
pub async fn check_maintenance(env: &Env) -> Result<(), ApiError> {
    if let Some(m) = store::maintenance::get(env).await? {
        if m.enabled {
            return Err(ApiError::Unavailable {
                retry_after_seconds: m.retry_after_seconds,
            });
        }
    }
    Ok(())
}

/// The limit a route's calls count against under the current settings.
pub fn limit_for(settings: &Settings, class: RateClass) -> u32 {
    match class {
        RateClass::Standard => settings.rate_limit_per_minute,
        RateClass::Slow => settings.rate_limit_slow_per_minute,
        RateClass::None => 0,
    }
}

/// Runs the checks in the order a caller can act on: 503, 401, 404, 403, 429.
/// A token whose API key was revoked is a 401 once the revocation reaches this
/// isolate (`edgehook_core::api_key::KEY_STATUS_TTL_MS`).
pub async fn enter(req: &Request, env: &Env, m: &Matched) -> Result<Caller, ApiError> {
    check_maintenance(env).await?;
    let settings = config::settings(env)?;
    let creds = parse_authorization(http::header(req, "authorization").as_deref())?;
    let now_s = config::now_ms() / 1000;
    let principal = authenticate(
        &config::jwt_key(env)?,
        &creds,
        http::header(req, "x-org-id").as_deref(),
        now_s,
    )?;
    store::api_keys::require_active(env, &principal, config::now_ms()).await?;
    let org_id = m.param("organization").to_string();
    if principal.org_id != org_id {
        // A token only ever acts in the organization that issued it. Every other
        // organization is "not found", existing or not, so a token learns nothing
        // about which organizations exist.
        return Err(ApiError::NotFound(format!(
            "organization {org_id} not found"
        )));
    }
    m.check_params()?;
    if let Some(permission) = m.spec.permission {
        principal.require(permission)?;
    }
    let limit = limit_for(&settings, m.spec.rate);
    if limit > 0 {
        let key = format!(
            "{}:{}:{}",
            org_id,
            principal.user_id,
            m.spec.method.to_owned() + " " + m.spec.path
        );
        rate_limiter::admit(env, &key, limit).await?;
    }
    Ok(Caller { org_id, settings })
}
