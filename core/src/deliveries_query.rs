//! `GET …/delivery`: its query parameters, its paging token, and the SQL it runs.
//!
//! Paging is by offset within a snapshot: the first page records the newest
//! delivery's sequence number, and later pages see only deliveries up to it, so
//! paging returns every delivery exactly once while new ones keep arriving.
//! Both numbers travel in the seed's integer `continuation_token`.

use crate::delivery::State;
use crate::error::{ApiError, FieldError};
use crate::time::parse_timestamp_ms;

pub const MAX_LIMIT: i64 = 50;
const OFFSET_BITS: u32 = 22;

/// The position of a page: which snapshot, and how far into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageToken {
    pub snapshot_seq: i64,
    pub offset: i64,
}

impl PageToken {
    pub fn encode(self) -> i64 {
        (self.snapshot_seq << OFFSET_BITS) | self.offset
    }

    /// `0` is the first page (no snapshot yet).
    pub fn decode(token: i64) -> Option<PageToken> {
        if token == 0 {
            return None;
        }
        Some(PageToken {
            snapshot_seq: token >> OFFSET_BITS,
            offset: token & ((1 << OFFSET_BITS) - 1),
        })
    }
}

/// A sort key of `sort_by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub field: SortField,
    pub descending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    Type,
    Status,
    CreatedAt,
}

/// A validated delivery query.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryQuery {
    pub status: Option<String>,
    pub state: Option<State>,
    pub event_type: Option<String>,
    pub created_after_ms: Option<i64>,
    pub created_before_ms: Option<i64>,
    pub limit: i64,
    pub token: Option<PageToken>,
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
                Ok(n) if n >= 0 => q.token = PageToken::decode(n),
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

/// The page's SQL over `webhook_deliveries d JOIN webhook_events e`, with its
/// parameters: one row more than the limit, to know whether more follow.
/// `snapshot_seq` bounds the rows to those that existed at the first page.
pub fn page_sql(
    org_id: &str,
    destination_id: &str,
    q: &DeliveryQuery,
    snapshot_seq: i64,
) -> (String, Vec<Param>) {
    let mut sql = String::from(
        "SELECT d.seq, d.id, d.type, d.state, d.attempt_count, d.next_retry_at, d.dual_signed, d.created_at, e.body \
         FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id \
         WHERE d.org_id = ?1 AND d.destination_id = ?2 AND d.seq <= ?3",
    );
    let mut params = vec![
        Param::Text(org_id.into()),
        Param::Text(destination_id.into()),
        Param::Int(snapshot_seq),
    ];
    let mut push = |sql: &mut String, clause: &str, p: Param| {
        params.push(p);
        sql.push_str(&clause.replace('?', &format!("?{}", params.len())));
    };
    match q.status.as_deref() {
        Some("success") => sql.push_str(" AND d.state = 'success'"),
        Some(_) => sql.push_str(" AND d.state <> 'success'"),
        None => {}
    }
    if let Some(s) = q.state {
        push(&mut sql, " AND d.state = ?", Param::Text(s.as_str().into()));
    }
    if let Some(t) = &q.event_type {
        push(&mut sql, " AND d.type = ?", Param::Text(t.clone()));
    }
    if let Some(t) = q.created_after_ms {
        push(&mut sql, " AND d.created_at >= ?", Param::Int(t));
    }
    if let Some(t) = q.created_before_ms {
        push(&mut sql, " AND d.created_at <= ?", Param::Int(t));
    }
    sql.push_str(" ORDER BY ");
    for s in &q.sort {
        let column = match s.field {
            SortField::Type => "d.type",
            SortField::Status => "(d.state = 'success')",
            SortField::CreatedAt => "d.created_at",
        };
        sql.push_str(column);
        sql.push_str(if s.descending { " DESC, " } else { " ASC, " });
    }
    // Newest first by default; the sequence number breaks every remaining tie.
    if !q.sort.iter().any(|s| s.field == SortField::CreatedAt) {
        sql.push_str("d.created_at DESC, ");
    }
    sql.push_str("d.seq DESC");
    let offset = q.token.map(|t| t.offset).unwrap_or(0);
    push(&mut sql, " LIMIT ?", Param::Int(q.limit + 1));
    push(&mut sql, " OFFSET ?", Param::Int(offset));
    (sql, params)
}

/// The page's `has_more` and `continuation_token`, given how many rows came back.
pub fn next_token(
    q: &DeliveryQuery,
    snapshot_seq: i64,
    rows_returned: usize,
) -> (bool, Option<i64>) {
    let has_more = rows_returned as i64 > q.limit || (q.limit == 0 && rows_returned > 0);
    if !has_more {
        return (false, None);
    }
    let offset = q.token.map(|t| t.offset).unwrap_or(0) + q.limit;
    (
        true,
        Some(
            PageToken {
                snapshot_seq,
                offset,
            }
            .encode(),
        ),
    )
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
    fn tokens_round_trip() {
        let t = PageToken {
            snapshot_seq: 123_456_789,
            offset: 150,
        };
        assert_eq!(PageToken::decode(t.encode()), Some(t));
        assert!(t.encode() < (1i64 << 53), "fits a JSON number exactly");
        assert_eq!(PageToken::decode(0), None);
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
        let (sql, _) = page_sql("o", "d", &q, 9);
        assert!(
            sql.contains(
                "ORDER BY (d.state = 'success') DESC, d.type ASC, d.created_at ASC, d.seq DESC"
            ),
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

    #[test]
    fn filters_become_numbered_parameters() {
        let q = parse(&[
            ("status", "failed"),
            ("type", "api-key-expiration-soon"),
            ("created_after", "2026-01-01T00:00:00Z"),
            ("limit", "10"),
        ])
        .unwrap();
        let (sql, params) = page_sql("org", "dest", &q, 77);
        assert!(sql.contains("d.state <> 'success'"));
        assert!(
            sql.contains("d.type = ?4")
                && sql.contains("d.created_at >= ?5")
                && sql.contains("LIMIT ?6")
                && sql.contains("OFFSET ?7"),
            "{sql}"
        );
        assert_eq!(params[2], Param::Int(77));
        assert_eq!(params[5], Param::Int(11));
        assert!(
            sql.ends_with("ORDER BY d.created_at DESC, d.seq DESC LIMIT ?6 OFFSET ?7"),
            "{sql}"
        );
    }

    #[test]
    fn paging_tokens_advance_within_the_snapshot() {
        let q = parse(&[("limit", "2")]).unwrap();
        assert_eq!(next_token(&q, 40, 2), (false, None));
        let (more, token) = next_token(&q, 40, 3);
        assert!(more);
        let q2 = parse(&[
            ("limit", "2"),
            ("continuation_token", &token.unwrap().to_string()),
        ])
        .unwrap();
        assert_eq!(
            q2.token,
            Some(PageToken {
                snapshot_seq: 40,
                offset: 2
            })
        );
        let (_, params) = page_sql("o", "d", &q2, 40);
        assert_eq!(params.last(), Some(&Param::Int(2)));
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
        let (sql, _) = page_sql("o", "d", &q, 9);
        assert!(
            sql.contains("ORDER BY d.type ASC, d.created_at DESC, d.seq DESC"),
            "{sql}"
        );
    }

    #[test]
    fn an_empty_page_has_no_more() {
        for limit in ["0", "1", "50"] {
            let q = parse(&[("limit", limit)]).unwrap();
            assert!(!next_token(&q, 40, 0).0, "limit {limit}");
        }
    }
}
