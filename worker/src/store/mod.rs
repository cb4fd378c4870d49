//! Storage: one module per D1 table, and the maintenance switch in KV.
//!
//! D1 is the control plane: organizations, users, API key hashes and
//! destinations' settings, which change at human speed. No statement here runs
//! per published event, per delivery or per attempt: deliveries live in each
//! destination's object (`crate::destination::log`). KV holds only the maintenance switch, where a delay of
//! up to a minute before every location sees a change is harmless.

pub mod api_keys;
pub mod destinations;
pub mod maintenance;
pub mod organizations;
pub mod portal_sessions;
pub mod users;

use crate::error::Context;
use crate::http::internal;
use edgehook_core::error::ApiError;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result, Env};

/// The D1 database binding.
pub fn db(env: &Env) -> Result<D1Database, ApiError> {
    Ok(env.d1("DB").ctx("D1: open the DB binding")?)
}

/// Binds positional parameters to a statement.
pub fn bind(
    db: &D1Database,
    sql: &str,
    params: &[JsValue],
) -> Result<D1PreparedStatement, ApiError> {
    Ok(db
        .prepare(sql)
        .bind(params)
        .ctx("D1: bind a statement's parameters")?)
}

/// A string parameter.
pub fn s(v: &str) -> JsValue {
    JsValue::from_str(v)
}

/// An integer parameter (D1 numbers are f64; every integer here fits in 53 bits).
pub fn n(v: i64) -> JsValue {
    JsValue::from_f64(v as f64)
}

/// A nullable string parameter.
pub fn opt_s(v: Option<&str>) -> JsValue {
    v.map(JsValue::from_str).unwrap_or(JsValue::NULL)
}

/// Rows changed by a write. A result without its count is an error: read as
/// 0 it would answer "not found" or "limit reached" for a write that happened.
pub fn changes(r: &D1Result) -> Result<usize, ApiError> {
    r.meta()
        .ctx("D1: read a write's metadata")?
        .and_then(|m| m.changes)
        .ok_or_else(|| internal("D1: a write's result has no count of changed rows"))
}

/// Runs a write; true when it changed at least one row.
pub async fn changed(stmt: D1PreparedStatement, what: &str) -> Result<bool, ApiError> {
    Ok(changes(&stmt.run().await.ctx(what)?)? > 0)
}

/// True when a D1 error is a primary-key or unique conflict.
pub fn is_conflict(e: &worker::Error) -> bool {
    let m = e.to_string();
    m.contains("UNIQUE constraint failed") || m.contains("PRIMARY KEY")
}
