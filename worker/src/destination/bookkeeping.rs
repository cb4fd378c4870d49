//! What a destination's log keeps beside its deliveries, in the same SQLite
//! and the same commits: the hourly counters of `GET …/stats`, which the
//! log's triggers keep (`edgehook_log::delivery_stats`), the health ladder's
//! failing streak (`edgehook_core::destination_health`), and its recoveries
//! (`edgehook_log::recovery`) with the deliveries the running one waits for.

use super::log::{Log, Value};
use crate::error::Context;
use crate::http::internal;
use edgehook_core::destination_health::Health;
use edgehook_core::error::ApiError;
use edgehook_log::delivery_stats::{HourRow, hour_of, range_sql};
use edgehook_log::recovery::{RecoverRequest, Recovery, count_sql as recover_count_sql};
use serde::Deserialize;
use worker::SqlStorageValue;

impl Log {
    /// The counters of the hours in `[since_ms, until_ms)`.
    pub fn hours(&self, since_ms: i64, until_ms: i64) -> Result<Vec<HourRow>, ApiError> {
        #[derive(Deserialize)]
        struct Row {
            hour: i64,
            pending: i64,
            retrying: i64,
            success: i64,
            failed: i64,
            skipped: i64,
            attempts: i64,
            attempts_ok: i64,
            latency: String,
        }
        let rows: Vec<Row> = self.select(&range_sql(), vec![since_ms.into(), until_ms.into()])?;
        rows.into_iter()
            .map(|r| {
                Ok(HourRow {
                    latency: serde_json::from_str(&r.latency).ctx("stats: read a histogram")?,
                    hour: r.hour,
                    pending: r.pending,
                    retrying: r.retrying,
                    success: r.success,
                    failed: r.failed,
                    skipped: r.skipped,
                    attempts: r.attempts,
                    attempts_ok: r.attempts_ok,
                })
            })
            .collect()
    }

    /// Forgets the counters of hours wholly before `cutoff_ms` (past retention).
    pub fn forget_counts_before(&self, cutoff_ms: i64) -> Result<(), ApiError> {
        self.exec(
            "DELETE FROM stats_hourly WHERE hour < ?",
            vec![hour_of(cutoff_ms).into()],
        )
    }

    /// The failing streak, as last stored.
    pub fn health(&self) -> Result<Health, ApiError> {
        if let Some(h) = self.health.borrow().as_ref() {
            return Ok(h.clone());
        }
        let stored = self.stored_health()?;
        self.health.replace(Some(stored.clone()));
        Ok(stored)
    }

    fn stored_health(&self) -> Result<Health, ApiError> {
        #[derive(Deserialize)]
        struct Row {
            state: String,
        }
        let rows: Vec<Row> =
            self.select("SELECT state FROM destination_health WHERE id = 1", vec![])?;
        match rows.first() {
            None => Ok(Health::default()),
            Some(r) => serde_json::from_str(&r.state).map_err(|e| {
                internal(format!(
                    "destination health {:?} is unreadable: {e}",
                    r.state
                ))
            }),
        }
    }

    pub fn put_health(&self, h: &Health) -> Result<(), ApiError> {
        let state = serde_json::to_string(h).ctx("health: encode the streak")?;
        self.exec(
            "INSERT OR REPLACE INTO destination_health (id, state) VALUES (1, ?)",
            vec![state.into()],
        )?;
        self.health.replace(Some(h.clone()));
        Ok(())
    }

    /// How many deliveries a recovery of `request` would send again.
    pub fn recoverable(&self, request: &RecoverRequest) -> Result<i64, ApiError> {
        let mut total = 0;
        for (sql, ints, state) in recover_count_sql(request) {
            let rows: Vec<Value> =
                self.select(&sql, vec![ints[0].into(), ints[1].into(), state.into()])?;
            total += rows.first().and_then(|r| r.v).unwrap_or(0);
        }
        Ok(total)
    }

    /// The recovery `id`, if the log still has it.
    pub fn recovery(&self, id: &str) -> Result<Option<Recovery>, ApiError> {
        self.recoveries("SELECT state FROM recoveries WHERE id = ?", vec![id.into()])
            .map(|mut r| r.pop())
    }

    /// The recovery still running, if any (one at a time).
    pub fn running_recovery(&self) -> Result<Option<Recovery>, ApiError> {
        if self.recovering.get() == Some(false) {
            return Ok(None);
        }
        let all = self.recoveries(
            "SELECT state FROM recoveries ORDER BY created_at DESC LIMIT 1",
            vec![],
        )?;
        let running = all.into_iter().find(|r| !r.finished());
        self.recovering.set(Some(running.is_some()));
        Ok(running)
    }

    fn recoveries(
        &self,
        query: &str,
        bindings: Vec<SqlStorageValue>,
    ) -> Result<Vec<Recovery>, ApiError> {
        #[derive(Deserialize)]
        struct Row {
            state: String,
        }
        let rows: Vec<Row> = self.select(query, bindings)?;
        rows.into_iter()
            .map(|r| {
                serde_json::from_str(&r.state)
                    .map_err(|e| internal(format!("recovery {:?} is unreadable: {e}", r.state)))
            })
            .collect()
    }

    /// Stores a recovery as it stands; older finished ones are forgotten.
    pub fn put_recovery(&self, r: &Recovery, now_ms: i64) -> Result<(), ApiError> {
        // Look again whether one runs.
        self.recovering.set(None);
        let state = serde_json::to_string(r).ctx("recovery: encode")?;
        self.exec(
            "INSERT INTO recoveries (id, state, created_at) VALUES (?, ?, ?) \
             ON CONFLICT(id) DO UPDATE SET state = excluded.state",
            vec![r.id.as_str().into(), state.into(), now_ms.into()],
        )?;
        self.exec(
            "DELETE FROM recoveries WHERE id NOT IN \
             (SELECT id FROM recoveries ORDER BY created_at DESC LIMIT 20)",
            vec![],
        )
    }

    /// Reopens the recovery's next batch, in creation order, for now: each
    /// pending again with a fresh attempt budget and its own id. Answers how
    /// many were reopened (0 once all were); the recovery's position moves
    /// on and is stored with them.
    pub fn reopen_next(&self, r: &mut Recovery, now_ms: i64) -> Result<usize, ApiError> {
        #[derive(Deserialize)]
        struct Row {
            seq: i64,
            created_at: i64,
        }
        let Some((sql, ints, states)) = r.next_batch_sql() else {
            return Ok(0);
        };
        let mut bindings: Vec<SqlStorageValue> = ints.into_iter().map(Into::into).collect();
        bindings.extend(states.into_iter().map(SqlStorageValue::from));
        let batch: Vec<Row> = self.select(&sql, bindings)?;
        for row in &batch {
            self.exec(
                "UPDATE deliveries SET state = 'pending', round_start = attempt_count, due_at = ?, \
                 next_retry_at = NULL, updated_at = ? WHERE seq = ?",
                vec![now_ms.into(), now_ms.into(), row.seq.into()],
            )?;
            self.exec(
                "INSERT OR IGNORE INTO recovery_members (seq) VALUES (?)",
                vec![row.seq.into()],
            )?;
            self.members.set(Some(true));
        }
        r.reopened += batch.len() as i64;
        if let Some(last) = batch.last() {
            r.position = Some((last.created_at, last.seq));
        }
        if batch.is_empty() {
            // Fewer matched than were counted (some were retried meanwhile).
            r.count = r.reopened;
        }
        self.put_recovery(r, now_ms)?;
        Ok(batch.len())
    }

    /// A delivery finished: if the running recovery reopened it, that
    /// recovery counts it.
    pub fn recovery_settled(&self, seq: i64, delivered: bool, now_ms: i64) -> Result<(), ApiError> {
        if self.members.get().is_none() {
            let any: Vec<Value> =
                self.select("SELECT seq AS v FROM recovery_members LIMIT 1", vec![])?;
            self.members.set(Some(!any.is_empty()));
        }
        if self.members.get() == Some(false) {
            return Ok(());
        }
        let member: Vec<Value> = self.select(
            "DELETE FROM recovery_members WHERE seq = ? RETURNING seq AS v",
            vec![seq.into()],
        )?;
        if member.is_empty() {
            return Ok(());
        }
        if let Some(mut r) = self.running_recovery()? {
            r.settled(delivered);
            self.put_recovery(&r, now_ms)?;
            if r.finished() {
                // Look again whether any member is left.
                self.members.set(None);
            }
        }
        Ok(())
    }
}
