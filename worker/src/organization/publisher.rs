//! Publishing for one organization, inside its Durable Object: every publish
//! of the organization passes here, so the quota and idempotency keys are
//! exact, and the routing table is read from D1 only when a destination
//! changed (or after `ROUTING_TTL_MS`), never per event.
//!
//! A publish answers only once every matching destination's object has stored
//! its delivery. With an idempotency key, the event and delivery ids are
//! stored before the fan-out, so a publish retried after a failure reuses them
//! and no destination gets the event twice.

use super::Published;
use crate::destination::client::DestinationClient;
use crate::destination::{Enqueued, NewDelivery};
use crate::http::internal;
use crate::{config, store};
use edgehook_core::error::ApiError;
use edgehook_core::ids::new_id;
use edgehook_core::publish::{
    IDEMPOTENCY_WINDOW_MS, Quota, Route, check_repeat, fingerprint, quota_exceeded,
    routing_is_fresh, targets,
};
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::time::Duration;
use worker::{Delay, Env, SqlStorageValue, State};

const SCHEMA: &str = "\
CREATE TABLE IF NOT EXISTS idempotency (
  key          TEXT PRIMARY KEY,
  fingerprint  TEXT NOT NULL,
  plan         TEXT NOT NULL,
  answer       TEXT,
  created_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency(created_at);";

/// How long a publish waits for another one with the same key to finish.
const KEY_WAIT_MS: i64 = 30_000;

/// The ids a publish gives its event and deliveries, decided before the fan-out.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Plan {
    event_id: String,
    created_at_ms: i64,
    /// (destination id, delivery id), in routing order.
    deliveries: Vec<(String, String)>,
}

pub struct Publisher {
    state: State,
    env: Env,
    quota: RefCell<Option<Quota>>,
    /// The routing table and when it was read from D1.
    routes: RefCell<Option<(Vec<Route>, i64)>>,
    /// Idempotency keys of publishes in progress in this instance.
    in_progress: RefCell<HashSet<String>>,
    schema_ready: Cell<bool>,
}

/// Releases an idempotency key however the publish ends.
struct KeyGuard<'a>(&'a RefCell<HashSet<String>>, String);

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        self.0.borrow_mut().remove(&self.1);
    }
}

impl Publisher {
    pub fn new(state: State, env: Env) -> Self {
        Publisher {
            state,
            env,
            quota: RefCell::new(None),
            routes: RefCell::new(None),
            in_progress: RefCell::new(HashSet::new()),
            schema_ready: Cell::new(false),
        }
    }

    pub fn routes_changed(&self) {
        self.routes.replace(None);
    }

    pub async fn publish(
        &self,
        org_id: &str,
        event_type: &str,
        body: String,
        idempotency_key: Option<&str>,
    ) -> Result<Published, ApiError> {
        let settings = config::settings(&self.env)?;
        let now = config::now_ms();
        {
            let mut quota = self.quota.borrow_mut();
            quota
                .get_or_insert_with(|| Quota::new(settings.publish_per_second, now))
                .admit(settings.publish_per_second, now)
                .map_err(quota_exceeded)?;
        }
        let Some(key) = idempotency_key else {
            let plan = self.plan(org_id, event_type, now).await?;
            return self.fan_out(&plan, event_type, &body).await;
        };
        let _guard = self.claim(key).await?;
        let fp = fingerprint(body.as_bytes());
        let plan = match self.remembered(key, now)? {
            Some(r) => {
                check_repeat(key, &r.fingerprint, &fp)?;
                if let Some(answer) = r.answer {
                    return serde_json::from_str(&answer).map_err(internal);
                }
                // A publish with this key stopped before it answered: finish it
                // with the same ids.
                serde_json::from_str(&r.plan).map_err(internal)?
            }
            None => {
                let plan = self.plan(org_id, event_type, now).await?;
                self.remember(key, &fp, &plan, now).await?;
                plan
            }
        };
        let answer = self.fan_out(&plan, event_type, &body).await?;
        self.exec(
            "UPDATE idempotency SET answer = ? WHERE key = ?",
            vec![
                serde_json::to_string(&answer).map_err(internal)?.into(),
                key.into(),
            ],
        )?;
        Ok(answer)
    }

    /// Ids for the event and one delivery per destination that takes its type.
    async fn plan(&self, org_id: &str, event_type: &str, now: i64) -> Result<Plan, ApiError> {
        let routes = self.routes(org_id, now).await?;
        let mut deliveries = vec![];
        for destination_id in targets(&routes, event_type) {
            deliveries.push((
                destination_id.to_string(),
                new_id(now / 1000, &config::random::<8>()?),
            ));
        }
        Ok(Plan {
            event_id: new_id(now / 1000, &config::random::<8>()?),
            created_at_ms: now,
            deliveries,
        })
    }

    /// Hands each delivery to its destination's object at once and answers
    /// when all have stored theirs. A destination deleted meanwhile takes
    /// nothing; any other failure fails the publish (nothing is acknowledged).
    async fn fan_out(
        &self,
        plan: &Plan,
        event_type: &str,
        body: &str,
    ) -> Result<Published, ApiError> {
        let handoffs = plan.deliveries.iter().map(|(destination_id, delivery_id)| {
            let delivery = NewDelivery {
                delivery_id: delivery_id.clone(),
                event_type: event_type.to_string(),
                body: body.to_string(),
                created_at_ms: plan.created_at_ms,
            };
            async move {
                let client = DestinationClient::new(&self.env, destination_id)?;
                Ok::<_, ApiError>((
                    delivery.delivery_id.clone(),
                    client.enqueue(delivery).await?,
                ))
            }
        });
        let mut delivery_ids = Vec::with_capacity(plan.deliveries.len());
        for result in join_all(handoffs).await {
            match result? {
                (id, Enqueued::Stored) => delivery_ids.push(id),
                (_, Enqueued::Gone) => self.routes_changed(),
            }
        }
        Ok(Published {
            event_id: plan.event_id.clone(),
            delivery_ids,
        })
    }

    /// The routing table, read again from D1 when a destination changed or it
    /// is older than `ROUTING_TTL_MS`.
    async fn routes(&self, org_id: &str, now: i64) -> Result<Vec<Route>, ApiError> {
        if let Some((routes, loaded)) = self.routes.borrow().as_ref()
            && routing_is_fresh(*loaded, now)
        {
            return Ok(routes.clone());
        }
        let routes = store::destinations::routes(&self.env, org_id).await?;
        self.routes.replace(Some((routes.clone(), now)));
        Ok(routes)
    }

    /// Waits while another publish with the same key is in progress here,
    /// then holds the key for this one.
    async fn claim(&self, key: &str) -> Result<KeyGuard<'_>, ApiError> {
        let started = config::now_ms();
        while self.in_progress.borrow().contains(key) {
            if config::now_ms() - started > KEY_WAIT_MS {
                return Err(ApiError::Conflict(format!(
                    "a publish with the Idempotency-Key {key:?} is still in progress"
                )));
            }
            Delay::from(Duration::from_millis(5)).await;
        }
        self.in_progress.borrow_mut().insert(key.to_string());
        Ok(KeyGuard(&self.in_progress, key.to_string()))
    }

    fn remembered(&self, key: &str, now: i64) -> Result<Option<Remembered>, ApiError> {
        let rows: Vec<Remembered> = self.rows(
            "SELECT fingerprint, plan, answer FROM idempotency WHERE key = ? AND created_at >= ?",
            vec![key.into(), (now - IDEMPOTENCY_WINDOW_MS).into()],
        )?;
        Ok(rows.into_iter().next())
    }

    async fn remember(&self, key: &str, fp: &str, plan: &Plan, now: i64) -> Result<(), ApiError> {
        self.exec(
            "INSERT OR REPLACE INTO idempotency (key, fingerprint, plan, answer, created_at) VALUES (?, ?, ?, NULL, ?)",
            vec![
                key.into(),
                fp.into(),
                serde_json::to_string(plan).map_err(internal)?.into(),
                now.into(),
            ],
        )?;
        let storage = self.state.storage();
        if storage.get_alarm().await.map_err(internal)?.is_none() {
            storage
                .set_alarm(IDEMPOTENCY_WINDOW_MS)
                .await
                .map_err(internal)?;
        }
        Ok(())
    }

    /// The alarm: forgets keys older than the window and waits for the next.
    pub async fn forget_expired_keys(&self) -> Result<(), ApiError> {
        let now = config::now_ms();
        self.exec(
            "DELETE FROM idempotency WHERE created_at < ?",
            vec![(now - IDEMPOTENCY_WINDOW_MS).into()],
        )?;
        #[derive(Deserialize)]
        struct Oldest {
            v: Option<i64>,
        }
        let oldest: Vec<Oldest> =
            self.rows("SELECT MIN(created_at) AS v FROM idempotency", vec![])?;
        match oldest.first().and_then(|o| o.v) {
            Some(t) => self
                .state
                .storage()
                .set_alarm((t + IDEMPOTENCY_WINDOW_MS - now).max(0))
                .await
                .map_err(internal),
            None => {
                // Nothing left to remember: the object keeps no storage.
                self.schema_ready.set(false);
                self.state.storage().delete_all().await.map_err(internal)
            }
        }
    }

    fn rows<T: serde::de::DeserializeOwned>(
        &self,
        query: &str,
        bindings: Vec<SqlStorageValue>,
    ) -> Result<Vec<T>, ApiError> {
        let sql = self.state.storage().sql();
        if !self.schema_ready.get() {
            sql.exec(SCHEMA, None)
                .and_then(|c| c.to_array::<serde::de::IgnoredAny>())
                .map_err(internal)?;
            self.schema_ready.set(true);
        }
        sql.exec(query, bindings)
            .and_then(|c| c.to_array())
            .map_err(|e| internal(format!("{e} in: {query}")))
    }

    fn exec(&self, query: &str, bindings: Vec<SqlStorageValue>) -> Result<(), ApiError> {
        self.rows::<serde::de::IgnoredAny>(query, bindings)
            .map(drop)
    }
}

#[derive(Debug, Deserialize)]
struct Remembered {
    fingerprint: String,
    plan: String,
    answer: Option<String>,
}
