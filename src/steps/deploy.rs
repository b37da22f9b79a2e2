//! `deploy`: the deploy target puts the version's code where it runs, then the live pointer moves
//! (`Deployed`). A deletion that lands meanwhile undoes the pointer; so does a cancel or the stall
//! watchdog ending the build (docs/adr/0018): the log is read right before and right after the
//! pointer moves, for either target (the adapters only return the pointer; this is where it is
//! written).

use events::{Command, ProjectState};
use workflows::pipeline::StepError;

use super::shared::{
    api_err, current_manifest, deleted, ended, move_live_pointer, state, StepResult,
};
use crate::deploy::{DeployTarget, Target};
use crate::http::Ctx;
use crate::pipeline::BuildJob;
use workflows::output::{DeployOutput, StepOutput};

/// Runs the deploy step.
pub async fn run(ctx: &Ctx, job: &BuildJob, st: &ProjectState) -> StepResult {
    if st.deleted {
        return Err(deleted(job));
    }
    let m = current_manifest(ctx, job, st).await?;
    let database_id = st.database_id.clone().ok_or_else(|| {
        StepError::Terminal("the project has no database (create-db did not run)".into())
    })?;
    let pointer = Target::of(ctx)?
        .deploy(&m, &database_id, &job.build_id)
        .await?;
    // A cancel (or the watchdog) may have ended the build while this step ran: the pointer is
    // not touched for a build that is over.
    ended(&state(ctx, job).await?, job)?;
    move_live_pointer(ctx, &st.slug, &pointer)
        .await
        .map_err(api_err)?;
    // A delete may have landed since `st` was read. Checking again after the write closes the
    // race: either the deletion came later, and its teardown (which removes the pointer first)
    // runs after this write, or it is seen here and the pointer undone.
    // The same holds for a cancel: it settles the pointer after recording the end, and an end
    // seen here puts the pointer back (docs/adr/0018).
    let now = state(ctx, job).await?;
    if now.deleted {
        let bucket = crate::adapters::build_store::bucket(&ctx.env).map_err(api_err)?;
        crate::teardown::remove_pointer(&bucket, &job.project_id, &st.slug)
            .await
            .map_err(api_err)?;
        return Err(deleted(job));
    }
    if let Err(e) = ended(&now, job) {
        crate::cancel::settle_pointer(ctx, &job.project_id, &now, &job.build_id)
            .await
            .map_err(api_err)?;
        return Err(e);
    }
    Ok((
        StepOutput::Deploy(DeployOutput {
            version: m.version,
            slug: st.slug.clone(),
        }),
        vec![Command::RecordDeploy {
            build_id: job.build_id.clone(),
            version: m.version,
        }],
    ))
}
