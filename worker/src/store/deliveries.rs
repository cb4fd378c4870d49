//! The `webhook_deliveries` and `delivery_attempts` tables: the record of every
//! delivery and attempt, which the deliveries endpoints read and the
//! destination objects write.

use super::{bind, changes, db, n, opt_s, s};
use crate::http::internal;
use edgehook_core::deliveries_query::{DeliveryQuery, Param, next_token, page_sql};
use edgehook_core::delivery::{AttemptView, DeliveryView, State};
use edgehook_core::error::ApiError;
use edgehook_core::time::rfc3339_ms;
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1PreparedStatement, Env};

#[derive(Debug, Deserialize)]
struct Row {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    state: String,
    next_retry_at: Option<i64>,
    dual_signed: i64,
    created_at: i64,
    body: String,
}

#[derive(Debug, Deserialize)]
struct AttemptRow {
    delivery_id: String,
    attempted_at: i64,
    status_code: i64,
    duration_ms: i64,
    error: Option<String>,
}

/// A page of a destination's deliveries, with `has_more` and the next token.
pub async fn page(
    env: &Env,
    org_id: &str,
    destination_id: &str,
    q: &DeliveryQuery,
) -> Result<(Vec<DeliveryView>, bool, Option<i64>), ApiError> {
    let db = db(env)?;
    let snapshot = match q.token {
        Some(t) => t.snapshot_seq,
        None => bind(
            &db,
            "SELECT COALESCE(MAX(seq), 0) AS seq FROM webhook_deliveries WHERE destination_id = ?1",
            &[s(destination_id)],
        )?
        .first::<i64>(Some("seq"))
        .await
        .map_err(internal)?
        .unwrap_or(0),
    };
    let (sql, params) = page_sql(org_id, destination_id, q, snapshot);
    let params: Vec<JsValue> = params
        .into_iter()
        .map(|p| match p {
            Param::Text(t) => s(&t),
            Param::Int(i) => n(i),
        })
        .collect();
    let mut rows: Vec<Row> = bind(&db, &sql, &params)?
        .all()
        .await
        .map_err(internal)?
        .results()
        .map_err(internal)?;
    let (has_more, token) = next_token(q, snapshot, rows.len());
    rows.truncate(q.limit as usize);
    Ok((with_attempts(env, rows).await?, has_more, token))
}

/// One delivery of a destination with every attempt.
pub async fn get(
    env: &Env,
    org_id: &str,
    destination_id: &str,
    id: &str,
) -> Result<Option<DeliveryView>, ApiError> {
    let db = db(env)?;
    let row: Option<Row> = bind(
        &db,
        "SELECT d.id, d.type, d.state, d.next_retry_at, d.dual_signed, d.created_at, e.body \
         FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id \
         WHERE d.org_id = ?1 AND d.destination_id = ?2 AND d.id = ?3",
        &[s(org_id), s(destination_id), s(id)],
    )?
    .first(None)
    .await
    .map_err(internal)?;
    Ok(match row {
        Some(r) => with_attempts(env, vec![r]).await?.pop(),
        None => None,
    })
}

async fn with_attempts(env: &Env, rows: Vec<Row>) -> Result<Vec<DeliveryView>, ApiError> {
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let db = db(env)?;
    let ids =
        serde_json::to_string(&rows.iter().map(|r| &r.id).collect::<Vec<_>>()).map_err(internal)?;
    let attempts: Vec<AttemptRow> = bind(
        &db,
        "SELECT delivery_id, attempted_at, status_code, duration_ms, error FROM delivery_attempts \
         WHERE delivery_id IN (SELECT value FROM json_each(?1)) ORDER BY delivery_id, attempt_no",
        &[s(&ids)],
    )?
    .all()
    .await
    .map_err(internal)?
    .results()
    .map_err(internal)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let state = State::parse(&r.state).unwrap_or(State::Pending);
            DeliveryView {
                delivery_attempts: attempts
                    .iter()
                    .filter(|a| a.delivery_id == r.id)
                    .map(|a| AttemptView {
                        delivery_time: rfc3339_ms(a.attempted_at),
                        status_code: a.status_code as u16,
                        duration_ms: a.duration_ms,
                        error: a.error.clone(),
                    })
                    .collect(),
                webhook_content: serde_json::from_str(&r.body).unwrap_or(serde_json::Value::Null),
                id: r.id,
                event_type: r.event_type,
                status: state.status().to_string(),
                dual_signed: r.dual_signed != 0,
                created_at: rfc3339_ms(r.created_at),
                state,
                next_retry_at: r.next_retry_at.map(rfc3339_ms),
            }
        })
        .collect())
}

/// One finished attempt, as a destination object reports it.
pub struct AttemptRecord {
    pub delivery_id: String,
    pub attempt_no: u32,
    pub attempted_at_ms: i64,
    pub status_code: u16,
    pub duration_ms: i64,
    pub error: Option<String>,
    pub dual_signed: bool,
    pub state: State,
    pub next_retry_at_ms: Option<i64>,
}

/// Writes attempts and the deliveries' new states in one batch.
pub async fn record_attempts(env: &Env, records: &[AttemptRecord]) -> Result<(), ApiError> {
    if records.is_empty() {
        return Ok(());
    }
    let db = db(env)?;
    let mut batch: Vec<D1PreparedStatement> = Vec::with_capacity(records.len() * 2);
    for r in records {
        batch.push(bind(
            &db,
            "INSERT OR REPLACE INTO delivery_attempts (delivery_id, attempt_no, attempted_at, status_code, duration_ms, error, dual_signed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            &[s(&r.delivery_id), n(r.attempt_no as i64), n(r.attempted_at_ms), n(r.status_code as i64), n(r.duration_ms), opt_s(r.error.as_deref()), n(r.dual_signed as i64)],
        )?);
        batch.push(bind(
            &db,
            "UPDATE webhook_deliveries SET state = ?2, attempt_count = MAX(attempt_count, ?3), next_retry_at = ?4, \
             dual_signed = MAX(dual_signed, ?5), updated_at = ?6 WHERE id = ?1",
            &[s(&r.delivery_id), s(r.state.as_str()), n(r.attempt_no as i64), r.next_retry_at_ms.map(n).unwrap_or(JsValue::NULL), n(r.dual_signed as i64), n(r.attempted_at_ms + r.duration_ms)],
        )?);
    }
    db.batch(batch).await.map_err(internal)?;
    Ok(())
}

/// Ends deliveries that can no longer be attempted (their destination was deleted).
pub async fn mark_failed(env: &Env, ids: &[String], now_ms: i64) -> Result<(), ApiError> {
    if ids.is_empty() {
        return Ok(());
    }
    let db = db(env)?;
    let ids = serde_json::to_string(ids).map_err(internal)?;
    bind(
        &db,
        "UPDATE webhook_deliveries SET state = 'failed', next_retry_at = NULL, updated_at = ?2 \
         WHERE id IN (SELECT value FROM json_each(?1)) AND state IN ('pending', 'retrying')",
        &[s(&ids), n(now_ms)],
    )?
    .run()
    .await
    .map_err(internal)?;
    Ok(())
}

/// What a destination object needs to send a delivery again.
#[derive(Debug, Deserialize)]
pub struct Resend {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub body: String,
    pub attempt_count: u32,
}

/// Puts a failed delivery back to `pending` for a manual retry. `Ok(None)` when
/// it exists but is not failed (409); `Err(NotFound)` when it does not exist.
pub async fn reopen_failed(
    env: &Env,
    org_id: &str,
    destination_id: &str,
    id: &str,
    now_ms: i64,
) -> Result<Option<Resend>, ApiError> {
    let db = db(env)?;
    let result = bind(
        &db,
        "UPDATE webhook_deliveries SET state = 'pending', next_retry_at = NULL, updated_at = ?4 \
         WHERE org_id = ?1 AND destination_id = ?2 AND id = ?3 AND state = 'failed'",
        &[s(org_id), s(destination_id), s(id), n(now_ms)],
    )?
    .run()
    .await
    .map_err(internal)?;
    let row: Option<Resend> = bind(
        &db,
        "SELECT d.id, d.type, e.body, d.attempt_count FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id \
         WHERE d.org_id = ?1 AND d.destination_id = ?2 AND d.id = ?3",
        &[s(org_id), s(destination_id), s(id)],
    )?
    .first(None)
    .await
    .map_err(internal)?;
    match row {
        None => Err(ApiError::NotFound(format!(
            "webhook delivery {id} not found"
        ))),
        Some(r) if changes(&result) > 0 => Ok(Some(r)),
        Some(_) => Ok(None),
    }
}
