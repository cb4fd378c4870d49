//! The `portal_sessions` table: customer-portal sessions, their embedding
//! origins, expiry and revocation. The tokens themselves are never stored.

use super::{bind, changed, db, n, s};
use crate::http::internal;
use edgehook_core::error::ApiError;
use edgehook_core::portal::SessionRequest;
use worker::Env;

pub async fn create(
    env: &Env,
    id: &str,
    org_id: &str,
    created_by: &str,
    r: &SessionRequest,
    expires_at_ms: i64,
    now_ms: i64,
) -> Result<(), ApiError> {
    let db = db(env)?;
    let origins = serde_json::to_string(&r.allowed_origins).map_err(internal)?;
    bind(
        &db,
        "INSERT INTO portal_sessions (id, org_id, created_by, read_only, allowed_origins, expires_at, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &[
            s(id),
            s(org_id),
            s(created_by),
            n(i64::from(r.read_only)),
            s(&origins),
            n(expires_at_ms),
            n(now_ms),
        ],
    )?
    .run()
    .await
    .map_err(internal)?;
    Ok(())
}

/// Revokes a live session of the organization; false when there is none.
pub async fn revoke(env: &Env, org_id: &str, id: &str, now_ms: i64) -> Result<bool, ApiError> {
    let db = db(env)?;
    changed(
        bind(
            &db,
            "UPDATE portal_sessions SET revoked_at = ?3 WHERE id = ?1 AND org_id = ?2 \
         AND revoked_at IS NULL AND expires_at > ?3",
            &[s(id), s(org_id), n(now_ms)],
        )?,
        "D1: revoke a portal session",
    )
    .await
}

/// Whether the session is neither revoked nor expired.
pub async fn is_live(env: &Env, org_id: &str, id: &str, now_ms: i64) -> Result<bool, ApiError> {
    let db = db(env)?;
    let row: Option<i64> = bind(
        &db,
        "SELECT 1 AS live FROM portal_sessions WHERE id = ?1 AND org_id = ?2 \
         AND revoked_at IS NULL AND expires_at > ?3",
        &[s(id), s(org_id), n(now_ms)],
    )?
    .first(Some("live"))
    .await
    .map_err(internal)?;
    Ok(row.is_some())
}

/// Whether some live session lets pages of `origin` frame the portal.
pub async fn origin_may_frame(env: &Env, origin: &str, now_ms: i64) -> Result<bool, ApiError> {
    let db = db(env)?;
    let row: Option<i64> = bind(
        &db,
        "SELECT 1 AS allowed FROM portal_sessions WHERE revoked_at IS NULL AND expires_at > ?2 \
         AND EXISTS (SELECT 1 FROM json_each(allowed_origins) WHERE value = ?1) LIMIT 1",
        &[s(origin), n(now_ms)],
    )?
    .first(Some("allowed"))
    .await
    .map_err(internal)?;
    Ok(row.is_some())
}
