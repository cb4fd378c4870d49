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
//! - `page_cursors`: the position of each page a client was given (the
//!   number is its `continuation_token`), kept for a day.
//! - `stats_hourly`: counters per hour for `GET …/stats`
//!   ([`crate::delivery_stats`]).
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
DROP TABLE IF EXISTS cursors;
CREATE TABLE IF NOT EXISTS page_cursors (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  snapshot_seq  INTEGER NOT NULL,
  query         TEXT NOT NULL,
  after         TEXT NOT NULL,
  created_at    INTEGER NOT NULL
);";

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
}
