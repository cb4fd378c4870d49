//! `GET …/delivery`: its query parameters, its paging, and the SQL a
//! destination's object runs over its own log.
//!
//! Paging is by offset within a snapshot: the first page records the newest
//! delivery's sequence number, and later pages see only deliveries up to it, so
//! paging returns every delivery exactly once while new ones keep arriving.
//! The object keeps each page's position (snapshot and offset) as a cursor row
//! and answers the cursor's number as the seed's integer `continuation_token`:
//! a small integer whatever the log's size, always a safe JSON number.

use crate::delivery::State;
use crate::error::{ApiError, FieldError};
use crate::time::parse_timestamp_ms;
use serde::{Deserialize, Serialize};

pub const MAX_LIMIT: i64 = 50;

/// Largest token accepted: every integer below it is exact in JSON (2^53).
pub const MAX_TOKEN: i64 = (1 << 53) - 1;

/// Where a page starts: the snapshot of the first page and the offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub snapshot_seq: i64,
    pub offset: i64,
}

/// A sort key of `sort_by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sort {
    pub field: SortField,
    pub descending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortField {
    Type,
    Status,
    CreatedAt,
}

/// A validated delivery query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryQuery {
    pub status: Option<String>,
    pub state: Option<State>,
    pub event_type: Option<String>,
    pub created_after_ms: Option<i64>,
    pub created_before_ms: Option<i64>,
    pub limit: i64,
    /// The cursor of a previous page; `None` for the first page (token 0).
    pub token: Option<i64>,
    pub sort: Vec<Sort>,
}

/// Parses the query string's pairs; every bad parameter is named in one 422.
pub fn parse_query<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<DeliveryQuery, ApiError> {
    let mut q = DeliveryQuery {
        status: None,
        state: None,
        event_type: None,
        created_after_ms: None,
        created_before_ms: None,
        limit: MAX_LIMIT,
        token: None,
        sort: vec![],
    };
    let mut errors = vec![];
    let mut fail = |name: &str, msg: &str, kind: &str| {
        errors.push(FieldError::new(&["query", name], msg, kind))
    };
    for (k, v) in pairs {
        match k {
            "status" => match v {
                "success" | "failed" => q.status = Some(v.to_string()),
                _ => fail("status", "Input should be 'success' or 'failed'", "enum"),
            },
            "state" => match State::parse(v) {
                Some(s) => q.state = Some(s),
                None => fail(
                    "state",
                    "Input should be 'pending', 'retrying', 'success' or 'failed'",
                    "enum",
                ),
            },
            "type" => q.event_type = Some(v.to_string()),
            "created_after" | "created_before" => match parse_timestamp_ms(v) {
                Some(t) if k == "created_after" => q.created_after_ms = Some(t),
                Some(t) => q.created_before_ms = Some(t),
                None => fail(
                    k,
                    "Input should be a valid ISO 8601 datetime",
                    "datetime_parsing",
                ),
            },
            "limit" => match v.parse::<i64>() {
                Ok(n) if (0..=MAX_LIMIT).contains(&n) => q.limit = n,
                Ok(_) => fail(
                    "limit",
                    "Input should be between 0 and 50",
                    "less_than_equal",
                ),
                Err(_) => fail("limit", "Input should be a valid integer", "int_parsing"),
            },
            "continuation_token" => match v.parse::<i64>() {
                Ok(0) => q.token = None,
                Ok(n) if (1..=MAX_TOKEN).contains(&n) => q.token = Some(n),
                _ => fail(
                    "continuation_token",
                    "Input should be a token returned by a previous page",
                    "int_parsing",
                ),
            },
            "sort_by" => match parse_sort(v) {
                Some(s) => q.sort.push(s),
                None => fail(
                    "sort_by",
                    "Sort by type, status or created_at, each with + (ascending) or - (descending)",
                    "value_error",
                ),
            },
            _ => {}
        }
    }
    if errors.is_empty() {
        Ok(q)
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// `+type`, `-created_at`, … A `+` sent unescaped in a query string arrives as
/// a space, so a leading space means ascending too.
fn parse_sort(v: &str) -> Option<Sort> {
    let (descending, name) = match v.chars().next()? {
        '+' | ' ' => (false, &v[1..]),
        '-' => (true, &v[1..]),
        _ => (false, v),
    };
    let field = match name {
        "type" => SortField::Type,
        "status" => SortField::Status,
        "created_at" => SortField::CreatedAt,
        _ => return None,
    };
    Some(Sort { field, descending })
}

/// A bound SQL parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(String),
    Int(i64),
}

/// The page's SQL over a destination's log (`deliveries`), with its
/// parameters: one row more than the limit, to know whether more follow.
/// `cursor.snapshot_seq` bounds the rows to those that existed at the first page.
pub fn page_sql(q: &DeliveryQuery, cursor: Cursor) -> (String, Vec<Param>) {
    let mut sql = String::from(
        "SELECT seq, id, type, state, attempt_count, next_retry_at, dual_signed, created_at, body \
         FROM deliveries WHERE seq <= ?1",
    );
    let mut params = vec![Param::Int(cursor.snapshot_seq)];
    let mut push = |sql: &mut String, clause: &str, p: Param| {
        params.push(p);
        sql.push_str(&clause.replace('?', &format!("?{}", params.len())));
    };
    match q.status.as_deref() {
        Some("success") => sql.push_str(" AND state = 'success'"),
        Some(_) => sql.push_str(" AND state <> 'success'"),
        None => {}
    }
    if let Some(s) = q.state {
        push(&mut sql, " AND state = ?", Param::Text(s.as_str().into()));
    }
    if let Some(t) = &q.event_type {
        push(&mut sql, " AND type = ?", Param::Text(t.clone()));
    }
    if let Some(t) = q.created_after_ms {
        push(&mut sql, " AND created_at >= ?", Param::Int(t));
    }
    if let Some(t) = q.created_before_ms {
        push(&mut sql, " AND created_at <= ?", Param::Int(t));
    }
    sql.push_str(" ORDER BY ");
    for s in &q.sort {
        let column = match s.field {
            SortField::Type => "type",
            SortField::Status => "(state = 'success')",
            SortField::CreatedAt => "created_at",
        };
        sql.push_str(column);
        sql.push_str(if s.descending { " DESC, " } else { " ASC, " });
    }
    // Newest first by default; the sequence number breaks every remaining tie.
    if !q.sort.iter().any(|s| s.field == SortField::CreatedAt) {
        sql.push_str("created_at DESC, ");
    }
    sql.push_str("seq DESC");
    push(&mut sql, " LIMIT ?", Param::Int(q.limit + 1));
    push(&mut sql, " OFFSET ?", Param::Int(cursor.offset));
    (sql, params)
}

/// The cursor of the page after this one, if more rows follow: `rows_returned`
/// is what the page's SQL gave (at most `limit + 1`). A query for 0 rows has
/// no next page, so a client that follows tokens always ends.
pub fn next_cursor(q: &DeliveryQuery, cursor: Cursor, rows_returned: usize) -> Option<Cursor> {
    let more = q.limit > 0 && rows_returned as i64 > q.limit;
    more.then_some(Cursor {
        snapshot_seq: cursor.snapshot_seq,
        offset: cursor.offset + q.limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<DeliveryQuery, ApiError> {
        parse_query(pairs.iter().copied())
    }

    #[test]
    fn defaults() {
        let q = parse(&[]).unwrap();
        assert_eq!((q.limit, q.token, q.sort.len()), (50, None, 0));
    }

    #[test]
    fn tokens_are_safe_json_integers() {
        let q = parse(&[("continuation_token", "9007199254740991")]).unwrap();
        assert_eq!(q.token, Some(MAX_TOKEN));
        assert_eq!(parse(&[("continuation_token", "0")]).unwrap().token, None);
        for bad in ["9007199254740992", "-1", "1.5", "x"] {
            assert!(parse(&[("continuation_token", bad)]).is_err(), "{bad}");
        }
    }

    #[test]
    fn sort_keys_with_signs_and_spaces() {
        let q = parse(&[
            ("sort_by", "-status"),
            ("sort_by", " type"),
            ("sort_by", "+created_at"),
        ])
        .unwrap();
        assert_eq!(
            q.sort,
            vec![
                Sort {
                    field: SortField::Status,
                    descending: true
                },
                Sort {
                    field: SortField::Type,
                    descending: false
                },
                Sort {
                    field: SortField::CreatedAt,
                    descending: false
                }
            ]
        );
        let (sql, _) = page_sql(&q, FIRST);
        assert!(
            sql.contains("ORDER BY (state = 'success') DESC, type ASC, created_at ASC, seq DESC"),
            "{sql}"
        );
    }

    #[test]
    fn every_bad_parameter_is_named() {
        let e = parse(&[
            ("status", "exhausted"),
            ("limit", "51"),
            ("continuation_token", "-1"),
            ("sort_by", "-url"),
            ("created_after", "later"),
        ])
        .unwrap_err();
        let ApiError::Validation(errs) = e else {
            panic!()
        };
        let names: Vec<&str> = errs.iter().map(|e| e.loc[1].as_str()).collect();
        assert_eq!(
            names,
            vec![
                "status",
                "limit",
                "continuation_token",
                "sort_by",
                "created_after"
            ]
        );
    }

    const FIRST: Cursor = Cursor {
        snapshot_seq: 9,
        offset: 0,
    };

    #[test]
    fn filters_become_numbered_parameters() {
        let q = parse(&[
            ("status", "failed"),
            ("state", "retrying"),
            ("type", "api-key-expiration-soon"),
            ("created_after", "2026-01-01T00:00:00Z"),
            ("created_before", "2026-01-02T00:00:00Z"),
            ("limit", "10"),
        ])
        .unwrap();
        assert_eq!(q.state, Some(State::Retrying));
        assert_eq!(q.created_after_ms, Some(1_767_225_600_000));
        assert_eq!(q.created_before_ms, Some(1_767_312_000_000));
        let (sql, params) = page_sql(
            &q,
            Cursor {
                snapshot_seq: 77,
                offset: 20,
            },
        );
        assert!(sql.contains("seq <= ?1 AND state <> 'success'"), "{sql}");
        assert!(
            sql.contains("state = ?2")
                && sql.contains("type = ?3")
                && sql.contains("created_at >= ?4")
                && sql.contains("created_at <= ?5")
                && sql.contains("LIMIT ?6")
                && sql.contains("OFFSET ?7"),
            "{sql}"
        );
        assert_eq!(
            params,
            vec![
                Param::Int(77),
                Param::Text("retrying".into()),
                Param::Text("api-key-expiration-soon".into()),
                Param::Int(1_767_225_600_000),
                Param::Int(1_767_312_000_000),
                Param::Int(11),
                Param::Int(20),
            ]
        );
        assert!(
            sql.ends_with("ORDER BY created_at DESC, seq DESC LIMIT ?6 OFFSET ?7"),
            "{sql}"
        );
        let success = parse(&[("status", "success")]).unwrap();
        assert!(
            page_sql(&success, FIRST)
                .0
                .contains("AND state = 'success'")
        );
    }

    #[test]
    fn next_cursor_advances_within_the_snapshot_and_ends() {
        let q = parse(&[("limit", "2")]).unwrap();
        let first = Cursor {
            snapshot_seq: 40,
            offset: 0,
        };
        assert_eq!(next_cursor(&q, first, 2), None, "exactly a page: no more");
        let second = next_cursor(&q, first, 3).unwrap();
        assert_eq!(
            second,
            Cursor {
                snapshot_seq: 40,
                offset: 2
            }
        );
        assert_eq!(
            next_cursor(&q, second, 3),
            Some(Cursor {
                snapshot_seq: 40,
                offset: 4
            })
        );
        let zero = parse(&[("limit", "0")]).unwrap();
        assert_eq!(next_cursor(&zero, first, 1), None, "limit=0 ends paging");
    }

    #[test]
    fn state_and_time_filters_are_read() {
        let q = parse(&[
            ("state", "retrying"),
            ("created_before", "2026-01-02T00:00:00Z"),
        ])
        .unwrap();
        assert_eq!(q.state, Some(State::Retrying));
        assert_eq!(q.created_before_ms, Some(1_767_312_000_000));
        assert_eq!(q.created_after_ms, None);
        let q = parse(&[("created_after", "2026-01-02T00:00:00Z")]).unwrap();
        assert_eq!(
            (q.created_after_ms, q.created_before_ms),
            (Some(1_767_312_000_000), None)
        );
        let ApiError::Validation(errs) = parse(&[("state", "exhausted")]).unwrap_err() else {
            panic!()
        };
        assert_eq!(errs[0].loc, vec!["query", "state"]);
    }

    #[test]
    fn newest_first_breaks_ties_left_by_other_sort_keys() {
        let q = parse(&[("sort_by", "+type")]).unwrap();
        let (sql, _) = page_sql(&q, FIRST);
        assert!(
            sql.contains("ORDER BY type ASC, created_at DESC, seq DESC"),
            "{sql}"
        );
    }

    #[test]
    fn an_empty_page_has_no_more() {
        for limit in ["0", "1", "50"] {
            let q = parse(&[("limit", limit)]).unwrap();
            assert_eq!(next_cursor(&q, FIRST, 0), None, "limit {limit}");
        }
    }
}
