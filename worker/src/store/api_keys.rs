//! The `api_keys` table: keys are stored as SHA-256 hashes, never in clear.
//! Revoking a key deletes its row; each isolate keeps what it last read about
//! a key for a short while, so a token's check usually costs no query.

use super::{bind, changed, db, n, s};
use crate::error::Context;
use edgehook_core::api_key::KeyStatusCache;
use edgehook_core::auth::Principal;
use edgehook_core::error::ApiError;
use edgehook_core::portal;
use serde::Deserialize;
use std::cell::RefCell;
use wasm_bindgen::JsValue;
use worker::Env;

/// A key with its user's permissions, as sign-in needs it.
#[derive(Debug, Deserialize)]
pub struct KeyRecord {
    pub org_id: String,
    pub user_id: String,
    pub key_hash: String,
    pub expires_at: Option<i64>,
    pub permissions: String,
}

pub async fn create(
    env: &Env,
    id: &str,
    org_id: &str,
    user_id: &str,
    key_hash: &str,
    expires_at: Option<i64>,
    now_ms: i64,
) -> Result<(), ApiError> {
    let db = db(env)?;
    let expires = expires_at.map(n).unwrap_or(JsValue::NULL);
    bind(
        &db,
        "INSERT INTO api_keys (id, org_id, user_id, key_hash, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &[s(id), s(org_id), s(user_id), s(key_hash), expires, n(now_ms)],
    )?
    .run()
    .await
    .ctx("D1: insert an API key")?;
    Ok(())
}

/// The key `id` with its user's permissions, if both exist.
pub async fn get(env: &Env, id: &str) -> Result<Option<KeyRecord>, ApiError> {
    let db = db(env)?;
    bind(
        &db,
        "SELECT k.org_id, k.user_id, k.key_hash, k.expires_at, u.permissions FROM api_keys k \
         JOIN users u ON u.org_id = k.org_id AND u.id = k.user_id WHERE k.id = ?1",
        &[s(id)],
    )?
    .first(None)
    .await
    .ctx("D1: read an API key")
    .map_err(Into::into)
}

/// Revokes the key `id` of `user_id` in `org_id`; false when there is no such key.
pub async fn delete(env: &Env, org_id: &str, user_id: &str, id: &str) -> Result<bool, ApiError> {
    let db = db(env)?;
    let deleted = changed(
        bind(
            &db,
            "DELETE FROM api_keys WHERE id = ?1 AND org_id = ?2 AND user_id = ?3",
            &[s(id), s(org_id), s(user_id)],
        )?,
        "D1: delete an API key",
    )
    .await?;
    if deleted {
        // This isolate knows at once; the others within the cache's lifetime.
        KEY_STATUS.with_borrow_mut(|c| c.put(id, false, crate::config::now_ms()));
    }
    Ok(deleted)
}

/// A key that expires soon and whose owner was not warned yet.
#[derive(Debug, Deserialize)]
pub struct Expiring {
    pub id: String,
    pub org_id: String,
    pub user_id: String,
    pub expires_at: i64,
}

/// Up to `limit` keys expiring after `from_ms` and by `until_ms` whose
/// warning was not sent yet.
pub async fn expiring_unwarned(
    env: &Env,
    from_ms: i64,
    until_ms: i64,
    limit: i64,
) -> Result<Vec<Expiring>, ApiError> {
    let db = db(env)?;
    bind(
        &db,
        "SELECT id, org_id, user_id, expires_at FROM api_keys WHERE expiry_notified_at IS NULL \
         AND expires_at IS NOT NULL AND expires_at > ?1 AND expires_at <= ?2 LIMIT ?3",
        &[n(from_ms), n(until_ms), n(limit)],
    )?
    .all()
    .await
    .ctx("D1: list the keys that expire soon")?
    .results()
    .ctx("D1: read the keys that expire soon")
    .map_err(Into::into)
}

/// Records that key `id`'s expiry warning was sent.
pub async fn mark_warned(env: &Env, id: &str, now_ms: i64) -> Result<(), ApiError> {
    let db = db(env)?;
    bind(
        &db,
        "UPDATE api_keys SET expiry_notified_at = ?2 WHERE id = ?1",
        &[s(id), n(now_ms)],
    )?
    .run()
    .await
    .ctx("D1: record a key's expiry warning")?;
    Ok(())
}

thread_local! {
    /// What this isolate last read about the keys of the tokens it saw.
    static KEY_STATUS: RefCell<KeyStatusCache> = RefCell::new(KeyStatusCache::default());
}

/// 401 when the API key the caller's token was signed in with has been
/// revoked, or when the portal session a token belongs to was revoked or
/// ended, or its minting key was revoked or expired.
pub async fn require_active(env: &Env, caller: &Principal, now_ms: i64) -> Result<(), ApiError> {
    // A minting key this isolate saw revoked ends its sessions at once.
    let minter_revoked = caller
        .minted_by
        .as_ref()
        .is_some_and(|actor| KEY_STATUS.with_borrow(|c| c.get(&actor.kid, now_ms)) == Some(false));
    let known = if minter_revoked {
        Some(false)
    } else {
        KEY_STATUS.with_borrow(|c| c.get(&caller.key_id, now_ms))
    };
    let active = match known {
        Some(active) => active,
        None if portal::session_of(&caller.user_id).is_some() => {
            let live = super::portal_sessions::is_live(env, &caller.org_id, &caller.key_id, now_ms)
                .await?;
            KEY_STATUS.with_borrow_mut(|c| c.put(&caller.key_id, live, now_ms));
            live
        }
        None => {
            let db = db(env)?;
            let row: Option<i64> = bind(
                &db,
                "SELECT 1 AS found FROM api_keys WHERE id = ?1 AND org_id = ?2 AND user_id = ?3",
                &[s(&caller.key_id), s(&caller.org_id), s(&caller.user_id)],
            )?
            .first(Some("found"))
            .await
            .ctx("D1: read whether an API key is active")?;
            let active = row.is_some();
            KEY_STATUS.with_borrow_mut(|c| c.put(&caller.key_id, active, now_ms));
            active
        }
    };
    match (active, portal::session_of(&caller.user_id)) {
        (true, _) => Ok(()),
        (false, Some(_)) => Err(ApiError::Unauthorized(
            "invalid token: the portal session was revoked or has ended".into(),
        )),
        (false, None) => Err(ApiError::Unauthorized(
            "invalid token: its API key was revoked".into(),
        )),
    }
}

/// Records in this isolate that a session's tokens no longer work (the other
/// isolates learn it within `KEY_STATUS_TTL_MS`).
pub fn forget(id: &str, now_ms: i64) {
    KEY_STATUS.with_borrow_mut(|c| c.put(id, false, now_ms));
}
