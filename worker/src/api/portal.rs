//! The customer portal: `POST /v1/{organization}/portal_session/` mints a
//! session and its token, `DELETE …/{session_id}` revokes it, and `/portal/`
//! serves the page (its built files, embedded in the worker by `build.rs`)
//! with its cache and Content-Security-Policy headers.

use crate::context::Caller;
use crate::http::{self, internal};
use crate::{config, store};
use edgehook_core::auth::issue_token;
use edgehook_core::error::ApiError;
use edgehook_core::ids::{is_valid_id, new_id};
use edgehook_core::portal::{
    cache_control, normalize_origin, page_csp, parse_session_request, portal_url,
    session_permissions, subject,
};
use edgehook_core::routes::Matched;
use edgehook_core::time::rfc3339_ms;
use serde_json::json;
use worker::{Env, Method, Request, Response};

/// The portal's built files: (name, content type, bytes).
static PORTAL_FILES: &[(&str, &str, &[u8])] =
    include!(concat!(env!("OUT_DIR"), "/portal_files.rs"));

/// `POST /v1/{organization}/portal_session/`: 201 `{session_id, url, token, expires_at}`.
pub async fn create(mut req: Request, env: &Env, caller: &Caller) -> Result<Response, ApiError> {
    let body = http::optional_json_body(&mut req).await?;
    let r = parse_session_request(&body)?;
    let now = config::now_ms();
    let id = new_id(now / 1000, &config::random::<8>()?);
    let expires_at = now + r.ttl_seconds * 1000;
    store::portal_sessions::create(
        env,
        &id,
        &caller.org_id,
        &caller.user_id,
        &r,
        expires_at,
        now,
    )
    .await?;
    let (token, exp_s) = issue_token(
        &config::jwt_key(env)?,
        &caller.org_id,
        &subject(&id),
        &id,
        &session_permissions(r.read_only),
        now / 1000,
        r.ttl_seconds,
    )?;
    let url = req.url().map_err(internal)?;
    let origin = url.origin().ascii_serialization();
    http::json(
        201,
        &json!({
            "session_id": id,
            "url": portal_url(&origin, &token),
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

/// `GET /portal/…`: the page and its files. The page may be framed only by an
/// origin that a live session allows; the bundle's hashed files are cached for
/// good, the page itself is revalidated.
pub async fn page(req: Request, env: &Env) -> Result<Response, ApiError> {
    let path = req.path();
    if req.method() != Method::Get && req.method() != Method::Head {
        return Err(ApiError::NotFound(format!("no route for {path}")));
    }
    if path == "/portal" {
        let mut resp = Response::empty().map_err(internal)?.with_status(308);
        resp.headers_mut()
            .set("location", "/portal/")
            .map_err(internal)?;
        return Ok(resp);
    }
    let file = path.strip_prefix("/portal").unwrap_or("/");
    let is_page = file == "/" || file == "/index.html";
    let name = if is_page { "index.html" } else { &file[1..] };
    let Some((_, content_type, bytes)) = PORTAL_FILES.iter().find(|(n, _, _)| *n == name) else {
        return Err(ApiError::NotFound(format!("no portal file {file}")));
    };
    let mut resp = Response::from_bytes(bytes.to_vec()).map_err(internal)?;
    let headers = resp.headers_mut();
    headers
        .set("content-type", content_type)
        .map_err(internal)?;
    headers
        .set("cache-control", cache_control(&path))
        .map_err(internal)?;
    headers
        .set("x-content-type-options", "nosniff")
        .map_err(internal)?;
    headers
        .set("referrer-policy", "no-referrer")
        .map_err(internal)?;
    if is_page {
        let framing = framing_origin(&req, env).await?;
        headers
            .set("content-security-policy", &page_csp(framing.as_deref()))
            .map_err(internal)?;
    }
    Ok(resp)
}

/// The origin of the page that embeds the portal, when a live session allows
/// it. Browsers send the embedding page's origin as `Referer` when they load
/// a frame; without one, or for any other origin, the page is not framable.
async fn framing_origin(req: &Request, env: &Env) -> Result<Option<String>, ApiError> {
    let Some(origin) = http::header(req, "referer").and_then(|r| origin_of(&r)) else {
        return Ok(None);
    };
    let own = req.url().map_err(internal)?.origin().ascii_serialization();
    if origin == own {
        return Ok(None);
    }
    Ok(
        store::portal_sessions::origin_may_frame(env, &origin, config::now_ms())
            .await?
            .then_some(origin),
    )
}

fn origin_of(url: &str) -> Option<String> {
    let parsed = worker::Url::parse(url).ok()?;
    normalize_origin(&parsed.origin().ascii_serialization())
}
