//! A webhook destination's Durable Object and everything it owns.
//!
//! - [`object`]: the Durable Object itself, a thin shell that decodes a
//!   command or an alarm and hands it to the [`engine`].
//! - [`engine`]: the destination's logic: changes one at a time (update,
//!   delete, rotation), taking deliveries, the delivery run, reads of the log.
//! - [`log`]: the destination's delivery log and queue in the object's SQLite.
//! - [`client`]: the typed client the worker calls the object with.
//!
//! The commands below are the whole protocol between the two.

pub mod client;
pub mod engine;
pub mod log;
pub mod object;

use edgehook_core::deliveries_query::DeliveryQuery;
use edgehook_core::delivery::DeliveryView;
use edgehook_core::destination::{DestinationChanges, DestinationView, NewDestination};
use serde::{Deserialize, Serialize};

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
        Self::from_parts(
            org_id,
            &d.url,
            d.retry_attempts,
            d.timeout_seconds,
            d.is_active,
        )
    }

    /// The settings of a destination as stored in D1.
    pub fn of(org_id: &str, d: &DestinationView) -> Self {
        Self::from_parts(
            org_id,
            &d.url,
            d.retry_attempts,
            d.timeout_seconds,
            d.is_active,
        )
    }

    fn from_parts(
        org_id: &str,
        url: &str,
        retry_attempts: i64,
        timeout_seconds: i64,
        is_active: bool,
    ) -> Self {
        DeliveryConfig {
            org_id: org_id.to_string(),
            url: url.to_string(),
            retry_attempts,
            timeout_seconds,
            is_active,
        }
    }
}

/// A delivery handed to the object by a publish.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewDelivery {
    pub delivery_id: String,
    pub event_type: String,
    pub body: String,
    pub created_at_ms: i64,
}

/// What the worker asks of a destination's object.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    /// Stores the first secret and settings of a destination just created in D1.
    Init {
        secret: String,
        now_ms: i64,
        config: DeliveryConfig,
    },
    Update {
        id: String,
        org_id: String,
        changes: DestinationChanges,
    },
    Delete {
        id: String,
        org_id: String,
    },
    Rotate {
        id: String,
        org_id: String,
    },
    /// Stores a delivery and starts it at once; idempotent per delivery id.
    Enqueue {
        delivery: NewDelivery,
    },
    List {
        query: DeliveryQuery,
    },
    Get {
        delivery_id: String,
    },
    Retry {
        delivery_id: String,
    },
}

/// What taking a delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Enqueued {
    /// Durably in the destination's log and queue.
    Stored,
    /// The destination no longer exists (deleted since the routing was read).
    Gone,
}

/// A rotation's answer, shown once.
#[derive(Debug, Serialize, Deserialize)]
pub struct Rotated {
    pub secret: String,
    pub dual_signing_stops_at: String,
}

/// A page of the delivery log, in the seed's shape.
#[derive(Debug, Serialize, Deserialize)]
pub struct Page {
    pub webhook_deliveries: Vec<DeliveryView>,
    pub has_more: bool,
    pub continuation_token: Option<i64>,
}
