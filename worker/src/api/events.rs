//! `POST /v1/{organization}/webhook_event/`: the producer publishes an event;
//! the organization's object turns it into one stored delivery per active
//! destination that accepts its type. Also the test event of one destination
//! and the event-type catalog.

use crate::context::Caller;
use crate::destination::client::DestinationClient;
use crate::destination::{Enqueued, NewDelivery};
use crate::error::Context;
use crate::http::{self, internal};
use crate::organization::client::OrganizationClient;
use crate::{config, store};
use edgehook_core::destination::Kind;
use edgehook_core::error::ApiError;
use edgehook_core::event::{MAX_EVENT_BYTES, check_event, check_idempotency_key};
use edgehook_core::event_catalog::example_body;
use edgehook_core::event_types::{WEBHOOK_TYPES, is_webhook_type};
use edgehook_core::ids::new_id;
use edgehook_core::publish::check_tenant_key;
use edgehook_core::routes::Matched;
use serde_json::json;
use worker::{Env, Request, Response};

pub async fn handle(mut req: Request, env: &Env, caller: &Caller) -> Result<Response, ApiError> {
    let key = http::header(&req, "idempotency-key");
    if let Some(k) = &key {
        check_idempotency_key(k)?;
        check_tenant_key(k)?;
    }
    let body = http::body(&mut req, MAX_EVENT_BYTES).await?;
    let event_type = check_event(&body)?;
    let body = String::from_utf8(body).ctx("event: a checked body is not UTF-8")?;
    let published = OrganizationClient::new(env, &caller.org_id)?
        .publish(&event_type, body, key.as_deref())
        .await?;
    http::json(202, &published)
}

/// `POST /v1/{organization}/webhook_destination/{id}/test` `{"type"}`: sends a
/// signed example of that type (from the catalog) to the destination, recorded
/// in its log like any delivery, whatever types it accepts. `202 {delivery_id}`.
pub async fn send_test(
    mut req: Request,
    env: &Env,
    m: &Matched,
    caller: &Caller,
) -> Result<Response, ApiError> {
    let destination = store::destinations::require(
        env,
        &caller.org_id,
        m.param("webhook_destination_id"),
        Kind::Webhook,
    )
    .await?;
    let body = http::body(&mut req, http::MAX_BODY_BYTES).await?;
    let fields = edgehook_core::destination::parse_json_object(&body)?;
    let event_type = match fields.get("type") {
        Some(serde_json::Value::String(t)) if is_webhook_type(t) => t.clone(),
        Some(_) => {
            return Err(ApiError::invalid(
                &["body", "type"],
                format!(
                    "Input should be {}",
                    WEBHOOK_TYPES.map(|t| format!("'{t}'")).join(", ")
                ),
                "enum",
            ));
        }
        None => {
            return Err(ApiError::invalid(
                &["body", "type"],
                "Field required",
                "missing",
            ));
        }
    };
    let example = example_body(&event_type, &caller.org_id)
        .ctx("event catalog: build an example")?
        .ok_or_else(|| internal(format!("no example of {event_type} in the catalog")))?;
    let now = config::now_ms();
    let delivery_id = new_id(now / 1000, &config::random::<8>()?);
    let stored = DestinationClient::new(env, &destination.id)?
        .enqueue(NewDelivery {
            delivery_id: delivery_id.clone(),
            event_type,
            body: example,
            created_at_ms: now,
        })
        .await?;
    match stored {
        Enqueued::Stored => http::json(202, &json!({ "delivery_id": delivery_id })),
        Enqueued::Skipped => Err(ApiError::Conflict(format!(
            "webhook destination {} is paused or disabled: the test event is kept as skipped; \
             set is_active to true to send it",
            destination.id
        ))),
        Enqueued::Gone => Err(ApiError::NotFound(format!(
            "webhook destination {} not found",
            destination.id
        ))),
    }
}

/// `GET /v1/{organization}/event_type/`: the event-type catalog.
pub fn catalog() -> Result<Response, ApiError> {
    let event_types = edgehook_core::event_catalog::catalog()
        .ctx("event catalog: read core/event_catalog.json")?;
    http::json(200, &json!({ "event_types": event_types }))
}
