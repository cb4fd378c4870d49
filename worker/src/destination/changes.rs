//! A destination's changes, applied one at a time by its object (a change
//! that arrives while another is in progress answers 409), each writing D1
//! and the object in the order that is safe to retry:
//! - delete stops the object first (in-flight attempts aborted, queue and log
//!   freed, alarm removed), then marks D1; a delete cut off in between leaves
//!   a destination that delivers nothing and that a second delete completes;
//! - rotation writes D1 first and the new secret (and key pair) last; cut off
//!   in between, the old secret keeps signing and nobody holds a secret that
//!   was never shown.
//!
//! The ed25519 key pair of a destination that signs with one is made here,
//! from the CSPRNG, and stored with the secrets in the object's storage: its
//! signing key never leaves the object.

use super::outcomes::announce;
use super::state::{Destination, not_found};
use super::{DeliveryConfig, Rotated};
use crate::store::destinations::Mark;
use crate::{config, store};
use edgehook_core::destination::{DestinationChanges, Signing};
use edgehook_core::destination_health::Verdict;
use edgehook_core::error::ApiError;
use edgehook_core::operational::{self, About};
use edgehook_core::secrets::{KeyPair, SecretState};
use edgehook_core::time::rfc3339_ms;
use std::rc::Rc;

impl Destination {
    /// Stores the first secret and settings of a destination just created,
    /// with a new key pair when it signs with ed25519; its public key, if any.
    pub async fn init(
        &self,
        secret: String,
        now_ms: i64,
        config: DeliveryConfig,
        signing: Signing,
    ) -> Result<Option<String>, ApiError> {
        let key_pair = match signing {
            Signing::Hmac => None,
            Signing::Ed25519 => Some(new_key_pair()?),
        };
        let secrets = SecretState::new(secret, key_pair, now_ms);
        let public_key = secrets.public_key().map(String::from);
        self.put_secrets(secrets).await?;
        self.put_config(config).await?;
        self.pipeline.borrow_mut().restart();
        self.log()?;
        Ok(public_key)
    }

    pub async fn update(
        self: &Rc<Self>,
        id: &str,
        org_id: &str,
        changes: &DestinationChanges,
    ) -> Result<(), ApiError> {
        let _guard = self.begin_change()?;
        let now = config::now_ms();
        let kind = self.existing().await?.kind;
        if !store::destinations::update(&self.env, org_id, id, changes, now).await? {
            return Err(not_found(id));
        }
        let Some(d) = store::destinations::get(&self.env, org_id, id, kind).await? else {
            return Err(not_found(id));
        };
        self.put_config(DeliveryConfig::of(org_id, kind, &d))
            .await?;
        if changes.is_active == Some(true) {
            // Re-enabled: the health ladder starts over; a destination it had
            // disabled has recovered.
            let verdict = {
                let log = self.log()?;
                let mut health = log.health()?;
                let verdict = health.re_enabled();
                log.put_health(&health)?;
                verdict
            };
            if verdict == Verdict::Recovered {
                let about = About {
                    org_id,
                    destination_id: id,
                    kind,
                };
                announce(&self.env, org_id, operational::recovered(about, now, true));
            }
        }
        if d.is_active {
            // Deliveries held while paused go out now, at the new settings.
            self.wake(now).await?;
        }
        Ok(())
    }

    pub async fn delete(&self, id: &str, org_id: &str) -> Result<(), ApiError> {
        let _guard = self.begin_change()?;
        let now = config::now_ms();
        if self.config().await?.is_some() {
            // Stop first: nothing is attempted again, whatever happens next.
            self.free_storage().await?;
        }
        config::fault(&self.env, "delete-between-object-and-d1")?;
        if !store::destinations::mark(&self.env, org_id, id, now, Mark::Deleted).await? {
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
        let new_key_pair = if secrets.signs_with_ed25519() {
            Some(new_key_pair()?)
        } else {
            None
        };
        let stops_at = secrets
            .rotate(
                new_secret.clone(),
                new_key_pair,
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
        if !store::destinations::mark(&self.env, org_id, id, now, Mark::Rotated).await? {
            return Err(not_found(id));
        }
        config::fault(&self.env, "rotate-between-d1-and-object")?;
        let public_key = secrets.public_key().map(String::from);
        self.put_secrets(secrets).await?;
        Ok(Rotated {
            secret: new_secret,
            dual_signing_stops_at: rfc3339_ms(stops_at),
            public_key,
        })
    }
}

/// A new ed25519 key pair whose seed comes from the CSPRNG (getrandom).
fn new_key_pair() -> Result<KeyPair, ApiError> {
    let (signing_key, public_key) = edgehook_sdk::key_pair_from_bytes(&config::random::<32>()?);
    Ok(KeyPair {
        signing_key,
        public_key,
    })
}
