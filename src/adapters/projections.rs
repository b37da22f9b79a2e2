//! Platform D1 tables as projections of the event log.
//!
//! Every appended batch is applied here right after it lands; [`crate::rebuild`] drops the projected
//! tables and replays every stream, and must produce the same rows. So every column is derived
//! from events only (times are event times, ids are event data), and every statement is
//! idempotent (`INSERT OR IGNORE`, guarded updates), so applying a batch twice, or two batches
//! out of order, converges on the same rows. Users are not projected: accounts are not part of
//! any project's history.

use events::envelope::Envelope;
use events::{Event, Role};
use serde_json::Value;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use crate::error::ApiError;

fn num(n: impl Into<f64>) -> JsValue {
    JsValue::from_f64(n.into())
}

fn text(s: &str) -> JsValue {
    JsValue::from_str(s)
}

fn stmt(db: &D1Database, sql: &str, args: &[JsValue]) -> Result<D1PreparedStatement, ApiError> {
    Ok(db.prepare(sql).bind(args)?)
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::System => "system",
    }
}

/// The statements that project one event.
fn statements(db: &D1Database, e: &Envelope) -> Result<Vec<D1PreparedStatement>, ApiError> {
    let p = text(&e.stream);
    let t = num(e.time_ms as f64);
    let seq = num(e.seq as f64);
    let s = |sql: &str, args: &[JsValue]| stmt(db, sql, args);
    Ok(match &e.data {
        Event::ProjectCreated { name, slug, owner } => vec![s(
            // A slug held by another row is ignored: only a rebuild meets one (it replays a
            // deleted project after the later project that took its slug; src/rebuild.rs).
            "INSERT INTO projects (id, owner_id, name, slug, created_at, updated_at, last_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6) \
             ON CONFLICT(id) DO UPDATE SET last_seq = excluded.last_seq WHERE projects.last_seq < excluded.last_seq \
             ON CONFLICT DO NOTHING",
            &[p, text(owner), text(name), text(slug), t, seq],
        )?],
        Event::ProjectRenamed { name } => vec![s(
            "UPDATE projects SET name = ?2, updated_at = ?3, last_seq = ?4 WHERE id = ?1 AND last_seq < ?4",
            &[p, text(name), t, seq],
        )?],
        Event::ProjectDeleted {} => vec![s("DELETE FROM projects WHERE id = ?1", &[p])?],
        Event::MessagePosted { message_id, role, content } => vec![s(
            "INSERT OR IGNORE INTO messages (id, project_id, role, content, created_at) \
             SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM projects WHERE id = ?2)",
            &[text(message_id), p, text(role_name(*role)), text(content), t],
        )?],
        Event::BuildRequested { build_id, prompt, .. } => vec![s(
            "INSERT OR IGNORE INTO builds (id, project_id, status, prompt, created_at, updated_at) \
             SELECT ?1, ?2, 'requested', ?3, ?4, ?4 WHERE EXISTS (SELECT 1 FROM projects WHERE id = ?2)",
            &[text(build_id), p, text(prompt), t],
        )?],
        Event::BuildStarted { build_id } => {
            vec![s("UPDATE builds SET status = 'running', updated_at = ?2 WHERE id = ?1 AND status = 'requested'", &[text(build_id), t])?]
        }
        Event::StepStarted { build_id, step, attempt } => vec![s(
            "INSERT OR IGNORE INTO build_steps (build_id, step, attempt, status, started_at) \
             SELECT ?1, ?2, ?3, 'running', ?4 WHERE EXISTS (SELECT 1 FROM builds WHERE id = ?1)",
            &[text(build_id), text(step), num(*attempt), t],
        )?],
        Event::StepSucceeded { build_id, step, attempt, .. } => vec![s(
            "UPDATE build_steps SET status = 'succeeded', finished_at = ?4 WHERE build_id = ?1 AND step = ?2 AND attempt = ?3",
            &[text(build_id), text(step), num(*attempt), t],
        )?],
        Event::StepFailed { build_id, step, attempt, error, .. } => vec![s(
            "UPDATE build_steps SET status = 'failed', finished_at = ?4, error = ?5 WHERE build_id = ?1 AND step = ?2 AND attempt = ?3",
            &[text(build_id), text(step), num(*attempt), t, text(error)],
        )?],
        Event::BuildSucceeded { build_id, version } => vec![s(
            "UPDATE builds SET status = 'succeeded', version = ?2, updated_at = ?3 WHERE id = ?1",
            &[text(build_id), num(*version), t],
        )?],
        Event::BuildFailed { build_id, step, reason } => vec![s(
            "UPDATE builds SET status = 'failed', error_step = ?2, error_reason = ?3, updated_at = ?4 WHERE id = ?1",
            &[text(build_id), text(step), text(reason), t],
        )?],
        Event::BuildCancelled { build_id, step } => vec![s(
            "UPDATE builds SET status = 'cancelled', error_step = ?2, updated_at = ?3 WHERE id = ?1",
            &[text(build_id), step.as_deref().map_or(JsValue::NULL, text), t],
        )?],
        Event::Deployed { build_id, version } => vec![s(
            "INSERT OR IGNORE INTO deployments (id, project_id, build_id, version, created_at) \
             SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM projects WHERE id = ?2)",
            &[text(&e.id), p, text(build_id), num(*version), t],
        )?],
        // A rollback deploys no build: its row has no build id (the envelope's correlation is
        // the rollback id since RolledBack v2).
        Event::RolledBack { to_version, rollback_id } => {
            let mut out = vec![s(
                "INSERT OR IGNORE INTO deployments (id, project_id, build_id, version, created_at) \
                 SELECT ?1, ?2, NULL, ?3, ?4 WHERE EXISTS (SELECT 1 FROM projects WHERE id = ?2)",
                &[text(&e.id), p.clone(), num(*to_version), t.clone()],
            )?];
            if let Some(id) = rollback_id {
                out.push(s(
                    "UPDATE rollbacks SET status = 'succeeded', updated_at = ?2 WHERE id = ?1 AND status = 'pending'",
                    &[text(id), t],
                )?);
            }
            out
        }
        Event::RollbackRequested {
            to_version,
            rollback_id: Some(id),
            ..
        } => vec![s(
            "INSERT OR IGNORE INTO rollbacks (id, project_id, to_version, status, created_at, updated_at) \
             SELECT ?1, ?2, ?3, 'pending', ?4, ?4 WHERE EXISTS (SELECT 1 FROM projects WHERE id = ?2)",
            &[text(id), p, num(*to_version), t],
        )?],
        Event::RollbackFailed { rollback_id, reason, .. } => vec![s(
            "UPDATE rollbacks SET status = 'failed', reason = ?2, updated_at = ?3 WHERE id = ?1 AND status = 'pending'",
            &[text(rollback_id), text(reason), t],
        )?],
        _ => Vec::new(),
    })
}

/// Tables in dependency order (children first for deletion).
pub const TABLES: [&str; 6] = [
    "rollbacks",
    "deployments",
    "build_steps",
    "builds",
    "messages",
    "projects",
];

/// The projected tables of the platform database.
pub struct Projections {
    db: D1Database,
}

impl Projections {
    /// Over the platform database binding.
    pub fn of(env: &worker::Env) -> Result<Self, ApiError> {
        Ok(Self {
            db: super::bindings::platform_db(env)?,
        })
    }

    /// Applies appended events to the projections in one D1 batch.
    pub async fn apply(&self, events: &[Envelope]) -> Result<(), ApiError> {
        let mut all = Vec::new();
        for e in events {
            all.extend(statements(&self.db, e)?);
        }
        if !all.is_empty() {
            self.db
                .batch(all)
                .await
                .map_err(|e| ApiError::internal(format!("d1 projection: {e}")))?;
        }
        Ok(())
    }

    /// Empties every projected table (the first chunk of a rebuild), in one batch.
    pub async fn clear(&self) -> Result<(), ApiError> {
        let deletes = TABLES
            .iter()
            .map(|t| self.db.prepare(format!("DELETE FROM {t}")))
            .collect();
        self.db
            .batch(deletes)
            .await
            .map_err(|e| ApiError::internal(format!("d1 clear projections: {e}")))?;
        Ok(())
    }

    /// Every projected row, table by table in a stable order, for operators and rebuild checks.
    pub async fn dump(&self) -> Result<Value, ApiError> {
        let mut out = serde_json::Map::new();
        for (table, order) in [
            ("projects", "id"),
            ("messages", "id"),
            ("builds", "id"),
            ("build_steps", "build_id, step, attempt"),
            ("deployments", "id"),
            ("rollbacks", "id"),
        ] {
            let rows = self
                .db
                .prepare(format!("SELECT * FROM {table} ORDER BY {order}"))
                .all()
                .await
                .and_then(|r| r.results::<Value>())
                .map_err(|e| ApiError::internal(format!("d1 dump {table}: {e}")))?;
            out.insert(table.into(), Value::Array(rows));
        }
        Ok(Value::Object(out))
    }
}
