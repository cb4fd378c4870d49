//! `POST /v1/{organization}/webhook_event/`: the producer publishes an event;
//! it becomes one stored delivery per active destination that accepts its type.

use crate::context::Caller;
use crate::destination_object::{self, Queued};
use crate::http::{self, internal};
use crate::store::events::Stored;
use crate::{config, store};
use edgehook_core::error::ApiError;
use edgehook_core::event::{MAX_EVENT_BYTES, check_event, check_idempotency_key};
use edgehook_core::ids::new_id;
use futures_util::future::join_all;
use serde_json::json;
use worker::{Env, Request, Response};

pub async fn handle(mut req: Request, env: &Env, caller: &Caller) -> Result<Response, ApiError> {
    let key = http::header(&req, "idempotency-key");
    if let Some(k) = &key {
        check_idempotency_key(k)?;
    }
    let body = http::body(&mut req, MAX_EVENT_BYTES).await?;
    let event_type = check_event(&body)?;
    let body = String::from_utf8(body).map_err(internal)?;
    let answer = publish(env, &caller.org_id, &event_type, body, key.as_deref()).await?;
    let mut resp = Response::from_json(&answer)
        .map_err(internal)?
        .with_status(202);
    resp.headers_mut()
        .set("content-type", "application/json")
        .map_err(internal)?;
    Ok(resp)
}

/// Stores the event and its deliveries in one batch, then hands each delivery
/// to its destination's object, which attempts it at once. Answers
/// `{event_id, delivery_ids}`; with an idempotency key used in the last 24 h,
/// the first answer and nothing new. Also used by the scheduled job.
pub async fn publish(
    env: &Env,
    org_id: &str,
    event_type: &str,
    body: String,
    idempotency_key: Option<&str>,
) -> Result<serde_json::Value, ApiError> {
    let answer =
        |event_id: &str, ids: Vec<&str>| json!({ "event_id": event_id, "delivery_ids": ids });
    // A repeated idempotency key fails the batch on its unique index; the
    // store then answers with the first event (one round trip either way).
    let now = config::now_ms();
    let event_id = new_id(now / 1000, &config::random::<8>()?);
    let created = match store::events::insert(
        env,
        org_id,
        &event_id,
        event_type,
        &body,
        idempotency_key,
        now,
    )
    .await?
    {
        Stored::New(created) => created,
        Stored::Repeat {
            event_id,
            delivery_ids,
        } => {
            return Ok(answer(
                &event_id,
                delivery_ids.iter().map(String::as_str).collect(),
            ));
        }
    };
    // Stored: from here on nothing is lost. A destination that cannot take its
    // delivery now gets it from the scheduled job's sweep of unsent deliveries.
    let handoffs = created.iter().map(|d| {
        let delivery = Queued {
            delivery_id: d.id.clone(),
            event_type: event_type.to_string(),
            body: body.clone(),
            attempts_before: 0,
        };
        async move {
            (
                d,
                destination_object::enqueue(env, &d.destination_id, delivery).await,
            )
        }
    });
    let mut gone = vec![];
    for (d, result) in join_all(handoffs).await {
        match result {
            Ok(r) if r.status_code() == 202 => {}
            Ok(r) if r.status_code() == 404 => gone.push(d.id.clone()),
            Ok(r) => worker::console_error!(
                "delivery {} not queued yet (status {}); the sweep will queue it",
                d.id,
                r.status_code()
            ),
            Err(e) => worker::console_error!(
                "delivery {} not queued yet ({e:?}); the sweep will queue it",
                d.id
            ),
        }
    }
    store::deliveries::mark_failed(env, &gone, now).await?;
    Ok(answer(
        &event_id,
        created.iter().map(|d| d.id.as_str()).collect(),
    ))
}
