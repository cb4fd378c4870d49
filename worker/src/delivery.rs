//! One delivery attempt over HTTP: the signed request, the timeout, and what
//! came back, as an [`Outcome`] for the state machine in `edgehook_core::delivery`.
//!
//! At most the first 8 KB of the receiver's answer is read and the rest is
//! cancelled: the answer is read as a stream with that cap, unless HTTP
//! framing fixes its length within it (a `Content-Length` of at most 8 KB and
//! no `Transfer-Encoding`), when it is read in one piece. It is never decoded: the
//! request asks for an uncompressed answer (`accept-encoding: identity`) and
//! tells the runtime to hand over the bytes as they came
//! (`encodeResponseBody: "manual"`), since a runtime that decodes `gzip` or
//! `br` itself holds a decoder's window and output for every attempt, and a
//! few compressed bytes can stand for gigabytes. An answer compressed anyway
//! is kept as the bytes it arrived as.

use crate::http::read_chunks;
use edgehook_core::delivery::{NoAnswer, Outcome, parse_retry_after};
use edgehook_core::delivery_run::{ANSWER_READ_LIMIT_BYTES, AnswerExcerpt, excerpt};
use edgehook_core::request_body::framed_within;
use futures_util::future::{Either, select};
use std::time::Duration;
use wasm_bindgen::{JsCast, JsValue};
use worker::js_sys::{Reflect, Uint8Array};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{
    Headers, RequestInit, RequestRedirect, Response as JsResponse, WorkerGlobalScope,
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

impl Attempted {
    /// An attempt whose request could not even be made (signing or building
    /// it failed; the caller logs why).
    pub fn not_sent() -> Attempted {
        Attempted {
            outcome: Outcome::NoAnswer {
                failure: NoAnswer::Other,
            },
            answer: None,
            duration_ms: 0,
            ended: true,
        }
    }
}

/// Sends `body` to `url` with the signature headers; redirects are not followed
/// and the whole exchange must finish within `timeout_seconds`. The caller
/// owns the attempt's `AbortController` (so that deleting the destination can
/// end it early) and aborts it once an attempt returns that has not `ended`:
/// whatever is left of the exchange, an unread answer or a pending
/// connection, ends there.
/// `what` names the attempt in the log (destination and delivery ids) if the
/// request cannot even be built.
pub async fn attempt<'a>(
    url: &str,
    timeout_seconds: i64,
    signature_headers: impl Iterator<Item = (&'static str, &'a str)>,
    body: &str,
    signal: AbortSignal,
    what: &str,
) -> Attempted {
    let started = crate::config::now_ms();
    let (outcome, answer, ended) = match build(signature_headers, body, &signal) {
        Ok(init) => send(url, &init, timeout_seconds, started, &signal).await,
        Err(e) => {
            worker::console_error!("{what}: the request could not be built: {e:?}");
            return Attempted::not_sent();
        }
    };
    Attempted {
        outcome,
        answer,
        duration_ms: crate::config::now_ms() - started,
        ended,
    }
}

/// The request's init. The answer's body is asked for as it came
/// (`encodeResponseBody: "manual"`, a field of Workers' own `RequestInit`,
/// honoured only when given to `fetch` itself).
fn build<'a>(
    signature_headers: impl Iterator<Item = (&'static str, &'a str)>,
    body: &str,
    signal: &AbortSignal,
) -> Result<RequestInit, JsValue> {
    let headers = Headers::new()?;
    headers.set("content-type", "application/json")?;
    headers.set("user-agent", USER_AGENT)?;
    headers.set("accept-encoding", "identity")?;
    for (name, value) in signature_headers {
        headers.set(name, value)?;
    }
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_redirect(RequestRedirect::Manual);
    init.set_body(&JsValue::from_str(body));
    init.set_signal(Some(signal));
    Reflect::set(
        &init,
        &JsValue::from_str("encodeResponseBody"),
        &JsValue::from_str("manual"),
    )?;
    Ok(init)
}

async fn send(
    url: &str,
    init: &RequestInit,
    timeout_seconds: i64,
    started_ms: i64,
    signal: &AbortSignal,
) -> (Outcome, Option<AnswerExcerpt>, bool) {
    let exchange = async {
        let global: WorkerGlobalScope = worker::js_sys::global().unchecked_into();
        let resp: JsResponse = JsFuture::from(global.fetch_with_str_and_init(url, init))
            .await?
            .unchecked_into();
        let headers = resp.headers();
        let retry_after = headers.get("retry-after").ok().flatten();
        let (read, more) = read_answer(&resp, &headers).await?;
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
/// the limit (it is never decoded) is read in one piece, or not at all when
/// that length is 0; any other is read
/// chunk by chunk up to the limit, and the rest is never buffered.
async fn read_answer(resp: &JsResponse, headers: &Headers) -> Result<(Vec<u8>, bool), JsValue> {
    let framed = framed_within(
        headers.get("content-length")?.as_deref(),
        headers.get("transfer-encoding")?.as_deref(),
        ANSWER_READ_LIMIT_BYTES,
    );
    if framed == Some(0) {
        // Nothing to read: an empty answer costs no read.
        return Ok((Vec::new(), false));
    }
    if framed.is_some() {
        let whole = JsFuture::from(resp.array_buffer()?).await?;
        let mut read = Uint8Array::new(&whole).to_vec();
        let more = read.len() > ANSWER_READ_LIMIT_BYTES;
        read.truncate(ANSWER_READ_LIMIT_BYTES);
        return Ok((read, more));
    }
    let Some(stream) = resp.body() else {
        return Ok((Vec::new(), false));
    };
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
