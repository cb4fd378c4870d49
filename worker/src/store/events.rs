//! The `webhook_events` table and, written with it in one batch, the event's
//! deliveries: a publish is stored whole or not at all.

use super::{bind, db, n, opt_s, s};
use crate::http::internal;
use edgehook_core::error::ApiError;
use serde::Deserialize;
use worker::Env;

/// A stored event as a repeated `Idempotency-Key` finds it.
#[derive(Debug, Deserialize)]
struct Stored {
    response: String,
}

/// One delivery to create with the event.
pub struct NewDelivery<'a> {
    pub id: &'a str,
    pub destination_id: &'a str,
}

/// The event stored with its deliveries, or `Err(Some(first_response))` when the
/// organization already published with this idempotency key in the last 24 h.
#[allow(clippy::too_many_arguments)]
pub async fn insert(
    env: &Env,
    org_id: &str,
    event_id: &str,
    event_type: &str,
    body: &str,
    idempotency_key: Option<&str>,
    response: &str,
    deliveries: &[NewDelivery<'_>],
    now_ms: i64,
) -> Result<Result<(), String>, ApiError> {
    let db = db(env)?;
    let mut batch = vec![bind(
        &db,
        "INSERT INTO webhook_events (id, org_id, type, body, idempotency_key, response, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &[
            s(event_id),
            s(org_id),
            s(event_type),
            s(body),
            opt_s(idempotency_key),
            s(response),
            n(now_ms),
        ],
    )?];
    for d in deliveries {
        batch.push(bind(
            &db,
            "INSERT INTO webhook_deliveries (id, org_id, destination_id, event_id, type, state, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6)",
            &[s(d.id), s(org_id), s(d.destination_id), s(event_id), s(event_type), n(now_ms)],
        )?);
    }
    match db.batch(batch).await {
        Ok(_) => Ok(Ok(())),
        Err(e) if super::is_conflict(&e) => match idempotency_key {
            Some(key) => find_by_idempotency_key(env, org_id, key)
                .await?
                .map(Err)
                .ok_or_else(|| internal(e)),
            None => Err(internal(e)),
        },
        Err(e) => Err(internal(e)),
    }
}

/// The first answer to an idempotency key used in the last 24 h, if any.
pub async fn find_by_idempotency_key(
    env: &Env,
    org_id: &str,
    key: &str,
) -> Result<Option<String>, ApiError> {
    let db = db(env)?;
    let row: Option<Stored> = bind(
        &db,
        "SELECT response FROM webhook_events WHERE org_id = ?1 AND idempotency_key = ?2",
        &[s(org_id), s(key)],
    )?
    .first(None)
    .await
    .map_err(internal)?;
    Ok(row.map(|r| r.response))
}
