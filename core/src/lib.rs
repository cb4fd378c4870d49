//! edgehook's pure core: every decision the worker makes that does not need the
//! Workers runtime, written as plain Rust and tested on the host.
//!
//! - [`error`]: the API's error type and how it maps to a status and a body.
//! - [`ids`], [`event_types`]: identifiers and the webhook types of the seed API.
//! - [`destination`]: validation of destination bodies and the shapes the API returns.
//! - [`url_safety`]: which destination URLs may be called.
//! - [`auth`]: credentials in headers, permissions, API keys and JWTs.
//! - [`api_key`]: a key's expiry, its tokens' expiry, revocation reaching isolates.
//! - [`signin`]: which key sign-in accepts and how its failures are counted.
//! - [`rate_limit`]: the sliding-window limiter that the rate-limit object runs.
//! - [`delivery`], [`delivery_run`]: the delivery state machine and the
//!   bookkeeping of one attempt in a destination's log.
//! - [`publish`]: the publish quota, idempotency keys and routing by event type.
//! - [`settings`]: the worker's settings and their defaults.
//! - [`health`]: which settings, secrets and bindings a deployment lacks.
//! - [`request_body`]: a request body read with a cap.
//! - [`time`]: RFC 3339 formatting used in every response.
//!
//! The rules of a destination's log, written as the SQL its object runs (its
//! schema, the deliveries query and its paging, the hourly counters,
//! recovery), are the crate beside this one, `edgehook-log` (`core/log`).

pub mod api_key;
pub mod auth;
pub mod delivery;
pub mod delivery_run;
pub mod destination;
pub mod destination_health;
pub mod error;
pub mod event;
pub mod event_catalog;
pub mod event_types;
pub mod health;
pub mod ids;
pub mod operational;
pub mod pipeline;
pub mod portal;
pub mod publish;
pub mod rate_limit;
pub mod request_body;
pub mod routes;
pub mod secrets;
pub mod settings;
pub mod signin;
pub mod time;
pub mod url_safety;

/// The OpenAPI document of the whole API, served at `GET /openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");
