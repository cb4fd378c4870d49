//! Operational webhooks: the events edgehook sends to an organization's
//! operational destinations about its webhook destinations, each with its
//! body (as the catalog documents it) and the idempotency key in edgehook's
//! own namespace that makes it one event however often it is emitted.
//!
//! Operational destinations get no operational events about themselves: an
//! operational destination that fails could otherwise feed its own failures.

use crate::destination::Kind;
use crate::publish::system_key;
use crate::time::rfc3339_ms;
use serde_json::{Value, json};

/// One operational event, ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Operational {
    pub event_type: &'static str,
    pub body: String,
    pub idempotency_key: String,
}

/// Who an event is about.
#[derive(Debug, Clone, Copy)]
pub struct About<'a> {
    pub org_id: &'a str,
    pub destination_id: &'a str,
    pub kind: Kind,
}

fn event(
    about: About<'_>,
    event_type: &'static str,
    unique: &str,
    fields: Value,
) -> Option<Operational> {
    if about.kind == Kind::Operational {
        return None;
    }
    let mut body = json!({
        "type": event_type,
        "org_id": about.org_id,
        "destination_id": about.destination_id,
    });
    if let (Some(b), Value::Object(extra)) = (body.as_object_mut(), fields) {
        b.extend(extra);
    }
    Some(Operational {
        event_type,
        body: body.to_string(),
        idempotency_key: system_key(event_type, &format!("{}:{unique}", about.destination_id)),
    })
}

/// `destination.failing`: `percent` of the time to disable has passed in a
/// streak that began at `since_ms`.
pub fn failing(
    about: About<'_>,
    percent: u8,
    since_ms: i64,
    disable_after_ms: i64,
    last_error: &str,
) -> Option<Operational> {
    event(
        about,
        "destination.failing",
        &format!("{since_ms}:{percent}"),
        json!({
            "percent": percent,
            "failing_since": rfc3339_ms(since_ms),
            "disable_at": rfc3339_ms(since_ms + disable_after_ms),
            "last_error": last_error,
        }),
    )
}

/// `destination.disabled` by the health ladder at `now_ms`.
pub fn disabled(
    about: About<'_>,
    now_ms: i64,
    since_ms: i64,
    exhausted: i64,
    last_error: &str,
) -> Option<Operational> {
    event(
        about,
        "destination.disabled",
        &since_ms.to_string(),
        json!({
            "reason": "failing",
            "disabled_at": rfc3339_ms(now_ms),
            "failing_since": rfc3339_ms(since_ms),
            "exhausted": exhausted,
            "last_error": last_error,
        }),
    )
}

/// `destination.recovered` at `now_ms`: by a success, or re-enabled.
pub fn recovered(about: About<'_>, now_ms: i64, re_enabled: bool) -> Option<Operational> {
    event(
        about,
        "destination.recovered",
        &now_ms.to_string(),
        json!({
            "reason": if re_enabled { "re-enabled" } else { "success" },
            "recovered_at": rfc3339_ms(now_ms),
        }),
    )
}

/// What `delivery.exhausted` says of the delivery that failed for good.
#[derive(Debug, Clone, Copy)]
pub struct Exhausted<'a> {
    pub delivery_id: &'a str,
    pub event_type: &'a str,
    pub attempts: u32,
    pub last_status_code: u16,
    pub error_class: &'a str,
}

/// `delivery.exhausted`: one per delivery and attempt round (a manual retry
/// or a recovery starts a new round, which may exhaust again).
pub fn exhausted(about: About<'_>, e: Exhausted<'_>) -> Option<Operational> {
    event(
        about,
        "delivery.exhausted",
        &format!("{}:{}", e.delivery_id, e.attempts),
        json!({
            "delivery_id": e.delivery_id,
            "event_type": e.event_type,
            "attempts": e.attempts,
            "last_status_code": e.last_status_code,
            "error_class": e.error_class,
        }),
    )
}

/// `destination.created`.
pub fn created(
    about: About<'_>,
    url: &str,
    accepted_types: &[String],
    is_active: bool,
) -> Option<Operational> {
    event(
        about,
        "destination.created",
        "created",
        json!({"url": url, "accepted_types": accepted_types, "is_active": is_active}),
    )
}

/// `destination.updated` at `now_ms`: `changed` names the fields sent.
pub fn updated(
    about: About<'_>,
    now_ms: i64,
    changed: &[&str],
    is_active: bool,
) -> Option<Operational> {
    event(
        about,
        "destination.updated",
        &now_ms.to_string(),
        json!({"changed": changed, "is_active": is_active}),
    )
}

/// `destination.deleted`.
pub fn deleted(about: About<'_>) -> Option<Operational> {
    event(about, "destination.deleted", "deleted", json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_catalog::{catalog, conforms};

    const ABOUT: About<'static> = About {
        org_id: "acme",
        destination_id: "6b0c5f0e4a1d2c3b4a596877",
        kind: Kind::Webhook,
    };

    fn every_event() -> Vec<Operational> {
        let e = Exhausted {
            delivery_id: "d1",
            event_type: "api-key-expiration-soon",
            attempts: 4,
            last_status_code: 0,
            error_class: "timeout",
        };
        vec![
            failing(ABOUT, 75, 1_000, 10_000, "HTTP status 500").unwrap(),
            disabled(ABOUT, 11_000, 1_000, 12, "HTTP status 500").unwrap(),
            recovered(ABOUT, 12_000, false).unwrap(),
            exhausted(ABOUT, e).unwrap(),
            created(
                ABOUT,
                "https://h.example.com",
                &["api-key-expiration-soon".into()],
                true,
            )
            .unwrap(),
            updated(ABOUT, 13_000, &["is_active"], false).unwrap(),
            deleted(ABOUT).unwrap(),
        ]
    }

    #[test]
    fn every_event_fits_its_catalog_schema() {
        let docs = catalog().unwrap();
        let events = every_event();
        assert_eq!(
            events.iter().map(|e| e.event_type).collect::<Vec<_>>(),
            crate::event_types::OPERATIONAL_TYPES
        );
        for e in &events {
            let doc = docs.iter().find(|d| d.event_type == e.event_type).unwrap();
            assert!(doc.operational);
            let body: Value = serde_json::from_str(&e.body).unwrap();
            conforms(&doc.schema, &body).unwrap_or_else(|err| panic!("{}: {err}", e.event_type));
            let required: Vec<&str> = doc.schema["required"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            for name in required {
                assert!(body.get(name).is_some(), "{}: {name}", e.event_type);
            }
            assert!(
                e.idempotency_key.starts_with("edgehook:"),
                "{}",
                e.idempotency_key
            );
        }
    }

    #[test]
    fn bodies_say_what_happened() {
        let f: Value = serde_json::from_str(&every_event()[0].body).unwrap();
        assert_eq!(f["percent"], 75);
        assert_eq!(f["failing_since"], "1970-01-01T00:00:01.000Z");
        assert_eq!(f["disable_at"], "1970-01-01T00:00:11.000Z");
        assert_eq!(f["last_error"], "HTTP status 500");
        assert_eq!(f["org_id"], "acme");
        let r: Value = serde_json::from_str(&recovered(ABOUT, 5, true).unwrap().body).unwrap();
        assert_eq!(r["reason"], "re-enabled");
        let x: Value = serde_json::from_str(&every_event()[3].body).unwrap();
        assert_eq!(
            (x["attempts"].as_i64(), x["error_class"].as_str()),
            (Some(4), Some("timeout"))
        );
    }

    #[test]
    fn keys_make_each_event_once() {
        let a = failing(ABOUT, 50, 1, 10, "e").unwrap().idempotency_key;
        assert_eq!(
            a,
            "edgehook:destination.failing:6b0c5f0e4a1d2c3b4a596877:1:50"
        );
        assert_ne!(a, failing(ABOUT, 75, 1, 10, "e").unwrap().idempotency_key);
        assert_ne!(a, failing(ABOUT, 50, 2, 10, "e").unwrap().idempotency_key);
        let e = |attempts| {
            exhausted(
                ABOUT,
                Exhausted {
                    delivery_id: "d",
                    event_type: "t",
                    attempts,
                    last_status_code: 500,
                    error_class: "http_status",
                },
            )
            .unwrap()
            .idempotency_key
        };
        assert_ne!(e(4), e(8), "a new round may exhaust again");
        assert_eq!(e(4), e(4));
    }

    #[test]
    fn operational_destinations_get_no_events_about_themselves() {
        let ops = About {
            kind: Kind::Operational,
            ..ABOUT
        };
        assert!(failing(ops, 50, 1, 10, "e").is_none());
        assert!(deleted(ops).is_none());
        assert!(recovered(ops, 1, true).is_none());
    }
}
