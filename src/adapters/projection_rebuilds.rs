//! The `projection_rebuilds` table: one row per projection rebuild job, holding its cursor and
//! progress (see `crate::rebuild`, docs/adr/0018).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use worker::{D1Database, Env};

use crate::error::ApiError;

/// A rebuild's row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rebuild {
    /// Job id.
    pub id: String,
    /// `running`, `paused` (stopped by the test hook; POST resumes it) or `done`.
    pub status: String,
    /// The stream being replayed (`None` before the first chunk and when done).
    pub stream: Option<String>,
    /// The last seq applied in `stream`.
    pub seq: f64,
    /// Streams in the log (counted by the first chunk).
    pub streams_total: f64,
    /// Streams replayed completely.
    pub streams_done: f64,
    /// Events applied.
    pub events: f64,
    /// Events skipped (written by a newer Kiln, or past a corrupt commit).
    pub skipped: f64,
    /// Streams with an unreadable commit, as JSON `[[stream, seq], …]`.
    pub corrupt: String,
    /// Chunks run so far.
    pub chunks: f64,
    /// Events per chunk.
    pub chunk_size: f64,
    /// Test hook: pause after this many chunks.
    pub stop_after: Option<f64>,
    /// Why it failed.
    pub error: Option<String>,
    /// Times, ms since the epoch.
    pub started_at: f64,
    /// Last change.
    pub updated_at: f64,
    /// When it ended.
    pub finished_at: Option<f64>,
}

impl Rebuild {
    /// The API view: progress with the cursor.
    pub fn to_json(&self) -> Value {
        let corrupt: Value = serde_json::from_str(&self.corrupt).unwrap_or(json!([]));
        let end = self.finished_at.unwrap_or(self.updated_at);
        json!({
            "id": self.id,
            "status": self.status,
            "cursor": { "stream": self.stream, "seq": self.seq as u64 },
            "streams_total": self.streams_total as u64,
            "streams_done": self.streams_done as u64,
            "events": self.events as u64,
            "skipped": self.skipped as u64,
            "corrupt": corrupt,
            "chunks": self.chunks as u64,
            "chunk_size": self.chunk_size as u64,
            "error": self.error,
            "started_at": self.started_at as i64,
            "finished_at": self.finished_at.map(|t| t as i64),
            "duration_ms": (end - self.started_at).max(0.0) as i64,
        })
    }
}

fn d1(what: &str) -> impl Fn(worker::Error) -> ApiError + '_ {
    move |e| ApiError::internal(format!("d1 {what}: {e}"))
}

/// Typed access to `projection_rebuilds`.
pub struct ProjectionRebuilds {
    db: D1Database,
}

impl ProjectionRebuilds {
    /// Over the platform database binding.
    pub fn of(env: &Env) -> Result<Self, ApiError> {
        Ok(Self {
            db: super::bindings::platform_db(env)?,
        })
    }

    /// The newest rebuild, if any.
    pub async fn latest(&self) -> Result<Option<Rebuild>, ApiError> {
        self.db
            .prepare("SELECT * FROM projection_rebuilds ORDER BY started_at DESC, id DESC LIMIT 1")
            .first::<Rebuild>(None)
            .await
            .map_err(d1("rebuild"))
    }

    /// One rebuild by id.
    pub async fn by_id(&self, id: &str) -> Result<Option<Rebuild>, ApiError> {
        self.db
            .prepare("SELECT * FROM projection_rebuilds WHERE id = ?1")
            .bind(&[id.into()])?
            .first::<Rebuild>(None)
            .await
            .map_err(d1("rebuild"))
    }

    /// Marks an unfinished rebuild running again (and clears its test pause).
    pub async fn resume(&self, id: &str, now: i64) -> Result<(), ApiError> {
        self.db
            .prepare("UPDATE projection_rebuilds SET status = 'running', stop_after = NULL, updated_at = ?2 WHERE id = ?1")
            .bind(&[id.into(), (now as f64).into()])?
            .run()
            .await
            .map_err(d1("resume rebuild"))?;
        Ok(())
    }

    /// Inserts a new running rebuild at its first chunk.
    pub async fn insert(
        &self,
        id: &str,
        chunk_size: u32,
        stop_after: Option<u32>,
        now: i64,
    ) -> Result<(), ApiError> {
        self.db
            .prepare(
                "INSERT INTO projection_rebuilds (id, status, seq, streams_total, streams_done, events, skipped, corrupt, chunks, chunk_size, stop_after, started_at, updated_at) \
                 VALUES (?1, 'running', 0, 0, 0, 0, 0, '[]', 0, ?2, ?3, ?4, ?4)",
            )
            .bind(&[
                id.into(),
                f64::from(chunk_size).into(),
                stop_after.map_or(JsValue::NULL, |n| f64::from(n).into()),
                (now as f64).into(),
            ])?
            .run()
            .await
            .map_err(d1("start rebuild"))?;
        Ok(())
    }

    /// Writes the row back if it is still at chunk `from` (optimistic: a concurrent delivery of
    /// the same chunk loses). Returns whether it was written.
    pub async fn save(&self, row: &Rebuild, from: u64) -> Result<bool, ApiError> {
        let result = self
            .db
            .prepare(
                "UPDATE projection_rebuilds SET status = ?2, stream = ?3, seq = ?4, streams_total = ?5, streams_done = ?6, \
                 events = ?7, skipped = ?8, corrupt = ?9, chunks = ?10, error = ?11, updated_at = ?12, finished_at = ?13 \
                 WHERE id = ?1 AND chunks = ?14",
            )
            .bind(&[
                row.id.as_str().into(),
                row.status.as_str().into(),
                row.stream.as_deref().map_or(JsValue::NULL, Into::into),
                row.seq.into(),
                row.streams_total.into(),
                row.streams_done.into(),
                row.events.into(),
                row.skipped.into(),
                row.corrupt.as_str().into(),
                row.chunks.into(),
                row.error.as_deref().map_or(JsValue::NULL, Into::into),
                row.updated_at.into(),
                row.finished_at.map_or(JsValue::NULL, Into::into),
                (from as f64).into(),
            ])?
            .run()
            .await
            .map_err(d1("save rebuild"))?;
        let changed = result
            .meta()
            .ok()
            .flatten()
            .and_then(|m| m.changes)
            .unwrap_or(0);
        Ok(changed > 0)
    }
}
