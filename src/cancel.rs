//! Ending a build from outside its workflow: the owner's cancel and the stall watchdog
//! ([`crate::watchdog`]). Both follow the same order (docs/adr/0018):
//!
//! 1. the end is recorded in the log first (`BuildCancelled`, or `BuildFailed` at `watchdog`):
//!    from then on the rules refuse every step outcome, deploy and success of the build, so a step
//!    still running cannot finish it, and the project is free for the next build;
//! 2. the Workflow instance is terminated (best effort: it may be gone, or already over);
//! 3. the live pointer is settled: if it names the ended build (its deploy step wrote it before
//!    the end was recorded), it is put back to the version the log says is live.
//!
//! The deploy step checks the build is still running right before it writes the pointer and
//! again right after (like its check for a deleted project), and puts the pointer back itself if
//! the build ended in between, so whichever side comes second undoes the write.

use events::envelope::Metadata;
use events::{Command, ProjectState};
use serde_json::Value;
use worker::Env;

use crate::adapters::build_store;
use crate::adapters::webcrypto::now_ms;
use crate::adapters::workflow_instances::{Terminated, Workflow};
use crate::deploy::LivePointer;
use crate::error::ApiError;
use crate::http::Ctx;
use crate::service;

/// What became of a build's Workflow instance when it was terminated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instance {
    /// It was running (or queued, waiting, paused) and is terminated now.
    Terminated,
    /// It had already ended (complete, errored or terminated).
    Ended,
    /// The engine has no instance with that id.
    Missing,
}

/// The engine's status of the build's instance (`running`, `complete`, …), or `None` if there is
/// no such instance.
pub async fn instance_status(env: &Env, build_id: &str) -> Result<Option<String>, ApiError> {
    match Workflow::builds(env)?.get(build_id).await {
        Some(instance) => instance.status().await.map(Some),
        None => Ok(None),
    }
}

/// Terminates the build's Workflow instance if it is still going.
pub async fn terminate(env: &Env, build_id: &str) -> Result<Instance, ApiError> {
    let Some(instance) = Workflow::builds(env)?.get(build_id).await else {
        return Ok(Instance::Missing);
    };
    Ok(match instance.terminate().await? {
        Terminated::Terminated => Instance::Terminated,
        Terminated::Ended => Instance::Ended,
    })
}

/// The pointer that makes the log's live version live on the configured target (`None`: nothing
/// is live yet).
fn live_pointer(ctx: &Ctx, project: &str, st: &ProjectState) -> Option<LivePointer> {
    let live = st.live.as_ref()?;
    let mut pointer = crate::deploy::pointer_on(
        &ctx.config.target,
        project,
        live.version,
        live.build_id.clone(),
    );
    pointer.rollback_id = live.rollback_id.clone();
    Some(pointer)
}

/// Puts the live pointer back to the log's live version if it names `build_id`, a build that
/// ended without going live. The write goes through `steps::move_live_pointer_if`, conditional on
/// the pointer being the one read, so a later deploy or rollback that moved it meanwhile is never
/// undone. Returns whether it changed.
pub async fn settle_pointer(
    ctx: &Ctx,
    project: &str,
    st: &ProjectState,
    build_id: &str,
) -> Result<bool, ApiError> {
    let went_live = st
        .live
        .as_ref()
        .is_some_and(|l| l.build_id.as_deref() == Some(build_id));
    settle_if(ctx, project, st, went_live, |current| {
        current["build_id"].as_str() == Some(build_id) && !current["rollback_id"].is_string()
    })
    .await
}

/// The same for a rollback that ended without making its version live: its pointer (written by
/// its `switch` step before `RolledBack` could be recorded) is put back.
pub async fn settle_rollback_pointer(
    ctx: &Ctx,
    project: &str,
    st: &ProjectState,
    rollback_id: &str,
) -> Result<bool, ApiError> {
    let went_live = st
        .live
        .as_ref()
        .is_some_and(|l| l.rollback_id.as_deref() == Some(rollback_id));
    settle_if(ctx, project, st, went_live, |current| {
        current["rollback_id"].as_str() == Some(rollback_id)
    })
    .await
}

/// Puts the pointer back to the log's live version if `names_it` recognises it as the one an
/// ended build or rollback wrote (and that one did not go live).
async fn settle_if(
    ctx: &Ctx,
    project: &str,
    st: &ProjectState,
    went_live: bool,
    names_it: impl Fn(&Value) -> bool,
) -> Result<bool, ApiError> {
    let key = format!("apps/{}.json", st.slug);
    let Some((bytes, etag)) = build_store::get_tagged(&ctx.env, &key).await? else {
        return Ok(false);
    };
    let current: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if !names_it(&current) || went_live {
        return Ok(false);
    }
    match live_pointer(ctx, project, st) {
        Some(pointer) => {
            crate::steps::move_live_pointer_if(ctx, &st.slug, &pointer, Some(&etag)).await
        }
        // A first build that never went live: the app has no version to serve.
        None => {
            let bucket = build_store::bucket(&ctx.env)?;
            crate::teardown::remove_pointer(&bucket, project, &st.slug).await
        }
    }
}

/// What a cancel did.
#[derive(Debug, Clone)]
pub struct Cancelled {
    /// `BuildCancelled` was recorded by this call (false: it was cancelled already).
    pub recorded: bool,
    /// The step the build was in.
    pub step: Option<String>,
}

/// Cancels `build_id` of `project` on behalf of `actor`: records `BuildCancelled` (a no-op when it
/// is cancelled already; a conflict naming the outcome when it already succeeded or failed),
/// terminates its workflow and settles the live pointer.
pub async fn cancel(
    ctx: &Ctx,
    project: &str,
    build_id: &str,
    actor: &str,
    terminate_workflow: bool,
) -> Result<Cancelled, ApiError> {
    let meta = Metadata::new(now_ms(), actor).correlated(build_id);
    let stored = service::execute(
        ctx,
        project,
        meta,
        Command::CancelBuild {
            build_id: build_id.to_string(),
        },
    )
    .await?;
    let step = stored.iter().find_map(|e| match &e.data {
        events::Event::BuildCancelled { step, .. } => step.clone(),
        _ => None,
    });
    if terminate_workflow {
        end_outside(ctx, project, build_id).await;
    } else {
        settle(ctx, project, build_id).await;
    }
    Ok(Cancelled {
        recorded: !stored.is_empty(),
        step,
    })
}

/// Steps 2 and 3 for a build whose end is recorded: terminate the instance, settle the pointer.
/// Failures are logged, not returned: the end is recorded, and the deploy step's own check
/// covers a pointer this could not settle.
pub async fn end_outside(ctx: &Ctx, project: &str, build_id: &str) {
    match terminate(&ctx.env, build_id).await {
        Ok(i) => worker::console_log!("build {build_id}: workflow {i:?}"),
        Err(e) => worker::console_error!("build {build_id}: {e}"),
    }
    settle(ctx, project, build_id).await;
}

/// Step 3 alone: puts the live pointer back if it names the ended build.
async fn settle(ctx: &Ctx, project: &str, build_id: &str) {
    let settled = async {
        let st = service::load(&service::event_log(ctx)?, project, true).await?;
        settle_pointer(ctx, project, &st, build_id).await
    }
    .await;
    match settled {
        Ok(true) => worker::console_log!("build {build_id}: live pointer put back"),
        Ok(false) => {}
        Err(e) => worker::console_error!("build {build_id}: settling the live pointer: {e}"),
    }
}
