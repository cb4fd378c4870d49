//! How the worker and its Durable Objects talk: a command goes in as JSON, and
//! the handler's whole `Result` comes back as JSON, errors included as the
//! `ApiError` the object raised. Callers use the typed clients
//! ([`crate::destination::client`], [`crate::organization::client`]) and never
//! read status numbers.
//!
//! Every publish makes two of these calls, so they go straight through the
//! runtime's own `stub.fetch(url, init)` and `response.text()`: no request
//! object is built in Rust and no reply is read chunk by chunk through a stream.

use crate::error::Context;
use crate::http::internal;
use edgehook_core::error::ApiError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::js_sys::Promise;
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{RequestInit, Response as JsResponse};
use worker::{Env, Request, Response};

#[wasm_bindgen]
extern "C" {
    /// A Durable Object's stub as the runtime gives it.
    pub type ObjectStub;

    #[wasm_bindgen(method, catch, js_name = fetch)]
    fn fetch_with_init(
        this: &ObjectStub,
        url: &str,
        init: &RequestInit,
    ) -> Result<Promise, JsValue>;
}

/// The stub of the object named `name` in the namespace bound as `binding`.
pub fn stub(env: &Env, binding: &str, name: &str) -> Result<ObjectStub, ApiError> {
    Ok(env
        .durable_object(binding)
        .and_then(|ns| ns.get_by_name(name))
        .map(|s| s.into_rpc::<ObjectStub>())
        .ctx("object: get the stub")?)
}

/// Sends `command` to an object and returns what its handler returned.
pub async fn call<C: Serialize, T: DeserializeOwned>(
    stub: &ObjectStub,
    command: &C,
) -> Result<T, ApiError> {
    let body = serde_json::to_string(command).ctx("object: encode a command")?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(&body));
    let resp: JsResponse = JsFuture::from(
        stub.fetch_with_init("https://object/", &init)
            .map_err(js_error)?,
    )
    .await
    .map_err(js_error)?
    .unchecked_into();
    let text = JsFuture::from(resp.text().map_err(js_error)?)
        .await
        .map_err(js_error)?
        .as_string()
        .unwrap_or_default();
    serde_json::from_str::<Result<T, ApiError>>(&text).map_err(|e| {
        internal(format!(
            "object answered {} with an unreadable reply: {e}",
            resp.status()
        ))
    })?
}

fn js_error(e: JsValue) -> ApiError {
    internal(format!("object call failed: {e:?}"))
}

/// Reads the command an object was sent.
pub async fn command<C: DeserializeOwned>(req: &mut Request) -> Result<C, ApiError> {
    let text = req.text().await.ctx("object: read a command")?;
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
