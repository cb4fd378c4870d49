//! `/v1/{organization}/webhook_destination/{id}/delivery…`: the seed API's
//! delivery query, plus one delivery with its attempts and the manual retry.

use crate::context::Caller;
use crate::destination_object::{self, Queued};
use crate::http::{self, internal};
use crate::{config, store};
use edgehook_core::deliveries_query::parse_query;
use edgehook_core::error::ApiError;
use edgehook_core::routes::{Matched, Route};
use serde_json::json;
use worker::{Env, Request, Response};

pub async fn handle(
    req: Request,
    env: &Env,
    m: &Matched,
    caller: &Caller,
) -> Result<Response, ApiError> {
    let org = caller.org_id.as_str();
    let destination_id = m.param("webhook_destination_id");
    if store::destinations::get(env, org, destination_id)
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound(format!(
            "webhook destination {destination_id} not found"
        )));
    }
    let delivery_id = m.param("delivery_id");
    match m.spec.route {
        Route::ListDeliveries => {
            let url = req.url().map_err(internal)?;
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let q = parse_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
            let (deliveries, has_more, token) =
                store::deliveries::page(env, org, destination_id, &q).await?;
            http::json(
                200,
                &json!({ "webhook_deliveries": deliveries, "has_more": has_more, "continuation_token": token }),
            )
        }
        Route::GetDelivery => {
            match store::deliveries::get(env, org, destination_id, delivery_id).await? {
                Some(d) => http::json(200, &d),
                None => Err(ApiError::NotFound(format!(
                    "webhook delivery {delivery_id} not found"
                ))),
            }
        }
        Route::RetryDelivery => {
            let now = config::now_ms();
            let Some(resend) =
                store::deliveries::reopen_failed(env, org, destination_id, delivery_id, now)
                    .await?
            else {
                return Err(ApiError::Conflict(format!(
                    "webhook delivery {delivery_id} is not failed; only failed deliveries can be retried"
                )));
            };
            let resend = Queued {
                delivery_id: resend.id,
                event_type: resend.event_type,
                body: resend.body,
                attempts_before: resend.attempt_count.max(1),
            };
            let queued = destination_object::enqueue(env, destination_id, resend).await?;
            if queued.status_code() != 202 {
                return Err(internal(format!(
                    "retry of {delivery_id} not queued: status {}",
                    queued.status_code()
                )));
            }
            match store::deliveries::get(env, org, destination_id, delivery_id).await? {
                Some(d) => http::json(202, &d),
                None => Err(ApiError::NotFound(format!(
                    "webhook delivery {delivery_id} not found"
                ))),
            }
        }
        other => Err(internal(format!("route {other:?} is not a delivery route"))),
    }
}
