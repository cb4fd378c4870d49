//! `POST /v1/{organization}/webhook_event/`: the producer publishes an event;
//! it becomes one stored delivery per active destination that accepts its type.

use crate::context::Caller;
use crate::destination_object::{self, Command, Queued};
use crate::http::{self, internal};
use crate::store::events::NewDelivery;
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
    if let Some(key) = idempotency_key {
        if let Some(first) = store::events::find_by_idempotency_key(env, org_id, key).await? {
            return serde_json::from_str(&first).map_err(internal);
        }
    }
    let destinations = store::destinations::accepting(env, org_id, event_type).await?;
    let now = config::now_ms();
    let event_id = new_id(now / 1000, &config::random::<8>()?);
    let mut delivery_ids = Vec::with_capacity(destinations.len());
    for _ in &destinations {
        delivery_ids.push(new_id(now / 1000, &config::random::<8>()?));
    }
    let answer = json!({ "event_id": event_id, "delivery_ids": delivery_ids });
    let new: Vec<NewDelivery> = destinations
        .iter()
        .zip(&delivery_ids)
        .map(|(d, id)| NewDelivery {
            id,
            destination_id: d,
        })
        .collect();
    if let Err(first) = store::events::insert(
        env,
        org_id,
        &event_id,
        event_type,
        &body,
        idempotency_key,
        &answer.to_string(),
        &new,
        now,
    )
    .await?
    {
        return serde_json::from_str(&first).map_err(internal);
    }
    // Stored: from here on nothing is lost. A destination that cannot take its
    // delivery now gets it from the scheduled job's sweep of unsent deliveries.
    let handoffs = destinations.iter().zip(&delivery_ids).map(|(dest, id)| {
        let command = Command::Enqueue {
            deliveries: vec![Queued {
                delivery_id: id.clone(),
                event_type: event_type.to_string(),
                body: body.clone(),
                attempts_before: 0,
            }],
        };
        async move { (id, destination_object::send(env, dest, &command).await) }
    });
    let mut gone = vec![];
    for (id, result) in join_all(handoffs).await {
        match result {
            Ok(r) if r.status_code() == 202 => {}
            Ok(r) if r.status_code() == 404 => gone.push(id.clone()),
            Ok(r) => worker::console_error!(
                "delivery {id} not queued yet (status {}); the sweep will queue it",
                r.status_code()
            ),
            Err(e) => worker::console_error!(
                "delivery {id} not queued yet ({e:?}); the sweep will queue it"
            ),
        }
    }
    store::deliveries::mark_failed(env, &gone, now).await?;
    Ok(answer)
}
