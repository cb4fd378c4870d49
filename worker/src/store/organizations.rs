//! The `organizations` table.

use super::{bind, db, is_conflict, n, s};
use crate::error::Context;
use crate::http::internal;
use edgehook_core::error::ApiError;
use worker::Env;

/// Creates an organization; 409 when the id is taken.
pub async fn create(env: &Env, id: &str, now_ms: i64) -> Result<(), ApiError> {
    let db = db(env)?;
    match bind(
        &db,
        "INSERT INTO organizations (id, created_at) VALUES (?1, ?2)",
        &[s(id), n(now_ms)],
    )?
    .run()
    .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_conflict(&e) => Err(ApiError::Conflict(format!(
            "organization {id} already exists"
        ))),
        Err(e) => Err(internal(e)),
    }
}

pub async fn exists(env: &Env, id: &str) -> Result<bool, ApiError> {
    let db = db(env)?;
    let row: Option<i64> = bind(
        &db,
        "SELECT 1 AS found FROM organizations WHERE id = ?1",
        &[s(id)],
    )?
    .first(Some("found"))
    .await
    .ctx("D1: insert an organization")?;
    Ok(row.is_some())
}
