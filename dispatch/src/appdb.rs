//! The per-app database of the local deploy target: one SQLite Durable Object per project.
//!
//! Generated apps see the D1 API (a JS facade shipped into every loaded app turns `prepare/bind/
//! first/all/run/raw`, `batch` and `exec` into calls to this object). Migrations are tracked
//! inside the app's own database (`_kiln_migrations`), so a rebuild applies only new ones and
//! the data survives. Each project's object is its own SQLite database: apps cannot reach each
//! other's rows.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use wasm_bindgen::JsValue;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, SqlStorage, State};

/// One SQLite database per app.
#[durable_object]
pub struct AppDatabase {
    state: State,
}

#[derive(Deserialize)]
struct Query {
    sql: String,
    #[serde(default)]
    params: Vec<Value>,
}

/// `/limit`: count one event against a fixed window.
#[derive(Deserialize)]
struct LimitRequest {
    /// What is counted, e.g. `auth:<ip>`.
    key: String,
    /// Most events per window.
    limit: u32,
    /// Window length in milliseconds.
    window_ms: f64,
}

/// A fixed window's count, kept in the object's key-value storage.
#[derive(Serialize, Deserialize, Default)]
struct Window {
    start: f64,
    count: u32,
}

/// `/usage`: change the app's stored-bytes total by `delta`, refusing growth beyond `max`.
#[derive(Deserialize)]
struct UsageRequest {
    delta: i64,
    max: u64,
}

#[derive(Deserialize)]
struct Migration {
    name: String,
    sql: String,
}

fn bind(params: &[Value]) -> std::result::Result<Vec<JsValue>, String> {
    params
        .iter()
        .map(|p| match p {
            Value::Null => Ok(JsValue::NULL),
            Value::Bool(b) => Ok(JsValue::from(*b as i32)),
            Value::Number(n) => Ok(JsValue::from_f64(n.as_f64().unwrap_or(0.0))),
            Value::String(s) => Ok(JsValue::from_str(s)),
            other => Err(format!(
                "parameter {other} is not a string, number, boolean or null"
            )),
        })
        .collect()
}

fn run_one(sql: &SqlStorage, q: &Query) -> std::result::Result<Value, String> {
    let started = js_sys::Date::now();
    let params = bind(&q.params)?;
    let cursor = sql.exec_raw(&q.sql, params).map_err(|e| e.to_string())?;
    let columns = cursor.column_names();
    let rows: Vec<Map<String, Value>> = cursor.to_array().map_err(|e| e.to_string())?;
    let (read, written) = (cursor.rows_read(), cursor.rows_written());
    let stats: Vec<Map<String, Value>> = sql
        .exec(
            "SELECT changes() AS changes, last_insert_rowid() AS last_row_id",
            None,
        )
        .and_then(|c| c.to_array())
        .unwrap_or_default();
    let stat = stats.first().cloned().unwrap_or_default();
    let raw: Vec<Value> = rows
        .iter()
        .map(|r| {
            Value::Array(
                columns
                    .iter()
                    .map(|c| r.get(c).cloned().unwrap_or(Value::Null))
                    .collect(),
            )
        })
        .collect();
    Ok(json!({
        "columns": columns,
        "results": rows,
        "raw": raw,
        "meta": {
            "changes": if written > 0 { stat.get("changes").cloned().unwrap_or(json!(0)) } else { json!(0) },
            "last_row_id": stat.get("last_row_id").cloned().unwrap_or(json!(0)),
            "rows_read": read,
            "rows_written": written,
            "duration": js_sys::Date::now() - started,
            "changed_db": written > 0,
        },
    }))
}

fn reply(result: std::result::Result<Value, String>) -> Result<Response> {
    match result {
        Ok(v) => Response::from_json(&v),
        Err(message) => Ok(Response::from_json(
            &json!({ "error": { "code": "sql_error", "message": message } }),
        )?
        .with_status(400)),
    }
}

impl DurableObject for AppDatabase {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let sql = self.state.storage().sql();
        let path = req.path();
        match path.as_str() {
            "/query" => {
                let q: Query = req.json().await?;
                reply(run_one(&sql, &q))
            }
            "/batch" => {
                // Durable Object SQLite refuses explicit BEGIN/SAVEPOINT; the statements run in
                // one request without awaits in between, so no other request interleaves. A
                // failing statement stops the batch and is reported; the ones before it stay
                // applied (D1 would roll them back: see the note in docs/adr/0006).
                let qs: Vec<Query> = req.json().await?;
                let mut out = Vec::with_capacity(qs.len());
                for q in &qs {
                    match run_one(&sql, q) {
                        Ok(v) => out.push(v),
                        Err(e) => return reply(Err(e)),
                    }
                }
                reply(Ok(Value::Array(out)))
            }
            "/create" => {
                // Touching storage creates the object's database; the migrations table is its
                // first table, so a created database is an initialised one.
                reply(
                    migrate(&sql, &[])
                        .map(|v| json!({ "created": true, "migrations": v["already"] })),
                )
            }
            "/migrate" => {
                let migrations: Vec<Migration> = req.json().await?;
                reply(migrate(&sql, &migrations))
            }
            "/limit" => {
                let r: LimitRequest = req.json().await?;
                Response::from_json(&self.limit(&r).await?)
            }
            "/usage" => {
                let r: UsageRequest = req.json().await?;
                Response::from_json(&self.usage(&r).await?)
            }
            "/destroy" => {
                self.state.storage().delete_all().await?;
                Response::from_json(&json!({ "destroyed": true }))
            }
            _ => Response::error("unknown database operation", 404),
        }
    }
}

/// The key-value storage keys of the counters. They live outside SQL on purpose: the app's own
/// SQL reaches every table of its database, but not the object's key-value storage, so an app
/// cannot reset its own limits.
fn limit_key(key: &str) -> String {
    format!("limit:{key}")
}
const USAGE_KEY: &str = "usage:storage-bytes";

impl AppDatabase {
    /// Counts one event; `{allowed, retry_after}` (seconds until the window ends when refused).
    /// Storage calls of one request are not interleaved with another's (input gates), so the read
    /// and the write are one atomic step.
    async fn limit(&self, r: &LimitRequest) -> Result<Value> {
        let storage = self.state.storage();
        let key = limit_key(&r.key);
        let now = js_sys::Date::now();
        let mut w: Window = storage.get(&key).await?.unwrap_or_default();
        if now - w.start >= r.window_ms {
            w = Window {
                start: now,
                count: 0,
            };
        }
        if w.count >= r.limit {
            let retry_after = ((w.start + r.window_ms - now) / 1000.0).ceil().max(1.0);
            return Ok(json!({ "allowed": false, "retry_after": retry_after as u64 }));
        }
        w.count += 1;
        storage.put(&key, &w).await?;
        Ok(json!({ "allowed": true, "remaining": r.limit - w.count }))
    }

    /// Applies a change to the stored-bytes total: `{allowed, used}`. Growth that would pass `max`
    /// is refused and changes nothing; shrinking always applies (never below zero).
    async fn usage(&self, r: &UsageRequest) -> Result<Value> {
        let storage = self.state.storage();
        let used: u64 = storage.get(USAGE_KEY).await?.unwrap_or(0);
        let next = (used as i64 + r.delta).max(0) as u64;
        if r.delta > 0 && next > r.max {
            return Ok(json!({ "allowed": false, "used": used, "max": r.max }));
        }
        storage.put(USAGE_KEY, next).await?;
        Ok(json!({ "allowed": true, "used": next, "max": r.max }))
    }
}

/// Applies, in order, the migrations whose names are not recorded yet.
fn migrate(sql: &SqlStorage, migrations: &[Migration]) -> std::result::Result<Value, String> {
    sql.exec("CREATE TABLE IF NOT EXISTS _kiln_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)", None).map_err(|e| e.to_string())?;
    let done: Vec<Map<String, Value>> = sql
        .exec("SELECT name FROM _kiln_migrations", None)
        .and_then(|c| c.to_array())
        .map_err(|e| e.to_string())?;
    let done: Vec<String> = done
        .iter()
        .filter_map(|r| r.get("name").and_then(|n| n.as_str()).map(str::to_string))
        .collect();
    let mut applied = Vec::new();
    for m in migrations {
        if done.contains(&m.name) {
            continue;
        }
        sql.exec(&m.sql, None)
            .map_err(|e| format!("migration {} failed: {e}", m.name))?;
        sql.exec_raw(
            "INSERT INTO _kiln_migrations (name, applied_at) VALUES (?, ?)",
            vec![
                JsValue::from_str(&m.name),
                JsValue::from_f64(js_sys::Date::now()),
            ],
        )
        .map_err(|e| e.to_string())?;
        applied.push(m.name.clone());
    }
    Ok(json!({ "applied": applied, "already": done }))
}
