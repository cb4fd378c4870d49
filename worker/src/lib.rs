//! edgehook's Cloudflare Worker.
//!
//! - `lib.rs`: the entry point; requests are matched against the route table of
//!   `edgehook_core::routes` and handed to one module of [`api`].
//! - [`api`]: one module per resource (destinations, sign-in, operator, OpenAPI).
//! - [`context`]: what every `/v1` call goes through first: maintenance mode,
//!   authentication, the organization check, permissions, rate limits.
//! - [`store`]: the control plane in D1, one module per table; KV for the
//!   maintenance switch.
//! - [`organization`]: one Durable Object per organization, the hop every
//!   publish makes: quota, idempotency keys, routing, fan-out.
//! - [`destination`]: one Durable Object per destination; it holds the
//!   destination's secrets, applies its changes one at a time, and owns its
//!   delivery queue, delivery runs, retry alarms and delivery log.
//! - [`objects`]: how the worker and the objects talk (typed commands and replies).
//! - [`delivery`]: one signed attempt over HTTP, with its timeout.
//! - [`rate_limiter`]: the Durable Object that counts requests per user and endpoint.
//! - [`scheduled`]: the cron job (API-key expiry warnings).
//! - [`http`], [`config`]: responses and errors on the wire; settings and secrets.
//! - [`error`]: runtime and storage failures, named by the call that failed.
//!
//! Every rule that can be decided without the runtime lives in `edgehook_core`.

mod api;
mod config;
mod context;
mod delivery;
mod destination;
mod error;
mod http;
mod objects;
mod organization;
mod rate_limiter;
mod scheduled;
mod store;

pub use destination::object::DestinationObject;
pub use organization::object::OrganizationObject;
pub use rate_limiter::RateLimiter;

use edgehook_core::routes::{NoRoute, match_route};
use worker::{Context, Env, Request, Response, Result, ScheduleContext, ScheduledEvent, event};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let method = req.method().to_string();
    let path = req.path();
    if path == "/portal" || path.starts_with("/portal/") {
        return match api::portal::page(req, &env) {
            Ok(resp) => Ok(resp),
            Err(e) => http::error(&e),
        };
    }
    let matched = match match_route(&method, &path) {
        Ok(m) => m,
        Err(NoRoute::NotFound) => {
            return http::error(&edgehook_core::error::ApiError::NotFound(format!(
                "no route for {path}"
            )));
        }
        Err(NoRoute::MethodNotAllowed) => return Response::error("method not allowed", 405),
    };
    match api::dispatch(req, &env, &matched).await {
        Ok(resp) => Ok(resp),
        Err(e) => http::error(&e),
    }
}

#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    scheduled::run(&env).await;
}
