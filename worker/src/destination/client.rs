//! The typed client of a destination's object: one method per command.
//!
//! Only ids that name a destination reach an object: the worker checks D1
//! before it makes a client for an existing destination, so an unknown id
//! never creates an object or its storage.

use super::{Command, DeliveryConfig, Enqueued, NewDelivery, Page, Recovered, Rotated};
use crate::http::internal;
use crate::objects::{ObjectStub, call, stub};
use edgehook_core::delivery::DeliveryView;
use edgehook_core::destination::{DestinationChanges, Signing};
use edgehook_core::error::ApiError;
use edgehook_log::deliveries_query::DeliveryQuery;
use edgehook_log::delivery_stats::Stats;
use edgehook_log::recovery::{Progress, RecoverRequest};
use worker::Env;

pub struct DestinationClient {
    id: String,
    stub: ObjectStub,
}

impl DestinationClient {
    /// The client of destination `id`'s object.
    pub fn new(env: &Env, id: &str) -> Result<Self, ApiError> {
        Ok(DestinationClient {
            id: id.to_string(),
            stub: stub(env, "DESTINATIONS", id)?,
        })
    }

    /// Stores the new destination's secret and settings; its public key when
    /// it signs with ed25519.
    pub async fn init(
        &self,
        secret: String,
        now_ms: i64,
        config: DeliveryConfig,
        signing: Signing,
    ) -> Result<Option<String>, ApiError> {
        call(
            &self.stub,
            &Command::Init {
                secret,
                now_ms,
                config,
                signing,
            },
        )
        .await
    }

    /// The destination's current public key; `None` when it signs with HMAC.
    pub async fn public_key(&self) -> Result<Option<String>, ApiError> {
        call(&self.stub, &Command::PublicKey).await
    }

    pub async fn update(&self, org_id: &str, changes: DestinationChanges) -> Result<(), ApiError> {
        call(
            &self.stub,
            &Command::Update {
                id: self.id.clone(),
                org_id: org_id.into(),
                changes,
            },
        )
        .await
    }

    pub async fn delete(&self, org_id: &str) -> Result<(), ApiError> {
        call(
            &self.stub,
            &Command::Delete {
                id: self.id.clone(),
                org_id: org_id.into(),
            },
        )
        .await
    }

    pub async fn rotate(&self, org_id: &str) -> Result<Rotated, ApiError> {
        call(
            &self.stub,
            &Command::Rotate {
                id: self.id.clone(),
                org_id: org_id.into(),
            },
        )
        .await
    }

    /// Stores deliveries in the destination's log, in order, and starts
    /// them at once; answers what became of each, in the same order.
    pub async fn enqueue_all(
        &self,
        deliveries: Vec<NewDelivery>,
    ) -> Result<Vec<Enqueued>, ApiError> {
        let sent = deliveries.len();
        let answers: Vec<Enqueued> = call(&self.stub, &Command::Enqueue { deliveries }).await?;
        if answers.len() != sent {
            return Err(internal(format!(
                "destination object answered {} outcomes for {sent} deliveries",
                answers.len()
            )));
        }
        Ok(answers)
    }

    /// Stores one delivery and starts it at once.
    pub async fn enqueue(&self, delivery: NewDelivery) -> Result<Enqueued, ApiError> {
        let mut answers = self.enqueue_all(vec![delivery]).await?;
        answers
            .pop()
            .ok_or_else(|| internal("destination object answered no outcome"))
    }

    pub async fn list(&self, query: DeliveryQuery) -> Result<Page, ApiError> {
        call(&self.stub, &Command::List { query }).await
    }

    pub async fn get(&self, delivery_id: &str) -> Result<Option<DeliveryView>, ApiError> {
        call(
            &self.stub,
            &Command::Get {
                delivery_id: delivery_id.into(),
            },
        )
        .await
    }

    /// Whether the destination's log holds this delivery.
    pub async fn holds(&self, delivery_id: &str) -> Result<bool, ApiError> {
        call(
            &self.stub,
            &Command::Holds {
                delivery_id: delivery_id.into(),
            },
        )
        .await
    }

    pub async fn recover(&self, request: RecoverRequest) -> Result<Recovered, ApiError> {
        call(&self.stub, &Command::Recover { request }).await
    }

    pub async fn recovery_status(&self, recovery_id: &str) -> Result<Progress, ApiError> {
        call(
            &self.stub,
            &Command::RecoveryStatus {
                recovery_id: recovery_id.into(),
            },
        )
        .await
    }

    pub async fn stats(
        &self,
        since_ms: Option<i64>,
        until_ms: Option<i64>,
    ) -> Result<Stats, ApiError> {
        call(&self.stub, &Command::Stats { since_ms, until_ms }).await
    }

    pub async fn retry(&self, delivery_id: &str) -> Result<DeliveryView, ApiError> {
        call(
            &self.stub,
            &Command::Retry {
                delivery_id: delivery_id.into(),
            },
        )
        .await
    }
}
