//! The rate-limit Durable Object: one instance per user and endpoint, so every
//! decision about one key is taken in one place, in arrival order. The window
//! is kept in memory and written to storage, so an evicted object still counts.

use crate::http::internal;
use edgehook_core::error::ApiError;
use edgehook_core::rate_limit::Window;
use std::cell::RefCell;
use worker::{
    DurableObject, Env, Method, Request, RequestInit, Response, Result, State, durable_object,
};

#[durable_object]
pub struct RateLimiter {
    state: State,
    window: RefCell<Option<Window>>,
}

impl DurableObject for RateLimiter {
    fn new(state: State, _env: Env) -> Self {
        Self {
            state,
            window: RefCell::new(None),
        }
    }

    /// `POST /admit?limit=N`: 204 when admitted, 429 with the seconds to wait.
    async fn fetch(&self, req: Request) -> Result<Response> {
        let limit: u32 = req
            .url()?
            .query_pairs()
            .find(|(k, _)| k == "limit")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        if self.window.borrow().is_none() {
            let stored: Option<Window> = self.state.storage().get("window").await?;
            let mut slot = self.window.borrow_mut();
            if slot.is_none() {
                *slot = Some(stored.unwrap_or_default());
            }
        }
        let now = crate::config::now_ms();
        let (verdict, snapshot) = {
            let mut slot = self.window.borrow_mut();
            let w = slot.get_or_insert_with(Window::default);
            (w.admit(now, limit), w.clone())
        };
        match verdict {
            Ok(()) => {
                self.state.storage().put("window", &snapshot).await?;
                Ok(Response::empty()?.with_status(204))
            }
            Err(retry_after) => Ok(Response::ok(retry_after.to_string())?.with_status(429)),
        }
    }
}

/// Counts one call against `key`; 429 with `Retry-After` when over `limit` a minute.
pub async fn admit(env: &Env, key: &str, limit: u32) -> std::result::Result<(), ApiError> {
    let stub = env
        .durable_object("RATE_LIMITER")
        .and_then(|ns| ns.get_by_name(key))
        .map_err(internal)?;
    let req = Request::new_with_init(
        &format!("https://rate-limiter/admit?limit={limit}"),
        RequestInit::new().with_method(Method::Post),
    )
    .map_err(internal)?;
    let mut resp = stub.fetch_with_request(req).await.map_err(internal)?;
    match resp.status_code() {
        204 => Ok(()),
        429 => {
            let retry_after_seconds = resp
                .text()
                .await
                .map_err(internal)?
                .trim()
                .parse()
                .unwrap_or(60);
            Err(ApiError::RateLimited {
                retry_after_seconds,
            })
        }
        other => Err(internal(format!("rate limiter answered {other}"))),
    }
}
