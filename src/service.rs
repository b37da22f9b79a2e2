//! Command handling for project streams: read the log, fold, decide, append, project.
//!
//! The decision is the events crate's `handle` (all business rules live there); this module
//! adds the loop that makes it safe under concurrent writers: an append at a stale seq is a
//! `Conflict`, so the stream is read again and the command decided again against the new state.

use events::envelope::{Envelope, Metadata, NewEvent};
use events::{Command, EventStore, ProjectState, Rejection, StoreError};

use crate::adapters::event_log::R2EventLog;
use crate::adapters::projections::Projections;
use crate::error::ApiError;
use crate::http::Ctx;

/// How often a command is re-decided after losing a race before giving up (each loss means
/// another writer made progress, so this bounds latency, not correctness).
const MAX_ATTEMPTS: usize = 64;

/// The event log.
pub fn event_log(ctx: &Ctx) -> Result<R2EventLog, ApiError> {
    R2EventLog::of(&ctx.env)
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

fn fold(mut state: ProjectState, decoded: &[events::Decoded]) -> ProjectState {
    for d in decoded {
        if let Some(w) = state.apply_decoded(d) {
            worker::console_warn!("{w}");
        }
    }
    state
}

/// Why a command was not recorded; typed, so callers match on the rejection itself. It becomes an
/// HTTP answer only at the edge ([`From<ExecError> for ApiError`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecError {
    /// The project's state does not allow the command (the events crate's business rules).
    Rejected(Rejection),
    /// Other writers kept winning the race; nothing was recorded.
    Contended,
    /// The event log, the projections or a binding failed; nothing or all of it was recorded
    /// (appends are create-only), so trying again is safe.
    Unavailable(ApiError),
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExecError::Rejected(r) => write!(f, "{r}"),
            ExecError::Contended => f.write_str("the project is changing too quickly; try again"),
            ExecError::Unavailable(e) => f.write_str(&e.message()),
        }
    }
}

impl From<ExecError> for ApiError {
    fn from(e: ExecError) -> Self {
        match e {
            ExecError::Rejected(r) => rejection(r),
            ExecError::Contended => ApiError::Conflict(ExecError::Contended.to_string()),
            ExecError::Unavailable(e) => e,
        }
    }
}

impl From<ApiError> for ExecError {
    fn from(e: ApiError) -> Self {
        ExecError::Unavailable(e)
    }
}

/// Decides `command` against the current state of `stream` and appends the result, re-deciding
/// after a lost race. Returns the stored envelopes (empty when the command changed nothing).
/// The HTTP edge's form of [`execute_all`].
pub async fn execute(
    ctx: &Ctx,
    stream: &str,
    meta: Metadata,
    command: Command,
) -> Result<Vec<Envelope>, ApiError> {
    execute_all(ctx, stream, meta, vec![command])
        .await
        .map_err(ApiError::from)
}

pub use events::decide::decide_all;

/// Decides `commands` in order against the current state of `stream` and appends all their events
/// as one atomic batch (one create-only commit), re-deciding after a lost race: either every event
/// is recorded or none is. Returns the stored envelopes (empty when nothing changed). A build
/// step records its domain events and its `StepSucceeded` this way, in one append.
pub async fn execute_all(
    ctx: &Ctx,
    stream: &str,
    meta: Metadata,
    commands: Vec<Command>,
) -> Result<Vec<Envelope>, ExecError> {
    let log = event_log(ctx)?;
    let projections = Projections::of(&ctx.env)?;
    let mut use_snapshot = true;
    for _ in 0..MAX_ATTEMPTS {
        let state = load(&log, stream, use_snapshot).await?;
        let events = decide_all(&state, &commands, &meta).map_err(ExecError::Rejected)?;
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
                    projections.apply(&stored),
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
            Err(e) => return Err(ExecError::Unavailable(store_error(e))),
        }
    }
    Err(ExecError::Contended)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create() -> Command {
        Command::CreateProject {
            name: "A".into(),
            slug: "a".into(),
            owner: "u1".into(),
        }
    }

    #[test]
    fn a_batch_is_decided_in_order_against_the_state_the_earlier_commands_leave() {
        let meta = Metadata::new(1, "t");
        let rename = Command::RenameProject { name: "B".into() };
        // Alone, the rename is refused (no project yet); after the create in the same batch it
        // is decided against the created project.
        assert_eq!(
            decide_all(
                &ProjectState::default(),
                std::slice::from_ref(&rename),
                &meta
            ),
            Err(Rejection::ProjectNotFound)
        );
        let events = decide_all(&ProjectState::default(), &[create(), rename], &meta).unwrap();
        assert_eq!(events.len(), 2);
    }

    #[test]
    fn one_rejected_command_rejects_the_whole_batch() {
        let meta = Metadata::new(1, "t");
        let r = decide_all(&ProjectState::default(), &[create(), create()], &meta);
        assert!(matches!(r, Err(Rejection::ProjectExists { .. })), "{r:?}");
    }

    #[test]
    fn rejections_become_conflicts_only_at_the_edge() {
        let e = ExecError::Rejected(Rejection::ProjectNotFound);
        assert!(matches!(ApiError::from(e), ApiError::Conflict(_)));
        assert!(matches!(
            ApiError::from(ExecError::Unavailable(ApiError::internal("x"))),
            ApiError::Internal(_)
        ));
    }
}
