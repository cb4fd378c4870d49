//! The scheduled job (wrangler cron): API-key expiry warnings, and the purge
//! of portal sessions that can never be live again. It touches only the
//! control plane, through the store; retention and retries belong to each
//! destination's object, and a publish is never acknowledged before its
//! deliveries are stored, so there is nothing else to sweep.

use crate::organization::client::OrganizationClient;
use crate::store::api_keys::{self, Expiring};
use crate::{config, store};
use edgehook_core::error::ApiError;
use edgehook_core::publish::system_key;
use edgehook_core::time::rfc3339_ms;
use serde_json::json;
use worker::Env;

/// Keys warned about per run; more wait for the next run.
const KEYS_PER_RUN: i64 = 500;

/// Runs the job. Each key is warned on its own: one that fails is logged and
/// tried again on the next run, and never keeps the others from being warned.
pub async fn run(env: &Env) {
    let keys = match expiring_keys(env).await {
        Ok(keys) => keys,
        Err(e) => {
            worker::console_error!("scheduled key expiry warnings: listing the keys failed: {e:?}");
            return;
        }
    };
    for key in keys {
        if let Err(e) = warn(env, &key).await {
            worker::console_error!(
                "scheduled key expiry warning of key {} (organization {}) failed; the next run tries again: {e:?}",
                key.id,
                key.org_id
            );
        }
    }
    if let Err(e) = store::portal_sessions::purge(env, None, config::now_ms()).await {
        worker::console_error!("scheduled portal session purge failed: {e:?}");
    }
}

async fn expiring_keys(env: &Env) -> Result<Vec<Expiring>, ApiError> {
    let settings = config::settings(env)?;
    let now = config::now_ms();
    api_keys::expiring_unwarned(
        env,
        now,
        now + settings.key_expiry_warning_seconds * 1000,
        KEYS_PER_RUN,
    )
    .await
}

/// Emits `api-key-expiration-soon` for one key and records it.
async fn warn(env: &Env, k: &Expiring) -> Result<(), ApiError> {
    config::fault(env, &format!("warn-expiring-key-of:{}", k.org_id))?;
    let body = json!({
        "type": "api-key-expiration-soon",
        "org_id": k.org_id,
        "api_key_id": k.id,
        "user_id": k.user_id,
        "expires_at": rfc3339_ms(k.expires_at),
    });
    // The idempotency key makes a warning published twice (a crash before
    // the key is marked) still a single event; it is in edgehook's own
    // namespace, which no tenant's publish may use.
    let idempotency_key = system_key("api-key-expiration-soon", &k.id);
    OrganizationClient::new(env, &k.org_id)?
        .publish(
            "api-key-expiration-soon",
            body.to_string(),
            Some(&idempotency_key),
        )
        .await?;
    api_keys::mark_warned(env, &k.id, config::now_ms()).await
}
