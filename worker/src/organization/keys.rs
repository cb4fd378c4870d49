//! An organization's idempotency keys, in its object's SQLite: at most 200
//! bytes a key whatever the event's fan-out (the schema is
//! `edgehook_core::publish::KEY_SCHEMA`), forgotten after a day by the
//! object's alarm; and the claim that makes two publishes with one key wait
//! for each other.

use super::publisher::{Event, Publisher};
use crate::config;
use crate::error::Context;
use crate::http::internal;
use edgehook_core::error::ApiError;
use edgehook_core::publish::{IDEMPOTENCY_WINDOW_MS, KEY_SCHEMA, fingerprint};
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::HashSet;
use std::time::Duration;
use worker::{Delay, SqlStorageValue};

/// How long a publish waits for another one with the same key to finish.
const KEY_WAIT_MS: i64 = 30_000;

/// Releases an idempotency key however the publish ends.
pub(super) struct KeyGuard<'a>(&'a RefCell<HashSet<String>>, String);

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        self.0.borrow_mut().remove(&self.1);
    }
}

/// What is kept of an idempotency key seen in the last 24 h.
#[derive(Debug, Deserialize)]
pub(super) struct Remembered {
    /// The repeat carries the first publish's body.
    pub(super) same_body: i64,
    /// The event's id, hex.
    pub(super) event: String,
    pub(super) created_at: i64,
    pub(super) answered: i64,
}

impl Publisher {
    /// Waits while another publish with the same key is in progress here,
    /// then holds the key for this one.
    pub(super) async fn claim(&self, key: &str) -> Result<KeyGuard<'_>, ApiError> {
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

    /// What is kept of `key` (its digest) if it was seen in the last 24 h,
    /// and whether `body` is the body it was first published with.
    pub(super) fn remembered(
        &self,
        key: &[u8],
        body: &[u8],
        now: i64,
    ) -> Result<Option<Remembered>, ApiError> {
        let rows: Vec<Remembered> = self.rows(
            "SELECT fingerprint = ? AS same_body, lower(hex(event)) AS event, created_at, answered \
             FROM idempotency_keys WHERE key = ? AND created_at >= ?",
            vec![
                fingerprint(body).into(),
                key.to_vec().into(),
                (now - IDEMPOTENCY_WINDOW_MS).into(),
            ],
        )?;
        Ok(rows.into_iter().next())
    }

    /// Keeps a key for a day: its digest, the body's, and the event's id and
    /// time, under 200 bytes whatever the fan-out.
    pub(super) async fn remember(
        &self,
        key: &[u8],
        body: &[u8],
        event: &Event,
    ) -> Result<(), ApiError> {
        let event_bytes = hex_bytes(&event.id)?;
        self.exec(
            "INSERT OR REPLACE INTO idempotency_keys (key, fingerprint, event, created_at, answered) \
             VALUES (?, ?, ?, ?, 0)",
            vec![
                key.to_vec().into(),
                fingerprint(body).into(),
                event_bytes.into(),
                event.created_at_ms.into(),
            ],
        )?;
        let storage = self.state.storage();
        if storage
            .get_alarm()
            .await
            .ctx("object storage: read the key-expiry alarm")?
            .is_none()
        {
            storage
                .set_alarm(IDEMPOTENCY_WINDOW_MS)
                .await
                .ctx("object storage: set the key-expiry alarm")?;
        }
        Ok(())
    }

    /// The alarm: forgets keys older than the window and waits for the next.
    pub async fn forget_expired_keys(&self) -> Result<(), ApiError> {
        let now = config::now_ms();
        self.exec(
            "DELETE FROM idempotency_keys WHERE created_at < ?",
            vec![(now - IDEMPOTENCY_WINDOW_MS).into()],
        )?;
        #[derive(Deserialize)]
        struct Oldest {
            v: Option<i64>,
        }
        let oldest: Vec<Oldest> =
            self.rows("SELECT MIN(created_at) AS v FROM idempotency_keys", vec![])?;
        match oldest.first().and_then(|o| o.v) {
            Some(t) => Ok(self
                .state
                .storage()
                .set_alarm((t + IDEMPOTENCY_WINDOW_MS - now).max(0))
                .await
                .ctx("object storage: set the key-expiry alarm")?),
            None => {
                // Nothing left to remember: the object keeps no storage.
                self.schema_ready.set(false);
                Ok(self
                    .state
                    .storage()
                    .delete_all()
                    .await
                    .ctx("object storage: delete the keys")?)
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
            sql.exec(KEY_SCHEMA, None)
                .and_then(|c| c.to_array::<serde::de::IgnoredAny>())
                .ctx("object SQLite: create the key table")?;
            self.schema_ready.set(true);
        }
        sql.exec(query, bindings)
            .and_then(|c| c.to_array())
            .map_err(|e| internal(format!("object SQLite failed: {e} in: {query}")))
    }

    pub(super) fn exec(&self, query: &str, bindings: Vec<SqlStorageValue>) -> Result<(), ApiError> {
        self.rows::<serde::de::IgnoredAny>(query, bindings)
            .map(drop)
    }
}

/// The bytes of an id in hex.
fn hex_bytes(id: &str) -> Result<Vec<u8>, ApiError> {
    (0..id.len())
        .step_by(2)
        .map(|i| {
            id.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
                .ok_or_else(|| internal(format!("{id:?} is not a hex id")))
        })
        .collect()
}
