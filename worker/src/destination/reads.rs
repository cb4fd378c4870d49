//! Reads of a destination's log: the deliveries query, one delivery with its
//! attempts, and whether the log holds a delivery; and its public key.

use super::Page;
use super::state::Destination;
use crate::config;
use edgehook_core::delivery::DeliveryView;
use edgehook_core::error::ApiError;
use edgehook_log::deliveries_query::DeliveryQuery;

impl Destination {
    pub async fn list(&self, q: &DeliveryQuery) -> Result<Page, ApiError> {
        self.existing().await?;
        self.log()?.page(q, config::now_ms())
    }

    pub async fn get(&self, delivery_id: &str) -> Result<Option<DeliveryView>, ApiError> {
        self.existing().await?;
        self.log()?.get(delivery_id)
    }

    /// The current public key of a destination that signs with ed25519;
    /// `None` for HMAC.
    pub async fn public_key(&self) -> Result<Option<String>, ApiError> {
        self.existing().await?;
        Ok(self.secrets().await?.public_key().map(String::from))
    }

    /// Whether the log holds `delivery_id`; false once the destination is deleted.
    pub async fn holds(&self, delivery_id: &str) -> Result<bool, ApiError> {
        if self.config().await?.is_none() {
            return Ok(false);
        }
        self.log()?.holds(delivery_id)
    }
}
