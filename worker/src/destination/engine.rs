//! A destination's logic, run inside its Durable Object: changes one at a
//! time, taking deliveries and attempting them at once (the alarm resumes what a
//! restart cut off, retries and purges), and reads of the log.
//!
//! Changes write D1 and the object in the order that is safe to retry:
//! - delete stops the object first (in-flight attempts aborted, queue and log
//!   freed, alarm removed), then marks D1; a delete cut off in between leaves
//!   a destination that delivers nothing and that a second delete completes;
//! - rotation writes D1 first and the new secret last; cut off in between, the
//!   old secret keeps signing and nobody holds a secret that was never shown.

use super::log::Log;
use super::{DeliveryConfig, Enqueued, NewDelivery, Page, Rotated};
use crate::http::internal;
use crate::{config, delivery, store};
use edgehook_core::deliveries_query::DeliveryQuery;
use edgehook_core::delivery::{DeliveryView, NoAnswer, Outcome};
use edgehook_core::delivery_run::{RetryPolicy, settle};
use edgehook_core::destination::DestinationChanges;
use edgehook_core::error::ApiError;
use edgehook_core::secrets::SecretState;
use edgehook_core::time::rfc3339_ms;
use futures_util::future::join_all;
use std::cell::{Cell, Ref, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use worker::wasm_bindgen_futures::spawn_local;
use worker::{AbortController, Env, State};

const SECRETS: &str = "secrets";
const CONFIG: &str = "config";
/// How many due deliveries one alarm run attempts concurrently.
const BATCH: i64 = 64;
/// How many expired deliveries one run purges; more wait for the next run.
const PURGE_BATCH: i64 = 1_000;
/// Extra time beyond the timeout before an attempt cut off by a restart is retried.
const LEASE_GRACE_MS: i64 = 30_000;
/// A delivery is attempted as soon as it is stored, by a run in the object;
/// the alarm is its safety net: a delivery taken while the alarm is set to
/// fire within this long is covered by it, so a steady stream of deliveries
/// writes the alarm about once per this period rather than once per delivery.
const RECOVERY_ALARM_MS: i64 = 30_000;

pub struct Destination {
    state: State,
    env: Env,
    /// A change is being applied; another one answers 409 until it is done.
    busy: Cell<bool>,
    /// What this object last read or wrote of its settings and secrets (outer
    /// `None`: not read yet). It is their only writer, so the copy stays true.
    config: RefCell<Option<Option<DeliveryConfig>>>,
    secrets: RefCell<Option<SecretState>>,
    /// The log, opened once the object is known to be a destination.
    log: RefCell<Option<Log>>,
    /// When the alarm is set to fire (outer `None`: not read yet).
    alarm_at: Cell<Option<Option<i64>>>,
    /// A delivery run is in progress; it takes every delivery that becomes
    /// due before it ends, then sets the alarm for what remains.
    delivering: Cell<bool>,
    /// The alarm fired during a run, which then finishes as the alarm's.
    alarm_fired: Cell<bool>,
    /// Counts wake-ups (deliveries taken, reopened, resumed): a run goes on
    /// while it changed since its last look at the queue.
    woken: Cell<u64>,
    /// Attempts in flight, by delivery sequence number: deleting the
    /// destination aborts them.
    in_flight: RefCell<HashMap<i64, AbortController>>,
    /// The destination was deleted while this instance lived.
    deleted: Cell<bool>,
}

/// Clears the busy flag however the change ends.
struct BusyGuard<'a>(&'a Cell<bool>);

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl Destination {
    pub fn new(state: State, env: Env) -> Self {
        Destination {
            state,
            env,
            busy: Cell::new(false),
            config: RefCell::new(None),
            secrets: RefCell::new(None),
            log: RefCell::new(None),
            alarm_at: Cell::new(None),
            delivering: Cell::new(false),
            alarm_fired: Cell::new(false),
            woken: Cell::new(0),
            in_flight: RefCell::new(HashMap::new()),
            deleted: Cell::new(false),
        }
    }

    /// Marks a change in progress; a second one at the same time answers 409.
    fn begin_change(&self) -> Result<BusyGuard<'_>, ApiError> {
        if self.busy.replace(true) {
            return Err(ApiError::Conflict(
                "another change to this webhook destination is in progress".into(),
            ));
        }
        Ok(BusyGuard(&self.busy))
    }

    /// Stores the first secret and settings of a destination just created.
    pub async fn init(
        &self,
        secret: String,
        now_ms: i64,
        config: DeliveryConfig,
    ) -> Result<(), ApiError> {
        self.put_secrets(SecretState::new(secret, now_ms)).await?;
        self.put_config(config).await?;
        self.deleted.set(false);
        self.log()?;
        Ok(())
    }

    pub async fn update(
        self: &Rc<Self>,
        id: &str,
        org_id: &str,
        changes: &DestinationChanges,
    ) -> Result<(), ApiError> {
        let _guard = self.begin_change()?;
        let now = config::now_ms();
        self.existing().await?;
        if !store::destinations::update(&self.env, org_id, id, changes, now).await? {
            return Err(not_found(id));
        }
        let Some(d) = store::destinations::get(&self.env, org_id, id).await? else {
            return Err(not_found(id));
        };
        self.put_config(DeliveryConfig::of(org_id, &d)).await?;
        if d.is_active {
            // Deliveries held while paused go out now.
            self.wake(now).await?;
        }
        Ok(())
    }

    pub async fn delete(&self, id: &str, org_id: &str) -> Result<(), ApiError> {
        let _guard = self.begin_change()?;
        let now = config::now_ms();
        if self.config().await?.is_some() {
            // Stop first: nothing is attempted again, whatever happens next.
            self.deleted.set(true);
            for (_, attempt) in self.in_flight.borrow_mut().drain() {
                attempt.abort();
            }
            let storage = self.state.storage();
            storage.delete_alarm().await.map_err(internal)?;
            storage.delete_all().await.map_err(internal)?;
            self.config.replace(Some(None));
            self.secrets.replace(None);
            self.log.replace(None);
            self.alarm_at.set(Some(None));
        }
        config::fault(&self.env, "delete-between-object-and-d1")?;
        if !store::destinations::mark_deleted(&self.env, org_id, id, now).await? {
            return Err(not_found(id));
        }
        Ok(())
    }

    pub async fn rotate(&self, id: &str, org_id: &str) -> Result<Rotated, ApiError> {
        let _guard = self.begin_change()?;
        self.existing().await?;
        let now = config::now_ms();
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
        if !store::destinations::set_secret_generated_at(&self.env, org_id, id, now).await? {
            return Err(not_found(id));
        }
        config::fault(&self.env, "rotate-between-d1-and-object")?;
        self.put_secrets(secrets).await?;
        Ok(Rotated {
            secret: new_secret,
            dual_signing_stops_at: rfc3339_ms(stops_at),
        })
    }

    /// Stores a delivery and starts attempting it at once.
    pub async fn enqueue(self: &Rc<Self>, d: &NewDelivery) -> Result<Enqueued, ApiError> {
        if self.config().await?.is_none() {
            return Ok(Enqueued::Gone);
        }
        let now = config::now_ms();
        self.log()?.insert(d, now)?;
        self.wake(now).await?;
        Ok(Enqueued::Stored)
    }

    pub async fn list(&self, q: &DeliveryQuery) -> Result<Page, ApiError> {
        self.existing().await?;
        self.log()?.page(q, config::now_ms())
    }

    pub async fn get(&self, delivery_id: &str) -> Result<Option<DeliveryView>, ApiError> {
        self.existing().await?;
        self.log()?.get(delivery_id)
    }

    pub async fn retry(self: &Rc<Self>, delivery_id: &str) -> Result<DeliveryView, ApiError> {
        self.existing().await?;
        let now = config::now_ms();
        self.log()?.reopen_failed(delivery_id, now)?;
        self.wake(now).await?;
        self.log()?
            .get(delivery_id)?
            .ok_or_else(|| internal("a reopened delivery vanished"))
    }

    /// The alarm: purges what is past retention, attempts every due delivery,
    /// records each attempt, and sets the alarm for what remains. An error
    /// leaves the queue as it was and goes back to the platform, which runs the
    /// alarm again.
    pub async fn alarm(&self) -> Result<(), ApiError> {
        // The alarm that fired is spent.
        self.alarm_at.set(Some(None));
        if self.delivering.get() {
            // The run in progress finishes as the alarm's; until it ends,
            // this one covers a restart.
            self.alarm_fired.set(true);
            return self.set_alarm(config::now_ms() + RECOVERY_ALARM_MS).await;
        }
        self.delivering.set(true);
        self.deliver_all(Run::Alarm).await
    }

    /// Makes sure what is queued now is attempted: starts a run unless one is
    /// in progress (it takes what became due before it ends), and makes sure
    /// the alarm would resume it after a restart.
    async fn wake(self: &Rc<Self>, now: i64) -> Result<(), ApiError> {
        self.woken.set(self.woken.get() + 1);
        self.alarm_by(Some(now + RECOVERY_ALARM_MS)).await?;
        if !self.delivering.replace(true) {
            let me = Rc::clone(self);
            spawn_local(async move {
                if let Err(e) = me.deliver_all(Run::Woken).await {
                    worker::console_error!("delivery run failed; the alarm resumes it: {e:?}");
                }
            });
        }
        Ok(())
    }

    /// One delivery run (`delivering` is set by the caller): attempts what is
    /// due until nothing more is, then has the alarm fire for what remains.
    ///
    /// The alarm's run (or one the alarm fired during) purges the log past
    /// retention and reads the whole queue to set the next alarm. Any other
    /// run only moves the alarm earlier for its own deliveries' follow-ups:
    /// the alarm is never later than what was known before the run.
    async fn deliver_all(&self, run: Run) -> Result<(), ApiError> {
        let ran = async {
            let mut follow_up: Option<i64> = None;
            loop {
                let woken = self.woken.get();
                let batch = self.deliver_due().await?;
                follow_up = earliest(follow_up, batch.follow_up);
                if batch.attempted < BATCH as usize && self.woken.get() == woken {
                    return Ok::<_, ApiError>(follow_up);
                }
            }
        }
        .await;
        // Nothing is awaited between the last look at the queue and here, so a
        // delivery taken from now on starts a run of its own.
        self.delivering.set(false);
        let full = run == Run::Alarm || self.alarm_fired.replace(false);
        let follow_up = ran?;
        if self.deleted.get() {
            return Ok(());
        }
        if full {
            self.purge_expired()?;
            self.set_next_alarm().await
        } else {
            self.alarm_by(follow_up).await
        }
    }

    fn purge_expired(&self) -> Result<(), ApiError> {
        let settings = config::settings(&self.env)?;
        let now = config::now_ms();
        self.log()?.purge(
            now - settings.delivery_retention_seconds * 1000,
            now,
            PURGE_BATCH,
        )?;
        Ok(())
    }

    /// Takes up to `BATCH` due deliveries, attempts them at once and records each.
    async fn deliver_due(&self) -> Result<Batch, ApiError> {
        let none = Batch::default();
        let Some(dest) = self.config().await? else {
            return Ok(none); // deleted
        };
        if !dest.is_active {
            return Ok(none); // paused: the queue waits; resuming wakes it
        }
        let settings = config::settings(&self.env)?;
        let now = config::now_ms();
        let due = self.log()?.take_due(
            now,
            BATCH,
            now + dest.timeout_seconds * 1000 + LEASE_GRACE_MS,
        )?;
        if due.is_empty() {
            return Ok(none);
        }
        let secrets = self.secrets().await?;
        let signing = secrets.signing_secrets(now);
        let attempts = due.iter().map(|row| {
            let controller = AbortController::default();
            let signal = controller.signal();
            self.in_flight.borrow_mut().insert(row.seq, controller);
            let (signing, dest) = (&signing, &dest);
            async move {
                let sent_at = config::now_ms();
                let attempted = match edgehook_sdk::sign_webhook(
                    signing,
                    &row.id,
                    sent_at,
                    row.body.as_bytes(),
                ) {
                    Ok(headers) => {
                        delivery::attempt(
                            &dest.url,
                            dest.timeout_seconds,
                            headers.iter(),
                            &row.body,
                            signal,
                        )
                        .await
                    }
                    Err(_) => delivery::Attempted {
                        outcome: Outcome::NoAnswer {
                            failure: NoAnswer::Other,
                        },
                        answer: None,
                        duration_ms: 0,
                        ended: true,
                    },
                };
                (row, sent_at, attempted)
            }
        });
        let results = join_all(attempts).await;
        if self.deleted.get() {
            // Deleted meanwhile: its log is gone and nothing more is recorded.
            return Ok(none);
        }
        let mut batch = Batch {
            attempted: results.len(),
            follow_up: None,
        };
        let policy = RetryPolicy {
            retries: dest.retry_attempts as u32,
            schedule: &settings.retry_schedule_seconds,
        };
        let log = self.log()?;
        let finished_at = config::now_ms();
        for (row, sent_at, attempted) in results {
            if let Some(c) = self.in_flight.borrow_mut().remove(&row.seq)
                && !attempted.ended
            {
                c.abort();
            }
            let jitter = config::random::<4>()
                .map(|b| f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0))
                .unwrap_or(0.5);
            let settled = settle(
                row.due(),
                policy,
                &attempted.outcome,
                attempted.answer,
                sent_at,
                attempted.duration_ms,
                jitter,
            );
            log.record(row.seq, &settled, signing.len() > 1, finished_at)?;
            // Retried later, or purged once past retention.
            let next = settled
                .next_attempt_at_ms
                .unwrap_or(row.created_at + settings.delivery_retention_seconds * 1000);
            batch.follow_up = earliest(batch.follow_up, Some(next));
        }
        Ok(batch)
    }

    /// Has the alarm fire by the earliest of: the next due delivery (unless
    /// paused) and the moment the oldest finished delivery passes retention.
    async fn set_next_alarm(&self) -> Result<(), ApiError> {
        let Some(dest) = self.config().await? else {
            return Ok(());
        };
        let settings = config::settings(&self.env)?;
        let next = {
            let log = self.log()?;
            let due = if dest.is_active {
                log.next_due()?
            } else {
                None
            };
            let expiry = log
                .oldest_finished()?
                .map(|t| t + settings.delivery_retention_seconds * 1000);
            earliest(due, expiry)
        };
        self.alarm_by(next).await
    }

    /// Has the alarm fire by `at`, if given: an alarm set to fire earlier
    /// stays (its run sets the next one).
    async fn alarm_by(&self, at: Option<i64>) -> Result<(), ApiError> {
        if let Some(at) = at
            && self.current_alarm().await?.is_none_or(|t| t > at)
        {
            self.set_alarm(at).await?;
        }
        Ok(())
    }

    /// When the alarm is set to fire, if it is.
    async fn current_alarm(&self) -> Result<Option<i64>, ApiError> {
        if let Some(known) = self.alarm_at.get() {
            return Ok(known);
        }
        let current = self.state.storage().get_alarm().await.map_err(internal)?;
        self.alarm_at.set(Some(current));
        Ok(current)
    }

    async fn set_alarm(&self, at_ms: i64) -> Result<(), ApiError> {
        self.state
            .storage()
            .set_alarm((at_ms - config::now_ms()).max(0))
            .await
            .map_err(internal)?;
        self.alarm_at.set(Some(Some(at_ms)));
        Ok(())
    }

    /// The settings of an existing destination; 404 once deleted.
    async fn existing(&self) -> Result<DeliveryConfig, ApiError> {
        self.config()
            .await?
            .ok_or_else(|| ApiError::NotFound("webhook destination not found".into()))
    }

    fn log(&self) -> Result<Ref<'_, Log>, ApiError> {
        if self.log.borrow().is_none() {
            let opened = Log::open(self.state.storage().sql())?;
            self.log.replace(Some(opened));
        }
        Ref::filter_map(self.log.borrow(), Option::as_ref)
            .map_err(|_| internal("destination log not open"))
    }

    async fn secrets(&self) -> Result<SecretState, ApiError> {
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

    async fn put_secrets(&self, secrets: SecretState) -> Result<(), ApiError> {
        self.state
            .storage()
            .put(SECRETS, &secrets)
            .await
            .map_err(internal)?;
        self.secrets.replace(Some(secrets));
        Ok(())
    }

    /// The delivery settings; `None` once the destination is deleted.
    async fn config(&self) -> Result<Option<DeliveryConfig>, ApiError> {
        if let Some(c) = self.config.borrow().clone() {
            return Ok(c);
        }
        let stored: Option<DeliveryConfig> =
            self.state.storage().get(CONFIG).await.map_err(internal)?;
        self.config.replace(Some(stored.clone()));
        Ok(stored)
    }

    async fn put_config(&self, config: DeliveryConfig) -> Result<(), ApiError> {
        self.state
            .storage()
            .put(CONFIG, &config)
            .await
            .map_err(internal)?;
        self.config.replace(Some(Some(config)));
        Ok(())
    }
}

/// Which delivery run: the alarm's, or one woken by deliveries to attempt.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Run {
    Alarm,
    Woken,
}

/// What one batch of a run came to.
#[derive(Default)]
struct Batch {
    attempted: usize,
    /// When the earliest of its deliveries needs the alarm again (a retry,
    /// or the purge once past retention).
    follow_up: Option<i64>,
}

fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("webhook destination {id} not found"))
}
