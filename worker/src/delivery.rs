//! One delivery attempt over HTTP: the signed request, the timeout, and what
//! came back, as an [`Outcome`] for the state machine in `edgehook_core::delivery`.

use edgehook_core::delivery::{Outcome, parse_retry_after};
use futures_util::future::{Either, select};
use std::time::Duration;
use wasm_bindgen::JsValue;
use worker::{
    AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect,
};

/// Sent as `user-agent` on every attempt.
pub const USER_AGENT: &str = concat!(
    "edgehook/",
    env!("CARGO_PKG_VERSION"),
    " (webhook delivery)"
);

/// Sends `body` to `url` with the signature headers; redirects are not followed
/// and the whole exchange must finish within `timeout_seconds`.
/// Returns the outcome and how long the attempt took.
pub async fn attempt<'a>(
    url: &str,
    timeout_seconds: i64,
    signature_headers: impl Iterator<Item = (&'static str, &'a str)>,
    body: &str,
) -> (Outcome, i64) {
    let started = crate::config::now_ms();
    let outcome = match build(url, signature_headers, body) {
        Ok(req) => send(req, timeout_seconds, started).await,
        Err(e) => Outcome::NoAnswer {
            error: format!("request could not be built: {e}"),
        },
    };
    (outcome, crate::config::now_ms() - started)
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

async fn send(req: Request, timeout_seconds: i64, started_ms: i64) -> Outcome {
    let controller = AbortController::default();
    let signal = controller.signal();
    let exchange = async {
        let fetch = Fetch::Request(req);
        let mut resp = fetch.send_with_signal(&signal).await?;
        let retry_after = resp.headers().get("retry-after").ok().flatten();
        // Read the answer so the connection is released; its content is not kept.
        let _ = resp.bytes().await;
        Ok::<_, worker::Error>((resp.status_code(), retry_after))
    };
    let timeout = Delay::from(Duration::from_millis(
        (timeout_seconds.max(1) * 1000) as u64,
    ));
    match select(Box::pin(exchange), timeout).await {
        Either::Left((Ok((status, retry_after)), _)) => Outcome::Answered {
            status,
            retry_after_seconds: retry_after.and_then(|v| parse_retry_after(&v, started_ms)),
        },
        Either::Left((Err(e), _)) => Outcome::NoAnswer {
            error: describe(&e),
        },
        Either::Right(((), _)) => {
            controller.abort();
            Outcome::NoAnswer {
                error: format!("timeout: no answer within {timeout_seconds} s"),
            }
        }
    }
}

/// A short, stable description of a network failure. The runtime reports a
/// refused connection and one dropped before the answer alike ("Network
/// connection lost"), so the text names both.
fn describe(e: &worker::Error) -> String {
    let text = e.to_string();
    let lower = text.to_ascii_lowercase();
    if lower.contains("refused") {
        "connection refused".into()
    } else if lower.contains("network connection lost") {
        "connection refused or lost before an answer".into()
    } else {
        format!("network error: {text}")
    }
}
