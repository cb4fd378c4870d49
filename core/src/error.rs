//! The API's one error type and the single place where it becomes an HTTP answer.

use serde::{Deserialize, Serialize};
use serde_json::json;

/// One validation failure, in the shape FastAPI (the seed API's origin) answers
/// with: where the bad input is, what was wrong with it, and a machine-readable kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub loc: Vec<String>,
    pub msg: String,
    #[serde(rename = "type")]
    pub kind: String,
}

impl FieldError {
    /// `loc` is the path to the input, e.g. `["body", "retry_attempts"]`.
    pub fn new(loc: &[&str], msg: impl Into<String>, kind: &str) -> Self {
        Self {
            loc: loc.iter().map(|s| s.to_string()).collect(),
            msg: msg.into(),
            kind: kind.to_string(),
        }
    }
}

/// Every way an API call can fail. Handlers return it; [`ApiError::to_http`]
/// is the only place that decides the status code and body. It also crosses
/// from a Durable Object back to the worker as is (serde), so an object's
/// answer is the same error the worker would have raised itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ApiError {
    /// 400: the request is well formed but the resource's rules forbid it now.
    BadRequest(String),
    /// 401: credentials are missing, malformed, expired or not ours.
    Unauthorized(String),
    /// 403: the caller is known but lacks a permission.
    Forbidden(String),
    /// 404: the organization or the resource does not exist (for this caller).
    NotFound(String),
    /// 409: another change to the same resource is in progress.
    Conflict(String),
    /// 413: the body is larger than the endpoint accepts.
    PayloadTooLarge { limit_bytes: usize },
    /// 422: input failed validation; one entry per bad field.
    Validation(Vec<FieldError>),
    /// 429: the caller exceeded the endpoint's rate limit.
    RateLimited { retry_after_seconds: u64 },
    /// 429: something the caller holds (live portal sessions) is at its cap;
    /// the message says what frees a place.
    LimitReached(String),
    /// 503: maintenance mode.
    Unavailable { retry_after_seconds: u64 },
    /// 500: something broke inside; the detail is logged, never answered.
    Internal(String),
}

/// An error turned into what goes on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpError {
    pub status: u16,
    pub body: serde_json::Value,
    pub retry_after_seconds: Option<u64>,
}

impl ApiError {
    /// A single-field validation error.
    pub fn invalid(loc: &[&str], msg: impl Into<String>, kind: &str) -> Self {
        ApiError::Validation(vec![FieldError::new(loc, msg, kind)])
    }

    /// Maps the error to status, body and `Retry-After`. Internal details stay
    /// out of the body: the caller logs them.
    pub fn to_http(&self) -> HttpError {
        let (status, body, retry_after) = match self {
            ApiError::BadRequest(m) => (400, json!({ "detail": m }), None),
            ApiError::Unauthorized(m) => (401, json!({ "detail": m }), None),
            ApiError::Forbidden(m) => (403, json!({ "detail": m }), None),
            ApiError::NotFound(m) => (404, json!({ "detail": m }), None),
            ApiError::Conflict(m) => (409, json!({ "detail": m }), None),
            ApiError::PayloadTooLarge { limit_bytes } => (
                413,
                json!({ "detail": format!("request body exceeds {limit_bytes} bytes") }),
                None,
            ),
            ApiError::Validation(errors) => (422, json!({ "detail": errors }), None),
            ApiError::RateLimited {
                retry_after_seconds,
            } => (
                429,
                json!({ "detail": format!("rate limit exceeded; retry after {retry_after_seconds} s") }),
                Some(*retry_after_seconds),
            ),
            ApiError::LimitReached(m) => (429, json!({ "detail": m }), None),
            ApiError::Unavailable {
                retry_after_seconds,
            } => (
                503,
                json!({ "detail": "the service is going through temporary maintenance" }),
                Some(*retry_after_seconds),
            ),
            ApiError::Internal(_) => (500, json!({ "detail": "internal error" }), None),
        };
        HttpError {
            status,
            body,
            retry_after_seconds: retry_after,
        }
    }
}

/// The 422 for a body that is not JSON, in edgehook's words: where the
/// parser stopped and why, never the parser's own message.
pub fn json_invalid(e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let why = match e.classify() {
        Category::Eof => "the body ends before its JSON does",
        Category::Syntax => "this is not JSON syntax",
        Category::Data | Category::Io => "this value cannot be read",
    };
    ApiError::invalid(
        &["body"],
        format!(
            "JSON decode error at line {}, column {}: {why}",
            e.line(),
            e.column()
        ),
        "json_invalid",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_has_fastapi_shape() {
        let e = ApiError::invalid(&["body", "url"], "URL must use https", "url_scheme");
        let h = e.to_http();
        assert_eq!(h.status, 422);
        assert_eq!(
            h.body,
            json!({"detail": [{"loc": ["body", "url"], "msg": "URL must use https", "type": "url_scheme"}]})
        );
    }

    #[test]
    fn internal_detail_is_never_answered() {
        let h = ApiError::Internal("D1 said: secret whsec_x".into()).to_http();
        assert_eq!(h.status, 500);
        assert!(!h.body.to_string().contains("whsec_"));
    }

    #[test]
    fn throttling_errors_carry_retry_after() {
        let h = ApiError::RateLimited {
            retry_after_seconds: 12,
        }
        .to_http();
        assert_eq!((h.status, h.retry_after_seconds), (429, Some(12)));
        let h = ApiError::Unavailable {
            retry_after_seconds: 60,
        }
        .to_http();
        assert_eq!((h.status, h.retry_after_seconds), (503, Some(60)));
    }

    #[test]
    fn json_errors_say_where_in_our_words() {
        let msg = |body: &[u8]| -> String {
            let e = serde_json::from_slice::<serde_json::Value>(body).unwrap_err();
            match json_invalid(&e) {
                ApiError::Validation(errs) => {
                    assert_eq!(
                        (errs[0].loc.clone(), errs[0].kind.as_str()),
                        (vec!["body".to_string()], "json_invalid")
                    );
                    errs[0].msg.clone()
                }
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            msg(b"{\"a\": "),
            "JSON decode error at line 1, column 6: the body ends before its JSON does"
        );
        assert_eq!(
            msg(b"{\n  \"a\" 1}"),
            "JSON decode error at line 2, column 7: this is not JSON syntax"
        );
        let data = serde_json::from_str::<u8>("300").unwrap_err();
        assert_eq!(
            json_invalid(&data).to_http().body["detail"][0]["msg"],
            "JSON decode error at line 1, column 3: this value cannot be read"
        );
    }

    #[test]
    fn a_cap_reached_says_why_and_has_no_retry_after() {
        let h = ApiError::LimitReached("at most 3 sessions".into()).to_http();
        assert_eq!(
            (h.status, h.body, h.retry_after_seconds),
            (429, json!({"detail": "at most 3 sessions"}), None)
        );
    }
}
