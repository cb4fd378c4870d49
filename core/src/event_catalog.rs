//! The event-type catalog: every webhook type and every operational type
//! (marked `operational`) with a description, its JSON Schema and an example
//! payload. One file, `core/event_catalog.json`, is the
//! source: the catalog endpoint, the test event and the OpenAPI document's
//! event schemas are all read from it.

use crate::event_types::{OPERATIONAL_TYPES, WEBHOOK_TYPES};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The catalog as shipped.
pub const EVENT_CATALOG_JSON: &str = include_str!("../event_catalog.json");

/// One event type of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventTypeDoc {
    #[serde(rename = "type")]
    pub event_type: String,
    /// Sent by edgehook to operational destinations; never published.
    #[serde(default)]
    pub operational: bool,
    pub description: String,
    pub schema: Value,
    pub example: Value,
}

/// The catalog, in the order of `WEBHOOK_TYPES` then `OPERATIONAL_TYPES`.
pub fn catalog() -> Result<Vec<EventTypeDoc>, String> {
    serde_json::from_str(EVENT_CATALOG_JSON).map_err(|e| format!("event catalog: {e}"))
}

/// The example payload of `event_type` as the organization `org_id` would
/// receive it (its `org_id` field set to the organization), serialized once.
pub fn example_body(event_type: &str, org_id: &str) -> Result<Option<String>, String> {
    let Some(doc) = catalog()?.into_iter().find(|d| d.event_type == event_type) else {
        return Ok(None);
    };
    let mut example = doc.example;
    if let Some(obj) = example.as_object_mut()
        && obj.contains_key("org_id")
    {
        obj.insert("org_id".into(), Value::String(org_id.into()));
    }
    serde_json::to_string(&example)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// The name of an event type's schema in the OpenAPI document.
pub fn schema_name(event_type: &str) -> String {
    let mut name = String::new();
    for part in event_type.split(['-', '.']) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            name.extend(first.to_uppercase());
            name.push_str(chars.as_str());
        }
    }
    name + "Event"
}

/// The OpenAPI document `base` with every event type's schema (and its
/// example) added under `components.schemas`.
pub fn with_event_schemas(base: &str) -> Result<String, String> {
    let mut doc: Value = serde_json::from_str(base).map_err(|e| format!("OpenAPI: {e}"))?;
    let schemas = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
        .ok_or("OpenAPI document has no components.schemas")?;
    for d in catalog()? {
        let mut schema = d.schema.clone();
        if let Some(obj) = schema.as_object_mut() {
            obj.insert("description".into(), Value::String(d.description.clone()));
            obj.insert("example".into(), d.example.clone());
        }
        schemas.insert(schema_name(&d.event_type), schema);
    }
    serde_json::to_string(&doc).map_err(|e| e.to_string())
}

/// Checks `value` against the subset of JSON Schema the catalog uses
/// (`type: object`, `required`, `const`, `enum`, `type: string`): the
/// catalog's examples are checked with it, and so is what the test event sends.
pub fn conforms(schema: &Value, value: &Value) -> Result<(), String> {
    if let Some(c) = schema.get("const") {
        return (c == value)
            .then_some(())
            .ok_or_else(|| format!("expected {c}"));
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        return Err(format!("{value} is not one of {options:?}"));
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("string") if !value.is_string() => return Err(format!("{value} is not a string")),
        Some("object") => {
            let obj = value.as_object().ok_or("not an object")?;
            for name in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !obj.contains_key(name) {
                    return Err(format!("{name} is required"));
                }
            }
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, sub) in props {
                    if let Some(v) = obj.get(name) {
                        conforms(sub, v).map_err(|e| format!("{name}: {e}"))?;
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// True when the catalog lists exactly the webhook types, then the
/// operational ones (marked so), each in their order.
pub fn covers_every_type(docs: &[EventTypeDoc]) -> bool {
    let listed = docs.iter().map(|d| (d.event_type.as_str(), d.operational));
    let wanted = WEBHOOK_TYPES
        .iter()
        .map(|t| (*t, false))
        .chain(OPERATIONAL_TYPES.iter().map(|t| (*t, true)));
    listed.eq(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_catalog_lists_every_type_with_an_example_that_fits_its_schema() {
        let docs = catalog().unwrap();
        assert!(covers_every_type(&docs));
        for d in &docs {
            assert!(d.description.len() > 20, "{}", d.event_type);
            assert_eq!(d.example["type"], json!(d.event_type));
            conforms(&d.schema, &d.example).unwrap();
            if d.operational {
                assert!(
                    d.description.starts_with("Operational: "),
                    "{}",
                    d.event_type
                );
                continue;
            }
            let body = example_body(&d.event_type, "org-9").unwrap().unwrap();
            assert_eq!(
                crate::event::check_event(body.as_bytes()).unwrap(),
                d.event_type
            );
            let sent: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(sent["org_id"], json!("org-9"));
            conforms(&d.schema, &sent).unwrap();
        }
        assert_eq!(example_body("no-such-type", "o").unwrap(), None);
        assert!(!covers_every_type(&docs[1..]));
        let mut reordered = docs.clone();
        reordered.swap(0, 1);
        assert!(!covers_every_type(&reordered));
        let mut unmarked = docs.clone();
        unmarked[4].operational = false;
        assert!(!covers_every_type(&unmarked));
        assert_eq!(docs.iter().filter(|d| d.operational).count(), 7);
    }

    #[test]
    fn conformance_catches_what_a_receiver_would_trip_on() {
        let schema = &catalog().unwrap()[0].schema;
        let ok = json!({"type": "conversation-post-processing-complete",
            "post_processing_type": "generate-tasks", "conversation_id": "c", "org_id": "o"});
        assert!(conforms(schema, &ok).is_ok());
        let mut missing = ok.clone();
        missing.as_object_mut().unwrap().remove("conversation_id");
        assert!(
            conforms(schema, &missing)
                .unwrap_err()
                .contains("conversation_id")
        );
        let mut bad_enum = ok.clone();
        bad_enum["post_processing_type"] = json!("other");
        assert!(conforms(schema, &bad_enum).is_err());
        let mut bad_type = ok.clone();
        bad_type["org_id"] = json!(7);
        assert!(conforms(schema, &bad_type).is_err());
        let mut bad_const = ok;
        bad_const["type"] = json!("api-key-expiration-soon");
        assert!(conforms(schema, &bad_const).is_err());
        assert!(conforms(schema, &json!([])).is_err());
    }

    #[test]
    fn the_openapi_document_gets_every_schema_from_the_catalog() {
        assert_eq!(
            schema_name("api-key-expiration-soon"),
            "ApiKeyExpirationSoonEvent"
        );
        assert_eq!(schema_name("delivery.exhausted"), "DeliveryExhaustedEvent");
        let doc: Value =
            serde_json::from_str(&with_event_schemas(crate::OPENAPI_JSON).unwrap()).unwrap();
        for d in catalog().unwrap() {
            let s = &doc["components"]["schemas"][schema_name(&d.event_type)];
            assert_eq!(s["required"], d.schema["required"]);
            assert_eq!(s["example"], d.example);
            assert_eq!(s["description"], json!(d.description));
        }
        assert!(with_event_schemas("{}").is_err());
    }
}
