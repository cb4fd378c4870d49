//! The `api_keys` table: keys are stored as SHA-256 hashes, never in clear.

use super::{bind, db, n, s};
use crate::http::internal;
use edgehook_core::error::ApiError;
use serde::Deserialize;
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
    .map_err(internal)?;
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
    .map_err(internal)
}
