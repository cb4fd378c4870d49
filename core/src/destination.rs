//! Webhook destinations: validation of the create and update bodies, and the
//! shape every read returns. The secret is never part of [`DestinationView`].

use crate::error::{ApiError, FieldError};
use crate::event_types::{OPERATIONAL_TYPES, WEBHOOK_TYPES};
use crate::pipeline::MAX_PER_SECOND_RANGE;
use crate::url_safety::check_destination_url;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// At most this many destinations per organization (seed API).
pub const MAX_DESTINATIONS_PER_ORG: i64 = 10;
/// At most this many operational destinations per organization, beside the webhook ones.
pub const MAX_OPERATIONAL_DESTINATIONS_PER_ORG: i64 = 3;

/// What a destination receives: the producer's events (webhook destinations,
/// the seed API's), or edgehook's operational events about the
/// organization's webhook destinations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    Webhook,
    Operational,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Webhook => "webhook",
            Kind::Operational => "operational",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        [Kind::Webhook, Kind::Operational]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    /// The event types its `accepted_types` may hold.
    pub fn types(self) -> &'static [&'static str] {
        match self {
            Kind::Webhook => &WEBHOOK_TYPES,
            Kind::Operational => &OPERATIONAL_TYPES,
        }
    }

    /// How many of this kind an organization may have.
    pub fn limit(self) -> i64 {
        match self {
            Kind::Webhook => MAX_DESTINATIONS_PER_ORG,
            Kind::Operational => MAX_OPERATIONAL_DESTINATIONS_PER_ORG,
        }
    }

    /// The resource's name in paths and messages.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Webhook => "webhook destination",
            Kind::Operational => "operational destination",
        }
    }
}
/// How a destination's webhooks are signed in the Standard Webhooks header
/// set: HMAC-SHA256 with its secret (`v1`, the seed's scheme), or ed25519
/// with a key pair its object holds (`v1a`), which receivers verify with a
/// public key. Amigo's header set is HMAC with the secret either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Signing {
    #[default]
    Hmac,
    Ed25519,
}

impl Signing {
    pub const ALL: [Signing; 2] = [Signing::Hmac, Signing::Ed25519];

    pub fn as_str(self) -> &'static str {
        match self {
            Signing::Hmac => "hmac",
            Signing::Ed25519 => "ed25519",
        }
    }

    pub fn parse(s: &str) -> Option<Signing> {
        Signing::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

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
    /// Webhooks a second this destination may receive at most; `None`: no limit.
    pub max_per_second: Option<i64>,
    /// How its webhooks are signed; chosen once, at create.
    pub signing: Signing,
}

/// A validated `POST /webhook_destination/{id}` body: `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DestinationChanges {
    pub accepted_types: Option<Vec<String>>,
    pub retry_attempts: Option<i64>,
    /// `Some(None)` clears the name.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub name: Option<Option<String>>,
    pub is_active: Option<bool>,
    pub timeout_seconds: Option<i64>,
    /// `Some(None)` lifts the throttle.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub max_per_second: Option<Option<i64>>,
}

/// Reads a field that is present (`null` included) as `Some`: with
/// `default` for an absent one, a change that clears a field (`Some(None)`)
/// survives the trip to the destination's object.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl DestinationChanges {
    pub fn is_empty(&self) -> bool {
        *self == DestinationChanges::default()
    }
}

/// A destination as every read returns it: the seed's `WebhookDestination`
/// fields plus the extensions `name`, `is_active`, `timeout_seconds`,
/// `max_per_second`, `disabled_reason` (`"failing"` when the health ladder
/// disabled it; `null` when active or paused by its owner), `disabled_at`,
/// `created_at`, `signing` and `public_key` (the `whpk_` key of an ed25519
/// destination, which its object holds; `null` for HMAC).
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
    pub max_per_second: Option<i64>,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<String>,
    pub created_at: String,
    pub signing: Signing,
    pub public_key: Option<String>,
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
    kind: Kind,
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
                Some(t) if self.kind.types().contains(&t) => {
                    if !out.iter().any(|o| o == t) {
                        out.push(t.to_string());
                    }
                }
                _ => self.errors.push(FieldError::new(
                    &["body", "accepted_types", &i.to_string()],
                    format!(
                        "Input should be {}",
                        self.kind
                            .types()
                            .iter()
                            .map(|t| format!("'{t}'"))
                            .collect::<Vec<_>>()
                            .join(", ")
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

    /// `max_per_second`: 1–1000, or `null` for no throttle. `None` when absent.
    fn max_per_second(&mut self, obj: &Map<String, Value>) -> Option<Option<i64>> {
        let (min, max) = MAX_PER_SECOND_RANGE;
        match obj.get("max_per_second")? {
            Value::Null => Some(None),
            _ => self.int_in(obj, "max_per_second", min, max).map(Some),
        }
    }

    /// `signing`: `"hmac"` or `"ed25519"`. `None` when absent (or wrong).
    fn signing(&mut self, obj: &Map<String, Value>) -> Option<Signing> {
        let v = obj.get("signing")?;
        let signing = v.as_str().and_then(Signing::parse);
        if signing.is_none() {
            self.fail(
                "signing",
                format!(
                    "Input should be {}",
                    Signing::ALL
                        .iter()
                        .map(|s| format!("'{}'", s.as_str()))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
                "enum",
            );
        }
        signing
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

/// Validates a create body of a destination of `kind`. `allow_loopback` is
/// the dev-only setting that admits `http://127.0.0.1:PORT` receivers.
pub fn parse_new_destination(
    body: &[u8],
    allow_loopback: bool,
    kind: Kind,
) -> Result<NewDestination, ApiError> {
    let obj = parse_json_object(body)?;
    let mut c = Checker {
        errors: vec![],
        kind,
    };
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
    let max_per_second = c.max_per_second(&obj);
    let signing = c.signing(&obj);
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
        max_per_second: max_per_second.flatten(),
        signing: signing.unwrap_or_default(),
    })
}

/// Validates an update body of a destination of `kind`. The URL of a
/// destination and how it signs never change: sending either is an error
/// rather than silently ignored.
pub fn parse_destination_changes(body: &[u8], kind: Kind) -> Result<DestinationChanges, ApiError> {
    let obj = parse_json_object(body)?;
    let mut c = Checker {
        errors: vec![],
        kind,
    };
    if obj.contains_key("url") {
        c.fail(
            "url",
            "The URL of a webhook destination cannot be changed; create a new destination instead",
            "extra_forbidden",
        );
    }
    if obj.contains_key("signing") {
        c.fail(
            "signing",
            "How a webhook destination signs is chosen when it is created; create a new destination instead",
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
        max_per_second: c.max_per_second(&obj),
    };
    c.finish(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create(v: Value) -> Result<NewDestination, ApiError> {
        parse_new_destination(v.to_string().as_bytes(), false, Kind::Webhook)
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
        let e = parse_new_destination(b"{not json", false, Kind::Webhook).unwrap_err();
        assert_eq!(locs(e), vec![vec!["body"]]);
        let e = parse_new_destination(b"[]", false, Kind::Webhook).unwrap_err();
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
            Kind::Webhook,
        )
        .unwrap();
        assert_eq!(c.retry_attempts, None);
        assert_eq!(
            c.accepted_types,
            Some(vec!["agent-framework-resource-updated".to_string()])
        );
        assert!(
            parse_destination_changes(b"{}", Kind::Webhook)
                .unwrap()
                .is_empty()
        );
        let c = parse_destination_changes(br#"{"name": null}"#, Kind::Webhook).unwrap();
        assert_eq!(c.name, Some(None));
    }

    #[test]
    fn update_refuses_url_and_bad_values() {
        let e = parse_destination_changes(
            br#"{"url": "https://example.com", "retry_attempts": 9, "is_active": "yes"}"#,
            Kind::Webhook,
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
    fn operational_destinations_take_only_operational_types() {
        let body = json!({"url": "https://ops.example.com/h", "accepted_types": ["destination.disabled", "delivery.exhausted"]});
        let d =
            parse_new_destination(body.to_string().as_bytes(), false, Kind::Operational).unwrap();
        assert_eq!(
            d.accepted_types,
            vec!["destination.disabled", "delivery.exhausted"]
        );
        let e =
            parse_new_destination(body.to_string().as_bytes(), false, Kind::Webhook).unwrap_err();
        assert_eq!(
            locs(e),
            vec![
                vec!["body", "accepted_types", "0"],
                vec!["body", "accepted_types", "1"]
            ]
        );
        let webhook = json!({"url": "https://ops.example.com/h", "accepted_types": ["api-key-expiration-soon"]});
        let ApiError::Validation(errs) =
            parse_new_destination(webhook.to_string().as_bytes(), false, Kind::Operational)
                .unwrap_err()
        else {
            panic!()
        };
        assert!(
            errs[0].msg.contains("'destination.failing'"),
            "{}",
            errs[0].msg
        );
        assert!(
            parse_destination_changes(
                br#"{"accepted_types": ["destination.created"]}"#,
                Kind::Operational
            )
            .is_ok()
        );
        assert!(
            parse_destination_changes(
                br#"{"accepted_types": ["destination.created"]}"#,
                Kind::Webhook
            )
            .is_err()
        );
        assert_eq!((Kind::Webhook.limit(), Kind::Operational.limit()), (10, 3));
        assert_eq!(Kind::parse("operational"), Some(Kind::Operational));
        assert_eq!(Kind::parse(Kind::Webhook.as_str()), Some(Kind::Webhook));
        assert_eq!(Kind::parse("other"), None);
        assert_eq!(Kind::default(), Kind::Webhook);
        assert_eq!(Kind::Operational.noun(), "operational destination");
    }

    #[test]
    fn max_per_second_is_optional_from_1_to_1000_or_null() {
        let with = |v: Value| {
            create(json!({"url": "https://example.com", "accepted_types": [], "max_per_second": v}))
        };
        let none = create(json!({"url": "https://example.com", "accepted_types": []})).unwrap();
        assert_eq!(none.max_per_second, None, "seed clients omit it");
        assert_eq!(with(json!(null)).unwrap().max_per_second, None);
        assert_eq!(with(json!(1)).unwrap().max_per_second, Some(1));
        assert_eq!(with(json!(1000)).unwrap().max_per_second, Some(1000));
        for bad in [json!(0), json!(1001), json!(2.5), json!("5"), json!(-1)] {
            let e = with(bad.clone()).unwrap_err();
            assert_eq!(locs(e), vec![vec!["body", "max_per_second"]], "{bad}");
        }
        let c = parse_destination_changes(br#"{"max_per_second": 7}"#, Kind::Webhook).unwrap();
        assert_eq!(c.max_per_second, Some(Some(7)));
        let c = parse_destination_changes(br#"{"max_per_second": null}"#, Kind::Webhook).unwrap();
        assert_eq!(c.max_per_second, Some(None));
        assert_eq!(
            parse_destination_changes(b"{}", Kind::Webhook)
                .unwrap()
                .max_per_second,
            None
        );
        let e = parse_destination_changes(br#"{"max_per_second": 0}"#, Kind::Webhook).unwrap_err();
        assert_eq!(locs(e), vec![vec!["body", "max_per_second"]]);
    }

    #[test]
    fn signing_is_hmac_unless_ed25519_is_asked_for_at_create() {
        let with = |v: Value, kind| {
            let body = json!({"url": "https://example.com", "accepted_types": [], "signing": v});
            parse_new_destination(body.to_string().as_bytes(), false, kind)
        };
        let none = create(json!({"url": "https://example.com", "accepted_types": []})).unwrap();
        assert_eq!(none.signing, Signing::Hmac, "seed clients omit it");
        for kind in [Kind::Webhook, Kind::Operational] {
            assert_eq!(
                with(json!("ed25519"), kind).unwrap().signing,
                Signing::Ed25519
            );
            assert_eq!(with(json!("hmac"), kind).unwrap().signing, Signing::Hmac);
        }
        for bad in [
            json!("rsa"),
            json!("ED25519"),
            json!(null),
            json!(1),
            json!(["hmac"]),
        ] {
            let ApiError::Validation(errs) = with(bad.clone(), Kind::Webhook).unwrap_err() else {
                panic!("not a validation error: {bad}")
            };
            assert_eq!(errs.len(), 1, "{bad}");
            assert_eq!(errs[0].loc, vec!["body", "signing"], "{bad}");
            assert_eq!(errs[0].msg, "Input should be 'hmac' or 'ed25519'");
            assert_eq!(errs[0].kind, "enum");
        }
        // A bad signing is named beside the other bad fields.
        let e =
            create(json!({"url": "ftp://x", "accepted_types": [], "signing": "rsa"})).unwrap_err();
        assert_eq!(locs(e), vec![vec!["body", "url"], vec!["body", "signing"]]);
    }

    #[test]
    fn signing_never_changes_after_create() {
        for v in [json!("ed25519"), json!("hmac"), json!(null)] {
            let body = json!({"signing": v, "retry_attempts": 2}).to_string();
            let ApiError::Validation(errs) =
                parse_destination_changes(body.as_bytes(), Kind::Webhook).unwrap_err()
            else {
                panic!("not a validation error")
            };
            assert_eq!(errs.len(), 1);
            assert_eq!(errs[0].loc, vec!["body", "signing"]);
            assert_eq!(errs[0].kind, "extra_forbidden");
            assert!(
                errs[0].msg.contains("when it is created"),
                "{}",
                errs[0].msg
            );
        }
    }

    #[test]
    fn signing_names_round_trip() {
        for s in Signing::ALL {
            assert_eq!(Signing::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
            assert_eq!(
                serde_json::from_value::<Signing>(json!(s.as_str())).unwrap(),
                s
            );
        }
        assert_eq!(
            (Signing::Hmac.as_str(), Signing::Ed25519.as_str()),
            ("hmac", "ed25519")
        );
        assert_eq!(Signing::parse("rsa"), None);
        assert_eq!(Signing::default(), Signing::Hmac);
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
        let c = parse_destination_changes(br#"{"name": "Billing"}"#, Kind::Webhook).unwrap();
        assert_eq!(c.name, Some(Some("Billing".to_string())));
    }

    #[test]
    fn a_change_that_clears_a_field_survives_serialization() {
        for body in [
            &br#"{"name": null, "max_per_second": null}"#[..],
            br#"{"name": "x", "max_per_second": 3}"#,
            br#"{"retry_attempts": 2}"#,
        ] {
            let c = parse_destination_changes(body, Kind::Webhook).unwrap();
            let sent = serde_json::to_string(&c).unwrap();
            let back: DestinationChanges = serde_json::from_str(&sent).unwrap();
            assert_eq!(back, c, "{sent}");
        }
        let cleared = parse_destination_changes(br#"{"name": null}"#, Kind::Webhook).unwrap();
        assert_eq!(cleared.name, Some(None));
        assert_eq!(cleared.max_per_second, None);
    }

    #[test]
    fn changes_are_empty_only_when_nothing_changes() {
        assert!(
            parse_destination_changes(b"{}", Kind::Webhook)
                .unwrap()
                .is_empty()
        );
        for body in [
            &br#"{"is_active": false}"#[..],
            br#"{"name": null}"#,
            br#"{"timeout_seconds": 30}"#,
            br#"{"max_per_second": null}"#,
            br#"{"max_per_second": 5}"#,
        ] {
            assert!(
                !parse_destination_changes(body, Kind::Webhook)
                    .unwrap()
                    .is_empty(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
