//! `/v1/{organization}/webhook_destination/…`: the seed API's destination
//! endpoints plus the one-destination read, and the same for
//! `/v1/{organization}/operational_destination/…`. Reads come from D1, with
//! the public key of a destination that signs with ed25519 from its object
//! (the only place its key pair is kept); every
//! change to an existing destination goes through its Durable Object, then
//! tells the organization's object that its routing table changed, and tells
//! the organization's operational destinations (`destination.created`,
//! `destination.updated`, `destination.deleted`).

use crate::context::Caller;
use crate::destination::DeliveryConfig;
use crate::destination::client::DestinationClient;
use crate::error::Context;
use crate::http::{self, internal};
use crate::organization::client::OrganizationClient;
use crate::{config, store};
use edgehook_core::destination::{
    DestinationChanges, DestinationView, Kind, Signing, parse_destination_changes,
    parse_new_destination,
};
use edgehook_core::error::{ApiError, FieldError};
use edgehook_core::ids::{is_valid_id, new_id};
use edgehook_core::operational::{self, About};
use edgehook_core::routes::{Matched, Route};
use futures_util::future::join_all;
use serde_json::json;
use worker::{Env, Request, Response};

pub async fn handle(
    mut req: Request,
    env: &Env,
    m: &Matched,
    caller: &Caller,
) -> Result<Response, ApiError> {
    let org = caller.org_id.as_str();
    let id = m.destination_id().to_string();
    let kind = m.kind();
    let about = About {
        org_id: org,
        destination_id: &id,
        kind,
    };
    match m.spec.route {
        Route::ListDestinations => list(&req, env, org, kind).await,
        Route::CreateDestination => {
            let body = http::body(&mut req, http::MAX_BODY_BYTES).await?;
            create(env, caller, kind, &body).await
        }
        Route::GetDestination => {
            let mut d = store::destinations::require(env, org, &id, kind).await?;
            d.public_key = public_key(env, &d).await?;
            http::json(200, &d)
        }
        Route::UpdateDestination => {
            let body = http::body(&mut req, http::MAX_BODY_BYTES).await?;
            let changes = parse_destination_changes(&body, kind)?;
            existing(env, org, &id, kind)
                .await?
                .update(org, changes.clone())
                .await?;
            let orgs = OrganizationClient::new(env, org)?;
            orgs.routes_changed().await;
            let active = store::destinations::require(env, org, &id, kind)
                .await?
                .is_active;
            orgs.announce(operational::updated(
                about,
                config::now_ms(),
                &changed(&changes),
                active,
            ))
            .await;
            http::no_content()
        }
        Route::DeleteDestination => {
            existing(env, org, &id, kind).await?.delete(org).await?;
            let orgs = OrganizationClient::new(env, org)?;
            orgs.routes_changed().await;
            orgs.announce(operational::deleted(about)).await;
            http::no_content()
        }
        Route::RotateSecret => {
            let rotated = existing(env, org, &id, kind).await?.rotate(org).await?;
            http::secret_json(200, &rotated)
        }
        other => Err(internal(format!(
            "route {other:?} is not a destination route"
        ))),
    }
}

/// The client of an existing destination's object; 404 (and no object
/// touched) when D1 has no such destination of `kind` in the organization.
async fn existing(
    env: &Env,
    org: &str,
    id: &str,
    kind: Kind,
) -> Result<DestinationClient, ApiError> {
    let d = store::destinations::require(env, org, id, kind).await?;
    DestinationClient::new(env, &d.id)
}

/// The names of the fields an update sent.
fn changed(c: &DestinationChanges) -> Vec<&'static str> {
    [
        ("accepted_types", c.accepted_types.is_some()),
        ("retry_attempts", c.retry_attempts.is_some()),
        ("name", c.name.is_some()),
        ("is_active", c.is_active.is_some()),
        ("timeout_seconds", c.timeout_seconds.is_some()),
        ("max_per_second", c.max_per_second.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, sent)| sent.then_some(name))
    .collect()
}

/// `GET /`: all destinations, or those named by repeated `id` parameters.
async fn list(req: &Request, env: &Env, org: &str, kind: Kind) -> Result<Response, ApiError> {
    let url = req.url().ctx("request: read the URL")?;
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
    let mut all = store::destinations::list(env, org, kind).await?;
    if !ids.is_empty() {
        all.retain(|d| ids.contains(&d.id));
    }
    let all = with_public_keys(env, all).await?;
    // Operational destinations answer in the same shapes, field names included.
    http::json(200, &json!({ "webhook_destinations": all }))
}

/// The public key of a destination that signs with ed25519, from its object;
/// `None` for HMAC (no object is asked).
async fn public_key(env: &Env, d: &DestinationView) -> Result<Option<String>, ApiError> {
    if d.signing == Signing::Hmac {
        return Ok(None);
    }
    let key = DestinationClient::new(env, &d.id)?.public_key().await?;
    key.map(Some).ok_or_else(|| {
        internal(format!(
            "destination {} signs with ed25519 but its object holds no key pair",
            d.id
        ))
    })
}

/// The destinations with their public keys, their objects asked all at once.
/// One whose object answers 404 was deleted since D1 was read: it is left
/// out, as it would be a moment later.
async fn with_public_keys(
    env: &Env,
    all: Vec<DestinationView>,
) -> Result<Vec<DestinationView>, ApiError> {
    let keys = join_all(all.iter().map(|d| public_key(env, d))).await;
    let mut out = Vec::with_capacity(all.len());
    for (mut d, key) in all.into_iter().zip(keys) {
        match key {
            Ok(key) => {
                d.public_key = key;
                out.push(d);
            }
            Err(ApiError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// `POST /`: stores the destination, gives its object the first secret (and
/// has it make its key pair when it signs with ed25519), and answers the
/// secret, the only time it is ever shown, with the public key if any.
async fn create(env: &Env, caller: &Caller, kind: Kind, body: &[u8]) -> Result<Response, ApiError> {
    let d = parse_new_destination(body, caller.settings.allow_loopback_destinations, kind)?;
    let now = config::now_ms();
    let id = new_id(now / 1000, &config::random::<8>()?);
    let secret = edgehook_sdk::secret_from_bytes(&config::random::<32>()?);
    store::destinations::insert_within_limit(env, &caller.org_id, &id, kind, &d, now).await?;
    let init = DestinationClient::new(env, &id)?
        .init(
            secret.clone(),
            now,
            DeliveryConfig::of_new(&id, &caller.org_id, kind, &d),
            d.signing,
        )
        .await;
    let public_key = match init {
        Ok(key) => key,
        Err(e) => {
            // Without its secret the destination could never be signed for: undo it.
            store::destinations::remove(env, &caller.org_id, &id).await?;
            return Err(internal(format!(
                "destination {id} could not store its secret: {e:?}"
            )));
        }
    };
    let orgs = OrganizationClient::new(env, &caller.org_id)?;
    orgs.routes_changed().await;
    let about = About {
        org_id: &caller.org_id,
        destination_id: &id,
        kind,
    };
    orgs.announce(operational::created(
        about,
        &d.url,
        &d.accepted_types,
        d.is_active,
    ))
    .await;
    let mut created = json!({ "webhook_destination_id": id, "secret": secret });
    if let Some(key) = public_key {
        created["public_key"] = key.into();
    }
    http::secret_json(201, &created)
}
