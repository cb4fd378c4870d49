//! Responses on the wire: JSON bodies, and [`ApiError`] turned into a response
//! in one place. Internal errors are logged here and answered opaquely.

use crate::error::Context;
use edgehook_core::error::ApiError;
use edgehook_core::request_body::{CappedBody, framed_within};
use serde::Serialize;
use worker::js_sys::Uint8Array;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{ReadableStream, ReadableStreamDefaultReader, ReadableStreamReadResult};
use worker::{Request, Response, Result};

/// Converts a runtime error into an internal API error, keeping the detail for the log.
pub fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// The answer for an error. The only place an error's status and body are decided
/// is `ApiError::to_http`; this adds the headers and logs internal failures.
pub fn error(e: &ApiError) -> Result<Response> {
    if let ApiError::Internal(detail) = e {
        worker::console_error!("internal error: {detail}");
    }
    let h = e.to_http();
    let mut resp = Response::from_json(&h.body)?.with_status(h.status);
    if let Some(s) = h.retry_after_seconds {
        resp.headers_mut().set("Retry-After", &s.to_string())?;
    }
    Ok(resp)
}

/// A JSON answer with a status.
pub fn json<T: Serialize>(status: u16, body: &T) -> Result<Response, ApiError> {
    Ok(Response::from_json(body)
        .ctx("response: encode JSON")?
        .with_status(status))
}

/// A JSON answer that carries a secret or a token: no cache (a browser's, a
/// proxy's) may keep it.
pub fn secret_json<T: Serialize>(status: u16, body: &T) -> Result<Response, ApiError> {
    let mut resp = json(status, body)?;
    resp.headers_mut()
        .set("cache-control", "no-store")
        .ctx("response: set cache-control")?;
    Ok(resp)
}

/// 204 No Content.
pub fn no_content() -> Result<Response, ApiError> {
    Ok(Response::empty()
        .ctx("response: build a 204")?
        .with_status(204))
}

/// Largest request body any endpoint reads.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Reads the request body, refusing with 413 a body over `limit` bytes: at once
/// when its `Content-Length` says so, else as soon as a chunk takes it past
/// the limit (the rest is never read). A body whose length HTTP framing fixes
/// (a `Content-Length` within the limit and no `Transfer-Encoding`) is read in
/// one piece; any other is read as a stream and never takes more memory than
/// the limit plus one chunk. What is left of a body is dropped by the runtime
/// once the answer is sent.
pub async fn body(req: &mut Request, limit: usize) -> Result<Vec<u8>, ApiError> {
    let content_length = header(req, "content-length");
    let mut capped = CappedBody::new(limit, content_length.as_deref())?;
    let unreadable = |_| ApiError::BadRequest("the request body could not be read".into());
    let transfer_encoding = header(req, "transfer-encoding");
    if framed_within(
        content_length.as_deref(),
        transfer_encoding.as_deref(),
        limit,
    )
    .is_some()
    {
        let whole = req.inner().array_buffer().map_err(unreadable)?;
        let bytes = JsFuture::from(whole).await.map_err(unreadable)?;
        capped.push(&Uint8Array::new(&bytes).to_vec())?;
        return Ok(capped.into_bytes());
    }
    let Some(stream) = req.inner().body() else {
        return Ok(capped.into_bytes());
    };
    read_chunks(
        stream,
        |chunk| capped.push(chunk).map(|()| true),
        unreadable,
    )
    .await?;
    Ok(capped.into_bytes())
}

/// Reads `stream` chunk by chunk, handing each to `take` until the stream ends,
/// `take` answers `false` (nothing more is read) or fails. Unless the stream
/// ended, the reader's lock is released, so the runtime can cancel what was
/// not read (a stream read to its end has nothing left, and releasing its
/// lock would only make the runtime build an error for the reader).
pub async fn read_chunks<E>(
    stream: ReadableStream,
    mut take: impl FnMut(&[u8]) -> Result<bool, E>,
    unreadable: impl Fn(JsValue) -> E,
) -> Result<(), E> {
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    // Ok(true): the stream ended.
    let read = async {
        loop {
            let next: ReadableStreamReadResult = JsFuture::from(reader.read())
                .await
                .map_err(&unreadable)?
                .unchecked_into();
            if next.get_done().unwrap_or(true) {
                return Ok(true);
            }
            if !take(&Uint8Array::new(&next.get_value()).to_vec())? {
                return Ok(false);
            }
        }
    };
    let outcome = read.await;
    if !matches!(outcome, Ok(true)) {
        reader.release_lock();
    }
    outcome.map(drop)
}

/// Reads a body that may be empty (operator calls with all-default fields).
pub async fn optional_json_body(
    req: &mut Request,
) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    let bytes = body(req, MAX_BODY_BYTES).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    edgehook_core::destination::parse_json_object(&bytes)
}

/// A request header, if present and readable.
pub fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}
