//! The `portal_sessions` table: customer-portal sessions, the API key that
//! minted each, their embedding origins, expiry and revocation. The tokens
//! themselves are never stored. A session is live while it is neither revoked
//! nor expired and its minting key still exists and has not expired; dead
//! sessions are purged when their organization mints one and by the cron job.

use super::{bind, changed, db, n, s};
use crate::error::Context;
use edgehook_core::error::ApiError;
use edgehook_core::portal::SessionRequest;
use serde::Deserialize;
use worker::Env;

/// The SQL condition of a live session `ps` at the time bound to `now`.
fn live(now: &str) -> String {
    format!(
        "ps.revoked_at IS NULL AND ps.expires_at > {now} AND EXISTS (SELECT 1 FROM api_keys k \
         WHERE k.id = ps.api_key_id AND (k.expires_at IS NULL OR k.expires_at > {now}))"
    )
}

/// Who mints a session, and until when it lives.
pub struct NewSession<'a> {
    pub id: &'a str,
    pub org_id: &'a str,
    pub created_by: &'a str,
    pub api_key_id: &'a str,
    pub expires_at_ms: i64,
}

/// Stores a session unless its organization already holds `max` live ones
/// (false then). Counting and inserting are one statement, so concurrent
/// mints never pass the cap together. The organization's dead sessions are
/// purged first.
pub async fn create(
    env: &Env,
    new: &NewSession<'_>,
    r: &SessionRequest,
    max: u32,
    now_ms: i64,
) -> Result<bool, ApiError> {
    purge(env, Some(new.org_id), now_ms).await?;
    let db = db(env)?;
    let origins =
        serde_json::to_string(&r.allowed_origins).ctx("portal session: encode allowed_origins")?;
    changed(
        bind(
            &db,
            &format!(
                "INSERT INTO portal_sessions (id, org_id, created_by, read_only, allowed_origins, \
             expires_at, created_at, api_key_id) \
             SELECT ?1, ?2, ?4, ?5, ?6, ?7, ?3, ?8 \
             WHERE (SELECT COUNT(*) FROM portal_sessions ps WHERE ps.org_id = ?2 AND {}) < ?9",
                live("?3")
            ),
            &[
                s(new.id),
                s(new.org_id),
                n(now_ms),
                s(new.created_by),
                n(i64::from(r.read_only)),
                s(&origins),
                n(new.expires_at_ms),
                s(new.api_key_id),
                n(i64::from(max)),
            ],
        )?,
        "D1: insert a portal session",
    )
    .await
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

/// Revokes every session the API key `api_key_id` minted; their ids.
pub async fn revoke_minted_by(
    env: &Env,
    api_key_id: &str,
    now_ms: i64,
) -> Result<Vec<String>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
    }
    let db = db(env)?;
    let rows: Vec<Row> = bind(
        &db,
        "UPDATE portal_sessions SET revoked_at = ?2 WHERE api_key_id = ?1 AND revoked_at IS NULL \
         RETURNING id",
        &[s(api_key_id), n(now_ms)],
    )?
    .all()
    .await
    .ctx("D1: end the sessions of a revoked key")?
    .results()
    .ctx("D1: read the sessions a revoked key ended")?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Whether the session is live: neither revoked nor expired, and minted by an
/// API key that still exists and has not expired.
pub async fn is_live(env: &Env, org_id: &str, id: &str, now_ms: i64) -> Result<bool, ApiError> {
    let db = db(env)?;
    let row: Option<i64> = bind(
        &db,
        &format!(
            "SELECT 1 AS live FROM portal_sessions ps WHERE ps.id = ?1 AND ps.org_id = ?2 AND {}",
            live("?3")
        ),
        &[s(id), s(org_id), n(now_ms)],
    )?
    .first(Some("live"))
    .await
    .ctx("D1: read whether a portal session is live")?;
    Ok(row.is_some())
}

/// Deletes the sessions that can never be live again (expired, revoked, or
/// minted by a key that is gone or expired), of one organization or of all.
/// Their rows serve nothing: a token of a session without a row is refused.
pub async fn purge(env: &Env, org_id: Option<&str>, now_ms: i64) -> Result<(), ApiError> {
    let db = db(env)?;
    bind(
        &db,
        &format!(
            "DELETE FROM portal_sessions WHERE id IN (SELECT ps.id FROM portal_sessions ps \
             WHERE (?1 IS NULL OR ps.org_id = ?1) AND NOT ({}))",
            live("?2")
        ),
        &[super::opt_s(org_id), n(now_ms)],
    )?
    .run()
    .await
    .ctx("D1: purge dead portal sessions")?;
    Ok(())
}
