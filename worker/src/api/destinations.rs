//! `/v1/{organization}/webhook_destination/…`: the seed API's destination
//! endpoints plus the one-destination read. Reads come from D1; every change to
//! an existing destination goes through its Durable Object.

use crate::context::Caller;
use crate::destination_object::{self, Command, DeliveryConfig};
use crate::http::{self, internal};
use crate::{config, store};
use edgehook_core::destination::{parse_destination_changes, parse_new_destination};
use edgehook_core::error::{ApiError, FieldError};
use edgehook_core::ids::{is_valid_id, new_id};
use edgehook_core::routes::{Matched, Route};
use serde_json::json;
use worker::{Env, Request, Response};

pub async fn handle(
    mut req: Request,
    env: &Env,
    m: &Matched,
    caller: &Caller,
) -> Result<Response, ApiError> {
    let org = caller.org_id.as_str();
    let id = m.param("webhook_destination_id").to_string();
    match m.spec.route {
        Route::ListDestinations => list(&req, env, org).await,
        Route::CreateDestination => {
            let body = http::body(&mut req, http::MAX_BODY_BYTES).await?;
            create(env, caller, &body).await
        }
        Route::GetDestination => match store::destinations::get(env, org, &id).await? {
            Some(d) => http::json(200, &d),
            None => Err(ApiError::NotFound(format!(
                "webhook destination {id} not found"
            ))),
        },
        Route::UpdateDestination => {
            let body = http::body(&mut req, http::MAX_BODY_BYTES).await?;
            let changes = parse_destination_changes(&body)?;
            destination_object::send(
                env,
                &id,
                &Command::Update {
                    org_id: org.to_string(),
                    changes,
                },
            )
            .await
        }
        Route::DeleteDestination => {
            destination_object::send(
                env,
                &id,
                &Command::Delete {
                    org_id: org.to_string(),
                },
            )
            .await
        }
        Route::RotateSecret => {
            destination_object::send(
                env,
                &id,
                &Command::Rotate {
                    org_id: org.to_string(),
                },
            )
            .await
        }
        other => Err(internal(format!(
            "route {other:?} is not a destination route"
        ))),
    }
}

/// `GET /`: all destinations, or those named by repeated `id` parameters.
async fn list(req: &Request, env: &Env, org: &str) -> Result<Response, ApiError> {
    let url = req.url().map_err(internal)?;
    let ids: Vec<String> = url
        .query_pairs()
        .filter(|(k, _)| k == "id")
        .map(|(_, v)| v.into_owned())
        .collect();
    let mut errors = vec![];
    for (i, id) in ids.iter().enumerate() {
        if !is_valid_id(id) {
            errors.push(FieldError::new(
                &["query", "id", &i.to_string()],
                "String should match pattern '^[a-f0-9]{24}$'",
                "string_pattern_mismatch",
            ));
        } else if ids[..i].contains(id) {
            errors.push(FieldError::new(
                &["query", "id"],
                format!("ids must be unique; {id} is repeated"),
                "unique_items",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let mut all = store::destinations::list(env, org).await?;
    if !ids.is_empty() {
        all.retain(|d| ids.contains(&d.id));
    }
    http::json(200, &json!({ "webhook_destinations": all }))
}

/// `POST /`: stores the destination, gives its object the first secret, and
/// answers the secret, the only time it is ever shown.
async fn create(env: &Env, caller: &Caller, body: &[u8]) -> Result<Response, ApiError> {
    let d = parse_new_destination(body, caller.settings.allow_loopback_destinations)?;
    let now = config::now_ms();
    let id = new_id(now / 1000, &config::random::<8>()?);
    let secret = edgehook_sdk::secret_from_bytes(&config::random::<32>()?);
    store::destinations::insert_within_limit(env, &caller.org_id, &id, &d, now).await?;
    let init = destination_object::send(
        env,
        &id,
        &Command::Init {
            secret: secret.clone(),
            now_ms: now,
            config: DeliveryConfig::of_new(&caller.org_id, &d),
        },
    )
    .await;
    if !matches!(&init, Ok(r) if r.status_code() == 204) {
        // Without its secret the destination could never be signed for: undo it.
        store::destinations::remove(env, &caller.org_id, &id).await?;
        return Err(internal(format!(
            "destination {id} could not store its secret"
        )));
    }
    http::json(
        201,
        &json!({ "webhook_destination_id": id, "secret": secret }),
    )
}
