//! `GET /healthz`: whether this deployment is configured, for the run command,
//! the test harness and uptime checks. Needs no credentials and touches no
//! storage; it names each missing or invalid setting, never its value.

use crate::config;
use crate::error::Context;
use crate::http;
use edgehook_core::error::ApiError;
use edgehook_core::health::problems;
use serde_json::json;
use worker::{Env, Response};

pub fn handle(env: &Env) -> Result<Response, ApiError> {
    let problems = problems(
        |name| config::raw(env, name),
        |binding| match binding {
            "DB" => env.d1(binding).is_ok(),
            "KV" => env.kv(binding).is_ok(),
            _ => env.durable_object(binding).is_ok(),
        },
    );
    let mut resp = if problems.is_empty() {
        http::json(200, &json!({ "status": "ok" }))?
    } else {
        http::json(
            503,
            &json!({ "status": "misconfigured", "problems": problems }),
        )?
    };
    resp.headers_mut()
        .set("cache-control", "no-store")
        .ctx("response: set cache-control")?;
    Ok(resp)
}
