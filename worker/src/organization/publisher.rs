//! Publishing for one organization, inside its Durable Object: every publish
//! of the organization passes here, so the quota and idempotency keys are
//! exact, and the routing table is read from D1 only when a destination
//! changed (or after `ROUTING_TTL_MS`), never per event.
//!
//! A publish answers only once every matching destination's object has stored
//! its delivery. Each delivery's id derives from the event's id and the
//! destination's (`edgehook_core::ids::delivery_id`), so an idempotency key
//! needs to keep only the event's id and time, whatever the fan-out: a publish
//! retried after a failure makes the same ids, and no destination gets the
//! event twice; a repeat of a finished one answers again from the
//! destinations that hold its deliveries.

use super::Published;
use super::handoff::Handoffs;
use crate::destination::client::DestinationClient;
use crate::destination::{Enqueued, NewDelivery};
use crate::{config, store};
use edgehook_core::error::ApiError;
use edgehook_core::ids::{delivery_id, new_id};
use edgehook_core::publish::{
    Quota, Route, SYSTEM_KEY_PREFIX, check_repeat, key_digest, quota_exceeded, routing_is_fresh,
    takers,
};
use futures_util::future::join_all;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use worker::{Env, State};

/// An event's id and time: every delivery id of the event derives from them.
#[derive(Debug, Clone)]
pub(super) struct Event {
    pub(super) id: String,
    pub(super) created_at_ms: i64,
}

impl Event {
    fn delivery_id(&self, destination_id: &str) -> String {
        delivery_id(self.created_at_ms / 1000, &self.id, destination_id)
    }
}

pub struct Publisher {
    pub(super) state: State,
    env: Env,
    quota: RefCell<Option<Quota>>,
    /// The routing table and when it was read from D1.
    routes: RefCell<Option<(Vec<Route>, i64)>>,
    /// Idempotency keys of publishes in progress in this instance.
    pub(super) in_progress: RefCell<HashSet<String>>,
    pub(super) schema_ready: Cell<bool>,
    /// Deliveries on their way to destinations' objects.
    handoffs: Handoffs,
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
            handoffs: Handoffs::default(),
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
        // edgehook's own events (the tenant API refuses such keys) pass the quota.
        let system = idempotency_key.is_some_and(|k| k.starts_with(SYSTEM_KEY_PREFIX));
        if !system {
            let mut quota = self.quota.borrow_mut();
            quota
                .get_or_insert_with(|| Quota::new(settings.publish_per_second, now))
                .admit(settings.publish_per_second, now)
                .map_err(quota_exceeded)?;
        }
        let Some(key) = idempotency_key else {
            let event = self.new_event(now)?;
            return self.fan_out(org_id, &event, event_type, &body).await;
        };
        if system && takers(&self.routes(org_id, now).await?, event_type).is_empty() {
            // An event of edgehook's own that no destination takes (an
            // organization without operational destinations) leaves no key.
            return Ok(Published {
                event_id: self.new_event(now)?.id,
                delivery_ids: vec![],
            });
        }
        let _guard = self.claim(key).await?;
        let digest = key_digest(key);
        let event = match self.remembered(&digest, body.as_bytes(), now)? {
            Some(r) => {
                check_repeat(key, r.same_body != 0)?;
                let event = Event {
                    id: r.event,
                    created_at_ms: r.created_at,
                };
                if r.answered != 0 {
                    return self.answer_again(org_id, &event).await;
                }
                // A publish with this key stopped before it answered: finish it
                // with the same ids.
                event
            }
            None => {
                let event = self.new_event(now)?;
                self.remember(&digest, body.as_bytes(), &event).await?;
                event
            }
        };
        let answer = self.fan_out(org_id, &event, event_type, &body).await?;
        self.exec(
            "UPDATE idempotency_keys SET answered = 1 WHERE key = ?",
            vec![digest.into()],
        )?;
        Ok(answer)
    }

    fn new_event(&self, now: i64) -> Result<Event, ApiError> {
        Ok(Event {
            id: new_id(now / 1000, &config::random::<8>()?),
            created_at_ms: now,
        })
    }

    /// Hands the event to each destination that takes its type, at once
    /// (through [`Handoffs`], with other publishes' deliveries to the same
    /// destination), and answers when all have stored it: an active one attempts it, a paused
    /// or disabled one keeps it as `skipped` (not in the answer's
    /// `delivery_ids`, which lists what will be attempted). A destination
    /// deleted meanwhile takes nothing; any other failure fails the publish
    /// (nothing is acknowledged).
    async fn fan_out(
        &self,
        org_id: &str,
        event: &Event,
        event_type: &str,
        body: &str,
    ) -> Result<Published, ApiError> {
        let routes = self.routes(org_id, config::now_ms()).await?;
        let handoffs = takers(&routes, event_type)
            .into_iter()
            .map(|destination_id| {
                let delivery = NewDelivery {
                    delivery_id: event.delivery_id(destination_id),
                    event_type: event_type.to_string(),
                    body: body.to_string(),
                    created_at_ms: event.created_at_ms,
                };
                async move {
                    let id = delivery.delivery_id.clone();
                    let stored = self.handoffs.hand(&self.env, destination_id, delivery);
                    Ok::<_, ApiError>((id, stored.await?))
                }
            });
        let mut delivery_ids = vec![];
        for result in join_all(handoffs).await {
            match result? {
                (id, Enqueued::Stored) => delivery_ids.push(id),
                (_, Enqueued::Skipped) => {}
                (_, Enqueued::Gone) => self.routes_changed(),
            }
        }
        Ok(Published {
            event_id: event.id.clone(),
            delivery_ids,
        })
    }

    /// The answer of a publish that finished before: the deliveries of the
    /// event that the organization's destinations hold, in routing order.
    /// Any destination may hold one (its types or state may have changed
    /// since), so each is asked; a deleted one holds none.
    async fn answer_again(&self, org_id: &str, event: &Event) -> Result<Published, ApiError> {
        let routes = self.routes(org_id, config::now_ms()).await?;
        let asks = routes.iter().map(|r| {
            let id = event.delivery_id(&r.destination_id);
            async move {
                let held = DestinationClient::new(&self.env, &r.destination_id)?
                    .holds(&id)
                    .await?;
                Ok::<_, ApiError>(held.then_some(id))
            }
        });
        let mut delivery_ids = vec![];
        for held in join_all(asks).await {
            delivery_ids.extend(held?);
        }
        Ok(Published {
            event_id: event.id.clone(),
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
}
