//! Webhook destinations: validation of the create and update bodies, and the
//! shape every read returns. The secret is never part of [`DestinationView`].

use crate::error::{ApiError, FieldError};
use crate::event_types::{WEBHOOK_TYPES, is_webhook_type};
use crate::url_safety::check_destination_url;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// At most this many destinations per organization (seed API).
pub const MAX_DESTINATIONS_PER_ORG: i64 = 10;
pub const DEFAULT_RETRY_ATTEMPTS: i64 = 3;
pub const DEFAULT_TIMEOUT_SECONDS: i64 = 10;
pub const MAX_NAME_LEN: usize = 200;

/// A validated `POST /webhook_destination/` body.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDestination {
    pub url: String,
    pub accepted_types: Vec<String>,
    pub retry_attempts: i64,
    pub name: Option<String>,
    pub is_active: bool,
    pub timeout_seconds: i64,
}

/// A validated `POST /webhook_destination/{id}` body: `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DestinationChanges {
    pub accepted_types: Option<Vec<String>>,
    pub retry_attempts: Option<i64>,
    /// `Some(None)` clears the name.
    pub name: Option<Option<String>>,
    pub is_active: Option<bool>,
    pub timeout_seconds: Option<i64>,
}

impl DestinationChanges {
    pub fn is_empty(&self) -> bool {
        *self == DestinationChanges::default()
    }
}

/// A destination as every read returns it: the seed's `WebhookDestination`
/// fields plus the extensions `name`, `is_active`, `timeout_seconds`, `created_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DestinationView {
    pub id: String,
    pub url: String,
    pub secret_generated_at: String,
    pub retry_attempts: i64,
    pub accepted_types: Vec<String>,
    pub name: Option<String>,
    pub is_active: bool,
    pub timeout_seconds: i64,
    pub created_at: String,
}

/// Parses a JSON request body into an object, or the 422 FastAPI gives for it.
pub fn parse_json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::invalid(
            &["body"],
            "Input should be a JSON object",
            "model_attributes_type",
        )),
        Err(e) => Err(crate::error::json_invalid(&e)),
    }
}

/// Collects every field error of a body before answering, so one 422 names them all.
struct Checker {
    errors: Vec<FieldError>,
}

impl Checker {
    fn fail(&mut self, field: &str, msg: impl Into<String>, kind: &str) {
        self.errors
            .push(FieldError::new(&["body", field], msg, kind));
    }

    fn int_in(&mut self, obj: &Map<String, Value>, field: &str, min: i64, max: i64) -> Option<i64> {
        let v = obj.get(field)?;
        match v.as_i64() {
            Some(n) if n < min => self.fail(
                field,
                format!("Input should be greater than or equal to {min}"),
                "greater_than_equal",
            ),
            Some(n) if n > max => self.fail(
                field,
                format!("Input should be less than or equal to {max}"),
                "less_than_equal",
            ),
            Some(n) => return Some(n),
            None => self.fail(field, "Input should be a valid integer", "int_type"),
        }
        None
    }

    fn types(&mut self, obj: &Map<String, Value>) -> Option<Vec<String>> {
        let v = obj.get("accepted_types")?;
        let Some(items) = v.as_array() else {
            self.fail(
                "accepted_types",
                "Input should be a valid list",
                "list_type",
            );
            return None;
        };
        let mut out: Vec<String> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item.as_str() {
                Some(t) if is_webhook_type(t) => {
                    if !out.iter().any(|o| o == t) {
                        out.push(t.to_string());
                    }
                }
                _ => self.errors.push(FieldError::new(
                    &["body", "accepted_types", &i.to_string()],
                    format!(
                        "Input should be {}",
                        WEBHOOK_TYPES.map(|t| format!("'{t}'")).join(", ")
                    ),
                    "enum",
                )),
            }
        }
        Some(out)
    }

    fn name(&mut self, obj: &Map<String, Value>) -> Option<Option<String>> {
        match obj.get("name")? {
            Value::Null => Some(None),
            Value::String(s) if s.chars().count() > MAX_NAME_LEN => {
                self.fail(
                    "name",
                    format!("String should have at most {MAX_NAME_LEN} characters"),
                    "string_too_long",
                );
                None
            }
            Value::String(s) => Some(Some(s.clone())),
            _ => {
                self.fail("name", "Input should be a valid string", "string_type");
                None
            }
        }
    }

    fn bool(&mut self, obj: &Map<String, Value>, field: &str) -> Option<bool> {
        let v = obj.get(field)?;
        let b = v.as_bool();
        if b.is_none() {
            self.fail(field, "Input should be a valid boolean", "bool_type");
        }
        b
    }

    fn finish<T>(self, value: T) -> Result<T, ApiError> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}

/// Validates a create body. `allow_loopback` is the dev-only setting that admits
/// `http://127.0.0.1:PORT` receivers.
pub fn parse_new_destination(
    body: &[u8],
    allow_loopback: bool,
) -> Result<NewDestination, ApiError> {
    let obj = parse_json_object(body)?;
    let mut c = Checker { errors: vec![] };
    let url = match obj.get("url") {
        None => {
            c.fail("url", "Field required", "missing");
            None
        }
        Some(Value::String(s)) => match check_destination_url(s, allow_loopback) {
            Ok(u) => Some(u),
            Err(e) => {
                c.fail("url", e.msg, e.kind);
                None
            }
        },
        Some(_) => {
            c.fail("url", "Input should be a valid string", "string_type");
            None
        }
    };
    if !obj.contains_key("accepted_types") {
        c.fail("accepted_types", "Field required", "missing");
    }
    let accepted_types = c.types(&obj);
    let retry_attempts = c.int_in(&obj, "retry_attempts", 1, 5);
    let name = c.name(&obj);
    let is_active = c.bool(&obj, "is_active");
    let timeout_seconds = c.int_in(&obj, "timeout_seconds", 1, 30);
    let ok = c.errors.is_empty();
    c.finish(())?;
    debug_assert!(ok);
    Ok(NewDestination {
        url: url.unwrap_or_default(),
        accepted_types: accepted_types.unwrap_or_default(),
        retry_attempts: retry_attempts.unwrap_or(DEFAULT_RETRY_ATTEMPTS),
        name: name.flatten(),
        is_active: is_active.unwrap_or(true),
        timeout_seconds: timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS),
    })
}

/// Validates an update body. The URL of a destination never changes: sending
/// one is an error rather than silently ignored.
pub fn parse_destination_changes(body: &[u8]) -> Result<DestinationChanges, ApiError> {
    let obj = parse_json_object(body)?;
    let mut c = Checker { errors: vec![] };
    if obj.contains_key("url") {
        c.fail(
            "url",
            "The URL of a webhook destination cannot be changed; create a new destination instead",
            "extra_forbidden",
        );
    }
    let nullable = |obj: &Map<String, Value>, f: &str| obj.get(f).is_some_and(|v| !v.is_null());
    let changes = DestinationChanges {
        accepted_types: if nullable(&obj, "accepted_types") {
            c.types(&obj)
        } else {
            None
        },
        retry_attempts: if nullable(&obj, "retry_attempts") {
            c.int_in(&obj, "retry_attempts", 1, 5)
        } else {
            None
        },
        name: c.name(&obj),
        is_active: if nullable(&obj, "is_active") {
            c.bool(&obj, "is_active")
        } else {
            None
        },
        timeout_seconds: if nullable(&obj, "timeout_seconds") {
            c.int_in(&obj, "timeout_seconds", 1, 30)
        } else {
            None
        },
    };
    c.finish(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create(v: Value) -> Result<NewDestination, ApiError> {
        parse_new_destination(v.to_string().as_bytes(), false)
    }

    fn locs(e: ApiError) -> Vec<Vec<String>> {
        match e {
            ApiError::Validation(errs) => errs.into_iter().map(|e| e.loc).collect(),
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn create_applies_defaults() {
        let d = create(
            json!({"url": "https://example.com/h", "accepted_types": ["api-key-expiration-soon"]}),
        )
        .unwrap();
        assert_eq!(d.retry_attempts, 3);
        assert_eq!(d.timeout_seconds, 10);
        assert!(d.is_active);
        assert_eq!(d.name, None);
        assert_eq!(d.accepted_types, vec!["api-key-expiration-soon"]);
    }

    #[test]
    fn create_names_every_bad_field() {
        let e = create(json!({"url": "http://example.com", "accepted_types": ["nope", "api-key-expiration-soon"], "retry_attempts": 0, "timeout_seconds": 31})).unwrap_err();
        assert_eq!(
            locs(e),
            vec![
                vec!["body", "url"],
                vec!["body", "accepted_types", "0"],
                vec!["body", "retry_attempts"],
                vec!["body", "timeout_seconds"],
            ]
        );
    }

    #[test]
    fn create_requires_url_and_types() {
        let e = create(json!({})).unwrap_err();
        assert_eq!(
            locs(e),
            vec![vec!["body", "url"], vec!["body", "accepted_types"]]
        );
    }

    #[test]
    fn retry_attempts_bounds_and_type() {
        for (v, ok) in [
            (json!(1), true),
            (json!(5), true),
            (json!(0), false),
            (json!(6), false),
            (json!(-1), false),
            (json!(2.5), false),
            (json!("3"), false),
            (json!(true), false),
        ] {
            let r = create(
                json!({"url": "https://example.com", "accepted_types": [], "retry_attempts": v}),
            );
            assert_eq!(r.is_ok(), ok, "{v}");
        }
    }

    #[test]
    fn malformed_json_is_422_on_body() {
        let e = parse_new_destination(b"{not json", false).unwrap_err();
        assert_eq!(locs(e), vec![vec!["body"]]);
        let e = parse_new_destination(b"[]", false).unwrap_err();
        assert_eq!(locs(e), vec![vec!["body"]]);
    }

    #[test]
    fn duplicate_types_collapse() {
        let d = create(json!({"url": "https://example.com", "accepted_types": ["api-key-expiration-soon", "api-key-expiration-soon"]})).unwrap();
        assert_eq!(d.accepted_types.len(), 1);
    }

    #[test]
    fn update_keeps_absent_and_null_fields() {
        let c = parse_destination_changes(
            br#"{"retry_attempts": null, "accepted_types": ["agent-framework-resource-updated"]}"#,
        )
        .unwrap();
        assert_eq!(c.retry_attempts, None);
        assert_eq!(
            c.accepted_types,
            Some(vec!["agent-framework-resource-updated".to_string()])
        );
        assert!(parse_destination_changes(b"{}").unwrap().is_empty());
        let c = parse_destination_changes(br#"{"name": null}"#).unwrap();
        assert_eq!(c.name, Some(None));
    }

    #[test]
    fn update_refuses_url_and_bad_values() {
        let e = parse_destination_changes(
            br#"{"url": "https://example.com", "retry_attempts": 9, "is_active": "yes"}"#,
        )
        .unwrap_err();
        assert_eq!(
            locs(e),
            vec![
                vec!["body", "url"],
                vec!["body", "retry_attempts"],
                vec!["body", "is_active"]
            ]
        );
    }

    #[test]
    fn names_are_kept_up_to_200_characters() {
        let with_name = |name: Value| {
            create(json!({"url": "https://example.com", "accepted_types": [], "name": name}))
        };
        assert_eq!(
            with_name(json!("Orders")).unwrap().name.as_deref(),
            Some("Orders")
        );
        // characters, not bytes
        let longest = "é".repeat(MAX_NAME_LEN);
        assert_eq!(
            with_name(json!(longest)).unwrap().name,
            Some(longest.clone())
        );
        let e = with_name(json!(format!("{longest}x"))).unwrap_err();
        assert_eq!(locs(e), vec![vec!["body", "name"]]);
        let e = with_name(json!(7)).unwrap_err();
        assert_eq!(locs(e), vec![vec!["body", "name"]]);
        let c = parse_destination_changes(br#"{"name": "Billing"}"#).unwrap();
        assert_eq!(c.name, Some(Some("Billing".to_string())));
    }

    #[test]
    fn changes_are_empty_only_when_nothing_changes() {
        assert!(parse_destination_changes(b"{}").unwrap().is_empty());
        for body in [
            &br#"{"is_active": false}"#[..],
            br#"{"name": null}"#,
            br#"{"timeout_seconds": 30}"#,
        ] {
            assert!(
                !parse_destination_changes(body).unwrap().is_empty(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
