//! One Durable Object per webhook destination.
//!
//! It holds the destination's secrets (never in D1, never answered except by
//! create and rotate), a copy of what delivery needs of its settings, and its
//! delivery queue in the object's own SQLite. It is the one place that changes
//! the destination: a change arriving while another is in progress answers 409.
//!
//! Delivery runs in the object's alarm: every delivery due is attempted at
//! once, recorded in D1, then removed or rescheduled, and the alarm is set to
//! the next due time. Queue and alarm are durable, so a restart of the runtime
//! resumes where it stopped; an attempt cut off mid-flight is retried after its
//! lease runs out (at least once, always with the same delivery id).

use crate::http::{self, internal};
use crate::store::deliveries::AttemptRecord;
use crate::{config, delivery, store};
use edgehook_core::delivery::{Next, next_after};
use edgehook_core::destination::{DestinationChanges, DestinationView, NewDestination};
use edgehook_core::error::ApiError;
use edgehook_core::secrets::SecretState;
use edgehook_core::time::rfc3339_ms;
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::cell::{Cell, RefCell};
use wasm_bindgen::JsValue;
use worker::{
    DurableObject, Env, Method, Request, RequestInit, Response, Result, SqlStorageValue, State,
    Stub, durable_object,
};

/// What delivery needs to know of the destination, kept in sync by every change.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryConfig {
    pub org_id: String,
    pub url: String,
    pub retry_attempts: i64,
    pub timeout_seconds: i64,
    pub is_active: bool,
}

impl DeliveryConfig {
    /// The settings of a destination being created.
    pub fn of_new(org_id: &str, d: &NewDestination) -> Self {
        DeliveryConfig {
            org_id: org_id.to_string(),
            url: d.url.clone(),
            retry_attempts: d.retry_attempts,
            timeout_seconds: d.timeout_seconds,
            is_active: d.is_active,
        }
    }

    pub fn of(org_id: &str, d: &DestinationView) -> Self {
        DeliveryConfig {
            org_id: org_id.to_string(),
            url: d.url.clone(),
            retry_attempts: d.retry_attempts,
            timeout_seconds: d.timeout_seconds,
            is_active: d.is_active,
        }
    }
}

/// A delivery handed to the object to send.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Queued {
    pub delivery_id: String,
    pub event_type: String,
    pub body: String,
    /// Attempts already made; a manual retry starts a fresh budget from here.
    pub attempts_before: u32,
}

/// What the worker asks of a destination's object.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    /// Stores the first secret and settings of a destination that was just created.
    Init {
        secret: String,
        now_ms: i64,
        config: DeliveryConfig,
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
    /// Queues a delivery and starts it at once. Idempotent per delivery id,
    /// except that a manual retry (`attempts_before > 0`) replaces the entry.
    Enqueue {
        delivery: Queued,
    },
}

const SECRETS: &str = "secrets";
const CONFIG: &str = "config";
/// How many due deliveries one alarm run attempts concurrently.
const BATCH: i64 = 64;
/// Extra time beyond the timeout before an attempt cut off by a restart is retried.
const LEASE_GRACE_MS: i64 = 30_000;

#[derive(Debug, Deserialize)]
struct QueueRow {
    delivery_id: String,
    body: String,
    attempt_count: i64,
    round_start: i64,
}

#[durable_object]
pub struct DestinationObject {
    state: State,
    env: Env,
    /// A change is being applied; another one answers 409 until it is done.
    busy: Cell<bool>,
    /// What this object last read or wrote of its settings and secrets (outer
    /// `None`: not read yet). It is their only writer, so the copy stays true.
    config: RefCell<Option<Option<DeliveryConfig>>>,
    secrets: RefCell<Option<SecretState>>,
    /// When the alarm is set to fire (outer `None`: not read yet).
    alarm_at: Cell<Option<Option<i64>>>,
    /// An alarm run is attempting deliveries; it sets the next alarm itself
    /// from everything queued by its end, so enqueueing need not.
    delivering: Cell<bool>,
    /// Something was queued (or the destination resumed) during a run that
    /// may end without setting the next alarm.
    woken: Cell<bool>,
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
        let created = state.storage().sql().exec(
            "CREATE TABLE IF NOT EXISTS queue (delivery_id TEXT PRIMARY KEY, type TEXT NOT NULL, body TEXT NOT NULL, \
             attempt_count INTEGER NOT NULL, round_start INTEGER NOT NULL, due_at INTEGER NOT NULL); \
             CREATE INDEX IF NOT EXISTS queue_due ON queue(due_at)",
            None,
        );
        if let Err(e) = created {
            worker::console_error!("destination queue could not be created: {e}");
        }
        Self {
            state,
            env,
            busy: Cell::new(false),
            config: RefCell::new(None),
            secrets: RefCell::new(None),
            alarm_at: Cell::new(None),
            delivering: Cell::new(false),
            woken: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let id = req.path().trim_start_matches('/').to_string();
        let command: Command = match req.json().await {
            Ok(c) => c,
            Err(e) => return http::error(&internal(format!("bad command: {e}"))),
        };
        let outcome = match command {
            _ if !edgehook_core::ids::is_valid_id(&id) => Err(internal(format!(
                "destination object called with id {id:?}"
            ))),
            Command::Init {
                secret,
                now_ms,
                config,
            } => self.init(secret, now_ms, config).await,
            Command::Enqueue { delivery } => self.enqueue(delivery).await,
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

    async fn alarm(&self) -> Result<Response> {
        // The alarm that fired is spent; deliver_due sets the next one.
        self.alarm_at.set(Some(None));
        self.delivering.set(true);
        let run = self.deliver_due().await;
        self.delivering.set(false);
        if self.woken.replace(false) && run.is_ok() {
            let _ = self.wake(config::now_ms()).await;
        }
        if let Err(e) = run {
            worker::console_error!("delivery run failed: {e:?}");
            // Try again shortly; the queue is untouched by a failed run.
            let _ = self.set_alarm(config::now_ms() + 5_000).await;
        }
        Response::empty()
    }
}

impl DestinationObject {
    async fn init(
        &self,
        secret: String,
        now_ms: i64,
        config: DeliveryConfig,
    ) -> std::result::Result<Response, ApiError> {
        self.put_secrets(SecretState::new(secret, now_ms)).await?;
        self.put_config(config).await?;
        http::no_content()
    }

    async fn apply(&self, id: &str, change: Command) -> std::result::Result<Response, ApiError> {
        let now = config::now_ms();
        match change {
            Command::Update { org_id, changes } => {
                if !store::destinations::update(&self.env, &org_id, id, &changes, now).await? {
                    return Err(not_found(id));
                }
                if let Some(d) = store::destinations::get(&self.env, &org_id, id).await? {
                    self.put_config(DeliveryConfig::of(&org_id, &d)).await?;
                    if d.is_active {
                        // Deliveries held while paused go out now.
                        self.wake(now).await?;
                    }
                }
                http::no_content()
            }
            Command::Delete { org_id } => {
                if !store::destinations::mark_deleted(&self.env, &org_id, id, now).await? {
                    return Err(not_found(id));
                }
                let pending: Vec<String> = self
                    .sql("SELECT delivery_id FROM queue", vec![])?
                    .into_iter()
                    .map(|r: IdRow| r.delivery_id)
                    .collect();
                store::deliveries::mark_failed(&self.env, &pending, now).await?;
                let storage = self.state.storage();
                storage.delete_alarm().await.map_err(internal)?;
                storage.delete_all().await.map_err(internal)?;
                self.config.replace(Some(None));
                self.secrets.replace(None);
                self.alarm_at.set(Some(None));
                http::no_content()
            }
            Command::Rotate { org_id } => self.rotate(&org_id, id, now).await,
            Command::Init { .. } | Command::Enqueue { .. } => Err(internal("not a change")),
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
        let mut secrets = self.secrets().await?;
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
        self.put_secrets(secrets).await?;
        store::destinations::set_secret_generated_at(&self.env, org_id, id, now).await?;
        http::json(
            200,
            &json!({ "secret": new_secret, "dual_signing_stops_at": rfc3339_ms(stops_at) }),
        )
    }

    async fn enqueue(&self, d: Queued) -> std::result::Result<Response, ApiError> {
        if self.config().await?.is_none() {
            return Err(ApiError::NotFound("webhook destination was deleted".into()));
        }
        let now = config::now_ms();
        let verb = if d.attempts_before > 0 {
            "INSERT OR REPLACE"
        } else {
            "INSERT OR IGNORE"
        };
        let attempts_before = d.attempts_before as i64;
        self.sql::<IdRow>(
            &format!("{verb} INTO queue (delivery_id, type, body, attempt_count, round_start, due_at) VALUES (?, ?, ?, ?, ?, ?)"),
            vec![d.delivery_id.into(), d.event_type.into(), d.body.into(), attempts_before.into(), attempts_before.into(), now.into()],
        )?;
        self.wake(now).await?;
        Ok(Response::empty().map_err(internal)?.with_status(202))
    }

    /// Makes the alarm fire by `at_ms` (it only ever moves earlier here).
    async fn wake(&self, at_ms: i64) -> std::result::Result<(), ApiError> {
        if self.delivering.get() {
            self.woken.set(true);
            return Ok(());
        }
        let current = match self.alarm_at.get() {
            Some(known) => known,
            None => self.state.storage().get_alarm().await.map_err(internal)?,
        };
        if current.is_none_or(|t| t > at_ms) {
            self.set_alarm(at_ms).await?;
        } else {
            self.alarm_at.set(Some(current));
        }
        Ok(())
    }

    async fn set_alarm(&self, at_ms: i64) -> std::result::Result<(), ApiError> {
        self.state
            .storage()
            .set_alarm((at_ms - config::now_ms()).max(0))
            .await
            .map_err(internal)?;
        self.alarm_at.set(Some(Some(at_ms)));
        Ok(())
    }

    /// One alarm run: attempts every due delivery, records the attempts, and
    /// sets the alarm for what remains.
    async fn deliver_due(&self) -> std::result::Result<(), ApiError> {
        let Some(dest) = self.config().await? else {
            return Ok(()); // deleted
        };
        if !dest.is_active {
            return Ok(()); // paused: the queue waits; reactivation wakes the alarm
        }
        let secrets = self.secrets().await?;
        let settings = config::settings(&self.env)?;
        let now = config::now_ms();
        let due: Vec<QueueRow> = self.sql(
            "SELECT delivery_id, body, attempt_count, round_start FROM queue WHERE due_at <= ? ORDER BY due_at LIMIT ?",
            vec![now.into(), BATCH.into()],
        )?;
        if !due.is_empty() {
            // The lease: if the runtime stops mid-attempt, these are retried after it.
            let lease = now + dest.timeout_seconds * 1000 + LEASE_GRACE_MS;
            let ids =
                serde_json::to_string(&due.iter().map(|r| &r.delivery_id).collect::<Vec<_>>())
                    .map_err(internal)?;
            self.sql::<IdRow>(
                "UPDATE queue SET due_at = ? WHERE delivery_id IN (SELECT value FROM json_each(?))",
                vec![lease.into(), ids.into()],
            )?;
            let signing = secrets.signing_secrets(now);
            let (signing, dest) = (&signing, &dest);
            let attempts = due.iter().map(|row| async move {
                let sent_at = config::now_ms();
                let (outcome, duration) = match edgehook_sdk::sign_webhook(
                    signing,
                    &row.delivery_id,
                    sent_at,
                    row.body.as_bytes(),
                ) {
                    Ok(headers) => {
                        delivery::attempt(
                            &dest.url,
                            dest.timeout_seconds,
                            headers.iter(),
                            &row.body,
                        )
                        .await
                    }
                    Err(e) => (
                        edgehook_core::delivery::Outcome::NoAnswer {
                            error: format!("signing failed: {}", e.code()),
                        },
                        0,
                    ),
                };
                (row, sent_at, outcome, duration)
            });
            let results = join_all(attempts).await;
            let mut records = Vec::with_capacity(results.len());
            let mut finished = vec![];
            let mut rescheduled = vec![];
            for (row, sent_at, outcome, duration) in results {
                let attempt_no = row.attempt_count as u32 + 1;
                let in_round = attempt_no - row.round_start as u32;
                let jitter = config::random::<4>()
                    .map(|b| u32::from_le_bytes(b) as f64 / (u32::MAX as f64 + 1.0))
                    .unwrap_or(0.5);
                let next = next_after(
                    in_round,
                    dest.retry_attempts as u32,
                    &settings.retry_schedule_seconds,
                    &outcome,
                    sent_at + duration,
                    jitter,
                );
                let next_retry_at_ms = match next {
                    Next::RetryAt { at_ms } => {
                        rescheduled.push((row.delivery_id.clone(), attempt_no, at_ms));
                        Some(at_ms)
                    }
                    Next::Delivered | Next::Exhausted => {
                        finished.push(row.delivery_id.clone());
                        None
                    }
                };
                records.push(AttemptRecord {
                    delivery_id: row.delivery_id.clone(),
                    attempt_no,
                    attempted_at_ms: sent_at,
                    status_code: outcome.status_code(),
                    duration_ms: duration,
                    error: outcome.error(),
                    dual_signed: signing.len() > 1,
                    state: next.state(),
                    next_retry_at_ms,
                });
            }
            // The record first: if it fails, the queue still holds every delivery.
            store::deliveries::record_attempts(&self.env, &records).await?;
            for id in finished {
                self.sql::<IdRow>("DELETE FROM queue WHERE delivery_id = ?", vec![id.into()])?;
            }
            for (id, attempt_no, at_ms) in rescheduled {
                self.sql::<IdRow>(
                    "UPDATE queue SET attempt_count = ?, due_at = ? WHERE delivery_id = ?",
                    vec![(attempt_no as i64).into(), at_ms.into(), id.into()],
                )?;
            }
        }
        #[derive(Deserialize)]
        struct Due {
            due: Option<i64>,
        }
        // From here on enqueueing wakes the alarm itself; what was queued
        // before is in the MIN below (both happen in this same turn).
        self.delivering.set(false);
        self.woken.set(false);
        let next: Vec<Due> = self.sql("SELECT MIN(due_at) AS due FROM queue", vec![])?;
        if let Some(due) = next.first().and_then(|d| d.due) {
            self.set_alarm(due).await?;
        }
        Ok(())
    }

    async fn secrets(&self) -> std::result::Result<SecretState, ApiError> {
        if let Some(s) = self.secrets.borrow().clone() {
            return Ok(s);
        }
        let stored: SecretState = self
            .state
            .storage()
            .get(SECRETS)
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("destination has no secret"))?;
        self.secrets.replace(Some(stored.clone()));
        Ok(stored)
    }

    async fn put_secrets(&self, secrets: SecretState) -> std::result::Result<(), ApiError> {
        self.state
            .storage()
            .put(SECRETS, &secrets)
            .await
            .map_err(internal)?;
        self.secrets.replace(Some(secrets));
        Ok(())
    }

    /// The delivery settings; `None` once the destination is deleted.
    async fn config(&self) -> std::result::Result<Option<DeliveryConfig>, ApiError> {
        if let Some(c) = self.config.borrow().clone() {
            return Ok(c);
        }
        let stored: Option<DeliveryConfig> =
            self.state.storage().get(CONFIG).await.map_err(internal)?;
        self.config.replace(Some(stored.clone()));
        Ok(stored)
    }

    async fn put_config(&self, config: DeliveryConfig) -> std::result::Result<(), ApiError> {
        self.state
            .storage()
            .put(CONFIG, &config)
            .await
            .map_err(internal)?;
        self.config.replace(Some(Some(config)));
        Ok(())
    }

    /// Runs a statement on the object's SQLite and returns its rows.
    fn sql<T: serde::de::DeserializeOwned>(
        &self,
        query: &str,
        bindings: Vec<SqlStorageValue>,
    ) -> std::result::Result<Vec<T>, ApiError> {
        self.state
            .storage()
            .sql()
            .exec(query, bindings)
            .and_then(|c| c.to_array())
            .map_err(internal)
    }
}

#[derive(Debug, Deserialize)]
struct IdRow {
    #[allow(dead_code)]
    delivery_id: String,
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

/// Hands a delivery to destination `id`'s object: 202 when queued, 404 when
/// the destination was deleted.
pub async fn enqueue(
    env: &Env,
    id: &str,
    delivery: Queued,
) -> std::result::Result<Response, ApiError> {
    send(env, id, &Command::Enqueue { delivery }).await
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
