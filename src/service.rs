//! Command handling for project streams: read the log, fold, decide, append, project.
//!
//! The decision is the events crate's `handle` (all business rules live there); this module
//! adds the loop that makes it safe under concurrent writers: an append at a stale seq is a
//! `Conflict`, so the stream is read again and the command decided again against the new state.

use events::envelope::{Envelope, Metadata, NewEvent};
use events::{Command, EventStore, ProjectState, Rejection, StoreError};

use crate::adapters::event_log::R2EventLog;
use crate::adapters::projections;
use crate::error::ApiError;
use crate::http::Ctx;

/// How often a command is re-decided after losing a race before giving up (each loss means
/// another writer made progress, so this bounds latency, not correctness).
const MAX_ATTEMPTS: usize = 64;

/// The event log binding.
pub fn event_log(ctx: &Ctx) -> Result<R2EventLog, ApiError> {
    Ok(R2EventLog::new(ctx.env.bucket("STORE")?))
}

/// Maps a business-rule rejection to the API: the state did not allow the command.
pub fn rejection(r: Rejection) -> ApiError {
    ApiError::Conflict(r.to_string())
}

/// Maps a store failure; conflicts never reach here (they are retried).
pub fn store_error(e: StoreError) -> ApiError {
    ApiError::internal(format!("event log: {e}"))
}

/// Replays a project stream into its state, starting from the cached snapshot when there is
/// one. A snapshot is only a shortcut: it holds the fold of events `1..=last_seq`, and the events
/// after it are read from the log, so the result equals a full replay.
///
/// With `use_snapshot = false` the snapshot is ignored (after it proved to be ahead of the log).
pub async fn load(
    log: &R2EventLog,
    stream: &str,
    use_snapshot: bool,
) -> Result<ProjectState, ApiError> {
    let snapshot = if use_snapshot {
        log.snapshot(stream).await
    } else {
        None
    };
    let mut state = match snapshot {
        Some(bytes) => rmp_serde::from_slice::<ProjectState>(&bytes).unwrap_or_default(),
        None => ProjectState::default(),
    };
    let decoded = log
        .read(stream, state.last_seq, usize::MAX)
        .await
        .map_err(store_error)?;
    if decoded
        .first()
        .is_some_and(|d| d.seq() != state.last_seq + 1)
    {
        // The snapshot is ahead of or detached from the log: distrust it and replay fully.
        state = ProjectState::default();
        let all = log.read(stream, 0, usize::MAX).await.map_err(store_error)?;
        return Ok(fold(state, &all));
    }
    Ok(fold(state, &decoded))
}

/// The events of `commands` decided one after the other on a scratch copy of `state`.
fn decide_all(
    state: &ProjectState,
    stream: &str,
    meta: &Metadata,
    commands: &[Command],
) -> Result<Vec<events::Event>, ApiError> {
    if let [only] = commands {
        return state.handle(only.clone()).map_err(rejection);
    }
    let mut scratch = state.clone();
    let mut all = Vec::new();
    for command in commands {
        let events = scratch.handle(command.clone()).map_err(rejection)?;
        for (i, event) in events.iter().enumerate() {
            // Only the payload, seq and time matter to the fold; the hash chain is not checked.
            let envelope = events::envelope::seal(
                stream,
                scratch.last_seq + 1 + i as u64,
                events::envelope::GENESIS_HASH,
                meta.clone(),
                event.clone(),
            )
            .map_err(|e| ApiError::internal(format!("seal: {e}")))?;
            scratch.apply(&envelope);
        }
        all.extend(events);
    }
    Ok(all)
}

fn fold(mut state: ProjectState, decoded: &[events::Decoded]) -> ProjectState {
    for d in decoded {
        if let Some(w) = state.apply_decoded(d) {
            worker::console_warn!("{w}");
        }
    }
    state
}

/// Decides `command` against the current state of `stream` and appends the result, re-deciding
/// after a lost race. Returns the stored envelopes (empty when the command changed nothing).
pub async fn execute(
    ctx: &Ctx,
    stream: &str,
    meta: Metadata,
    command: Command,
) -> Result<Vec<Envelope>, ApiError> {
    execute_all(ctx, stream, meta, vec![command]).await
}

/// Decides `commands` in order, each against the state the previous ones lead to, and appends
/// all their events in one commit (all or nothing; re-decided after a lost race). A rejection of
/// any command appends nothing. One append instead of one per command: a build step records its
/// domain events and its `StepSucceeded` together.
pub async fn execute_all(
    ctx: &Ctx,
    stream: &str,
    meta: Metadata,
    commands: Vec<Command>,
) -> Result<Vec<Envelope>, ApiError> {
    let log = event_log(ctx)?;
    let db = ctx.db()?;
    let mut use_snapshot = true;
    for _ in 0..MAX_ATTEMPTS {
        let state = load(&log, stream, use_snapshot).await?;
        let events = decide_all(&state, stream, &meta, &commands)?;
        if events.is_empty() {
            return Ok(Vec::new());
        }
        match log
            .append(stream, state.last_seq, NewEvent::batch(events, &meta))
            .await
        {
            Ok(stored) => {
                let slug = state.slug.clone();
                let mut next = state;
                for e in &stored {
                    next.apply(e);
                }
                // The snapshot, the projections and the callbacks (queued here, the one place
                // every event passes through) are independent: written concurrently.
                let snapshot = async {
                    if let Ok(bytes) = rmp_serde::to_vec_named(&next) {
                        log.put_snapshot(stream, bytes).await;
                    }
                };
                let (_, projected, _) = futures_util::future::join3(
                    snapshot,
                    projections::apply(&db, &stored),
                    crate::webhooks::fan_out(ctx, &slug, &stored),
                )
                .await;
                projected?;
                return Ok(stored);
            }
            Err(StoreError::Conflict { actual, .. }) => {
                // A snapshot ahead of the log (restored or damaged log) must not be trusted again.
                if actual < state.last_seq {
                    use_snapshot = false;
                }
            }
            Err(e) => return Err(store_error(e)),
        }
    }
    Err(ApiError::Conflict(
        "the project is changing too quickly; try again".into(),
    ))
}
