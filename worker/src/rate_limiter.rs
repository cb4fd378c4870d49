//! The rate-limit Durable Object: one instance per counted key (a user and
//! endpoint, a user's sign-ins, the failed sign-ins of a key id or of an
//! address), so every decision about one key is taken in one place, in arrival
//! order. The window is kept in memory and written to storage, so an evicted
//! object still counts; once the window is idle, the object's alarm deletes its
//! storage, so a key that stops calling leaves nothing behind.

use crate::error::Context;
use crate::http::internal;
use edgehook_core::error::ApiError;
use edgehook_core::rate_limit::Window;
use std::cell::{Cell, RefCell};
use worker::{
    DurableObject, Env, Method, Request, RequestInit, Response, Result, State, durable_object,
};

#[durable_object]
pub struct RateLimiter {
    state: State,
    window: RefCell<Option<Window>>,
    /// When the pending alarm fires, if this instance set one.
    alarm_at: Cell<Option<i64>>,
}

impl RateLimiter {
    /// Loads the stored window on the first call of this instance.
    async fn load(&self) -> Result<()> {
        if self.window.borrow().is_none() {
            let stored: Option<Window> = self.state.storage().get("window").await?;
            let mut slot = self.window.borrow_mut();
            if slot.is_none() {
                *slot = Some(stored.unwrap_or_default());
            }
        }
        Ok(())
    }
}

impl DurableObject for RateLimiter {
    fn new(state: State, _env: Env) -> Self {
        Self {
            state,
            window: RefCell::new(None),
            alarm_at: Cell::new(None),
        }
    }

    /// `POST /admit?limit=N` counts a call; `POST /check?limit=N` answers the
    /// same without counting it. 204 when (it would be) admitted, 429 with the
    /// seconds to wait.
    async fn fetch(&self, req: Request) -> Result<Response> {
        let url = req.url()?;
        let counts = match url.path() {
            "/admit" => true,
            "/check" => false,
            _ => return Response::error("not found", 404),
        };
        // A limit that does not read is an error, never "no limit" (0).
        let Some(limit) = url
            .query_pairs()
            .find(|(k, _)| k == "limit")
            .and_then(|(_, v)| v.parse::<u32>().ok())
        else {
            worker::console_error!("rate limiter called without a readable limit: {url}");
            return Response::error("a limit is required", 400);
        };
        self.load().await?;
        let now = crate::config::now_ms();
        let (verdict, admitted) = {
            let mut slot = self.window.borrow_mut();
            let w = slot.get_or_insert_with(Window::default);
            if counts {
                let verdict = w.admit(now, limit);
                let admitted = verdict.is_ok().then(|| w.clone());
                (verdict, admitted)
            } else {
                (w.check(now, limit), None)
            }
        };
        if let Some(snapshot) = admitted {
            let storage = self.state.storage();
            storage.put("window", &snapshot).await?;
            if let (None, Some(idle_at)) = (self.alarm_at.get(), snapshot.idle_at()) {
                storage.set_alarm(alarm_time(idle_at)?).await?;
                self.alarm_at.set(Some(idle_at));
            }
        }
        match verdict {
            Ok(()) => Ok(Response::empty()?.with_status(204)),
            Err(retry_after) => Ok(Response::ok(retry_after.to_string())?.with_status(429)),
        }
    }

    /// Fires once the window may have gone idle: deletes the object's storage
    /// if it has, or waits for the newest call to leave the window.
    async fn alarm(&self) -> Result<Response> {
        self.load().await?;
        let now = crate::config::now_ms();
        let busy_until = self
            .window
            .borrow()
            .as_ref()
            .filter(|w| !w.is_idle(now))
            .and_then(Window::idle_at);
        match busy_until {
            Some(at) => {
                self.state.storage().set_alarm(alarm_time(at)?).await?;
                self.alarm_at.set(Some(at));
            }
            None => {
                self.state.storage().delete_all().await?;
                *self.window.borrow_mut() = None;
                self.alarm_at.set(None);
            }
        }
        Response::empty()
    }
}

/// A Unix-ms time as the alarm API takes it (a bare integer would be an offset).
fn alarm_time(ms: i64) -> Result<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| worker::Error::RustError(format!("alarm time {ms} is out of range")))
}

/// Counts one call against `key`; 429 with `Retry-After` when over `limit` a minute.
pub async fn admit(env: &Env, key: &str, limit: u32) -> std::result::Result<(), ApiError> {
    call(env, "admit", key, limit).await
}

/// Whether a call would be admitted against `key` now, without counting it:
/// 429 with `Retry-After` when `limit` a minute are already spent.
pub async fn check(env: &Env, key: &str, limit: u32) -> std::result::Result<(), ApiError> {
    call(env, "check", key, limit).await
}

async fn call(env: &Env, op: &str, key: &str, limit: u32) -> std::result::Result<(), ApiError> {
    let stub = env
        .durable_object("RATE_LIMITER")
        .and_then(|ns| ns.get_by_name(key))
        .ctx("rate limiter: get the object's stub")?;
    let req = Request::new_with_init(
        &format!("https://rate-limiter/{op}?limit={limit}"),
        RequestInit::new().with_method(Method::Post),
    )
    .ctx("rate limiter: build the call")?;
    let mut resp = stub
        .fetch_with_request(req)
        .await
        .ctx("rate limiter: call the object")?;
    match resp.status_code() {
        204 => Ok(()),
        429 => {
            // An unreadable wait still refuses the call, for the whole window.
            let retry_after_seconds = resp
                .text()
                .await
                .ctx("rate limiter: read the wait")?
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
