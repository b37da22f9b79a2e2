//! `record`: the build ends with the version it deployed (`BuildSucceeded`, appended after
//! `StepSucceeded` since it finishes the build).

use events::{Command, ProjectState};
use workflows::pipeline::StepError;

use super::shared::{build_of, StepResult};
use crate::http::Ctx;
use crate::pipeline::BuildJob;
use workflows::output::{RecordOutput, StepOutput};

/// Runs the record step.
pub async fn run(_ctx: &Ctx, job: &BuildJob, st: &ProjectState) -> StepResult {
    let version = build_of(st, job)?
        .deployed_version
        .ok_or_else(|| StepError::Terminal("nothing was deployed".into()))?;
    Ok((
        StepOutput::Record(RecordOutput { version }),
        vec![Command::SucceedBuild {
            build_id: job.build_id.clone(),
            version,
        }],
    ))
}
