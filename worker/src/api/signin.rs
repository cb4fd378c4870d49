//! `POST /v1/{organization}/user/signin_with_api_key`: exchanges an API key for
//! a JWT, as Amigo's SDKs do before their first call.
//!
//! The key is checked before anything is counted: a failure counts only against
//! the key id it named and the address it came from (`edgehook_core::signin`),
//! so nobody without the key can spend a user's 5 sign-ins a minute, and no
//! limiter is made for a user nobody proved to be. A failure past a limit
//! answers 429; so does the right key while a limit it falls under is spent.

use crate::context::check_maintenance;
use crate::error::Context;
use crate::http::{self, internal};
use crate::{config, rate_limiter, store};
use edgehook_core::api_key::token_expiry_s;
use edgehook_core::auth::issue_token;
use edgehook_core::error::{ApiError, FieldError};
use edgehook_core::ids::is_valid_id;
use edgehook_core::rate_limit::limit_for;
use edgehook_core::routes::Matched;
use edgehook_core::signin::{
    FailureCounter, StoredKey, check_key, client_address, failure_counters, user_limiter,
};
use edgehook_core::time::rfc3339_ms;
use futures_util::future::join_all;
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
    let address = client_address(http::header(&req, "cf-connecting-ip").as_deref());
    let counters = failure_counters(&address, &key_id);
    let now = config::now_ms();
    let record = if is_valid_id(&key_id) {
        store::api_keys::get(env, &key_id).await?
    } else {
        None
    };
    let stored = record.as_ref().map(|r| StoredKey {
        org_id: &r.org_id,
        user_id: &r.user_id,
        key_hash: &r.key_hash,
        expires_at_ms: r.expires_at,
    });
    if let Err(refusal) = check_key(stored, org_id, &user_id, &key, now) {
        return Err(count_failure(env, &counters).await.err().unwrap_or(refusal));
    }
    let Some(record) = record else {
        return Err(internal("an accepted sign-in has no key record"));
    };
    // Past a failure limit even the right key is refused, so that a guess that
    // happens to be right is not told apart: guessing goes no faster than the limits.
    join_all(
        counters
            .iter()
            .map(|c| rate_limiter::check(env, &c.limiter, c.limit)),
    )
    .await
    .into_iter()
    .collect::<Result<(), ApiError>>()?;
    let limit = limit_for(&settings, m.spec.rate);
    if limit > 0 {
        rate_limiter::admit(env, &user_limiter(org_id, &user_id), limit).await?;
    }
    let permissions: Vec<String> =
        serde_json::from_str(&record.permissions).ctx("D1: read a user's permissions")?;
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
    http::secret_json(
        200,
        &json!({ "id_token": token, "expires_at": rfc3339_ms(expires_s * 1000) }),
    )
}

/// Charges a failed sign-in to every counter; 429 when one of them was already spent.
async fn count_failure(env: &Env, counters: &[FailureCounter]) -> Result<(), ApiError> {
    let verdicts = join_all(
        counters
            .iter()
            .map(|c| rate_limiter::admit(env, &c.limiter, c.limit)),
    )
    .await;
    verdicts.into_iter().collect()
}
