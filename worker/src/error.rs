//! Errors of the runtime and of storage, named by the call that failed.
//!
//! Every storage or runtime call that can fail says what it was doing with
//! [`Context::ctx`]; `?` then turns the failure into the API's internal error
//! (`From<Failed> for ApiError`), whose detail names the call and carries the
//! runtime's message. That detail is logged where the error is answered
//! (`http::error`, `objects::reply`) and never sent to a caller.

use edgehook_core::error::ApiError;
use std::fmt::Debug;

/// A runtime or storage call that failed: which one, and what the runtime said.
#[derive(Debug)]
pub struct Failed {
    call: String,
    detail: String,
}

impl From<Failed> for ApiError {
    fn from(f: Failed) -> ApiError {
        ApiError::Internal(format!("{} failed: {}", f.call, f.detail))
    }
}

/// Names the call a result came from.
pub trait Context<T> {
    /// `call` says what was being done, e.g. "D1: list the destinations".
    fn ctx(self, call: &str) -> Result<T, Failed>;
}

impl<T, E: Debug> Context<T> for Result<T, E> {
    fn ctx(self, call: &str) -> Result<T, Failed> {
        self.map_err(|e| Failed {
            call: call.to_string(),
            detail: describe(&e),
        })
    }
}

/// A runtime error as text: worker errors print their message, JavaScript
/// values their `Debug` form (which holds the thrown message).
fn describe(e: &impl Debug) -> String {
    let text = format!("{e:?}");
    // `worker::Error` debug-prints as `RustError("…")` / `JsError("…")`: keep the message.
    for prefix in ["RustError(\"", "JsError(\"", "Internal(\""] {
        if let Some(inner) = text
            .strip_prefix(prefix)
            .and_then(|t| t.strip_suffix("\")"))
        {
            return inner.to_string();
        }
    }
    text
}
