//! `upload-assets`: the version's public files go where the deploy target serves them from
//! (`AssetsUploaded`).

use events::{Command, ProjectState};

use super::shared::{current_manifest, StepResult};
use crate::deploy::{DeployTarget, Target};
use crate::http::Ctx;
use crate::pipeline::BuildJob;
use workflows::output::{AssetsOutput, StepOutput};

/// Runs the upload-assets step.
pub async fn run(ctx: &Ctx, job: &BuildJob, st: &ProjectState) -> StepResult {
    let m = current_manifest(ctx, job, st).await?;
    let uploaded = Target::of(ctx)?.upload_assets(&m).await?;
    Ok((
        StepOutput::UploadAssets(AssetsOutput {
            count: uploaded.count,
            bytes: uploaded.bytes,
        }),
        vec![Command::RecordAssets {
            build_id: job.build_id.clone(),
            count: uploaded.count,
            bytes: uploaded.bytes,
        }],
    ))
}
