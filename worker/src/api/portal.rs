//! The customer portal: `POST /v1/{organization}/portal_session/` mints a
//! session and its token, `DELETE …/{session_id}` revokes it, and `/portal/`
//! serves the page (its built files, embedded in the worker by `build.rs`)
//! with its cache and Content-Security-Policy headers. The page's framing
//! policy comes from the signed `?frame=` parameter of the URL it was opened
//! with, and from nothing else: no lookup, no other session.

use crate::context::Caller;
use crate::error::Context;
use crate::http;
use crate::{config, store};
use edgehook_core::api_key::token_expiry_s;
use edgehook_core::auth::{Actor, SessionToken, issue_session_token};
use edgehook_core::error::ApiError;
use edgehook_core::ids::{is_valid_id, new_id};
use edgehook_core::portal::frame::{self, page_csp};
use edgehook_core::portal::{
    cache_control, parse_session_request, portal_url, session_permissions, too_many_sessions,
};
use edgehook_core::routes::Matched;
use edgehook_core::time::rfc3339_ms;
use serde_json::json;
use worker::{Env, Method, Request, Response};

/// The portal's built files: (name, content type, bytes).
static PORTAL_FILES: &[(&str, &str, &[u8])] =
    include!(concat!(env!("OUT_DIR"), "/portal_files.rs"));

/// `POST /v1/{organization}/portal_session/`: 201 `{session_id, url, token, expires_at}`.
/// The session holds what the minting user holds within its scope, lives no
/// longer than the minting key, and counts against the organization's cap.
pub async fn create(mut req: Request, env: &Env, caller: &Caller) -> Result<Response, ApiError> {
    let body = http::optional_json_body(&mut req).await?;
    let settings = &caller.settings;
    let r = parse_session_request(&body, settings.allow_loopback_destinations)?;
    let perms = session_permissions(r.read_only, &caller.permissions)?;
    let now = config::now_ms();
    let key = store::api_keys::get(env, &caller.key_id)
        .await?
        .filter(|k| k.org_id == caller.org_id && k.user_id == caller.user_id)
        .ok_or_else(|| ApiError::Unauthorized("invalid token: its API key was revoked".into()))?;
    let exp_s = token_expiry_s(now, r.ttl_seconds, key.expires_at);
    if exp_s * 1000 <= now {
        return Err(ApiError::Unauthorized(
            "invalid token: its API key has expired".into(),
        ));
    }
    let id = new_id(now / 1000, &config::random::<8>()?);
    let stored = store::portal_sessions::create(
        env,
        &store::portal_sessions::NewSession {
            id: &id,
            org_id: &caller.org_id,
            created_by: &caller.user_id,
            api_key_id: &caller.key_id,
            expires_at_ms: exp_s * 1000,
        },
        &r,
        settings.portal_max_sessions,
        now,
    )
    .await?;
    if !stored {
        return Err(too_many_sessions(settings.portal_max_sessions));
    }
    let jwt_key = config::jwt_key(env)?;
    let token = issue_session_token(
        &jwt_key,
        SessionToken {
            org_id: &caller.org_id,
            session_id: &id,
            minted_by: Actor {
                sub: caller.user_id.clone(),
                kid: caller.key_id.clone(),
            },
            page: r.page.clone().into_claim(),
        },
        &perms,
        now / 1000,
        exp_s,
    )?;
    let base = match &settings.public_url {
        Some(url) => url.clone(),
        None => req
            .url()
            .ctx("request: read the URL")?
            .origin()
            .ascii_serialization(),
    };
    let frame = frame::sign(&jwt_key, &r.allowed_origins, exp_s);
    http::secret_json(
        201,
        &json!({
            "session_id": id,
            "url": portal_url(&base, frame.as_deref(), &token, r.open.as_ref()),
            "token": token,
            "expires_at": rfc3339_ms(exp_s * 1000),
        }),
    )
}

/// `DELETE /v1/{organization}/portal_session/{session_id}`: 204; the session's
/// tokens answer 401 from then on (in other isolates within a minute).
pub async fn revoke(env: &Env, m: &Matched, caller: &Caller) -> Result<Response, ApiError> {
    let id = m.param("session_id");
    let now = config::now_ms();
    if !is_valid_id(id) || !store::portal_sessions::revoke(env, &caller.org_id, id, now).await? {
        return Err(ApiError::NotFound(format!(
            "portal session {id} not found (or already ended)"
        )));
    }
    store::api_keys::forget(id, now);
    http::no_content()
}

/// `GET /portal/…`: the page and its files. The page may be framed only by the
/// origins its own session URL names; the bundle's hashed files are cached
/// for good, the page itself is revalidated.
pub fn page(req: Request, env: &Env) -> Result<Response, ApiError> {
    let path = req.path();
    if req.method() != Method::Get && req.method() != Method::Head {
        return Err(ApiError::NotFound(format!("no route for {path}")));
    }
    if path == "/portal" {
        let mut resp = Response::empty()
            .ctx("response: build a redirect")?
            .with_status(308);
        resp.headers_mut()
            .set("location", "/portal/")
            .ctx("response: set location")?;
        return Ok(resp);
    }
    let file = path.strip_prefix("/portal").unwrap_or("/");
    let is_page = file == "/" || file == "/index.html";
    let name = if is_page { "index.html" } else { &file[1..] };
    let Some((_, content_type, bytes)) = PORTAL_FILES.iter().find(|(n, _, _)| *n == name) else {
        return Err(ApiError::NotFound(format!("no portal file {file}")));
    };
    let mut resp = Response::from_bytes(bytes.to_vec()).ctx("response: build a portal file")?;
    let headers = resp.headers_mut();
    headers
        .set("content-type", content_type)
        .ctx("response: set content-type")?;
    headers
        .set("cache-control", cache_control(&path))
        .ctx("response: set cache-control")?;
    headers
        .set("x-content-type-options", "nosniff")
        .ctx("response: set x-content-type-options")?;
    headers
        .set("referrer-policy", "no-referrer")
        .ctx("response: set referrer-policy")?;
    if is_page {
        let ancestors = framing_origins(&req, env)?;
        headers
            .set("content-security-policy", &page_csp(&ancestors))
            .ctx("response: set content-security-policy")?;
    }
    Ok(resp)
}

/// The origins that may frame this load of the page: those of the signed
/// `?frame=` parameter of the session URL it was opened with, while that
/// session lasts; none without one.
fn framing_origins(req: &Request, env: &Env) -> Result<Vec<String>, ApiError> {
    let url = req.url().ctx("request: read the URL")?;
    let Some((_, param)) = url.query_pairs().find(|(k, _)| k == "frame") else {
        return Ok(vec![]);
    };
    Ok(frame::verify(
        &config::jwt_key(env)?,
        &param,
        config::now_ms() / 1000,
    ))
}
