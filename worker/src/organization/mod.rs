//! An organization's Durable Object: the one hop every publish makes before
//! its destinations' objects.
//!
//! - [`object`]: the Durable Object, a thin shell over the [`publisher`].
//! - [`publisher`]: the publish quota, idempotency keys, the routing table
//!   (cached from D1, refreshed when a destination changes), and the fan-out
//!   to each matching destination's object.
//! - [`handoff`]: deliveries handed to destinations' objects, one call in
//!   flight per destination, what arrives meanwhile together in the next.
//! - [`keys`]: idempotency keys, at most 200 bytes each, forgotten after a day.
//! - [`client`]: the typed client the worker calls it with.

pub mod client;
pub mod handoff;
pub mod keys;
pub mod object;
pub mod publisher;

use serde::{Deserialize, Serialize};

/// What the worker asks of an organization's object.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    /// Publishes an event: quota, idempotency, routing, fan-out.
    Publish {
        org_id: String,
        event_type: String,
        body: String,
        idempotency_key: Option<String>,
    },
    /// A destination of the organization was created, changed or deleted:
    /// the routing table is read again before the next publish.
    RoutesChanged,
}

/// A publish's answer (`202`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Published {
    pub event_id: String,
    pub delivery_ids: Vec<String>,
}
