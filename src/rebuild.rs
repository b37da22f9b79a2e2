//! The projection rebuild as a resumable, chunked job (docs/adr/0018).
//!
//! Rebuilding the D1 projections replays every event of every stream. One request holding all of
//! them exhausted the local runtime at 10,000 events, so the rebuild is a job: a row in
//! `projection_rebuilds` holds its cursor (the stream being replayed and the last seq applied in
//! it) and its progress, and each chunk (at most `chunk_size` events, default
//! [`DEFAULT_CHUNK_EVENTS`]) runs in its own invocation, one `kiln-rebuild` Queue message per
//! chunk. A chunk message names the job and the chunk number it expects; a duplicate or stale
//! delivery finds the row moved on and does nothing, and the row is only advanced from the chunk
//! number it was read at, so two deliveries of one chunk cannot both advance it.
//!
//! `POST /api/admin/projections/rebuild` starts a job, or resumes the unfinished one (sending the
//! message for its current chunk again: a lost message or an interrupted job continues from its
//! cursor); `GET` shows the progress.
//!
//! Streams are replayed one after the other in key order, each from seq 1, instead of in global
//! time order. The rows a stream projects depend only on that stream's events; the one rule that
//! spans streams is a unique slug, and a slug is only taken by a new project after the project that
//! held it was deleted. The projects statement ignores a slug conflict, so a deleted project
//! replayed after its slug's next owner simply never gets a row, which is what a replay in time
//! order ends with too.

use events::codec::Decoded;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{D1Database, Env, MessageExt};

use crate::adapters::event_log::R2EventLog;
use crate::adapters::projections;
use crate::adapters::webcrypto::now_ms;
use crate::error::ApiError;
use crate::http::Ctx;

/// The rebuild Queue.
pub const QUEUE: &str = "kiln-rebuild";
/// Its producer binding.
pub const BINDING: &str = "REBUILD_QUEUE";
/// Events replayed per chunk unless the request says otherwise.
pub const DEFAULT_CHUNK_EVENTS: u32 = 1000;
/// The largest chunk a request may ask for.
pub const MAX_CHUNK_EVENTS: u32 = 5000;

/// One chunk to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChunkJob {
    /// The rebuild.
    pub rebuild_id: String,
    /// The chunk number the job row must be at (0 = the first chunk, which clears the tables).
    pub chunk: u64,
}

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

/// The newest rebuild, if any.
pub async fn latest(db: &D1Database) -> Result<Option<Rebuild>, ApiError> {
    db.prepare("SELECT * FROM projection_rebuilds ORDER BY started_at DESC, id DESC LIMIT 1")
        .first::<Rebuild>(None)
        .await
        .map_err(d1("rebuild"))
}

async fn by_id(db: &D1Database, id: &str) -> Result<Option<Rebuild>, ApiError> {
    db.prepare("SELECT * FROM projection_rebuilds WHERE id = ?1")
        .bind(&[id.into()])?
        .first::<Rebuild>(None)
        .await
        .map_err(d1("rebuild"))
}

async fn send(ctx: &Ctx, job: &ChunkJob) -> Result<(), ApiError> {
    ctx.env.queue(BINDING)?.send(job).await?;
    Ok(())
}

/// Starts a rebuild, or resumes the unfinished one. `chunk_size` and `stop_after` apply to a new
/// job only.
pub async fn start_or_resume(
    ctx: &Ctx,
    chunk_size: u32,
    stop_after: Option<u32>,
) -> Result<(Rebuild, bool), ApiError> {
    let db = ctx.db()?;
    if let Some(job) = latest(&db).await? {
        if job.status == "running" || job.status == "paused" {
            db.prepare("UPDATE projection_rebuilds SET status = 'running', stop_after = NULL, updated_at = ?2 WHERE id = ?1")
                .bind(&[job.id.as_str().into(), (now_ms() as f64).into()])?
                .run()
                .await
                .map_err(d1("resume rebuild"))?;
            send(
                ctx,
                &ChunkJob {
                    rebuild_id: job.id.clone(),
                    chunk: job.chunks as u64,
                },
            )
            .await?;
            let job = by_id(&db, &job.id).await?.unwrap_or(job);
            return Ok((job, false));
        }
    }
    let id = crate::adapters::webcrypto::uuid_v4()?;
    let now = now_ms() as f64;
    db.prepare(
        "INSERT INTO projection_rebuilds (id, status, seq, streams_total, streams_done, events, skipped, corrupt, chunks, chunk_size, stop_after, started_at, updated_at) \
         VALUES (?1, 'running', 0, 0, 0, 0, 0, '[]', 0, ?2, ?3, ?4, ?4)",
    )
    .bind(&[
        id.as_str().into(),
        f64::from(chunk_size).into(),
        stop_after.map_or(wasm_bindgen::JsValue::NULL, |n| f64::from(n).into()),
        now.into(),
    ])?
    .run()
    .await
    .map_err(d1("start rebuild"))?;
    send(
        ctx,
        &ChunkJob {
            rebuild_id: id.clone(),
            chunk: 0,
        },
    )
    .await?;
    let job = by_id(&db, &id)
        .await?
        .ok_or_else(|| ApiError::internal("the rebuild row vanished"))?;
    Ok((job, true))
}

/// The first stream after `after` in key order (`None`: the first stream of all).
async fn next_stream(env: &Env, after: Option<&str>) -> Result<Option<String>, ApiError> {
    let bucket = env.bucket("STORE")?;
    let mut list = bucket
        .list()
        .prefix("streams/".to_string())
        .delimiter("/")
        .limit(1);
    if let Some(s) = after {
        // Every key of stream `s` starts with `streams/<s>/`; `0` is the character after `/`.
        list = list.start_after(format!("streams/{s}0"));
    }
    let page = list.execute().await?;
    Ok(page.delimited_prefixes().into_iter().next().and_then(|p| {
        p.strip_prefix("streams/")
            .map(|s| s.trim_end_matches('/').to_owned())
    }))
}

/// Runs one chunk message: does nothing unless the job is running at that chunk.
pub async fn run_chunk(env: &Env, job: &ChunkJob) -> Result<(), ApiError> {
    let ctx = Ctx::new(env.clone())?;
    let db = ctx.db()?;
    let Some(mut row) = by_id(&db, &job.rebuild_id).await? else {
        return Ok(());
    };
    if row.status != "running" || row.chunks as u64 != job.chunk {
        return Ok(());
    }
    // A failure leaves the row where it was: the message is retried, and the chunk (whose
    // statements are idempotent) runs again.
    advance(&ctx, &db, &mut row).await?;
    row.chunks += 1.0;
    row.updated_at = now_ms() as f64;
    if row.status == "running" && row.stop_after.is_some_and(|n| row.chunks >= n) {
        row.status = "paused".into();
    }
    let saved = save(&db, &row, job.chunk).await?;
    if saved && row.status == "running" {
        send(
            &ctx,
            &ChunkJob {
                rebuild_id: row.id.clone(),
                chunk: row.chunks as u64,
            },
        )
        .await?;
    }
    Ok(())
}

/// Writes the row back if it is still at chunk `from` (optimistic: a concurrent delivery of the
/// same chunk loses). Returns whether it was written.
async fn save(db: &D1Database, row: &Rebuild, from: u64) -> Result<bool, ApiError> {
    let result = db
        .prepare(
            "UPDATE projection_rebuilds SET status = ?2, stream = ?3, seq = ?4, streams_total = ?5, streams_done = ?6, \
             events = ?7, skipped = ?8, corrupt = ?9, chunks = ?10, error = ?11, updated_at = ?12, finished_at = ?13 \
             WHERE id = ?1 AND chunks = ?14",
        )
        .bind(&[
            row.id.as_str().into(),
            row.status.as_str().into(),
            row.stream
                .as_deref()
                .map_or(wasm_bindgen::JsValue::NULL, Into::into),
            row.seq.into(),
            row.streams_total.into(),
            row.streams_done.into(),
            row.events.into(),
            row.skipped.into(),
            row.corrupt.as_str().into(),
            row.chunks.into(),
            row.error
                .as_deref()
                .map_or(wasm_bindgen::JsValue::NULL, Into::into),
            row.updated_at.into(),
            row.finished_at.map_or(wasm_bindgen::JsValue::NULL, Into::into),
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

/// One chunk of work on `row`: the first chunk clears the tables and counts the streams; every
/// chunk then replays up to `chunk_size` events of the current stream, moving to the next stream
/// when this one is exhausted.
async fn advance(ctx: &Ctx, db: &D1Database, row: &mut Rebuild) -> Result<(), ApiError> {
    let log = R2EventLog::new(ctx.env.bucket("STORE")?);
    if row.chunks == 0.0 {
        let deletes = projections::TABLES
            .iter()
            .map(|t| db.prepare(format!("DELETE FROM {t}")))
            .collect();
        db.batch(deletes)
            .await
            .map_err(|e| ApiError::internal(format!("d1 clear projections: {e}")))?;
        row.streams_total = log.streams().await.map_err(ApiError::internal)?.len() as f64;
        row.stream = next_stream(&ctx.env, None).await?;
        row.seq = 0.0;
    }
    let Some(stream) = row.stream.clone() else {
        row.status = "done".into();
        row.finished_at = Some(now_ms() as f64);
        return Ok(());
    };
    let limit = row.chunk_size.max(1.0) as usize;
    let (decoded, corruption) = log
        .read_lenient(&stream, row.seq as u64, limit)
        .await
        .map_err(ApiError::internal)?;
    let mut batch = Vec::new();
    let mut last = row.seq as u64;
    for d in &decoded {
        last = last.max(d.seq());
        match d {
            Decoded::Event(e) => batch.push(e.clone()),
            Decoded::Unknown(_) => row.skipped += 1.0,
        }
    }
    // D1 batches are bounded; 50 events keep each well under the statement limits.
    for part in batch.chunks(50) {
        projections::apply(db, part).await?;
    }
    row.events += batch.len() as f64;
    row.seq = last as f64;
    let exhausted = decoded.len() < limit || corruption.is_some();
    if let Some(c) = corruption {
        let mut corrupt: Vec<(String, u64)> =
            serde_json::from_str(&row.corrupt).unwrap_or_default();
        corrupt.push((stream.clone(), c.seq));
        row.corrupt = serde_json::to_string(&corrupt).unwrap_or_else(|_| "[]".into());
    }
    if exhausted {
        row.streams_done += 1.0;
        row.stream = next_stream(&ctx.env, Some(&stream)).await?;
        row.seq = 0.0;
        if row.stream.is_none() {
            row.status = "done".into();
            row.finished_at = Some(now_ms() as f64);
        }
    }
    Ok(())
}

/// Handles a batch of chunk messages (acked when handled, retried on a failure to reach D1 or
/// the Queue).
pub async fn handle(messages: Vec<worker::RawMessage>, env: &Env) {
    for message in messages {
        let body = js_sys::JSON::stringify(&message.body())
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default();
        let job: ChunkJob = match serde_json::from_str(&body) {
            Ok(job) => job,
            Err(e) => {
                worker::console_error!("rebuild: unreadable message {body}: {e}");
                message.ack();
                continue;
            }
        };
        match run_chunk(env, &job).await {
            Ok(()) => message.ack(),
            Err(e) => {
                worker::console_error!(
                    "rebuild {} chunk {}: will retry: {e}",
                    job.rebuild_id,
                    job.chunk
                );
                message.retry();
            }
        }
    }
}
