//! The operator's maintenance switch, in KV: read on every `/v1` call, written
//! rarely; a change may take up to a minute to reach every location.

use crate::http::internal;
use edgehook_core::error::ApiError;
use serde::{Deserialize, Serialize};
use worker::Env;

const KEY: &str = "maintenance";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Maintenance {
    pub enabled: bool,
    pub retry_after_seconds: u64,
}

/// The switch, or `None` when never set.
pub async fn get(env: &Env) -> Result<Option<Maintenance>, ApiError> {
    let kv = env.kv("KV").map_err(internal)?;
    kv.get(KEY).json::<Maintenance>().await.map_err(internal)
}

pub async fn set(env: &Env, m: &Maintenance) -> Result<(), ApiError> {
    let kv = env.kv("KV").map_err(internal)?;
    kv.put(KEY, m)
        .map_err(internal)?
        .execute()
        .await
        .map_err(internal)
}
