//! A destination's delivery log and queue, in its object's own SQLite (its
//! tables are `edgehook_log::log_schema`).
//!
//! One row per delivery holds its body, type, state and attempt count; a
//! delivery is queued while `due_at` is set (the time of its next attempt, or
//! the lease of an attempt in flight). One row per attempt holds its time,
//! status code, duration, error and the start of the receiver's answer.
//! Cursors keep the position of each page a client was given; the pages
//! themselves are read as `edgehook_log::deliveries_page` decides. Every
//! change of a delivery's state also moves it between the hourly counters,
//! in the same statement (the triggers of `edgehook_log::delivery_stats`).
//! Writes made without an `await` between them commit together, so a run's
//! records, the queue and the counters never disagree.

use super::{NewDelivery, Page};
use crate::error::Context;
use crate::http::internal;
use edgehook_core::delivery::{AttemptView, DeliveryView, State};
use edgehook_core::delivery_run::{Due, Settled};
use edgehook_core::destination_health::Health;
use edgehook_core::error::ApiError;
use edgehook_core::time::rfc3339_ms;
use edgehook_log::deliveries_page::{
    Cursor, LogReader, LogRow, Param, Position, query_key, read_page, snapshot,
};
use edgehook_log::deliveries_query::DeliveryQuery;
use edgehook_log::log_schema::{
    INSERT_MAX_ROWS, RECORD_ATTEMPT, full_schema, insert_deliveries, insert_deliveries_returning,
};
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use std::cell::{Cell, RefCell};
use worker::{SqlStorage, SqlStorageValue};

/// How long a page's continuation token stays valid.
pub const CURSOR_LIFETIME_MS: i64 = 24 * 3600 * 1000;

/// A queued delivery that is due.
#[derive(Debug, Deserialize)]
pub struct DueRow {
    pub seq: i64,
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub body: String,
    pub attempt_count: i64,
    pub round_start: i64,
    pub created_at: i64,
}

impl DueRow {
    pub fn due(&self) -> Due {
        Due {
            attempt_count: self.attempt_count as u32,
            round_start: self.round_start as u32,
        }
    }
}

#[derive(Debug, Deserialize)]
struct AttemptRow {
    delivery_seq: i64,
    attempted_at: i64,
    status_code: i64,
    duration_ms: i64,
    error: Option<String>,
    answer: Option<String>,
    answer_truncated: Option<i64>,
}

#[derive(Deserialize)]
pub(super) struct Value {
    pub(super) v: Option<i64>,
}

/// The log of one destination. Its object is the only writer of its SQLite,
/// so what it last read or wrote of the small tables it keeps in memory.
pub struct Log {
    sql: SqlStorage,
    /// The health ladder's streak as last read or written.
    pub(super) health: RefCell<Option<Health>>,
    /// Whether `recovery_members` may hold a delivery (`None`: not looked at):
    /// while it holds none, a finished delivery costs no statement for it.
    pub(super) members: Cell<Option<bool>>,
    /// Whether a recovery may be running (`None`: not looked at): while none
    /// is, a take that finds the queue dry costs no statement for it.
    pub(super) recovering: Cell<Option<bool>>,
}

impl Log {
    /// The log over an object's SQLite; creates its tables if they are missing.
    pub fn open(sql: SqlStorage) -> Result<Log, ApiError> {
        let log = Log {
            sql,
            health: RefCell::new(None),
            members: Cell::new(None),
            recovering: Cell::new(None),
        };
        log.exec(&full_schema(), vec![])?;
        Ok(log)
    }

    /// Whether the log holds a delivery with this id.
    pub fn holds(&self, id: &str) -> Result<bool, ApiError> {
        let rows: Vec<Value> = self.select(
            "SELECT seq AS v FROM deliveries WHERE id = ?",
            vec![id.into()],
        )?;
        Ok(!rows.is_empty())
    }

    /// Stores new deliveries, in order, queued for now, or `skipped` (kept,
    /// never sent unless recovered) when the destination is paused or
    /// disabled: one statement per `INSERT_MAX_ROWS` (14: 98 of the 100
    /// parameters a statement may bind). A delivery id already in the log is
    /// left as it is (a publish retried after a lost answer). The first
    /// `straight` go straight into the window: leased until `lease_ms` as they
    /// are stored, and answered as due rows to start (those stored, in order).
    pub fn insert(
        &self,
        ds: &[NewDelivery],
        now_ms: i64,
        skipped: bool,
        straight: usize,
        lease_ms: i64,
    ) -> Result<Vec<DueRow>, ApiError> {
        #[derive(Deserialize)]
        struct Stored {
            seq: i64,
            id: String,
        }
        let state = if skipped {
            State::Skipped
        } else {
            State::Pending
        };
        let mut leased = vec![];
        for (chunk, rows) in ds.chunks(INSERT_MAX_ROWS).enumerate() {
            let first = chunk * INSERT_MAX_ROWS;
            let mut bindings = Vec::with_capacity(rows.len() * 7);
            for (i, d) in rows.iter().enumerate() {
                bindings.extend([
                    d.delivery_id.as_str().into(),
                    d.event_type.as_str().into(),
                    d.body.as_str().into(),
                    state.as_str().into(),
                    if skipped {
                        SqlStorageValue::Null
                    } else if first + i < straight {
                        lease_ms.into()
                    } else {
                        now_ms.into()
                    },
                    d.created_at_ms.into(),
                    now_ms.into(),
                ]);
            }
            if first >= straight {
                self.exec(&insert_deliveries(rows.len()), bindings)?;
                continue;
            }
            let stored: Vec<Stored> =
                self.select(&insert_deliveries_returning(rows.len()), bindings)?;
            // At most a window's worth, among at most `INSERT_MAX_ROWS` answered.
            leased.extend(
                rows[..(straight - first).min(rows.len())]
                    .iter()
                    .filter_map(|d| {
                        let s = stored.iter().find(|s| s.id == d.delivery_id)?;
                        Some(DueRow {
                            seq: s.seq,
                            id: d.delivery_id.clone(),
                            event_type: d.event_type.clone(),
                            body: d.body.clone(),
                            attempt_count: 0,
                            round_start: 0,
                            created_at: d.created_at_ms,
                        })
                    }),
            );
        }
        Ok(leased)
    }

    /// Takes up to `limit` deliveries due by `now_ms`, earliest first, and
    /// holds them until `until_ms` while they are attempted: if the runtime
    /// stops mid-attempt they are due again after it (at least once, same id).
    pub fn take_due(
        &self,
        now_ms: i64,
        limit: i64,
        until_ms: i64,
    ) -> Result<Vec<DueRow>, ApiError> {
        self.select(
            "UPDATE deliveries SET due_at = ? WHERE seq IN \
             (SELECT seq FROM deliveries WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT ?) \
             RETURNING seq, id, type, body, attempt_count, round_start, created_at",
            vec![until_ms.into(), now_ms.into(), limit.into()],
        )
    }

    /// Makes deliveries taken but not attempted due at `now_ms` again.
    pub fn release(&self, seqs: impl Iterator<Item = i64>, now_ms: i64) -> Result<(), ApiError> {
        self.exec(
            "UPDATE deliveries SET due_at = ? \
             WHERE seq IN (SELECT value FROM json_each(?)) AND due_at IS NOT NULL",
            vec![now_ms.into(), json_list(seqs)?.into()],
        )
    }

    /// Records an attempt of `row` and the delivery's new state, in one
    /// statement (`RECORD_ATTEMPT`); a finished delivery leaves the queue.
    pub fn record(
        &self,
        row: &DueRow,
        s: &Settled,
        dual_signed: bool,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        let a = &s.attempt;
        self.exec(
            RECORD_ATTEMPT,
            vec![
                row.seq.into(),
                i64::from(a.attempt_no).into(),
                a.attempted_at_ms.into(),
                i64::from(a.status_code).into(),
                a.duration_ms.into(),
                a.error.clone().into(),
                a.answer.as_ref().map(|x| x.body.clone()).into(),
                a.answer.as_ref().map(|x| i64::from(x.truncated)).into(),
                s.state.as_str().into(),
                s.next_attempt_at_ms.into(),
                i64::from(dual_signed).into(),
                now_ms.into(),
            ],
        )
    }

    /// When the earliest queued delivery is due.
    pub fn next_due(&self) -> Result<Option<i64>, ApiError> {
        self.value("SELECT MIN(due_at) AS v FROM deliveries WHERE due_at IS NOT NULL")
    }

    /// When the oldest finished delivery in the log was created.
    pub fn oldest_finished(&self) -> Result<Option<i64>, ApiError> {
        self.value("SELECT MIN(created_at) AS v FROM deliveries WHERE due_at IS NULL")
    }

    /// Deletes up to `limit` finished deliveries created at or before
    /// `cutoff_ms` with their attempts, and cursors older than their lifetime.
    /// A delivery still queued (a paused destination's) is kept until it is
    /// finished. Returns how many deliveries went. At or before: the alarm set
    /// for a delivery's expiry fires at exactly `created_at + retention`, and
    /// must find it expired then, or it would set itself for that same instant
    /// again, which the runtime drops as the alarm that just ran.
    pub fn purge(&self, cutoff_ms: i64, now_ms: i64, limit: i64) -> Result<usize, ApiError> {
        let old: Vec<Value> = self.select(
            "SELECT seq AS v FROM deliveries WHERE created_at <= ? AND due_at IS NULL \
             ORDER BY created_at LIMIT ?",
            vec![cutoff_ms.into(), limit.into()],
        )?;
        if !old.is_empty() {
            let seqs = json_list(old.iter().filter_map(|r| r.v))?;
            self.exec(
                "DELETE FROM attempts WHERE delivery_seq IN (SELECT value FROM json_each(?))",
                vec![seqs.clone().into()],
            )?;
            self.exec(
                "DELETE FROM deliveries WHERE seq IN (SELECT value FROM json_each(?))",
                vec![seqs.into()],
            )?;
        }
        self.exec(
            "DELETE FROM page_cursors WHERE created_at < ?",
            vec![(now_ms - CURSOR_LIFETIME_MS).into()],
        )?;
        self.forget_counts_before(cutoff_ms)?;
        Ok(old.len())
    }

    /// A page of the log. The first page fixes the snapshot; each page with
    /// more after it stores a cursor whose number is the continuation token.
    pub fn page(&self, q: &DeliveryQuery, now_ms: i64) -> Result<Page, ApiError> {
        let read = match q.token {
            None => read_page(self, q, snapshot(self)?, None)?,
            Some(token) => {
                #[derive(Deserialize)]
                struct Stored {
                    snapshot_seq: i64,
                    query: String,
                    after: String,
                }
                let stored: Vec<Stored> = self.select(
                    "SELECT snapshot_seq, query, after FROM page_cursors WHERE id = ? AND created_at >= ?",
                    vec![token.into(), (now_ms - CURSOR_LIFETIME_MS).into()],
                )?;
                let Some(c) = stored.into_iter().find(|c| c.query == query_key(q)) else {
                    return Err(ApiError::invalid(
                        &["query", "continuation_token"],
                        "Input should be a token returned in the last 24 h by a previous page of \
                         the same query (same filters and sort_by)",
                        "value_error",
                    ));
                };
                let after: Position = serde_json::from_str(&c.after)
                    .map_err(|e| internal(format!("cursor {token} is unreadable: {e}")))?;
                read_page(self, q, c.snapshot_seq, Some(&after))?
            }
        };
        let continuation_token = match read.next {
            Some(next) => Some(self.store_cursor(&next, now_ms)?),
            None => None,
        };
        Ok(Page {
            webhook_deliveries: self.views(read.rows, false)?,
            has_more: continuation_token.is_some(),
            continuation_token,
        })
    }

    /// Keeps a next page's position; its number is the continuation token.
    fn store_cursor(&self, c: &Cursor, now_ms: i64) -> Result<i64, ApiError> {
        let after = serde_json::to_string(&c.after).ctx("cursor: encode the position")?;
        let ids: Vec<Value> = self.select(
            "INSERT INTO page_cursors (snapshot_seq, query, after, created_at) VALUES (?, ?, ?, ?) RETURNING id AS v",
            vec![
                c.snapshot_seq.into(),
                c.query.as_str().into(),
                after.into(),
                now_ms.into(),
            ],
        )?;
        ids.first()
            .and_then(|i| i.v)
            .ok_or_else(|| internal("cursor not stored"))
    }

    /// One delivery with every attempt, the receivers' answers included.
    pub fn get(&self, id: &str) -> Result<Option<DeliveryView>, ApiError> {
        let rows: Vec<LogRow> = self.select(
            "SELECT seq, id, type, state, next_retry_at, dual_signed, created_at, body FROM deliveries WHERE id = ?",
            vec![id.into()],
        )?;
        Ok(self.views(rows, true)?.pop())
    }

    /// Puts a failed delivery back in the queue for now, with a fresh retry
    /// budget. 404 when the log has no such delivery, 409 when it is not failed.
    pub fn reopen_failed(&self, id: &str, now_ms: i64) -> Result<(), ApiError> {
        #[derive(Deserialize)]
        struct Current {
            state: String,
        }
        let current: Vec<Current> =
            self.select("SELECT state FROM deliveries WHERE id = ?", vec![id.into()])?;
        match current.first().map(|c| c.state.as_str()) {
            None => Err(ApiError::NotFound(format!(
                "webhook delivery {id} not found"
            ))),
            Some("failed") => self.exec(
                "UPDATE deliveries SET state = 'pending', round_start = attempt_count, due_at = ?, \
                 next_retry_at = NULL, updated_at = ? WHERE id = ?",
                vec![now_ms.into(), now_ms.into(), id.into()],
            ),
            Some(_) => Err(ApiError::Conflict(format!(
                "webhook delivery {id} is not failed; only failed deliveries can be retried"
            ))),
        }
    }

    fn views(&self, rows: Vec<LogRow>, detail: bool) -> Result<Vec<DeliveryView>, ApiError> {
        if rows.is_empty() {
            return Ok(vec![]);
        }
        let seqs = json_list(rows.iter().map(|r| r.seq))?;
        let attempts: Vec<AttemptRow> = self.select(
            "SELECT delivery_seq, attempted_at, status_code, duration_ms, error, answer, answer_truncated FROM attempts \
             WHERE delivery_seq IN (SELECT value FROM json_each(?)) ORDER BY delivery_seq, attempt_no",
            vec![seqs.into()],
        )?;
        rows.into_iter()
            .map(|r| {
                let state = State::parse(&r.state).ok_or_else(|| {
                    internal(format!("delivery {} has state {:?}", r.id, r.state))
                })?;
                let webhook_content = serde_json::from_str(&r.body)
                    .map_err(|e| internal(format!("delivery {} body: {e}", r.id)))?;
                Ok(DeliveryView {
                    delivery_attempts: attempts
                        .iter()
                        .filter(|a| a.delivery_seq == r.seq)
                        .map(|a| AttemptView {
                            delivery_time: rfc3339_ms(a.attempted_at),
                            status_code: a.status_code as u16,
                            duration_ms: a.duration_ms,
                            error: a.error.clone(),
                            response_body: if detail { a.answer.clone() } else { None },
                            response_body_truncated: if detail {
                                a.answer_truncated.map(|t| t != 0)
                            } else {
                                None
                            },
                        })
                        .collect(),
                    webhook_content,
                    id: r.id,
                    event_type: r.event_type,
                    status: state.status().to_string(),
                    dual_signed: r.dual_signed != 0,
                    created_at: rfc3339_ms(r.created_at),
                    state,
                    next_retry_at: r.next_retry_at.map(rfc3339_ms),
                })
            })
            .collect()
    }

    fn value(&self, query: &str) -> Result<Option<i64>, ApiError> {
        let rows: Vec<Value> = self.select(query, vec![])?;
        Ok(rows.first().and_then(|r| r.v))
    }

    pub(super) fn select<T: DeserializeOwned>(
        &self,
        query: &str,
        bindings: Vec<SqlStorageValue>,
    ) -> Result<Vec<T>, ApiError> {
        self.sql
            .exec(query, bindings)
            .and_then(|c| c.to_array())
            .map_err(|e| internal(format!("object SQLite failed: {e} in: {query}")))
    }

    pub(super) fn exec(&self, query: &str, bindings: Vec<SqlStorageValue>) -> Result<(), ApiError> {
        self.select::<IgnoredAny>(query, bindings).map(drop)
    }
}

fn json_list(values: impl Iterator<Item = i64>) -> Result<String, ApiError> {
    Ok(serde_json::to_string(&values.collect::<Vec<_>>()).ctx("log: encode sequence numbers")?)
}

impl LogReader for Log {
    type Error = ApiError;

    fn rows<T: DeserializeOwned>(&self, sql: &str, params: &[Param]) -> Result<Vec<T>, ApiError> {
        let bindings = params
            .iter()
            .map(|p| match p {
                Param::Text(t) => SqlStorageValue::from(t.as_str()),
                Param::Int(i) => SqlStorageValue::from(*i),
            })
            .collect();
        self.select(sql, bindings)
    }
}
