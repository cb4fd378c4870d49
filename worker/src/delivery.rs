//! One delivery attempt over HTTP: the signed request, the timeout, and what
//! came back, as an [`Outcome`] for the state machine in `edgehook_core::delivery`.
//! At most the first 8 KB of the receiver's answer is read; the rest is cancelled.

use crate::http::read_chunks;
use edgehook_core::delivery::{NoAnswer, Outcome, parse_retry_after};
use edgehook_core::delivery_run::{ANSWER_READ_LIMIT_BYTES, AnswerExcerpt, excerpt};
use edgehook_core::request_body::declared_length;
use futures_util::future::{Either, select};
use std::time::Duration;
use wasm_bindgen::{JsCast, JsValue};
use worker::js_sys::Uint8Array;
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{
    Headers, Request as JsRequest, RequestInit, RequestRedirect, Response as JsResponse,
    WorkerGlobalScope,
};
use worker::{AbortSignal, Delay};

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
    /// The exchange ended: the answer was read to its end, so nothing of it
    /// is left for the caller to cut off.
    pub ended: bool,
}

/// Sends `body` to `url` with the signature headers; redirects are not followed
/// and the whole exchange must finish within `timeout_seconds`. The caller
/// owns the attempt's `AbortController` (so that deleting the destination can
/// end it early) and aborts it once an attempt returns that has not `ended`:
/// whatever is left of the exchange, an unread answer or a pending
/// connection, ends there.
pub async fn attempt<'a>(
    url: &str,
    timeout_seconds: i64,
    signature_headers: impl Iterator<Item = (&'static str, &'a str)>,
    body: &str,
    signal: AbortSignal,
) -> Attempted {
    let started = crate::config::now_ms();
    let (outcome, answer, ended) = match build(url, signature_headers, body, &signal) {
        Ok(req) => send(req, timeout_seconds, started, &signal).await,
        Err(_) => (
            Outcome::NoAnswer {
                failure: NoAnswer::Other,
            },
            None,
            true,
        ),
    };
    Attempted {
        outcome,
        answer,
        duration_ms: crate::config::now_ms() - started,
        ended,
    }
}

fn build<'a>(
    url: &str,
    signature_headers: impl Iterator<Item = (&'static str, &'a str)>,
    body: &str,
    signal: &AbortSignal,
) -> Result<JsRequest, JsValue> {
    let headers = Headers::new()?;
    headers.set("content-type", "application/json")?;
    headers.set("user-agent", USER_AGENT)?;
    for (name, value) in signature_headers {
        headers.set(name, value)?;
    }
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_redirect(RequestRedirect::Manual);
    init.set_body(&JsValue::from_str(body));
    init.set_signal(Some(signal));
    JsRequest::new_with_str_and_init(url, &init)
}

async fn send(
    req: JsRequest,
    timeout_seconds: i64,
    started_ms: i64,
    signal: &AbortSignal,
) -> (Outcome, Option<AnswerExcerpt>, bool) {
    let exchange = async {
        let global: WorkerGlobalScope = worker::js_sys::global().unchecked_into();
        let resp: JsResponse = JsFuture::from(global.fetch_with_request(&req))
            .await?
            .unchecked_into();
        let header = |name| resp.headers().get(name).ok().flatten();
        let retry_after = header("retry-after");
        let (read, more) =
            read_answer(&resp, header("content-length"), header("transfer-encoding")).await?;
        Ok::<_, JsValue>((resp.status(), retry_after, read, more))
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
            !more,
        ),
        Either::Left((Err(e), _)) => (
            Outcome::NoAnswer {
                failure: if signal.aborted() {
                    NoAnswer::ConnectionRefusedOrReset
                } else {
                    NoAnswer::classify(&worker::Error::from(e).to_string())
                },
            },
            None,
            false,
        ),
        Either::Right(((), _)) => (
            Outcome::NoAnswer {
                failure: NoAnswer::Timeout {
                    after_seconds: timeout_seconds,
                },
            },
            None,
            false,
        ),
    }
}

/// The start of the receiver's answer, at most `ANSWER_READ_LIMIT_BYTES`, and
/// whether there was more. An answer whose length HTTP framing fixes within
/// the limit is read in one piece; any other is read chunk by chunk up to the
/// limit and the rest is never buffered.
async fn read_answer(
    resp: &JsResponse,
    content_length: Option<String>,
    transfer_encoding: Option<String>,
) -> Result<(Vec<u8>, bool), JsValue> {
    let Some(stream) = resp.body() else {
        return Ok((Vec::new(), false));
    };
    let framed = declared_length(content_length.as_deref()).filter(|_| transfer_encoding.is_none());
    match framed {
        Some(0) => return Ok((Vec::new(), false)),
        Some(n) if n <= ANSWER_READ_LIMIT_BYTES => {
            let whole = JsFuture::from(resp.array_buffer()?).await?;
            let mut read = Uint8Array::new(&whole).to_vec();
            let more = read.len() > ANSWER_READ_LIMIT_BYTES;
            read.truncate(ANSWER_READ_LIMIT_BYTES);
            return Ok((read, more));
        }
        _ => {}
    }
    let mut read = Vec::new();
    let mut more = false;
    read_chunks(
        stream,
        |chunk| {
            let room = ANSWER_READ_LIMIT_BYTES - read.len();
            if chunk.len() > room {
                read.extend_from_slice(&chunk[..room]);
                more = true;
                return Ok(false);
            }
            read.extend_from_slice(chunk);
            Ok(true)
        },
        |e| e,
    )
    .await?;
    Ok((read, more))
}
