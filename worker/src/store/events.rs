//! The `webhook_events` table and, written with it in one batch, the event's
//! deliveries: a publish is stored whole or not at all, in one round trip.

use super::{bind, db, is_conflict, n, opt_s, s};
use crate::http::internal;
use edgehook_core::error::ApiError;
use serde::Deserialize;
use worker::Env;

/// A delivery created for an event, and where it goes.
#[derive(Debug, Deserialize)]
pub struct Created {
    pub id: String,
    pub destination_id: String,
}

/// What storing a publish did.
pub enum Stored {
    /// The event is new; one delivery per accepting destination.
    New(Vec<Created>),
    /// The organization already published with this idempotency key in the
    /// last 24 h: the first event's id and deliveries.
    Repeat {
        event_id: String,
        delivery_ids: Vec<String>,
    },
}

/// Stores the event and one `pending` delivery for each of the organization's
/// active destinations that accept its type; the destinations are chosen by the
/// same batch that writes, so no destination changes in between.
pub async fn insert(
    env: &Env,
    org_id: &str,
    event_id: &str,
    event_type: &str,
    body: &str,
    idempotency_key: Option<&str>,
    now_ms: i64,
) -> Result<Stored, ApiError> {
    let db = db(env)?;
    let batch = vec![
        bind(
            &db,
            "INSERT INTO webhook_events (id, org_id, type, body, idempotency_key, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            &[
                s(event_id),
                s(org_id),
                s(event_type),
                s(body),
                opt_s(idempotency_key),
                n(now_ms),
            ],
        )?,
        // Delivery ids: the creation second, then 8 random bytes (as edgehook_core::ids).
        bind(
            &db,
            "INSERT INTO webhook_deliveries (id, org_id, destination_id, event_id, type, state, created_at, updated_at) \
             SELECT printf('%08x', CAST(?4 / 1000 AS INTEGER)) || lower(hex(randomblob(8))), ?1, d.id, ?2, ?3, 'pending', ?4, ?4 \
             FROM webhook_destinations d \
             WHERE d.org_id = ?1 AND d.deleted_at IS NULL AND d.is_active = 1 \
               AND EXISTS (SELECT 1 FROM json_each(d.accepted_types) WHERE value = ?3) \
             ORDER BY d.created_at, d.id \
             RETURNING id, destination_id",
            &[s(org_id), s(event_id), s(event_type), n(now_ms)],
        )?,
    ];
    match db.batch(batch).await {
        Ok(results) => {
            let created = match results.get(1) {
                Some(r) => r.results::<Created>().map_err(internal)?,
                None => vec![],
            };
            Ok(Stored::New(created))
        }
        Err(e) if is_conflict(&e) => match idempotency_key {
            Some(key) => find_by_idempotency_key(env, org_id, key)
                .await?
                .ok_or_else(|| internal(e)),
            None => Err(internal(e)),
        },
        Err(e) => Err(internal(e)),
    }
}

/// The event first published with `key` by the organization in the last 24 h.
pub async fn find_by_idempotency_key(
    env: &Env,
    org_id: &str,
    key: &str,
) -> Result<Option<Stored>, ApiError> {
    #[derive(Deserialize)]
    struct Id {
        id: String,
    }
    let db = db(env)?;
    let event: Option<Id> = bind(
        &db,
        "SELECT id FROM webhook_events WHERE org_id = ?1 AND idempotency_key = ?2",
        &[s(org_id), s(key)],
    )?
    .first(None)
    .await
    .map_err(internal)?;
    let Some(event) = event else { return Ok(None) };
    let deliveries: Vec<Id> = bind(
        &db,
        "SELECT id FROM webhook_deliveries WHERE event_id = ?1 ORDER BY seq",
        &[s(&event.id)],
    )?
    .all()
    .await
    .map_err(internal)?
    .results()
    .map_err(internal)?;
    Ok(Some(Stored::Repeat {
        event_id: event.id,
        delivery_ids: deliveries.into_iter().map(|d| d.id).collect(),
    }))
}
