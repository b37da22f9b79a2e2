//! `create-db`: the deploy target creates (or finds) the app's database and file storage
//! (`DatabaseProvisioned`, recorded once: a retry finds the same id).

use events::{Command, ProjectState};

use super::shared::{api_err, ensure_app_secret, StepResult};
use crate::deploy::{DeployTarget, Target};
use crate::http::Ctx;
use crate::pipeline::BuildJob;
use workflows::output::{CreateDbOutput, StepOutput};

/// Runs the create-db step.
pub async fn run(ctx: &Ctx, job: &BuildJob, _st: &ProjectState) -> StepResult {
    // Normally created with the project; a project from before that gets one here.
    ensure_app_secret(ctx, &job.project_id)
        .await
        .map_err(api_err)?;
    let database_id = Target::of(ctx)?.create_db(&job.project_id).await?;
    Ok((
        StepOutput::CreateDb(CreateDbOutput {
            database_id: database_id.clone(),
        }),
        vec![Command::RecordDatabase {
            build_id: job.build_id.clone(),
            database_id,
        }],
    ))
}
