//! Events published by the producer: the checks a body passes before it fans out.

use crate::error::ApiError;
use crate::event_types::{WEBHOOK_TYPES, is_webhook_type};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

/// Largest event body accepted (bytes).
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

/// Checks a published body and returns its `type`. The body itself is kept
/// exactly as sent: it is delivered byte for byte, never re-serialized.
///
/// A member name repeated within one object, at any depth, is refused: JSON
/// parsers disagree on which value wins (serde_json and JavaScript keep the
/// last, others the first), so receivers could read another event than the one
/// checked here. The body is read once, without building a tree of it.
pub fn check_event(body: &[u8]) -> Result<String, ApiError> {
    if body.len() > MAX_EVENT_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit_bytes: MAX_EVENT_BYTES,
        });
    }
    if std::str::from_utf8(body).is_err() {
        return Err(ApiError::invalid(
            &["body"],
            "the event must be UTF-8 JSON",
            "json_invalid",
        ));
    }
    let mut findings = Findings::default();
    let mut de = serde_json::Deserializer::from_slice(body);
    let scanned = Scan {
        findings: &mut findings,
        top: true,
        keep_text: false,
    }
    .deserialize(&mut de)
    .and_then(|shape| de.end().map(|()| shape));
    let shape = match (scanned, findings.duplicate) {
        (Err(_), Some(mut path)) => {
            path.reverse();
            let name = path.last().cloned().unwrap_or_default();
            let loc: Vec<&str> = ["body"]
                .into_iter()
                .chain(path.iter().map(String::as_str))
                .collect();
            return Err(ApiError::invalid(
                &loc,
                format!(
                    "member name {name:?} appears more than once in one object; \
                     receivers would disagree on its value"
                ),
                "duplicate_member",
            ));
        }
        (Err(e), None) => return Err(crate::error::json_invalid(&e)),
        (Ok(shape), _) => shape,
    };
    if shape != Shape::Object {
        return Err(ApiError::invalid(
            &["body"],
            "Input should be a JSON object",
            "model_attributes_type",
        ));
    }
    match findings.event_type {
        None => Err(ApiError::invalid(
            &["body", "type"],
            "Field required",
            "missing",
        )),
        Some(Shape::Text(t)) if is_webhook_type(&t) => Ok(t.into_owned()),
        Some(_) => Err(ApiError::invalid(
            &["body", "type"],
            format!(
                "Input should be {}",
                WEBHOOK_TYPES.map(|t| format!("'{t}'")).join(", ")
            ),
            "enum",
        )),
    }
}

/// What the one pass over a published body found.
#[derive(Default)]
struct Findings<'de> {
    /// Where a member name repeats: the repeated name first, then the names and
    /// indexes that lead to its object, innermost first (filled while unwinding).
    duplicate: Option<Vec<String>>,
    /// The top-level `type` member.
    event_type: Option<Shape<'de>>,
}

/// What kind of JSON value was read; the text only where it was asked for.
#[derive(Debug, PartialEq)]
enum Shape<'de> {
    Object,
    Text(Cow<'de, str>),
    Other,
}

/// Reads one JSON value, checking every object in it for repeated member names
/// with one set per object, so a wide object costs linear time.
struct Scan<'f, 'de> {
    findings: &'f mut Findings<'de>,
    /// The body itself, whose `type` member is kept.
    top: bool,
    /// Keep the value's text if it is a string.
    keep_text: bool,
}

impl<'de> Scan<'_, 'de> {
    fn nested(&mut self, keep_text: bool) -> Scan<'_, 'de> {
        Scan {
            findings: &mut *self.findings,
            top: false,
            keep_text,
        }
    }

    /// Passes an error up from inside a member or element, adding its name to
    /// the duplicate's path.
    fn unwind<E>(&mut self, at: impl ToString, e: E) -> E {
        if let Some(path) = &mut self.findings.duplicate {
            path.push(at.to_string());
        }
        e
    }
}

impl<'de> DeserializeSeed<'de> for Scan<'_, 'de> {
    type Value = Shape<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Shape<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Scan<'_, 'de> {
    type Value = Shape<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Shape<'de>, E> {
        Ok(Shape::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Shape<'de>, E> {
        Ok(Shape::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Shape<'de>, E> {
        Ok(Shape::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Shape<'de>, E> {
        Ok(Shape::Other)
    }

    fn visit_unit<E>(self) -> Result<Shape<'de>, E> {
        Ok(Shape::Other)
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Shape<'de>, E> {
        Ok(if self.keep_text {
            Shape::Text(Cow::Borrowed(v))
        } else {
            Shape::Other
        })
    }

    fn visit_str<E>(self, v: &str) -> Result<Shape<'de>, E> {
        Ok(if self.keep_text {
            Shape::Text(Cow::Owned(v.to_owned()))
        } else {
            Shape::Other
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Shape<'de>, A::Error> {
        for index in 0usize.. {
            match seq.next_element_seed(self.nested(false)) {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => return Err(self.unwind(index, e)),
            }
        }
        Ok(Shape::Other)
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Shape<'de>, A::Error> {
        let mut seen: HashSet<Cow<'de, str>> = HashSet::new();
        while let Some(name) = map.next_key_seed(MemberName)? {
            if !seen.insert(name.clone()) {
                self.findings.duplicate = Some(vec![name.into_owned()]);
                return Err(de::Error::custom("duplicate member name"));
            }
            let is_type = self.top && name == "type";
            match map.next_value_seed(self.nested(is_type)) {
                Ok(shape) if is_type => self.findings.event_type = Some(shape),
                Ok(_) => {}
                Err(e) => return Err(self.unwind(name, e)),
            }
        }
        Ok(Shape::Object)
    }
}

/// A member name, borrowed from the body unless it holds escapes (`"t\u0079pe"`
/// is decoded, so it repeats `"type"`).
struct MemberName;

impl<'de> DeserializeSeed<'de> for MemberName {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for MemberName {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

/// Checks an `Idempotency-Key` header value.
pub fn check_idempotency_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            &["header", "idempotency-key"],
            "1-255 printable ASCII characters",
            "string_pattern_mismatch",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_known_types_only() {
        assert_eq!(
            check_event(br#"{"type":"api-key-expiration-soon","x":1}"#).unwrap(),
            "api-key-expiration-soon"
        );
        for bad in [
            &br#"{"type":"nope"}"#[..],
            br#"{"x":1}"#,
            br#"{"type":3}"#,
            b"[1]",
            b"{",
            b"\xff\xfe",
        ] {
            assert_eq!(
                check_event(bad).unwrap_err().to_http().status,
                422,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    fn refusal(body: &[u8]) -> (Vec<String>, String) {
        match check_event(body) {
            Err(ApiError::Validation(errors)) if errors.len() == 1 => {
                (errors[0].loc.clone(), errors[0].kind.clone())
            }
            other => panic!("{}: {other:?}", String::from_utf8_lossy(body)),
        }
    }

    fn loc(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn a_repeated_member_name_is_refused_at_any_depth() {
        for (body, at) in [
            (
                &br#"{"type":"x","type":"agent-framework-resource-updated"}"#[..],
                &["body", "type"][..],
            ),
            (
                br#"{"type":"agent-framework-resource-updated","type":"x"}"#,
                &["body", "type"],
            ),
            (
                br#"{"type":"api-key-expiration-soon","type":"api-key-expiration-soon"}"#,
                &["body", "type"],
            ),
            (
                br#"{"type":"api-key-expiration-soon","data":{"items":[{"id":1},{"id":2,"x":{},"id":3}]}}"#,
                &["body", "data", "items", "1", "id"],
            ),
            (
                br#"[{"a":1},[0,{"b":{"c":1,"c":1}}]]"#,
                &["body", "1", "1", "b", "c"],
            ),
            // the same name spelled with escapes is the same name
            (
                br#"{"type":"api-key-expiration-soon","ab":1,"ab":2}"#,
                &["body", "ab"],
            ),
            (
                br#"{"type":"x","type":"api-key-expiration-soon"}"#,
                &["body", "type"],
            ),
        ] {
            let (got, kind) = refusal(body);
            assert_eq!(got, loc(at), "{}", String::from_utf8_lossy(body));
            assert_eq!(kind, "duplicate_member");
        }
        let e = check_event(br#"{"type":"x","type":"agent-framework-resource-updated"}"#)
            .unwrap_err()
            .to_http();
        assert_eq!(e.status, 422);
        assert!(
            e.body
                .to_string()
                .contains("\\\"type\\\" appears more than once"),
            "{}",
            e.body
        );
    }

    #[test]
    fn the_same_name_in_different_objects_is_fine() {
        assert_eq!(
            check_event(
                br#"{"type":"api-key-expiration-soon","a":{"a":{"a":1,"type":2}},"b":[{"a":1},{"a":1}],"c":"a"}"#
            )
            .unwrap(),
            "api-key-expiration-soon"
        );
        // an escaped type value is read as its decoded text
        assert_eq!(
            check_event(br#"{"type":"api-key-expiration-so\u006fn"}"#).unwrap(),
            "api-key-expiration-soon"
        );
    }

    #[test]
    fn only_the_top_level_type_counts() {
        assert_eq!(
            refusal(br#"{"data":{"type":"api-key-expiration-soon"}}"#),
            (loc(&["body", "type"]), "missing".into())
        );
        for bad in [
            &br#"{"type":["api-key-expiration-soon"]}"#[..],
            br#"{"type":{"type":"api-key-expiration-soon"}}"#,
            br#"{"type":null}"#,
            br#"{"type":true}"#,
            br#"{"type":1.5}"#,
            br#"{"type":-1}"#,
        ] {
            assert_eq!(refusal(bad), (loc(&["body", "type"]), "enum".into()));
        }
        for not_object in [&b"[]"[..], b"\"api-key-expiration-soon\"", b"null", b"3"] {
            assert_eq!(
                refusal(not_object),
                (loc(&["body"]), "model_attributes_type".into())
            );
        }
        for broken in [
            &b"{\"type\":\"api-key-expiration-soon\"} x"[..],
            b"",
            b"{\"a\":1,}",
        ] {
            assert_eq!(refusal(broken), (loc(&["body"]), "json_invalid".into()));
        }
    }

    #[test]
    fn wide_objects_are_read_in_one_pass() {
        let members: Vec<String> = (0..15_000).map(|i| format!("\"m{i}\":{i}")).collect();
        let body = format!(
            "{{\"type\":\"api-key-expiration-soon\",{}}}",
            members.join(",")
        );
        assert!(body.len() < MAX_EVENT_BYTES);
        assert_eq!(
            check_event(body.as_bytes()).unwrap(),
            "api-key-expiration-soon"
        );
        let repeated = format!("{},\"m0\":0}}", &body[..body.len() - 1]);
        assert_eq!(refusal(repeated.as_bytes()).0, loc(&["body", "m0"]));
    }

    #[test]
    fn refuses_bodies_over_256_kb() {
        let mut big = br#"{"type":"api-key-expiration-soon","pad":""#.to_vec();
        big.resize(MAX_EVENT_BYTES + 1 - 2, b'a');
        big.extend_from_slice(b"\"}");
        assert_eq!(check_event(&big).unwrap_err().to_http().status, 413);
    }

    #[test]
    fn idempotency_keys() {
        assert!(check_idempotency_key("order-42").is_ok());
        assert!(check_idempotency_key("").is_err());
        assert!(check_idempotency_key("a b").is_err());
        assert!(check_idempotency_key(&"k".repeat(256)).is_err());
    }

    #[test]
    fn limits_are_inclusive() {
        let mut exact = br#"{"type":"api-key-expiration-soon","pad":""#.to_vec();
        exact.resize(MAX_EVENT_BYTES - 2, b'a');
        exact.extend_from_slice(b"\"}");
        assert_eq!(exact.len(), MAX_EVENT_BYTES);
        assert_eq!(check_event(&exact).unwrap(), "api-key-expiration-soon");
        assert!(check_idempotency_key(&"k".repeat(255)).is_ok());
    }
}

/// Property: over random JSON documents whose member names often repeat, a body
/// is refused exactly when some object repeats a name, and the error points at
/// the first repetition in document order (found here by a plain quadratic walk).
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Node {
        Number(i64),
        Text(String),
        Array(Vec<Node>),
        Object(Vec<(String, Node)>),
    }

    fn node() -> impl Strategy<Value = Node> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(Node::Number),
            "[a-z\"\\\\]{0,6}".prop_map(Node::Text),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Node::Array),
                proptest::collection::vec(("[abt]{1,2}", inner), 0..6).prop_map(Node::Object),
            ]
        })
    }

    /// JSON text of a string; `escape` spells each letter as `\u00XX` where its bit is set.
    fn quote(s: &str, escape: u64) -> String {
        let mut out = String::from('"');
        for (i, c) in s.chars().enumerate() {
            match c {
                '"' | '\\' => {
                    out.push('\\');
                    out.push(c);
                }
                _ if escape >> (i % 64) & 1 == 1 => out.push_str(&format!("\\u{:04x}", c as u32)),
                _ => out.push(c),
            }
        }
        out.push('"');
        out
    }

    fn render(n: &Node, escape: u64) -> String {
        match n {
            Node::Number(v) => v.to_string(),
            Node::Text(s) => quote(s, escape),
            Node::Array(items) => format!(
                "[{}]",
                items
                    .iter()
                    .map(|i| render(i, escape.rotate_left(1)))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Node::Object(members) => format!(
                "{{{}}}",
                members
                    .iter()
                    .map(|(k, v)| format!(
                        "{}:{}",
                        quote(k, escape),
                        render(v, escape.rotate_left(3))
                    ))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }

    fn first_repeat(n: &Node) -> Option<Vec<String>> {
        match n {
            Node::Number(_) | Node::Text(_) => None,
            Node::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
                first_repeat(item).map(|p| [vec![i.to_string()], p].concat())
            }),
            Node::Object(members) => members.iter().enumerate().find_map(|(i, (k, v))| {
                if members[..i].iter().any(|(earlier, _)| earlier == k) {
                    Some(vec![k.clone()])
                } else {
                    first_repeat(v).map(|p| [vec![k.clone()], p].concat())
                }
            }),
        }
    }

    proptest! {
        #[test]
        fn refused_exactly_when_an_object_repeats_a_name(data in node(), escape in any::<u64>()) {
            let body = format!(
                "{{\"type\":\"api-key-expiration-soon\",\"data\":{}}}",
                render(&data, escape)
            );
            match (first_repeat(&data), check_event(body.as_bytes())) {
                (None, Ok(t)) => prop_assert_eq!(t, "api-key-expiration-soon"),
                (Some(path), Err(ApiError::Validation(errors))) => {
                    let want: Vec<String> = ["body", "data"]
                        .iter()
                        .map(|s| s.to_string())
                        .chain(path)
                        .collect();
                    prop_assert_eq!(&errors[0].loc, &want, "{}", body);
                    prop_assert_eq!(errors[0].kind.as_str(), "duplicate_member");
                }
                (want, got) => prop_assert!(false, "{}: expected {:?}, got {:?}", body, want, got),
            }
        }
    }
}
