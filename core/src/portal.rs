//! Customer-portal sessions: what a platform asks for when it mints one, what
//! the session's token may do, and the headers of the portal page.
//!
//! A session's token is an ordinary edgehook JWT whose subject is
//! `portal:{session_id}` and whose key id is the session id, so the API
//! checks it like any token and a revoked session ends like a revoked key.

use crate::auth::{
    CREATE_DESTINATION, DELETE_DESTINATION, GET_DELIVERIES, GET_DESTINATION, UPDATE_DESTINATION,
};
use crate::error::{ApiError, FieldError};
use serde_json::{Map, Value};

pub const MIN_TTL_SECONDS: i64 = 60;
pub const MAX_TTL_SECONDS: i64 = 86_400;
pub const DEFAULT_TTL_SECONDS: i64 = 3_600;
/// Origins one session may list for embedding.
pub const MAX_ALLOWED_ORIGINS: usize = 20;

const SUBJECT_PREFIX: &str = "portal:";

/// A validated `POST …/portal_session/` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRequest {
    pub ttl_seconds: i64,
    pub read_only: bool,
    /// Origins (`scheme://host[:port]`, lowercase) whose pages may frame the portal.
    pub allowed_origins: Vec<String>,
}

/// Parses a session request; every bad field is named in one 422.
pub fn parse_session_request(body: &Map<String, Value>) -> Result<SessionRequest, ApiError> {
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
                match item.as_str().and_then(normalize_origin) {
                    Some(o) if !allowed_origins.contains(&o) => allowed_origins.push(o),
                    Some(_) => {}
                    None => errors.push(FieldError::new(
                        &["body", "allowed_origins", &i.to_string()],
                        "Input should be an origin: http(s)://host[:port], without a path",
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
    if errors.is_empty() {
        Ok(SessionRequest {
            ttl_seconds,
            read_only,
            allowed_origins,
        })
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// `https://Example.com:443` → `https://example.com`; `None` for anything
/// that is not an http(s) origin (a path, a query, credentials, `*`).
pub fn normalize_origin(s: &str) -> Option<String> {
    let url = url::Url::parse(s).ok()?;
    let scheme = url.scheme();
    let bare = s.trim_end_matches('/');
    if !matches!(scheme, "http" | "https")
        || url.host_str().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
        || url.path() != "/"
        || bare.len() + 1 < s.len()
    {
        return None;
    }
    Some(url.origin().ascii_serialization())
}

/// What a session's token may do: every destination and delivery permission,
/// or only the reading ones.
pub fn session_permissions(read_only: bool) -> Vec<String> {
    let all: &[&str] = if read_only {
        &[GET_DESTINATION, GET_DELIVERIES]
    } else {
        &[
            GET_DESTINATION,
            CREATE_DESTINATION,
            UPDATE_DESTINATION,
            DELETE_DESTINATION,
            GET_DELIVERIES,
        ]
    };
    all.iter().map(|p| p.to_string()).collect()
}

/// The token subject of a session.
pub fn subject(session_id: &str) -> String {
    format!("{SUBJECT_PREFIX}{session_id}")
}

/// The session a token subject names, if it is a portal session's.
pub fn session_of(subject: &str) -> Option<&str> {
    subject.strip_prefix(SUBJECT_PREFIX)
}

/// The address a platform hands its customer: the token rides in the
/// fragment, which browsers never send to a server (so it is in no log).
pub fn portal_url(origin: &str, token: &str) -> String {
    format!("{}/portal/#token={token}", origin.trim_end_matches('/'))
}

/// The portal page's Content-Security-Policy. `framing_origin` is the
/// embedding page's origin when a live session allows it; without one the
/// page may not be framed at all.
pub fn page_csp(framing_origin: Option<&str>) -> String {
    let ancestors = framing_origin.unwrap_or("'none'");
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
    )
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
    use serde_json::json;

    fn parse(v: Value) -> Result<SessionRequest, ApiError> {
        parse_session_request(v.as_object().unwrap())
    }

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(
            parse(json!({})).unwrap(),
            SessionRequest {
                ttl_seconds: 3600,
                read_only: false,
                allowed_origins: vec![]
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
    }

    #[test]
    fn origins_are_normalized_and_checked() {
        let r = parse(json!({"allowed_origins": [
            "https://App.Example.com", "http://127.0.0.1:8080", "https://app.example.com:443/"
        ]}))
        .unwrap();
        assert_eq!(
            r.allowed_origins,
            vec!["https://app.example.com", "http://127.0.0.1:8080"]
        );
        let e = parse(json!({"allowed_origins": [
            "https://ok.example", "https://x.example/path", "*", "ftp://x.example",
            "https://u:p@x.example", "https://x.example/?q", 7
        ]}))
        .unwrap_err();
        let ApiError::Validation(errs) = e else {
            panic!()
        };
        let at: Vec<&str> = errs.iter().map(|e| e.loc[2].as_str()).collect();
        assert_eq!(at, vec!["1", "2", "3", "4", "5", "6"]);
        assert!(parse(json!({"allowed_origins": "https://x.example"})).is_err());
        for one_flaw in [
            "https://u@x.example",
            "https://:p@x.example",
            "https://x.example?q",
            "https://x.example#f",
            "https://x.example//",
        ] {
            assert_eq!(normalize_origin(one_flaw), None, "{one_flaw}");
        }
        let many: Vec<String> = (0..21).map(|i| format!("https://h{i}.example")).collect();
        assert!(parse(json!({ "allowed_origins": many })).is_err());
    }

    #[test]
    fn read_only_sessions_only_read() {
        let ro = session_permissions(true);
        assert!(ro.iter().all(|p| p.contains(":Get")));
        assert_eq!(ro.len(), 2);
        let rw = session_permissions(false);
        assert_eq!(rw.len(), 5);
        assert!(
            !rw.iter()
                .any(|p| p.contains("SendWebhookEvent") || p.contains("Portal"))
        );
    }

    #[test]
    fn tokens_name_their_session_and_ride_in_the_fragment() {
        assert_eq!(session_of(&subject("abc")), Some("abc"));
        assert_eq!(session_of("user-1"), None);
        assert_eq!(
            portal_url("https://hooks.example/", "t.o.k"),
            "https://hooks.example/portal/#token=t.o.k"
        );
    }

    #[test]
    fn the_page_is_framed_only_by_an_allowed_origin_and_bundles_are_immutable() {
        assert!(page_csp(None).ends_with("frame-ancestors 'none'"));
        assert!(
            page_csp(Some("https://app.example")).ends_with("frame-ancestors https://app.example")
        );
        assert!(page_csp(None).contains("script-src 'self';"));
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
