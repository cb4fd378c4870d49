//! What a destination's object holds in memory, and its reads and writes of
//! storage: the delivery settings and secrets (read once, then kept true by
//! being their only writer), the log, the pipeline of delivery runs, the
//! attempts in flight, and the alarm.

use super::DeliveryConfig;
use super::attempts::{Finished, Signal};
use super::log::{DueRow, Log};
use crate::config;
use crate::error::Context;
use crate::http::internal;
use edgehook_core::error::ApiError;
use edgehook_core::pipeline::{Ahead, Limits, Pipeline};
use edgehook_core::secrets::SecretState;
use std::cell::{Cell, Ref, RefCell};
use std::collections::HashMap;
use worker::{AbortController, Env, State};

const SECRETS: &str = "secrets";
const CONFIG: &str = "config";

pub struct Destination {
    pub(super) state: State,
    pub(super) env: Env,
    /// A change is being applied; another one answers 409 until it is done.
    busy: Cell<bool>,
    /// What this object last read or wrote of its settings (outer `None`: not
    /// read yet; inner `None`: deleted).
    config: RefCell<Option<Option<DeliveryConfig>>>,
    secrets: RefCell<Option<SecretState>>,
    /// The log, opened once the object is known to be a destination.
    log: RefCell<Option<Log>>,
    /// Every decision of the delivery runs (`edgehook_core::pipeline`).
    pub(super) pipeline: RefCell<Pipeline>,
    /// Deliveries the run took from the queue ahead of a free slot.
    pub(super) ahead: RefCell<Ahead<DueRow>>,
    /// Tells a waiting run that deliveries were stored meanwhile.
    pub(super) woken: Signal,
    /// Attempts that ended, their records owed: written together when the
    /// pipeline says, or with the run's next write.
    pub(super) unrecorded: RefCell<Vec<Finished>>,
    /// Attempts in flight, by delivery sequence number: deleting the
    /// destination aborts them.
    pub(super) in_flight: RefCell<HashMap<i64, AbortController>>,
}

/// Clears the busy flag however the change ends.
pub(super) struct BusyGuard<'a>(&'a Cell<bool>);

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
            pipeline: RefCell::new(Pipeline::new()),
            ahead: RefCell::new(Ahead::default()),
            woken: Signal::default(),
            unrecorded: RefCell::new(Vec::new()),
            in_flight: RefCell::new(HashMap::new()),
        }
    }

    /// Marks a change in progress; a second one at the same time answers 409.
    pub(super) fn begin_change(&self) -> Result<BusyGuard<'_>, ApiError> {
        if self.busy.replace(true) {
            return Err(ApiError::Conflict(
                "another change to this webhook destination is in progress".into(),
            ));
        }
        Ok(BusyGuard(&self.busy))
    }

    /// The settings of an existing destination; 404 once deleted.
    pub(super) async fn existing(&self) -> Result<DeliveryConfig, ApiError> {
        self.config()
            .await?
            .ok_or_else(|| ApiError::NotFound("webhook destination not found".into()))
    }

    /// What bounds the delivery runs now: the settings and this destination's throttle.
    pub(super) async fn limits(&self) -> Result<Limits, ApiError> {
        let settings = config::settings(&self.env)?;
        let throttle = self.config().await?.and_then(|c| c.max_per_second);
        Ok(Limits {
            max_in_flight: settings.max_in_flight,
            max_per_second: throttle.map(|n| n.clamp(1, u32::MAX.into()) as u32),
            run_budget_ms: settings.run_budget_seconds * 1000,
        })
    }

    pub(super) fn log(&self) -> Result<Ref<'_, Log>, ApiError> {
        if self.log.borrow().is_none() {
            let opened = Log::open(self.state.storage().sql())?;
            self.log.replace(Some(opened));
        }
        Ref::filter_map(self.log.borrow(), Option::as_ref)
            .map_err(|_| internal("destination log not open"))
    }

    pub(super) async fn secrets(&self) -> Result<SecretState, ApiError> {
        if let Some(s) = self.secrets.borrow().clone() {
            return Ok(s);
        }
        let stored: SecretState = self
            .state
            .storage()
            .get(SECRETS)
            .await
            .ctx("object storage: read the destination's secrets")?
            .ok_or_else(|| internal("destination has no secret"))?;
        self.secrets.replace(Some(stored.clone()));
        Ok(stored)
    }

    pub(super) async fn put_secrets(&self, secrets: SecretState) -> Result<(), ApiError> {
        self.state
            .storage()
            .put(SECRETS, &secrets)
            .await
            .ctx("object storage: write the destination's secrets")?;
        self.secrets.replace(Some(secrets));
        Ok(())
    }

    /// The delivery settings; `None` once the destination is deleted.
    pub(super) async fn config(&self) -> Result<Option<DeliveryConfig>, ApiError> {
        if let Some(c) = self.config.borrow().clone() {
            return Ok(c);
        }
        let stored: Option<DeliveryConfig> = self
            .state
            .storage()
            .get(CONFIG)
            .await
            .ctx("object storage: read the destination's settings")?;
        self.config.replace(Some(stored.clone()));
        Ok(stored)
    }

    pub(super) async fn put_config(&self, config: DeliveryConfig) -> Result<(), ApiError> {
        self.state
            .storage()
            .put(CONFIG, &config)
            .await
            .ctx("object storage: write the destination's settings")?;
        self.config.replace(Some(Some(config)));
        Ok(())
    }

    /// The settings as this instance holds them, without reading storage;
    /// `None` once deleted (or before they were first read).
    pub(super) fn cached_config(&self) -> Option<DeliveryConfig> {
        self.config.borrow().clone().flatten()
    }

    /// Stops taking deliveries at once (the destination is being disabled);
    /// storage follows when the change is written.
    pub(super) fn mark_inactive(&self) {
        if let Some(Some(c)) = self.config.borrow_mut().as_mut() {
            c.is_active = false;
        }
    }

    /// Whether this instance saw the destination deleted.
    pub(super) fn is_deleted(&self) -> bool {
        matches!(*self.config.borrow(), Some(None))
    }

    /// Frees everything the object stores and forgets it: the destination is deleted.
    pub(super) async fn free_storage(&self) -> Result<(), ApiError> {
        self.pipeline.borrow_mut().stop();
        self.ahead.borrow_mut().release();
        for (_, attempt) in self.in_flight.borrow_mut().drain() {
            attempt.abort();
        }
        let storage = self.state.storage();
        storage
            .delete_alarm()
            .await
            .ctx("object storage: delete the alarm")?;
        storage
            .delete_all()
            .await
            .ctx("object storage: delete everything")?;
        self.config.replace(Some(None));
        self.secrets.replace(None);
        self.log.replace(None);
        Ok(())
    }

    /// Has the alarm fire by `at`, if given: an alarm set to fire earlier
    /// stays (its run sets the next).
    pub(super) async fn alarm_by(&self, at: Option<i64>) -> Result<(), ApiError> {
        let Some(at) = at else {
            return Ok(());
        };
        let needed = self.pipeline.borrow().alarm_needed(at);
        let needed = match needed {
            Some(n) => n,
            None => {
                let current = self
                    .state
                    .storage()
                    .get_alarm()
                    .await
                    .ctx("object storage: read the alarm")?;
                let mut pipeline = self.pipeline.borrow_mut();
                pipeline.alarm_read(current);
                pipeline.alarm_needed(at).unwrap_or(true)
            }
        };
        if needed {
            self.set_alarm(at).await?;
        }
        Ok(())
    }

    pub(super) async fn set_alarm(&self, at_ms: i64) -> Result<(), ApiError> {
        self.state
            .storage()
            // At least 1 ms ahead: an alarm set during the alarm's own run for
            // the instant it fired would be dropped as the one that just ran.
            .set_alarm((at_ms - config::now_ms()).max(1))
            .await
            .ctx("object storage: set the alarm")?;
        self.pipeline.borrow_mut().alarm_set(at_ms);
        Ok(())
    }
}

pub(super) fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("webhook destination {id} not found"))
}
