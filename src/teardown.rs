//! Teardown of a deleted project, as a durable job: its app stops answering, its database (and on
//! the `cloudflare` target its scripts and file bucket), secret,
//! plans, code versions, blobs and stored files are removed, then `TeardownCompleted` is recorded.
//!
//! `DELETE /api/projects/:id` sends a [`TeardownJob`] on the `kiln-teardown` Queue *before* it
//! records `ProjectDeleted` (so a recorded deletion always has a job; a job whose deletion was
//! never recorded finds the project alive and does nothing), answers 204, and the Queue consumer
//! runs [`process`]. A failed run is retried by the Queue (`message.retry()`) and dead-lettered to
//! `kiln-teardown-dlq` after its retries; see docs/adr/0013-durable-teardown.md.
//!
//! Key decisions:
//! - Order matters: the live pointer goes first, so the slug answers 404 at once even if a later
//!   part fails.
//! - Every part is idempotent (deleting what is already gone is a no-op, destroying an empty
//!   database too), so a retry or a duplicate delivery simply runs the whole teardown again.
//! - `TeardownCompleted` is recorded only after a final listing shows every prefix empty.
//! - Only this project's things are touched: the live pointer is removed only while it names this
//!   project (the slug is free for a new project as soon as the deletion is recorded), and blobs
//!   live under the project's own prefix (`codestore::blob_prefix`), never shared.

use codestore::blob_prefix;
use events::envelope::Metadata;
use events::Command;
use serde::{Deserialize, Serialize};
use worker::Env;

use crate::adapters::{build_store, queues};
use crate::error::ApiError;
use crate::http::Ctx;
use crate::service;

/// The Queue that carries teardown jobs (its consumer is in [`crate::consumer`]).
pub const QUEUE: &str = "kiln-teardown";

/// The system actor recorded on `TeardownCompleted`.
const ACTOR: &str = "kiln:teardown";

/// The Queue message of one teardown.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TeardownJob {
    /// The deleted project (stream) id; its slug is read from the log.
    pub project_id: String,
    /// Test-only: how many attempts fail on purpose after the database is destroyed (partway, so
    /// the retry runs over a half-done teardown). Honoured only with `KILN_TEST_HOOKS=1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_attempts: Option<u32>,
}

/// What one run of [`process`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything was removed and `TeardownCompleted` recorded (or found recorded).
    Completed,
    /// The project is not in the log: nothing to tear down.
    NoProject,
}

/// Sends `job` on the teardown Queue.
pub async fn request(ctx: &Ctx, job: &TeardownJob) -> Result<(), ApiError> {
    queues::send_teardown(&ctx.env, job).await
}

/// Runs the teardown of `job.project_id` and records `TeardownCompleted`. An error means some
/// part is not gone yet: the caller retries the whole job.
pub async fn process(env: &Env, job: &TeardownJob) -> Result<Outcome, ApiError> {
    let ctx = Ctx::new(env.clone())?;
    let project = job.project_id.as_str();
    let state = service::load(&service::event_log(&ctx)?, project, true).await?;
    if !state.exists {
        return Ok(Outcome::NoProject);
    }
    if !state.deleted {
        // The DELETE sends the job before recording the deletion: wait for it (a deletion that
        // failed to record leaves the project alive, and this job ends in the dead-letter queue
        // without having touched anything).
        return Err(ApiError::internal(format!(
            "project {project} is not deleted (yet); teardown waits"
        )));
    }
    run(&ctx, job, &state.slug).await?;
    if !state.torn_down {
        let meta = Metadata::new(crate::adapters::webcrypto::now_ms(), ACTOR);
        match service::execute(&ctx, project, meta, Command::CompleteTeardown).await {
            Ok(_) => {}
            // A concurrent duplicate recorded it first.
            Err(ApiError::Conflict(_))
                if service::load(&service::event_log(&ctx)?, project, false)
                    .await?
                    .torn_down => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Outcome::Completed)
}

/// Removes everything the project's app owns, in order, and checks that it is gone.
async fn run(ctx: &Ctx, job: &TeardownJob, slug: &str) -> Result<(), ApiError> {
    let project = job.project_id.as_str();
    let env = &ctx.env;
    remove_pointer(&build_store::bucket(env)?, project, slug).await?;
    destroy_database(ctx, project).await?;
    injected_fault(ctx, job).await?;
    let secret = format!("secrets/{project}");
    build_store::delete(env, &secret).await?;
    for prefix in prefixes(project) {
        build_store::delete_prefix(env, &prefix).await?;
    }
    // Verification: nothing is left under any prefix, and the slug does not point here.
    for prefix in prefixes(project) {
        if !build_store::is_empty(env, &prefix).await? {
            return Err(ApiError::internal(format!(
                "teardown of {project}: '{prefix}' is not empty yet"
            )));
        }
    }
    if build_store::exists(env, &secret).await?
        || build_store::pointer_names(&build_store::bucket(env)?, slug, project).await?
    {
        return Err(ApiError::internal(format!(
            "teardown of {project}: the secret or the live pointer is still there"
        )));
    }
    Ok(())
}

/// The R2 prefixes that belong to `project` alone (the event log under `streams/` is kept: it is
/// the record of what happened, deletion included).
fn prefixes(project: &str) -> [String; 5] {
    [
        format!("versions/{project}/"),
        format!("plans/{project}/"),
        format!("appfiles/{project}/"),
        format!("deploys/{project}/"),
        blob_prefix(project),
    ]
}

/// Removes what the deploy target holds for the app: locally its database; on Cloudflare its
/// scripts, D1 database and file bucket (crate::deploy).
async fn destroy_database(ctx: &Ctx, project: &str) -> Result<(), ApiError> {
    use crate::deploy::DeployTarget as _;
    crate::deploy::Target::of(ctx)
        .map_err(|e| ApiError::internal(format!("teardown: {e}")))?
        .teardown(project)
        .await
        .map_err(|e| ApiError::internal(format!("teardown: {e}")))
}

/// Removes the live pointer `apps/<slug>.json` if it names `project` (a new project may already
/// own the slug). Returns whether it removed one. Also used inline by the DELETE handler and by
/// a deploy that finds its project deleted.
pub use crate::adapters::build_store::remove_pointer;

/// Test hooks only: fails the first `fail_attempts` runs of this job, after the pointer and the
/// database are gone. Attempts are counted with create-only markers `faults/teardown/<project>/<n>`
/// (kept, like any test-session state).
async fn injected_fault(ctx: &Ctx, job: &TeardownJob) -> Result<(), ApiError> {
    let hooks = build_store::test_hooks(&ctx.env);
    let fails = job.fail_attempts.filter(|_| hooks).unwrap_or(0);
    for n in 1..=fails {
        let fresh = build_store::put_if_absent(
            &ctx.env,
            &format!("faults/teardown/{}/{n}", job.project_id),
            Vec::new(),
        )
        .await?;
        if fresh {
            return Err(ApiError::internal(format!(
                "injected teardown fault {n} of {fails} (x-kiln-faults)"
            )));
        }
    }
    Ok(())
}
