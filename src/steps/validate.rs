//! `validate`: static validation of the build's version (`ValidationPassed` or
//! `ValidationFailed`); the output tells the driver how many repair rounds may follow.

use events::ProjectState;

use super::shared::{check, connect, current_manifest, verdict_command, StepResult};
use crate::http::Ctx;
use crate::pipeline::BuildJob;
use workflows::output::{StepOutput, Verdict};

/// Runs the validate step.
pub async fn run(ctx: &Ctx, job: &BuildJob, st: &ProjectState) -> StepResult {
    let m = current_manifest(ctx, job, st).await?;
    let verdict = check(ctx, job, &m).await?;
    // Reused code is not repaired: a replay makes no model call.
    let reused = st.build(&job.build_id).is_some_and(|b| b.reuses("codegen"));
    let repairs = match connect(ctx)? {
        Some(_) if !reused => ctx.config.model.repair_attempts,
        _ => 0,
    };
    let verdict = Verdict { repairs, ..verdict };
    let command = verdict_command(&verdict, job.build_id.clone());
    Ok((StepOutput::Validate(verdict), vec![command]))
}
