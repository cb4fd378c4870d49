//! The operator API under `/admin/v1`: organizations, users, API keys (created
//! and revoked) and the maintenance switch, guarded by the `EDGEHOOK_ADMIN_TOKEN` secret.

use crate::http::{self, internal};
use crate::store::maintenance::Maintenance;
use crate::{config, store};
use edgehook_core::api_key::check_new_expiry;
use edgehook_core::auth::{api_key_from_bytes, check_permissions, constant_time_eq, hash_api_key};
use edgehook_core::error::ApiError;
use edgehook_core::ids::{is_valid_name, new_id};
use edgehook_core::routes::{Matched, Route};
use edgehook_core::time::{parse_timestamp_ms, rfc3339_ms};
use serde_json::{Map, Value, json};
use worker::{Env, Request, Response};

pub async fn handle(mut req: Request, env: &Env, m: &Matched) -> Result<Response, ApiError> {
    authorize(&req, env)?;
    let now = config::now_ms();
    match m.spec.route {
        Route::AdminCreateOrganization => {
            let body = http::optional_json_body(&mut req).await?;
            let id = chosen_or_new_id(&body, "organization_id", now)?;
            store::organizations::create(env, &id, now).await?;
            http::json(201, &json!({ "organization_id": id }))
        }
        Route::AdminCreateUser => {
            let org = m.param("organization");
            let body = http::optional_json_body(&mut req).await?;
            let id = chosen_or_new_id(&body, "user_id", now)?;
            let permissions = match body.get("permissions") {
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>(),
                _ => None,
            }
            .ok_or_else(|| {
                ApiError::invalid(
                    &["body", "permissions"],
                    "Input should be a list of permission names",
                    "list_type",
                )
            })?;
            check_permissions(&permissions)?;
            if !store::organizations::exists(env, org).await? {
                return Err(ApiError::NotFound(format!("organization {org} not found")));
            }
            store::users::create(env, org, &id, &permissions, now).await?;
            http::json(201, &json!({ "user_id": id }))
        }
        Route::AdminCreateApiKey => {
            let (org, user) = (m.param("organization"), m.param("user"));
            let body = http::optional_json_body(&mut req).await?;
            let expires_at = match body.get("expires_at") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(parse_timestamp_ms(s).ok_or_else(|| {
                    ApiError::invalid(
                        &["body", "expires_at"],
                        "Input should be an ISO 8601 timestamp",
                        "datetime_parsing",
                    )
                })?),
                Some(_) => {
                    return Err(ApiError::invalid(
                        &["body", "expires_at"],
                        "Input should be an ISO 8601 timestamp",
                        "datetime_type",
                    ));
                }
            };
            check_new_expiry(expires_at, now)?;
            if !store::users::exists(env, org, user).await? {
                return Err(ApiError::NotFound(format!(
                    "user {user} of organization {org} not found"
                )));
            }
            let key_id = new_id(now / 1000, &config::random::<8>()?);
            let key = api_key_from_bytes(&config::random::<32>()?);
            store::api_keys::create(
                env,
                &key_id,
                org,
                user,
                &hash_api_key(&key),
                expires_at,
                now,
            )
            .await?;
            http::secret_json(
                201,
                &json!({ "api_key_id": key_id, "api_key": key, "expires_at": expires_at.map(rfc3339_ms) }),
            )
        }
        Route::AdminRevokeApiKey => {
            let (org, user, key_id) = (m.param("organization"), m.param("user"), m.param("key_id"));
            if !store::api_keys::delete(env, org, user, key_id).await? {
                return Err(ApiError::NotFound(format!(
                    "API key {key_id} of user {user} of organization {org} not found"
                )));
            }
            // The portal sessions the key minted end with it.
            let now = config::now_ms();
            for session in store::portal_sessions::revoke_minted_by(env, key_id, now).await? {
                store::api_keys::forget(&session, now);
            }
            http::no_content()
        }
        Route::AdminGetMaintenance => {
            let m = store::maintenance::get(env).await?.unwrap_or(Maintenance {
                enabled: false,
                retry_after_seconds: 60,
            });
            http::json(200, &m)
        }
        Route::AdminSetMaintenance => {
            let body = http::optional_json_body(&mut req).await?;
            let enabled = body
                .get("enabled")
                .and_then(Value::as_bool)
                .ok_or_else(|| {
                    ApiError::invalid(
                        &["body", "enabled"],
                        "Input should be a valid boolean",
                        "bool_type",
                    )
                })?;
            let retry_after_seconds = match body.get("retry_after_seconds") {
                None | Some(Value::Null) => 60,
                Some(v) => v
                    .as_u64()
                    .filter(|s| (1..=86_400).contains(s))
                    .ok_or_else(|| {
                        ApiError::invalid(
                            &["body", "retry_after_seconds"],
                            "Input should be an integer from 1 to 86400",
                            "int_type",
                        )
                    })?,
            };
            let m = Maintenance {
                enabled,
                retry_after_seconds,
            };
            store::maintenance::set(env, &m).await?;
            http::json(200, &m)
        }
        other => Err(internal(format!(
            "route {other:?} is not an operator route"
        ))),
    }
}

/// 401 unless the request carries `Authorization: Bearer <EDGEHOOK_ADMIN_TOKEN>`.
fn authorize(req: &Request, env: &Env) -> Result<(), ApiError> {
    let expected = config::secret(env, "EDGEHOOK_ADMIN_TOKEN")?;
    let given = http::header(req, "authorization").unwrap_or_default();
    let token = given.strip_prefix("Bearer ").unwrap_or_default();
    if constant_time_eq(token.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized("operator token required".into()))
    }
}

/// The id the operator chose, checked, or a fresh 24-hex id.
fn chosen_or_new_id(body: &Map<String, Value>, field: &str, now: i64) -> Result<String, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(new_id(now / 1000, &config::random::<8>()?)),
        Some(Value::String(s)) if is_valid_name(s) => Ok(s.clone()),
        Some(_) => Err(ApiError::invalid(
            &["body", field],
            "1-64 letters, digits, '_' or '-', starting with a letter or digit",
            "string_pattern_mismatch",
        )),
    }
}
