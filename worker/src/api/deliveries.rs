//! `/v1/{organization}/webhook_destination/{id}/delivery…`: the seed API's
//! delivery query, plus one delivery with its attempts and the manual retry,
//! all served by the destination's object from its own log.

use crate::context::Caller;
use crate::destination::client::DestinationClient;
use crate::error::Context;
use crate::http::{self, internal};
use crate::store;
use edgehook_core::deliveries_query::parse_query;
use edgehook_core::error::ApiError;
use edgehook_core::routes::{Matched, Route};
use worker::{Env, Request, Response};

pub async fn handle(
    req: Request,
    env: &Env,
    m: &Matched,
    caller: &Caller,
) -> Result<Response, ApiError> {
    let destination_id = m.param("webhook_destination_id");
    // D1 says whether the destination exists before its object is touched:
    // an unknown id never creates an object.
    let destination = store::destinations::require(env, &caller.org_id, destination_id).await?;
    let log = DestinationClient::new(env, &destination.id)?;
    let delivery_id = m.param("delivery_id");
    match m.spec.route {
        Route::ListDeliveries => {
            let url = req.url().ctx("request: read the URL")?;
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let q = parse_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
            http::json(200, &log.list(q).await?)
        }
        Route::GetDelivery => match log.get(delivery_id).await? {
            Some(d) => http::json(200, &d),
            None => Err(ApiError::NotFound(format!(
                "webhook delivery {delivery_id} not found"
            ))),
        },
        Route::RetryDelivery => http::json(202, &log.retry(delivery_id).await?),
        other => Err(internal(format!("route {other:?} is not a delivery route"))),
    }
}
