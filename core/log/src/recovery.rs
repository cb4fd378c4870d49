//! Recovering a destination's deliveries of a time range
//! (`POST …/webhook_destination/{id}/recover`): the request's rules, and how a
//! recovery moves through the log.
//!
//! A recovery sends again, in creation order, every delivery created in
//! `[since, until]` whose state is one of `states` (`failed` and `skipped` by
//! default), each with its own id and a fresh attempt budget, through the
//! destination's normal window and throttle. It reopens them a batch at a time
//! (the next batch once the queue has taken the last), so a recovery of a
//! million deliveries never floods the queue, and it keeps its position (the
//! last delivery reopened) in the object's storage: a restart resumes it where
//! it stood. One recovery runs at a time per destination.

use edgehook_core::delivery::State;
use edgehook_core::destination::parse_json_object;
use edgehook_core::error::{ApiError, FieldError};
use edgehook_core::time::parse_timestamp_ms;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How far back a recovery may reach.
pub const MAX_RECOVER_BACK_MS: i64 = 14 * 86_400_000;
/// Deliveries reopened at a time.
pub const BATCH: i64 = 200;
/// The states a recovery takes by default, and the only ones it may take.
pub const RECOVERABLE: [State; 2] = [State::Failed, State::Skipped];

/// A validated recover body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoverRequest {
    pub since_ms: i64,
    pub until_ms: i64,
    pub states: Vec<State>,
    pub dry_run: bool,
}

/// Reads a recover body at `now_ms`; every bad field is named in one 422.
pub fn parse_recover(body: &[u8], now_ms: i64) -> Result<RecoverRequest, ApiError> {
    let obj = parse_json_object(body)?;
    let mut errors = vec![];
    let mut fail = |field: &str, msg: &str, kind: &str| {
        errors.push(FieldError::new(&["body", field], msg, kind));
    };
    let mut time = |field: &str| -> Option<i64> {
        match obj.get(field)? {
            Value::String(s) => {
                let t = parse_timestamp_ms(s);
                if t.is_none() {
                    fail(
                        field,
                        "Input should be a valid ISO 8601 datetime",
                        "datetime_parsing",
                    );
                }
                t
            }
            _ => {
                fail(
                    field,
                    "Input should be a valid ISO 8601 datetime",
                    "datetime_type",
                );
                None
            }
        }
    };
    let since = time("since");
    let until = time("until");
    if !obj.contains_key("since") {
        fail("since", "Field required", "missing");
    }
    if let Some(s) = since
        && s < now_ms - MAX_RECOVER_BACK_MS
    {
        fail(
            "since",
            "Input should be at most 14 days ago: deliveries older than that cannot be recovered",
            "greater_than_equal",
        );
    }
    if let (Some(s), Some(u)) = (since, until)
        && u < s
    {
        fail(
            "until",
            "Input should not be before since",
            "greater_than_equal",
        );
    }
    let states = match obj.get("states") {
        None => RECOVERABLE.to_vec(),
        Some(Value::Array(items)) => {
            let mut states = vec![];
            for item in items {
                match item.as_str().and_then(State::parse) {
                    Some(s) if RECOVERABLE.contains(&s) => {
                        if !states.contains(&s) {
                            states.push(s);
                        }
                    }
                    _ => fail(
                        "states",
                        "Input should be a list of 'failed' and 'skipped'",
                        "enum",
                    ),
                }
            }
            if items.is_empty() {
                fail("states", "List should have at least 1 item", "too_short");
            }
            states
        }
        Some(_) => {
            fail("states", "Input should be a valid list", "list_type");
            vec![]
        }
    };
    let dry_run = match obj.get("dry_run") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            fail("dry_run", "Input should be a valid boolean", "bool_type");
            false
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(RecoverRequest {
        since_ms: since.unwrap_or(now_ms),
        until_ms: until.unwrap_or(now_ms).max(since.unwrap_or(now_ms)),
        states,
        dry_run,
    })
}

/// A recovery as its destination's object keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovery {
    pub id: String,
    pub request: RecoverRequest,
    /// Deliveries it sends again.
    pub count: i64,
    /// Of those, delivered and failed for good so far.
    pub done: i64,
    pub failed: i64,
    /// Reopened so far.
    pub reopened: i64,
    /// The last delivery reopened: (created_at, seq).
    pub position: Option<(i64, i64)>,
}

/// Where a recovery stands, as `GET …/recover/{recovery_id}` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// `running` until every delivery it reopened has finished, then `done`.
    pub state: String,
    pub count: i64,
    pub done: i64,
    pub failed: i64,
}

impl Recovery {
    pub fn progress(&self) -> Progress {
        Progress {
            state: if self.finished() { "done" } else { "running" }.to_string(),
            count: self.count,
            done: self.done,
            failed: self.failed,
        }
    }

    /// Every delivery was reopened and has finished.
    pub fn finished(&self) -> bool {
        self.reopened >= self.count && self.done + self.failed >= self.count
    }

    /// A reopened delivery finished: delivered or not.
    pub fn settled(&mut self, delivered: bool) {
        if delivered {
            self.done += 1;
        } else {
            self.failed += 1;
        }
    }

    /// The SQL of the next batch to reopen, after the position, in creation
    /// order, with its parameters; `None` once all are reopened.
    pub fn next_batch_sql(&self) -> Option<(String, Vec<i64>, Vec<String>)> {
        if self.reopened >= self.count {
            return None;
        }
        // Before the first batch: just before `since` (sequence numbers start at 1).
        let (after_created, after_seq) = self.position.unwrap_or((self.request.since_ms - 1, 0));
        let states: Vec<String> = self
            .request
            .states
            .iter()
            .map(|s| s.as_str().to_string())
            .collect();
        let marks = (0..states.len())
            .map(|i| format!("?{}", i + 6))
            .collect::<Vec<_>>()
            .join(", ");
        Some((
            format!(
                "SELECT seq, created_at, state FROM deliveries INDEXED BY deliveries_created \
                 WHERE created_at >= ?1 AND created_at <= ?2 AND created_at >= ?3 \
                 AND (created_at > ?3 OR seq > ?4) AND state IN ({marks}) \
                 ORDER BY created_at, seq LIMIT ?5"
            ),
            vec![
                self.request.since_ms,
                self.request.until_ms,
                after_created,
                after_seq,
                BATCH,
            ],
            states,
        ))
    }
}

/// The SQL that counts what a recovery would send: one index range per state.
pub fn count_sql(request: &RecoverRequest) -> Vec<(String, Vec<i64>, String)> {
    request
        .states
        .iter()
        .map(|s| {
            (
                "SELECT COUNT(*) AS v FROM deliveries INDEXED BY deliveries_state \
                 WHERE state = ?3 AND created_at >= ?1 AND created_at <= ?2"
                    .to_string(),
                vec![request.since_ms, request.until_ms],
                s.as_str().to_string(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_767_225_600_000 + MAX_RECOVER_BACK_MS;

    fn parse(v: Value) -> Result<RecoverRequest, ApiError> {
        parse_recover(v.to_string().as_bytes(), NOW)
    }

    fn fields(e: ApiError) -> Vec<String> {
        let ApiError::Validation(errs) = e else {
            panic!("{e:?}")
        };
        errs.into_iter().map(|e| e.loc[1].clone()).collect()
    }

    #[test]
    fn defaults_take_failed_and_skipped_until_now() {
        let r = parse(json!({"since": "2026-01-01T00:00:00Z"})).unwrap();
        assert_eq!(
            r,
            RecoverRequest {
                since_ms: 1_767_225_600_000,
                until_ms: NOW,
                states: vec![State::Failed, State::Skipped],
                dry_run: false
            }
        );
        let r = parse(
            json!({"since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z",
                             "states": ["skipped", "skipped"], "dry_run": true}),
        )
        .unwrap();
        assert_eq!(r.until_ms, 1_767_312_000_000);
        assert_eq!(r.states, vec![State::Skipped]);
        assert!(r.dry_run);
    }

    #[test]
    fn since_is_required_and_at_most_14_days_back() {
        assert_eq!(fields(parse(json!({})).unwrap_err()), vec!["since"]);
        assert_eq!(
            fields(parse(json!({"since": "2025-12-31T23:59:59.999Z"})).unwrap_err()),
            vec!["since"]
        );
        assert!(
            parse(json!({"since": "2026-01-01T00:00:00Z"})).is_ok(),
            "exactly 14 days"
        );
        assert_eq!(MAX_RECOVER_BACK_MS, 1_209_600_000);
        let instant =
            parse(json!({"since": "2026-01-05T00:00:00Z", "until": "2026-01-05T00:00:00Z"}))
                .unwrap();
        assert_eq!(
            instant.since_ms, instant.until_ms,
            "a range may be one instant"
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let e = parse(
            json!({"since": "yesterday", "until": 5, "states": ["pending"], "dry_run": "yes"}),
        )
        .unwrap_err();
        assert_eq!(fields(e), vec!["since", "until", "states", "dry_run"]);
        let e = parse(
            json!({"since": "2026-01-05T00:00:00Z", "until": "2026-01-04T00:00:00Z", "states": []}),
        )
        .unwrap_err();
        assert_eq!(fields(e), vec!["until", "states"]);
        assert_eq!(
            fields(
                parse(json!({"since": "2026-01-05T00:00:00Z", "states": "failed"})).unwrap_err()
            ),
            vec!["states"]
        );
        assert!(parse_recover(b"[]", NOW).is_err());
    }

    fn recovery(count: i64) -> Recovery {
        Recovery {
            id: "r".into(),
            request: RecoverRequest {
                since_ms: 10,
                until_ms: 20,
                states: vec![State::Failed, State::Skipped],
                dry_run: false,
            },
            count,
            done: 0,
            failed: 0,
            reopened: 0,
            position: None,
        }
    }

    #[test]
    fn progress_counts_what_finished() {
        let mut r = recovery(3);
        assert_eq!(
            r.progress(),
            Progress {
                state: "running".into(),
                count: 3,
                done: 0,
                failed: 0
            }
        );
        r.reopened = 3;
        r.settled(true);
        r.settled(false);
        assert!(!r.finished());
        r.settled(true);
        assert_eq!(
            r.progress(),
            Progress {
                state: "done".into(),
                count: 3,
                done: 2,
                failed: 1
            }
        );
        assert!(recovery(0).finished(), "nothing to send is done at once");
    }

    #[test]
    fn batches_go_in_creation_order_from_the_position() {
        let mut r = recovery(5);
        let (sql, ints, states) = r.next_batch_sql().unwrap();
        assert!(sql.contains("ORDER BY created_at, seq LIMIT ?5"), "{sql}");
        assert!(sql.contains("state IN (?6, ?7)"), "{sql}");
        assert_eq!(ints, vec![10, 20, 9, 0, BATCH]);
        assert_eq!(states, vec!["failed", "skipped"]);
        r.position = Some((15, 7));
        r.reopened = 2;
        assert_eq!(r.next_batch_sql().unwrap().1, vec![10, 20, 15, 7, BATCH]);
        r.reopened = 5;
        assert_eq!(r.next_batch_sql(), None);
        let counts = count_sql(&r.request);
        assert_eq!(counts.len(), 2);
        assert_eq!(counts[1].2, "skipped");
        assert_eq!(counts[0].1, vec![10, 20]);
    }

    /// Batches run on a real log: every matching delivery once, in creation
    /// order, and the count agrees.
    #[test]
    fn batches_over_a_log_reopen_each_match_once_in_creation_order() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        db.execute_batch(crate::log_schema::SCHEMA).unwrap();
        let states = ["failed", "skipped", "success", "pending"];
        let mut rows = vec![];
        for i in 0..2_000i64 {
            // created_at goes back and forth a little, as concurrent publishes do.
            let created = 1_000 + i - (i % 7) * 3;
            let state = states[(i % 4) as usize];
            db.execute(
                "INSERT INTO deliveries (id, type, body, state, created_at, updated_at) VALUES (?1, 't', '{}', ?2, ?3, ?3)",
                rusqlite::params![format!("d{i}"), state, created],
            )
            .unwrap();
            rows.push((created, i + 1, state));
        }
        let request = RecoverRequest {
            since_ms: 1_100,
            until_ms: 2_600,
            states: vec![State::Failed, State::Skipped],
            dry_run: false,
        };
        let mut want: Vec<(i64, i64)> = rows
            .iter()
            .filter(|(c, _, s)| (1_100..=2_600).contains(c) && (*s == "failed" || *s == "skipped"))
            .map(|(c, q, _)| (*c, *q))
            .collect();
        want.sort_unstable();
        let count: i64 = count_sql(&request)
            .iter()
            .map(|(sql, ints, state)| {
                db.query_row(sql, rusqlite::params![ints[0], ints[1], state], |r| {
                    r.get::<_, i64>(0)
                })
                .unwrap()
            })
            .sum();
        assert_eq!(count, want.len() as i64);
        let mut r = Recovery {
            request,
            count,
            ..recovery(0)
        };
        let mut got = vec![];
        while let Some((sql, ints, states)) = r.next_batch_sql() {
            let mut params: Vec<rusqlite::types::Value> =
                ints.into_iter().map(Into::into).collect();
            params.extend(states.into_iter().map(Into::into));
            let batch: Vec<(i64, i64)> = db
                .prepare(&sql)
                .unwrap()
                .query_map(rusqlite::params_from_iter(params), |row| {
                    Ok((row.get(1)?, row.get(0)?))
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert!(!batch.is_empty() && batch.len() as i64 <= BATCH);
            for (created, seq) in &batch {
                db.execute(
                    "UPDATE deliveries SET state = 'pending' WHERE seq = ?1",
                    [seq],
                )
                .unwrap();
                got.push((*created, *seq));
            }
            r.reopened += batch.len() as i64;
            r.position = batch.last().copied();
        }
        assert_eq!(got, want);
        assert!(got.len() as i64 > 2 * BATCH, "several batches");
    }
}
