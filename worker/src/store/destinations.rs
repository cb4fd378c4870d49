//! The `webhook_destinations` table: everything about a destination except its
//! secrets and key pairs, which live in the destination's Durable Object
//! (reads leave `public_key` for the caller to ask the object for). Webhook and
//! operational destinations share it, told apart by `kind`; every read and
//! write names the kind its path is about, so an id of one kind is unknown
//! under the other's paths.

use super::{bind, changes, db, n, opt_s, s};
use crate::error::Context;
use crate::http::internal;
use edgehook_core::destination::{
    DestinationChanges, DestinationView, Kind, NewDestination, Signing,
};
use edgehook_core::error::ApiError;
use edgehook_core::publish::Route;
use edgehook_core::time::rfc3339_ms;
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::Env;

#[derive(Debug, Deserialize)]
struct Row {
    id: String,
    url: String,
    name: Option<String>,
    accepted_types: String,
    retry_attempts: i64,
    timeout_seconds: i64,
    is_active: i64,
    max_per_second: Option<i64>,
    disabled_reason: Option<String>,
    disabled_at: Option<i64>,
    secret_generated_at: i64,
    created_at: i64,
    signing: String,
}

impl Row {
    /// The destination as reads return it, without its public key; a corrupt
    /// `accepted_types` or `signing` is an error (logged, 500), never read as
    /// an empty list or as HMAC.
    fn view(self) -> Result<DestinationView, ApiError> {
        let signing = Signing::parse(&self.signing).ok_or_else(|| {
            internal(format!(
                "destination {} has unknown signing {:?}",
                self.id, self.signing
            ))
        })?;
        Ok(DestinationView {
            accepted_types: accepted_types(&self.id, &self.accepted_types)?,
            id: self.id,
            url: self.url,
            secret_generated_at: rfc3339_ms(self.secret_generated_at),
            retry_attempts: self.retry_attempts,
            name: self.name,
            is_active: self.is_active != 0,
            timeout_seconds: self.timeout_seconds,
            max_per_second: self.max_per_second,
            disabled_reason: self.disabled_reason,
            disabled_at: self.disabled_at.map(rfc3339_ms),
            created_at: rfc3339_ms(self.created_at),
            signing,
            public_key: None,
        })
    }
}

/// A destination's stored `accepted_types` (a JSON array of strings).
fn accepted_types(id: &str, stored: &str) -> Result<Vec<String>, ApiError> {
    serde_json::from_str(stored).map_err(|e| {
        internal(format!(
            "destination {id} has unreadable accepted_types {stored:?}: {e}"
        ))
    })
}

const COLUMNS: &str = "id, url, name, accepted_types, retry_attempts, timeout_seconds, is_active, max_per_second, disabled_reason, disabled_at, secret_generated_at, created_at, signing";

/// Inserts a destination of `kind` unless the organization already has the
/// maximum of that kind; the count and the insert are one statement, so
/// concurrent creates cannot pass it.
pub async fn insert_within_limit(
    env: &Env,
    org_id: &str,
    id: &str,
    kind: Kind,
    d: &NewDestination,
    now_ms: i64,
) -> Result<(), ApiError> {
    let db = db(env)?;
    let types =
        serde_json::to_string(&d.accepted_types).ctx("destination: encode accepted_types")?;
    let stmt = bind(
        &db,
        "INSERT INTO webhook_destinations (id, org_id, url, name, accepted_types, retry_attempts, timeout_seconds, is_active, secret_generated_at, created_at, updated_at, max_per_second, kind, signing) \
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?9, ?11, ?12, ?13 \
         WHERE (SELECT COUNT(*) FROM webhook_destinations WHERE org_id = ?2 AND kind = ?12 AND deleted_at IS NULL) < ?10",
        &[
            s(id),
            s(org_id),
            s(&d.url),
            opt_s(d.name.as_deref()),
            s(&types),
            n(d.retry_attempts),
            n(d.timeout_seconds),
            n(d.is_active as i64),
            n(now_ms),
            n(kind.limit()),
            d.max_per_second.map(n).unwrap_or(JsValue::NULL),
            s(kind.as_str()),
            s(d.signing.as_str()),
        ],
    )?;
    let result = stmt.run().await.ctx("D1: insert a destination")?;
    if changes(&result)? == 0 {
        return Err(ApiError::BadRequest(format!(
            "the organization already has the maximum of {} {}s",
            kind.limit(),
            kind.noun()
        )));
    }
    Ok(())
}

/// Removes a row that was inserted for a create that could not complete.
pub async fn remove(env: &Env, org_id: &str, id: &str) -> Result<(), ApiError> {
    let db = db(env)?;
    bind(
        &db,
        "DELETE FROM webhook_destinations WHERE org_id = ?1 AND id = ?2",
        &[s(org_id), s(id)],
    )?
    .run()
    .await
    .ctx("D1: remove a destination whose create failed")?;
    Ok(())
}

/// The organization's destinations of `kind`, oldest first.
pub async fn list(env: &Env, org_id: &str, kind: Kind) -> Result<Vec<DestinationView>, ApiError> {
    let db = db(env)?;
    let sql = format!(
        "SELECT {COLUMNS} FROM webhook_destinations WHERE org_id = ?1 AND kind = ?2 AND deleted_at IS NULL ORDER BY created_at, id"
    );
    let rows: Vec<Row> = bind(&db, &sql, &[s(org_id), s(kind.as_str())])?
        .all()
        .await
        .ctx("D1: list the destinations")?
        .results()
        .ctx("D1: read the destinations")?;
    rows.into_iter().map(Row::view).collect()
}

/// One destination of the organization of `kind`, if it exists and is not deleted.
pub async fn get(
    env: &Env,
    org_id: &str,
    id: &str,
    kind: Kind,
) -> Result<Option<DestinationView>, ApiError> {
    let db = db(env)?;
    let sql = format!(
        "SELECT {COLUMNS} FROM webhook_destinations WHERE org_id = ?1 AND id = ?2 AND kind = ?3 AND deleted_at IS NULL"
    );
    let row: Option<Row> = bind(&db, &sql, &[s(org_id), s(id), s(kind.as_str())])?
        .first(None)
        .await
        .ctx("D1: read a destination")?;
    row.map(Row::view).transpose()
}

/// One destination of the organization of `kind`; 404 when it does not
/// exist (as that kind) or is deleted.
pub async fn require(
    env: &Env,
    org_id: &str,
    id: &str,
    kind: Kind,
) -> Result<DestinationView, ApiError> {
    get(env, org_id, id, kind)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("{} {id} not found", kind.noun())))
}

/// The organization's routing table: its destinations of both kinds (paused
/// ones too: they keep what they get as skipped) and the types each
/// accepts, oldest first.
pub async fn routes(env: &Env, org_id: &str) -> Result<Vec<Route>, ApiError> {
    #[derive(Deserialize)]
    struct RouteRow {
        id: String,
        accepted_types: String,
    }
    let db = db(env)?;
    let rows: Vec<RouteRow> = bind(
        &db,
        "SELECT id, accepted_types FROM webhook_destinations \
         WHERE org_id = ?1 AND deleted_at IS NULL ORDER BY created_at, id",
        &[s(org_id)],
    )?
    .all()
    .await
    .ctx("D1: read the routing table")?
    .results()
    .ctx("D1: read the routing table's rows")?;
    rows.into_iter()
        .map(|r| {
            Ok(Route {
                accepted_types: accepted_types(&r.id, &r.accepted_types)?,
                destination_id: r.id,
            })
        })
        .collect()
}

/// Applies changes; false when the destination does not exist (or is deleted).
pub async fn update(
    env: &Env,
    org_id: &str,
    id: &str,
    c: &DestinationChanges,
    now_ms: i64,
) -> Result<bool, ApiError> {
    let db = db(env)?;
    let types = match &c.accepted_types {
        Some(t) => s(&serde_json::to_string(t).ctx("destination: encode accepted_types")?),
        None => JsValue::NULL,
    };
    let opt_n = |v: Option<i64>| v.map(n).unwrap_or(JsValue::NULL);
    let stmt = bind(
        &db,
        "UPDATE webhook_destinations SET \
           accepted_types = COALESCE(?3, accepted_types), \
           retry_attempts = COALESCE(?4, retry_attempts), \
           timeout_seconds = COALESCE(?5, timeout_seconds), \
           is_active = COALESCE(?6, is_active), \
           disabled_reason = CASE WHEN ?6 IS NOT NULL THEN NULL ELSE disabled_reason END, \
           disabled_at = CASE WHEN ?6 IS NOT NULL THEN NULL ELSE disabled_at END, \
           name = CASE WHEN ?7 = 1 THEN ?8 ELSE name END, \
           max_per_second = CASE WHEN ?10 = 1 THEN ?11 ELSE max_per_second END, \
           updated_at = ?9 \
         WHERE org_id = ?1 AND id = ?2 AND deleted_at IS NULL",
        &[
            s(org_id),
            s(id),
            types,
            opt_n(c.retry_attempts),
            opt_n(c.timeout_seconds),
            opt_n(c.is_active.map(i64::from)),
            n(c.name.is_some() as i64),
            opt_s(c.name.clone().flatten().as_deref()),
            n(now_ms),
            n(c.max_per_second.is_some() as i64),
            opt_n(c.max_per_second.flatten()),
        ],
    )?;
    super::changed(stmt, "D1: update a destination").await
}

/// A change that marks a destination, made only while it is not deleted.
pub enum Mark {
    /// Deleted (its reads answer 404 from then on).
    Deleted,
    /// Disabled by the health ladder: it delivers nothing and says why until
    /// its owner sets `is_active: true`.
    Disabled,
    /// Its current secret was generated then (a rotation).
    Rotated,
}

/// Marks a destination at `at_ms`, with its `updated_at`; false when it was
/// unknown or deleted.
pub async fn mark(
    env: &Env,
    org_id: &str,
    id: &str,
    at_ms: i64,
    mark: Mark,
) -> Result<bool, ApiError> {
    let (set, what) = match mark {
        Mark::Deleted => ("deleted_at = ?3", "D1: mark a destination deleted"),
        Mark::Disabled => (
            "is_active = 0, disabled_reason = 'failing', disabled_at = ?3",
            "D1: disable a failing destination",
        ),
        Mark::Rotated => ("secret_generated_at = ?3", "D1: record a rotation"),
    };
    let db = db(env)?;
    let sql = format!(
        "UPDATE webhook_destinations SET {set}, updated_at = ?3 \
         WHERE org_id = ?1 AND id = ?2 AND deleted_at IS NULL"
    );
    let stmt = bind(&db, &sql, &[s(org_id), s(id), n(at_ms)])?;
    super::changed(stmt, what).await
}
