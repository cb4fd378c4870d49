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
