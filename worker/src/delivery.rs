//! One delivery attempt over HTTP: the signed request, the timeout, and what
//! came back, as an [`Outcome`] for the state machine in `edgehook_core::delivery`.
//! At most the first 8 KB of the receiver's answer is read; the rest is cancelled.

use edgehook_core::delivery::{NoAnswer, Outcome, parse_retry_after};
use edgehook_core::delivery_run::{ANSWER_READ_LIMIT_BYTES, AnswerExcerpt, excerpt};
use futures_util::StreamExt;
use futures_util::future::{Either, select};
use std::time::Duration;
use wasm_bindgen::JsValue;
use worker::{AbortSignal, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect};

/// Sent as `user-agent` on every attempt.
pub const USER_AGENT: &str = concat!(
    "edgehook/",
    env!("CARGO_PKG_VERSION"),
    " (webhook delivery)"
);

/// What one attempt came to.
pub struct Attempted {
    pub outcome: Outcome,
    /// The start of the receiver's answer, if it answered with a body.
    pub answer: Option<AnswerExcerpt>,
    pub duration_ms: i64,
}

/// Sends `body` to `url` with the signature headers; redirects are not followed
/// and the whole exchange must finish within `timeout_seconds`. The caller
/// owns the attempt's `AbortController` (so that deleting the destination can
/// end it early) and aborts it once the attempt returns: whatever is left of
/// the exchange, an unread answer or a pending connection, ends there.
pub async fn attempt<'a>(
    url: &str,
    timeout_seconds: i64,
    signature_headers: impl Iterator<Item = (&'static str, &'a str)>,
    body: &str,
    signal: AbortSignal,
) -> Attempted {
    let started = crate::config::now_ms();
    let (outcome, answer) = match build(url, signature_headers, body) {
        Ok(req) => send(req, timeout_seconds, started, signal).await,
        Err(_) => (
            Outcome::NoAnswer {
                failure: NoAnswer::Other,
            },
            None,
        ),
    };
    Attempted {
        outcome,
        answer,
        duration_ms: crate::config::now_ms() - started,
    }
}

fn build<'a>(
    url: &str,
    signature_headers: impl Iterator<Item = (&'static str, &'a str)>,
    body: &str,
) -> worker::Result<Request> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    headers.set("user-agent", USER_AGENT)?;
    for (name, value) in signature_headers {
        headers.set(name, value)?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual)
        .with_body(Some(JsValue::from_str(body)));
    Request::new_with_init(url, &init)
}

async fn send(
    req: Request,
    timeout_seconds: i64,
    started_ms: i64,
    signal: AbortSignal,
) -> (Outcome, Option<AnswerExcerpt>) {
    let exchange = async {
        let fetch = Fetch::Request(req);
        let mut resp = fetch.send_with_signal(&signal).await?;
        let retry_after = resp.headers().get("retry-after").ok().flatten();
        let status = resp.status_code();
        // Read the start of the answer, then stop: the rest is never buffered.
        let mut read = Vec::new();
        let mut more = false;
        if let Ok(mut stream) = resp.stream() {
            while let Some(chunk) = stream.next().await {
                let Ok(chunk) = chunk else { break };
                let room = ANSWER_READ_LIMIT_BYTES - read.len();
                if chunk.len() > room {
                    read.extend_from_slice(&chunk[..room]);
                    more = true;
                    break;
                }
                read.extend_from_slice(&chunk);
            }
        }
        Ok::<_, worker::Error>((status, retry_after, read, more))
    };
    let timeout = Delay::from(Duration::from_millis(
        (timeout_seconds.max(1) * 1000) as u64,
    ));
    match select(Box::pin(exchange), timeout).await {
        Either::Left((Ok((status, retry_after, read, more)), _)) => (
            Outcome::Answered {
                status,
                retry_after_seconds: retry_after.and_then(|v| parse_retry_after(&v, started_ms)),
            },
            excerpt(&read, more),
        ),
        Either::Left((Err(e), _)) => (
            Outcome::NoAnswer {
                failure: if signal.aborted() {
                    NoAnswer::ConnectionRefusedOrReset
                } else {
                    NoAnswer::classify(&e.to_string())
                },
            },
            None,
        ),
        Either::Right(((), _)) => (
            Outcome::NoAnswer {
                failure: NoAnswer::Timeout {
                    after_seconds: timeout_seconds,
                },
            },
            None,
        ),
    }
}
