//! The platform Worker's bindings by name (see `wrangler.toml`), in one place. Only adapters call
//! these; the rest of the platform gets typed adapters (`tests/adapter_boundary.rs` keeps it so).

use wasm_bindgen::JsValue;
use worker::Env;

use crate::error::ApiError;

/// The platform database (projections, accounts, tokens, webhooks, counters).
pub const DB: &str = "DB";
/// The session store.
pub const SESSIONS: &str = "SESSIONS";
/// The platform bucket: event log, code store, plans, secrets, live pointers.
pub const STORE: &str = "STORE";
/// The builder UI's static assets.
pub const ASSETS: &str = "ASSETS";

/// The platform database.
pub(crate) fn platform_db(env: &Env) -> Result<worker::D1Database, ApiError> {
    Ok(env.d1(DB)?)
}

/// The session store.
pub(crate) fn sessions_kv(env: &Env) -> Result<worker::kv::KvStore, ApiError> {
    Ok(env.kv(SESSIONS)?)
}

/// The platform bucket.
pub(crate) fn store_bucket(env: &Env) -> Result<worker::Bucket, ApiError> {
    Ok(env.bucket(STORE)?)
}

/// A Queue producer.
pub(crate) fn queue(env: &Env, binding: &str) -> Result<worker::Queue, ApiError> {
    Ok(env.queue(binding)?)
}

/// A Workflow binding (workers-rs has no typed one: it is the JS object).
pub(crate) fn workflow(env: &Env, binding: &str) -> Result<JsValue, ApiError> {
    let env_js: &JsValue = env.as_ref();
    match js_sys::Reflect::get(env_js, &JsValue::from_str(binding)) {
        Ok(v) if !v.is_undefined() && !v.is_null() => Ok(v),
        _ => Err(ApiError::internal(format!("{binding} binding missing"))),
    }
}
