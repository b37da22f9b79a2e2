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
use worker::{Env, MessageExt};

use crate::adapters::event_log::R2EventLog;
use crate::adapters::projection_rebuilds::ProjectionRebuilds;
use crate::adapters::projections::Projections;
use crate::adapters::queues;
use crate::adapters::webcrypto::now_ms;
use crate::error::ApiError;
use crate::http::Ctx;

/// The rebuild Queue.
pub const QUEUE: &str = "kiln-rebuild";
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

pub use crate::adapters::projection_rebuilds::Rebuild;

async fn send(ctx: &Ctx, job: &ChunkJob) -> Result<(), ApiError> {
    queues::send_rebuild_chunk(&ctx.env, job).await
}

/// The newest rebuild, if any.
pub async fn latest(ctx: &Ctx) -> Result<Option<Rebuild>, ApiError> {
    ProjectionRebuilds::of(&ctx.env)?.latest().await
}

/// Starts a rebuild, or resumes the unfinished one. `chunk_size` and `stop_after` apply to a new
/// job only.
pub async fn start_or_resume(
    ctx: &Ctx,
    chunk_size: u32,
    stop_after: Option<u32>,
) -> Result<(Rebuild, bool), ApiError> {
    let rebuilds = ProjectionRebuilds::of(&ctx.env)?;
    if let Some(job) = rebuilds.latest().await? {
        if job.status == "running" || job.status == "paused" {
            rebuilds.resume(&job.id, now_ms()).await?;
            send(
                ctx,
                &ChunkJob {
                    rebuild_id: job.id.clone(),
                    chunk: job.chunks as u64,
                },
            )
            .await?;
            let job = rebuilds.by_id(&job.id).await?.unwrap_or(job);
            return Ok((job, false));
        }
    }
    let id = crate::adapters::webcrypto::uuid_v4()?;
    rebuilds
        .insert(&id, chunk_size, stop_after, now_ms())
        .await?;
    send(
        ctx,
        &ChunkJob {
            rebuild_id: id.clone(),
            chunk: 0,
        },
    )
    .await?;
    let job = rebuilds
        .by_id(&id)
        .await?
        .ok_or_else(|| ApiError::internal("the rebuild row vanished"))?;
    Ok((job, true))
}

/// Runs one chunk message: does nothing unless the job is running at that chunk.
pub async fn run_chunk(env: &Env, job: &ChunkJob) -> Result<(), ApiError> {
    let ctx = Ctx::new(env.clone())?;
    let rebuilds = ProjectionRebuilds::of(&ctx.env)?;
    let Some(mut row) = rebuilds.by_id(&job.rebuild_id).await? else {
        return Ok(());
    };
    if row.status != "running" || row.chunks as u64 != job.chunk {
        return Ok(());
    }
    // A failure leaves the row where it was: the message is retried, and the chunk (whose
    // statements are idempotent) runs again.
    advance(&ctx, &mut row).await?;
    row.chunks += 1.0;
    row.updated_at = now_ms() as f64;
    if row.status == "running" && row.stop_after.is_some_and(|n| row.chunks >= n) {
        row.status = "paused".into();
    }
    let saved = rebuilds.save(&row, job.chunk).await?;
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

/// One chunk of work on `row`: the first chunk clears the tables and counts the streams; every
/// chunk then replays up to `chunk_size` events of the current stream, moving to the next stream
/// when this one is exhausted.
async fn advance(ctx: &Ctx, row: &mut Rebuild) -> Result<(), ApiError> {
    let log = R2EventLog::of(&ctx.env)?;
    let projections = Projections::of(&ctx.env)?;
    if row.chunks == 0.0 {
        projections.clear().await?;
        row.streams_total = log.streams().await.map_err(ApiError::internal)?.len() as f64;
        row.stream = log.next_stream(None).await.map_err(ApiError::internal)?;
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
        projections.apply(part).await?;
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
        row.stream = log
            .next_stream(Some(&stream))
            .await
            .map_err(ApiError::internal)?;
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
