//! Customer-portal sessions: what a platform asks for when it mints one, what
//! the session's token may do, where its URL points, and the headers of the
//! portal page.
//!
//! A session's token is an ordinary edgehook JWT whose subject is
//! `portal:{session_id}` and whose key id is the session id, so the API
//! checks it like any token and a revoked session ends like a revoked key. It
//! also names who minted it ([`crate::auth::Actor`]): the session holds no
//! more than that user, counts against that user's rate limits and ends with
//! that user's API key.
//!
//! - [`origin`]: which embedding origins and return URLs a session may name.
//! - [`frame`]: the signed `?frame=` parameter and the page's framing policy.
//! - [`theme`]: the platform's name, accent colour and mode, with WCAG contrast.

pub mod frame;
pub mod origin;
pub mod theme;

use crate::auth::{
    CREATE_DESTINATION, DELETE_DESTINATION, GET_DELIVERIES, GET_DESTINATION, UPDATE_DESTINATION,
};
use crate::error::{ApiError, FieldError};
use crate::ids::is_valid_id;
use origin::{ORIGIN_RULE, RETURN_URL_RULE, parse_origin, parse_return_url};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use theme::{ThemeClaims, parse_theme};

pub const MIN_TTL_SECONDS: i64 = 60;
pub const MAX_TTL_SECONDS: i64 = 86_400;
pub const DEFAULT_TTL_SECONDS: i64 = 3_600;
/// Origins one session may list for embedding.
pub const MAX_ALLOWED_ORIGINS: usize = 10;

const SUBJECT_PREFIX: &str = "portal:";

/// Where a session's URL opens the page: one destination, or one delivery of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAt {
    pub destination_id: String,
    pub delivery_id: Option<String>,
}

/// What the page shows for a session, carried in its token's `portal` claim
/// (the API never reads it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme: Option<ThemeClaims>,
    /// Where the customer goes back to when the session has ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
}

impl PageClaims {
    /// `None` when there is nothing for the page to show, so plain sessions'
    /// tokens stay as small as before.
    pub fn into_claim(self) -> Option<PageClaims> {
        (self.theme.is_some() || self.return_url.is_some()).then_some(self)
    }
}

/// A validated `POST …/portal_session/` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRequest {
    pub ttl_seconds: i64,
    pub read_only: bool,
    /// Origins (`scheme://host[:port]`, lowercase) whose pages may frame the portal.
    pub allowed_origins: Vec<String>,
    pub open: Option<OpenAt>,
    pub page: PageClaims,
}

/// Parses a session request; every bad field is named in one 422.
/// `allow_loopback` (local runs) admits loopback `http://` origins and return URLs.
pub fn parse_session_request(
    body: &Map<String, Value>,
    allow_loopback: bool,
) -> Result<SessionRequest, ApiError> {
    let mut errors = vec![];
    let ttl_seconds = match body.get("ttl_seconds") {
        None | Some(Value::Null) => DEFAULT_TTL_SECONDS,
        Some(v) => match v.as_i64() {
            Some(n) if (MIN_TTL_SECONDS..=MAX_TTL_SECONDS).contains(&n) => n,
            _ => {
                errors.push(FieldError::new(
                    &["body", "ttl_seconds"],
                    format!(
                        "Input should be an integer from {MIN_TTL_SECONDS} to {MAX_TTL_SECONDS}"
                    ),
                    "int_range",
                ));
                DEFAULT_TTL_SECONDS
            }
        },
    };
    let read_only = match body.get("read_only") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.push(FieldError::new(
                &["body", "read_only"],
                "Input should be a valid boolean",
                "bool_type",
            ));
            false
        }
    };
    let mut allowed_origins = vec![];
    match body.get("allowed_origins") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) if items.len() <= MAX_ALLOWED_ORIGINS => {
            for (i, item) in items.iter().enumerate() {
                match item.as_str().and_then(|s| parse_origin(s, allow_loopback)) {
                    Some(o) if !allowed_origins.contains(&o) => allowed_origins.push(o),
                    Some(_) => {}
                    None => errors.push(FieldError::new(
                        &["body", "allowed_origins", &i.to_string()],
                        ORIGIN_RULE,
                        "url_parsing",
                    )),
                }
            }
        }
        Some(_) => errors.push(FieldError::new(
            &["body", "allowed_origins"],
            format!("Input should be a list of at most {MAX_ALLOWED_ORIGINS} origins"),
            "list_type",
        )),
    }
    let open = match body.get("open") {
        None | Some(Value::Null) => None,
        Some(v) => parse_open(v, &mut errors),
    };
    let theme = match body.get("theme") {
        None | Some(Value::Null) => None,
        Some(v) => match parse_theme(v) {
            Ok(t) => Some(t),
            Err(problems) => {
                for (field, msg, kind) in problems {
                    let loc: Vec<&str> = ["body", "theme", field]
                        .into_iter()
                        .filter(|s| !s.is_empty())
                        .collect();
                    errors.push(FieldError::new(&loc, msg, kind));
                }
                None
            }
        },
    };
    let return_url = match body.get("return_url") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let parsed = v.as_str().and_then(|s| parse_return_url(s, allow_loopback));
            if parsed.is_none() {
                errors.push(FieldError::new(
                    &["body", "return_url"],
                    RETURN_URL_RULE,
                    "url_parsing",
                ));
            }
            parsed
        }
    };
    if errors.is_empty() {
        Ok(SessionRequest {
            ttl_seconds,
            read_only,
            allowed_origins,
            open,
            page: PageClaims { theme, return_url },
        })
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// `{"destination_id", "delivery_id"?}`, each a 24-hex id.
fn parse_open(v: &Value, errors: &mut Vec<FieldError>) -> Option<OpenAt> {
    const PATTERN: &str = "String should match pattern '^[a-f0-9]{24}$'";
    let Some(obj) = v.as_object() else {
        errors.push(FieldError::new(
            &["body", "open"],
            "Input should be an object with destination_id and, optionally, delivery_id",
            "model_type",
        ));
        return None;
    };
    let destination_id = match obj.get("destination_id").and_then(Value::as_str) {
        Some(id) if is_valid_id(id) => Some(id.to_string()),
        _ => {
            errors.push(FieldError::new(
                &["body", "open", "destination_id"],
                PATTERN,
                "string_pattern_mismatch",
            ));
            None
        }
    };
    let delivery_id = match obj.get("delivery_id") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_str() {
            Some(id) if is_valid_id(id) => Some(id.to_string()),
            _ => {
                errors.push(FieldError::new(
                    &["body", "open", "delivery_id"],
                    PATTERN,
                    "string_pattern_mismatch",
                ));
                None
            }
        },
    };
    destination_id.map(|destination_id| OpenAt {
        destination_id,
        delivery_id,
    })
}

/// The permissions a session may read with.
const READ: [&str; 2] = [GET_DESTINATION, GET_DELIVERIES];
/// The permissions a read-write session may change with.
const WRITE: [&str; 3] = [CREATE_DESTINATION, UPDATE_DESTINATION, DELETE_DESTINATION];

/// What a session's token may do: the session's scope (reading, and changing
/// unless `read_only`) intersected with what the minting user holds. A
/// read-write session from a user who may change nothing, or a session that
/// would hold nothing at all, is refused (403): a session never holds more
/// than the user who minted it.
pub fn session_permissions(read_only: bool, minter: &[String]) -> Result<Vec<String>, ApiError> {
    let held = |p: &str| minter.iter().any(|m| m == p);
    if !read_only && !WRITE.iter().any(|p| held(p)) {
        return Err(ApiError::Forbidden(format!(
            "a read-write session needs a permission to change destinations, and this user holds none ({}); mint a read_only session instead",
            WRITE.join(", ")
        )));
    }
    let scope = READ
        .iter()
        .chain(if read_only { &[][..] } else { &WRITE[..] });
    let perms: Vec<String> = scope.filter(|p| held(p)).map(|p| p.to_string()).collect();
    if perms.is_empty() {
        return Err(ApiError::Forbidden(format!(
            "this user holds none of the permissions a portal session carries ({})",
            READ.join(", ")
        )));
    }
    Ok(perms)
}

/// The answer once an organization holds `max` live sessions.
pub fn too_many_sessions(max: u32) -> ApiError {
    ApiError::LimitReached(format!(
        "this organization already has {max} live portal sessions, the most it may hold: revoke one (DELETE /v1/{{organization}}/portal_session/{{session_id}}) or wait for one to expire"
    ))
}

/// The token subject of a session.
pub fn subject(session_id: &str) -> String {
    format!("{SUBJECT_PREFIX}{session_id}")
}

/// The session a token subject names, if it is a portal session's.
pub fn session_of(subject: &str) -> Option<&str> {
    subject.strip_prefix(SUBJECT_PREFIX)
}

/// The address a platform hands its customer. The token (and where to open
/// the page) ride in the fragment, which browsers never send to a server, so
/// it is in no log; the signed `frame` parameter rides in the query, so the
/// page's own request carries it.
pub fn portal_url(base: &str, frame: Option<&str>, token: &str, open: Option<&OpenAt>) -> String {
    let mut url = format!("{}/portal/", base.trim_end_matches('/'));
    if let Some(f) = frame {
        url.push_str("?frame=");
        url.push_str(f);
    }
    url.push_str("#token=");
    url.push_str(token);
    if let Some(o) = open {
        url.push_str("&destination=");
        url.push_str(&o.destination_id);
        if let Some(d) = &o.delivery_id {
            url.push_str("&delivery=");
            url.push_str(d);
        }
    }
    url
}

/// The `Cache-Control` of a portal file: the page itself is checked every
/// time (it names the current bundle); the bundle's files carry a content
/// hash in their names and never change.
pub fn cache_control(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or("");
    let hashed = (name.ends_with(".js") || name.ends_with(".css")) && name.contains('-');
    if hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{ALL_PERMISSIONS, CREATE_PORTAL_SESSION, SEND_EVENT};
    use serde_json::json;

    fn parse(v: Value) -> Result<SessionRequest, ApiError> {
        parse_session_request(v.as_object().unwrap(), true)
    }

    fn failed_at(v: Value, allow_loopback: bool) -> Vec<Vec<String>> {
        match parse_session_request(v.as_object().unwrap(), allow_loopback) {
            Err(ApiError::Validation(errs)) => errs.into_iter().map(|e| e.loc).collect(),
            other => panic!("{other:?}"),
        }
    }

    fn perms(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(
            parse(json!({})).unwrap(),
            SessionRequest {
                ttl_seconds: 3600,
                read_only: false,
                allowed_origins: vec![],
                open: None,
                page: PageClaims::default(),
            }
        );
        assert_eq!(parse(json!({"ttl_seconds": 60})).unwrap().ttl_seconds, 60);
        assert_eq!(
            parse(json!({"ttl_seconds": 86400})).unwrap().ttl_seconds,
            86400
        );
        for bad in [json!(59), json!(86401), json!("60"), json!(1.5)] {
            assert!(parse(json!({"ttl_seconds": bad})).is_err(), "{bad}");
        }
        assert!(parse(json!({"read_only": true})).unwrap().read_only);
        assert!(parse(json!({"read_only": "yes"})).is_err());
        let nulls = json!({"ttl_seconds": null, "read_only": null, "allowed_origins": null,
                           "open": null, "theme": null, "return_url": null});
        assert_eq!(parse(nulls).unwrap(), parse(json!({})).unwrap());
    }

    #[test]
    fn origins_are_normalized_checked_and_at_most_ten() {
        let r = parse(json!({"allowed_origins": [
            "https://App.Example.com", "http://127.0.0.1:8080", "https://app.example.com:443/"
        ]}))
        .unwrap();
        assert_eq!(
            r.allowed_origins,
            vec!["https://app.example.com", "http://127.0.0.1:8080"]
        );
        let at = failed_at(
            json!({"allowed_origins": [
                "https://ok.example", "https://x.example/path", "*", "ftp://x.example",
                "https://a.com,script-src", "https://*.evil.com", 7
            ]}),
            true,
        );
        let indexes: Vec<&str> = at.iter().map(|loc| loc[2].as_str()).collect();
        assert_eq!(indexes, vec!["1", "2", "3", "4", "5", "6"]);
        assert_eq!(
            failed_at(json!({"allowed_origins": ["http://127.0.0.1:8080"]}), false),
            vec![vec!["body", "allowed_origins", "0"]]
        );
        assert!(parse(json!({"allowed_origins": "https://x.example"})).is_err());
        let ten: Vec<String> = (0..10).map(|i| format!("https://h{i}.example")).collect();
        assert_eq!(
            parse(json!({ "allowed_origins": ten }))
                .unwrap()
                .allowed_origins
                .len(),
            10
        );
        let eleven: Vec<String> = (0..11).map(|i| format!("https://h{i}.example")).collect();
        assert_eq!(
            failed_at(json!({ "allowed_origins": eleven }), true),
            vec![vec!["body", "allowed_origins"]]
        );
    }

    #[test]
    fn open_names_a_destination_and_maybe_one_delivery() {
        let d = "0123456789abcdef01234567";
        let v = "89abcdef0123456701234567";
        assert_eq!(
            parse(json!({"open": {"destination_id": d}})).unwrap().open,
            Some(OpenAt {
                destination_id: d.into(),
                delivery_id: None
            })
        );
        assert_eq!(
            parse(json!({"open": {"destination_id": d, "delivery_id": v}}))
                .unwrap()
                .open
                .and_then(|o| o.delivery_id),
            Some(v.to_string())
        );
        let loc = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            failed_at(json!({"open": {"delivery_id": v}}), true),
            vec![loc(&["body", "open", "destination_id"])]
        );
        assert_eq!(
            failed_at(
                json!({"open": {"destination_id": d, "delivery_id": "x"}}),
                true
            ),
            vec![loc(&["body", "open", "delivery_id"])]
        );
        assert_eq!(
            failed_at(
                json!({"open": {"destination_id": d.to_uppercase(), "delivery_id": 5}}),
                true
            ),
            vec![
                loc(&["body", "open", "destination_id"]),
                loc(&["body", "open", "delivery_id"])
            ]
        );
        assert_eq!(
            failed_at(json!({"open": d}), true),
            vec![loc(&["body", "open"])]
        );
    }

    #[test]
    fn theme_and_return_url_reach_the_page_claims() {
        let r = parse(json!({
            "theme": {"name": "Acme", "accent_color": "#102060", "mode": "dark"},
            "return_url": "https://app.example.com/webhooks"
        }))
        .unwrap();
        let page = r.page.clone().into_claim().unwrap();
        assert_eq!(
            page.return_url.as_deref(),
            Some("https://app.example.com/webhooks")
        );
        assert_eq!(page.theme.unwrap().name.as_deref(), Some("Acme"));
        assert_eq!(PageClaims::default().into_claim(), None);
        let only_return = PageClaims {
            theme: None,
            return_url: Some("https://a.example/".into()),
        };
        assert!(only_return.into_claim().is_some());
        let loc = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            failed_at(
                json!({"theme": {"accent_color": "#12345", "mode": "night"}}),
                true
            ),
            vec![
                loc(&["body", "theme", "accent_color"]),
                loc(&["body", "theme", "mode"])
            ]
        );
        assert_eq!(
            failed_at(json!({"theme": []}), true),
            vec![loc(&["body", "theme"])]
        );
        assert_eq!(
            failed_at(json!({"return_url": "http://app.example.com/"}), true),
            vec![loc(&["body", "return_url"])]
        );
        assert_eq!(
            failed_at(json!({"return_url": "http://127.0.0.1:9000/"}), false),
            vec![loc(&["body", "return_url"])]
        );
        assert_eq!(
            failed_at(json!({"return_url": 5}), true),
            vec![loc(&["body", "return_url"])]
        );
    }

    #[test]
    fn a_session_never_holds_more_than_its_minter() {
        let all = perms(&ALL_PERMISSIONS);
        assert_eq!(
            session_permissions(false, &all).unwrap(),
            perms(&[
                GET_DESTINATION,
                GET_DELIVERIES,
                CREATE_DESTINATION,
                UPDATE_DESTINATION,
                DELETE_DESTINATION
            ])
        );
        assert_eq!(
            session_permissions(true, &all).unwrap(),
            perms(&[GET_DESTINATION, GET_DELIVERIES])
        );
        // Never publishing or minting, whatever the minter holds.
        let rw = session_permissions(false, &all).unwrap();
        assert!(
            !rw.iter()
                .any(|p| p == SEND_EVENT || p == CREATE_PORTAL_SESSION)
        );
        // A user who may only mint sessions gets no session at all.
        let minting_only = perms(&[CREATE_PORTAL_SESSION]);
        for read_only in [false, true] {
            let e = session_permissions(read_only, &minting_only).unwrap_err();
            assert_eq!(e.to_http().status, 403, "{read_only}");
        }
        // A reader may hand out reading, not changing.
        let reader = perms(&[GET_DESTINATION, CREATE_PORTAL_SESSION]);
        assert_eq!(
            session_permissions(true, &reader).unwrap(),
            perms(&[GET_DESTINATION])
        );
        assert_eq!(
            session_permissions(false, &reader)
                .unwrap_err()
                .to_http()
                .status,
            403
        );
        // One write permission is enough for a read-write session, which then holds just that.
        let updater = perms(&[UPDATE_DESTINATION, GET_DELIVERIES]);
        assert_eq!(
            session_permissions(false, &updater).unwrap(),
            perms(&[GET_DELIVERIES, UPDATE_DESTINATION])
        );
        let deleter = perms(&[DELETE_DESTINATION]);
        assert_eq!(
            session_permissions(false, &deleter).unwrap(),
            perms(&[DELETE_DESTINATION])
        );
        assert_eq!(
            session_permissions(true, &deleter)
                .unwrap_err()
                .to_http()
                .status,
            403
        );
    }

    #[test]
    fn the_cap_says_plainly_what_to_do() {
        let h = too_many_sessions(1000).to_http();
        assert_eq!(h.status, 429);
        let detail = h.body["detail"].as_str().unwrap();
        assert!(detail.contains("1000 live portal sessions"), "{detail}");
        assert!(detail.contains("revoke one"), "{detail}");
    }

    #[test]
    fn tokens_name_their_session_and_ride_in_the_fragment() {
        assert_eq!(session_of(&subject("abc")), Some("abc"));
        assert_eq!(session_of("user-1"), None);
        assert_eq!(
            portal_url("https://hooks.example/", None, "t.o.k", None),
            "https://hooks.example/portal/#token=t.o.k"
        );
        let open = OpenAt {
            destination_id: "d".repeat(24),
            delivery_id: Some("e".repeat(24)),
        };
        assert_eq!(
            portal_url("https://hooks.example", Some("p.s"), "t.o.k", Some(&open)),
            format!(
                "https://hooks.example/portal/?frame=p.s#token=t.o.k&destination={}&delivery={}",
                "d".repeat(24),
                "e".repeat(24)
            )
        );
        let one = OpenAt {
            delivery_id: None,
            ..open
        };
        assert!(
            portal_url("https://hooks.example", None, "t", Some(&one))
                .ends_with(&format!("#token=t&destination={}", "d".repeat(24)))
        );
    }

    #[test]
    fn bundles_are_immutable_and_the_page_is_revalidated() {
        assert_eq!(cache_control("/portal/"), "no-cache");
        assert_eq!(cache_control("/portal/index.html"), "no-cache");
        assert_eq!(cache_control("/portal/help-page.html"), "no-cache");
        assert_eq!(cache_control("/portal/portal.js"), "no-cache");
        assert_eq!(
            cache_control("/portal/portal-QR2ZAKQ3.js"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(
            cache_control("/portal/style-HLP6265I.css"),
            "public, max-age=31536000, immutable"
        );
    }
}
