//! How the worker and its Durable Objects talk: a command goes in as JSON, and
//! the handler's whole `Result` comes back as JSON, errors included as the
//! `ApiError` the object raised. Callers use the typed clients
//! ([`crate::destination::client`], [`crate::organization::client`]) and never
//! read status numbers.

use crate::http::internal;
use edgehook_core::error::ApiError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsValue;
use worker::{Method, Request, RequestInit, Response, Stub};

/// Sends `command` to an object and returns what its handler returned.
pub async fn call<C: Serialize, T: DeserializeOwned>(
    stub: &Stub,
    command: &C,
) -> Result<T, ApiError> {
    let body = serde_json::to_string(command).map_err(internal)?;
    let req = Request::new_with_init(
        "https://object/",
        RequestInit::new()
            .with_method(Method::Post)
            .with_body(Some(JsValue::from_str(&body))),
    )
    .map_err(internal)?;
    let mut resp = stub.fetch_with_request(req).await.map_err(internal)?;
    let text = resp.text().await.map_err(internal)?;
    serde_json::from_str::<Result<T, ApiError>>(&text).map_err(|e| {
        internal(format!(
            "object answered {} with an unreadable reply: {e}",
            resp.status_code()
        ))
    })?
}

/// Reads the command an object was sent.
pub async fn command<C: DeserializeOwned>(req: &mut Request) -> Result<C, ApiError> {
    let text = req.text().await.map_err(internal)?;
    serde_json::from_str(&text).map_err(|e| internal(format!("unreadable command: {e}")))
}

/// The object's reply: the handler's result as JSON. Internal errors are
/// logged here, in the object where they happened; the caller sees only that
/// one happened.
pub fn reply<T: Serialize>(result: Result<T, ApiError>) -> worker::Result<Response> {
    if let Err(ApiError::Internal(detail)) = &result {
        worker::console_error!("internal error: {detail}");
    }
    Response::from_json(&result)
}
