//! The `users` table: each user's permissions, as a JSON array.

use super::{bind, db, is_conflict, n, s};
use crate::error::Context;
use crate::http::internal;
use edgehook_core::error::ApiError;
use worker::Env;

/// Creates a user; 409 when the id is taken in the organization.
pub async fn create(
    env: &Env,
    org_id: &str,
    user_id: &str,
    permissions: &[String],
    now_ms: i64,
) -> Result<(), ApiError> {
    let db = db(env)?;
    let perms = serde_json::to_string(permissions).ctx("user: encode permissions")?;
    let stmt = bind(
        &db,
        "INSERT INTO users (org_id, id, permissions, created_at) VALUES (?1, ?2, ?3, ?4)",
        &[s(org_id), s(user_id), s(&perms), n(now_ms)],
    )?;
    match stmt.run().await {
        Ok(_) => Ok(()),
        Err(e) if is_conflict(&e) => {
            Err(ApiError::Conflict(format!("user {user_id} already exists")))
        }
        Err(e) => Err(internal(e)),
    }
}

pub async fn exists(env: &Env, org_id: &str, user_id: &str) -> Result<bool, ApiError> {
    let db = db(env)?;
    let row: Option<i64> = bind(
        &db,
        "SELECT 1 AS found FROM users WHERE org_id = ?1 AND id = ?2",
        &[s(org_id), s(user_id)],
    )?
    .first(Some("found"))
    .await
    .ctx("D1: read whether a user exists")?;
    Ok(row.is_some())
}
