//! `POST /v1/{organization}/user/signin_with_api_key`: exchanges an API key for
//! a JWT, as Amigo's SDKs do before their first call.

use crate::context::{check_maintenance, limit_for};
use crate::http::{self, internal};
use crate::{config, rate_limiter, store};
use edgehook_core::api_key::token_expiry_s;
use edgehook_core::auth::{api_key_matches, issue_token};
use edgehook_core::error::{ApiError, FieldError};
use edgehook_core::routes::Matched;
use edgehook_core::time::rfc3339_ms;
use serde_json::json;
use worker::{Env, Request, Response};

pub async fn sign_in(req: Request, env: &Env, m: &Matched) -> Result<Response, ApiError> {
    check_maintenance(env).await?;
    let settings = config::settings(env)?;
    let org_id = m.param("organization");
    let mut missing = vec![];
    let mut read = |name: &str| {
        let v = http::header(&req, name).filter(|v| !v.is_empty());
        if v.is_none() {
            missing.push(FieldError::new(
                &["header", name],
                "Field required",
                "missing",
            ));
        }
        v.unwrap_or_default()
    };
    let (key, key_id, user_id) = (read("x-api-key"), read("x-api-key-id"), read("x-user-id"));
    if !missing.is_empty() {
        return Err(ApiError::Validation(missing));
    }
    if !store::organizations::exists(env, org_id).await? {
        return Err(ApiError::NotFound(format!(
            "organization {org_id} not found"
        )));
    }
    let limit = limit_for(&settings, m.spec.rate);
    if limit > 0 {
        rate_limiter::admit(env, &format!("{org_id}:{user_id}:signin"), limit).await?;
    }
    let now = config::now_ms();
    let invalid = || ApiError::Unauthorized("invalid API key".into());
    let record = store::api_keys::get(env, &key_id)
        .await?
        .ok_or_else(invalid)?;
    if record.org_id != org_id
        || record.user_id != user_id
        || !api_key_matches(&key, &record.key_hash)
    {
        return Err(invalid());
    }
    if record.expires_at.is_some_and(|t| t <= now) {
        return Err(ApiError::Unauthorized("the API key has expired".into()));
    }
    let permissions: Vec<String> = serde_json::from_str(&record.permissions).map_err(internal)?;
    let expires_s = token_expiry_s(now, settings.token_ttl_seconds, record.expires_at);
    let (token, expires_s) = issue_token(
        &config::jwt_key(env)?,
        org_id,
        &user_id,
        &key_id,
        &permissions,
        now / 1000,
        expires_s - now / 1000,
    )?;
    http::json(
        200,
        &json!({ "id_token": token, "expires_at": rfc3339_ms(expires_s * 1000) }),
    )
}
