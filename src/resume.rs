//! Resumption of builds left in flight when the local dev server stopped.
//!
//! The local Workflows engine does not resume an instance that was running when `wrangler dev`
//! was killed or hot-reloaded: it stays `running` forever, while production resumes on its own.
//! `pause()` then `resume()` makes the local engine continue it, reusing the outputs of the steps
//! that had finished, so no finished step runs again. So the first request an isolate serves
//! kicks off a background pass over the builds the projections still show as unfinished:
//! - an instance that exists is paused and resumed;
//! - a build with no instance (its Queue message was lost with the server) is started again,
//!   through the same deduplicated path as the Queue consumer.
//!
//! Pending rollbacks get the same treatment: the `RollbackWorkflow` instance of a rollback the log
//! still shows as pending is paused and resumed, or created again if the engine has none.
//!
//! Only a platform on the local engine does this: the `local` deploy target, or the `cloudflare`
//! target pointed at the local Cloudflare API double (see [`local_engine`]).

use std::sync::atomic::{AtomicBool, Ordering};

use worker::{Context, Env};

use crate::adapters::store::Store;
use crate::adapters::workflow_instances::{Instance, Workflow};
use crate::consumer;
use crate::error::ApiError;
use crate::pipeline::BuildJob;

static STARTED: AtomicBool = AtomicBool::new(false);

/// Schedules the resumption pass once per isolate.
pub fn once_per_isolate(env: &Env, ctx: &Context) {
    if STARTED.swap(true, Ordering::SeqCst) {
        return;
    }
    let var = |name: &str| env.var(name).map(|v| v.to_string()).unwrap_or_default();
    if !local_engine(&var("DEPLOY_TARGET"), &var("CLOUDFLARE_API_BASE")) {
        return;
    }
    let env = env.clone();
    ctx.wait_until(async move {
        match resume_unfinished(&env).await {
            Ok(0) => {}
            Ok(n) => worker::console_log!("resumed {n} unfinished build(s)"),
            Err(e) => worker::console_error!("resuming builds failed: {e}"),
        }
        match resume_rollbacks(&env).await {
            Ok(0) => {}
            Ok(n) => worker::console_log!("resumed {n} pending rollback(s)"),
            Err(e) => worker::console_error!("resuming rollbacks failed: {e}"),
        }
    });
}

/// Whether this platform runs on the local Workflows engine (`wrangler dev`): the `local` deploy
/// target, or the `cloudflare` target aimed at the local Cloudflare API double on a loopback
/// address (`DEPLOY_TARGET=cloudflare make dev` and its e2e sessions). A deployment talks to
/// Cloudflare's own API, whose Workflows resume on their own.
fn local_engine(target: &str, api_base: &str) -> bool {
    if target.is_empty() || target == "local" {
        return true;
    }
    let host = api_base
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or("")
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    target == "cloudflare" && (host == "127.0.0.1" || host == "localhost")
}

/// Pauses and resumes an instance that is still going (the local engine then continues it);
/// returns whether it was going.
async fn nudge(instance: &Instance) -> bool {
    let state = instance.status().await.unwrap_or_default();
    if !matches!(state.as_str(), "running" | "queued" | "waiting" | "paused") {
        return false;
    }
    if state != "paused" {
        let _ = instance.pause().await;
    }
    let _ = instance.resume().await;
    true
}

/// Resumes every unfinished build; returns how many were touched.
pub async fn resume_unfinished(env: &Env) -> Result<usize, ApiError> {
    let rows = Store::of(env)?.unfinished_builds().await?;
    let wf = Workflow::builds(env)?;
    let mut touched = 0;
    for row in rows {
        match wf.get(&row.id).await {
            Some(instance) => {
                if nudge(&instance).await {
                    touched += 1;
                }
            }
            None => {
                let job = BuildJob {
                    project_id: row.project_id,
                    build_id: row.id,
                    faults: None,
                    plan: None,
                    refuse_start: false,
                    fail_append_faults: None,
                };
                consumer::start(env, &job).await?;
                touched += 1;
            }
        }
    }
    Ok(touched)
}

/// Resumes (or starts again) the workflow of every rollback the log shows as pending; returns how
/// many were touched. Rollbacks have no projection, so each project's folded state is read (a
/// snapshot plus its tail); this runs only locally, once per isolate, in the background.
pub async fn resume_rollbacks(env: &Env) -> Result<usize, ApiError> {
    let rows = Store::of(env)?.project_ids().await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let ctx = crate::http::Ctx::new(env.clone())?;
    let log = crate::service::event_log(&ctx)?;
    let wf = Workflow::rollbacks(env)?;
    let mut touched = 0;
    for project in rows {
        let state = crate::service::load(&log, &project, true).await?;
        let Some(pending) = state.rollback.as_ref() else {
            continue;
        };
        // A v1 request has no id and no workflow to resume.
        let Some(rollback_id) = pending.rollback_id.clone() else {
            continue;
        };
        match wf.get(&rollback_id).await {
            Some(instance) => {
                if nudge(&instance).await {
                    touched += 1;
                }
            }
            None => {
                let job = crate::rollback::RollbackJob {
                    project_id: project.clone(),
                    rollback_id,
                    to_version: pending.to_version,
                    slow: false,
                };
                crate::rollback::start(env, &job).await?;
                touched += 1;
            }
        }
    }
    Ok(touched)
}

#[cfg(test)]
mod tests {
    use super::local_engine;

    #[test]
    fn only_platforms_on_the_local_engine_resume_builds() {
        assert!(local_engine("", ""));
        assert!(local_engine(
            "local",
            "https://api.cloudflare.com/client/v4"
        ));
        assert!(local_engine(
            "cloudflare",
            "http://127.0.0.1:8788/client/v4"
        ));
        assert!(local_engine(
            "cloudflare",
            "http://localhost:8788/client/v4"
        ));
        assert!(!local_engine(
            "cloudflare",
            "https://api.cloudflare.com/client/v4"
        ));
        assert!(!local_engine("cloudflare", ""));
        assert!(!local_engine(
            "cloudflare",
            "http://127.0.0.1.example.com/client/v4"
        ));
    }
}
