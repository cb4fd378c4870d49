//! `/v1/{organization}/webhook_destination/{id}/delivery…` (and the same for
//! operational destinations): the seed API's delivery query, plus one
//! delivery with its attempts and the manual retry, recovering a time range
//! and the destination's stats. All are served by the destination's object
//! from its own log.

use crate::context::Caller;
use crate::destination::client::DestinationClient;
use crate::error::Context;
use crate::http::{self, internal};
use crate::{config, store};
use edgehook_core::error::ApiError;
use edgehook_core::routes::{Matched, Route};
use edgehook_core::time::parse_timestamp_ms;
use edgehook_log::deliveries_query::parse_query;
use edgehook_log::recovery::parse_recover;
use worker::{Env, Request, Response};

pub async fn handle(
    req: Request,
    env: &Env,
    m: &Matched,
    caller: &Caller,
) -> Result<Response, ApiError> {
    let destination_id = m.destination_id();
    // D1 says whether the destination exists before its object is touched:
    // an unknown id never creates an object.
    let destination =
        store::destinations::require(env, &caller.org_id, destination_id, m.kind()).await?;
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
        Route::RecoverDeliveries => {
            let mut req = req;
            let body = http::body(&mut req, http::MAX_BODY_BYTES).await?;
            let request = parse_recover(&body, config::now_ms())?;
            http::json(202, &log.recover(request).await?)
        }
        Route::GetRecovery => http::json(200, &log.recovery_status(m.param("recovery_id")).await?),
        Route::DestinationStats => {
            let url = req.url().ctx("request: read the URL")?;
            let mut range = (None, None);
            for (k, v) in url.query_pairs() {
                let slot = match k.as_ref() {
                    "since" => &mut range.0,
                    "until" => &mut range.1,
                    _ => continue,
                };
                *slot = Some(parse_timestamp_ms(&v).ok_or_else(|| {
                    ApiError::invalid(
                        &["query", &k],
                        "Input should be a valid ISO 8601 datetime",
                        "datetime_parsing",
                    )
                })?);
            }
            http::json(200, &log.stats(range.0, range.1).await?)
        }
        other => Err(internal(format!("route {other:?} is not a delivery route"))),
    }
}
