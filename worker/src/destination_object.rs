//! One Durable Object per webhook destination. It holds the destination's
//! secrets (never in D1, never answered except by create and rotate) and is the
//! one place that changes the destination: a change arriving while another is
//! in progress answers 409 instead of interleaving with it.

use crate::http::{self, internal};
use crate::{config, store};
use edgehook_core::destination::DestinationChanges;
use edgehook_core::error::ApiError;
use edgehook_core::secrets::SecretState;
use edgehook_core::time::rfc3339_ms;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::cell::Cell;
use wasm_bindgen::JsValue;
use worker::{
    DurableObject, Env, Method, Request, RequestInit, Response, Result, State, Stub, durable_object,
};

/// What the worker asks of a destination's object.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    /// Stores the first secret of a destination that was just created.
    Init {
        secret: String,
        now_ms: i64,
    },
    Update {
        org_id: String,
        changes: DestinationChanges,
    },
    Delete {
        org_id: String,
    },
    Rotate {
        org_id: String,
    },
}

const SECRETS: &str = "secrets";

#[durable_object]
pub struct DestinationObject {
    state: State,
    env: Env,
    /// A change is being applied; another one answers 409 until it is done.
    busy: Cell<bool>,
}

/// Clears the busy flag however the change ends.
struct BusyGuard<'a>(&'a Cell<bool>);

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl DurableObject for DestinationObject {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            busy: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let id = req.path().trim_start_matches('/').to_string();
        let command: Command = match req.json().await {
            Ok(c) => c,
            Err(e) => return http::error(&internal(format!("bad command: {e}"))),
        };
        let outcome = match command {
            Command::Init { secret, now_ms } => self.init(secret, now_ms).await,
            _ if !edgehook_core::ids::is_valid_id(&id) => Err(internal(format!(
                "destination object called with id {id:?}"
            ))),
            change => {
                if self.busy.replace(true) {
                    return http::error(&ApiError::Conflict(
                        "another change to this webhook destination is in progress".into(),
                    ));
                }
                let _guard = BusyGuard(&self.busy);
                self.apply(&id, change).await
            }
        };
        match outcome {
            Ok(resp) => Ok(resp),
            Err(e) => http::error(&e),
        }
    }
}

impl DestinationObject {
    async fn init(&self, secret: String, now_ms: i64) -> std::result::Result<Response, ApiError> {
        self.state
            .storage()
            .put(SECRETS, SecretState::new(secret, now_ms))
            .await
            .map_err(internal)?;
        http::no_content()
    }

    async fn apply(&self, id: &str, change: Command) -> std::result::Result<Response, ApiError> {
        let id = id.to_string();
        let now = config::now_ms();
        match change {
            Command::Init { .. } => Err(internal("init is not a change")),
            Command::Update { org_id, changes } => {
                if !store::destinations::update(&self.env, &org_id, &id, &changes, now).await? {
                    return Err(not_found(&id));
                }
                http::no_content()
            }
            Command::Delete { org_id } => {
                if !store::destinations::mark_deleted(&self.env, &org_id, &id, now).await? {
                    return Err(not_found(&id));
                }
                self.state.storage().delete_all().await.map_err(internal)?;
                http::no_content()
            }
            Command::Rotate { org_id } => self.rotate(&org_id, &id, now).await,
        }
    }

    async fn rotate(
        &self,
        org_id: &str,
        id: &str,
        now: i64,
    ) -> std::result::Result<Response, ApiError> {
        if store::destinations::get(&self.env, org_id, id)
            .await?
            .is_none()
        {
            return Err(not_found(id));
        }
        let mut secrets: SecretState =
            self.state
                .storage()
                .get(SECRETS)
                .await
                .map_err(internal)?
                .ok_or_else(|| internal(format!("destination {id} has no secret")))?;
        let settings = config::settings(&self.env)?;
        let new_secret = edgehook_sdk::secret_from_bytes(&config::random::<32>()?);
        let stops_at = secrets
            .rotate(
                new_secret.clone(),
                now,
                settings.rotation_cooldown_seconds,
                settings.dual_signing_seconds,
            )
            .map_err(|e| {
                ApiError::BadRequest(format!(
                    "the secret was rotated less than {} s ago; next rotation allowed at {}",
                    settings.rotation_cooldown_seconds,
                    rfc3339_ms(e.next_allowed_at_ms)
                ))
            })?;
        self.state
            .storage()
            .put(SECRETS, &secrets)
            .await
            .map_err(internal)?;
        store::destinations::set_secret_generated_at(&self.env, org_id, id, now).await?;
        http::json(
            200,
            &json!({ "secret": new_secret, "dual_signing_stops_at": rfc3339_ms(stops_at) }),
        )
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("webhook destination {id} not found"))
}

/// The object of destination `id`.
fn stub(env: &Env, id: &str) -> std::result::Result<Stub, ApiError> {
    env.durable_object("DESTINATIONS")
        .and_then(|ns| ns.get_by_name(id))
        .map_err(internal)
}

/// Sends a command to destination `id`'s object and returns its answer as is.
pub async fn send(
    env: &Env,
    id: &str,
    command: &Command,
) -> std::result::Result<Response, ApiError> {
    let body = serde_json::to_string(command).map_err(internal)?;
    let req = Request::new_with_init(
        &format!("https://destination/{id}"),
        RequestInit::new()
            .with_method(Method::Post)
            .with_body(Some(JsValue::from_str(&body))),
    )
    .map_err(internal)?;
    stub(env, id)?
        .fetch_with_request(req)
        .await
        .map_err(internal)
}
