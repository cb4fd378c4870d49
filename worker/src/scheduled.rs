//! The scheduled job (wrangler cron): API-key expiry warnings, and the purge
//! of portal sessions that can never be live again. It touches only the
//! control plane; retention and retries belong to each destination's object,
//! and a publish is never acknowledged before its deliveries are stored, so
//! there is nothing else to sweep.

use crate::http::internal;
use crate::organization::client::OrganizationClient;
use crate::store::{bind, db, n, s};
use crate::{config, store};
use edgehook_core::error::ApiError;
use edgehook_core::time::rfc3339_ms;
use serde::Deserialize;
use serde_json::json;
use worker::Env;

/// Runs the job; a failure is logged and the next run tries again.
pub async fn run(env: &Env) {
    if let Err(e) = warn_expiring_keys(env).await {
        worker::console_error!("scheduled key expiry warnings failed: {e:?}");
    }
    if let Err(e) = store::portal_sessions::purge(env, None, config::now_ms()).await {
        worker::console_error!("scheduled portal session purge failed: {e:?}");
    }
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
        OrganizationClient::new(env, &k.org_id)?
            .publish(
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
