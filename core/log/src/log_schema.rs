//! The schema of a destination's delivery log, in its object's own SQLite:
//! kept here so that the statements decided in `core` (the pages of
//! [`crate::deliveries_page`]) are tested against the very tables and indexes
//! the object creates.
//!
//! - `deliveries`: one row per delivery: its body, type, state and attempt
//!   count; it is queued while `due_at` is set (the time of its next attempt,
//!   or the lease of an attempt in flight).
//! - `attempts`: one row per attempt: time, status code, duration, error and
//!   the start of the receiver's answer.
//! - `attempt_records`: a view to write into, never read: inserting an
//!   attempt there ([`RECORD_ATTEMPT`]) writes its row in `attempts` and its
//!   delivery's new state, attempt count and next attempt, in one statement.
//! - `page_cursors`: the position of each page a client was given (the
//!   number is its `continuation_token`), kept for a day.
//! - `stats_hourly`: counters per hour for `GET …/stats`, kept by triggers
//!   on `deliveries` ([`crate::delivery_stats`]).
//! - `destination_health`: the failing streak of the health ladder
//!   ([`edgehook_core::destination_health`]), one row.
//! - `recoveries` and `recovery_members`: the destination's recoveries
//!   ([`crate::recovery`]) and the deliveries the running one reopened and
//!   waits for.
//!
//! Every statement is idempotent, so opening a log creates what is missing
//! and leaves the rest as it is.

/// Creates whatever of the log is missing.
pub const SCHEMA: &str = "\
CREATE TABLE IF NOT EXISTS deliveries (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT,
  id            TEXT NOT NULL UNIQUE,
  type          TEXT NOT NULL,
  body          TEXT NOT NULL,
  state         TEXT NOT NULL,
  attempt_count INTEGER NOT NULL DEFAULT 0,
  round_start   INTEGER NOT NULL DEFAULT 0,
  due_at        INTEGER,
  next_retry_at INTEGER,
  dual_signed   INTEGER NOT NULL DEFAULT 0,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(due_at) WHERE due_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS deliveries_created ON deliveries(created_at);
CREATE INDEX IF NOT EXISTS deliveries_type ON deliveries(type, created_at);
CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries(state, created_at);
CREATE TABLE IF NOT EXISTS attempts (
  delivery_seq  INTEGER NOT NULL,
  attempt_no    INTEGER NOT NULL,
  attempted_at  INTEGER NOT NULL,
  status_code   INTEGER NOT NULL,
  duration_ms   INTEGER NOT NULL,
  error         TEXT,
  answer        TEXT,
  answer_truncated INTEGER,
  PRIMARY KEY (delivery_seq, attempt_no)
) WITHOUT ROWID;
CREATE VIEW IF NOT EXISTS attempt_records (
  seq, attempt_no, attempted_at, status_code, duration_ms, error, answer, answer_truncated,
  state, due_at, dual_signed, updated_at
) AS SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL WHERE 0;
CREATE TRIGGER IF NOT EXISTS attempt_recorded INSTEAD OF INSERT ON attempt_records BEGIN
  INSERT OR REPLACE INTO attempts (delivery_seq, attempt_no, attempted_at, status_code, duration_ms, error, answer, answer_truncated)
  VALUES (NEW.seq, NEW.attempt_no, NEW.attempted_at, NEW.status_code, NEW.duration_ms, NEW.error, NEW.answer, NEW.answer_truncated);
  UPDATE deliveries SET state = NEW.state, attempt_count = NEW.attempt_no, due_at = NEW.due_at,
    next_retry_at = NEW.due_at, dual_signed = MAX(dual_signed, NEW.dual_signed), updated_at = NEW.updated_at
  WHERE seq = NEW.seq;
END;
DROP TABLE IF EXISTS cursors;
CREATE TABLE IF NOT EXISTS page_cursors (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  snapshot_seq  INTEGER NOT NULL,
  query         TEXT NOT NULL,
  after         TEXT NOT NULL,
  created_at    INTEGER NOT NULL
);";

/// Records an attempt of a delivery: its row in `attempts` (replacing one of
/// the same number), then the delivery's `state`, `attempt_count` (the
/// attempt's number), `due_at` and `next_retry_at` (its next attempt, `NULL`
/// when it is finished), `dual_signed` (kept once set) and `updated_at`; the
/// counters follow ([`crate::delivery_stats::triggers`]). Parameters in order:
/// seq, attempt_no, attempted_at, status_code, duration_ms, error, answer,
/// answer_truncated, state, due_at, dual_signed, updated_at.
pub const RECORD_ATTEMPT: &str = "INSERT INTO attempt_records \
(seq, attempt_no, attempted_at, status_code, duration_ms, error, answer, answer_truncated, state, due_at, dual_signed, updated_at) \
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

/// Most parameters one statement may bind in a Durable Object's SQLite
/// (Cloudflare's limit, which `wrangler dev` enforces too).
pub const MAX_BOUND_PARAMETERS: usize = 100;

/// Most deliveries one [`insert_deliveries`] statement stores: 7 parameters
/// each, within [`MAX_BOUND_PARAMETERS`].
pub const INSERT_MAX_ROWS: usize = MAX_BOUND_PARAMETERS / 7;

/// Stores `rows` new deliveries (at least 1) in one statement, in order; an id
/// already in the log is left as it is. Parameters per row, in order: id,
/// type, body, state, due_at, created_at, updated_at.
pub fn insert_deliveries(rows: usize) -> String {
    format!(
        "INSERT OR IGNORE INTO deliveries (id, type, body, state, due_at, created_at, updated_at) VALUES {}",
        vec!["(?, ?, ?, ?, ?, ?, ?)"; rows.max(1)].join(", ")
    )
}

/// [`insert_deliveries`], answering the `seq` and `id` of each delivery it
/// stored (none for an id already in the log).
pub fn insert_deliveries_returning(rows: usize) -> String {
    format!("{} RETURNING seq, id", insert_deliveries(rows))
}

/// Tables beside the log itself: the health ladder's streak and recoveries.
pub const STATE_SCHEMA: &str = "\
CREATE TABLE IF NOT EXISTS destination_health (
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  state         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS recoveries (
  id            TEXT PRIMARY KEY,
  state         TEXT NOT NULL,
  created_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS recovery_members (
  seq           INTEGER PRIMARY KEY
);";

/// Everything a destination's object creates in its SQLite.
pub fn full_schema() -> String {
    format!(
        "{SCHEMA}\n{}\n{STATE_SCHEMA}",
        crate::delivery_stats::schema()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_creates_every_table_and_again_changes_nothing() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        db.execute_batch(&full_schema()).unwrap();
        db.execute_batch(&full_schema()).unwrap();
        let mut names: Vec<String> = db
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "attempts",
                "deliveries",
                "destination_health",
                "page_cursors",
                "recoveries",
                "recovery_members",
                "stats_hourly"
            ]
        );
    }

    #[test]
    fn deliveries_are_stored_together_in_order_and_a_known_id_is_left_alone() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        db.execute_batch(&full_schema()).unwrap();
        let row = |id: &str, body: &str| -> Vec<rusqlite::types::Value> {
            vec![
                id.to_string().into(),
                "t".to_string().into(),
                body.to_string().into(),
                "pending".to_string().into(),
                5_i64.into(),
                1_i64.into(),
                2_i64.into(),
            ]
        };
        let insert = |rows: Vec<Vec<rusqlite::types::Value>>| {
            let sql = insert_deliveries(rows.len());
            db.execute(&sql, rusqlite::params_from_iter(rows.into_iter().flatten()))
                .unwrap()
        };
        assert_eq!(insert(vec![row("a", "1")]), 1);
        assert_eq!(
            insert(vec![row("b", "2"), row("a", "again"), row("c", "3")]),
            2
        );
        let stored: Vec<(String, String)> = db
            .prepare("SELECT id, body FROM deliveries ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            stored,
            [
                ("a".into(), "1".into()),
                ("b".into(), "2".into()),
                ("c".into(), "3".into())
            ]
        );
        // Each row counts once in its hour, as one stored alone does.
        let pending: i64 = db
            .query_row("SELECT SUM(pending) FROM stats_hourly", [], |r| r.get(0))
            .unwrap();
        assert_eq!(pending, 3);
        // Answering what it stored: "b" is known, "d" is new.
        let answered: Vec<(i64, String)> = db
            .prepare(&insert_deliveries_returning(2))
            .unwrap()
            .query_map(
                rusqlite::params_from_iter(
                    [row("b", "again"), row("d", "4")].into_iter().flatten(),
                ),
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let d: i64 = db
            .query_row("SELECT seq FROM deliveries WHERE id = 'd'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(answered, [(d, "d".to_string())]);
        assert_eq!(insert_deliveries(0), insert_deliveries(1));
        assert_eq!(
            insert_deliveries(INSERT_MAX_ROWS).matches('?').count(),
            7 * INSERT_MAX_ROWS
        );
        assert_eq!(INSERT_MAX_ROWS, 14, "7 × 14 = 98 parameters, within 100");
        assert!(insert_deliveries(INSERT_MAX_ROWS + 1).matches('?').count() > MAX_BOUND_PARAMETERS);
    }

    #[test]
    fn recording_an_attempt_writes_its_row_and_its_delivery_in_one_statement() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        db.execute_batch(&full_schema()).unwrap();
        db.execute(
            "INSERT INTO deliveries (id, type, body, state, due_at, created_at, updated_at) \
             VALUES ('d', 't', '{}', 'pending', 5, 1, 1)",
            [],
        )
        .unwrap();
        let record = |no: i64,
                      status: i64,
                      error: Option<&str>,
                      state: &str,
                      due: Option<i64>,
                      dual: i64,
                      at: i64| {
            db.execute(
                RECORD_ATTEMPT,
                rusqlite::params![
                    1,
                    no,
                    at,
                    status,
                    40 + no,
                    error,
                    "answer",
                    0,
                    state,
                    due,
                    dual,
                    at + 1
                ],
            )
            .unwrap()
        };
        let delivery = || -> (String, i64, Option<i64>, Option<i64>, i64, i64) {
            db.query_row(
                "SELECT state, attempt_count, due_at, next_retry_at, dual_signed, updated_at FROM deliveries",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .unwrap()
        };
        let attempts = || -> Vec<(i64, i64, i64, Option<String>)> {
            db.prepare("SELECT attempt_no, status_code, duration_ms, error FROM attempts WHERE delivery_seq = 1 ORDER BY attempt_no")
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        record(1, 503, Some("http_503"), "retrying", Some(2_000), 1, 100);
        assert_eq!(
            delivery(),
            ("retrying".into(), 1, Some(2_000), Some(2_000), 1, 101)
        );
        assert_eq!(attempts(), [(1, 503, 41, Some("http_503".into()))]);
        // Signed once with two secrets stays so; a finished delivery leaves the queue.
        record(2, 200, None, "success", None, 0, 2_000);
        assert_eq!(delivery(), ("success".into(), 2, None, None, 1, 2_001));
        // The same attempt recorded again replaces its row.
        record(2, 204, None, "success", None, 0, 2_000);
        assert_eq!(
            attempts(),
            [(1, 503, 41, Some("http_503".into())), (2, 204, 42, None)]
        );
        let views: i64 = db
            .query_row("SELECT COUNT(*) FROM attempt_records", [], |r| r.get(0))
            .unwrap();
        assert_eq!(views, 0, "the view holds nothing");
    }
}
