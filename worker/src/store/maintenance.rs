//! The operator's maintenance switch, in KV: written rarely, read on every
//! `/v1` call. Each isolate keeps what it read for a few seconds, so the hot
//! path rarely waits on KV; a change reaches the isolate that made it at once
//! and every other within KV's propagation delay (up to a minute) plus that.

use crate::error::Context;
use edgehook_core::error::ApiError;
use serde::{Deserialize, Serialize};
use worker::Env;

const KEY: &str = "maintenance";
/// How long an isolate trusts the switch it last read.
const CACHE_MS: i64 = 5_000;

thread_local! {
    /// (read at, value) of the last read in this isolate.
    static CACHED: std::cell::RefCell<Option<(i64, Option<Maintenance>)>> = const { std::cell::RefCell::new(None) };
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Maintenance {
    pub enabled: bool,
    pub retry_after_seconds: u64,
}

/// The switch, or `None` when never set.
pub async fn get(env: &Env) -> Result<Option<Maintenance>, ApiError> {
    let now = crate::config::now_ms();
    let cached = CACHED.with_borrow(|c| c.clone());
    if let Some((_, value)) = cached.filter(|(at, _)| now - at < CACHE_MS) {
        return Ok(value);
    }
    let kv = env.kv("KV").ctx("KV: open the binding")?;
    let value = kv
        .get(KEY)
        .json::<Maintenance>()
        .await
        .ctx("KV: read the maintenance switch")?;
    CACHED.set(Some((now, value.clone())));
    Ok(value)
}

pub async fn set(env: &Env, m: &Maintenance) -> Result<(), ApiError> {
    let kv = env.kv("KV").ctx("KV: open the binding")?;
    kv.put(KEY, m)
        .ctx("KV: write the maintenance switch")?
        .execute()
        .await
        .ctx("KV: write the maintenance switch")?;
    CACHED.set(Some((crate::config::now_ms(), Some(m.clone()))));
    Ok(())
}
