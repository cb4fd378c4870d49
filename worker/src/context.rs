//! What every `/v1` call goes through before its handler: maintenance mode,
//! authentication, the organization check, the permission, the rate limit
//! (whose budget `edgehook_core::rate_limit::budget` chooses: a portal
//! session's calls count as its minting user's).

use crate::{config, http, rate_limiter, store};
use edgehook_core::auth::{authenticate, parse_authorization};
use edgehook_core::error::ApiError;
use edgehook_core::rate_limit::budget;
use edgehook_core::routes::Matched;
use edgehook_core::settings::Settings;
use std::rc::Rc;
use worker::{Env, Request};

/// An authenticated, authorized call to an organization's resources.
pub struct Caller {
    pub org_id: String,
    /// The user (or portal session, `portal:{id}`) the token was issued to.
    pub user_id: String,
    /// The API key the token was signed in with (a session's own id for a session).
    pub key_id: String,
    /// What the token may do.
    pub permissions: Vec<String>,
    pub settings: Rc<Settings>,
}

/// 503 with `Retry-After` while the operator's maintenance switch is on.
pub async fn check_maintenance(env: &Env) -> Result<(), ApiError> {
    if let Some(m) = store::maintenance::get(env).await?
        && m.enabled
    {
        return Err(ApiError::Unavailable {
            retry_after_seconds: m.retry_after_seconds,
        });
    }
    Ok(())
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
    if let Some(b) = budget(&settings, &m.spec, &org_id, &principal) {
        rate_limiter::admit(env, &b.key, b.limit).await?;
    }
    Ok(Caller {
        org_id,
        user_id: principal.user_id,
        key_id: principal.key_id,
        permissions: principal.permissions,
        settings,
    })
}
