//! The scheduled job (wrangler cron): retention, API-key expiry warnings, and
//! the sweep that hands unsent deliveries to their destinations' objects.

use crate::destination_object::{self, Queued};
use crate::http::internal;
use crate::store::{bind, db, n, s};
use crate::{api, config};
use edgehook_core::error::ApiError;
use edgehook_core::time::rfc3339_ms;
use serde::Deserialize;
use serde_json::json;
use worker::Env;

/// A delivery younger than this is still in its first hand-off, not lost.
const SWEEP_AFTER_MS: i64 = 60_000;
const IDEMPOTENCY_WINDOW_MS: i64 = 24 * 3600 * 1000;

/// Runs every part; one failing does not stop the others.
pub async fn run(env: &Env) {
    for (name, result) in [
        ("retention", purge(env).await),
        ("key expiry", warn_expiring_keys(env).await),
        ("sweep", sweep_unsent(env).await),
    ] {
        if let Err(e) = result {
            worker::console_error!("scheduled {name} failed: {e:?}");
        }
    }
}

/// Deletes deliveries past retention with their attempts and events, and
/// forgets idempotency keys older than 24 h.
async fn purge(env: &Env) -> Result<(), ApiError> {
    let settings = config::settings(env)?;
    let now = config::now_ms();
    let cutoff = now - settings.delivery_retention_seconds * 1000;
    let db = db(env)?;
    db.batch(vec![
        bind(&db, "DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE created_at < ?1)", &[n(cutoff)])?,
        bind(&db, "DELETE FROM webhook_deliveries WHERE created_at < ?1", &[n(cutoff)])?,
        bind(&db, "DELETE FROM webhook_events WHERE created_at < ?1 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)", &[n(cutoff)])?,
        bind(&db, "UPDATE webhook_events SET idempotency_key = NULL WHERE idempotency_key IS NOT NULL AND created_at < ?1", &[n(now - IDEMPOTENCY_WINDOW_MS)])?,
    ])
    .await
    .map_err(internal)?;
    Ok(())
}

/// Emits `api-key-expiration-soon` once per key expiring within the warning window.
async fn warn_expiring_keys(env: &Env) -> Result<(), ApiError> {
    #[derive(Deserialize)]
    struct Key {
        id: String,
        org_id: String,
        user_id: String,
        expires_at: i64,
    }
    let settings = config::settings(env)?;
    let now = config::now_ms();
    let db = db(env)?;
    let keys: Vec<Key> = bind(
        &db,
        "SELECT id, org_id, user_id, expires_at FROM api_keys WHERE expiry_notified_at IS NULL AND expires_at IS NOT NULL AND expires_at > ?1 AND expires_at <= ?2 LIMIT 500",
        &[n(now), n(now + settings.key_expiry_warning_seconds * 1000)],
    )?
    .all()
    .await
    .map_err(internal)?
    .results()
    .map_err(internal)?;
    for k in keys {
        let body = json!({
            "type": "api-key-expiration-soon",
            "org_id": k.org_id,
            "api_key_id": k.id,
            "user_id": k.user_id,
            "expires_at": rfc3339_ms(k.expires_at),
        });
        // The idempotency key makes a warning published twice (a crash before
        // the key is marked) still a single event.
        let idempotency_key = format!("api-key-expiration-soon:{}", k.id);
        api::events::publish(
            env,
            &k.org_id,
            "api-key-expiration-soon",
            body.to_string(),
            Some(&idempotency_key),
        )
        .await?;
        bind(
            &db,
            "UPDATE api_keys SET expiry_notified_at = ?2 WHERE id = ?1",
            &[s(&k.id), n(now)],
        )?
        .run()
        .await
        .map_err(internal)?;
    }
    Ok(())
}

/// Hands again to their objects the deliveries stored but never attempted
/// (a publish cut off between storing and hand-off). Enqueueing is idempotent.
async fn sweep_unsent(env: &Env) -> Result<(), ApiError> {
    #[derive(Deserialize)]
    struct Unsent {
        id: String,
        destination_id: String,
        #[serde(rename = "type")]
        event_type: String,
        body: String,
    }
    let db = db(env)?;
    let unsent: Vec<Unsent> = bind(
        &db,
        "SELECT d.id, d.destination_id, d.type, e.body FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id \
         WHERE d.attempt_count = 0 AND d.state = 'pending' AND d.created_at < ?1 LIMIT 500",
        &[n(config::now_ms() - SWEEP_AFTER_MS)],
    )?
    .all()
    .await
    .map_err(internal)?
    .results()
    .map_err(internal)?;
    for u in unsent {
        let unsent = Queued {
            delivery_id: u.id.clone(),
            event_type: u.event_type,
            body: u.body,
            attempts_before: 0,
        };
        let resp = destination_object::enqueue(env, &u.destination_id, unsent).await?;
        if resp.status_code() == 404 {
            crate::store::deliveries::mark_failed(env, &[u.id], config::now_ms()).await?;
        }
    }
    Ok(())
}
