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

/// The table of counters, part of the log's schema.
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
         attempts INTEGER NOT NULL DEFAULT 0,\n  attempts_ok INTEGER NOT NULL DEFAULT 0{buckets}\n) WITHOUT ROWID;"
    )
}

/// The hour (its first millisecond) that `at_ms` falls in.
pub fn hour_of(at_ms: i64) -> i64 {
    at_ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// The histogram bucket of an attempt that took `duration_ms`.
pub fn latency_bucket(duration_ms: i64) -> usize {
    LATENCY_BOUNDS_MS
        .iter()
        .position(|b| duration_ms <= *b)
        .unwrap_or(LATENCY_BOUNDS_MS.len())
}

/// One change to the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// A delivery created at `created_at_ms` entered `to` (from `from`, or new).
    State {
        created_at_ms: i64,
        from: Option<State>,
        to: State,
    },
    /// An attempt made at `at_ms` took `duration_ms`.
    Attempt {
        at_ms: i64,
        duration_ms: i64,
        ok: bool,
    },
}

/// The statements, each with its one parameter (the hour), that apply
/// `changes` together: one upsert per hour they touch, so recording an
/// attempt (its delivery's new state and the attempt, nearly always in one
/// hour) costs one row written. Changes that cancel out write nothing (a
/// delivery that stays in its state).
pub fn count_sql(changes: &[Count]) -> Vec<(String, i64)> {
    // (hour, [(column, delta)]) in the order the hours first appear.
    let mut hours: Vec<(i64, Vec<(String, i64)>)> = vec![];
    for c in changes {
        let (hour, deltas): (i64, Vec<(String, i64)>) = match *c {
            Count::State {
                created_at_ms,
                from,
                to,
            } => {
                let mut deltas = vec![(to.as_str().to_string(), 1)];
                if let Some(f) = from {
                    deltas.push((f.as_str().to_string(), -1));
                }
                (hour_of(created_at_ms), deltas)
            }
            Count::Attempt {
                at_ms,
                duration_ms,
                ok,
            } => {
                let mut deltas = vec![
                    ("attempts".to_string(), 1),
                    (format!("lat_{}", latency_bucket(duration_ms)), 1),
                ];
                if ok {
                    deltas.push(("attempts_ok".to_string(), 1));
                }
                (hour_of(at_ms), deltas)
            }
        };
        let at = match hours.iter().position(|(h, _)| *h == hour) {
            Some(i) => i,
            None => {
                hours.push((hour, vec![]));
                hours.len() - 1
            }
        };
        for (column, d) in deltas {
            let columns = &mut hours[at].1;
            match columns.iter_mut().find(|(c, _)| *c == column) {
                Some(existing) => existing.1 += d,
                None => columns.push((column, d)),
            }
        }
    }
    hours
        .into_iter()
        .filter_map(|(hour, mut deltas)| {
            deltas.retain(|(_, d)| *d != 0);
            if deltas.is_empty() {
                return None;
            }
            let columns: Vec<&str> = deltas.iter().map(|(c, _)| c.as_str()).collect();
            let values: Vec<String> = deltas.iter().map(|(_, d)| d.to_string()).collect();
            let sets: Vec<String> = deltas
                .iter()
                .map(|(c, d)| format!("{c} = {c} + ({d})"))
                .collect();
            Some((
                format!(
                    "INSERT INTO stats_hourly (hour, {}) VALUES (?1, {}) ON CONFLICT(hour) DO UPDATE SET {}",
                    columns.join(", "),
                    values.join(", "),
                    sets.join(", ")
                ),
                hour,
            ))
        })
        .collect()
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
        db.execute_batch(&schema()).unwrap();
        db
    }

    fn apply(db: &rusqlite::Connection, c: Count) {
        apply_all(db, &[c]);
    }

    fn apply_all(db: &rusqlite::Connection, changes: &[Count]) {
        for (sql, hour) in count_sql(changes) {
            db.execute(&sql, [hour]).unwrap();
        }
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
    fn a_delivery_moves_between_counts_of_its_creation_hour() {
        let db = db();
        let created = H + 10;
        apply(
            &db,
            Count::State {
                created_at_ms: created,
                from: None,
                to: State::Pending,
            },
        );
        apply(
            &db,
            Count::State {
                created_at_ms: created,
                from: Some(State::Pending),
                to: State::Retrying,
            },
        );
        apply(
            &db,
            Count::Attempt {
                at_ms: H + HOUR_MS + 5,
                duration_ms: 120,
                ok: false,
            },
        );
        apply(
            &db,
            Count::State {
                created_at_ms: created,
                from: Some(State::Retrying),
                to: State::Retrying,
            },
        );
        apply(
            &db,
            Count::State {
                created_at_ms: created,
                from: Some(State::Retrying),
                to: State::Success,
            },
        );
        apply(
            &db,
            Count::Attempt {
                at_ms: H + HOUR_MS + 9,
                duration_ms: 40,
                ok: true,
            },
        );
        apply(
            &db,
            Count::State {
                created_at_ms: H + 20,
                from: None,
                to: State::Skipped,
            },
        );
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
        assert_eq!((got[1].attempts, got[1].attempts_ok), (2, 1));
        assert_eq!(got[1].latency[latency_bucket(120)], 1);
        assert_eq!(got[1].latency[latency_bucket(40)], 1);
        assert_eq!(got[1].latency.iter().sum::<i64>(), 2);
        assert!(rows(&db, H + 2 * HOUR_MS, H + 3 * HOUR_MS).is_empty());
        assert!(
            count_sql(&[Count::State {
                created_at_ms: 0,
                from: Some(State::Failed),
                to: State::Failed
            }])
            .is_empty()
        );
    }

    #[test]
    fn changes_recorded_together_write_one_row_per_hour_and_the_same_counts() {
        let created = H + 10;
        let attempt = |at_ms, duration_ms, ok| Count::Attempt {
            at_ms,
            duration_ms,
            ok,
        };
        let state = |from, to| Count::State {
            created_at_ms: created,
            from,
            to,
        };
        let batches: [Vec<Count>; 3] = [
            // An attempt in its delivery's creation hour: one statement.
            vec![
                state(Some(State::Pending), State::Success),
                attempt(H + 20, 40, true),
            ],
            // In the next hour: one statement per hour.
            vec![
                state(Some(State::Pending), State::Retrying),
                attempt(H + HOUR_MS, 900, false),
            ],
            // Changes that cancel out in one hour write nothing of them.
            vec![
                state(Some(State::Pending), State::Retrying),
                state(Some(State::Retrying), State::Pending),
            ],
        ];
        let statements: Vec<usize> = batches.iter().map(|b| count_sql(b).len()).collect();
        assert_eq!(statements, [1, 2, 0]);
        let (together, one_by_one) = (db(), db());
        apply_all(&together, &[state(None, State::Pending)]);
        apply_all(&one_by_one, &[state(None, State::Pending)]);
        for b in &batches {
            apply_all(&together, b);
            for c in b {
                apply(&one_by_one, *c);
            }
        }
        let all = |db| rows(db, H, H + 2 * HOUR_MS);
        assert_eq!(all(&together), all(&one_by_one));
        let got = all(&together);
        assert_eq!(
            (got[0].pending, got[0].success, got[0].retrying),
            (-1, 1, 1)
        );
        assert_eq!((got[0].attempts, got[0].attempts_ok), (1, 1));
        assert_eq!((got[1].attempts, got[1].attempts_ok), (1, 0));
        assert_eq!(got[1].latency[latency_bucket(900)], 1);
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
