//! `GET …/delivery`: its query parameters, checked and read into a
//! [`DeliveryQuery`]. How a destination's object reads the pages of a query
//! from its log is [`crate::deliveries_page`].
//!
//! The `continuation_token` is the number of a cursor row the object keeps for
//! the page after one it answered: a small integer whatever the log's size,
//! always a safe JSON number.

use edgehook_core::delivery::State;
use edgehook_core::error::{ApiError, FieldError};
use edgehook_core::time::parse_timestamp_ms;
use serde::{Deserialize, Serialize};

pub const MAX_LIMIT: i64 = 50;

/// Largest token accepted: every integer below it is exact in JSON (2^53).
pub const MAX_TOKEN: i64 = (1 << 53) - 1;

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
                    "Input should be 'pending', 'retrying', 'success', 'failed' or 'skipped'",
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
    fn filters_are_read() {
        let q = parse(&[
            ("status", "failed"),
            ("state", "retrying"),
            ("type", "api-key-expiration-soon"),
            ("created_after", "2026-01-01T00:00:00Z"),
            ("created_before", "2026-01-02T00:00:00Z"),
            ("limit", "10"),
            ("continuation_token", "12"),
        ])
        .unwrap();
        assert_eq!(
            q,
            DeliveryQuery {
                status: Some("failed".into()),
                state: Some(State::Retrying),
                event_type: Some("api-key-expiration-soon".into()),
                created_after_ms: Some(1_767_225_600_000),
                created_before_ms: Some(1_767_312_000_000),
                limit: 10,
                token: Some(12),
                sort: vec![],
            }
        );
        assert_eq!(
            parse(&[("status", "success")]).unwrap().status.as_deref(),
            Some("success")
        );
        assert_eq!(parse(&[("limit", "0")]).unwrap().limit, 0);
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
}
