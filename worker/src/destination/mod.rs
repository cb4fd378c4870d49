//! A webhook destination's Durable Object and everything it owns.
//!
//! - [`object`]: the Durable Object itself, a thin shell that decodes a
//!   command or an alarm and hands it to the [`Destination`](state::Destination).
//! - [`state`]: what the object holds: its settings, secrets, log, pipeline
//!   and alarm, read once and kept true by being their only writer.
//! - [`changes`]: changes one at a time (create, update, delete, rotation), in
//!   an order of writes that is safe to retry.
//! - [`run`]: taking deliveries and the delivery run (the window of attempts,
//!   the throttle, the budget), carried out as `edgehook_core::pipeline` decides.
//! - [`attempts`]: a run's attempts: taken with a lease, started, awaited.
//! - [`outcomes`]: what an attempt's end means: its record, the counters, a
//!   recovery's progress, the health ladder, operational events.
//! - [`recovery`]: recovering a time range, its progress, and the stats.
//! - [`bookkeeping`]: the log's counters, health streak and recoveries.
//! - [`reads`]: the deliveries query, one delivery, and whether it holds one.
//! - [`log`]: the destination's delivery log and queue in the object's SQLite.
//! - [`client`]: the typed client the worker calls the object with.
//!
//! The commands below are the whole protocol between the two.

pub mod attempts;
pub mod bookkeeping;
pub mod changes;
pub mod client;
pub mod log;
pub mod object;
pub mod outcomes;
pub mod reads;
pub mod recovery;
pub mod run;
pub mod state;

use edgehook_core::delivery::DeliveryView;
use edgehook_core::destination::{
    DestinationChanges, DestinationView, Kind, NewDestination, Signing,
};
use edgehook_log::deliveries_query::DeliveryQuery;
use edgehook_log::recovery::RecoverRequest;
use serde::{Deserialize, Serialize};

/// What delivery needs to know of the destination, kept in sync by every change.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryConfig {
    /// The destination's id (for its logs); empty in settings stored before it was kept.
    #[serde(default)]
    pub id: String,
    pub org_id: String,
    pub url: String,
    pub retry_attempts: i64,
    pub timeout_seconds: i64,
    pub is_active: bool,
    #[serde(default)]
    pub max_per_second: Option<i64>,
    #[serde(default)]
    pub kind: Kind,
}

impl DeliveryConfig {
    /// The settings of destination `id`, of `kind`, being created.
    pub fn of_new(id: &str, org_id: &str, kind: Kind, d: &NewDestination) -> Self {
        DeliveryConfig {
            kind,
            id: id.to_string(),
            org_id: org_id.to_string(),
            url: d.url.clone(),
            retry_attempts: d.retry_attempts,
            timeout_seconds: d.timeout_seconds,
            is_active: d.is_active,
            max_per_second: d.max_per_second,
        }
    }

    /// The settings of a destination of `kind` as stored in D1.
    pub fn of(org_id: &str, kind: Kind, d: &DestinationView) -> Self {
        DeliveryConfig {
            kind,
            id: d.id.clone(),
            org_id: org_id.to_string(),
            url: d.url.clone(),
            retry_attempts: d.retry_attempts,
            timeout_seconds: d.timeout_seconds,
            is_active: d.is_active,
            max_per_second: d.max_per_second,
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
    /// Stores the first secret and settings of a destination just created in
    /// D1, and makes its key pair when it signs with ed25519; answers the
    /// public key, if any.
    Init {
        secret: String,
        now_ms: i64,
        config: DeliveryConfig,
        #[serde(default)]
        signing: Signing,
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
    /// The current public key of a destination that signs with ed25519
    /// (`None` for HMAC); the signing key never leaves the object.
    PublicKey,
    /// Stores deliveries, in order, and starts them at once; idempotent per
    /// delivery id. Answers what became of each, in the same order.
    Enqueue {
        deliveries: Vec<NewDelivery>,
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
    /// Whether the log holds this delivery (a repeated publish rebuilds its answer).
    Holds {
        delivery_id: String,
    },
    /// Sends a time range's failed and skipped deliveries again (or counts them).
    Recover {
        request: RecoverRequest,
    },
    RecoveryStatus {
        recovery_id: String,
    },
    Stats {
        since_ms: Option<i64>,
        until_ms: Option<i64>,
    },
}

/// A recovery's answer (`202`): its id (none for a dry run) and what it sends.
#[derive(Debug, Serialize, Deserialize)]
pub struct Recovered {
    pub recovery_id: Option<String>,
    pub count: i64,
}

/// What taking a delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Enqueued {
    /// Durably in the destination's log and queue.
    Stored,
    /// Kept in the log as `skipped`: the destination is paused or disabled.
    Skipped,
    /// The destination no longer exists (deleted since the routing was read).
    Gone,
}

/// A rotation's answer, shown once; `public_key` only for a destination that
/// signs with ed25519 (seed clients see the seed's two fields).
#[derive(Debug, Serialize, Deserialize)]
pub struct Rotated {
    pub secret: String,
    pub dual_signing_stops_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

/// A page of the delivery log, in the seed's shape.
#[derive(Debug, Serialize, Deserialize)]
pub struct Page {
    pub webhook_deliveries: Vec<DeliveryView>,
    pub has_more: bool,
    pub continuation_token: Option<i64>,
}
