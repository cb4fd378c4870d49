//! A destination's health at a glance (`GET …/stats`), from counters its
//! object keeps as it records deliveries and attempts: one row per hour, never
//! a scan of the log, so a range of up to 30 days reads at most 720 rows at
//! any log size.
//!
//! Each hour's row counts the deliveries created in that hour by their state
//! now (a delivery that changes state moves from one count to the other in
//! its creation hour, so the counts agree with the deliveries query filtered
//! by `state` and `created_after`/`created_before`), and the attempts made in
//! that hour: how many, how many succeeded, and their durations in a
//! histogram whose buckets give the percentiles.

use edgehook_core::delivery::State;
use edgehook_core::destination_health::HealthReport;
use serde::{Deserialize, Serialize};

/// An hour in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;
/// The longest range one stats query covers.
pub const MAX_RANGE_MS: i64 = 30 * 24 * HOUR_MS;
/// Upper bounds (inclusive, ms) of the duration histogram's buckets; a last
/// bucket holds everything longer.
pub const LATENCY_BOUNDS_MS: [i64; 22] = [
    5, 10, 20, 35, 50, 75, 100, 150, 200, 300, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000, 7_500,
    10_000, 15_000, 20_000, 30_000,
];
/// Buckets of the histogram: one per bound and the overflow.
pub const LATENCY_BUCKETS: usize = LATENCY_BOUNDS_MS.len() + 1;

/// The table of counters and the triggers that keep it, part of the log's
/// schema (after `deliveries` and `attempts`, which the triggers watch).
pub fn schema() -> String {
    let buckets: String = (0..LATENCY_BUCKETS)
        .map(|i| format!(",\n  lat_{i} INTEGER NOT NULL DEFAULT 0"))
        .collect();
    let states: String = State::ALL
        .iter()
        .map(|s| format!(",\n  {} INTEGER NOT NULL DEFAULT 0", s.as_str()))
        .collect();
    format!(
        "CREATE TABLE IF NOT EXISTS stats_hourly (\n  hour INTEGER PRIMARY KEY{states},\n  \
         attempts INTEGER NOT NULL DEFAULT 0,\n  attempts_ok INTEGER NOT NULL DEFAULT 0{buckets}\n) WITHOUT ROWID;\n{}",
        triggers()
    )
}

/// The hour (its first millisecond) that `at_ms` falls in.
pub fn hour_of(at_ms: i64) -> i64 {
    at_ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// `hour_of` in SQL, of the expression `x`.
fn hour_sql(x: &str) -> String {
    format!("({x} - ((({x}) % {HOUR_MS}) + {HOUR_MS}) % {HOUR_MS})")
}

/// The histogram bucket of an attempt that took `duration_ms`.
pub fn latency_bucket(duration_ms: i64) -> usize {
    LATENCY_BOUNDS_MS
        .iter()
        .position(|b| duration_ms <= *b)
        .unwrap_or(LATENCY_BOUNDS_MS.len())
}

/// `latency_bucket` in SQL: one 0/1 value per bucket, of the duration `d`.
fn bucket_values_sql(d: &str) -> Vec<String> {
    (0..LATENCY_BUCKETS)
        .map(|i| {
            let above = i.checked_sub(1).map(|j| LATENCY_BOUNDS_MS[j]);
            match (above, LATENCY_BOUNDS_MS.get(i)) {
                (None, Some(b)) => format!("({d} <= {b})"),
                (Some(a), Some(b)) => format!("({d} > {a} AND {d} <= {b})"),
                (Some(a), None) => format!("({d} > {a})"),
                (None, None) => unreachable!("there is at least one bound"),
            }
        })
        .collect()
}

/// An upsert of the row of an hour that adds each of `columns` the value
/// `select` gives it (`select` yields the hour, then one value per column,
/// and ends in a `WHERE`, as an upsert's `SELECT` must).
fn add_to_hour(columns: &[String], select: &str) -> String {
    let sets: Vec<String> = columns
        .iter()
        .map(|c| format!("{c} = {c} + excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO stats_hourly (hour, {}) {select} ON CONFLICT(hour) DO UPDATE SET {};",
        columns.join(", "),
        sets.join(", ")
    )
}

/// The counters follow the log by themselves, in the statement that changes
/// it (so a change and its counts commit together, at no extra call):
/// - a delivery stored counts in its state, in its creation hour;
/// - an attempt recorded (its delivery's `attempt_count` goes up, after its
///   row in `attempts` is written) counts in the hour it was made, with its
///   duration's bucket and, when it delivered (`success`), as a success; its
///   delivery moves from its old state's count to its new one's in its
///   creation hour: in the same row when that is the attempt's hour, so
///   recording an attempt nearly always writes one row;
/// - any other change of state (a retry or a recovery reopening it) moves it.
///
/// A delivery that stays in its state moves nothing; purging the log leaves
/// the counters, which are forgotten by the hour (`forget_counts_before`).
pub fn triggers() -> String {
    let state_columns: Vec<String> = State::ALL.iter().map(|s| s.as_str().to_string()).collect();
    let entered: Vec<String> = State::ALL
        .iter()
        .map(|s| format!("(NEW.state = '{}')", s.as_str()))
        .collect();
    let moved: Vec<String> = State::ALL
        .iter()
        .map(|s| format!("(NEW.state = '{0}') - (OLD.state = '{0}')", s.as_str()))
        .collect();
    let (created, attempted) = (hour_sql("NEW.created_at"), hour_sql("a.attempted_at"));
    let same_hour = format!("{attempted} = {created}");
    let the_attempt =
        "FROM attempts a WHERE a.delivery_seq = NEW.seq AND a.attempt_no = NEW.attempt_count";

    let stored = add_to_hour(
        &state_columns,
        &format!("SELECT {created}, {} WHERE 1", entered.join(", ")),
    );
    let mut attempt_columns = state_columns.clone();
    attempt_columns.extend(["attempts".to_string(), "attempts_ok".to_string()]);
    attempt_columns.extend((0..LATENCY_BUCKETS).map(|i| format!("lat_{i}")));
    let mut attempt_values: Vec<String> = moved
        .iter()
        .map(|m| format!("CASE WHEN {same_hour} THEN {m} ELSE 0 END"))
        .collect();
    attempt_values.extend(["1".to_string(), "(NEW.state = 'success')".to_string()]);
    attempt_values.extend(bucket_values_sql("a.duration_ms"));
    let attempt = add_to_hour(
        &attempt_columns,
        &format!(
            "SELECT {attempted}, {} {the_attempt}",
            attempt_values.join(", ")
        ),
    );
    let moved_alone = |condition: &str| {
        add_to_hour(
            &state_columns,
            &format!("SELECT {created}, {} WHERE {condition}", moved.join(", ")),
        )
    };
    let moved_apart = moved_alone(&format!(
        "NEW.state != OLD.state AND NOT EXISTS (SELECT 1 {the_attempt} AND {same_hour})"
    ));
    let moved_only = moved_alone("1");
    format!(
        "CREATE TRIGGER IF NOT EXISTS stats_stored AFTER INSERT ON deliveries BEGIN\n  {stored}\nEND;\n\
         CREATE TRIGGER IF NOT EXISTS stats_attempted AFTER UPDATE OF attempt_count ON deliveries \
         WHEN NEW.attempt_count > OLD.attempt_count BEGIN\n  {attempt}\n  {moved_apart}\nEND;\n\
         CREATE TRIGGER IF NOT EXISTS stats_moved AFTER UPDATE OF state ON deliveries \
         WHEN NEW.state != OLD.state AND NEW.attempt_count <= OLD.attempt_count BEGIN\n  {moved_only}\nEND;"
    )
}

/// One hour's counters as the object reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct HourRow {
    pub hour: i64,
    pub pending: i64,
    pub retrying: i64,
    pub success: i64,
    pub failed: i64,
    pub skipped: i64,
    pub attempts: i64,
    pub attempts_ok: i64,
    /// The duration histogram, `LATENCY_BUCKETS` counts.
    #[serde(default)]
    pub latency: Vec<i64>,
}

/// The statement that reads the hours of `[since, until)`: at most 720 rows
/// by the primary key.
pub fn range_sql() -> String {
    let buckets: Vec<String> = (0..LATENCY_BUCKETS).map(|i| format!("lat_{i}")).collect();
    format!(
        "SELECT hour, pending, retrying, success, failed, skipped, attempts, attempts_ok, json_array({}) AS latency \
         FROM stats_hourly WHERE hour >= ?1 AND hour < ?2 ORDER BY hour",
        buckets.join(", ")
    )
}

/// Deliveries by state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCounts {
    pub pending: i64,
    pub retrying: i64,
    pub success: i64,
    pub failed: i64,
    pub skipped: i64,
}

/// Attempt durations, in milliseconds: each percentile is the upper bound of
/// the histogram bucket it falls in (`None` past the last bound, or with no
/// attempts).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latency {
    pub p50_ms: Option<i64>,
    pub p95_ms: Option<i64>,
    pub p99_ms: Option<i64>,
}

/// One hour of the series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HourStats {
    pub hour: String,
    pub deliveries: StateCounts,
    pub attempts: i64,
    pub success_rate: Option<f64>,
}

/// The answer of `GET …/stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub since: String,
    pub until: String,
    pub deliveries: StateCounts,
    /// Delivered among deliveries that finished (success or failed).
    pub success_rate: Option<f64>,
    pub attempts: i64,
    pub attempt_success_rate: Option<f64>,
    pub latency: Latency,
    pub series: Vec<HourStats>,
    /// The destination's failing streak now, whatever the range.
    pub health: HealthReport,
}

fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The percentile `p` (0–100) of a histogram, as its bucket's upper bound.
pub fn percentile(histogram: &[i64], p: u8) -> Option<i64> {
    let total: i64 = histogram.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = ((i64::from(p) * total + 99) / 100).max(1);
    let mut seen = 0;
    for (i, n) in histogram.iter().enumerate() {
        seen += n;
        if seen >= rank {
            return LATENCY_BOUNDS_MS.get(i).copied();
        }
    }
    None
}

/// The stats of `[since_ms, until_ms)` (whole hours) from its rows, with the
/// destination's `health` now.
pub fn summarize(
    rows: &[HourRow],
    since_ms: i64,
    until_ms: i64,
    health: HealthReport,
    format: impl Fn(i64) -> String,
) -> Stats {
    let mut total = StateCounts::default();
    let mut histogram = vec![0i64; LATENCY_BUCKETS];
    let (mut attempts, mut attempts_ok) = (0, 0);
    let series = rows
        .iter()
        .map(|r| {
            total.pending += r.pending;
            total.retrying += r.retrying;
            total.success += r.success;
            total.failed += r.failed;
            total.skipped += r.skipped;
            attempts += r.attempts;
            attempts_ok += r.attempts_ok;
            for (h, n) in histogram.iter_mut().zip(&r.latency) {
                *h += n;
            }
            HourStats {
                hour: format(r.hour),
                deliveries: StateCounts {
                    pending: r.pending,
                    retrying: r.retrying,
                    success: r.success,
                    failed: r.failed,
                    skipped: r.skipped,
                },
                attempts: r.attempts,
                success_rate: rate(r.success, r.success + r.failed),
            }
        })
        .collect();
    Stats {
        since: format(since_ms),
        until: format(until_ms),
        success_rate: rate(total.success, total.success + total.failed),
        deliveries: total,
        attempts,
        attempt_success_rate: rate(attempts_ok, attempts),
        latency: Latency {
            p50_ms: percentile(&histogram, 50),
            p95_ms: percentile(&histogram, 95),
            p99_ms: percentile(&histogram, 99),
        },
        series,
        health,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> rusqlite::Connection {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        db.execute_batch(&crate::log_schema::full_schema()).unwrap();
        db
    }

    /// Stores a delivery created at `created` in `state`; returns its seq.
    fn store(db: &rusqlite::Connection, created: i64, state: State) -> i64 {
        db.query_row(
            "INSERT INTO deliveries (id, type, body, state, created_at, updated_at) \
             VALUES (hex(randomblob(8)), 't', '{}', ?1, ?2, ?2) RETURNING seq",
            rusqlite::params![state.as_str(), created],
            |r| r.get(0),
        )
        .unwrap()
    }

    /// Records attempt `no` of `seq`, made at `at` and taking `duration`,
    /// with the log's own statement.
    fn attempt(db: &rusqlite::Connection, seq: i64, no: i64, at: i64, duration: i64, to: State) {
        db.execute(
            crate::log_schema::RECORD_ATTEMPT,
            rusqlite::params![
                seq,
                no,
                at,
                200,
                duration,
                None::<String>,
                None::<String>,
                None::<i64>,
                to.as_str(),
                None::<i64>,
                0,
                at
            ],
        )
        .unwrap();
    }

    /// Changes a delivery's state without an attempt (a retry, a recovery).
    fn move_to(db: &rusqlite::Connection, seq: i64, to: State) {
        db.execute(
            "UPDATE deliveries SET state = ?1 WHERE seq = ?2",
            rusqlite::params![to.as_str(), seq],
        )
        .unwrap();
    }

    fn rows(db: &rusqlite::Connection, since: i64, until: i64) -> Vec<HourRow> {
        let mut stmt = db.prepare(&range_sql()).unwrap();
        stmt.query_map([since, until], |r| {
            let latency: String = r.get(8)?;
            Ok(HourRow {
                hour: r.get(0)?,
                pending: r.get(1)?,
                retrying: r.get(2)?,
                success: r.get(3)?,
                failed: r.get(4)?,
                skipped: r.get(5)?,
                attempts: r.get(6)?,
                attempts_ok: r.get(7)?,
                latency: serde_json::from_str(&latency).unwrap(),
            })
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }

    /// Rows the last statement wrote, the triggers' included.
    fn written(db: &rusqlite::Connection, f: impl FnOnce(&rusqlite::Connection)) -> u64 {
        let before = db.total_changes();
        f(db);
        db.total_changes() - before
    }

    const H: i64 = 1_767_225_600_000; // an hour's start

    #[test]
    fn hours_and_buckets() {
        assert_eq!(hour_of(H + HOUR_MS - 1), H);
        assert_eq!(hour_of(H + HOUR_MS), H + HOUR_MS);
        assert_eq!(hour_of(-1), -HOUR_MS);
        assert_eq!(latency_bucket(0), 0);
        assert_eq!(latency_bucket(5), 0);
        assert_eq!(latency_bucket(6), 1);
        assert_eq!(latency_bucket(30_000), 21);
        assert_eq!(latency_bucket(30_001), 22);
        assert_eq!(LATENCY_BUCKETS, 23);
        assert_eq!(MAX_RANGE_MS, 720 * HOUR_MS);
    }

    #[test]
    fn the_sql_hour_and_buckets_are_the_rust_ones() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        let hour = format!("SELECT {}", hour_sql("?1"));
        for at in [
            0,
            1,
            H - 1,
            H,
            H + HOUR_MS - 1,
            H + HOUR_MS,
            -1,
            -HOUR_MS,
            -HOUR_MS - 1,
        ] {
            let got: i64 = db.query_row(&hour, [at], |r| r.get(0)).unwrap();
            assert_eq!(got, hour_of(at), "hour of {at}");
        }
        let buckets = format!("SELECT {}", bucket_values_sql("?1").join(" || ',' || "));
        let mut durations = vec![0, 1, 59_999, 1_000_000];
        for b in LATENCY_BOUNDS_MS {
            durations.extend([b - 1, b, b + 1]);
        }
        for d in durations {
            let got: String = db.query_row(&buckets, [d], |r| r.get(0)).unwrap();
            let want: Vec<String> = (0..LATENCY_BUCKETS)
                .map(|i| u8::from(i == latency_bucket(d)).to_string())
                .collect();
            assert_eq!(got, want.join(","), "buckets of {d} ms");
        }
    }

    #[test]
    fn a_delivery_moves_between_counts_of_its_creation_hour() {
        let db = db();
        let seq = store(&db, H + 10, State::Pending);
        attempt(&db, seq, 1, H + HOUR_MS + 5, 120, State::Retrying);
        // A failed attempt that leaves it retrying moves nothing.
        attempt(&db, seq, 2, H + HOUR_MS + 7, 4_000, State::Retrying);
        attempt(&db, seq, 3, H + HOUR_MS + 9, 40, State::Success);
        store(&db, H + 20, State::Skipped);
        let got = rows(&db, H, H + 2 * HOUR_MS);
        assert_eq!(got.len(), 2);
        assert_eq!(
            (
                got[0].hour,
                got[0].pending,
                got[0].retrying,
                got[0].success,
                got[0].skipped,
                got[0].attempts
            ),
            (H, 0, 0, 1, 1, 0)
        );
        assert_eq!(
            (got[1].hour, got[1].attempts, got[1].attempts_ok),
            (H + HOUR_MS, 3, 1)
        );
        assert_eq!((got[1].pending, got[1].retrying, got[1].success), (0, 0, 0));
        for d in [120, 4_000, 40] {
            assert_eq!(got[1].latency[latency_bucket(d)], 1, "{d} ms");
        }
        assert_eq!(got[1].latency.iter().sum::<i64>(), 3);
        assert!(rows(&db, H + 2 * HOUR_MS, H + 3 * HOUR_MS).is_empty());
    }

    #[test]
    fn retries_recoveries_and_repeats_move_counts_and_only_new_attempts_count() {
        let db = db();
        let seq = store(&db, H, State::Pending);
        attempt(&db, seq, 1, H + 1, 30, State::Failed);
        // Retried by hand (or reopened by a recovery): failed → pending.
        move_to(&db, seq, State::Pending);
        let got = &rows(&db, H, H + HOUR_MS)[0];
        assert_eq!((got.pending, got.failed, got.attempts), (1, 0, 1));
        // A state written again as it was moves nothing.
        move_to(&db, seq, State::Pending);
        // An attempt recorded again with the same number (the attempt row
        // rewritten) does not count twice; its state change still moves.
        attempt(&db, seq, 1, H + 2, 30, State::Retrying);
        let got = &rows(&db, H, H + HOUR_MS)[0];
        assert_eq!((got.pending, got.retrying, got.attempts), (0, 1, 1));
        attempt(&db, seq, 2, H + 3, 30, State::Success);
        let got = &rows(&db, H, H + HOUR_MS)[0];
        assert_eq!(
            (got.retrying, got.success, got.attempts, got.attempts_ok),
            (0, 1, 2, 1)
        );
        // Other changes of a delivery (its lease, its purge) count nothing.
        db.execute("UPDATE deliveries SET due_at = 5 WHERE seq = ?1", [seq])
            .unwrap();
        db.execute("DELETE FROM deliveries WHERE seq = ?1", [seq])
            .unwrap();
        assert_eq!(&rows(&db, H, H + HOUR_MS)[0], got);
    }

    #[test]
    fn recording_an_attempt_writes_one_counter_row_in_its_delivery_hour_and_two_across_hours() {
        let db = db();
        let a = store(&db, H + 10, State::Pending);
        let b = store(&db, H + 10, State::Pending);
        // The attempt's row, the delivery's row, one counter row.
        assert_eq!(
            written(&db, |db| attempt(db, a, 1, H + 20, 40, State::Success)),
            3
        );
        // In the next hour: the creation hour's row and the attempt hour's.
        assert_eq!(
            written(&db, |db| attempt(
                db,
                b,
                1,
                H + HOUR_MS,
                900,
                State::Retrying
            )),
            4
        );
        // A failed attempt in another hour that leaves it retrying: one.
        assert_eq!(
            written(&db, |db| attempt(
                db,
                b,
                2,
                H + HOUR_MS + 1,
                900,
                State::Retrying
            )),
            3
        );
        let got = rows(&db, H, H + 2 * HOUR_MS);
        assert_eq!((got[0].pending, got[0].success, got[0].retrying), (0, 1, 1));
        assert_eq!((got[0].attempts, got[0].attempts_ok), (1, 1));
        assert_eq!((got[1].attempts, got[1].attempts_ok), (2, 0));
        assert_eq!(got[1].latency[latency_bucket(900)], 2);
        assert_eq!((got[1].pending, got[1].retrying), (0, 0));
    }

    #[test]
    fn percentiles_are_bucket_bounds() {
        let mut h = vec![0; LATENCY_BUCKETS];
        assert_eq!(percentile(&h, 50), None);
        h[latency_bucket(40)] = 90;
        h[latency_bucket(900)] = 9;
        h[latency_bucket(60_000)] = 1;
        assert_eq!(percentile(&h, 50), Some(50));
        assert_eq!(percentile(&h, 90), Some(50));
        assert_eq!(percentile(&h, 91), Some(1_000));
        assert_eq!(percentile(&h, 99), Some(1_000));
        assert_eq!(percentile(&h, 100), None, "past the last bound");
        let one = {
            let mut h = vec![0; LATENCY_BUCKETS];
            h[3] = 1;
            h
        };
        assert_eq!(percentile(&one, 1), Some(35));
    }

    #[test]
    fn a_summary_adds_up_its_hours() {
        let rows = vec![
            HourRow {
                hour: H,
                success: 3,
                failed: 1,
                pending: 2,
                attempts: 6,
                attempts_ok: 3,
                latency: {
                    let mut l = vec![0; LATENCY_BUCKETS];
                    l[2] = 6;
                    l
                },
                ..HourRow::default()
            },
            HourRow {
                hour: H + HOUR_MS,
                skipped: 4,
                retrying: 1,
                ..HourRow::default()
            },
        ];
        let s = summarize(&rows, H, H + 2 * HOUR_MS, HealthReport::default(), |t| {
            t.to_string()
        });
        assert_eq!(
            s.deliveries,
            StateCounts {
                pending: 2,
                retrying: 1,
                success: 3,
                failed: 1,
                skipped: 4
            }
        );
        assert_eq!(s.success_rate, Some(0.75));
        assert_eq!((s.attempts, s.attempt_success_rate), (6, Some(0.5)));
        assert_eq!(
            s.latency,
            Latency {
                p50_ms: Some(20),
                p95_ms: Some(20),
                p99_ms: Some(20)
            }
        );
        assert_eq!(s.series.len(), 2);
        assert_eq!(s.series[0].success_rate, Some(0.75));
        assert_eq!(s.series[1].success_rate, None);
        assert_eq!(s.series[1].hour, (H + HOUR_MS).to_string());
        assert_eq!(
            (s.since, s.until),
            (H.to_string(), (H + 2 * HOUR_MS).to_string())
        );
        let empty = summarize(&[], H, H, HealthReport::default(), |t| t.to_string());
        assert_eq!(
            (
                empty.success_rate,
                empty.attempt_success_rate,
                empty.latency.p50_ms
            ),
            (None, None, None)
        );
    }
}
