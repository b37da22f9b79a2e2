//! The build steps, one file each, run inside durable Workflow steps by [`crate::pipeline`].
//!
//! Each step returns its typed output ([`StepOutput`]: references, never whole files,
//! never credentials) and the commands recording its domain outcome (`PlanProposed`,
//! `CodeGenerated`, …), which the driver appends together with `StepSucceeded` as one batch.
//! Every step is safe to run again: storage writes are content-addressed or create-only, the
//! deploy target finds what an earlier attempt made by name, and the live pointer write is
//! idempotent. Steps reach bindings only through `crate::adapters` and the deploy target
//! ([`crate::deploy`]).

pub mod codegen;
pub mod create_db;
pub mod deploy;
pub mod migrate;
pub mod plan;
pub mod record;
pub mod repair;
mod shared;
pub mod upload_assets;
pub mod validate;

use events::{ProjectState, Validation};
use workflows::pipeline::{Step, StepError};

pub use shared::{
    admin_err, ensure_app_secret, move_live_pointer, move_live_pointer_if, plan_key_of, StepResult,
};
pub use workflows::output::StepOutput;

use crate::http::Ctx;
use crate::pipeline::BuildJob;
use workflows::output::{
    AssetsOutput, CodeOutput, CreateDbOutput, DeployOutput, MigrateOutput, PlanOutput,
    RecordOutput, RepairOutput, Verdict,
};

/// Runs one step's body against the project's state as the driver folded it right after the
/// step's `StartStep` (so the body does not read the log again).
pub async fn run(step: Step, job: &BuildJob, ctx: &Ctx, st: ProjectState) -> StepResult {
    match step {
        Step::Plan => plan::run(ctx, job, &st).await,
        Step::Codegen => codegen::run(ctx, job, &st).await,
        Step::Validate => validate::run(ctx, job, &st).await,
        Step::Repair(n) => repair::run(ctx, job, &st, n).await,
        Step::CreateDb => create_db::run(ctx, job, &st).await,
        Step::Migrate => migrate::run(ctx, job, &st).await,
        Step::UploadAssets => upload_assets::run(ctx, job, &st).await,
        Step::Deploy => deploy::run(ctx, job, &st).await,
        Step::Record => record::run(ctx, job, &st).await,
    }
}

/// The output of a step that already succeeded, derived from the log (after an eviction the
/// engine may run a finished step again).
pub fn output_from_log(
    step: Step,
    st: &ProjectState,
    job: &BuildJob,
    repairs: u32,
) -> Result<StepOutput, StepError> {
    let build = shared::build_of(st, job)?;
    let missing = |what: &str| {
        StepError::Terminal(format!(
            "step {} succeeded but the log has no {what}",
            step.name()
        ))
    };
    let code = || -> Result<CodeOutput, StepError> {
        let version = build.version.ok_or_else(|| missing("version"))?;
        Ok(CodeOutput {
            code_ref: format!("versions/{}/{version}", job.project_id),
            version,
            new_blobs: 0,
            parser_notes: 0,
            reused_version: None,
            model: None,
        })
    };
    let verdict = Verdict {
        passed: matches!(build.validation, Some(Validation::Passed)),
        diagnostics: match &build.validation {
            Some(Validation::Failed { diagnostics }) => diagnostics.clone(),
            _ => Vec::new(),
        },
        repairs,
    };
    Ok(match step {
        Step::Plan => StepOutput::Plan(PlanOutput {
            plan_ref: shared::plan_key(job),
            plan_hash: build
                .plan
                .as_ref()
                .map(|p| p.plan_hash.clone())
                .ok_or_else(|| missing("plan"))?,
            reused_from: None,
        }),
        Step::Codegen => StepOutput::Codegen(code()?),
        Step::Validate => StepOutput::Validate(verdict),
        Step::Repair(_) => StepOutput::Repair(RepairOutput {
            code: code()?,
            verdict,
        }),
        Step::CreateDb => StepOutput::CreateDb(CreateDbOutput {
            database_id: st.database_id.clone().ok_or_else(|| missing("database"))?,
        }),
        Step::Migrate => StepOutput::Migrate(MigrateOutput {
            applied: build.migrations.clone(),
        }),
        Step::UploadAssets => {
            let (count, bytes) = build.assets.ok_or_else(|| missing("assets"))?;
            StepOutput::UploadAssets(AssetsOutput { count, bytes })
        }
        Step::Deploy => StepOutput::Deploy(DeployOutput {
            version: build
                .deployed_version
                .ok_or_else(|| missing("deployed version"))?,
            slug: st.slug.clone(),
        }),
        Step::Record => StepOutput::Record(RecordOutput {
            version: build
                .deployed_version
                .ok_or_else(|| missing("deployed version"))?,
        }),
    })
}
