//! The app databases of the local deploy target, reached over RPC.
//!
//! The dispatch Worker exports a named entrypoint, `AppAdmin`, that only a service binding naming
//! it can reach (`APP_ADMIN` in `wrangler.toml`); it has no HTTP route, so neither an app nor an
//! outside request can call it (docs/adr/0011). Each method answers
//! `{ok: true, value}` or `{ok: false, status, message}`; a refusal by the database (bad SQL, a
//! failing migration) is terminal, anything else (the binding, the transport) retryable.

use js_sys::{Function, Promise, Reflect};
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::Env;

/// Why an app database call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminError {
    /// The database refused the request (its message); retrying will not help.
    Refused(String),
    /// The call did not complete; retrying may help.
    Unavailable(String),
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminError::Refused(m) => write!(f, "{m}"),
            AdminError::Unavailable(m) => write!(f, "app database unavailable: {m}"),
        }
    }
}

fn js_text(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

async fn call(env: &Env, method: &str, args: &[JsValue]) -> Result<Value, AdminError> {
    let unavailable = |e: JsValue| AdminError::Unavailable(js_text(e));
    let binding = Reflect::get(env, &JsValue::from_str("APP_ADMIN")).map_err(unavailable)?;
    if binding.is_undefined() {
        return Err(AdminError::Unavailable(
            "the APP_ADMIN binding is missing".into(),
        ));
    }
    let f: Function = Reflect::get(&binding, &JsValue::from_str(method))
        .map_err(unavailable)?
        .dyn_into()
        .map_err(|_| AdminError::Unavailable(format!("APP_ADMIN.{method} is not callable")))?;
    let array = js_sys::Array::new();
    for a in args {
        array.push(a);
    }
    // `Reflect.apply`, not `f.apply(…)`: an RPC stub answers any property name, so `.apply` would
    // be taken for a remote method. RPC calls return a thenable, not a Promise: adopt it.
    let pending = Reflect::apply(&f, &binding, &array).map_err(unavailable)?;
    let reply = JsFuture::from(Promise::resolve(&pending))
        .await
        .map_err(unavailable)?;
    let text = js_sys::JSON::stringify(&reply)
        .map_err(unavailable)?
        .as_string()
        .unwrap_or_default();
    let reply: Value = serde_json::from_str(&text)
        .map_err(|e| AdminError::Unavailable(format!("unreadable answer: {e}")))?;
    if reply["ok"] == Value::Bool(true) {
        return Ok(reply["value"].clone());
    }
    let message = reply["message"]
        .as_str()
        .unwrap_or("the app database refused the request")
        .to_string();
    match reply["status"].as_u64() {
        Some(400..=499) => Err(AdminError::Refused(message)),
        _ => Err(AdminError::Unavailable(message)),
    }
}

fn to_js(v: &Value) -> Result<JsValue, AdminError> {
    js_sys::JSON::parse(&v.to_string()).map_err(|e| AdminError::Unavailable(js_text(e)))
}

/// Applies the migrations (`[{name, sql}]`) the app's database has not applied yet:
/// `{applied: [name], already: [name]}`.
pub async fn migrate(env: &Env, project: &str, migrations: &Value) -> Result<Value, AdminError> {
    call(
        env,
        "migrate",
        &[JsValue::from_str(project), to_js(migrations)?],
    )
    .await
}

/// Creates and initialises the app's database if it does not exist yet (idempotent):
/// `{database_id}`, the same id every time.
pub async fn create(env: &Env, project: &str) -> Result<Value, AdminError> {
    call(env, "create", &[JsValue::from_str(project)]).await
}

/// Deletes the app's database (idempotent).
pub async fn destroy(env: &Env, project: &str) -> Result<Value, AdminError> {
    call(env, "destroy", &[JsValue::from_str(project)]).await
}

/// Runs one statement in the app's database (operators and tests).
pub async fn query(
    env: &Env,
    project: &str,
    sql: &str,
    params: &Value,
) -> Result<Value, AdminError> {
    call(
        env,
        "query",
        &[
            JsValue::from_str(project),
            JsValue::from_str(sql),
            to_js(params)?,
        ],
    )
    .await
}
